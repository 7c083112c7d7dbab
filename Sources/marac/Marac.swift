import Foundation
import MaracClient

/// The `marac` command line: finds the command, parses its options, runs it,
/// and turns every failure into a message and an exit code
/// (0 ok, 1 refused by the broker, 2 usage or invalid input, 3 connection or TLS failure).
enum Marac {
    static let commands: [CommandSpec] = IdentityCommands.all + SPOCCommands.all + CoordinatorCommands.all + ReferralCommands.all + ActionCommands.all + AdminCommands.all

    enum ExitCode {
        static let ok: Int32 = 0
        static let refused: Int32 = 1
        static let usage: Int32 = 2
        static let unreachable: Int32 = 3
    }

    static func run(_ argv: [String], environment: [String: String]) -> Int32 {
        let output = Output(environment: environment)
        var invocation: Invocation?
        do {
            let line = try split(argv)
            let (spec, rest) = try match(line.words)
            guard let spec else { return try withoutCommand(line, output: output) }
            if line.help {
                output.line(spec.help)
                return ExitCode.ok
            }
            let (arguments, values) = try parse(rest, for: spec)
            let current = Invocation(spec: spec, arguments: arguments, values: values, json: line.json,
                                     environment: environment, settingFlags: line.settings)
            invocation = current
            try spec.run(current)
            return ExitCode.ok
        } catch let error as UsageError {
            output.error("marac: \(error.message)")
            if let command = error.command { output.error("usage: \(command.usage)\nsee `\(command.name) --help`") }
            return ExitCode.usage
        } catch let error as SettingsError {
            output.error("marac: \(error.message)\nrun `marac doctor` to check the settings")
            return ExitCode.usage
        } catch let error as ReturnDraft.Invalid {
            output.error("marac: the return is not valid; nothing was sent:")
            for problem in error.problems { output.error("  - \(problem)") }
            return ExitCode.usage
        } catch let error as CommandFailure {
            output.error("marac: \(error.message)")
            return error.exitCode
        } catch let error as ClientError {
            return report(error, invocation: invocation, output: output)
        } catch {
            output.error("marac: \(error)")
            return ExitCode.refused
        }
    }

    /// `marac`, `marac help [COMMAND]`, `marac GROUP` or a misspelt command: help, or the usage error.
    static func withoutCommand(_ line: Line, output: Output) throws -> Int32 {
        let prefix = Array(line.words.prefix { !$0.hasPrefix("-") })
        guard line.help || prefix.isEmpty || prefix.first == "help" else {
            if commands.contains(where: { $0.path.starts(with: [prefix[0]]) }) {
                output.error(overview(prefix: [prefix[0]]))
                throw UsageError("`marac \(prefix.joined(separator: " "))` is not a command")
            }
            throw UsageError("unknown command `\(prefix.joined(separator: " "))`; run `marac --help` for the list")
        }
        let topic = prefix.first == "help" ? Array(prefix.dropFirst()) : prefix
        if let target = commands.first(where: { $0.path == topic }) {
            output.line(target.help)
            return ExitCode.ok
        }
        if !topic.isEmpty && !commands.contains(where: { $0.path.starts(with: topic) }) {
            throw UsageError("unknown command `\(topic.joined(separator: " "))`; run `marac --help` for the list")
        }
        guard prefix.isEmpty && !line.help else {
            output.line(overview(prefix: topic))
            return ExitCode.ok
        }
        output.error(overview(prefix: topic))   // bare `marac`: the list, but as a usage error
        return ExitCode.usage
    }

    /// Prints a broker refusal (code and message) or a connection failure and its likely cause.
    static func report(_ error: ClientError, invocation: Invocation?, output: Output) -> Int32 {
        let cause = invocation?.diagnose(error)
        switch error.kind {
        case .refused(let status, let code):
            output.error("marac: refused by the broker: \(status) \(code): \(error.message)")
            if let cause { output.error("likely cause: \(cause)") }
            return ExitCode.refused
        case .connection, .tls, .protocolViolation:
            let url = (try? invocation?.settings())??.url.value ?? "the broker"
            output.error("marac: cannot talk to \(url): \(error.message)")
            if let cause { output.error("likely cause: \(cause)") }
            output.error("run `marac doctor` for a full check of the settings, files and connection")
            return ExitCode.unreachable
        }
    }

    /// The command line without the settings every command shares.
    struct Line {
        var settings: [ClientSettings.Name: String] = [:]
        var json = false
        var help = false
        var words: [String] = []
    }

    static func split(_ argv: [String]) throws -> Line {
        var line = Line()
        var index = 0
        while index < argv.count {
            let word = argv[index]
            index += 1
            if word == "--" { line.words += argv[(index - 1)...]; break }
            let (name, inline) = splitInline(word)
            if GlobalOptions.valued.contains(name), let setting = ClientSettings.Name(rawValue: String(name.dropFirst(2))) {
                if let inline { line.settings[setting] = inline; continue }
                guard index < argv.count else { throw UsageError("\(name) needs a value") }
                line.settings[setting] = argv[index]
                index += 1
            } else if word == "--json" {
                line.json = true
            } else if word == "--help" || word == "-h" {
                line.help = true
            } else {
                line.words.append(word)
            }
        }
        return line
    }

    /// The longest command path at the start of `words`, and the words after it.
    static func match(_ words: [String]) throws -> (CommandSpec?, [String]) {
        let best = commands.filter { words.starts(with: $0.path) }.max { $0.path.count < $1.path.count }
        guard let best else { return (nil, words) }
        return (best, Array(words.dropFirst(best.path.count)))
    }

    /// Splits `--name=value`.
    static func splitInline(_ word: String) -> (String, String?) {
        guard word.hasPrefix("--"), let equals = word.firstIndex(of: "=") else { return (word, nil) }
        return (String(word[..<equals]), String(word[word.index(after: equals)...]))
    }

    /// Positional arguments and option values for `spec`.
    static func parse(_ words: [String], for spec: CommandSpec) throws -> ([String], [String: String]) {
        var positionals: [String] = []
        var values: [String: String] = [:]
        var index = 0
        var optionsEnded = false
        while index < words.count {
            let word = words[index]
            index += 1
            if word == "--" && !optionsEnded { optionsEnded = true; continue }
            guard !optionsEnded, word.hasPrefix("-"), word.count > 1 else { positionals.append(word); continue }
            let (name, inline) = splitInline(word)
            guard let option = spec.options.first(where: { $0.name == name || $0.short == name }) else {
                throw UsageError("\(spec.name) has no option \(name)", command: spec)
            }
            if option.value == nil {
                guard inline == nil else { throw UsageError("\(option.name) takes no value", command: spec) }
                values[option.name] = ""
                continue
            }
            if let inline { values[option.name] = inline; continue }
            guard index < words.count else { throw UsageError("\(option.name) needs a value (\(option.value!))", command: spec) }
            values[option.name] = words[index]
            index += 1
        }
        guard positionals.count == spec.arguments.count else {
            let expected = spec.arguments.isEmpty ? "no arguments" : spec.arguments.joined(separator: " ")
            throw UsageError(positionals.count < spec.arguments.count
                             ? "missing \(spec.arguments[positionals.count])"
                             : "unexpected argument \(positionals[spec.arguments.count]) (takes \(expected))", command: spec)
        }
        for option in spec.options where option.required && (values[option.name] ?? "").isEmpty {
            throw UsageError("\(option.name) is required", command: spec)
        }
        return (positionals, values)
    }

    /// The command list, optionally only the commands under `prefix`.
    static func overview(prefix: [String]) -> String {
        let selected = commands.filter { $0.path.starts(with: prefix) }
        let shown = selected.isEmpty ? commands : selected
        var text = prefix.isEmpty || selected.isEmpty
            ? "marac — the MARAC broker's command line for SPOC agents, coordinators and administrators\n\nUsage: marac COMMAND [ARGUMENTS] [OPTIONS]\n"
            : "Commands under `marac \(prefix.joined(separator: " "))`:\n"
        let width = shown.map { $0.path.joined(separator: " ").count }.max() ?? 0
        var roles: [String] = []
        for spec in shown where !roles.contains(spec.role) { roles.append(spec.role) }
        for role in roles {
            text += "\n\(role):\n"
            for spec in shown where spec.role == role {
                text += "  \(spec.path.joined(separator: " ").padding(toLength: width, withPad: " ", startingAt: 0))  \(spec.summary)\n"
            }
        }
        text += "\nEvery command takes --help (with an example) and --json.\n\n\(GlobalOptions.help)"
        return text
    }
}
