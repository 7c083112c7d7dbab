import Foundation
import Testing

/// The package's shape (issue 14): every module declares in Package.swift each module it
/// imports, and only `TLS` and `Crypto` touch OpenSSL. Package.swift is read as text: running
/// SwiftPM from inside `swift test` would wait for the lock `swift test` itself holds.
@Suite struct PackageLayoutTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Modules every target may import without declaring them (the toolchain's and the C library's).
    static let toolchain: Set<String> = ["Foundation", "FoundationEssentials", "Dispatch", "Glibc", "Musl", "Darwin", "Synchronization",
                                         "Testing", "XCTest"]

    struct Target {
        let name: String
        let dependencies: Set<String>
        let path: String
    }

    static func targets() throws -> [Target] {
        let manifest = try String(contentsOf: root.appendingPathComponent("Package.swift"), encoding: .utf8)
        let pattern = try NSRegularExpression(pattern: #"\.(target|executableTarget|testTarget)\(name: "([^"]+)"(?:, dependencies: \[([^\]]*)\])?(?:, path: "([^"]+)")?"#)
        return pattern.matches(in: manifest, range: NSRange(manifest.startIndex..., in: manifest)).map { match in
            func group(_ index: Int) -> String? { Range(match.range(at: index), in: manifest).map { String(manifest[$0]) } }
            let kind = group(1)!, name = group(2)!
            let dependencies = Set((group(3) ?? "").split(separator: ",").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: " \"\n")) }.filter { !$0.isEmpty })
            return Target(name: name, dependencies: dependencies, path: group(4) ?? (kind == "testTarget" ? "Tests/\(name)" : "Sources/\(name)"))
        }
    }

    static func imports(under path: String) throws -> [(file: String, module: String)] {
        let directory = root.appendingPathComponent(path)
        guard let files = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: nil) else { return [] }
        let pattern = try NSRegularExpression(pattern: #"^(?:@\w+(?:\([^)]*\))? )*(?:internal |public |private |fileprivate |package )?import (?:struct |class |enum |func )?(\w+)"#, options: .anchorsMatchLines)
        var found: [(String, String)] = []
        for case let url as URL in files where url.pathExtension == "swift" {
            let text = try String(contentsOf: url, encoding: .utf8)
            for match in pattern.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                found.append((url.lastPathComponent, String(text[Range(match.range(at: 1), in: text)!])))
            }
        }
        return found
    }

    @Test func everyImportIsADeclaredDependency() throws {
        let targets = try Self.targets()
        #expect(targets.count > 15, "Package.swift was not parsed: \(targets.map(\.name))")
        for target in targets {
            for (file, module) in try Self.imports(under: target.path)
            where !Self.toolchain.contains(module) && module != target.name && !target.dependencies.contains(module) {
                Issue.record("\(target.name)/\(file) imports \(module), which Package.swift does not declare for \(target.name)")
            }
        }
    }

    @Test func onlyTLSAndCryptoTouchOpenSSL() throws {
        for target in try Self.targets() where !["TLS", "Crypto", "CShims"].contains(target.name) {
            #expect(!target.dependencies.contains("COpenSSL"), "\(target.name) depends on COpenSSL")
            for (file, module) in try Self.imports(under: target.path) where module == "COpenSSL" || module == "CShims" {
                Issue.record("\(target.name)/\(file) imports \(module)")
            }
        }
    }
}
