import Foundation
import Wire

/// Where `marac` finds the broker and the user's credential: command-line
/// flags first, then `MARAC_URL`/`MARAC_CERT`/`MARAC_KEY`/`MARAC_CA`, then a
/// profile file (`~/.config/marac/config.json`, or `MARAC_CONFIG`), so a SPOC
/// sets the paths up once and a script can still override one of them.
public struct ClientSettings: Sendable {
    /// One resolved setting and where it came from (shown by `marac doctor`).
    public struct Setting: Sendable, Equatable, CustomStringConvertible {
        public let value: String
        /// `--url`, `MARAC_URL`, the profile's path, or `default`.
        public let origin: String

        /// A value and where it came from.
        public init(_ value: String, from origin: String) {
            self.value = value
            self.origin = origin
        }

        public var description: String { "\(value) (from \(origin))" }
    }

    /// The names used in flags, environment and profile for each setting.
    public enum Name: String, CaseIterable, Sendable {
        case url, cert, key, ca
        /// `--url`.
        public var flag: String { "--\(rawValue)" }
        /// `MARAC_URL`.
        public var environmentVariable: String { "MARAC_\(rawValue.uppercased())" }
    }

    /// The maracd default listen address, used when nothing else names a broker.
    public static let defaultURL = "https://127.0.0.1:8443"
    /// Overrides the profile file's path.
    public static let profileVariable = "MARAC_CONFIG"

    /// The broker, always set (the maracd default when nothing names one).
    public let url: Setting
    /// The user's certificate, key and the broker's CA, when configured.
    public let cert: Setting?
    public let key: Setting?
    public let ca: Setting?
    /// The profile file consulted (it may not exist).
    public let profilePath: String
    /// Whether the profile file existed and was read.
    public let profileLoaded: Bool

    /// Resolves every setting: flags > environment > profile > default.
    /// - Parameters:
    ///   - flags: values given on the command line, keyed by `Name`.
    ///   - environment: the process environment.
    /// - Throws: `SettingsError` when the profile cannot be read or has unknown keys.
    public static func resolve(flags: [Name: String], environment: [String: String]) throws -> ClientSettings {
        let home = environment["HOME"] ?? NSHomeDirectory()
        let explicitProfile = environment[profileVariable].flatMap { $0.isEmpty ? nil : expandTilde($0, home: home) }
        let profilePath = explicitProfile ?? "\(home)/.config/marac/config.json"
        var profile: [String: String] = [:]
        var loaded = false
        if FileManager.default.fileExists(atPath: profilePath) {
            profile = try readProfile(profilePath, home: home)
            loaded = true
        } else if explicitProfile != nil {
            throw SettingsError("\(profileVariable) names \(profilePath), which does not exist")
        }
        func setting(_ name: Name) -> Setting? {
            if let value = flags[name], !value.isEmpty { return Setting(name == .url ? value : expandTilde(value, home: home), from: name.flag) }
            if let value = environment[name.environmentVariable], !value.isEmpty {
                return Setting(name == .url ? value : expandTilde(value, home: home), from: name.environmentVariable)
            }
            if let value = profile[name.rawValue] { return Setting(value, from: profilePath) }
            return nil
        }
        return ClientSettings(url: setting(.url) ?? Setting(defaultURL, from: "default"), cert: setting(.cert), key: setting(.key),
                              ca: setting(.ca), profilePath: profilePath, profileLoaded: loaded)
    }

    /// A setting that must be present, or the error saying the three ways to give it.
    public func required(_ name: Name) throws -> Setting {
        let value: Setting? = switch name {
        case .url: url
        case .cert: cert
        case .key: key
        case .ca: ca
        }
        guard let value else {
            throw SettingsError("no \(name.rawValue) file given: use \(name.flag), set \(name.environmentVariable), or put \"\(name.rawValue)\" in \(profilePath)")
        }
        return value
    }

    /// Loads the CA, certificate and key files.
    /// - Throws: `SettingsError` naming the file that is missing or not PEM.
    public func identity() throws -> ClientIdentity {
        let ca = try required(.ca), cert = try required(.cert), key = try required(.key)
        for setting in [ca, cert, key] where !FileManager.default.isReadableFile(atPath: setting.value) {
            let exists = FileManager.default.fileExists(atPath: setting.value)
            throw SettingsError("cannot read \(setting.value) (from \(setting.origin)): \(exists ? "permission denied" : "no such file")")
        }
        do {
            return try ClientIdentity(certificateFile: cert.value, keyFile: key.value, caFile: ca.value)
        } catch {
            throw SettingsError("cannot load the credential files (\(cert.value), \(key.value), \(ca.value)): \(error)")
        }
    }

    /// A client for the resolved broker and identity.
    /// - Throws: `SettingsError` for missing files or a bad URL; `ClientError(.tls)` when the key does not match the certificate.
    public func client(timeout: TimeInterval = 75) throws -> BrokerClient {
        let identity = try identity()
        if let certificate = identity.certificate, let key = identity.privateKey, !certificate.matches(key) {
            throw ClientError(.tls, "the private key \(self.key?.value ?? "") does not match the certificate \(cert?.value ?? "") (serial \(certificate.serial))")
        }
        do { return try BrokerClient(url: url.value, identity: identity, timeout: timeout) } catch let error as ClientError {
            throw SettingsError("\(error.message) (from \(url.origin))")
        }
    }

    /// Reads `{"url", "cert", "key", "ca"}`; relative paths are relative to the profile's directory.
    static func readProfile(_ path: String, home: String) throws -> [String: String] {
        guard let data = FileManager.default.contents(atPath: path) else { throw SettingsError("cannot read the profile \(path)") }
        let json: JSONValue
        do { json = try JSONValue(parsing: [UInt8](data)) } catch {
            throw SettingsError("profile \(path): \(error.message)")
        }
        guard let members = json.object else { throw SettingsError("profile \(path): must be a JSON object such as {\"url\": \"https://…\", \"ca\": \"ca.pem\"}") }
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        var values: [String: String] = [:]
        for (key, value) in members {
            guard let name = Name(rawValue: key) else {
                throw SettingsError("profile \(path): unknown key \"\(key)\"; allowed: url, cert, key, ca")
            }
            guard let text = value.string, !text.isEmpty else { throw SettingsError("profile \(path): \"\(key)\" must be a non-empty string") }
            if name == .url { values[key] = text; continue }
            let expanded = expandTilde(text, home: home)
            values[key] = expanded.hasPrefix("/") ? expanded : "\(directory)/\(expanded)"
        }
        return values
    }

    static func expandTilde(_ path: String, home: String) -> String {
        if path == "~" { return home }
        if path.hasPrefix("~/") { return home + path.dropFirst() }
        return path
    }
}

/// A setting or local file the user must fix before anything is sent (exit code 2).
public struct SettingsError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
