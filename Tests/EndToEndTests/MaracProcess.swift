import Foundation
import TestSupport

/// The built `marac` binary, run as a child process with an environment made
/// only of what the test gives it (plus PATH), so the developer's own
/// `MARAC_*` settings or profile can never leak into a test.
struct MaracCLI {
    /// HOME for the child: an empty directory, so no profile is found unless a test writes one.
    let home: String
    var environment: [String: String]

    init(home: String, url: String, ca: String) {
        self.home = home
        environment = ["HOME": home, "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin",
                       "TZ": "Europe/London", "MARAC_URL": url, "MARAC_CA": ca]
        // Under faketime (the suite run a year ahead) the child keeps the test's clock.
        for (name, value) in ProcessInfo.processInfo.environment where name == "LD_PRELOAD" || name.hasPrefix("FAKETIME") {
            environment[name] = value
        }
    }

    static var executable: String { BuiltProducts.path("marac") }

    /// Runs `marac arguments` to completion; `shell`, if given, runs first in `/bin/sh`, which then execs marac
    /// (e.g. `umask 000`, or a prefix such as `umask 000; exec strace -o FILE`).
    func run(_ arguments: [String], as user: CLIUser? = nil, env extra: [String: String] = [:], shell: String? = nil) async throws -> CLIResult {
        let process = MaracProcess((user?.arguments ?? []) + arguments, environment: environment.merging(extra) { $1 }, shell: shell)
        return try await offPool { try process.finish() }
    }

    /// Starts `marac arguments` in the background (for `requests watch`).
    func start(_ arguments: [String], as user: CLIUser? = nil, env extra: [String: String] = [:], shell: String? = nil) throws -> MaracProcess {
        let process = MaracProcess((user?.arguments ?? []) + arguments, environment: environment.merging(extra) { $1 }, shell: shell)
        try process.launch()
        return process
    }
}

/// What a finished `marac` run printed, and its exit status.
struct CLIResult: Sendable {
    let status: Int32
    let stdout: String
    let stderr: String
}

/// A certificate and key to run `marac` as.
struct CLIUser: Sendable {
    let certificate: String
    let key: String
    var arguments: [String] { ["--cert", certificate, "--key", key] }
}

/// One `marac` child process with stdout and stderr captured as they arrive.
final class MaracProcess: @unchecked Sendable {
    let process = Process()
    private let out = Pipe(), err = Pipe()
    private let lock = NSLock()
    private var outData = Data(), errData = Data()

    /// `shell`: commands for `/bin/sh` to run before it execs marac (`umask 000`); the
    /// text after its last `;` may be a prefix for the exec (`exec strace -o FILE`).
    init(_ arguments: [String], environment: [String: String], shell: String? = nil) {
        if let shell {
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            let exec = shell.contains("exec ") ? "" : "; exec"
            process.arguments = ["-c", "\(shell)\(exec) \"$0\" \"$@\"", MaracCLI.executable] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: MaracCLI.executable)
            process.arguments = arguments
        }
        process.environment = environment
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
    }

    deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }

    func launch() throws {
        out.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self, !data.isEmpty else { handle.readabilityHandler = nil; return }   // EOF
            self.lock.withLock { self.outData.append(data) }
        }
        err.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self, !data.isEmpty else { handle.readabilityHandler = nil; return }   // EOF
            self.lock.withLock { self.errData.append(data) }
        }
        try process.run()
    }

    /// Runs to completion (blocking) and answers what it printed.
    func finish() throws -> CLIResult {
        try process.run()
        let outBytes = out.fileHandleForReading.readDataToEndOfFile()
        let errBytes = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return CLIResult(status: process.terminationStatus, stdout: String(decoding: outBytes, as: UTF8.self),
                          stderr: String(decoding: errBytes, as: UTF8.self))
    }

    var stdout: String { lock.withLock { String(decoding: outData, as: UTF8.self) } }
    var stderr: String { lock.withLock { String(decoding: errData, as: UTF8.self) } }

    /// Polls until `condition` holds or `timeout` passes.
    func wait(timeout: TimeInterval = 20, until condition: (MaracProcess) -> Bool) async -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition(self) { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return condition(self)
    }

    /// SIGTERM, then the exit status.
    func stop() async -> Int32? {
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning && Date() < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        return process.isRunning ? nil : process.terminationStatus
    }
}
