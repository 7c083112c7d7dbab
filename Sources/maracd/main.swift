import Broker
import BrokerAPI
import BrokerHost
import Crypto
import Dispatch
import Foundation
import HTTPServer
import Journal
import TLS
import Wire

/// maracd — the marac-broker server.
let usage = """
    usage:
      maracd init  [--certs DIR]
          create the CA, server certificate, first admin certificate and data key, if absent
      maracd serve [--config DIR] [--data DIR] [--certs DIR] [--listen HOST:PORT]
          run the broker (defaults ./config, ./data, ./certs, 127.0.0.1:8443); runs init first on a fresh directory
      maracd cert sign --principal ID [--validity-days N] [--out FILE] [--config DIR] [--data DIR] [--certs DIR] CSR.pem
          sign a CSR offline for a registered principal (bootstrap, disaster recovery) and record it in the journal;
          refused while a broker has the data directory open
      maracd credential approve [--config DIR] [--data DIR] [--certs DIR] SERIAL
          approve a coordinator's, SPOC's or auditor's certificate as the server operator (the first coordinator's;
          later ones are approved by a coordinator with POST /v1/credentials/SERIAL/approve); recorded in the audit
          trail; refused while a broker has the data directory open
      maracd audit verify [--data DIR] [--certs DIR] [--checkpoint FILE]
          check every journal record, the whole hash chain and every snapshot offline (key: CERTS/data.key), and that
          the journal reaches its head anchor CERTS/journal-anchor; with --checkpoint, also that the journal still holds
          the record of a checkpoint from GET /v1/audit/checkpoint (same seq and hash) and that its signature verifies
          under CERTS/ca.pem; exit 0 when intact, 1 naming the first problem
      maracd journal accept-truncation [--config DIR] [--data DIR] [--certs DIR]
          after a real loss of records from the journal's end (disk failure; start says "journal truncated"): append an
          audit record saying which records were lost and re-anchor the journal at it; refused while a broker runs
      maracd journal anchor --init [--config DIR] [--data DIR] [--certs DIR]
          anchor a data directory written before journal anchoring (once; audited as journal.anchor_created);
          refused when CERTS/journal-anchor exists or while a broker runs
    example:
      maracd serve --listen 127.0.0.1:8443
      maracd audit verify --data data
      maracd cert sign --principal admin --out admin-new.pem admin.csr
      maracd credential approve 5F3A09C2D17E4B88
      maracd audit verify --checkpoint checkpoint-2027-03-01.json
    """

struct UsageError: Error, CustomStringConvertible { let description: String }

/// Parses `--flag value` pairs, and up to `positionals` plain arguments; anything else is a usage error.
func parseFlags(_ arguments: ArraySlice<String>, allowed: Set<String>, positionals: Int = 0) throws -> (flags: [String: String], positionals: [String]) {
    var flags: [String: String] = [:]
    var plain: [String] = []
    var iterator = arguments.makeIterator()
    while let argument = iterator.next() {
        guard argument.hasPrefix("--") else {
            guard plain.count < positionals else { throw UsageError(description: "unexpected argument \(argument)") }
            plain.append(argument)
            continue
        }
        guard allowed.contains(String(argument.dropFirst(2))) else { throw UsageError(description: "unknown argument \(argument)") }
        guard let value = iterator.next(), !value.hasPrefix("--") else { throw UsageError(description: "\(argument) needs a value") }
        flags[String(argument.dropFirst(2))] = value
    }
    return (flags, plain)
}

/// `config/broker.json` with the command line's directory overrides applied.
func loadConfiguration(_ flags: [String: String]) throws -> (BrokerConfiguration, configDirectory: String) {
    let configDirectory = flags["config"] ?? "config"
    var configuration = try BrokerConfiguration.load(directory: configDirectory)
    if let data = flags["data"] { configuration.dataDirectory = data }
    if let certs = flags["certs"] { configuration.certsDirectory = certs }
    return (configuration, configDirectory)
}

/// `maracd cert sign`: a CSR signed offline and journaled, certificate PEM on stdout or to `--out`.
func runCertSign(_ flags: [String: String], csrFile: String?) throws {
    guard let principal = flags["principal"] else { throw UsageError(description: "cert sign needs --principal") }
    guard let csrFile, let csr = FileManager.default.contents(atPath: csrFile) else {
        throw UsageError(description: "cert sign needs a readable CSR file (PEM)\(csrFile.map { ": cannot read \($0)" } ?? "")")
    }
    let validity = try flags["validity-days"].map { text -> Int in
        guard let days = Int(text), days > 0 else { throw UsageError(description: "--validity-days must be a positive integer, got \(text)") }
        return days
    }
    let (configuration, configDirectory) = try loadConfiguration(flags)
    let signed = try OfflineCommands.sign(csrPEM: String(decoding: csr, as: UTF8.self), principal: principal, validityDays: validity,
                                        configuration: configuration, configDirectory: configDirectory,
                                        operatorName: ProcessInfo.processInfo.userName, logger: .standardError)
    if let out = flags["out"] {
        try Data(signed.certificate.utf8).write(to: URL(fileURLWithPath: out))
        print("wrote \(out): serial \(signed.serial), valid until \(RFC3339.format(signed.notAfter))")
    } else {
        print(signed.certificate, terminator: "")
    }
}

/// `maracd credential approve SERIAL`.
func runCredentialApprove(_ flags: [String: String], serial: String?) throws {
    guard let serial else { throw UsageError(description: "credential approve needs the certificate's serial") }
    let (configuration, configDirectory) = try loadConfiguration(flags)
    let approved = try OfflineCommands.approve(serial: serial, configuration: configuration, configDirectory: configDirectory,
                                               operatorName: ProcessInfo.processInfo.userName, logger: .standardError)
    print("approved certificate \(approved.serial) of \(approved.principal) (\(approved.agency)) as \(approved.approvedBy ?? "")")
}

func runInit(_ flags: [String: String]) throws {
    let pki = BrokerPKI(directory: flags["certs"] ?? "certs")
    let report = try pki.initialize()
    for file in report.created { print("created \(file)") }
    for file in report.kept { print("kept    \(file)") }
}

/// `maracd audit verify`: the journal (and so the audit trail) checked offline,
/// against its head anchor and, with `--checkpoint`, against a signed checkpoint.
func runAuditVerify(_ flags: [String: String]) throws -> Int32 {
    let dataDirectory = flags["data"] ?? "data"
    let pki = BrokerPKI(directory: flags["certs"] ?? "certs")
    let keyPath = pki.dataKeyPath
    func fail(_ message: String) -> Int32 {
        FileHandle.standardError.write(Data("maracd: \(message)\n".utf8))
        return 1
    }
    let key: SymmetricKey
    do { key = try KeyFile.load(from: keyPath) } catch { return fail("\(keyPath): \(error)") }
    var positions: [JournalPosition] = []
    if let file = flags["checkpoint"] {
        guard let json = FileManager.default.contents(atPath: file) else { return fail("checkpoint \(file): cannot read it") }
        do {
            let ca = try Certificate(pemFile: pki.caCertificatePath)
            positions.append(try AuditCheckpoint.verified(json: Array(json), ca: ca))
        } catch {
            return fail("checkpoint \(file): \(error)")
        }
    }
    let report = Journal.verify(directory: dataDirectory, key: key, anchorPath: pki.journalAnchorPath, positions: positions)
    print(report)
    if let file = flags["checkpoint"], let position = positions.first {
        if report.confirmedPositions.contains(position) {
            print("checkpoint \(file): signature verifies under \(pki.caCertificatePath); the journal contains seq \(position.seq) with hash \(position.hash.hexString)")
        } else {
            FileHandle.standardError.write(Data("maracd: checkpoint \(file) (seq \(position.seq)) is not confirmed by the journal: \(report.problem?.message ?? "not reached")\n".utf8))
        }
    }
    return report.isValid ? 0 : 1
}

/// `maracd journal accept-truncation` and `maracd journal anchor --init`.
func runJournal(_ arguments: ArraySlice<String>) throws {
    switch arguments.first {
    case "accept-truncation":
        let (configuration, configDirectory) = try loadConfiguration(try parseFlags(arguments.dropFirst(), allowed: ["config", "data", "certs"]).flags)
        let accepted = try OfflineCommands.acceptTruncation(configuration: configuration, configDirectory: configDirectory,
                                                            operatorName: ProcessInfo.processInfo.userName, logger: .standardError)
        print("accepted: \(accepted.description) (anchor at \(accepted.anchorSeq), journal ended at \(accepted.endSeq)); "
              + "recorded as journal.truncation_accepted at seq \(accepted.recordSeq), the new anchored head")
    case "anchor":
        guard arguments.dropFirst().first == "--init" else { throw UsageError(description: "journal anchor needs --init") }
        let (configuration, configDirectory) = try loadConfiguration(try parseFlags(arguments.dropFirst(2), allowed: ["config", "data", "certs"]).flags)
        let seq = try OfflineCommands.initializeAnchor(configuration: configuration, configDirectory: configDirectory,
                                                       operatorName: ProcessInfo.processInfo.userName, logger: .standardError)
        print("anchored the journal at seq \(seq) (journal.anchor_created) in \(BrokerPKI(directory: configuration.certsDirectory).journalAnchorPath)")
    default:
        throw UsageError(description: "journal needs the subcommand accept-truncation or anchor --init")
    }
}

/// Every connection is a file descriptor: raise the soft open-file limit towards
/// `limits.maxConnections` (plus room for the journal and listeners), up to the
/// hard limit, and say in the log when the hard limit is lower.
func raiseOpenFileLimit(for connections: Int, logger: Logger) {
    var limit = rlimit()
    guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
    let wanted = rlim_t(connections + 64)
    let target = min(wanted, limit.rlim_max)   // RLIM_INFINITY is the largest value
    if target > limit.rlim_cur {
        var raised = limit
        raised.rlim_cur = target
        if setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
    }
    if limit.rlim_cur < wanted {
        logger.log("open_file_limit", ["limit": Int(limit.rlim_cur), "maxConnections": connections,
                                       "message": "the open-file limit allows fewer connections than limits.maxConnections; raise the hard limit (ulimit -Hn, LimitNOFILE=)"])
    }
}

func runServe(_ flags: [String: String]) throws {
    var (configuration, configDirectory) = try loadConfiguration(flags)
    if let listen = flags["listen"] {
        (configuration.listenHost, configuration.listenPort) = try BrokerConfiguration.parseListen(listen, file: "--listen", key: "listen")
    }
    let logger = Logger.standardError
    raiseOpenFileLimit(for: configuration.maxConnections, logger: logger)
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
                logger.log("stopped")
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
    case "init": try runInit(try parseFlags(arguments.dropFirst(), allowed: ["certs"]).flags)
    case "serve": try runServe(try parseFlags(arguments.dropFirst(), allowed: ["config", "data", "certs", "listen"]).flags)
    case "audit":
        guard arguments.dropFirst().first == "verify" else { throw UsageError(description: "audit needs the subcommand verify") }
        exit(try runAuditVerify(try parseFlags(arguments.dropFirst(2), allowed: ["data", "certs", "checkpoint"]).flags))
    case "journal": try runJournal(arguments.dropFirst())
    case "cert":
        guard arguments.dropFirst().first == "sign" else { throw UsageError(description: "cert needs the subcommand sign") }
        let parsed = try parseFlags(arguments.dropFirst(2), allowed: ["principal", "validity-days", "out", "config", "data", "certs"], positionals: 1)
        try runCertSign(parsed.flags, csrFile: parsed.positionals.first)
    case "credential":
        guard arguments.dropFirst().first == "approve" else { throw UsageError(description: "credential needs the subcommand approve") }
        let parsed = try parseFlags(arguments.dropFirst(2), allowed: ["config", "data", "certs"], positionals: 1)
        try runCredentialApprove(parsed.flags, serial: parsed.positionals.first)
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
