import Crypto
import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

import POSIX
import Synchronization

// Anchor file (version 1): ASCII text, five lines, each ending in "\n".
//
//   JRNL-ANCHOR-v1
//   seq <decimal sequence number of the anchored record, 0 for an empty journal>
//   hash <64 lower-case hex digits: that record's chain hash>
//   key <16 hex digits: the journal key's fingerprint, to tell "wrong key" from tampering>
//   mac <64 hex digits: HMAC-SHA-256 over the four lines above, newlines included>
//
// The MAC key is HMAC-SHA-256(journal key, "JRNL-ANCHOR-KEY-v1"), so the anchor
// cannot be forged or moved without the journal key, and the key used for it
// is never used for anything else. The file lives outside the journal's
// directory, so one `rm` or `truncate` there cannot take the anchor with it.

/// A journal's authenticated head anchor: the position (sequence number and
/// chain hash) the journal is known to have reached, kept in a file outside
/// the journal's directory.
///
/// Records removed from the end of the journal (at a record boundary, inside
/// a record, or whole segments) leave the journal shorter than its anchor,
/// which `Journal.open` and `Journal.verify` refuse with
/// `journal truncated: anchor at N, journal ends at M`. The journal rewrites
/// the anchor atomically (temporary file 0600, fsync, rename, directory fsync)
/// within `updateInterval` of a durable append, at most once per interval,
/// and at `close()`. It cannot detect a truncation by someone who also holds
/// the journal key and rewrites the anchor.
public struct JournalAnchor: Sendable, Equatable, CustomStringConvertible {
    /// The anchored position.
    public let position: JournalPosition

    /// Makes an anchor value (the journal writes and reads these).
    public init(position: JournalPosition) { self.position = position }

    /// `"seq N, hash <hex>"`.
    public var description: String { position.description }

    /// How often at most, and how late at worst, the anchor follows the journal's head
    /// while records are appended (plus the time one write takes).
    public static let updateInterval: Duration = .seconds(1)

    /// What `Journal.open` does with the anchor.
    public struct Settings: Sendable {
        /// The anchor file; keep it outside the journal's directory.
        public var path: String
        /// How a missing or overtaken anchor is handled.
        public var mode: Mode

        /// Settings for the anchor at `path`.
        public init(path: String, mode: Mode = .require) {
            self.path = path
            self.mode = mode
        }
    }

    /// How `Journal.open` treats the anchor.
    public enum Mode: Sendable, Equatable {
        /// Normal operation: the anchor must exist and the journal must reach it
        /// (a brand-new, empty journal directory gets a new anchor at seq 0).
        /// - Throws on open: `.anchor` (missing, unreadable, forged), `.truncated`.
        case require
        /// Migration of a journal written before anchoring: the anchor must not
        /// exist yet; it is written once the caller's first append is durable
        /// (so the record saying so is anchored too).
        case create
        /// After a real loss of records: the anchor must exist, the journal may
        /// be shorter (`Journal.truncation` says by how much); the anchor moves
        /// to the new head only once the caller's first append is durable.
        case acceptTruncation
    }

    static let magicLine = "JRNL-ANCHOR-v1"
    static let macKeyLabel: [UInt8] = Array("JRNL-ANCHOR-KEY-v1".utf8)

    static func macKey(_ key: SymmetricKey) -> [UInt8] {
        HMACSHA256.authenticationCode(for: macKeyLabel, key: key.rawBytes)
    }

    static func encode(_ position: JournalPosition, key: SymmetricKey) -> [UInt8] {
        let body = Array("\(magicLine)\nseq \(position.seq)\nhash \(position.hash.hexString)\nkey \(DiskFormat.fingerprint(of: key).hexString)\n".utf8)
        return body + Array("mac \(HMACSHA256.authenticationCode(for: body, key: macKey(key)).hexString)\n".utf8)
    }

    /// Reads and authenticates the anchor at `path`.
    /// - Returns: nil when the file does not exist.
    /// - Throws: `JournalError` `.anchor` naming `path` if it cannot be read, is
    ///   malformed, was written under another key, or fails authentication.
    public static func read(path: String, key: SymmetricKey) throws -> JournalAnchor? {
        let bytes: [UInt8]
        do {
            let file = try FileDescriptor.open(path, flags: O_RDONLY)
            defer { file.close() }
            guard try file.size() <= 4096 else { throw JournalError(.anchor, "journal anchor \(path) is too large to be an anchor", path: path) }
            bytes = try file.readAll()
        } catch let error as SystemError where error.errno == ENOENT {
            return nil
        } catch let error as SystemError {
            throw JournalError(.anchor, "cannot read journal anchor \(path): \(error)", path: path, errno: error.errno)
        }
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        func value(_ index: Int, _ name: String) -> String? {
            guard lines.count > index, lines[index].hasPrefix(name + " ") else { return nil }
            return String(lines[index].dropFirst(name.count + 1))
        }
        guard lines.count == 6, lines[0] == magicLine, lines[5].isEmpty,
              let seq = value(1, "seq").flatMap({ UInt64($0) }), let hash = value(2, "hash").flatMap({ [UInt8](hex: $0) }), hash.count == 32,
              let fingerprint = value(3, "key"), let mac = value(4, "mac").flatMap({ [UInt8](hex: $0) }) else {
            throw JournalError(.anchor, "journal anchor \(path) is malformed (not a \(magicLine) anchor file)", path: path)
        }
        let ours = DiskFormat.fingerprint(of: key).hexString
        guard fingerprint == ours else {
            throw JournalError(.anchor, "journal anchor \(path) was written with key fingerprint \(fingerprint), the journal key has fingerprint \(ours)", path: path)
        }
        let body = Array(lines[0..<4].joined(separator: "\n").utf8) + [UInt8(ascii: "\n")]
        guard HMACSHA256.isEqual(HMACSHA256.authenticationCode(for: body, key: macKey(key)), mac) else {
            throw JournalError(.anchor, "journal anchor \(path) fails authentication (altered or forged)", path: path)
        }
        return JournalAnchor(position: JournalPosition(seq: seq, hash: hash))
    }

    /// Writes the anchor for `position` at `path` atomically (`AtomicFile`): a temporary
    /// file created 0600, fsynced, renamed over `path`, and the directory fsynced.
    /// - Throws: `JournalError` `.io` naming the file; `path` is then unchanged.
    public static func write(_ position: JournalPosition, path: String, key: SymmetricKey) throws {
        try JournalError.mappingSystemErrors { try AtomicFile.write(encode(position, key: key), to: path, mode: 0o600) }
    }
}

/// The journal's loss of records, as found by an open in `.acceptTruncation` mode.
public struct JournalTruncation: Sendable, Equatable {
    /// Where the anchor said the journal had reached.
    public let anchor: JournalPosition
    /// Where the journal actually ends.
    public let end: JournalPosition
}

/// Keeps the anchor file following the journal's durable head: at most once
/// per `JournalAnchor.updateInterval`, on its own queue so the journal's
/// writer never waits for it.
final class AnchorWriter: Sendable {
    let path: String
    let key: SymmetricKey
    let log: @Sendable (String) -> Void
    private let queue = DispatchQueue(label: "journal.anchor")

    private struct State {
        /// The newest durable position.
        var latest: JournalPosition
        /// What the file holds (nil: nothing written by this writer yet).
        var written: JournalPosition?
        var scheduled = false
        /// True until the first durable append, in modes that move the anchor only then.
        var held: Bool
        var lastWrite: ContinuousClock.Instant?
        var failing = false
    }
    private let state: Mutex<State>

    init(path: String, key: SymmetricKey, head: JournalPosition, written: JournalPosition?, held: Bool, log: @escaping @Sendable (String) -> Void) {
        self.path = path
        self.key = key
        self.log = log
        state = Mutex(State(latest: head, written: written, held: held))
    }

    /// The journal's head moved to `position` (durable): schedule a write.
    func advance(to position: JournalPosition) {
        let delay: Duration? = state.withLock { s in
            s.latest = position
            s.held = false
            if s.scheduled { return nil }
            s.scheduled = true
            guard let last = s.lastWrite else { return .zero }
            return max(.zero, last + JournalAnchor.updateInterval - ContinuousClock.now)
        }
        guard let delay else { return }
        let (seconds, attoseconds) = delay.components
        let nanoseconds = Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000)
        queue.asyncAfter(deadline: .now() + .nanoseconds(nanoseconds)) { self.writeLatest() }
    }

    /// Writes the newest position now (at close), unless held; waits for it.
    func flush() {
        queue.sync { writeLatest(force: true) }
    }

    private func writeLatest(force: Bool = false) {
        let target: JournalPosition? = state.withLock { s in
            if !force { s.scheduled = false }
            if s.held || s.latest == s.written { return nil }
            s.lastWrite = ContinuousClock.now
            return s.latest
        }
        guard let target else { return }
        do {
            try JournalAnchor.write(target, path: path, key: key)
            let recovered = state.withLock { s in
                s.written = target
                defer { s.failing = false }
                return s.failing
            }
            if recovered { log("journal: anchor \(path) written again at seq \(target.seq)") }
        } catch {
            let first = state.withLock { s in
                defer { s.failing = true }
                return !s.failing
            }
            // Retried at the next append (or close); the anchor lags meanwhile, it never runs ahead.
            if first { log("journal: cannot update the anchor \(path) to seq \(target.seq): \(JournalError.wrap(error).message)") }
        }
    }
}

/// What `Journal.open` and `Journal.verify` check against the anchor.
struct AnchorCheck {
    let settings: JournalAnchor.Settings?
    let key: SymmetricKey
    let log: @Sendable (String) -> Void
    let directory: String
    /// The anchored position the journal must reach (nil: nothing to check).
    let anchored: JournalPosition?
    /// What the anchor file held when opened (nil: absent).
    let stored: JournalPosition?

    /// Reads the anchor for `Journal.open`, creating it for a brand-new journal in `.require` mode.
    /// - Throws: `.anchor` when it is missing (and the directory holds journal files), forged or unreadable,
    ///   or exists in `.create` mode.
    init(_ settings: JournalAnchor.Settings?, catalog: SegmentCatalog, directory: String, key: SymmetricKey, log: @escaping @Sendable (String) -> Void) throws {
        self.settings = settings
        self.key = key
        self.log = log
        self.directory = directory
        guard let settings else {
            anchored = nil
            stored = nil
            return
        }
        let read = try JournalAnchor.read(path: settings.path, key: key)?.position
        switch settings.mode {
        case .require:
            if let read {
                anchored = read
                stored = read
            } else if catalog.isEmpty {
                try JournalAnchor.write(.genesis, path: settings.path, key: key)
                log("journal: created the anchor \(settings.path) for the new journal in \(directory)")
                anchored = .genesis
                stored = .genesis
            } else {
                throw Self.missing(settings.path, directory: directory, catalog: catalog)
            }
        case .create:
            if read != nil {
                throw JournalError(.anchor, "journal anchor \(settings.path) already exists; an anchor is created only for a journal that has none", path: settings.path)
            }
            anchored = nil
            stored = nil
        case .acceptTruncation:
            guard let read else {
                throw JournalError(.anchor, "journal anchor \(settings.path) is missing, so there is no anchored end to accept a truncation against", path: settings.path)
            }
            anchored = read
            stored = read
        }
    }

    static func missing(_ path: String, directory: String, catalog: SegmentCatalog) -> JournalError {
        JournalError(.anchor, "journal anchor \(path) is missing but \(directory) holds journal files (\(catalog.segments.count + (catalog.tornLast == nil ? 0 : 1)) segments, \(catalog.snapshots.count) snapshots): restore the anchor file; only a journal written before anchoring existed may be given a new one", path: path)
    }

    static func truncated(anchor: JournalPosition, end: JournalPosition, path: String, directory: String) -> JournalError {
        JournalError(.truncated, "journal truncated: anchor at \(anchor.seq), journal ends at \(end.seq) (the anchor \(path) records that seq \(anchor.seq) was written; \(end.seq + 1 == anchor.seq ? "record \(anchor.seq) is" : "records \(end.seq + 1)…\(anchor.seq) are") missing from \(directory))", path: path, seq: end.seq + 1)
    }

    /// Compares the journal's end with the anchor.
    /// - Returns: the shortfall in `.acceptTruncation` mode, nil otherwise.
    /// - Throws: `.truncated` when the journal ends before the anchor (other modes).
    func check(end: JournalPosition) throws -> JournalTruncation? {
        guard let anchored, let settings, end.seq < anchored.seq else { return nil }
        guard settings.mode == .acceptTruncation else {
            throw Self.truncated(anchor: anchored, end: end, path: settings.path, directory: directory)
        }
        return JournalTruncation(anchor: anchored, end: end)
    }

    /// Checks that the record at the anchor's seq is the anchored one.
    /// - Throws: `.anchor` naming both when it is not (the end was cut and rewritten).
    func checkRecord(_ position: JournalPosition, path: String, offset: Int) throws {
        guard let anchored, position.seq == anchored.seq, position.hash != anchored.hash else { return }
        throw JournalError(.anchor, "journal does not match its anchor: \(path), offset \(offset): record seq \(position.seq) has hash \(position.hash.hexString), the anchor \(settings?.path ?? "") says \(anchored.hash.hexString) (records replaced after the anchored end, or an anchor from another journal)", path: path, offset: Int64(offset), seq: position.seq)
    }

    /// The writer that keeps the anchor following `head` from now on.
    func writer(head: JournalPosition) -> AnchorWriter? {
        guard let settings else { return nil }
        let held = settings.mode != .require
        let writer = AnchorWriter(path: settings.path, key: key, head: head, written: stored, held: held, log: log)
        // A journal that got ahead of its anchor (a crash between an append and the anchor's update) is anchored at once.
        if !held, head != stored { writer.advance(to: head) }
        return writer
    }
}

extension SegmentCatalog {
    /// No segment (complete or torn) and no snapshot: a journal never written.
    var isEmpty: Bool { segments.isEmpty && tornLast == nil && snapshots.isEmpty }
}
