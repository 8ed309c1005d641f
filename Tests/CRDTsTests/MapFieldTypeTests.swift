import Testing

@testable import CRDTs

/// Two Swift types under one field key: the case in which a map's field-by-field join
/// used to hit `assertionFailure` and, in release builds, skip the field. Every path by
/// which a field can enter a map refuses the second type with a typed error or reads it
/// as the registered one, and the join itself traps rather than drop a side.
@Suite struct MapFieldTypeTests {
    static let context = UpdateContext(replica: 1, timeMicroseconds: 10)

    /// `map` after `update` at replica 1.
    static func counted<Map: CRDT>(_ map: Map, _ update: Map.Operation) throws -> Map {
        var map = map
        _ = try map.apply(update, context: context)
        return map
    }

    @Test("A type that claims a registered type's code is refused before it becomes a field")
    func impostorIsRefusedByApply() throws {
        #expect(FieldKey("visits", Impostor.self) == FieldKey("visits", PNCounter.self))
        var gmap = try Self.counted(GMap(), .update("visits", PNCounter.self, .increment(3)))
        var rrmap = try Self.counted(RRMap(), .update("visits", PNCounter.self, .increment(3)))
        let (gmapBefore, rrmapBefore) = (gmap, rrmap)

        let gmapError = try #require(throws: CRDTError.self) {
            try gmap.apply(.update("visits", Impostor.self, .bump), context: Self.context)
        }
        let rrmapError = try #require(throws: CRDTError.self) {
            try rrmap.apply(.update("visits", Impostor.self, .bump), context: Self.context)
        }
        for error in [gmapError, rrmapError] {
            #expect(error.code == .invalidArgument)
            #expect(error.message.contains("belongs to PNCounter"), "\(error.message)")
        }
        #expect(gmap == gmapBefore && rrmap == rrmapBefore)
        #expect(gmap.value["visits", as: PNCounter.self] == 3)
        #expect(rrmap.value["visits", as: PNCounter.self] == 3)

        // Nor can it come first, to meet a PNCounter in a later join.
        var empty = GMap()
        #expect(throws: CRDTError.self) {
            try empty.apply(.update("visits", Impostor.self, .bump), context: Self.context)
        }
        #expect(empty == GMap())
    }

    @Test("A field written as another type is read as the registered one, so the join keeps both sides")
    func decoderReadsTheRegisteredType() throws {
        var counter = PNCounter()
        _ = try counter.apply(.increment(5), context: UpdateContext(replica: 2))
        let impostor = Impostor(counter: counter)
        for map in [GMap.typeCode, RRMap.typeCode] {
            // The bytes a map holding the impostor would have: its field key is PNCounter's.
            var writer = ByteWriter()
            writer.writeByte(1)
            map.encode(to: &writer)
            writer.writeCount(1)
            FieldKey("visits", Impostor.self).encode(to: &writer)
            impostor.encode(to: &writer)

            var decoded = try CRDTRegistry.decode(serialized: writer.bytes)
            let mine: any CRDT =
                map == GMap.typeCode
                ? try Self.counted(GMap(), .update("visits", PNCounter.self, .increment(3)))
                : try Self.counted(RRMap(), .update("visits", PNCounter.self, .increment(3)))
            try decoded.join(erased: mine)
            let view = try #require((decoded as? GMap)?.value ?? (decoded as? RRMap)?.value)
            #expect(view["visits", as: PNCounter.self] == 8, "\(map): \(view)")
            #expect(view.state(of: "visits", as: Impostor.self) == nil)
        }
    }

    @Test("Joining two types under one key traps instead of dropping a side")
    func joinOfTwoTypesTraps() async {
        await #expect(processExitsWith: .failure) {
            let key = FieldKey("visits", PNCounter.self)
            var counter = PNCounter()
            _ = try counter.apply(.increment(3), context: UpdateContext(replica: 1))
            var mine = MapCore<GMap>()
            mine.store(counter, at: key)
            var theirs = MapCore<GMap>()
            theirs.store(Impostor(counter: counter), at: key)
            mine.join(theirs)
        }
    }
}

/// A CRDT that claims `PNCounter`'s type code and encodes like one: what a user type with a
/// copied type code looks like. It can never be registered (the registry would trap).
struct Impostor: ResettableCRDT {
    enum Operation: Sendable { case bump }

    static var typeCode: CRDTTypeCode { PNCounter.typeCode }

    var counter = PNCounter()

    init() {}
    init(counter: PNCounter) { self.counter = counter }

    var value: Int64 { counter.value }
    var isNeutral: Bool { counter.isNeutral }

    mutating func apply(_ operation: Operation, context: UpdateContext) throws(CRDTError) -> Impostor {
        Impostor(counter: try counter.apply(.increment(1), context: context))
    }

    mutating func join(_ other: Impostor) { counter.join(other.counter) }

    func resetDelta(context: UpdateContext) -> Impostor { Impostor(counter: counter.resetDelta(context: context)) }

    func encode(to writer: inout ByteWriter) { counter.encode(to: &writer) }

    init(from reader: inout ByteReader) throws(CodecError) { counter = try PNCounter(from: &reader) }
}
