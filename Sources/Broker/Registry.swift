import Foundation

/// What a principal may do (SPEC §3).
public enum Role: String, Codable, Sendable, CaseIterable {
    /// Creates meetings and cases, dispatches research, grants extensions, reads every return.
    case coordinator
    /// Sees only its own agency's requests and returns.
    case spoc
    /// Manages agencies, principals and credentials; reads the audit log; never sees case content.
    case admin
    /// Reads and verifies the audit log only.
    case auditor
    /// Scrapes the broker's operational metrics (`GET /metrics`) only: counts, never case
    /// content, audit records or principal names.
    case monitor

    /// Whether the role is shown case content (fields, requests, returns). Such
    /// a principal's credentials work only once a coordinator has approved it,
    /// so an administrator alone can never give anyone, itself included, access to cases.
    public var seesCaseContent: Bool { self == .coordinator || self == .spoc }

    /// Whether a credential of this role must be approved by a coordinator (not its holder)
    /// before it is honoured (SPEC §10): every role that can read case text, the
    /// auditor's free-text reasons included. An administrator alone can never open case content.
    /// A monitor reads counts only, so it needs none either.
    public var needsApproval: Bool { self != .admin && self != .monitor }
}

/// Whether a credential has been approved for access to case text.
public enum CredentialApproval: Codable, Sendable, Equatable {
    /// Issued, not yet approved: it completes the handshake, and only `GET /v1/whoami` answers.
    case pending
    /// Approved by a coordinator (or by the server operator offline, `offline-<user>`), or carried over by a renewal.
    case approved(by: String, at: Date)
}

/// Who is making a request, as established by `BrokerState.identify` from the
/// peer certificate's serial. Recorded on every journal entry.
public struct Actor: Codable, Sendable, Equatable {
    /// The principal's id.
    public let principal: String
    /// The principal's agency.
    public let agency: String
    /// The principal's role at the time.
    public let role: Role
    /// The certificate serial used (upper-case hex).
    public let serial: String

    /// Creates an actor.
    public init(principal: String, agency: String, role: Role, serial: String) {
        self.principal = principal
        self.agency = agency
        self.role = role
        self.serial = serial
    }
}

/// Whether an agency is one of the statutory core MARAC agencies.
public enum AgencyKind: String, Codable, Sendable, CaseIterable {
    /// A core agency (police, probation, health, social care, housing, IDVA…).
    case core
    /// Any other participating agency.
    case nonCore = "non-core"
}

/// An agency; also its API shape `{id, name, kind, active}`.
public struct Agency: Codable, Sendable, Equatable {
    /// Lower-case slug, e.g. `victim-support`.
    public var id: String
    /// Display name.
    public var name: String
    /// Core or non-core.
    public var kind: AgencyKind
    /// An inactive agency's principals are refused and it cannot be sent research.
    public var active: Bool

    /// Creates an agency.
    public init(id: String, name: String, kind: AgencyKind, active: Bool = true) {
        self.id = id
        self.name = name
        self.kind = kind
        self.active = active
    }
}

/// A person or agent; also its API shape `{id, name, agency, role, active, approvedBy?, approvedAt?}`.
public struct Principal: Codable, Sendable, Equatable {
    /// Slug, e.g. `jo-smith`; the certificate's CN.
    public var id: String
    /// Display name.
    public var name: String
    /// The agency the principal acts for.
    public var agency: String
    /// What the principal may do.
    public var role: Role
    /// A disabled principal is refused on its next request.
    public var active: Bool
    /// Who approved this principal's access to case content (a coordinator, or
    /// the server operator offline); cleared when its role or agency changes.
    public var approvedBy: String?
    /// When it was approved.
    public var approvedAt: Date?

    /// Creates a principal.
    public init(id: String, name: String, agency: String, role: Role, active: Bool = true,
                approvedBy: String? = nil, approvedAt: Date? = nil) {
        self.id = id
        self.name = name
        self.agency = agency
        self.role = role
        self.active = active
        self.approvedBy = approvedBy
        self.approvedAt = approvedAt
    }

    /// Whether the principal may act in its role: roles that see case content need an approval.
    public var isApproved: Bool { !role.seesCaseContent || approvedAt != nil }
}

/// A client certificate registered for a principal. Issue 6 extends this.
public struct Credential: Codable, Sendable, Equatable {
    /// Upper-case hex serial without separators.
    public var serial: String
    /// The principal it was issued to.
    public var principal: String
    /// When it was issued.
    public var issuedAt: Date
    /// When it expires.
    public var notAfter: Date
    /// When it was revoked, if it was.
    public var revokedAt: Date?
    /// Why it was revoked.
    public var revocationReason: String?
    /// Its approval for case text. `nil` for a credential journaled before approvals belonged
    /// to credentials (before SPEC §10): it follows its principal's approval, as it did then.
    public var approval: CredentialApproval?
    /// The holder's credential this one renewed (`POST /v1/credentials/renew`); each is renewed at most once.
    public var renewedFrom: String?
    /// SHA-256 of the certified key's DER SubjectPublicKeyInfo (upper-case hex): no key is certified
    /// twice. Nil for a credential journaled before keys were recorded.
    public var keySHA256: String?

    /// Creates a credential.
    public init(serial: String, principal: String, issuedAt: Date, notAfter: Date, revokedAt: Date? = nil, revocationReason: String? = nil,
                approval: CredentialApproval? = nil, renewedFrom: String? = nil, keySHA256: String? = nil) {
        self.renewedFrom = renewedFrom
        self.keySHA256 = keySHA256
        self.serial = serial
        self.principal = principal
        self.issuedAt = issuedAt
        self.notAfter = notAfter
        self.revokedAt = revokedAt
        self.revocationReason = revocationReason
        self.approval = approval
    }

    /// Whether it is honoured for `principal`'s current role: approved, or of a role that needs none.
    public func isApproved(for principal: Principal) -> Bool {
        guard principal.role.needsApproval else { return true }
        switch approval {
        case .approved: return true
        case .pending: return false
        // Journaled before SPEC §10: a coordinator's or SPOC's follows its principal's approval, as then;
        // an auditor's was never approved by anyone, so it is pending now.
        case nil: return principal.role.seesCaseContent && principal.approvedAt != nil
        }
    }

    /// Who approved it, if anyone (for a credential from before SPEC §10, its principal's approver).
    public func approver(for principal: Principal) -> (by: String, at: Date)? {
        switch approval {
        case .approved(let by, let at): return (by, at)
        case .pending: return nil
        case nil: return principal.approvedBy.flatMap { by in principal.approvedAt.map { (by, $0) } }
        }
    }

    /// `active`, `expired` or `revoked` at `now`.
    public func status(at now: Date) -> String {
        if revokedAt != nil { return "revoked" }
        return now > notAfter ? "expired" : "active"
    }
}

/// An agency to create on first start, from `config/agencies.json`.
public typealias AgencySeed = Agency

extension Agency {
    /// Loads `config/agencies.json`: `{"agencies": [{"id", "name", "kind", "active"?}]}`.
    /// - Throws: `ConfigError` naming `file` and the key at fault (bad slug,
    ///   duplicate id, unknown kind, missing name).
    public static func loadSeeds(_ data: Data, file: String) throws(ConfigError) -> [AgencySeed] {
        let object = try loadJSONObject(data, file: file)
        try rejectUnknownKeys(object, allowed: ["agencies", "comment"], file: file)
        guard case .array(let items)? = object["agencies"] else {
            throw ConfigError(file: file, key: "agencies", message: "must be a list of {\"id\", \"name\", \"kind\", \"active\"}")
        }
        var seeds: [AgencySeed] = []
        for (index, item) in items.enumerated() {
            let key = "agencies[\(index)]"
            guard case .object(let fields) = item else {
                throw ConfigError(file: file, key: key, message: "must be an object")
            }
            try rejectUnknownKeys(fields, allowed: ["id", "name", "kind", "active"], file: file, prefix: key + ".")
            guard let id = fields["id"]?.string, Validate.isSlug(id) else {
                throw ConfigError(file: file, key: key + ".id", message: "must be a lower-case slug such as \"victim-support\"")
            }
            guard !seeds.contains(where: { $0.id == id }) else {
                throw ConfigError(file: file, key: key + ".id", message: "duplicate agency '\(id)'")
            }
            guard let name = fields["name"]?.string, Validate.isName(name) else {
                throw ConfigError(file: file, key: key + ".name", message: "must be a non-empty name of at most \(Limits.nameLength) characters")
            }
            guard let kindText = fields["kind"]?.string, let kind = AgencyKind(rawValue: kindText) else {
                throw ConfigError(file: file, key: key + ".kind", message: "must be \"core\" or \"non-core\"")
            }
            var active = true
            if let value = fields["active"] {
                guard case .bool(let flag) = value else {
                    throw ConfigError(file: file, key: key + ".active", message: "must be true or false")
                }
                active = flag
            }
            seeds.append(Agency(id: id, name: name, kind: kind, active: active))
        }
        return seeds
    }
}

/// Shared input checks.
enum Validate {
    /// A lower-case slug: `a-z0-9` words joined by single hyphens, at most `Limits.idLength`.
    static func isSlug(_ text: String) -> Bool {
        guard !text.isEmpty, text.utf8.count <= Limits.idLength, !text.hasPrefix("-"), !text.hasSuffix("-"),
              !text.contains("--") else { return false }
        return text.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
    }

    /// Non-blank, at most `limit` characters, no control characters: Foundation's
    /// `whitespacesAndNewlines` and `controlCharacters` (general categories Cc and Cf),
    /// spelt with the scalars' own properties, which cost far less than `CharacterSet`
    /// lookups on every scalar of every text field.
    static func isText(_ text: String, limit: Int, multiline: Bool = false) -> Bool {
        var blank = true
        // ASCII (most text) without looking up Unicode properties: its controls are U+0000–U+001F
        // and DEL, it has no format characters, and its white space is U+0009–U+000D and U+0020.
        var ascii = true
        for byte in text.utf8 {
            guard byte < 0x80 else {
                ascii = false
                break
            }
            if byte < 0x20 || byte == 0x7F {
                guard multiline, byte == 0x0A || byte == 0x09 || byte == 0x0D else { return false }
            }
            if blank && byte != 0x20 && !(0x09...0x0D).contains(byte) { blank = false }
        }
        if ascii { return !blank && (text.utf8.count <= limit || text.count <= limit) }
        blank = true
        for scalar in text.unicodeScalars {
            switch scalar.properties.generalCategory {
            case .control, .format:
                guard multiline, scalar == "\n" || scalar == "\t" || scalar == "\r" else { return false }
            default:
                break
            }
            if blank && !isWhitespaceOrNewline(scalar) { blank = false }
        }
        // A character is at least one byte: count characters only when the bytes could exceed the limit.
        return !blank && (text.utf8.count <= limit || text.count <= limit)
    }

    /// Foundation's `CharacterSet.whitespacesAndNewlines`: general category Z*, U+0009–U+000D and U+0085.
    static func isWhitespaceOrNewline(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .spaceSeparator, .lineSeparator, .paragraphSeparator: return true
        default: return (0x09...0x0D).contains(scalar.value) || scalar.value == 0x85
        }
    }

    /// A display name.
    static func isName(_ text: String) -> Bool { isText(text, limit: Limits.nameLength) }

    /// A meeting time slot, `HH:MM` on the 24-hour clock.
    static func isSlot(_ text: String) -> Bool {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ $0.count == 2 && $0.allSatisfy { ("0"..."9").contains($0) } }),
              let hours = Int(parts[0]), let minutes = Int(parts[1]) else { return false }
        return hours < 24 && minutes < 60
    }

    /// An upper-case hex certificate serial without separators.
    static func isSerial(_ text: String) -> Bool {
        !text.isEmpty && text.count <= 40 && text.unicodeScalars.allSatisfy { ("0"..."9").contains($0) || ("A"..."F").contains($0) }
    }
}
