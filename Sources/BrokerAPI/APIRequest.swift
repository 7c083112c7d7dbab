import HTTPServer
import TLS
import Wire

/// One routed request: the HTTP request, the connection's verified peer and the path parameters.
public struct APIRequest: Sendable {
    public let http: HTTPRequest
    public let context: RequestContext
    public let parameters: [String: String]

    /// A path parameter the route pattern guarantees.
    public func parameter(_ name: String) -> String { parameters[name] ?? "" }

    /// Decodes the JSON body, or refuses with 400 naming what is wrong.
    public func decode<T: Decodable>(_ type: T.Type) throws -> T {
        do { return try JSON.decode(type, from: http.body) } catch {
            throw APIError(ErrorCode(rawValue: error.code), error.message)
        }
    }

    /// For actions that take no input: an empty body or `{}`, else 400 naming the problem.
    public func expectEmptyBody() throws {
        let trimmed = http.body.filter { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }
        guard trimmed.isEmpty || trimmed == Array("{}".utf8) else {
            throw APIError(.invalidJSON, "\(http.method) \(http.path) takes no body (send none, or {})")
        }
    }
}
