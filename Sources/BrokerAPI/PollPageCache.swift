import Broker
import Foundation
import HTTPServer
import Synchronization

/// The encoded answers to `GET /v1/requests?after=` for one agency and cursor.
///
/// When research is released to an agency, every one of its parked long-polls
/// wakes and asks the same question (same agency, same cursor) of the same
/// state. The first one computes and encodes the page; the others reuse the
/// bytes. An entry is valid for one journal position and one wall-clock second
/// (a request's state, such as `overdue`, depends on the time), so no answer is
/// ever staler than the state it was computed from.
final class PollPageCache: Sendable {
    struct Page: Sendable {
        /// The answer as sent (a `500` envelope, never an empty body, if the page could not be encoded).
        let response: HTTPResponse
        let isEmpty: Bool
    }

    private struct Key: Hashable {
        let agency: String
        let role: Role
        let cursor: String
    }

    private struct Stamp: Equatable {
        let seq: UInt64
        let second: Int
    }

    private let pages = Mutex<(stamp: Stamp?, byKey: [Key: Page])>((nil, [:]))
    /// Distinct cursors per stamp are few (one per agency's poller generation); bound it anyway.
    private static let capacity = 4_096

    /// The page for `agency` after `cursor` at journal position `seq` and time `now`, computed by `make` on a miss.
    /// Refusals (a role that may not poll, a bad cursor) are never cached.
    func page(agency: String, role: Role, cursor: String, seq: UInt64, now: Date,
              make: () -> Result<RequestPage, DomainError>) -> Result<Page, DomainError> {
        let stamp = Stamp(seq: seq, second: Int(now.timeIntervalSince1970.rounded(.down)))
        let key = Key(agency: agency, role: role, cursor: cursor)
        if let hit = pages.withLock({ $0.stamp == stamp ? $0.byKey[key] : nil }) { return .success(hit) }
        return make().map { reply in
            let page = Page(response: .json(.ok, reply), isEmpty: reply.requests.isEmpty)
            pages.withLock { cache in
                if cache.stamp != stamp || cache.byKey.count >= Self.capacity { cache = (stamp, [:]) }
                cache.byKey[key] = page
            }
            return page
        }
    }
}
