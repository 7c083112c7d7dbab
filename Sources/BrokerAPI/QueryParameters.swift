/// The query parameters each route reads. Any other is refused with `400 invalid` naming it, as
/// an unknown JSON key is: a misspelt `?expring=true` or `?stat=open` must not be answered as if
/// the filter had been applied. `docs/openapi.json` documents exactly these (a test compares).
enum QueryParameters {
    /// By `"METHOD /template"`; a route not listed takes none.
    static let allowed: [String: Set<String>] = [
        "GET /v1/credentials": ["principal", "agency", "status", "expiring", "approval"],
        "GET /v1/cases": ["meeting", "state"],
        "GET /v1/cases/{id}/returns": ["format", "meeting"],
        "GET /v1/requests": ["after", "wait"],
        "GET /v1/actions": ["after", "wait"],
        "GET /v1/audit": ["after", "limit", "case", "object", "principal"],
        "GET /v1/panels/{id}/statistics": ["from", "to"],
    ]

    /// 400 naming the first parameter `route` does not read, or nil. `HEAD` is checked as `GET`.
    static func refusal(method: String, template: String, query: [String: String]) -> APIError? {
        guard !query.isEmpty else { return nil }
        let allowed = Self.allowed["\(method == "HEAD" ? "GET" : method) \(template)"] ?? []
        guard let unknown = query.keys.sorted().first(where: { !allowed.contains($0) }) else { return nil }
        let takes = allowed.isEmpty ? "takes no query parameters" : "takes only \(allowed.sorted().joined(separator: ", "))"
        return APIError(.invalid, "unknown query parameter \"\(unknown.prefix(40))\": \(method) \(template) \(takes)")
    }
}
