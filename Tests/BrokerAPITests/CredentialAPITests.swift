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
            // A SPOC sees case content: until a coordinator approves alice, her certificate is refused
            // in the handshake, and the log says why. The admin who registered her cannot approve her.
            let early = try await Tool.runAsync("curl", curlArguments)
            #expect(early.status != 0, "unapproved SPOC must fail the handshake: \(early.stdout)")
            #expect(broker.logLines.all.contains { $0.contains("certificate_refused") && $0.contains("principal_not_approved") && $0.contains(serial) })
            let byAdmin = try await admin.json("POST", "/v1/principals/alice/approve")
            #expect(byAdmin.status == 403 && byAdmin.errorCode == "forbidden", "\(byAdmin.text)")
            let coordinator = try await broker.enrol("cora", agency: "community-safety", role: "coordinator", admin: admin)
            let approved = try await coordinator.client.json("POST", "/v1/principals/alice/approve")
            #expect(approved.status == 200 && approved.json["approvedBy"].string == "cora" && approved.json["approvedAt"].exists, "\(approved.text)")

            let curl = try await Tool.runAsync("curl", curlArguments)
            #expect(curl.status == 0, "\(curl.stderr)")
            let whoami = JSONBody(value: try? JSONSerialization.jsonObject(with: Data(curl.stdout.utf8)))
            #expect(whoami["principal"].string == "alice")
            #expect(whoami["agency"].string == "police")
            #expect(whoami["role"].string == "spoc")
            #expect(whoami["certificate"]["serial"].string == serial)
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
            FileManager.default.createFile(atPath: go, contents: nil)
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
            #expect(actions.count == 2, "issuance and revocation audited: \(actions)")
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

    @Test func anAdministratorAloneCannotGiveAnyoneAccessToCases() async throws {
        try await withTestBroker { broker in
            let admin = try broker.adminClient()
            let coordinator = try await broker.enrol("cora", agency: "community-safety", role: "coordinator", admin: admin)
            // The admin registers a coordinator for itself and issues the certificate: it does not work.
            try await Self.addPrincipal(admin, "mallory", agency: "community-safety", role: "coordinator")
            let key = try PrivateKey.generateECDSA()
            let csr = String(decoding: try CertificateSigningRequest.create(key: key, commonName: "mallory", organization: nil).pemBytes, as: UTF8.self)
            let issued = try await admin.json("POST", "/v1/credentials", ["principal": "mallory", "csr": csr])
            #expect(issued.status == 201, "\(issued.text)")
            let mallory = try BrokerClient(host: "127.0.0.1", port: broker.port,
                                           identity: ClientIdentity(certificate: try Certificate(pem: Array(try #require(issued.json["certificate"].string).utf8)),
                                                                    privateKey: key, trustRoots: [try Certificate(pemFile: broker.pki.caCertificatePath)]))
            await #expect(throws: ClientError.self) { _ = try await mallory.json("GET", "/v1/meetings") }
            // The coordinator sees who is waiting for approval; approving oneself or an admin is refused.
            let listed = try await coordinator.client.json("GET", "/v1/principals")
            #expect(listed.json["principals"].array.contains { $0["id"].string == "mallory" && !$0["approvedAt"].exists })
            #expect(try await coordinator.client.json("POST", "/v1/principals/cora/approve").status == 409)
            #expect(try await coordinator.client.json("POST", "/v1/principals/admin/approve").status == 409)
            #expect(try await coordinator.client.json("POST", "/v1/principals/nobody/approve").status == 404)
            let withBody = try await coordinator.client.json("POST", "/v1/principals/mallory/approve", ["force": true])
            #expect(withBody.status == 400 && withBody.errorCode == "invalid_json", "\(withBody.text)")

            // Approved, the same certificate works.
            #expect(try await coordinator.client.json("POST", "/v1/principals/mallory/approve").status == 200)
            #expect(try await mallory.json("GET", "/v1/meetings").status == 200)
            // A change of role clears the approval at once, on the open connection too.
            #expect(try await admin.json("PATCH", "/v1/principals/mallory", ["role": "spoc", "agency": "community-safety"]).status == 200)
            let demoted = try await mallory.json("GET", "/v1/requests")
            #expect(demoted.status == 403 && demoted.errorCode == "principal_not_approved", "\(demoted.text)")
            // A move to another agency also revokes the certificate, whose subject names the old agency.
            #expect(try await coordinator.client.json("POST", "/v1/principals/mallory/approve").status == 200)
            let moved = try await admin.json("PATCH", "/v1/principals/mallory", ["agency": "police"])
            #expect(moved.status == 200 && !moved.json["approvedAt"].exists, "\(moved.text)")
            let credential = try await admin.json("GET", "/v1/credentials?principal=mallory").json["credentials"].array
            #expect(credential.map { $0["status"].string } == ["revoked"])
            #expect(credential.first?["reason"].string == "principal moved from agency community-safety to police")

            let actions = try await admin.auditTrail().records.filter { $0["object"].string == "mallory" }.map { $0["action"].string ?? "" }
            #expect(actions == ["principal.create", "principal.approve", "principal.update", "principal.approve", "principal.update"], "\(actions)")
        }
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
                #expect(try await client.json("GET", "/v1/credentials").status == 403)
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

