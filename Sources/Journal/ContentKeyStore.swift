import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import POSIX
import Synchronization

/// Keys that seal one subject's content each, kept outside the journal so that a subject
/// can be made unreadable by destroying its key while every record stays in the hash chain.
///
/// The file (mode 0600) is `MKS1` followed by the key list sealed with AES-256-GCM under the
/// data key; it is rewritten whole and atomically (temporary file, fsync, rename, directory
/// fsync) on every change, so a crash leaves the old list or the new one, never half of either.
/// Destroyed ids are remembered, so a destroyed key is never made again under the same id.
/// With no path the store lives in memory (engine tests).
public final class ContentKeyStore: Sendable {
    private struct Contents: Codable {
        var keys: [String: String] = [:]
        var destroyed: [String] = []
    }

    private struct State {
        var keys: [String: SymmetricKey] = [:]
        var destroyed: Set<String> = []
    }

    private static let magic = Array("MKS1".utf8)
    /// At most this many bytes are read (about a million keys).
    static let maxFileBytes = 128 << 20

    /// The file, or nil in memory.
    public let path: String?
    private let dataKey: SymmetricKey
    private let state: Mutex<State>

    /// Opens the store at `path` (created empty on first use), or one in memory.
    /// - Throws: `JournalError` `.keyFile` if the file is readable by group or others, `.wrongKey`
    ///   if it was not sealed under `dataKey`, `.corrupt` if it is damaged.
    public init(path: String?, dataKey: SymmetricKey) throws {
        self.path = path
        self.dataKey = dataKey
        var loaded = State()
        if let path { try Self.removeLeftovers(beside: path) }
        if let path, FileManager.default.fileExists(atPath: path) {
            let contents = try Self.read(path, key: dataKey)
            for (id, hex) in contents.keys {
                guard let bytes = [UInt8](hex: hex), let key = try? SymmetricKey(bytes: bytes) else {
                    throw JournalError(.corrupt, "content key store \(path): key \(id) is not a \(SymmetricKey.byteCount)-byte key", path: path)
                }
                loaded.keys[id] = key
            }
            loaded.destroyed = Set(contents.destroyed)
        }
        state = Mutex(loaded)
    }

    /// The key of `id`, if it exists (nil when never made or destroyed).
    public func key(_ id: String) -> SymmetricKey? { state.withLock { $0.keys[id] } }

    /// Whether `id`'s key was destroyed.
    public func isDestroyed(_ id: String) -> Bool { state.withLock { $0.destroyed.contains(id) } }

    /// Every id with a live key.
    public var ids: Set<String> { state.withLock { Set($0.keys.keys) } }

    /// The key of `id`, made and stored durably first if it is new.
    /// - Throws: `.invalidArgument` if `id`'s key was destroyed; `.io` if the store cannot be written
    ///   (then no key is made).
    public func keyCreatingIfNeeded(_ id: String) throws -> SymmetricKey {
        try state.withLock { state in
            if let key = state.keys[id] { return key }
            guard !state.destroyed.contains(id) else {
                throw JournalError(.invalidArgument, "content key \(id) was destroyed; nothing can be sealed under it again")
            }
            var next = state
            let key = SymmetricKey.generate()
            next.keys[id] = key
            try write(next)
            state = next
            return key
        }
    }

    /// Destroys the keys of `ids` (those already gone are ignored) and stores the list durably.
    /// - Throws: `.io` if the store cannot be written (then nothing is destroyed).
    public func destroy(_ ids: some Sequence<String>) throws {
        try state.withLock { state in
            var next = state
            for id in ids {
                next.keys.removeValue(forKey: id)
                next.destroyed.insert(id)
            }
            guard next.destroyed.count != state.destroyed.count || next.keys.count != state.keys.count else { return }
            try write(next)
            state = next
        }
    }

    private func write(_ state: State) throws {
        guard let path else { return }
        var contents = Contents()
        for (id, key) in state.keys { contents.keys[id] = key.rawBytes.hexString }
        contents.destroyed = state.destroyed.sorted()
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let plain = try Array(encoder.encode(contents))
        let sealed = Self.magic + AES.GCM.seal(plain, using: dataKey, authenticating: Self.magic)
        do { try AtomicFile.write(sealed, to: path, mode: 0o600) } catch let error as SystemError {
            throw JournalError(error)
        }
    }

    /// Removes temporary files a crash left mid-write (`.<name>.<pid>.<random>.tmp`): one may hold a
    /// list with a key destroyed since, which would otherwise outlive its erasure.
    private static func removeLeftovers(beside path: String) throws {
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path, prefix = "." + url.lastPathComponent + "."
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for name in names where name.hasPrefix(prefix) && name.hasSuffix(".tmp") {
            do { try FileSystem.unlink(directory + "/" + name, missingOK: true) } catch let error as SystemError { throw JournalError(error) }
        }
    }

    private static func read(_ path: String, key: SymmetricKey) throws -> Contents {
        let bytes = try KeyFile.readPrivate(path, what: "content key store", maxBytes: maxFileBytes, expected: "more than \(maxFileBytes)")
        guard bytes.starts(with: magic) else {
            throw JournalError(.corrupt, "content key store \(path) does not start with MKS1", path: path)
        }
        let plain: [UInt8]
        do { plain = try AES.GCM.open(Array(bytes.dropFirst(magic.count)), using: key, authenticating: magic) } catch {
            throw JournalError(.wrongKey, "content key store \(path) fails authentication under the data key (another broker's file, or damaged)", path: path)
        }
        do { return try JSONDecoder().decode(Contents.self, from: Data(plain)) } catch {
            throw JournalError(.corrupt, "content key store \(path) cannot be decoded: \(error)", path: path)
        }
    }
}
