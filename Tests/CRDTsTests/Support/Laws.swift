import CRDTs
import Testing

/// The laws every CRDT obeys, checked on states and deltas from random causal traces.
enum Laws {
    /// Join is commutative, associative and idempotent; codec round trips; any delivery order
    /// of the trace's deltas (with duplicates) reaches the same state. Returns the number of
    /// cases checked.
    @discardableResult
    static func check<T: CRDT>(
        _ trace: CausalTrace<T>, sourceLocation: SourceLocation = #_sourceLocation
    ) -> Int {
        var random = SeededGenerator(seed: trace.seed ^ 0xA5A5)
        let seed = trace.seed
        let pool = trace.states + trace.allDeltas
        var cases = 0
        func pick() -> T { pool.randomElement(using: &random)! }
        for _ in 0..<min(64, pool.count * 2) {
            let (a, b, c) = (pick(), pick(), pick())
            #expect(
                a.joined(b) == b.joined(a), "seed \(seed): join not commutative for \(a), \(b)",
                sourceLocation: sourceLocation)
            #expect(
                a.joined(b).joined(c) == a.joined(b.joined(c)),
                "seed \(seed): join not associative for \(a), \(b), \(c)", sourceLocation: sourceLocation)
            #expect(a.joined(a) == a, "seed \(seed): join not idempotent for \(a)", sourceLocation: sourceLocation)
            #expect(
                a.joined(b).joined(b) == a.joined(b), "seed \(seed): join of a delta twice differs",
                sourceLocation: sourceLocation)
            cases += 1
        }
        for state in pool {
            do {
                let decoded = try T(serialized: state.serialized())
                #expect(
                    decoded == state, "seed \(seed): codec round trip changed \(state) into \(decoded)",
                    sourceLocation: sourceLocation)
                #expect(
                    decoded.serialized() == state.serialized(), "seed \(seed): encoding is not canonical",
                    sourceLocation: sourceLocation)
            } catch {
                Issue.record(
                    "seed \(seed): decoding a valid encoding of \(state) threw \(error)",
                    sourceLocation: sourceLocation)
            }
            cases += 1
        }
        // Any order, with duplicates, of all deltas gives the state that the synchronized
        // replicas reach.
        var synchronized = trace
        synchronized.synchronize()
        let target = synchronized.replicas[0].state
        for replica in synchronized.replicas {
            #expect(
                replica.state == target, "seed \(seed): replicas differ after synchronizing",
                sourceLocation: sourceLocation)
        }
        for _ in 0..<4 {
            var deltas = trace.allDeltas + trace.allDeltas.filter { _ in random.chance(0.3) }
            deltas.shuffle(using: &random)
            var state = T()
            for delta in deltas { state.join(delta) }
            #expect(
                state == target, "seed \(seed): a shuffled delivery with duplicates reached \(state), not \(target)",
                sourceLocation: sourceLocation)
            cases += 1
        }
        return cases
    }

    /// Truncations, bit flips, random bytes and inflated counts never trap: each either
    /// throws a `CodecError` or (for some bit flips) decodes to a state that re-encodes
    /// canonically. Returns the number of inputs tried.
    @discardableResult
    static func checkDecoderHardening<T: CRDT>(
        _ type: T.Type, samples: [T], seed: UInt64, sourceLocation: SourceLocation = #_sourceLocation
    ) -> Int {
        var random = SeededGenerator(seed: seed)
        var tried = 0
        for sample in samples {
            let bytes = sample.serialized()
            for length in 0..<bytes.count {
                #expect(
                    throws: CodecError.self, "seed \(seed): a truncation to \(length) bytes decoded",
                    sourceLocation: sourceLocation
                ) {
                    try T(serialized: Array(bytes.prefix(length)))
                }
                tried += 1
            }
            #expect(throws: CodecError.self, sourceLocation: sourceLocation) { try T(serialized: bytes + [0]) }
            for _ in 0..<40 {
                var flipped = bytes
                let position = Int.random(in: 0..<flipped.count, using: &random)
                flipped[position] ^= UInt8(1) << UInt8.random(in: 0..<8, using: &random)
                if let decoded = try? T(serialized: flipped) {
                    #expect(
                        (try? T(serialized: decoded.serialized())) == decoded,
                        "seed \(seed): a bit-flipped input decoded to a state that does not round-trip",
                        sourceLocation: sourceLocation)
                }
                // A count (or any varint) replaced with a huge one must be rejected, cheaply.
                var inflated = bytes
                let at = Int.random(in: 3..<max(4, inflated.count), using: &random)
                if at < inflated.count {
                    inflated.replaceSubrange(at..<at + 1, with: [0xFF, 0xFF, 0xFF, 0xFF, 0x0F])
                    _ = try? T(serialized: inflated)
                }
                tried += 2
            }
        }
        for _ in 0..<300 {
            let count = Int.random(in: 0..<48, using: &random)
            var noise = (0..<count).map { _ in UInt8.random(in: 0...255, using: &random) }
            if random.chance(0.5), noise.count >= 3 {
                noise[0] = T.formatVersion
                var writer = ByteWriter()
                T.typeCode.encode(to: &writer)
                noise[1] = writer.bytes[0]
                noise[2] = writer.bytes[1]
            }
            if let decoded = try? T(serialized: noise) {
                #expect(
                    (try? T(serialized: decoded.serialized())) == decoded,
                    "seed \(seed): random bytes decoded to a state that does not round-trip",
                    sourceLocation: sourceLocation)
            }
            tried += 1
        }
        return tried
    }
}
