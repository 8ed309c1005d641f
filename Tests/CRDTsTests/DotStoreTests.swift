import CRDTs
import PropertyBased
import Testing

@Suite struct DotStoreTests {
    static func dot(_ replica: UInt64, _ counter: UInt64) -> Dot { Dot(replica: ReplicaID(replica), counter: counter) }

    @Test func aDotSurvivesIfBothHaveItOrTheOtherSideHasNotSeenIt() {
        let kept = Self.dot(1, 1), removedByRight = Self.dot(1, 2), unseenByRight = Self.dot(2, 1)
        let left = DotSet([kept, removedByRight, unseenByRight])
        let leftContext = CausalContext(dots: left.dots)
        let right = DotSet([kept, Self.dot(3, 1)])
        let rightContext = CausalContext(dots: [kept, removedByRight, Self.dot(3, 1)])
        let joined = DotSet.join(left, leftContext, right, rightContext)
        #expect(joined.dots == [kept, unseenByRight, Self.dot(3, 1)])
        #expect(DotSet.join(right, rightContext, left, leftContext) == joined)
    }

    @Test func dotFunctionsKeepTheValuesOfSurvivingDots() {
        let left = DotFunction([Self.dot(1, 1): "a", Self.dot(1, 2): "b"])
        let right = DotFunction([Self.dot(2, 1): "c"])
        let rightContext = CausalContext(dots: [Self.dot(1, 1), Self.dot(2, 1)])
        let joined = DotFunction.join(left, CausalContext(dots: left.dots), right, rightContext)
        #expect(joined.entries == [Self.dot(1, 2): "b", Self.dot(2, 1): "c"])
    }

    @Test func dotMapsJoinKeyByKeyAndDropEmptyStores() {
        var left = DotMap<String, DotSet>()
        left["x"] = DotSet([Self.dot(1, 1)])
        left["y"] = DotSet([Self.dot(1, 2)])
        var right = DotMap<String, DotSet>()
        right["z"] = DotSet([Self.dot(2, 1)])
        let rightContext = CausalContext(dots: [Self.dot(1, 1), Self.dot(2, 1)])
        let joined = DotMap.join(left, CausalContext(dots: left.dots), right, rightContext)
        #expect(Set(joined.keys) == ["y", "z"])
        #expect(joined.dots == [Self.dot(1, 2), Self.dot(2, 1)])
        #expect(joined["x"].isEmpty)
    }

    @Test func storesRoundTripCanonically() throws {
        var map = DotMap<String, DotFunction<Bool>>()
        map["b"] = DotFunction([Self.dot(2, 1): true, Self.dot(1, 3): false])
        map["a"] = DotFunction([Self.dot(1, 1): true])
        let state = CausalDotStore(store: map, context: CausalContext(dots: map.dots))
        let decoded = try CausalDotStore<DotMap<String, DotFunction<Bool>>>(decoding: state.encodedBytes())
        #expect(decoded == state)
        #expect(decoded.encodedBytes() == state.encodedBytes())
    }

    // MARK: Strict decoding

    typealias SetState = CausalDotStore<DotMap<String, DotSet>>

    static func encode(context: CausalContext, _ entries: [(String, [Dot])]) -> [UInt8] {
        var writer = ByteWriter()
        context.encode(to: &writer)
        writer.writeCount(entries.count)
        for (key, dots) in entries {
            writer.writeString(key)
            writer.writeCount(dots.count)
            for dot in dots { dot.encode(to: &writer) }
        }
        return writer.bytes
    }

    @Test func decoderAcceptsAWellFormedState() throws {
        let context = CausalContext(dots: [Self.dot(1, 1), Self.dot(1, 2)])
        let state = try SetState(
            decoding: Self.encode(context: context, [("a", [Self.dot(1, 1)]), ("b", [Self.dot(1, 2)])]))
        #expect(state.store.dots.count == 2)
    }

    @Test func decoderRejectsADotTheContextHasNotSeen() {
        let context = CausalContext(dots: [Self.dot(1, 1)])
        #expect(throws: CodecError.self) {
            try SetState(decoding: Self.encode(context: context, [("a", [Self.dot(1, 2)])]))
        }
    }

    @Test func decoderRejectsADotUsedTwice() {
        let context = CausalContext(dots: [Self.dot(1, 1)])
        #expect(throws: CodecError.self) {
            try SetState(decoding: Self.encode(context: context, [("a", [Self.dot(1, 1)]), ("b", [Self.dot(1, 1)])]))
        }
        #expect(throws: CodecError.self) {
            try SetState(decoding: Self.encode(context: context, [("a", [Self.dot(1, 1), Self.dot(1, 1)])]))
        }
    }

    @Test func decoderRejectsRepeatedOrUnorderedKeysAndEmptyStores() {
        let context = CausalContext(dots: [Self.dot(1, 1), Self.dot(1, 2)])
        #expect(throws: CodecError.self) {
            try SetState(decoding: Self.encode(context: context, [("b", [Self.dot(1, 1)]), ("a", [Self.dot(1, 2)])]))
        }
        #expect(throws: CodecError.self) {
            try SetState(decoding: Self.encode(context: context, [("a", [Self.dot(1, 1)]), ("a", [Self.dot(1, 2)])]))
        }
        #expect(throws: CodecError.self) {
            try SetState(decoding: Self.encode(context: context, [("a", [Self.dot(1, 1)]), ("b", [])]))
        }
    }

    @Test func deeplyNestedMapsAreRejectedNotOverflowed() {
        // A DotMap of DotMaps … of DotSets, 40 levels deep, one key per level.
        var writer = ByteWriter()
        for _ in 0..<40 {
            writer.writeCount(1)
            writer.writeString("k")
        }
        writer.writeCount(1)
        Self.dot(1, 1).encode(to: &writer)
        typealias Deep = DotMap<String, DotMap<String, DotMap<String, DotMap<String, DotSet>>>>
        #expect(throws: CodecError.self) { _ = try Deep(decoding: writer.bytes) }
    }

    /// Generated dot stores over a small dot space, with contexts that cover them.
    static let states = Generator<
        CausalDotStore<DotMap<String, DotSet>>, Shrink.None<CausalDotStore<DotMap<String, DotSet>>>
    > { random in
        var map = DotMap<String, DotSet>()
        var context = CausalContext()
        for replica in UInt64(1)...3 {
            for counter in UInt64(1)...4 where Bool.random(using: &random) {
                let dot = Self.dot(replica, counter)
                context.insert(dot)
                // A dot is bound to one key everywhere (its key is a function of the dot).
                if Bool.random(using: &random) { map[["a", "b", "c"][Int((replica + counter) % 3)]].insert(dot) }
            }
        }
        return CausalDotStore(store: map, context: context)
    }

    @Test func causalJoinIsASemilatticeOnGeneratedStores() async {
        await propertyCheck(input: Self.states, Self.states, Self.states) { a, b, c in
            func join(_ x: CausalDotStore<DotMap<String, DotSet>>, _ y: CausalDotStore<DotMap<String, DotSet>>)
                -> CausalDotStore<DotMap<String, DotSet>>
            {
                var copy = x
                copy.join(y)
                return copy
            }
            #expect(join(a, b) == join(b, a))
            #expect(join(join(a, b), c) == join(a, join(b, c)))
            #expect(join(a, a) == a)
            #expect((try? SetState(decoding: join(a, b).encodedBytes())) == join(a, b))
        }
    }
}
