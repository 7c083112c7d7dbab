import Foundation

/// Start-up configuration or setup is unusable; names the file (and key) at fault.
public struct BrokerSetupError: Error, CustomStringConvertible, Sendable {
    public let file: String
    public let key: String?
    public let message: String

    public init(file: String, key: String? = nil, message: String) {
        self.file = file
        self.key = key
        self.message = message
    }

    public var description: String {
        key.map { "\(file): \($0): \(message)" } ?? "\(file): \(message)"
    }
}
