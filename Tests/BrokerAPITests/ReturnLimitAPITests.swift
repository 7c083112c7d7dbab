import Broker
import BrokerAPI
import BrokerHost
import HTTPServer
import Foundation
import MaracClient
import Testing
import TestSupport

/// Return caps from `broker.json` reach the domain; over the API the refusal is
/// 409 `return_limit_reached` naming the limit, with nothing stored.
@Suite("Return limits over the API")
struct ReturnLimitAPITests {
    @Test func theKeysParseWithDefaultsAndRanges() throws {
        let defaults = try BrokerConfiguration.parse(Data("{}".utf8), file: "broker.json")
        #expect(defaults.returnLimits == ReturnLimits(maxVersions: 20, maxBytes: 1 << 20))
        let set = try BrokerConfiguration.parse(Data(#"{"limits": {"maxReturnVersionsPerRequest": 5, "maxReturnBytesPerRequest": 65536}}"#.utf8),
                                                file: "broker.json")
        #expect(set.returnLimits == ReturnLimits(maxVersions: 5, maxBytes: 65_536))
        // The server's event loops: one per core unless set, 1…256.
        #expect(defaults.eventLoops == ServerConfiguration.defaultEventLoops)
        #expect(try BrokerConfiguration.parse(Data(#"{"eventLoops": 3}"#.utf8), file: "broker.json").eventLoops == 3)
        #expect(throws: (any Error).self) { try BrokerConfiguration.parse(Data(#"{"eventLoops": 0}"#.utf8), file: "broker.json") }
        for bad in [#"{"limits": {"maxReturnVersionsPerRequest": 0}}"#, #"{"limits": {"maxReturnBytesPerRequest": 10}}"#,
                    #"{"limits": {"maxReturnVersionsPerRequest": "many"}}"#] {
            #expect {
                _ = try BrokerConfiguration.parse(Data(bad.utf8), file: "broker.json")
            } throws: { error in
                "\(error)".contains("limits.maxReturn")
            }
        }
        let shipped = try BrokerConfiguration.load(directory: TestBroker.repositoryConfig)
        #expect(shipped.returnLimits == .default, "config/broker.json states the defaults")
    }

    @Test func aReturnPastTheVersionLimitIs409AndStoresNothing() async throws {
        let broker = try TestBroker { $0.returnLimits = ReturnLimits(maxVersions: 2, maxBytes: 1 << 20) }
        do {
            let cast = try await Cast.make(broker, agencies: ["police"])
            let meetingID = try #require(try await cast.meeting(at: FixtureDates.meetingStart())["id"].string)
            let caseID = try #require(try await cast.case(meeting: meetingID, fields: ["victim.name": "Jane Doe"])["id"].string)
            let dispatched = try await cast.coordinator.client.json("POST", "/v1/cases/\(caseID)/research", ["agencies": ["police"], "questions": ["Known?"]])
            let requestID = try #require(dispatched.json["requests"][0]["id"].string)
            let police = cast.spocs["police"]!.client
            for index in 1...2 {
                let stored = try await police.json("PUT", "/v1/requests/\(requestID)/return",
                                                   ["knownToAgency": true, "summary": "Version \(index)", "answers": ["Yes"]])
                #expect(stored.status == 200 || stored.status == 201, "\(stored.text)")
            }
            let refused = try await police.json("PUT", "/v1/requests/\(requestID)/return", ["knownToAgency": true, "summary": "Version 3", "answers": ["Yes"]])
            #expect(refused.status == 409 && refused.errorCode == "return_limit_reached", "\(refused.text)")
            #expect(refused.json["error"]["message"].string?.contains("limits.maxReturnVersionsPerRequest") == true, "\(refused.text)")
            let history = try await police.json("GET", "/v1/requests/\(requestID)/return")
            #expect(history.json["versions"].array.count == 2 && history.json["latest"]["summary"].string == "Version 2", "\(history.text)")
            // Still so after a restart: the limit comes from the configuration, not from the journal.
            try await broker.restart()
            let again = try await cast.reconnected().spocs["police"]!.client.json("PUT", "/v1/requests/\(requestID)/return",
                                                                                   ["knownToAgency": true, "summary": "Version 3", "answers": ["Yes"]])
            #expect(again.status == 409 && again.errorCode == "return_limit_reached", "\(again.text)")
        } catch {
            await broker.stop()
            throw error
        }
        await broker.stop()
    }
}
