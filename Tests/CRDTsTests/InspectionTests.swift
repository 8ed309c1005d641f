import Foundation
import Testing

@testable import CRDTs

@Suite struct InspectionTests {
    let r1 = UpdateContext(replica: 1, timeMicroseconds: 10)
    let r2 = UpdateContext(replica: 2, timeMicroseconds: 20)

    /// Parses `text` with Foundation, which rejects anything that is not valid JSON.
    func parse(_ text: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
    }

    @Test("Every registered built-in type is inspectable through an existential", arguments: BuiltInType.allCases)
    func everyBuiltInTypeIsInspectable(builtIn: BuiltInType) throws {
        for valueType in BuiltInType.valueTypes {
            let type = builtIn.type(over: valueType)
            let state = try #require(CRDTRegistry.empty(type.typeCode))
            let inspectable = try #require(state as? any Inspectable, "\(type) is not Inspectable")
            _ = try parse(inspectable.inspectedValue.jsonText)
            _ = try parse(inspectable.inspectedMetadata.jsonText)
        }
    }

    @Test("JSON escapes quotes, backslashes, control characters and line separators; Foundation reads it back")
    func jsonEscaping() throws {
        let tricky = "quote \" backslash \\ newline \n tab \t nul \u{0} bell \u{7} del \u{7F} é 😀 \u{2028}"
        let value = InspectedValue.object([
            (tricky, .string(tricky)), ("bytes", .bytes([0x00, 0xAB, 0xFF])), ("n", .integer(-5)),
            ("u", .unsigned(.max)), ("nil", .null), ("list", .array([.bool(true), .bool(false)])),
        ])
        let text = value.jsonText
        #expect(!text.contains("\n"))
        #expect(text.contains("\\u0000") && text.contains("\\u0007") && text.contains("\\u2028"))
        let parsed = try #require(try parse(text) as? [String: Any])
        #expect(parsed[tricky] as? String == tricky)
        #expect(parsed["bytes"] as? String == "00abff")
        #expect(parsed["n"] as? Int == -5)
        #expect(parsed["nil"] is NSNull)
        #expect(text.hasSuffix(#""list":[true,false]}"#))
    }

    @Test func jsonIsDeterministicAndOrdered() {
        var set = AWSet<String>()
        for element in ["pear", "apple", "fig"] { _ = try? set.apply(.add(element), context: r1) }
        #expect(set.inspectedValue.jsonText == #"["apple","fig","pear"]"#)
        var other = AWSet<String>()
        for element in ["fig", "pear", "apple"] { _ = try? other.apply(.add(element), context: r1) }
        #expect(other.inspectedValue.jsonText == set.inspectedValue.jsonText)
    }

    @Test func plainLinesForTheTerminal() {
        #expect(InspectedValue.integer(3).plainLines == ["3"])
        #expect(InspectedValue.string("hello").plainLines == ["hello"])
        #expect(InspectedValue.string("two\nlines").plainLines == [#""two\nlines""#])
        #expect(InspectedValue.array([.string("a"), .array([.integer(1)])]).plainLines == ["a", "[1]"])
        #expect(
            InspectedValue.object([("name", .string("x")), ("tags", .bytes([1]))]).plainLines == [
                "name: x", "tags: 01",
            ])
        #expect(InspectedValue.array([]).plainLines == [])
    }

    @Test func valuesOfTheTypes() throws {
        var numbers = AWSet<Int64>()
        _ = try numbers.apply(.addAll([2, -1, 0]), context: r1)
        #expect(numbers.inspectedValue == .array([.integer(-1), .integer(0), .integer(2)]))

        var register = LWWRegister<String>()
        #expect(register.inspectedValue == .null)
        _ = try register.apply(.assign("x"), context: r2)
        #expect(register.inspectedValue == .string("x"))
        let metadata = register.inspectedMetadata.jsonText
        #expect(metadata.contains(#""writer":"r2""#))
        #expect(metadata.contains(#""physicalMicroseconds":20"#))

        var a = MVRegister<String>()
        var b = MVRegister<String>()
        let deltaA = try a.apply(.assign("a"), context: r1)
        _ = try b.apply(.assign("b"), context: r2)
        b.join(deltaA)
        #expect(b.inspectedValue == .array([.string("a"), .string("b")]))
        #expect(b.inspectedMetadata.jsonText.contains(#"{"dot":"r1:1","value":"a"}"#))

        var counter = BoundedCounter()
        _ = try counter.apply(.increment(5), context: r1)
        _ = try counter.apply(.transfer(2, to: 2), context: r1)
        #expect(counter.inspectedValue == .integer(5))
        #expect(counter.inspectedMetadata.jsonText.contains(#""rights":{"r1":3,"r2":2}"#))

        var bytes = GSet<[UInt8]>()
        _ = try bytes.apply(.addAll([[2], [1, 0]]), context: r1)
        #expect(bytes.inspectedValue.jsonText == #"["0100","02"]"#)
    }

    @Test("Map fields show nested values; fields that share a name show their types")
    func mapFields() throws {
        var map = RRMap()
        _ = try map.apply(.update("visits", PNCounter.self, .increment(3)), context: r1)
        _ = try map.apply(.update("visits", GCounter.self, .increment(4)), context: r1)
        _ = try map.apply(.update("name", LWWRegister<String>.self, .assign("Ada")), context: r1)
        _ = try map.apply(.update("name", LWWRegister<Int64>.self, .assign(7)), context: r1)
        _ = try map.apply(.update("gone", EWFlag.self, .enable), context: r1)
        _ = try map.apply(.remove("gone", EWFlag.self), context: r1)
        let text = map.inspectedValue.jsonText
        #expect(
            text
                == #"{"name:lwwRegister<string>":"Ada","name:lwwRegister<int64>":7,"visits:gCounter":4,"visits:pnCounter":3}"#
        )
        #expect(map.inspectedMetadata.jsonText.contains(#""gone":{"#))
        _ = try parse(map.inspectedMetadata.jsonText)
    }

    @Test func inspectedValuesRoundTripThroughTheCodec() throws {
        let value = InspectedValue.object([
            ("a", .array([.null, .bool(true), .integer(-3), .unsigned(9), .string("é"), .bytes([1, 2])])),
            ("b", .object([])),
        ])
        #expect(try InspectedValue(decoding: value.encodedBytes()) == value)
        #expect(throws: CodecError.self) { try InspectedValue(decoding: [9]) }
        #expect(throws: CodecError.self) { try InspectedValue(decoding: [6, 5, 0]) }
        #expect(throws: CodecError.self) { try InspectedValue(decoding: Array(repeating: 6, count: 100) + [1, 0]) }
    }

    @Test func equalTreesHashEqually() {
        let a = InspectedValue.object([("x", .integer(1)), ("y", .integer(2))])
        let b = InspectedValue.object([("y", .integer(2)), ("x", .integer(1))])
        #expect(a != b)
        #expect(Set([a, a]).count == 1)
    }
}
