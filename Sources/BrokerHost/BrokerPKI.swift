import Engine
import Foundation
import Journal
import TLS

import POSIX

/// The broker's development PKI under `certs/`: CA, server certificate, the
/// first admin's client certificate and the data-encryption key. Made with
/// the OpenSSL API (never the `openssl` binary); private keys are mode 0600.
public struct BrokerPKI: Sendable {
    public let directory: String

    public var caCertificatePath: String { path("ca.pem") }
    public var caKeyPath: String { path("ca-key.pem") }
    public var serverCertificatePath: String { path("server.pem") }
    public var serverKeyPath: String { path("server-key.pem") }
    public var adminCertificatePath: String { path("admin.pem") }
    public var adminKeyPath: String { path("admin-key.pem") }
    /// The journal's AES-256 key, outside the data directory.
    public var dataKeyPath: String { path("data.key") }
    /// The key of the identifier hashes for repeat detection (HMAC-SHA-256), beside the data key.
    public var identifierKeyPath: String { path("identifier.key") }
    /// The per-case content keys (SPEC §11.7), sealed under the data key: beside it, outside the
    /// data directory, so that destroying one leaves nothing in `data/` that can open that case.
    public var contentKeyStorePath: String { path("content-keys") }
    /// The journal's head anchor (`JournalAnchor`): beside the data key, outside
    /// the data directory, so removing records or segments from `data/` cannot
    /// also remove the evidence of how far the journal reached.
    public var journalAnchorPath: String { path("journal-anchor") }

    /// Validity of the CA.
    public static let caValidityDays = 3650
    /// Server certificates live 90 days (Mozilla's modern profile) and are renewed under 30.
    public static let serverValidityDays = 90
    public static let serverRenewalThresholdDays = 30
    /// The bootstrap admin certificate.
    public static let adminValidityDays = 365
    public static let serverDNSNames = ["localhost"]
    public static let serverIPAddresses = ["127.0.0.1", "::1"]

    public init(directory: String) { self.directory = directory }

    private func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }

    /// What `initialize` did.
    public struct InitReport: Sendable {
        public var created: [String] = []
        public var kept: [String] = []
    }

    /// Creates whatever is absent; never touches what exists.
    /// - Throws: `BrokerSetupError` naming the file when something exists but cannot be used,
    ///   or a file cannot be written.
    @discardableResult
    public func initialize(now: Date = Date()) throws -> InitReport {
        var report = InitReport()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let ca: CertificateAuthority
        if exists(caCertificatePath) || exists(caKeyPath) {
            ca = try loadCA()
            report.kept.append(caCertificatePath)
        } else {
            ca = try CertificateAuthority.create(commonName: "marac-broker CA", organization: "marac-broker", validFor: Self.caValidityDays, now: now)
            try writePrivate(caKeyPath, try ca.privateKeyPEM())
            try writePublic(caCertificatePath, ca.certificate.pemBytes)
            report.created.append(caCertificatePath)
        }
        if exists(serverCertificatePath) {
            report.kept.append(serverCertificatePath)
        } else {
            try issueServerCertificate(ca: ca, now: now)
            report.created.append(serverCertificatePath)
        }
        if exists(adminCertificatePath) {
            report.kept.append(adminCertificatePath)
        } else {
            let key = try PrivateKey.generateECDSA()
            let cert = try ca.issue(for: key, commonName: "admin", organization: "community-safety", usage: .client,
                                    notBefore: now.addingTimeInterval(-300), notAfter: now.addingTimeInterval(Double(Self.adminValidityDays) * 86_400))
            try writePrivate(adminKeyPath, try key.pemBytes())
            try writePublic(adminCertificatePath, cert.pemBytes)
            report.created.append(adminCertificatePath)
        }
        for keyPath in [dataKeyPath, identifierKeyPath] {
            if exists(keyPath) {
                report.kept.append(keyPath)
            } else {
                _ = try KeyFile.create(at: keyPath)
                report.created.append(keyPath)
            }
        }
        return report
    }

    /// Whether nothing of the PKI exists yet (a fresh directory).
    public var isEmpty: Bool {
        ![caCertificatePath, caKeyPath, serverCertificatePath, adminCertificatePath, dataKeyPath].contains(where: exists)
    }

    /// The private keys whose mode is checked at start (SPEC §10).
    public var privateKeyPaths: [String] { [caKeyPath, serverKeyPath, dataKeyPath, identifierKeyPath] }

    /// Refuses to go on when the CA key, the server key or the data key can be
    /// read (or written) by group or others: whoever can read the CA key can
    /// mint credentials, and the data key opens the journal. Missing files are
    /// left to the code that loads them.
    /// - Throws: `BrokerSetupError` naming the file, its mode and the fix (`chmod 600 FILE`).
    public func checkPrivateKeyModes() throws {
        for path in privateKeyPaths {
            let info: stat
            do {
                info = try FileSystem.status(of: path)
            } catch let error as SystemError where error.errno == ENOENT {
                continue
            } catch {
                throw BrokerSetupError(file: path, message: "cannot check the private key's mode: \(error)")
            }
            let mode = UInt32(info.st_mode) & 0o777
            guard mode & 0o077 == 0 else {
                let octal = String(mode, radix: 8)
                throw BrokerSetupError(file: path, message: "private key has mode \(String(repeating: "0", count: max(0, 4 - octal.count)) + octal), "
                                       + "open to group or others; the broker will not start until only its owner can read it: chmod 600 \(path)")
            }
        }
    }

    /// The CA, for signing.
    public func loadCA() throws -> CertificateAuthority {
        do { return try CertificateAuthority(certificateFile: caCertificatePath, keyFile: caKeyPath) } catch {
            throw BrokerSetupError(file: caCertificatePath, message: "cannot load the CA: \(error)")
        }
    }

    /// Renews the server certificate from the CA when fewer than 30 days remain (or it is missing).
    /// - Returns: true when a new certificate was written.
    @discardableResult
    public func renewServerCertificateIfNeeded(now: Date = Date()) throws -> Bool {
        if exists(serverCertificatePath), exists(serverKeyPath),
           let current = try? Certificate(pemFile: serverCertificatePath),
           current.notAfter.timeIntervalSince(now) > Double(Self.serverRenewalThresholdDays) * 86_400 {
            return false
        }
        try issueServerCertificate(ca: try loadCA(), now: now)
        return true
    }

    private func issueServerCertificate(ca: CertificateAuthority, now: Date) throws {
        let key = try PrivateKey.generateECDSA()
        let cert = try ca.issue(for: key, commonName: "localhost", organization: "marac-broker",
                                usage: .server(dnsNames: Self.serverDNSNames, ipAddresses: Self.serverIPAddresses),
                                notBefore: now.addingTimeInterval(-300), notAfter: now.addingTimeInterval(Double(Self.serverValidityDays) * 86_400))
        // Key first, then certificate, each atomically: a crash never pairs a new certificate with an old key.
        try writePrivate(serverKeyPath, try key.pemBytes(), replacing: true)
        try writePublic(serverCertificatePath, cert.pemBytes, replacing: true)
    }

    /// A server TLS context from the files on disk.
    public func serverContext(minimumVersion: TLSConfiguration.ProtocolVersion,
                              verifier: (@Sendable (PeerCertificate) -> PeerRefusal?)?) throws -> TLSContext {
        do {
            var config = TLSConfiguration.server(certificate: try Certificate(pemFile: serverCertificatePath),
                                                 privateKey: try PrivateKey(pemFile: serverKeyPath),
                                                 clientCA: try Certificate(pemFile: caCertificatePath),
                                                 minimumVersion: minimumVersion)
            config.peerVerifier = verifier
            return try TLSContext(configuration: config)
        } catch {
            throw BrokerSetupError(file: serverCertificatePath, message: "cannot build the server TLS context: \(error)")
        }
    }

    private func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    private func writePublic(_ path: String, _ bytes: [UInt8], replacing: Bool = false) throws {
        try write(bytes, to: path, mode: 0o644, replacing: replacing)
    }

    private func writePrivate(_ path: String, _ bytes: [UInt8], replacing: Bool = false) throws {
        try write(bytes, to: path, mode: 0o600, replacing: replacing)
    }

    /// Atomic, durable, with the mode from the first byte (`AtomicFile`).
    /// Without `replacing`, an existing file is an error (never overwritten).
    /// - Throws: `BrokerSetupError` naming the file.
    private func write(_ bytes: [UInt8], to path: String, mode: mode_t, replacing: Bool) throws {
        do {
            try AtomicFile.write(bytes, to: path, mode: mode, existing: replacing ? .replace : .refuse)
        } catch let error as SystemError where error.errno == EEXIST && !replacing {
            throw BrokerSetupError(file: path, message: "already exists; refusing to overwrite")
        } catch let error as SystemError {
            throw BrokerSetupError(file: path, message: "cannot store: \(error)")
        }
    }
}
