import Foundation
import MaracClient
import Wire

/// What the MARAC coordinator runs: meetings and their deadlines, cases,
/// dispatching research, extensions, and the research pack for the chair.
enum CoordinatorCommands {
    static let all: [CommandSpec] = [createMeeting, listMeetings, showMeeting, meetingStatus, createCase, showCase, pack, dispatch, extend]
    static let role = "Coordinator"

    static let createMeeting = CommandSpec(
        path: ["meeting", "create"],
        options: [.init(name: "--at", value: "TIME", help: "start: 2027-01-14T10:00:00Z, 2027-01-14T10:00+01:00, or 2027-01-14 10:00 in local time", required: true),
                  .init(name: "--title", value: "TEXT", help: "title, e.g. \"MARAC Northtown January\"", required: true),
                  .init(name: "--panel", value: "ID", help: "the panel that meets (default: the broker's first; see marac panel list)")],
        summary: "create a meeting; prints its referral, dispatch, return and agenda deadlines in local time and UTC", role: role,
        example: "marac meeting create --at \"2027-01-14 10:00\" --title \"MARAC Northtown\""
    ) { run in
        let startsAt = try run.time("--at")!
        var members: [String: JSONValue] = ["title": .string(try run.required("--title")), "startsAt": .string(RFC3339.format(startsAt))]
        if let panel = run.option("--panel") { members["panel"] = .string(panel) }
        let body = JSONValue.object(members)
        try run.show(try run.call("POST", "/v1/meetings", body: body)) { meeting in
            run.output.line("Meeting \(meeting["id"].displayText) created: \(meeting["title"].displayText)\n")
            printDeadlines(meeting, output: run.output)
        }
    }

    static let listMeetings = CommandSpec(
        path: ["meeting", "list"], summary: "every meeting you can see, with its deadlines", role: role,
        example: "marac meeting list"
    ) { run in
        try run.show(try run.call("GET", "/v1/meetings")) { list in
            let meetings = list["meetings"].array
            guard !meetings.isEmpty else { run.output.line("No meetings."); return }
            run.output.table(["id", "title", "starts (UTC)", "dispatch by (UTC)", "returns due (UTC)"], meetings.map { meeting in
                [Output.Cell(meeting["id"].displayText), Output.Cell(meeting["title"].displayText)]
                    + ["startsAt", "dispatchDeadline", "returnDeadline"].map { Output.Cell(meeting[$0].date.map(TimeText.utc) ?? "") }
            })
        }
    }

    static let showMeeting = CommandSpec(
        path: ["meeting", "show"], arguments: ["ID"], summary: "one meeting and its deadlines in local time and UTC", role: role,
        example: "marac meeting show 9b2e6f0c1d3a4b5c8e7f6a5b4c3d2e1f"
    ) { run in
        try run.show(try run.call("GET", "/v1/meetings/\(escaped(run.argument(0)))")) { meeting in
            run.output.line("Meeting \(meeting["id"].displayText): \(meeting["title"].displayText)\n")
            printDeadlines(meeting, output: run.output)
        }
    }

    static let meetingStatus = CommandSpec(
        path: ["meeting", "status"], arguments: ["ID"],
        summary: "every request of a meeting: case × agency, state, time left, overdue highlighted", role: role,
        example: "marac meeting status 9b2e6f0c1d3a4b5c8e7f6a5b4c3d2e1f"
    ) { run in
        let id = escaped(run.argument(0))
        let status = try run.call("GET", "/v1/meetings/\(id)/status")
        try run.show(status) { status in
            let meeting = try run.call("GET", "/v1/meetings/\(id)").json
            run.output.line("\(meeting["title"].displayText), starts \(meeting["startsAt"].date.map(TimeText.utc) ?? "?"); returns due \(meeting["returnDeadline"].date.map(TimeText.utc) ?? "?")\n")
            let requests = status["requests"].array
            defer { showActions(status["actions"].array, run: run) }
            guard !requests.isEmpty else { run.output.line("No research dispatched yet."); return }
            run.output.table(["case", "agency", "state", "return by (UTC)", "time left", "request"], requests.map { request in
                let due = request["extendedUntil"].date ?? meeting["returnDeadline"].date
                let state = request["state"].string ?? ""
                return [Output.Cell(request["reference"].displayText), Output.Cell(request["agency"].displayText),
                        SPOCCommands.stateCell(request["state"]),
                        Output.Cell((due.map(TimeText.utc) ?? "") + (request["extendedUntil"].isNull ? "" : " (extended)")),
                        state == "scheduled" ? Output.Cell("releases \(request["releaseAt"].date.map(TimeText.utc) ?? "")")
                                             : SPOCCommands.timeLeftCell(due, state: state),
                        Output.Cell(request["id"].displayText)]
            })
            let counts = Dictionary(grouping: requests, by: { $0["state"].string ?? "?" }).mapValues(\.count)
            run.output.line("\n\(requests.count) requests: " + counts.keys.sorted().map { "\(counts[$0]!) \($0)" }.joined(separator: ", "))
        }
    }

    /// The meeting's actions under its requests: owner, state (`OVERDUE` highlighted), due date, time left while open.
    static func showActions(_ actions: [JSONValue], run: Invocation) {
        guard !actions.isEmpty else { return }
        run.output.line("")
        run.output.table(["case", "agency", "action", "due (UTC)", "time left", "text"], actions.map { action in
            let state = action["state"].string ?? ""
            let open = state == "open" || state == "overdue"
            return [Output.Cell(action["reference"].displayText), Output.Cell(action["ownerAgency"].displayText),
                    SPOCCommands.stateCell(action["state"]),
                    Output.Cell((action["dueAt"].date.map(TimeText.utc) ?? "") + (action["rapid"].bool == true ? " RAPID" : "")),
                    open ? SPOCCommands.timeLeftCell(action["dueAt"].date, state: state) : "",
                    Output.Cell(action["text"].displayText)]
        })
        let counts = Dictionary(grouping: actions, by: { $0["state"].string ?? "?" }).mapValues(\.count)
        run.output.line("\n\(actions.count) actions: " + counts.keys.sorted().map { "\(counts[$0]!) \($0)" }.joined(separator: ", "))
    }

    static let createCase = CommandSpec(
        path: ["case", "create"],
        options: [.init(name: "--meeting", value: "ID", help: "the meeting the case is on", required: true),
                  .init(name: "--file", value: "FILE", help: "{\"reference\", \"fields\": {\"victim.name\": …}, \"consent\": {\"status\", \"lawfulBasis\"}}", required: true)],
        summary: "put a case on a meeting's agenda from a JSON file",
        details: """
            Every field path must be classified by the broker's policy (default deny: an unknown path is refused).
            Example case.json:
              {"reference": "MARAC-2027-0042",
               "fields": {"victim.name": "Jane Doe", "perpetrator.name": "John Roe", "risk.dashScore": 18},
               "consent": {"status": "not-obtained", "lawfulBasis": "high risk of serious harm"}}
            """,
        role: role,
        example: "marac case create --meeting 9b2e6f0c1d3a4b5c8e7f6a5b4c3d2e1f --file case.json"
    ) { run in
        let file = try run.required("--file")
        guard var members = try run.readJSONFile(file, for: "--file").object else {
            throw UsageError("--file: \(file) must hold a JSON object {reference, fields, consent}", command: run.spec)
        }
        let meeting = try run.required("--meeting")
        if let other = members["meeting"]?.string, other != meeting {
            throw UsageError("--file names meeting \(other) but --meeting is \(meeting)", command: run.spec)
        }
        members["meeting"] = .string(meeting)
        try run.show(try run.call("POST", "/v1/cases", body: .object(members))) { created in
            run.output.line("Case \(created["id"].displayText) (\(created["reference"].displayText)) created on meeting \(meeting) with \(created["fields"].object?.count ?? 0) fields; consent: \(consentText(created["consent"]))")
        }
    }

    static let showCase = CommandSpec(
        path: ["case", "show"], arguments: ["ID"], summary: "a case with all its fields and its consent record", role: role,
        example: "marac case show 2c4e6a8b0d1f3a5c7e9b1d3f5a7c9e1b"
    ) { run in
        try run.show(try run.call("GET", "/v1/cases/\(escaped(run.argument(0)))")) { theCase in
            if theCase["state"].string == "erased" {
                run.output.pairs([("Case", theCase["id"].displayText), ("Reference", theCase["reference"].displayText),
                                  ("State", "erased at \(theCase["erasedAt"].date.map(TimeText.utc) ?? theCase["erasedAt"].displayText): nothing of its content remains")])
                return
            }
            run.output.pairs([("Case", theCase["id"].displayText), ("Reference", theCase["reference"].displayText),
                              ("Meeting", theCase["meeting"].displayText), ("Consent", consentText(theCase["consent"]))])
            let fields = theCase["fields"].object ?? [:]
            run.output.line("")
            run.output.table(["field", "value"], fields.keys.sorted().map { [Output.Cell($0), Output.Cell(fields[$0]!.displayText)] })
        }
    }

    static let dispatch = CommandSpec(
        path: ["research", "dispatch"], arguments: ["CASE"],
        options: [.init(name: "--agencies", value: "LIST", help: "agencies to ask, comma-separated: police,housing,health", required: true),
                  .init(name: "--questions-file", value: "FILE", help: "one question per line (blank lines and # comments ignored)", required: true),
                  .init(name: "--fields", value: "LIST", help: "send only these field paths (never more than each agency may see)"),
                  .init(name: "--release-at", value: "TIME", help: "release later (not after the dispatch deadline); SPOCs see nothing before"),
                  .init(name: "--urgent", value: nil, help: "dispatch after the dispatch deadline (needs --reason; audited, shown to SPOCs)"),
                  .init(name: "--reason", value: "TEXT", help: "why the dispatch is urgent")],
        summary: "send research requests for a case, one per agency", role: role,
        example: "marac research dispatch 2c4e6a8b0d1f3a5c7e9b1d3f5a7c9e1b --agencies police,housing,health --questions-file questions.txt"
    ) { run in
        let agencies = run.list("--agencies") ?? []
        guard !agencies.isEmpty else { throw UsageError("--agencies: name at least one agency", command: run.spec) }
        let file = try run.required("--questions-file")
        let questions = String(decoding: try run.readFile(file, for: "--questions-file"), as: UTF8.self)
            .split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
        guard !questions.isEmpty else { throw UsageError("--questions-file: \(file) holds no questions", command: run.spec) }
        if run.flag("--urgent") != (run.option("--reason") != nil) {
            throw UsageError(run.flag("--urgent") ? "--urgent needs --reason TEXT" : "--reason is only for --urgent dispatches", command: run.spec)
        }
        var body: [String: JSONValue] = ["agencies": .array(agencies.map(JSONValue.string)), "questions": .array(questions.map(JSONValue.string))]
        if let fields = run.list("--fields") { body["fields"] = .array(fields.map(JSONValue.string)) }
        if let releaseAt = try run.time("--release-at") { body["releaseAt"] = .string(RFC3339.format(releaseAt)) }
        if run.flag("--urgent") {
            body["urgent"] = .bool(true)
            body["reason"] = .string(try run.required("--reason"))
        }
        try run.show(try run.call("POST", "/v1/cases/\(escaped(run.argument(0)))/research", body: .object(body))) { answer in
            let requests = answer["requests"].array
            run.output.line("\(requests.count) research request\(requests.count == 1 ? "" : "s") dispatched with \(questions.count) question\(questions.count == 1 ? "" : "s"):\n")
            run.output.table(["agency", "state", "release (UTC)", "return by (UTC)", "fields", "request"], requests.map { request in
                [Output.Cell(request["agency"].displayText), Output.Cell(request["state"].displayText + (request["urgent"].bool == true ? ", URGENT" : "")),
                 Output.Cell(request["releaseAt"].date.map(TimeText.utc) ?? ""), Output.Cell(request["returnDeadline"].date.map(TimeText.utc) ?? ""),
                 Output.Cell(String(request["fields"].object?.count ?? 0)), Output.Cell(request["id"].displayText)]
            })
        }
    }

    static let extend = CommandSpec(
        path: ["request", "extend"], arguments: ["ID"],
        options: [.init(name: "--until", value: "TIME", help: "new return deadline, not after the meeting starts", required: true),
                  .init(name: "--reason", value: "TEXT", help: "why (audited)", required: true)],
        summary: "give one agency's request a later return deadline", role: role,
        example: "marac request extend 4f1c9a2e0b7d4c55a1e3d9b8c7f60a12 --until \"2027-01-14 08:00\" --reason \"records system outage\""
    ) { run in
        let until = try run.time("--until")!
        let body = JSONValue.object(["until": .string(RFC3339.format(until)), "reason": .string(try run.required("--reason"))])
        try run.show(try run.call("POST", "/v1/requests/\(escaped(run.argument(0)))/extension", body: body)) { request in
            let granted = request["extendedUntil"].date ?? until
            run.output.line("Request \(request["id"].displayText) (\(request["reference"].displayText), \(request["agency"].displayText)) may now return until \(TimeText.local(granted)) = \(TimeText.utc(granted)) (\(TimeText.countdown(to: granted)) from now).")
        }
    }

    static let pack = CommandSpec(
        path: ["case", "pack"], arguments: ["CASE"],
        options: [.init(name: "--output", value: "FILE", help: "write the pack to FILE instead of standard output", short: "-o")],
        summary: "the research pack for the chair: every agency's latest return, as plain text (--json: collated)", role: role,
        example: "marac case pack 2c4e6a8b0d1f3a5c7e9b1d3f5a7c9e1b -o MARAC-2027-0042-pack.txt"
    ) { run in
        let query = run.json ? "" : "?format=text"
        let answer = try run.call("GET", "/v1/cases/\(escaped(run.argument(0)))/returns\(query)")
        guard let file = run.option("--output") else { run.output.raw(answer.response.body); return }
        do {
            try PrivateFile.write(answer.response.body, to: file, exitCode: Marac.ExitCode.usage)
        } catch let failure as CommandFailure {
            throw CommandFailure(exitCode: failure.exitCode, message: "-o: \(failure.message)")
        }
        run.output.error("wrote \(file) (\(answer.response.body.count) bytes)")
    }

    /// Start, dispatch and return deadlines in local time and UTC, with time left.
    static func printDeadlines(_ meeting: JSONValue, output: Output) {
        let zone = TimeZone.current.identifier
        if let panel = meeting["panel"].string { output.line("Panel: \(panel)\n") }
        var rows = [("starts", "startsAt"), ("dispatch by", "dispatchDeadline"), ("returns due", "returnDeadline")]
        if !meeting["referralDeadline"].isNull {
            rows = [("referrals close", "referralDeadline"), ("accepted until", "acceptanceDeadline")] + rows + [("agenda to SPOCs", "agendaAt")]
        }
        output.table(["", "local (\(zone))", "UTC", "time left"], rows.map { label, key in
            guard let date = meeting[key].date else { return [Output.Cell(label), "?", "?", ""] }
            return [Output.Cell(label), Output.Cell(TimeText.local(date)), Output.Cell(TimeText.utc(date)),
                    Output.Cell(TimeText.countdown(to: date), highlight: date < Date())]
        })
    }

    static func consentText(_ consent: JSONValue) -> String {
        guard let status = consent["status"].string else { return "none recorded (research cannot be dispatched)" }
        return consent["lawfulBasis"].string.map { "\(status); lawful basis: \($0)" } ?? status
    }
}
