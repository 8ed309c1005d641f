// Runs every benchmark shape, Concord and raw LMDB in this one process and run, and prints
// the summary table of BENCHMARKS.md. `make bench` runs it (with package-benchmark's malloc
// interposer preloaded, for the allocation counts).
//
// Options: --quick (a fifth of the samples, for a smoke run), --only-observation, --only-group-commit,
// --settings a,b (of
// noSync+writeMap, noSync, full), --keys N (default 100000).

import BenchmarkKit
import Concord
import Foundation

#if canImport(MallocInterposerSwift)
    import MallocInterposerSwift
#endif

let arguments = CommandLine.arguments
let quick = arguments.contains("--quick")
func option(_ name: String) -> String? {
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return nil }
    return arguments[index + 1]
}
let keyCount = option("--keys").flatMap(Int.init) ?? 100_000
let valueBytes = 100
let settings: [Setting] = option("--settings").map { list in
    list.split(separator: ",").compactMap { Setting(rawValue: String($0)) }
} ?? Setting.allCases

func log(_ line: String) {
    FileHandle.standardError.write(Data("\(line)\n".utf8))
}

func microseconds(_ value: Double) -> String {
    value >= 1000 ? String(format: "%.2f ms", value / 1000) : String(format: "%.2f µs", value)
}
func rate(_ value: Double) -> String {
    value >= 1e6
        ? String(format: "%.2fM/s", value / 1e6)
        : value >= 1e4 ? String(format: "%.0fK/s", value / 1e3) : String(format: "%.0f/s", value)
}
func ratio(_ concord: Double, _ raw: Double) -> String { String(format: "%.2fx", concord / raw) }

struct Row {
    var shape: String
    var setting: String
    var concord: String
    var raw: String
    var ratio: String
    var seed: String
    var target: String
}
var rows: [Row] = [] {
    didSet {
        if let row = rows.last, rows.count > oldValue.count {
            log("  \(row.shape) [\(row.setting)]: Concord \(row.concord), raw \(row.raw), \(row.ratio) \(row.target)")
        }
    }
}
let skipReplication = arguments.contains("--skip-replication")
// `--only-convergence`: only the convergence rows (for profiling them); implies --only-replication.
let onlyConvergence = arguments.contains("--only-convergence")
let onlyReplication = arguments.contains("--only-replication") || onlyConvergence

func verdict(_ holds: Bool, _ text: String) -> String { (holds ? "met: " : "NOT met: ") + text }

let machineStart = Date()
let onlyObservation = arguments.contains("--only-observation")
let onlyMetrics = arguments.contains("--only-metrics") || onlyObservation
// `--only-group-commit`: only the rows of 8 writers at one replica (full fsync, group commit).
let onlyGroupCommit = arguments.contains("--only-group-commit")
for setting in onlyReplication || onlyMetrics || onlyGroupCommit ? [] : settings {
    let plan = Plan.forSetting(setting, quick: quick)
    let r = try measureSingleOperations(
        setting: setting, keyCount: keyCount, valueBytes: valueBytes, plan: plan, log: log)
    let s = setting.rawValue
    let fastest = setting == .noSyncWriteMap
    let readRatio = r.concordRead.p50 / r.rawRead.p50
    rows.append(Row(
        shape: "read p50", setting: s, concord: microseconds(r.concordRead.p50), raw: microseconds(r.rawRead.p50),
        ratio: ratio(r.concordRead.p50, r.rawRead.p50), seed: "< 1 ms",
        target: setting == .full ? "" : verdict(readRatio <= 2 && r.concordRead.p50 < 5, "≤ 2x raw, < 5 µs")))
    rows.append(Row(
        shape: "read p99", setting: s, concord: microseconds(r.concordRead.p99), raw: microseconds(r.rawRead.p99),
        ratio: ratio(r.concordRead.p99, r.rawRead.p99), seed: "< 1 ms", target: ""))
    for (name, concord, raw, seed) in [
        ("write", r.concordWrite, r.rawWrite, "< 2 ms"), ("compare-and-swap", r.concordSwap, r.rawSwap, "< 3 ms"),
    ] {
        let x = concord.p50 / raw.p50
        let target: String
        switch setting {
        case .full: target = verdict(x <= 1.2, "≤ 1.2x raw durable commit")
        case .noSync: target = verdict(x <= 3, "≤ 3x raw")
        case .noSyncWriteMap: target = verdict(x <= 3 && concord.p50 < 25, "≤ 3x raw, < 25 µs")
        }
        rows.append(Row(
            shape: "\(name) p50", setting: s, concord: microseconds(concord.p50), raw: microseconds(raw.p50),
            ratio: ratio(concord.p50, raw.p50), seed: seed, target: target))
        rows.append(Row(
            shape: "\(name) p99", setting: s, concord: microseconds(concord.p99), raw: microseconds(raw.p99),
            ratio: ratio(concord.p99, raw.p99), seed: seed, target: ""))
    }
    let batchRatio = r.concordBatch.p50 / r.rawBatch.p50
    rows.append(Row(
        shape: "batch of 1000 writes p50", setting: s, concord: microseconds(r.concordBatch.p50),
        raw: microseconds(r.rawBatch.p50), ratio: ratio(r.concordBatch.p50, r.rawBatch.p50),
        seed: "< 10/20/30 ms", target: setting == .full ? "" : verdict(batchRatio <= 2, "≤ 2x raw")))
    rows.append(Row(
        shape: "concurrent reads, 2 threads", setting: s, concord: rate(r.concordReadsPerSecond),
        raw: rate(r.rawReadsPerSecond), ratio: ratio(r.concordReadsPerSecond, r.rawReadsPerSecond),
        seed: "300K/s (100 clients)",
        target: fastest ? verdict(r.concordReadsPerSecond >= 1e6, "≥ 1M/s") : ""))
    rows.append(Row(
        shape: "concurrent writes, 3 threads over 3 replicas", setting: s, concord: rate(r.concordWritesPerSecond),
        raw: rate(r.rawWritesPerSecond), ratio: ratio(r.concordWritesPerSecond, r.rawWritesPerSecond),
        seed: "150K/s (100 clients)",
        target: fastest ? verdict(r.concordWritesPerSecond >= 300_000, "≥ 300K/s") : ""))
    log("[\(s)] key \(r.keyBytes) B, value \(r.valueBytes) B (raw LMDB uses the same)")
    if setting == .full { try groupCommitRows(plan: plan) }
}

/// Group commit: 8 writer threads on one replica, against `.full` and raw LMDB's durable
/// commits from 8 threads on one environment, in this run.
@MainActor func groupCommitRows(plan: Plan) throws {
    let s = Setting.full.rawValue
    let g = try measureGroupCommit(
        threads: 8, keyCount: 10_000, valueBytes: valueBytes, seconds: plan.seconds,
        samples: quick ? 100 : 500, log: log)
    rows.append(Row(
        shape: "concurrent writes, 8 threads on one replica", setting: s, concord: rate(g.fullPerSecond),
        raw: rate(g.rawPerSecond), ratio: ratio(g.fullPerSecond, g.rawPerSecond), seed: "", target: ""))
    rows.append(Row(
        shape: "concurrent writes, 8 threads on one replica", setting: "groupCommit", concord: rate(g.groupPerSecond),
        raw: rate(g.rawPerSecond), ratio: ratio(g.groupPerSecond, g.rawPerSecond), seed: "",
        target: String(format: "%.1fx the full-fsync row", g.groupPerSecond / g.fullPerSecond)))
    rows.append(Row(
        shape: "write p50, 1 thread, full fsync → groupCommit", setting: "groupCommit",
        concord: "\(microseconds(g.fullSingleWrite.p50)) → \(microseconds(g.groupSingleWrite.p50))", raw: "—",
        ratio: "—", seed: "", target: String(format: "%.2fx", g.groupSingleWrite.p50 / g.fullSingleWrite.p50)))
}
if onlyGroupCommit { try groupCommitRows(plan: Plan.forSetting(.full, quick: quick)) }

// Replication and garbage collection (no fsync: a full-fsync cluster spends its time in
// the device flush of each applied interval, which the rows above already show).
let replicationSetting: Setting = settings.contains(.noSyncWriteMap) ? .noSyncWriteMap : (settings.first ?? .noSync)
// pycrdt's time for the same workload in the same run (`make bench-peers` and `make bench`
// pass it, from Benchmarks/peers/pycrdt_converge.py); without it, the figure issue 14 quotes.
let pycrdtSeconds = option("--pycrdt-seconds").flatMap(Double.init)
for setting in skipReplication || onlyMetrics || onlyGroupCommit ? [] : [replicationSetting] {
    let s = setting.rawValue
    // `--converge-deadline S`: stop a convergence row after S seconds (30; longer under valgrind).
    let convergenceDeadline = option("--converge-deadline").flatMap(Double.init) ?? 30
    let convergenceSizes = option("--converge-updates").map { [Int($0) ?? 33_334] }
        ?? (quick ? [1_000, 10_000] : [1_000, 3_000, 5_000, 10_000, 33_334])
    for size in convergenceSizes {
        log("[\(s)] convergence of 3 x \(size)")
        let convergence = try measureConvergence(
            setting: setting, updatesPerReplica: size, deadlineSeconds: convergenceDeadline)
        rows.append(Row(
            shape: "converge after heal, 3 x \(convergence.updatesPerReplica) updates", setting: s,
            concord: convergence.converged
                ? String(format: "%.3f s", convergence.seconds)
                : String(format: "> %.0f s (stopped)", convergence.seconds),
            raw: "—", ratio: "—",
            seed: size != 33_334
                ? "" : pycrdtSeconds.map { String(format: "pycrdt %.3f s, same run", $0) } ?? "pycrdt 0.85 s (not run)",
            target: size == 33_334
                ? verdict(
                    convergence.converged && convergence.seconds < (pycrdtSeconds ?? 0.85),
                    String(format: "< %.3f s (pycrdt)", pycrdtSeconds ?? 0.85)) : ""))
        rows.append(Row(
            shape: "  bytes sent per update (partition heal)", setting: s,
            concord: String(format: "%.1f B", convergence.bytesPerUpdate), raw: "—", ratio: "—", seed: "",
            target: "\(convergence.intervalsApplied) intervals applied, \(convergence.statesSent) state transfers"))
    }
    if onlyConvergence { break }
    log("[\(s)] steady replication")
    let steady = try measureSteadyReplication(setting: setting, updates: quick ? 2_000 : 10_000)
    rows.append(Row(
        shape: "remote delta intervals applied (1 txn each)", setting: s, concord: rate(steady.intervalsPerSecond),
        raw: "—", ratio: "—", seed: "", target: "\(steady.intervalsApplied) applied"))
    rows.append(Row(
        shape: "  bytes sent per update (steady, 3 replicas)", setting: s,
        concord: String(format: "%.1f B", steady.bytesPerUpdate), raw: "—", ratio: "—", seed: "", target: ""))
    log("[\(s)] garbage collection")
    let gc = try measureGarbageCollection(setting: setting, objects: 100)
    rows.append(Row(
        shape: "GC: log length (replica 1)", setting: s,
        concord: "\(gc.logLengthBefore) → \(gc.logLengthAfter)", raw: "—", ratio: "—", seed: "",
        target: "before → after stability"))
    rows.append(Row(
        shape: "GC: causal metadata per AWSet object", setting: s,
        concord: String(format: "%.0f B → %.0f B", gc.metadataBytesBefore, gc.metadataBytesAfter), raw: "—",
        ratio: "—", seed: "",
        target: String(format: "state %.0f B → %.0f B", gc.stateBytesBefore, gc.stateBytesAfter)))
    rows.append(Row(
        shape: "GC: causal metadata per AWSet element", setting: s,
        concord: String(
            format: "%.2f B → %.2f B", gc.metadataBytesBefore / max(gc.elementsBefore, 1),
            gc.metadataBytesAfter / max(gc.elementsAfter, 1)), raw: "—", ratio: "—", seed: "",
        target: String(format: "%.0f → %.0f elements per object", gc.elementsBefore, gc.elementsAfter)))
}

// The cost of metrics (no backend against swift-prometheus's) and of encryption at rest
// (plain against sealed stores): each pair of clusters side by side, rounds interleaved
// (`--only-metrics` runs only these, `--skip-metrics` skips them).
let sideSetting: Setting = settings.contains(.noSyncWriteMap) ? .noSyncWriteMap : (settings.first ?? .noSync)
if !arguments.contains("--skip-metrics") && !onlyObservation && !onlyReplication && !onlyGroupCommit {
    let s = sideSetting.rawValue
    let keys = min(keyCount, 20_000)
    let samples = quick ? 4_000 : 30_000
    let rounds = quick ? 3 : 9
    func percent(_ variant: Double, _ base: Double) -> Double { (variant / base - 1) * 100 }
    let metrics = try measureMetricsOverhead(
        setting: sideSetting, keyCount: keys, valueBytes: valueBytes, samplesPerRound: samples, rounds: rounds, log: log)
    rows.append(Row(
        shape: "write p50, no metrics backend", setting: s, concord: microseconds(metrics.baseWrite.p50),
        raw: microseconds(metrics.rawWrite.p50), ratio: ratio(metrics.baseWrite.p50, metrics.rawWrite.p50),
        seed: "", target: "\(keys / 1000)K keys, rounds interleaved"))
    rows.append(Row(
        shape: "write p50, swift-prometheus backend", setting: s, concord: microseconds(metrics.variantWrite.p50),
        raw: microseconds(metrics.rawWrite.p50), ratio: ratio(metrics.variantWrite.p50, metrics.rawWrite.p50),
        seed: "", target: verdict(
            percent(metrics.variantWrite.p50, metrics.baseWrite.p50) < 5,
            String(format: "%+.1f%% (< 5%%)", percent(metrics.variantWrite.p50, metrics.baseWrite.p50)))))
    rows.append(Row(
        shape: "read p50, no metrics backend → swift-prometheus", setting: s,
        concord: microseconds(metrics.baseRead.p50) + " → " + microseconds(metrics.variantRead.p50),
        raw: "—", ratio: "—", seed: "",
        target: String(format: "%+.1f%%", percent(metrics.variantRead.p50, metrics.baseRead.p50))))
    let sealed = try measureEncryptionCost(
        setting: sideSetting, keyCount: keys, valueBytes: valueBytes, samplesPerRound: samples, rounds: rounds, log: log)
    for (name, base, variant) in [
        ("write", sealed.baseWrite.p50, sealed.variantWrite.p50), ("read", sealed.baseRead.p50, sealed.variantRead.p50),
    ] {
        rows.append(Row(
            shape: "\(name) p50, plain → encrypted (ChaCha20-Poly1305)", setting: s,
            concord: microseconds(base) + " → " + microseconds(variant), raw: "—", ratio: "—", seed: "",
            target: verdict(variant / base <= 1.5, String(format: "%.2fx (≤ 1.5x)", variant / base))))
    }
}

// The cost of observation to writers, and commit-to-delivery (`--only-observation` runs only
// these, `--skip-observation` skips them).
if !arguments.contains("--skip-observation") && (!onlyMetrics || onlyObservation) && !onlyReplication
    && !onlyGroupCommit
{
    let s = sideSetting.rawValue
    let keys = min(keyCount, 20_000)
    let cost = try await measureObservationCost(
        setting: sideSetting, keyCount: keys, valueBytes: valueBytes, samplesPerRound: quick ? 4_000 : 20_000,
        rounds: quick ? 3 : 7, log: log)
    let base = cost.writes[0].latency
    let allowance: [String: Double] = [
        "1 observer": 1, "100 observers": 5, "1 observer that never pulls": 1, "100 observers that never pull": 5,
        "1 observer polling without waiting": 1,
    ]
    for (label, latency) in cost.writes {
        let added = latency.p50 - base.p50
        rows.append(Row(
            shape: "write p50 / p99, \(label) on the key", setting: s,
            concord: microseconds(latency.p50) + " / " + microseconds(latency.p99), raw: "—", ratio: "—", seed: "",
            target: allowance[label].map {
                verdict(added <= $0, String(format: "%+.2f µs (≤ +%.0f µs)", added, $0))
            } ?? (label == cost.writes[0].label
                ? "\(keys / 1000)K keys, rounds interleaved" : String(format: "%+.2f µs, a yardstick", added))))
    }
    rows.append(Row(
        shape: "commit-to-delivery p50 / p99, one observer", setting: s,
        concord: microseconds(cost.delivery.p50) + " / " + microseconds(cost.delivery.p99), raw: "—", ratio: "—",
        seed: "", target: "\(cost.delivery.samples) paced writes"))
}

// Allocations per operation, counted by package-benchmark's malloc interposer.
#if canImport(MallocInterposerSwift)
    let interposed = ProcessInfo.processInfo.environment["LD_PRELOAD"]?.contains("MallocInterposer") ?? false
#else
    let interposed = false
#endif
if interposed, !onlyMetrics, !onlyReplication, !onlyGroupCommit, let setting = settings.first(where: { $0 != .full }) {
    #if canImport(MallocInterposerSwift)
        log("[\(setting.rawValue)] allocations")
        let allocations = try measureAllocations(setting: setting, keyCount: keyCount, valueBytes: valueBytes) { body in
            MallocInterposerSwift.initialize()
            MallocInterposerSwift.hook()
            defer { MallocInterposerSwift.unhook() }
            try body()
            return Int64(MallocInterposerSwift.getStatistics().mallocCount)
        }
        for (name, concord, raw) in [
            ("mallocs per read", allocations.concordRead, allocations.rawRead),
            ("mallocs per write", allocations.concordWrite, allocations.rawWrite),
            ("mallocs per compare-and-swap", allocations.concordSwap, allocations.rawSwap),
            ("mallocs per batch of 1000", allocations.concordBatch, allocations.rawBatch),
        ] {
            rows.append(Row(
                shape: name, setting: setting.rawValue, concord: String(format: "%.1f", concord),
                raw: String(format: "%.1f", raw), ratio: "—", seed: "", target: ""))
        }
    #endif
} else {
    log("allocation counts skipped: run with package-benchmark's malloc interposer preloaded (make bench does)")
}

// The table (GitHub markdown, so BENCHMARKS.md can hold it as printed).
let header = ["shape", "durability", "Concord", "raw LMDB", "Concord / raw", "AntidoteDB (seed)", "target"]
let table = rows.map { [$0.shape, $0.setting, $0.concord, $0.raw, $0.ratio, $0.seed, $0.target] }
let widths = header.indices.map { column in
    ([header[column]] + table.map { $0[column] }).map(\.count).max() ?? 0
}
func line(_ cells: [String]) -> String {
    "| " + cells.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }
        .joined(separator: " | ") + " |"
}
print("")
print("Concord vs raw LMDB, \(keyCount) keys, \(valueBytes)-byte register values, warm cache, "
      + "same process and run (\(ProcessInfo.processInfo.activeProcessorCount) cores, "
      + String(format: "%.0f s", Date().timeIntervalSince(machineStart)) + ")")
print("")
print(line(header))
print("|" + widths.map { String(repeating: "-", count: $0 + 2) }.joined(separator: "|") + "|")
for row in table { print(line(row)) }
