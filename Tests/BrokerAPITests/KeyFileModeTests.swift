import BrokerAPI
import BrokerHost
import Engine
import Foundation
import Testing
import TestSupport

/// SPEC §10: a private key readable by group or others stops the broker's start.
@Suite("Key file modes")
struct KeyFileModeTests {
    @Test(arguments: ["ca-key.pem", "server-key.pem", "data.key", "identifier.key"], [0o640, 0o604, 0o644])
    func aKeyOpenToGroupOrOthersStopsStart(key: String, mode: Int) async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("certs/\(key)")
        try BrokerPKI(directory: directory.path("certs")).initialize()
        // Fine at 0600: the broker starts and stops.
        try await TestBroker(directory: directory).stop()
        #expect(chmod(path, mode_t(mode)) == 0)
        let octal = "0" + String(mode, radix: 8)
        #expect {
            _ = try TestBroker(directory: directory)
        } throws: { error in
            guard let setup = error as? BrokerSetupError else { return false }
            return setup.file == path && setup.message.contains("mode \(octal)") && setup.message.contains("chmod 600 \(path)")
        }
        // Put right, it starts again with the same files.
        #expect(chmod(path, 0o600) == 0)
        try await TestBroker(directory: directory).stop()
    }
}
