import Foundation
import Wire

/// An action agreed at a meeting (SPEC §11.5): owned by one agency, followed until it is
/// completed or cancelled. Also its API shape, with `state` shown `overdue` while open past `dueAt`.
public struct Action: Codable, Sendable, Equatable {
    public enum State: String, Codable, Sendable { case open, completed, cancelled }

    public var id: String
    public var `case`: String
    public var reference: String
    public var meeting: String
    public var ownerAgency: String
    /// The SMART action, as agreed.
    public var text: String
    public var dueAt: Date
    /// A rapid action: for swift safeguarding (Ealing).
    public var rapid: Bool
    public var state: State
    public var createdAt: Date
    public var completedAt: Date?
    /// The owner's completion note.
    public var note: String?
    public var cancelledAt: Date?
    public var cancelReason: String?
    /// The change's place in the owner agency's own action feed (the SPOC cursor's unit).
    public var feedPosition: UInt64?
}

/// What a caller sees of an action: the action, its state at the time of asking.
public struct ActionView: Codable, Sendable, Equatable {
    public enum State: String, Codable, Sendable { case open, overdue, completed, cancelled }
    public var id: String
    public var `case`: String
    public var reference: String
    public var meeting: String
    public var ownerAgency: String
    public var text: String
    public var dueAt: Date
    public var rapid: Bool
    public var state: State
    public var createdAt: Date
    public var completedAt: Date?
    public var note: String?
    public var cancelReason: String?

    init(_ action: Action, at now: Date) {
        id = action.id
        self.case = action.case
        reference = action.reference
        meeting = action.meeting
        ownerAgency = action.ownerAgency
        text = action.text
        dueAt = action.dueAt
        rapid = action.rapid
        switch action.state {
        case .open: state = now > action.dueAt ? .overdue : .open
        case .completed: state = .completed
        case .cancelled: state = .cancelled
        }
        createdAt = action.createdAt
        completedAt = action.completedAt
        note = action.note
        cancelReason = action.cancelReason
    }
}

/// `POST /v1/cases/{id}/actions`.
public struct NewAction: Codable, Sendable {
    public var ownerAgency: String
    public var text: String
    public var dueAt: Date
    public var rapid: Bool?
    /// The meeting that agreed it; default the case's latest listing that has started.
    public var meeting: String?
    public init(ownerAgency: String, text: String, dueAt: Date, rapid: Bool? = nil, meeting: String? = nil) {
        self.ownerAgency = ownerAgency; self.text = text; self.dueAt = dueAt; self.rapid = rapid; self.meeting = meeting
    }
}

/// `POST /v1/actions/{id}/complete`.
public struct ActionCompletion: Codable, Sendable {
    public var note: String
    public init(note: String) { self.note = note }
}

/// `POST /v1/actions/{id}/cancel` and `POST /v1/cases/{id}/close`: why.
public struct Reasoned: Codable, Sendable {
    public var reason: String
    public init(reason: String) { self.reason = reason }
}

/// `GET /v1/actions?after=`: the agency's changed actions and the cursor to pass next.
public struct ActionPage: Codable, Sendable, Equatable {
    public var actions: [ActionView]
    public var cursor: String
}

/// `GET /v1/panels/{id}/statistics?from=&to=` (SPEC §11.8): counts only — no case content and
/// no per-case rows — for meetings of the panel held in the period (referrals: made in it).
public struct PanelStatistics: Codable, Sendable, Equatable {
    public struct Referrals: Codable, Sendable, Equatable {
        public var submitted = 0, accepted = 0, declined = 0, redirected = 0
    }
    public struct Heard: Codable, Sendable, Equatable {
        public var new = 0, review = 0
        /// New cases that were repeats when heard (a case sharing an identifier heard within the window before).
        public var repeats = 0
    }
    public struct Returns: Codable, Sendable, Equatable {
        /// Research requests released for the period's meetings.
        public var requested = 0
        /// First return by the (possibly extended) deadline, after it, or none yet.
        public var onTime = 0, late = 0, missing = 0
    }
    public struct Actions: Codable, Sendable, Equatable {
        public var agreed = 0, completedOnTime = 0, completedLate = 0, open = 0, overdue = 0, cancelled = 0
        /// Open actions past their due date now, per owner agency.
        public var overdueByAgency: [String: Int] = [:]
    }
    public var panel: String
    public var from: String
    public var to: String
    public var meetings: Int
    public var referrals: Referrals
    public var casesHeard: Heard
    public var returns: Returns
    public var actions: Actions
}
