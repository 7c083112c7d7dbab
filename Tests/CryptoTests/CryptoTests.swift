import Testing
@testable import Crypto

@Suite struct CryptoTests {
    @Test func sha256KnownAnswer() {
        #expect(SHA256.hash(Array("abc".utf8)).hexString == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hash([UInt8]()).hexString == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test(arguments: [0, 1, 15, 16, 17, 4096])
    func gcmRoundTrip(length: Int) throws {
        let key = SymmetricKey.generate()
        let plaintext = SecureRandom.bytes(length)
        let aad = Array("seq=7".utf8)
        let sealed = AES.GCM.seal(plaintext, using: key, authenticating: aad)
        #expect(sealed.count == plaintext.count + AES.GCM.overhead)
        #expect(try AES.GCM.open(sealed, using: key, authenticating: aad) == plaintext)
    }

    @Test func gcmDetectsTamperingWrongKeyAndWrongAAD() throws {
        let key = SymmetricKey.generate()
        let sealed = AES.GCM.seal(Array("secret".utf8), using: key, authenticating: [1])
        #expect(throws: CryptoError.self) { try AES.GCM.open(sealed, using: SymmetricKey.generate(), authenticating: [1]) }
        #expect(throws: CryptoError.self) { try AES.GCM.open(sealed, using: key, authenticating: [2]) }
        for index in sealed.indices {
            var flipped = sealed
            flipped[index] ^= 0x01
            #expect(throws: CryptoError.self) { try AES.GCM.open(flipped, using: key, authenticating: [1]) }
        }
        #expect(throws: CryptoError.self) { try AES.GCM.open(Array(sealed.prefix(10)), using: key) }
    }
}

/// `AES.GCM.Opener` (one context for many messages, as the journal reads records) opens exactly
/// what `AES.GCM.open` opens and refuses what it refuses, and a refusal does not spoil the next message.
@Suite struct GCMOpenerTests {
    @Test func opensWhatOpenOpensAndRefusesWhatItRefuses() throws {
        let key = SymmetricKey.generate(), other = SymmetricKey.generate()
        let opener = AES.GCM.Opener(key: key)
        for length in [0, 1, 15, 16, 17, 300, 4096] {
            let plain = SecureRandom.bytes(length), aad = SecureRandom.bytes(length % 40)
            let sealed = AES.GCM.seal(plain, using: key, authenticating: aad)
            #expect(try opener.open(sealed[...], authenticating: aad) == plain)
            #expect(try opener.open(([0, 0] + sealed)[2...], authenticating: aad) == plain)   // a slice not starting at 0
            var altered = sealed
            altered[altered.count / 2] ^= 1
            #expect(throws: CryptoError.self) { try opener.open(altered[...], authenticating: aad) }
            #expect(throws: CryptoError.self) { try opener.open(sealed[...], authenticating: aad + [1]) }
            #expect(throws: CryptoError.self) { try opener.open(AES.GCM.seal(plain, using: other, authenticating: aad)[...], authenticating: aad) }
            #expect(throws: CryptoError.self) { try opener.open(sealed.prefix(AES.GCM.overhead - 1), authenticating: aad) }
            #expect(try opener.open(sealed[...], authenticating: aad) == plain)
        }
    }
}

@Suite struct HMACAndHexTests {
    /// RFC 4231 test cases 1, 2 and 6 (a key longer than SHA-256's 64-byte block is hashed first).
    @Test(arguments: [
        ([UInt8](repeating: 0x0b, count: 20), "Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
        (Array("Jefe".utf8), "what do ya want for nothing?", "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        ([UInt8](repeating: 0xaa, count: 131), "Test Using Larger Than Block-Size Key - Hash Key First", "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
    ])
    func hmacSHA256KnownAnswer(key: [UInt8], message: String, mac: String) {
        #expect(HMACSHA256.authenticationCode(for: Array(message.utf8), key: key).hexString == mac)
    }

    @Test func hmacComparisonNeedsEqualBytesAndLength() {
        let mac = HMACSHA256.authenticationCode(for: [1, 2, 3], key: [4])
        #expect(HMACSHA256.isEqual(mac, mac))
        var flipped = mac
        flipped[31] ^= 0x80
        #expect(!HMACSHA256.isEqual(mac, flipped))
        #expect(!HMACSHA256.isEqual(mac, Array(mac.prefix(31))))
    }

    @Test func hexRoundTripsEveryByteAndRefusesOtherText() {
        let all = (0...255).map { UInt8($0) }
        #expect(all.hexString.count == 512)
        #expect(all.hexString == all.hexString.lowercased())
        #expect([UInt8](hex: all.hexString) == all)
        #expect([UInt8](hex: all.hexString.uppercased()) == all)
        #expect([UInt8](hex: "") == [])
        #expect([UInt8](hex: "abc") == nil)
        #expect([UInt8](hex: "0g") == nil)
        #expect([UInt8](hex: " 00") == nil)
    }

    @Test func randomBytesAndKeys() throws {
        #expect(SecureRandom.bytes(0) == [])
        #expect(SecureRandom.bytes(32).count == 32)
        #expect(SecureRandom.bytes(32) != SecureRandom.bytes(32))
        let id = SecureRandom.hex(8)
        #expect(id.count == 16 && [UInt8](hex: id)?.count == 8 && id == id.lowercased())
        #expect(throws: CryptoError(.invalidKey, "a symmetric key must be 32 bytes, got 31")) {
            try SymmetricKey(bytes: [UInt8](repeating: 1, count: 31))
        }
        let key = try SymmetricKey(bytes: [UInt8](repeating: 7, count: 32))
        #expect(key.fingerprint == Array(SHA256.hash(key.rawBytes).prefix(8)).hexString)
        #expect(!key.description.contains(key.rawBytes.hexString))
    }
}
