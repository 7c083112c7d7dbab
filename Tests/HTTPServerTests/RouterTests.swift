import Testing
@testable import HTTPServer

@Suite struct RouterTests {
    static func router() -> Router<String> {
        var router = Router<String>()
        router.add("GET", "/v1/whoami", "whoami")
        router.add("GET", "/v1/meetings", "listMeetings")
        router.add("POST", "/v1/meetings", "createMeeting")
        router.add("GET", "/v1/meetings/{id}", "getMeeting")
        router.add("GET", "/v1/meetings/{id}/status", "meetingStatus")
        router.add("POST", "/v1/meetings/new", "literalNew")
        router.add("GET", "/v1/requests/{id}/return", "getReturn")
        router.add("PUT", "/v1/requests/{id}/return", "putReturn")
        router.add("POST", "/v1/credentials/{serial}/revoke", "revoke")
        router.add("GET", "/v1/a/{x}/c", "paramThenC")
        router.add("GET", "/v1/a/b/d", "literalBD")
        router.add("GET", "/", "root")
        router.add("HEAD", "/v1/health", "healthHead")
        router.add("GET", "/v1/health", "healthGet")
        return router
    }

    static func found(_ match: RouteMatch<String>) -> (String, [String: String])? {
        if case .found(let handler, let parameters) = match { (handler, parameters) } else { nil }
    }

    @Test func literalRoutes() {
        let router = Self.router()
        #expect(Self.found(router.match(method: "GET", path: "/v1/whoami"))?.0 == "whoami")
        #expect(Self.found(router.match(method: "POST", path: "/v1/meetings"))?.0 == "createMeeting")
        #expect(Self.found(router.match(method: "GET", path: "/"))?.0 == "root")
    }

    @Test func parametersAreCapturedAndDecoded() throws {
        let router = Self.router()
        let (handler, parameters) = try #require(Self.found(router.match(method: "PUT", path: "/v1/requests/r%2D1%20x/return")))
        #expect(handler == "putReturn")
        #expect(parameters == ["id": "r-1 x"])
        let status = try #require(Self.found(router.match(method: "GET", path: "/v1/meetings/m1/status")))
        #expect(status.0 == "meetingStatus" && status.1 == ["id": "m1"])
        #expect(Self.found(router.match(method: "POST", path: "/v1/credentials/0A1B/revoke"))?.1 == ["serial": "0A1B"])
    }

    @Test func literalWinsOverParameter() {
        let router = Self.router()
        #expect(Self.found(router.match(method: "POST", path: "/v1/meetings/new"))?.0 == "literalNew")
        // The path resolves to the literal; its methods decide.
        guard case .methodNotAllowed(let allowed) = router.match(method: "GET", path: "/v1/meetings/new") else {
            Issue.record("expected 405"); return
        }
        #expect(allowed == ["POST"])
        #expect(Self.found(router.match(method: "GET", path: "/v1/meetings/other"))?.1 == ["id": "other"])
    }

    @Test func backtracksFromALiteralThatDoesNotLeadAnywhere() {
        let router = Self.router()
        #expect(Self.found(router.match(method: "GET", path: "/v1/a/b/c"))?.0 == "paramThenC")
        #expect(Self.found(router.match(method: "GET", path: "/v1/a/b/c"))?.1 == ["x": "b"])
        #expect(Self.found(router.match(method: "GET", path: "/v1/a/b/d"))?.0 == "literalBD")
    }

    @Test(arguments: ["/v1/whoami/", "/v1/meetings/", "/v1/meetings//status", "/v1/requests/a%2Fb/return",
                      "/v1/requests/a%2fb/return", "/v1/requests/%zz/return", "/v1/requests/%C3%28/return",
                      "/v1/requests/a%00b/return", "/v1/nothing", "/V1/whoami", "", "*", "v1/whoami",
                      "/v1/meetings/m1/status/extra"])
    func notFound(path: String) {
        guard case .notFound = Self.router().match(method: "GET", path: path) else {
            Issue.record("\(path) should not match"); return
        }
    }

    @Test func methodNotAllowedListsSortedMethodsWithHEAD() {
        let router = Self.router()
        guard case .methodNotAllowed(let allowed) = router.match(method: "DELETE", path: "/v1/meetings") else {
            Issue.record("expected 405"); return
        }
        #expect(allowed == ["GET", "HEAD", "POST"])
        guard case .methodNotAllowed(let forReturn) = router.match(method: "POST", path: "/v1/requests/r1/return") else {
            Issue.record("expected 405"); return
        }
        #expect(forReturn == ["GET", "HEAD", "PUT"])
        guard case .methodNotAllowed(let postOnly) = router.match(method: "GET", path: "/v1/credentials/1/revoke") else {
            Issue.record("expected 405"); return
        }
        #expect(postOnly == ["POST"])
    }

    @Test func headUsesGETUnlessHEADIsRegistered() {
        let router = Self.router()
        #expect(Self.found(router.match(method: "HEAD", path: "/v1/meetings/m9"))?.0 == "getMeeting")
        #expect(Self.found(router.match(method: "HEAD", path: "/v1/health"))?.0 == "healthHead")
        guard case .methodNotAllowed = router.match(method: "HEAD", path: "/v1/credentials/1/revoke") else {
            Issue.record("HEAD must not match a POST-only route"); return
        }
    }

    @Test func methodsAreCaseSensitive() {
        guard case .methodNotAllowed = Self.router().match(method: "get", path: "/v1/whoami") else {
            Issue.record("expected 405 for lower-case method"); return
        }
    }

    @Test func differentParameterNamesAtTheSamePosition() {
        var router = Router<Int>()
        router.add("GET", "/x/{id}", 1)
        router.add("PUT", "/x/{key}", 2)
        router.add("GET", "/x/{other}/y", 3)
        if case .found(let handler, let parameters) = router.match(method: "PUT", path: "/x/7") {
            #expect(handler == 2 && parameters == ["key": "7"])
        } else {
            Issue.record("expected a match")
        }
        if case .found(let handler, let parameters) = router.match(method: "GET", path: "/x/7/y") {
            #expect(handler == 3 && parameters == ["other": "7"])
        } else {
            Issue.record("expected a match")
        }
    }
}
