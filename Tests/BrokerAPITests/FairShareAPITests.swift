@_spi(Testing) import BrokerAPI
@_spi(Testing) import BrokerHost
import Foundation
import MaracClient
import Testing
import TestSupport

/// SPEC §10 fair share and prompt refusal: one principal cannot hold every long-poll slot,
/// and a parked long-poll of someone just shut out is answered 403 within a second, not at its timeout.
@Suite(.serialized) struct FairShareAPITests {
    @Test func onePrincipalMayParkOnlyItsShareOfLongPolls() async throws {
        try await withTestBroker { broker in
            let cast = try await Cast.make(broker, agencies: ["police"])
            let spoc = cast.spocs["police"]!
            let deputy = try await broker.enrol("police-deputy", agency: "police", role: "spoc", admin: cast.admin)
            let limit = BrokerConfiguration().maxLongPollsPerPrincipal
            #expect(limit == 4)
            let polls = Task {
                try await withThrowingTaskGroup(of: Int.self) { group in
                    for _ in 0..<limit {
                        let client = try spoc.reconnected(to: broker).client
                        group.addTask { try await client.json("GET", "/v1/requests?wait=5").status }
                    }
                    return try await group.reduce(into: [Int]()) { $0.append($1) }
                }
            }
            #expect(await eventually { broker.app.parkedLongPolls == limit }, "\(broker.app.parkedLongPolls) parked")
            let started = ContinuousClock.now
            let fifth = try await spoc.reconnected(to: broker).client.json("GET", "/v1/requests?wait=30")
            #expect(fifth.status == 429 && fifth.errorCode == "too_many_waiters" && fifth.text.contains("maxLongPollsPerPrincipal"), "\(fifth.text)")
            #expect(ContinuousClock.now - started < .seconds(20), "refused at once, not parked for its 30 s")
            // Without wait= the same principal is still answered; a colleague still parks; the coordinator is served.
            #expect(try await spoc.reconnected(to: broker).client.json("GET", "/v1/requests").status == 200)
            async let colleague = deputy.client.json("GET", "/v1/requests?wait=1")
            #expect(try await cast.coordinator.client.json("GET", "/v1/meetings").status == 200)
            #expect(try await colleague.status == 200)
            #expect(try await polls.value == Array(repeating: 200, count: limit))
            // Once they are answered, the share is free again.
            #expect(try await spoc.reconnected(to: broker).client.json("GET", "/v1/requests?wait=1").status == 200)
        }
    }

    /// Each way of shutting a principal out wakes its parked long-poll with the 403 as soon as the change
    /// is durable (SPEC §10: within 1 s), not at the poll's timeout.
    @Test(arguments: ["revoke", "disable principal", "disable agency", "change role"])
    func shuttingAPrincipalOutAnswersItsParkedPollAtOnce(_ how: String) async throws {
        try await withTestBroker { broker in
            let cast = try await Cast.make(broker, agencies: ["police"])
            let spoc = cast.spocs["police"]!
            let parked = Task { try await spoc.client.json("GET", "/v1/requests?wait=30") }
            #expect(await eventually { broker.app.parkedLongPolls == 1 })
            let change: ClientResponse
            switch how {
            case "revoke": change = try await cast.admin.json("POST", "/v1/credentials/\(spoc.serial)/revoke", ["reason": "phone lost"])
            case "disable principal": change = try await cast.admin.json("PATCH", "/v1/principals/police-spoc", ["active": false])
            case "disable agency": change = try await cast.admin.json("PATCH", "/v1/agencies/police", ["active": false])
            default: change = try await cast.admin.json("PATCH", "/v1/principals/police-spoc", ["role": "auditor"])
            }
            #expect(change.status == 200, "\(change.text)")
            // Woken by the change's commit, not by the poll's own 30 s timeout. (The wake-up is immediate
            // by design; the bound here is loose because CI machines are shared and slow, not a latency claim.)
            let started = ContinuousClock.now
            let answer = try await parked.value
            let waited = ContinuousClock.now - started
            let expected = ["revoke": "credential_revoked", "disable principal": "principal_disabled",
                            "disable agency": "agency_inactive", "change role": "credential_not_approved"][how]
            #expect(answer.status == 403 && answer.errorCode == expected, "\(how): \(answer.text)")
            #expect(waited < .seconds(5), "\(how): answered \(waited) after the change was acknowledged")
        }
    }

    /// SPEC §10: one principal and one silent host try to take every connection slot; the coordinator
    /// still gets in. The attackers are independent clients (Python `ssl` and bare TCP sockets from
    /// another loopback address); without the per-principal and per-address caps they would fill all ten slots.
    @Test func oneSPOCAndOneSilentHostCannotTakeEverySlot() async throws {
        try #require(Tool.available("python3"), "python3 is needed")
        let broker = try TestBroker { configuration in
            configuration.maxConnections = 10
            configuration.maxConnectionsPerPrincipal = 3
            configuration.maxHandshakesPerAddress = 2
            configuration.limits.headerTimeout = .seconds(60)   // the silent host is not timed out during the test
        }
        do {
            let cast = try await Cast.make(broker, agencies: ["police"])
            let spoc = cast.spocs["police"]!
            let (transcript, lines) = try await Self.coordinatorGetsIn(broker, cast) { ready, go in Self.takeEverySlot(broker, spoc, ready: ready, go: go) }
            // The SPOC's first three connections are served; every further one is told why and closed.
            #expect(lines.filter { $0.hasPrefix("spoc") && $0.hasSuffix("HTTP/1.1 200 OK") }.count == 3, "\(lines)")
            let refused = lines.filter { $0.hasPrefix("spoc") && $0.contains("429") }
            #expect(refused.count == 3 && refused.allSatisfy { $0.contains("too_many_connections") && $0.hasSuffix("closed") }, "\(lines)")
            #expect(transcript.stdout.contains("principal police-spoc already has 3 connections open"), "\(transcript.stdout)")
            // The silent host holds two handshake slots; its other sockets are closed at once.
            #expect(lines.filter { $0.hasPrefix("silent") && $0.hasSuffix("held") }.count == 2, "\(lines)")
            #expect(lines.filter { $0.hasPrefix("silent") && $0.hasSuffix("closed") }.count == 4, "\(lines)")
            // The connections the SPOC was allowed still work afterwards.
            #expect(lines.filter { $0 == "kept HTTP/1.1 200 OK" }.count == 3, "\(lines)")
            #expect(broker.logLines.all.contains { $0.contains("maxHandshakesPerAddress") && $0.contains("127.0.0.2") })
            // Once the SPOC's connections are closed, its share is free again.
            #expect(await eventually { (try? await spoc.reconnected(to: broker).client.json("GET", "/v1/whoami").status) == 200 })
        } catch {
            await broker.stop()
            throw error
        }
        await broker.stop()
    }

    /// Attack: the SPOC completes handshakes and never sends a request. A connection beyond its share
    /// only learns of its 429 on a first request, so a silent one must still count: at most a share's
    /// worth wait for their 429, further ones are closed after the handshake, and the coordinator gets in.
    @Test func aSPOCHoldingSilentConnectionsBeyondItsShareCannotTakeEverySlot() async throws {
        try #require(Tool.available("python3"), "python3 is needed")
        let broker = try TestBroker { configuration in
            configuration.maxConnections = 10
            configuration.maxConnectionsPerPrincipal = 3
            configuration.limits.idleTimeout = .seconds(60)   // the silent connections are not timed out during the test
        }
        do {
            let cast = try await Cast.make(broker, agencies: ["police"])
            let spoc = cast.spocs["police"]!
            let (_, lines) = try await Self.coordinatorGetsIn(broker, cast) { ready, go in
                Self.holdSilentConnections(broker, spoc, count: 12, ready: ready, go: go)
            }
            // Its share (3) plus as many waiting for their 429, at most; the rest were closed.
            #expect(lines.filter { $0.hasSuffix("open") }.count <= 6, "\(lines)")
            #expect(lines.filter { $0.hasSuffix("closed") }.count >= 6, "\(lines)")
            // Once the SPOC's connections are closed, its share is free again.
            #expect(await eventually { (try? await spoc.reconnected(to: broker).client.json("GET", "/v1/whoami").status) == 200 })
        } catch {
            await broker.stop()
            throw error
        }
        await broker.stop()
    }

    /// `count` TLS connections as the SPOC that complete their handshake and never send a request;
    /// prints whether the broker closed each, writes `ready`, waits for `go`, closes them.
    /// Runs the Python attacker `script(ready, go)`; once it has written `ready` (every connection it
    /// could get is open), a new coordinator connection (not the one Cast.make left open) must be
    /// served. Then `go` lets the attacker finish; returns its transcript and output lines.
    static func coordinatorGetsIn(_ broker: TestBroker, _ cast: Cast, attack script: (_ ready: String, _ go: String) -> String) async throws
        -> (transcript: ToolResult, lines: [String]) {
        let ready = broker.directory.path("attack-ready"), go = broker.directory.path("attack-go")
        let source = script(ready, go)
        async let attack = Tool.runAsync("python3", ["-c", source])
        #expect(await eventually(timeout: .seconds(60)) { FileManager.default.fileExists(atPath: ready) }, "the attack never finished connecting")
        let coordinator = try cast.coordinator.reconnected(to: broker)
        let meetings = try await coordinator.client.json("GET", "/v1/meetings")
        #expect(meetings.status == 200, "the coordinator was shut out: \(meetings.text)")
        #expect(FileManager.default.createFile(atPath: go, contents: nil), "cannot signal the attacker")
        let transcript = try await attack
        #expect(transcript.status == 0, "\(transcript.stdout) \(transcript.stderr)")
        return (transcript, transcript.stdout.split(separator: "\n").map(String.init))
    }

    static func holdSilentConnections(_ broker: TestBroker, _ spoc: Enrolled, count: Int, ready: String, go: String) -> String {
        """
        import ssl, socket, os, select, time
        ctx = ssl.create_default_context(cafile="\(broker.pki.caCertificatePath)")
        ctx.load_cert_chain("\(spoc.certificatePath)", "\(spoc.keyPath)")
        held = []
        for i in range(\(count)):
            try:
                s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", \(broker.port)), timeout=20), server_hostname="127.0.0.1")
                held.append(s)
            except (ssl.SSLError, OSError) as e:
                print("tls", i, "refused", e, "closed", flush=True)
        time.sleep(2)
        for i, s in enumerate(held):
            s.setblocking(False)
            state = "open"
            try:
                while True:
                    if s.recv(4096) == b"":
                        state = "closed"
                        break
            except (ssl.SSLWantReadError, BlockingIOError):
                pass
            except (ssl.SSLError, OSError):
                state = "closed"
            if state == "closed":
                s.close()
            print("tls", i, state, flush=True)
        open("\(ready)", "w").close()
        deadline = time.monotonic() + 60
        while not os.path.exists("\(go)") and time.monotonic() < deadline:
            select.select([], [], [], 0.01)
        for s in held:
            s.close()
        """
    }

    /// Six TLS connections as the SPOC (one `GET /v1/whoami` each, kept open), then six bare TCP
    /// sockets from 127.0.0.2 that never speak; prints what happened to each, writes `ready`,
    /// waits for `go`, and asks once more on every SPOC connection it was allowed to keep.
    static func takeEverySlot(_ broker: TestBroker, _ spoc: Enrolled, ready: String, go: String) -> String {
        """
        import ssl, socket, os, select, time, json
        ctx = ssl.create_default_context(cafile="\(broker.pki.caCertificatePath)")
        ctx.load_cert_chain("\(spoc.certificatePath)", "\(spoc.keyPath)")
        def ask(s):
            s.sendall(b"GET /v1/whoami HTTP/1.1\\r\\nHost: a\\r\\n\\r\\n")
            data = b""
            while b"\\r\\n\\r\\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    return "eof", b""
                data += chunk
            head, _, body = data.partition(b"\\r\\n\\r\\n")
            length = int([l.split(b":")[1] for l in head.split(b"\\r\\n") if l.lower().startswith(b"content-length")][0])
            while len(body) < length:
                body += s.recv(4096)
            return head.split(b"\\r\\n")[0].decode(), body
        def closed_by_peer(s, seconds):
            s.settimeout(seconds)
            try:
                return s.recv(4096) == b""
            except socket.timeout:
                return False
            except (ssl.SSLError, OSError):
                return True
        kept = []
        for i in range(6):
            s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", \(broker.port)), timeout=20), server_hostname="127.0.0.1")
            status, body = ask(s)
            if " 429 " in status:
                error = json.loads(body)["error"]
                print("spoc", i, status, error["code"], error["message"], "closed" if closed_by_peer(s, 10) else "open", flush=True)
            else:
                kept.append(s)
                print("spoc", i, status, flush=True)
        silent = []
        for i in range(6):
            t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            t.bind(("127.0.0.2", 0))
            t.connect(("127.0.0.1", \(broker.port)))
            silent.append(t)
        # A refused socket is closed by the broker at once; a held one stays silent until the header timeout.
        deadline = time.monotonic() + 5
        open_sockets = list(silent)
        while open_sockets and time.monotonic() < deadline:
            readable, _, _ = select.select(open_sockets, [], [], 0.1)
            for t in readable:
                try:
                    gone = t.recv(1) == b""
                except OSError:
                    gone = True
                if gone:
                    open_sockets.remove(t)
        for t in silent:
            print("silent", "held" if t in open_sockets else "closed", flush=True)
        open("\(ready)", "w").close()
        deadline = time.monotonic() + 60
        while not os.path.exists("\(go)") and time.monotonic() < deadline:
            select.select([], [], [], 0.01)
        for s in kept:
            print("kept", ask(s)[0], flush=True)
            s.close()
        for t in silent:
            t.close()
        """
    }
}
