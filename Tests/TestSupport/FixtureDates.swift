import Foundation

/// Meeting dates for tests that run against a live broker, computed from the
/// clock so that no fixture ever falls into the past (a literal date turns the
/// suite red on the day it passes; `FixtureDateGuardTests` refuses them).
public enum FixtureDates {
    /// The second Thursday of February next year, 10:00 GMT. February holds no
    /// bank holiday and no clock change in England and Wales, so the dispatch
    /// deadline is exactly seven days earlier (five working days) and the
    /// return deadline 24 hours earlier, whatever the year. It is always at
    /// least five weeks after `now`.
    public static func meetingStart(after now: Date = Date()) -> Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let year = calendar.component(.year, from: now) + 1
        let firstOfFebruary = calendar.date(from: DateComponents(year: year, month: 2, day: 1, hour: 10))!
        let weekday = calendar.component(.weekday, from: firstOfFebruary)  // Sunday = 1, Thursday = 5
        let firstThursday = 1 + (5 - weekday + 7) % 7
        return calendar.date(from: DateComponents(year: year, month: 2, day: firstThursday + 7, hour: 10))!
    }

    /// Five working days before `meetingStart(after:)`: the Thursday before, same time.
    public static func dispatchDeadline(after now: Date = Date()) -> Date { meetingStart(after: now).addingTimeInterval(-7 * 86_400) }

    /// 24 hours before `meetingStart(after:)`.
    public static func returnDeadline(after now: Date = Date()) -> Date { meetingStart(after: now).addingTimeInterval(-86_400) }

    /// A later meeting in the same quiet month: the Thursday after `meetingStart(after:)`.
    public static func laterMeetingStart(after now: Date = Date()) -> Date { meetingStart(after: now).addingTimeInterval(7 * 86_400) }
}
