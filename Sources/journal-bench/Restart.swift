import Broker
import Crypto
import Engine
import Foundation
import Journal
import Synchronization
import Wire

/// `journal-bench restart`: writes `records` real domain entries to a journal, then measures
/// what a restart costs: `BrokerEngine` opening the journal and replaying every record, and
/// again from a snapshot at the head.
///
/// The mix: `cases` case cycles (a case, two audited reads of it, research to the police, the
/// SPOC's audited read and its return; a new meeting every 500 cases), then audited reads of
/// those cases and requests, round robin, up to `records` (reads are most of a broker's journal).
///
/// The entries are decided by the same `Domain` the broker runs and stored as the engine stores
/// them (`EntryCodec`: case content sealed under per-case content keys kept in a file key store),
/// so the replay reads, opens, decodes and applies exactly what a broker would.
///
/// With `reuse`, a directory written by an earlier run (its `data.key`, `content-keys` and
/// `journal/`) is measured again without writing; its snapshots are removed first.
struct RestartBench {
    let directory: String
    let configDirectory: String
    let records: Int
    let cases: Int
    let reuse: Bool

    /// How many appends are in flight at once (the journal's group commit shares their fsync).
    static let appendWindow = 4_096
    static let casesPerMeeting = 500

    func run() throws {
        let seeds = try Agency.loadSeeds(Data(contentsOf: URL(fileURLWithPath: configDirectory + "/agencies.json")), file: "agencies.json")
        let agencies = Set(seeds.map(\.id))
        let policy = try SharingPolicy.load(Data(contentsOf: URL(fileURLWithPath: configDirectory + "/policy.json")), file: "policy.json", agencies: agencies)
        let calendar = try WorkingCalendar.load(Data(contentsOf: URL(fileURLWithPath: configDirectory + "/calendar.json")), file: "calendar.json")
        let rules = DeadlineRules(calendar: calendar)
        let journalDirectory = directory + "/journal"
        let keyPath = directory + "/data.key"
        let key: SymmetricKey
        let written: Int
        if reuse {
            key = try KeyFile.load(from: keyPath)
            try removeSnapshots(journalDirectory)
            let journal = try Journal.open(directory: journalDirectory, key: key)
            written = Int(journal.head.seq)
            journal.close()
            print("journal-bench restart: reusing \(written) records in \(journalDirectory)")
        } else {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            for stale in [keyPath, contentKeysPath] { try? FileManager.default.removeItem(atPath: stale) }
            key = try KeyFile.create(at: keyPath)
            print("journal-bench restart: \(records) records (\(cases) case cycles, then audited reads) in \(journalDirectory), config \(configDirectory)")
            let writeStart = now()
            let bytes: Int
            (bytes, written) = try write(seeds: seeds, policy: policy, rules: rules, key: key, to: journalDirectory)
            print(String(format: "wrote %d records (%.1f MiB of payload) in %.1f s", written, Double(bytes) / 1_048_576, now() - writeStart))
        }

        let noSnapshot = policy
        let (replayed, replayCPU, state) = try open(journalDirectory, key: key, policy: noSnapshot, rules: rules) { _ in }
        print(String(format: "restart replaying %d records, no snapshot : %8.2f s (CPU %.2f s)", written, replayed, replayCPU))

        let snapshotStart = now()
        let journal = try Journal.open(directory: journalDirectory, key: key)
        let snapshot = try EntryCodec.encode(state)
        try journal.writeSnapshot(snapshot, at: journal.head)
        journal.close()
        print(String(format: "snapshot of the state at the head: %.1f MiB, written in %.2f s", Double(snapshot.count) / 1_048_576, now() - snapshotStart))
        let (fromSnapshot, snapshotCPU, _) = try open(journalDirectory, key: key, policy: policy, rules: rules) { _ in }
        print(String(format: "restart from the snapshot at the head        : %8.2f s (CPU %.2f s)", fromSnapshot, snapshotCPU))
        print(String(format: "targets at 1,000,000 records: replay <= 10 s (%@), from a snapshot <= 2 s (%@)",
                     replayed <= 10 ? "met" : "missed", fromSnapshot <= 2 ? "met" : "missed"))
    }

    private var contentKeysPath: String { directory + "/content-keys" }

    private func removeSnapshots(_ journalDirectory: String) throws {
        for name in try FileManager.default.contentsOfDirectory(atPath: journalDirectory) where name.hasSuffix(".snap") {
            try FileManager.default.removeItem(atPath: journalDirectory + "/" + name)
        }
    }

    /// Opens the journal with a `BrokerEngine` (replaying it, from its snapshot if any) and times it.
    private func open(_ journalDirectory: String, key: SymmetricKey, policy: SharingPolicy, rules: DeadlineRules,
                      _ body: (BrokerEngine) -> Void) throws -> (seconds: Double, cpu: Double, state: BrokerState) {
        let start = now(), startCPU = cpuSeconds()
        let journal = try Journal.open(directory: journalDirectory, key: key)
        // No snapshot is written during the measurement: the policy's threshold is never reached.
        let contentKeys = try ContentKeyStore(path: contentKeysPath, dataKey: key)
        let engine = try BrokerEngine(store: journal, contentKeys: contentKeys, location: journalDirectory, policyLoader: { _ in policy }, rules: rules,
                                      bootstrap: { fatalError("the journal is not empty") },
                                      snapshotPolicy: SnapshotPolicy(minEntries: Int.max), clock: { Date() }, logger: .silent)
        let seconds = now() - start, cpu = cpuSeconds() - startCPU
        body(engine)
        let state = engine.read { $0.state }
        engine.close()
        journal.close()
        return (seconds, cpu, state)
    }

    /// Decides the entries with a `Domain` and appends them, `appendWindow` in flight at a time.
    private func write(seeds: [AgencySeed], policy: SharingPolicy, rules: DeadlineRules, key: SymmetricKey,
                       to journalDirectory: String) throws -> (bytes: Int, records: Int) {
        try? FileManager.default.removeItem(atPath: journalDirectory)
        let journal = try Journal.open(directory: journalDirectory, key: key)
        defer { journal.close() }
        let contentKeys = try ContentKeyStore(path: contentKeysPath, dataKey: key)
        let window = DispatchSemaphore(value: Self.appendWindow)
        let failure = Mutex<String?>(nil)
        var broker = Domain(policy: policy, rules: rules)
        var written = 0
        var bytes = 0
        let counter = Atomic<Int>(0)
        let clock = Date(timeIntervalSince1970: 1_803_000_000)  // 2027-02-19: meetings are a month later
        let env = Environment(now: clock) { "id-\(counter.add(1, ordering: .relaxed).newValue)" }
        func commit(_ entry: Entry) throws {
            let payload = try EntryCodec.encode(entry, plan: broker.state.sealingPlan(of: entry), keys: contentKeys)
            bytes += payload.count
            written += 1
            window.wait()
            journal.append(payload) { result in
                if case .failure(let error) = result { failure.withLock { $0 = "\(error)" } }
                window.signal()
            }
            // The chain hash is the journal's business; the domain needs only the order.
            broker.apply(entry, position: ChainPosition(seq: UInt64(written), hash: "", prevHash: ""))
        }
        func run<R>(_ outcome: Outcome<R>) throws -> R {
            switch outcome {
            case .success(let decision):
                if let entry = decision.entry { try commit(entry) }
                return decision.reply
            case .failure(let error): throw BenchFailure("refused: \(error)")
            }
        }
        try commit(BrokerState.bootstrap(agencies: seeds, adminSerial: "AD01", adminNotAfter: clock.addingTimeInterval(365 * 86_400),
                                         adminIssuedAt: clock.addingTimeInterval(-60)))
        let admin = try broker.identify(serial: "AD01", at: clock).get()
        func person(_ id: String, agency: String, role: Role, serial: String) throws -> Actor {
            _ = try run(broker.createPrincipal(NewPrincipal(id: id, name: id, agency: agency, role: role), by: admin, env: env))
            _ = try run(broker.registerCredential(NewCredential(serial: serial, principal: id, issuedAt: clock,
                                                                notAfter: clock.addingTimeInterval(365 * 86_400)), by: admin, env: env))
            if role.needsApproval {
                _ = try run(broker.approveCredential(serial: serial, by: BrokerEngine.operatorActor("bench", role: .coordinator), env: env))
            }
            return try broker.identify(serial: serial, at: clock).get()
        }
        let coordinator = try person("cora", agency: "community-safety", role: .coordinator, serial: "C0")
        let police = try person("pat", agency: "police", role: .spoc, serial: "50")
        var meeting = ""
        var cases = 0
        var requests: [String] = []
        var caseIDs: [String] = []
        while written < records && cases < self.cases {
            if cases % Self.casesPerMeeting == 0 {
                meeting = try run(broker.createMeeting(NewMeeting(title: "MARAC \(cases / Self.casesPerMeeting)",
                                                                  startsAt: clock.addingTimeInterval(30 * 86_400)), by: coordinator, env: env)).id
            }
            cases += 1
            let created = try run(broker.createCase(NewCase(meeting: meeting, reference: "BENCH-\(cases)", fields: [
                "victim.name": .string("Victim \(cases)"), "victim.dateOfBirth": .string("1990-02-03"),
                "victim.address": .string("\(cases) Acacia Avenue"), "perpetrator.name": .string("Perpetrator \(cases)"),
                "risk.level": .string("high"), "risk.dashScore": .number(17), "referral.reason": .string("Reported incident"),
            ], consent: Consent(status: .obtained)), by: coordinator, env: env))
            _ = try run(broker.readCase(id: created.id, by: coordinator, env: env))
            _ = try run(broker.readCase(id: created.id, by: coordinator, env: env))
            let dispatched = try run(broker.dispatch(caseID: created.id, DispatchOrder(agencies: ["police"], questions: ["Is the victim known?"]),
                                                     by: coordinator, env: env))
            guard let request = dispatched.requests.first?.id else { throw BenchFailure("dispatch made no request") }
            caseIDs.append(created.id)
            requests.append(request)
            _ = try run(broker.readRequest(id: request, by: police, env: env))
            _ = try run(broker.submitReturn(requestID: request, ReturnSubmission(knownToAgency: true, summary: "Known: two call-outs",
                                                                                   answers: ["Two call-outs this year"]), by: police, env: env))
        }
        var next = 0
        while written < records {
            let index = next % caseIDs.count
            if next % 2 == 0 {
                _ = try run(broker.readCase(id: caseIDs[index], by: coordinator, env: env))
            } else {
                _ = try run(broker.readRequest(id: requests[index], by: police, env: env))
            }
            next += 1
        }
        // Every append has completed once the whole window is back (and is given back: a
        // semaphore must not be freed below its initial value).
        for _ in 0..<Self.appendWindow { window.wait() }
        for _ in 0..<Self.appendWindow { window.signal() }
        if let error = failure.withLock({ $0 }) { throw BenchFailure("append failed: \(error)") }
        return (bytes, written)
    }
}

struct BenchFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
