import Crypto
import Testing

@testable import Concord

/// The cipher behind sealed records produces exactly swift-crypto's `ChaChaPoly` boxes, and
/// opens nothing that was changed.
@Suite struct ChaChaPolyCipherTests {
    let key = SymmetricKey(data: (0..<32).map { UInt8($0 * 7 & 0xFF) })
    let nonce: [UInt8] = (0..<12).map { UInt8(0xA0 + $0) }
    let associatedData = Array("concord-record/1/objects/bucket/a".utf8)

    func sealed(_ plaintext: [UInt8], by cipher: ChaChaPolyCipher) -> [UInt8] {
        var record: [UInt8] = []
        plaintext.withUnsafeBytes { message in
            nonce.withUnsafeBytes { nonce in
                associatedData.withUnsafeBytes { data in
                    cipher.seal(message, nonce: nonce, authenticating: data, appendingTo: &record)
                }
            }
        }
        return record
    }

    func opened(_ combined: [UInt8], by cipher: ChaChaPolyCipher, associatedData: [UInt8]? = nil) -> [UInt8]? {
        combined.withUnsafeBytes { box in
            (associatedData ?? self.associatedData).withUnsafeBytes { cipher.open(box, authenticating: $0) }
        }
    }

    @Test(arguments: [0, 1, 15, 16, 17, 64, 120, 1000, 70_000])
    func sealsWhatSwiftCryptoSealsAndOpensIt(length: Int) throws {
        let cipher = ChaChaPolyCipher(key: key)
        let plaintext = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 5) }
        let ours = sealed(plaintext, by: cipher)
        let theirs = try ChaChaPoly.seal(
            plaintext, using: key, nonce: ChaChaPoly.Nonce(data: nonce), authenticating: associatedData
        ).combined
        #expect(ours == Array(theirs))
        #expect(opened(ours, by: cipher) == plaintext)
        let box = try ChaChaPoly.SealedBox(combined: ours)
        #expect(Array(try ChaChaPoly.open(box, using: key, authenticating: associatedData)) == plaintext)
    }

    @Test func appendsAfterWhatTheRecordHolds() {
        let cipher = ChaChaPolyCipher(key: key)
        var record: [UInt8] = [1, 2, 3]
        let plaintext = Array("value".utf8)
        plaintext.withUnsafeBytes { message in
            nonce.withUnsafeBytes { nonce in
                associatedData.withUnsafeBytes {
                    cipher.seal(message, nonce: nonce, authenticating: $0, appendingTo: &record)
                }
            }
        }
        #expect(record.prefix(3) == [1, 2, 3])
        #expect(opened(Array(record.dropFirst(3)), by: cipher) == plaintext)
    }

    @Test func opensNothingChangedMovedOrShortened() {
        let cipher = ChaChaPolyCipher(key: key)
        let plaintext = Array("a value worth keeping".utf8)
        let record = sealed(plaintext, by: cipher)
        for index in record.indices {
            var changed = record
            changed[index] ^= 0x01
            #expect(opened(changed, by: cipher) == nil, "byte \(index) flipped")
        }
        #expect(opened(record, by: cipher, associatedData: Array("concord-record/1/objects/bucket/b".utf8)) == nil)
        #expect(opened(record, by: ChaChaPolyCipher(key: SymmetricKey(size: .bits256))) == nil)
        for length in [0, 11, 12, 27] { #expect(opened(Array(record.prefix(length)), by: cipher) == nil) }
        #expect(opened(Array(record.dropLast()), by: cipher) == nil)
    }
}
