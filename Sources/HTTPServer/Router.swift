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
///
/// Matching is `@inlinable`, so a module that routes with a concrete `Handler` gets it
/// specialised: unspecialised, each match spent more time instantiating generic metadata (the
/// route dictionaries, `Optional<Route>`, tuples) than looking anything up.
public struct Router<Handler: Sendable>: Sendable {
    @usableFromInline
    struct Route: Sendable {
        @usableFromInline var handler: Handler
        @usableFromInline var parameterNames: [String]
    }

    /// Nodes live in one flat array and refer to each other by index, so matching walks
    /// indices instead of copying nested dictionaries.
    @usableFromInline
    struct Node: Sendable {
        @usableFromInline var literals: [String: Int] = [:]
        @usableFromInline var parameter: Int?
        @usableFromInline var routes: [String: Route] = [:]
    }

    @usableFromInline var nodes: [Node] = [Node()]
    /// Paths without parameters, straight to their node (what `resolve` would find: literals win).
    @usableFromInline var literalPaths: [String: Int] = [:]

    /// Every registered route as `"METHOD /pattern"`, in registration order (for API documentation checks).
    public private(set) var routeTable: [String] = []

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
        var current = 0
        for segment in Self.segments(of: pattern) {
            let text = String(segment)
            if text.hasPrefix("{") || text.hasSuffix("}") {
                precondition(text.hasPrefix("{") && text.hasSuffix("}") && text.count > 2,
                             "malformed parameter segment \(text) in \(pattern)")
                let name = String(text.dropFirst().dropLast())
                precondition(!names.contains(name), "parameter {\(name)} repeated in \(pattern)")
                names.append(name)
                if let next = nodes[current].parameter {
                    current = next
                } else {
                    nodes.append(Node())
                    nodes[current].parameter = nodes.count - 1
                    current = nodes.count - 1
                }
            } else if let next = nodes[current].literals[text] {
                current = next
            } else {
                nodes.append(Node())
                nodes[current].literals[text] = nodes.count - 1
                current = nodes.count - 1
            }
        }
        precondition(nodes[current].routes[method] == nil, "route \(method) \(pattern) registered twice")
        nodes[current].routes[method] = Route(handler: handler, parameterNames: names)
        if names.isEmpty { literalPaths[pattern] = current }
        routeTable.append("\(method) \(pattern)")
    }

    /// Looks up `method` and `path` (the request's path without query, not percent-decoded).
    @inlinable
    public func match(method: String, path: String) -> RouteMatch<Handler> {
        guard path.utf8.first == UInt8(ascii: "/") else { return .notFound }
        var values: [String] = []
        let index: Int
        if let literal = literalPaths[path] {
            index = literal
        } else {
            values.reserveCapacity(4)
            guard let found = resolve(0, segments: Self.segments(of: path), position: 0, values: &values) else {
                return .notFound
            }
            index = found
        }
        let routes = nodes[index].routes
        if let route = routes[method] ?? (method == "HEAD" ? routes["GET"] : nil) {
            var parameters: [String: String] = [:]
            if !route.parameterNames.isEmpty {
                parameters.reserveCapacity(route.parameterNames.count)
                for (name, value) in zip(route.parameterNames, values) {
                    parameters[name] = value
                }
            }
            return .found(route.handler, parameters: parameters)
        }
        var allowed = Array(routes.keys)
        if routes["GET"] != nil && routes["HEAD"] == nil { allowed.append("HEAD") }
        return .methodNotAllowed(allowed: allowed.sorted())
    }

    /// Depth-first, literal before parameter; returns the first node with any route.
    @inlinable
    func resolve(_ index: Int, segments: [Substring], position: Int, values: inout [String]) -> Int? {
        guard position < segments.count else {
            return nodes[index].routes.isEmpty ? nil : index
        }
        let segment = segments[position]
        if let child = nodes[index].literals[String(segment)],
           let found = resolve(child, segments: segments, position: position + 1, values: &values) {
            return found
        }
        if let child = nodes[index].parameter, !segment.isEmpty, let value = Self.parameterValue(segment) {
            values.append(value)
            if let found = resolve(child, segments: segments, position: position + 1, values: &values) {
                return found
            }
            values.removeLast()
        }
        return nil
    }

    /// The percent-decoded segment, or nil if it is badly encoded or decodes to `/` or a
    /// control character.
    @inlinable
    static func parameterValue(_ segment: Substring) -> String? {
        let isUnsafe: (UInt8) -> Bool = { $0 == UInt8(ascii: "/") || $0 < 0x20 || $0 == 0x7F }
        if !segment.utf8.contains(where: { $0 == UInt8(ascii: "%") || isUnsafe($0) }) {
            return String(segment)
        }
        guard let value = PercentDecoding.decode(segment.utf8, plusAsSpace: false),
              !value.utf8.contains(where: isUnsafe) else { return nil }
        return value
    }

    /// `/a/b` → `["a", "b"]`, `/a/` → `["a", ""]`, `/` → `[""]`.
    @inlinable
    static func segments(of path: String) -> [Substring] {
        let utf8 = path.utf8
        var segments: [Substring] = []
        segments.reserveCapacity(8)
        var start = utf8.index(after: utf8.startIndex)
        var index = start
        while index != utf8.endIndex {
            if utf8[index] == UInt8(ascii: "/") {
                segments.append(path[start..<index])
                start = utf8.index(after: index)
            }
            index = utf8.index(after: index)
        }
        segments.append(path[start..<utf8.endIndex])
        return segments
    }
}
