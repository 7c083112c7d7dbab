// journal-bench: the journal's benchmark, and the child process of its crash test.
//
//   journal-bench bench [--dir DIR] [--seconds S] [--payload BYTES] [--raw-size BYTES]
//       appends/s with 1 and with 64 concurrent appenders, and the raw
//       write(4 KiB)+fdatasync rate of the same directory, measured in this run.
//   journal-bench restart [--dir DIR] [--records N] [--cases C] [--config DIR] [--reuse]
//       writes N (1,000,000) real domain entries and times a restart: BrokerEngine replaying
//       every record, and again from a snapshot at the head (see Restart.swift); --reuse
//       measures DIR as an earlier run left it, without writing.
//   journal-bench keys [--dir DIR] [--count N] [--legacy]
//       makes N (5,000) content keys one after another in a fresh ContentKeyStore and times it,
//       then reopening and one destruction; --legacy times the old whole-file MKS1 rewrite per key.
//   journal-bench append-loop --dir DIR --key-file FILE [--appenders N]
//       appends forever, printing each acknowledged seq on stdout ("seq id"),
//       one flushed line per record, until killed.
import Crypto
import Foundation
import Journal
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

import POSIX

enum BenchDefaults {
    static let seconds = 3.0
    static let payloadBytes = 4096
    static let rawWriteBytes = 4096
    static let concurrentAppenders = 64
    static let crashAppenders = 4
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("journal-bench: \(message)\n".utf8))
    exit(2)
}

func option(_ name: String, in arguments: [String]) -> String? {
    guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count else { return nil }
    return arguments[i + 1]
}

/// Writes one whole line to stdout with a single write(2), so a kill never splits it.
func emitLine(_ text: String) {
    do {
        try FileDescriptor.writeAll(Array((text + "\n").utf8), to: STDOUT_FILENO, context: "to standard output")
    } catch {
        exit(3)
    }
}

func now() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

/// CPU time of the whole process (every thread, user and system), in seconds: steadier than
/// wall time on a shared machine.
func cpuSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

/// Raw single-writer rate: write(size) + fdatasync appended to one file, for `seconds`.
func rawSyncRate(directory: String, seconds: Double, size: Int) -> Double {
    let path = directory + "/raw-sync-test"
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0o600)
    guard fd >= 0 else { fail("cannot create \(path): errno \(errno)") }
    defer { close(fd); unlink(path) }
    let block = [UInt8](repeating: 0xA5, count: size)
    var count = 0
    let start = now()
    while now() - start < seconds {
        let n = block.withUnsafeBytes { write(fd, $0.baseAddress!, size) }
        guard n == size, fdatasync(fd) == 0 else { fail("raw write/fdatasync failed: errno \(errno)") }
        count += 1
    }
    return Double(count) / (now() - start)
}

/// Journal rate with `appenders` concurrent tasks each appending in a loop for `seconds`.
func journalRate(_ journal: Journal, appenders: Int, seconds: Double, payload: [UInt8]) async -> Double {
    let start = now()
    let total = await withTaskGroup(of: Int.self) { group in
        for _ in 0..<appenders {
            group.addTask {
                var count = 0
                while now() - start < seconds {
                    do { _ = try await journal.append(payload) } catch { fail("append failed: \(error)") }
                    count += 1
                }
                return count
            }
        }
        return await group.reduce(0, +)
    }
    return Double(total) / (now() - start)
}

func bench(_ arguments: [String]) async {
    let seconds = option("--seconds", in: arguments).flatMap(Double.init) ?? BenchDefaults.seconds
    let payloadBytes = option("--payload", in: arguments).flatMap(Int.init) ?? BenchDefaults.payloadBytes
    let rawBytes = option("--raw-size", in: arguments).flatMap(Int.init) ?? BenchDefaults.rawWriteBytes
    let base = option("--dir", in: arguments) ?? FileManager.default.currentDirectoryPath + "/.journal-bench-\(getpid())"
    let removeAfter = option("--dir", in: arguments) == nil
    try? FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
    defer { if removeAfter { try? FileManager.default.removeItem(atPath: base) } }
    let payload = SecureRandom.bytes(payloadBytes)

    print("journal-bench: directory \(base), \(seconds) s per measurement, payload \(payloadBytes) bytes")
    // The disk is shared and noisy: the raw rate is measured before and after the journal runs, and averaged.
    let rawBefore = rawSyncRate(directory: base, seconds: seconds, size: rawBytes)
    print(String(format: "raw write(%d B)+fdatasync, 1 writer : %10.0f /s  (before)", rawBytes, rawBefore))

    let journal: Journal
    do { journal = try Journal.open(directory: base + "/journal", key: .generate()) } catch { fail("open: \(error)") }
    let one = await journalRate(journal, appenders: 1, seconds: seconds, payload: payload)
    let syncsBefore = journal.status.syncs, appendsBefore = journal.status.appendedRecords
    let many = await journalRate(journal, appenders: BenchDefaults.concurrentAppenders, seconds: seconds, payload: payload)
    let status = journal.status
    journal.close()
    let rawAfter = rawSyncRate(directory: base, seconds: seconds, size: rawBytes)
    print(String(format: "raw write(%d B)+fdatasync, 1 writer : %10.0f /s  (after)", rawBytes, rawAfter))
    let raw = (rawBefore + rawAfter) / 2
    let perSync = Double(status.appendedRecords - appendsBefore) / Double(max(1, status.syncs - syncsBefore))
    print(String(format: "raw write+fdatasync, mean            : %10.0f /s", raw))
    print(String(format: "journal append, 1 appender          : %10.0f /s  (%.2fx raw)", one, one / raw))
    print(String(format: "journal append, %d appenders        : %10.0f /s  (%.2fx raw, %.1f records per sync)", BenchDefaults.concurrentAppenders, many, many / raw, perSync))
    print(String(format: "ratio 64 appenders / raw single writer: %.1fx (target >= 5x)", many / raw))
}


func appendLoop(_ arguments: [String]) async {
    guard let directory = option("--dir", in: arguments), let keyPath = option("--key-file", in: arguments) else {
        fail("append-loop needs --dir DIR --key-file FILE")
    }
    let appenders = option("--appenders", in: arguments).flatMap(Int.init) ?? BenchDefaults.crashAppenders
    let journal: Journal
    do {
        journal = try Journal.open(directory: directory, key: KeyFile.load(from: keyPath), options: JournalOptions(segmentSize: 64 << 10))
    } catch { fail("open: \(error)") }
    await withTaskGroup(of: Void.self) { group in
        for task in 0..<appenders {
            group.addTask {
                var i = 0
                while true {
                    let id = "t\(task)-\(i)"
                    do {
                        let record = try await journal.append(Array("crash-test \(id)".utf8))
                        emitLine("\(record.seq) \(id)")
                    } catch { fail("append failed: \(error)") }
                    i += 1
                }
            }
        }
    }
}

let arguments = Array(CommandLine.arguments.dropFirst())
switch arguments.first {
case "bench": await bench(arguments)
case "append-loop": await appendLoop(arguments)
case "restart":
    let base = option("--dir", in: arguments) ?? FileManager.default.currentDirectoryPath + "/.journal-bench-\(getpid())"
    let removeAfter = option("--dir", in: arguments) == nil
    defer { if removeAfter { try? FileManager.default.removeItem(atPath: base) } }
    let bench = RestartBench(directory: base, configDirectory: option("--config", in: arguments) ?? "config",
                             records: option("--records", in: arguments).flatMap(Int.init) ?? 1_000_000,
                             cases: option("--cases", in: arguments).flatMap(Int.init) ?? 5_000,
                             reuse: arguments.contains("--reuse"))
    do { try bench.run() } catch { fail("restart: \(error)") }
case "keys":
    let base = option("--dir", in: arguments) ?? FileManager.default.currentDirectoryPath + "/.journal-bench-\(getpid())"
    let removeAfter = option("--dir", in: arguments) == nil
    defer { if removeAfter { try? FileManager.default.removeItem(atPath: base) } }
    let bench = KeysBench(directory: base, count: option("--count", in: arguments).flatMap(Int.init) ?? 5_000, legacy: arguments.contains("--legacy"))
    do { try bench.run() } catch { fail("keys: \(error)") }
default: fail("usage: journal-bench bench [--dir DIR] [--seconds S] [--payload BYTES] [--raw-size BYTES] | restart [--dir DIR] [--records N] [--cases C] [--config DIR] [--reuse] | keys [--dir DIR] [--count N] [--legacy] | append-loop --dir DIR --key-file FILE [--appenders N]")
}
