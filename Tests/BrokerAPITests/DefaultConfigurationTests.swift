@testable import BrokerAPI
@testable import BrokerHost
import Foundation
import Testing
import TestSupport

/// The compiled-in defaults and the repository's `config/` are the same text,
/// so `maracd serve` with no config directory behaves as documented.
@Suite struct DefaultConfigurationTests {
    @Test(arguments: ["agencies.json", "calendar.json", "policy.json", "broker.json"])
    func embeddedDefaultMatchesRepositoryFile(name: String) throws {
        let path = (TestBroker.repositoryConfig as NSString).appendingPathComponent(name)
        let file = try String(contentsOfFile: path, encoding: .utf8)
        let embedded = try #require(DefaultConfiguration.files[name])
        #expect(file.trimmingCharacters(in: .newlines) == embedded,
                "config/\(name) and DefaultConfiguration.swift differ: regenerate the embedded copy")
    }

    @Test func anEmptyConfigDirectoryStartsOnTheEmbeddedDefaults() throws {
        let dir = try TemporaryDirectory()
        let domain = try DomainConfiguration.load(directory: dir.path("config"), configuration: BrokerConfiguration())
        #expect(domain.seeds.contains { $0.id == "police" })
        _ = try domain.policy(Set(domain.seeds.map(\.id)))
    }

    @Test func aBrokenFileIsNotReplacedByTheDefault() throws {
        let dir = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir.path("config"), withIntermediateDirectories: true)
        try Data("{\"agencies\": 3}".utf8).write(to: URL(fileURLWithPath: dir.path("config/agencies.json")))
        #expect {
            try DomainConfiguration.load(directory: dir.path("config"), configuration: BrokerConfiguration())
        } throws: { error in
            "\(error)".contains("agencies.json")
        }
    }

    /// Without `panels.json`: one panel `default` with broker.json's deadlines (SPEC §11.1); a broken
    /// one stops start naming the file and the key.
    @Test func panelsDefaultToOneAndABrokenFileStopsStart() throws {
        let dir = try TemporaryDirectory()
        var configuration = BrokerConfiguration()
        configuration.researchLeadWorkingDays = 4
        let plain = try DomainConfiguration.load(directory: dir.path("config"), configuration: configuration)
        #expect(plain.panels.panels.map(\.id) == ["default"] && plain.panels.first.researchLeadWorkingDays == 4 && plain.panels.first.rules.isEmpty)
        let shipped = try DomainConfiguration.load(directory: TestBroker.repositoryConfig, configuration: BrokerConfiguration())
        #expect(shipped.panels.panels.map(\.id) == ["domestic-abuse", "community"])

        try FileManager.default.createDirectory(atPath: dir.path("config"), withIntermediateDirectories: true)
        // A panel that names no research lead takes broker.json's.
        try Data(#"{"panels": [{"id": "community", "name": "Community MARAC", "caseTypes": ["asb"]}]}"#.utf8)
            .write(to: URL(fileURLWithPath: dir.path("config/panels.json")))
        #expect(try DomainConfiguration.load(directory: dir.path("config"), configuration: configuration).panels.first.researchLeadWorkingDays == 4)
        let broken = try String(contentsOfFile: TestBroker.repositoryConfig + "/panels.json", encoding: .utf8)
            .replacingOccurrences(of: #""kind": "countWithin""#, with: #""kind": "countSometimes""#)
        try Data(broken.utf8).write(to: URL(fileURLWithPath: dir.path("config/panels.json")))
        #expect {
            try DomainConfiguration.load(directory: dir.path("config"), configuration: BrokerConfiguration())
        } throws: { error in
            let text = "\(error)"
            return text.contains("panels.json") && text.contains("panels[1].rules[2].kind") && text.contains("countSometimes")
        }
    }
}
