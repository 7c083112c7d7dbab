import Foundation
@testable import Wire
import Synchronization
import Testing

struct LoggerTests {
    /// Lines captured from a logger, with the timestamp replaced so two lines can be compared.
    final class Capture: Sendable {
        let lines = Mutex<[String]>([])
        var logger: Logger { Logger { line in self.lines.withLock { $0.append(line) } } }
        var withoutTimes: [String] {
            lines.withLock { $0 }.map { $0.replacing(/"time":"[^"]*"/, with: #""time":"T""#) }
        }
    }

    @Test func theRequestLineIsTheGenericLineWrittenFaster() throws {
        let capture = Capture()
        let fields: [(String, String, Int, Double, String, String)] = [
            ("GET", "/v1/whoami", 200, 0.123, "74D8A1C3", "admin"),
            ("POST", "/v1/requests/\u{1}\"quoted\"\\/return?x=é", 403, 12.5, "", ""),
            ("PUT", "/", 500, 0, "00", "spoc-1"),
        ]
        for (method, path, status, duration, serial, principal) in fields {
            capture.logger.logRequest(method: method, path: path, status: status, durationMilliseconds: duration,
                                      serial: serial, principal: principal)
            capture.logger.log("request", ["method": method, "path": path, "status": status, "duration_ms": duration,
                                           "serial": serial, "principal": principal])
        }
        let lines = capture.withoutTimes
        #expect(lines.count == 6)
        for pair in stride(from: 0, to: lines.count, by: 2) {
            #expect(lines[pair] == lines[pair + 1])
            let object = try #require(try JSONSerialization.jsonObject(with: Data(lines[pair].utf8)) as? [String: Any])
            #expect(object["event"] as? String == "request")
            #expect(object["path"] as? String == fields[pair / 2].1)
            #expect(object["status"] as? Int == fields[pair / 2].2)
        }
    }

    /// The access log's durations (whole microseconds, as `BrokerService` computes them) are
    /// written without `String(Double)`, with its bytes; other values fall back to it.
    @Test func durationsAreWrittenAsStringOfDoubleWrites() throws {
        var values: [Double] = [0, 0.001, 0.01, 0.1, 1, 12.5, 0.012, 5000.123, 999_999_999.999, 1e9, 1e12, 0.0001, 1.0e-7,
                                1.2345, -1, -0.5, .nan, .infinity, 0.1 + 0.2]
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for index in 0..<20_000 {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            let seconds = Int64(state % (index % 2 == 0 ? 3 : 100_000))
            let microseconds = Int64((state >> 20) % 1_000_000)
            values.append(Double(microseconds) / 1000 + Double(seconds) * 1000)
        }
        for value in values {
            var out: [UInt8] = []
            Logger.appendDuration(value, to: &out)
            let expected = value.isFinite ? String(value) : "null"
            #expect(String(decoding: out, as: UTF8.self) == expected)
        }
    }

    @Test func integersAndDoublesKeepTheirForm() throws {
        let capture = Capture()
        capture.logger.log("x", ["int": 42, "negative": -7, "uint": UInt64(9), "double": 1.5, "flag": true, "list": ["a", "b"]])
        #expect(capture.withoutTimes == [#"{"event":"x","time":"T","double":1.5,"flag":true,"int":42,"list":["a","b"],"negative":-7,"uint":9}"# + "\n"])
    }

    @Test func timesAreRFC3339InUTCWithMilliseconds() throws {
        let capture = Capture()
        let before = Date()
        capture.logger.log("x")
        capture.logger.logRequest(method: "GET", path: "/", status: 200, durationMilliseconds: 1, serial: "", principal: "")
        let lines = capture.lines.withLock { $0 }
        #expect(lines.count == 2)
        for line in lines {
            let match = try #require(line.firstMatch(of: /"time":"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)"/), "\(line)")
            let time = try #require(RFC3339.parse(String(match.1)))
            #expect(time.timeIntervalSince(before) > -1 && time.timeIntervalSince(before) < 60, "\(line)")
        }
    }
}
