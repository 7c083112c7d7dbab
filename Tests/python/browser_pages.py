"""The web pages (SPEC §12) in a real Chromium with real client certificates (Playwright).

usage: browser_pages.py SCENARIO.json
The Swift test (Tests/BrokerAPITests/BrowserPageTests.swift) starts the broker, enrols the
people and writes the scenario: origin, CA, each person's certificate and key, the ids made.
Prints one line per step; exits 1 with the failed checks, 0 when every check held.
"""
import json
import os
import sys

scenario = json.load(open(sys.argv[1]))
# Playwright's Node side makes the mutual-TLS handshake: it must trust the broker CA, and the
# environment may already name another bundle, so this is set before Playwright starts.
os.environ["NODE_EXTRA_CA_CERTS"] = scenario["ca"]

from playwright.sync_api import Error as PlaywrightError, sync_playwright  # noqa: E402
from axe_playwright_python.sync_playwright import Axe  # noqa: E402

origin = scenario["origin"]
failures = []
dialogs = []
HOSTILE = scenario["hostile"]


def check(condition, what):
    print(("ok   " if condition else "FAIL ") + what, flush=True)
    if not condition:
        failures.append(what)


def context_for(browser, who, **options):
    person = scenario["people"][who]
    context = browser.new_context(
        client_certificates=[{"origin": origin, "certPath": person["cert"], "keyPath": person["key"]}], **options)
    context.on("page", lambda page: page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss())))
    return context


def page_checks(page, name):
    """What every page must do: headers, hostile text shown as text, no script run."""
    html = page.content()
    check("<script" not in html.lower(), f"{name}: no <script> element in the page")
    check("\u202e" not in html and "\u2066" not in html, f"{name}: no raw bidi control in the page")
    check(page.locator("h1").count() == 1, f"{name}: one <h1>")


def headers_checks(response, name):
    headers = response.headers
    csp = headers.get("content-security-policy", "")
    check("default-src 'none'" in csp and "script-src" not in csp and "unsafe-inline" not in csp, f"{name}: strict CSP without script ({csp})")
    check(headers.get("x-content-type-options") == "nosniff", f"{name}: X-Content-Type-Options nosniff")
    check(headers.get("referrer-policy") == "no-referrer", f"{name}: Referrer-Policy no-referrer")
    check(headers.get("cache-control") == "no-store", f"{name}: Cache-Control no-store")


with sync_playwright() as playwright:
    browser = playwright.chromium.launch(executable_path=scenario["chromium"], args=["--no-sandbox"])
    visited = []

    def open_home(who, path):
        """A new browser for `who`, sent from / to its role's first page, whose checks it runs."""
        page = context_for(browser, who).new_page()
        response = page.goto(origin + "/")
        check(page.url == origin + path, f"/ sends the {who} to {path} ({page.url})")
        headers_checks(response, path)
        page_checks(page, path)
        visited.append((who, path))
        return page

    # A browser without a certificate is refused in the handshake.
    # (It trusts the server's certificate, so only the missing client certificate can refuse it.)
    bare = browser.new_context(ignore_https_errors=True)
    try:
        bare.new_page().goto(origin + "/")
        check(False, "a browser without a certificate is refused")
    except PlaywrightError as error:
        reason = str(error).splitlines()[0]
        check("ERR_" in reason and "ERR_CERT_AUTHORITY_INVALID" not in reason, f"a browser without a certificate is refused ({reason})")
    bare.close()

    # The SPOC finds the new request in the inbox.
    page = open_home("spoc", "/ui/inbox")
    spoc = page.context
    row = page.locator("tbody tr", has=page.locator("a", has_text="MARAC-2027-0042"))
    check(HOSTILE in row.inner_text(), "the inbox shows the hostile reference as text")
    check("left" in row.inner_text(), "the inbox shows a deadline countdown")
    check(page.locator("strong.urgent").count() == 1 and "URGENT" in page.locator("tbody").inner_text(), "the urgent request is marked")
    page.screenshot(path=os.path.join(scenario["screenshots"], "spoc-inbox.png"), full_page=True)
    page.locator("tbody a", has_text=scenario["reference"]).click()
    check(page.url == origin + "/ui/requests/" + scenario["request"], "the SPOC opens the request")
    page_checks(page, "request")
    visited.append(("spoc", "/ui/requests/" + scenario["request"]))
    fields = page.locator("dl.fields").inner_text()
    for entitled in scenario["entitled"]:
        check(entitled in fields, f"the SPOC reads the entitled field {entitled}")
    for withheld in scenario["withheld"]:
        check(withheld not in page.content(), f"the SPOC never sees the withheld field {withheld}")
    check(HOSTILE in page.locator("main").inner_text(), "the request page shows hostile text literally")

    # A refused return first: an answer left empty; what was typed is kept.
    page.get_by_label("Not known").check()
    page.get_by_label("Summary").fill("Typed summary")
    page.get_by_role("button", name="Send the return").click()
    alert = page.get_by_role("alert")
    check(alert.count() == 1 and "answers[0]" in alert.inner_text(), f"a return with an empty answer is refused naming it ({alert.inner_text() if alert.count() else ''})")
    check(page.get_by_label("Summary").input_value() == "Typed summary", "the refused form keeps the summary typed")
    # Then no summary.
    page.get_by_label("Summary").fill("")
    page.get_by_label("Question 1", exact=False).fill("Typed answer one")
    page.get_by_role("button", name="Send the return").click()
    alert = page.get_by_role("alert")
    check(alert.count() == 1 and "summary" in alert.inner_text(), f"a return without a summary is refused naming it ({alert.inner_text() if alert.count() else ''})")
    check(page.get_by_label("Question 1", exact=False).input_value() == "Typed answer one", "the refused form keeps what was typed")
    # Then control characters: a right-to-left override and a bell.
    page.get_by_label("Summary").fill("Known to the outreach team \u202e")
    page.get_by_label("Question 1", exact=False).fill("Bell \u0007 here")
    page.get_by_role("button", name="Send the return").click()
    alert = page.get_by_role("alert")
    check(alert.count() == 1 and "invalid_text" in alert.inner_text(), f"control characters are refused ({alert.inner_text() if alert.count() else ''})")
    check("\\u{202E}" in page.get_by_label("Summary").input_value(), "the refused bidi character is shown visibly, not applied")
    page_checks(page, "refused return")
    # Then a good return, and an amendment.
    page.get_by_label("Summary").fill(f"Known to the outreach team {HOSTILE}")
    page.get_by_label("Question 1", exact=False).fill("Yes, 2025")
    page.get_by_label("Withheld item 1: what").fill("Current address")
    page.get_by_label("Withheld item 1: why").fill("Safety of other residents")
    page.get_by_role("button", name="Send the return").click()
    check(page.get_by_role("alert").count() == 0, "the return is accepted")
    check("Version 1" in page.locator("#history ~ ol").inner_text(), "the history shows version 1")
    token = page.locator("input[name=csrf]").first.get_attribute("value")
    page.get_by_label("Summary").fill("Amended: known since 2024")
    page.get_by_role("button", name="Send the amended return").click()
    history = page.locator("#history ~ ol").inner_text()
    check("Version 2" in history and "Amended: known since 2024" in history and "Version 1" in history, "the amendment is version 2, version 1 kept")
    page_checks(page, "return history")
    page.screenshot(path=os.path.join(scenario["screenshots"], "spoc-request.png"), full_page=True)

    # A cross-site form post (another origin, even holding a valid token) is refused.
    evil = spoc.new_page()
    evil.set_content(f"""<form method="post" action="{origin}/ui/requests/{scenario['request']}/return">
        <input name="csrf" value="{token}"><input name="knownToAgency" value="true"><input name="summary" value="forged">
        <input name="answer0" value="forged"><button>go</button></form>""")
    with evil.expect_navigation():
        evil.locator("button").click()
    check("cross-site request refused" in evil.content(), "a cross-site form post is refused")
    posted = spoc.request.post(f"{origin}/ui/requests/{scenario['request']}/return",
                               form={"csrf": "0" * 64, "knownToAgency": "true", "summary": "forged", "answer0": "x"},
                               headers={"Origin": origin})
    check(posted.status == 403, f"a same-origin post with a wrong token is refused ({posted.status})")
    page.reload()
    check("forged" not in page.locator("#history ~ ol").inner_text(), "no forged version was stored")
    evil.close()

    # The coordinator dispatches research and sees the status board change.
    page = open_home("coordinator", "/ui/meetings")
    page.get_by_role("link", name=scenario["meetingTitle"]).click()
    page_checks(page, "meeting")
    visited.append(("coordinator", page.url[len(origin):]))
    board = page.locator("#status ~ table").inner_text()
    check("housing" not in board, "the board has no housing request yet")
    # A case created on the meeting page: first with a field the policy does not classify (refused, kept).
    page.get_by_label("Reference").fill("MARAC-2027-0044")
    page.get_by_label("Obtained", exact=True).check()
    page.get_by_label("Field 1 path").fill("victim.name")
    page.get_by_label("Field 1 value").fill("Cara")
    page.get_by_label("Field 2 path").fill("victim.shoeSize")
    page.get_by_label("Field 2 value").fill("9")
    page.get_by_role("button", name="Create the case").click()
    alert = page.get_by_role("alert")
    check(alert.count() == 1 and "unknown_field" in alert.inner_text() and "victim.shoeSize" in alert.inner_text(),
          f"a case with an unclassified field is refused naming it ({alert.inner_text() if alert.count() else ''})")
    check(page.get_by_label("Field 1 value").input_value() == "Cara" and page.get_by_label("Reference").input_value() == "MARAC-2027-0044",
          "the refused case form keeps what was typed")
    page_checks(page, "refused case")
    page.get_by_label("Field 2 path").fill("")
    page.get_by_label("Field 2 value").fill("")
    page.get_by_role("button", name="Create the case").click()
    check(page.get_by_role("alert").count() == 0 and page.locator("#dispatch ~ ul a", has_text="MARAC-2027-0044").count() == 1,
          "the case is created and offered for dispatch")
    meeting_path = page.url[len(origin):].split("#")[0]
    # The dispatch form for the walked case: each agency with the fields its entitlement lets it see.
    page.locator(f'a[href="/ui/cases/{scenario["case"]}/dispatch"]').click()
    dispatch_path = f"/ui/cases/{scenario['case']}/dispatch"
    check(page.url == origin + dispatch_path, "the coordinator opens the case's dispatch form")
    page_checks(page, "dispatch")
    visited.append(("coordinator", dispatch_path))
    police_row = page.locator("label.choice-row", has=page.locator('input[name="agency.police"]')).inner_text()
    check("victim.name" in police_row and "victim.gp" not in police_row and "victim.sexualOrientation" not in police_row,
          f"the form shows what the police may see, and not what it may not ({police_row})")
    check(page.locator('input[name="field.victim.alias"]').count() == 1, "the case's fields can narrow what is sent")
    # Refused first: no agency ticked; the questions typed are kept.
    page.get_by_label("Questions").fill("Any tenancy issues?")
    page.get_by_role("button", name="Dispatch").click()
    alert = page.get_by_role("alert")
    check(alert.count() == 1 and "agencies" in alert.inner_text(), f"a dispatch to no agency is refused naming it ({alert.inner_text() if alert.count() else ''})")
    check(page.get_by_label("Questions").input_value() == "Any tenancy issues?", "the refused dispatch keeps the questions typed")
    page_checks(page, "refused dispatch")
    page.screenshot(path=os.path.join(scenario["screenshots"], "coordinator-dispatch.png"), full_page=True)
    # Then housing, narrowed to a field it may not see: refused, never widened; then to the name only.
    page.locator('input[name="agency.housing"]').check()
    page.locator('input[name="field.victim.name"]').check()
    page.locator('input[name="field.victim.safeAddress"]').check()
    page.get_by_role("button", name="Dispatch").click()
    alert = page.get_by_role("alert")
    check(alert.count() == 1 and "not_entitled" in alert.inner_text() and "victim.safeAddress" in alert.inner_text(),
          f"narrowing to a field the agency may not see is refused ({alert.inner_text() if alert.count() else ''})")
    check(page.locator('input[name="agency.housing"]').is_checked() and page.locator('input[name="field.victim.name"]').is_checked(),
          "the refused dispatch keeps what was ticked")
    page.locator('input[name="field.victim.safeAddress"]').uncheck()
    page.get_by_role("button", name="Dispatch").click()
    alert = page.get_by_role("alert")
    check(page.url.startswith(origin + meeting_path), f"the dispatch returns to the meeting's status board ({page.url} {alert.inner_text() if alert.count() else ''})")
    board = page.locator("#status ~ table").inner_text()
    check("housing" in board and "released" in board, "the board shows the new housing request")
    check("returned" in board, "the board shows the police return")
    page.screenshot(path=os.path.join(scenario["screenshots"], "coordinator-meeting.png"), full_page=True)

    # The coordinator screens referrals: a decline refused without advice (what was typed kept),
    # then declined with advice; another accepted into the later meeting with a slot.
    decline_id, accept_id, redirect_id, waiting_id = scenario["referrals"]
    page.get_by_role("link", name="Referrals to screen").click()
    check(page.url == origin + "/ui/referrals", "the coordinator opens the referrals to screen")
    page_checks(page, "referrals")
    visited.append(("coordinator", "/ui/referrals"))
    check(page.locator("#waiting ~ table").first.locator("tbody tr").count() == 4, "four referrals to screen")
    page.locator(f'a[href="/ui/referrals/{decline_id}"]').click()
    page_checks(page, "referral")
    check(HOSTILE in page.locator("main").inner_text(), "the referral page shows hostile text literally")
    check("Dee Clined" in page.locator("dl.fields").inner_text(), "the coordinator reads the referral's fields")
    page.locator("#decline-reason").fill("Resolvable locally")
    page.get_by_role("button", name="Decline").click()
    alert = page.get_by_role("alert")
    check(alert.count() == 1 and "advice" in alert.inner_text(), f"a decline without advice is refused naming it ({alert.inner_text() if alert.count() else ''})")
    check(page.locator("#decline-reason").input_value() == "Resolvable locally", "the refused decline keeps the typed reason")
    page_checks(page, "refused decline")
    page.locator("#decline-advice").fill("Hold a multi-professionals meeting first")
    page.get_by_role("button", name="Decline").click()
    decision = page.locator("#decision ~ dl").first.inner_text()
    check(page.get_by_role("alert").count() == 0 and "declined" in decision and "Hold a multi-professionals meeting first" in decision,
          f"the referral is declined with the advice ({decision})")
    page.get_by_role("link", name="Referrals to screen").click()
    page.locator(f'a[href="/ui/referrals/{accept_id}"]').click()
    page.locator("#accept-meeting").select_option(value=scenario["laterMeeting"])
    page.locator("#accept-slot").fill("11:15")
    page.locator("#accept-reference").fill("MARAC-2027-0050")
    page.get_by_role("button", name="Accept").click()
    decision = page.locator("#decision ~ dl").first.inner_text()
    check(page.get_by_role("alert").count() == 0 and "accepted" in decision and "11:15" in decision, f"the referral is accepted into the meeting ({decision})")
    page.screenshot(path=os.path.join(scenario["screenshots"], "coordinator-referral.png"), full_page=True)
    # Redirected to the community panel: refused while still domestic abuse (that panel's hard rule),
    # then as anti-social behaviour, screened again by the community panel's rules.
    page.get_by_role("link", name="Referrals to screen").click()
    page.locator(f'a[href="/ui/referrals/{redirect_id}"]').click()
    page.locator("#redirect-panel").select_option(value="community")
    page.locator("#redirect-reason").fill("Neighbour dispute, not domestic abuse")
    page.get_by_role("button", name="Redirect").click()
    alert = page.get_by_role("alert")
    check(alert.count() == 1 and "domestic-abuse" in alert.inner_text(),
          f"a redirection the other panel cannot hear is refused, saying why ({alert.inner_text() if alert.count() else ''})")
    check(page.locator("#redirect-reason").input_value() == "Neighbour dispute, not domestic abuse", "the refused redirection keeps the reason")
    page_checks(page, "refused redirect")
    page.locator("#redirect-case-type").select_option(value="asb")
    page.get_by_role("button", name="Redirect").click()
    decision = page.locator("#decision ~ dl").first.inner_text()
    check(page.get_by_role("alert").count() == 0 and "redirected" in decision and "community" in decision,
          f"the referral is redirected to the community panel ({decision})")
    # The accepted case is on the meeting's agenda, linked from the meetings page.
    page.get_by_role("link", name="Meetings").click()
    agenda_path = f"/ui/meetings/{scenario['laterMeeting']}/agenda"
    page.locator(f'a[href="{agenda_path}"]').click()
    check(page.url == origin + agenda_path, "the coordinator opens the agenda from the meetings page")
    page_checks(page, "agenda")
    visited.append(("coordinator", agenda_path))
    row = page.locator("tbody tr", has=page.locator("a", has_text="MARAC-2027-0050"))
    check(row.count() == 1 and "11:15" in row.inner_text() and "new" in row.inner_text(), "the accepted referral is on the agenda at 11:15, new")
    check(page.locator("tbody tr").first.inner_text().startswith("11:15"), "slotted cases come first")
    page.screenshot(path=os.path.join(scenario["screenshots"], "coordinator-agenda.png"), full_page=True)
    visited.append(("coordinator", f"/ui/referrals/{waiting_id}"))
    # The referring SPOC reads the outcome and the advice, read-only.
    own = spoc.new_page()
    own.goto(f"{origin}/ui/referrals/{decline_id}")
    check("Hold a multi-professionals meeting first" in own.locator("main").inner_text() and own.locator("form").count() == 0,
          "the referring SPOC reads the advice, without a decision form")
    page_checks(own, "SPOC referral")
    # The invited SPOC reads the earlier meeting's published agenda: references and slots, no case ids.
    spoc_agenda = f"/ui/meetings/{scenario['earlierMeeting']}/agenda"
    own.goto(origin + "/ui/meetings")
    own.locator(f'a[href="{spoc_agenda}"]').click()
    check(own.url == origin + spoc_agenda and "MARAC-2027-0043" in own.locator("main").inner_text(), "the invited SPOC reads the published agenda")
    check(own.locator('a[href*="/ui/cases/"]').count() == 0, "the SPOC's agenda links to no case")
    page_checks(own, "SPOC agenda")
    own.close()
    visited += [("spoc", "/ui/referrals"), ("spoc", f"/ui/referrals/{decline_id}"), ("spoc", spoc_agenda)]

    # An administrator revokes a credential with a reason; that browser's next page load is refused.
    housing = context_for(browser, "housing")
    housing_page = housing.new_page()
    housing_page.goto(origin + "/ui/inbox")
    check(housing_page.locator("tbody tr").count() == 1, "the housing SPOC sees its new request")
    page = open_home("admin", "/ui/credentials")
    serial = scenario["housingSerial"]
    page.screenshot(path=os.path.join(scenario["screenshots"], "admin-credentials.png"), full_page=True)
    page.locator(f"#reason-{serial}").fill("Laptop lost on the train")
    page.get_by_role("button", name="Revoke housing-spoc").click()
    check("revoked: Laptop lost on the train" in page.locator("tbody").inner_text(), "the credential shows revoked with its reason")
    try:
        refused = housing_page.reload()
        check(refused is not None and refused.status == 403 and "credential_revoked" in housing_page.content(),
              f"the revoked browser's next page load is refused ({refused.status if refused else 'no answer'})")
    except PlaywrightError as error:
        check("ERR_" in str(error), f"the revoked browser's next page load is refused ({str(error).splitlines()[0]})")

    # The administrator registers an agency and a principal (a refused id first, what was typed kept),
    # signs the new principal's certificate request, and sees when each credential was last used.
    page.get_by_role("link", name="Agencies").click()
    page.get_by_label("Id", exact=False).fill("Refuge North")
    page.get_by_label("Name", exact=True).fill("Refuge North")
    page.get_by_role("button", name="Create the agency").click()
    alert = page.get_by_role("alert")
    check(alert.count() == 1 and "id" in alert.inner_text(), f"an agency id that is not a slug is refused naming it ({alert.inner_text() if alert.count() else ''})")
    check(page.get_by_label("Name", exact=True).input_value() == "Refuge North", "the refused agency form keeps the name")
    page_checks(page, "refused agency")
    page.get_by_label("Id", exact=False).fill("refuge-north")
    page.get_by_label("Kind").select_option(value="non-core")
    page.get_by_role("button", name="Create the agency").click()
    check(page.get_by_role("alert").count() == 0 and "refuge-north" in page.locator("tbody").inner_text(), "the agency is created")
    page.get_by_role("link", name="Principals").click()
    page.get_by_label("Id", exact=False).fill("rita-refuge")
    page.get_by_label("Name", exact=True).fill("Rita Refuge")
    page.get_by_label("Agency").select_option(value="refuge-north")
    page.get_by_label("Role").select_option(value="spoc")
    page.get_by_role("button", name="Create the principal").click()
    check(page.get_by_role("alert").count() == 0 and "rita-refuge" in page.locator("tbody").inner_text(), "the principal is created")
    page.get_by_role("link", name="Credentials").click()
    page.get_by_label("Principal").select_option(value="rita-refuge")
    page.get_by_label("Certificate request", exact=False).fill("-----BEGIN CERTIFICATE REQUEST-----\nnot one\n-----END CERTIFICATE REQUEST-----")
    page.get_by_role("button", name="Sign the certificate").click()
    alert = page.get_by_role("alert")
    check(alert.count() == 1 and "csr" in alert.inner_text(), f"a broken certificate request is refused ({alert.inner_text() if alert.count() else ''})")
    page_checks(page, "refused signing")
    page.get_by_label("Certificate request", exact=False).fill(scenario["newcomerCSR"])
    page.get_by_role("button", name="Sign the certificate").click()
    pem = page.locator("#certificate").inner_text() if page.locator("#certificate").count() else ""
    check(pem.startswith("-----BEGIN CERTIFICATE-----"), "the signed certificate is shown to hand to its holder")
    open(scenario["issuedOut"], "w").write(pem)
    page.get_by_role("link", name="Back to credentials").click()
    row = page.locator("tbody tr", has=page.locator("td.serial", has_text=scenario["spocSerial"])).inner_text()
    check("never" not in row, f"the police SPOC's credential shows its last use ({row})")
    newcomer_row = page.locator("tbody tr", has_text="rita-refuge").inner_text()
    check("pending" in newcomer_row and "never" in newcomer_row, f"the new credential is pending and never used ({newcomer_row})")
    page.screenshot(path=os.path.join(scenario["screenshots"], "admin-credentials.png"), full_page=True)
    # Only a coordinator approves it, on the credentials to approve.
    page = open_home("coordinator", "/ui/meetings")
    page.get_by_role("link", name="Credentials to approve").click()
    check(page.locator("form[action*='/revoke']").count() == 0, "the coordinator is offered no revocation")
    page.get_by_role("button", name="Approve rita-refuge", exact=False).click()
    check("approved by" in page.locator("tbody tr", has_text="rita-refuge").inner_text(), "the coordinator approves the new credential")
    visited.append(("coordinator", "/ui/credentials"))

    # The other pages each role has: actions (none yet), a research pack, the audit log.
    for who, path in [("spoc", "/ui/actions"), ("coordinator", f"/ui/cases/{scenario['case']}/pack"), ("admin", "/ui/audit"),
                      ("admin", "/ui/agencies"), ("admin", "/ui/principals")]:
        page = context_for(browser, who).new_page()
        response = page.goto(origin + path)
        check(response.status == 200, f"{path} as {who}: {response.status}")
        headers_checks(response, path)
        page_checks(page, path)
        visited.append((who, path))
        page.context.close()

    # Every page passes axe-core (bundled with axe-playwright-python: offline), WCAG 2.1 A and AA.
    axe = Axe()
    for who, path in visited:
        context = context_for(browser, who, bypass_csp=True)
        page = context.new_page()
        page.goto(origin + path)
        results = axe.run(page, options={"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}})
        violations = results.response.get("violations", [])
        passes = results.response.get("passes", [])
        check(not violations and len(passes) >= 10, f"axe: {path} as {who}: {len(passes)} rules passed, violations {[v['id'] for v in violations]}")
        context.close()
    # Refusal pages too: each refused form as it comes back, and a 403 and a 404 page.
    def refused(who, path, act, name):
        context = context_for(browser, who, bypass_csp=True)
        page = context.new_page()
        page.goto(origin + path)
        act(page)
        check(page.get_by_role("alert").count() == 1, f"{name}: the refusal is shown")
        results = axe.run(page, options={"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}})
        violations = results.response.get("violations", [])
        check(not violations, f"axe: {name}: violations {[v['id'] for v in violations]}")
        context.close()

    def empty_answer(page):
        page.get_by_label("Summary").fill("Typed")
        page.get_by_role("button", name="Send the amended return").click()

    def unclassified(page):
        page.get_by_label("Reference").fill("MARAC-2027-0099")
        page.get_by_label("Field 1 path").fill("victim.shoeSize")
        page.get_by_label("Field 1 value").fill("9")
        page.get_by_role("button", name="Create the case").click()

    def no_agency(page):
        page.get_by_label("Questions").fill("Anything?")
        page.get_by_role("button", name="Dispatch").click()

    def no_advice(page):
        page.locator("#decline-reason").fill("Resolvable locally")
        page.get_by_role("button", name="Decline").click()

    def bad_agency(page):
        page.get_by_label("Id", exact=False).fill("Not A Slug")
        page.get_by_label("Name", exact=True).fill("x")
        page.get_by_role("button", name="Create the agency").click()

    def answer_cleared(page):
        page.get_by_label("Question 1", exact=False).fill("")
        empty_answer(page)

    refused("spoc", "/ui/requests/" + scenario["request"], answer_cleared, "refused return")
    refused("coordinator", meeting_path, unclassified, "refused case")
    refused("coordinator", dispatch_path, no_agency, "refused dispatch")
    refused("coordinator", f"/ui/referrals/{waiting_id}", no_advice, "refused decline")
    refused("admin", "/ui/agencies", bad_agency, "refused agency")
    refused("spoc", "/ui/credentials", lambda page: None, "403 page")
    refused("spoc", "/ui/requests/no-such-request", lambda page: None, "404 page")

    # Readable on a phone: no horizontal scrolling at 375 px.
    for who, path in [("spoc", "/ui/requests/" + scenario["request"]), ("spoc", "/ui/inbox"), ("coordinator", meeting_path),
                      ("coordinator", dispatch_path), ("coordinator", f"/ui/referrals/{waiting_id}"), ("admin", "/ui/credentials")]:
        phone = context_for(browser, who, viewport={"width": 375, "height": 740})
        page = phone.new_page()
        page.goto(origin + path)
        # On failure, the elements that stick out (tag, class, right edge) say what to fix.
        wide = page.evaluate("""[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
                                 .slice(0, 4).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))""")
        check(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), f"{path} as {who} fits a 375 px phone screen {wide or ''}")
        if path.startswith("/ui/requests/"):
            page.screenshot(path=os.path.join(scenario["screenshots"], "spoc-request-phone.png"), full_page=True)
        phone.close()
    check(not dialogs, f"no script ran anywhere (dialogs: {dialogs})")
    browser.close()

print(f"{len(failures)} failed", flush=True)
sys.exit(1 if failures else 0)
