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
/// **The file** (mode 0600, `MKS2`) is a header — the magic, a random 16-byte file id made anew
/// each time the file is written whole, and an empty AES-256-GCM box under the data key that proves
/// the key — followed by records: a 4-byte big-endian length, then one AES-256-GCM box under the data
/// key holding one key (`id`, 32 bytes) or one destroyed id. Each record authenticates the magic, the
/// file id and its own sequence number (0, 1, 2… from the header), so a record cannot be changed,
/// reordered, duplicated, dropped from the middle, or moved in from another file (or from this file
/// before it was last rewritten) without failing.
///
/// **A new key** appends one record and `fdatasync`s it before the key is returned: O(1), and the key
/// is durable before any journal entry uses it. **Destroying** keys rewrites the file whole with the
/// live keys and every destroyed id, under a new file id, atomically (temporary file, fsync, rename,
/// directory fsync; `AtomicFile`), so no destroyed key remains in the file, and no record of the old
/// file fits the new one. Destroyed ids are remembered, so a key is never made again under one.
/// A file in the older `MKS1` format (one box over the whole list) is read, and rewritten as `MKS2`
/// by the first change.
///
/// **After a crash** (the rule for what is repaired and what stops the store): the end of the file
/// may hold part of an append that was never acknowledged. An end that is *short* — fewer than 4
/// length bytes, fewer body bytes than its length says, or only zero bytes (a filesystem that grew
/// the file before writing it) — is cut off when the store opens, unless a whole record is there
/// and only its length was made larger. Everything else throws and nothing
/// is dropped: a wrong magic, a header that fails (`.wrongKey`), a length outside the record limits,
/// and any *complete* record that fails authentication — including the last one, because a complete
/// record that fails cannot be told from tampering, and dropping it could lose an acknowledged key.
/// The error names the record's offset; if the broker did die while making a key and the operator
/// judges that record to be that unacknowledged append, `truncate -s OFFSET` restores the file.
/// The file alone cannot show that whole records were cut from its end, or that an older copy was
/// put back; either loses keys (their subjects become unreadable) or destroyed ids (the broker marks
/// its journal's erased ids destroyed again at start) — never brings back a destroyed key, except
/// from a copy taken before the destruction, which is why `certs/` backups are limited.
///
/// With no path the store lives in memory (engine tests).
public final class ContentKeyStore: Sendable {
    /// One record of an `MKS2` file.
    enum Record: Equatable {
        case key(id: String, key: [UInt8])
        case destroyed(id: String)
    }

    /// The `MKS2` layout and its limits.
    enum Format {
        static let magic = Array("MKS2".utf8)
        static let legacyMagic = Array("MKS1".utf8)
        static let fileIDLength = 16
        static let headerLength = magic.count + fileIDLength + AES.GCM.overhead
        static let lengthBytes = 4
        /// The longest id (UTF-8 bytes) a key may have.
        static let maxIDBytes = 1024
        static let keyKind: UInt8 = 1, destroyedKind: UInt8 = 2
        /// A record's box: the kind, the id's 2-byte length, the id, the key, nonce and tag.
        static let minSealedRecord = 3 + AES.GCM.overhead
        static let maxSealedRecord = 3 + maxIDBytes + SymmetricKey.byteCount + AES.GCM.overhead

        static func headerAAD(_ fileID: [UInt8]) -> [UInt8] { magic + fileID }

        static func recordAAD(_ fileID: [UInt8], seq: UInt64) -> [UInt8] {
            magic + fileID + withUnsafeBytes(of: seq.bigEndian, Array.init)
        }

        static func header(fileID: [UInt8], dataKey: SymmetricKey) -> [UInt8] {
            magic + fileID + AES.GCM.seal([], using: dataKey, authenticating: headerAAD(fileID))
        }

        /// The record's bytes: length, then the box.
        static func encode(_ record: Record, seq: UInt64, fileID: [UInt8], dataKey: SymmetricKey) -> [UInt8] {
            let (kind, id, key): (UInt8, String, [UInt8]) = switch record {
            case .key(let id, let key): (keyKind, id, key)
            case .destroyed(let id): (destroyedKind, id, [])
            }
            let idBytes = Array(id.utf8)
            let plain = [kind, UInt8(idBytes.count >> 8), UInt8(idBytes.count & 0xFF)] + idBytes + key
            let sealed = AES.GCM.seal(plain, using: dataKey, authenticating: recordAAD(fileID, seq: seq))
            return withUnsafeBytes(of: UInt32(sealed.count).bigEndian, Array.init) + sealed
        }

        /// A whole file: a new file id, the header, then `records` numbered from 0.
        static func file(_ records: [Record], dataKey: SymmetricKey) -> (bytes: [UInt8], fileID: [UInt8]) {
            let fileID = SecureRandom.bytes(fileIDLength)
            var bytes = header(fileID: fileID, dataKey: dataKey)
            for (seq, record) in records.enumerated() { bytes += encode(record, seq: UInt64(seq), fileID: fileID, dataKey: dataKey) }
            return (bytes, fileID)
        }

        struct Decoded {
            var fileID: [UInt8]
            var records: [Record]
            /// Where the last whole record ends; bytes after it are a torn append.
            var validLength: Int
        }

        /// Reads an `MKS2` file (see the type's rule for what a torn end is).
        /// - Throws: `.wrongKey` if the header fails under `dataKey`; `.corrupt` for anything else.
        static func decode(_ bytes: [UInt8], path: String, dataKey: SymmetricKey) throws -> Decoded {
            func corrupt(_ what: String, at offset: Int, seq: UInt64? = nil) -> JournalError {
                JournalError(.corrupt, "content key store \(path): \(what) at offset \(offset)", path: path, offset: Int64(offset), seq: seq)
            }
            guard bytes.starts(with: magic) else { throw corrupt("no MKS2 header", at: 0) }
            guard bytes.count >= headerLength else {
                throw corrupt("the \(headerLength)-byte header is cut short (\(bytes.count) bytes)", at: 0)
            }
            let fileID = Array(bytes[magic.count ..< magic.count + fileIDLength])
            do { _ = try AES.GCM.open(Array(bytes[magic.count + fileIDLength ..< headerLength]), using: dataKey, authenticating: headerAAD(fileID)) } catch {
                throw JournalError(.wrongKey, "content key store \(path) fails authentication under the data key (another broker's file, or a damaged header)", path: path)
            }
            let opener = AES.GCM.Opener(key: dataKey)
            var records: [Record] = [], offset = headerLength, seq: UInt64 = 0
            while offset < bytes.count {
                let remaining = bytes.count - offset
                if remaining < lengthBytes || bytes[offset...].allSatisfy({ $0 == 0 }) { break }
                let length = bytes[offset ..< offset + lengthBytes].reduce(0) { $0 << 8 | Int($1) }
                guard (minSealedRecord...maxSealedRecord).contains(length) else {
                    throw corrupt("record \(seq) has length \(length), outside \(minSealedRecord)...\(maxSealedRecord)", at: offset, seq: seq)
                }
                if remaining - lengthBytes < length {
                    // Short of its length: a torn append — unless a whole record is there and only its
                    // length was changed (a torn box never authenticates), which would drop a key or an erasure.
                    let available = remaining - lengthBytes
                    if available >= minSealedRecord, let whole = (minSealedRecord...available).first(where: { candidate in
                        (try? opener.open(bytes[offset + lengthBytes ..< offset + lengthBytes + candidate], authenticating: recordAAD(fileID, seq: seq))) != nil
                    }) {
                        throw corrupt("record \(seq) is a complete \(whole)-byte record whose length says \(length)", at: offset, seq: seq)
                    }
                    break
                }
                let body = offset + lengthBytes
                let plain: [UInt8]
                do { plain = try opener.open(bytes[body ..< body + length], authenticating: recordAAD(fileID, seq: seq)) } catch {
                    let last = body + length == bytes.count
                    throw corrupt("record \(seq) fails authentication (damaged, tampered with, out of place, or from another file"
                                  + (last ? "; it is the last record: if the broker died while making a key, it may be that unacknowledged append" : "")
                                  + ")", at: offset, seq: seq)
                }
                guard let record = parse(plain) else { throw corrupt("record \(seq) is authentic but malformed", at: offset, seq: seq) }
                records.append(record)
                offset = body + length
                seq += 1
            }
            return Decoded(fileID: fileID, records: records, validLength: offset)
        }

        private static func parse(_ plain: [UInt8]) -> Record? {
            guard plain.count >= 3 else { return nil }
            let idCount = Int(plain[1]) << 8 | Int(plain[2])
            guard idCount <= maxIDBytes, plain.count >= 3 + idCount,
                  let id = String(validating: plain[3 ..< 3 + idCount], as: UTF8.self) else { return nil }
            let rest = plain.count - 3 - idCount
            switch plain[0] {
            case keyKind where rest == SymmetricKey.byteCount: return .key(id: id, key: Array(plain[(3 + idCount)...]))
            case destroyedKind where rest == 0: return .destroyed(id: id)
            default: return nil
            }
        }
    }

    /// The `MKS1` format: `MKS1` and one box over this list as JSON, the magic authenticated.
    struct LegacyContents: Codable {
        var keys: [String: String] = [:]
        var destroyed: [String] = []
    }

    /// Where appends go; nil when the next change must write the file whole (no file yet, an `MKS1`
    /// file, or an append or rewrite that failed, after which the file's end is not trusted).
    private final class Appender {
        let file: FileDescriptor
        let fileID: [UInt8]
        var nextSeq: UInt64
        var end: Int

        init(file: FileDescriptor, fileID: [UInt8], nextSeq: UInt64, end: Int) {
            (self.file, self.fileID, self.nextSeq, self.end) = (file, fileID, nextSeq, end)
        }
    }

    private struct State {
        var keys: [String: SymmetricKey] = [:]
        var destroyed: Set<String> = []
        var appender: Appender?
    }

    /// At most this many bytes are read or written (about a million keys).
    static let maxFileBytes = 128 << 20

    /// The file, or nil in memory.
    public let path: String?
    private let dataKey: SymmetricKey
    private let state: Mutex<State>
    /// Faults injected into appends (tests only).
    private let faults: (any FileFaults)?

    /// Opens the store at `path` (created on the first key), or one in memory. A torn final append
    /// (see the type's rule) is cut off here.
    /// - Throws: `JournalError` `.keyFile` if the file is not a regular file (a symbolic link included),
    ///   has another hard link, is accessible to group or others, or is too large; `.wrongKey` if it was not sealed under `dataKey`; `.corrupt` if it is
    ///   damaged or tampered with; `.io` if a torn end cannot be cut off.
    public convenience init(path: String?, dataKey: SymmetricKey) throws {
        try self.init(path: path, dataKey: dataKey, faults: nil)
    }

    /// As `init(path:dataKey:)`, with `faults` injected into every append's writes and syncs (tests).
    init(path: String?, dataKey: SymmetricKey, faults: (any FileFaults)?) throws {
        self.path = path
        self.dataKey = dataKey
        self.faults = faults
        var loaded = State()
        if let path {
            try Self.removeLeftovers(beside: path)
            if FileManager.default.fileExists(atPath: path) { loaded = try Self.load(path, dataKey: dataKey) }
        }
        loaded.appender?.file.faults = faults
        state = Mutex(loaded)
    }

    /// The key of `id`, if it exists (nil when never made or destroyed).
    public func key(_ id: String) -> SymmetricKey? { state.withLock { $0.keys[id] } }

    /// Whether `id`'s key was destroyed.
    public func isDestroyed(_ id: String) -> Bool { state.withLock { $0.destroyed.contains(id) } }

    /// Every id with a live key.
    public var ids: Set<String> { state.withLock { Set($0.keys.keys) } }

    /// The key of `id`, made and stored durably first if it is new (one appended record, fdatasynced).
    /// - Throws: `.invalidArgument` if `id`'s key was destroyed or `id` is longer than 1,024 UTF-8 bytes;
    ///   `.io` if the store cannot be written or is full (then no key is made).
    public func keyCreatingIfNeeded(_ id: String) throws -> SymmetricKey {
        try state.withLock { state in
            if let key = state.keys[id] { return key }
            guard !state.destroyed.contains(id) else {
                throw JournalError(.invalidArgument, "content key \(id) was destroyed; nothing can be sealed under it again")
            }
            guard id.utf8.count <= Format.maxIDBytes else {
                throw JournalError(.invalidArgument, "content key id is \(id.utf8.count) bytes, more than \(Format.maxIDBytes)")
            }
            let key = SymmetricKey.generate()
            if path != nil {
                if let appender = state.appender {
                    try append(.key(id: id, key: key.rawBytes), to: appender, state: &state)
                } else {
                    var keys = state.keys
                    keys[id] = key
                    try rewrite(keys: keys, destroyed: state.destroyed, state: &state)
                }
            }
            state.keys[id] = key
            return key
        }
    }

    /// Destroys the keys of `ids` (those already gone are ignored) and stores the list durably,
    /// rewriting the file whole so that no destroyed key is left in it.
    /// - Throws: `.io` if the store cannot be written. The keys are destroyed in memory all the
    ///   same, so no later write puts them back; the caller finishes the erasure at the next start.
    public func destroy(_ ids: some Sequence<String>) throws {
        try state.withLock { state in
            var keys = state.keys, destroyed = state.destroyed
            for id in ids {
                keys.removeValue(forKey: id)
                destroyed.insert(id)
            }
            guard destroyed.count != state.destroyed.count || keys.count != state.keys.count else { return }
            // Destroyed in memory whatever happened on disk: a failed rewrite (before or after its
            // rename) leaves no appender, so the next change writes the file whole from memory,
            // without these keys, and a start finishes the erasure from the journal. Keeping them in
            // memory instead would write an erased key back to disk with the next new key.
            defer {
                state.keys = keys
                state.destroyed = destroyed
            }
            if path != nil { try rewrite(keys: keys, destroyed: destroyed, state: &state) }
        }
    }

    /// Appends one record and syncs it. On failure the appender is dropped, so the next change
    /// rewrites the file whole (whatever part of the record reached the disk goes with it).
    private func append(_ record: Record, to appender: Appender, state: inout State) throws {
        let bytes = Format.encode(record, seq: appender.nextSeq, fileID: appender.fileID, dataKey: dataKey)
        guard appender.end + bytes.count <= Self.maxFileBytes else {
            throw JournalError(.io, "content key store \(path ?? "") would grow past \(Self.maxFileBytes) bytes", path: path)
        }
        do {
            try appender.file.writeAll(bytes, at: Int64(appender.end))
            try appender.file.syncData()
        } catch let error as SystemError {
            state.appender = nil
            throw JournalError(error)
        }
        appender.end += bytes.count
        appender.nextSeq += 1
    }

    /// Writes the file whole: live keys (by id), then destroyed ids, under a new file id.
    private func rewrite(keys: [String: SymmetricKey], destroyed: Set<String>, state: inout State) throws {
        guard let path else { return }
        let records = keys.keys.sorted().map { Record.key(id: $0, key: keys[$0]!.rawBytes) } + destroyed.sorted().map(Record.destroyed)
        let (bytes, fileID) = Format.file(records, dataKey: dataKey)
        guard bytes.count <= Self.maxFileBytes else {
            throw JournalError(.io, "content key store \(path) would be \(bytes.count) bytes, more than \(Self.maxFileBytes)", path: path)
        }
        // The old file (and its descriptor) is finished whether or not the rename happens.
        state.appender = nil
        do { try AtomicFile.write(bytes, to: path, mode: 0o600) } catch let error as SystemError {
            throw JournalError(error)
        }
        // Appends need the new file open; without it the next change writes the file whole again.
        if let file = try? FileDescriptor.open(path, flags: O_WRONLY | O_NOFOLLOW), (try? file.size()) == Int64(bytes.count) {
            file.faults = faults
            state.appender = Appender(file: file, fileID: fileID, nextSeq: UInt64(records.count), end: bytes.count)
        }
    }

    private static func load(_ path: String, dataKey: SymmetricKey) throws -> State {
        let file: FileDescriptor
        do {
            file = try KeyFile.openPrivate(path, flags: O_RDWR | O_NOFOLLOW, what: "content key store", maxBytes: maxFileBytes, expected: "more than \(maxFileBytes)")
        } catch let error as JournalError where error.errno == EACCES || error.errno == EROFS {
            // Readable but not writable by us: read it; the next change writes a new file.
            file = try KeyFile.openPrivate(path, flags: O_RDONLY | O_NOFOLLOW, what: "content key store", maxBytes: maxFileBytes, expected: "more than \(maxFileBytes)")
        }
        // A destroy renames a new file over this name only: a symbolic link's target (refused by
        // O_NOFOLLOW above) or another hard link would keep every destroyed key.
        guard (try JournalError.mappingSystemErrors { try file.status() }).st_nlink == 1 else {
            file.close()
            throw JournalError(.keyFile, "content key store \(path) has more than one name (hard link); a destroyed key would remain under the other", path: path)
        }
        let writable = fcntl(file.rawValue, F_GETFL) & O_ACCMODE == O_RDWR
        let bytes = try JournalError.mappingSystemErrors { try file.readAll() }
        var state = State()
        if bytes.starts(with: Format.legacyMagic) {
            let contents = try readLegacy(bytes, path: path, dataKey: dataKey)
            for (id, hex) in contents.keys {
                guard let raw = [UInt8](hex: hex), let key = try? SymmetricKey(bytes: raw) else {
                    throw JournalError(.corrupt, "content key store \(path): key \(id) is not a \(SymmetricKey.byteCount)-byte key", path: path)
                }
                state.keys[id] = key
            }
            state.destroyed = Set(contents.destroyed)
            if let both = state.destroyed.first(where: { state.keys[$0] != nil }) {
                throw JournalError(.corrupt, "content key store \(path): id \(both) is both held and destroyed", path: path)
            }
            return state
        }
        guard bytes.starts(with: Format.magic) else {
            throw JournalError(.corrupt, "content key store \(path) does not start with MKS2 (or the older MKS1)", path: path)
        }
        let decoded = try Format.decode(bytes, path: path, dataKey: dataKey)
        for (seq, record) in decoded.records.enumerated() {
            switch record {
            case .key(let id, let raw):
                guard state.keys[id] == nil, !state.destroyed.contains(id) else {
                    throw JournalError(.corrupt, "content key store \(path): record \(seq) repeats id \(id)", path: path, seq: UInt64(seq))
                }
                state.keys[id] = try SymmetricKey(bytes: raw)
            case .destroyed(let id):
                guard state.keys[id] == nil, state.destroyed.insert(id).inserted else {
                    throw JournalError(.corrupt, "content key store \(path): record \(seq) destroys id \(id), which it also holds", path: path, seq: UInt64(seq))
                }
            }
        }
        guard writable else { return state }
        if decoded.validLength < bytes.count {
            // A torn append, never acknowledged: cut it off so the next append starts at a record boundary.
            try JournalError.mappingSystemErrors {
                try file.truncate(to: Int64(decoded.validLength))
                try file.syncData()
            }
        }
        state.appender = Appender(file: file, fileID: decoded.fileID, nextSeq: UInt64(decoded.records.count), end: decoded.validLength)
        return state
    }

    private static func readLegacy(_ bytes: [UInt8], path: String, dataKey: SymmetricKey) throws -> LegacyContents {
        let plain: [UInt8]
        do { plain = try AES.GCM.open(Array(bytes.dropFirst(Format.legacyMagic.count)), using: dataKey, authenticating: Format.legacyMagic) } catch {
            throw JournalError(.wrongKey, "content key store \(path) fails authentication under the data key (another broker's file, or damaged)", path: path)
        }
        do { return try JSONDecoder().decode(LegacyContents.self, from: Data(plain)) } catch {
            throw JournalError(.corrupt, "content key store \(path) cannot be decoded: \(error)", path: path)
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
}
