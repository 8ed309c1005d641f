import Concord
import Foundation

public struct ConvergenceResult: Sendable {
    public var updatesPerReplica: Int
    public var seconds: Double
    public var bytesPerUpdate: Double
    public var intervalsApplied: UInt64
    public var statesSent: UInt64
    public var converged: Bool
}

/// Three replicas, cut from each other, each make `updatesPerReplica` single-update
/// transactions on registers `k0`..., then the partition heals and the clock runs until
/// the cluster is quiescent: the pycrdt workload (3 documents x 33,334 edits).
///
/// The run is bounded: past `deadlineSeconds` of stepping it stops and reports that the
/// cluster had not converged (`converged == false`, `seconds` = the time spent).
public func measureConvergence(
    setting: Setting, updatesPerReplica: Int, deadlineSeconds: Double = 30
) throws -> ConvergenceResult {
    let directory = makeScratchDirectory("converge")
    defer { try? FileManager.default.removeItem(at: directory) }
    let cluster = try Cluster(
        directory: directory, replicas: 3, configuration: Configuration(durability: setting.durability))
    defer { cluster.close() }
    let replicas = cluster.replicas
    let keys = (0..<updatesPerReplica).map { Key<LWWRegister<Int64>>("k\($0)", bucket: "converge") }
    cluster.network.partition([replicas[0].id], [replicas[1].id, replicas[2].id])
    cluster.network.partition([replicas[1].id], [replicas[2].id])
    for (r, replica) in replicas.enumerated() {
        for (i, key) in keys.enumerated() { try replica.update(key, .assign(Int64(r * 1_000_000 + i))) }
    }
    // What can happen while cut off happens before the clock starts.
    var deadline = nowNanoseconds() + UInt64(deadlineSeconds * 1e9)
    while nowNanoseconds() < deadline, cluster.step() {}
    let bytesBefore = cluster.network.statistics.bytes
    let appliedBefore = cluster.status().replicas.reduce(0) { $0 + $1.intervalsApplied }
    let statesBefore = cluster.status().replicas.reduce(0) { $0 + $1.statesSent }
    let start = nowNanoseconds()
    deadline = start + UInt64(deadlineSeconds * 1e9)
    cluster.network.heal()
    var quiescent = false
    while nowNanoseconds() < deadline {
        if !cluster.step() {
            quiescent = true
            break
        }
    }
    let seconds = Double(nowNanoseconds() - start) / 1e9
    let status = cluster.status()
    var converged = quiescent && status.isConverged
    for i in stride(from: 0, to: keys.count, by: max(1, keys.count / 100)) where quiescent {
        let values = try replicas.map { try $0.read(keys[i]) }
        if Set(values).count != 1 { converged = false }
    }
    let updates = Double(3 * updatesPerReplica)
    let bytes: UInt64 = cluster.network.statistics.bytes - bytesBefore
    let applied: UInt64 = status.replicas.reduce(0) { $0 + $1.intervalsApplied } - appliedBefore
    let states: UInt64 = status.replicas.reduce(0) { $0 + $1.statesSent } - statesBefore
    return ConvergenceResult(
        updatesPerReplica: updatesPerReplica, seconds: seconds, bytesPerUpdate: Double(bytes) / updates,
        intervalsApplied: applied, statesSent: states, converged: converged)
}

public struct SteadyReplicationResult: Sendable {
    public var updates: Int
    public var intervalsApplied: UInt64
    public var intervalsPerSecond: Double
    public var bytesPerUpdate: Double
}

/// One replica of three updates; after each update the network runs to quiescence (each
/// transaction ships as its own interval: `deltaIntervalTransactions: 1`). Only the
/// network's work is timed: remote intervals applied per second, bytes sent per update
/// (intervals, acknowledgements and clocks).
public func measureSteadyReplication(setting: Setting, updates: Int) throws -> SteadyReplicationResult {
    let directory = makeScratchDirectory("steady")
    defer { try? FileManager.default.removeItem(at: directory) }
    let cluster = try Cluster(
        directory: directory, replicas: 3,
        configuration: Configuration(durability: setting.durability, deltaIntervalTransactions: 1))
    defer { cluster.close() }
    try cluster.synchronize()
    let a = cluster.replicas[0]
    let keys = (0..<1000).map { Key<LWWRegister<Int64>>("k\($0)", bucket: "steady") }
    let bytesBefore = cluster.network.statistics.bytes
    let appliedBefore = cluster.status().replicas.reduce(0) { $0 + $1.intervalsApplied }
    var networkNanoseconds: UInt64 = 0
    for i in 0..<updates {
        try a.update(keys[i % keys.count], .assign(Int64(i)))
        let start = nowNanoseconds()
        try cluster.synchronize()
        networkNanoseconds += nowNanoseconds() - start
    }
    let applied = cluster.status().replicas.reduce(0) { $0 + $1.intervalsApplied } - appliedBefore
    return SteadyReplicationResult(
        updates: updates, intervalsApplied: applied,
        intervalsPerSecond: Double(applied) / (Double(networkNanoseconds) / 1e9),
        bytesPerUpdate: Double(cluster.network.statistics.bytes - bytesBefore) / Double(updates))
}

public struct GarbageCollectionResult: Sendable {
    public var objects: Int
    public var logLengthBefore: Int
    public var logLengthAfter: Int
    public var metadataBytesBefore: Double
    public var metadataBytesAfter: Double
    public var stateBytesBefore: Double
    public var stateBytesAfter: Double
    /// Elements per object, before and after (the heal brings the other replicas' in).
    public var elementsBefore: Double
    public var elementsAfter: Double
}

/// `objects` add-wins sets, each given 20 adds and 10 removes by each of three cut-off
/// replicas; then heal and synchronize until every update is stable. Causal metadata per
/// object = the serialized state less the bytes of its elements (count and
/// length-prefixed strings), averaged at replica 1.
public func measureGarbageCollection(setting: Setting, objects: Int) throws -> GarbageCollectionResult {
    let directory = makeScratchDirectory("gc")
    defer { try? FileManager.default.removeItem(at: directory) }
    let cluster = try Cluster(
        directory: directory, replicas: 3, configuration: Configuration(durability: setting.durability))
    defer { cluster.close() }
    let replicas = cluster.replicas
    let keys = (0..<objects).map { Key<AWSet<String>>("set-\($0)", bucket: "gc") }
    cluster.network.partition([replicas[0].id], [replicas[1].id, replicas[2].id])
    cluster.network.partition([replicas[1].id], [replicas[2].id])
    for (r, replica) in replicas.enumerated() {
        for key in keys {
            for e in 0..<20 { try replica.update(key, .add("element-\(r)-\(e)")) }
            for e in 0..<10 { try replica.update(key, .remove("element-\(r)-\(e * 2)")) }
        }
    }
    func metadata(_ replica: Replica) throws -> (metadata: Double, state: Double, elements: Double) {
        var metadataTotal = 0
        var stateTotal = 0
        var elementTotal = 0
        for key in keys {
            let state = try replica.state(of: key)
            let elements = state.value.reduce(1) { $0 + $1.utf8.count + 1 }
            let bytes = state.serialized().count
            stateTotal += bytes
            metadataTotal += bytes - elements
            elementTotal += state.value.count
        }
        let count = Double(objects)
        return (Double(metadataTotal) / count, Double(stateTotal) / count, Double(elementTotal) / count)
    }
    let before = try metadata(replicas[0])
    let logBefore = cluster.status().replicas[0].logLength
    cluster.network.heal()
    try cluster.synchronize()
    let after = try metadata(replicas[0])
    let logAfter = cluster.status().replicas[0].logLength
    return GarbageCollectionResult(
        objects: objects, logLengthBefore: logBefore, logLengthAfter: logAfter,
        metadataBytesBefore: before.metadata, metadataBytesAfter: after.metadata,
        stateBytesBefore: before.state, stateBytesAfter: after.state, elementsBefore: before.elements,
        elementsAfter: after.elements)
}
