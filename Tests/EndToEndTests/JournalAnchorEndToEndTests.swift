@_spi(Testing) import BrokerAPI
@_spi(Testing) import BrokerHost
import Crypto
import Foundation
import Journal
import MaracClient
import Testing
import TestSupport
import TLS

/// SPEC §10 "The journal's end is anchored", with a real broker over TLS, real
/// files and the built `maracd` binary: every cut from the journal's end is
/// refused by start and by `maracd audit verify`, naming both positions.
@Suite(.serialized) struct JournalAnchorEndToEndTests {
    static let maracd = BuiltProducts.path("maracd")

    /// A broker with small journal segments that has acknowledged `writes` agency creations (more, with
    /// `untilSegments`, until there are that many segments and the last holds at least 6 records), then stopped cleanly.
    static func stoppedBroker(writes: Int, untilSegments: Int? = nil) async throws -> TestBroker {
        let broker = try TestBroker { $0.journalSegmentSize = 4096 }
        let admin = try broker.adminClient()
        func enough(_ i: Int) throws -> Bool {
            guard i >= writes else { return false }
            guard let untilSegments else { return true }
            let segments = try Self.segments(broker.directory.path("data"))
            guard i < 200, segments.count >= untilSegments else { return i >= 200 }
            return Self.layout(try Self.bytes(segments.last!)).boundaries.count > 6
        }
        var i = 0
        while try !enough(i) {
            defer { i += 1 }
            let body = try JSONSerialization.data(withJSONObject: ["id": "agency\(i)", "name": "Agency \(i)", "kind": "core"])
            let response = try await admin.send("POST", "/v1/agencies", body: Array(body))
            #expect(response.status == 201, "\(response.text)")
        }
        await broker.stop()
        return broker
    }

    static func segments(_ data: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: data).filter { $0.hasSuffix(".seg") }.sorted().map { data + "/" + $0 }
    }

    static func bytes(_ path: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: path))) }
    static func write(_ path: String, _ bytes: [UInt8]) throws { try Data(bytes).write(to: URL(fileURLWithPath: path)) }
    static func u32(_ b: [UInt8], _ at: Int) -> Int { Int(b[at]) | Int(b[at + 1]) << 8 | Int(b[at + 2]) << 16 | Int(b[at + 3]) << 24 }
    static func u64(_ b: [UInt8], _ at: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(b[at + $1]) << (8 * UInt64($1)) } }

    /// The segment's first seq (header bytes 24..<32) and its record boundaries (92-byte header, 28-byte record headers).
    static func layout(_ segment: [UInt8]) -> (firstSeq: UInt64, boundaries: [Int]) {
        var offsets = [92]
        var offset = 92
        while offset + 28 <= segment.count {
            offset += 28 + u32(segment, offset + 4)
            offsets.append(offset)
        }
        return (u64(segment, 24), offsets)
    }

    static func anchorSeq(_ broker: TestBroker) throws -> UInt64? {
        try JournalAnchor.read(path: broker.pki.journalAnchorPath, key: try KeyFile.load(from: broker.pki.dataKeyPath))?.position.seq
    }

    static func verify(_ data: String, _ certs: String, _ extra: [String] = []) async throws -> ToolResult {
        try await Tool.runAsync(maracd, ["audit", "verify", "--data", data, "--certs", certs] + extra)
    }

    /// `maracd serve` on `data`: must exit 1 without starting (one that starts is killed after 30 s); returns its stderr.
    static func serveRefuses(_ data: String, _ certs: String) async throws -> String {
        let serve = try await Tool.runAsync("timeout", ["-s", "KILL", "30", maracd, "serve", "--data", data, "--certs", certs,
                                                        "--config", TestBroker.repositoryConfig, "--listen", "127.0.0.1:0"])
        #expect(serve.status == 1, "maracd serve should refuse to start: \(serve.stderr)")
        #expect(!serve.stderr.contains("\"event\":\"started\""))
        return serve.stderr
    }

    @Test func startAndAuditVerifyDetectEveryCutFromTheJournalsEnd() async throws {
        let broker = try await Self.stoppedBroker(writes: 20, untilSegments: 3)
        let data = broker.directory.path("data"), certs = broker.directory.path("certs")
        let segments = try Self.segments(data)
        #expect(segments.count >= 3, "\(segments)")
        let last = try Self.bytes(segments.last!)
        let (firstSeq, boundaries) = Self.layout(last)
        let head = firstSeq - 1 + UInt64(boundaries.count - 1)
        #expect(try Self.anchorSeq(broker) == head, "a clean stop anchors the last record")
        let intact = try await Self.verify(data, certs)
        #expect(intact.status == 0 && intact.stdout.contains("anchor: seq \(head)"), "\(intact.stdout)\(intact.stderr)")

        let scratch = broker.directory.path("cut")
        var cuts: [(name: String, end: UInt64, damage: (String) throws -> Void)] = []
        let lastName = (segments.last! as NSString).lastPathComponent
        for (index, offset) in boundaries.dropLast().enumerated() {
            cuts.append(("at record boundary \(offset)", firstSeq - 1 + UInt64(index), { try Self.write("\($0)/\(lastName)", Array(last.prefix(offset))) }))
        }
        cuts.append(("inside the last record", head - 1, { try Self.write("\($0)/\(lastName)", Array(last.prefix(boundaries[boundaries.count - 2] + 40))) }))
        for size in [0, 7, 91] {
            cuts.append(("last segment cut to \(size) bytes", firstSeq - 1, { try Self.write("\($0)/\(lastName)", Array(last.prefix(size))) }))
        }
        for removed in 1...segments.count {
            let kept = segments.dropLast(removed)
            let end = try kept.last.map { path -> UInt64 in
                let (first, offsets) = Self.layout(try Self.bytes(path))
                return first - 1 + UInt64(offsets.count - 1)
            } ?? 0
            let gone = segments.suffix(removed).map { ($0 as NSString).lastPathComponent }
            cuts.append(("\(removed) segments removed", end, { dir in for name in gone { try FileManager.default.removeItem(atPath: "\(dir)/\(name)") } }))
        }
        for cut in cuts {
            try? FileManager.default.removeItem(atPath: scratch)
            try FileManager.default.copyItem(atPath: data, toPath: scratch)
            try cut.damage(scratch)
            let before = try Self.segments(scratch).map { try Self.bytes($0) }
            let expected = "journal truncated: anchor at \(head), journal ends at \(cut.end)"
            let verify = try await Self.verify(scratch, certs)
            #expect(verify.status == 1 && verify.stdout.contains(expected), "\(cut.name): \(verify.stdout) \(verify.stderr)")
            let serve = try await Self.serveRefuses(scratch, certs)
            #expect(serve.contains(expected), "\(cut.name): \(serve)")
            #expect(try Self.segments(scratch).map { try Self.bytes($0) } == before, "\(cut.name): the refused start cut or removed nothing")
        }
        #expect(boundaries.count > 6 && cuts.count == boundaries.count + 3 + segments.count, "\(cuts.count) cuts")
    }

    @Test func aTornRecordAfterTheLastAnchorUpdateIsCutWithALogLineAndStarts() async throws {
        let broker = try await Self.stoppedBroker(writes: 3)
        let data = broker.directory.path("data"), certs = broker.directory.path("certs")
        let segment = try Self.segments(data).last!
        try Self.write(segment, try Self.bytes(segment) + [UInt8](repeating: 0, count: 17))
        let verify = try await Self.verify(data, certs)
        #expect(verify.status == 0 && verify.stdout.contains("torn final record"), "\(verify.stdout) \(verify.stderr)")
        try await broker.restart()
        #expect(broker.logLines.all.contains { $0.contains("cut torn final record") })
        await broker.stop()
    }

    @Test func acceptTruncationRecordsTheLossInTheAuditTrailAndReanchors() async throws {
        let broker = try await Self.stoppedBroker(writes: 6)
        let data = broker.directory.path("data"), certs = broker.directory.path("certs")
        let flags = ["--data", data, "--certs", certs, "--config", TestBroker.repositoryConfig]
        let nothing = try await Tool.runAsync(Self.maracd, ["journal", "accept-truncation"] + flags)
        #expect(nothing.status == 1 && nothing.stderr.contains("nothing to accept"), "\(nothing.stderr)")

        let segment = try Self.segments(data).last!
        let bytes = try Self.bytes(segment)
        let (firstSeq, boundaries) = Self.layout(bytes)
        let head = firstSeq - 1 + UInt64(boundaries.count - 1)
        try Self.write(segment, Array(bytes.prefix(boundaries[boundaries.count - 4])))
        let end = head - 3
        let accepted = try await Tool.runAsync(Self.maracd, ["journal", "accept-truncation"] + flags)
        #expect(accepted.status == 0 && accepted.stdout.contains("records \(end + 1)…\(head)"), "\(accepted.stdout) \(accepted.stderr)")
        #expect(try Self.anchorSeq(broker) == end + 1, "anchored at the record of the loss")
        let verify = try await Self.verify(data, certs)
        #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr)")

        try await broker.restart()
        let audit = try await broker.adminClient().send("GET", "/v1/audit?limit=500")
        let records = try #require((try JSONSerialization.jsonObject(with: Data(audit.body)) as? [String: Any])?["records"] as? [[String: Any]])
        let loss = try #require(records.first { $0["action"] as? String == "journal.truncation_accepted" }, "\(audit.text)")
        #expect(loss["seq"] as? Int == Int(end + 1))
        #expect((loss["reason"] as? String)?.contains("journal truncated: anchor at \(head), journal ends at \(end); records \(end + 1)…\(head) were lost") == true, "\(loss)")
        #expect((loss["principal"] as? String)?.hasPrefix("offline-") == true)
        await broker.stop()
    }

    @Test func aMissingAnchorRefusesStartAndAnOldDataDirectoryIsAnchoredExplicitly() async throws {
        let broker = try await Self.stoppedBroker(writes: 2)
        let data = broker.directory.path("data"), certs = broker.directory.path("certs")
        let anchor = broker.pki.journalAnchorPath
        try FileManager.default.removeItem(atPath: anchor)
        let serve = try await Self.serveRefuses(data, certs)
        #expect(serve.contains("journal anchor \(anchor) is missing") && serve.contains("maracd journal anchor --init"), "\(serve)")
        let verify = try await Self.verify(data, certs)
        #expect(verify.status == 1 && verify.stdout.contains("\(anchor) is missing"), "\(verify.stdout)")

        let flags = ["--data", data, "--certs", certs, "--config", TestBroker.repositoryConfig]
        let initialized = try await Tool.runAsync(Self.maracd, ["journal", "anchor", "--init"] + flags)
        #expect(initialized.status == 0, "\(initialized.stdout) \(initialized.stderr)")
        #expect(initialized.stderr.contains("anchor_created"))
        let again = try await Tool.runAsync(Self.maracd, ["journal", "anchor", "--init"] + flags)
        #expect(again.status == 1 && again.stderr.contains("already exists"), "\(again.stderr)")
        #expect(try await Self.verify(data, certs).status == 0)
        try await broker.restart()
        let audit = try await broker.adminClient().send("GET", "/v1/audit?limit=500")
        #expect(audit.text.contains("journal.anchor_created"), "\(audit.text)")
        await broker.stop()
    }

    @Test func theAnchorFollowsAnAcknowledgedWriteWithinASecond() async throws {
        let broker = try TestBroker()
        let admin = try broker.adminClient()
        for i in 0..<3 {
            let body = try JSONSerialization.data(withJSONObject: ["id": "quick\(i)", "name": "Quick \(i)", "kind": "core"])
            #expect(try await admin.send("POST", "/v1/agencies", body: Array(body)).status == 201)
            let acknowledged = ContinuousClock.now
            let health = try JSONSerialization.jsonObject(with: Data(try await admin.send("GET", "/v1/health").body)) as? [String: Any]
            let head = try #require(health?["journalHead"] as? Int)
            #expect(await eventually(timeout: .seconds(3)) { (try? Self.anchorSeq(broker)).flatMap { $0 }.map { $0 >= UInt64(head) } ?? false })
            #expect(ContinuousClock.now - acknowledged < .milliseconds(1600), "anchored within ~1 s of the acknowledgement")
        }
        await broker.stop()
    }

    @Test func aSignedCheckpointRoundTripsAndAForgedOneFails() async throws {
        let broker = try TestBroker()
        let admin = try broker.adminClient()
        let response = try await admin.send("GET", "/v1/audit/checkpoint")
        #expect(response.status == 200, "\(response.text)")
        let checkpoint = try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
        let seq = try #require(checkpoint["seq"] as? Int), hash = try #require(checkpoint["hash"] as? String)
        let at = try #require(checkpoint["at"] as? String), signature = try #require(checkpoint["signature"] as? String)
        for i in 0..<3 {
            let body = try JSONSerialization.data(withJSONObject: ["id": "later\(i)", "name": "Later \(i)", "kind": "core"])
            #expect(try await admin.send("POST", "/v1/agencies", body: Array(body)).status == 201)
        }
        await broker.stop()
        let data = broker.directory.path("data"), certs = broker.directory.path("certs")
        let file = try broker.directory.write("checkpoint.json", response.body)
        let verified = try await Self.verify(data, certs, ["--checkpoint", file])
        #expect(verified.status == 0 && verified.stdout.contains("contains: seq \(seq), hash \(hash)"), "\(verified.stdout) \(verified.stderr)")

        // The signature is checkable with openssl over the documented canonical bytes.
        let message = try broker.directory.write("checkpoint.msg", Array("marac-audit-checkpoint-v1\nseq \(seq)\nhash \(hash)\nat \(at)\n".utf8))
        let der = try broker.directory.write("checkpoint.sig", Array(try #require(Data(base64Encoded: signature))))
        let publicKey = try await Tool.runAsync("openssl", ["x509", "-in", broker.pki.caCertificatePath, "-pubkey", "-noout"])
        let keyFile = try broker.directory.write("ca-pub.pem", Array(publicKey.stdout.utf8))
        let openssl = try await Tool.runAsync("openssl", ["dgst", "-sha256", "-verify", keyFile, "-signature", der, message])
        #expect(openssl.status == 0 && openssl.stdout.contains("Verified OK"), "\(openssl.stdout) \(openssl.stderr)")

        func run(_ name: String, _ object: [String: Any]) async throws -> ToolResult {
            let path = try broker.directory.write(name, Array(try JSONSerialization.data(withJSONObject: object)))
            return try await Self.verify(data, certs, ["--checkpoint", path])
        }
        // Altered fields: the signature no longer verifies.
        let flipped = String(hash.prefix(63)) + (hash.hasSuffix("0") ? "1" : "0")
        for (name, forged) in [("seq", ["seq": seq + 1, "hash": hash, "at": at, "signature": signature] as [String: Any]),
                               ("hash", ["seq": seq, "hash": flipped, "at": at, "signature": signature]),
                               ("at", ["seq": seq, "hash": hash, "at": String(at.dropLast(2)) + (at.hasSuffix("0Z") ? "1Z" : "0Z"), "signature": signature])] {
            let result = try await run("forged-\(name).json", forged)
            #expect(result.status == 1 && result.stderr.contains("signature does not verify"), "\(name): \(result.stdout) \(result.stderr)")
        }
        // Signed by another CA.
        let other = try CertificateAuthority.create(commonName: "other CA", organization: "elsewhere", validFor: 30)
        let foreign = try AuditCheckpoint.make(position: JournalPosition(seq: UInt64(seq), hash: Self.hex(hash)), at: Date(), signedBy: other)
        let foreignResult = try await run("foreign.json", ["seq": foreign.seq, "hash": foreign.hash, "at": foreign.at, "signature": foreign.signature])
        #expect(foreignResult.status == 1 && foreignResult.stderr.contains("signature does not verify"), "\(foreignResult.stderr)")
        // Genuinely signed, but not in this journal: a seq beyond its end, or another hash at that seq.
        let ca = try CertificateAuthority(certificateFile: broker.pki.caCertificatePath, keyFile: broker.pki.caKeyPath)
        let beyond = try AuditCheckpoint.make(position: JournalPosition(seq: 10_000, hash: Self.hex(hash)), at: Date(), signedBy: ca)
        let beyondResult = try await run("beyond.json", ["seq": beyond.seq, "hash": beyond.hash, "at": beyond.at, "signature": beyond.signature])
        #expect(beyondResult.status == 1 && beyondResult.stdout.contains("does not contain seq 10000"), "\(beyondResult.stdout) \(beyondResult.stderr)")
        let other2 = try AuditCheckpoint.make(position: JournalPosition(seq: UInt64(seq), hash: Self.hex(flipped)), at: Date(), signedBy: ca)
        let otherResult = try await run("otherhash.json", ["seq": other2.seq, "hash": other2.hash, "at": other2.at, "signature": other2.signature])
        #expect(otherResult.status == 1 && otherResult.stdout.contains("does not contain seq \(seq) with hash \(flipped)"), "\(otherResult.stdout) \(otherResult.stderr)")
    }

    static func hex(_ text: String) -> [UInt8] {
        guard let bytes = [UInt8](hex: text) else { fatalError("not hex: \(text)") }
        return bytes
    }
}
