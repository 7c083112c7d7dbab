import Foundation
import Wire

/// A configuration file that cannot be used: names the file, the key (a path
/// such as `fields["victim.name"]` or `categories.contact[1]`) and what is wrong,
/// so that start can stop with a message an administrator can act on.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file, as given to the loader (e.g. `config/policy.json`).
    public let file: String
    /// The key within the file; empty when the whole file is at fault.
    public let key: String
    /// What is wrong.
    public let message: String

    /// Creates an error.
    public init(file: String, key: String, message: String) {
        self.file = file
        self.key = key
        self.message = message
    }

    /// `file: key: message`.
    public var description: String {
        key.isEmpty ? "\(file): \(message)" : "\(file): \(key): \(message)"
    }
}

/// The sharing-policy loader's errors are configuration errors.
public typealias PolicyError = ConfigError

/// Parses a configuration file into a `JSONValue` object.
func loadJSONObject(_ data: Data, file: String) throws(ConfigError) -> [String: JSONValue] {
    let value: JSONValue
    do {
        value = try JSONDecoder().decode(JSONValue.self, from: data)
    } catch {
        throw ConfigError(file: file, key: "", message: "not valid JSON")
    }
    guard case .object(let object) = value else {
        throw ConfigError(file: file, key: "", message: "the top level must be a JSON object")
    }
    return object
}

/// Rejects keys a loader does not know, so that typos do not pass silently.
func rejectUnknownKeys(_ object: [String: JSONValue], allowed: Set<String>, file: String, prefix: String = "") throws(ConfigError) {
    if let unknown = object.keys.sorted().first(where: { !allowed.contains($0) }) {
        throw ConfigError(file: file, key: prefix + unknown, message: "unknown key (allowed: \(allowed.sorted().joined(separator: ", ")))")
    }
}
