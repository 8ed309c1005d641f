// Shared with the `Fuzz/` package (its `FuzzSupport` target is a symbolic link to this
// folder): the fuzz targets and the regression replay in `make test` run the same code.

/// The fuzzer's bytes, read as a stream of choices.
///
/// Reading past the end yields zeros instead of failing, so every input, however short,
/// is a complete program; callers stop when `isAtEnd`.
public struct FuzzInput: Sendable {
    private let bytes: [UInt8]
    private var offset = 0

    /// Reads `bytes` from the start.
    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// Whether every byte has been read.
    public var isAtEnd: Bool { offset >= bytes.count }

    /// The next byte, or 0 past the end.
    public mutating func byte() -> UInt8 {
        guard offset < bytes.count else { return 0 }
        defer { offset += 1 }
        return bytes[offset]
    }

    /// A number in `0..<count` (`count` > 0).
    public mutating func below(_ count: Int) -> Int { Int(byte()) % count }

    /// A choice from `choices` (not empty).
    public mutating func pick<T>(_ choices: [T]) -> T { choices[below(choices.count)] }

    /// Whether the next byte is odd.
    public mutating func flag() -> Bool { byte() & 1 == 1 }

    /// Mostly small numbers, sometimes the edges of the type, sometimes 8 raw bytes: what
    /// finds both logic and overflow bugs.
    public mutating func unsigned() -> UInt64 {
        let selector = byte()
        switch selector {
        case 0..<200: return UInt64(selector % 16)
        case 200..<220: return UInt64.max - UInt64(selector - 200)
        case 220..<230: return UInt64(Int64.max) - 1 + UInt64(selector - 220) % 3
        default:
            var value: UInt64 = 0
            for _ in 0..<8 { value = value << 8 | UInt64(byte()) }
            return value
        }
    }

    /// Mostly small numbers of both signs, sometimes the edges of the type.
    public mutating func signed() -> Int64 {
        let selector = byte()
        switch selector {
        case 0..<200: return Int64(selector % 16) - 3
        case 200..<210: return Int64.max - Int64(selector - 200)
        case 210..<220: return Int64.min + Int64(selector - 210)
        default: return Int64(bitPattern: unsigned())
        }
    }

    /// Shuffles `values` with choices read from the input (Fisher–Yates).
    public mutating func shuffle<T>(_ values: inout [T]) {
        guard values.count > 1 else { return }
        for index in stride(from: values.count - 1, to: 0, by: -1) {
            values.swapAt(index, below(index + 1))
        }
    }
}

/// A broken law or a state that does not survive its own encoding: a finding. The fuzz
/// targets trap on it (so libFuzzer saves the input); the replay tests record it.
public struct FuzzViolation: Error, Sendable, CustomStringConvertible {
    /// What broke, with the states involved.
    public var description: String

    /// Creates a violation.
    public init(_ description: String) { self.description = description }
}
