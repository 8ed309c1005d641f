import ArgumentParser
import Concord
import ConcordReports
import Foundation

/// `concord audit …`.
struct Audit: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show or verify the audit log of administrative actions.",
        discussion: """
            Every administrative action on a cluster directory (init, open, close, crash, \
            restart, wipe, add and remove replica, backup, restore, verify, gc, compact, rekey, a \
            refused key) is a JSON line in DIR/audit/, chained by SHA-256 to the line before.
            Examples:
              concord audit show DIR --last 20
              concord audit verify DIR
            """,
        subcommands: [Show.self, VerifyAudit.self])

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the audit log's lines, oldest first.",
            discussion: "Example:\n  concord audit show DIR --last 20 --json")

        @Argument(help: "The cluster directory.", completion: .directory) var directory: String
        @Option(help: "Only the last N lines.") var last: Int?
        @OptionGroup var output: JSONFlag

        func run() throws {
            let entries = try AuditLog(clusterDirectory: URL(fileURLWithPath: directory)).entries()
            let shown = last.map { Array(entries.suffix(max(0, $0))) } ?? entries
            for entry in shown {
                if output.json {
                    print(
                        JSON.object([
                            ("sequence", .uint(entry.sequence)), ("time", .string(entry.time)),
                            (
                                "actor",
                                .object(entry.actor.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })
                            ),
                            ("action", .string(entry.action)),
                            (
                                "arguments",
                                .object(entry.arguments.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })
                            ),
                            ("result", .string(entry.result)),
                        ]).text)
                } else {
                    let arguments = entry.arguments.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
                    print(
                        "\(entry.sequence)  \(entry.time)  \(entry.actor["user"] ?? "?")@pid \(entry.actor["pid"] ?? "?")"
                            + "  \(entry.action)  \(arguments.joined(separator: " "))  \(entry.result)")
                }
            }
        }
    }

    struct VerifyAudit: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "verify",
            abstract: "Check the audit log's hash chain: exit 1 when a line was removed, changed or moved.",
            discussion: "Example:\n  concord audit verify DIR")

        @Argument(help: "The cluster directory.", completion: .directory) var directory: String

        func run() throws {
            let log = AuditLog(clusterDirectory: URL(fileURLWithPath: directory))
            let problems = try log.verify()
            for problem in problems { print("problem: \(problem)") }
            print(
                problems.isEmpty
                    ? "intact: \(try log.entries().count) lines" : "NOT INTACT: \(problems.count) problem(s)")
            if !problems.isEmpty { throw CheckFailed() }
        }
    }
}
