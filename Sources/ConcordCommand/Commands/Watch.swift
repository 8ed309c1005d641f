import ArgumentParser
import Concord
import ConcordReports
import Foundation

/// `concord watch`.
struct Watch: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print each change of an object's value at one replica as it happens.",
        discussion: """
            Works beside the process that owns the directory: it polls the replica's store \
            (one snapshot read each --interval milliseconds, with no lock the owner needs) and \
            prints one line per change, flushed: the clock, the origin and the value (a set's \
            sorted elements or a map's "field: value" pairs, separated by "; "). With --json, \
            one object per line with "value", "clock" and "origin". It prints the value once at \
            the start (origin "initial"), then only when the value differs from the last one \
            printed. Across processes the origin is read from the clock: "local" when the \
            replica's own transactions advanced, "remote" when only others' did, "restart" when \
            the clock went back (the replica was wiped, restored or lost unflushed commits). \
            Runs until interrupted, or until --count changes were printed.
            Example:
              concord watch DIR likes pncounter --bucket posts --json
            """)

    @OptionGroup var target: DirectoryArgument
    @OptionGroup var object: ObjectArguments
    @Option(help: "Milliseconds between two looks at the store.") var interval = 20
    @Option(help: "Exit after printing this many lines (0: never).") var count = 0
    @OptionGroup var output: JSONFlag

    func validate() throws {
        guard interval > 0 else { throw ValidationError("--interval must be at least 1 millisecond") }
        guard count >= 0 else { throw ValidationError("--count cannot be negative") }
    }

    func run() throws {
        let entry = try TypeCatalog.entry(named: object.type)
        let reader = try target.reader()
        defer { reader.close() }
        let id = try object.replica.id(in: reader.manifest)
        var last: (value: InspectedValue, clock: VectorClock)?
        var printed = 0
        while count == 0 || printed < count {
            let (state, clock) = try entry.snapshot(reader, object.key, object.bucket, id)
            let value = Inspection.value(of: state)
            if last?.value != value {
                let origin = last.map { Self.origin(from: $0.clock, to: clock, at: id) } ?? .initial
                print(line(value: value, clock: clock, origin: origin, replica: id))
                last = (value, clock)
                printed += 1
            } else {
                last?.clock = clock  // later origins are read against the newest clock
            }
            if count == 0 || printed < count { usleep(useconds_t(interval) * 1_000) }
        }
    }

    /// The line of one change: a JSON object, or clock, origin and value.
    private func line(value: InspectedValue, clock: VectorClock, origin: ChangeOrigin, replica: ReplicaID) -> String {
        if output.json {
            return JSON.object([
                ("key", .string(object.key)), ("bucket", .string(object.bucket)),
                ("type", .string(object.type.lowercased())),
                ("replica", .uint(replica.rawValue)), ("origin", .string(origin.rawValue)), ("clock", .clock(clock)),
                ("value", .inspected(value)),
            ]).text
        }
        return "\(formatClock(clock)) \(origin) \(value.plainLines.joined(separator: "; "))"
    }

    /// Where a change seen between two clocks came from, as far as the clocks tell.
    static func origin(from previous: VectorClock, to clock: VectorClock, at replica: ReplicaID) -> ChangeOrigin {
        guard clock.dominates(previous) else { return .restart }
        let own = clock.entries.contains { entry in
            entry.replica.member == replica && entry.counter > previous[entry.replica]
        }
        return own ? .local : .remote
    }

    /// Writes `text` and a newline in one unbuffered write, so a reader of the pipe sees each
    /// line as soon as it is printed.
    private func print(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }
}
