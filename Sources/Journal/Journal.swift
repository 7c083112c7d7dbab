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

/// A durable, encrypted, hash-chained, append-only log in segment files under
/// one directory (the on-disk format is described in `DiskFormat.swift`).
///
/// `append` reports a record only once it is on disk (write + fdatasync; the
/// directory is fsynced whenever a segment is created). Appends that arrive
/// while a sync is in flight are gathered into one write and one sync (group
/// commit) on the journal's own writer queue, so callers never block on disk.
/// After a write error the journal is *failed*: the failing appends and every
/// later one report an error, the files are cut back to the last durable
/// record where possible, and reopening (once the cause is fixed) recovers.
///
/// The class is internally synchronised and may be used from any thread.
public final class Journal: Sendable {
    /// The data directory.
    public let directory: String
    let key: SymmetricKey
    let options: JournalOptions
    let log: @Sendable (String) -> Void
    let shared: Mutex<Shared>
    let writer: Writer
    /// Keeps the head anchor following the durable head (nil without `JournalOptions.anchor`).
    let anchorWriter: AnchorWriter?
    /// Opened in `JournalAnchor.Mode.acceptTruncation`: how far the journal fell short of its anchor (nil if it did not).
    public let truncation: JournalTruncation?
    /// Sync latencies and group-commit batch sizes since open.
    public let metrics = JournalMetrics()
    /// Serialises snapshot writing and segment removal. Order: may take `shared`'s lock inside.
    let snapshotLock = Mutex(())
    /// The latest snapshot as `open` authenticated and decrypted it, kept for the first
    /// `latestSnapshot()` (a start reads it at once) so a large one is not read twice;
    /// dropped then, or when snapshots change. Under `snapshotLock`.
    let openedSnapshot = Mutex<(path: String, snapshot: JournalSnapshot)?>(nil)

    struct PendingAppend {
        let payloads: [[UInt8]]
        let completion: @Sendable (Result<[JournalRecord], JournalError>) -> Void
    }

    struct Shared {
        var pending: [PendingAppend] = []
        var writerScheduled = false
        var head: JournalPosition
        var failure: JournalError?
        var closed = false
        var appendedRecords: UInt64 = 0
        var syncs: UInt64 = 0
    }

    /// The writer's state: touched only on `queue`.
    final class Writer: @unchecked Sendable {
        let queue: DispatchQueue
        var file: FileDescriptor?
        /// The directory's `LOCK` file, held (flock) while the journal is open so a second process cannot append.
        var lockFile: FileDescriptor?
        var segmentIndex: UInt64
        var writeOffset: Int64
        var segmentHasRecords: Bool
        var nextSeq: UInt64
        var lastHash: [UInt8]

        init(queue: DispatchQueue, file: FileDescriptor, segmentIndex: UInt64, writeOffset: Int64, segmentHasRecords: Bool, head: JournalPosition) {
            self.queue = queue
            self.file = file
            self.segmentIndex = segmentIndex
            self.writeOffset = writeOffset
            self.segmentHasRecords = segmentHasRecords
            self.nextSeq = head.seq + 1
            self.lastHash = head.hash
        }
    }

    private static let writerQueueKey = DispatchSpecificKey<ObjectIdentifier>()

    private init(directory: String, key: SymmetricKey, options: JournalOptions, log: @escaping @Sendable (String) -> Void, writer: Writer, head: JournalPosition,
                 anchorWriter: AnchorWriter?, truncation: JournalTruncation?) {
        self.anchorWriter = anchorWriter
        self.truncation = truncation
        self.directory = directory
        self.key = key
        self.options = options
        self.log = log
        self.writer = writer
        self.shared = Mutex(Shared(head: head))
        writer.queue.setSpecific(key: Self.writerQueueKey, value: ObjectIdentifier(writer))
    }

    // MARK: - Opening

    /// Opens (or creates) the journal in `directory`, verifying it.
    ///
    /// Verifies every segment header, the latest snapshot, and every record
    /// from that snapshot's position on (from the first record when there is
    /// no snapshot), including the chain across segments. A torn final record
    /// in the last segment (a crash mid-write) is cut off and logged through
    /// `log`; leftover temporary files are removed.
    /// - Throws: `JournalError` `.wrongKey` ("journal key does not match …",
    ///   with both key fingerprints) if the journal was written with another
    ///   key; `.corrupt` naming the segment file, byte offset and sequence
    ///   number for any other damage (nothing is skipped); `.io` if the
    ///   directory or a file cannot be created, read or synced.
    public static func open(directory: String, key: SymmetricKey, options: JournalOptions = .init(), log: @escaping @Sendable (String) -> Void = { _ in }) throws -> Journal {
        try JournalError.mappingSystemErrors { try lockAndOpen(directory: directory, key: key, options: options, log: log) }
    }

    private static func lockAndOpen(directory: String, key: SymmetricKey, options: JournalOptions, log: @escaping @Sendable (String) -> Void) throws -> Journal {
        let directory = directory.count > 1 && directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        try FileSystem.makeDirectories(directory)
        let lockFile = try FileDescriptor.open(directory + "/" + lockFileName, flags: O_RDWR | O_CREAT)
        // A child process forked by this one holds a copy of the lock until it execs, so a lock
        // that is busy is retried briefly; a broker that really has the journal open holds it for good.
        var locked = try lockFile.tryLockExclusive()
        for _ in 0..<lockRetries where !locked {
            usleep(lockRetryMicroseconds)
            locked = try lockFile.tryLockExclusive()
        }
        guard locked else {
            lockFile.close()
            throw JournalError(.inUse, "journal \(directory) is open in another process (\(lockFileName) is locked); stop that broker first", path: directory)
        }
        do {
            let journal = try openLocked(directory: directory, key: key, options: options, log: log)
            journal.writer.lockFile = lockFile
            return journal
        } catch {
            lockFile.close()
            throw error
        }
    }

    /// Appended to a snapshot's name when accepting a truncation that left it ahead of the journal's end.
    public static let lostSuffix = ".lost"

    /// The file whose flock marks the journal as open by one process.
    public static let lockFileName = "LOCK"
    static let lockRetries = 100
    static let lockRetryMicroseconds: UInt32 = 20_000

    private static func openLocked(directory: String, key: SymmetricKey, options: JournalOptions, log: @escaping @Sendable (String) -> Void) throws -> Journal {
        let catalog = try SegmentCatalog.load(directory: directory, key: key)
        for temporary in catalog.temporaries {
            try FileSystem.unlink(temporary, missingOK: true)
            log("journal: removed unfinished temporary file \(temporary)")
        }
        let anchoring = try AnchorCheck(options.anchor, catalog: catalog, directory: directory, key: key, log: log)

        var anchor = JournalPosition.genesis
        var opened: (path: String, snapshot: JournalSnapshot)?
        if let latest = catalog.snapshots.last {
            let file = try FileDescriptor.open(latest.path, flags: O_RDONLY)
            defer { file.close() }
            do {
                let snapshot = try DiskFormat.decodeSnapshot(try file.readAll(), path: latest.path, key: key)
                anchor = snapshot.position
                opened = (latest.path, snapshot)
            } catch let error as JournalError where error.code == .wrongKey && !catalog.segments.isEmpty {
                // The segment headers authenticated under this key, so the snapshot is damaged.
                throw JournalError.corrupt("snapshot fails authentication (its key fingerprint field is damaged)", path: latest.path, offset: 48, seq: nil)
            }
        }

        let queue = DispatchQueue(label: "journal.writer")
        if catalog.segments.isEmpty {
            let truncation = try anchoring.check(end: .genesis)
            guard anchor.seq == 0 else {
                throw JournalError(.corrupt, "journal damaged: \(directory) has a snapshot at seq \(anchor.seq) but no segment files", path: directory, seq: anchor.seq)
            }
            try removeTornSegment(catalog, directory: directory, log: log)
            let index = catalog.tornLast?.index ?? 1
            let file = try createSegment(directory: directory, index: index, firstSeq: 1, prevHash: DiskFormat.genesisHash, key: key)
            file.faults = options.faultInjection
            let writer = Writer(queue: queue, file: file, segmentIndex: index, writeOffset: Int64(DiskFormat.segmentHeaderSize), segmentHasRecords: false, head: .genesis)
            return Journal(directory: directory, key: key, options: options, log: log, writer: writer, head: .genesis,
                           anchorWriter: anchoring.writer(head: .genesis), truncation: truncation)
        }

        let segments = catalog.segments
        let start: Int
        if let found = segments.lastIndex(where: { $0.header.firstSeq <= anchor.seq }) {
            start = found
        } else {
            let first = segments[0]
            guard first.header.firstSeq == anchor.seq + 1, first.header.prevHash == anchor.hash else {
                let what = anchor.seq == 0 ? "the journal's first record (seq 1)" : "the snapshot at seq \(anchor.seq)"
                throw JournalError.corrupt("first segment starts at seq \(first.header.firstSeq) and does not continue \(what); earlier segments are missing", path: first.path, offset: 24, seq: first.header.firstSeq)
            }
            start = 0
        }

        var cursor = ChainCursor(segments[start].header)
        try anchoring.checkRecord(cursor.position, path: segments[start].path, offset: 32)
        var writeOffset = Int64(DiskFormat.segmentHeaderSize)
        var lastHasRecords = false
        var torn: (offset: Int, reason: String, bytes: Int, seq: UInt64)?
        for i in start..<segments.count {
            let segment = segments[i]
            if i > start { try cursor.checkContinues(into: segment) }
            let isLast = i == segments.count - 1
            let file = try FileDescriptor.open(segment.path, flags: O_RDONLY)
            defer { file.close() }
            let bytes = try file.readAll()
            var count = 0
            let end = try SegmentScanner.scan(bytes, path: segment.path, key: key, isLast: isLast, cursor: &cursor) { record, offset in
                count += 1
                if record.seq == anchor.seq, record.hash != anchor.hash {
                    throw JournalError.corrupt("record does not match the snapshot taken at seq \(anchor.seq) (snapshot or record replaced)", path: segment.path, offset: Int64(offset), seq: record.seq)
                }
                try anchoring.checkRecord(record.position, path: segment.path, offset: offset)
            }
            if isLast {
                lastHasRecords = count > 0
                switch end {
                case .complete(let offset), .stopped(let offset):
                    writeOffset = Int64(offset)
                case .torn(let offset, let reason):
                    writeOffset = Int64(offset)
                    torn = (offset, reason, bytes.count, cursor.nextSeq)
                }
            }
        }
        let head = cursor.position
        // Checked before anything is cut: a journal that ends before its anchor is never "repaired" here.
        let truncation = try anchoring.check(end: head)
        if truncation != nil, head.seq < anchor.seq {
            // Accepting a loss: snapshots of the lost records' state cannot be used; they are set aside, not deleted.
            for snapshot in catalog.snapshots where snapshot.seq > head.seq {
                try FileSystem.rename(snapshot.path, snapshot.path + lostSuffix)
                log("journal: set aside snapshot \(snapshot.path) as \(snapshot.path + lostSuffix): it is at seq \(snapshot.seq), after the journal's end at seq \(head.seq)")
            }
            try FileSystem.syncDirectory(directory)
            return try openLocked(directory: directory, key: key, options: options, log: log)
        }
        guard head.seq >= anchor.seq else {
            throw JournalError(.corrupt, "journal damaged: the latest snapshot is at seq \(anchor.seq) but the journal's last record is seq \(head.seq) (records missing from the end of \(segments.last!.path))", path: segments.last!.path, seq: anchor.seq)
        }
        try removeTornSegment(catalog, directory: directory, log: log)
        let last = segments[segments.count - 1]
        let file = try FileDescriptor.open(last.path, flags: O_RDWR)
        if let torn {
            do {
                try file.truncate(to: Int64(torn.offset))
                try file.syncData()
            } catch {
                file.close()
                throw error
            }
            log("journal: cut torn final record from \(last.path) at offset \(torn.offset) (seq \(torn.seq) was never acknowledged): \(torn.reason); \(torn.bytes - torn.offset) bytes removed")
        }
        file.faults = options.faultInjection
        let writer = Writer(queue: queue, file: file, segmentIndex: last.index, writeOffset: writeOffset, segmentHasRecords: lastHasRecords, head: head)
        let journal = Journal(directory: directory, key: key, options: options, log: log, writer: writer, head: head,
                              anchorWriter: anchoring.writer(head: head), truncation: truncation)
        journal.openedSnapshot.withLock { $0 = opened }
        return journal
    }

    /// Removes a last segment whose header was never completely written (a crash while creating it).
    private static func removeTornSegment(_ catalog: SegmentCatalog, directory: String, log: @Sendable (String) -> Void) throws {
        guard let torn = catalog.tornLast else { return }
        try FileSystem.unlink(torn.path)
        try FileSystem.syncDirectory(directory)
        log("journal: removed segment \(torn.path) whose header was never completely written (\(torn.size) bytes; crash while creating it)")
    }

    /// Creates segment `index` with its header, syncing it and the directory.
    /// - Throws: `JournalError` if it cannot be created, written or synced (the partial file is removed).
    static func createSegment(directory: String, index: UInt64, firstSeq: UInt64, prevHash: [UInt8], key: SymmetricKey) throws -> FileDescriptor {
        let path = directory + "/" + DiskFormat.segmentName(index)
        let file = try FileDescriptor.open(path, flags: O_RDWR | O_CREAT | O_EXCL, mode: 0o600)
        do {
            try file.writeAll(DiskFormat.encodeSegmentHeader(index: index, firstSeq: firstSeq, prevHash: prevHash, key: key), at: 0)
            try file.syncData()
            try FileSystem.syncDirectory(directory)
        } catch {
            file.close()
            try? FileSystem.unlink(path, missingOK: true)
            try? FileSystem.syncDirectory(directory)
            throw error
        }
        return file
    }

    // MARK: - State

    /// The last durable record's position (`JournalPosition.genesis` when empty).
    public var head: JournalPosition { shared.withLock { $0.head } }

    /// True while appends are accepted: open, and no write has failed.
    public var isHealthy: Bool { shared.withLock { !$0.closed && $0.failure == nil } }

    /// Health and counters, for a health endpoint.
    public var status: JournalStatus {
        shared.withLock { s in
            JournalStatus(isHealthy: !s.closed && s.failure == nil, isClosed: s.closed, head: s.head, failure: s.failure, appendedRecords: s.appendedRecords, syncs: s.syncs)
        }
    }

    // MARK: - Appending

    /// Appends one record; `completion` runs once it is durable, or with the reason it is not.
    ///
    /// `completion` runs on the journal's writer queue (keep it short; it may
    /// call `append` or `close`), or at once on the caller's thread when the
    /// append is refused up front. A failure means the record was not stored.
    /// Errors: `.payloadTooLarge`, `.closed`, `.writeFailed` (this write failed;
    /// the journal is now failed), `.failed` (an earlier write failed).
    public func append(_ payload: [UInt8], completion: @escaping @Sendable (Result<JournalRecord, JournalError>) -> Void) {
        append([payload]) { result in completion(result.map { $0[0] }) }
    }

    /// Appends several records as one unit: they get consecutive sequence
    /// numbers, go into one write and one sync, and succeed or fail together.
    ///
    /// `completion` runs as for `append(_:completion:)`. After a crash before
    /// the completion, a prefix of the batch may be found on disk (never acknowledged).
    public func append(_ payloads: [[UInt8]], completion: @escaping @Sendable (Result<[JournalRecord], JournalError>) -> Void) {
        if payloads.isEmpty { return completion(.success([])) }
        let limit = min(options.maxPayloadSize, DiskFormat.maxSealedLength - AES.GCM.overhead)
        if let large = payloads.first(where: { $0.count > limit }) {
            return completion(.failure(JournalError(.payloadTooLarge, "journal payload of \(large.count) bytes exceeds the limit of \(limit) bytes")))
        }
        let outcome: (refusal: JournalError?, schedule: Bool) = shared.withLock { s in
            if s.closed { return (JournalError(.closed, "journal \(directory) is closed"), false) }
            if let failure = s.failure { return (Self.failedError(failure), false) }
            s.pending.append(PendingAppend(payloads: payloads, completion: completion))
            if s.writerScheduled { return (nil, false) }
            s.writerScheduled = true
            return (nil, true)
        }
        if let refusal = outcome.refusal { return completion(.failure(refusal)) }
        if outcome.schedule { writer.queue.async { self.drain() } }
    }

    /// Appends one record and returns it once it is durable.
    /// - Throws: `JournalError` as described for `append(_:completion:)`; the record was then not stored.
    public func append(_ payload: [UInt8]) async throws -> JournalRecord {
        try await withCheckedThrowingContinuation { continuation in
            append(payload) { continuation.resume(with: $0) }
        }
    }

    /// Appends several records as one unit (see `append(_:completion:)` for batches).
    /// - Throws: `JournalError`; none of the records was then acknowledged.
    public func append(_ payloads: [[UInt8]]) async throws -> [JournalRecord] {
        try await withCheckedThrowingContinuation { continuation in
            append(payloads) { continuation.resume(with: $0) }
        }
    }

    static func failedError(_ cause: JournalError) -> JournalError {
        JournalError(.failed, "journal accepts no appends since an earlier write failed (\(cause.message)); fix the cause and reopen it", path: cause.path, errno: cause.errno)
    }

    /// Writer loop: takes everything pending, writes and syncs it, completes it, repeats.
    private func drain() {
        dispatchPrecondition(condition: .onQueue(writer.queue))
        while true {
            let batch: [PendingAppend] = shared.withLock { s in
                if s.pending.isEmpty {
                    s.writerScheduled = false
                    return []
                }
                var bytes = 0
                var taken = 0
                for item in s.pending {
                    let size = item.payloads.reduce(0) { $0 + $1.count }
                    if taken > 0 && (bytes + size > JournalLimits.maxBatchBytes || taken >= JournalLimits.maxBatchAppends) { break }
                    bytes += size
                    taken += 1
                }
                let batch = Array(s.pending.prefix(taken))
                s.pending.removeFirst(taken)
                return batch
            }
            if batch.isEmpty { return }
            write(batch)
        }
    }

    /// Writes one batch, rotating segments as needed; completes every item.
    private func write(_ batch: [PendingAppend]) {
        if let refusal = shared.withLock({ s in s.failure.map(Self.failedError) }) {
            return batch.forEach { $0.completion(.failure(refusal)) }
        }
        var chunk: [UInt8] = []
        var chunkItems: [(PendingAppend, [JournalRecord])] = []
        var seq = writer.nextSeq
        var hash = writer.lastHash
        for (position, item) in batch.enumerated() {
            let itemSize = item.payloads.reduce(0) { $0 + $1.count + DiskFormat.recordOverhead }
            let segmentUsed = writer.segmentHasRecords || !chunk.isEmpty
            if segmentUsed && writer.writeOffset + Int64(chunk.count + itemSize) > Int64(options.segmentSize) {
                guard flush(chunk, chunkItems, rest: batch[position...]) else { return }
                chunk.removeAll(keepingCapacity: true)
                chunkItems.removeAll()
                do {
                    try rotate()
                } catch {
                    return fail(batch[position...].map { ($0, []) }, JournalError.wrap(error), rollback: nil)
                }
            }
            let time = Self.nowMilliseconds()
            var records: [JournalRecord] = []
            records.reserveCapacity(item.payloads.count)
            for payload in item.payloads {
                let recordHash = DiskFormat.encodeRecord(seq: seq, time: time, payload: payload, prevHash: hash, key: key, into: &chunk)
                records.append(JournalRecord(seq: seq, timeMilliseconds: time, payload: payload, hash: recordHash, prevHash: hash))
                seq += 1
                hash = recordHash
            }
            chunkItems.append((item, records))
        }
        _ = flush(chunk, chunkItems, rest: batch[batch.endIndex...])
    }

    /// Writes and syncs `chunk` at the end of the current segment and completes its items.
    /// On failure cuts the file back, marks the journal failed and fails `items` and `rest`.
    /// - Returns: whether it succeeded.
    private func flush(_ chunk: [UInt8], _ items: [(PendingAppend, [JournalRecord])], rest: ArraySlice<PendingAppend>) -> Bool {
        guard !chunk.isEmpty else { return true }
        guard let file = writer.file else {
            let error = JournalError(.closed, "journal \(directory) is closed")
            items.forEach { $0.0.completion(.failure(error)) }
            rest.forEach { $0.completion(.failure(error)) }
            return false
        }
        let start = writer.writeOffset
        do {
            try file.writeAll(chunk, at: start)
            let syncStarted = ContinuousClock.now
            try file.syncData()
            let synced = ContinuousClock.now - syncStarted
            metrics.recordSync(seconds: Double(synced.components.seconds) + Double(synced.components.attoseconds) / 1e18,
                               records: items.reduce(0) { $0 + $1.1.count })
        } catch {
            fail(items + rest.map { ($0, []) }, JournalError.wrap(error), rollback: (file, start))
            return false
        }
        let last = items[items.count - 1].1.last!
        writer.writeOffset = start + Int64(chunk.count)
        writer.segmentHasRecords = true
        writer.nextSeq = last.seq + 1
        writer.lastHash = last.hash
        let count = UInt64(items.reduce(0) { $0 + $1.1.count })
        shared.withLock { s in
            s.head = last.position
            s.appendedRecords += count
            s.syncs += 1
        }
        anchorWriter?.advance(to: last.position)
        for (item, records) in items { item.completion(.success(records)) }
        return true
    }

    /// Marks the journal failed, cuts the segment back to its last durable byte, fails `items`.
    private func fail(_ items: [(PendingAppend, [JournalRecord])], _ cause: JournalError, rollback: (FileDescriptor, Int64)?) {
        var note = ""
        if let (file, offset) = rollback {
            do {
                try file.truncate(to: offset)
                try file.syncData()
            } catch {
                note = "; cutting \(file.path) back to offset \(offset) also failed (\(JournalError.wrap(error).message)), reopening will find and cut the unacknowledged tail"
            }
        }
        let error = JournalError(.writeFailed, "journal write failed, nothing in this append was stored, and the journal accepts no more appends until reopened: \(cause.message)\(note)", path: cause.path, offset: cause.offset, errno: cause.errno)
        shared.withLock { s in if s.failure == nil { s.failure = error } }
        log("journal: \(error.message)")
        for (item, _) in items { item.completion(.failure(error)) }
    }

    /// Closes the full current segment and starts the next one.
    /// - Throws: `JournalError` if the new segment cannot be created.
    private func rotate() throws {
        writer.file?.close()
        writer.file = nil
        let index = writer.segmentIndex + 1
        let file = try Self.createSegment(directory: directory, index: index, firstSeq: writer.nextSeq, prevHash: writer.lastHash, key: key)
        file.faults = options.faultInjection
        writer.file = file
        writer.segmentIndex = index
        writer.writeOffset = Int64(DiskFormat.segmentHeaderSize)
        writer.segmentHasRecords = false
    }

    static func nowMilliseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }

    // MARK: - Reading

    /// Reads, verifies and hands to `body`, in order, every record after `seq`
    /// up to the head as of the call.
    ///
    /// Records are read from disk and each is authenticated and checked against
    /// the chain, so `body` never sees altered data. Safe to call while appends run.
    /// - Throws: `.corrupt` naming segment, offset and seq at the first damaged
    ///   record; `.invalidArgument` if records after `seq` were removed by the
    ///   retention policy; `.io`; or whatever `body` throws.
    public func replay(after seq: UInt64, _ body: (JournalRecord) throws -> Void) throws {
        try JournalError.mappingSystemErrors { try replayRecords(after: seq, body) }
    }

    private func replayRecords(after seq: UInt64, _ body: (JournalRecord) throws -> Void) throws {
        let limit = head.seq
        guard seq < limit else { return }
        let segments = try SegmentCatalog.load(directory: directory, key: key).segments
        guard let start = segments.lastIndex(where: { $0.header.firstSeq <= seq + 1 }) else {
            throw JournalError(.invalidArgument, "journal records after seq \(seq) are no longer in \(directory): the earliest segment starts at seq \(segments.first?.header.firstSeq ?? 0) (removed by the retention policy)", path: directory, seq: seq + 1)
        }
        var cursor = ChainCursor(segments[start].header)
        for i in start..<segments.count {
            let segment = segments[i]
            if i > start { try cursor.checkContinues(into: segment) }
            let file = try FileDescriptor.open(segment.path, flags: O_RDONLY)
            let bytes = try file.readAll()
            file.close()
            let end = try SegmentScanner.scan(bytes, path: segment.path, key: key, isLast: true, cursor: &cursor, stopAfter: limit) { record, _ in
                if record.seq > seq { try body(record) }
            }
            if cursor.nextSeq > limit { return }
            if case .torn(let offset, let reason) = end {
                throw JournalError.corrupt("record \(cursor.nextSeq) is not readable (\(reason)) although the journal's head is seq \(limit)", path: segment.path, offset: Int64(offset), seq: cursor.nextSeq)
            }
        }
        throw JournalError(.corrupt, "journal damaged: \(directory) ends at seq \(cursor.nextSeq - 1) but its head is seq \(limit)", path: directory, seq: cursor.nextSeq)
    }

    // MARK: - Snapshots

    private struct StopReplay: Error {}

    /// Stores `state` as of `position` (which must be a record in the chain,
    /// or genesis), encrypted and atomically: temporary file, fsync, rename,
    /// directory fsync. Then removes old snapshots beyond `snapshotsToKeep`
    /// and applies the segment retention policy.
    /// - Throws: `.invalidArgument` if `position` is not in the chain; `.io` if
    ///   it cannot be written (no partial snapshot is ever taken for a whole one).
    public func writeSnapshot(_ state: [UInt8], at position: JournalPosition) throws {
        try JournalError.mappingSystemErrors { try snapshotLock.withLock { _ in
            let current = head
            var matches = false
            if position.seq == current.seq {
                matches = position.hash == current.hash
            } else if position.seq == 0 {
                matches = position.hash == DiskFormat.genesisHash
            } else if position.seq < current.seq {
                do {
                    try replay(after: position.seq - 1) { record in
                        matches = record.hash == position.hash
                        throw StopReplay()
                    }
                } catch is StopReplay {}
            }
            guard matches else {
                throw JournalError(.invalidArgument, "snapshot position (\(position)) is not a record of journal \(directory), whose head is seq \(current.seq)", seq: position.seq)
            }
            let path = directory + "/" + DiskFormat.snapshotName(position.seq)
            openedSnapshot.withLock { $0 = nil }
            try AtomicFile.write(DiskFormat.encodeSnapshot(state, at: position, key: key), to: path, mode: 0o600)
            try pruneAfterSnapshot()
        } }
    }

    /// Removes every snapshot taken before `seq`, provided a snapshot at or after `seq` exists
    /// (so the journal is never left without the snapshot its retained segments start from).
    public func removeSnapshots(before seq: UInt64) throws {
        try JournalError.mappingSystemErrors { try snapshotLock.withLock { _ in
            let snapshots = try SegmentCatalog.load(directory: directory, key: key).snapshots
            guard snapshots.contains(where: { $0.seq >= seq }) else { return }
            openedSnapshot.withLock { $0 = nil }
            var removed = false
            for old in snapshots where old.seq < seq {
                try FileSystem.unlink(old.path, missingOK: true)
                log("journal: removed snapshot \(old.path) (taken before seq \(seq))")
                removed = true
            }
            if removed { try FileSystem.syncDirectory(directory) }
        } }
    }

    /// Removes snapshots beyond `snapshotsToKeep` and segments the retention policy lets go.
    private func pruneAfterSnapshot() throws {
        let catalog = try SegmentCatalog.load(directory: directory, key: key)
        var removed = false
        for old in catalog.snapshots.dropLast(max(1, options.snapshotsToKeep)) {
            try FileSystem.unlink(old.path, missingOK: true)
            removed = true
        }
        if let keep = options.segmentRetention.keepAtLeast, let latest = catalog.snapshots.last {
            let segments = catalog.segments
            var removable = 0
            while removable < segments.count - keep, removable + 1 < segments.count,
                  segments[removable + 1].header.firstSeq <= latest.seq + 1 {
                removable += 1
            }
            for segment in segments.prefix(removable) {
                try FileSystem.unlink(segment.path)
                log("journal: removed segment \(segment.path) (records before seq \(segments[removable].header.firstSeq), covered by the snapshot at seq \(latest.seq))")
                removed = true
            }
        }
        if removed { try FileSystem.syncDirectory(directory) }
    }

    /// The newest snapshot, decrypted, or nil if none was written.
    /// - Throws: `.corrupt` or `.wrongKey` if the newest snapshot file is damaged
    ///   (older ones are never used silently in its place); `.io`.
    public func latestSnapshot() throws -> JournalSnapshot? {
        try JournalError.mappingSystemErrors { try snapshotLock.withLock { _ in
            let opened = openedSnapshot.withLock { kept in
                defer { kept = nil }
                return kept
            }
            guard let latest = try SegmentCatalog.load(directory: directory, key: key).snapshots.last else { return nil }
            if let opened, opened.path == latest.path { return opened.snapshot }
            let file = try FileDescriptor.open(latest.path, flags: O_RDONLY)
            defer { file.close() }
            return try DiskFormat.decodeSnapshot(try file.readAll(), path: latest.path, key: key)
        } }
    }

    // MARK: - Closing

    /// Finishes the appends already accepted, closes the segment file and
    /// brings the head anchor (if any) up to the last durable record.
    /// Later appends fail with `.closed`; reading (`replay`, `latestSnapshot`)
    /// still works. Calling it again does nothing.
    public func close() {
        shared.withLock { $0.closed = true }
        if DispatchQueue.getSpecific(key: Self.writerQueueKey) == ObjectIdentifier(writer) {
            closeFile()
        } else {
            writer.queue.sync { closeFile() }
        }
    }

    private func closeFile() {
        writer.file?.close()
        writer.file = nil
        // While the directory is still locked, so the next opener finds the anchor final.
        anchorWriter?.flush()
        writer.lockFile?.close()
        writer.lockFile = nil
    }
}
