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
        /// Compatibility-composed, case-, accent- and width-folded; hyphens, apostrophes and other
        /// punctuation as spaces; runs of spaces as one ("Zoë", "ZOE", "Zoe" are one; so are "Mary-Jane" and "Mary Jane").
        func letters(_ value: String) -> String {
            let folded = value.precomposedStringWithCompatibilityMapping
                .folding(options: [.caseInsensitive, .diacriticInsensitive, .widthInsensitive], locale: nil).lowercased()
            return String(String.UnicodeScalarView(folded.unicodeScalars.map { CharacterSet.alphanumerics.contains($0) ? $0 : " " }))
                .split(separator: " ").joined(separator: " ")
        }
        func compact(_ value: String) -> String { value.uppercased().unicodeScalars.filter { CharacterSet.alphanumerics.contains($0) }.map(String.init).joined() }
        if let name = text("victim.name").map(letters), !name.isEmpty, let birth = text("victim.dateOfBirth").flatMap(CivilDate.init) {
            result.append("victim:\(name)|\(birth)")
        }
        if let nhs = text("victim.nhsNumber").map(compact), isNHSNumber(nhs) { result.append("nhs:\(nhs)") }
        for path in fields.keys.sorted() where path == "perpetrator.pncId" || (path.hasPrefix("perpetrator.") && path.hasSuffix(".pncId")) {
            if let pnc = text(path).map(compact), isPNCId(pnc) { result.append("pnc:\(pnc)") }
        }
        // The first address segment holding a house number (not "Flat 2"), with the postcode.
        let units: Set<String> = ["flat", "apartment", "apt", "unit", "room", "floor", "house"]
        if let postcode = text("victim.postcode").map(compact), postcode.count >= 5,
           let line = text("victim.address")?.split(whereSeparator: { $0 == "," || $0.isNewline }).map({ letters(String($0)) })
               .first(where: { segment in
                   let words = segment.split(separator: " ")
                   return words.contains { $0.allSatisfy(\.isNumber) } && words.contains { $0.count >= 3 && $0.allSatisfy(\.isLetter) }
                       && !units.contains(String(words.first ?? ""))
               }) {
            result.append("address:\(postcode)|\(line)")
        }
        return result
    }
}

/// Ten digits whose modulus-11 check digit holds (so `0000000000`-style placeholders… still pass the
/// check: all-equal digits are refused too).
func isNHSNumber(_ text: String) -> Bool {
    let digits = text.compactMap(\.wholeNumberValue)
    guard digits.count == 10, text.count == 10, Set(digits).count > 1 else { return false }
    let sum = zip(digits.prefix(9), stride(from: 10, through: 2, by: -1)).reduce(0) { $0 + $1.0 * $1.1 }
    let check = 11 - sum % 11
    return check != 10 && (check == 11 ? 0 : check) == digits[9]
}

/// A PNC id as written without its slash: a two-digit year, one to seven digits, a check letter.
func isPNCId(_ text: String) -> Bool {
    let scalars = Array(text.unicodeScalars)
    guard (4...10).contains(scalars.count), let last = scalars.last, CharacterSet.uppercaseLetters.contains(last) else { return false }
    let digits = scalars.dropLast()
    return digits.allSatisfy { ("0"..."9").contains($0) } && Set(digits).count > 1
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

    /// After a correction: the subject's hashes replaced by those of its new fields (none clears them).
    func rehash(_ subject: String, fields: [String: JSONValue]) -> [Event] {
        guard let hasher = identifierHasher else { return [] }
        let hashes = hasher.hashes(of: fields)
        return hashes == state.identifierHashes?[subject] ?? [] ? [] : [.identifiersHashed(subject: subject, hashes: hashes)]
    }

    /// Cases sharing an identifier with `fields`, heard within `panel`'s repeat window strictly before `date`
    /// (not `excluding` itself); nil when identifiers are not hashed. For the coordinator only.
    func repeats(of fields: [String: JSONValue], panel: Panel, at date: Date, excluding: String? = nil) -> [RepeatMatch]? {
        guard let hasher = identifierHasher else { return nil }
        let wanted = Set(hasher.hashes(of: fields))
        guard !wanted.isEmpty else { return [] }
        let since = rules.calendar.instant(on: rules.calendar.localDate(of: date).date.adding(months: -panel.repeatWindowMonths), secondsOfDay: 0)
        var matches: [RepeatMatch] = []
        for subject in state.subjects(holdingAnyOf: wanted) where subject.hasPrefix("case:") {
            let id = String(subject.dropFirst(5))
            guard id != excluding, let record = state.cases[id], record.currentState != .erased else { continue }
            let heard = record.allListings.compactMap { state.meetings[$0.meeting]?.startsAt }.filter { $0 >= since && $0 < date }.max()
            if let heard { matches.append(RepeatMatch(case: id, reference: record.reference, listedAt: heard)) }
        }
        return matches.sorted { ($0.listedAt, $0.case) > ($1.listedAt, $1.case) }
    }
}
