import Foundation
import MaracClient

/// Commands for every user: who the broker thinks you are, and what is wrong with your setup.
enum IdentityCommands {
    static let role = "Everyone"
    static let all: [CommandSpec] = [whoami, CertificateRequest.renewSpec, Doctor.spec]

    static let whoami = CommandSpec(
        path: ["whoami"], summary: "who the broker says you are, and when your certificate expires", role: role,
        example: "marac whoami --url https://marac.example.org:8443 --cert me.pem --key me-key.pem --ca ca.pem"
    ) { run in
        try run.show(try run.call("GET", "/v1/whoami")) { whoami in
            let certificate = whoami["certificate"]
            let notAfter = certificate["notAfter"].date
            run.output.pairs([
                ("Principal", "\(whoami["principal"].displayText) (\(whoami["name"].displayText))"),
                ("Agency", whoami["agency"].displayText), ("Role", whoami["role"].displayText),
                ("Certificate", certificate["serial"].displayText),
                ("Approval", certificate["approval"].string == "pending"
                    ? "PENDING: only whoami answers until a coordinator runs marac cert approve \(certificate["serial"].displayText)"
                    : certificate["approval"].displayText),
                ("Expires", notAfter.map { "\(TimeText.utc($0)) (\(TimeText.countdown(to: $0)))" } ?? "?"),
                ("Broker", try run.settings().url.value),
            ])
        }
    }
}
