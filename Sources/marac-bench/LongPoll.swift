import Foundation
import MaracClient
import TLS
import Wire

/// N idle long-polls of the bench agency's SPOC, then one dispatch to that agency: how long
/// after the dispatch was acknowledged each waiter got its answer, and the server's RSS with
/// the waiters parked and after they were answered.
func longPoll(_ load: Load, _ options: Options, _ setup: BrokerSetup) throws {
    let cast = BrokerSetup.Cast(directory: try options.string("dir"))
    let waiters = Int(try options.double("waiters", default: 10_000))
    let report = load.report
    let pid = load.serverPIDs.first

    let spoc = try setup.connection(certificate: cast.certificate("spoc"), key: cast.key("spoc"))
    // Page to the end, so that the waiters' cursor has nothing after it (earlier loads may
    // have dispatched many requests to the bench agency).
    var cursor = ""
    while true {
        let listed = try BrokerSetup.call(spoc, "GET", "/v1/requests" + (cursor.isEmpty ? "" : "?after=\(cursor)"), expect: 200)
        guard let next = listed["cursor"] as? String else { throw BenchError("GET /v1/requests has no cursor: \(listed)") }
        cursor = next
        if (listed["requests"] as? [Any])?.isEmpty ?? true { break }
    }
    spoc.close()
    let setupConnection = try setup.connection(certificate: cast.certificate("coordinator"), key: cast.key("coordinator"))
    let meeting = try BrokerSetup.call(setupConnection, "POST", "/v1/meetings",
                                       ["title": "Long-poll bench", "startsAt": RFC3339.format(Date().addingTimeInterval(60 * 86_400))], expect: 201)
    let created = try BrokerSetup.call(setupConnection, "POST", "/v1/cases", [
        "meeting": meeting["id"] as? String ?? "", "reference": "BENCH-POLL", "fields": ["victim.name": "Bench Victim"],
        "consent": ["status": "obtained"],
    ], expect: 201)
    let caseID = created["id"] as? String ?? ""
    setupConnection.close()
    if let pid, let rss = ServerProcess.residentBytes(pid) { report.add("longpoll.rss_before_mib", Double(rss) / 1_048_576, "MiB") }
    let context = try load.context(certificate: cast.certificate("spoc"), key: cast.key("spoc"), ca: setup.caFile)
    let tally = Tally()
    let request = load.request("GET", "/v1/requests?after=\(cursor)&wait=60")
    let connectStart = monotonicNow()
    let finished = DispatchSemaphore(value: 0)
    let threads = load.threads
    let loops = Thread { [target = load.target] in
        runLoops(threads: threads, slots: waiters, target: target, context: context, maxConnecting: 64) { thread in
            LongPollWorkload(request: request, deadline: connectStart + 150, tally: tally,
                             slotCount: (waiters - thread + threads - 1) / threads, totalSlots: waiters)
        }
        finished.signal()
    }
    loops.stackSize = 1 << 20
    loops.start()
    while tally.sentCount + tally.snapshot.failures < waiters, monotonicNow() - connectStart < 75 { usleep(10_000) }
    let parkedAfter = monotonicNow() - connectStart
    report.add("longpoll.waiters_parked", Double(tally.sentCount), "count")
    report.add("longpoll.connect_seconds", parkedAfter, "s")
    usleep(1_500_000)  // the last requests reach the server and are parked
    if let pid, let rss = ServerProcess.residentBytes(pid) { report.add("longpoll.rss_with_waiters_mib", Double(rss) / 1_048_576, "MiB") }
    let answeredEarly = tally.answeredCount

    // A fresh connection: one opened before the parking phase could have idled out.
    let coordinator = try setup.connection(certificate: cast.certificate("coordinator"), key: cast.key("coordinator"))
    let cpuBefore = ServerProcess.cpuSeconds(load.serverPIDs)
    let clientBefore = ServerProcess.cpuSeconds([getpid()])
    let dispatchSent = monotonicNow()
    try BrokerSetup.call(coordinator, "POST", "/v1/cases/\(caseID)/research",
                         ["agencies": [cast.agency], "questions": ["Is the victim known to you?"]], expect: 201)
    let acknowledged = monotonicNow()
    coordinator.close()
    while tally.answeredCount < tally.sentCount, monotonicNow() - acknowledged < 30 { usleep(5_000) }
    let lastAnswer = tally.answerTimes.values.max() ?? monotonicNow()
    if let before = cpuBefore, let after = ServerProcess.cpuSeconds(load.serverPIDs) {
        // Server CPU from the dispatch to now, against the wall time the wake-ups took.
        report.add("longpoll.server_cpu_during_wake_ms", (after - before) * 1000, "ms")
        report.add("longpoll.wake_wall_ms", (lastAnswer - dispatchSent) * 1000, "ms")
        if let clientBefore, let clientAfter = ServerProcess.cpuSeconds([getpid()]) {
            report.add("longpoll.client_cpu_during_wake_ms", (clientAfter - clientBefore) * 1000, "ms")
        }
    }
    if let pid, let rss = ServerProcess.residentBytes(pid) { report.add("longpoll.rss_after_mib", Double(rss) / 1_048_576, "MiB") }

    let times = tally.answerTimes.values
    let fromAck = times.map { max(0, $0 - acknowledged) }.sorted()
    let fromSend = times.map { $0 - dispatchSent }.sorted()
    let result = tally.snapshot
    report.add("longpoll.woken", Double(fromAck.count), "count")
    report.add("longpoll.answered_before_dispatch", Double(answeredEarly), "count")
    report.add("longpoll.dispatch_ack_ms", (acknowledged - dispatchSent) * 1000, "ms")
    report.add("longpoll.wake_p50_ms", percentile(fromAck, 50) * 1000, "ms")
    report.add("longpoll.wake_p99_ms", percentile(fromAck, 99) * 1000, "ms")
    report.add("longpoll.wake_max_ms", (fromAck.last ?? .nan) * 1000, "ms")
    // The broker may answer waiters before it acknowledges the dispatch (they are woken when the
    // record is durable); from the moment the dispatch was sent is the figure that cannot hide that.
    report.add("longpoll.wake_from_dispatch_sent_p50_ms", percentile(fromSend, 50) * 1000, "ms")
    report.add("longpoll.wake_from_dispatch_sent_p99_ms", percentile(fromSend, 99) * 1000, "ms")
    report.add("longpoll.wake_from_dispatch_sent_max_ms", (fromSend.last ?? .nan) * 1000, "ms")
    report.add("longpoll.errors", Double(result.refused + result.failures), "count")
    if let problem = result.problem { FileHandle.standardError.write(Data("marac-bench: longpoll: first problem: \(problem)\n".utf8)) }
    finished.wait()
}

/// The raw single-writer rate of this disk: 4 KiB write + fdatasync appended to one file (the
/// journal-bench measurement), the baseline for durable submissions.
func rawFsync(_ options: Options) throws {
    let directory = try options.string("dir")
    let seconds = try options.double("seconds", default: 3)
    let report = Report(label: options.string("label", default: ""))
    let path = directory + "/marac-bench-fsync-\(getpid())"
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0o600)
    guard fd >= 0 else { throw BenchError("cannot create \(path): \(String(cString: strerror(errno)))") }
    defer { close(fd); unlink(path) }
    let block = [UInt8](repeating: 0xA5, count: 4096)
    var count = 0
    let start = monotonicNow()
    while monotonicNow() - start < seconds {
        guard block.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == block.count, fdatasync(fd) == 0 else {
            throw BenchError("write/fdatasync failed: \(String(cString: strerror(errno)))")
        }
        count += 1
    }
    report.add("fsync.raw_single_writer_per_s", Double(count) / (monotonicNow() - start), "syncs/s")
    let json = options.string("json", default: "")
    if !json.isEmpty { try report.merge(into: json) }
}
