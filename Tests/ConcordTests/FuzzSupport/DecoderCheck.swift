import CRDTs

/// The check behind the `decoders` fuzz target: the first byte picks a built-in CRDT type,
/// the rest is decoded as that type's `serialized()` form, through
/// `CRDTRegistry.decode(serialized:)`, and as a bare state. A decoder must throw
/// `CodecError` or return a state that re-encodes canonically (its encoding decodes to an
/// equal state with the same encoding), joins as a lattice element, and can be read.
public enum DecoderCheck {
    /// Every registered type with a built-in type code, in type-code order (kinds 1...13,
    /// value tags 0...127), taken from `CRDTRegistry` so a new built-in type is fuzzed
    /// without a change here.
    public static let types: [any CRDT.Type] = {
        var types: [any CRDT.Type] = []
        for kind in UInt8(1)...13 {
            for tag in UInt8(0)...127 {
                if let type = CRDTRegistry.type(for: CRDTTypeCode(CRDTTypeCode.Kind(rawValue: kind), valueTag: tag)) {
                    types.append(type)
                }
            }
        }
        return types
    }()

    /// Checks one input; returns the first violation, or `nil`.
    public static func check(_ bytes: [UInt8]) -> FuzzViolation? {
        guard let first = bytes.first else { return nil }
        return types[Int(first) % types.count].checkDecoding(Array(bytes.dropFirst()))
    }


    /// The properties of a decoded state.
    public static func verify<T: CRDT>(_ state: T, _ what: String) -> FuzzViolation? {
        _ = state.value
        let bytes = state.serialized()
        let decoded: T
        do {
            decoded = try T(serialized: bytes)
        } catch {
            return FuzzViolation("\(what): \(state) re-encodes to bytes that do not decode: \(error)")
        }
        if decoded != state { return FuzzViolation("\(what): \(state) re-encodes and decodes to \(decoded)") }
        if decoded.serialized() != bytes { return FuzzViolation("\(what): \(state) has no canonical encoding") }
        if state.joined(state) != state { return FuzzViolation("\(what): join is not idempotent for \(state)") }
        if state.joined(T()) != state || T().joined(state) != state {
            return FuzzViolation("\(what): the initial state is not neutral for \(state)")
        }
        return nil
    }
}

extension CRDT {
    /// `bytes` decoded as this type's `serialized()` form, through the registry, and as a
    /// bare state; each decoded state verified.
    static func checkDecoding(_ bytes: [UInt8]) -> FuzzViolation? {
        if let state = try? Self(serialized: bytes), let violation = DecoderCheck.verify(state, "serialized \(typeCode)") {
            return violation
        }
        if let state = try? CRDTRegistry.decode(serialized: bytes), let violation = state.verifyDecoded("registry-decoded") {
            return violation
        }
        if let state = try? Self(decoding: bytes), let violation = DecoderCheck.verify(state, "bare \(typeCode)") {
            return violation
        }
        return nil
    }

    func verifyDecoded(_ what: String) -> FuzzViolation? { DecoderCheck.verify(self, what) }
}
