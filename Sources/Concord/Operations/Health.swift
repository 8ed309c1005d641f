import CRDTs
import Foundation
import LMDB

/// How well a replica or a cluster is, with the reasons.
public struct Health: Sendable, Hashable {
    /// The verdict.
    public enum State: String, Sendable, Hashable, Comparable, CaseIterable {
        /// Everything is as it should be.
        case healthy
        /// It works, but an operator should look: a replica down, lag over its threshold,
        /// the log or the map near its bound, a replica catching up, a failure retried.
        case degraded
        /// It does not work: no replica runs, or a store is about to run out of map.
        case unhealthy

        private var rank: Int {
            switch self {
            case .healthy: 0
            case .degraded: 1
            case .unhealthy: 2
            }
        }

        /// Healthy before degraded before unhealthy.
        public static func < (lhs: State, rhs: State) -> Bool { lhs.rank < rhs.rank }
    }

    /// The verdict: the worst of its reasons.
    public var state: State
    /// Why it is not healthy, one sentence each (empty when healthy).
    public var reasons: [String]

    /// A verdict with its reasons.
    public init(state: State, reasons: [String]) {
        self.state = state
        self.reasons = reasons
    }
}

/// Where `health()` draws its lines.
public struct HealthThresholds: Sendable, Hashable {
    /// Lag to a reachable peer above this is degraded. Default 5 s (the seed's alert).
    public var maximumLagMilliseconds: Double
    /// A log longer than this fraction of `Configuration.logBound` is degraded. Default 0.8.
    public var logFraction: Double
    /// A map fuller than this fraction of `Configuration.maximumMapSizeBytes` is degraded.
    /// Default 0.8.
    public var mapDegradedFraction: Double
    /// And unhealthy past this one. Default 0.95.
    public var mapUnhealthyFraction: Double

    /// Thresholds; every one has a default.
    public init(
        maximumLagMilliseconds: Double = 5_000, logFraction: Double = 0.8, mapDegradedFraction: Double = 0.8,
        mapUnhealthyFraction: Double = 0.95
    ) {
        self.maximumLagMilliseconds = maximumLagMilliseconds
        self.logFraction = logFraction
        self.mapDegradedFraction = mapDegradedFraction
        self.mapUnhealthyFraction = mapUnhealthyFraction
    }
}

extension Health {
    /// The health of one replica from its status and its store's use of the map.
    static func of(
        _ status: ReplicaStatus, mapUsedBytes: UInt64?, configuration: Configuration, thresholds: HealthThresholds
    ) -> [(State, String)] {
        let name = "replica \(status.replica.rawValue)"
        guard status.isRunning else { return [(.degraded, "\(name) is down")] }
        var findings: [(State, String)] = []
        if status.isBootstrapping {
            findings.append(
                (
                    .degraded,
                    "\(name) is catching up (bootstrapping): bounded counters, remove-wins sets, maps and compare-and-swap wait"
                ))
        }
        for peer in status.peers where peer.isReachable && peer.lagMilliseconds > thresholds.maximumLagMilliseconds {
            findings.append(
                (
                    .degraded,
                    "\(name) lags behind replica \(peer.peer.rawValue) by \(Int(peer.lagMilliseconds)) ms "
                        + "(\(peer.lagOperations) operations)"
                ))
        }
        if Double(status.logLength) > Double(configuration.logBound) * thresholds.logFraction {
            findings.append(
                (.degraded, "\(name)'s log holds \(status.logLength) entries of its bound \(configuration.logBound)"))
        }
        if let used = mapUsedBytes {
            let fraction = Double(used) / Double(max(1, configuration.maximumMapSizeBytes))
            let percent = Int((fraction * 100).rounded())
            if fraction > thresholds.mapUnhealthyFraction {
                findings.append((.unhealthy, "\(name)'s map is \(percent)% full"))
            } else if fraction > thresholds.mapDegradedFraction {
                findings.append((.degraded, "\(name)'s map is \(percent)% full"))
            }
        }
        if let failure = status.lastFailure {
            findings.append((.degraded, "\(name)'s last replication step failed and is retried: \(failure)"))
        }
        return findings
    }

    /// Combines findings; with no running replica at all, unhealthy.
    static func combining(_ findings: [(State, String)], running: Int, members: Int) -> Health {
        var all = findings
        if running == 0 { all.append((.unhealthy, "no replica of the \(members) members is running")) }
        return Health(state: all.map(\.0).max() ?? .healthy, reasons: all.map(\.1))
    }
}

extension Storage {
    /// The bytes of the map in use: the pages up to the last one written.
    func mapUsedBytes() -> UInt64? {
        guard let information = try? environment.information(), let statistics = try? environment.statistics()
        else { return nil }
        return UInt64(information.lastPageNumber + 1) * UInt64(statistics.pageSizeBytes)
    }
}

extension Replica {
    /// This replica's health: down, catching up, lagging behind a reachable peer, its log
    /// or its map near their bounds, or a replication failure being retried.
    public func health(thresholds: HealthThresholds = HealthThresholds()) -> Health {
        let findings = Health.of(
            status(), mapUsedBytes: storageForReading?.mapUsedBytes(), configuration: configuration,
            thresholds: thresholds)
        return Health.combining(findings, running: isRunning ? 1 : 0, members: 1)
    }
}

extension Cluster {
    /// The cluster's health: healthy, degraded (a replica down or catching up, lag over the
    /// threshold, a log or a map near its bound, a failure being retried) or unhealthy (no
    /// replica running, a map nearly full), with the reasons.
    public func health(thresholds: HealthThresholds = HealthThresholds()) -> Health {
        let members = replicas
        let findings = members.flatMap { replica in
            Health.of(
                replica.status(), mapUsedBytes: replica.storageForReading?.mapUsedBytes(),
                configuration: configuration, thresholds: thresholds)
        }
        return Health.combining(findings, running: members.filter(\.isRunning).count, members: members.count)
    }
}

/// How much a replica's store holds and takes.
public struct StoreUsage: Sendable, Hashable {
    /// Objects stored.
    public var objects: Int
    /// The size of its `data.mdb` in bytes.
    public var fileBytes: UInt64
    /// The bytes of its map in use.
    public var mapUsedBytes: UInt64
}

extension Replica {
    /// What the replica's store holds and takes now (nil while down).
    public func storeUsage() -> StoreUsage? {
        guard let storage = storageForReading else { return nil }
        let objects = try? storage.read("count the objects of \(self)") { txn in
            try txn.statistics(in: storage.objects).entries
        }
        return StoreUsage(
            objects: objects ?? 0, fileBytes: Storage.fileSize(atPath: storage.environment.path + "/data.mdb"),
            mapUsedBytes: storage.mapUsedBytes() ?? 0)
    }
}
