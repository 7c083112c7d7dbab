import Foundation

/// The Python venv with the tests' independent tools (schemathesis, prometheus_client,
/// Playwright), made by `scripts/test-venv.sh` from `Tests/python/requirements.txt`.
///
/// The first test that asks runs the script (a second when the venv is current; a few minutes
/// on a fresh machine), so `swift test` alone sets it up. Where it cannot be made the tests that
/// need it fail: they never pass by not running. `MARAC_SKIP_VENV=1` skips them instead, for a
/// local run without network access, and says so in the test report.
public enum TestVenv {
    /// False when `MARAC_SKIP_VENV=1`: tests that need the venv are reported as skipped.
    public static let isEnabled = ProcessInfo.processInfo.environment["MARAC_SKIP_VENV"] != "1"

    /// The repository's root.
    public static var repository: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }

    /// A script under `Tests/python/`.
    public static func script(_ name: String) -> String { repository + "/Tests/python/" + name }

    private static let made = Task<Result<String, VenvMissing>, Never> {
        do {
            let result = try await Tool.runAsync("bash", [repository + "/scripts/test-venv.sh"])
            let path = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            guard result.status == 0, FileManager.default.isExecutableFile(atPath: path + "/bin/python") else {
                return .failure(VenvMissing(detail: "scripts/test-venv.sh exited \(result.status): \(result.stderr.suffix(2000))"))
            }
            return .success(path)
        } catch {
            return .failure(VenvMissing(detail: "\(error)"))
        }
    }

    /// The venv's `python`, making the venv first if needed.
    /// - Throws: `VenvMissing` when it cannot be made (no network, no `python3 -m venv`).
    public static func python() async throws -> String {
        try await made.value.get() + "/bin/python"
    }

    /// The venv could not be made; the message says how to make it or skip its tests.
    public struct VenvMissing: Error, CustomStringConvertible {
        public let detail: String
        public var description: String {
            "the tests' Python venv is missing and could not be made (\(detail)); run scripts/test-venv.sh, or set MARAC_SKIP_VENV=1 to skip these tests"
        }
    }
}
