import Concord

/// The random source of a simulated run: bytes of a *schedule* first (so a fuzzer's input
/// drives the workload and the faults), then a generator seeded from the run's seed.
struct ScheduleRandom: RandomNumberGenerator {
    private let schedule: [UInt8]
    private var position = 0
    private var fallback: SeededRandom

    init(seed: UInt64, schedule: [UInt8]) {
        self.schedule = schedule
        fallback = SeededRandom(seed: seed)
    }

    /// Eight schedule bytes while they last, then the seeded generator.
    mutating func next() -> UInt64 {
        guard position + 8 <= schedule.count else { return fallback.next() }
        var value: UInt64 = 0
        for byte in schedule[position..<position + 8] { value = value << 8 | UInt64(byte) }
        position += 8
        return value
    }

    /// True with probability `probability`.
    mutating func chance(_ probability: Double) -> Bool {
        probability > 0 && (probability >= 1 || Double(next() >> 11) / Double(1 << 53) < probability)
    }
}
