import Foundation
import MaracClient
import Testing
import TestSupport
import Wire

/// SPEC §10: files the CLI writes with case content are mode 0600 from the
/// first byte — created 0600 by `open(2)` itself, never chmod-ed afterwards —
/// whatever the umask.
extension MaracCLITests {
    @Test func packAndSavedRequestsAre0600FromTheFirstByteEvenWithUmask000() async throws {
        try #require(Tool.available("strace"), "strace is needed (.ci/run installs it)")
        try await withTestBroker { broker in
            let dir = try TemporaryDirectory()
            let cli = MaracCLI(home: dir.path("home"), url: broker.url, ca: broker.pki.caCertificatePath)
            let (spoc, coord) = try await policeSPOCAndCoordinator(broker)
            let meetingID = try json(try await cli.run(["meeting", "create", "--at", RFC3339.format(Self.meetingStart), "--title", "M", "--json"], as: coord))["id"].string ?? ""
            let caseFile = try dir.write("case.json", Array(#"{"reference": "MARAC-U", "fields": {"victim.name": "V"}, "consent": {"status": "obtained"}}"#.utf8))
            let caseID = try #require(try json(try await cli.run(["case", "create", "--meeting", meetingID, "--file", caseFile, "--json"], as: coord))["id"].string)
            let questions = try dir.write("q.txt", Array("Known?\n".utf8))
            _ = try json(try await cli.run(["research", "dispatch", caseID, "--agencies", "police", "--questions-file", questions, "--json"], as: coord))

            // The pack, written under umask 000 and traced: one O_EXCL open with mode 0600, a rename, no chmod.
            let packFile = dir.path("pack.txt"), trace = dir.path("pack.strace")
            // An old pack, readable by all, is replaced by a private one.
            try dir.write("pack.txt", Array("old\n".utf8), mode: 0o644)
            let pack = try await cli.run(["case", "pack", caseID, "-o", packFile], as: coord,
                                         shell: "umask 000; exec strace -f -qq -e trace=open,openat,creat,chmod,fchmod,fchmodat,rename,renameat,renameat2 -o \(trace)")
            #expect(pack.status == 0, "\(pack.stderr)")
            #expect(try mode(packFile) == 0o600)
            #expect(try String(contentsOfFile: packFile, encoding: .utf8).contains("MARAC-U"))
            let calls = try String(contentsOfFile: trace, encoding: .utf8).split(separator: "\n").map(String.init)
            let creates = calls.filter { $0.contains(dir.path(".pack.txt.")) && $0.contains("O_CREAT") }
            #expect(creates.count == 1, "\(calls.joined(separator: "\n"))")
            #expect(creates.allSatisfy { $0.contains("O_EXCL") && $0.contains(", 0600)") }, "\(creates)")
            #expect(calls.contains { $0.contains("rename") && $0.contains("\"\(packFile)\"") }, "\(calls.joined(separator: "\n"))")
            #expect(!calls.contains { $0.contains("chmod(") && !$0.contains("= -1") }, "no chmod after the fact: \(calls.filter { $0.contains("chmod") })")
            #expect(!calls.contains { $0.contains("\"\(packFile)\"") && $0.contains("O_CREAT") }, "the pack itself is never opened for writing")

            // requests watch --save under umask 000: the saved request and the cursor are 0600.
            let inbox = dir.path("inbox")
            let watch = try cli.start(["requests", "watch", "--save", inbox, "--wait", "1", "--backoff-max", "0.5"], as: spoc, shell: "umask 000")
            #expect(await watch.wait { $0.stdout.contains("saved") }, "\(watch.stdout) \(watch.stderr)")
            #expect(await watch.wait { _ in FileManager.default.fileExists(atPath: "\(inbox)/.marac-cursor") })
            #expect(await watch.stop() == 0)
            let saved = try FileManager.default.contentsOfDirectory(atPath: inbox).filter { $0.hasSuffix(".json") }
            #expect(saved.count == 1, "\(saved)")
            for name in saved + [".marac-cursor"] { #expect(try mode("\(inbox)/\(name)") == 0o600, "\(name)") }
            #expect(try FileManager.default.contentsOfDirectory(atPath: inbox).allSatisfy { !$0.hasSuffix(".tmp") }, "no temporary file left behind")
        }
    }
}
