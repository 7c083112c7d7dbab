import Foundation
import MaracClient
import Wire

/// `marac action watch`: a long-poll loop on `GET /v1/actions?after=&wait=` that prints each
/// change to the agency's actions (agreed, completed, cancelled) as it happens, with the same
/// waiting-out of an unreachable broker as `marac requests watch`.
struct ActionWatcher {
    let run: Invocation
    let wait: Int
    var backoff: Backoff
    var cursor: String?

    init(_ run: Invocation) throws {
        self.run = run
        (wait, backoff) = try Watcher.pollSettings(run)
    }

    mutating func loop() throws {
        for number in [SIGTERM, SIGINT] {
            signal(number) { _ in _exit(0) }   // stopping a watch is its normal end
        }
        let client = try run.client()
        let url = try run.settings().url.value
        run.output.error("watching \(url) for your agency's actions (long-poll \(wait) s); stop with Ctrl-C")
        while true {
            var path = "/v1/actions?wait=\(wait)"
            if let cursor { path += "&after=\(escaped(cursor))" }
            do {
                let response = try client.sendBlocking("GET", path)
                guard (200..<300).contains(response.status) else { throw BrokerClient.refusal(response) }
                backoff.reset()
                let page: JSONValue
                do { page = try JSONValue(parsing: response.body) } catch { throw ClientError(.protocolViolation, error.message) }
                for action in page["actions"].array {
                    if run.json { run.output.raw(Array(action.description.utf8)) } else { run.output.line(Self.describe(action)) }
                }
                if let next = page["cursor"].string { cursor = next }
            } catch let error as ClientError {
                guard Watcher.isTransient(error) else { throw error }
                let delay = backoff.nextDelay()
                run.output.error("broker unreachable (\(error.message)); retrying in \(String(format: "%.1f", delay)) s")
                Thread.sleep(forTimeInterval: delay)
            }
        }
    }

    /// `TIME  STATE  ID  REFERENCE  due DATE (countdown)  [RAPID]  TEXT`.
    static func describe(_ action: JSONValue) -> String {
        var text = "\(TimeText.utc(Date()))  \(action["state"].displayText.uppercased())  \(action["id"].displayText)  \(action["reference"].displayText)"
        if let due = action["dueAt"].string.flatMap({ RFC3339.parse($0) }) {
            text += "  due \(TimeText.utc(due))" + (action["state"].string == "open" ? " (\(TimeText.countdown(to: due)))" : "")
        }
        if action["rapid"].bool == true { text += "  RAPID" }
        return text + "  " + action["text"].displayText
    }
}
