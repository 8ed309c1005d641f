import ArgumentParser
import Concord
import ConcordSimulation
import Foundation

/// `concord simulate`: seeded, deterministic runs of a cluster under faults.
struct Simulate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run seeded simulations of a cluster under faults and check convergence.",
        discussion: """
            Each run drives N replicas through a mix of operations over every CRDT type while \
            the network loses, duplicates, delays and reorders messages, partitions form and \
            heal, links clog, replicas crash, restart, are wiped, added and removed. Safety is \
            checked after every event; at the end everything is healed and every replica must \
            hold the value a sequential model computes from every acknowledged operation. \
            Exits 0 only when every check held; a failure prints the command that replays it.
            Examples:
              concord simulate --seed 7
              concord simulate --seeds 1...200 --quiet
              concord simulate --seed 3 --keep /tmp/sim && concord status /tmp/sim
            """
    )

    @Option(help: "The seed of the run.") var seed: UInt64 = 1
    @Option(help: "Sweep a range of seeds, e.g. 1...200 (overrides --seed).") var seeds: String?
    @Option(help: "Replicas at the start.") var replicas = 3
    @Option(help: "Transactions to attempt.") var ops = 3_000
    @Option(help: "Objects per CRDT type.") var keys = 2
    @Option(help: "Distinct set elements.") var elements = 6
    @Option(help: "Probability that a message is lost.") var drop = 0.05
    @Option(help: "Probability that a message is delivered twice.") var duplicate = 0.05
    @Option(help: "Log bound per replica (small values force state transfers).") var logBound = 10_000
    @Flag(help: "Keep messages on a link in order.") var noReorder = false
    @Flag(help: "No partitions.") var noPartitions = false
    @Flag(help: "No clogged links.") var noClogs = false
    @Flag(help: "No crashes and restarts.") var noCrashes = false
    @Flag(help: "No wipes.") var noWipes = false
    @Flag(help: "No replicas added or removed.") var noMembership = false
    @Flag(help: "No injected storage faults (failed commits, full maps).") var noStorageFaults = false
    @Flag(help: "Print only the summary.") var quiet = false
    @Option(help: "Leave the final cluster in this directory (missing or empty; one seed only).") var keep: String?

    func validate() throws {
        guard replicas >= 1, replicas <= 16 else { throw ValidationError("--replicas must be between 1 and 16") }
        guard ops >= 0 else { throw ValidationError("--ops must not be negative") }
        guard (0..<1).contains(drop), (0..<1).contains(duplicate) else {
            throw ValidationError("--drop and --duplicate are probabilities below 1")
        }
        if let seeds { _ = try Self.parse(seeds: seeds) }
        if keep != nil, seeds != nil { throw ValidationError("--keep takes one seed, not --seeds") }
    }

    static func parse(seeds: String) throws -> ClosedRange<UInt64> {
        let parts = seeds.split(separator: ".", omittingEmptySubsequences: true)
        guard parts.count == 2, let low = UInt64(parts[0]), let high = UInt64(parts[1]), low <= high else {
            throw ValidationError("--seeds takes a range such as 1...200")
        }
        return low...high
    }

    func options(seed: UInt64) -> SimulationOptions {
        var options = SimulationOptions(
            seed: seed, replicas: replicas, operations: ops, keysPerKind: keys, elements: elements, dropRate: drop,
            duplicateRate: duplicate,
            reorder: !noReorder, partitions: !noPartitions, clogs: !noClogs, crashes: !noCrashes, wipes: !noWipes,
            membership: !noMembership, storageFaults: !noStorageFaults, logBound: logBound)
        options.directory = keep.map { URL(fileURLWithPath: $0) }
        return options
    }

    func run() throws {
        let range = try seeds.map(Self.parse(seeds:)) ?? seed...seed
        var failed: [SimulationReport] = []
        var reports: [SimulationReport] = []
        let sweep = range.count > 1
        for seed in range {
            let options = options(seed: seed)
            let report = try Simulation.run(options) { done, total in
                guard !quiet, !sweep else { return }
                ProgressBar.draw(done: done, total: total, label: "seed \(seed)")
            }
            if !quiet && !sweep { ProgressBar.finish() }
            reports.append(report)
            if sweep && !quiet {
                ProgressBar.draw(
                    done: reports.count, total: range.count,
                    label:
                        "seed \(seed) \(report.passed ? "ok" : "FAILED"), \(failed.count + (report.passed ? 0 : 1)) failed"
                )
            }
            if !report.passed {
                failed.append(report)
            }
        }
        if sweep && !quiet { ProgressBar.finish() }
        if sweep {
            print(SummaryTable.sweep(reports))
        } else if let report = reports.first {
            print(SummaryTable.single(report))
        }
        for report in failed {
            print("\nFAILED: seed \(report.options.seed)")
            for failure in report.failures { print("  - \(failure)") }
            print("  replay: \(report.options.replayCommand)")
        }
        if let keep, failed.isEmpty { print("\nthe final cluster is in \(keep): try `concord status \(keep)`") }
        if !failed.isEmpty { throw ExitCode(1) }
    }
}

/// A one-line progress bar on standard error.
enum ProgressBar {
    static func draw(done: Int, total: Int, label: String) {
        let width = 30
        let filled = total == 0 ? width : min(width, done * width / max(total, 1))
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        FileHandle.standardError.write(Data("\r[\(bar)] \(done)/\(total) \(label)    ".utf8))
    }

    static func finish() {
        FileHandle.standardError.write(Data("\n".utf8))
    }
}

/// The summary tables `simulate` prints.
enum SummaryTable {
    static func single(_ report: SimulationReport) -> String {
        let network = report.network
        var rows: [(String, String)] = [
            ("seed", "\(report.options.seed)"),
            ("replicas at start", "\(report.options.replicas)"),
            ("transactions attempted", "\(report.attempted)"),
            (
                "transactions acknowledged",
                "\(report.acknowledged) (\(report.acknowledgedOperations) operations, "
                    + "\(report.acknowledgedWhileBootstrapping) while bootstrapping)"
            ),
            ("transactions refused", "\(report.refused) (\(report.refusedWhileBootstrapping) while bootstrapping)"),
            ("scheduler events", "\(report.events)"),
            ("observed changes", "\(report.observedChanges) (each the model's value at its clock)"),
            ("messages sent", "\(network.sent) (\(network.bytes) bytes)"),
            ("messages delivered", "\(network.delivered)"),
            ("messages dropped", "\(network.dropped)"),
            ("messages duplicated", "\(network.duplicated)"),
            ("messages cut by partitions", "\(network.cut)"),
            ("messages to crashed replicas", "\(network.undeliverable)"),
            ("state transfers", "\(report.stateTransfers)"),
            ("largest log during the run", "\(report.maximumLogLength) entries"),
            ("log after GC", "\(report.finalLogLength) entries"),
            ("objects compacted", "\(report.objectsCompacted) (remove-wins markers dropped at quiescence)"),
        ]
        for (fault, count) in report.faults.sorted(by: { $0.key < $1.key }) {
            rows.append(("fault: \(fault)", "\(count)"))
        }
        rows.append(("duration", String(format: "%.2f s", report.durationSeconds)))
        rows.append(
            (
                "convergence",
                report.passed ? "verified: all replicas equal the model of every acknowledged operation" : "FAILED"
            ))
        let width = rows.map(\.0.count).max() ?? 0
        return rows.map { $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.1 }.joined(
            separator: "\n")
    }

    static func sweep(_ reports: [SimulationReport]) -> String {
        let passed = reports.filter(\.passed).count
        let acknowledged = reports.reduce(0) { $0 + $1.acknowledged }
        let events = reports.reduce(0) { $0 + $1.events }
        let dropped = reports.reduce(UInt64(0)) { $0 + $1.network.dropped }
        let duplicated = reports.reduce(UInt64(0)) { $0 + $1.network.duplicated }
        let faults = reports.reduce(0) { $0 + $1.faults.values.reduce(0, +) }
        let seconds = reports.reduce(0) { $0 + $1.durationSeconds }
        return """
            seeds                      \(reports.count) (\(reports.first?.options.seed ?? 0)...\(reports.last?.options.seed ?? 0))
            passed                     \(passed)
            failed                     \(reports.count - passed)
            transactions acknowledged  \(acknowledged)
            scheduler events           \(events)
            messages dropped           \(dropped)
            messages duplicated        \(duplicated)
            faults injected            \(faults)
            duration                   \(String(format: "%.1f s", seconds))
            """
    }
}
