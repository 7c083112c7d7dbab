import Crypto
import Foundation
import Journal

/// Reads a broker's files as an attacker holding `certs/data.key` and `certs/content-keys` would
/// (SPEC §11.7 tests): the raw bytes of every file under the data directory and of the key store,
/// every journal record decrypted with the data key — and every sealed box in it opened with every
/// content key the store still holds, whichever key it names — and every snapshot decrypted.
/// The broker must be stopped (the journal is opened).
public enum ErasureProbe {
    public static func readableText(dataDirectory data: String, certsDirectory certs: String) throws -> String {
        let dataKey = try KeyFile.load(from: certs + "/data.key")
        let keyStorePath = certs + "/content-keys"
        var text = ""
        let files = try FileManager.default.subpathsOfDirectory(atPath: data).map { "\(data)/\($0)" } + [keyStorePath]
        for file in files {
            guard let bytes = FileManager.default.contents(atPath: file) else { continue }
            text += String(decoding: bytes, as: UTF8.self)
            if URL(fileURLWithPath: file).lastPathComponent.hasPrefix("snapshot-") {
                text += String(decoding: try DiskFormat.decodeSnapshot(Array(bytes), path: file, key: dataKey).state, as: UTF8.self)
            }
        }
        let keys = try ContentKeyStore(path: keyStorePath, dataKey: dataKey)
        let journal = try Journal.open(directory: data, key: dataKey)
        defer { journal.close() }
        try journal.replay(after: 0) { record in
            let plain = String(decoding: record.payload, as: UTF8.self)
            text += plain
            for match in plain.matches(of: /"box":"([A-Za-z0-9+\/=]+)"/) {
                guard let sealed = Data(base64Encoded: String(match.1)) else { continue }
                for id in keys.ids {
                    for aad in keys.ids.map({ Array($0.utf8) }) {
                        if let opened = try? AES.GCM.open(Array(sealed), using: keys.key(id)!, authenticating: aad) {
                            text += String(decoding: opened, as: UTF8.self)
                        }
                    }
                }
            }
        }
        return text
    }
}
