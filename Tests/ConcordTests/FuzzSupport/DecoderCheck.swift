import CRDTs

/// The check behind the `decoders` fuzz target: the first byte picks a built-in CRDT type,
/// the rest is decoded as that type's `serialized()` form, through
/// `CRDTRegistry.decode(serialized:)`, and as a bare state. A decoder must throw
/// `CodecError` or return a state that re-encodes canonically (its encoding decodes to an
/// equal state with the same encoding), joins as a lattice element, and can be read; it
/// must decode alike in place (from borrowed memory, as a plain store reads a record) and
/// from a copy; and operations at a decoded state (chosen by the input read backwards)
/// must throw or keep the delta law, as at any state.
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

    /// Whether two decodings of the same bytes agree: equal states, or errors of the same
    /// code at the same offset. (Not the same words: a decoder may name any one of several
    /// offending elements.)
    static func agree<T: Equatable>(_ lhs: Result<T, CodecError>, _ rhs: Result<T, CodecError>) -> Bool {
        switch (lhs, rhs) {
        case (.success(let left), .success(let right)): left == right
        case (.failure(let left), .failure(let right)): left.code == right.code && left.offset == right.offset
        default: false
        }
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
        // Decoding in place, as a plain store reads a record from the map, must agree with
        // decoding a copy: the same state, or an error of the same code at the same offset.
        let serialized = Result { () throws(CodecError) in try Self(serialized: bytes) }
        let serializedInPlace = bytes.withUnsafeBytes { buffer in
            Result { () throws(CodecError) in try Self(serialized: buffer) }
        }
        if !DecoderCheck.agree(serializedInPlace, serialized) {
            return FuzzViolation("serialized \(typeCode): in place \(serializedInPlace), from a copy \(serialized)")
        }
        let bare = Result { () throws(CodecError) in try Self(decoding: bytes) }
        let bareInPlace = bytes.withUnsafeBytes { buffer in
            Result { () throws(CodecError) in try Self(decoding: buffer) }
        }
        if !DecoderCheck.agree(bareInPlace, bare) {
            return FuzzViolation("bare \(typeCode): in place \(bareInPlace), from a copy \(bare)")
        }
        if case .success(let state) = serialized {
            if let violation = DecoderCheck.verify(state, "serialized \(typeCode)") { return violation }
            // A decoded state is what a replica holds after receiving it: operating on it
            // must throw or keep the laws, never trap.
            if let fuzzable = state as? any FuzzableCRDT, let violation = fuzzable.checkOperations(bytes) {
                return violation
            }
        }
        if let state = try? CRDTRegistry.decode(serialized: bytes),
            let violation = state.verifyDecoded("registry-decoded")
        {
            return violation
        }
        if case .success(let state) = bare, let violation = DecoderCheck.verify(state, "bare \(typeCode)") {
            return violation
        }
        return nil
    }

    func verifyDecoded(_ what: String) -> FuzzViolation? { DecoderCheck.verify(self, what) }
}

extension FuzzableCRDT {
    /// Applies an operation at each of replicas 1...3 and a reset (for resettable types) to
    /// a decoded state; each must throw `CRDTError` leaving the state unchanged, or return
    /// a delta that obeys the delta law and a state that survives its encoding.
    func checkOperations(_ bytes: [UInt8]) -> FuzzViolation? {
        var input = FuzzInput(bytes.reversed())
        for replica in UInt64(1)...3 {
            var state = self
            let operation = Self.fuzzedOperation(&input, depth: 0)
            let context = UpdateContext(replica: ReplicaID(replica), timeMicroseconds: input.unsigned())
            do {
                let delta = try state.apply(operation, context: context)
                if joined(delta) != state {
                    return FuzzViolation(
                        "\(Self.typeCode): delta law broken by \(operation) at r\(replica) on decoded \(self)")
                }
            } catch {
                if state != self {
                    return FuzzViolation("\(Self.typeCode): \(operation) threw \(error) but changed decoded \(self)")
                }
                continue
            }
            if let violation = DecoderCheck.verify(state, "after \(operation) at r\(replica)") { return violation }
        }
        if let resettable = self as? any ResettableCRDT {
            let context = UpdateContext(replica: 1, timeMicroseconds: 0)
            guard let delta = resettable.resetDelta(context: context) as? Self else {
                return FuzzViolation("\(Self.typeCode): resetDelta returned another type")
            }
            if let violation = DecoderCheck.verify(joined(delta), "after a reset") { return violation }
        }
        return nil
    }
}
