import Broker
import BrokerAPI
import Engine
import Foundation
import HTTPServer
@_spi(Testing) import Journal
import TLS

/// `config/broker.json`: where the broker listens, its directories, calendar
/// settings, TLS floor, limits and timeouts. Every key is optional (the
/// embedded defaults apply); an unknown key or a bad value stops start with
/// an error naming the file and the key.
public struct BrokerConfiguration: Sendable {
    public var listenHost = "127.0.0.1"
    public var listenPort = 8443
    public var dataDirectory = "data"
    public var certsDirectory = "certs"
    public var timeZone = "Europe/London"
    public var researchLeadWorkingDays = 5
    public var returnDeadlineHours = 24
    public var tlsMinimumVersion: TLSConfiguration.ProtocolVersion = .tls13
    public var limits = HTTPLimits.default
    public var maxConnections = ServerConfiguration.defaultMaxConnections
    /// Event-loop threads serving connections (`eventLoops`; default one per core).
    public var eventLoops = ServerConfiguration.defaultEventLoops
    /// Open connections one principal may hold; the next is answered `429 too_many_connections` and closed.
    public var maxConnectionsPerPrincipal = ServerConfiguration.defaultMaxConnectionsPerGroup
    /// Connections from one client address still in their TLS handshake; more are closed at once.
    public var maxHandshakesPerAddress = ServerConfiguration.defaultMaxHandshakesPerAddress
    /// Longest a `wait=` long-poll is held (SPEC: at most 60 s).
    public var longPollMaxSeconds = 60
    /// Parked long-polls one principal may hold at once; the next is refused `429 too_many_waiters`.
    public var maxLongPollsPerPrincipal = 4
    /// Most versions and bytes of one request's return (`limits.maxReturnVersionsPerRequest`, `limits.maxReturnBytesPerRequest`).
    public var returnLimits = ReturnLimits.default
    public var credentialValidityDays = 365
    public var credentialMaxValidityDays = 825
    /// When snapshots of the state are written (`snapshots.minEntries`, `snapshots.minGrowthPercent`).
    public var snapshots = SnapshotPolicy.default
    /// Test-only: write and sync failures injected into the journal's files (a full disk without a tmpfs).
    @_spi(Testing) public var journalFaults: FaultInjection?
    /// Test-only: a smaller journal segment size, so a test can produce several segments.
    @_spi(Testing) public var journalSegmentSize: Int?

    /// The journal's options for this configuration.
    var journalOptions: JournalOptions {
        var options = JournalOptions()
        options.faultInjection = journalFaults
        if let journalSegmentSize { options.segmentSize = journalSegmentSize }
        return options
    }

    public init() {}

    /// The file's name inside the config directory.
    public static let fileName = "broker.json"
    static let maxFileBytes = 1 << 20

    /// Reads `DIR/broker.json` if present; otherwise the embedded defaults.
    /// - Throws: `BrokerSetupError` naming the file and key.
    public static func load(directory: String) throws -> BrokerConfiguration {
        let path = (directory as NSString).appendingPathComponent(fileName)
        guard FileManager.default.fileExists(atPath: path) else { return BrokerConfiguration() }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw BrokerSetupError(file: path, message: "cannot be read")
        }
        return try parse(data, file: path)
    }

    /// Parses the JSON text of a broker.json.
    public static func parse(_ data: Data, file: String) throws -> BrokerConfiguration {
        guard data.count <= maxFileBytes else { throw BrokerSetupError(file: file, message: "larger than \(maxFileBytes) bytes") }
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data) } catch {
            throw BrokerSetupError(file: file, message: "not valid JSON: \(error.localizedDescription)")
        }
        guard let root = object as? [String: Any] else { throw BrokerSetupError(file: file, message: "must be a JSON object") }
        var config = BrokerConfiguration()
        let reader = ConfigReader(file: file)
        try reader.check(root, allowed: ["listen", "dataDirectory", "certsDirectory", "timeZone", "researchLeadWorkingDays",
                                         "returnDeadlineHours", "tls", "limits", "credentials", "snapshots", "eventLoops"], at: "")
        if let listen = try reader.string(root, "listen") {
            (config.listenHost, config.listenPort) = try parseListen(listen, file: file, key: "listen")
        }
        config.dataDirectory = try reader.string(root, "dataDirectory") ?? config.dataDirectory
        config.certsDirectory = try reader.string(root, "certsDirectory") ?? config.certsDirectory
        if let zone = try reader.string(root, "timeZone") {
            guard TimeZone(identifier: zone) != nil else { throw BrokerSetupError(file: file, key: "timeZone", message: "unknown time zone \(zone)") }
            config.timeZone = zone
        }
        config.researchLeadWorkingDays = try reader.int(root, "researchLeadWorkingDays", in: 0...60) ?? config.researchLeadWorkingDays
        config.returnDeadlineHours = try reader.int(root, "returnDeadlineHours", in: 0...720) ?? config.returnDeadlineHours
        config.eventLoops = try reader.int(root, "eventLoops", in: 1...256) ?? config.eventLoops
        if let tls = try reader.object(root, "tls") {
            try reader.check(tls, allowed: ["minimumVersion"], at: "tls.")
            if let version = try reader.string(tls, "minimumVersion", at: "tls.") {
                guard let parsed = TLSConfiguration.ProtocolVersion(rawValue: version) else {
                    throw BrokerSetupError(file: file, key: "tls.minimumVersion", message: "must be \"1.3\" or \"1.2\", got \"\(version)\"")
                }
                config.tlsMinimumVersion = parsed
            }
        }
        if let limits = try reader.object(root, "limits") {
            try reader.check(limits, allowed: ["maxHeaderBytes", "maxHeaderCount", "maxBodyBytes", "headerTimeoutSeconds",
                                               "idleTimeoutSeconds", "bodyTimeoutSeconds", "maxConnections", "maxConnectionsPerPrincipal",
                                               "maxHandshakesPerAddress", "longPollMaxSeconds",
                                               "maxLongPollsPerPrincipal", "maxReturnVersionsPerRequest", "maxReturnBytesPerRequest"], at: "limits.")
            config.limits.maxHeaderBytes = try reader.int(limits, "maxHeaderBytes", in: 1024...(1 << 20), at: "limits.") ?? config.limits.maxHeaderBytes
            config.limits.maxHeaderCount = try reader.int(limits, "maxHeaderCount", in: 8...1000, at: "limits.") ?? config.limits.maxHeaderCount
            config.limits.maxBodyBytes = try reader.int(limits, "maxBodyBytes", in: 1024...(256 << 20), at: "limits.") ?? config.limits.maxBodyBytes
            if let seconds = try reader.int(limits, "headerTimeoutSeconds", in: 1...600, at: "limits.") { config.limits.headerTimeout = .seconds(seconds) }
            if let seconds = try reader.int(limits, "idleTimeoutSeconds", in: 1...3600, at: "limits.") { config.limits.idleTimeout = .seconds(seconds) }
            if let seconds = try reader.int(limits, "bodyTimeoutSeconds", in: 1...3600, at: "limits.") { config.limits.bodyTimeout = .seconds(seconds) }
            config.maxConnections = try reader.int(limits, "maxConnections", in: 1...1_000_000, at: "limits.") ?? config.maxConnections
            config.maxConnectionsPerPrincipal = try reader.int(limits, "maxConnectionsPerPrincipal", in: 1...1_000_000, at: "limits.")
                ?? config.maxConnectionsPerPrincipal
            config.maxHandshakesPerAddress = try reader.int(limits, "maxHandshakesPerAddress", in: 1...1_000_000, at: "limits.")
                ?? config.maxHandshakesPerAddress
            config.longPollMaxSeconds = try reader.int(limits, "longPollMaxSeconds", in: 1...60, at: "limits.") ?? config.longPollMaxSeconds
            config.maxLongPollsPerPrincipal = try reader.int(limits, "maxLongPollsPerPrincipal", in: 1...10_000, at: "limits.")
                ?? config.maxLongPollsPerPrincipal
            config.returnLimits.maxVersions = try reader.int(limits, "maxReturnVersionsPerRequest", in: 1...1_000, at: "limits.")
                ?? config.returnLimits.maxVersions
            config.returnLimits.maxBytes = try reader.int(limits, "maxReturnBytesPerRequest", in: 1024...(64 << 20), at: "limits.")
                ?? config.returnLimits.maxBytes
        }
        if let credentials = try reader.object(root, "credentials") {
            try reader.check(credentials, allowed: ["validityDays", "maxValidityDays"], at: "credentials.")
            config.credentialMaxValidityDays = try reader.int(credentials, "maxValidityDays", in: 1...3650, at: "credentials.") ?? config.credentialMaxValidityDays
            config.credentialValidityDays = try reader.int(credentials, "validityDays", in: 1...config.credentialMaxValidityDays, at: "credentials.") ?? config.credentialValidityDays
        }
        if let snapshots = try reader.object(root, "snapshots") {
            try reader.check(snapshots, allowed: ["minEntries", "minGrowthPercent"], at: "snapshots.")
            config.snapshots.minEntries = try reader.int(snapshots, "minEntries", in: 1...10_000_000, at: "snapshots.") ?? config.snapshots.minEntries
            config.snapshots.minGrowthPercent = try reader.int(snapshots, "minGrowthPercent", in: 0...10_000, at: "snapshots.")
                ?? config.snapshots.minGrowthPercent
        }
        return config
    }

    /// Parses `HOST:PORT` (`[::1]:8443` for IPv6).
    public static func parseListen(_ text: String, file: String, key: String) throws -> (String, Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65_535).contains(port) else {
            throw BrokerSetupError(file: file, key: key, message: "must be HOST:PORT, got \"\(text)\"")
        }
        let host = String(text[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        guard !host.isEmpty else { throw BrokerSetupError(file: file, key: key, message: "host is empty in \"\(text)\"") }
        return (host, port)
    }
}

/// Typed reads from a JSON object, with errors that name file and key.
struct ConfigReader {
    let file: String

    func check(_ object: [String: Any], allowed: Set<String>, at prefix: String) throws {
        if let unknown = object.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw BrokerSetupError(file: file, key: prefix + unknown, message: "unknown key (allowed: \(allowed.sorted().joined(separator: ", ")))")
        }
    }

    func string(_ object: [String: Any], _ key: String, at prefix: String = "") throws -> String? {
        guard let value = object[key] else { return nil }
        guard let string = value as? String, !string.isEmpty else {
            throw BrokerSetupError(file: file, key: prefix + key, message: "must be a non-empty string")
        }
        return string
    }

    func int(_ object: [String: Any], _ key: String, in range: ClosedRange<Int>, at prefix: String = "") throws -> Int? {
        guard let value = object[key] else { return nil }
        guard !(value is Bool), let number = value as? Int, range.contains(number) else {
            throw BrokerSetupError(file: file, key: prefix + key, message: "must be an integer in \(range.lowerBound)...\(range.upperBound)")
        }
        return number
    }

    func object(_ object: [String: Any], _ key: String) throws -> [String: Any]? {
        guard let value = object[key] else { return nil }
        guard let nested = value as? [String: Any] else { throw BrokerSetupError(file: file, key: key, message: "must be a JSON object") }
        return nested
    }
}

extension BrokerConfiguration {
    /// What the API's routes need of this configuration.
    public var apiSettings: APISettings {
        APISettings(longPollMaxSeconds: longPollMaxSeconds, maxLongPollsPerPrincipal: maxLongPollsPerPrincipal,
                    credentialUsePath: dataDirectory + "/credential-use.json")
    }

    /// The rules for signing client certificates with `ca`.
    public func credentialIssuer(_ ca: CertificateAuthority) -> CredentialIssuer {
        CredentialIssuer(ca: ca, defaultValidityDays: credentialValidityDays, maxValidityDays: credentialMaxValidityDays)
    }
}
