import BrokerAPI
import Dispatch
import Foundation
import HTTPServer
import Journal
import TLS

/// maracd — the marac-broker server.
let usage = """
    usage:
      maracd init  [--certs DIR]
          create the CA, server certificate, first admin certificate and data key, if absent
      maracd serve [--config DIR] [--data DIR] [--certs DIR] [--listen HOST:PORT]
          run the broker (defaults ./config, ./data, ./certs, 127.0.0.1:8443); runs init first on a fresh directory
      maracd audit verify [--data DIR] [--certs DIR]
          check every journal record, the whole hash chain and every snapshot offline (key: CERTS/data.key);
          exit 0 when intact, 1 naming the first bad record
    example:
      maracd serve --listen 127.0.0.1:8443
      maracd audit verify --data data
    """

struct UsageError: Error, CustomStringConvertible { let description: String }

/// Parses `--flag value` pairs; anything else is a usage error.
func parseFlags(_ arguments: ArraySlice<String>, allowed: Set<String>) throws -> [String: String] {
    var flags: [String: String] = [:]
    var iterator = arguments.makeIterator()
    while let argument = iterator.next() {
        guard argument.hasPrefix("--"), allowed.contains(String(argument.dropFirst(2))) else {
            throw UsageError(description: "unknown argument \(argument)")
        }
        guard let value = iterator.next(), !value.hasPrefix("--") else { throw UsageError(description: "\(argument) needs a value") }
        flags[String(argument.dropFirst(2))] = value
    }
    return flags
}

func runInit(_ flags: [String: String]) throws {
    let pki = BrokerPKI(directory: flags["certs"] ?? "certs")
    let report = try pki.initialize()
    for file in report.created { print("created \(file)") }
    for file in report.kept { print("kept    \(file)") }
}

/// `maracd audit verify`: the journal (and so the audit trail) checked offline.
func runAuditVerify(_ flags: [String: String]) throws -> Int32 {
    let dataDirectory = flags["data"] ?? "data"
    let keyPath = BrokerPKI(directory: flags["certs"] ?? "certs").dataKeyPath
    let key: SymmetricKey
    do { key = try KeyFile.load(from: keyPath) } catch {
        FileHandle.standardError.write(Data("maracd: \(keyPath): \(error)\n".utf8))
        return 1
    }
    let report = Journal.verify(directory: dataDirectory, key: key)
    print(report)
    return report.isValid ? 0 : 1
}

func runServe(_ flags: [String: String]) throws {
    let configDirectory = flags["config"] ?? "config"
    var configuration = try BrokerConfiguration.load(directory: configDirectory)
    if let data = flags["data"] { configuration.dataDirectory = data }
    if let certs = flags["certs"] { configuration.certsDirectory = certs }
    if let listen = flags["listen"] {
        (configuration.listenHost, configuration.listenPort) = try BrokerConfiguration.parseListen(listen, file: "--listen", key: "listen")
    }
    let logger = Logger.standardError
    let pki = BrokerPKI(directory: configuration.certsDirectory)
    if pki.isEmpty {
        let report = try pki.initialize()
        logger.log("init", ["created": report.created])
    }
    let app = try BrokerApp(configuration: configuration, configDirectory: configDirectory, logger: logger)
    try app.start()
    logger.log("started", ["listen": "\(configuration.listenHost):\(app.port)", "data": configuration.dataDirectory,
                           "certs": configuration.certsDirectory, "pid": Int(getpid())])

    // SIGTERM / SIGINT: stop accepting, finish in-flight requests, exit 0.
    signal(SIGTERM, SIG_IGN)
    signal(SIGINT, SIG_IGN)
    let signalQueue = DispatchQueue(label: "maracd.signals")
    var sources: [DispatchSourceSignal] = []
    for signalNumber in [SIGTERM, SIGINT] {
        let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: signalQueue)
        source.setEventHandler {
            logger.log("signal", ["signal": signalNumber == SIGTERM ? "SIGTERM" : "SIGINT"])
            Task {
                await app.shutdown()
                exit(0)
            }
        }
        source.resume()
        sources.append(source)
    }
    withExtendedLifetime(sources) { dispatchMain() }
}

let arguments = CommandLine.arguments.dropFirst()
do {
    switch arguments.first {
    case "init": try runInit(try parseFlags(arguments.dropFirst(), allowed: ["certs"]))
    case "serve": try runServe(try parseFlags(arguments.dropFirst(), allowed: ["config", "data", "certs", "listen"]))
    case "audit":
        guard arguments.dropFirst().first == "verify" else { throw UsageError(description: "audit needs the subcommand verify") }
        exit(try runAuditVerify(try parseFlags(arguments.dropFirst(2), allowed: ["data", "certs"])))
    case "--help", "-h", "help": print(usage)
    default:
        FileHandle.standardError.write(Data((usage + "\n").utf8))
        exit(2)
    }
} catch let error as UsageError {
    FileHandle.standardError.write(Data("maracd: \(error)\n\(usage)\n".utf8))
    exit(2)
} catch {
    FileHandle.standardError.write(Data("maracd: \(error)\n".utf8))
    exit(1)
}
