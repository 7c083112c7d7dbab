import Crypto

// On-disk format of a journal directory (version 1). All integers little-endian.
//
// Files
//   NNNNNNNN.seg           segment files, NNNNNNNN = segment index (1, 2, …), 8+ decimal digits
//   snapshot-<seq>.snap    snapshots, <seq> = 20-digit sequence number the state is at
//   *.tmp                  a snapshot being written; removed on open
// No file name carries content; every payload and snapshot state is encrypted.
//
// Segment header (92 bytes, written and fsynced, with the directory, when the segment is created)
//     0   8  magic "JRNLSEG1"
//     8   8  segment index (must equal the number in the file name)
//    16   8  key fingerprint: first 8 bytes of SHA-256(key) — tells "wrong key" from damage
//    24   8  firstSeq: the sequence number the segment's first record has
//    32  32  prevHash: chain hash of record firstSeq-1 (the genesis hash when firstSeq = 1)
//    64  28  key check: AES-256-GCM seal of the empty message, AAD = "JRNL-SEG-v1" || bytes 0..<64
//            (12-byte nonce || 16-byte tag); authenticates the whole header
//
// Record (follows the header, back to back; 56 bytes + payload)
//     0   4  magic "JRC1"
//     4   4  sealedLength = 12 + payload length + 16
//     8   8  seq
//    16   8  time, milliseconds since 1970-01-01 UTC (signed)
//    24   4  CRC-32C of bytes 0..<24 (tells a damaged header from a record cut short by a crash)
//    28   n  AES-256-GCM(key, random 96-bit nonce): nonce(12) || ciphertext || tag(16),
//            AAD = "JRNL-REC-v1" || seq (8) || time (8) || prevHash (32)
//
// Chain
//   genesis hash  = 32 zero bytes (the position of an empty journal is seq 0, genesis hash)
//   hash(record)  = SHA-256(prevHash || the record's 28+n stored bytes)
//   Records are numbered 1, 2, 3, … without gaps across segments. Because the AAD binds seq,
//   time and prevHash, and the hash covers the sealed bytes, any changed, reordered, removed,
//   duplicated or inserted record fails authentication or the seq / chain check.
//
// Torn tail: only in the last segment, the bytes from the first unreadable record to the end
//   of the file are a torn tail (cut off on open, with a log line) when they are (a) shorter
//   than a record header, (b) a record whose header checksum is good but whose declared length
//   runs past the end of the file, or (c) all zero (space allocated but never written). Every
//   other failure (bad magic, bad checksum, bad tag, wrong seq or chain) is damage and stops open.
//
// Snapshot file
//     0   8  magic "JRNLSNP1"
//     8   8  seq of the position the state is at
//    16  32  hash of that position (record seq's chain hash)
//    48   8  key fingerprint
//    56   m  AES-256-GCM seal of the state, AAD = "JRNL-SNP-v1" || bytes 0..<56

/// Layout constants and (de)serialisation of segment headers, records and snapshots.
package enum DiskFormat {
    static let segmentMagic: [UInt8] = Array("JRNLSEG1".utf8)
    static let recordMagic: [UInt8] = Array("JRC1".utf8)
    static let snapshotMagic: [UInt8] = Array("JRNLSNP1".utf8)
    static let segmentAADLabel: [UInt8] = Array("JRNL-SEG-v1".utf8)
    static let recordAADLabel: [UInt8] = Array("JRNL-REC-v1".utf8)
    static let snapshotAADLabel: [UInt8] = Array("JRNL-SNP-v1".utf8)

    static let segmentHeaderPlainSize = 64
    static let segmentHeaderSize = segmentHeaderPlainSize + AES.GCM.overhead  // 92
    static let recordHeaderSize = 28
    static let recordOverhead = recordHeaderSize + AES.GCM.overhead  // 56
    static let snapshotHeaderSize = 56
    /// Largest sealed length a reader accepts, whatever the writer's options (format limit).
    static let maxSealedLength = 1 << 30
    static let genesisHash = [UInt8](repeating: 0, count: 32)
    static let fingerprintSize = 8

    static let segmentSuffix = ".seg"
    static let snapshotPrefix = "snapshot-"
    static let snapshotSuffix = ".snap"
    static let tempSuffix = ".tmp"

    // MARK: names

    static func segmentName(_ index: UInt64) -> String {
        let digits = String(index)
        return String(repeating: "0", count: max(0, 8 - digits.count)) + digits + segmentSuffix
    }

    static func segmentIndex(fromName name: String) -> UInt64? {
        guard name.hasSuffix(segmentSuffix) else { return nil }
        let stem = name.dropLast(segmentSuffix.count)
        guard stem.count >= 8, stem.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return UInt64(stem)
    }

    static func snapshotName(_ seq: UInt64) -> String {
        let digits = String(seq)
        return snapshotPrefix + String(repeating: "0", count: max(0, 20 - digits.count)) + digits + snapshotSuffix
    }

    static func snapshotSeq(fromName name: String) -> UInt64? {
        guard name.hasPrefix(snapshotPrefix), name.hasSuffix(snapshotSuffix) else { return nil }
        let stem = name.dropFirst(snapshotPrefix.count).dropLast(snapshotSuffix.count)
        guard stem.count == 20, stem.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return UInt64(stem)
    }

    static func fingerprint(of key: SymmetricKey) -> [UInt8] {
        Array(SHA256.hash(key.rawBytes).prefix(fingerprintSize))
    }

    // MARK: integers

    static func put<T: FixedWidthInteger>(_ value: T, into out: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
    }

    static func read<T: FixedWidthInteger>(_ type: T.Type, _ bytes: [UInt8], at offset: Int) -> T {
        var value: T = 0
        withUnsafeMutableBytes(of: &value) { raw in
            for i in 0..<MemoryLayout<T>.size { raw[i] = bytes[offset + i] }
        }
        return T(littleEndian: value)
    }

    // MARK: segment header

    struct SegmentHeader: Equatable {
        var index: UInt64
        var fingerprint: [UInt8]
        var firstSeq: UInt64
        var prevHash: [UInt8]
    }

    static func encodeSegmentHeader(index: UInt64, firstSeq: UInt64, prevHash: [UInt8], key: SymmetricKey) -> [UInt8] {
        var out = segmentMagic
        out.reserveCapacity(segmentHeaderSize)
        put(index, into: &out)
        out.append(contentsOf: fingerprint(of: key))
        put(firstSeq, into: &out)
        out.append(contentsOf: prevHash)
        out.append(contentsOf: AES.GCM.seal([], using: key, authenticating: segmentAADLabel + out))
        return out
    }

    /// Parses and authenticates a segment header.
    /// - Throws: `.wrongKey` when the header was sealed under another key,
    ///   `.corrupt` for any other damage (naming the path, offset 0).
    static func decodeSegmentHeader(_ bytes: [UInt8], path: String, key: SymmetricKey) throws -> SegmentHeader {
        guard bytes.count >= segmentHeaderSize else {
            throw JournalError.corrupt("segment header is \(bytes.count) bytes, expected \(segmentHeaderSize)", path: path, offset: 0, seq: nil)
        }
        guard Array(bytes[0..<8]) == segmentMagic else {
            throw JournalError.corrupt("not a journal segment (bad magic)", path: path, offset: 0, seq: nil)
        }
        let plain = Array(bytes[0..<segmentHeaderPlainSize])
        let stored = Array(bytes[16..<24])
        do {
            _ = try AES.GCM.open(Array(bytes[segmentHeaderPlainSize..<segmentHeaderSize]), using: key, authenticating: segmentAADLabel + plain)
        } catch {
            let ours = fingerprint(of: key)
            if stored != ours {
                throw JournalError(.wrongKey, "journal key does not match \(path): it was written with key fingerprint \(stored.hexString), the given key has fingerprint \(ours.hexString)", path: path, offset: 0)
            }
            throw JournalError.corrupt("segment header fails authentication", path: path, offset: 0, seq: nil)
        }
        return SegmentHeader(index: read(UInt64.self, bytes, at: 8), fingerprint: stored, firstSeq: read(UInt64.self, bytes, at: 24), prevHash: Array(bytes[32..<64]))
    }

    // MARK: records

    static func recordAAD(seq: UInt64, time: Int64, prevHash: [UInt8]) -> [UInt8] {
        var aad = recordAADLabel
        aad.reserveCapacity(recordAADLabel.count + 48)
        put(seq, into: &aad)
        put(time, into: &aad)
        aad.append(contentsOf: prevHash)
        return aad
    }

    static func chainHash(prevHash: [UInt8], stored: ArraySlice<UInt8>) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(prevHash)
        hasher.update(stored)
        return hasher.finalize()
    }

    /// Seals one record; appends its stored bytes to `out` and returns its chain hash.
    static func encodeRecord(seq: UInt64, time: Int64, payload: [UInt8], prevHash: [UInt8], key: SymmetricKey, into out: inout [UInt8]) -> [UInt8] {
        let sealed = AES.GCM.seal(payload, using: key, authenticating: recordAAD(seq: seq, time: time, prevHash: prevHash))
        let start = out.count
        out.append(contentsOf: recordMagic)
        put(UInt32(sealed.count), into: &out)
        put(seq, into: &out)
        put(time, into: &out)
        put(CRC32C.checksum(out[start..<(start + 24)]), into: &out)
        out.append(contentsOf: sealed)
        return chainHash(prevHash: prevHash, stored: out[start...])
    }

    // MARK: snapshots

    static func encodeSnapshot(_ state: [UInt8], at position: JournalPosition, key: SymmetricKey) -> [UInt8] {
        var out = snapshotMagic
        put(position.seq, into: &out)
        out.append(contentsOf: position.hash)
        out.append(contentsOf: fingerprint(of: key))
        out.append(contentsOf: AES.GCM.seal(state, using: key, authenticating: snapshotAADLabel + out))
        return out
    }

    /// Parses and decrypts a snapshot file's bytes.
    /// - Throws: `.wrongKey` or `.corrupt`, naming `path`.
    package static func decodeSnapshot(_ bytes: [UInt8], path: String, key: SymmetricKey) throws -> JournalSnapshot {
        guard bytes.count >= snapshotHeaderSize + AES.GCM.overhead, Array(bytes[0..<8]) == snapshotMagic else {
            throw JournalError.corrupt("not a journal snapshot (bad magic or too short)", path: path, offset: 0, seq: nil)
        }
        let header = Array(bytes[0..<snapshotHeaderSize])
        let seq = read(UInt64.self, bytes, at: 8)
        let state: [UInt8]
        do {
            // One opener, reading the file's bytes in place (a snapshot can be hundreds of MiB).
            state = try AES.GCM.Opener(key: key).open(bytes[snapshotHeaderSize...], authenticating: snapshotAADLabel + header)
        } catch {
            let stored = Array(bytes[48..<56])
            let ours = fingerprint(of: key)
            if stored != ours {
                throw JournalError(.wrongKey, "journal key does not match \(path): it was written with key fingerprint \(stored.hexString), the given key has fingerprint \(ours.hexString)", path: path, offset: 0)
            }
            throw JournalError.corrupt("snapshot fails authentication", path: path, offset: 0, seq: seq)
        }
        if let nameSeq = snapshotSeq(fromName: String(path.split(separator: "/").last ?? "")), nameSeq != seq {
            throw JournalError.corrupt("snapshot file name says seq \(nameSeq) but its header says seq \(seq)", path: path, offset: 8, seq: seq)
        }
        return JournalSnapshot(position: JournalPosition(seq: seq, hash: Array(bytes[16..<48])), state: state)
    }
}
