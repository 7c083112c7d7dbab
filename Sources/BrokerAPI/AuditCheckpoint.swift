import Crypto
import Foundation
import HTTPServer
import Journal
import TLS
import Wire

/// `GET /v1/audit/checkpoint`: the journal's durable head, signed by the broker
/// CA, for auditors to keep outside the broker. `maracd audit verify
/// --checkpoint FILE` later proves the journal still holds that record.
///
/// The signature is ECDSA P-256 with SHA-256 (DER, base64) by the CA key over
/// `canonicalBytes`: the UTF-8 text
/// `"marac-audit-checkpoint-v1\nseq <decimal>\nhash <64 lower-case hex>\nat <RFC 3339 UTC>\n"`,
/// every value exactly as it appears in the JSON. Anyone with `ca.pem` can check it
/// (`openssl dgst -sha256 -verify <(openssl x509 -in ca.pem -pubkey -noout) -signature sig.der msg`).
public struct AuditCheckpoint: Codable, Sendable, Equatable {
    /// Sequence number of the last durable record.
    public let seq: UInt64
    /// Its chain hash, 64 lower-case hex digits.
    public let hash: String
    /// When the checkpoint was signed, RFC 3339 UTC (whole seconds).
    public let at: String
    /// Base64 of the DER ECDSA signature over `canonicalBytes`.
    public let signature: String

    /// The label that starts the signed text (and versions it).
    public static let label = "marac-audit-checkpoint-v1"

    /// The bytes the CA signs for `seq`, `hash` and `at`.
    public static func canonicalBytes(seq: UInt64, hash: String, at: String) -> [UInt8] {
        Array("\(label)\nseq \(seq)\nhash \(hash)\nat \(at)\n".utf8)
    }

    /// Signs `position` at `date` with the CA key.
    /// - Throws: `TLSError` if the CA cannot sign.
    public static func make(position: JournalPosition, at date: Date, signedBy ca: CertificateAuthority) throws -> AuditCheckpoint {
        let hash = position.hash.hexString
        let at = RFC3339.format(date)
        let signature = try ca.sign(canonicalBytes(seq: position.seq, hash: hash, at: at))
        return AuditCheckpoint(seq: position.seq, hash: hash, at: at, signature: Data(signature).base64EncodedString())
    }

    /// A checkpoint that cannot be trusted or read; the message says which.
    public struct Invalid: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// Parses a checkpoint (the JSON the endpoint answers) and checks its signature under `ca`.
    /// - Returns: the position the journal must contain.
    /// - Throws: `Invalid` when the JSON is not a checkpoint, the hash is not 64 hex digits,
    ///   or the signature does not verify under the CA certificate.
    public static func verified(json: [UInt8], ca: Certificate) throws -> JournalPosition {
        let checkpoint: AuditCheckpoint
        do { checkpoint = try JSONDecoder().decode(AuditCheckpoint.self, from: Data(json)) } catch {
            throw Invalid(description: "not a checkpoint (expected JSON {seq, hash, at, signature}): \(error)")
        }
        guard checkpoint.hash.utf8.count == 64, checkpoint.hash == checkpoint.hash.lowercased(), let hash = [UInt8](hex: checkpoint.hash) else {
            throw Invalid(description: "checkpoint hash must be 64 lower-case hex digits, got \(checkpoint.hash.prefix(80))")
        }
        guard let signature = Data(base64Encoded: checkpoint.signature),
              ca.isValidSignature(Array(signature), for: canonicalBytes(seq: checkpoint.seq, hash: checkpoint.hash, at: checkpoint.at)) else {
            throw Invalid(description: "checkpoint signature does not verify under the broker CA \(ca.subject) (serial \(ca.serial)): the checkpoint was altered or not signed by this broker")
        }
        return JournalPosition(seq: checkpoint.seq, hash: hash)
    }

}
