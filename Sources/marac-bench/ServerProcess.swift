import Foundation

/// CPU time and memory of the server under test, from /proc (Linux).
enum ServerProcess {
    /// utime + stime of every process in `pids`, in seconds.
    static func cpuSeconds(_ pids: [Int32]) -> Double? {
        guard !pids.isEmpty else { return nil }
        var total = 0.0
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        for pid in pids {
            guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = text.lastIndex(of: ")") else { return nil }
            // Fields after "(comm)": state is field 3, utime 14, stime 15.
            let fields = text[text.index(after: close)...].split(separator: " ")
            guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
            total += (user + system) / ticks
        }
        return total
    }

    /// Resident set size of `pid` in bytes (VmRSS).
    static func residentBytes(_ pid: Int32) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            if parts.count >= 2, let kib = Int(parts[1]) { return kib * 1024 }
        }
        return nil
    }
}

/// The figures of one run: printed one per line and merged into a JSON file.
/// Used from the main thread only; Sendable so that `Load` can be captured by loop closures.
final class Report: @unchecked Sendable {
    private(set) var figures: [(String, Double, String)] = []
    let label: String

    init(label: String) { self.label = label }

    /// Records and prints one figure, e.g. `nginx keepalive c=64 requests_per_s 28123`.
    func add(_ name: String, _ value: Double, _ unit: String) {
        let key = label.isEmpty ? name : "\(label).\(name)"
        guard value.isFinite else {
            // No sample (nothing answered in the window): said on stdout, left out of the JSON.
            FileHandle.standardOutput.write(Data("\(key) n/a \(unit)\n".utf8))
            return
        }
        figures.append((key, value, unit))
        let shown = value >= 100 || value == value.rounded() ? String(format: "%.0f", value) : String(format: "%.3f", value)
        FileHandle.standardOutput.write(Data("\(key) \(shown) \(unit)\n".utf8))
    }

    /// Adds this run's figures to the JSON object in `path` (created if absent): `{key: {value, unit}}`.
    func merge(into path: String) throws {
        var object: [String: Any] = [:]
        if let data = FileManager.default.contents(atPath: path), !data.isEmpty {
            object = (try JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
        }
        for (key, value, unit) in figures { object[key] = ["value": value, "unit": unit] }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: URL(fileURLWithPath: path))
    }
}

/// Percentile by nearest rank of sorted values.
func percentile(_ sorted: [Double], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return .nan }
    let rank = Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1
    return sorted[min(max(rank, 0), sorted.count - 1)]
}
