import Foundation
import MaracClient
import TLS
import Wire

/// One run of one command: its parsed arguments, the settings, the broker
/// client (made on first use) and the output.
final class Invocation {
    let spec: CommandSpec
    let arguments: [String]
    /// Option values by name (`--agencies`); flags map to "".
    let values: [String: String]
    let json: Bool
    let environment: [String: String]
    let settingFlags: [ClientSettings.Name: String]
    let output: Output
    private var cachedSettings: ClientSettings?
    private var cachedClient: BrokerClient?

    init(spec: CommandSpec, arguments: [String], values: [String: String], json: Bool, environment: [String: String],
         settingFlags: [ClientSettings.Name: String]) {
        self.spec = spec
        self.arguments = arguments
        self.values = values
        self.json = json
        self.environment = environment
        self.settingFlags = settingFlags
        output = Output(environment: environment)
    }

    // MARK: Arguments

    func option(_ name: String) -> String? { values[name] }
    func flag(_ name: String) -> Bool { values[name] != nil }
    func argument(_ index: Int) -> String { arguments[index] }

    /// A required option's value (the parser already checked presence for `required` options).
    func required(_ name: String) throws -> String {
        guard let value = values[name], !value.isEmpty else { throw UsageError("\(name) is required", command: spec) }
        return value
    }

    /// An option naming a time, parsed in the local time zone when it has no offset.
    func time(_ name: String) throws -> Date? {
        guard let text = values[name] else { return nil }
        guard let date = TimeText.parse(text) else {
            throw UsageError("\(name): \"\(text)\" is not a time; use 2027-01-14T10:00:00Z, 2027-01-14T10:00+01:00 or 2027-01-14 10:00 (local time)", command: spec)
        }
        return date
    }

    /// A comma-separated list option, empty items dropped.
    func list(_ name: String) -> [String]? {
        values[name].map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
    }

    /// A file the user named, read whole.
    func readFile(_ path: String, for name: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw UsageError("\(name): cannot read \(path) (\(FileManager.default.fileExists(atPath: path) ? "permission denied" : "no such file"))", command: spec)
        }
        return [UInt8](data)
    }

    /// A JSON file the user named, parsed.
    func readJSONFile(_ path: String, for name: String) throws -> JSONValue {
        do { return try JSONValue(parsing: try readFile(path, for: name)) } catch let error as JSONValue.NotJSON {
            throw UsageError("\(name): \(path) is \(error.message)", command: spec)
        }
    }

    // MARK: Broker

    func settings() throws -> ClientSettings {
        if let cachedSettings { return cachedSettings }
        let settings = try ClientSettings.resolve(flags: settingFlags, environment: environment)
        cachedSettings = settings
        return settings
    }

    func client() throws -> BrokerClient {
        if let cachedClient { return cachedClient }
        let client = try settings().client()
        cachedClient = client
        return client
    }

    /// Sends a request; any non-2xx answer is thrown as the broker's refusal.
    @discardableResult
    func call(_ method: String, _ path: String, body: JSONValue? = nil) throws -> BrokerAnswer {
        let bytes = body.map { Array($0.description.utf8) }
        let response = try client().sendBlocking(method, path, body: bytes)
        guard (200..<300).contains(response.status) else { throw BrokerClient.refusal(response) }
        return BrokerAnswer(response: response)
    }

    /// Prints the broker's JSON with `--json`, otherwise runs `human`.
    func show(_ answer: BrokerAnswer, human: (JSONValue) throws -> Void) throws {
        if json { output.raw(answer.response.body) } else { try human(answer.json) }
    }

    /// The likely cause of a failure to reach the broker, from the user's own files.
    func diagnose(_ error: ClientError) -> String? {
        let settings = try? settings()
        let certificate = settings?.cert.flatMap { try? Certificate(pemFile: $0.value) }
        let roots = settings?.ca.flatMap { path in (FileManager.default.contents(atPath: path.value)).flatMap { try? Certificate.all(pem: [UInt8]($0)) } } ?? []
        return FailureDiagnosis.likelyCause(of: error, certificate: certificate, trustRoots: roots, url: settings?.url.value ?? "the broker")
    }
}

/// A 2xx answer and its body read as JSON.
struct BrokerAnswer {
    let response: ClientResponse
    var json: JSONValue { (try? JSONValue(parsing: response.body)) ?? .null }
}

/// Percent-encodes one path segment or query value.
func escaped(_ text: String) -> String {
    text.addingPercentEncoding(withAllowedCharacters: CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? text
}
