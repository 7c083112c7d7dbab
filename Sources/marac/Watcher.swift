import Foundation
import MaracClient
import Wire

import POSIX

/// `marac requests watch`: a long-poll loop on `GET /v1/requests?after=&wait=`
/// that an agency can leave running and plug into its own systems.
///
/// Delivery is by request id: a request is printed, saved and handed to
/// `--exec` once, however often the broker's change feed mentions it again
/// (a return or an extension changes it) and across restarts of the broker or
/// of the watcher itself (the save directory is the record of what was delivered).
struct Watcher {
    static let defaultWait = CLILimits.defaultLongPoll
    static let cursorFile = ".marac-cursor"

    let run: Invocation
    let saveDirectory: String?
    let command: String?
    let wait: Int
    var backoff: Backoff
    /// Ids delivered in this run (the save directory holds those of earlier runs).
    var delivered: Set<String> = []
    /// Extension deadlines already reported, by request id.
    var extensions: [String: String] = [:]
    var cursor: String?

    init(_ run: Invocation) throws {
        self.run = run
        saveDirectory = run.option("--save")
        command = run.option("--exec")
        if command != nil && saveDirectory == nil {
            throw UsageError("--exec needs --save DIR: the command is given the saved file's path", command: run.spec)
        }
        (wait, backoff) = try Self.pollSettings(run)
        if let saveDirectory {
            do {
                try FileManager.default.createDirectory(atPath: saveDirectory, withIntermediateDirectories: true,
                                                        attributes: [.posixPermissions: 0o700])
            } catch {
                throw UsageError("--save: cannot create \(saveDirectory): \(error.localizedDescription)", command: run.spec)
            }
            cursor = (try? String(contentsOfFile: "\(saveDirectory)/\(Self.cursorFile)", encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines)
            if cursor?.isEmpty == true { cursor = nil }
        }
    }

    /// `--wait` and `--backoff-max`, checked (also `marac action watch`'s).
    static func pollSettings(_ run: Invocation) throws -> (wait: Int, backoff: Backoff) {
        let waitText = run.option("--wait") ?? String(defaultWait)
        guard let wait = Int(waitText), (1...CLILimits.maximumLongPoll).contains(wait) else {
            throw UsageError("--wait: must be a whole number of seconds from 1 to \(CLILimits.maximumLongPoll), got \(waitText)", command: run.spec)
        }
        let maxText = run.option("--backoff-max") ?? String(Int(Backoff.defaultMaximum))
        guard let maximum = Double(maxText), CLILimits.backoffMaximumRange.contains(maximum) else {
            throw UsageError("--backoff-max: must be a number of seconds from \(CLILimits.backoffMaximumRange.lowerBound) to \(Int(CLILimits.backoffMaximumRange.upperBound)), got \(maxText)", command: run.spec)
        }
        return (wait, Backoff(initial: min(Backoff.defaultInitial, maximum), maximum: maximum))
    }

    mutating func loop() throws {
        try lockSaveDirectory()
        for number in [SIGTERM, SIGINT] {
            signal(number) { _ in _exit(0) }   // stopping a watch is its normal end
        }
        let client = try run.client()
        let url = try run.settings().url.value
        run.output.error("watching \(url) for research requests (long-poll \(wait) s); stop with Ctrl-C")
        var failing = false
        while true {
            var path = "/v1/requests?wait=\(wait)"
            if let cursor { path += "&after=\(escaped(cursor))" }
            do {
                let response = try client.sendBlocking("GET", path)
                if response.status == 400, cursor != nil, BrokerClient.refusal(response).kind == .refused(status: 400, code: "invalid") {
                    run.output.error("the broker does not know the saved cursor (was its data reset?); starting from the beginning")
                    cursor = nil
                    continue
                }
                // 5xx is waited out below; 4xx means this credential may not watch, which retrying will not change.
                guard (200..<300).contains(response.status) else { throw BrokerClient.refusal(response) }
                if failing {
                    run.output.error("connected to \(url) again")
                    failing = false
                }
                backoff.reset()
                let page: JSONValue
                do { page = try JSONValue(parsing: response.body) } catch { throw ClientError(.protocolViolation, error.message) }
                for summary in page["requests"].array { try handle(summary) }
                if let next = page["cursor"].string, next != cursor {
                    cursor = next
                    saveCursor()
                }
            } catch let error as ClientError {
                guard Self.isTransient(error) else { throw error }
                let delay = backoff.nextDelay()
                run.output.error("broker unreachable (\(error.message)); retrying in \(String(format: "%.1f", delay)) s")
                failing = true
                Thread.sleep(forTimeInterval: delay)
            }
        }
    }

    /// Network trouble and a broker that is (re)starting are waited out; a
    /// refused certificate or a 4xx answer is not going to change by itself.
    static func isTransient(_ error: ClientError) -> Bool {
        switch error.kind {
        case .connection, .protocolViolation: return true
        case .refused(let status, _): return status >= 500
        case .tls:
            let text = error.message.lowercased()
            return !(text.contains("alert") || text.contains("certificate") || text.contains("does not match"))
        }
    }

    /// Prints, saves and hands on one request from the change feed, once.
    mutating func handle(_ summary: JSONValue) throws {
        guard let id = summary["id"].string else { return }
        if delivered.contains(id) || alreadySaved(id) {
            reportExtension(summary)
            return
        }
        var full: BrokerAnswer?
        if saveDirectory != nil {
            do { full = try run.call("GET", "/v1/requests/\(escaped(id))") } catch let error as ClientError where error.kind == .refused(status: 404, code: "not_found") {
                // Gone or no longer visible between the feed and the read: nothing to deliver; it comes back if it reappears.
                run.output.error("request \(id) is no longer visible to your agency; skipped")
                return
            }
        }
        delivered.insert(id)
        extensions[id] = summary["extendedUntil"].string
        if run.json {
            run.output.raw(full?.response.body ?? Array(summary.description.utf8))
        } else {
            run.output.line(describe(summary, event: "NEW"))
        }
        guard let saveDirectory, let full else { return }
        let path = "\(saveDirectory)/\(id).json"
        try write(full.response.body, to: path)
        if !run.json { run.output.line("  saved \(path)") }
        if let command { execute(command, path: path, id: id) }
    }

    /// A one-line notice when a known request's deadline was extended.
    mutating func reportExtension(_ summary: JSONValue) {
        guard let id = summary["id"].string, let until = summary["extendedUntil"].string, extensions[id] != until else { return }
        extensions[id] = until
        if run.json { run.output.raw(Array(summary.description.utf8)) } else { run.output.line(describe(summary, event: "EXTENDED")) }
    }

    func describe(_ summary: JSONValue, event: String) -> String {
        var text = "\(TimeText.utc(Date()))  \(event)  \(summary["id"].displayText)  \(summary["reference"].displayText)  \(summary["agency"].displayText)"
        if let due = SPOCCommands.returnBy(summary) {
            text += "  return by \(TimeText.utc(due)) (\(TimeText.countdown(to: due)))"
        }
        if summary["urgent"].bool == true { text += "  URGENT: \(summary["reason"].string ?? "")" }
        return text
    }

    /// One watcher per save directory: two would race to deliver the same request.
    func lockSaveDirectory() throws {
        guard let saveDirectory else { return }
        let path = "\(saveDirectory)/.marac-lock"
        let locked: IOResult<Int32>
        let fd: Int32
        do {
            fd = try blockingSystemCall("open", "of \(path)", path: path) { open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600) }
        } catch {
            throw UsageError("--save: cannot create a lock file in \(saveDirectory): \(error.reason)", command: run.spec)
        }
        do {
            locked = try systemCall("flock", "of \(path)", path: path) { flock(fd, LOCK_EX | LOCK_NB) }
        } catch {
            FileDescriptor.close(descriptor: fd)
            throw UsageError("--save: cannot lock \(path): \(error.reason)", command: run.spec)
        }
        guard case .done = locked else {
            FileDescriptor.close(descriptor: fd)
            throw UsageError("--save: another marac requests watch is already delivering into \(saveDirectory)", command: run.spec)
        }
        // Held, deliberately, until the process exits: the descriptor is never closed.
    }

    func alreadySaved(_ id: String) -> Bool {
        guard let saveDirectory else { return false }
        return FileManager.default.fileExists(atPath: "\(saveDirectory)/\(id).json")
    }

    /// Writes via a temporary file and rename, mode 0600 from the first byte, so a reader never sees half a request.
    func write(_ bytes: [UInt8], to path: String) throws {
        try PrivateFile.write(bytes, to: path, exitCode: Marac.ExitCode.refused)
    }

    func saveCursor() {
        guard let saveDirectory, let cursor else { return }
        try? PrivateFile.write(Array((cursor + "\n").utf8), to: "\(saveDirectory)/\(Self.cursorFile)", exitCode: Marac.ExitCode.refused)
    }

    /// Runs `sh -c 'CMD "$1"' marac PATH` and waits; a failing command is reported, not fatal.
    func execute(_ command: String, path: String, id: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "\(command) \"$1\"", "marac-exec", path]
        var environment = ProcessInfo.processInfo.environment
        environment["MARAC_REQUEST_ID"] = id
        environment["MARAC_REQUEST_FILE"] = path
        process.environment = environment
        do {
            try process.run()
            process.waitUntilExit()
            if process.terminationStatus != 0 {
                run.output.error("--exec: `\(command)` exited with status \(process.terminationStatus) for \(path)")
            }
        } catch {
            run.output.error("--exec: cannot run `\(command)`: \(error.localizedDescription)")
        }
    }
}
