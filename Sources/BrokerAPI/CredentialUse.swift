import Broker
import Foundation
import POSIX
import Synchronization
import Wire

/// When each credential last made a request the registry accepted (SPEC §12: the administrator
/// sees a credential's last use). Kept to the minute: a use within `resolution` of the one
/// recorded is not recorded again, so a busy connection costs one lock and one comparison per
/// request. Persisted to `path` (mode 0600, written whole and atomically) at most once per
/// `resolution`, off the request's thread, and at shutdown; a crash loses at most the last
/// minute. Not journaled: it is operational metadata, not an audited act, and holds no case
/// content (serials and times only).
final class CredentialUse: Sendable {
    /// A use this close to the recorded one changes nothing.
    static let resolution: TimeInterval = 60
    /// Longest file read back at start (about 10,000 credentials).
    static let maxFileBytes = 1 << 20
    /// Most credentials kept: the most recently used. Revoked and expired credentials are never
    /// forgotten otherwise, and a holder may renew again and again: without a bound the file
    /// would one day pass `maxFileBytes`, and the next start would drop every last use at once.
    /// (About 75 bytes a credential: 10,000 stay well under `maxFileBytes`.)
    static let maxEntries = 10_000

    private struct State {
        var lastUse: [String: Date] = [:]
        var dirty = false
        var lastSave = Date.distantPast
        var saving = false
    }

    private let state: Mutex<State>
    private let path: String?
    private let queue = DispatchQueue(label: "marac.credential-use", qos: .utility)
    private let logger: Logger

    /// Reads `path` when it exists. A file that cannot be read or parsed is logged and replaced
    /// on the next save: last use is advisory, and never stops the broker.
    init(path: String?, logger: Logger) {
        self.path = path
        self.logger = logger
        var initial = State()
        if let path, FileManager.default.fileExists(atPath: path) {
            do {
                initial.lastUse = try Self.read(path)
            } catch {
                logger.log("credential_use_unreadable", ["file": path, "error": "\(error)"])
            }
        }
        state = Mutex(initial)
    }

    /// Records a use of `serial` at `now`; saves when a minute has passed since the last save.
    func record(serial: String, at now: Date) {
        let save = state.withLock { state -> Bool in
            if let last = state.lastUse[serial], now.timeIntervalSince(last) < Self.resolution, now >= last { return false }
            state.lastUse[serial] = now
            state.dirty = true
            guard path != nil, !state.saving, now.timeIntervalSince(state.lastSave) >= Self.resolution || now < state.lastSave else { return false }
            state.saving = true
            state.lastSave = now
            return true
        }
        if save { queue.async { [self] in saveNow() } }
    }

    /// The last recorded use of `serial`, if any.
    func lastUse(of serial: String) -> Date? {
        state.withLock { $0.lastUse[serial] }
    }

    /// `credentials` with their last use.
    func annotate(_ credentials: [CredentialView]) -> [CredentialView] {
        state.withLock { state in
            credentials.map { credential in
                var credential = credential
                credential.lastUsedAt = state.lastUse[credential.serial]
                return credential
            }
        }
    }

    /// Writes what is not yet on disk (graceful shutdown), after any save in progress.
    func flush() {
        queue.sync {
            let dirty = state.withLock { state -> Bool in
                guard state.dirty, !state.saving else { return false }
                state.saving = true
                return true
            }
            if dirty { saveNow() }
        }
    }

    private func saveNow() {
        let snapshot = state.withLock { state -> [String: Date] in
            state.dirty = false
            if state.lastUse.count > Self.maxEntries {
                let newest = state.lastUse.sorted { ($0.value, $0.key) > ($1.value, $1.key) }.prefix(Self.maxEntries)
                state.lastUse = Dictionary(uniqueKeysWithValues: newest.map { ($0.key, $0.value) })
            }
            return state.lastUse
        }
        defer { state.withLock { $0.saving = false } }
        guard let path else { return }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        do {
            let bytes = try encoder.encode(snapshot.mapValues { RFC3339.format($0, fraction: .milliseconds) })
            try AtomicFile.write(Array(bytes), to: path, mode: 0o600)
        } catch {
            state.withLock { $0.dirty = true }
            logger.log("credential_use_not_saved", ["file": path, "error": "\(error)"])
        }
    }

    struct Unreadable: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }

    /// `{"SERIAL": "2026-12-03T10:00:00.000Z", …}`: a regular file (not a link, FIFO or device,
    /// which could block or never end), its size checked before a byte of it is read.
    static func read(_ path: String) throws -> [String: Date] {
        // O_NONBLOCK: opening a FIFO must not wait for a writer; O_NOFOLLOW: the save replaces the
        // name (rename), so a link is never what it writes, and is not what it reads either.
        let file = try FileDescriptor.open(path, flags: O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        defer { file.close() }
        let info = try file.status()
        guard info.st_mode & S_IFMT == S_IFREG else { throw Unreadable(message: "not a regular file") }
        guard info.st_size <= maxFileBytes else { throw Unreadable(message: "larger than \(maxFileBytes) bytes") }
        let data = Data(try file.readPrefix(maxFileBytes + 1))
        guard data.count <= maxFileBytes else { throw Unreadable(message: "larger than \(maxFileBytes) bytes") }
        var uses: [String: Date] = [:]
        for (serial, text) in try JSONDecoder().decode([String: String].self, from: data) {
            guard let date = RFC3339.parse(text) else { throw Unreadable(message: "\(serial): not an RFC 3339 time") }
            uses[serial] = date
        }
        return uses
    }
}
