import Foundation

/// The two deadlines of a meeting (SPEC §4).
public struct Deadlines: Sendable, Equatable, Codable {
    /// The last moment research may be dispatched without being urgent.
    public let dispatch: Date
    /// The last moment a return may be written, unless extended.
    public let `return`: Date
}

/// How deadlines follow from a meeting's start: `researchLeadWorkingDays`
/// working days before, at the same local wall-clock time, for dispatch;
/// `returnDeadlineHours` absolute hours before, for returns.
public struct DeadlineRules: Sendable, Equatable {
    /// The working-day calendar (and time zone).
    public let calendar: WorkingCalendar
    /// Working days between the dispatch deadline's date and the meeting's date (SPEC: 5).
    public let researchLeadWorkingDays: Int
    /// Hours between the return deadline and the meeting's start (SPEC: 24).
    public let returnDeadlineHours: Int

    /// Creates the rules; the defaults are the SPEC's.
    public init(calendar: WorkingCalendar = WorkingCalendar(), researchLeadWorkingDays: Int = 5, returnDeadlineHours: Int = 24) {
        self.calendar = calendar
        self.researchLeadWorkingDays = researchLeadWorkingDays
        self.returnDeadlineHours = returnDeadlineHours
    }

    /// The meeting's local wall-clock time on the date `researchLeadWorkingDays`
    /// working days before the meeting's local date. Example: 2027-04-01T09:00:00Z
    /// (10:00 BST) → 2027-03-23T10:00:00Z (10:00 GMT), skipping Easter.
    public func dispatchDeadline(startsAt: Date) -> Date {
        let local = calendar.localDate(of: startsAt)
        let date = calendar.workingDays(researchLeadWorkingDays, before: local.date)
        return calendar.instant(on: date, secondsOfDay: local.secondsOfDay)
    }

    /// `startsAt` minus `returnDeadlineHours` × 3600 s, absolute.
    public func returnDeadline(startsAt: Date) -> Date {
        startsAt.addingTimeInterval(-Double(returnDeadlineHours) * 3600)
    }

    /// Both deadlines.
    public func deadlines(startsAt: Date) -> Deadlines {
        Deadlines(dispatch: dispatchDeadline(startsAt: startsAt), return: returnDeadline(startsAt: startsAt))
    }
}
