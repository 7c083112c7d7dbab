// marac-fuzz: the libFuzzer driver for the targets in FuzzTargets.
//
// Built by scripts/fuzz.sh with `-sanitize=fuzzer,address -DFUZZING`: libFuzzer supplies main
// and calls LLVMFuzzerTestOneInput; MARAC_FUZZ_TARGET picks the target. In a normal build
// (no FUZZING) it is a small replayer instead: `marac-fuzz TARGET FILE...` runs each file
// through the target once, which is how a crash file from a fuzz run is reproduced.
import FuzzTargets
import Foundation

#if FUZZING
/// Chosen once; libFuzzer calls the entry point millions of times.
let selectedTarget = FuzzTarget.fromEnvironment()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    selectedTarget.run(bytes)
    return 0
}

/// libFuzzer's driver (in the runtime that -sanitize=fuzzer links). SwiftPM names an
/// executable's entry point after its module, so libFuzzer's own `main` is never used: ours
/// hands the command line to the driver.
@_silgen_name("LLVMFuzzerRunDriver")
func runDriver(_ argc: UnsafeMutablePointer<CInt>,
               _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
               _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

@main
struct MaracFuzz {
    static func main() {
        _ = selectedTarget
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(runDriver(&argc, &argv) { data, size in fuzzOneInput(data, size) })
    }
}
#else
@main
struct MaracFuzzReplay {
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.first == "--journal-seed", arguments.count == 3 {
            writeJournalSeed(payloadFile: arguments[1], to: arguments[2])
            return
        }
        guard let name = arguments.first, let target = FuzzTarget(rawValue: name), arguments.count > 1 else {
            let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: "|")
            FileHandle.standardError.write(Data("usage: marac-fuzz \(names) FILE...\n".utf8))
            exit(2)
        }
        for path in arguments.dropFirst() {
            guard let data = FileManager.default.contents(atPath: path) else {
                FileHandle.standardError.write(Data("marac-fuzz: cannot read \(path)\n".utf8))
                exit(2)
            }
            target.run([UInt8](data))
            print("ok \(path)")
        }
    }

    /// `marac-fuzz --journal-seed PAYLOADS OUT`: one journal record per line of PAYLOADS.
    static func writeJournalSeed(payloadFile: String, to out: String) {
        do {
            let text = try String(contentsOfFile: payloadFile, encoding: .utf8)
            let payloads = text.split(separator: "\n").map { Array($0.utf8) }
            try Data(try JournalFuzz.seed(payloads: payloads)).write(to: URL(fileURLWithPath: out))
        } catch {
            FileHandle.standardError.write(Data("marac-fuzz: \(error)\n".utf8))
            exit(1)
        }
    }
}
#endif
