import Crypto
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

import POSIX

/// One segment file and its authenticated header.
struct SegmentInfo {
    let index: UInt64
    let path: String
    let header: DiskFormat.SegmentHeader
}

/// The segment and snapshot files of a journal directory, headers verified.
struct SegmentCatalog {
    /// Segments in index order, consecutive, every header authenticated.
    var segments: [SegmentInfo] = []
    /// The last segment file, when its header was never completely written (crash while creating it).
    var tornLast: (index: UInt64, path: String, size: Int64)?
    /// Snapshot files by sequence number, ascending.
    var snapshots: [(seq: UInt64, path: String)] = []
    /// Leftover temporary files.
    var temporaries: [String] = []

    /// Lists `directory` and verifies every segment header.
    /// - Throws: `.wrongKey` if the headers were written under another key;
    ///   `.corrupt` if a header is damaged, a segment is missing from the
    ///   sequence, or headers disagree with file names.
    static func load(directory: String, key: SymmetricKey) throws -> SegmentCatalog {
        var catalog = SegmentCatalog()
        var indices: [(UInt64, String)] = []
        for name in try FileSystem.listDirectory(directory) {
            if let index = DiskFormat.segmentIndex(fromName: name) {
                indices.append((index, name))
            } else if let seq = DiskFormat.snapshotSeq(fromName: name) {
                catalog.snapshots.append((seq, directory + "/" + name))
            } else if name.hasSuffix(DiskFormat.tempSuffix) {
                catalog.temporaries.append(directory + "/" + name)
            }
        }
        indices.sort { $0.0 < $1.0 }
        catalog.snapshots.sort { $0.seq < $1.seq }
        var decoded: [(index: UInt64, path: String, header: Result<DiskFormat.SegmentHeader, JournalError>)] = []
        for (position, (index, name)) in indices.enumerated() {
            let path = directory + "/" + name
            if position > 0, index != indices[position - 1].0 + 1 {
                let missing = DiskFormat.segmentName(indices[position - 1].0 + 1)
                throw JournalError.corrupt("segment file \(missing) is missing (found \(indices[position - 1].1) then \(name))", path: path, offset: 0, seq: nil)
            }
            let file = try FileDescriptor.open(path, flags: O_RDONLY)
            defer { file.close() }
            let size = try file.size()
            let bytes = try file.readPrefix(DiskFormat.segmentHeaderSize)
            let isLast = position == indices.count - 1
            if isLast, bytes.count < DiskFormat.segmentHeaderSize || (size == Int64(DiskFormat.segmentHeaderSize) && bytes.allSatisfy { $0 == 0 }) {
                catalog.tornLast = (index, path, size)
                continue
            }
            do {
                decoded.append((index, path, .success(try DiskFormat.decodeSegmentHeader(bytes, path: path, key: key))))
            } catch let error as JournalError where error.code == .wrongKey {
                decoded.append((index, path, .failure(error)))
            }
        }
        // A header that fails under a key other headers authenticate under is damaged, not sealed with another key.
        let someAuthenticated = decoded.contains { if case .success = $0.header { return true } else { return false } }
        for entry in decoded {
            let header: DiskFormat.SegmentHeader
            switch entry.header {
            case .success(let value):
                header = value
            case .failure(let error):
                if someAuthenticated {
                    throw JournalError.corrupt("segment header fails authentication (its key fingerprint field is damaged)", path: entry.path, offset: 16, seq: nil)
                }
                throw error
            }
            guard header.index == entry.index else {
                throw JournalError.corrupt("segment header says index \(header.index), file name says \(entry.index)", path: entry.path, offset: 8, seq: nil)
            }
            if let previous = catalog.segments.last, header.firstSeq < previous.header.firstSeq {
                throw JournalError.corrupt("segment starts at seq \(header.firstSeq), before its predecessor's first seq \(previous.header.firstSeq)", path: entry.path, offset: 24, seq: header.firstSeq)
            }
            catalog.segments.append(SegmentInfo(index: entry.index, path: entry.path, header: header))
        }
        return catalog
    }
}

/// The next record a chain expects.
struct ChainCursor {
    var nextSeq: UInt64
    var prevHash: [UInt8]

    init(_ header: DiskFormat.SegmentHeader) {
        nextSeq = header.firstSeq
        prevHash = header.prevHash
    }

    /// The last record's position.
    var position: JournalPosition { JournalPosition(seq: nextSeq - 1, hash: prevHash) }

    /// Checks that `segment` continues the chain where the previous one ended.
    /// - Throws: `.corrupt` naming the segment when it does not.
    func checkContinues(into segment: SegmentInfo) throws {
        guard segment.header.firstSeq == nextSeq else {
            throw JournalError.corrupt("segment starts at seq \(segment.header.firstSeq) but the previous segment ended at seq \(nextSeq - 1) (records missing or out of order)", path: segment.path, offset: 24, seq: nextSeq)
        }
        guard segment.header.prevHash == prevHash else {
            throw JournalError.corrupt("segment's previous-record hash does not match the chain (a segment was replaced or altered)", path: segment.path, offset: 32, seq: nextSeq)
        }
    }
}

/// How a segment scan ended.
enum ScanEnd: Equatable {
    /// All bytes were valid records; `offset` is the end of the last one.
    case complete(offset: Int)
    /// Stopped after the requested sequence number, at `offset`.
    case stopped(offset: Int)
    /// A torn tail starts at `offset` (last segment only).
    case torn(offset: Int, reason: String)
}

/// Reads and verifies the records of one segment.
enum SegmentScanner {
    /// Verifies every record of `bytes` (a whole segment file) against `cursor`,
    /// advancing it, and hands each verified record to `deliver` with its offset.
    ///
    /// - Parameter isLast: whether this is the last segment, where a torn tail is allowed.
    /// - Parameter stopAfter: stop once this sequence number has been delivered.
    /// - Throws: `.corrupt` naming path, offset and seq at the first damaged
    ///   record, or whatever `deliver` throws.
    static func scan(_ bytes: [UInt8], path: String, key: SymmetricKey, isLast: Bool, cursor: inout ChainCursor, stopAfter: UInt64 = .max, deliver: (JournalRecord, Int) throws -> Void) throws -> ScanEnd {
        var offset = DiskFormat.segmentHeaderSize
        let end = bytes.count
        let opener = AES.GCM.Opener(key: key)
        func tornOrDamage(_ reason: String, tornAllowed: Bool) throws -> ScanEnd {
            if isLast && (tornAllowed || bytes[offset...].allSatisfy { $0 == 0 }) {
                return .torn(offset: offset, reason: reason)
            }
            throw JournalError.corrupt(reason, path: path, offset: Int64(offset), seq: cursor.nextSeq)
        }
        while offset < end {
            if cursor.nextSeq > stopAfter { return .stopped(offset: offset) }
            let remaining = end - offset
            if remaining < DiskFormat.recordHeaderSize {
                return try tornOrDamage("incomplete record header (\(remaining) of \(DiskFormat.recordHeaderSize) bytes)", tornAllowed: true)
            }
            guard bytes[offset..<(offset + 4)].elementsEqual(DiskFormat.recordMagic) else {
                return try tornOrDamage("bad record magic", tornAllowed: false)
            }
            let storedCRC = DiskFormat.read(UInt32.self, bytes, at: offset + 24)
            guard CRC32C.checksum(bytes[offset..<(offset + 24)]) == storedCRC else {
                return try tornOrDamage("record header checksum mismatch", tornAllowed: false)
            }
            let sealedLength = Int(DiskFormat.read(UInt32.self, bytes, at: offset + 4))
            let seq = DiskFormat.read(UInt64.self, bytes, at: offset + 8)
            let time = DiskFormat.read(Int64.self, bytes, at: offset + 16)
            guard sealedLength >= AES.GCM.overhead, sealedLength <= DiskFormat.maxSealedLength else {
                throw JournalError.corrupt("record length \(sealedLength) out of range", path: path, offset: Int64(offset), seq: seq)
            }
            let recordEnd = offset + DiskFormat.recordHeaderSize + sealedLength
            if recordEnd > end {
                return try tornOrDamage("record of \(DiskFormat.recordHeaderSize + sealedLength) bytes runs past the end of the file (\(remaining) bytes left)", tornAllowed: true)
            }
            guard seq == cursor.nextSeq else {
                throw JournalError.corrupt("record has seq \(seq), expected \(cursor.nextSeq) (record reordered, removed, duplicated or inserted)", path: path, offset: Int64(offset), seq: seq)
            }
            let sealed = bytes[(offset + DiskFormat.recordHeaderSize)..<recordEnd]
            let payload: [UInt8]
            do {
                payload = try opener.open(sealed, authenticating: DiskFormat.recordAAD(seq: seq, time: time, prevHash: cursor.prevHash))
            } catch {
                throw JournalError.corrupt("record fails authentication (altered, or not chained to the previous record)", path: path, offset: Int64(offset), seq: seq)
            }
            let hash = DiskFormat.chainHash(prevHash: cursor.prevHash, stored: bytes[offset..<recordEnd])
            let record = JournalRecord(seq: seq, timeMilliseconds: time, payload: payload, hash: hash, prevHash: cursor.prevHash)
            cursor.nextSeq = seq + 1
            cursor.prevHash = hash
            try deliver(record, offset)
            offset = recordEnd
        }
        return .complete(offset: offset)
    }
}
