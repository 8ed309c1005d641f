import ArgumentParser
import Concord
import ConcordReports
import Foundation

/// `concord backup …`: the seed's backup manager.
struct Backup: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create, list, verify, restore and clean up backups.",
        discussion: """
            Examples:
              concord backup create DIR --to /var/backups/concord --name nightly
              concord backup list /var/backups/concord
              concord backup verify /var/backups/concord/nightly
              concord backup restore /var/backups/concord/nightly --to /srv/restored
              concord backup cleanup /var/backups/concord --keep 24
            """,
        subcommands: [Create.self, List.self, Stats.self, VerifyBackup.self, Restore.self, Cleanup.self])

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Take a hot, compacted, checksummed backup of every replica.",
            discussion: """
                Works while another process owns the directory and writes: each replica's copy is \
                one consistent snapshot.
                Example:
                  concord backup create DIR --to /var/backups/concord --name before-upgrade \
                --description "Before upgrade"
                """)

        @OptionGroup var target: DirectoryArgument
        @Option(help: "The backup directory (created if missing).") var to: String
        @Option(help: "The backup's name (default backup-<UTC time>).") var name: String?
        @Option(help: "What the backup is for.") var description: String?

        func run() throws {
            let manifest = try target.reader().backup(
                to: URL(fileURLWithPath: to), name: name, comment: description, progress: Terminal.progressReporter)
            Terminal.endProgress()
            print(
                "backup \(manifest.name): \(manifest.members.count) replicas, \(formatBytes(manifest.totalBytes))"
                    + (manifest.missing.isEmpty
                        ? "" : " (no store, not copied: \(manifest.missing.map(String.init).joined(separator: ", ")))"))
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the backups in a backup directory, oldest first.",
            discussion: "Example:\n  concord backup list /var/backups/concord --json")

        @Argument(help: "The backup directory.") var backups: String
        @OptionGroup var output: JSONFlag

        func run() throws {
            let entries = try Backups(directory: URL(fileURLWithPath: backups)).list()
            if output.json {
                print(JSON.array(entries.map(BackupDocument.entry)).text)
                return
            }
            guard !entries.isEmpty else {
                print("no backups in \(backups)")
                return
            }
            print(
                formatTable(
                    ["name", "taken", "replicas", "size", "description"],
                    entries.map { entry in
                        guard let manifest = entry.manifest else {
                            return [entry.name, "-", "-", "-", "DAMAGED: \(entry.problem ?? "")"]
                        }
                        return [
                            entry.name, manifest.createdAt.formatted(.iso8601), "\(manifest.members.count)",
                            formatBytes(manifest.totalBytes), manifest.comment ?? "",
                        ]
                    }))
        }
    }

    struct Stats: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show totals over the backups in a backup directory.",
            discussion: "Example:\n  concord backup stats /var/backups/concord")

        @Argument(help: "The backup directory.") var backups: String
        @OptionGroup var output: JSONFlag

        func run() throws {
            let statistics = try Backups(directory: URL(fileURLWithPath: backups)).statistics()
            if output.json {
                print(
                    JSON.object([
                        ("count", .int(Int64(statistics.count))), ("totalBytes", .uint(statistics.totalBytes)),
                        ("oldest", statistics.oldest.map { .string($0.name) } ?? .null),
                        ("newest", statistics.newest.map { .string($0.name) } ?? .null),
                        ("damaged", .array(statistics.damaged.map(JSON.string))),
                        ("interrupted", .array(statistics.interrupted.map(JSON.string))),
                    ]).text)
                return
            }
            print("backups      \(statistics.count)")
            print("total size   \(formatBytes(statistics.totalBytes))")
            if let oldest = statistics.oldest {
                print("oldest       \(oldest.name) (\(oldest.createdAt.formatted(.iso8601)))")
            }
            if let newest = statistics.newest {
                print("newest       \(newest.name) (\(newest.createdAt.formatted(.iso8601)))")
            }
            print("damaged      \(statistics.damaged.isEmpty ? "none" : statistics.damaged.joined(separator: ", "))")
            print(
                "interrupted  \(statistics.interrupted.isEmpty ? "none" : statistics.interrupted.joined(separator: ", "))"
            )
        }
    }

    struct VerifyBackup: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "verify",
            abstract: "Verify a backup: checksums, every object decodes as its type, clocks and log agree.",
            discussion: """
                Changes nothing in the backup. Exits 0 when intact, 1 when a problem is found.
                Example:
                  concord backup verify /var/backups/concord/before-upgrade
                """)

        @Argument(help: "The backup's folder (BACKUPS/NAME).") var backup: String
        @OptionGroup var key: KeyFileOption
        @OptionGroup var output: JSONFlag

        func run() throws {
            let report = try Backups.verify(
                backupAt: URL(fileURLWithPath: backup), encryption: try key.encryption(),
                progress: Terminal.progressReporter)
            Terminal.endProgress()
            VerificationOutput.print(report, json: output.json)
            if !report.isIntact { throw CheckFailed() }
        }
    }

    struct Restore: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Restore a whole cluster, or one replica, from a backup.",
            discussion: """
                The backup is verified first; one that does not verify changes nothing.
                Without --replica: the whole cluster into DIR, which must be missing or empty \
                (or hold a cluster, with --replace: it is moved aside, not deleted).
                With --replica: that replica of the cluster in DIR, from an older backup of the \
                same cluster; its peers keep their newer data and it catches up from them when \
                the cluster next opens. Its former folder is moved aside.
                Nothing may have DIR open meanwhile.
                Examples:
                  concord backup restore /var/backups/concord/before-upgrade --to /srv/cluster-restored
                  concord backup restore /var/backups/concord/nightly --to /srv/cluster --replica 2
                """)

        @Argument(help: "The backup's folder (BACKUPS/NAME).") var backup: String
        @Option(help: "The cluster directory to restore into.") var to: String
        @Option(help: "Restore only this replica.") var replica: UInt64?
        @Flag(help: "Replace the cluster in the target directory (moved aside).") var replace = false

        func run() throws {
            let report = try Backups.restore(
                backupAt: URL(fileURLWithPath: backup), to: URL(fileURLWithPath: to),
                replica: replica.map { ReplicaID($0) },
                replacing: replace, progress: Terminal.progressReporter)
            Terminal.endProgress()
            print(
                "restored \(report.replicas.map { "replica \($0.rawValue)" }.joined(separator: ", ")) "
                    + "from \(report.backup) into \(report.directory.path)")
            if !report.rejoiningEmpty.isEmpty {
                print("rejoining empty: \(report.rejoiningEmpty.map { String($0.rawValue) }.joined(separator: ", "))")
            }
            if let aside = report.replacedMovedTo { print("what it replaced is kept in \(aside.path)") }
            print("each restored replica catches up from its peers when the cluster next opens")
        }
    }

    struct Cleanup: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete old backups: beyond the newest N, or older than an age (the newest always stays).",
            discussion: """
                Example:
                  concord backup cleanup /var/backups/concord --keep 10 --max-age 7d
                Ages: a number with s, m, h or d.
                """)

        @Argument(help: "The backup directory.") var backups: String
        @Option(help: "Keep the newest N.") var keep: Int?
        @Option(help: "Delete those older than this (e.g. 7d, 12h).") var maxAge: String?

        func validate() throws {
            guard keep != nil || maxAge != nil else { throw ValidationError("give --keep, --max-age or both") }
            if let keep, keep < 1 { throw ValidationError("--keep must be at least 1") }
            if let maxAge { _ = try Self.seconds(maxAge) }
        }

        static func seconds(_ text: String) throws -> TimeInterval {
            let units: [Character: Double] = ["s": 1, "m": 60, "h": 3_600, "d": 86_400]
            guard let unit = text.last.flatMap({ units[$0] }), let count = Double(text.dropLast()), count >= 0 else {
                throw ValidationError("\"\(text)\" is not an age: use a number with s, m, h or d (e.g. 7d)")
            }
            return count * unit
        }

        func run() throws {
            let removed = try Backups(directory: URL(fileURLWithPath: backups)).cleanup(
                keeping: keep, maximumAge: try maxAge.map(Self.seconds))
            print(removed.isEmpty ? "nothing to delete" : "deleted \(removed.joined(separator: ", "))")
        }
    }
}

enum BackupDocument {
    static func entry(_ entry: Backups.Entry) -> JSON {
        guard let manifest = entry.manifest else {
            return .object([("name", .string(entry.name)), ("problem", .string(entry.problem ?? ""))])
        }
        return .object([
            ("name", .string(manifest.name)), ("createdAt", .string(manifest.createdAt.formatted(.iso8601))),
            ("createdAtMicroseconds", .uint(manifest.createdAtMicroseconds)),
            ("description", manifest.comment.map(JSON.string) ?? .null),
            ("replicas", .array(manifest.members.map { .uint($0.id) })),
            ("missing", .array(manifest.missing.map { .uint($0) })), ("totalBytes", .uint(manifest.totalBytes)),
        ])
    }
}
