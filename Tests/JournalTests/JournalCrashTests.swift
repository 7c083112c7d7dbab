import Crypto
import Foundation
import Testing
import TestSupport
@testable import Journal
#if canImport(Glibc)
import Glibc
#endif

/// A child process appends in a loop and prints each acknowledged seq; it is
/// killed with SIGKILL at random moments and every acknowledged record must survive.
@Suite struct JournalCrashTests {
    /// The `journal-bench` executable built next to the test bundle (`swift test` builds every product).
    static func benchExecutable() -> String? {
        var candidates: [String] = []
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
            for _ in 0..<4 {
                candidates.append(dir.appendingPathComponent("journal-bench").path)
                dir = dir.deletingLastPathComponent()
            }
        }
        candidates.append(Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("journal-bench").path)
        let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        candidates.append(packageRoot.appendingPathComponent(".build/debug/journal-bench").path)
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    @Test func sigkillAtRandomMomentsLosesNoAcknowledgedRecord() async throws {
        let executable = try #require(Self.benchExecutable(), "journal-bench not found next to the test bundle; run `swift build` first")
        try await withTemporaryDirectory { dir in
            let keyPath = dir + "/journal.key"
            let key = try KeyFile.create(at: keyPath)
            let data = dir + "/data"
            var acknowledged: [UInt64: String] = [:]
            var rng = SplitMix64(seed: 0xC0FFEE)
            var tornCuts = 0
            for round in 0..<20 {
                let outPath = dir + "/out-\(round).txt"
                _ = FileManager.default.createFile(atPath: outPath, contents: nil)
                let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
                let child = Process()
                child.executableURL = URL(fileURLWithPath: executable)
                child.arguments = ["append-loop", "--dir", data, "--key-file", keyPath, "--appenders", "4"]
                child.standardOutput = out
                try child.run()
                try await Task.sleep(nanoseconds: 60_000_000 + rng.next() % 200_000_000)
                kill(child.processIdentifier, SIGKILL)
                child.waitUntilExit()
                try out.close()
                #expect(child.terminationReason == .uncaughtSignal, "round \(round): the child stopped by itself (status \(child.terminationStatus))")

                let text = String(decoding: try readFile(outPath), as: UTF8.self)
                // Only whole lines: a line is printed after its record was acknowledged; a kill may cut the last one.
                var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
                lines.removeLast()
                for line in lines {
                    let fields = line.split(separator: " ")
                    guard fields.count == 2, let seq = UInt64(fields[0]) else { Issue.record("bad line \(line)"); continue }
                    #expect(acknowledged[seq] == nil, "seq \(seq) acknowledged twice")
                    acknowledged[seq] = String(fields[1])
                }

                let logs = LogLines()
                let journal = try Journal.open(directory: data, key: key, log: logs.sink)
                let stored = try records(journal)
                journal.close()
                if !logs.lines.isEmpty { tornCuts += 1 }
                #expect(stored.map(\.seq) == Array(stride(from: 1, through: stored.last?.seq ?? 0, by: 1)))
                let bySeq = Dictionary(uniqueKeysWithValues: stored.map { ($0.seq, $0) })
                for (seq, id) in acknowledged {
                    let record = bySeq[seq]
                    #expect(record != nil, "round \(round): acknowledged seq \(seq) lost")
                    #expect(record.map { String(decoding: $0.payload, as: UTF8.self) } == "crash-test \(id)", "round \(round): seq \(seq)")
                }
            }
            #expect(acknowledged.count > 100, "the child acknowledged only \(acknowledged.count) records in 20 rounds")
            let report = Journal.verify(directory: data, key: key)
            #expect(report.isValid, "\(report)")
            print("crash test: \(acknowledged.count) acknowledged records over 20 SIGKILL rounds; \(report.recordCount) in the journal, \(report.segmentCount) segments; a torn tail was cut after \(tornCuts) of the kills")
        }
    }
}
