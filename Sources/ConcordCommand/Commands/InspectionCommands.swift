import ArgumentParser
import Concord
import ConcordReports
import Foundation

/// `concord status`.
struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show each replica's clock, log, objects, size and replication lag.",
        discussion: """
            Works while another process owns the directory: it reads each store's snapshot, \
            including the lag each replica last recorded for its peers.
            Example:
              concord status DIR --json
            """)

    @OptionGroup var target: DirectoryArgument
    @OptionGroup var output: JSONFlag

    func run() throws {
        let reader = try target.reader()
        let statuses = reader.status()
        let owner = reader.owner
        let manifest = reader.manifest
        let converged = StatusDocuments.isConverged(StatusDocuments.reports(statuses))
        if output.json {
            print(
                StatusDocuments.status(
                    manifest: manifest, directory: reader.directory, owner: owner, StatusDocuments.reports(statuses)
                ).text)
            return
        }
        print("cluster    \(reader.directory.path)")
        print("made       \(manifest.createdAt.formatted(.iso8601)), durability \(manifest.configuration.durability)")
        print("members    \(manifest.members.count), epoch \(manifest.epoch)")
        print("owner      \(owner ?? "none (the directory is not open)")")
        print("converged  \(converged ? "yes" : "no: the replicas' clocks differ")")
        print("")
        let rows = statuses.map { status -> [String] in
            if let problem = status.problem {
                return ["\(status.replica.rawValue)", "-", "-", "-", "-", "-", "DAMAGED: \(problem)"]
            }
            guard status.hasStore else { return ["\(status.replica.rawValue)", "-", "-", "-", "-", "-", "no store"] }
            let lag = status.peers.map { "\($0.peer.rawValue):\($0.lagOperations)" }.joined(separator: " ")
            return [
                "\(status.replica.rawValue)", "\(status.incarnation)", formatClock(status.clock),
                "\(status.objects)", "\(status.logLength)", formatBytes(status.fileBytes),
                (status.needsState ? "catching up; " : "") + (lag.isEmpty ? "-" : "lag " + lag),
            ]
        }
        print(formatTable(["replica", "incarnation", "clock", "objects", "log", "file", "state"], rows))
    }
}

/// `concord health`.
struct HealthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health",
        abstract: "Say whether the cluster is healthy, degraded or unhealthy, and why.",
        discussion: """
            Exits 0 when healthy or degraded, 1 when unhealthy. Works while another process owns \
            the directory.
            Example:
              concord health DIR --json
            """)

    @OptionGroup var target: DirectoryArgument
    @OptionGroup var output: JSONFlag
    @Option(help: "Lag over this many milliseconds is degraded.") var maximumLag = 5_000.0

    func run() throws {
        let health = try target.reader().health(thresholds: HealthThresholds(maximumLagMilliseconds: maximumLag))
        if output.json {
            print(StatusDocuments.health(health).text)
        } else {
            print(health.state.rawValue)
            for reason in health.reasons { print("  - \(reason)") }
        }
        if health.state == .unhealthy { throw CheckFailed() }
    }
}

/// `concord dump-state`.
struct DumpState: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print every object: key, type, value and causal metadata.",
        discussion: """
            Example:
              concord dump-state DIR --replica 1 --bucket posts --json
            Without --replica, every replica's objects. Works while another process owns the \
            directory; each replica is read from one snapshot.
            """)

    @OptionGroup var target: DirectoryArgument
    @OptionGroup var replica: ReplicaOption
    @Option(help: "Only this bucket.") var bucket: String?
    @OptionGroup var output: JSONFlag

    func run() throws {
        let reader = try target.reader()
        let ids = replica.replica == nil ? reader.manifest.hostedMemberIDs : [try replica.id(in: reader.manifest)]
        let clocks = Dictionary(uniqueKeysWithValues: reader.status().map { ($0.replica, $0.clock) })
        var documents: [JSON] = []
        for id in ids {
            let objects = try reader.dumpState(replica: id, bucket: bucket)
            let clock = clocks[id] ?? VectorClock()
            if output.json {
                documents.append(
                    .object([
                        ("replica", .uint(id.rawValue)), ("clock", JSON.clock(clock)),
                        (
                            "objects",
                            .array(
                                objects.map { object in
                                    .object([
                                        ("bucket", .string(object.bucket)), ("key", .string(object.name)),
                                        ("type", .string(object.typeName)), ("value", .inspected(object.value)),
                                        ("metadata", .inspected(object.metadata)),
                                    ])
                                })
                        ),
                    ]))
                continue
            }
            print("replica \(id.rawValue)  clock \(formatClock(clock))  \(objects.count) objects")
            for object in objects {
                print("  \(object.bucket)/\(object.name)  \(object.typeName)")
                for line in object.value.plainLines { print("    \(line)") }
                print("    metadata \(object.metadata.jsonText)")
            }
        }
        if output.json { print(JSON.object([("replicas", .array(documents))]).text) }
    }
}

/// `concord verify`.
struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check every replica's store: every object decodes as its type, the log agrees with the clock.",
        discussion: """
            Exits 0 when everything is intact, 1 when a problem is found (each is printed). Works \
            while another process owns the directory.
            Example:
              concord verify DIR
            """)

    @OptionGroup var target: DirectoryArgument
    @OptionGroup var output: JSONFlag

    func run() throws {
        let report = try target.reader().verify(progress: Terminal.progressReporter)
        Terminal.endProgress()
        VerificationOutput.print(report, json: output.json)
        if !report.isIntact { throw CheckFailed() }
    }
}

/// How `verify` and `backup verify` print a report.
enum VerificationOutput {
    static func print(_ report: VerificationReport, json: Bool) {
        if json {
            Swift.print(
                JSON.object([
                    ("intact", .bool(report.isIntact)),
                    ("problems", .array(report.allProblems.map(JSON.string))),
                    (
                        "replicas",
                        .array(
                            report.replicas.map { store in
                                .object([
                                    ("replica", .uint(store.replica.rawValue)), ("clock", JSON.clock(store.clock)),
                                    ("objects", .int(Int64(store.objects))),
                                    ("logEntries", .int(Int64(store.logEntries))),
                                    ("fileBytes", .uint(store.fileBytes)), ("intact", .bool(store.isIntact)),
                                ])
                            })
                    ),
                ]).text)
            return
        }
        for store in report.replicas {
            Swift.print(
                "replica \(store.replica.rawValue): \(store.objects) objects, \(store.logEntries) log entries, "
                    + "\(formatBytes(store.fileBytes)), clock \(formatClock(store.clock)): "
                    + (store.isIntact ? "intact" : "\(store.problems.count) problem(s)"))
        }
        for problem in report.allProblems { Swift.print("  problem: \(problem)") }
        Swift.print(report.isIntact ? "intact" : "NOT INTACT")
    }
}
