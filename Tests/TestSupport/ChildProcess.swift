import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs an independent tool (curl, openssl, python3) and captures its output.
public struct ToolResult: Sendable {
    public let status: Int32
    public let stdout: String
    public let stderr: String
}

/// An independent tool a test needs is not installed: the test fails rather than
/// reading the shell's "not found" exit status as the refusal it expected.
public struct ToolMissing: Error, CustomStringConvertible {
    public let name: String
    public var description: String { "\(name) is not installed (.ci/run installs it)" }
}

public enum Tool {
    /// Whether `name` is on PATH.
    public static func available(_ name: String) -> Bool {
        (try? run("/bin/sh", ["-c", "command -v \(name)"]).status) == 0
    }

    /// Runs `executable` with `arguments`, feeding `input` on stdin; blocks until it exits.
    /// Call from a detached context (it blocks its thread).
    /// - Throws: `ToolMissing` when `executable` is a name not on PATH.
    @discardableResult
    public static func run(_ executable: String, _ arguments: [String], input: String? = nil, environment: [String: String]? = nil) throws -> ToolResult {
        if !executable.hasPrefix("/"), !available(executable) { throw ToolMissing(name: executable) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable.hasPrefix("/") ? executable : "/usr/bin/env")
        process.arguments = executable.hasPrefix("/") ? arguments : [executable] + arguments
        if let environment { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        let out = Pipe(), err = Pipe(), inPipe = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = inPipe
        try process.run()
        if let input { inPipe.fileHandleForWriting.write(Data(input.utf8)) }
        try? inPipe.fileHandleForWriting.close()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return ToolResult(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                          stderr: String(decoding: errData, as: UTF8.self))
    }

    /// `run` off the cooperative thread pool, for async tests.
    public static func runAsync(_ executable: String, _ arguments: [String], input: String? = nil, environment: [String: String]? = nil) async throws -> ToolResult {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try run(executable, arguments, input: input, environment: environment) })
            }
        }
    }
}

/// Runs blocking work on a Dispatch thread so async tests never block the cooperative pool
/// (the server under test needs it to answer).
public func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
    }
}

/// Whether this process may mount a tmpfs (root, or a user namespace that allows it): the
/// full-disk tests that need a real small filesystem are enabled only then, and are
/// reported as skipped, not passed, elsewhere.
public enum Tmpfs {
    public static let isAvailable: Bool = {
        guard let directory = try? TemporaryDirectory() else { return false }
        let point = directory.path("probe")
        guard (try? FileManager.default.createDirectory(atPath: point, withIntermediateDirectories: true)) != nil,
              mount("tmpfs", point, "tmpfs", 0, "size=1m") == 0 else { return false }
        umount2(point, Int32(MNT_DETACH))
        return true
    }()
}
