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
