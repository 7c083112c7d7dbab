import Foundation
import Wire

/// One MARAC panel a deployment hosts (SPEC §11.1): the domestic-abuse MARAC, a
/// community/ASB MARAC… Each has its own case types, lead times and referral rules.
/// Panels come from `config/panels.json`; they are configuration, not journaled, but
/// every deadline a meeting gets from its panel is journaled with the meeting.
public struct Panel: Codable, Sendable, Equatable {
    /// A criterion a referrer may claim, e.g. `{"id": "escalation", "text": "Potential escalation"}`.
    public struct Criterion: Codable, Sendable, Equatable {
        public var id: String
        public var text: String
    }

    public var id: String
    public var name: String
    /// The case types the panel hears, e.g. `["asb", "hate-crime"]`.
    public var caseTypes: [String]
    /// The youngest person the panel hears (informational; the `minimumAge` rule checks it).
    public var minimumAge: Int?
    /// Calendar days before a meeting that referrals for it close.
    public var referralLeadDays: Int
    /// Calendar days before a meeting that the coordinator decides its referrals (later needs `urgent`).
    public var acceptanceLeadDays: Int
    public var researchLeadWorkingDays: Int
    public var returnDeadlineHours: Int
    /// Hours before a meeting that invited SPOCs see its agenda.
    public var agendaLeadHours: Int
    public var repeatWindowMonths: Int
    public var retentionMonths: Int
    public var coreAgencies: [String]
    public var criteria: [Criterion]
    public var rules: [ScreeningRule]

    /// The meeting's deadlines under this panel (the research and return deadlines as `DeadlineRules`).
    public func deadlineRules(calendar: WorkingCalendar) -> DeadlineRules {
        DeadlineRules(calendar: calendar, researchLeadWorkingDays: researchLeadWorkingDays, returnDeadlineHours: returnDeadlineHours)
    }
}

/// A referral rule of a panel (SPEC §11.2). Hard rules (`minimumAge`, `excludeCaseTypes`)
/// refuse a referral that fails them; soft rules inform the coordinator's decision.
public enum ScreeningRule: Sendable, Equatable {
    /// The person whose date of birth is at `field` is at least `years` old on the meeting's date (else the referral's).
    case minimumAge(field: String, years: Int)
    /// The case type is none of `types`.
    case excludeCaseTypes(types: [String])
    /// At least `min` of the dated incidents at `field` (a list of objects with a `date`) fall within `months` before the referral.
    case countWithin(field: String, min: Int, months: Int)
    /// The issue whose start date is at `field` began at least `months` before the referral.
    case unresolvedFor(field: String, months: Int)
    /// The referrer claims at least one of `criteria`.
    case anyOf(criteria: [String])

    /// The rule's kind as the configuration names it.
    public var kind: String {
        switch self {
        case .minimumAge: "minimumAge"
        case .excludeCaseTypes: "excludeCaseTypes"
        case .countWithin: "countWithin"
        case .unresolvedFor: "unresolvedFor"
        case .anyOf: "anyOf"
        }
    }

    /// Whether failing the rule refuses the referral (422 `screening_failed`).
    public var isHard: Bool {
        switch self {
        case .minimumAge, .excludeCaseTypes: true
        case .countWithin, .unresolvedFor, .anyOf: false
        }
    }

    /// The case field the rule reads, if any.
    public var field: String? {
        switch self {
        case .minimumAge(let field, _), .countWithin(let field, _, _), .unresolvedFor(let field, _): field
        case .excludeCaseTypes, .anyOf: nil
        }
    }
}

extension ScreeningRule: Codable {
    private enum Key: String, CodingKey { case kind, field, years, types, min, months, criteria }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        switch try c.decode(String.self, forKey: .kind) {
        case "minimumAge": self = .minimumAge(field: try c.decode(String.self, forKey: .field), years: try c.decode(Int.self, forKey: .years))
        case "excludeCaseTypes": self = .excludeCaseTypes(types: try c.decode([String].self, forKey: .types))
        case "countWithin":
            self = .countWithin(field: try c.decode(String.self, forKey: .field), min: try c.decode(Int.self, forKey: .min),
                                months: try c.decode(Int.self, forKey: .months))
        case "unresolvedFor": self = .unresolvedFor(field: try c.decode(String.self, forKey: .field), months: try c.decode(Int.self, forKey: .months))
        case "anyOf": self = .anyOf(criteria: try c.decode([String].self, forKey: .criteria))
        case let other: throw DecodingError.dataCorruptedError(forKey: .kind, in: c, debugDescription: "unknown rule kind \(other)")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(kind, forKey: .kind)
        switch self {
        case .minimumAge(let field, let years): try c.encode(field, forKey: .field); try c.encode(years, forKey: .years)
        case .excludeCaseTypes(let types): try c.encode(types, forKey: .types)
        case .countWithin(let field, let min, let months):
            try c.encode(field, forKey: .field); try c.encode(min, forKey: .min); try c.encode(months, forKey: .months)
        case .unresolvedFor(let field, let months): try c.encode(field, forKey: .field); try c.encode(months, forKey: .months)
        case .anyOf(let criteria): try c.encode(criteria, forKey: .criteria)
        }
    }
}

/// The panels of a deployment, in file order; the first is the default for meetings
/// created without one and for meetings journaled before panels existed.
public struct PanelSet: Sendable, Equatable {
    public let panels: [Panel]

    /// Panels already validated (see `load`); at least one.
    public init(_ panels: [Panel]) {
        precondition(!panels.isEmpty, "a deployment has at least one panel")
        self.panels = panels
    }

    /// Without `panels.json`: one panel `default` with today's deadlines and no rules.
    public static func single(rules: DeadlineRules) -> PanelSet {
        PanelSet([Panel(id: "default", name: "MARAC", caseTypes: ["domestic-abuse"], minimumAge: nil,
                        referralLeadDays: 14, acceptanceLeadDays: 7, researchLeadWorkingDays: rules.researchLeadWorkingDays,
                        returnDeadlineHours: rules.returnDeadlineHours, agendaLeadHours: 24, repeatWindowMonths: 12,
                        retentionMonths: 24, coreAgencies: [], criteria: [], rules: [])])
    }

    /// The default panel.
    public var first: Panel { panels[0] }

    public subscript(id: String) -> Panel? { panels.first { $0.id == id } }

    /// Parses and validates `panels.json`. Refused, naming file and key: unknown keys, a
    /// missing or mistyped value, duplicate ids, a criterion named by a rule but not defined,
    /// an unknown rule kind, a rule field the sharing policy does not classify, and
    /// deadlines that collapse (referral lead shorter than acceptance lead, research lead
    /// not before the return deadline, negative leads, or leads past a year).
    /// - Parameter defaults: the research and return leads a panel that names none takes (`broker.json`'s).
    public static func load(_ data: Data, file: String, policy: SharingPolicy, defaults: DeadlineRules = DeadlineRules()) throws(ConfigError) -> PanelSet {
        let object = try loadJSONObject(data, file: file)
        try rejectUnknownKeys(object, allowed: ["panels", "comment"], file: file)
        guard case .array(let items)? = object["panels"], !items.isEmpty else {
            throw ConfigError(file: file, key: "panels", message: "must be a non-empty array of panels")
        }
        var panels: [Panel] = []
        for (index, item) in items.enumerated() {
            let panel = try loadPanel(item, key: "panels[\(index)]", file: file, policy: policy, defaults: defaults)
            if panels.contains(where: { $0.id == panel.id }) {
                throw ConfigError(file: file, key: "panels[\(index)].id", message: "panel \(panel.id) is defined twice")
            }
            panels.append(panel)
        }
        return PanelSet(panels)
    }

    private static func loadPanel(_ value: JSONValue, key: String, file: String, policy: SharingPolicy,
                                  defaults: DeadlineRules) throws(ConfigError) -> Panel {
        guard case .object(let fields) = value else { throw ConfigError(file: file, key: key, message: "must be an object") }
        try rejectUnknownKeys(fields, allowed: ["id", "name", "caseTypes", "minimumAge", "referralLeadDays", "acceptanceLeadDays",
                                                "researchLeadWorkingDays", "returnDeadlineHours", "agendaLeadHours", "repeatWindowMonths",
                                                "retentionMonths", "coreAgencies", "criteria", "rules", "comment"],
                              file: file, prefix: key + ".")
        func slug(_ name: String, in fields: [String: JSONValue], at prefix: String) throws(ConfigError) -> String {
            guard let text = fields[name]?.string, Validate.isSlug(text) else {
                throw ConfigError(file: file, key: "\(prefix).\(name)", message: "must be a lower-case slug such as \"community\"")
            }
            return text
        }
        func int(_ name: String, _ range: ClosedRange<Int>, default fallback: Int? = nil) throws(ConfigError) -> Int {
            guard let raw = fields[name] else {
                if let fallback { return fallback }
                throw ConfigError(file: file, key: "\(key).\(name)", message: "is required")
            }
            guard let number = raw.int, range.contains(number) else {
                throw ConfigError(file: file, key: "\(key).\(name)", message: "must be a whole number \(range.lowerBound)…\(range.upperBound)")
            }
            return number
        }
        func slugs(_ name: String, in fields: [String: JSONValue], at prefix: String) throws(ConfigError) -> [String] {
            guard case .array(let items)? = fields[name] else {
                throw ConfigError(file: file, key: "\(prefix).\(name)", message: "must be an array of lower-case slugs")
            }
            var result: [String] = []
            for (index, item) in items.enumerated() {
                guard let text = item.string, Validate.isSlug(text), !result.contains(text) else {
                    throw ConfigError(file: file, key: "\(prefix).\(name)[\(index)]", message: "must be a lower-case slug, named once")
                }
                result.append(text)
            }
            return result
        }
        let id = try slug("id", in: fields, at: key)
        guard let name = fields["name"]?.string, Validate.isName(name) else {
            throw ConfigError(file: file, key: key + ".name", message: "must be a non-empty name")
        }
        let caseTypes = try slugs("caseTypes", in: fields, at: key)
        guard !caseTypes.isEmpty else { throw ConfigError(file: file, key: key + ".caseTypes", message: "must name at least one case type") }
        let minimumAge: Int? = fields["minimumAge"] == nil ? nil : try int("minimumAge", 0...120)
        let referralLead = try int("referralLeadDays", 0...365, default: 14)
        let acceptanceLead = try int("acceptanceLeadDays", 0...365, default: 7)
        let researchLead = try int("researchLeadWorkingDays", 1...60, default: defaults.researchLeadWorkingDays)
        let returnHours = try int("returnDeadlineHours", 0...24 * 60, default: defaults.returnDeadlineHours)
        let agendaHours = try int("agendaLeadHours", 0...24 * 60, default: 24)
        guard referralLead >= acceptanceLead else {
            throw ConfigError(file: file, key: key + ".referralLeadDays",
                              message: "referrals must close (\(referralLead) days before) no later than acceptance (\(acceptanceLead) days before)")
        }
        // N working days before at the same wall-clock time is at least N × 24 hours less one (a clock change).
        guard returnHours < researchLead * 24 - 1 else {
            throw ConfigError(file: file, key: key + ".returnDeadlineHours",
                              message: "returns due \(returnHours) hours before would not come after research sent \(researchLead) working days before")
        }
        var criteria: [Panel.Criterion] = []
        if let raw = fields["criteria"] {
            guard case .array(let items) = raw else { throw ConfigError(file: file, key: key + ".criteria", message: "must be an array") }
            for (index, item) in items.enumerated() {
                let at = "\(key).criteria[\(index)]"
                guard case .object(let criterion) = item else { throw ConfigError(file: file, key: at, message: "must be {\"id\", \"text\"}") }
                try rejectUnknownKeys(criterion, allowed: ["id", "text"], file: file, prefix: at + ".")
                let criterionID = try slug("id", in: criterion, at: at)
                guard let text = criterion["text"]?.string, Validate.isText(text, limit: Limits.questionLength) else {
                    throw ConfigError(file: file, key: at + ".text", message: "must be non-empty text")
                }
                guard !criteria.contains(where: { $0.id == criterionID }) else {
                    throw ConfigError(file: file, key: at + ".id", message: "criterion \(criterionID) is defined twice")
                }
                criteria.append(Panel.Criterion(id: criterionID, text: text))
            }
        }
        var rules: [ScreeningRule] = []
        if let raw = fields["rules"] {
            guard case .array(let items) = raw else { throw ConfigError(file: file, key: key + ".rules", message: "must be an array") }
            for (index, item) in items.enumerated() {
                rules.append(try loadRule(item, key: "\(key).rules[\(index)]", file: file, policy: policy, criteria: Set(criteria.map(\.id))))
            }
        }
        return Panel(id: id, name: name, caseTypes: caseTypes, minimumAge: minimumAge, referralLeadDays: referralLead,
                     acceptanceLeadDays: acceptanceLead, researchLeadWorkingDays: researchLead, returnDeadlineHours: returnHours,
                     agendaLeadHours: agendaHours, repeatWindowMonths: try int("repeatWindowMonths", 1...120, default: 12),
                     retentionMonths: try int("retentionMonths", 1...1200, default: 24),
                     coreAgencies: fields["coreAgencies"] == nil ? [] : try slugs("coreAgencies", in: fields, at: key),
                     criteria: criteria, rules: rules)
    }

    private static func loadRule(_ value: JSONValue, key: String, file: String, policy: SharingPolicy,
                                 criteria: Set<String>) throws(ConfigError) -> ScreeningRule {
        guard case .object(let fields) = value, let kind = fields["kind"]?.string else {
            throw ConfigError(file: file, key: key, message: "must be an object with a \"kind\"")
        }
        func field() throws(ConfigError) -> String {
            guard let path = fields["field"]?.string, SharingPolicy.isValidPath(path) else {
                throw ConfigError(file: file, key: key + ".field", message: "must be a case field path")
            }
            guard policy.classify(path) != nil else {
                throw ConfigError(file: file, key: key + ".field", message: "field \"\(path)\" is not classified by the sharing policy")
            }
            return path
        }
        func number(_ name: String, _ range: ClosedRange<Int>) throws(ConfigError) -> Int {
            guard let value = fields[name]?.int, range.contains(value) else {
                throw ConfigError(file: file, key: "\(key).\(name)", message: "must be a whole number \(range.lowerBound)…\(range.upperBound)")
            }
            return value
        }
        func list(_ name: String) throws(ConfigError) -> [String] {
            let items = fields[name]?.array ?? []
            let texts = items.compactMap(\.string)
            guard !items.isEmpty, texts.count == items.count, texts.allSatisfy(Validate.isSlug) else {
                throw ConfigError(file: file, key: "\(key).\(name)", message: "must be a non-empty array of lower-case slugs")
            }
            return texts
        }
        let rule: ScreeningRule
        let allowed: Set<String>
        switch kind {
        case "minimumAge": rule = .minimumAge(field: try field(), years: try number("years", 0...120)); allowed = ["field", "years"]
        case "excludeCaseTypes": rule = .excludeCaseTypes(types: try list("types")); allowed = ["types"]
        case "countWithin":
            rule = .countWithin(field: try field(), min: try number("min", 1...1000), months: try number("months", 1...120))
            allowed = ["field", "min", "months"]
        case "unresolvedFor": rule = .unresolvedFor(field: try field(), months: try number("months", 1...120)); allowed = ["field", "months"]
        case "anyOf":
            let named = try list("criteria")
            if let unknown = named.first(where: { !criteria.contains($0) }) {
                throw ConfigError(file: file, key: key + ".criteria", message: "criterion \(unknown) is not among the panel's criteria")
            }
            rule = .anyOf(criteria: named)
            allowed = ["criteria"]
        default:
            throw ConfigError(file: file, key: key + ".kind",
                              message: "unknown rule kind \(kind) (known: anyOf, countWithin, excludeCaseTypes, minimumAge, unresolvedFor)")
        }
        try rejectUnknownKeys(fields, allowed: allowed.union(["kind", "comment"]), file: file, prefix: key + ".")
        return rule
    }
}
