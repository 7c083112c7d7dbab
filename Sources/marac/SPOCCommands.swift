import Foundation
import MaracClient
import Wire

/// What an agency's SPOC (person or script) runs: list and watch research
/// requests, read one, and send the return.
enum SPOCCommands {
    static let all: [CommandSpec] = [requests, watch, show, submitReturn, showReturn]
    static let role = "SPOC agent"

    static let requests = CommandSpec(
        path: ["requests"], summary: "list your agency's released research requests", role: role,
        example: "marac requests --cert police-spoc.pem --key police-spoc-key.pem --ca ca.pem"
    ) { run in
        try run.show(try run.call("GET", "/v1/requests")) { page in
            let requests = page["requests"].array
            guard !requests.isEmpty else { run.output.line("No research requests."); return }
            run.output.table(["id", "reference", "state", "urgent", "return by (UTC)", "time left"], requests.map { request in
                let due = returnBy(request)
                return [Output.Cell(request["id"].displayText), Output.Cell(request["reference"].displayText), stateCell(request["state"]),
                        Output.Cell(request["urgent"].bool == true ? "URGENT" : "", highlight: request["urgent"].bool == true),
                        Output.Cell(due.map(TimeText.utc) ?? ""), timeLeftCell(due, state: request["state"].string)]
            })
        }
    }

    static let watch = CommandSpec(
        path: ["requests", "watch"],
        options: [
            .init(name: "--save", value: "DIR", help: "write each new request (with its case fields and questions) to DIR/<id>.json, once"),
            .init(name: "--exec", value: "CMD", help: "run CMD with the saved file's path as its last argument (needs --save)"),
            .init(name: "--wait", value: "SECONDS", help: "long-poll time per request to the broker, 1…\(CLILimits.maximumLongPoll) (default \(Watcher.defaultWait))"),
            .init(name: "--backoff-max", value: "SECONDS", help: "longest wait between retries while the broker is unreachable (default \(Int(Backoff.defaultMaximum)))"),
        ],
        summary: "wait for new requests, print each once with its deadline, optionally save and hand it on",
        details: """
            Runs until interrupted. Survives broker restarts and network errors, retrying with capped exponential
            backoff. Keeps its cursor (in DIR/.marac-cursor with --save), so nothing is printed or saved twice; a
            request already saved in DIR is never saved or handed to CMD again. With --exec, CMD also gets
            MARAC_REQUEST_ID and MARAC_REQUEST_FILE in its environment; a CMD that fails is reported, not retried.
            With --json, prints one JSON object per line.
            Saving a request reads it, which the broker records as your agency's acknowledgement.
            Stops with exit 1 if the broker refuses the credential, 3 on a certificate problem.
            """,
        role: role,
        example: "marac requests watch --save ~/marac-inbox --exec /opt/agency/import-request.sh"
    ) { run in
        var watcher = try Watcher(run)
        try watcher.loop()
    }

    static let show = CommandSpec(
        path: ["request", "show"], arguments: ["ID"],
        summary: "a request: the case fields your agency may see, the questions, the deadline", role: role,
        example: "marac request show 4f1c9a2e0b7d4c55a1e3d9b8c7f60a12"
    ) { run in
        try run.show(try run.call("GET", "/v1/requests/\(escaped(run.argument(0)))")) { request in
            printRequest(request, output: run.output)
        }
    }

    static let submitReturn = CommandSpec(
        path: ["return", "submit"], arguments: ["ID"],
        options: [.init(name: "--file", value: "FILE", help: "the return: {\"knownToAgency\", \"summary\", \"answers\": [...], \"withheld\": [{\"what\", \"reason\"}]}", required: true)],
        summary: "check a return file against the request, then send it (again to amend, until the deadline)",
        details: """
            The file is checked before anything is sent: its shape (SPEC §5), every withheld item, and one answer
            per question of the request. Prints the version stored and the deadline it met.
            Example return.json:
              {"knownToAgency": true, "summary": "Three call-outs since March.",
               "answers": ["Yes", "Three domestic incidents"],
               "withheld": [{"what": "Ongoing investigation", "reason": "Would prejudice an investigation"}]}
            """,
        role: role,
        example: "marac return submit 4f1c9a2e0b7d4c55a1e3d9b8c7f60a12 --file return.json"
    ) { run in
        let id = run.argument(0)
        let json = try run.readJSONFile(try run.required("--file"), for: "--file")
        _ = try ReturnDraft(json)
        let request = try run.call("GET", "/v1/requests/\(escaped(id))").json
        let draft = try ReturnDraft(json, questionCount: request["questions"].array.count)
        let answer = try run.call("PUT", "/v1/requests/\(escaped(id))/return", body: draft.body)
        try run.show(answer) { stored in
            let submitted = stored["submittedAt"].date ?? Date()
            run.output.line("Return version \(stored["version"].displayText) for \(request["reference"].displayText) (\(request["agency"].displayText)) stored at \(TimeText.utc(submitted)).")
            if let due = returnBy(request) {
                let extended = request["extendedUntil"].date == nil ? "" : " (extended)"
                run.output.line("Deadline \(TimeText.utc(due))\(extended) met with \(TimeText.duration(max(0, Int(due.timeIntervalSince(submitted))))) to spare; you may amend it until then.")
            }
        }
    }

    static let showReturn = CommandSpec(
        path: ["return", "show"], arguments: ["ID"],
        summary: "the latest return to a request and its version history", role: role,
        example: "marac return show 4f1c9a2e0b7d4c55a1e3d9b8c7f60a12"
    ) { run in
        try run.show(try run.call("GET", "/v1/requests/\(escaped(run.argument(0)))/return")) { history in
            let latest = history["latest"]
            run.output.pairs([
                ("Request", latest["request"].displayText), ("Agency", latest["agency"].displayText),
                ("Version", latest["version"].displayText), ("Submitted", latest["submittedAt"].date.map(TimeText.utc) ?? ""),
                ("Known to agency", latest["knownToAgency"].bool == true ? "yes" : "no"), ("Summary", latest["summary"].displayText),
            ])
            run.output.line("\nAnswers:")
            for (index, answer) in latest["answers"].array.enumerated() { run.output.line("  \(index + 1). \(answer.displayText)") }
            let withheld = latest["withheld"].array
            if !withheld.isEmpty {
                run.output.line("\nWithheld:")
                run.output.table(["what", "reason"], withheld.map { [Output.Cell($0["what"].displayText), Output.Cell($0["reason"].displayText)] })
            }
            run.output.line("\nVersions:")
            run.output.table(["version", "submitted (UTC)", "summary"], history["versions"].array.map {
                [Output.Cell($0["version"].displayText), Output.Cell($0["submittedAt"].date.map(TimeText.utc) ?? ""), Output.Cell($0["summary"].displayText)]
            })
        }
    }

    /// The full request as the agency sees it.
    static func printRequest(_ request: JSONValue, output: Output) {
        let due = returnBy(request)
        var rows: [(String, String)] = [
            ("Request", request["id"].displayText), ("Case", "\(request["reference"].displayText) (\(request["case"].displayText))"),
            ("Meeting", request["meeting"].displayText), ("Agency", request["agency"].displayText), ("State", request["state"].displayText),
        ]
        if request["urgent"].bool == true { rows.append(("Urgent", request["reason"].string ?? "yes")) }
        rows.append(("Released", request["releaseAt"].date.map(TimeText.utc) ?? ""))
        if let due {
            let extended = request["extendedUntil"].date == nil ? "" : " (extended)"
            rows.append(("Return by", "\(TimeText.local(due)) = \(TimeText.utc(due))\(extended), \(TimeText.countdown(to: due))"))
        }
        output.pairs(rows)
        output.line("\nQuestions:")
        for (index, question) in request["questions"].array.enumerated() { output.line("  \(index + 1). \(question.displayText)") }
        let fields = request["fields"].object ?? [:]
        output.line("\nCase fields shared with your agency:")
        if fields.isEmpty { output.line("  (none)") } else {
            output.table(["field", "value"], fields.keys.sorted().map { [Output.Cell($0), Output.Cell(fields[$0]!.displayText)] })
        }
    }

    /// The deadline that applies: the extension if one was granted, else the return deadline.
    static func returnBy(_ request: JSONValue) -> Date? { request["extendedUntil"].date ?? request["returnDeadline"].date }

    /// A state, upper-case and highlighted when overdue.
    static func stateCell(_ state: JSONValue) -> Output.Cell {
        state.string == "overdue" ? Output.Cell("OVERDUE", highlight: true) : Output.Cell(state.displayText)
    }

    /// Time left until `due`, highlighted once passed; blank once returned.
    static func timeLeftCell(_ due: Date?, state: String?) -> Output.Cell {
        guard let due, state != "returned" else { return "" }
        return Output.Cell(TimeText.countdown(to: due), highlight: due < Date())
    }
}
