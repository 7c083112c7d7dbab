import Foundation
import MaracClient
#if canImport(Glibc)
import Glibc
#endif

/// The load of scripts/crash-test.sh: writers PUT returns until killed, reconnecting while the
/// broker is down, and log every acknowledged (2xx) submission as one line
/// `REQUEST VERSION SUMMARY`, written with a single write(2) so a kill never splits a line.
func crashLoad(_ load: Load, _ options: Options, _ setup: BrokerSetup) throws {
    let cast = BrokerSetup.Cast(directory: try options.string("dir"))
    let writers = Int(try options.double("writers", default: 8))
    let ids = try setup.dispatchRequests(cast: cast, count: Int(try options.double("requests", default: 1500)))
    let logPath = try options.string("acks")
    let log = open(logPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
    guard log >= 0 else { throw BenchError("cannot open \(logPath)") }
    let context = try load.context(certificate: cast.certificate("spoc"), key: cast.key("spoc"), ca: setup.caFile)
    let versionsPerRequest = Int(try options.double("versions-per-request", default: Double(defaultVersionsPerRequest)))
    FileHandle.standardError.write(Data("crash-load: \(writers) writers over \(ids.count) requests, acknowledgements to \(logPath)\n".utf8))
    runLoops(threads: load.threads, slots: writers, target: load.target, context: context) { thread in
        let workload = RepeatWorkload(requestFor: { slot, n in
            let id = ids[(slot + writers * (n / versionsPerRequest)) % ids.count]
            let body = #"{"knownToAgency":true,"summary":"crash-\#(slot)-\#(n)","answers":["Yes"],"withheld":[]}"#
            return load.request("PUT", "/v1/requests/\(id)/return", body: Array(body.utf8))
        }, windowStart: 0, windowEnd: .infinity, tally: Tally(), oneRequestPerConnection: false)
        workload.observe = { _, status, body in
            guard (200..<300).contains(status),
                  let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
                  let request = object["request"] as? String, let version = object["version"] as? Int,
                  let summary = object["summary"] as? String else { return }
            let line = Array("\(request) \(version) \(summary)\n".utf8)
            _ = line.withUnsafeBytes { write(log, $0.baseAddress, $0.count) }
        }
        return workload
    }
}

/// Checks every acknowledged submission in the log is in the broker: the request's return
/// history has that version with that summary. Exit status 1 when any is missing.
func verifyAcks(_ options: Options, _ setup: BrokerSetup) throws {
    let cast = BrokerSetup.Cast(directory: try options.string("dir"))
    let text = try String(contentsOfFile: try options.string("acks"), encoding: .utf8)
    var acked: [String: [Int: String]] = [:]
    var count = 0
    for line in text.split(separator: "\n") {
        let parts = line.split(separator: " ", maxSplits: 2)
        guard parts.count == 3, let version = Int(parts[1]) else { continue }
        acked[String(parts[0]), default: [:]][version] = String(parts[2])
        count += 1
    }
    let spoc = try setup.connection(certificate: cast.certificate("spoc"), key: cast.key("spoc"))
    var missing = 0
    for (request, versions) in acked {
        let history = try BrokerSetup.call(spoc, "GET", "/v1/requests/\(request)/return", expect: 200)
        let stored = (history["versions"] as? [[String: Any]] ?? []).reduce(into: [Int: String]()) { map, entry in
            if let version = entry["version"] as? Int { map[version] = entry["summary"] as? String }
        }
        for (version, summary) in versions where stored[version] != summary {
            missing += 1
            FileHandle.standardError.write(Data("MISSING request \(request) version \(version) (\(summary)); stored: \(stored[version] ?? "nothing")\n".utf8))
        }
    }
    print("acknowledged \(count) submissions over \(acked.count) requests; missing \(missing)")
    if missing > 0 { exit(1) }
}
