import Concord
import ConcordSimulation
import Foundation
import Testing

/// The fixed sweep `make test` runs: every seed draws its own faults (loss, duplication,
/// reordering, delay, partitions, clogged links, crashes, wipes, membership changes);
/// every fourth seed uses a tiny log bound so lagging replicas get state transfers.
@Suite struct SimulationSweepTests {
    static func options(seed: UInt64) -> SimulationOptions {
        SimulationOptions(
            seed: seed, replicas: 3 + Int(seed % 2), operations: 90, keysPerKind: 1, elements: 5,
            dropRate: [0, 0.05, 0.2][Int(seed % 3)], duplicateRate: [0.05, 0, 0.2][Int(seed % 3)],
            reorder: seed % 5 != 0, logBound: seed % 4 == 0 ? 8 : 10_000)
    }

    @Test("Seeded simulations converge to the model of every acknowledged operation", arguments: 1...200)
    func seed(_ seed: Int) throws {
        let options = Self.options(seed: UInt64(seed))
        let report = try Simulation.run(options)
        #expect(
            report.passed,
            "seed \(seed) failed: \(report.failures.joined(separator: "; ")) — replay: \(options.replayCommand)")
        #expect(report.acknowledged > 0, "seed \(seed) acknowledged nothing")
    }

    @Test("The same seed replays the same run")
    func replayIsDeterministic() throws {
        let options = SimulationOptions(seed: 42, operations: 120)
        let first = try Simulation.run(options)
        let second = try Simulation.run(options)
        #expect(first.passed && second.passed)
        #expect(first.events == second.events)
        #expect(first.acknowledged == second.acknowledged)
        #expect(first.network == second.network)
        #expect(first.faults == second.faults)
    }
}
