@testable import BrokerAPI
import Foundation
import MaracClient
import Testing
import TestSupport

/// The web pages without a browser: the escaping writer, role separation through the domain,
/// the status board's overdue marks and the form guard (the browser walk is `BrowserPageTests`).
@Suite(.serialized) struct PageTests {
    @Test func theWriterEscapesMarkupQuotesAndShowsControlsVisibly() {
        #expect(HTMLWriter.escape(#"<script>alert("x")</script> O'Brien & co"#)
                == "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; O&#39;Brien &amp; co")
        #expect(HTMLWriter.escape("left \u{202E}right\u{2066} bell\u{07} c1\u{85} nul\u{0}") == #"left \u{202E}right\u{2066} bell\u{7} c1\u{85} nul\u{0}"#)
        #expect(HTMLWriter.escape("two\nlines\tand a tab") == "two\nlines\tand a tab")
        var out = HTMLWriter()
        out.void("input", ["value": #"" autofocus onfocus="x"#, "name": "q"])
        #expect(out.html == #"<input value="&quot; autofocus onfocus=&quot;x" name="q">"#)
    }

    @Test func eachRoleReachesOnlyItsOwnPagesThroughTheDomain() async throws {
        try await withTestBroker { broker in
            let cast = try await Cast.make(broker, agencies: ["police"])
            let spoc = cast.spocs["police"]!.client
            for (client, path, status) in [(spoc, "/ui/meetings", 200), (spoc, "/ui/credentials", 403), (cast.admin, "/ui/inbox", 403),
                                           (cast.admin, "/ui/meetings", 403), (cast.admin, "/ui/requests/none", 403), (spoc, "/ui/requests/none", 404),
                                           (cast.coordinator.client, "/ui/inbox", 403), (spoc, "/ui/inbox", 200)] {
                let page = try await client.send("GET", path)
                #expect(page.status == status, "\(path): \(page.status) \(page.text)")
                #expect(page.headers.first { $0.0.lowercased() == "content-type" }?.1 == "text/html; charset=utf-8", "\(path)")
                #expect(page.headers.contains { $0.0.lowercased() == "content-security-policy" && $0.1.contains("default-src 'none'") }, "\(path)")
            }
            // As GET /v1/meetings: a SPOC sees only meetings its agency is invited to (none yet).
            #expect(try await spoc.send("GET", "/ui/meetings").text.contains("No meetings yet."))
            let refused = try await spoc.send("GET", "/ui/credentials")
            #expect(refused.text.contains("403 — forbidden") && refused.text.contains("role=\"alert\""), "\(refused.text)")
        }
    }

    @Test func theStatusBoardMarksOverdueRequestsInRed() async throws {
        try await withTestBroker { broker in
            let cast = try await Cast.make(broker, agencies: ["police", "housing"])
            let meetingID = try #require(try await cast.meeting(at: ResearchFlowAPITests.meetingStart)["id"].string)
            let caseID = try #require(try await cast.case(meeting: meetingID, fields: ["victim.name": "Jane Doe"])["id"].string)
            let requests = try await cast.coordinator.client.json("POST", "/v1/cases/\(caseID)/research", ["agencies": ["police", "housing"], "questions": ["Known?"]])
            let policeRequest = try #require(requests.json["requests"][0]["id"].string)
            #expect(try await cast.spocs["police"]!.client.json("PUT", "/v1/requests/\(policeRequest)/return",
                                                                ["knownToAgency": false, "summary": "No trace", "answers": ["No"]]).status == 200)
            let before = try await cast.coordinator.client.send("GET", "/ui/meetings/\(meetingID)")
            #expect(before.status == 200 && !before.text.contains("class=\"overdue\""), "\(before.text)")
            broker.clock.set(ResearchFlowAPITests.returnDeadline.addingTimeInterval(60))
            let after = try await cast.coordinator.client.send("GET", "/ui/meetings/\(meetingID)")
            let overdueRows = after.text.components(separatedBy: "<tr class=\"overdue\">").dropFirst()
            #expect(overdueRows.count == 1 && overdueRows.first?.contains("housing") == true, "\(after.text)")
            #expect(after.text.contains("<td>returned</td>"), "the returned police request is not overdue")
        }
    }

    @Test func formPostsNeedThisOriginAndTheCredentialsOwnToken() async throws {
        try await withTestBroker { broker in
            let cast = try await Cast.make(broker, agencies: ["police"])
            let other = try await broker.enrol("police-deputy", agency: "police", role: "spoc", admin: cast.admin)
            let meetingID = try #require(try await cast.meeting(at: ResearchFlowAPITests.meetingStart)["id"].string)
            let caseID = try #require(try await cast.case(meeting: meetingID, fields: ["victim.name": "Jane Doe"])["id"].string)
            let requestID = try #require(try await cast.coordinator.client.json("POST", "/v1/cases/\(caseID)/research",
                                                                                ["agencies": ["police"], "questions": ["Known?"]]).json["requests"][0]["id"].string)
            let spoc = cast.spocs["police"]!.client
            let page = try await spoc.send("GET", "/ui/requests/\(requestID)")
            let token = try #require(page.text.components(separatedBy: #"name="csrf" value=""#).dropFirst().first?.prefix(64).description)
            let deputyToken = try #require(try await other.client.send("GET", "/ui/requests/\(requestID)").text
                .components(separatedBy: #"name="csrf" value=""#).dropFirst().first?.prefix(64).description)
            #expect(token != deputyToken, "tokens are per credential")
            // The origin is https://<Host>; MaracClient's Host header is address:port.
            let host = "127.0.0.1:\(broker.port)"
            func post(_ token: String, _ headers: [(String, String)]) async throws -> ClientResponse {
                try await spoc.send("POST", "/ui/requests/\(requestID)/return",
                                    body: Array("csrf=\(token)&knownToAgency=false&summary=No+trace&answer0=No".utf8),
                                    headers: [("Content-Type", "application/x-www-form-urlencoded")] + headers)
            }
            for (name, attempt) in [("no origin at all", try await post(token, [])),
                                    ("another origin", try await post(token, [("Origin", "https://evil.example")])),
                                    ("a cross-site fetch", try await post(token, [("Origin", "null"), ("Sec-Fetch-Site", "cross-site")])),
                                    ("another credential's token", try await post(deputyToken, [("Origin", "https://\(host)")])),
                                    ("no token", try await post("", [("Origin", "https://\(host)")]))] {
                #expect(attempt.status == 403 && attempt.text.contains("cross-site request refused"), "\(name): \(attempt.status) \(attempt.text)")
            }
            #expect(try await spoc.json("GET", "/v1/requests/\(requestID)/return").status == 404, "nothing was stored")
            let accepted = try await post(token, [("Origin", "https://\(host)")])
            #expect(accepted.status == 303 && accepted.headers.contains { $0.0 == "Location" && $0.1 == "/ui/requests/\(requestID)#history" }, "\(accepted.status) \(accepted.text)")
            let sameOrigin = try await post(token, [("Origin", "null"), ("Sec-Fetch-Site", "same-origin")])
            #expect(sameOrigin.status == 303, "Chromium's Origin: null under no-referrer, with Sec-Fetch-Site: same-origin")
            #expect(try await spoc.json("GET", "/v1/requests/\(requestID)/return").json["versions"].array.count == 2)
            #expect(try await spoc.send("GET", "/ui/requests/\(requestID)/return").status == 405, "changes only by POST")
        }
    }

    @Test func theCoordinatorScreensAndDecidesReferralsSPOCsOnlyReadTheirOwn() async throws {
        try await withTestBroker { broker in
            let cast = try await Cast.make(broker, agencies: ["housing", "police"])
            let auditor = try await broker.enrol("audrey", agency: "community-safety", role: "auditor", admin: cast.admin)
            let housing = cast.spocs["housing"]!.client, coordinator = cast.coordinator.client
            let hostile = #"<script>alert("x")</script> O'Brien"#
            let escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; O&#39;Brien"
            let meetingID = try #require(try await coordinator.json("POST", "/v1/meetings", ["title": "CR MARAC \(hostile)", "startsAt": rfc3339(FixtureDates.meetingStart()),
                                                                                          "panel": "community"]).json["id"].string)
            // One with a soft rule failed (a single recent incident), both with hostile text.
            let first = try await housing.json("POST", "/v1/referrals", ReferralAPITests.community(["reason": "Reason \(hostile)"],
                                                                                                 fields: ["incidents": [["date": ReferralAPITests.day(-10)]],
                                                                                                          "issue.description": "Field \(hostile)"]))
            let firstID = try #require(first.json["id"].string, "\(first.text)")
            let secondID = try #require(try await housing.json("POST", "/v1/referrals", ReferralAPITests.community()).json["id"].string)

            // The list: the coordinator sees both, the soft rule failed named; hostile text never as markup.
            let list = try await coordinator.send("GET", "/ui/referrals")
            #expect(list.status == 200 && list.text.contains("To screen (2)") && list.text.contains("<td class=\"overdue\">countWithin</td>")
                    && list.text.contains("href=\"/ui/referrals/\(firstID)\""), "\(list.text)")
            #expect(!list.text.contains("Vera") && !list.text.contains("<script>"), "no field in the list, as GET /v1/referrals")
            // Roles as the API: the referring SPOC its own, another agency none, administrators and auditors 403.
            #expect(try await housing.send("GET", "/ui/referrals").text.contains("href=\"/ui/referrals/\(secondID)\""))
            #expect(try await cast.spocs["police"]!.client.send("GET", "/ui/referrals").text.contains("Awaiting a decision (0)"))
            #expect(try await cast.spocs["police"]!.client.send("GET", "/ui/referrals/\(firstID)").status == 404)
            for (client, path) in [(cast.admin, "/ui/referrals"), (auditor.client, "/ui/referrals"), (cast.admin, "/ui/referrals/\(firstID)"),
                                   (auditor.client, "/ui/referrals/\(firstID)")] {
                #expect(try await client.send("GET", path).status == 403, "\(path)")
            }

            // The referral page: screening, fields and consent, hostile text escaped, and the decision forms for the coordinator only.
            let page = try await coordinator.send("GET", "/ui/referrals/\(firstID)")
            #expect(page.status == 200 && page.text.contains("Reason \(escaped)") && page.text.contains("Field \(escaped)")
                    && page.text.contains("<td>countWithin</td><td>soft</td><td>failed</td>") && page.text.contains("<dd>obtained</dd>")
                    && page.text.contains("No repeat found.") && !page.text.contains("<script>"), "\(page.text)")
            #expect(page.text.contains("action=\"/ui/referrals/\(firstID)/decision\"") && page.text.contains("CR MARAC \(escaped)"))
            let own = try await housing.send("GET", "/ui/referrals/\(firstID)")
            #expect(own.status == 200 && own.text.contains("Field \(escaped)") && !own.text.contains("/decision") && !own.text.contains("repeat found"),
                    "read-only, no repeat shown to the referrer: \(own.text)")

            let token = try #require(page.text.components(separatedBy: #"name="csrf" value=""#).dropFirst().first?.prefix(64).description)
            let origin = ("Origin", "https://127.0.0.1:\(broker.port)"), form = ("Content-Type", "application/x-www-form-urlencoded")
            func decide(_ id: String, _ body: String, _ headers: [(String, String)]? = nil, as client: BrokerClient? = nil) async throws -> ClientResponse {
                try await (client ?? coordinator).send("POST", "/ui/referrals/\(id)/decision", body: Array(body.utf8), headers: [form] + (headers ?? [origin]))
            }
            // Cross-site: no origin, another origin, another credential's token; nothing decided.
            // The housing SPOC's own token, from a request page (its referral pages have no form).
            let daMeeting = try #require(try await cast.meeting(at: FixtureDates.meetingStart())["id"].string)
            let caseID = try #require(try await cast.case(meeting: daMeeting, fields: ["victim.name": "Jane Doe"])["id"].string)
            let requestID = try #require(try await coordinator.json("POST", "/v1/cases/\(caseID)/research",
                                                                    ["agencies": ["housing"], "questions": ["Known?"]]).json["requests"][0]["id"].string)
            let housingToken = try #require(try await housing.send("GET", "/ui/requests/\(requestID)").text
                .components(separatedBy: #"name="csrf" value=""#).dropFirst().first?.prefix(64).description)
            for (name, attempt) in [("no origin", try await decide(firstID, "csrf=\(token)&decision=declined&reason=r&advice=a", [])),
                                    ("another origin", try await decide(firstID, "csrf=\(token)&decision=declined&reason=r&advice=a", [("Origin", "https://evil.example")])),
                                    ("another credential's token", try await decide(firstID, "csrf=\(housingToken)&decision=declined&reason=r&advice=a"))] {
                #expect(attempt.status == 403 && attempt.text.contains("cross-site request refused"), "\(name): \(attempt.text)")
            }
            // A SPOC with its own valid token: the domain's 403.
            let spocPost = try await decide(firstID, "csrf=\(housingToken)&decision=declined&reason=r&advice=a", as: housing)
            #expect(spocPost.status == 403 && !spocPost.text.contains("cross-site"), "\(spocPost.text)")
            #expect(try await coordinator.json("GET", "/v1/referrals/\(firstID)").json["state"].string == "submitted")

            // Refusals keep what was typed and name the field: a decline without advice, an acceptance with a bad slot, a redirection the other panel's rules refuse.
            let noAdvice = try await decide(firstID, "csrf=\(token)&decision=declined&reason=Typed+%3Cb%3Ereason")
            #expect(noAdvice.status == 422 && noAdvice.text.contains("Not decided — validation_failed") && noAdvice.text.contains("advice:")
                    && noAdvice.text.contains(#"name="reason" rows="2">Typed &lt;b&gt;reason</textarea>"#), "\(noAdvice.text)")
            let badSlot = try await decide(firstID, "csrf=\(token)&decision=accepted&meeting=\(meetingID)&slot=9.30&reference=CR-TYPED")
            #expect(badSlot.status == 422 && badSlot.text.contains("slot: must be a time HH:MM") && badSlot.text.contains(#"value="CR-TYPED""#)
                    && badSlot.text.contains(#"value="9.30""#) && badSlot.text.contains(#"<option value="\#(meetingID)" selected>"#), "\(badSlot.text)")
            let redirect = try await decide(firstID, "csrf=\(token)&decision=redirected&panel=domestic-abuse&reason=Partner")
            #expect(redirect.status == 422 && redirect.text.contains("screening_failed") && redirect.text.contains(">Partner</textarea>"), "\(redirect.text)")
            let unknown = try await decide(firstID, "csrf=\(token)&decision=maybe")
            #expect(unknown.status == 422 && unknown.text.contains("decision: must be"), "\(unknown.text)")

            // Declined with advice: the referrer reads the advice; accepted: a case at the meeting.
            let declined = try await decide(firstID, "csrf=\(token)&decision=declined&reason=Resolvable+locally&advice=Hold+a+multi-professionals+meeting")
            #expect(declined.status == 303 && declined.headers.contains { $0.0 == "Location" && $0.1 == "/ui/referrals/\(firstID)#decision" }, "\(declined.text)")
            #expect(try await housing.send("GET", "/ui/referrals/\(firstID)").text.contains("<dd>Hold a multi-professionals meeting</dd>"))
            let accepted = try await decide(secondID, "csrf=\(token)&decision=accepted&meeting=\(meetingID)&slot=10%3A30&reference=CR-2027-007")
            #expect(accepted.status == 303, "\(accepted.text)")
            let stored = try await coordinator.json("GET", "/v1/referrals/\(secondID)")
            #expect(stored.json["state"].string == "accepted" && stored.json["decision"]["slot"].string == "10:30" && stored.json["case"].exists, "\(stored.text)")
            let after = try await coordinator.send("GET", "/ui/referrals")
            #expect(after.text.contains("To screen (0)") && after.text.contains("Decided (2)"), "\(after.text)")
            let decided = try await coordinator.send("GET", "/ui/referrals/\(secondID)")
            #expect(decided.text.contains("<dd>10:30</dd>") && !decided.text.contains("/decision\""), "no form once decided: \(decided.text)")
        }
    }

    @Test func theAgendaShowsEachRoleWhatTheAPIDoes() async throws {
        try await withTestBroker { broker in
            let cast = try await Cast.make(broker, agencies: ["housing", "police", "probation"])
            let coordinator = cast.coordinator.client, police = cast.spocs["police"]!.client
            let hostile = #"<script>alert("x")</script> O'Brien"#
            let escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; O&#39;Brien"
            let start = FixtureDates.meetingStart()
            let meetingID = try #require(try await coordinator.json("POST", "/v1/meetings", ["title": "CR MARAC \(hostile)", "startsAt": rfc3339(start),
                                                                                          "panel": "community"]).json["id"].string)
            let referralID = try #require(try await cast.spocs["housing"]!.client.json("POST", "/v1/referrals", ReferralAPITests.community()).json["id"].string)
            let accepted = try await coordinator.json("POST", "/v1/referrals/\(referralID)/decision",
                                                      ["decision": "accepted", "meeting": meetingID, "slot": "10:30", "reference": "CR-7 \(hostile)"])
            let caseID = try #require(accepted.json["case"]["id"].string, "\(accepted.text)")
            #expect(try await coordinator.json("POST", "/v1/cases/\(caseID)/research", ["agencies": ["police"], "questions": ["Known?"]]).status == 201)

            // The coordinator: linked from the meetings page and the referral's decision; case ids, links and the agencies asked.
            #expect(try await coordinator.send("GET", "/ui/meetings").text.contains("href=\"/ui/meetings/\(meetingID)/agenda\""))
            #expect(try await coordinator.send("GET", "/ui/referrals/\(referralID)").text.contains("href=\"/ui/meetings/\(meetingID)/agenda\""))
            let full = try await coordinator.send("GET", "/ui/meetings/\(meetingID)/agenda")
            #expect(full.status == 200 && full.text.contains("Agenda: CR MARAC \(escaped)") && full.text.contains("<td>10:30</td>")
                    && full.text.contains("<a href=\"/ui/cases/\(caseID)/pack\">CR-7 \(escaped)</a>") && full.text.contains("<td>new</td>")
                    && full.text.contains("<td>police</td>") && full.text.contains(caseID) && !full.text.contains("<script>"), "\(full.text)")

            // An invited SPOC: nothing before agendaAt (the API's 404, no link), then references, slots and kinds only.
            let early = try await police.send("GET", "/ui/meetings")
            #expect(early.text.contains("agenda from") && !early.text.contains("/agenda\"") && !early.text.contains("href=\"/ui/meetings/\(meetingID)\""), "\(early.text)")
            #expect(try await police.send("GET", "/ui/meetings/\(meetingID)/agenda").status == 404)
            broker.clock.set(start.addingTimeInterval(-86_400 + 1))
            #expect(try await police.send("GET", "/ui/meetings").text.contains("href=\"/ui/meetings/\(meetingID)/agenda\""))
            let seen = try await police.send("GET", "/ui/meetings/\(meetingID)/agenda")
            #expect(seen.status == 200 && seen.text.contains("<td>CR-7 \(escaped)</td>") && seen.text.contains("<td>10:30</td>") && seen.text.contains("<td>new</td>"),
                    "\(seen.text)")
            #expect(!seen.text.contains(caseID) && !seen.text.contains("/pack") && !seen.text.contains("Research asked of") && !seen.text.contains("Vera"),
                    "no case id, link, agencies or field: \(seen.text)")
            // Uninvited: 404; administrators: 403, as the API.
            #expect(try await cast.spocs["probation"]!.client.send("GET", "/ui/meetings/\(meetingID)/agenda").status == 404)
            #expect(try await cast.admin.send("GET", "/ui/meetings/\(meetingID)/agenda").status == 403)
        }
    }

    @Test func theCoordinatorCreatesACaseFromTheMeetingPage() async throws {
        try await withTestBroker { broker in
            let cast = try await Cast.make(broker, agencies: ["police"])
            let coordinator = cast.coordinator.client
            let meetingID = try #require(try await cast.meeting(at: ResearchFlowAPITests.meetingStart)["id"].string)
            let page = try await coordinator.send("GET", "/ui/meetings/\(meetingID)")
            #expect(page.status == 200 && page.text.contains("action=\"/ui/meetings/\(meetingID)/cases\""), "\(page.text)")
            let token = try #require(page.text.components(separatedBy: #"name="csrf" value=""#).dropFirst().first?.prefix(64).description)
            let headers = [("Content-Type", "application/x-www-form-urlencoded"), ("Origin", "https://127.0.0.1:\(broker.port)")]
            func create(_ body: String, _ extra: [(String, String)]? = nil, as client: BrokerClient? = nil) async throws -> ClientResponse {
                try await (client ?? coordinator).send("POST", "/ui/meetings/\(meetingID)/cases", body: Array(body.utf8), headers: extra ?? headers)
            }
            let hostile = "MARAC-2027-0044+%3Cscript%3Ealert(%22x%22)%3C%2Fscript%3E+O%27Brien"
            // The form guard: another origin, no token; an administrator with its own token is the domain's 403.
            #expect(try await create("csrf=\(token)&reference=R1", [headers[0], ("Origin", "https://evil.example")]).text.contains("cross-site request refused"))
            #expect(try await create("reference=R1").status == 403)
            let adminToken = try #require(try await cast.admin.send("GET", "/ui/credentials").text
                .components(separatedBy: #"name="csrf" value=""#).dropFirst().first?.prefix(64).description)
            let admin = try await create("csrf=\(adminToken)&reference=R1", as: cast.admin)
            #expect(admin.status == 403 && !admin.text.contains("cross-site"), "\(admin.text)")
            // Refusals name the field and keep what was typed: an unclassified path, a value without a path, no lawful basis.
            let unknown = try await create("csrf=\(token)&reference=\(hostile)&consent=obtained&path0=victim.name&value0=Cara+%22C%22&path1=victim.shoeSize&value1=9")
            #expect(unknown.status == 422 && unknown.text.contains("Not created — unknown_field") && unknown.text.contains("victim.shoeSize")
                    && unknown.text.contains(#"value="MARAC-2027-0044 &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; O&#39;Brien""#)
                    && unknown.text.contains(#"value="Cara &quot;C&quot;""#) && unknown.text.contains(#"value="obtained" checked"#), "\(unknown.text)")
            #expect(!unknown.text.contains("Not dispatched"), "the error is the creation form's")
            let noPath = try await create("csrf=\(token)&reference=R2&value2=orphan")
            #expect(noPath.status == 422 && noPath.text.contains("row 3 has a value but no path") && noPath.text.contains(#"value="orphan""#), "\(noPath.text)")
            let noBasis = try await create("csrf=\(token)&reference=R3&consent=not-obtained&path0=victim.name&value0=Cara")
            #expect(noBasis.status == 422 && noBasis.text.contains("lawfulBasis"), "\(noBasis.text)")
            #expect(try await coordinator.json("GET", "/v1/cases?meeting=\(meetingID)").json["cases"].array.isEmpty, "nothing stored")
            // Created: the API's case, and the meeting page lists it, escaped, for dispatch.
            let created = try await create("csrf=\(token)&reference=\(hostile)&consent=obtained&path0=victim.name&value0=Cara")
            #expect(created.status == 303 && created.headers.contains { $0.0 == "Location" && $0.1 == "/ui/meetings/\(meetingID)#dispatch" }, "\(created.text)")
            let listed = try await coordinator.json("GET", "/v1/cases?meeting=\(meetingID)").json["cases"].array
            let caseID = try #require(listed.first?["id"].string)
            let stored = try await coordinator.json("GET", "/v1/cases/\(caseID)")
            #expect(stored.json["reference"].string == #"MARAC-2027-0044 <script>alert("x")</script> O'Brien"# && stored.json["fields"]["victim.name"].string == "Cara"
                    && stored.json["consent"]["status"].string == "obtained", "\(stored.text)")
            let after = try await coordinator.send("GET", "/ui/meetings/\(meetingID)")
            #expect(after.text.contains(#"<a href="/ui/cases/\#(caseID)/dispatch">Dispatch research for MARAC-2027-0044 &lt;script&gt;"#)
                    && !after.text.contains("<script>"), "\(after.text)")
        }
    }

    @Test func aSPOCCompletesItsActionAndTheAuditLogPagesLikeTheAPI() async throws {
        try await withTestBroker { broker in
            let cast = try await Cast.make(broker, agencies: ["police", "housing"])
            let start = FixtureDates.meetingStart()
            let meetingID = try #require(try await cast.meeting(at: start)["id"].string)
            let caseID = try #require(try await cast.case(meeting: meetingID, fields: ["victim.name": "Jane Doe"])["id"].string)
            // Enrolled before the clock moves: certificates are issued at the broker's time.
            let auditor = try await broker.enrol("audrey", agency: "community-safety", role: "auditor", admin: cast.admin)
            broker.clock.set(start.addingTimeInterval(3_600))
            let text = #"Serve the order <script>alert(1)</script> "today""#
            let action = try await cast.coordinator.client.json("POST", "/v1/cases/\(caseID)/actions",
                                                                ["ownerAgency": "police", "text": text, "dueAt": rfc3339(start.addingTimeInterval(86_400)), "rapid": true])
            let actionID = try #require(action.json["id"].string, "\(action.text)")
            let police = cast.spocs["police"]!.client
            let page = try await police.send("GET", "/ui/actions")
            #expect(page.status == 200 && page.text.contains("Serve the order &lt;script&gt;alert(1)&lt;/script&gt; &quot;today&quot;") && page.text.contains("rapid"), "\(page.text)")
            #expect(!page.text.contains("<script>"))
            #expect(try await cast.spocs["housing"]!.client.send("GET", "/ui/actions").text.contains("No actions for your agency."), "another agency's action is not shown")
            let token = try #require(page.text.components(separatedBy: #"name="csrf" value=""#).dropFirst().first?.prefix(64).description)
            let form = { (note: String) in Array("csrf=\(token)&note=\(note)".utf8) }
            let headers = [("Content-Type", "application/x-www-form-urlencoded"), ("Origin", "https://127.0.0.1:\(broker.port)")]
            let refused = try await police.send("POST", "/ui/actions/\(actionID)/complete", body: form(""), headers: headers)
            #expect(refused.status == 422 && refused.text.contains("Not completed") && refused.text.contains("note"), "\(refused.text)")
            let done = try await police.send("POST", "/ui/actions/\(actionID)/complete", body: form("Served+at+09%3A30"), headers: headers)
            #expect(done.status == 303, "\(done.text)")
            #expect(try await police.json("GET", "/v1/actions/\(actionID)").json["state"].string == "completed")
            #expect(try await police.send("GET", "/ui/actions").text.contains("completed: Served at 09:30"))

            // The coordinator's research pack is the API's text.
            let pack = try await cast.coordinator.client.send("GET", "/ui/cases/\(caseID)/pack")
            #expect(pack.status == 200 && pack.text.contains("<pre class=\"pack\">"), "\(pack.text)")
            #expect(try await police.send("GET", "/ui/cases/\(caseID)/pack").status == 403)

            // The audit log: administrators and auditors, paged, with the chain checked on the page.
            for _ in 0..<PageRoutes.auditPageSize { _ = try await cast.coordinator.client.json("GET", "/v1/cases/\(caseID)") }  // audited reads: more than a page
            let first = try await auditor.client.send("GET", "/ui/audit")
            #expect(first.status == 200 && first.text.contains("Chain intact on this page (50 records"), "\(first.text.prefix(3_000))")
            let next = try #require(first.text.components(separatedBy: #"href="/ui/audit?after="#).dropFirst().first?.prefix { $0.isNumber })
            let second = try await auditor.client.send("GET", "/ui/audit?after=\(next)")
            #expect(second.status == 200 && second.text.contains("<td>\(UInt64(next)! + 1)</td>"), "\(second.text.prefix(2_000))")
            #expect(try await cast.admin.send("GET", "/ui/audit").status == 200)
            #expect(try await police.send("GET", "/ui/audit").status == 403)
            #expect(try await auditor.client.send("GET", "/ui/audit?after=x").status == 400)
        }
    }

    @Test func administratorsDisableAndEnableAgenciesAndPrincipalsCoordinatorsOnlyLook() async throws {
        try await withTestBroker { broker in
            let cast = try await Cast.make(broker, agencies: ["police"])
            let list = try await cast.admin.send("GET", "/ui/principals")
            #expect(list.status == 200 && list.text.contains("Disable police-spoc"), "\(list.text.prefix(2_000))")
            let token = try #require(list.text.components(separatedBy: #"name="csrf" value=""#).dropFirst().first?.prefix(64).description)
            let headers = [("Content-Type", "application/x-www-form-urlencoded"), ("Origin", "https://127.0.0.1:\(broker.port)")]
            let disabled = try await cast.admin.send("POST", "/ui/principals/police-spoc/active", body: Array("csrf=\(token)&active=false".utf8), headers: headers)
            #expect(disabled.status == 303, "\(disabled.text)")
            #expect(try await cast.admin.json("GET", "/v1/principals").json["principals"].array.first { $0["id"].string == "police-spoc" }?["active"].bool == false)
            #expect(try await cast.admin.send("GET", "/ui/principals").text.contains("Enable police-spoc"))
            #expect(try await cast.admin.send("POST", "/ui/principals/police-spoc/active", body: Array("csrf=\(token)&active=true".utf8), headers: headers).status == 303)
            let selfDisable = try await cast.admin.send("POST", "/ui/principals/admin/active", body: Array("csrf=\(token)&active=false".utf8), headers: headers)
            #expect(selfDisable.status == 409 && selfDisable.text.contains("Not changed"), "the domain's own refusal: \(selfDisable.text.prefix(1_000))")
            let agencies = try await cast.admin.send("POST", "/ui/agencies/probation/active", body: Array("csrf=\(token)&active=false".utf8), headers: headers)
            #expect(agencies.status == 303, "\(agencies.text)")
            #expect(try await cast.admin.send("GET", "/ui/agencies").text.contains("Enable probation"))
            // Coordinators may look (as GET /v1/principals), never change: no buttons, and a forged post is the domain's 403.
            let coordinator = cast.coordinator.client
            let seen = try await coordinator.send("GET", "/ui/principals")
            #expect(seen.status == 200 && !seen.text.contains("Disable"), "\(seen.text.prefix(1_000))")
            let meetingID = try #require(try await cast.meeting(at: ResearchFlowAPITests.meetingStart)["id"].string)
            _ = try await cast.case(meeting: meetingID, fields: ["victim.name": "Jane Doe"])
            let coordinatorToken = try #require(try await coordinator.send("GET", "/ui/meetings/\(meetingID)").text
                .components(separatedBy: #"name="csrf" value=""#).dropFirst().first?.prefix(64).description)
            let forged = try await coordinator.send("POST", "/ui/principals/police-spoc/active", body: Array("csrf=\(coordinatorToken)&active=true".utf8), headers: headers)
            #expect(forged.status == 403 && forged.text.contains("forbidden") && !forged.text.contains("cross-site"), "\(forged.text.prefix(1_000))")
            #expect(try await cast.spocs["police"]!.reconnected(to: broker).client.send("GET", "/ui/agencies").status == 403, "enabled again, and still no administrator")
        }
    }
}

