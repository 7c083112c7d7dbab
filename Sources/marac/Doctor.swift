import Foundation
import MaracClient
import TLS
import Wire

/// `marac doctor`: checks, in the order a user would fix them, everything
/// between this machine and a working call — settings, files, the key file's
/// permissions, the certificate's validity and chain, key ↔ certificate,
/// reachability, the broker's certificate, the authenticated handshake and the
/// clock — and says what to do about each failure.
struct Doctor {
    enum Status: String { case ok = "ok", warning = "WARN", failure = "FAIL", info = "info" }

    struct Check {
        let name: String
        let status: Status
        let detail: String
        var fix: String? = nil
    }


    let run: Invocation
    var checks: [Check] = []
    let now = Date()

    static let spec = CommandSpec(
        path: ["doctor"],
        summary: "check settings, files, key permissions, certificate, clock, reachability and TLS, and say what to fix",
        details: "Exit status 0 when nothing failed (warnings allowed), 3 when a check failed. With --json: {ok, checks: [{check, status, detail, fix}]}.",
        role: IdentityCommands.role,
        example: "marac doctor --cert police-spoc.pem --key police-spoc-key.pem --ca ca.pem"
    ) { run in
        var doctor = Doctor(run: run)
        doctor.examine()
        doctor.report()
        if doctor.checks.contains(where: { $0.status == .failure }) {
            throw CommandFailure(exitCode: Marac.ExitCode.unreachable, message: "\(doctor.checks.filter { $0.status == .failure }.count) check(s) failed; fix them in order, from the top")
        }
    }

    mutating func add(_ name: String, _ status: Status, _ detail: String, fix: String? = nil) {
        checks.append(Check(name: name, status: status, detail: detail, fix: fix))
    }

    mutating func examine() {
        let settings: ClientSettings
        do { settings = try run.settings() } catch {
            add("settings", .failure, "\(error)", fix: "correct the profile file or remove it")
            return
        }
        add("profile", .info, settings.profileLoaded ? "read \(settings.profilePath)" : "\(settings.profilePath) does not exist (optional)")
        add("url", .info, settings.url.description)
        guard let components = URLComponents(string: settings.url.value), components.scheme == "https", let host = components.host else {
            add("url", .failure, "\(settings.url.value) is not an https:// URL", fix: "set --url or MARAC_URL to https://HOST:PORT")
            return
        }
        let port = components.port ?? 443
        let ca = file(.ca, settings), certFile = file(.cert, settings), keyFile = file(.key, settings)

        let roots = ca.flatMap { path -> [Certificate]? in
            guard let roots = try? Certificate.all(pem: [UInt8](FileManager.default.contents(atPath: path) ?? Data())) else {
                add("ca file", .failure, "\(path) holds no PEM certificate", fix: "use the broker's ca.pem (maracd writes it to certs/ca.pem)")
                return nil
            }
            add("ca file", .ok, "\(path): \(roots.map(\.subject).joined(separator: "; "))")
            return roots
        }
        let certificate = certFile.flatMap { checkCertificate($0, roots: roots) }
        let key = keyFile.flatMap { checkKey($0) }
        if let certificate, let key {
            if certificate.matches(key) {
                add("key matches", .ok, "the key is the certificate's private key")
            } else {
                add("key matches", .failure, "\(keyFile!) is not the private key of \(certFile!)",
                    fix: "use the key file written together with this certificate (marac cert request writes ID-key.pem next to ID.pem)")
            }
        }
        guard let roots else { return }
        guard let brokerCertificateOK = checkBroker(host: host, port: port, roots: roots, url: settings.url.value) else { return }
        if brokerCertificateOK, let certificate, let key, certificate.matches(key) {
            checkAuthenticated(settings: settings, certificate: certificate, roots: roots)
        }
    }

    /// A configured file that exists and is readable, or a failure saying how to set it.
    mutating func file(_ name: ClientSettings.Name, _ settings: ClientSettings) -> String? {
        let label = "\(name.rawValue) file"
        guard let setting = (name == .ca ? settings.ca : name == .cert ? settings.cert : settings.key) else {
            add(label, .failure, "not set", fix: "use \(name.flag), set \(name.environmentVariable), or put \"\(name.rawValue)\" in \(settings.profilePath)")
            return nil
        }
        guard FileManager.default.fileExists(atPath: setting.value) else {
            add(label, .failure, "\(setting.value) (from \(setting.origin)) does not exist", fix: "correct the path in \(setting.origin)")
            return nil
        }
        guard FileManager.default.isReadableFile(atPath: setting.value) else {
            add(label, .failure, "\(setting.value) (from \(setting.origin)) is not readable by this user", fix: "chown or chmod it so that you can read it")
            return nil
        }
        return setting.value
    }

    mutating func checkCertificate(_ path: String, roots: [Certificate]?) -> Certificate? {
        guard let certificate = try? Certificate(pemFile: path) else {
            add("certificate", .failure, "\(path) is not a PEM certificate", fix: "point --cert at the ID.pem written by marac cert request")
            return nil
        }
        let who = "\(certificate.subject), serial \(certificate.serial)"
        if certificate.notBefore > now {
            add("certificate", .failure, "\(who) is not valid until \(TimeText.utc(certificate.notBefore)); it is \(TimeText.utc(now)) here",
                fix: "this machine's clock is probably behind: enable NTP (timedatectl set-ntp true)")
        } else if certificate.notAfter < now {
            add("certificate", .failure, "\(who) expired at \(TimeText.utc(certificate.notAfter))",
                fix: "ask an administrator for a new certificate (marac cert request --principal ID --out DIR)")
        } else if certificate.notAfter.timeIntervalSince(now) < CLILimits.expiryWarning {
            add("certificate", .warning, "\(who) expires in \(TimeText.countdown(to: certificate.notAfter, from: now)), at \(TimeText.utc(certificate.notAfter))",
                fix: "ask an administrator for a new certificate before then")
        } else {
            add("certificate", .ok, "\(who), valid until \(TimeText.utc(certificate.notAfter)) (\(TimeText.countdown(to: certificate.notAfter, from: now)))")
        }
        if !certificate.allowsClientAuth {
            add("certificate use", .failure, "the certificate does not allow TLS client authentication", fix: "use a certificate issued by marac cert request")
        }
        if let roots {
            if let problem = certificate.chainProblem(trustRoots: roots, at: max(now, certificate.notBefore)) {
                if !problem.contains("expired") {
                    add("certificate chain", .failure, "the certificate does not verify against the CA file: \(problem)",
                        fix: "use the CA file of the broker that issued the certificate, or a certificate from this broker")
                }
            } else {
                add("certificate chain", .ok, "issued by \(certificate.issuer)")
            }
        }
        return certificate
    }

    mutating func checkKey(_ path: String) -> PrivateKey? {
        if let attributes = try? FileManager.default.attributesOfItem(atPath: path),
           let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue {
            if mode & 0o077 != 0 {
                add("key permissions", .warning, "\(path) is readable or writable by group or others (mode \(String(mode, radix: 8)))",
                    fix: "chmod 600 \(path)")
            } else {
                add("key permissions", .ok, "\(path) mode \(String(mode, radix: 8))")
            }
        }
        guard let key = try? PrivateKey(pemFile: path) else {
            add("key", .failure, "\(path) is not an unencrypted PEM private key", fix: "point --key at the ID-key.pem written by marac cert request")
            return nil
        }
        return key
    }

    /// TCP and the broker's own certificate; nil when the broker cannot be reached at all.
    mutating func checkBroker(host: String, port: Int, roots: [Certificate], url: String) -> Bool? {
        do {
            let context = try TLSContext(configuration: .client(trustRoots: roots, serverName: host))
            let connection = try HTTPSConnection(host: host, port: port, context: context, timeout: CLILimits.doctorConnectTimeout)
            connection.close()
            add("reachable", .ok, "\(host):\(port) accepts connections")
            add("broker certificate", .ok, "the broker's certificate verifies against the CA file and names \(host)")
            return true
        } catch let error as ClientError where error.kind == .connection {
            add("reachable", .failure, "\(host):\(port): \(error.message)",
                fix: FailureDiagnosis.likelyCause(of: error, certificate: nil, trustRoots: roots, url: url) ?? "check --url and that maracd is running")
            return nil
        } catch let error as ClientError {
            add("reachable", .ok, "\(host):\(port) accepts connections")
            add("broker certificate", .failure, error.message,
                fix: FailureDiagnosis.likelyCause(of: error, certificate: nil, trustRoots: roots, url: url) ?? "check the CA file and the URL")
            return false
        } catch {
            add("broker certificate", .failure, "\(error)")
            return false
        }
    }

    /// The full mutual-TLS handshake and `whoami`, then the broker's clock and health.
    mutating func checkAuthenticated(settings: ClientSettings, certificate: Certificate, roots: [Certificate]) {
        let client: BrokerClient
        let response: ClientResponse
        do {
            client = try settings.client(timeout: CLILimits.doctorRequestTimeout)
            response = try client.sendBlocking("GET", "/v1/whoami")
        } catch let error as ClientError {
            add("handshake", .failure, error.message,
                fix: FailureDiagnosis.likelyCause(of: error, certificate: certificate, trustRoots: roots, url: settings.url.value) ?? "see the message")
            return
        } catch {
            add("handshake", .failure, "\(error)")
            return
        }
        defer { client.close() }
        guard response.status == 200, let whoami = try? JSONValue(parsing: response.body) else {
            let refusal = BrokerClient.refusal(response)
            add("authenticated", .failure, refusal.description,
                fix: FailureDiagnosis.likelyCause(of: refusal, certificate: certificate, trustRoots: roots, url: settings.url.value) ?? "ask an administrator")
            return
        }
        add("handshake", .ok, "TLS 1.3 with your certificate")
        add("authenticated", .ok, "as \(whoami["principal"].displayText) (\(whoami["name"].displayText)), \(whoami["role"].displayText) for \(whoami["agency"].displayText)")
        checkClock(response: response, whoami: whoami, certificate: certificate)
        if let health = try? client.sendBlocking("GET", "/v1/health"), let body = try? JSONValue(parsing: health.body) {
            if health.status == 200 {
                add("broker health", .ok, "status \(body["status"].displayText), storage \(body["storage"].displayText)")
            } else {
                add("broker health", .warning, "status \(body["status"].displayText), storage \(body["storage"].displayText): \(body["storageError"].string ?? "")",
                    fix: "tell the broker's administrator: its storage is failing, so writes are refused")
            }
        }
    }

    /// Compares this machine's clock with the broker's `Date` header; without one,
    /// with the days to expiry the broker computed for the certificate.
    mutating func checkClock(response: ClientResponse, whoami: JSONValue, certificate: Certificate) {
        let fix = "synchronise this machine's clock (timedatectl set-ntp true); deadlines and certificate checks depend on it"
        if let header = response.header("Date"), let brokerTime = Self.httpDate(header) {
            let skew = Date().timeIntervalSince(brokerTime)
            if abs(skew) > CLILimits.clockTolerance {
                add("clock", .warning, "this machine's clock is \(TimeText.duration(Int(abs(skew)))) \(skew > 0 ? "ahead of" : "behind") the broker's", fix: fix)
            } else {
                add("clock", .ok, "within \(Int(CLILimits.clockTolerance)) s of the broker's")
            }
            return
        }
        guard let brokerDays = whoami["certificate"]["daysToExpiry"].int else {
            add("clock", .info, "the broker sends no Date header; clocks not compared")
            return
        }
        let localDays = Int(certificate.notAfter.timeIntervalSince(Date()) / 86_400)
        if abs(localDays - brokerDays) > 1 {
            add("clock", .warning, "the broker counts \(brokerDays) days to your certificate's expiry, this machine \(localDays): the clocks differ by more than a day", fix: fix)
        } else {
            add("clock", .info, "the broker sends no Date header; its count of days to your certificate's expiry agrees with this machine's (±1 day)")
        }
    }

    static func httpDate(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter.date(from: text)
    }

    func report() {
        if run.json {
            let items = checks.map { check in
                JSONValue.object(["check": .string(check.name), "status": .string(check.status.rawValue.lowercased()), "detail": .string(check.detail),
                                  "fix": check.fix.map(JSONValue.string) ?? .null])
            }
            run.output.line(JSONValue.object(["ok": .bool(!checks.contains { $0.status == .failure }), "checks": .array(items)]).description)
            return
        }
        let width = checks.map(\.name.count).max() ?? 0
        for check in checks {
            let mark = check.status == .failure || check.status == .warning ? run.output.red(check.status.rawValue) : check.status.rawValue
            run.output.styledLine("\(mark.padding(toLength: max(4, mark.count), withPad: " ", startingAt: 0))  "
                                  + TerminalText.safe("\(check.name.padding(toLength: width, withPad: " ", startingAt: 0))  \(check.detail)"))
            if let fix = check.fix, check.status != .ok { run.output.line("      \(String(repeating: " ", count: width))  fix: \(fix)") }
        }
    }
}
