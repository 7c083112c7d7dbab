import Foundation
import MaracClient
import Testing
import TestSupport
import TLS
import Wire

/// The built `marac` binary against a real broker: output, exit codes, files written.
@Suite(.serialized) struct MaracCLITests {
    /// 10:00Z on a day about six weeks ahead, well clear of the dispatch deadline.
    static var meetingStart: Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar.startOfDay(for: Date().addingTimeInterval(42 * 86_400)).addingTimeInterval(10 * 3_600)
    }

    static let caseFile = """
        {"reference": "MARAC-2027-0042",
         "fields": {"victim.name": "Jane Doe", "perpetrator.name": "John Roe", "risk.dashScore": 18, "victim.gp": "Dr Patel"},
         "consent": {"status": "not-obtained", "lawfulBasis": "high risk of serious harm"}}
        """
    static let goodReturn = """
        {"knownToAgency": true, "summary": "Three call-outs since March.", "answers": ["Yes", "Three domestic incidents"],
         "withheld": [{"what": "Ongoing investigation details", "reason": "Would prejudice an investigation"}]}
        """

    /// `marac cert renew`: the holder renews within 60 days of expiry, the new key made here (0600),
    /// the approval kept; a pending certificate's holder sees PENDING in whoami.
    @Test func aHolderRenewsThroughTheCLIAndKeepsTheApproval() async throws {
        let broker = try TestBroker { $0.credentialValidityDays = 30 }
        let dir = try TemporaryDirectory()
        let cli = MaracCLI(home: dir.path("home"), url: broker.url, ca: broker.pki.caCertificatePath)
        let spoc = try await broker.enrol("rita", agency: "police", role: "spoc", admin: try broker.adminClient())
        let current = CLIUser(certificate: spoc.certificatePath, key: spoc.keyPath)
        let renewed = try await cli.run(["cert", "renew", "--out", dir.path("new")], as: current)
        #expect(renewed.status == 0 && renewed.stdout.contains("issued to rita"), "\(renewed.stdout) \(renewed.stderr)")
        #expect(try mode(dir.path("new/rita-key.pem")) == 0o600)
        let next = CLIUser(certificate: dir.path("new/rita.pem"), key: dir.path("new/rita-key.pem"))
        let whoami = try await cli.run(["whoami"], as: next)
        #expect(whoami.status == 0 && whoami.stdout.contains("approved") && !whoami.stdout.contains("PENDING"), "\(whoami.stdout) \(whoami.stderr)")
        #expect(try await cli.run(["requests"], as: next).status == 0)
        await broker.stop()
    }

    @Test func aWholeMARACCycleThroughTheCLI() async throws {
        try await withTestBroker { broker in
            let dir = try TemporaryDirectory()
            let cli = MaracCLI(home: dir.path("home"), url: broker.url, ca: broker.pki.caCertificatePath)
            let admin = CLIUser(certificate: broker.pki.adminCertificatePath, key: broker.pki.adminKeyPath)

            // Administrator: an agency, three principals, their certificates (keys made here).
            var result = try await cli.run(["agency", "add", "womens-aid", "--name", "Northtown Women's Aid", "--kind", "non-core"], as: admin)
            #expect(result.status == 0, "\(result.stderr)")
            result = try await cli.run(["agency", "list"], as: admin)
            #expect(result.stdout.contains("womens-aid") && result.stdout.contains("Northtown Women's Aid"))
            for (id, agency, role) in [("coord", "community-safety", "coordinator"), ("police-spoc", "police", "spoc"), ("wa-spoc", "womens-aid", "spoc")] {
                result = try await cli.run(["principal", "add", id, "--name", id.capitalized, "--agency", agency, "--role", role], as: admin)
                #expect(result.status == 0, "\(result.stderr)")
            }
            let password = try dir.write("p12-password", Array("correct horse battery\n".utf8))
            result = try await cli.run(["cert", "request", "--principal", "police-spoc", "--out", dir.path("police"),
                                        "--p12", "--p12-password-file", password], as: admin)
            #expect(result.status == 0, "\(result.stderr)")
            let police = CLIUser(certificate: dir.path("police/police-spoc.pem"), key: dir.path("police/police-spoc-key.pem"))
            let policeCertificate = try Certificate(pemFile: police.certificate)
            #expect(result.stdout.contains(policeCertificate.serial))
            #expect(try mode(police.key) == 0o600 && mode(dir.path("police/police-spoc.p12")) == 0o600)
            #expect(policeCertificate.matches(try PrivateKey(pemFile: police.key)))
            let p12 = try await Tool.runAsync("openssl", ["pkcs12", "-info", "-in", dir.path("police/police-spoc.p12"), "-passin", "pass:correct horse battery",
                                                          "-nokeys"])
            #expect(p12.status == 0 && (p12.stdout.contains("CN=police-spoc") || p12.stdout.contains("CN = police-spoc")), "\(p12.stdout) \(p12.stderr)")
            let wrongPassword = try await Tool.runAsync("openssl", ["pkcs12", "-info", "-in", dir.path("police/police-spoc.p12"), "-passin", "pass:wrong", "-nokeys"])
            #expect(wrongPassword.status != 0)
            result = try await cli.run(["cert", "request", "--principal", "coord", "--out", dir.path("coord")], as: admin)
            #expect(result.status == 0, "\(result.stderr)")
            // The split flow: the holder makes key and CSR with no broker at all, the administrator has the CSR signed.
            result = try await cli.run(["cert", "request", "--principal", "wa-spoc", "--out", dir.path("wa-home"), "--csr-only"], env: ["MARAC_URL": "https://127.0.0.1:1"])
            #expect(result.status == 0 && result.stdout.contains("wa-spoc.csr"), "\(result.stderr)")
            #expect(try mode(dir.path("wa-home/wa-spoc-key.pem")) == 0o600)
            result = try await cli.run(["cert", "request", "--principal", "wa-spoc", "--out", dir.path("wa-admin"), "--csr", dir.path("wa-home/wa-spoc.csr")], as: admin)
            #expect(result.status == 0 && !FileManager.default.fileExists(atPath: dir.path("wa-admin/wa-spoc-key.pem")), "\(result.stderr)")
            result = try await cli.run(["cert", "request", "--principal", "wa-spoc", "--out", dir.path("wa-admin"), "--csr", dir.path("wa-home/wa-spoc.csr"), "--p12"], as: admin)
            #expect(result.status == 2 && result.stderr.contains("stays with the holder"), "\(result.stderr)")
            let coord = CLIUser(certificate: dir.path("coord/coord.pem"), key: dir.path("coord/coord-key.pem"))
            let womensAid = CLIUser(certificate: dir.path("wa-admin/wa-spoc.pem"), key: dir.path("wa-home/wa-spoc-key.pem"))

            // A second person: the first coordinator's certificate is approved by the server operator, the SPOCs' by that coordinator.
            result = try await cli.run(["whoami"], as: police)
            #expect(result.status == 0 && result.stdout.contains("PENDING"), "a pending certificate may ask who it is: \(result.stdout) \(result.stderr)")
            result = try await cli.run(["requests"], as: police)
            #expect(result.status == 1 && result.stderr.contains("marac cert approve \(policeCertificate.serial)"), "\(result.stderr)")
            try await broker.app.approveAsOperator(serial: try Certificate(pemFile: coord.certificate).serial, operatorName: "test")
            result = try await cli.run(["cert", "list", "--pending"], as: coord)
            #expect(result.stdout.split(separator: "\n").contains { $0.contains("police-spoc") && $0.contains("pending") }, "\(result.stdout)")
            let womensAidSerial = try Certificate(pemFile: womensAid.certificate).serial
            for serial in [policeCertificate.serial, womensAidSerial] {
                result = try await cli.run(["cert", "approve", serial], as: coord)
                #expect(result.status == 0 && result.stdout.contains("approved by coord"), "\(result.stdout) \(result.stderr)")
            }
            result = try await cli.run(["cert", "approve", policeCertificate.serial], as: admin)
            #expect(result.status == 1 && result.stderr.contains("403"), "an administrator alone cannot approve: \(result.stderr)")
            let curl = try await Tool.runAsync("curl", ["-sS", "--cacert", dir.path("police/ca.pem"), "--cert", police.certificate, "--key", police.key,
                                                        "\(broker.url)/v1/whoami"])
            #expect(curl.stdout.contains("\"principal\":\"police-spoc\""), "\(curl.stdout) \(curl.stderr)")
            result = try await cli.run(["whoami"], env: ["MARAC_CONFIG": dir.path("police/config.json")])
            #expect(result.status == 0 && result.stdout.contains("police-spoc") && result.stdout.contains("spoc"), "the profile cert request wrote works: \(result.stderr)")

            // Coordinator: meeting (both deadlines, local and UTC), case, dispatch.
            result = try await cli.run(["meeting", "create", "--at", RFC3339.format(Self.meetingStart), "--title", "MARAC Northtown"], as: coord)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("dispatch by") && result.stdout.contains("returns due") && result.stdout.contains(TimeText.utc(Self.meetingStart)))
            #expect(result.stdout.contains("GMT") || result.stdout.contains("BST"), "local time is shown: \(result.stdout)")
            let meetings = try json(try await cli.run(["meeting", "list", "--json"], as: coord))
            let meetingID = try #require(meetings["meetings"].array.first?["id"].string)
            result = try await cli.run(["meeting", "show", meetingID], as: coord)
            #expect(result.stdout.contains("MARAC Northtown") && result.stdout.contains("dispatch by"), "\(result.stdout)")
            let returnDeadline = try #require(meetings["meetings"].array.first?["returnDeadline"].date)
            let caseFile = try dir.write("case.json", Array(Self.caseFile.utf8))
            let created = try json(try await cli.run(["case", "create", "--meeting", meetingID, "--file", caseFile, "--json"], as: coord))
            let caseID = try #require(created["id"].string)
            result = try await cli.run(["case", "show", caseID], as: coord)
            #expect(result.stdout.contains("victim.gp") && result.stdout.contains("high risk of serious harm"))
            let questions = try dir.write("questions.txt", Array("Is the victim known to you?\n\n# internal note\nAny incidents in the last 12 months?\n".utf8))
            let dispatched = try json(try await cli.run(["research", "dispatch", caseID, "--agencies", "police,womens-aid", "--questions-file", questions, "--json"], as: coord))
            let requests = dispatched["requests"].array
            #expect(requests.map { $0["agency"].string } == ["police", "womens-aid"])
            #expect(requests.allSatisfy { $0["questions"].array.count == 2 })
            let policeRequest = try #require(requests.first?["id"].string), womensAidRequest = try #require(requests.last?["id"].string)

            // SPOC: list, read, a refused draft (nothing sent), the return, its history.
            result = try await cli.run(["requests"], as: police)
            #expect(result.stdout.contains("MARAC-2027-0042") && result.stdout.contains(policeRequest) && result.stdout.contains("RETURN BY (UTC)"))
            #expect(try json(try await cli.run(["requests", "--json"], as: police))["requests"].array.count == 1)
            result = try await cli.run(["request", "show", policeRequest], as: police)
            #expect(result.stdout.contains("Jane Doe") && result.stdout.contains("Any incidents in the last 12 months?"))
            #expect(!result.stdout.contains("Dr Patel"), "a field police may not see is withheld")
            let short = try dir.write("short.json", Array(#"{"knownToAgency": "yes", "summary": "", "answers": ["Yes"], "colour": 1}"#.utf8))
            result = try await cli.run(["return", "submit", policeRequest, "--file", short], as: police)
            #expect(result.status == 2, "\(result.stderr)")
            for problem in ["knownToAgency", "summary", "colour"] { #expect(result.stderr.contains(problem), "\(result.stderr)") }
            let oneAnswer = try dir.write("one.json", Array(#"{"knownToAgency": true, "summary": "Known.", "answers": ["Yes"]}"#.utf8))
            result = try await cli.run(["return", "submit", policeRequest, "--file", oneAnswer], as: police)
            #expect(result.status == 2 && result.stderr.contains("asks 2 questions, the file answers 1"), "\(result.stderr)")
            result = try await cli.run(["return", "show", policeRequest], as: police)
            #expect(result.status == 1 && result.stderr.contains("404"), "nothing was sent: \(result.stderr)")
            let good = try dir.write("return.json", Array(Self.goodReturn.utf8))
            result = try await cli.run(["return", "submit", policeRequest, "--file", good], as: police)
            #expect(result.status == 0 && result.stdout.contains("version 1") && result.stdout.contains("met with"), "\(result.stdout) \(result.stderr)")
            #expect(result.stdout.contains(TimeText.utc(returnDeadline)))
            result = try await cli.run(["return", "show", policeRequest], as: police)
            #expect(result.stdout.contains("Three call-outs since March.") && result.stdout.contains("Ongoing investigation details"))
            #expect(try json(try await cli.run(["return", "show", policeRequest, "--json"], as: police))["latest"]["version"].int == 1)

            // Coordinator: extension, status table, the pack.
            let until = returnDeadline.addingTimeInterval(3_600)
            result = try await cli.run(["request", "extend", womensAidRequest, "--until", RFC3339.format(until), "--reason", "records outage"], as: coord)
            #expect(result.status == 0 && result.stdout.contains(TimeText.utc(until)), "\(result.stdout) \(result.stderr)")
            result = try await cli.run(["meeting", "status", meetingID], as: coord)
            let rows = result.stdout.split(separator: "\n")
            #expect(rows.contains { $0.contains("police") && $0.contains("returned") }, "\(result.stdout)")
            #expect(rows.contains { $0.contains("womens-aid") && $0.contains("extended") && $0.contains("(extended)") }, "\(result.stdout)")
            #expect(try json(try await cli.run(["meeting", "status", meetingID, "--json"], as: coord))["requests"].array.count == 2)
            let packFile = dir.path("pack.txt")
            result = try await cli.run(["case", "pack", caseID, "-o", packFile], as: coord)
            #expect(result.status == 0, "\(result.stderr)")
            let pack = try String(contentsOfFile: packFile, encoding: .utf8)
            #expect(pack.contains("MARAC-2027-0042") && pack.contains("Three call-outs since March."))
            #expect(try json(try await cli.run(["case", "pack", caseID, "--json"], as: coord))["returns"].array.count == 2)

            // Administrator: audit trail, certificates, disabling and revoking.
            result = try await cli.run(["audit", "list", "--case", caseID], as: admin)
            #expect(result.status == 0 && result.stdout.contains("police-spoc") && result.stdout.contains("victim.name"), "\(result.stdout) \(result.stderr)")
            #expect(result.stdout.contains("police: ") && result.stdout.contains("womens-aid: "), "field names per agency on dispatch: \(result.stdout)")
            #expect(!result.stdout.contains("Jane Doe"))
            let audit = try json(try await cli.run(["audit", "list", "--principal", "coord", "--json"], as: admin))
            #expect(!audit["records"].array.isEmpty && audit["records"].array.allSatisfy { $0["principal"].string == "coord" })
            result = try await cli.run(["cert", "list"], as: admin)
            #expect(result.stdout.contains(policeCertificate.serial) && result.stdout.contains("wa-spoc"))
            #expect(try json(try await cli.run(["cert", "list", "--expiring", "--json"], as: admin))["credentials"].array.isEmpty)
            result = try await cli.run(["principal", "disable", "wa-spoc"], as: admin)
            #expect(result.status == 0, "\(result.stderr)")
            result = try await cli.run(["principal", "list"], as: admin)
            #expect(result.stdout.split(separator: "\n").contains { $0.contains("wa-spoc") && $0.contains("DISABLED") }, "\(result.stdout)")
            result = try await cli.run(["whoami"], as: womensAid)
            #expect(result.status == 3 && result.stderr.contains("likely cause"), "\(result.stderr)")
            #expect(try await cli.run(["principal", "enable", "wa-spoc"], as: admin).status == 0)
            #expect(try await cli.run(["whoami"], as: womensAid).status == 0)
            #expect(try await cli.run(["agency", "disable", "womens-aid"], as: admin).status == 0)
            #expect(try await cli.run(["whoami"], as: womensAid).status == 3, "a disabled agency shuts its principals out")
            #expect(try await cli.run(["agency", "enable", "womens-aid"], as: admin).status == 0)
            #expect(try await cli.run(["whoami"], as: womensAid).status == 0)
            result = try await cli.run(["cert", "revoke", policeCertificate.serial, "--reason", "laptop lost"], as: admin)
            #expect(result.status == 0 && result.stdout.contains("revoked"), "\(result.stderr)")
            result = try await cli.run(["requests"], as: police)
            #expect(result.status == 3 && result.stderr.contains("revoked") && result.stderr.contains(policeCertificate.serial), "\(result.stderr)")
        }
    }

    /// SPEC §11.1–11.4 through the CLI: a police SPOC refers a DA case, a minor's referral is refused
    /// (exit 1, every outcome named), the coordinator accepts, relists for review, corrects a field,
    /// invites an agency and reads the agenda; the SPOC sees its referral's outcome and no agenda yet.
    @Test func aReferralToTheAgendaThroughTheCLI() async throws {
        try await withTestBroker { broker in
            let dir = try TemporaryDirectory()
            let cli = MaracCLI(home: dir.path("home"), url: broker.url, ca: broker.pki.caCertificatePath)
            let (spoc, coord) = try await policeSPOCAndCoordinator(broker)
            var result = try await cli.run(["panel", "list"], as: spoc)
            #expect(result.status == 0 && result.stdout.contains("domestic-abuse — Domestic Abuse MARAC") && result.stdout.contains("minimumAge"), "\(result.stdout)")
            let meeting = try json(try await cli.run(["meeting", "create", "--at", RFC3339.format(Self.meetingStart), "--title", "DA MARAC", "--json"], as: coord))
            let meetingID = try #require(meeting["id"].string)
            #expect(meeting["panel"].string == "domestic-abuse" && meeting["referralDeadline"].string != nil)
            let later = try json(try await cli.run(["meeting", "create", "--at", RFC3339.format(Self.meetingStart.addingTimeInterval(28 * 86_400)),
                                                    "--title", "DA MARAC next", "--json"], as: coord))

            let referral = #"{"caseType": "domestic-abuse", "criteria": ["visible-high-risk"], "reason": "DASH 17 ticks", "consent": {"status": "obtained"}, "fields": {"victim.name": "Dana Example", "victim.dateOfBirth": "1990-01-01", "victim.phone": "07700 900001"}}"#
            let file = try dir.write("referral.json", Array(referral.utf8))
            result = try await cli.run(["referral", "submit", "--file", file, "--meeting", meetingID], as: spoc)
            #expect(result.status == 0 && result.stdout.contains("minimumAge (hard)") && result.stdout.contains("passed"), "\(result.stdout) \(result.stderr)")
            let minor = try dir.write("minor.json", Array(referral.replacingOccurrences(of: "1990-01-01", with: RFC3339.format(Date()).prefix(4).description + "-01-01").utf8))
            result = try await cli.run(["referral", "submit", "--file", minor], as: spoc)
            #expect(result.status == 1 && result.stderr.contains("422 screening_failed") && result.stderr.contains("minimumAge failed (hard)"), "\(result.stderr)")
            let referralID = try #require(try json(try await cli.run(["referral", "list", "--json"], as: spoc))["referrals"].array.last?["id"].string)

            result = try await cli.run(["referral", "decide", referralID, "--accept", "--decline"], as: coord)
            #expect(result.status == 2, "one decision at a time: \(result.stderr)")
            result = try await cli.run(["referral", "decide", referralID, "--accept", "--meeting", meetingID, "--slot", "10:30", "--reference", "DA-1"], as: coord)
            #expect(result.status == 0 && result.stdout.contains("Accepted: case") && result.stdout.contains("at 10:30"), "\(result.stdout) \(result.stderr)")
            let caseID = try #require(try json(try await cli.run(["referral", "show", referralID, "--json"], as: spoc))["case"].string)
            result = try await cli.run(["referral", "show", referralID], as: spoc)
            #expect(result.stdout.contains("accepted by coord") && result.stdout.contains("at 10:30"), "\(result.stdout)")

            result = try await cli.run(["case", "relist", caseID, "--meeting", later["id"].string ?? ""], as: coord)
            #expect(result.status == 0 && result.stdout.contains("listed at 2 meetings"), "\(result.stdout) \(result.stderr)")
            result = try await cli.run(["case", "fields", caseID, "--remove", "victim.phone", "--reason", "number no longer in use", "--version", "0"], as: coord)
            #expect(result.status == 0 && result.stdout.contains("version 1"), "\(result.stdout) \(result.stderr)")
            result = try await cli.run(["case", "fields", caseID, "--remove", "victim.name", "--reason", "stale", "--version", "0"], as: coord)
            #expect(result.status == 1 && result.stderr.contains("409 conflict"), "\(result.stderr)")
            result = try await cli.run(["case", "list", "--meeting", later["id"].string ?? ""], as: coord)
            #expect(result.status == 0 && result.stdout.contains("DA-1") && result.stdout.contains("review") && !result.stdout.contains("Dana"), "\(result.stdout)")
            #expect(try await cli.run(["case", "list"], as: spoc).status == 1, "a SPOC lists no cases")
            result = try await cli.run(["meeting", "invite", meetingID, "--agencies", "housing"], as: coord)
            #expect(result.status == 0 && result.stdout.contains("Invited: housing"))
            result = try await cli.run(["meeting", "agenda", meetingID], as: coord)
            #expect(result.status == 0 && result.stdout.contains("10:30") && result.stdout.contains("DA-1") && result.stdout.contains(caseID), "\(result.stdout)")
            result = try await cli.run(["meeting", "agenda", meetingID], as: spoc)
            #expect(result.status == 1 && result.stderr.contains("404 not_found"), "before agendaAt: \(result.stderr)")

            // After the meeting: an action for the police, completed by its SPOC; closure refused until then.
            broker.clock.set(Self.meetingStart.addingTimeInterval(3_600))
            // The police SPOC's watcher prints each change to its agency's actions as it happens.
            let watcher = try cli.start(["action", "watch", "--wait", "5"], as: spoc)
            #expect(await watcher.wait { $0.stderr.contains("watching") }, "\(watcher.stderr)")
            let due = RFC3339.format(Self.meetingStart.addingTimeInterval(3 * 86_400))
            result = try await cli.run(["action", "add", caseID, "--agency", "police", "--text", "Serve the order", "--due", due, "--rapid"], as: coord)
            #expect(result.status == 0 && result.stdout.contains("(rapid)"), "\(result.stdout) \(result.stderr)")
            result = try await cli.run(["action", "list"], as: spoc)
            #expect(result.status == 0 && result.stdout.contains("OPEN, RAPID") && result.stdout.contains("Serve the order"), "\(result.stdout)")
            let actionID = try #require(try json(try await cli.run(["action", "list", "--json"], as: spoc))["actions"].array.first?["id"].string)
            result = try await cli.run(["case", "close", caseID, "--reason", "risk reduced"], as: coord)
            #expect(result.status == 1 && result.stderr.contains("409 actions_open"), "\(result.stderr)")
            result = try await cli.run(["action", "complete", actionID, "--note", "Served in person"], as: spoc)
            #expect(result.status == 0 && result.stdout.contains("completed"), "\(result.stdout) \(result.stderr)")
            result = try await cli.run(["action", "show", actionID], as: coord)
            #expect(result.stdout.contains("Served in person"), "\(result.stdout)")
            #expect(await watcher.wait { $0.stdout.contains("COMPLETED  \(actionID)") }, "\(watcher.stdout)")
            #expect(watcher.stdout.contains("OPEN  \(actionID)  DA-1") && watcher.stdout.contains("RAPID  Serve the order"), "\(watcher.stdout)")
            _ = await watcher.stop()
            result = try await cli.run(["meeting", "status", meetingID], as: coord)
            #expect(result.status == 0 && result.stdout.contains("1 actions: 1 completed") && result.stdout.contains("Serve the order"), "\(result.stdout)")
            result = try await cli.run(["case", "close", caseID, "--reason", "risk reduced"], as: coord)
            #expect(result.status == 0 && result.stdout.contains("DA-1 closed"), "\(result.stdout) \(result.stderr)")
            result = try await cli.run(["case", "erase", caseID, "--reason", "retention review"], as: spoc)
            #expect(result.status == 1 && result.stderr.contains("403 forbidden"), "\(result.stderr)")
            result = try await cli.run(["case", "erase", caseID, "--reason", "retention review"], as: coord)
            #expect(result.status == 0 && result.stdout.contains("Case DA-1 erased at"), "\(result.stdout) \(result.stderr)")
            result = try await cli.run(["case", "show", caseID], as: coord)
            #expect(result.status == 0 && result.stdout.contains("nothing of its content remains") && !result.stdout.contains("Dana"), "\(result.stdout)")
            let day = String(RFC3339.format(Self.meetingStart).prefix(10))
            result = try await cli.run(["panel", "stats", "domestic-abuse", "--from", day, "--to", day], as: coord)
            #expect(result.status == 0 && result.stdout.contains("1 meetings held") && result.stdout.contains("1 on time, 0 late"), "\(result.stdout)")
        }
    }

    @Test func exitCodesSeparateUsageRefusalAndConnectionFailures() async throws {
        try await withTestBroker { broker in
            let dir = try TemporaryDirectory()
            let cli = MaracCLI(home: dir.path("home"), url: broker.url, ca: broker.pki.caCertificatePath)
            let (spoc, coord) = try await policeSPOCAndCoordinator(broker)

            // 2: usage.
            for arguments in [[], ["frobnicate"], ["meeting"], ["meeting", "create", "--title", "x"], ["request", "show"],
                              ["requests", "watch", "--exec", "true"], ["whoami", "--colour"], ["meeting", "create", "--at", "next tuesday", "--title", "x"]] {
                let result = try await cli.run(arguments, as: coord)
                #expect(result.status == 2, "\(arguments): \(result.status) \(result.stderr)")
                #expect(!result.stderr.isEmpty)
            }
            let unset = try await cli.run(["whoami"])
            #expect(unset.status == 2 && unset.stderr.contains("no cert file given") && unset.stderr.contains("MARAC_CERT"), "\(unset.stderr)")
            let plain = try await cli.run(["whoami", "--url", "http://127.0.0.1:8443"], as: coord)
            #expect(plain.status == 2 && plain.stderr.contains("https://"), "\(plain.stderr)")
            // --help on every command, with an example.
            let overview = try await cli.run(["--help"])
            #expect(overview.status == 0)
            let commands = overview.stdout.split(separator: "\n").filter { $0.hasPrefix("  ") && !$0.hasPrefix("   ") && !$0.contains("--") }
                .map { $0.trimmingCharacters(in: .whitespaces).components(separatedBy: "  ")[0] }
            #expect(commands.count >= 25, "\(overview.stdout)")
            for command in commands {
                let path = command.split(separator: " ").map(String.init)
                let help = try await cli.run(path + ["--help"])
                #expect(help.status == 0 && help.stdout.contains("Example:\n  marac \(path.joined(separator: " "))"), "\(path): \(help.stdout)")
            }

            // 1: refused by the broker, with its code and message.
            var result = try await cli.run(["agency", "list"], as: spoc)
            #expect(result.status == 1 && result.stderr.contains("403 forbidden") && result.stderr.contains("spoc"), "\(result.stderr)")
            let meeting = try json(try await cli.run(["meeting", "create", "--at", RFC3339.format(Self.meetingStart), "--title", "M", "--json"], as: coord))
            let caseFile = try dir.write("case.json", Array(Self.caseFile.utf8))
            let caseID = try #require(try json(try await cli.run(["case", "create", "--meeting", meeting["id"].string ?? "", "--file", caseFile, "--json"], as: coord))["id"].string)
            let questions = try dir.write("q.txt", Array("Known?\nIncidents?\n".utf8))
            result = try await cli.run(["research", "dispatch", caseID, "--agencies", "police", "--questions-file", questions, "--fields", "victim.gp"], as: coord)
            #expect(result.status == 1 && result.stderr.contains("not_entitled"), "\(result.stderr)")
            let dispatched = try json(try await cli.run(["research", "dispatch", caseID, "--agencies", "police", "--questions-file", questions, "--json"], as: coord))
            let requestID = try #require(dispatched["requests"].array.first?["id"].string)
            func newCase(_ reference: String) async throws -> String {
                let file = try dir.write("\(reference).json", Array(#"{"reference": "\#(reference)", "fields": {"victim.name": "V"}, "consent": {"status": "obtained"}}"#.utf8))
                return try json(try await cli.run(["case", "create", "--meeting", meeting["id"].string ?? "", "--file", file, "--json"], as: coord))["id"].string ?? ""
            }
            let later = Date().addingTimeInterval(86_400)
            result = try await cli.run(["research", "dispatch", try await newCase("MARAC-LATER"), "--agencies", "police", "--questions-file", questions,
                                        "--release-at", RFC3339.format(later)], as: coord)
            #expect(result.status == 0 && result.stdout.contains("scheduled"), "\(result.stdout) \(result.stderr)")
            #expect(!(try await cli.run(["requests"], as: spoc)).stdout.contains("MARAC-LATER"), "nothing is seen before its release")
            result = try await cli.run(["meeting", "status", meeting["id"].string ?? ""], as: coord)
            #expect(result.stdout.contains("releases \(TimeText.utc(later))"), "\(result.stdout)")

            broker.clock.set(try #require(meeting["returnDeadline"].date).addingTimeInterval(1))
            let lateCase = try await newCase("MARAC-LATE")
            result = try await cli.run(["research", "dispatch", lateCase, "--agencies", "police", "--questions-file", questions], as: coord)
            #expect(result.status == 1 && result.stderr.contains("dispatch_deadline_passed"), "\(result.stderr)")
            result = try await cli.run(["research", "dispatch", lateCase, "--agencies", "police", "--questions-file", questions,
                                        "--urgent", "--reason", "new incident last night"], as: coord)
            #expect(result.status == 0 && result.stdout.contains("URGENT"), "\(result.stdout) \(result.stderr)")
            result = try await cli.run(["requests"], as: spoc)
            #expect(result.stdout.split(separator: "\n").contains { $0.contains("MARAC-LATE") && $0.contains("URGENT") }, "\(result.stdout)")
            let good = try dir.write("return.json", Array(Self.goodReturn.utf8))
            result = try await cli.run(["return", "submit", requestID, "--file", good], as: spoc)
            #expect(result.status == 1 && result.stderr.contains("return_deadline_passed"), "\(result.stderr)")
            result = try await cli.run(["meeting", "status", meeting["id"].string ?? ""], as: coord)
            #expect(result.stdout.contains("OVERDUE"), "the broker's clock decides: \(result.stdout)")

            // 3: no answer, with the likely cause.
            let otherCA = try TestPKI()
            result = try await cli.run(["whoami", "--ca", otherCA.caPath], as: spoc)
            #expect(result.status == 3 && result.stderr.contains("likely cause") && result.stderr.contains("CA file"), "\(result.stderr)")
            result = try await cli.run(["whoami", "--url", "https://127.0.0.1:1"], as: spoc)
            #expect(result.status == 3 && result.stderr.contains("nothing is listening"), "\(result.stderr)")
            let foreign = try otherCA.client("police-spoc")
            result = try await cli.run(["whoami", "--cert", foreign.certificatePath, "--key", foreign.keyPath])
            #expect(result.status == 3 && result.stderr.contains("does not trust the CA"), "\(result.stderr)")
            let expired = try expiredCredential(broker, in: dir)
            result = try await cli.run(["whoami"], as: expired)
            #expect(result.status == 3 && result.stderr.contains("expired"), "\(result.stderr)")
            result = try await cli.run(["whoami", "--key", coord.key], as: spoc)
            #expect(result.status == 3 && result.stderr.contains("does not match"), "\(result.stderr)")
        }
    }

    @Test func watchSurvivesARestartAndDeliversEachRequestOncePerDirectory() async throws {
        let port = try freeLoopbackPort()
        let broker = try TestBroker { $0.listenPort = port }
        do {
            let dir = try TemporaryDirectory()
            let cli = MaracCLI(home: dir.path("home"), url: broker.url, ca: broker.pki.caCertificatePath)
            let (spoc, coord) = try await policeSPOCAndCoordinator(broker)
            let meetingID = try json(try await cli.run(["meeting", "create", "--at", RFC3339.format(Self.meetingStart), "--title", "M", "--json"], as: coord))["id"].string ?? ""
            let questions = try dir.write("q.txt", Array("Known?\n".utf8))
            func dispatch(_ reference: String) async throws -> String {
                let file = try dir.write("\(reference).json", Array(#"{"reference": "\#(reference)", "fields": {"victim.name": "V"}, "consent": {"status": "obtained"}}"#.utf8))
                let caseID = try json(try await cli.run(["case", "create", "--meeting", meetingID, "--file", file, "--json"], as: coord))["id"].string ?? ""
                let answer = try json(try await cli.run(["research", "dispatch", caseID, "--agencies", "police", "--questions-file", questions, "--json"], as: coord))
                return try #require(answer["requests"].array.first?["id"].string)
            }

            let inbox = dir.path("inbox"), log = dir.path("exec.log")
            let hook = try dir.write("hook.sh", Array("#!/bin/sh\necho \"$MARAC_REQUEST_ID $1\" >> \(log)\n".utf8), mode: 0o700)
            let watch = try cli.start(["requests", "watch", "--save", inbox, "--exec", hook, "--wait", "2", "--backoff-max", "0.5"], as: spoc)
            let first = try await dispatch("MARAC-A")
            #expect(await watch.wait { $0.stdout.contains(first) && FileManager.default.fileExists(atPath: "\(inbox)/\(first).json") }, "\(watch.stdout) \(watch.stderr)")
            #expect(watch.stdout.contains("MARAC-A") && watch.stdout.contains("return by"))

            try await broker.restart()
            #expect(broker.port == port)
            let second = try await dispatch("MARAC-B")
            #expect(await watch.wait { $0.stdout.contains(second) && FileManager.default.fileExists(atPath: "\(inbox)/\(second).json") }, "\(watch.stdout) \(watch.stderr)")
            #expect(await watch.wait { _ in (try? String(contentsOfFile: log, encoding: .utf8))?.contains(second) == true })
            #expect(await watch.stop() == 0)

            // The saved file is the full request (fields and questions), readable only by its owner.
            let saved = try JSONValue(parsing: [UInt8](try Data(contentsOf: URL(fileURLWithPath: "\(inbox)/\(first).json"))))
            #expect(saved["fields"]["victim.name"].string == "V" && saved["questions"].array.count == 1)
            #expect(try mode("\(inbox)/\(first).json") == 0o600)

            // A new watcher on the same directory delivers nothing twice; a request amended by its return is not new.
            let good = try dir.write("r.json", Array(#"{"knownToAgency": false, "summary": "Not known.", "answers": ["No"], "withheld": []}"#.utf8))
            #expect(try await cli.run(["return", "submit", first, "--file", good], as: spoc).status == 0)
            let again = try cli.start(["requests", "watch", "--save", inbox, "--exec", hook, "--wait", "1", "--json"], as: spoc)
            #expect(await again.wait { $0.stderr.contains("watching") })
            let rival = try await cli.run(["requests", "watch", "--save", inbox], as: spoc)
            #expect(rival.status == 2 && rival.stderr.contains("already delivering"), "one watcher per directory: \(rival.stderr)")
            let third = try await dispatch("MARAC-C")
            #expect(await again.wait { $0.stdout.contains(third) }, "\(again.stdout) \(again.stderr)")
            try await Task.sleep(for: .milliseconds(300))
            #expect(await again.stop() != nil)
            let lines = again.stdout.split(separator: "\n")
            #expect(lines.count == 1 && (try? JSONValue(parsing: Array(lines[0].utf8)))?["id"].string == third, "--json prints one object per new request: \(again.stdout)")
            let delivered = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map { String($0.split(separator: " ")[0]) }
            #expect(delivered == [first, second, third], "\(delivered)")
        } catch {
            await broker.stop()
            throw error
        }
        await broker.stop()
    }

    @Test func watchBacksOffWhileNothingListensAndStopsOnARefusedCertificate() async throws {
        let dir = try TemporaryDirectory()
        let port = try freeLoopbackPort()
        let pki = try TestPKI()
        let user = try pki.client("police-spoc")
        let cli = MaracCLI(home: dir.path("home"), url: "https://127.0.0.1:\(port)", ca: pki.caPath)
        let watch = try cli.start(["requests", "watch", "--backoff-max", "0.4"], as: CLIUser(certificate: user.certificatePath, key: user.keyPath))
        #expect(await watch.wait(timeout: 10) { $0.stderr.components(separatedBy: "retrying in").count > 5 }, "\(watch.stderr)")
        #expect(watch.process.isRunning, "network errors are waited out")
        let delays = watch.stderr.components(separatedBy: "retrying in ").dropFirst().compactMap { Double($0.prefix { $0 != " " }) }
        #expect(!delays.isEmpty && delays.allSatisfy { $0 <= 0.4 }, "capped: \(delays)")
        #expect(await watch.stop() != nil)

        try await withTestBroker { broker in
            let cli = MaracCLI(home: dir.path("home"), url: broker.url, ca: broker.pki.caCertificatePath)
            let foreign = try await cli.run(["requests", "watch"], as: CLIUser(certificate: user.certificatePath, key: user.keyPath))
            #expect(foreign.status == 3 && foreign.stderr.contains("likely cause"), "a certificate problem stops the watch: \(foreign.stderr)")
        }
    }

    @Test func doctorSaysWhatToFix() async throws {
        try await withTestBroker { broker in
            let dir = try TemporaryDirectory()
            let cli = MaracCLI(home: dir.path("home"), url: broker.url, ca: broker.pki.caCertificatePath)
            let admin = try broker.adminClient()
            let police = try await broker.enrol("police-spoc", agency: "police", role: "spoc", admin: admin)
            let spoc = CLIUser(certificate: police.certificatePath, key: police.keyPath)

            var result = try await cli.run(["doctor"], as: spoc)
            #expect(result.status == 0, "\(result.stdout) \(result.stderr)")
            #expect(result.stdout.contains("authenticated") && result.stdout.contains("police-spoc") && !result.stdout.contains("FAIL"), "\(result.stdout)")
            let report = try json(try await cli.run(["doctor", "--json"], as: spoc))
            #expect(report["ok"].bool == true && report["checks"].array.contains { $0["check"].string == "clock" && $0["status"].string == "ok" },
                    "the broker's Date header agrees with this machine's clock: \(report)")

            chmod(police.keyPath, 0o644)
            result = try await cli.run(["doctor"], as: spoc)
            #expect(result.status == 0 && result.stdout.contains("WARN") && result.stdout.contains("chmod 600 \(police.keyPath)"), "\(result.stdout)")

            let expired = try expiredCredential(broker, in: dir)
            result = try await cli.run(["doctor"], as: expired)
            #expect(result.status == 3 && result.stdout.contains("FAIL") && result.stdout.contains("expired at") && result.stdout.contains("marac cert request"), "\(result.stdout)")

            let other = try PrivateKey.generateECDSA()
            let wrongKey = try dir.write("wrong-key.pem", try other.pemBytes())
            result = try await cli.run(["doctor", "--key", wrongKey], as: spoc)
            #expect(result.status == 3 && result.stdout.contains("key matches") && result.stdout.contains("is not the private key"), "\(result.stdout)")

            let otherCA = try TestPKI()
            result = try await cli.run(["doctor", "--ca", otherCA.caPath], as: spoc)
            #expect(result.status == 3 && result.stdout.contains("certificate chain") && result.stdout.contains("broker certificate"), "\(result.stdout)")

            result = try await cli.run(["doctor", "--url", "https://127.0.0.1:1"], as: spoc)
            #expect(result.status == 3 && result.stdout.contains("reachable") && result.stdout.contains("nothing is listening"), "\(result.stdout)")

            result = try await cli.run(["doctor"], env: ["MARAC_CA": ""])
            #expect(result.status == 3 && result.stdout.contains("not set") && result.stdout.contains("MARAC_CERT"), "\(result.stdout)")
        }
    }

    @Test func settingsComeFromFlagsThenEnvironmentThenProfile() async throws {
        try await withTestBroker { broker in
            let dir = try TemporaryDirectory()
            let admin = try broker.adminClient()
            let police = try await broker.enrol("police-spoc", agency: "police", role: "spoc", admin: admin)
            // A profile with paths relative to its own directory.
            let profileDirectory = dir.path("profile")
            try FileManager.default.createDirectory(atPath: profileDirectory, withIntermediateDirectories: true)
            for (source, name) in [(police.certificatePath, "me.pem"), (police.keyPath, "me-key.pem"), (broker.pki.caCertificatePath, "ca.pem")] {
                try FileManager.default.copyItem(atPath: source, toPath: "\(profileDirectory)/\(name)")
            }
            let profile = try dir.write("profile/config.json", Array(#"{"url": "\#(broker.url)", "cert": "me.pem", "key": "me-key.pem", "ca": "ca.pem"}"#.utf8))
            var cli = MaracCLI(home: dir.path("home"), url: "", ca: "")
            cli.environment["MARAC_URL"] = nil
            cli.environment["MARAC_CA"] = nil
            var result = try await cli.run(["whoami"], env: ["MARAC_CONFIG": profile])
            #expect(result.status == 0 && result.stdout.contains("police-spoc"), "\(result.stderr)")
            result = try await cli.run(["whoami"], env: ["MARAC_CONFIG": profile, "MARAC_URL": "https://127.0.0.1:1"])
            #expect(result.status == 3, "the environment overrides the profile")
            result = try await cli.run(["whoami", "--url", broker.url], env: ["MARAC_CONFIG": profile, "MARAC_URL": "https://127.0.0.1:1"])
            #expect(result.status == 0, "a flag overrides the environment: \(result.stderr)")
            // The default profile location is ~/.config/marac/config.json.
            try FileManager.default.createDirectory(atPath: dir.path("home/.config/marac"), withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: profile, toPath: dir.path("home/.config/marac/config.json"))
            for name in ["me.pem", "me-key.pem", "ca.pem"] {
                try FileManager.default.copyItem(atPath: "\(profileDirectory)/\(name)", toPath: dir.path("home/.config/marac/\(name)"))
            }
            result = try await cli.run(["whoami", "--json"])
            #expect(result.status == 0 && (try? JSONValue(parsing: Array(result.stdout.utf8)))?["principal"].string == "police-spoc", "\(result.stderr)")
            let broken = try dir.write("broken.json", Array(#"{"url": "https://x", "certificate": "me.pem"}"#.utf8))
            result = try await cli.run(["whoami"], env: ["MARAC_CONFIG": broken])
            #expect(result.status == 2 && result.stderr.contains("unknown key \"certificate\""), "\(result.stderr)")
        }
    }

    // MARK: Helpers

    /// A police SPOC and a coordinator enrolled through the API, as `marac` users.
    func policeSPOCAndCoordinator(_ broker: TestBroker) async throws -> (spoc: CLIUser, coordinator: CLIUser) {
        let admin = try broker.adminClient()
        let police = try await broker.enrol("police-spoc", agency: "police", role: "spoc", admin: admin)
        let coordinator = try await broker.enrol("coord", agency: "community-safety", role: "coordinator", admin: admin)
        return (CLIUser(certificate: police.certificatePath, key: police.keyPath),
                CLIUser(certificate: coordinator.certificatePath, key: coordinator.keyPath))
    }

    func json(_ result: CLIResult) throws -> JSONValue {
        #expect(result.status == 0, "\(result.stderr)")
        return try JSONValue(parsing: Array(result.stdout.utf8))
    }

    func mode(_ path: String) throws -> Int {
        try #require((try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue)
    }

    /// A client certificate from the broker's own CA that expired yesterday.
    func expiredCredential(_ broker: TestBroker, in dir: TemporaryDirectory) throws -> CLIUser {
        let ca = try CertificateAuthority(certificateFile: broker.pki.caCertificatePath, keyFile: broker.pki.caKeyPath)
        let key = try PrivateKey.generateECDSA()
        let certificate = try ca.issue(for: key, commonName: "police-spoc", organization: "police", usage: .client,
                                       notBefore: Date().addingTimeInterval(-2 * 86_400), notAfter: Date().addingTimeInterval(-86_400))
        return CLIUser(certificate: try dir.write("expired.pem", certificate.pemBytes, mode: 0o644), key: try dir.write("expired-key.pem", try key.pemBytes()))
    }
}

/// A loopback port nothing listens on right now (bound to 0, then released).
func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw ClientError(.connection, "socket failed") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
    guard bound == 0 else { throw ClientError(.connection, "bind failed") }
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    return Int(UInt16(bigEndian: address.sin_port))
}
