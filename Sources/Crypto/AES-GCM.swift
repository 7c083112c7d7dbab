internal import COpenSSL

/// Namespace for AES.
public enum AES {
    /// AES-256-GCM with a random 96-bit nonce per message, through OpenSSL EVP.
    public enum GCM {
        public static let nonceLength = 12
        public static let tagLength = 16
        /// Bytes `seal` adds to the plaintext: nonce + tag.
        public static let overhead = nonceLength + tagLength

        /// Encrypts and authenticates `plaintext`, binding `authenticating` (not encrypted).
        /// - Returns: `nonce || ciphertext || tag`.
        public static func seal(_ plaintext: [UInt8], using key: SymmetricKey, authenticating aad: [UInt8] = []) -> [UInt8] {
            let nonce = SecureRandom.bytes(nonceLength)
            guard let ctx = EVP_CIPHER_CTX_new() else { fatalError("EVP_CIPHER_CTX_new: out of memory") }
            defer { EVP_CIPHER_CTX_free(ctx) }
            var out = nonce
            out.reserveCapacity(overhead + plaintext.count)
            var ciphertext = [UInt8](repeating: 0, count: plaintext.count + 16)
            var tag = [UInt8](repeating: 0, count: tagLength)
            var produced: Int32 = 0
            var total = 0
            key.bytes.withUnsafeBufferPointer { k in
                nonce.withUnsafeBufferPointer { n in
                    precondition(EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nil, nil, nil) == 1)
                    precondition(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, Int32(nonceLength), nil) == 1)
                    precondition(EVP_EncryptInit_ex(ctx, nil, nil, k.baseAddress, n.baseAddress) == 1)
                }
            }
            if !aad.isEmpty {
                aad.withUnsafeBufferPointer { a in
                    precondition(EVP_EncryptUpdate(ctx, nil, &produced, a.baseAddress, Int32(a.count)) == 1)
                }
            }
            ciphertext.withUnsafeMutableBufferPointer { c in
                if !plaintext.isEmpty {
                    plaintext.withUnsafeBufferPointer { p in
                        precondition(EVP_EncryptUpdate(ctx, c.baseAddress, &produced, p.baseAddress, Int32(p.count)) == 1)
                    }
                    total = Int(produced)
                }
                precondition(EVP_EncryptFinal_ex(ctx, c.baseAddress! + total, &produced) == 1)
                total += Int(produced)
            }
            tag.withUnsafeMutableBytes { t in
                precondition(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, Int32(tagLength), t.baseAddress) == 1)
            }
            out.append(contentsOf: ciphertext[..<total])
            out.append(contentsOf: tag)
            return out
        }

        /// Authenticates and decrypts a message made by `seal`.
        /// - Throws: `CryptoError.authenticationFailed` when the key is wrong or any
        ///   byte of the message or of `authenticating` was changed. No partial
        ///   plaintext is ever returned.
        public static func open(_ sealed: [UInt8], using key: SymmetricKey, authenticating aad: [UInt8] = []) throws -> [UInt8] {
            guard sealed.count >= overhead else {
                throw CryptoError(.authenticationFailed, "sealed message is \(sealed.count) bytes, shorter than the \(overhead)-byte nonce and tag")
            }
            guard let ctx = EVP_CIPHER_CTX_new() else { fatalError("EVP_CIPHER_CTX_new: out of memory") }
            defer { EVP_CIPHER_CTX_free(ctx) }
            let bodyCount = sealed.count - overhead
            var plaintext = [UInt8](repeating: 0, count: bodyCount + 16)
            var produced: Int32 = 0
            var total = 0
            var tag = Array(sealed[(sealed.count - tagLength)...])
            let ok: Bool = sealed.withUnsafeBufferPointer { s in
                key.bytes.withUnsafeBufferPointer { k in
                    precondition(EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), nil, nil, nil) == 1)
                    precondition(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, Int32(nonceLength), nil) == 1)
                    precondition(EVP_DecryptInit_ex(ctx, nil, nil, k.baseAddress, s.baseAddress) == 1)
                }
                if !aad.isEmpty {
                    let fed = aad.withUnsafeBufferPointer { a in
                        EVP_DecryptUpdate(ctx, nil, &produced, a.baseAddress, Int32(a.count))
                    }
                    if fed != 1 { return false }
                }
                return plaintext.withUnsafeMutableBufferPointer { p in
                    if bodyCount > 0 {
                        guard EVP_DecryptUpdate(ctx, p.baseAddress, &produced, s.baseAddress! + nonceLength, Int32(bodyCount)) == 1 else { return false }
                        total = Int(produced)
                    }
                    let tagSet = tag.withUnsafeMutableBytes { t in
                        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, Int32(tagLength), t.baseAddress)
                    }
                    guard tagSet == 1 else { return false }
                    guard EVP_DecryptFinal_ex(ctx, p.baseAddress! + total, &produced) == 1 else { return false }
                    total += Int(produced)
                    return true
                }
            }
            OpenSSLErrorQueue.clear()
            guard ok else {
                throw CryptoError(.authenticationFailed, "AES-GCM authentication failed: wrong key or altered data")
            }
            return Array(plaintext[..<total])
        }

        /// Opens many messages made by `seal` under one key, with one OpenSSL context whose key
        /// schedule is computed once: for reading a journal, where a context per record cost more
        /// than decrypting it. Not `Sendable`: one reader at a time.
        public final class Opener {
            private let ctx: OpaquePointer

            /// An opener for messages sealed under `key`.
            public init(key: SymmetricKey) {
                guard let ctx = EVP_CIPHER_CTX_new() else { fatalError("EVP_CIPHER_CTX_new: out of memory") }
                self.ctx = ctx
                key.bytes.withUnsafeBufferPointer { k in
                    precondition(EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), nil, nil, nil) == 1)
                    precondition(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, Int32(nonceLength), nil) == 1)
                    precondition(EVP_DecryptInit_ex(ctx, nil, nil, k.baseAddress, nil) == 1)
                }
            }

            deinit { EVP_CIPHER_CTX_free(ctx) }

            /// As ``AES/GCM/open(_:using:authenticating:)`` under the opener's key.
            /// - Throws: `CryptoError.authenticationFailed` as `open` does; the opener still opens the next message.
            public func open(_ sealed: ArraySlice<UInt8>, authenticating aad: [UInt8] = []) throws -> [UInt8] {
                guard sealed.count >= overhead else {
                    throw CryptoError(.authenticationFailed, "sealed message is \(sealed.count) bytes, shorter than the \(overhead)-byte nonce and tag")
                }
                let bodyCount = sealed.count - overhead
                var total = 0
                let plaintext = try [UInt8](unsafeUninitializedCapacity: bodyCount + 16) { p, initialized in
                    let ok: Bool = sealed.withUnsafeBufferPointer { s in
                        var produced: Int32 = 0
                        // A new nonce; the key schedule stays.
                        guard EVP_DecryptInit_ex(ctx, nil, nil, nil, s.baseAddress) == 1 else { return false }
                        if !aad.isEmpty {
                            let fed = aad.withUnsafeBufferPointer { a in EVP_DecryptUpdate(ctx, nil, &produced, a.baseAddress, Int32(a.count)) }
                            if fed != 1 { return false }
                        }
                        if bodyCount > 0 {
                            guard EVP_DecryptUpdate(ctx, p.baseAddress, &produced, s.baseAddress! + nonceLength, Int32(bodyCount)) == 1 else { return false }
                            total = Int(produced)
                        }
                        let tag = UnsafeMutableRawPointer(mutating: s.baseAddress! + (s.count - tagLength))
                        guard EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, Int32(tagLength), tag) == 1 else { return false }
                        guard EVP_DecryptFinal_ex(ctx, p.baseAddress! + total, &produced) == 1 else { return false }
                        total += Int(produced)
                        return true
                    }
                    guard ok else {
                        OpenSSLErrorQueue.clear()
                        initialized = 0
                        throw CryptoError(.authenticationFailed, "AES-GCM authentication failed: wrong key or altered data")
                    }
                    initialized = total
                }
                return plaintext
            }
        }
    }
}