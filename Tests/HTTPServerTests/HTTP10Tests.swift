import Foundation
import HTTPServer
import MaracClient
import Testing
import TestSupport
import TLS

/// SPEC §10: an HTTP/1.0 client gets `Connection: keep-alive` when the
/// connection is kept; otherwise `Connection: close` and the connection closes.
/// Independent HTTP/1.0 clients: ApacheBench `-k` (with `-E`, its client certificate)
/// and Python's `http.client` speaking HTTP/1.0.
@Suite(.serialized) struct HTTP10Tests {
    @Test func serializationSaysKeepAliveOnlyToHTTP10() {
        let response = HTTPResponse.text(.ok, "ok")
        func head(_ keepAlive: Bool, _ version: HTTPVersion) -> String {
            String(decoding: response.serialize(isHEAD: false, keepAlive: keepAlive, requestVersion: version), as: UTF8.self)
        }
        #expect(head(true, .http1_0).contains("\r\nConnection: keep-alive\r\n"))
        #expect(head(false, .http1_0).contains("\r\nConnection: close\r\n") && !head(false, .http1_0).contains("keep-alive"))
        #expect(!head(true, .http1_1).contains("Connection:"), "HTTP/1.1 keeps the connection without saying so")
        #expect(head(false, .http1_1).contains("\r\nConnection: close\r\n"))
    }

    @Test func aKeptHTTP10ConnectionSaysSoAndServesTheNextRequest() async throws {
        let pki = try TestPKI()
        let server = try TestServer(pki: pki, responder: EchoResponder())
        let alice = try pki.client("alice")
        let answers = try await offPool { () -> [ClientResponse] in
            let connection = try server.connect(alice)
            return try ["/one", "/two", "/three"].map { path in
                try connection.write(request: Array("GET \(path) HTTP/1.0\r\nConnection: keep-alive\r\n\r\n".utf8))
                return try connection.readResponse()
            }
        }
        for (answer, path) in zip(answers, ["/one", "/two", "/three"]) {
            #expect(answer.status == 200 && answer.text.contains("\"\(path)\""), "\(answer.text)")
            #expect(answer.header("Connection") == "keep-alive")
        }
        await server.stop()
    }

    /// ApacheBench speaks HTTP/1.0 and, with `-k`, asks for keep-alive: every request after the
    /// first must travel on a kept connection, so all of them count as keep-alive requests.
    @Test func apacheBenchKeepAliveReusesItsConnections() async throws {
        try #require(Tool.available("ab"), "ab (apache2-utils) is needed")
        let pki = try TestPKI()
        let server = try TestServer(pki: pki, responder: EchoResponder())
        let alice = try pki.client("alice")
        let combined = try TemporaryDirectory()
        let pem = try combined.write("alice-combined.pem",
                                     Array(try String(contentsOfFile: alice.certificatePath, encoding: .utf8).utf8)
                                         + Array(try String(contentsOfFile: alice.keyPath, encoding: .utf8).utf8))
        let kept = try await Tool.runAsync("ab", ["-k", "-n", "50", "-c", "2", "-E", pem, "https://127.0.0.1:\(server.port)/ab"])
        #expect(kept.status == 0, "\(kept.stdout) \(kept.stderr)")
        #expect(kept.stdout.contains("Complete requests:      50"), "\(kept.stdout)")
        #expect(kept.stdout.contains("Failed requests:        0"), "\(kept.stdout)")
        #expect(kept.stdout.contains("Keep-Alive requests:    50"), "\(kept.stdout)")
        // Without -k every request is answered Connection: close on its own connection.
        let closed = try await Tool.runAsync("ab", ["-n", "10", "-c", "1", "-E", pem, "https://127.0.0.1:\(server.port)/ab"])
        #expect(closed.stdout.contains("Complete requests:      10") && closed.stdout.contains("Failed requests:        0"), "\(closed.stdout)")
        #expect(!closed.stdout.contains("Keep-Alive requests:    1"), "no request travelled on a kept connection: \(closed.stdout)")
        await server.stop()
    }

    /// A raw TLS socket in Python (our client closes by itself on `Connection: close`):
    /// prints the response head and whether the server closed the connection after it.
    static func rawSocket(_ server: TestServer, _ credential: TestCredential, _ request: String) -> String {
        """
        import ssl, socket
        ctx = ssl.create_default_context(cafile="\(server.pki.caPath)")
        ctx.load_cert_chain("\(credential.certificatePath)", "\(credential.keyPath)")
        s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", \(server.port)), timeout=10), server_hostname="127.0.0.1")
        s.sendall(b"\(request)")
        s.settimeout(3)
        data = b""
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    print("END closed")
                    break
                data += chunk
        except socket.timeout:
            print("END open")
        except (ssl.SSLError, OSError) as e:
            print("END closed", type(e).__name__)
        print(data.partition(b"\\r\\n\\r\\n")[0].decode())
        """
    }

    @Test func anHTTP10RequestWithoutKeepAliveIsAnsweredWithCloseAndClosed() async throws {
        try #require(Tool.available("python3"), "python3 is needed")
        let pki = try TestPKI()
        let server = try TestServer(pki: pki, responder: EchoResponder())
        let alice = try pki.client("alice")
        let closed = try await Tool.runAsync("python3", ["-c", Self.rawSocket(server, alice, "GET /a HTTP/1.0\\r\\n\\r\\n")])
        #expect(closed.status == 0, "\(closed.stderr)")
        #expect(closed.stdout.contains("END closed"), "\(closed.stdout)")
        #expect(closed.stdout.contains("HTTP/1.1 200 OK") && closed.stdout.contains("Connection: close"), "\(closed.stdout)")
        let kept = try await Tool.runAsync("python3", ["-c", Self.rawSocket(server, alice, "GET /a HTTP/1.0\\r\\nConnection: keep-alive\\r\\n\\r\\n")])
        #expect(kept.stdout.contains("END open"), "the server kept the connection: \(kept.stdout)")
        #expect(kept.stdout.contains("Connection: keep-alive"), "\(kept.stdout)")
        await server.stop()
    }

    @Test func pythonHTTPClientSpeakingHTTP10ReusesOneConnection() async throws {
        try #require(Tool.available("python3"), "python3 is needed")
        let pki = try TestPKI()
        let server = try TestServer(pki: pki, responder: EchoResponder())
        let alice = try pki.client("alice")
        let script = """
        import http.client, ssl, sys
        ctx = ssl.create_default_context(cafile="\(pki.caPath)")
        ctx.load_cert_chain("\(alice.certificatePath)", "\(alice.keyPath)")
        http.client.HTTPConnection._http_vsn = 10
        http.client.HTTPConnection._http_vsn_str = "HTTP/1.0"
        def run(keep):
            conn = http.client.HTTPSConnection("127.0.0.1", \(server.port), context=ctx, timeout=10)
            sockets = set()
            for i in range(20):
                conn.request("GET", "/r%d" % i, headers={"Connection": "keep-alive"} if keep else {})
                sock = conn.sock
                r = conn.getresponse()
                body = r.read()
                assert r.status == 200 and (b'"/r%d"' % i) in body, (r.status, body)
                sockets.add(id(sock))
                print(keep, r.getheader("Connection"), conn.sock is not None)
            return len(sockets)
        print("KEEP connections", run(True))
        print("CLOSE connections", run(False))
        """
        let result = try await Tool.runAsync("python3", ["-c", script])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains("KEEP connections 1"), "every request on one connection: \(result.stdout)")
        #expect(lines.filter { $0 == "True keep-alive True" }.count == 20, "\(result.stdout)")
        #expect(lines.filter { $0 == "False close False" }.count == 20, "\(result.stdout)")
        await server.stop()
    }
}
