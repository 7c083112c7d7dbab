import Foundation
import TLS

/// The data-encryption key file (`certs/data.key`): 64 hex digits, mode 0600.
public enum DataKey {
    /// Writes a new random key; never overwrites.
    public static func create(at path: String) throws -> SymmetricKey {
        let key = SymmetricKey.generate()
        try FileWriter.write(Array((key.rawBytes.hexString + "\n").utf8), to: path, mode: 0o600, replacing: false)
        return key
    }
}
