import Foundation
import Wire

/// Need-to-know: which agencies may see which case fields (SPEC §5, §7).
///
/// Field path patterns map to categories; categories map to agencies. A pattern
/// is a dotted path whose segments are literals or `*` (exactly one segment).
/// A category lists agency ids, or `"*"` (every agency the request goes to), or
/// nothing (the coordinator only). Anything the policy does not classify is
/// denied: a case may not even hold it.
public struct SharingPolicy: Sendable, Equatable {
    /// Who may see a category.
    public enum Audience: Sendable, Equatable {
        /// Every agency the request is sent to.
        case everyInvited
        /// Only these agencies (and only when invited).
        case agencies(Set<String>)
        /// Nobody but the coordinator.
        case coordinatorOnly
    }

    /// A field path pattern, e.g. `child.*.name`.
    public struct Pattern: Sendable, Hashable, CustomStringConvertible {
        /// The segments; `*` matches any one segment.
        public let segments: [String]

        /// Parses a pattern; nil if a segment is empty or has characters other
        /// than letters, digits, `_` and `-` (or is not exactly `*`).
        public init?(_ text: String) {
            guard !text.isEmpty, text.utf8.count <= Limits.fieldPathLength else { return nil }
            let parts = text.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            guard parts.count <= Limits.fieldPathSegments,
                  parts.allSatisfy({ $0 == "*" || SharingPolicy.isPathSegment($0) }) else { return nil }
            segments = parts
        }

        /// Whether the pattern matches a concrete dotted path.
        public func matches(_ path: [Substring]) -> Bool {
            guard path.count == segments.count else { return false }
            return zip(segments, path).allSatisfy { $0 == "*" || $0 == $1 }
        }

        /// Whether some path matches both patterns.
        func overlaps(_ other: Pattern) -> Bool {
            segments.count == other.segments.count
                && zip(segments, other.segments).allSatisfy { $0 == "*" || $1 == "*" || $0 == $1 }
        }

        /// The dotted text.
        public var description: String { segments.joined(separator: ".") }
    }

    /// Category name → audience.
    public let categories: [String: Audience]
    /// Pattern → category name.
    public let fields: [Pattern: String]

    /// Creates a policy from parts already validated (see `load`).
    public init(categories: [String: Audience], fields: [Pattern: String]) {
        self.categories = categories
        self.fields = fields
    }

    /// Whether `text` is a valid concrete path segment.
    static func isPathSegment(_ text: String) -> Bool {
        !text.isEmpty && text.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == "-"
        }
    }

    /// Whether `path` is a well-formed concrete field path (no wildcards).
    public static func isValidPath(_ path: String) -> Bool {
        guard !path.isEmpty, path.utf8.count <= Limits.fieldPathLength else { return false }
        let parts = path.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count <= Limits.fieldPathSegments && parts.allSatisfy { isPathSegment(String($0)) }
    }

    /// Parses and validates `config/policy.json`.
    ///
    /// - Parameters:
    ///   - file: the file name used in error messages.
    ///   - agencies: every agency id a category may name (the registry seed).
    /// - Throws: `ConfigError` naming the file and the key: an unknown top-level
    ///   key, a category that is not a list of known agency ids or `"*"`, a
    ///   malformed pattern, a field whose category does not exist, or two
    ///   overlapping patterns with different categories.
    public static func load(_ data: Data, file: String, agencies: Set<String>) throws(ConfigError) -> SharingPolicy {
        let object = try loadJSONObject(data, file: file)
        try rejectUnknownKeys(object, allowed: ["categories", "fields", "comment"], file: file)
        guard case .object(let rawCategories)? = object["categories"] else {
            throw ConfigError(file: file, key: "categories", message: "must be an object of category → list of agency ids")
        }
        guard case .object(let rawFields)? = object["fields"] else {
            throw ConfigError(file: file, key: "fields", message: "must be an object of field path pattern → category")
        }
        var categories: [String: Audience] = [:]
        for (name, value) in rawCategories.sorted(by: { $0.key < $1.key }) {
            let key = "categories.\(name)"
            guard isPathSegment(name) else {
                throw ConfigError(file: file, key: key, message: "a category name uses letters, digits, '_' and '-'")
            }
            guard case .array(let items) = value else {
                throw ConfigError(file: file, key: key, message: "must be a list of agency ids, [\"*\"] or []")
            }
            var named = Set<String>()
            var wildcard = false
            for (index, item) in items.enumerated() {
                guard let id = item.string else {
                    throw ConfigError(file: file, key: "\(key)[\(index)]", message: "must be a string")
                }
                if id == "*" {
                    wildcard = true
                } else if agencies.contains(id) {
                    named.insert(id)
                } else {
                    throw ConfigError(file: file, key: "\(key)[\(index)]", message: "unknown agency '\(id)'")
                }
            }
            if wildcard && !named.isEmpty {
                throw ConfigError(file: file, key: key, message: "\"*\" already means every invited agency; do not list agencies with it")
            }
            categories[name] = wildcard ? .everyInvited : named.isEmpty ? .coordinatorOnly : .agencies(named)
        }
        var fields: [Pattern: String] = [:]
        for (text, value) in rawFields.sorted(by: { $0.key < $1.key }) {
            let key = "fields[\"\(text)\"]"
            guard let pattern = Pattern(text) else {
                throw ConfigError(file: file, key: key,
                                  message: "a pattern is dotted segments of letters, digits, '_' and '-', or '*' for one segment")
            }
            guard let category = value.string else {
                throw ConfigError(file: file, key: key, message: "must be a category name")
            }
            guard categories[category] != nil else {
                throw ConfigError(file: file, key: key, message: "unknown category '\(category)'")
            }
            if let clash = fields.first(where: { $0.key.overlaps(pattern) && $0.value != category }) {
                throw ConfigError(file: file, key: key,
                                  message: "overlaps \"\(clash.key)\" (category '\(clash.value)') with a different category '\(category)'")
            }
            fields[pattern] = category
        }
        return SharingPolicy(categories: categories, fields: fields)
    }

    /// The category of a concrete field path, or nil when the policy does not
    /// classify it (and so the path is denied everywhere).
    public func classify(_ path: String) -> String? {
        guard SharingPolicy.isValidPath(path) else { return nil }
        let segments = path.split(separator: ".", omittingEmptySubsequences: false)
        // Overlapping patterns share their category (checked at load), so any
        // match gives the answer.
        return fields.first { $0.key.matches(segments) }?.value
    }

    /// Whether `agency`, when a request for the case goes to the `invited`
    /// agencies, may see the field at `path`. An agency that is not invited sees
    /// nothing; an unclassified path is seen by nobody.
    public func isVisible(_ path: String, to agency: String, invited: Set<String>) -> Bool {
        guard invited.contains(agency), let category = classify(path), let audience = categories[category] else { return false }
        switch audience {
        case .everyInvited: return true
        case .agencies(let ids): return ids.contains(agency)
        case .coordinatorOnly: return false
        }
    }

    /// The subset of `fields` that `agency` may see (see `isVisible`). Withheld
    /// fields are absent, names included.
    public func visibleFields(_ fields: [String: JSONValue], agency: String, invited: Set<String>) -> [String: JSONValue] {
        fields.filter { isVisible($0.key, to: agency, invited: invited) }
    }
}
