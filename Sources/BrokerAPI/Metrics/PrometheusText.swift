/// Writes the Prometheus text exposition format (version 0.0.4): `# HELP` and `# TYPE` once per
/// family, then its samples. Label values are escaped (backslash, double quote, newline), so no
/// value can end a label or start a new sample.
struct PrometheusText {
    /// `Content-Type` of a scrape answer.
    static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    private(set) var text = ""

    /// Starts a metric family.
    mutating func family(_ name: String, _ type: String, _ help: String) {
        text += "# HELP \(name) \(help.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n"))\n"
        text += "# TYPE \(name) \(type)\n"
    }

    /// One sample of the current family.
    mutating func sample(_ name: String, _ labels: KeyValuePairs<String, String> = [:], _ value: Double) {
        text += name
        if !labels.isEmpty {
            text += "{" + labels.map { "\($0.key)=\"\(Self.escape($0.value))\"" }.joined(separator: ",") + "}"
        }
        text += " \(Self.format(value))\n"
    }

    /// A whole histogram: cumulative `_bucket`s with `le`, then `_sum` and `_count`.
    mutating func histogram(_ name: String, _ help: String, bounds: [Double], buckets: [UInt64], sum: Double, count: UInt64) {
        family(name, "histogram", help)
        var cumulative: UInt64 = 0
        for (bound, inBucket) in zip(bounds, buckets) {
            cumulative += inBucket
            sample(name + "_bucket", ["le": Self.format(bound)], Double(cumulative))
        }
        sample(name + "_bucket", ["le": "+Inf"], Double(count))
        sample(name + "_sum", [:], sum)
        sample(name + "_count", [:], Double(count))
    }

    static func escape(_ value: String) -> String {
        var escaped = ""
        for character in value.unicodeScalars {
            switch character {
            case "\\": escaped += "\\\\"
            case "\"": escaped += "\\\""
            case "\n": escaped += "\\n"
            default: escaped.unicodeScalars.append(character)
            }
        }
        return escaped
    }

    /// Integers without a fraction; others as Swift prints a `Double` (which Prometheus reads).
    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }
}
