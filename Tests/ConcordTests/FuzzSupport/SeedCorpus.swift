import CRDTs
import Concord

/// The seed inputs the `generate-corpus` tool writes to `Fuzz/Corpus/`: valid encodings, so
/// the fuzzer starts deep inside the decoders instead of at their first check.
public enum SeedCorpus {
    /// For every type in `DecoderCheck.types`: the selector byte, then the `serialized()`
    /// form (and the bare form) of the initial state and of states grown by deterministic
    /// pseudo-random operations at three replicas. Named `<type code>-<kind>-<n>`.
    public static func decoders() -> [(name: String, bytes: [UInt8])] {
        var files: [(name: String, bytes: [UInt8])] = []
        for (index, type) in DecoderCheck.types.enumerated() {
            guard let fuzzable = type as? any FuzzableCRDT.Type else { continue }
            let states = fuzzable.seedSamples()
            let code = type.typeCode
            let name = code.valueTag == 0 ? code.kind.name : "\(code.kind.name)-\(code.valueTag)"
            for (number, state) in states.enumerated() {
                files.append(("\(name)-serialized-\(number)", [UInt8(index)] + state.serialized()))
                if number > 0 { files.append(("\(name)-bare-\(number)", [UInt8(index)] + state.encodedBytes())) }
            }
        }
        return files
    }

    /// The sample messages of `WireFormat`.
    public static func wire() -> [(name: String, bytes: [UInt8])] {
        WireFormat.sampleMessages().enumerated().map { ("sample-\($0.offset)", $0.element) }
    }

    /// Pseudo-random programs of a few lengths (every byte string is a valid program).
    public static func operations() -> [(name: String, bytes: [UInt8])] {
        [64, 128, 256, 512, 1024].enumerated().map { number, length in
            var generator = SeededRandom(seed: UInt64(number + 1))
            return ("program-\(number)", (0..<length).map { _ in UInt8(truncatingIfNeeded: generator.next()) })
        }
    }

    /// The initial state and three grown states of `type`.
    static func samples<T: FuzzableCRDT>(_ type: T.Type) -> [any CRDT] {
        var results: [any CRDT] = [T()]
        for seed in UInt64(1)...3 {
            var generator = SeededRandom(
                seed: seed &* 0x9E37 &+ UInt64(T.typeCode.kind.rawValue) << 8 &+ UInt64(T.typeCode.valueTag))
            var input = FuzzInput((0..<Int(seed) * 40).map { _ in UInt8(truncatingIfNeeded: generator.next()) })
            var replicas = [T](repeating: T(), count: 3)
            var time: UInt64 = 1_000
            while !input.isAtEnd {
                let replica = input.below(3)
                time += 1
                let operation = T.fuzzedOperation(&input, depth: 0)
                _ = try? replicas[replica].apply(
                    operation, context: UpdateContext(replica: ReplicaID(UInt64(replica + 1)), timeMicroseconds: time))
                if input.below(4) == 0 { replicas[input.below(3)].join(replicas[replica]) }
            }
            results.append(replicas.reduce(T()) { $0.joined($1) })
        }
        return results
    }
}

extension FuzzableCRDT {
    static func seedSamples() -> [any CRDT] { SeedCorpus.samples(Self.self) }
}
