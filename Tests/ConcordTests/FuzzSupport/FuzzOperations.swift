import CRDTs

/// A CRDT whose operations the fuzzers can generate from bytes.
public protocol FuzzableCRDT: CRDT {
    /// An operation chosen by the input. `depth` is how deep in nested maps the state is,
    /// so that maps stop nesting maps.
    static func fuzzedOperation(_ input: inout FuzzInput, depth: Int) -> Operation
}

/// How deep the generated maps nest at the most.
let maximumFuzzMapDepth = 2

extension GCounter: FuzzableCRDT {
    /// An operation chosen by the input (see `FuzzableCRDT`).
    public static func fuzzedOperation(_ input: inout FuzzInput, depth: Int) -> Operation {
        .increment(input.unsigned())
    }
}

extension PNCounter: FuzzableCRDT {
    /// An operation chosen by the input (see `FuzzableCRDT`).
    public static func fuzzedOperation(_ input: inout FuzzInput, depth: Int) -> Operation {
        input.flag() ? .increment(input.signed()) : .decrement(input.signed())
    }
}

extension ResettableCounter: FuzzableCRDT {
    /// An operation chosen by the input (see `FuzzableCRDT`).
    public static func fuzzedOperation(_ input: inout FuzzInput, depth: Int) -> Operation {
        switch input.below(3) {
        case 0: .increment(input.signed())
        case 1: .decrement(input.signed())
        default: .reset
        }
    }
}

extension BoundedCounter: FuzzableCRDT {
    /// An operation chosen by the input (see `FuzzableCRDT`).
    public static func fuzzedOperation(_ input: inout FuzzInput, depth: Int) -> Operation {
        switch input.below(3) {
        case 0: .increment(input.signed())
        case 1: .decrement(input.signed())
        // Replicas are 1...3; 4 is a replica that never acts, and a transfer to oneself
        // must be refused.
        default: .transfer(input.signed(), to: ReplicaID(UInt64(input.below(4) + 1)))
        }
    }
}

extension EWFlag: FuzzableCRDT {
    /// An operation chosen by the input (see `FuzzableCRDT`).
    public static func fuzzedOperation(_ input: inout FuzzInput, depth: Int) -> Operation {
        input.pick([.enable, .disable, .reset])
    }
}

extension DWFlag: FuzzableCRDT {
    /// An operation chosen by the input (see `FuzzableCRDT`).
    public static func fuzzedOperation(_ input: inout FuzzInput, depth: Int) -> Operation {
        input.pick([.enable, .disable, .reset])
    }
}

extension LWWRegister: FuzzableCRDT where V: FuzzValue {
    /// An operation chosen by the input (see `FuzzableCRDT`).
    public static func fuzzedOperation(_ input: inout FuzzInput, depth: Int) -> Operation {
        .assign(V.fuzzed(&input))
    }
}

extension MVRegister: FuzzableCRDT where V: FuzzValue {
    /// An operation chosen by the input (see `FuzzableCRDT`).
    public static func fuzzedOperation(_ input: inout FuzzInput, depth: Int) -> Operation {
        input.below(4) == 0 ? .reset : .assign(V.fuzzed(&input))
    }
}

/// Up to three values.
private func fuzzedValues<V: FuzzValue>(_ input: inout FuzzInput) -> [V] {
    (0..<input.below(4)).map { _ in V.fuzzed(&input) }
}

extension GSet: FuzzableCRDT where E: FuzzValue {
    /// An operation chosen by the input (see `FuzzableCRDT`).
    public static func fuzzedOperation(_ input: inout FuzzInput, depth: Int) -> Operation {
        input.flag() ? .add(E.fuzzed(&input)) : .addAll(fuzzedValues(&input))
    }
}

extension AWSet: FuzzableCRDT where E: FuzzValue {
    /// An operation chosen by the input (see `FuzzableCRDT`).
    public static func fuzzedOperation(_ input: inout FuzzInput, depth: Int) -> Operation {
        switch input.below(5) {
        case 0: .add(E.fuzzed(&input))
        case 1: .addAll(fuzzedValues(&input))
        case 2: .remove(E.fuzzed(&input))
        case 3: .removeAll(fuzzedValues(&input))
        default: .reset
        }
    }
}

extension RWSet: FuzzableCRDT where E: FuzzValue {
    /// An operation chosen by the input (see `FuzzableCRDT`).
    public static func fuzzedOperation(_ input: inout FuzzInput, depth: Int) -> Operation {
        switch input.below(5) {
        case 0: .add(E.fuzzed(&input))
        case 1: .addAll(fuzzedValues(&input))
        case 2: .remove(E.fuzzed(&input))
        case 3: .removeAll(fuzzedValues(&input))
        default: .reset
        }
    }
}

/// A field name: few, so that updates collide, with two spellings of "é" (which a map
/// must keep apart, comparing names byte by byte).
private func fuzzedFieldName(_ input: inout FuzzInput) -> String {
    input.pick(["a", "b", "é", "e\u{301}"])
}

/// The resettable types a map field can hold (every one can be an `RRMap` field).
private func resettableFieldTypes(depth: Int) -> [any (ResettableCRDT & FuzzableCRDT).Type] {
    var types: [any (ResettableCRDT & FuzzableCRDT).Type] = [
        GCounter.self, PNCounter.self, ResettableCounter.self, EWFlag.self, DWFlag.self,
        LWWRegister<String>.self, LWWRegister<Int64>.self, MVRegister<Bool>.self, AWSet<String>.self,
        RWSet<[UInt8]>.self, AWSet<UnregisteredFuzzValue>.self,
    ]
    if depth < maximumFuzzMapDepth { types.append(RRMap.self) }
    return types
}

extension GMap: FuzzableCRDT {
    /// An operation chosen by the input (see `FuzzableCRDT`).
    public static func fuzzedOperation(_ input: inout FuzzInput, depth: Int) -> Operation {
        var types: [any FuzzableCRDT.Type] = resettableFieldTypes(depth: depth)
        types += [BoundedCounter.self, GSet<UInt64>.self]
        if depth < maximumFuzzMapDepth { types.append(GMap.self) }
        let name = fuzzedFieldName(&input)
        return input.pick(types).gMapUpdate(name, &input, depth: depth)
    }
}

extension RRMap: FuzzableCRDT {
    /// An operation chosen by the input (see `FuzzableCRDT`).
    public static func fuzzedOperation(_ input: inout FuzzInput, depth: Int) -> Operation {
        let types = resettableFieldTypes(depth: depth)
        let name = fuzzedFieldName(&input)
        switch input.below(8) {
        case 0..<5: return input.pick(types).rrMapUpdate(name, &input, depth: depth)
        case 5, 6: return input.pick(types).rrMapRemove(name)
        default: return .reset
        }
    }
}

// Static members called on existential metatypes: they open the type where a generic
// function taking `T.Type` would not accept `any FuzzableCRDT.Type`.
extension FuzzableCRDT {
    static func gMapUpdate(_ name: String, _ input: inout FuzzInput, depth: Int) -> GMap.Operation {
        .update(name, Self.self, fuzzedOperation(&input, depth: depth + 1))
    }

    static func makeLab() -> any LabProtocol { Lab<Self>() }
}

extension FuzzableCRDT where Self: ResettableCRDT {
    static func rrMapUpdate(_ name: String, _ input: inout FuzzInput, depth: Int) -> RRMap.Operation {
        .update(name, Self.self, fuzzedOperation(&input, depth: depth + 1))
    }

    static func rrMapRemove(_ name: String) -> RRMap.Operation { .remove(name, Self.self) }
}

/// Every built-in CRDT type with a generator: each non-generic type, and each generic type
/// over each built-in value type. The operations target picks from this list by index, so
/// append new types at the end (keeping committed regressions meaningful).
public let fuzzableTypes: [any FuzzableCRDT.Type] = {
    func generic<V: FuzzValue>(_ value: V.Type) -> [any FuzzableCRDT.Type] {
        [LWWRegister<V>.self, MVRegister<V>.self, GSet<V>.self, AWSet<V>.self, RWSet<V>.self]
    }
    let plain: [any FuzzableCRDT.Type] = [
        GCounter.self, PNCounter.self, ResettableCounter.self, BoundedCounter.self, EWFlag.self, DWFlag.self,
        GMap.self, RRMap.self,
    ]
    return plain + generic(String.self) + generic([UInt8].self) + generic(Int64.self) + generic(UInt64.self)
        + generic(Bool.self)
}()
