import Foundation
import MaracClient
import Wire

/// The MARAC cycle before the meeting (SPEC §11.1–11.4): panels, referrals by SPOCs and the
/// coordinator's decisions, cases listed again, field corrections, invitations and the agenda.
enum ReferralCommands {
    static let all: [CommandSpec] = [panels, submit, list, show, decide, cases, relist, correct, agenda, invite]

    static let panels = CommandSpec(
        path: ["panel", "list"], summary: "the panels this broker hosts: case types, lead times, criteria and rules", role: "Anyone",
        example: "marac panel list"
    ) { run in
        try run.show(try run.call("GET", "/v1/panels")) { answer in
            for panel in answer["panels"].array {
                run.output.line("\(panel["id"].displayText) — \(panel["name"].displayText)")
                run.output.pairs([
                    ("  case types", panel["caseTypes"].array.map(\.displayText).joined(separator: ", ")),
                    ("  referrals close", "\(panel["referralLeadDays"].displayText) days before; accepted until \(panel["acceptanceLeadDays"].displayText) days before"),
                    ("  research", "\(panel["researchLeadWorkingDays"].displayText) working days before; returns \(panel["returnDeadlineHours"].displayText) h before; agenda \(panel["agendaLeadHours"].displayText) h before"),
                ])
                for criterion in panel["criteria"].array { run.output.line("  criterion \(criterion["id"].displayText): \(criterion["text"].displayText)") }
                for rule in panel["rules"].array { run.output.line("  rule \(rule.displayText)") }
                run.output.line()
            }
        }
    }

    static let submit = CommandSpec(
        path: ["referral", "submit"],
        options: [.init(name: "--file", value: "FILE", help: "{\"caseType\", \"fields\", \"consent\", \"criteria\", \"reason\"}", required: true),
                  .init(name: "--panel", value: "ID", help: "the panel (default: the broker's first; see marac panel list)"),
                  .init(name: "--meeting", value: "ID", help: "the meeting asked for (refused after its referral deadline)")],
        summary: "refer a case for your agency; prints how it fared against each of the panel's rules",
        details: """
            Field paths are checked against the broker's sharing policy; consent must be obtained or have a lawful basis.
            A referral failing a hard rule (case type, age) is refused with every rule's outcome; soft rules are stored
            for the coordinator's decision. Example referral.json:
              {"caseType": "asb", "criteria": ["potential-escalation"], "reason": "Escalating harassment",
               "consent": {"status": "obtained"},
               "fields": {"victim.name": "Vera Neighbour", "victim.dateOfBirth": "1970-05-05",
                          "incidents": [{"date": "2027-01-02", "what": "threats"}], "issue.since": "2026-05-01"}}
            """,
        role: SPOCCommands.role,
        example: "marac referral submit --panel community --file referral.json"
    ) { run in
        let file = try run.required("--file")
        guard var members = try run.readJSONFile(file, for: "--file").object else {
            throw UsageError("--file: \(file) must hold a JSON object {caseType, fields, consent, criteria, reason}", command: run.spec)
        }
        if let panel = run.option("--panel") { members["panel"] = .string(panel) }
        if let meeting = run.option("--meeting") { members["meeting"] = .string(meeting) }
        try run.show(try run.call("POST", "/v1/referrals", body: .object(members))) { referral in
            run.output.line("Referral \(referral["id"].displayText) to panel \(referral["panel"].displayText) submitted; screening:\n")
            screeningTable(referral, output: run.output)
        }
    }

    static let list = CommandSpec(
        path: ["referral", "list"], summary: "referrals (a SPOC: your agency's) and their outcome", role: "Coordinator, SPOC agent",
        example: "marac referral list"
    ) { run in
        try run.show(try run.call("GET", "/v1/referrals")) { answer in
            let referrals = answer["referrals"].array
            guard !referrals.isEmpty else { run.output.line("No referrals."); return }
            run.output.table(["id", "panel", "agency", "type", "state", "soft rules failed", "made (UTC)"], referrals.map { referral in
                let failed = referral["screening"].array.filter { $0["passed"].bool == false }.map(\.["rule"].displayText)
                return [Output.Cell(referral["id"].displayText), Output.Cell(referral["panel"].displayText), Output.Cell(referral["agency"].displayText),
                        Output.Cell(referral["caseType"].displayText), Output.Cell(referral["state"].displayText),
                        Output.Cell(failed.joined(separator: ", "), highlight: !failed.isEmpty),
                        Output.Cell(referral["createdAt"].date.map(TimeText.utc) ?? "")]
            })
        }
    }

    static let show = CommandSpec(
        path: ["referral", "show"], arguments: ["ID"], summary: "one referral: fields, screening and the decision (read is audited)",
        role: "Coordinator, SPOC agent", example: "marac referral show 2c4e6a8b0d1f3a5c7e9b1d3f5a7c9e1b"
    ) { run in
        try run.show(try run.call("GET", "/v1/referrals/\(escaped(run.argument(0)))")) { referral in
            run.output.pairs([("Referral", referral["id"].displayText), ("Panel", referral["panel"].displayText),
                              ("Agency", "\(referral["agency"].displayText) (\(referral["referrer"].displayText))"),
                              ("Case type", referral["caseType"].displayText), ("State", referral["state"].displayText),
                              ("Reason", referral["reason"].displayText),
                              ("Criteria", referral["criteria"].array.map(\.displayText).joined(separator: ", "))])
            let decision = referral["decision"]
            if !decision.isNull {
                var rows = [("Decision", "\(decision["decision"].displayText) by \(decision["by"].displayText)")]
                if !decision["meeting"].isNull {
                    rows.append(("  meeting", decision["meeting"].displayText + (decision["slot"].isNull ? "" : " at \(decision["slot"].displayText)")))
                }
                for key in ["panel", "reason", "advice"] where !decision[key].isNull { rows.append(("  \(key)", decision[key].displayText)) }
                run.output.pairs(rows)
            }
            run.output.line("\nScreening:")
            screeningTable(referral, output: run.output)
            let fields = referral["fields"].object ?? [:]
            if !fields.isEmpty {
                run.output.line("")
                run.output.table(["field", "value"], fields.keys.sorted().map { [Output.Cell($0), Output.Cell(fields[$0]!.displayText)] })
            }
        }
    }

    static let decide = CommandSpec(
        path: ["referral", "decide"], arguments: ["ID"],
        options: [.init(name: "--accept", value: nil, help: "accept into --meeting (creates the case)"),
                  .init(name: "--decline", value: nil, help: "decline with --reason and --advice for the referrer"),
                  .init(name: "--redirect", value: "PANEL", help: "send it to another panel, with --reason"),
                  .init(name: "--case-type", value: "TYPE", help: "with --redirect: its case type under that panel (default unchanged)"),
                  .init(name: "--meeting", value: "ID", help: "the meeting it is accepted into"),
                  .init(name: "--slot", value: "HH:MM", help: "its time slot at the meeting"),
                  .init(name: "--reference", value: "TEXT", help: "the case reference (default REF-<referral id>)"),
                  .init(name: "--urgent", value: nil, help: "accept after the meeting's acceptance deadline (needs --reason)"),
                  .init(name: "--reason", value: "TEXT", help: "why (audited; shown to the referring agency)"),
                  .init(name: "--advice", value: "TEXT", help: "advice and recommended actions for a declined referral")],
        summary: "accept, decline or redirect a referral", role: CoordinatorCommands.role,
        example: "marac referral decide 2c4e6a8b… --accept --meeting 9b2e6f0c… --slot 10:30 --reference CR-2027-007"
    ) { run in
        let chosen = [run.flag("--accept"), run.flag("--decline"), run.option("--redirect") != nil].filter { $0 }.count
        guard chosen == 1 else { throw UsageError("give exactly one of --accept, --decline, --redirect PANEL", command: run.spec) }
        var body: [String: JSONValue] = [:]
        if run.flag("--accept") {
            body["decision"] = .string("accepted")
            body["meeting"] = .string(try run.required("--meeting"))
            if let slot = run.option("--slot") { body["slot"] = .string(slot) }
            if let reference = run.option("--reference") { body["reference"] = .string(reference) }
            if run.flag("--urgent") { body["urgent"] = .bool(true); body["reason"] = .string(try run.required("--reason")) }
        } else if run.flag("--decline") {
            body = ["decision": .string("declined"), "reason": .string(try run.required("--reason")), "advice": .string(try run.required("--advice"))]
        } else {
            body = ["decision": .string("redirected"), "panel": .string(try run.required("--redirect")), "reason": .string(try run.required("--reason"))]
        }
        if let caseType = run.option("--case-type") {
            // Sent as given: the broker refuses it, naming caseType, on anything but a redirection.
            body["caseType"] = .string(caseType)
        }
        try run.show(try run.call("POST", "/v1/referrals/\(escaped(run.argument(0)))/decision", body: .object(body))) { answer in
            let referral = answer["referral"], decision = referral["decision"]
            switch decision["decision"].string {
            case "accepted":
                run.output.line("Accepted: case \(answer["case"]["id"].displayText) (\(answer["case"]["reference"].displayText)) listed at meeting \(decision["meeting"].displayText)"
                                + (decision["slot"].isNull ? "." : " at \(decision["slot"].displayText)."))
            case "redirected":
                run.output.line("Redirected to panel \(decision["panel"].displayText) as referral \(decision["referral"].displayText).")
            default:
                run.output.line("Declined; the referring agency sees the reason and advice.")
            }
        }
    }

    static let cases = CommandSpec(
        path: ["case", "list"],
        options: [.init(name: "--meeting", value: "ID", help: "only cases listed at this meeting"),
                  .init(name: "--state", value: "STATE", help: "open, closed or erased")],
        summary: "cases with their state and listings (no fields)", role: CoordinatorCommands.role,
        example: "marac case list --state open"
    ) { run in
        var query: [String] = []
        if let meeting = run.option("--meeting") { query.append("meeting=\(escaped(meeting))") }
        if let state = run.option("--state") { query.append("state=\(escaped(state))") }
        try run.show(try run.call("GET", "/v1/cases" + (query.isEmpty ? "" : "?" + query.joined(separator: "&")))) { answer in
            let cases = answer["cases"].array
            guard !cases.isEmpty else { run.output.line("No cases."); return }
            run.output.table(["reference", "state", "panel", "type", "listings", "case"], cases.map { item in
                [Output.Cell(item["reference"].displayText), Output.Cell(item["state"].displayText), Output.Cell(item["panel"].displayText),
                 Output.Cell(item["caseType"].isNull ? "" : item["caseType"].displayText),
                 Output.Cell(item["listings"].array.map { "\($0["kind"].displayText) \($0["meeting"].displayText.prefix(8))" }.joined(separator: ", ")),
                 Output.Cell(item["id"].displayText)]
            })
        }
    }

    static let relist = CommandSpec(
        path: ["case", "relist"], arguments: ["CASE"],
        options: [.init(name: "--meeting", value: "ID", help: "a later meeting of the case's panel", required: true),
                  .init(name: "--slot", value: "HH:MM", help: "its time slot")],
        summary: "list an open case again, for review, at a later meeting", role: CoordinatorCommands.role,
        example: "marac case relist 2c4e6a8b… --meeting 7d1e… --slot 11:00"
    ) { run in
        var body: [String: JSONValue] = ["meeting": .string(try run.required("--meeting")), "kind": .string("review")]
        if let slot = run.option("--slot") { body["slot"] = .string(slot) }
        try run.show(try run.call("POST", "/v1/cases/\(escaped(run.argument(0)))/listings", body: .object(body))) { record in
            run.output.line("Case \(record["reference"].displayText) is listed at \(record["listings"].array.count) meetings:")
            for listing in record["listings"].array {
                run.output.line("  \(listing["meeting"].displayText)  \(listing["kind"].displayText)\(listing["slot"].isNull ? "" : "  \(listing["slot"].displayText)")")
            }
        }
    }

    static let correct = CommandSpec(
        path: ["case", "fields"], arguments: ["CASE"],
        options: [.init(name: "--set", value: "FILE", help: "a JSON object of field paths to set"),
                  .init(name: "--remove", value: "LIST", help: "field paths to remove, comma-separated"),
                  .init(name: "--reason", value: "TEXT", help: "why (audited with the field names)", required: true),
                  .init(name: "--version", value: "N", help: "the case version you read (refused if it changed since)")],
        summary: "correct a case's fields; requests already released keep what they released", role: CoordinatorCommands.role,
        example: "marac case fields 2c4e6a8b… --set corrections.json --remove victim.phone --reason \"moved; old phone disconnected\""
    ) { run in
        var body: [String: JSONValue] = ["reason": .string(try run.required("--reason"))]
        if let file = run.option("--set") {
            guard let set = try run.readJSONFile(file, for: "--set").object else { throw UsageError("--set: \(file) must hold a JSON object", command: run.spec) }
            body["set"] = .object(set)
        }
        if let remove = run.list("--remove") { body["remove"] = .array(remove.map(JSONValue.string)) }
        if let version = run.option("--version") {
            guard let number = Int(version), number >= 0 else { throw UsageError("--version: a whole number", command: run.spec) }
            body["version"] = .number(Double(number))
        }
        guard body["set"] != nil || body["remove"] != nil else { throw UsageError("give --set FILE or --remove LIST", command: run.spec) }
        try run.show(try run.call("PATCH", "/v1/cases/\(escaped(run.argument(0)))/fields", body: .object(body))) { record in
            run.output.line("Case \(record["reference"].displayText) is now at version \(record["version"].displayText) with \(record["fields"].object?.count ?? 0) fields.")
        }
    }

    static let agenda = CommandSpec(
        path: ["meeting", "agenda"], arguments: ["ID"],
        summary: "a meeting's agenda in slot order (SPOCs: from 24 hours before, references only)", role: "Coordinator, SPOC agent",
        example: "marac meeting agenda 9b2e6f0c1d3a4b5c8e7f6a5b4c3d2e1f"
    ) { run in
        try run.show(try run.call("GET", "/v1/meetings/\(escaped(run.argument(0)))/agenda")) { agenda in
            let meeting = agenda["meeting"]
            run.output.line("\(meeting["title"].displayText), \(meeting["startsAt"].date.map { TimeText.local($0) } ?? "?")\n")
            let items = agenda["items"].array
            guard !items.isEmpty else { run.output.line("Nothing listed yet."); return }
            run.output.table(["slot", "reference", "kind", "agencies", "case"], items.map { item in
                [Output.Cell(item["slot"].isNull ? "" : item["slot"].displayText), Output.Cell(item["reference"].displayText),
                 Output.Cell(item["kind"].displayText), Output.Cell(item["agencies"].array.map(\.displayText).joined(separator: ", ")),
                 Output.Cell(item["case"].isNull ? "" : item["case"].displayText)]
            })
        }
    }

    static let invite = CommandSpec(
        path: ["meeting", "invite"], arguments: ["ID"],
        options: [.init(name: "--agencies", value: "LIST", help: "agencies to invite, comma-separated", required: true)],
        summary: "invite agencies (e.g. non-core ones) to a meeting; their SPOCs then see its agenda", role: CoordinatorCommands.role,
        example: "marac meeting invite 9b2e6f0c… --agencies education,victim-support"
    ) { run in
        let agencies = run.list("--agencies") ?? []
        guard !agencies.isEmpty else { throw UsageError("--agencies: name at least one agency", command: run.spec) }
        try run.show(try run.call("POST", "/v1/meetings/\(escaped(run.argument(0)))/invitations",
                                  body: .object(["agencies": .array(agencies.map(JSONValue.string))]))) { answer in
            run.output.line("Invited: \(answer["agencies"].array.map(\.displayText).joined(separator: ", "))")
        }
    }

    static func screeningTable(_ referral: JSONValue, output: Output) {
        output.table(["rule", "", "outcome"], referral["screening"].array.map { outcome in
            let passed = outcome["passed"].bool == true
            return [Output.Cell(outcome["rule"].displayText + (outcome["hard"].bool == true ? " (hard)" : "")),
                    Output.Cell(passed ? "passed" : "FAILED", highlight: !passed), Output.Cell(outcome["detail"].displayText)]
        })
    }
}

/// After the meeting (SPEC §11.5, §11.8): actions followed to completion, closure, statistics.
enum ActionCommands {
    static let all: [CommandSpec] = [add, list, watch, show, complete, cancel, close, erase, stats]

    static let add = CommandSpec(
        path: ["action", "add"], arguments: ["CASE"],
        options: [.init(name: "--agency", value: "ID", help: "the agency that owns the action", required: true),
                  .init(name: "--text", value: "TEXT", help: "the SMART action as agreed", required: true),
                  .init(name: "--due", value: "TIME", help: "when it is due", required: true),
                  .init(name: "--rapid", value: nil, help: "a rapid action, for swift safeguarding")],
        summary: "record an action agreed at the meeting for one agency", role: CoordinatorCommands.role,
        example: "marac action add 2c4e6a8b… --agency housing --text \"Fit a door alarm\" --due \"2027-02-04 17:00\" --rapid"
    ) { run in
        var body: [String: JSONValue] = ["ownerAgency": .string(try run.required("--agency")), "text": .string(try run.required("--text")),
                                         "dueAt": .string(RFC3339.format(try run.time("--due")!))]
        if run.flag("--rapid") { body["rapid"] = .bool(true) }
        try run.show(try run.call("POST", "/v1/cases/\(escaped(run.argument(0)))/actions", body: .object(body))) { action in
            run.output.line("Action \(action["id"].displayText) for \(action["ownerAgency"].displayText), due \(action["dueAt"].date.map(TimeText.utc) ?? "?")"
                            + (action["rapid"].bool == true ? " (rapid)" : ""))
        }
    }

    static let list = CommandSpec(
        path: ["action", "list"], summary: "your agency's actions, with state and time left", role: SPOCCommands.role,
        example: "marac action list"
    ) { run in
        try run.show(try run.call("GET", "/v1/actions")) { page in
            let actions = page["actions"].array
            guard !actions.isEmpty else { run.output.line("No actions."); return }
            run.output.table(["id", "reference", "state", "due (UTC)", "action"], actions.map { action in
                let state = action["state"].string ?? ""
                return [Output.Cell(action["id"].displayText), Output.Cell(action["reference"].displayText),
                        Output.Cell(state.uppercased() + (action["rapid"].bool == true ? ", RAPID" : ""), highlight: state == "overdue"),
                        Output.Cell(action["dueAt"].date.map(TimeText.utc) ?? ""), Output.Cell(action["text"].displayText)]
            })
        }
    }

    static let show = CommandSpec(
        path: ["action", "show"], arguments: ["ID"], summary: "one action", role: "Coordinator, SPOC agent",
        example: "marac action show 4f1c9a2e…"
    ) { run in
        try run.show(try run.call("GET", "/v1/actions/\(escaped(run.argument(0)))")) { action in
            run.output.pairs([("Action", action["id"].displayText), ("Case", action["reference"].displayText), ("Agency", action["ownerAgency"].displayText),
                              ("State", action["state"].displayText), ("Due", action["dueAt"].date.map(TimeText.utc) ?? ""), ("Text", action["text"].displayText)]
                             + (action["note"].isNull ? [] : [("Note", action["note"].displayText)]))
        }
    }

    static let complete = CommandSpec(
        path: ["action", "complete"], arguments: ["ID"],
        options: [.init(name: "--note", value: "TEXT", help: "what was done", required: true)],
        summary: "tell the coordinator your agency completed an action", role: SPOCCommands.role,
        example: "marac action complete 4f1c9a2e… --note \"Alarm fitted on Tuesday\""
    ) { run in
        try run.show(try run.call("POST", "/v1/actions/\(escaped(run.argument(0)))/complete", body: .object(["note": .string(try run.required("--note"))]))) { action in
            run.output.line("Action \(action["id"].displayText) completed.")
        }
    }

    static let cancel = CommandSpec(
        path: ["action", "cancel"], arguments: ["ID"],
        options: [.init(name: "--reason", value: "TEXT", help: "why (audited)", required: true)],
        summary: "cancel an open action", role: CoordinatorCommands.role,
        example: "marac action cancel 4f1c9a2e… --reason \"Superseded by the landlord's work\""
    ) { run in
        try run.show(try run.call("POST", "/v1/actions/\(escaped(run.argument(0)))/cancel", body: .object(["reason": .string(try run.required("--reason"))]))) { action in
            run.output.line("Action \(action["id"].displayText) cancelled.")
        }
    }

    static let close = CommandSpec(
        path: ["case", "close"], arguments: ["CASE"],
        options: [.init(name: "--reason", value: "TEXT", help: "why the panel closes it (audited)", required: true)],
        summary: "close a case (refused while any action is open)", role: CoordinatorCommands.role,
        example: "marac case close 2c4e6a8b… --reason \"Risk reduced; agencies agree\""
    ) { run in
        try run.show(try run.call("POST", "/v1/cases/\(escaped(run.argument(0)))/close", body: .object(["reason": .string(try run.required("--reason"))]))) { record in
            run.output.line("Case \(record["reference"].displayText) closed.")
        }
    }

    static let erase = CommandSpec(
        path: ["case", "erase"], arguments: ["CASE"],
        options: [.init(name: "--reason", value: "TEXT", help: "why now (audited, shown to administrators: no personal data)", required: true)],
        summary: "erase a closed case for good by destroying its content key", role: CoordinatorCommands.role,
        example: "marac case erase 2c4e6a8b… --reason \"Entered in error (DPO ticket 4411)\""
    ) { run in
        try run.show(try run.call("POST", "/v1/cases/\(escaped(run.argument(0)))/erase", body: .object(["reason": .string(try run.required("--reason"))]))) { record in
            run.output.line("Case \(record["reference"].displayText) erased at \(record["erasedAt"].displayText): its content can no longer be read by anyone.")
        }
    }

    static let watch = CommandSpec(
        path: ["action", "watch"],
        options: [.init(name: "--wait", value: "SECONDS", help: "long-poll wait (default \(Watcher.defaultWait))"),
                  .init(name: "--backoff-max", value: "SECONDS", help: "longest wait between retries while the broker is unreachable")],
        summary: "follow your agency's actions as they are agreed, completed or cancelled (long-poll; Ctrl-C stops)", role: SPOCCommands.role,
        example: "marac action watch"
    ) { run in
        var watcher = try ActionWatcher(run)
        try watcher.loop()
    }

    static let stats = CommandSpec(
        path: ["panel", "stats"], arguments: ["PANEL"],
        options: [.init(name: "--from", value: "DATE", help: "first day, YYYY-MM-DD (default a year ago)"),
                  .init(name: "--to", value: "DATE", help: "last day, YYYY-MM-DD (default today)")],
        summary: "counts for a panel's meetings in a period: referrals, cases heard, returns and actions on time", role: "Coordinator, auditor, admin",
        example: "marac panel stats community --from 2027-01-01 --to 2027-03-31"
    ) { run in
        var query: [String] = []
        if let from = run.option("--from") { query.append("from=\(escaped(from))") }
        if let to = run.option("--to") { query.append("to=\(escaped(to))") }
        try run.show(try run.call("GET", "/v1/panels/\(escaped(run.argument(0)))/statistics" + (query.isEmpty ? "" : "?" + query.joined(separator: "&")))) { stats in
            let r = stats["referrals"], h = stats["casesHeard"], ret = stats["returns"], a = stats["actions"]
            run.output.line("Panel \(stats["panel"].displayText), \(stats["from"].displayText) to \(stats["to"].displayText): \(stats["meetings"].displayText) meetings held\n")
            run.output.pairs([
                ("referrals", "\(r["submitted"].displayText) waiting, \(r["accepted"].displayText) accepted, \(r["declined"].displayText) declined, \(r["redirected"].displayText) redirected"),
                ("cases heard", "\(h["new"].displayText) new (\(h["repeats"].displayText) repeats), \(h["review"].displayText) review"),
                ("returns", "\(ret["onTime"].displayText) on time, \(ret["late"].displayText) late, \(ret["missing"].displayText) missing of \(ret["requested"].displayText)"),
                ("actions", "\(a["completedOnTime"].displayText) on time, \(a["completedLate"].displayText) late, \(a["open"].displayText) open, \(a["overdue"].displayText) overdue, \(a["cancelled"].displayText) cancelled of \(a["agreed"].displayText)"),
            ])
            for (agency, count) in (a["overdueByAgency"].object ?? [:]).sorted(by: { $0.key < $1.key }) {
                run.output.line("  overdue: \(agency) \(count.displayText)")
            }
        }
    }
}
