import Dispatch
import Foundation
import TLS
import Wire

/// Files that identify a user to the broker: their certificate and key, and the broker's CA.
public struct ClientIdentity: Sendable {
    public let certificate: Certificate?
    public let privateKey: PrivateKey?
    public let trustRoots: [Certificate]

    public init(certificate: Certificate?, privateKey: PrivateKey?, trustRoots: [Certificate]) {
        self.certificate = certificate
        self.privateKey = privateKey
        self.trustRoots = trustRoots
    }

    /// Loads PEM files; errors name the file that could not be read.
    public init(certificateFile: String?, keyFile: String?, caFile: String) throws {
        certificate = try certificateFile.map { try Certificate(pemFile: $0) }
        privateKey = try keyFile.map { try PrivateKey(pemFile: $0) }
        trustRoots = try Certificate.all(pem: readBytes(caFile))
    }
}

func readBytes(_ path: String) throws -> [UInt8] {
    guard let data = FileManager.default.contents(atPath: path) else { throw ClientError(.connection, "cannot read \(path)") }
    return [UInt8](data)
}

/// A client of the broker's HTTPS API. Calls are serialised over one
/// keep-alive connection, reconnecting when the broker closed it. Blocking
/// socket work runs on the client's own queue, never on a Swift-concurrency thread.
public final class BrokerClient: @unchecked Sendable {
    public let host: String
    public let port: Int
    public let context: TLSContext
    public let timeout: TimeInterval
    private let queue = DispatchQueue(label: "marac.client")
    /// Touched only on `queue`.
    private var connection: HTTPSConnection?

    /// - Throws: `TLSError` if the identity cannot build a TLS context (key does not match the certificate).
    public init(host: String, port: Int, identity: ClientIdentity, timeout: TimeInterval = 75) throws {
        self.host = host
        self.port = port
        self.timeout = timeout
        context = try TLSContext(configuration: .client(trustRoots: identity.trustRoots, certificate: identity.certificate,
                                                        privateKey: identity.privateKey, serverName: host))
    }

    /// Parses `https://host:port` and builds the client.
    public convenience init(url: String, identity: ClientIdentity, timeout: TimeInterval = 75) throws {
        guard let components = URLComponents(string: url), components.scheme == "https", let host = components.host else {
            throw ClientError(.connection, "broker URL must look like https://host:port, got \(url)")
        }
        try self.init(host: host, port: components.port ?? 443, identity: identity, timeout: timeout)
    }

    /// Sends a request and returns the raw response (any status).
    /// - Throws: `ClientError` `.connection`/`.tls` when no response arrived.
    public func send(_ method: String, _ path: String, body: [UInt8]? = nil, headers: [(String, String)] = []) async throws -> ClientResponse {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<ClientResponse, Error>) in
            queue.async { [self] in
                continuation.resume(with: Result { try sendBlocking(method, path, body: body, headers: headers) })
            }
        }
    }

    /// Blocking form of `send` for command-line use off any async context.
    public func sendBlocking(_ method: String, _ path: String, body: [UInt8]? = nil, headers: [(String, String)] = []) throws -> ClientResponse {
        // A kept-alive connection the broker closed in the meantime is retried once on a fresh one,
        // but only for requests that are safe to repeat.
        let idempotent = ["GET", "HEAD", "PUT"].contains(method)
        if let existing = connection, existing.isOpen {
            do { return try existing.send(method: method, path: path, headers: headers, body: body) } catch let error as ClientError {
                connection = nil
                guard idempotent, error.kind == .connection || error.kind == .tls else { throw error }
            }
        }
        let fresh = try HTTPSConnection(host: host, port: port, context: context, timeout: timeout)
        connection = fresh
        return try fresh.send(method: method, path: path, headers: headers, body: body)
    }

    /// Sends JSON and decodes a JSON answer; an error envelope becomes `ClientError.refused`.
    public func call<Response: Decodable>(_ method: String, _ path: String, json body: (any Encodable)? = nil,
                                          as type: Response.Type = Response.self) async throws -> Response {
        let response = try await send(method, path, body: try body.map { try JSON.encode($0) })
        return try Self.decode(response, as: type)
    }

    /// Decodes a 2xx body or turns an error envelope into `ClientError.refused`.
    public static func decode<Response: Decodable>(_ response: ClientResponse, as type: Response.Type) throws -> Response {
        guard (200..<300).contains(response.status) else { throw refusal(response) }
        do { return try JSON.makeDecoder().decode(type, from: Data(response.body)) } catch {
            throw ClientError(.protocolViolation, "unexpected answer from the broker: \(error)")
        }
    }

    /// The broker's error envelope as a `ClientError`.
    public static func refusal(_ response: ClientResponse) -> ClientError {
        struct Envelope: Decodable { struct Body: Decodable { let code: String; let message: String }; let error: Body }
        if let envelope = try? JSONDecoder().decode(Envelope.self, from: Data(response.body)) {
            return ClientError(.refused(status: response.status, code: envelope.error.code), envelope.error.message)
        }
        return ClientError(.refused(status: response.status, code: "http_\(response.status)"), response.text)
    }

    /// Closes the kept-alive connection.
    public func close() {
        queue.sync { connection?.close(); connection = nil }
    }
}
