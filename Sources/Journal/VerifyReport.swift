import Crypto
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

import POSIX

/// The result of an offline check of a whole journal directory (`Journal.verify`).
public struct VerifyReport: Sendable, CustomStringConvertible {
    /// The directory checked.
    public let directory: String
    /// Records verified (all of them when `problem` is nil; those before it otherwise).
    public let recordCount: UInt64
    /// Sequence number of the first record verified, if any.
    public let firstSeq: UInt64?
    /// Sequence number of the last record verified, if any.
    public let lastSeq: UInt64?
    /// The chain hash of the last record verified, in hex (the genesis hash when empty).
    public let headHash: String
    /// Segment files found.
    public let segmentCount: Int
    /// Snapshot files found (each one is decrypted and checked against the chain).
    public let snapshotCount: Int
    /// The first damage found, naming segment, offset, seq and what is wrong; nil if the journal is intact.
    public let problem: JournalError?
    /// Things that are not damage but worth knowing (a torn tail open would cut, removed early segments).
    public let notes: [String]
    /// The head anchor checked, if an anchor file was given and could be read.
    public let anchor: JournalPosition?
    /// The positions asked for (`Journal.verify(…, positions:)`) that were found in the chain with the same hash.
    public let confirmedPositions: [JournalPosition]

    /// True when no damage was found.
    public var isValid: Bool { problem == nil }

    /// A multi-line report for a command-line tool.
    public var description: String {
        var lines: [String] = []
        let range = firstSeq.map { "seq \($0) … \(lastSeq ?? $0)" } ?? "none"
        if let problem {
            lines.append("journal \(directory): DAMAGED")
            lines.append("  first bad record: \(problem.message)")
            lines.append("  verified before it: \(recordCount) records (\(range))")
        } else {
            lines.append("journal \(directory): OK")
            lines.append("  records: \(recordCount) (\(range))")
            lines.append("  head hash: \(headHash)")
        }
        lines.append("  segments: \(segmentCount), snapshots: \(snapshotCount)")
        if let anchor { lines.append("  anchor: seq \(anchor.seq), hash \(anchor.hash.hexString)") }
        lines += confirmedPositions.map { "  contains: seq \($0.seq), hash \($0.hash.hexString)" }
        lines += notes.map { "  note: \($0)" }
        return lines.joined(separator: "\n")
    }
}

extension Journal {
    /// Checks every segment, every record, the whole chain and every snapshot
    /// of the journal in `directory`, without changing anything.
    ///
    /// Reports the record count, first and last sequence numbers and head hash,
    /// or the first bad record (segment file, offset, seq, what is wrong). A
    /// torn tail that `open` would cut is reported as a note, not as damage.
    /// Safe to run on a directory no process is appending to.
    ///
    /// - Parameters:
    ///   - anchorPath: the head anchor file (`JournalAnchor`); when given, a
    ///     journal that ends before the anchor is reported as `.truncated`
    ///     (`journal truncated: anchor at N, journal ends at M`), a missing
    ///     anchor next to existing journal files, a forged anchor or a record
    ///     that differs from the anchored one as `.anchor`.
    ///   - positions: positions (e.g. signed checkpoints kept elsewhere) that
    ///     must be records of the chain with the same hash; one that is not is
    ///     the report's problem.
    public static func verify(directory: String, key: SymmetricKey, anchorPath: String? = nil, positions: [JournalPosition] = []) -> VerifyReport {
        var count: UInt64 = 0
        var first: UInt64?
        var last: UInt64?
        var headHash = DiskFormat.genesisHash
        var segmentCount = 0
        var snapshotCount = 0
        var notes: [String] = []
        var problem: JournalError?
        var anchorRead: JournalPosition?
        var confirmed: [JournalPosition] = []
        do {
            guard let info = try? FileSystem.status(of: directory), (info.st_mode & S_IFMT) == S_IFDIR else {
                throw JournalError(.io, "journal directory \(directory) does not exist or is not a directory", path: directory)
            }
            let catalog = try SegmentCatalog.load(directory: directory, key: key)
            segmentCount = catalog.segments.count + (catalog.tornLast == nil ? 0 : 1)
            snapshotCount = catalog.snapshots.count
            if let anchorPath {
                anchorRead = try JournalAnchor.read(path: anchorPath, key: key)?.position
                if anchorRead == nil, !catalog.isEmpty { throw AnchorCheck.missing(anchorPath, directory: directory, catalog: catalog) }
            }
            var wanted: [UInt64: [UInt8]] = [:]
            for position in positions { wanted[position.seq] = position.hash }
            func checkPosition(_ position: JournalPosition, path: String, offset: Int) throws {
                if let anchorRead, anchorRead.seq == position.seq, anchorRead.hash != position.hash {
                    throw JournalError(.anchor, "journal does not match its anchor: \(path), offset \(offset): record seq \(position.seq) has hash \(position.hash.hexString), the anchor \(anchorPath ?? "") says \(anchorRead.hash.hexString) (records replaced after the anchored end, or an anchor from another journal)", path: path, offset: Int64(offset), seq: position.seq)
                }
                guard let hash = wanted.removeValue(forKey: position.seq) else { return }
                guard hash == position.hash else {
                    throw JournalError(.corrupt, "journal does not contain seq \(position.seq) with hash \(hash.hexString): its record seq \(position.seq) (\(path), offset \(offset)) has hash \(position.hash.hexString)", path: path, offset: Int64(offset), seq: position.seq)
                }
                confirmed.append(position)
            }
            if let torn = catalog.tornLast {
                notes.append("last segment \(torn.path) has an incomplete header (\(torn.size) bytes, crash while creating it); open will remove it")
            }
            var snapshots: [UInt64: (hash: [UInt8], path: String)] = [:]
            for snapshot in catalog.snapshots {
                let file = try FileDescriptor.open(snapshot.path, flags: O_RDONLY)
                defer { file.close() }
                let decoded: JournalSnapshot
                do {
                    decoded = try DiskFormat.decodeSnapshot(try file.readAll(), path: snapshot.path, key: key)
                } catch let error as JournalError where error.code == .wrongKey && !catalog.segments.isEmpty {
                    throw JournalError.corrupt("snapshot fails authentication (its key fingerprint field is damaged)", path: snapshot.path, offset: 48, seq: nil)
                }
                snapshots[decoded.position.seq] = (decoded.position.hash, snapshot.path)
            }
            if let firstSegment = catalog.segments.first {
                var cursor = ChainCursor(firstSegment.header)
                var tornNote: String?
                if firstSegment.header.firstSeq != 1 {
                    notes.append("records before seq \(firstSegment.header.firstSeq) were removed by the retention policy; the chain is verified from the authenticated header of \(firstSegment.path)")
                }
                func checkSnapshot(_ position: JournalPosition, path: String, offset: Int) throws {
                    if let snapshot = snapshots[position.seq], snapshot.hash != position.hash {
                        throw JournalError.corrupt("does not match the snapshot \(snapshot.path) taken at this seq", path: path, offset: Int64(offset), seq: position.seq)
                    }
                }
                try checkSnapshot(cursor.position, path: firstSegment.path, offset: 32)
                try checkPosition(cursor.position, path: firstSegment.path, offset: 32)
                for (i, segment) in catalog.segments.enumerated() {
                    if i > 0 { try cursor.checkContinues(into: segment) }
                    let file = try FileDescriptor.open(segment.path, flags: O_RDONLY)
                    let bytes = try file.readAll()
                    file.close()
                    let isLast = i == catalog.segments.count - 1
                    let end = try SegmentScanner.scan(bytes, path: segment.path, key: key, isLast: isLast, cursor: &cursor) { record, offset in
                        try checkSnapshot(record.position, path: segment.path, offset: offset)
                        try checkPosition(record.position, path: segment.path, offset: offset)
                        count += 1
                        if first == nil { first = record.seq }
                        last = record.seq
                        headHash = record.hash
                    }
                    if case .torn(let offset, let reason) = end {
                        tornNote = "torn final record in \(segment.path) at offset \(offset) (\(reason)); never acknowledged, open will cut it"
                    }
                }
                headHash = cursor.prevHash
                let lowest = firstSegment.header.firstSeq - 1
                let highest = cursor.nextSeq - 1
                if let anchorRead, let anchorPath, highest < anchorRead.seq {
                    throw AnchorCheck.truncated(anchor: anchorRead, end: cursor.position, path: anchorPath, directory: directory)
                }
                // Only a tail after the anchored end is a crash's unacknowledged record.
                if let tornNote { notes.append(tornNote) }
                try Self.checkMissing(wanted, lowest: lowest, highest: highest)
                for (seq, snapshot) in snapshots where seq > highest || seq < lowest {
                    if seq > highest {
                        throw JournalError(.corrupt, "journal damaged: snapshot \(snapshot.path) is at seq \(seq) but the journal ends at seq \(highest) (records missing)", path: snapshot.path, seq: seq)
                    }
                    notes.append("snapshot \(snapshot.path) at seq \(seq) precedes the oldest remaining segment; not checked against the chain")
                }
            } else if let anchorRead, let anchorPath, anchorRead.seq > 0 {
                throw AnchorCheck.truncated(anchor: anchorRead, end: .genesis, path: anchorPath, directory: directory)
            } else if let snapshot = catalog.snapshots.last, snapshot.seq > 0 {
                throw JournalError(.corrupt, "journal damaged: \(directory) has a snapshot at seq \(snapshot.seq) but no segment files", path: directory, seq: snapshot.seq)
            }
            if catalog.segments.isEmpty {
                wanted[0] = nil
                try Self.checkMissing(wanted, lowest: 0, highest: 0)
            }
        } catch {
            problem = JournalError.wrap(error)
        }

        return VerifyReport(directory: directory, recordCount: count, firstSeq: first, lastSeq: last, headHash: headHash.hexString, segmentCount: segmentCount, snapshotCount: snapshotCount, problem: problem, notes: notes,
                            anchor: anchorRead, confirmedPositions: confirmed)
    }
}

extension Journal {
    /// Positions still wanted after the scan: beyond the end (missing) or before the oldest segment (unverifiable).
    static func checkMissing(_ wanted: [UInt64: [UInt8]], lowest: UInt64, highest: UInt64) throws {
        guard let seq = wanted.keys.min() else { return }
        if seq > highest {
            throw JournalError(.truncated, "journal does not contain seq \(seq): it ends at seq \(highest) (records missing, or the position is from another journal)", seq: seq)
        }
        throw JournalError(.invalidArgument, "journal cannot show seq \(seq): its oldest remaining segment starts after it (seq \(lowest + 1)), removed by the retention policy", seq: seq)
    }
}

