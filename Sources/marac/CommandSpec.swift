/// One `marac` command: its words, what it takes, its help, and what it does.
struct CommandSpec: Sendable {
    /// An option the command accepts.
    struct Option: Sendable {
        /// `--agencies`.
        let name: String
        /// Placeholder for the value (`LIST`), or nil for a flag.
        let value: String?
        let help: String
        /// A one-letter alias such as `-o`.
        var short: String? = nil
        /// Whether the command refuses to run without it.
        var required = false
    }

    /// `["requests", "watch"]`.
    let path: [String]
    /// Placeholders for the positional arguments, all required (`ID`).
    var arguments: [String] = []
    var options: [Option] = []
    /// One line for the command list.
    let summary: String
    /// A paragraph for `--help`, if the summary is not enough.
    var details: String? = nil
    /// Who normally runs it (shown in the command list).
    let role: String
    /// A full command line, shown under `Example:`.
    let example: String
    let run: @Sendable (Invocation) throws -> Void

    /// `marac requests watch`.
    var name: String { (["marac"] + path).joined(separator: " ") }

    /// `marac research dispatch CASE --agencies LIST --questions-file FILE [--fields LIST]`.
    var usage: String {
        var parts = [name] + arguments
        for option in options {
            let text = option.value.map { "\(option.name) \($0)" } ?? option.name
            parts.append(option.required ? text : "[\(text)]")
        }
        return parts.joined(separator: " ")
    }

    /// The whole `--help` text.
    var help: String {
        var text = "\(name) — \(summary)\n\nUsage: \(usage)\n"
        if let details { text += "\n\(details)\n" }
        if !options.isEmpty {
            text += "\nOptions:\n"
            let labels = options.map { option in
                (option.short.map { "\($0), " } ?? "") + option.name + (option.value.map { " \($0)" } ?? "")
            }
            let width = labels.map(\.count).max() ?? 0
            for (label, option) in zip(labels, options) {
                text += "  \(label.padding(toLength: width, withPad: " ", startingAt: 0))  \(option.help)\n"
            }
        }
        text += "\n\(GlobalOptions.help)\n\nExample:\n  \(example)\n"
        return text
    }
}

/// Settings every command accepts, anywhere on the line.
enum GlobalOptions {
    /// Options that take a value.
    static let valued = ["--url", "--cert", "--key", "--ca"]
    /// Options that are flags.
    static let flags = ["--json", "--help", "-h"]

    static let help = """
        Settings (every command; flags > MARAC_URL, MARAC_CERT, MARAC_KEY, MARAC_CA > profile ~/.config/marac/config.json or MARAC_CONFIG):
          --url URL    broker, default https://127.0.0.1:8443
          --cert FILE  your certificate (PEM)      --key FILE  its private key (PEM, mode 0600)
          --ca FILE    the broker's CA (PEM)       --json      print the broker's JSON instead of tables
          --help       this help
        Exit codes: 0 ok, 1 refused by the broker, 2 usage or invalid input, 3 connection or TLS failure.
        """
}

/// The user asked for something the command line cannot mean (exit code 2).
struct UsageError: Error, CustomStringConvertible {
    let message: String
    /// The command whose help explains the right form, if known.
    var command: CommandSpec? = nil

    init(_ message: String, command: CommandSpec? = nil) {
        self.message = message
        self.command = command
    }

    var description: String { message }
}

/// A local operation failed after the command line was accepted, with its exit code.
struct CommandFailure: Error, CustomStringConvertible {
    let exitCode: Int32
    let message: String
    var description: String { message }
}
