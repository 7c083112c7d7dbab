import Foundation
import Testing
import TestSupport

/// A literal meeting date in a test that runs against a live clock turns the suite
/// red on the day it passes. Such tests compute their dates (`FixtureDates`), or pin
/// the broker's clock and say so with `// clock pinned` on the line.
@Suite struct FixtureDateGuardTests {
    static var testsDirectory: URL { URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent() }

    /// Files whose tests run a real broker, whose clock starts at the real time.
    static func liveClockFiles() throws -> [URL] {
        let enumerator = try #require(FileManager.default.enumerator(at: testsDirectory, includingPropertiesForKeys: nil))
        return enumerator.compactMap { $0 as? URL }.filter { $0.pathExtension == "swift" && $0.lastPathComponent != "FixtureDateGuardTests.swift" }
            .filter { url in
                let text = (try? String(contentsOf: url, encoding: .utf8)) ?? ""
                return ["withTestBroker", "TestBroker(", "Cast.make", "path(\"maracd\")"].contains { text.contains($0) }
            }
    }

    @Test func noLiveClockTestHoldsALiteralDateLessThanAYearAhead() throws {
        let files = try Self.liveClockFiles()
        #expect(files.count >= 8, "the guard found only \(files.map(\.lastPathComponent))")
        let yearAhead = Date().addingTimeInterval(366 * 86_400)
        let pattern = try NSRegularExpression(pattern: #"\b(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})"#)
        var offending: [String] = []
        for file in files {
            let lines = try String(contentsOf: file, encoding: .utf8).components(separatedBy: "\n")
            for (number, line) in lines.enumerated() where !line.contains("// clock pinned") {
                let range = NSRange(line.startIndex..., in: line)
                for match in pattern.matches(in: line, range: range) {
                    let text = (line as NSString).substring(with: match.range)
                    let day = String(text.prefix(10)) + "T00:00:00Z"
                    guard let date = ISO8601DateFormatter().date(from: day), date < yearAhead else { continue }
                    offending.append("\(file.lastPathComponent):\(number + 1): \(text)")
                }
            }
        }
        #expect(offending.isEmpty, "literal dates less than a year ahead in live-clock tests: \(offending)")
    }

    /// The guard itself catches a literal: a line as a careless test would write it.
    @Test func theGuardPatternCatchesAMeetingLiteral() throws {
        let pattern = try NSRegularExpression(pattern: #"\b(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})"#)
        let line = #"["title": "Extra", "startsAt": "2027-02-11T10:00:00Z"]"#
        #expect(pattern.numberOfMatches(in: line, range: NSRange(line.startIndex..., in: line)) == 1)
    }

    @Test(arguments: ["2026-01-01T00:00:00Z", "2026-06-30T12:00:00Z", "2026-12-31T23:59:59Z", "2027-12-03T09:00:00Z", "2028-02-29T10:00:00Z"])
    func fixtureMeetingsAreQuietThursdaysWellAhead(_ now: String) throws {
        let date = try #require(ISO8601DateFormatter().date(from: now))
        let start = FixtureDates.meetingStart(after: date)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.month, .weekday, .hour, .minute], from: start)
        #expect(parts.month == 2 && parts.weekday == 5 && parts.hour == 10 && parts.minute == 0, "\(start)")
        #expect(start.timeIntervalSince(date) > 35 * 86_400, "\(start) is too close to \(now)")
        #expect(FixtureDates.dispatchDeadline(after: date) == start.addingTimeInterval(-7 * 86_400))
        #expect(FixtureDates.returnDeadline(after: date) == start.addingTimeInterval(-86_400))
        #expect(calendar.component(.month, from: FixtureDates.laterMeetingStart(after: date)) == 2)
    }
}
