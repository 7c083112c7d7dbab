import Broker
import BrokerAPI
import BrokerHost
import Foundation
import Testing
import TestSupport
import TLS

/// `marac-bench` (the debug build `swift build` makes) against a real broker, every load for
/// a fraction of a second: the figures come out on stdout and in the JSON file, without
/// errors. The numbers themselves are benchmarks, never asserted.
@Suite(.serialized) struct BenchToolTests {
    static func bench(_ arguments: [String]) async throws -> ToolResult {
        try await Tool.runAsync(BuiltProducts.path("marac-bench"), arguments)
    }

    /// The figures in the JSON file `marac-bench --json` wrote.
    static func figures(_ path: String) throws -> [String: Double] {
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: [String: Any]] ?? [:]
        return object.compactMapValues { $0["value"] as? Double }
    }

    @Test func everyLoadRunsAgainstTheBroker() async throws {
        // The submit load spreads 90 versions over each request and the long-poll load parks every
        // waiter as the one bench SPOC: this broker allows 100 of each (limits.maxReturnVersionsPerRequest,
        // limits.maxLongPollsPerPrincipal), so the loads measure work, not refusals.
        let broker = try TestBroker {
            $0.returnLimits = ReturnLimits(maxVersions: 100, maxBytes: 64 << 20)
            $0.maxLongPollsPerPrincipal = 100
        }
        do {
            let pki = broker.pki
            let json = broker.directory.path("bench.json")
            // Windows of 2 s: under the whole suite on two cores a debug-build handshake can stall
            // for a second, and a 1 s window then saw no handshake complete at all.
            let common = ["--url", broker.url, "--ca", pki.caCertificatePath, "--json", json, "--seconds", "2", "--warmup", "0.5"]
            let admin = ["--cert", pki.adminCertificatePath, "--key", pki.adminKeyPath, "--path", "/v1/whoami"]

            let keepAlive = try await Self.bench(["keepalive"] + common + admin + ["--connections", "1,4", "--label", "t"])
            #expect(keepAlive.status == 0, "\(keepAlive.stderr)")
            #expect(keepAlive.stdout.contains("t.keepalive.c4.requests_per_s "), "\(keepAlive.stdout)")
            let handshake = try await Self.bench(["handshake"] + common + admin + ["--connections", "2", "--label", "t"])
            #expect(handshake.status == 0, "\(handshake.stderr)")

            let cast = broker.directory.path("cast")
            let enrol = try await Self.bench(["enrol", "--url", broker.url, "--ca", pki.caCertificatePath, "--admin-cert", pki.adminCertificatePath,
                                              "--admin-key", pki.adminKeyPath, "--dir", cast])
            #expect(enrol.status == 0, "\(enrol.stderr)")
            for role in ["coordinator", "spoc"] {
                let serial = try Certificate(pemFile: "\(cast)/\(role).pem").serial
                try await broker.app.approveAsOperator(serial: serial, operatorName: "bench-test")
            }
            let submit = try await Self.bench(["submit"] + common + ["--dir", cast, "--writers", "1,3", "--requests", "40",
                                                        "--versions-per-request", "90"])
            #expect(submit.status == 0, "\(submit.stderr)")
            let longPoll = try await Self.bench(["longpoll", "--url", broker.url, "--ca", pki.caCertificatePath, "--json", json,
                                                 "--dir", cast, "--waiters", "12", "--threads", "2"])
            #expect(longPoll.status == 0, "\(longPoll.stderr)")
            let fsync = try await Self.bench(["fsync", "--dir", broker.directory.path(""), "--seconds", "0.2", "--json", json])
            #expect(fsync.status == 0, "\(fsync.stderr)")

            let figures = try Self.figures(json)
            for key in ["t.keepalive.c1.requests_per_s", "t.keepalive.c4.requests_per_s", "t.handshake.c2.handshakes_per_s",
                        "submit.w3.submissions_per_s", "fsync.raw_single_writer_per_s"] {
                #expect((figures[key] ?? 0) > 0, "\(key) in \(figures)")
            }
            #expect(figures["longpoll.woken"] == 12, "\(longPoll.stdout)")
            let errors = figures.filter { $0.key.hasSuffix("errors") && $0.value != 0 }
            #expect(errors.isEmpty, "\(errors) \(keepAlive.stderr) \(submit.stderr) \(longPoll.stderr)")
        } catch {
            await broker.stop()
            throw error
        }
        await broker.stop()
    }
}
