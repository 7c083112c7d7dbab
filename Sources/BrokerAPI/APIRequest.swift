import HTTPServer
import TLS

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
            throw APIError(.badRequest, error.code, error.message)
        }
    }
}
