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
