import Testing

@testable import Concord

@Suite struct ObjectKeyTests {
    /// Keys of assorted lengths and shared prefixes, so that order depends on every byte and
    /// on length.
    static let keys: [ObjectKey] = {
        var keys: [ObjectKey] = []
        for bucket in ["", "a", "ab", "b", "bucket-with-a-long-name"] {
            for name in ["", "x", "xy", "xz", "y", "k0001", "k0002", "k00010", "ünïcode"] {
                keys.append(ObjectKey(bucket: bucket, name: name, type: PNCounter.typeCode))
                keys.append(ObjectKey(bucket: bucket, name: name, type: GCounter.typeCode))
            }
        }
        return keys
    }()

    @Test func orderIsBytewiseLexicographic() {
        for left in Self.keys {
            for right in Self.keys {
                #expect((left < right) == left.bytes.lexicographicallyPrecedes(right.bytes), "\(left) < \(right)")
            }
        }
    }

    @Test func equalKeysHashEqually() {
        for key in Self.keys {
            let copy = ObjectKey(bucket: key.bucket, name: key.name, type: key.type)
            #expect(copy == key)
            #expect(copy.hashValue == key.hashValue)
        }
        #expect(Set(Self.keys).count == Self.keys.count)
    }
}
