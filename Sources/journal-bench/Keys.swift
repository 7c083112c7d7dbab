import Crypto
import Foundation
import Journal
import POSIX

/// `journal-bench keys`: the time to make N content keys one after another, as the engine makes one
/// per new case (each durable before it is returned), in a fresh `ContentKeyStore`; then the time to
/// reopen the file and to destroy one key (the whole-file rewrite of an erasure). `--legacy` times
/// instead what every new key cost before the append-only file: the whole `MKS1` list encoded,
/// sealed and written atomically (temporary file, fsync, rename, directory fsync), as the old store did.
struct KeysBench {
    let directory: String
    let count: Int
    let legacy: Bool

    func run() throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/content-keys"
        try? FileManager.default.removeItem(atPath: path)
        let dataKey = SymmetricKey.generate()
        let (wall, cpu) = try measure {
            if legacy {
                var keys: [String: String] = [:]
                for n in 0..<count {
                    keys["case-\(n)"] = SymmetricKey.generate().rawBytes.hexString
                    try Self.writeLegacy(keys, to: path, dataKey: dataKey)
                }
            } else {
                let store = try ContentKeyStore(path: path, dataKey: dataKey)
                for n in 0..<count { _ = try store.keyCreatingIfNeeded("case-\(n)") }
            }
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        print(String(format: "keys%@: %d made in %.2f s (CPU %.2f s), %.0f µs each; file %d bytes",
                     legacy ? " (MKS1, whole file per key)" : "", count, wall, cpu, wall / Double(count) * 1e6, size))
        var store: ContentKeyStore?
        let (openWall, _) = try measure { store = try ContentKeyStore(path: path, dataKey: dataKey) }
        guard let store, store.ids.count == count else { throw JournalError(.corrupt, "reopened store does not hold \(count) keys") }
        let (destroyWall, _) = try measure { try store.destroy(["case-0"]) }
        print(String(format: "keys: reopen %.3f s; destroy one (whole-file rewrite) %.3f s", openWall, destroyWall))
    }

    private func measure(_ body: () throws -> Void) throws -> (wall: Double, cpu: Double) {
        let start = now(), cpuStart = cpuSeconds()
        try body()
        return (now() - start, cpuSeconds() - cpuStart)
    }

    /// The old store's `write`: `MKS1` and one AES-GCM box over the sorted JSON list, the magic authenticated.
    private static func writeLegacy(_ keys: [String: String], to path: String, dataKey: SymmetricKey) throws {
        struct Contents: Codable { var keys: [String: String]; var destroyed: [String] }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let plain = try Array(encoder.encode(Contents(keys: keys, destroyed: [])))
        let magic = Array("MKS1".utf8)
        try AtomicFile.write(magic + AES.GCM.seal(plain, using: dataKey, authenticating: magic), to: path, mode: 0o600)
    }
}
