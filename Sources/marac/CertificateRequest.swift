import Foundation
import MaracClient
import TLS

/// `marac cert request`: the private key is made here, written mode 0600 and
/// never sent; only a CSR goes to the broker, which signs it for the
/// registered principal. Optionally also a password-protected PKCS#12 for a browser.
enum CertificateRequest {
    static let passwordVariable = "MARAC_P12_PASSWORD"

    static let spec = CommandSpec(
        path: ["cert", "request"],
        options: [.init(name: "--principal", value: "ID", help: "the registered principal the certificate is for", required: true),
                  .init(name: "--out", value: "DIR", help: "where to write ID-key.pem (0600), ID.pem, ca.pem and a profile config.json", required: true),
                  .init(name: "--validity-days", value: "N", help: "ask for a shorter or longer validity than the broker's default"),
                  .init(name: "--p12", value: nil, help: "also write ID.p12 (PKCS#12, password-protected) to import into a browser"),
                  .init(name: "--p12-password-file", value: "FILE", help: "the PKCS#12 password (first line); else \(passwordVariable), else a prompt"),
                  .init(name: "--force", value: nil, help: "replace an existing key file in DIR")],
        summary: "make a key and CSR here, have the broker sign it, write the certificate (and a PKCS#12)",
        details: """
            The new key never leaves this machine. Hand DIR to its holder over a trusted channel; DIR/config.json is a
            marac profile (paths relative to DIR): copy DIR to ~/.config/marac, or set MARAC_CONFIG=DIR/config.json.
            """,
        role: AdminCommands.role,
        example: "marac cert request --principal police-spoc --out ./police-spoc --p12"
    ) { run in
        try issue(run)
    }

    static func issue(_ run: Invocation) throws {
        let principal = try run.required("--principal")
        let directory = try run.required("--out")
        let validity = try run.option("--validity-days").map { text -> Int in
            guard let days = Int(text), days > 0 else { throw UsageError("--validity-days: must be a positive whole number, got \(text)", command: run.spec) }
            return days
        }
        let password = run.flag("--p12") ? try p12Password(run) : nil
        let keyPath = "\(directory)/\(principal)-key.pem", certPath = "\(directory)/\(principal).pem"
        let caPath = "\(directory)/ca.pem", p12Path = "\(directory)/\(principal).p12", profilePath = "\(directory)/config.json"
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw UsageError("--out: cannot create \(directory): \(error.localizedDescription)", command: run.spec)
        }
        if FileManager.default.fileExists(atPath: keyPath) {
            guard run.flag("--force") else { throw UsageError("\(keyPath) already exists; use --force to replace it", command: run.spec) }
            try? FileManager.default.removeItem(atPath: keyPath)
        }
        _ = try run.client()    // settings and credential problems surface before a key is made

        let key = try PrivateKey.generateECDSA(curve: "P-256")
        let csr = try CertificateSigningRequest.create(key: key, commonName: principal, organization: nil)
        try writePrivate(try key.pemBytes(), to: keyPath)
        var body: [String: JSON] = ["principal": .string(principal), "csr": .string(String(decoding: csr.pemBytes, as: UTF8.self))]
        if let validity { body["validityDays"] = .number(Double(validity)) }
        let answer: BrokerAnswer
        do { answer = try run.call("POST", "/v1/credentials", body: .object(body)) } catch {
            try? FileManager.default.removeItem(atPath: keyPath)   // a key without a certificate is only a liability
            throw error
        }
        let issued = answer.json
        guard let certificatePEM = issued["certificate"].string, let caPEM = issued["caCertificate"].string,
              let certificate = try? Certificate(pem: Array(certificatePEM.utf8)), certificate.matches(key) else {
            throw ClientError(.protocolViolation, "the broker's answer holds no certificate for the key just made")
        }
        try writePublic(Array(certificatePEM.utf8), to: certPath)
        try writePublic(Array(caPEM.utf8), to: caPath)
        // A profile with paths relative to DIR: the holder copies DIR to ~/.config/marac, or points MARAC_CONFIG at it.
        let profile = JSON.object(["url": .string(try run.settings().url.value), "cert": .string("\(principal).pem"),
                                   "key": .string("\(principal)-key.pem"), "ca": .string("ca.pem")])
        try writePublic(Array((profile.description + "\n").utf8), to: profilePath)
        var written = [(keyPath, "private key (0600; never sent)"), (certPath, "certificate"), (caPath, "the broker's CA"),
                       (profilePath, "marac profile for the holder")]
        if let password {
            let ca = try? Certificate(pem: Array(caPEM.utf8))
            let p12 = try PKCS12.export(key: key, certificate: certificate, ca: ca, friendlyName: "\(principal) (MARAC)", password: password)
            try writePrivate(p12, to: p12Path, replacing: true)
            written.append((p12Path, "PKCS#12 for a browser (0600, password-protected)"))
        }
        if run.json { run.output.raw(answer.response.body); return }
        run.output.line("Certificate \(issued["serial"].displayText) issued to \(principal) (\(issued["agency"].displayText)), valid until \(TimeText.utc(certificate.notAfter)).\n")
        run.output.table(["file", "what"], written.map { [Output.Cell($0.0), Output.Cell($0.1)] })
        run.output.line("\nThe holder copies \(directory) to ~/.config/marac (or sets MARAC_CONFIG=\(profilePath)) and runs: marac whoami")
    }

    /// The PKCS#12 password from a file, the environment, or the terminal (asked twice).
    static func p12Password(_ run: Invocation) throws -> String {
        if let file = run.option("--p12-password-file") {
            let text = String(decoding: try run.readFile(file, for: "--p12-password-file"), as: UTF8.self)
            let password = text.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
            guard !password.isEmpty else { throw UsageError("--p12-password-file: \(file) is empty", command: run.spec) }
            return password
        }
        if let password = run.environment[passwordVariable], !password.isEmpty { return password }
        guard isatty(STDIN_FILENO) == 1, let first = getpass("PKCS#12 password: ").map({ String(cString: $0) }), !first.isEmpty else {
            throw UsageError("--p12 needs a password: --p12-password-file FILE, \(passwordVariable), or run it in a terminal", command: run.spec)
        }
        guard let second = getpass("Again: ").map({ String(cString: $0) }), second == first else {
            throw UsageError("the two passwords differ", command: run.spec)
        }
        return first
    }

    /// Creates `path` with mode 0600 from the start, so the secret is never readable by others, even briefly.
    static func writePrivate(_ bytes: [UInt8], to path: String, replacing: Bool = false) throws {
        if replacing { unlink(path) }
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw CommandFailure(exitCode: Marac.ExitCode.usage, message: "cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { throw CommandFailure(exitCode: Marac.ExitCode.usage, message: "cannot write \(path): \(String(cString: strerror(errno)))") }
            offset += written
        }
        guard fsync(fd) == 0 else { throw CommandFailure(exitCode: Marac.ExitCode.usage, message: "cannot sync \(path): \(String(cString: strerror(errno)))") }
    }

    static func writePublic(_ bytes: [UInt8], to path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes), attributes: [.posixPermissions: 0o644]) else {
            throw CommandFailure(exitCode: Marac.ExitCode.usage, message: "cannot write \(path)")
        }
    }
}
