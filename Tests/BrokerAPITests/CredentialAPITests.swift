import Foundation
import MaracClient
import Testing
import TestSupport
import TLS

/// Credential administration over real TLS, checked with openssl and curl (issue 6).
@Suite(.serialized) struct CredentialAPITests {
    /// Makes a key and CSR with the openssl binary (an independent tool), answers the CSR text.
    static func opensslCSR(_ dir: TemporaryDirectory, name: String, key: [String], subject: String) async throws -> String {
        let result = try await Tool.runAsync("openssl", ["req", "-new"] + key + ["-nodes", "-keyout", dir.path("\(name)-key.pem"),
                                                                                   "-out", dir.path("\(name).csr"), "-subj", subject])
        #expect(result.status == 0, "\(result.stderr)")
        return try String(contentsOfFile: dir.path("\(name).csr"), encoding: .utf8)
    }

    static func addPrincipal(_ admin: BrokerClient, _ id: String, agency: String, role: String = "spoc") async throws {
        let response = try await admin.json("POST", "/v1/principals", ["id": id, "name": "Alex \(id)", "agency": agency, "role": role])
        #expect(response.status == 201, "\(response.text)")
    }

    @Test func opensslCSRIsSignedWithTheRegistrySubjectAndCurlAuthenticatesWithIt() async throws {
        try await withTestBroker { broker in
            let admin = try broker.adminClient()
            let dir = broker.directory
            try await Self.addPrincipal(admin, "alice", agency: "police")
            // The CSR asks for nothing but a CN; the issued subject comes from the registry.
            let csr = try await Self.opensslCSR(dir, name: "alice", key: ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"], subject: "/CN=alice")
            let issued = try await admin.json("POST", "/v1/credentials", ["principal": "alice", "csr": csr])
            #expect(issued.status == 201, "\(issued.text)")
            let body = issued.json
            #expect(body.keys.isSuperset(of: ["serial", "certificate", "notAfter", "caCertificate"]))
            let serial = try #require(body["serial"].string)
            #expect(serial.range(of: "^[0-9A-F]{32}$", options: .regularExpression) != nil, "128-bit serial as upper-case hex: \(serial)")
            try Data(try #require(body["certificate"].string).utf8).write(to: URL(fileURLWithPath: dir.path("alice.pem")))
            try Data(try #require(body["caCertificate"].string).utf8).write(to: URL(fileURLWithPath: dir.path("ca-answer.pem")))

            let verify = try await Tool.runAsync("openssl", ["verify", "-CAfile", broker.pki.caCertificatePath, "-purpose", "sslclient", dir.path("alice.pem")])
            #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr)")
            let text = try await Tool.runAsync("openssl", ["x509", "-in", dir.path("alice.pem"), "-noout", "-subject", "-ext", "extendedKeyUsage,keyUsage"])
            #expect(text.stdout.contains("CN = alice") && text.stdout.contains("O = police"), "\(text.stdout)")
            #expect(text.stdout.contains("TLS Web Client Authentication") && text.stdout.contains("Digital Signature"))
            #expect(try String(contentsOfFile: dir.path("ca-answer.pem"), encoding: .utf8) == String(contentsOfFile: broker.pki.caCertificatePath, encoding: .utf8))

            let curlArguments = ["-sS", "--cacert", broker.pki.caCertificatePath, "--cert", dir.path("alice.pem"),
                                 "--key", dir.path("alice-key.pem"), "\(broker.url)/v1/whoami"]
            // A SPOC sees case content: until a coordinator approves alice's certificate, it answers only
            // whoami (pending); everything else is 403 credential_not_approved. The admin who issued it cannot approve it.
            let early = try await Tool.runAsync("curl", curlArguments)
            #expect(early.status == 0 && early.stdout.contains(#""approval":"pending""#), "\(early.stdout) \(early.stderr)")
            let earlyRequests = try await Tool.runAsync("curl", ["-sS", "--cacert", broker.pki.caCertificatePath, "--cert", dir.path("alice.pem"),
                                                                 "--key", dir.path("alice-key.pem"), "\(broker.url)/v1/requests"])
            #expect(earlyRequests.stdout.contains("credential_not_approved"), "\(earlyRequests.stdout)")
            let byAdmin = try await admin.json("POST", "/v1/credentials/\(serial)/approve")
            #expect(byAdmin.status == 403 && byAdmin.errorCode == "forbidden", "\(byAdmin.text)")
            let coordinator = try await broker.enrol("cora", agency: "community-safety", role: "coordinator", admin: admin)
            let approved = try await coordinator.client.json("POST", "/v1/credentials/\(serial)/approve")
            #expect(approved.status == 200 && approved.json["approvedBy"].string == "cora" && approved.json["approvedAt"].exists
                    && approved.json["approval"].string == "approved", "\(approved.text)")

            let curl = try await Tool.runAsync("curl", curlArguments)
            #expect(curl.status == 0, "\(curl.stderr)")
            let whoami = JSONBody(value: try? JSONSerialization.jsonObject(with: Data(curl.stdout.utf8)))
            #expect(whoami["principal"].string == "alice")
            #expect(whoami["agency"].string == "police")
            #expect(whoami["role"].string == "spoc")
            #expect(whoami["certificate"]["serial"].string == serial && whoami["certificate"]["approval"].string == "approved")
            #expect((whoami["certificate"]["daysToExpiry"].int ?? 0) >= 364)

            // RSA 2048 and ECDSA P-384 are accepted too.
            try await Self.addPrincipal(admin, "bob", agency: "housing")
            let rsa = try await Self.opensslCSR(dir, name: "bob", key: ["-newkey", "rsa:2048"], subject: "/CN=bob/O=housing")
            #expect(try await admin.json("POST", "/v1/credentials", ["principal": "bob", "csr": rsa]).status == 201)
            let p384 = try await Self.opensslCSR(dir, name: "bob2", key: ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"], subject: "/CN=bob")
            #expect(try await admin.json("POST", "/v1/credentials", ["principal": "bob", "csr": p384]).status == 201)
            let list = try await admin.json("GET", "/v1/credentials?principal=bob")
            #expect(list.json["credentials"].array.count == 2, "rotation: a principal may hold two certificates at once")
        }
    }

    @Test func badCSRsAreRefusedByNameAndNothingIsIssued() async throws {
        try await withTestBroker { broker in
            let admin = try broker.adminClient()
            let dir = broker.directory
            try await Self.addPrincipal(admin, "carol", agency: "police")
            let before = try await admin.json("GET", "/v1/credentials").json["credentials"].array.count

            let weak = try await Self.opensslCSR(dir, name: "weak", key: ["-newkey", "rsa:1024"], subject: "/CN=carol")
            let weakAnswer = try await admin.json("POST", "/v1/credentials", ["principal": "carol", "csr": weak])
            #expect(weakAnswer.status == 422 && weakAnswer.errorCode == "weak_key", "\(weakAnswer.text)")
            #expect(weakAnswer.json["error"]["message"].string?.contains("1024") == true, "\(weakAnswer.text)")

            let otherAgency = try await Self.opensslCSR(dir, name: "other", key: ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
                                                        subject: "/CN=carol/O=housing")
            let mismatch = try await admin.json("POST", "/v1/credentials", ["principal": "carol", "csr": otherAgency])
            #expect(mismatch.status == 422 && mismatch.errorCode == "subject_mismatch", "\(mismatch.text)")
            #expect(mismatch.json["error"]["message"].string?.contains("housing") == true)

            // Flip one byte of the signature (the DER's last byte) and re-armour it.
            let good = try await Self.opensslCSR(dir, name: "good", key: ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"], subject: "/CN=carol")
            let base64 = good.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
            var der = try #require(Data(base64Encoded: base64))
            der[der.count - 1] ^= 0x01
            let broken = "-----BEGIN CERTIFICATE REQUEST-----\n" + der.base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
                + "\n-----END CERTIFICATE REQUEST-----\n"
            let brokenAnswer = try await admin.json("POST", "/v1/credentials", ["principal": "carol", "csr": broken])
            #expect(brokenAnswer.status == 422 && brokenAnswer.errorCode == "invalid_csr", "\(brokenAnswer.text)")

            let garbage = try await admin.json("POST", "/v1/credentials", ["principal": "carol", "csr": "hello"])
            #expect(garbage.status == 422 && garbage.errorCode == "invalid_csr")
            let nobody = try await admin.json("POST", "/v1/credentials", ["principal": "nobody", "csr": good])
            #expect(nobody.status == 404, "\(nobody.text)")
            let noCSR = try await admin.json("POST", "/v1/credentials", ["principal": "carol"])
            #expect(noCSR.status == 400 || noCSR.status == 422, "\(noCSR.text)")
            #expect(noCSR.json["error"]["message"].string?.contains("csr") == true, "\(noCSR.text)")

            #expect(try await admin.json("GET", "/v1/credentials").json["credentials"].array.count == before)
        }
    }

    /// A Python TLS client (not ours, which closes on `Connection: close` by itself) that
    /// sends one request, waits for the file `go`, sends another and reads the socket to its end:
    /// it prints the second status line and whether the broker closed the connection.
    static func pythonSecondRequestReadToEOF(_ broker: TestBroker, _ enrolled: Enrolled, ready: String, go: String) -> String {
        """
        import ssl, socket, os, time, select
        ctx = ssl.create_default_context(cafile="\(broker.pki.caCertificatePath)")
        ctx.load_cert_chain("\(enrolled.certificatePath)", "\(enrolled.keyPath)")
        s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", \(broker.port)), timeout=10), server_hostname="127.0.0.1")
        def request():
            s.sendall(b"GET /v1/whoami HTTP/1.1\\r\\nHost: a\\r\\n\\r\\n")
        request()
        data = b""
        while b"\\r\\n\\r\\n" not in data:
            data += s.recv(4096)
        head, _, body = data.partition(b"\\r\\n\\r\\n")
        length = int([l.split(b":")[1] for l in head.split(b"\\r\\n") if l.lower().startswith(b"content-length")][0])
        while len(body) < length:
            body += s.recv(4096)
        print("first", head.split(b"\\r\\n")[0].decode(), flush=True)
        open("\(ready)", "w").close()
        deadline = time.time() + 20
        while not os.path.exists("\(go)") and time.time() < deadline:
            select.select([], [], [], 0.01)  # not time.sleep: libfaketime (the suite run a year ahead) breaks it
        request()
        s.settimeout(5)
        rest = b""
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    print("end: closed by the broker")
                    break
                rest += chunk
        except socket.timeout:
            print("end: still open 5 s after the answer")
        except (ssl.SSLError, OSError) as e:
            print("end: closed by the broker (" + type(e).__name__ + ")")
        print("second", rest.split(b"\\r\\n")[0].decode(errors="replace"))
        """
    }

    @Test func revocationClosesAnOpenConnectionRefusesNewHandshakesAndAppearsInTheCRL() async throws {
        try #require(Tool.available("openssl") && Tool.available("curl") && Tool.available("python3"), "openssl, curl and python3 are needed")
        try await withTestBroker { broker in
            let admin = try broker.adminClient()
            let spoc = try await broker.enrol("dave", agency: "police", role: "spoc", admin: admin)
            #expect(try await spoc.client.json("GET", "/v1/whoami").status == 200)   // keep-alive connection now open
            // A second open connection, held by an independent client that reads its socket to the end.
            let ready = broker.directory.path("python-ready"), go = broker.directory.path("python-go")
            async let python = Tool.runAsync("python3", ["-c", Self.pythonSecondRequestReadToEOF(broker, spoc, ready: ready, go: go)])
            #expect(await eventually { FileManager.default.fileExists(atPath: ready) }, "the Python client never connected")
            // The CRL before the revocation does not list the serial (and is cached by the broker).
            let crlBefore = try await admin.send("GET", "/v1/crl")
            let crlBeforePath = try broker.directory.write("crl-before.pem", crlBefore.body, mode: 0o644)
            let before = try await Tool.runAsync("openssl", ["crl", "-in", crlBeforePath, "-noout", "-text"])
            #expect(crlBefore.status == 200 && before.status == 0 && !before.stdout.contains(spoc.serial), "\(before.stdout)")

            let revoke = try await admin.json("POST", "/v1/credentials/\(spoc.serial)/revoke", ["reason": "laptop stolen"])
            #expect(revoke.status == 200, "\(revoke.text)")
            #expect(revoke.json["status"].string == "revoked")
            #expect(revoke.json["revokedAt"].exists)

            // The open connection: 403 credential_revoked, then closed — identity is checked before
            // anything else, so even a malformed body gets the 403, not a 400.
            let next = try await spoc.client.send("POST", "/v1/cases", body: Array("{not json".utf8),
                                                  headers: [("Content-Type", "application/json")])
            #expect(next.status == 403 && next.errorCode == "credential_revoked", "\(next.text)")
            #expect(next.header("Connection")?.lowercased() == "close")
            // The broker really closes it: the independent client reads the 403 and then the end of the stream.
            #expect(FileManager.default.createFile(atPath: go, contents: nil), "cannot signal the Python client")
            let transcript = try await python
            #expect(transcript.stdout.contains("first HTTP/1.1 200"), "\(transcript.stdout) \(transcript.stderr)")
            #expect(transcript.stdout.contains("second HTTP/1.1 403"), "\(transcript.stdout) \(transcript.stderr)")
            #expect(transcript.stdout.contains("end: closed by the broker"), "\(transcript.stdout) \(transcript.stderr)")
            // The access log names the principal from the registry while it was valid, and the refusal by serial.
            let requestLines = broker.logLines.all.filter { $0.contains(#""event":"request""#) && $0.contains(spoc.serial) }
            #expect(requestLines.contains { $0.contains(#""principal":"dave""#) && $0.contains(#""status":200"#) }, "\(requestLines)")
            #expect(requestLines.contains { $0.contains(#""principal":"""#) && $0.contains(#""status":403"#) }, "\(requestLines)")
            // A new handshake with the same certificate fails.
            await #expect(throws: ClientError.self) { _ = try await spoc.client.json("GET", "/v1/whoami") }
            let curl = try await Tool.runAsync("curl", ["-sS", "--cacert", broker.pki.caCertificatePath, "--cert", spoc.certificatePath,
                                                        "--key", spoc.keyPath, "\(broker.url)/v1/whoami"])
            #expect(curl.status != 0, "curl must fail the handshake: \(curl.stdout)")

            // The CRL: signed by the CA, lists the serial, and openssl verify -crl_check says revoked.
            let crl = try await admin.send("GET", "/v1/crl")
            #expect(crl.status == 200)
            let crlPath = try broker.directory.write("crl.pem", crl.body, mode: 0o644)
            let check = try await Tool.runAsync("openssl", ["crl", "-in", crlPath, "-CAfile", broker.pki.caCertificatePath, "-noout", "-text"])
            #expect(check.status == 0 && check.stderr.contains("verify OK"), "\(check.stderr)")
            #expect(check.stdout.contains(spoc.serial), "\(check.stdout)")
            let verify = try await Tool.runAsync("openssl", ["verify", "-crl_check", "-CAfile", broker.pki.caCertificatePath,
                                                             "-CRLfile", crlPath, spoc.certificatePath])
            #expect(verify.status != 0 && (verify.stdout + verify.stderr).contains("revoked"), "\(verify.stdout) \(verify.stderr)")
            // A certificate that is not revoked still verifies against the same CRL.
            let other = try await broker.enrol("erin", agency: "police", role: "spoc", admin: admin)
            let fine = try await Tool.runAsync("openssl", ["verify", "-crl_check", "-CAfile", broker.pki.caCertificatePath,
                                                           "-CRLfile", crlPath, other.certificatePath])
            #expect(fine.status == 0, "\(fine.stdout) \(fine.stderr)")

            let revoked = try await admin.json("GET", "/v1/credentials?status=revoked")
            #expect(revoked.json["credentials"].array.map { $0["serial"].string } == [spoc.serial])
            #expect(revoked.json["credentials"][0]["reason"].string == "laptop stolen")
            let again = try await admin.json("POST", "/v1/credentials/\(spoc.serial)/revoke", ["reason": "twice"])
            #expect(again.status == 409, "\(again.text)")

            let audit = try await admin.auditTrail().records
            let actions = audit.filter { $0["object"].string == spoc.serial }.map { $0["action"].string ?? "" }
            #expect(actions == ["credential.register", "credential.approve", "credential.revoke"], "issuance, approval and revocation audited: \(actions)")
            #expect(audit.contains { $0["object"].string == spoc.serial && $0["reason"].string == "laptop stolen" })
        }
    }

    /// Expiry is judged by the broker's own clock, not only by OpenSSL's: once the broker's clock
    /// passes a credential's notAfter, its open connection is refused and closed, new handshakes fail,
    /// and administrators see it expired.
    @Test func aCredentialExpiredByTheBrokersClockIsRefusedOverHTTPS() async throws {
        let broker = try TestBroker { $0.credentialValidityDays = 30 }
        let admin = try broker.adminClient()
        let spoc = try await broker.enrol("fran", agency: "police", role: "spoc", admin: admin)
        #expect(try await spoc.client.json("GET", "/v1/whoami").status == 200)   // keep-alive connection now open
        broker.clock.set(spoc.certificate.notAfter.addingTimeInterval(-1))
        #expect(try await spoc.client.json("GET", "/v1/requests").status == 200, "valid to the last second")
        broker.clock.set(spoc.certificate.notAfter.addingTimeInterval(1))
        let refused = try await spoc.client.json("GET", "/v1/requests")
        #expect(refused.status == 403 && refused.errorCode == "credential_expired" && refused.header("Connection") == "close", "\(refused.text)")
        await #expect(throws: ClientError.self) { _ = try await spoc.client.json("GET", "/v1/whoami") }
        #expect(broker.logLines.all.contains { $0.contains("certificate_refused") && $0.contains("credential_expired") && $0.contains(spoc.serial) })
        let listed = try await admin.json("GET", "/v1/credentials?status=expired")
        #expect(listed.json["credentials"].array.compactMap { $0["serial"].string } == [spoc.serial], "\(listed.text)")
        await broker.stop()
    }

    /// No certificate for someone who may not use it: a disabled principal, or one of an inactive agency.
    @Test func noCredentialIsIssuedToADisabledPrincipal() async throws {
        try await withTestBroker { broker in
            let admin = try broker.adminClient()
            let csr = String(decoding: try CertificateSigningRequest.create(key: try PrivateKey.generateECDSA(), commonName: "gone", organization: nil).pemBytes, as: UTF8.self)
            try await Self.addPrincipal(admin, "gone", agency: "police")
            #expect(try await admin.json("PATCH", "/v1/principals/gone", ["active": false]).status == 200)
            let refused = try await admin.json("POST", "/v1/credentials", ["principal": "gone", "csr": csr])
            #expect(refused.status == 409 && refused.json["error"]["message"].string?.contains("gone") == true, "\(refused.text)")
            #expect(try await admin.json("GET", "/v1/credentials").json["credentials"].array.allSatisfy { $0["principal"].string != "gone" })
        }
    }

    @Test func theCRLIsReissuedDailyWithAGrowingNumberSoItNeverExpires() async throws {
        try await withTestBroker { broker in
            let admin = try broker.adminClient()
            let spoc = try await broker.enrol("fran", agency: "police", role: "spoc", admin: admin)
            func fetchCRL(_ name: String) async throws -> (path: String, number: Int, text: String) {
                let crl = try await admin.send("GET", "/v1/crl")
                #expect(crl.status == 200)
                let path = try broker.directory.write(name, crl.body, mode: 0o644)
                let text = try await Tool.runAsync("openssl", ["crl", "-in", path, "-noout", "-text"]).stdout
                let lines = text.components(separatedBy: "\n")
                let index = try #require(lines.firstIndex { $0.contains("CRL Number") })
                return (path, try #require(Int(lines[index + 1].trimmingCharacters(in: .whitespaces))), text)
            }
            func verify(_ crlPath: String, at date: Date) async throws -> ToolResult {
                try await Tool.runAsync("openssl", ["verify", "-crl_check", "-attime", "\(Int(date.timeIntervalSince1970))",
                                                    "-CAfile", broker.pki.caCertificatePath, "-CRLfile", crlPath, spoc.certificatePath])
            }
            let first = try await fetchCRL("first.pem")
            #expect(try await fetchCRL("same.pem").number == first.number, "unchanged within the day: served from the cache")

            broker.clock.advance(by: 8 * 86_400)
            let later = try await fetchCRL("later.pem")
            #expect(later.number > first.number, "\(first.number) then \(later.number)")
            let checkAt = broker.clock.date.addingTimeInterval(3_600)
            let stale = try await verify(first.path, at: checkAt)
            #expect(stale.status != 0 && (stale.stdout + stale.stderr).contains("CRL has expired"), "\(stale.stdout) \(stale.stderr)")
            let fresh = try await verify(later.path, at: checkAt)
            #expect(fresh.status == 0, "the reissued CRL is current: \(fresh.stdout) \(fresh.stderr)")
        }
    }

    @Test func disablingThePrincipalOrAgencyRefusesItsOpenConnections() async throws {
        try await withTestBroker { broker in
            let admin = try broker.adminClient()
            let frank = try await broker.enrol("frank", agency: "housing", role: "spoc", admin: admin)
            let gina = try await broker.enrol("gina", agency: "probation", role: "spoc", admin: admin)
            #expect(try await frank.client.json("GET", "/v1/whoami").status == 200)
            #expect(try await gina.client.json("GET", "/v1/whoami").status == 200)

            #expect(try await admin.json("PATCH", "/v1/principals/frank", ["active": false]).status == 200)
            let frankNext = try await frank.client.json("GET", "/v1/whoami")
            #expect(frankNext.status == 403 && frankNext.errorCode == "principal_disabled", "\(frankNext.text)")
            await #expect(throws: ClientError.self) { _ = try await frank.client.json("GET", "/v1/whoami") }

            #expect(try await admin.json("PATCH", "/v1/agencies/probation", ["active": false]).status == 200)
            let ginaNext = try await gina.client.json("GET", "/v1/whoami")
            #expect(ginaNext.status == 403 && ginaNext.errorCode == "agency_inactive", "\(ginaNext.text)")

            // Re-enabled, the same certificate works again on a new connection.
            #expect(try await admin.json("PATCH", "/v1/principals/frank", ["active": true]).status == 200)
            #expect(try await frank.client.json("GET", "/v1/whoami").status == 200)
        }
    }

    /// Issues a certificate for `principal` as `admin` and answers a client holding it, and its serial.
    static func issueAs(_ admin: BrokerClient, _ broker: TestBroker, principal: String,
                        validityDays: Int? = nil) async throws -> (client: BrokerClient, serial: String) {
        let key = try PrivateKey.generateECDSA()
        let csr = String(decoding: try CertificateSigningRequest.create(key: key, commonName: principal, organization: nil).pemBytes, as: UTF8.self)
        var body: [String: Any] = ["principal": principal, "csr": csr]
        if let validityDays { body["validityDays"] = validityDays }
        let issued = try await admin.json("POST", "/v1/credentials", body)
        #expect(issued.status == 201, "\(issued.text)")
        let client = try BrokerClient(host: "127.0.0.1", port: broker.port,
                                      identity: ClientIdentity(certificate: try Certificate(pem: Array(try #require(issued.json["certificate"].string).utf8)),
                                                               privateKey: key, trustRoots: [try Certificate(pemFile: broker.pki.caCertificatePath)]))
        return (client, try #require(issued.json["serial"].string))
    }

    /// The attack of issue 13, replayed: an administrator signs a CSR of its own for an existing
    /// coordinator, for a revoked SPOC and for a new auditor. Every one of those certificates is
    /// pending — it completes the handshake, answers whoami, and is refused everything else — until
    /// a coordinator who does not hold it approves that certificate. The admin cannot approve.
    @Test func anAdministratorAloneCannotGiveAnyoneAccessToCases() async throws {
        try await withTestBroker { broker in
            let cast = try await Cast.make(broker, agencies: ["police"])
            let admin = cast.admin
            let meetingID = try #require(try await cast.meeting(at: ResearchFlowAPITests.meetingStart)["id"].string)
            let caseID = try #require(try await cast.case(meeting: meetingID, fields: ["victim.name": "Jane Doe", "victim.safeAddress": "Refuge House"])["id"].string)
            let dispatched = try await cast.coordinator.client.json("POST", "/v1/cases/\(caseID)/research", ["agencies": ["police"], "questions": ["Known?"]])
            let requestID = try #require(dispatched.json["requests"][0]["id"].string)
            _ = try await cast.coordinator.client.json("POST", "/v1/requests/\(requestID)/extension",
                                                       ["until": rfc3339(ResearchFlowAPITests.meetingStart.addingTimeInterval(-3_600)), "reason": "Secret case text"])

            // 1. A second certificate for the existing, approved coordinator "coord", made by the admin.
            let (forged, forgedSerial) = try await Self.issueAs(admin, broker, principal: "coord")
            let who = try await forged.json("GET", "/v1/whoami")
            #expect(who.status == 200 && who.json["principal"].string == "coord" && who.json["certificate"]["approval"].string == "pending", "\(who.text)")
            for (method, path) in [("GET", "/v1/cases/\(caseID)"), ("GET", "/v1/cases/\(caseID)/returns"), ("GET", "/v1/health"),
                                   ("GET", "/v1/credentials"), ("POST", "/v1/credentials/\(forgedSerial)/approve")] {
                let refused = try await forged.json(method, path)
                #expect(refused.status == 403 && refused.errorCode == "credential_not_approved", "\(method) \(path): \(refused.text)")
                #expect(!refused.text.contains("Jane Doe") && !refused.text.contains("Refuge House"))
            }
            // The admin cannot approve it; nor can its holder's other (approved) certificate: the holder is the same person.
            let byAdmin = try await admin.json("POST", "/v1/credentials/\(forgedSerial)/approve")
            #expect(byAdmin.status == 403 && byAdmin.errorCode == "forbidden", "\(byAdmin.text)")
            let bySelf = try await cast.coordinator.client.json("POST", "/v1/credentials/\(forgedSerial)/approve")
            #expect(bySelf.status == 409 && bySelf.text.contains("your own"), "\(bySelf.text)")
            #expect(try await forged.json("GET", "/v1/cases/\(caseID)").status == 403)

            // 2. A re-issue for a revoked SPOC: pending again, whatever the SPOC's history.
            #expect(try await admin.json("POST", "/v1/credentials/\(cast.spocs["police"]!.serial)/revoke", ["reason": "left the team"]).status == 200)
            let (reissued, reissuedSerial) = try await Self.issueAs(admin, broker, principal: "police-spoc")
            let spocRefused = try await reissued.json("GET", "/v1/requests/\(requestID)")
            #expect(spocRefused.status == 403 && spocRefused.errorCode == "credential_not_approved", "\(spocRefused.text)")
            #expect(try await reissued.json("PUT", "/v1/requests/\(requestID)/return",
                                            ["knownToAgency": false, "summary": "forged", "answers": ["No"], "withheld": []]).status == 403)

            // 3. A new auditor the admin creates: cannot read the reasons withheld from administrators.
            try await Self.addPrincipal(admin, "eve", agency: "community-safety", role: "auditor")
            let (auditor, auditorSerial) = try await Self.issueAs(admin, broker, principal: "eve")
            let audit = try await auditor.json("GET", "/v1/audit?after=0&limit=200")
            #expect(audit.status == 403 && audit.errorCode == "credential_not_approved" && !audit.text.contains("Secret case text"), "\(audit.text)")

            // A second coordinator approves each; then, and only then, they work — and the audit trail says who approved.
            let second = try await broker.enrol("cora", agency: "community-safety", role: "coordinator", admin: admin)
            for serial in [forgedSerial, reissuedSerial, auditorSerial] {
                let approved = try await second.client.json("POST", "/v1/credentials/\(serial)/approve")
                #expect(approved.status == 200 && approved.json["approvedBy"].string == "cora", "\(approved.text)")
            }
            #expect(try await second.client.json("POST", "/v1/credentials/\(forgedSerial)/approve").status == 409, "approved once")
            #expect(try await second.client.json("POST", "/v1/credentials/\(try Certificate(pemFile: broker.pki.adminCertificatePath).serial)/approve").status == 409, "an admin's needs none")
            #expect(try await second.client.json("POST", "/v1/credentials/ABCDEF0123/approve").status == 404)
            let withBody = try await second.client.json("POST", "/v1/credentials/\(forgedSerial)/approve", ["force": true])
            #expect(withBody.status == 400 && withBody.errorCode == "invalid_json", "\(withBody.text)")
            #expect(try await forged.json("GET", "/v1/cases/\(caseID)").status == 200)
            #expect(try await auditor.json("GET", "/v1/audit?after=0&limit=200").text.contains("Secret case text"))
            let approvals = try await admin.auditTrail().records.filter { $0["action"].string == "credential.approve" && $0["principal"].string == "cora" }
            #expect(Set(approvals.compactMap { $0["object"].string }) == [forgedSerial, reissuedSerial, auditorSerial], "\(approvals)")

            // A change of role makes every certificate of the principal pending at once, on an open connection too.
            #expect(try await admin.json("PATCH", "/v1/principals/eve", ["role": "coordinator"]).status == 200)
            let demoted = try await auditor.json("GET", "/v1/meetings")
            #expect(demoted.status == 403 && demoted.errorCode == "credential_not_approved", "\(demoted.text)")
            // A move to another agency also revokes the certificates, whose subject names the old agency.
            let moved = try await admin.json("PATCH", "/v1/principals/eve", ["agency": "police", "role": "spoc"])
            #expect(moved.status == 200, "\(moved.text)")
            let credential = try await admin.json("GET", "/v1/credentials?principal=eve").json["credentials"].array
            #expect(credential.map { $0["status"].string } == ["revoked"] && credential.first?["approval"].string == "pending")
            #expect(credential.first?["reason"].string == "principal moved from agency community-safety to police")
        }
    }

    /// Renewal by the holder within 60 days of expiry keeps the approval; earlier it is refused and
    /// nothing is issued; the old certificate keeps working until its own expiry.
    @Test func aHolderRenewsWithinSixtyDaysAndKeepsTheApproval() async throws {
        // 30-day certificates are inside the window from the start (the broker's clock signs notBefore,
        // which OpenSSL checks against the real one, so the test does not move the clock instead).
        let broker = try TestBroker { $0.credentialValidityDays = 30 }
        let admin = try broker.adminClient()
        let spoc = try await broker.enrol("rita", agency: "police", role: "spoc", admin: admin)
        let key = try PrivateKey.generateECDSA()
        let csr = String(decoding: try CertificateSigningRequest.create(key: key, commonName: "rita", organization: "police").pemBytes, as: UTF8.self)
        // A 90-day certificate is 30 days too early.
        try await Self.addPrincipal(admin, "sam", agency: "police")
        let (sam, samSerial) = try await Self.issueAs(admin, broker, principal: "sam", validityDays: 90)
        try await broker.app.approveAsOperator(serial: samSerial, operatorName: "test")
        let samCSR = String(decoding: try CertificateSigningRequest.create(key: try PrivateKey.generateECDSA(), commonName: "sam", organization: nil).pemBytes, as: UTF8.self)
        let early = try await sam.json("POST", "/v1/credentials/renew", ["csr": samCSR])
        #expect(early.status == 409 && early.text.contains("60 days"), "\(early.text)")
        #expect(try await admin.json("GET", "/v1/credentials?principal=sam").json["credentials"].array.count == 1, "nothing issued")
        let renewed = try await spoc.client.json("POST", "/v1/credentials/renew", ["csr": csr])
        #expect(renewed.status == 201 && renewed.json["principal"].string == "rita", "\(renewed.text)")
        let client = try BrokerClient(host: "127.0.0.1", port: broker.port, identity: ClientIdentity(
            certificate: try Certificate(pem: Array(try #require(renewed.json["certificate"].string).utf8)), privateKey: key,
            trustRoots: [try Certificate(pemFile: broker.pki.caCertificatePath)]))
        let whoami = try await client.json("GET", "/v1/whoami")
        #expect(whoami.json["certificate"]["approval"].string == "approved", "\(whoami.text)")
        #expect(try await client.json("GET", "/v1/requests").status == 200)
        #expect(try await spoc.client.json("GET", "/v1/requests").status == 200, "the old one stays valid")
        // Once only: the old certificate (a copy of it, say) cannot mint another approved one.
        let again = String(decoding: try CertificateSigningRequest.create(key: try PrivateKey.generateECDSA(), commonName: "rita", organization: "police").pemBytes,
                           as: UTF8.self)
        let twice = try await spoc.client.json("POST", "/v1/credentials/renew", ["csr": again])
        let renewedSerial = try #require(renewed.json["serial"].string)
        #expect(twice.status == 409 && twice.text.contains("already renewed as \(renewedSerial)"), "\(twice.text)")
        let ritas = try await admin.json("GET", "/v1/credentials?principal=rita").json["credentials"].array
        #expect(ritas.count == 2 && ritas.contains { $0["renewedFrom"].string == spoc.serial }, "\(ritas)")
        // Someone else's CSR cannot be smuggled in: the subject is the holder's, from the registry.
        let foreign = String(decoding: try CertificateSigningRequest.create(key: try PrivateKey.generateECDSA(), commonName: "cora", organization: nil).pemBytes,
                             as: UTF8.self)
        let refused = try await client.json("POST", "/v1/credentials/renew", ["csr": foreign])
        #expect(refused.status == 422 && refused.errorCode == "subject_mismatch", "\(refused.text)")
        let audit = try await admin.auditTrail().records
        #expect(audit.contains { $0["action"].string == "credential.renew" && $0["principal"].string == "rita" })
        await broker.stop()
    }

    /// A key is certified once: the same CSR sent twice (a reloaded form), the same key under
    /// another subject or for another principal, a key whose certificate was revoked, and a renewal
    /// that keeps its key are all refused with 409 naming the certificate that holds the key, and
    /// nothing is signed into the registry. Otherwise revoking a compromised key's certificate
    /// would leave a twin certificate for the same key standing.
    @Test func aKeyIsCertifiedOnce() async throws {
        let broker = try TestBroker { $0.credentialValidityDays = 30 }
        let admin = try broker.adminClient()
        let dir = broker.directory
        try await Self.addPrincipal(admin, "kim", agency: "police")
        try await Self.addPrincipal(admin, "lee", agency: "police")
        // openssl makes the key and the first CSR; a second CSR for the same key asks for another subject.
        let csr = try await Self.opensslCSR(dir, name: "kim", key: ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"], subject: "/CN=kim")
        let first = try await admin.json("POST", "/v1/credentials", ["principal": "kim", "csr": csr])
        #expect(first.status == 201, "\(first.text)")
        let serial = try #require(first.json["serial"].string)
        func refused(_ answer: ClientResponse, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(answer.status == 409 && answer.errorCode == "conflict" && answer.text.contains(serial) && answer.text.contains("certified once"),
                    "\(what): \(answer.text)", sourceLocation: sourceLocation)
        }
        refused(try await admin.json("POST", "/v1/credentials", ["principal": "kim", "csr": csr]), "the same CSR again")
        let otherSubject = try await Tool.runAsync("openssl", ["req", "-new", "-key", dir.path("kim-key.pem"), "-subj", "/CN=kim/O=police"])
        #expect(otherSubject.status == 0, "\(otherSubject.stderr)")
        refused(try await admin.json("POST", "/v1/credentials", ["principal": "kim", "csr": otherSubject.stdout]), "the key under another subject")
        let forLee = try await Tool.runAsync("openssl", ["req", "-new", "-key", dir.path("kim-key.pem"), "-subj", "/CN=lee"])
        refused(try await admin.json("POST", "/v1/credentials", ["principal": "lee", "csr": forLee.stdout]), "the key for another principal")
        // The same key with its EC point written compressed: another SubjectPublicKeyInfo, the same key.
        let compressed = try await Tool.runAsync("openssl", ["ec", "-in", dir.path("kim-key.pem"), "-conv_form", "compressed", "-out", dir.path("kim-c.pem")])
        #expect(compressed.status == 0, "\(compressed.stderr)")
        let compressedCSR = try await Tool.runAsync("openssl", ["req", "-new", "-key", dir.path("kim-c.pem"), "-subj", "/CN=kim"])
        refused(try await admin.json("POST", "/v1/credentials", ["principal": "kim", "csr": compressedCSR.stdout]), "the key with a compressed point")
        let revoked = try await admin.json("POST", "/v1/credentials/\(serial)/revoke", ["reason": "laptop stolen"])
        #expect(revoked.status == 200, "\(revoked.text)")
        let afterRevocation = try await admin.json("POST", "/v1/credentials", ["principal": "kim", "csr": csr])
        refused(afterRevocation, "the revoked certificate's key")
        #expect(afterRevocation.text.contains("revoked"), "\(afterRevocation.text)")
        #expect(try await admin.json("GET", "/v1/credentials?principal=kim").json["credentials"].array.count == 1, "nothing more registered")
        #expect(try await admin.json("GET", "/v1/credentials?principal=lee").json["credentials"].array.isEmpty)

        // A renewal must bring a new key: the holder's own key again is refused, a new one signed.
        let key = try PrivateKey.generateECDSA()
        let leeCSR = String(decoding: try CertificateSigningRequest.create(key: key, commonName: "lee", organization: nil).pemBytes, as: UTF8.self)
        let lee = try await admin.json("POST", "/v1/credentials", ["principal": "lee", "csr": leeCSR])
        let leeSerial = try #require(lee.json["serial"].string)
        try await broker.app.approveAsOperator(serial: leeSerial, operatorName: "test")
        let holder = try BrokerClient(host: "127.0.0.1", port: broker.port, identity: ClientIdentity(
            certificate: try Certificate(pem: Array(try #require(lee.json["certificate"].string).utf8)), privateKey: key,
            trustRoots: [try Certificate(pemFile: broker.pki.caCertificatePath)]))
        let sameKey = try await holder.json("POST", "/v1/credentials/renew", ["csr": leeCSR])
        #expect(sameKey.status == 409 && sameKey.text.contains(leeSerial) && sameKey.text.contains("certified once"), "\(sameKey.text)")
        let fresh = String(decoding: try CertificateSigningRequest.create(key: try PrivateKey.generateECDSA(), commonName: "lee", organization: nil).pemBytes,
                           as: UTF8.self)
        #expect(try await holder.json("POST", "/v1/credentials/renew", ["csr": fresh]).status == 201)
        await broker.stop()
    }

    @Test func separationOfDutiesAndExpiryFlags() async throws {
        try await withTestBroker { broker in
            let admin = try broker.adminClient()
            let coordinator = try await broker.enrol("coord", agency: "community-safety", role: "coordinator", admin: admin)
            let auditor = try await broker.enrol("audrey", agency: "community-safety", role: "auditor", admin: admin)
            try await Self.addPrincipal(admin, "hal", agency: "police")
            let key = try PrivateKey.generateECDSA()
            let csr = String(decoding: try CertificateSigningRequest.create(key: key, commonName: "hal", organization: "police").pemBytes, as: UTF8.self)

            for client in [coordinator.client, auditor.client] {
                let issue = try await client.json("POST", "/v1/credentials", ["principal": "hal", "csr": csr])
                #expect(issue.status == 403 && issue.errorCode == "forbidden", "\(issue.text)")
                // Coordinators list certificates (to approve pending ones); auditors do not.
                #expect(try await client.json("GET", "/v1/credentials").status == (client === coordinator.client ? 200 : 403))
                #expect(try await client.json("POST", "/v1/credentials/\(coordinator.serial)/revoke", ["reason": "x"]).status == 403)
            }
            #expect(try await auditor.client.json("GET", "/v1/audit").status == 200)
            // Short validity is flagged as expiring, in the list and by the filter.
            let short = try await admin.json("POST", "/v1/credentials", ["principal": "hal", "csr": csr, "validityDays": 10])
            #expect(short.status == 201, "\(short.text)")
            let expiring = try await admin.json("GET", "/v1/credentials?expiring=true").json["credentials"].array
            #expect(expiring.map { $0["principal"].string } == ["hal"])
            #expect(expiring.first?["expiresSoon"].bool == true)
            let shortSerial = try #require(short.json["serial"].string)
            try await broker.restart()
            #expect(broker.logLines.all.contains { $0.contains("credential_expiring") && $0.contains(shortSerial) },
                    "certificates close to expiry are logged at start")
            let restarted = try broker.adminClient()
            let tooLong = try await restarted.json("POST", "/v1/credentials", ["principal": "hal", "csr": csr, "validityDays": 5000])
            #expect(tooLong.status == 422, "\(tooLong.text)")
            let badFilter = try await restarted.json("GET", "/v1/credentials?status=maybe")
            #expect(badFilter.status == 400 && badFilter.json["error"]["message"].string?.contains("status") == true)
        }
    }

    @Test func aCertificateFromOurCANotInTheRegistryIsRefusedInTheHandshake() async throws {
        try await withTestBroker { broker in
            // Signed by the broker's own CA, with the right usage, but never registered: a subject saying
            // CN=admin proves nothing, the registry decides.
            let ca = try broker.pki.loadCA()
            let key = try PrivateKey.generateECDSA()
            let ghost = try ca.issue(for: key, commonName: "admin", organization: "community-safety", usage: .client,
                                     notBefore: Date().addingTimeInterval(-60), notAfter: Date().addingTimeInterval(86_400))
            let certPath = try broker.directory.write("ghost.pem", ghost.pemBytes, mode: 0o644)
            let keyPath = try broker.directory.write("ghost-key.pem", try key.pemBytes())
            let curl = try await Tool.runAsync("curl", ["-sS", "--cacert", broker.pki.caCertificatePath, "--cert", certPath, "--key", keyPath,
                                                        "\(broker.url)/v1/whoami"])
            #expect(curl.status != 0 && !curl.stdout.contains("admin"), "\(curl.stdout)")
            let client = try BrokerClient(host: "127.0.0.1", port: broker.port, identity: ClientIdentity(
                certificate: ghost, privateKey: key, trustRoots: [ca.certificate]))
            await #expect(throws: ClientError.self) { _ = try await client.json("GET", "/v1/whoami") }
            #expect(broker.logLines.all.contains { $0.contains(ghost.serial) }, "the refused handshake is logged with the serial")
            // The broker keeps serving registered callers.
            #expect(try await broker.adminClient().json("GET", "/v1/whoami").status == 200)
        }
    }
}

