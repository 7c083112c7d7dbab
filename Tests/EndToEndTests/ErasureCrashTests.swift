import Foundation
import Testing
import TestSupport
import Wire

/// SPEC §11.7 against the `maracd` binary: `kill -9` at a random moment while the coordinator erases a
/// case (over curl). After each restart a case whose erasure was acknowledged is erased; one whose
/// answer was lost is either erased or whole (never half: its fields readable with its content key
/// gone, or the reverse); and at the end no erased case's text can be read from `data/` or the key
/// store, while every other case's can, and `maracd audit verify` proves the chain.
@Suite(.serialized) struct ErasureCrashTests {
    @Test func killNineDuringErasureLosesNothingAcknowledgedAndLeavesNoCaseHalfErased() async throws {
        let (dir, maracd, certs, common) = try await MaracdTests.initialisedInstall()
        @Sendable func curl(_ port: Int, _ identity: String, _ path: String, _ extra: [String] = []) async throws -> ToolResult {
            let (cert, key) = identity == "admin" ? ("\(certs)/admin.pem", "\(certs)/admin-key.pem") : (dir.path("\(identity).pem"), dir.path("\(identity)-key.pem"))
            return try await Tool.runAsync("curl", ["-sS", "--max-time", "20", "--cacert", "\(certs)/ca.pem", "--cert", cert, "--key", key] + extra
                                           + ["https://127.0.0.1:\(port)\(path)"])
        }
        func post(_ port: Int, _ path: String, _ body: String) async throws -> ToolResult {
            try await curl(port, "cora", path, ["-H", "Content-Type: application/json", "-d", body])
        }
        func object(_ result: ToolResult) -> [String: Any] { (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]) ?? [:] }

        // The first coordinator: registered by the admin, certificate from an openssl CSR, approved offline.
        var broker = try RunningProcess(maracd, ["serve", "--listen", "127.0.0.1:0"] + common)
        var port = try #require(broker.listeningPort(), "maracd did not start: \(broker.stderr)")
        _ = try await curl(port, "admin", "/v1/principals", ["-H", "Content-Type: application/json", "-d",
                                                              #"{"id":"cora","name":"Cora Quinn","agency":"community-safety","role":"coordinator"}"#])
        #expect(try await Tool.runAsync("openssl", ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                                                     "-keyout", dir.path("cora-key.pem"), "-out", dir.path("cora.csr"), "-subj", "/CN=cora"]).status == 0)
        let csr = try String(contentsOfFile: dir.path("cora.csr"), encoding: .utf8).replacingOccurrences(of: "\n", with: "\\n")
        let issued = object(try await curl(port, "admin", "/v1/credentials", ["-H", "Content-Type: application/json", "-d", #"{"principal":"cora","csr":""# + csr + #""}"#]))
        try Data(try #require(issued["certificate"] as? String).utf8).write(to: URL(fileURLWithPath: dir.path("cora.pem")))
        broker.signal(SIGTERM)
        let first = broker
        #expect(try await offPool { first.waitForExit() } == 0)
        #expect(try await Tool.runAsync(maracd, ["credential", "approve"] + common + [try #require(issued["serial"] as? String)]).status == 0)
        broker = try RunningProcess(maracd, ["serve", "--listen", "127.0.0.1:0"] + common)
        port = try #require(broker.listeningPort(), "maracd did not start: \(broker.stderr)")

        // Ten closed cases, each with its own marker.
        let meeting = try #require(object(try await post(port, "/v1/meetings", #"{"title":"MARAC","startsAt":"\#(RFC3339.format(FixtureDates.meetingStart()))"}"#))["id"] as? String)
        var cases: [String] = []
        for index in 0..<10 {
            let made = object(try await post(port, "/v1/cases", #"{"meeting":"\#(meeting)","reference":"KILL-\#(index)","fields":{"victim.name":"KillMarker\#(index)x"},"consent":{"status":"obtained"}}"#))
            let id = try #require(made["id"] as? String, "\(made)")
            #expect(object(try await post(port, "/v1/cases/\(id)/close", #"{"reason":"done"}"#))["state"] as? String == "closed")
            cases.append(id)
        }

        // Erase each while the broker is killed 0–250 ms after the request is sent.
        var acknowledged = 0, lost = 0
        var generator = SystemRandomNumberGenerator()
        for id in cases {
            let thisPort = port
            let erase = Task { try await post(thisPort, "/v1/cases/\(id)/erase", #"{"reason":"retention review"}"#) }
            try await Task.sleep(for: .milliseconds(Int.random(in: 0...250, using: &generator)))
            broker.signal(SIGKILL)
            let killed = broker
            _ = try await offPool { killed.waitForExit() }
            let answered = object(try await erase.value)["state"] as? String == "erased"
            if answered { acknowledged += 1 } else { lost += 1 }
            broker = try RunningProcess(maracd, ["serve", "--listen", "127.0.0.1:0"] + common)
            port = try #require(broker.listeningPort(), "maracd did not restart after kill -9: \(broker.stderr)")
            let read = object(try await curl(port, "cora", "/v1/cases/\(id)"))
            if answered {
                #expect(read["state"] as? String == "erased" && read["fields"] == nil, "acknowledged erasure lost: \(read)")
            } else {
                let whole = read["state"] as? String == "closed" && (read["fields"] as? [String: Any])?["victim.name"] as? String != nil
                let erased = read["state"] as? String == "erased" && read["fields"] == nil
                #expect(whole || erased, "half-erased after kill -9: \(read)")
            }
        }
        print("kill -9 during erasure: \(acknowledged) acknowledged before the kill, \(lost) answers lost")

        // What the API says now is what the disk holds.
        var erasedIndexes: [Int] = []
        for (index, id) in cases.enumerated() where object(try await curl(port, "cora", "/v1/cases/\(id)"))["state"] as? String == "erased" {
            erasedIndexes.append(index)
        }
        broker.signal(SIGTERM)
        let last = broker
        #expect(try await offPool { last.waitForExit() } == 0)
        let disk = try ErasureProbe.readableText(dataDirectory: dir.path("data"), certsDirectory: certs)
        for index in 0..<cases.count {
            #expect(disk.contains("KillMarker\(index)x") != erasedIndexes.contains(index),
                    "case \(index): erased \(erasedIndexes.contains(index)), text readable \(disk.contains("KillMarker\(index)x"))")
        }
        let verify = try await Tool.runAsync(maracd, ["audit", "verify", "--data", dir.path("data"), "--certs", certs])
        #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr)")
    }
}
