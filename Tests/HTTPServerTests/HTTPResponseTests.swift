import Foundation
import Testing
@testable import HTTPServer
import Wire

@Suite struct HTTPResponseTests {
    static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }
    /// RFC 9110's own example of an IMF-fixdate.
    static let date = HTTPDate.headerLine(unixSeconds: 784_111_777)

    @Test func dateIsIMFFixdate() {
        #expect(HTTPDate.format(unixSeconds: 784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(HTTPDate.format(unixSeconds: 1_795_824_000) == "Sat, 28 Nov 2026 00:00:00 GMT")
        let line = String(decoding: HTTPDate.headerLine(), as: UTF8.self)
        #expect(line.hasPrefix("Date: ") && line.hasSuffix(" GMT\r\n"))
    }

    @Test func aDateSetByTheHandlerIsKept() {
        let response = HTTPResponse(status: .ok, headers: ["Date": "Mon, 07 Nov 1994 08:49:37 GMT"])
        #expect(Self.text(response.serialize(isHEAD: false, keepAlive: true, dateLine: Self.date))
            == "HTTP/1.1 200 OK\r\nDate: Mon, 07 Nov 1994 08:49:37 GMT\r\nContent-Length: 0\r\n\r\n")
    }

    @Test func serializesStatusHeadersLengthAndBody() {
        let response = HTTPResponse(status: .ok, headers: ["Content-Type": "application/json", "X-Id": "42"], body: [UInt8]("{}"))
        #expect(Self.text(response.serialize(isHEAD: false, keepAlive: true, dateLine: Self.date))
            == "HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nContent-Type: application/json\r\nX-Id: 42\r\nContent-Length: 2\r\n\r\n{}")
    }

    @Test func connectionCloseWhenNotKeepingAlive() {
        let response = HTTPResponse.text(.notFound, "no")
        #expect(Self.text(response.serialize(isHEAD: false, keepAlive: false, dateLine: Self.date))
            == "HTTP/1.1 404 Not Found\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno")
    }

    @Test func headHasTheGETLengthButNoBody() {
        let response = HTTPResponse.text(.ok, "hello world")
        let head = Self.text(response.serialize(isHEAD: true, keepAlive: true, dateLine: Self.date))
        #expect(head == "HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 11\r\n\r\n")
        let get = Self.text(response.serialize(isHEAD: false, keepAlive: true, dateLine: Self.date))
        #expect(get == head + "hello world")
    }

    @Test func noContentAndInformationalHaveNoLengthOrBody() {
        let noContent = HTTPResponse(status: .noContent, body: [UInt8]("ignored"))
        #expect(Self.text(noContent.serialize(isHEAD: false, keepAlive: true, dateLine: Self.date)) == "HTTP/1.1 204 No Content\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n")
        let notModified = HTTPResponse(status: .notModified, body: [UInt8]("abc"))
        #expect(Self.text(notModified.serialize(isHEAD: false, keepAlive: false, dateLine: Self.date))
            == "HTTP/1.1 304 Not Modified\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nContent-Length: 3\r\nConnection: close\r\n\r\n")
        #expect(Self.text(HTTPResponse.continueBytes) == "HTTP/1.1 100 Continue\r\n\r\n")
    }

    @Test func handlerSetFramingHeadersAreReplaced() {
        let response = HTTPResponse(status: .ok, headers: ["content-length": "999", "Connection": "keep-alive", "X": "y"], body: [UInt8]("abc"))
        #expect(Self.text(response.serialize(isHEAD: false, keepAlive: false, dateLine: Self.date))
            == "HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nX: y\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc")
    }

    @Test func headerValuesCannotSplitTheResponse() {
        var headers = HTTPHeaders()
        headers.add(name: "Location", value: "/a\r\nSet-Cookie: evil=1")
        let bytes = HTTPResponse(status: .created, headers: headers).serialize(isHEAD: false, keepAlive: true, dateLine: Self.date)
        #expect(Self.text(bytes) == "HTTP/1.1 201 Created\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nLocation: /a  Set-Cookie: evil=1\r\nContent-Length: 0\r\n\r\n")
    }

    @Test(arguments: [0, 7, 9, 10, 99, 100, 12_345, 10_485_760, Int.max])
    func lengthIsWrittenInDecimal(length: Int) {
        var out: [UInt8] = []
        out.appendDecimal(length)
        #expect(Self.text(out) == String(length))
    }

    @Test func errorEnvelopeMatchesTheSpec() throws {
        let response = HTTPResponse.error(.conflict, code: "return_deadline_passed", message: "the return was due at 2027-03-31T09:00:00Z")
        #expect(response.status == .conflict)
        #expect(response.headers["content-type"] == "application/json")
        #expect(Self.text(response.body)
            == #"{"error":{"code":"return_deadline_passed","message":"the return was due at 2027-03-31T09:00:00Z"}}"#)
    }

    @Test func errorEnvelopeEscapesAndDecodes() throws {
        let message = "quote \" backslash \\ newline \n tab \t bell \u{7} é 🙂"
        let response = HTTPResponse.error(.badRequest, code: "invalid_json", message: message)
        let decoded = try JSONDecoder().decode(ErrorBody.self, from: Data(response.body))
        #expect(decoded == ErrorBody(code: "invalid_json", message: message))
    }

    @Test func parseErrorBecomesEnvelopeWithItsStatus() throws {
        let response = HTTPResponse.error(HTTPParseError.headerTooLarge(limit: 16_384))
        #expect(response.status.code == 431)
        let decoded = try JSONDecoder().decode(ErrorBody.self, from: Data(response.body))
        #expect(decoded.error.code == "header_too_large")
        #expect(decoded.error.message == "header section exceeds 16384 bytes")
        let wire = Self.text(response.serialize(isHEAD: false, keepAlive: false, dateLine: Self.date))
        #expect(wire.hasPrefix("HTTP/1.1 431 Request Header Fields Too Large\r\n"))
    }

    struct Meeting: Codable, Equatable {
        var id: String
        var startsAt: Date
    }

    @Test func jsonFactoryEncodesWithDatesInUTC() throws {
        let response = HTTPResponse.json(.created, Meeting(id: "m1", startsAt: Date(timeIntervalSince1970: 1_806_055_200)))
        #expect(response.status == .created)
        #expect(response.headers["Content-Type"] == "application/json")
        #expect(Self.text(response.body) == #"{"id":"m1","startsAt":"2027-03-26T10:00:00Z"}"#)
    }

    @Test func unencodableValueBecomes500() throws {
        let response = HTTPResponse.json(.ok, ["value": Double.nan])
        #expect(response.status == .internalServerError)
        #expect(try JSONDecoder().decode(ErrorBody.self, from: Data(response.body)).error.code == "internal_error")
    }

    @Test func methodNotAllowedCarriesAllow() {
        let response = HTTPResponse.methodNotAllowed(allowed: ["GET", "HEAD", "POST"], method: "DELETE")
        #expect(response.status.code == 405)
        #expect(response.headers["allow"] == "GET, HEAD, POST")
    }

    @Test func writeIntoAppendsForPipelinedAnswers() {
        var out: [UInt8] = []
        HTTPResponse.text(.ok, "a").write(into: &out, isHEAD: false, keepAlive: true)
        HTTPResponse.text(.ok, "b").write(into: &out, isHEAD: false, keepAlive: false)
        let wire = Self.text(out)
        #expect(wire.hasSuffix("\r\n\r\nb"))
        #expect(wire.components(separatedBy: "HTTP/1.1 200 OK").count == 3)
    }

    @Test func requestTimeoutEnvelope() throws {
        let response = HTTPResponse.requestTimeout(after: HTTPLimits.default.headerTimeout)
        #expect(response.status.code == 408)
        let decoded = try JSONDecoder().decode(ErrorBody.self, from: Data(response.body))
        #expect(decoded == ErrorBody(code: "request_timeout", message: "the request was not received completely within 10 seconds"))
    }

    @Test func statusEqualityIsByCode() {
        #expect(HTTPStatus(code: 200, reasonPhrase: "Fine") == .ok)
        #expect(HTTPStatus(code: 201, reasonPhrase: "OK") != .ok)
        #expect(Set([HTTPStatus.ok, HTTPStatus(code: 200, reasonPhrase: "x")]).count == 1)
    }

    @Test func statusProperties() {
        #expect(HTTPStatus.requestHeaderFieldsTooLarge.description == "431 Request Header Fields Too Large")
        #expect(HTTPStatus.continue.forbidsBody && HTTPStatus.noContent.forbidsBody && HTTPStatus.notModified.forbidsBody)
        #expect(!HTTPStatus.ok.forbidsBody)
        let codes = [HTTPStatus.continue, .ok, .created, .noContent, .badRequest, .forbidden, .notFound,
                     .methodNotAllowed, .requestTimeout, .conflict, .lengthRequired, .contentTooLarge,
                     .expectationFailed, .unprocessableContent, .requestHeaderFieldsTooLarge,
                     .internalServerError, .notImplemented, .serviceUnavailable, .httpVersionNotSupported].map(\.code)
        #expect(codes == [100, 200, 201, 204, 400, 403, 404, 405, 408, 409, 411, 413, 417, 422, 431, 500, 501, 503, 505])
    }
}

@Suite struct HTTPHeadersTests {
    @Test func lookupIsCaseInsensitiveAndOrdered() {
        var headers: HTTPHeaders = ["Accept": "a", "X-Multi": "1"]
        headers.add(name: "x-multi", value: "2")
        #expect(headers["ACCEPT"] == "a")
        #expect(headers["x-MULTI"] == "1")
        #expect(headers.values(for: "X-Multi") == ["1", "2"])
        #expect(headers["missing"] == nil)
        #expect(headers.contains("accept"))
        #expect(headers.count == 3)
    }

    @Test func replaceOrAddKeepsPositionAndRemovesDuplicates() {
        var headers: HTTPHeaders = ["A": "1", "B": "2", "a": "3", "C": "4"]
        headers.replaceOrAdd(name: "A", value: "new")
        #expect(headers.map(\.name) == ["A", "B", "C"])
        #expect(headers.values(for: "a") == ["new"])
        headers.replaceOrAdd(name: "D", value: "5")
        #expect(headers.map(\.name) == ["A", "B", "C", "D"])
        headers.remove(name: "b")
        #expect(headers.map(\.value) == ["new", "4", "5"])
    }

    @Test func valuesAreSanitised() {
        var headers = HTTPHeaders()
        headers.add(name: "X", value: "a\r\nb\u{0}c\td")
        #expect(headers["x"] == "a  b c\td")
    }

    @Test func namesEqualIsASCIIOnly() {
        #expect(HTTPHeaders.namesEqual("Content-Length", "content-length"))
        #expect(!HTTPHeaders.namesEqual("Content-Length", "content-lengtH1"))
        #expect(!HTTPHeaders.namesEqual("K", "\u{212A}"))  // Kelvin sign must not fold to K
    }
}
