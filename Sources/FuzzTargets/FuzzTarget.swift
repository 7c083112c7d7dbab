import Foundation

/// The fuzzed entry points, shared by the libFuzzer executable (`marac-fuzz`,
/// built with `-DFUZZING`) and the regression tests that replay
/// `fuzz/regressions/` and `fuzz/corpus/` in a normal `swift test`.
///
/// Every target takes arbitrary bytes, drives public API of one module the way
/// the server does, and checks the invariants that must hold whatever the
/// input. A broken invariant is a `preconditionFailure`, which libFuzzer
/// reports as a crash and saves the input.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// `HTTPParser` fed in chunks, as the socket delivers bytes.
    case httpParser = "http-parser"
    /// `JSON.decode` (strict) into every endpoint's request body type.
    case jsonBodies = "json-bodies"
    /// A journal segment's records after a valid header, through `Journal.verify`, and the
    /// broker's journal entry decoder.
    case journal
    /// PEM certificates, CSRs and keys through `TLS`.
    case pem
    /// `JSON.decodeStored` (journal entries, snapshots) against `JSONDecoder`.
    case storedJSON = "stored-json"

    /// Runs one input through the target.
    public func run(_ bytes: [UInt8]) {
        switch self {
        case .httpParser: HTTPParserFuzz.run(bytes)
        case .jsonBodies: JSONBodiesFuzz.run(bytes)
        case .journal: JournalFuzz.run(bytes)
        case .pem: PEMFuzz.run(bytes)
        case .storedJSON: StoredJSONFuzz.run(bytes)
        }
    }

    /// The target named by `MARAC_FUZZ_TARGET` (libFuzzer has no place for our own flags).
    public static func fromEnvironment() -> FuzzTarget {
        let name = ProcessInfo.processInfo.environment["MARAC_FUZZ_TARGET"] ?? ""
        guard let target = FuzzTarget(rawValue: name) else {
            let names = allCases.map(\.rawValue).joined(separator: ", ")
            FileHandle.standardError.write(Data("marac-fuzz: set MARAC_FUZZ_TARGET to one of: \(names)\n".utf8))
            exit(2)
        }
        return target
    }
}
