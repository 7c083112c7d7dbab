import Foundation

/// Every size and count limit the domain enforces, in one place.
///
/// The HTTP layer has its own body limit; these bound what a well-formed body
/// may ask the broker to store, so that one case cannot exhaust the journal.
public enum Limits {
    /// Credentials this close to expiry are flagged for rotation.
    public static let expiryWarningDays = 30
    /// Longest id (agency or principal slug, reference).
    public static let idLength = 64
    /// Longest display name (agency, principal).
    public static let nameLength = 200
    /// Longest meeting title.
    public static let titleLength = 200
    /// Longest case reference, e.g. `MARAC-2027-0042`.
    public static let referenceLength = 64
    /// Most fields on one case.
    public static let caseFieldCount = 200
    /// Longest dotted field path.
    public static let fieldPathLength = 200
    /// Most segments in a field path.
    public static let fieldPathSegments = 8
    /// Largest single field value (estimated compact JSON bytes).
    public static let fieldValueBytes = 16 * 1024
    /// Largest case, all field values together.
    public static let caseBytes = 256 * 1024
    /// Deepest nesting inside one field value.
    public static let fieldValueDepth = 8
    /// Longest lawful basis text.
    public static let lawfulBasisLength = 1_000
    /// Most agencies in one dispatch.
    public static let dispatchAgencies = 32
    /// Most questions in one dispatch.
    public static let questionCount = 50
    /// Longest question.
    public static let questionLength = 2_000
    /// Longest urgency or extension reason.
    public static let reasonLength = 1_000
    /// Longest return summary.
    public static let summaryLength = 20_000
    /// Longest single answer.
    public static let answerLength = 20_000
    /// Most withheld items on one return.
    public static let withheldCount = 100
    /// Longest `what` or `reason` of a withheld item.
    public static let withheldTextLength = 2_000
    // The most versions and bytes of one request's return are configurable: `ReturnLimits`.
    /// Largest page of requests or audit records.
    public static let pageSize = 500
    /// Referrals one agency may have awaiting the coordinator's decision.
    public static let waitingReferralsPerAgency = 200
    /// Longest action text or completion note.
    public static let actionTextLength = 2_000
    /// How far ahead a follow-up's return deadline may be.
    public static let followUpDays = 90
}
