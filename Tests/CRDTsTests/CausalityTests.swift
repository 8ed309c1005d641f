import CRDTs
import Testing

@Suite struct VectorClockTests {
    @Test func comparesAllFourWays() {
        let a: VectorClock = [1: 2, 2: 1]
        #expect(a.compare(to: a) == .equal)
        #expect(a.compare(to: [1: 2, 2: 2]) == .before)
        #expect(a.compare(to: [1: 1]) == .after)
        #expect(a.compare(to: [1: 3, 2: 0, 3: 1]) == .concurrent)
        #expect(VectorClock().compare(to: [:]) == .equal)
    }

    @Test func mergeAndMeetArePointwise() {
        let a: VectorClock = [1: 2, 2: 5]
        let b: VectorClock = [2: 3, 3: 7]
        #expect(a.merging(b) == [1: 2, 2: 5, 3: 7])
        #expect(a.meeting(b) == [2: 3])
        #expect(VectorClock.pointwiseMinimum([a, b, [2: 1]]) == [2: 1])
    }

    @Test(arguments: 0..<20) func randomClocksObeyLatticeLaws(seed: UInt64) throws {
        var random = SeededGenerator(seed: seed)
        func clock() -> VectorClock {
            var c = VectorClock()
            for r in 1...4 where random.chance(0.7) {
                c[ReplicaID(UInt64(r))] = UInt64.random(in: 0...5, using: &random)
            }
            return c
        }
        for _ in 0..<50 {
            let (a, b, c) = (clock(), clock(), clock())
            #expect(a.merging(b) == b.merging(a), "seed \(seed)")
            #expect(a.merging(b).merging(c) == a.merging(b.merging(c)), "seed \(seed)")
            #expect(a.merging(a) == a, "seed \(seed)")
            #expect(a.merging(b).dominates(a), "seed \(seed)")
            #expect(a.dominates(a.meeting(b)), "seed \(seed)")
            #expect(try VectorClock(decoding: a.encodedBytes()) == a, "seed \(seed)")
        }
    }

    @Test func decoderRejectsUnorderedAndZeroEntries() {
        var w = ByteWriter()
        w.writeCount(2)
        w.writeVarUInt(2); w.writeVarUInt(1)
        w.writeVarUInt(1); w.writeVarUInt(1)
        #expect(throws: CodecError.self) { try VectorClock(decoding: w.bytes) }
        var z = ByteWriter()
        z.writeCount(1); z.writeVarUInt(1); z.writeVarUInt(0)
        #expect(throws: CodecError.self) { try VectorClock(decoding: z.bytes) }
        #expect(throws: CodecError.self) { try VectorClock(decoding: [0xFF, 0xFF, 0xFF, 0x0F]) }
    }

    @Test func anOverwrittenOrCopiedClockIsEqualAndIndependent() {
        var source: VectorClock = [1: 3, 4: 1]
        var target: VectorClock = [2: 9, 3: 1, 5: 5]
        target.overwrite(with: source)
        #expect(target == source)
        let copy = source.copiedToOwnStorage()
        #expect(copy == source)
        source.increment(1)
        #expect(target == [1: 3, 4: 1] && copy == [1: 3, 4: 1] && source == [1: 4, 4: 1])
        target.overwrite(with: VectorClock())
        #expect(target.isEmpty && VectorClock().copiedToOwnStorage().isEmpty)
    }
}

@Suite struct CausalContextTests {
    @Test func outOfOrderDotsCompactWhenContiguous() {
        var context = CausalContext()
        context.insert(Dot(replica: 1, counter: 3))
        context.insert(Dot(replica: 1, counter: 2))
        #expect(context.cloud.count == 2)
        #expect(!context.contains(Dot(replica: 1, counter: 1)))
        context.insert(Dot(replica: 1, counter: 1))
        #expect(context.cloud.isEmpty)
        #expect(context.vector == [1: 3])
        #expect(context.nextDot(for: 1) == Dot(replica: 1, counter: 4))
    }

    @Test func mergeIsUnionCompacted() throws {
        let a = CausalContext(vector: [1: 2], cloud: [Dot(replica: 1, counter: 4)])
        let b = CausalContext(vector: [1: 3, 2: 1])
        let merged = a.merging(b)
        #expect(merged.vector == [1: 4, 2: 1])
        #expect(merged.cloud.isEmpty)
        #expect(try CausalContext(decoding: a.encodedBytes()) == a)
    }

    /// Found by the `decoders` fuzzer: a cloud dot met a vector entry of UInt64.max in a
    /// merge, and compaction computed `UInt64.max + 1` and trapped.
    @Test func mergingIntoAVectorEntryOfUInt64MaxDoesNotTrap() {
        var context = CausalContext(vector: [1: 1], cloud: [Dot(replica: 2, counter: 5)])
        context.merge(CausalContext(vector: [2: UInt64.max]))
        #expect(context.cloud.isEmpty)
        #expect(context.vector == [1: 1, 2: UInt64.max])
    }

    @Test func decoderRejectsCoveredCloudDots() {
        var w = ByteWriter()
        w.write(VectorClock([1: 3]))
        w.writeCount(1)
        w.write(Dot(replica: 1, counter: 2))
        #expect(throws: CodecError.self) { try CausalContext(decoding: w.bytes) }
    }

    /// Found by the `decoders` fuzzer: a state decoded with a context entry of UInt64.max
    /// for the replica itself made its next update overflow in `nextDot` and trap. Every
    /// causal type now throws `.overflow` and leaves the state unchanged.
    @Test func updatesAtExhaustedDotsThrowInsteadOfTrapping() throws {
        func exhausted<T: CRDT>(_ type: T.Type) throws -> T {
            var w = ByteWriter()
            if T.typeCode.kind == .rwSet { w.write(VectorClock()) }  // compacted
            w.write(CausalContext(vector: [3: UInt64.max]))
            w.writeCount(0)  // empty store
            if T.typeCode.kind == .rwSet { w.writeCount(0) }  // no supersession clocks
            return try T(decoding: w.bytes)
        }
        func expectOverflow<T: CRDT>(_ type: T.Type, _ operation: T.Operation) throws {
            var state = try exhausted(type)
            let before = state
            #expect(throws: CRDTError.self, "\(T.typeCode)") {
                _ = try state.apply(operation, context: UpdateContext(replica: 3))
            }
            #expect(state == before)
        }
        try expectOverflow(EWFlag.self, .enable)
        try expectOverflow(DWFlag.self, .disable)
        try expectOverflow(MVRegister<String>.self, .assign("x"))
        try expectOverflow(AWSet<String>.self, .addAll(["x", "y"]))
        try expectOverflow(RWSet<String>.self, .remove("x"))
        // Another replica's dots are not exhausted.
        var set = try exhausted(AWSet<String>.self)
        _ = try set.apply(.add("x"), context: UpdateContext(replica: 1))
        #expect(set.value == ["x"])
    }

    /// Found by the `decoders` fuzzer: a vector entry of UInt64.max made the covered-dot
    /// check overflow (`vector + 1`) and trap instead of throwing.
    @Test func decoderRejectsCloudDotsAgainstAMaximalVectorEntry() {
        for counter in [UInt64(1), 5, UInt64.max] {
            var w = ByteWriter()
            w.write(VectorClock([1: UInt64.max]))
            w.writeCount(1)
            w.write(Dot(replica: 1, counter: counter))
            #expect(throws: CodecError.self) { try CausalContext(decoding: w.bytes) }
        }
    }
}

@Suite struct CodecTests {
    @Test(arguments: [UInt64(0), 1, 127, 128, 300, UInt64.max, UInt64.max / 3])
    func varUIntRoundTrips(value: UInt64) throws {
        var w = ByteWriter()
        w.writeVarUInt(value)
        var r = ByteReader(w.bytes)
        #expect(try r.readVarUInt() == value)
        #expect(r.isAtEnd)
    }

    @Test(arguments: [Int64(0), -1, 1, Int64.min, Int64.max, -300])
    func varIntRoundTrips(value: Int64) throws {
        var w = ByteWriter()
        w.writeVarInt(value)
        var r = ByteReader(w.bytes)
        #expect(try r.readVarInt() == value)
    }

    @Test func overlongAndOverflowingVarintsAreRejected() {
        var r = ByteReader([UInt8](repeating: 0x80, count: 11) + [0])
        #expect(throws: CodecError.self) { try r.readVarUInt() }
        var o = ByteReader([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F])
        #expect(throws: CodecError.self) { try o.readVarUInt() }
    }

    @Test func countsBeyondTheInputAreRejectedBeforeAllocating() {
        var r = ByteReader([0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 1, 2])
        #expect(throws: CodecError.self) { try r.readCount() }
    }

    @Test func invalidUTF8IsRejected() {
        var r = ByteReader([2, 0xC3, 0x28])
        #expect(throws: CodecError.self) { try r.readString() }
    }

    /// Reads every kind of field from `reader`, recording each value, or the error that
    /// stopped it.
    private static func readEverything(_ reader: inout ByteReader) -> [String] {
        var seen: [String] = []
        do throws(CodecError) {
            seen.append("\(try reader.readVarUInt())")
            seen.append("\(try reader.readVarInt())")
            seen.append("\(try reader.readFixedUInt64())")
            seen.append("\(try reader.readBool())")
            let start = reader.offset
            seen.append("\(try reader.readBytes())")
            seen.append("\(Array(reader.bytes(in: start..<reader.offset)))")
            seen.append(try reader.readString())
            seen.append("\(try reader.readRaw(count: 3))")
            try reader.skip(1)
            seen.append("\(try reader.readByte())")
            try reader.finish()
            seen.append("finished at \(reader.offset)")
        } catch {
            seen.append("\(error)")
        }
        return seen
    }

    @Test func aReaderOverBorrowedMemoryReadsWhatAReaderOverACopyReads() {
        var w = ByteWriter()
        w.writeVarUInt(300)
        w.writeVarInt(-5)
        w.writeFixedUInt64(0x0102_0304_0506_0708)
        w.writeBool(true)
        w.writeBytes([9, 8, 7])
        w.writeString("héllo")
        w.writeRaw([1, 2, 3])
        w.writeByte(0xEE)
        w.writeByte(42)
        let bytes = w.bytes
        // Every prefix: the whole input reads to its end, each shorter one fails at the same
        // offset with the same error either way.
        for length in 0...bytes.count {
            let prefix = Array(bytes[..<length])
            var copied = ByteReader(prefix)
            let fromCopy = Self.readEverything(&copied)
            let inPlace = prefix.withUnsafeBytes { buffer in
                ByteReader.withUnsafeReader(over: buffer) { reader in Self.readEverything(&reader) }
            }
            #expect(inPlace == fromCopy, "prefix of \(length) bytes")
            if length == bytes.count { #expect(fromCopy.last == "finished at \(bytes.count)") }
        }
    }

    @Test func aStateDecodesInPlaceAsFromACopy() throws {
        var register = LWWRegister<[UInt8]>()
        _ = try register.apply(.assign([1, 2, 3]), context: UpdateContext(replica: 2, timeMicroseconds: 7))
        var set = AWSet<String>()
        _ = try set.apply(.add("x"), context: UpdateContext(replica: 1))
        let registerBytes = register.serialized()
        let setBytes = set.serialized()
        #expect(try registerBytes.withUnsafeBytes { try LWWRegister<[UInt8]>(serialized: $0) } == register)
        #expect(try setBytes.withUnsafeBytes { try AWSet<String>(serialized: $0) } == set)
        #expect(try set.encodedBytes().withUnsafeBytes { try AWSet<String>(decoding: $0) } == set)
        // The checks of a copy's decoding hold in place: the type code, the version and
        // bytes left over are errors, with the same code and offset.
        let damaged: [[UInt8]] = [setBytes, [2] + registerBytes.dropFirst(), registerBytes + [0], []]
        for bytes in damaged {
            let fromCopy = Result { () throws(CodecError) in try LWWRegister<[UInt8]>(serialized: bytes) }
            let inPlace = bytes.withUnsafeBytes { buffer in
                Result { () throws(CodecError) in try LWWRegister<[UInt8]>(serialized: buffer) }
            }
            guard case .failure(let error) = inPlace else {
                Issue.record("\(bytes) decoded in place")
                continue
            }
            #expect(inPlace == fromCopy, "\(error)")
        }
    }
}
