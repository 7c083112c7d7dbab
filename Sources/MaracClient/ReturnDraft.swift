import Foundation
import Wire

/// A SPOC's return as written in a file, checked against the SPEC §5 shape
/// `{knownToAgency, summary, answers, withheld}` before anything is sent, so
/// a typo is caught on the SPOC's machine with every problem listed at once,
/// rather than one at a time by the broker.
public struct ReturnDraft: Sendable, Equatable {
    /// The keys a return may have; the broker refuses any other.
    public static let allowedKeys: Set<String> = ["knownToAgency", "summary", "answers", "withheld"]

    /// The validated body to send.
    public let body: JSONValue

    /// Checks `json`; when `questionCount` is known, the answers must match it one for one.
    /// - Throws: `ReturnDraft.Invalid` listing every problem found.
    public init(_ json: JSONValue, questionCount: Int? = nil) throws {
        guard let members = json.object else { throw Invalid(problems: ["the return must be a JSON object, not \(json.typeName)"]) }
        var problems: [String] = []
        for key in members.keys.sorted() where !Self.allowedKeys.contains(key) {
            problems.append("unknown key \"\(key)\" (allowed: answers, knownToAgency, summary, withheld)")
        }
        if members["knownToAgency"]?.bool == nil {
            problems.append(members["knownToAgency"] == nil ? "knownToAgency: missing (true or false)" : "knownToAgency: must be true or false")
        }
        switch members["summary"] {
        case .string(let text) where !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty: break
        case nil: problems.append("summary: missing")
        default: problems.append("summary: must be a non-empty string")
        }
        switch members["answers"] {
        case .array(let answers):
            for (index, answer) in answers.enumerated() where answer.string?.allSatisfy(\.isWhitespace) != false {
                problems.append(answer.string == nil ? "answers[\(index)]: must be a string, not \(answer.typeName)"
                                                     : "answers[\(index)]: empty; write \"None known\" if your agency holds nothing")
            }
            if let questionCount, answers.count != questionCount {
                problems.append("answers: the request asks \(questionCount) question\(questionCount == 1 ? "" : "s"), the file answers \(answers.count)")
            }
        case nil: problems.append("answers: missing (an array of strings, one per question)")
        default: problems.append("answers: must be an array of strings, one per question")
        }
        switch members["withheld"] {
        case nil: break
        case .array(let items):
            for (index, item) in items.enumerated() {
                guard let fields = item.object else { problems.append("withheld[\(index)]: must be an object {what, reason}"); continue }
                for key in ["what", "reason"] where (fields[key]?.string ?? "").trimmingCharacters(in: .whitespaces).isEmpty {
                    problems.append("withheld[\(index)].\(key): must be a non-empty string")
                }
                for key in fields.keys.sorted() where key != "what" && key != "reason" {
                    problems.append("withheld[\(index)]: unknown key \"\(key)\" (allowed: what, reason)")
                }
            }
        default: problems.append("withheld: must be an array of {what, reason}")
        }
        guard problems.isEmpty else { throw Invalid(problems: problems) }
        var complete = members
        if complete["withheld"] == nil { complete["withheld"] = .array([]) }
        body = .object(complete)
    }

    /// Every problem found in a draft return.
    public struct Invalid: Error, CustomStringConvertible, Sendable {
        /// One line per problem, in the order of the file's keys.
        public let problems: [String]
        public var description: String { problems.joined(separator: "\n") }
    }
}
