import ArgumentParser
import Concord
import Foundation

/// `concord write-loop` (hidden): the child process of the crash tests. It owns the
/// cluster, commits one transaction after another at the first replica — an increment of
/// `crash/acknowledged` and the element `e<N>` added to `crash/elements` — and prints `N`
/// on its own line, flushed, once transaction N has committed. The test kills it with
/// SIGKILL at a moment of its choosing and checks what survived.
struct WriteLoop: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "write-loop", abstract: "Commit transactions until killed (for crash tests).",
        shouldDisplay: false)

    @OptionGroup var target: DirectoryArgument
    @Option(help: "Stop after this many transactions (0: never).") var count = 0
    @Option(help: "Deliver messages to the other replicas every N transactions.") var synchronizeEvery = 7

    func run() throws {
        let cluster = try target.owner()
        defer { cluster.close() }
        try cluster.synchronize()
        let writer = cluster.replicas[0]
        let counter = Key<PNCounter>("acknowledged", bucket: "crash")
        let elements = Key<AWSet<String>>("elements", bucket: "crash")
        var next = try writer.read(counter) + 1
        while count == 0 || next <= count {
            let number = next
            try writer.transaction { transaction in
                try transaction.update(counter, .increment(1))
                try transaction.update(elements, .add("e\(number)"))
            }
            // One write(2) per line, unbuffered: a line the parent reads is a committed one.
            FileHandle.standardOutput.write(Data("\(number)\n".utf8))
            if number % Int64(max(1, synchronizeEvery)) == 0 { try cluster.synchronize() }
            next += 1
        }
    }
}
