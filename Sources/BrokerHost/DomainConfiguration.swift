import Broker
import Engine
import Foundation

/// The domain's configuration files in `config/`: `agencies.json`,
/// `calendar.json`, `policy.json` and `panels.json`. An absent file means the embedded
/// default (`DefaultConfiguration`; for `panels.json`, one panel `default` with
/// `broker.json`'s deadlines and no referral rules); an unreadable or invalid one stops
/// start with a message naming the file and the key.
struct DomainConfiguration: Sendable {
    let seeds: [AgencySeed]
    let rules: DeadlineRules
    let panels: PanelSet
    /// Loads the policy once the registry's agencies are known (seeds plus agencies created since).
    let policy: @Sendable (Set<String>) throws -> SharingPolicy

    /// A domain `ConfigError` as the broker's setup error (same file, key and message).
    @Sendable static func wrap<T>(_ body: () throws(ConfigError) -> T) throws -> T {
        do { return try body() } catch {
            throw BrokerSetupError(file: error.file, key: error.key.isEmpty ? nil : error.key, message: error.message)
        }
    }

    static func load(directory: String, configuration: BrokerConfiguration) throws -> DomainConfiguration {
        // A file that is absent means "use the embedded default"; one that exists but cannot be read stops start.
        func read(_ name: String) throws -> (String, Data) {
            let path = (directory as NSString).appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: path) else {
                guard let text = DefaultConfiguration.files[name] else { throw BrokerSetupError(file: path, message: "missing") }
                return ("embedded default \(name)", Data(text.utf8))
            }
            guard let data = FileManager.default.contents(atPath: path) else {
                throw BrokerSetupError(file: path, message: "exists but cannot be read")
            }
            return (path, data)
        }
        guard let zone = TimeZone(identifier: configuration.timeZone) else {
            throw BrokerSetupError(file: "broker.json", key: "timeZone", message: "unknown time zone \(configuration.timeZone)")
        }
        let (agenciesPath, agenciesData) = try read("agencies.json")
        let seeds = try wrap { () throws(ConfigError) in try Agency.loadSeeds(agenciesData, file: agenciesPath) }
        let (calendarPath, calendarData) = try read("calendar.json")
        let calendar = try wrap { () throws(ConfigError) in try WorkingCalendar.load(calendarData, file: calendarPath, timeZone: zone) }
        let (policyPath, policyData) = try read("policy.json")
        let seedIDs = Set(seeds.map(\.id))
        // Validate now, so a broken policy stops start before the journal is touched.
        let policy = try wrap { () throws(ConfigError) in try SharingPolicy.load(policyData, file: policyPath, agencies: seedIDs) }
        let rules = DeadlineRules(calendar: calendar, researchLeadWorkingDays: configuration.researchLeadWorkingDays,
                                  returnDeadlineHours: configuration.returnDeadlineHours)
        var panels = PanelSet.single(rules: rules)
        let panelsPath = (directory as NSString).appendingPathComponent("panels.json")
        if FileManager.default.fileExists(atPath: panelsPath) {
            guard let data = FileManager.default.contents(atPath: panelsPath) else {
                throw BrokerSetupError(file: panelsPath, message: "exists but cannot be read")
            }
            panels = try wrap { () throws(ConfigError) in try PanelSet.load(data, file: panelsPath, policy: policy, defaults: rules) }
        }
        return DomainConfiguration(
            seeds: seeds,
            rules: rules,
            panels: panels,
            policy: { agencies in
                try wrap { () throws(ConfigError) in try SharingPolicy.load(policyData, file: policyPath, agencies: agencies.union(seedIDs)) }
            })
    }
}
