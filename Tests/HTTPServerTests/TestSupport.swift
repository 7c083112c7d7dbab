import Testing
@testable import HTTPServer

/// How a test feeds bytes to the parser.
enum Feed: Sendable, CustomTestStringConvertible {
    case whole
    case byteAtATime
    case chunks(Int)

    var testDescription: String {
        switch self {
        case .whole: "whole"
        case .byteAtATime: "byte at a time"
        case .chunks(let size): "chunks of \(size)"
        }
    }
}

extension Array where Element == UInt8 {
    init(_ string: String) { self = Array(string.utf8) }
}

/// Feeds `input` and collects every event, stopping at the first error.
func parseEvents(_ input: [UInt8], limits: HTTPLimits = .default, feed: Feed = .whole) -> [HTTPParser.Event] {
    var parser = HTTPParser(limits: limits)
    return parseEvents(input, parser: &parser, feed: feed)
}

func parseEvents(_ input: [UInt8], parser: inout HTTPParser, feed: Feed) -> [HTTPParser.Event] {
    let size: Int
    switch feed {
    case .whole: size = Swift.max(input.count, 1)
    case .byteAtATime: size = 1
    case .chunks(let chunk): size = chunk
    }
    var events: [HTTPParser.Event] = []
    var start = 0
    repeat {
        let end = Swift.min(start + size, input.count)
        parser.append(Array(input[start..<end]))
        start = end
        while let event = parser.next() {
            events.append(event)
            if case .error = event { return events }
        }
    } while start < input.count
    return events
}

func parseEvents(_ input: String, limits: HTTPLimits = .default, feed: Feed = .whole) -> [HTTPParser.Event] {
    parseEvents([UInt8](input), limits: limits, feed: feed)
}

/// The requests among `events`.
func requests(_ events: [HTTPParser.Event]) -> [HTTPRequest] {
    events.compactMap { if case .request(let request) = $0 { request } else { nil } }
}

/// The error among `events`, if any.
func parseError(_ events: [HTTPParser.Event]) -> HTTPParseError? {
    for event in events {
        if case .error(let error) = event { return error }
    }
    return nil
}

/// Events without `.continueExpected`, whose presence depends on how bytes were chunked.
func withoutContinue(_ events: [HTTPParser.Event]) -> [HTTPParser.Event] {
    events.filter { $0 != .continueExpected }
}
