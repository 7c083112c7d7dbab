import Foundation
@testable import MaracClient
import Testing
import TestSupport
import TLS
import Wire

/// The client-side pieces `marac` is built from, without a broker.
struct MaracClientPieceTests {
    /// RFC 9110 §7.2: the Host header names the port unless it is the scheme's default, and an IPv6 address in brackets.
    @Test func theHostHeaderNamesThePortAndBracketsIPv6() {
        #expect(HTTPSConnection.authority(host: "127.0.0.1", port: 8443) == "127.0.0.1:8443")
        #expect(HTTPSConnection.authority(host: "broker.council.example", port: 443) == "broker.council.example")
        #expect(HTTPSConnection.authority(host: "::1", port: 8443) == "[::1]:8443")
        #expect(HTTPSConnection.authority(host: "[::1]", port: 443) == "[::1]")
        let head = String(decoding: HTTPSConnection.encode(method: "GET", path: "/v1/whoami", host: "127.0.0.1:8443", headers: [], body: nil), as: UTF8.self)
        #expect(head.hasPrefix("GET /v1/whoami HTTP/1.1\r\nHost: 127.0.0.1:8443\r\n"), "\(head)")
    }

    @Test func backoffDoublesUpToItsCapAndStartsAgainAfterASuccess() {
        var backoff = Backoff(initial: 1, maximum: 30, factor: 2, jitter: 0)
        let delays = (0..<10).map { _ in backoff.nextDelay() }
        #expect(delays == [1, 2, 4, 8, 16, 30, 30, 30, 30, 30])
        backoff.reset()
        #expect(backoff.nextDelay() == 1)

        var jittered = Backoff(initial: 0.5, maximum: 4)
        let many = (0..<200).map { _ in jittered.nextDelay() }
        #expect(many.allSatisfy { $0 > 0 && $0 <= 4 }, "never above the cap")
        #expect(many.suffix(100).allSatisfy { $0 >= 3 }, "jitter takes at most a quarter off")
    }

    @Test func aReturnDraftListsEveryProblemAtOnce() throws {
        let bad = try JSONValue(parsing: Array(#"{"knownToAgency": "yes", "summary": " ", "answers": ["a", 2], "withheld": [{"what": "x"}, 3], "extra": true}"#.utf8))
        let error = try #require(throws: ReturnDraft.Invalid.self) { try ReturnDraft(bad, questionCount: 3) }
        let text = error.description
        for expected in ["unknown key \"extra\"", "knownToAgency: must be true or false", "summary: must be a non-empty string",
                         "answers[1]: must be a string", "asks 3 questions, the file answers 2", "withheld[0].reason", "withheld[1]: must be an object"] {
            #expect(text.contains(expected), "\(expected) in \(text)")
        }
        let good = try ReturnDraft(try JSONValue(parsing: Array(#"{"knownToAgency": false, "summary": "Not known.", "answers": ["No"]}"#.utf8)), questionCount: 1)
        #expect(good.body["withheld"] == .array([]), "withheld defaults to none")
        #expect(throws: ReturnDraft.Invalid.self) { try ReturnDraft(.array([])) }
    }

    @Test func timesAreReadWithOrWithoutAnOffsetAndCountedDown() throws {
        let london = try #require(TimeZone(identifier: "Europe/London"))
        #expect(TimeText.parse("2027-04-01T10:00:00+01:00") == RFC3339.parse("2027-04-01T09:00:00Z"))
        #expect(TimeText.parse("2027-04-01T10:00Z") == RFC3339.parse("2027-04-01T10:00:00Z"))
        #expect(TimeText.parse("2027-04-01 10:00", timeZone: london) == RFC3339.parse("2027-04-01T09:00:00Z"), "BST")
        #expect(TimeText.parse("2027-01-14T10:00", timeZone: london) == RFC3339.parse("2027-01-14T10:00:00Z"), "GMT")
        #expect(TimeText.parse("next tuesday") == nil)
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        #expect(TimeText.countdown(to: now.addingTimeInterval(5 * 86_400 + 3 * 3_600 + 59), from: now) == "5d 3h")
        #expect(TimeText.countdown(to: now.addingTimeInterval(3 * 3_600 + 12 * 60), from: now) == "3h 12m")
        #expect(TimeText.countdown(to: now.addingTimeInterval(-125 * 60), from: now) == "overdue by 2h 5m")
        #expect(TimeText.utc(RFC3339.parse("2027-01-13T10:00:00Z")!) == "2027-01-13 10:00 UTC")
        #expect(TimeText.local(RFC3339.parse("2027-04-01T09:00:00Z")!, timeZone: london).contains("10:00 BST"))
    }

    @Test func settingsPreferFlagsThenEnvironmentThenTheProfile() throws {
        let dir = try TemporaryDirectory()
        let profile = try dir.write("config.json", Array(#"{"url": "https://profile:1", "cert": "me.pem", "key": "~/keys/me-key.pem", "ca": "/etc/marac/ca.pem"}"#.utf8))
        let environment = ["HOME": "/home/sam", "MARAC_CONFIG": profile, "MARAC_URL": "https://env:2", "MARAC_KEY": "env-key.pem"]
        let settings = try ClientSettings.resolve(flags: [.key: "flag-key.pem"], environment: environment)
        #expect(settings.url == .init("https://env:2", from: "MARAC_URL"))
        #expect(settings.key == .init("flag-key.pem", from: "--key"))
        #expect(settings.cert == .init(dir.path("me.pem"), from: profile), "relative to the profile's directory")
        #expect(settings.ca?.value == "/etc/marac/ca.pem")
        let fromProfile = try ClientSettings.resolve(flags: [:], environment: ["HOME": "/home/sam", "MARAC_CONFIG": profile])
        #expect(fromProfile.url.value == "https://profile:1" && fromProfile.key?.value == "/home/sam/keys/me-key.pem")
        let nothing = try ClientSettings.resolve(flags: [:], environment: ["HOME": dir.path("nohome")])
        #expect(nothing.url.value == ClientSettings.defaultURL && nothing.cert == nil && !nothing.profileLoaded)
        #expect(throws: SettingsError.self) { try nothing.required(.cert) }
        #expect(throws: SettingsError.self) { try ClientSettings.resolve(flags: [:], environment: ["MARAC_CONFIG": dir.path("missing.json")]) }
        let typo = try dir.write("typo.json", Array(#"{"URL": "https://x"}"#.utf8))
        #expect(throws: SettingsError.self) { try ClientSettings.resolve(flags: [:], environment: ["MARAC_CONFIG": typo]) }
    }

    @Test(arguments: [
        ("TLS read failed: error:0A000414:SSL routines::sslv3 alert certificate revoked", "revoked"),
        ("TLS read failed: error:0A000418:SSL routines::tlsv1 alert unknown ca", "does not trust the CA"),
        ("TLS handshake failed: certificate verify failed; certificate verification: self-signed certificate in certificate chain", "wrong CA file"),
        ("TLS handshake failed: certificate verification: certificate is not yet valid", "clock"),
        ("TLS read failed: tlsv13 alert certificate required", "--cert and --key"),
    ])
    func tlsFailuresNameTheLikelyCause(message: String, cause: String) {
        let text = FailureDiagnosis.likelyCause(of: ClientError(.tls, message), certificate: nil, trustRoots: [], url: "https://b:1")
        #expect(text?.contains(cause) == true, "\(text ?? "nil")")
    }

    @Test func anExpiredCertificateIsToldApartFromClockSkew() throws {
        let pki = try TestPKI()
        let expired = try pki.client("a", notBefore: Date().addingTimeInterval(-7_200), notAfter: Date().addingTimeInterval(-3_600))
        let valid = try pki.client("b")
        let alert = ClientError(.tls, "TLS read failed: sslv3 alert certificate expired")
        #expect(FailureDiagnosis.likelyCause(of: alert, certificate: expired.certificate, trustRoots: [pki.ca.certificate], url: "")?.contains("expired at") == true)
        #expect(FailureDiagnosis.likelyCause(of: alert, certificate: valid.certificate, trustRoots: [pki.ca.certificate], url: "")?.contains("clock skew") == true)
        #expect(valid.certificate.chainProblem(trustRoots: [pki.ca.certificate]) == nil)
        #expect(expired.certificate.chainProblem(trustRoots: [pki.ca.certificate])?.contains("expired") == true)
        #expect(valid.certificate.chainProblem(trustRoots: [try TestPKI().ca.certificate]) != nil)
    }
}
