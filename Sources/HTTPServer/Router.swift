/// The outcome of looking up a request in a ``Router``.
public enum RouteMatch<Handler: Sendable>: Sendable {
    /// A route matched; `parameters` maps each `{name}` in its pattern to the percent-decoded
    /// segment.
    case found(Handler, parameters: [String: String])
    /// No pattern matches the path: answer `404`.
    case notFound
    /// A pattern matches the path but not the method: answer `405` with
    /// `Allow: <allowed joined by ", ">`. The list is sorted and includes `HEAD` whenever
    /// `GET` is present.
    case methodNotAllowed(allowed: [String])
}

/// Maps a method and a path to a handler, with `{name}` parameters standing for one segment.
///
/// Patterns are literal paths whose segments may be parameters, e.g.
/// `/v1/requests/{id}/return`. Matching is exact: a trailing slash is a different path, and a
/// parameter matches one non-empty segment whose percent-decoded value contains no `/` (nor a
/// control character); anything else is not found. When both a literal and a parameter could
/// match a segment, the literal wins, and the path is resolved before the method is looked at,
/// so `GET /v1/meetings/new` against routes `POST /v1/meetings/new` and
/// `GET /v1/meetings/{id}` answers `405` rather than reaching the parameter route.
///
/// A `HEAD` request matches the `GET` route of a path unless a `HEAD` route is registered; the
/// response writer then omits the body.
public struct Router<Handler: Sendable>: Sendable {
    private struct Route: Sendable {
        var handler: Handler
        var parameterNames: [String]
    }

    private struct Node: Sendable {
        var literals: [String: Node] = [:]
        /// Zero or one child standing for a parameter segment (an array, since a struct cannot
        /// hold an optional of itself).
        var parameter: [Node] = []
        var routes: [String: Route] = [:]
    }

    private var root = Node()

    /// Creates an empty router.
    public init() {}

    /// Registers `handler` for `method` and `pattern`.
    ///
    /// Registering the same method and pattern twice, a pattern not starting with `/`, an empty
    /// or malformed `{}` segment, or a repeated parameter name is a programming error and
    /// traps, so a bad route table fails at start rather than at the first request.
    public mutating func add(_ method: String, _ pattern: String, _ handler: Handler) {
        precondition(pattern.hasPrefix("/"), "route pattern must start with /: \(pattern)")
        precondition(!method.isEmpty && method.utf8.allSatisfy(HTTPParser.isTokenByte), "invalid method \(method)")
        var names: [String] = []
        var literalOrNil: [String?] = []
        for segment in Self.segments(of: pattern) {
            let text = String(segment)
            if text.hasPrefix("{") || text.hasSuffix("}") {
                precondition(text.hasPrefix("{") && text.hasSuffix("}") && text.count > 2,
                             "malformed parameter segment \(text) in \(pattern)")
                let name = String(text.dropFirst().dropLast())
                precondition(!names.contains(name), "parameter {\(name)} repeated in \(pattern)")
                names.append(name)
                literalOrNil.append(nil)
            } else {
                literalOrNil.append(text)
            }
        }
        Self.insert(into: &root, segments: literalOrNil[...], method: method,
                    route: Route(handler: handler, parameterNames: names), pattern: pattern)
    }

    private static func insert(into node: inout Node, segments: ArraySlice<String?>, method: String,
                               route: Route, pattern: String) {
        guard let first = segments.first else {
            precondition(node.routes[method] == nil, "route \(method) \(pattern) registered twice")
            node.routes[method] = route
            return
        }
        let rest = segments.dropFirst()
        if let literal = first {
            insert(into: &node.literals[literal, default: Node()], segments: rest, method: method,
                   route: route, pattern: pattern)
        } else {
            if node.parameter.isEmpty { node.parameter.append(Node()) }
            insert(into: &node.parameter[0], segments: rest, method: method, route: route, pattern: pattern)
        }
    }

    /// Looks up `method` and `path` (the request's path without query, not percent-decoded).
    public func match(method: String, path: String) -> RouteMatch<Handler> {
        guard path.hasPrefix("/") else { return .notFound }
        let segments = Self.segments(of: path)
        var values: [String] = []
        guard let node = Self.resolve(root, segments: segments[...], values: &values) else {
            return .notFound
        }
        if let route = node.routes[method] ?? (method == "HEAD" ? node.routes["GET"] : nil) {
            var parameters: [String: String] = [:]
            for (name, value) in zip(route.parameterNames, values) {
                parameters[name] = value
            }
            return .found(route.handler, parameters: parameters)
        }
        var allowed = Set(node.routes.keys)
        if allowed.contains("GET") { allowed.insert("HEAD") }
        return .methodNotAllowed(allowed: allowed.sorted())
    }

    /// Depth-first, literal before parameter; returns the first node with any route.
    private static func resolve(_ node: Node, segments: ArraySlice<Substring>, values: inout [String]) -> Node? {
        guard let segment = segments.first else {
            return node.routes.isEmpty ? nil : node
        }
        let rest = segments.dropFirst()
        if let child = node.literals[String(segment)], let found = resolve(child, segments: rest, values: &values) {
            return found
        }
        if let child = node.parameter.first, !segment.isEmpty,
           let value = PercentDecoding.decode(segment.utf8, plusAsSpace: false),
           !value.utf8.contains(where: { $0 == UInt8(ascii: "/") || $0 < 0x20 || $0 == 0x7F }) {
            values.append(value)
            if let found = resolve(child, segments: rest, values: &values) {
                return found
            }
            values.removeLast()
        }
        return nil
    }

    /// `/a/b` → `["a", "b"]`, `/a/` → `["a", ""]`, `/` → `[""]`.
    private static func segments(of path: String) -> [Substring] {
        path.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
    }
}
