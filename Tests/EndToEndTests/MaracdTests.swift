import Foundation
import MaracClient
import Testing
import TestSupport
import TLS

/// The real `maracd` binary, talked to by curl, openssl and Python.
@Suite(.serialized) struct MaracdTests {
    @Test func initTwiceKeepsThePKIAndCertificatesVerifyWithOpenSSL() async throws {
        let dir = try TemporaryDirectory()
        let maracd = BuiltProducts.path("maracd")
        let first = try await Tool.runAsync(maracd, ["init", "--certs", dir.path("certs")])
        #expect(first.status == 0, "\(first.stderr)")
        let names = ["ca.pem", "ca-key.pem", "server.pem", "server-key.pem", "admin.pem", "admin-key.pem", "data.key", "identifier.key"]
        let before = try names.map { try Data(contentsOf: URL(fileURLWithPath: dir.path("certs/\($0)"))) }
        for key in ["ca-key.pem", "server-key.pem", "admin-key.pem", "data.key", "identifier.key"] {
            let mode = try FileManager.default.attributesOfItem(atPath: dir.path("certs/\(key)"))[.posixPermissions] as? Int
            #expect(mode == 0o600, "\(key) mode \(String(mode ?? 0, radix: 8))")
        }
        let second = try await Tool.runAsync(maracd, ["init", "--certs", dir.path("certs")])
        #expect(second.status == 0)
        #expect(!second.stdout.contains("created"))
        let after = try names.map { try Data(contentsOf: URL(fileURLWithPath: dir.path("certs/\($0)"))) }
        #expect(before == after)

        let verify = try await Tool.runAsync("openssl", ["verify", "-CAfile", dir.path("certs/ca.pem"),
                                                         dir.path("certs/server.pem"), dir.path("certs/admin.pem")])
        #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr)")
        let purpose = try await Tool.runAsync("openssl", ["x509", "-in", dir.path("certs/admin.pem"), "-noout", "-ext", "extendedKeyUsage,subjectAltName", "-subject"])
        #expect(purpose.stdout.contains("TLS Web Client Authentication"))
        #expect(purpose.stdout.contains("CN = admin"))
        let server = try await Tool.runAsync("openssl", ["x509", "-in", dir.path("certs/server.pem"), "-noout", "-ext", "extendedKeyUsage,subjectAltName"])
        #expect(server.stdout.contains("TLS Web Server Authentication"))
        #expect(server.stdout.contains("DNS:localhost") && server.stdout.contains("IP Address:127.0.0.1") && server.stdout.contains("IP Address:0:0:0:0:0:0:0:1"))
    }

    @Test func serveRefusesToStartWithAKeyOpenToGroupOrOthers() async throws {
        let dir = try TemporaryDirectory()
        let maracd = BuiltProducts.path("maracd")
        #expect(try await Tool.runAsync(maracd, ["init", "--certs", dir.path("certs")]).status == 0)
        for key in ["ca-key.pem", "server-key.pem", "data.key"] {
            let path = dir.path("certs/\(key)")
            #expect(chmod(path, 0o640) == 0)
            // `timeout`: a broker that starts anyway would otherwise serve until the test is killed.
            let serve = try await Tool.runAsync("timeout", ["20", maracd, "serve", "--certs", dir.path("certs"), "--data", dir.path("data"),
                                                            "--config", dir.path("config"), "--listen", "127.0.0.1:0"])
            #expect(serve.status != 0 && serve.status != 124, "maracd served with \(key) at 0640: \(serve.stderr)")
            #expect(serve.stderr.contains(path) && serve.stderr.contains("0640") && serve.stderr.contains("chmod 600 \(path)"), "\(serve.stderr)")
            #expect(chmod(path, 0o600) == 0)
        }
    }

    @Test func serveAnswersCurlAndPythonAndStopsCleanlyOnSIGTERM() async throws {
        let dir = try TemporaryDirectory()
        let broker = try RunningProcess(BuiltProducts.path("maracd"),
                                        ["serve", "--certs", dir.path("certs"), "--data", dir.path("data"),
                                         "--config", dir.path("config"), "--listen", "127.0.0.1:0"])
        let port = try #require(broker.listeningPort(), "maracd did not start: \(broker.stderr)")
        let certs = dir.path("certs")
        let curl = try await Tool.runAsync("curl", ["-sS", "--cacert", "\(certs)/ca.pem", "--cert", "\(certs)/admin.pem",
                                                    "--key", "\(certs)/admin-key.pem", "https://127.0.0.1:\(port)/v1/whoami"])
        #expect(curl.status == 0, "\(curl.stderr)")
        #expect(curl.stdout.contains("\"principal\":\"admin\""))
        let admin = try Certificate(pemFile: "\(certs)/admin.pem")
        #expect(curl.stdout.contains(admin.serial))

        let python = """
            import ssl, socket, json, sys
            ctx = ssl.create_default_context(cafile="\(certs)/ca.pem")
            ctx.load_cert_chain("\(certs)/admin.pem", "\(certs)/admin-key.pem")
            with socket.create_connection(("127.0.0.1", \(port))) as raw:
                with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                    s.sendall(b"GET /v1/health HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n")
                    data = b""
                    while True:
                        chunk = s.recv(4096)
                        if not chunk: break
                        data += chunk
                    print(s.version())
                    print(data.decode())
            """
        let py = try await Tool.runAsync("python3", ["-c", python])
        #expect(py.status == 0, "\(py.stderr)")
        #expect(py.stdout.contains("TLSv1.3"))
        #expect(py.stdout.contains("HTTP/1.1 200"))

        broker.signal(SIGTERM)
        let status = try await offPool { broker.waitForExit() }
        #expect(status == 0)
        #expect(broker.stderr.contains("\"event\":\"stopped\""))
        #expect(broker.stderr.contains("\"path\":\"/v1/whoami\""))
        #expect(!broker.stderr.contains("BEGIN"), "no key or certificate material in logs")

        // The journal the broker wrote verifies offline; a flipped byte is named.
        let maracd = BuiltProducts.path("maracd")
        let verify = try await Tool.runAsync(maracd, ["audit", "verify", "--data", dir.path("data"), "--certs", certs])
        #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr)")
        #expect(verify.stdout.contains("OK") && verify.stdout.contains("head hash"))
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path("data"))
        let segment = dir.path("data/\(try #require(files.filter { $0.hasSuffix(".seg") }.sorted().first, "no segment in \(files)"))")
        var bytes = try Data(contentsOf: URL(fileURLWithPath: segment))
        bytes[bytes.count / 2] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: segment))
        let damaged = try await Tool.runAsync(maracd, ["audit", "verify", "--data", dir.path("data"), "--certs", certs])
        #expect(damaged.status == 1)
        #expect(damaged.stdout.contains("DAMAGED") || damaged.stdout.contains("torn"), "\(damaged.stdout)")
    }

    /// A fresh `maracd init` in a temporary directory, and the flags that point `maracd` at it.
    static func initialisedInstall() async throws -> (TemporaryDirectory, maracd: String, certs: String, common: [String]) {
        let dir = try TemporaryDirectory()
        let maracd = BuiltProducts.path("maracd")
        let certs = dir.path("certs")
        let initialised = try await Tool.runAsync(maracd, ["init", "--certs", certs])
        #expect(initialised.status == 0, "\(initialised.stderr)")
        return (dir, maracd, certs, ["--certs", certs, "--data", dir.path("data"), "--config", dir.path("config")])
    }

    @Test func certSignOfflineIsJournaledAndRefusedWhileTheBrokerRuns() async throws {
        let (dir, maracd, certs, common) = try await Self.initialisedInstall()
        // Disaster recovery: a new admin certificate from a CSR made elsewhere (here by openssl).
        let req = try await Tool.runAsync("openssl", ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                                                      "-keyout", dir.path("new-key.pem"), "-out", dir.path("new.csr"), "-subj", "/CN=admin"])
        #expect(req.status == 0, "\(req.stderr)")
        let sign = try await Tool.runAsync(maracd, ["cert", "sign", "--principal", "admin", "--out", dir.path("new.pem")] + common + [dir.path("new.csr")])
        #expect(sign.status == 0, "\(sign.stdout) \(sign.stderr)")
        let issued = try Certificate(pemFile: dir.path("new.pem"))
        #expect(sign.stdout.contains(issued.serial))
        let verify = try await Tool.runAsync("openssl", ["verify", "-CAfile", "\(certs)/ca.pem", "-purpose", "sslclient", dir.path("new.pem")])
        #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr)")
        let subject = try await Tool.runAsync("openssl", ["x509", "-in", dir.path("new.pem"), "-noout", "-subject"])
        #expect(subject.stdout.contains("CN = admin") && subject.stdout.contains("O = community-safety"), "\(subject.stdout)")

        // Unknown principal and a weak key are refused by name; nothing is written.
        let unknown = try await Tool.runAsync(maracd, ["cert", "sign", "--principal", "nobody"] + common + [dir.path("new.csr")])
        #expect(unknown.status == 1 && unknown.stderr.contains("nobody"), "\(unknown.stderr)")
        let usage = try await Tool.runAsync(maracd, ["cert", "sign"] + common + [dir.path("new.csr")])
        #expect(usage.status == 2 && usage.stderr.contains("--principal"))

        let broker = try RunningProcess(maracd, ["serve", "--listen", "127.0.0.1:0"] + common)
        let port = try #require(broker.listeningPort(), "maracd did not start: \(broker.stderr)")
        // The new certificate is known to the registry; curl authenticates with it.
        let curl = try await Tool.runAsync("curl", ["-sS", "--cacert", "\(certs)/ca.pem", "--cert", dir.path("new.pem"),
                                                    "--key", dir.path("new-key.pem"), "https://127.0.0.1:\(port)/v1/whoami"])
        #expect(curl.stdout.contains("\"principal\":\"admin\"") && curl.stdout.contains(issued.serial), "\(curl.stdout) \(curl.stderr)")
        let audit = try await Tool.runAsync("curl", ["-sS", "--cacert", "\(certs)/ca.pem", "--cert", dir.path("new.pem"),
                                                     "--key", dir.path("new-key.pem"), "https://127.0.0.1:\(port)/v1/audit"])
        #expect(audit.stdout.contains(issued.serial) && audit.stdout.contains("offline-"), "\(audit.stdout)")
        // While the broker has the journal open, offline signing is refused.
        let busy = try await Tool.runAsync(maracd, ["cert", "sign", "--principal", "admin"] + common + [dir.path("new.csr")])
        #expect(busy.status == 1 && busy.stderr.contains("another process"), "\(busy.stderr)")
        broker.signal(SIGTERM)
        #expect(try await offPool { broker.waitForExit() } == 0)
    }

    @Test func theFirstCoordinatorIsApprovedOfflineByTheServerOperator() async throws {
        let (dir, maracd, certs, common) = try await Self.initialisedInstall()
        let first = try RunningProcess(maracd, ["serve", "--listen", "127.0.0.1:0"] + common)
        var port = try #require(first.listeningPort(), "maracd did not start: \(first.stderr)")
        func curl(_ identity: String, _ path: String, _ extra: [String] = []) async throws -> ToolResult {
            let (cert, key) = identity == "admin" ? ("\(certs)/admin.pem", "\(certs)/admin-key.pem") : (dir.path("\(identity).pem"), dir.path("\(identity)-key.pem"))
            return try await Tool.runAsync("curl", ["-sS", "--cacert", "\(certs)/ca.pem", "--cert", cert, "--key", key] + extra
                                           + ["https://127.0.0.1:\(port)\(path)"])
        }
        // The admin registers the coordinator and issues her certificate from a CSR made with openssl.
        let create = try await curl("admin", "/v1/principals", ["-H", "Content-Type: application/json", "-d",
                                                                #"{"id":"cora","name":"Cora Quinn","agency":"community-safety","role":"coordinator"}"#])
        #expect(create.stdout.contains("\"id\":\"cora\""), "\(create.stdout) \(create.stderr)")
        #expect(try await Tool.runAsync("openssl", ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                                                     "-keyout", dir.path("cora-key.pem"), "-out", dir.path("cora.csr"), "-subj", "/CN=cora"]).status == 0)
        let csr = try String(contentsOfFile: dir.path("cora.csr"), encoding: .utf8).replacingOccurrences(of: "\n", with: "\\n")
        let issue = try await curl("admin", "/v1/credentials", ["-H", "Content-Type: application/json", "-d", #"{"principal":"cora","csr":""# + csr + #""}"#])
        let issued = try? JSONSerialization.jsonObject(with: Data(issue.stdout.utf8)) as? [String: Any]
        let certificate = try #require(issued?["certificate"] as? String, "\(issue.stdout)")
        try Data(certificate.utf8).write(to: URL(fileURLWithPath: dir.path("cora.pem")))
        let serial = try #require(issued?["serial"] as? String)
        // Not approved: whoami says pending, everything else is refused.
        #expect(try await curl("cora", "/v1/whoami").stdout.contains(#""approval":"pending""#))
        #expect(try await curl("cora", "/v1/meetings").stdout.contains("credential_not_approved"))
        // While the broker runs, the offline approval is refused; stopped, it is journaled.
        let busy = try await Tool.runAsync(maracd, ["credential", "approve"] + common + [serial])
        #expect(busy.status == 1 && busy.stderr.contains("another process"), "\(busy.stderr)")
        first.signal(SIGTERM)
        #expect(try await offPool { first.waitForExit() } == 0)
        let approve = try await Tool.runAsync(maracd, ["credential", "approve"] + common + [serial])
        #expect(approve.status == 0 && approve.stdout.contains("approved certificate \(serial) of cora (community-safety)"), "\(approve.stdout) \(approve.stderr)")
        let again = try await Tool.runAsync(maracd, ["credential", "approve"] + common + [serial])
        #expect(again.status == 1 && again.stderr.contains("already approved"), "\(again.stderr)")
        #expect(try await Tool.runAsync(maracd, ["credential", "approve"] + common).status == 2)

        let second = try RunningProcess(maracd, ["serve", "--listen", "127.0.0.1:0"] + common)
        port = try #require(second.listeningPort(), "maracd did not start: \(second.stderr)")
        let whoami = try await curl("cora", "/v1/whoami")
        #expect(whoami.stdout.contains("\"role\":\"coordinator\""), "\(whoami.stdout) \(whoami.stderr)")
        let audit = try await curl("admin", "/v1/audit")
        #expect(audit.stdout.contains("\"action\":\"credential.approve\"") && audit.stdout.contains("offline-"), "\(audit.stdout)")
        #expect(try await curl("cora", "/v1/meetings").stdout.contains("\"meetings\""))
        second.signal(SIGTERM)
        #expect(try await offPool { second.waitForExit() } == 0)
    }
}
