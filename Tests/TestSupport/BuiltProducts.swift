import Foundation

/// Executables built next to the test bundle (`swift build` builds them; the README's test command runs it first).
public enum BuiltProducts {
    public static var directory: URL {
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        // .build/<triple>/debug/marac-brokerPackageTests.xctest (a file on Linux)
        while url.pathComponents.count > 1 {
            url.deleteLastPathComponent()
            if FileManager.default.isExecutableFile(atPath: url.appendingPathComponent("maracd").path) { return url }
        }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(".build/debug")
    }

    /// Full path of a built executable, e.g. `maracd`.
    public static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
}

/// A child process (the real `maracd`) with captured stderr, killed on deinit.
public final class RunningProcess: @unchecked Sendable {
    public let process = Process()
    private let errPipe = Pipe()
    private let lock = NSLock()
    private var captured = Data()

    public init(_ executable: String, _ arguments: [String], directory: String? = nil) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        process.standardError = errPipe
        process.standardOutput = FileHandle.nullDevice
        errPipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self else { return }
            self.lock.withLock { self.captured.append(data) }
        }
        try process.run()
    }

    deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }

    public var stderr: String { lock.withLock { String(decoding: captured, as: UTF8.self) } }

    /// Waits until stderr contains `text` or `timeout` passes.
    public func waitForLog(_ text: String, timeout: TimeInterval = 20) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if stderr.contains(text) { return true }
            if !process.isRunning { return stderr.contains(text) }
            usleep(20_000)
        }
        return false
    }

    /// The port from the `listening` log line.
    public func listeningPort(timeout: TimeInterval = 20) -> Int? {
        guard waitForLog("\"event\":\"listening\"", timeout: timeout) else { return nil }
        for line in stderr.split(separator: "\n") where line.contains("\"event\":\"listening\"") {
            if let range = line.range(of: #"127\.0\.0\.1:(\d+)"#, options: .regularExpression) {
                return Int(line[range].split(separator: ":").last!)
            }
        }
        return nil
    }

    public func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    /// Waits for exit; returns the status, or nil on timeout.
    public func waitForExit(timeout: TimeInterval = 20) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        return process.isRunning ? nil : process.terminationStatus
    }
}
