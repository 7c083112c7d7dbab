import Foundation
import Wire

/// Why the broker refused a command or a caller.
///
/// `code` is the stable snake_case API error code (SPEC §7); `message` is for
/// humans and names what is wrong (the field, the deadline, the serial). The
/// API layer answers `{"error": {"code": code.rawValue, "message": message}}`
/// with the status from `code.httpStatus`.
public struct DomainError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A stable API error code. Extensible: new codes are new static members.
    public struct Code: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
        /// The snake_case code as it appears on the wire.
        public let rawValue: String
        /// Wraps a wire code; prefer the static members.
        public init(rawValue: String) { self.rawValue = rawValue }
        /// The wire code.
        public var description: String { rawValue }

        /// The caller's role may not use this operation (403).
        public static let forbidden = Code(rawValue: "forbidden")
        /// The object does not exist or the caller may not see it; the two are
        /// indistinguishable on purpose (404).
        public static let notFound = Code(rawValue: "not_found")
        /// Malformed input: the request cannot be understood at all (400).
        public static let invalid = Code(rawValue: "invalid")
        /// Well-formed input with a bad value; the message names the field (422).
        public static let validationFailed = Code(rawValue: "validation_failed")
        /// A free-text field holds a control or bidirectional formatting
        /// character; the message names the field (422, SPEC §10).
        public static let invalidText = Code(rawValue: "invalid_text")
        /// A case field path that the sharing policy does not classify (422).
        public static let unknownField = Code(rawValue: "unknown_field")
        /// Research dispatched for a case without a consent record (422).
        public static let consentMissing = Code(rawValue: "consent_missing")
        /// A dispatch asked to send a field the agency may not see (403).
        public static let notEntitled = Code(rawValue: "not_entitled")
        /// A non-urgent dispatch after the meeting's dispatch deadline (409).
        public static let dispatchDeadlinePassed = Code(rawValue: "dispatch_deadline_passed")
        /// A return after its (possibly extended) deadline (409).
        public static let returnDeadlinePassed = Code(rawValue: "return_deadline_passed")
        /// A return would exceed `limits.maxReturnVersionsPerRequest` or
        /// `limits.maxReturnBytesPerRequest`; the message names the limit (409).
        public static let returnLimitReached = Code(rawValue: "return_limit_reached")
        /// A referral that fails one of its panel's hard rules; the message lists every rule's outcome (422).
        public static let screeningFailed = Code(rawValue: "screening_failed")
        /// A referral for a meeting after the meeting's referral deadline (409).
        public static let referralDeadlinePassed = Code(rawValue: "referral_deadline_passed")
        /// A case closed while actions are open; the message names them (409).
        public static let actionsOpen = Code(rawValue: "actions_open")
        /// The command conflicts with the current state (duplicate id, wrong state) (409).
        public static let conflict = Code(rawValue: "conflict")
        /// The caller's certificate serial is not registered (403).
        public static let credentialUnknown = Code(rawValue: "credential_unknown")
        /// The caller's certificate was revoked (403).
        public static let credentialRevoked = Code(rawValue: "credential_revoked")
        /// The caller's certificate has expired (403).
        public static let credentialExpired = Code(rawValue: "credential_expired")
        /// The caller's principal is disabled (403).
        public static let principalDisabled = Code(rawValue: "principal_disabled")
        /// The caller's agency is inactive (403).
        public static let agencyInactive = Code(rawValue: "agency_inactive")
        /// The caller's certificate has not been approved by a coordinator yet (403); `GET /v1/whoami` still answers.
        public static let credentialNotApproved = Code(rawValue: "credential_not_approved")
        /// A certificate signing request that is not one, or whose signature does not verify (422).
        public static let invalidCSR = Code(rawValue: "invalid_csr")
        /// A certificate signing request for a key the broker does not accept (422).
        public static let weakKey = Code(rawValue: "weak_key")
        /// A certificate signing request naming another subject than the registry's (422).
        public static let subjectMismatch = Code(rawValue: "subject_mismatch")

        /// Every code the domain produces. Their statuses and meanings live in the one
        /// registry of wire codes, `Wire.ErrorCode` (a test keeps every one registered).
        public static let all: [Code] = [
            .invalid, .forbidden, .notEntitled, .credentialUnknown, .credentialRevoked, .credentialExpired, .principalDisabled,
            .agencyInactive, .credentialNotApproved, .notFound, .conflict, .dispatchDeadlinePassed, .returnDeadlinePassed,
            .returnLimitReached, .validationFailed, .invalidText, .unknownField, .consentMissing, .invalidCSR, .weakKey, .subjectMismatch,
            .screeningFailed, .referralDeadlinePassed, .actionsOpen,
        ]

        /// Every domain code with the HTTP status the registry gives it.
        public static var httpStatusTable: [Code: Int] { Dictionary(uniqueKeysWithValues: all.map { ($0, $0.httpStatus) }) }

        /// The HTTP status the API answers with for this code (from `Wire.ErrorCode`; 400 if unregistered).
        public var httpStatus: Int { ErrorCode(rawValue: rawValue).status }
    }

    /// The stable API code.
    public let code: Code
    /// A human explanation naming the field, deadline or object concerned.
    public let message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// `code: message`.
    public var description: String { "\(code.rawValue): \(message)" }

    /// The single answer for anything absent or invisible to the caller, so that
    /// the two cannot be told apart. `kind` is the object kind (`request`, `case`).
    static func notFound(_ kind: String) -> DomainError {
        DomainError(.notFound, "no such \(kind)")
    }

    /// The answer for a role that may not use an operation.
    static func forbidden(_ operation: String, role: Role, allowed: Set<Role>) -> DomainError {
        let who = allowed.map(\.rawValue).sorted().joined(separator: " or ")
        return DomainError(.forbidden, "role \(role.rawValue) may not \(operation) (\(who) only)")
    }

    /// A 422 naming the offending field.
    static func invalidField(_ field: String, _ problem: String) -> DomainError {
        DomainError(.validationFailed, "\(field): \(problem)")
    }
}
