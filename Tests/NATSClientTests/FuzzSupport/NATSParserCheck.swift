// The check the `nats` fuzz target runs on every input, compiled into the fuzz target
// (Fuzz/Sources/nats/NATSParserCheck.swift is a symbolic link to this file) and into
// NATSClientTests, which replays Fuzz/Corpus/nats and Fuzz/Regressions/nats through it:
// one copy of the code, so the replay cannot drift from what was fuzzed.

import NATSClient

/// The frame parser's laws on arbitrary bytes.
public enum NATSParserCheck {
    /// What parsing a byte stream gives: the frames before the first error, and the error.
    public struct Outcome: Equatable, Sendable {
        /// The frames, in order.
        public var frames: [NATSFrame]
        /// The error that stopped parsing, if any.
        public var error: NATSError?
    }

    /// Parses `chunks` in order through one parser.
    public static func parse(_ chunks: [ArraySlice<UInt8>]) -> Outcome {
        var parser = NATSFrameParser()
        var outcome = Outcome(frames: [], error: nil)
        for chunk in chunks {
            parser.append(chunk)
            do {
                while let frame = try parser.next() {
                    outcome.frames.append(frame)
                }
            } catch {
                outcome.error = error
                return outcome
            }
        }
        return outcome
    }

    /// Checks `data`, returning the violated law or `nil`. The first byte picks the split
    /// point; inputs up to 256 bytes are also fed one byte at a time.
    ///
    /// Laws: parsing never traps; the frames and the error are the same whole, split in two
    /// and byte by byte; the frames re-encoded (``NATSFrame/encoded()``) parse to the same
    /// frames with no error.
    public static func check(_ data: [UInt8]) -> String? {
        let bytes = data[...]
        let whole = parse([bytes])
        let split = data.isEmpty ? 0 : Int(data[0]) * data.count / 256
        let halves = parse([bytes[..<split], bytes[split...]])
        if halves != whole {
            return "split at \(split) gives \(halves), whole gives \(whole)"
        }
        if data.count <= 256 {
            let single = parse(data.indices.map { bytes[$0..<($0 + 1)] })
            if single != whole {
                return "byte by byte gives \(single), whole gives \(whole)"
            }
        }
        let encoded = whole.frames.flatMap { $0.encoded() }
        let again = parse([encoded[...]])
        if again != Outcome(frames: whole.frames, error: nil) {
            return "re-encoded frames parse to \(again), not \(whole.frames)"
        }
        return nil
    }
}
