import Foundation
import MaracClient
import TLS
import Wire

import POSIX

/// `marac cert request`: the private key is made here, written mode 0600 and
/// never sent; only a CSR goes to the broker, which signs it for the
/// registered principal. Optionally also a password-protected PKCS#12 for a browser.
enum CertificateRequest {
    static let passwordVariable = "MARAC_P12_PASSWORD"

    /// The options `cert request` and `cert renew` share: validity and the PKCS#12 for a browser.
    static let keyOptions: [CommandSpec.Option] = [
        .init(name: "--validity-days", value: "N", help: "ask for a shorter or longer validity than the broker's default"),
        .init(name: "--p12", value: nil, help: "also write ID.p12 (PKCS#12, password-protected) to import into a browser"),
        .init(name: "--p12-password-file", value: "FILE", help: "the PKCS#12 password (first line); else \(passwordVariable), else a prompt"),
    ]

    static let spec = CommandSpec(
        path: ["cert", "request"],
        options: [.init(name: "--principal", value: "ID", help: "the registered principal the certificate is for", required: true),
                  .init(name: "--out", value: "DIR", help: "where to write ID-key.pem (0600), ID.pem, ca.pem and a profile config.json", required: true)]
            + keyOptions + [
                  .init(name: "--csr-only", value: nil, help: "holder: only make ID-key.pem and ID.csr in DIR (no broker needed); send ID.csr to an administrator"),
                  .init(name: "--csr", value: "FILE", help: "administrator: have the holder's CSR signed instead of making a key here"),
                  .init(name: "--force", value: nil, help: "replace an existing key file in DIR")],
        summary: "make a key and CSR here, have the broker sign it, write the certificate (and a PKCS#12)",
        details: """
            The new key never leaves the machine it is made on, and is written mode 0600 before anything is sent.
            DIR/config.json is a marac profile (paths relative to DIR): copy DIR to ~/.config/marac, or set
            MARAC_CONFIG=DIR/config.json. When the holder's key must never exist anywhere else, split the steps:
              holder:         marac cert request --principal police-spoc --out ~/.config/marac --csr-only
              administrator:  marac cert request --principal police-spoc --out police-spoc --csr police-spoc.csr
            and the holder copies police-spoc/{police-spoc.pem,ca.pem,config.json} next to their key.
            """,
        role: AdminCommands.role,
        example: "marac cert request --principal police-spoc --out ./police-spoc --p12"
    ) { run in
        try issue(run)
    }

    /// `marac cert renew`: the holder's own renewal, keeping the approval (SPEC §10).
    static let renewSpec = CommandSpec(
        path: ["cert", "renew"],
        options: [.init(name: "--out", value: "DIR", help: "where to write the new ID-key.pem (0600), ID.pem, ca.pem and config.json (not the current profile's directory)", required: true),
                  .init(name: "--validity-days", value: "N", help: "ask for a shorter or longer validity than the broker's default"),
                  .init(name: "--p12", value: nil, help: "also write ID.p12 (PKCS#12, password-protected) to import into a browser"),
                  .init(name: "--p12-password-file", value: "FILE", help: "the PKCS#12 password (first line); else \(passwordVariable), else a prompt"),
                  .init(name: "--force", value: nil, help: "replace an existing key file in DIR")],
        summary: "renew your own certificate within 60 days of its expiry: a new key made here, the approval kept",
        details: """
            Signed in with your current certificate, asks the broker to sign a CSR for a new key made here. The new
            certificate keeps your current one's approval, so no coordinator has to approve it again; the current one
            stays valid until it expires or is revoked. Refused earlier than 60 days before expiry.
            """,
        role: "Any certificate holder",
        example: "marac cert renew --out ~/.config/marac-new"
    ) { run in
        try issue(run, renewing: true)
    }

    /// The files `cert request` writes for one principal.
    struct Files {
        let directory: String
        let principal: String
        var key: String { "\(directory)/\(principal)-key.pem" }
        var certificate: String { "\(directory)/\(principal).pem" }
        var csr: String { "\(directory)/\(principal).csr" }
        var ca: String { "\(directory)/ca.pem" }
        var p12: String { "\(directory)/\(principal).p12" }
        var profile: String { "\(directory)/config.json" }
    }

    static func issue(_ run: Invocation, renewing: Bool = false) throws {
        let principal = renewing ? try ownPrincipal(run) : try run.required("--principal")
        let files = Files(directory: try run.required("--out"), principal: principal)
        let csrFile = run.option("--csr")
        if run.flag("--csr-only") && (csrFile != nil || run.flag("--p12")) {
            throw UsageError("--csr-only makes a key and a CSR and nothing else; it does not go with --csr or --p12", command: run.spec)
        }
        if csrFile != nil && run.flag("--p12") {
            throw UsageError("--p12 needs the private key, which stays with the holder of --csr; only they can make a PKCS#12", command: run.spec)
        }
        let validity = try run.option("--validity-days").map { text -> Int in
            guard let days = Int(text), days > 0 else { throw UsageError("--validity-days: must be a positive whole number, got \(text)", command: run.spec) }
            return days
        }
        let password = run.flag("--p12") ? try p12Password(run) : nil
        do {
            try FileManager.default.createDirectory(atPath: files.directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw UsageError("--out: cannot create \(files.directory): \(error.localizedDescription)", command: run.spec)
        }

        var key: PrivateKey?
        let csrPEM: String
        if let csrFile {
            csrPEM = String(decoding: try run.readFile(csrFile, for: "--csr"), as: UTF8.self)
            guard (try? CertificateSigningRequest(pem: Array(csrPEM.utf8)))?.hasValidSignature == true else {
                throw UsageError("--csr: \(csrFile) is not a PEM certificate signing request with a valid signature", command: run.spec)
            }
        } else {
            if FileManager.default.fileExists(atPath: files.key) {
                guard run.flag("--force") else { throw UsageError("\(files.key) already exists; use --force to replace it", command: run.spec) }
                try? FileManager.default.removeItem(atPath: files.key)
            }
            if !run.flag("--csr-only") { _ = try run.client() }   // settings problems surface before a key is made
            let made = try PrivateKey.generateECDSA(curve: "P-256")
            let csr = try CertificateSigningRequest.create(key: made, commonName: files.principal, organization: nil)
            try writePrivate(try made.pemBytes(), to: files.key)
            key = made
            csrPEM = String(decoding: csr.pemBytes, as: UTF8.self)
        }
        if run.flag("--csr-only") {
            try writePublic(Array(csrPEM.utf8), to: files.csr)
            run.output.table(["file", "what"], [[Output.Cell(files.key), "private key (0600): keep it here"],
                                                [Output.Cell(files.csr), "certificate signing request: send it to an administrator"]])
            return
        }

        var body: [String: JSONValue] = ["csr": .string(csrPEM)]
        if !renewing { body["principal"] = .string(files.principal) }
        if let validity { body["validityDays"] = .number(Double(validity)) }
        let answer: BrokerAnswer
        do { answer = try run.call("POST", renewing ? "/v1/credentials/renew" : "/v1/credentials", body: .object(body)) } catch {
            if key != nil { try? FileManager.default.removeItem(atPath: files.key) }   // a key without a certificate is only a liability
            throw error
        }
        let issued = answer.json
        guard let certificatePEM = issued["certificate"].string, let caPEM = issued["caCertificate"].string,
              let certificate = try? Certificate(pem: Array(certificatePEM.utf8)), key.map(certificate.matches) ?? true else {
            throw ClientError(.protocolViolation, "the broker's answer holds no certificate for the key in the CSR")
        }
        try writePublic(Array(certificatePEM.utf8), to: files.certificate)
        try writePublic(Array(caPEM.utf8), to: files.ca)
        let profile = JSONValue.object(["url": .string(try run.settings().url.value), "cert": .string("\(files.principal).pem"),
                                   "key": .string("\(files.principal)-key.pem"), "ca": .string("ca.pem")])
        try writePublic(Array((profile.description + "\n").utf8), to: files.profile)
        var written = [(files.certificate, "certificate"), (files.ca, "the broker's CA"), (files.profile, "marac profile for the holder")]
        if key != nil { written.insert((files.key, "private key (0600; never sent)"), at: 0) }
        if let password, let key {
            let ca = try? Certificate(pem: Array(caPEM.utf8))
            let p12 = try PKCS12.export(key: key, certificate: certificate, ca: ca, friendlyName: "\(files.principal) (MARAC)", password: password)
            try writePrivate(p12, to: files.p12, replacing: true)
            written.append((files.p12, "PKCS#12 for a browser (0600, password-protected)"))
        }
        if run.json { run.output.raw(answer.response.body); return }
        run.output.line("Certificate \(issued["serial"].displayText) issued to \(files.principal) (\(issued["agency"].displayText)), valid until \(TimeText.utc(certificate.notAfter)).\n")
        run.output.table(["file", "what"], written.map { [Output.Cell($0.0), Output.Cell($0.1)] })
        run.output.line("\nThe holder copies \(files.directory) to ~/.config/marac (or sets MARAC_CONFIG=\(files.profile)) and runs: marac whoami")
    }

    /// Who the current certificate belongs to, as the broker says.
    static func ownPrincipal(_ run: Invocation) throws -> String {
        guard let principal = try run.call("GET", "/v1/whoami").json["principal"].string else {
            throw ClientError(.protocolViolation, "the broker's whoami answer names no principal")
        }
        return principal
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

    /// Writes `path` with mode 0600 from the start, so the secret is never readable by others, even briefly;
    /// a file already there is replaced (atomically) only when `replacing`.
    static func writePrivate(_ bytes: [UInt8], to path: String, replacing: Bool = false) throws {
        try PrivateFile.write(bytes, to: path, existing: replacing ? .replace : .refuse, exitCode: Marac.ExitCode.usage)
    }

    /// Writes a certificate or request (mode 0644) atomically.
    static func writePublic(_ bytes: [UInt8], to path: String) throws {
        do {
            try AtomicFile.write(bytes, to: path, mode: 0o644)
        } catch {
            throw CommandFailure(exitCode: Marac.ExitCode.usage, message: "cannot write \(path): \(error)")
        }
    }
}
