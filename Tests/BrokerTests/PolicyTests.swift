import Foundation
import Testing
@testable import Broker
import Wire

@Suite("Sharing policy")
struct PolicyTests {
    static let agencies: Set<String> = ["police", "housing", "health", "victim-support"]

    static let sample = """
    {"categories": {"identity": ["*"], "contact": ["police", "housing"], "special": []},
     "fields": {"victim.name": "identity", "child.*.name": "identity", "victim.phone": "contact",
                "victim.religion": "special", "child.*.notes.*": "contact"}}
    """

    func policy() throws -> SharingPolicy {
        try SharingPolicy.load(Data(PolicyTests.sample.utf8), file: "policy.json", agencies: PolicyTests.agencies)
    }

    @Test("classify: literal paths and * for exactly one segment")
    func classify() throws {
        let policy = try policy()
        #expect(policy.classify("victim.name") == "identity")
        #expect(policy.classify("child.1.name") == "identity")
        #expect(policy.classify("child.second.name") == "identity")
        #expect(policy.classify("child.name") == nil)
        #expect(policy.classify("child.1.2.name") == nil)
        #expect(policy.classify("child.1.notes.a") == "contact")
        #expect(policy.classify("victim.phone") == "contact")
        #expect(policy.classify("victim") == nil)
        #expect(policy.classify("victim.name.first") == nil)
        #expect(policy.classify("victim..name") == nil)
        #expect(policy.classify("child.*.name") == nil, "a wildcard is not a concrete path")
    }

    @Test("visibleFields: \"*\" is every invited agency, [] the coordinator only, unclassified nobody")
    func visible() throws {
        let policy = try policy()
        let fields: [String: JSONValue] = ["victim.name": .string("A"), "victim.phone": .string("P"),
                                           "victim.religion": .string("R"), "unclassified.thing": .string("U"),
                                           "child.1.name": .string("C")]
        let invited: Set<String> = ["police", "health"]
        #expect(policy.visibleFields(fields, agency: "police", invited: invited).keys.sorted() == ["child.1.name", "victim.name", "victim.phone"])
        #expect(policy.visibleFields(fields, agency: "health", invited: invited).keys.sorted() == ["child.1.name", "victim.name"])
        #expect(policy.visibleFields(fields, agency: "housing", invited: invited).isEmpty, "not invited: nothing")
        #expect(policy.visibleFields(fields, agency: "housing", invited: ["housing"]).keys.sorted() == ["child.1.name", "victim.name", "victim.phone"])
        for agency in PolicyTests.agencies {
            #expect(!policy.isVisible("victim.religion", to: agency, invited: PolicyTests.agencies))
            #expect(!policy.isVisible("unclassified.thing", to: agency, invited: PolicyTests.agencies))
        }
    }

    @Test("Invalid policy files: every error names the file and the key", arguments: [
        ("not json", "", "not valid JSON"),
        (#"{"categories": {}}"#, "fields", "must be an object"),
        (#"{"fields": {}}"#, "categories", "must be an object"),
        (#"{"categories": {}, "fields": {}, "extra": 1}"#, "extra", "unknown key"),
        (#"{"categories": {"c": "police"}, "fields": {}}"#, "categories.c", "must be a list"),
        (#"{"categories": {"c": ["police", "nobody"]}, "fields": {}}"#, "categories.c[1]", "unknown agency 'nobody'"),
        (#"{"categories": {"c": [7]}, "fields": {}}"#, "categories.c[0]", "must be a string"),
        (#"{"categories": {"c": ["*", "police"]}, "fields": {}}"#, "categories.c", "do not list agencies"),
        (#"{"categories": {"bad name": []}, "fields": {}}"#, "categories.bad name", "category name"),
        (#"{"categories": {"c": []}, "fields": {"victim.name": "missing"}}"#, "fields[\"victim.name\"]", "unknown category 'missing'"),
        (#"{"categories": {"c": []}, "fields": {"victim..name": "c"}}"#, "fields[\"victim..name\"]", "a pattern is dotted segments"),
        (#"{"categories": {"c": []}, "fields": {"victim.na me": "c"}}"#, "fields[\"victim.na me\"]", "a pattern is dotted segments"),
        (#"{"categories": {"c": []}, "fields": {"victim.**": "c"}}"#, "fields[\"victim.**\"]", "a pattern is dotted segments"),
        (#"{"categories": {"c": []}, "fields": {"victim.name": 3}}"#, "fields[\"victim.name\"]", "must be a category name"),
        (#"{"categories": {"a": [], "b": ["police"]}, "fields": {"child.*.name": "a", "child.1.name": "b"}}"#,
         "fields[\"child.1.name\"]", "overlaps \"child.*.name\""),
    ])
    func invalid(json: String, key: String, message: String) {
        do {
            _ = try SharingPolicy.load(Data(json.utf8), file: "config/policy.json", agencies: PolicyTests.agencies)
            Issue.record("accepted \(json)")
        } catch {
            #expect(error.file == "config/policy.json")
            #expect(error.key == key)
            #expect(error.message.contains(message), "\(error.message)")
            #expect(error.description.hasPrefix("config/policy.json: "))
        }
    }

    @Test("Overlapping patterns with the same category are fine")
    func sameCategoryOverlap() throws {
        let json = #"{"categories": {"a": ["*"]}, "fields": {"child.*.name": "a", "child.1.name": "a"}}"#
        let policy = try SharingPolicy.load(Data(json.utf8), file: "p", agencies: [])
        #expect(policy.classify("child.1.name") == "a")
    }

    @Test("The shipped policy: identity to all, safe address to police only, special to nobody")
    func shipped() throws {
        let policy = try shippedPolicy()
        let all = Set(try shippedSeeds().map(\.id))
        let see = { (path: String) in all.filter { policy.isVisible(path, to: $0, invited: all) } }
        #expect(see("victim.name") == all)
        #expect(see("perpetrator.dateOfBirth") == all)
        #expect(see("risk.dashScore") == all)
        #expect(see("victim.safeAddress") == ["police"])
        #expect(see("victim.phone") == ["police", "housing", "victim-support"])
        #expect(see("victim.gp") == ["health", "mental-health"])
        #expect(see("child.2.school") == ["childrens-social-care", "education", "health"])
        #expect(see("child.2.name") == ["childrens-social-care", "education", "health"])
        for path in ["victim.sexualOrientation", "victim.immigrationStatus", "victim.religion", "victim.ethnicity"] {
            #expect(see(path).isEmpty, "\(path) must be coordinator-only")
        }
        #expect(policy.classify("victim.shoeSize") == nil)
    }

    @Test("agencies.json: shipped seeds and errors naming file and key")
    func agencySeeds() throws {
        let seeds = try shippedSeeds()
        #expect(seeds.map(\.id).sorted() == ["adult-social-care", "childrens-social-care", "community-safety", "drug-alcohol-service",
                                             "education", "health", "housing", "mental-health", "police", "probation", "victim-support"])
        #expect(seeds.allSatisfy { $0.active })
        func error(_ json: String) -> ConfigError? {
            do { _ = try Agency.loadSeeds(Data(json.utf8), file: "agencies.json"); return nil } catch { return error }
        }
        #expect(error(#"{"agencies": [{"id": "Police", "name": "P", "kind": "core"}]}"#)?.key == "agencies[0].id")
        #expect(error(#"{"agencies": [{"id": "p", "name": "P", "kind": "core"}, {"id": "p", "name": "Q", "kind": "core"}]}"#)?.key == "agencies[1].id")
        #expect(error(#"{"agencies": [{"id": "p", "name": "P", "kind": "major"}]}"#)?.key == "agencies[0].kind")
        #expect(error(#"{"agencies": [{"id": "p", "name": "", "kind": "core"}]}"#)?.key == "agencies[0].name")
        #expect(error(#"{"agencies": [{"id": "p", "name": "P", "kind": "core", "active": "yes"}]}"#)?.key == "agencies[0].active")
        #expect(error(#"{"agencies": [{"id": "p", "name": "P", "kind": "core", "colour": 1}]}"#)?.key == "agencies[0].colour")
    }
}
