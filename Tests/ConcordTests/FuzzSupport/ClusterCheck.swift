import Concord
import ConcordSimulation
import Foundation

/// The check behind the `cluster` fuzz target: the input's bytes become a whole simulated
/// schedule — the first byte picks the shape (replicas, log bound, fault rates), the next
/// eight the seed, and the rest drive every workload and fault choice (operations,
/// partitions, clogs, crashes, wipes, membership) — and every safety and liveness check of
/// the simulator must hold.
public enum ClusterCheck {
    /// Runs the schedule; returns the simulator's failures, if any.
    public static func check(_ bytes: [UInt8]) -> FuzzViolation? {
        let options = options(for: bytes)
        do {
            let report = try Simulation.run(options)
            guard report.passed else {
                return FuzzViolation(
                    "cluster schedule of \(bytes.count) bytes (seed \(options.seed)) failed: "
                        + report.failures.joined(separator: "; "))
            }
        } catch {
            return FuzzViolation("the simulation could not start: \(error)")
        }
        return nil
    }

    /// The simulation options an input describes.
    public static func options(for bytes: [UInt8]) -> SimulationOptions {
        let shape = bytes.first ?? 0
        var seed: UInt64 = 0
        for byte in bytes.dropFirst().prefix(8) { seed = seed << 8 | UInt64(byte) }
        var options = SimulationOptions(
            seed: seed, replicas: 2 + Int(shape % 3), operations: 40, keysPerKind: 1, elements: 4,
            dropRate: [0, 0.1, 0.3][Int(shape / 3 % 3)], duplicateRate: [0, 0.1, 0.3][Int(shape / 9 % 3)],
            reorder: shape & 0x40 != 0, logBound: shape & 0x80 != 0 ? 6 : 10_000)
        options.schedule = Array(bytes.dropFirst(9))
        return options
    }
}
