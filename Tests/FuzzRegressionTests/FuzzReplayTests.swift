import Foundation
import FuzzTargets
import Testing

/// Replays every saved fuzz input through the same entry point libFuzzer drives, in a normal
/// test run: `fuzz/regressions/<target>/` holds inputs that once crashed (each fixed),
/// `fuzz/corpus/<target>/` the seeds. A regression crashes this test process.
@Suite struct FuzzReplayTests {
    static var fuzzDirectory: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("fuzz")
    }

    static func inputs(_ kind: String, _ target: FuzzTarget) -> [URL] {
        let folder = fuzzDirectory.appendingPathComponent(kind).appendingPathComponent(target.rawValue)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted().map { folder.appendingPathComponent($0) }
    }

    /// Targets with at least one saved crash. None has crashed yet, so this test is reported as
    /// skipped (not passed) until scripts/fuzz.sh finds something and its input is filed here.
    static var targetsWithRegressions: [FuzzTarget] { FuzzTarget.allCases.filter { !inputs("regressions", $0).isEmpty } }

    @Test(.enabled(if: !targetsWithRegressions.isEmpty, "no fuzz input has crashed a target yet: fuzz/regressions/*/ hold only .keep"),
          arguments: targetsWithRegressions)
    func regressionsStayFixed(_ target: FuzzTarget) throws {
        let files = Self.inputs("regressions", target)
        #expect(!files.isEmpty)
        for file in files {
            let bytes = [UInt8](try Data(contentsOf: file))
            #expect(!bytes.isEmpty, "\(file.lastPathComponent) is empty")
            target.run(bytes)   // a regression crashes this process, naming the target and file in the log above it
        }
    }

    @Test(arguments: FuzzTarget.allCases)
    func seedCorpusRunsCleanly(_ target: FuzzTarget) throws {
        let seeds = Self.inputs("corpus", target)
        #expect(!seeds.isEmpty, "fuzz/corpus/\(target.rawValue) has no seeds")
        for file in seeds {
            target.run([UInt8](try Data(contentsOf: file)))
        }
    }
}

/// The journal target writes its input to one scratch segment file; test cases run in
/// parallel, so concurrent runs must not see each other's half-written files.
@Suite struct FuzzTargetConcurrencyTests {
    @Test func journalTargetIsSafeFromManyThreads() async throws {
        let seeds = FuzzReplayTests.inputs("corpus", .journal).compactMap { try? [UInt8](Data(contentsOf: $0)) }
        await withTaskGroup(of: Void.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    for round in 0..<60 { FuzzTarget.journal.run(seeds[(worker + round) % seeds.count]) }
                }
            }
        }
    }
}
