import Foundation
import Wire

/// Keyed hashes of a case's identifiers (SPEC §11.6): HMAC-SHA-256 under a key kept beside
/// `data.key`, injected by the host, so a repeat can be found without storing an identifier
/// in clear and without anyone holding the journal alone being able to test a name.
public struct IdentifierHasher: Sendable {
    public let hash: @Sendable ([UInt8]) -> [UInt8]
    public init(hash: @escaping @Sendable ([UInt8]) -> [UInt8]) { self.hash = hash }

    /// The hex hashes of the normalised identifiers in `fields` (none when it holds none).
    func hashes(of fields: [String: JSONValue]) -> [String] {
        RepeatIdentifiers.normalised(fields).map { Array(hash(Array($0.utf8))).hexDigits }
    }
}

/// A case heard before within the panel's repeat window: reported to the coordinator only.
public struct RepeatMatch: Codable, Sendable, Equatable {
    public var `case`: String
    public var reference: String
    /// When it was last heard (its meeting's start).
    public var listedAt: Date
}

/// The identifiers a repeat is recognised by, normalised so that spelling and spacing do not
/// hide one: victim name with date of birth, NHS number, PNC id, postcode with first address line.
enum RepeatIdentifiers {
    static func normalised(_ fields: [String: JSONValue]) -> [String] {
        var result: [String] = []
        func text(_ path: String) -> String? { fields[path]?.string }
        func letters(_ value: String) -> String {
            value.lowercased().unicodeScalars.filter { CharacterSet.alphanumerics.contains($0) || $0 == " " }
                .map(String.init).joined().split(separator: " ").joined(separator: " ")
        }
        func compact(_ value: String) -> String { value.uppercased().unicodeScalars.filter { CharacterSet.alphanumerics.contains($0) }.map(String.init).joined() }
        if let name = text("victim.name").map(letters), !name.isEmpty, let birth = text("victim.dateOfBirth").flatMap(CivilDate.init) {
            result.append("victim:\(name)|\(birth)")
        }
        if let nhs = text("victim.nhsNumber").map(compact), nhs.count >= 10 { result.append("nhs:\(nhs)") }
        for path in fields.keys.sorted() where path == "perpetrator.pncId" || (path.hasPrefix("perpetrator.") && path.hasSuffix(".pncId")) {
            if let pnc = text(path).map(compact), !pnc.isEmpty { result.append("pnc:\(pnc)") }
        }
        if let postcode = text("victim.postcode").map(compact), !postcode.isEmpty,
           let line = text("victim.address").flatMap({ $0.split(whereSeparator: { $0 == "," || $0.isNewline }).first }).map({ letters(String($0)) }), !line.isEmpty {
            result.append("address:\(postcode)|\(line)")
        }
        return result
    }
}

extension Array where Element == UInt8 {
    var hexDigits: String { map { String(format: "%02x", $0) }.joined() }
}

extension Domain {
    /// The identifier-hash event for `subject` (`case:ID` or `referral:ID`), if the broker hashes identifiers.
    func identifierEvent(_ subject: String, fields: [String: JSONValue]) -> Event? {
        guard let hasher = identifierHasher else { return nil }
        let hashes = hasher.hashes(of: fields)
        return hashes.isEmpty ? nil : .identifiersHashed(subject: subject, hashes: hashes)
    }

    /// Cases sharing an identifier with `fields`, heard within `panel`'s repeat window strictly before `date`
    /// (not `excluding` itself); nil when identifiers are not hashed. For the coordinator only.
    func repeats(of fields: [String: JSONValue], panel: Panel, at date: Date, excluding: String? = nil) -> [RepeatMatch]? {
        guard let hasher = identifierHasher else { return nil }
        let wanted = Set(hasher.hashes(of: fields))
        guard !wanted.isEmpty else { return [] }
        let since = rules.calendar.instant(on: rules.calendar.localDate(of: date).date.adding(months: -panel.repeatWindowMonths), secondsOfDay: 0)
        var matches: [RepeatMatch] = []
        for (subject, hashes) in state.identifierHashes ?? [:] where subject.hasPrefix("case:") && !wanted.isDisjoint(with: hashes) {
            let id = String(subject.dropFirst(5))
            guard id != excluding, let record = state.cases[id], record.currentState != .erased else { continue }
            let heard = record.allListings.compactMap { state.meetings[$0.meeting]?.startsAt }.filter { $0 >= since && $0 < date }.max()
            if let heard { matches.append(RepeatMatch(case: id, reference: record.reference, listedAt: heard)) }
        }
        return matches.sorted { ($0.listedAt, $0.case) > ($1.listedAt, $1.case) }
    }
}
