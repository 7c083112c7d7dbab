#!/usr/bin/env bash
# Mutation testing of the broker's security-relevant code.
#
#   scripts/mutants.sh [--only ID[,ID...]] [--root DIR]     run the mutants (all, or the ones named)
#   scripts/mutants.sh --list [--only ...]                  print the list (no build)
#   scripts/mutants.sh --check [--only ...] [--root DIR]    check every snippet occurs exactly once in ROOT (no build)
#   scripts/mutants.sh --compile-only [--only ...]          build each mutant, run no test: is the list still valid?
#
# Each mutant plants one bug a reviewer would worry about (a field shown to the wrong agency, a role
# allowed a route, a revoked credential accepted, a cache keyed too loosely, a deadline off by one,
# a journal record not bound to the chain...) and names the tests that should catch it.
#
# How it runs:
#   1. ROOT's working tree (tracked and untracked files, not ignored ones, so uncommitted work counts)
#      is copied into ${MUTANTS_DIR:-/tmp/marac-mutants}/src; only changed files are rewritten, and that
#      copy keeps its own .build between runs, so every build is incremental. ROOT is never written.
#   2. Every selected mutant's snippet must occur exactly once in its file, or the script stops.
#   3. Baseline: `swift build --build-tests` on the unmutated copy, every mutant's filter must match at
#      least one test (`swift test list`), and those tests must pass; otherwise the script stops.
#   4. Per mutant: apply the replacement, `swift build --build-tests` (a compile error = "invalid", not
#      counted as killed), `swift test --skip-build --filter REGEX` under a timeout; a non-zero exit
#      (failure, crash or timeout) = killed, exit 0 = SURVIVED. The file is restored afterwards (also
#      on Ctrl-C), and the restore is checked byte for byte.
#   5. A Markdown table (id | file | description | result | seconds) and "N killed, M survived, K invalid".
#
# Exit status: 0 no survivor and no invalid mutant; 1 some mutant survived; 2 setup or baseline failed
# (or a snippet no longer matches); 3 no survivor but some mutant did not compile (fix the list).
#
# Environment: MUTANTS_DIR (scratch, default /tmp/marac-mutants), MUTANT_TIMEOUT (seconds per test
# run, default 900), MUTANT_BUILD_TIMEOUT (seconds per build, default 3600). Builds and tests run under
# `nice -n 10`; Ctrl-C (or SIGTERM) stops the running build or test and restores the mutated file.
# Logs: $MUTANTS_DIR/logs/ (ID.build.log, ID.test.log); the table also goes to $MUTANTS_DIR/report.md.
#
# Adding a mutant: append a block to MUTANTS below.
#   @ id                     lower-case, digits and '-'
#   file   PATH              relative to the repository root
#   filter REGEX             passed to `swift test --filter` (matches "Target.Suite/test()" ids, see `swift test list`)
#   desc   TEXT              one line: the bug the mutant plants
#   - original line          the exact text to find (one "- " line per line; indentation optional for one line)
#   + replacement line       what replaces it (no "+" line: the snippet is deleted)
# A line that is only "-" or "+" stands for an empty line. Lines starting with '#' are comments.
# Pick semantic changes that a good suite should catch, not dead code.
set -euo pipefail

# ----------------------------------------------------------------------------------------------------
# The mutants
# ----------------------------------------------------------------------------------------------------
MUTANTS=$(cat <<'MUTANTS_END'
# --- need-to-know: which agency sees which case field -------------------------------------------------
@ policy-agency-category-open
file   Sources/Broker/SharingPolicy.swift
filter BrokerTests\.(PolicyTests|IsolationTests)
desc   a category restricted to named agencies is shown to every invited agency
- case .agencies(let ids): return ids.contains(agency)
+ case .agencies: return true

@ policy-coordinator-only-open
file   Sources/Broker/SharingPolicy.swift
filter BrokerTests\.(PolicyTests|IsolationTests)
desc   a coordinator-only category ([]) is shown to every invited agency
- case .coordinatorOnly: return false
+ case .coordinatorOnly: return true

@ policy-uninvited-sees
file   Sources/Broker/SharingPolicy.swift
filter BrokerTests\.(PolicyTests|IsolationTests)
desc   an agency the request does not go to may see "*" (every invited agency) fields
- guard invited.contains(agency), let category = classify(path)
+ guard let category = classify(path)

@ released-fields-not-rechecked
file   Sources/Broker/Domain+Research.swift
filter BrokerTests\.(IsolationTests|ResearchFlowTests|PolicyTests)|BrokerAPITests\.ResearchFlowAPITests
desc   fields fixed at dispatch are delivered even when the current policy no longer allows them
- for name in request.fieldNames where policy.isVisible(name, to: request.agency, invited: invited) {
+ for name in request.fieldNames {

@ narrowing-not-entitled-accepted
file   Sources/Broker/Domain+Research.swift
filter BrokerTests\.(ResearchFlowTests|CaseTests)|BrokerAPITests\.RegistryAPITests
desc   a narrowing naming a field the agency is not entitled to is accepted (no 403 not_entitled)
- if let refused = narrowing.first(where: { !entitled.contains($0) }) {
+ if let refused = narrowing.first(where: { _ in entitled.isEmpty && !entitled.isEmpty }) {

@ spoc-reads-other-agency-request
file   Sources/Broker/Domain+Research.swift
filter BrokerTests\.(IsolationTests|ResearchFlowTests)|BrokerAPITests\.ResearchFlowAPITests
desc   a SPOC can read another agency's released request (and its return)
- case .spoc: return request.agency == actor.agency && request.releasedAt != nil ? request : nil
+ case .spoc: return request.releasedAt != nil ? request : nil

@ spoc-reads-scheduled-request
file   Sources/Broker/Domain+Research.swift
filter BrokerTests\.(IsolationTests|ResearchFlowTests)|BrokerAPITests\.ResearchFlowAPITests
desc   a SPOC can read its agency's request before its scheduled release
- case .spoc: return request.agency == actor.agency && request.releasedAt != nil ? request : nil
+ case .spoc: return request.agency == actor.agency ? request : nil

@ poll-cache-key-without-agency
file   Sources/BrokerAPI/PollPageCache.swift
filter BrokerAPITests\.ResearchFlowAPITests
desc   the long-poll page cache ignores the agency: one agency's GET /v1/requests page is served to another
- let key = Key(agency: agency, role: role, cursor: cursor)
+ let key = Key(agency: "", role: role, cursor: cursor)

# --- 404, not 403, for what another agency holds ---------------------------------------------------------
@ other-agency-request-403
file   Sources/Broker/Domain+Research.swift
filter BrokerTests\.(IsolationTests|ResearchFlowTests)|BrokerAPITests\.ResearchFlowAPITests
desc   reading a request that exists but is not the caller's answers 403 (leaks that it exists) instead of 404
- guard var request = visibleRequest(id, to: actor) else { return .failure(.notFound("request")) }
+ guard var request = visibleRequest(id, to: actor) else { return .failure(state.requests[id] == nil ? .notFound("request") : .forbidden("read requests", role: actor.role, allowed: [.spoc, .coordinator])) }

@ other-agency-return-403
file   Sources/Broker/Domain+Research.swift
filter BrokerTests\.(IsolationTests|ResearchFlowTests)|BrokerAPITests\.ResearchFlowAPITests
desc   reading another agency's return answers 403 (leaks that it exists) instead of 404
- return .failure(.notFound("return"))
+ return .failure(state.requests[requestID].map { $0.agency != actor.agency && actor.role == .spoc } == true ? .forbidden("read returns", role: actor.role, allowed: [.spoc, .coordinator]) : .notFound("return"))

# --- role checks on routes -------------------------------------------------------------------------------
@ dispatch-allowed-to-spoc
file   Sources/Broker/Domain+Research.swift
filter BrokerTests\.(RegistryTests|ResearchFlowTests)|BrokerAPITests\.RegistryAPITests
desc   a SPOC may dispatch research (coordinator-only route)
- require(actor, [.coordinator], to: "dispatch research")
+ require(actor, [.coordinator, .spoc], to: "dispatch research")

@ read-case-allowed-to-admin
file   Sources/Broker/Domain+Cases.swift
filter BrokerTests\.CaseTests|BrokerAPITests\.RegistryAPITests
desc   an administrator may read a case's fields (coordinator-only route; admins never see case content)
- require(actor, [.coordinator], to: "read cases")
+ require(actor, [.coordinator, .admin], to: "read cases")

@ audit-allowed-to-spoc
file   Sources/Broker/Domain.swift
filter BrokerTests\.RegistryTests|BrokerAPITests\.RegistryAPITests
desc   a SPOC may read the audit log (admin and auditor only)
- require(actor, [.admin, .auditor], to: "read the audit log")
+ require(actor, [.admin, .auditor, .spoc], to: "read the audit log")

@ revoke-allowed-to-coordinator
file   Sources/Broker/Domain.swift
filter BrokerTests\.RegistryTests|BrokerAPITests\.(RegistryAPITests|CredentialAPITests)
desc   a coordinator may revoke credentials (admin-only route)
- require(actor, [.admin], to: "revoke credentials")
+ require(actor, [.admin, .coordinator], to: "revoke credentials")

@ approve-allowed-to-admin
file   Sources/Broker/Domain.swift
filter BrokerTests\.RegistryTests|BrokerAPITests\.(CredentialAPITests|RegistryAPITests)
desc   an administrator may approve credentials, so an admin alone can give access to cases
- require(actor, [.coordinator], to: "approve credentials")
+ require(actor, [.coordinator, .admin], to: "approve credentials")

@ self-approval-allowed
file   Sources/Broker/Domain.swift
filter BrokerTests\.RegistryTests|BrokerAPITests\.CredentialAPITests
desc   a coordinator may approve a certificate issued to itself (an admin-made second certificate)
- guard principal.id != actor.principal else {
+ guard principal.id != actor.principal || true else {

@ new-credential-approved
file   Sources/Broker/Domain.swift
filter BrokerTests\.RegistryTests|BrokerAPITests\.CredentialAPITests
desc   a certificate the admin issues starts approved (the issue-13 attack: admin signs a CSR for a coordinator)
- approval: .pending, keySHA256: body.keySHA256)
+ approval: .approved(by: actor.principal, at: env.now), keySHA256: body.keySHA256)

@ renewal-window-ignored
file   Sources/Broker/Domain.swift
filter BrokerAPITests\.CredentialAPITests
desc   a holder may renew at any time (the 60-day window is not checked in the domain or the route)
-         guard now < opens else { return nil }
+         guard now < opens && false else { return nil }

# --- revocation ------------------------------------------------------------------------------------------
@ revoked-credential-accepted
file   Sources/Broker/BrokerState.swift
filter BrokerTests\.RegistryTests|BrokerAPITests\.CredentialAPITests
desc   a revoked credential is still identified (requests and handshakes accepted)
- if credential.revokedAt != nil {
+ if credential.revokedAt != nil && credential.revokedAt == nil {

@ handshake-hook-accepts-refused
file   Sources/BrokerHost/BrokerApp.swift
filter BrokerAPITests\.CredentialAPITests
desc   the TLS handshake completes for certificates the registry refuses (unknown, revoked, disabled...)
- return error.code == .credentialRevoked ? .revoked : .unknown
+ return nil

@ crl-cache-after-revocation
file   Sources/Engine/CRLIssuer.swift
filter BrokerAPITests\.CredentialAPITests
desc   the cached CRL is served after a revocation (revoked-set condition dropped)
- if let issued = last, issued.revoked == serials, now >= issued.issuedAt,
+ if let issued = last, now >= issued.issuedAt,

@ close-header-socket-kept-open
file   Sources/HTTPServer/ConnectionStateMachine.swift
filter BrokerAPITests\.CredentialAPITests|HTTPServerTests\.ServerTests|HTTPServerTests\.ConnectionStateMachineTests
desc   a response its responder closes (403 credential_revoked) keeps the connection open and reading
- let keepAlive = request.keepAlive && !responderCloses && !draining && !peerFinished
+ let keepAlive = request.keepAlive && !draining && !peerFinished

@ moved-principal-keeps-certificates
file   Sources/Broker/Domain.swift
filter BrokerTests\.RegistryTests|BrokerAPITests\.CredentialAPITests
desc   moving a principal to another agency does not revoke its certificates (whose subject names the old agency)
- where credential.principal == id && credential.revokedAt == nil {
+ where credential.principal == id && credential.revokedAt == nil && principal.agency == original.agency {

@ expired-credential-accepted
file   Sources/Broker/BrokerState.swift
filter BrokerTests\.RegistryTests|BrokerAPITests\.CredentialAPITests
desc   a credential is accepted for 30 days after its notAfter (broker clock)
- if now > credential.notAfter {
+ if now > credential.notAfter.addingTimeInterval(30 * 86_400) {

# --- approval and disabled principals --------------------------------------------------------------------
@ disabled-principal-accepted
file   Sources/Broker/BrokerState.swift
filter BrokerTests\.RegistryTests|BrokerAPITests\.CredentialAPITests
desc   a disabled principal's credential is still identified
- guard principal.active else {
+ guard principal.active || !principal.active else {

@ unapproved-credential-accepted
file   Sources/Broker/BrokerState.swift
filter BrokerTests\.RegistryTests|BrokerAPITests\.CredentialAPITests
desc   a pending certificate is identified for everything, not only whoami (no second pair of eyes)
- guard allowPending || credential.isApproved(for: principal) else {
+ guard allowPending || credential.isApproved(for: principal) || true else {

@ inactive-agency-accepted
file   Sources/Broker/BrokerState.swift
filter BrokerTests\.RegistryTests|BrokerAPITests\.CredentialAPITests
desc   a principal of an inactive agency is identified
- guard let agency = agencies[principal.agency], agency.active else {
+ guard let agency = agencies[principal.agency] else {

@ approval-kept-on-role-change
file   Sources/Broker/Domain.swift
filter BrokerTests\.RegistryTests|BrokerAPITests\.CredentialAPITests
desc   changing a principal's role (or agency alone) keeps its certificates' approval
- where credential.principal == id && credential.revokedAt == nil && credential.approval != .pending {
+ where credential.principal == id && credential.revokedAt == nil && credential.approval != .pending && false {

@ revocation-does-not-wake-polls
file   Sources/Engine/BrokerEngine.swift
filter BrokerAPITests\.FairShareAPITests
desc   a revoked or shut-out principal's parked long-poll is answered only at its timeout
-             case .agencyUpdated(let agency): agencies.insert(agency.id)
+             case .agencyUpdated: break

@ long-poll-share-ignored
file   Sources/BrokerAPI/LongPollHub.swift
filter BrokerAPITests\.FairShareAPITests
desc   one principal may park any number of long-polls (maxLongPollsPerPrincipal not enforced)
- if state.parkedByPrincipal[principal, default: 0] >= limit { return .refused }
+ if state.parkedByPrincipal[principal, default: 0] >= limit && false { return .refused }

@ connection-share-ignored
file   Sources/HTTPServer/HTTPServer.swift
filter BrokerAPITests\.FairShareAPITests
desc   one principal may open every connection slot (maxConnectionsPerPrincipal not enforced)
-             guard held < configuration.maxConnectionsPerGroup else {
+             guard held < configuration.maxConnectionsPerGroup || true else {

@ handshake-share-ignored
file   Sources/HTTPServer/HTTPServer.swift
filter BrokerAPITests\.FairShareAPITests
desc   one silent host may hold every slot in unfinished handshakes (maxHandshakesPerAddress not enforced)
-             if handshaking >= configuration.maxHandshakesPerAddress {
+             if handshaking >= configuration.maxHandshakesPerAddress && false {

@ cursor-reveals-journal-position
file   Sources/Broker/Domain+Research.swift
filter BrokerTests\.ResearchFlowTests
desc   the SPOC cursor moves with the journal (others' activity shows in it)
-         let head = released.map { $0.feedPosition ?? 1 }.max() ?? 0
+         let head = max(released.map { $0.feedPosition ?? 1 }.max() ?? 0, state.lastSeq)

@ anchor-truncation-ignored-at-open
file   Sources/Journal/JournalAnchor.swift
filter JournalTests\.JournalAnchorTests|EndToEndTests\.JournalAnchorEndToEndTests
desc   start accepts a journal cut shorter than its head anchor (a lost revocation or audit record goes unnoticed)
-         guard let anchored, let settings, end.seq < anchored.seq else { return nil }
+         guard let anchored, let settings, end.seq < anchored.seq, false else { return nil }

@ anchor-truncation-ignored-by-verify
file   Sources/Journal/VerifyReport.swift
filter JournalTests\.JournalAnchorTests|EndToEndTests\.JournalAnchorEndToEndTests
desc   maracd audit verify says OK for a journal cut shorter than its head anchor
-                 if let anchorRead, let anchorPath, highest < anchorRead.seq {
+                 if let anchorRead, let anchorPath, highest < anchorRead.seq, false {

@ return-version-cap-ignored
file   Sources/Broker/Domain+Research.swift
filter BrokerTests\.ReturnLimitTests|BrokerAPITests\.ReturnLimitAPITests
desc   a request's return may hold any number of versions (memory and every snapshot grow without bound)
-         guard request.returns.count < returnLimits.maxVersions else {
+         guard request.returns.count < returnLimits.maxVersions || true else {

@ credential-issued-to-disabled-principal
file   Sources/Broker/Domain.swift
filter BrokerAPITests\.CredentialAPITests
desc   POST /v1/credentials signs a certificate for a disabled principal
- guard principal.active else {
+ guard principal.active || !principal.active else {

@ weak-rsa-key-accepted
file   Sources/Engine/CredentialIssuer.swift
filter BrokerAPITests\.CredentialAPITests|TLSTests\.PKITests
desc   a CSR with a 1024-bit RSA key is signed
- case (.rsa, _, let bits) where bits >= 2048: break
+ case (.rsa, _, let bits) where bits >= 1024: break

# --- audit log -------------------------------------------------------------------------------------------
@ audit-admin-sees-case-text
file   Sources/Broker/Domain.swift
filter BrokerTests\.RegistryTests|BrokerAPITests\.ResearchFlowAPITests
desc   administrators reading the audit log see the coordinator's case reasons (urgent dispatch, extension)
- records.append(actor.role == .admin ? record.withoutCaseText : record)
+ records.append(record)

@ audit-decline-reason-shown
file   Sources/Broker/Event.swift
filter BrokerTests\.ReviewAttackTests|BrokerTests\.RegistryTests
desc   a declined referral's reason is shown to administrators in the audit log
- AuditDetail.Action.credentialRevoke, AuditDetail.Action.journalAnchorCreated, AuditDetail.Action.journalTruncationAccepted,
+ AuditDetail.Action.credentialRevoke, AuditDetail.Action.journalAnchorCreated, AuditDetail.Action.journalTruncationAccepted, AuditDetail.Action.referralDecide,

# --- journal: hash chain, snapshot anchor, AEAD ----------------------------------------------------------
@ journal-record-not-bound-to-chain
file   Sources/Journal/DiskFormat.swift
filter JournalTests\.(JournalDamageTests|JournalRoundTripTests)
desc   a record's AEAD no longer covers prevHash: a record from another journal with the same key and seq is accepted
- aad.append(contentsOf: prevHash)
+ _ = prevHash

@ journal-snapshot-anchor-unchecked
file   Sources/Journal/Journal.swift
filter JournalTests\.(JournalDamageTests|JournalRoundTripTests)
desc   open accepts a journal whose record at the snapshot's seq does not match the snapshot's hash
- if record.seq == anchor.seq, record.hash != anchor.hash {
+ if record.seq == anchor.seq, record.hash != anchor.hash, anchor.seq == 0 {

@ gcm-tag-not-checked
file   Sources/Crypto/AES-GCM.swift
filter CryptoTests\.CryptoTests|JournalTests\.JournalDamageTests
desc   AES-GCM open ignores the tag check: altered ciphertext, wrong AAD or wrong key decrypt "successfully"
- guard tagSet == 1 else { return false }
-                     guard EVP_DecryptFinal_ex(ctx, p.baseAddress! + total, &produced) == 1 else { return false }
+ guard tagSet == 1 else { return false }
+                     _ = EVP_DecryptFinal_ex(ctx, p.baseAddress! + total, &produced)

@ gcm-opener-tag-not-checked
file   Sources/Crypto/AES-GCM.swift
filter CryptoTests\.GCMOpenerTests|JournalTests\.JournalDamageTests
desc   the journal's AES-GCM opener ignores the tag check: an altered record decrypts "successfully"
- guard EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, Int32(tagLength), tag) == 1 else { return false }
-                         guard EVP_DecryptFinal_ex(ctx, p.baseAddress! + total, &produced) == 1 else { return false }
+ guard EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, Int32(tagLength), tag) == 1 else { return false }
+                         _ = EVP_DecryptFinal_ex(ctx, p.baseAddress! + total, &produced)

@ segment-header-not-authenticated
file   Sources/Journal/DiskFormat.swift
filter JournalTests\.JournalDamageTests
desc   a segment header's seal is not checked (altered header, or another key, accepted at open)
- _ = try AES.GCM.open(Array(bytes[segmentHeaderPlainSize..<segmentHeaderSize]), using: key, authenticating: segmentAADLabel + plain)
+ _ = try? AES.GCM.open(Array(bytes[segmentHeaderPlainSize..<segmentHeaderSize]), using: key, authenticating: segmentAADLabel + plain)

# --- deadlines -------------------------------------------------------------------------------------------
@ dispatch-deadline-exclusive
file   Sources/Broker/Domain+Research.swift
filter BrokerTests\.ResearchFlowTests|BrokerAPITests\.ResearchFlowAPITests
desc   dispatch exactly at the dispatch deadline is refused (> became >=)
- if !followUp && env.now > meeting.dispatchDeadline && !urgent {
+ if !followUp && env.now >= meeting.dispatchDeadline && !urgent {

@ return-deadline-exclusive
file   Sources/Broker/Domain+Research.swift
filter BrokerTests\.ResearchFlowTests|BrokerAPITests\.ResearchFlowAPITests
desc   a return exactly at the (possibly extended) deadline is refused (> became >=)
- if env.now > request.effectiveReturnDeadline {
+ if env.now >= request.effectiveReturnDeadline {

@ return-deadline-ignores-extension
file   Sources/Broker/Domain+Research.swift
filter BrokerTests\.ResearchFlowTests|BrokerAPITests\.ResearchFlowAPITests
desc   a granted extension does not let the agency return after the original deadline
- if env.now > request.effectiveReturnDeadline {
+ if env.now > request.returnDeadline {

@ extension-past-meeting-start
file   Sources/Broker/Domain+Research.swift
filter BrokerTests\.ResearchFlowTests|BrokerAPITests\.ResearchFlowAPITests
desc   an extension may run past the meeting's start (until <= startsAt check always passes)
- } else if body.until > meeting.startsAt {
+ } else if body.until > meeting.startsAt && false {

@ extension-until-start-refused
file   Sources/Broker/Domain+Research.swift
filter BrokerTests\.ResearchFlowTests|BrokerAPITests\.ResearchFlowAPITests
desc   an extension until exactly the meeting start is refused (<= became <)
- } else if body.until > meeting.startsAt {
+ } else if body.until >= meeting.startsAt {

# --- text and field validation ---------------------------------------------------------------------------
@ unknown-field-accepted
file   Sources/Broker/Domain+Cases.swift
filter BrokerTests\.CaseTests|BrokerAPITests\.RegistryAPITests
desc   a case field the policy does not classify is stored (no 422 unknown_field: default deny lost)
- guard policy.classify(path) != nil else {
+ guard policy.classify(path) != nil || SharingPolicy.isValidPath(path) else {

@ dispatch-without-consent
file   Sources/Broker/Domain+Research.swift
filter BrokerTests\.(CaseTests|ResearchFlowTests)|BrokerAPITests\.RegistryAPITests
desc   research is dispatched for a case without a consent record (no 422 consent_missing)
- guard record.consent != nil else {
+ guard record.consent != nil || record.consent == nil else {

@ not-obtained-without-lawful-basis
file   Sources/Broker/Domain+Cases.swift
filter BrokerTests\.CaseTests|BrokerAPITests\.RegistryAPITests
desc   consent "not-obtained" is accepted without a lawful basis
- if consent.status == .notObtained && consent.lawfulBasis == nil {
+ if consent.status == .notObtained && consent.lawfulBasis == nil && consent.status == .obtained {

@ urgent-without-reason
file   Sources/Broker/Domain+Research.swift
filter BrokerTests\.ResearchFlowTests|BrokerAPITests\.ResearchFlowAPITests
desc   an urgent dispatch (after the deadline) is accepted without a reason
- if urgent {
+ if urgent, order.reason != nil {

@ text-control-characters-accepted
file   Sources/Broker/Registry.swift
filter BrokerTests\.(TextValidationTests|RegistryTests)|EndToEndTests\.BadInputTests
desc   free text (names, reasons, questions) may hold control and format characters
- guard multiline, scalar == "\n" || scalar == "\t" || scalar == "\r" else { return false }
+ guard multiline || !multiline else { return false }
# --- erasure by key destruction (SPEC §11.7) ------------------------------------------------------------
@ erasure-note-unsealed
file   Sources/Broker/ContentSealing.swift
filter (BrokerTests\.ErasureTests|BrokerAPITests\.ErasureAPITests)
desc   an action's completion note is stored outside the case's sealed box
- case .actionCompleted(let id, _, _), .actionCancelled(let id, _, _): return caseOf(action: id).flatMap(key(ofSubject:))
+ case .actionCancelled(let id, _, _): return caseOf(action: id).flatMap(key(ofSubject:))

@ erasure-old-snapshot-kept
file   Sources/Engine/BrokerEngine.swift
filter BrokerAPITests\.ErasureAPITests
desc   snapshots taken before an erasure are left on disk, holding the erased content
- if removingOlder { try store.removeSnapshots(before: position.seq) }
+ _ = removingOlder

@ erasure-not-finished-at-start
file   Sources/Engine/BrokerEngine.swift
filter BrokerAPITests\.ErasureAPITests
desc   a crash between the durable erasure and the key's destruction is not finished at the next start
- try Self.finishErasures(in: state, snapshotSeq: replayFrom, head: head, store: store, keys: contentKeys, logger: logger)
+ _ = replayFrom

@ erasure-audit-reason-kept
file   Sources/Broker/ContentSealing.swift
filter (BrokerTests\.ErasureTests|BrokerAPITests\.ErasureAPITests)
desc   an erased case's audit reasons (closure, correction, urgency) stay readable
- audit[index].reason = nil
+ audit[index].reason = audit[index].reason

@ content-key-bad-record-dropped
file   Sources/Journal/ContentKeyStore.swift
filter JournalTests\.ContentKeyStore
desc   a content key record that fails authentication is dropped with the rest of the file (keys lost silently) instead of stopping the store
- do { plain = try opener.open(bytes[body ..< body + length], authenticating: recordAAD(fileID, seq: seq)) } catch {
+ do { plain = try opener.open(bytes[body ..< body + length], authenticating: recordAAD(fileID, seq: seq)) } catch { break

@ content-key-destroy-not-compacted
file   Sources/Journal/ContentKeyStore.swift
filter JournalTests\.ContentKeyStore
desc   destroying content keys rewrites the key file with the destroyed keys still in it
- if path != nil { try rewrite(keys: keys, destroyed: destroyed, state: &state) }
+ if path != nil { try rewrite(keys: state.keys, destroyed: state.destroyed, state: &state) }

@ case-index-relisting-missed
file   Sources/Broker/BrokerState.swift
filter BrokerTests\.DomainIndexTests
desc   a case carried over to another meeting is missing from the meeting+reference index (a duplicate reference is let in)
- reindex(case: id, was: record)
+ _ = record

@ release-timer-uncapped
file   Sources/Engine/ReleaseScheduler.swift
filter EngineTests\.ReleaseSchedulerTests
desc   a scheduled release waits out its whole delay in monotonic time (late after a suspend or a clock jump)
- let delay = min(max(0, date.timeIntervalSince(clock())), longestWait)
+ let delay = max(0, date.timeIntervalSince(clock()))

@ redirect-case-type-unscreened
file   Sources/Broker/Domain+Referrals.swift
filter BrokerAPITests\.ReferralAPITests
desc   a redirection's new case type is not the one screened by the other panel
- switch screen(caseType: caseType, fields: referral.fields
+ switch screen(caseType: referral.caseType, fields: referral.fields

@ last-use-not-saved-at-shutdown
file   Sources/BrokerAPI/CredentialUse.swift
filter BrokerAPITests\.AdministrationPageTests
desc   credentials' last use is lost at a graceful shutdown
- if dirty { saveNow() }
+ if dirty && false { saveNow() }

@ renewal-repeatable
file   Sources/Broker/Domain.swift
filter BrokerAPITests\.CredentialAPITests
desc   a certificate may be renewed again and again (each renewal a new approved credential)
- if let renewal = state.credentials.values.first(where: { $0.renewedFrom == current.serial }) {
+ if let renewal = state.credentials.values.first(where: { $0.renewedFrom == current.serial && false }) {

@ ipv6-share-per-address
file   Sources/HTTPServer/SocketAddress.swift
filter HTTPServerTests\.SocketAddressTests
desc   handshake slots are counted per IPv6 address, not per /64: a host rotating through its /64 takes a share per address
- for index in 8..<16 { address[index] = 0 }
+ for index in 8..<16 where false { address[index] = 0 }

@ key-digest-encoding-dependent
file   Sources/TLS/PrivateKey.swift
filter TLSTests\.PKITests|BrokerAPITests\.CredentialAPITests
desc   the key digest depends on how the EC point is written: the same key with its point compressed is certified again
- if EVP_PKEY_get_base_id(pkey) == EVP_PKEY_EC {
+ if EVP_PKEY_get_base_id(pkey) == EVP_PKEY_EC && false {

@ key-certified-twice
file   Sources/Broker/Domain.swift
filter BrokerAPITests\.CredentialAPITests|BrokerAPITests\.AdministrationPageTests
desc   a key already certified (revoked included) may be certified again (a twin certificate outlives the revocation)
- guard let keySHA256, let holder = state.credentials.values.first(where: { $0.keySHA256 == keySHA256 }) else { return nil }
+ guard let keySHA256, let holder = state.credentials.values.first(where: { $0.keySHA256 == keySHA256 && false }) else { return nil }
MUTANTS_END
)

# ----------------------------------------------------------------------------------------------------
# Helper: parses MUTANTS; lists, checks, applies; copies the working tree.
# ----------------------------------------------------------------------------------------------------
HELPER=$(cat <<'PY'
import os, re, subprocess, sys

def fail(message):
    print("mutants.sh: " + message, file=sys.stderr)
    sys.exit(2)

def parse(text):
    mutants, current = [], None
    for number, raw in enumerate(text.split("\n"), 1):
        line = raw.rstrip("\n")
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith("@ "):
            current = {"id": line[2:].strip(), "old": [], "new": [], "line": number}
            mutants.append(current)
            continue
        if current is None:
            fail(f"MUTANTS line {number}: text before the first '@ id'")
        if line == "-" or line.startswith("- "):
            current["old"].append(line[2:])
        elif line == "+" or line.startswith("+ "):
            current["new"].append(line[2:])
        else:
            key, _, value = line.partition(" ")
            if key not in ("file", "filter", "desc"):
                fail(f"MUTANTS line {number}: unknown key {key!r} in mutant {current['id']}")
            current[key] = value.strip()
    seen = set()
    for m in mutants:
        where = f"mutant {m['id']!r} (MUTANTS line {m['line']})"
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", m["id"]):
            fail(f"{where}: an id is lower-case letters, digits and '-'")
        if m["id"] in seen:
            fail(f"{where}: duplicate id")
        seen.add(m["id"])
        for key in ("file", "filter", "desc"):
            if not m.get(key):
                fail(f"{where}: missing '{key}'")
        if not m["old"]:
            fail(f"{where}: no '- original' line")
        m["original"] = "\n".join(m["old"])
        m["replacement"] = "\n".join(m["new"])
        if m["original"] == m["replacement"]:
            fail(f"{where}: the replacement equals the original")
        try:
            re.compile(m["filter"])
        except re.error as error:
            fail(f"{where}: filter is not a regular expression: {error}")
    return mutants

def select(mutants, only):
    if not only:
        return mutants
    wanted = [i for i in only.split(",") if i]
    known = {m["id"]: m for m in mutants}
    unknown = [i for i in wanted if i not in known]
    if unknown:
        fail("unknown mutant id(s): " + ", ".join(unknown) + " (see --list)")
    return [known[i] for i in dict.fromkeys(wanted)]

def check(mutants, root):
    problems = []
    for m in mutants:
        path = os.path.join(root, m["file"])
        try:
            text = open(path, encoding="utf-8").read()
        except OSError as error:
            problems.append(f"{m['id']}: cannot read {m['file']}: {error.strerror}")
            continue
        count = text.count(m["original"])
        if count != 1:
            problems.append(f"{m['id']}: the original snippet occurs {count} times in {m['file']} (must be exactly once):\n    {m['original']!r}")
    if problems:
        print("mutants.sh: the mutant list does not match the code in " + root + ":", file=sys.stderr)
        for p in problems:
            print("  " + p, file=sys.stderr)
        sys.exit(2)

def sync(root, dest):
    # Tracked and untracked files, not ignored ones: the working tree as the next build would see it.
    out = subprocess.run(["git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         check=True, capture_output=True).stdout
    files = sorted({f for f in out.decode("utf-8", "surrogateescape").split("\0") if f})
    wanted, written = set(), 0
    for rel in files:
        source = os.path.join(root, rel)
        if not os.path.isfile(source) or os.path.islink(source):
            continue  # deleted in the working tree but still in the index, or a symlink/submodule
        wanted.add(rel)
        target = os.path.join(dest, rel)
        data = open(source, "rb").read()
        try:
            if open(target, "rb").read() == data:
                continue  # unchanged: keep its mtime, so the build stays incremental
        except OSError:
            pass
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as f:
            f.write(data)
        os.chmod(target, os.stat(source).st_mode & 0o7777)
        written += 1
    removed = 0
    for directory, subdirs, names in os.walk(dest):
        rel_dir = os.path.relpath(directory, dest)
        if rel_dir == ".":
            subdirs[:] = [d for d in subdirs if d not in (".build", ".git", ".swiftpm")]
        for name in names:
            rel = os.path.normpath(os.path.join(rel_dir, name))
            if rel not in wanted:
                os.remove(os.path.join(directory, name))
                removed += 1
    print(f"{len(wanted)} files, {written} copied, {removed} removed")

def apply(mutant, root, backup):
    path = os.path.join(root, mutant["file"])
    text = open(path, encoding="utf-8").read()
    count = text.count(mutant["original"])
    if count != 1:
        fail(f"{mutant['id']}: the original snippet occurs {count} times in {mutant['file']}")
    os.makedirs(os.path.dirname(backup), exist_ok=True)
    with open(backup, "w", encoding="utf-8") as f:
        f.write(text)
    with open(path, "w", encoding="utf-8") as f:  # in place: same inode, new mtime
        f.write(text.replace(mutant["original"], mutant["replacement"], 1))

def main():
    command, args = sys.argv[1], sys.argv[2:]
    mutants = parse(os.environ["MUTANTS"])
    if command == "tsv":          # only -> id TAB file TAB filter TAB desc
        for m in select(mutants, args[0]):
            print("\t".join((m["id"], m["file"], m["filter"], m["desc"])))
    elif command == "check":      # only root
        check(select(mutants, args[0]), args[1])
    elif command == "apply":      # id root backup
        apply(select(mutants, args[0])[0], args[1], args[2])
    elif command == "sync":       # root dest
        sync(args[0], args[1])
    elif command == "count":      # filter regex, test ids on stdin -> how many ids it matches
        pattern = re.compile(args[0])
        print(sum(1 for line in sys.stdin if pattern.search(line.strip())))
    else:
        fail("helper: unknown command " + command)

main()
PY
)
export MUTANTS

helper() { python3 -c "$HELPER" "$@"; }

# ----------------------------------------------------------------------------------------------------
# Options
# ----------------------------------------------------------------------------------------------------
usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; }

mode=run
only=""
root=""
while (($#)); do
    case $1 in
        --list) mode=list ;;
        --check) mode=check ;;
        --compile-only) mode=compile ;;
        --only) only=${2:?--only needs ID[,ID...]}; shift ;;
        --only=*) only=${1#--only=} ;;
        --root) root=${2:?--root needs a directory}; shift ;;
        --root=*) root=${1#--root=} ;;
        -h|--help) usage; exit 0 ;;
        *) echo "mutants.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

if [[ -z $root ]]; then
    root=$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel)
fi
root=$(cd "$root" && pwd)
[[ -f $root/Package.swift ]] || { echo "mutants.sh: $root has no Package.swift" >&2; exit 2; }

# Parse (and validate) the list, in the order given.
tsv=$(helper tsv "$only") || exit 2
ids=() files=() filters=() descs=()
while IFS=$'\t' read -r id file filter desc; do
    ids+=("$id"); files+=("$file"); filters+=("$filter"); descs+=("$desc")
done <<<"$tsv"
count=${#ids[@]}

if [[ $mode == list ]]; then
    echo "| id | file | filter | description |"
    echo "|---|---|---|---|"
    for ((i = 0; i < count; i++)); do
        echo "| ${ids[i]} | ${files[i]} | \`${filters[i]//|/\\|}\` | ${descs[i]} |"
    done
    echo
    echo "$count mutants"
    exit 0
fi

if [[ $mode == check ]]; then
    helper check "$only" "$root" || exit 2
    echo "all $count snippets occur exactly once in $root"
    exit 0
fi

# ----------------------------------------------------------------------------------------------------
# Run
# ----------------------------------------------------------------------------------------------------
scratch=${MUTANTS_DIR:-/tmp/marac-mutants}
src=$scratch/src
logs=$scratch/logs
pristine=$scratch/pristine
timeout_seconds=${MUTANT_TIMEOUT:-900}
build_timeout_seconds=${MUTANT_BUILD_TIMEOUT:-3600}
case $src/ in "$root"/*) echo "mutants.sh: MUTANTS_DIR must be outside $root" >&2; exit 2 ;; esac
mkdir -p "$src" "$logs" "$pristine"

say() { printf '%s\n' "$*" >&2; }
now() { date +%s; }

# The file currently mutated, restored on any exit; the build or test running now, stopped on a signal.
applied_file=""
applied_backup=""
child=""
restore() {
    [[ -n $applied_file ]] || return 0
    # No backup: the mutant was never written (the helper stops before writing anything else).
    [[ -f $applied_backup ]] || { applied_file=""; return 0; }
    cp "$applied_backup" "$src/$applied_file"
    if ! cmp -s "$applied_backup" "$src/$applied_file"; then
        say "mutants.sh: could not restore $src/$applied_file from $applied_backup"
        exit 2
    fi
    applied_file=""
}
stop_child() {
    [[ -n $child ]] || return 0
    # `timeout` runs in its own process group (its pid): stop it and everything it started.
    kill -TERM -- "-$child" 2>/dev/null || true
    wait "$child" 2>/dev/null || true
    child=""
}
on_signal() {
    say "interrupted: stopping, restoring ${applied_file:-nothing}"
    stop_child
    restore
    exit 130
}
trap 'stop_child; restore' EXIT
trap on_signal INT TERM HUP

say "== copying the working tree of $root to $src"
helper sync "$root" "$src" >&2 || exit 2
helper check "$only" "$src" || exit 2

cd "$src"

# Runs a command in the scratch copy under `timeout` and `nice`, in the background so that a signal
# reaches the trap at once (bash runs traps only between foreground commands).
run_logged() {  # seconds log command...
    local limit=$1 log=$2 status=0
    shift 2
    timeout --kill-after=30 "$limit" nice -n 10 "$@" >"$log" 2>&1 </dev/null &
    child=$!
    wait "$child" || status=$?
    child=""
    return "$status"
}

build() {  # log
    run_logged "$build_timeout_seconds" "$1" swift build --build-tests
}

run_tests() {  # filter log
    run_logged "$timeout_seconds" "$2" swift test --skip-build --filter "$1"
}

say "== baseline build (logs in $logs)"
started=$(now)
if ! build "$logs/baseline.build.log"; then
    say "baseline build FAILED; the unmutated copy must build. Last lines of $logs/baseline.build.log:"
    tail -n 30 "$logs/baseline.build.log" >&2
    exit 2
fi
say "   built in $(( $(now) - started )) s"

# Every filter must name at least one test: a filter matching nothing would let any mutant "survive"
# silently, or (worse, for a mistyped filter in the baseline) pass without running anything.
run_logged 600 "$logs/test-list.log" swift test list --skip-build || {
    say "swift test list failed; see $logs/test-list.log"; exit 2; }
# The test ids: "Target.Suite/test()" lines (the log also holds the build planner's lines).
grep -E '^[A-Za-z_][A-Za-z0-9_]*\.[^ ]+$' "$logs/test-list.log" >"$logs/test-list.txt" || true
unmatched=0
combined=""
for ((i = 0; i < count; i++)); do
    n=$(helper count "${filters[i]}" <"$logs/test-list.txt")
    if [[ $n == 0 ]]; then
        say "mutant ${ids[i]}: filter '${filters[i]}' matches no test (see $logs/test-list.txt)"
        unmatched=1
    fi
    case "|$combined|" in *"|(${filters[i]})|"*) ;; *) combined+="${combined:+|}(${filters[i]})" ;; esac
done
((unmatched == 0)) || exit 2

if [[ $mode == run ]]; then
    say "== baseline tests: every selected mutant's filter on the unmutated copy"
    started=$(now)
    status=0
    run_tests "$combined" "$logs/baseline.test.log" || status=$?
    if ((status != 0)); then
        say "baseline tests FAILED (exit $status) on the unmutated copy; fix them first. Last lines of $logs/baseline.test.log:"
        tail -n 40 "$logs/baseline.test.log" >&2
        exit 2
    fi
    say "   passed in $(( $(now) - started )) s"
fi

results=() seconds=()
killed=0 survived=0 invalid=0
for ((i = 0; i < count; i++)); do
    id=${ids[i]}
    say "== [$((i + 1))/$count] $id: ${descs[i]}"
    started=$(now)
    applied_backup=$pristine/$id.orig
    rm -f "$applied_backup"
    applied_file=${files[i]}
    helper apply "$id" "$src" "$applied_backup" || exit 2
    if ! build "$logs/$id.build.log"; then
        result=invalid
        invalid=$((invalid + 1))
        say "   does not compile: $logs/$id.build.log"
    elif [[ $mode == compile ]]; then
        result=compiles
    else
        status=0
        run_tests "${filters[i]}" "$logs/$id.test.log" || status=$?
        if ((status == 0)); then
            result=SURVIVED
            survived=$((survived + 1))
        elif ((status == 124 || status == 137)); then
            result="killed (timeout)"
            killed=$((killed + 1))
        else
            result=killed
            killed=$((killed + 1))
        fi
    fi
    restore
    results+=("$result")
    seconds+=("$(( $(now) - started ))")
    say "   $result in ${seconds[i]} s"
done

{
    echo "| id | file | description | result | seconds |"
    echo "|---|---|---|---|---|"
    for ((i = 0; i < count; i++)); do
        echo "| ${ids[i]} | ${files[i]} | ${descs[i]} | ${results[i]} | ${seconds[i]} |"
    done
    echo
    if [[ $mode == compile ]]; then
        echo "$((count - invalid)) compile, $invalid invalid (no test was run)"
    else
        echo "$killed killed, $survived survived, $invalid invalid"
    fi
} | tee "$scratch/report.md"

if ((survived > 0)); then exit 1; fi
if ((invalid > 0)); then exit 3; fi
exit 0
