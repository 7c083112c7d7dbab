import Foundation
import MaracClient
import Wire

/// What an administrator runs: the agency and principal registry, credentials,
/// and the audit trail (administrators never see case content).
enum AdminCommands {
    static let all: [CommandSpec] = [
        addAgency, listAgencies, toggle("agency", "agencies", active: false), toggle("agency", "agencies", active: true),
        addPrincipal, listPrincipals, toggle("principal", "principals", active: false), toggle("principal", "principals", active: true),
        CertificateRequest.spec, listCertificates, approveCertificate, revokeCertificate, auditList,
    ]
    static let role = "Administrator"

    static let addAgency = CommandSpec(
        path: ["agency", "add"], arguments: ["ID"],
        options: [.init(name: "--name", value: "TEXT", help: "display name", required: true),
                  .init(name: "--kind", value: "KIND", help: "core (default) or non-core")],
        summary: "register an agency (ID: a lower-case slug such as victim-support)", role: role,
        example: "marac agency add womens-aid --name \"Northtown Women's Aid\" --kind non-core"
    ) { run in
        let body = JSONValue.object(["id": .string(run.argument(0)), "name": .string(try run.required("--name")),
                                "kind": .string(run.option("--kind") ?? "core")])
        try run.show(try run.call("POST", "/v1/agencies", body: body)) { agency in
            run.output.line("Agency \(agency["id"].displayText) (\(agency["name"].displayText), \(agency["kind"].displayText)) registered.")
        }
    }

    static let listAgencies = CommandSpec(
        path: ["agency", "list"], summary: "every agency, active or not", role: role, example: "marac agency list"
    ) { run in
        try run.show(try run.call("GET", "/v1/agencies")) { list in
            run.output.table(["id", "name", "kind", "active"], list["agencies"].array.map { agency in
                [Output.Cell(agency["id"].displayText), Output.Cell(agency["name"].displayText), Output.Cell(agency["kind"].displayText),
                 activeCell(agency["active"])]
            })
        }
    }

    static let addPrincipal = CommandSpec(
        path: ["principal", "add"], arguments: ["ID"],
        options: [.init(name: "--name", value: "TEXT", help: "the person's or agent's name", required: true),
                  .init(name: "--agency", value: "ID", help: "their agency", required: true),
                  .init(name: "--role", value: "ROLE", help: "spoc, coordinator, admin, auditor or monitor (metrics only)", required: true)],
        summary: "register a person or agent (then issue a certificate with marac cert request)", role: role,
        example: "marac principal add police-spoc --name \"DC Sarah Khan\" --agency police --role spoc"
    ) { run in
        let body = JSONValue.object(["id": .string(run.argument(0)), "name": .string(try run.required("--name")),
                                "agency": .string(try run.required("--agency")), "role": .string(try run.required("--role"))])
        try run.show(try run.call("POST", "/v1/principals", body: body)) { principal in
            let id = principal["id"].displayText
            run.output.line("Principal \(id) (\(principal["name"].displayText)) registered: \(principal["role"].displayText) for \(principal["agency"].displayText).")
            run.output.line("Next: marac cert request --principal \(id) --out DIR")
            if !["admin", "monitor"].contains(principal["role"].string ?? "") { run.output.line("Then a coordinator (not the holder) approves that certificate: marac cert approve SERIAL") }
        }
    }

    static let listPrincipals = CommandSpec(
        path: ["principal", "list"], summary: "every person and agent", role: role,
        example: "marac principal list"
    ) { run in
        try run.show(try run.call("GET", "/v1/principals")) { list in
            run.output.table(["id", "name", "agency", "role", "active"], list["principals"].array.map { principal in
                [Output.Cell(principal["id"].displayText), Output.Cell(principal["name"].displayText), Output.Cell(principal["agency"].displayText),
                 Output.Cell(principal["role"].displayText), activeCell(principal["active"])]
            })
        }
    }

    static let approveCertificate = CommandSpec(
        path: ["cert", "approve"], arguments: ["SERIAL"],
        summary: "approve one SPOC's, coordinator's or auditor's certificate (the second person after the administrator who issued it)",
        details: "Until a coordinator who does not hold it approves it, a certificate answers only whoami. A renewal by its holder keeps the approval; a new certificate needs a new one. The first coordinator's is approved by the server operator with `maracd credential approve SERIAL`. Find pending ones with `marac cert list --pending`.",
        role: CoordinatorCommands.role,
        example: "marac cert approve 5F3A9C0E1B2D4F6A8C0E2B4D6F8A0C2E"
    ) { run in
        try run.show(try run.call("POST", "/v1/credentials/\(escaped(run.argument(0).uppercased()))/approve")) { credential in
            run.output.line("Certificate \(credential["serial"].displayText) of \(credential["principal"].displayText) (\(credential["agency"].displayText)) approved by \(credential["approvedBy"].displayText); it now opens what its role may see.")
        }
    }

    /// `marac agency disable ID` and friends: `PATCH {"active": …}`.
    static func toggle(_ noun: String, _ plural: String, active: Bool) -> CommandSpec {
        let verb = active ? "enable" : "disable"
        let effect = noun == "agency"
            ? (active ? "let an agency's principals in again" : "shut out every principal of an agency at their next handshake")
            : (active ? "let a principal in again" : "shut a principal out at their next handshake (certificates stay registered)")
        return CommandSpec(
            path: [noun, verb], arguments: ["ID"], summary: effect, role: role,
            example: "marac \(noun) \(verb) \(noun == "agency" ? "drug-alcohol" : "police-spoc")"
        ) { run in
            try run.show(try run.call("PATCH", "/v1/\(plural)/\(escaped(run.argument(0)))", body: .object(["active": .bool(active)]))) { object in
                run.output.line("\(noun.capitalized) \(object["id"].displayText) \(verb)d.")
            }
        }
    }

    static let listCertificates = CommandSpec(
        path: ["cert", "list"],
        options: [.init(name: "--expiring", value: nil, help: "only active certificates close to expiry (time to rotate)"),
                  .init(name: "--principal", value: "ID", help: "only this principal's"),
                  .init(name: "--status", value: "STATUS", help: "active, expired or revoked"),
                  .init(name: "--pending", value: nil, help: "only certificates waiting for a coordinator's approval")],
        summary: "issued certificates with their status and approval", role: "Administrator or coordinator", example: "marac cert list --expiring"
    ) { run in
        var query: [String] = []
        if run.flag("--pending") { query.append("approval=pending") }
        if run.flag("--expiring") { query.append("expiring=true") }
        if let principal = run.option("--principal") { query.append("principal=\(escaped(principal))") }
        if let status = run.option("--status") { query.append("status=\(escaped(status))") }
        let path = "/v1/credentials" + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
        try run.show(try run.call("GET", path)) { list in
            let credentials = list["credentials"].array
            guard !credentials.isEmpty else { run.output.line("No certificates."); return }
            run.output.table(["serial", "principal", "agency", "status", "approval", "issued (UTC)", "expires (UTC)", "time left"], credentials.map { credential in
                let status = credential["status"].string ?? ""
                let notAfter = credential["notAfter"].date
                let left: Output.Cell = status == "revoked"
                    ? Output.Cell("revoked \(credential["revokedAt"].date.map(TimeText.utc) ?? ""): \(credential["reason"].string ?? "")")
                    : Output.Cell(notAfter.map { TimeText.countdown(to: $0) } ?? "", highlight: credential["expiresSoon"].bool == true || status == "expired")
                return [Output.Cell(credential["serial"].displayText), Output.Cell(credential["principal"].displayText),
                        Output.Cell(credential["agency"].displayText), Output.Cell(status, highlight: status != "active"),
                        Output.Cell(credential["approval"].string == "approved" ? "by \(credential["approvedBy"].displayText)" : credential["approval"].displayText,
                                    highlight: credential["approval"].string == "pending"),
                        Output.Cell(credential["issuedAt"].date.map(TimeText.utc) ?? ""), Output.Cell(notAfter.map(TimeText.utc) ?? ""), left]
            })
        }
    }

    static let revokeCertificate = CommandSpec(
        path: ["cert", "revoke"], arguments: ["SERIAL"],
        options: [.init(name: "--reason", value: "TEXT", help: "why (audited, shown in cert list)", required: true)],
        summary: "revoke a certificate now: new handshakes fail, open connections are closed", role: role,
        example: "marac cert revoke 5F3A9C0E1B2D4F6A8C0E2B4D6F8A0C2E --reason \"laptop lost\""
    ) { run in
        let body = JSONValue.object(["reason": .string(try run.required("--reason"))])
        try run.show(try run.call("POST", "/v1/credentials/\(escaped(run.argument(0).uppercased()))/revoke", body: body)) { credential in
            run.output.line("Certificate \(credential["serial"].displayText) of \(credential["principal"].displayText) (\(credential["agency"].displayText)) revoked at \(credential["revokedAt"].date.map(TimeText.utc) ?? "now"): \(credential["reason"].displayText)")
        }
    }

    static let auditList = CommandSpec(
        path: ["audit", "list"],
        options: [.init(name: "--case", value: "ID", help: "only records about this case and its requests"),
                  .init(name: "--principal", value: "ID", help: "only what this principal did"),
                  .init(name: "--after", value: "SEQ", help: "only records after this sequence number"),
                  .init(name: "--limit", value: "N", help: "at most N records (default: all)")],
        summary: "the audit trail: who did what to which object, which field names were released", role: "Administrator or auditor",
        example: "marac audit list --case 2c4e6a8b0d1f3a5c7e9b1d3f5a7c9e1b"
    ) { run in
        let limitText = run.option("--limit")
        let limit = try limitText.map { text -> Int in
            guard let value = Int(text), value > 0 else { throw UsageError("--limit: must be a positive whole number, got \(text)", command: run.spec) }
            return value
        }
        guard var after = Int(run.option("--after") ?? "0"), after >= 0 else {
            throw UsageError("--after: must be a sequence number (0 or more)", command: run.spec)
        }
        var filters = ""
        if let theCase = run.option("--case") { filters += "&case=\(escaped(theCase))" }
        if let principal = run.option("--principal") { filters += "&principal=\(escaped(principal))" }
        var records: [JSONValue] = []
        while limit.map({ records.count < $0 }) ?? true {
            let pageSize = min(CLILimits.auditPageSize, limit.map { $0 - records.count } ?? CLILimits.auditPageSize)
            let page = try run.call("GET", "/v1/audit?after=\(after)&limit=\(pageSize)\(filters)").json
            records += page["records"].array
            guard let next = page["next"].int, next > after else { break }
            after = next
        }
        if run.json { run.output.line(JSONValue.object(["records": .array(records)]).description); return }
        guard !records.isEmpty else { run.output.line("No audit records."); return }
        run.output.table(["seq", "at (UTC)", "principal", "agency", "action", "object", "fields", "reason"], records.map { record in
            [Output.Cell(record["seq"].displayText), Output.Cell(record["at"].date.map(TimeText.utc) ?? ""), Output.Cell(record["principal"].displayText),
             Output.Cell(record["agency"].displayText), Output.Cell(record["action"].displayText), Output.Cell(record["object"].displayText),
             Output.Cell(fieldsText(record)), Output.Cell(record["reason"].string ?? "")]
        })
    }

    /// The field names a record released: per agency for research (`police: a,b; housing: a`), else the list.
    static func fieldsText(_ record: JSONValue) -> String {
        let names = { (list: JSONValue) in list.array.map(\.displayText).joined(separator: ",") }
        guard let perAgency = record["releasedTo"].object else { return names(record["fields"]) }
        return perAgency.keys.sorted().map { "\($0): \(names(perAgency[$0]!))" }.joined(separator: "; ")
    }

    static func activeCell(_ active: JSONValue) -> Output.Cell {
        active.bool == false ? Output.Cell("DISABLED", highlight: true) : "yes"
    }
}
