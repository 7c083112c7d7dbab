import Foundation
import MaracClient

/// Where a command's results go: tables and lines on stdout, unbuffered so a
/// watching script sees each line at once; problems on stderr. Highlights use
/// ANSI colour only on a terminal and never when `NO_COLOR` is set.
struct Output {
    let colour: Bool

    init(environment: [String: String]) {
        colour = isatty(STDOUT_FILENO) == 1 && environment["NO_COLOR"] == nil && environment["TERM"] != "dumb"
    }

    /// One cell of a table; highlighted cells are shown in red (and are upper-case in the data already).
    struct Cell: ExpressibleByStringLiteral, ExpressibleByStringInterpolation {
        let text: String
        var highlight = false
        init(_ text: String, highlight: Bool = false) {
            self.text = text
            self.highlight = highlight
        }
        init(stringLiteral value: String) { text = value }
    }

    func line(_ text: String = "") { write(text + "\n", to: .standardOutput) }

    func error(_ text: String) { write(text + "\n", to: .standardError) }

    /// The broker's JSON body exactly as it was sent.
    func raw(_ bytes: [UInt8]) {
        var data = Data(bytes)
        if bytes.last != UInt8(ascii: "\n") { data.append(UInt8(ascii: "\n")) }
        FileHandle.standardOutput.write(data)
    }

    /// Columns aligned on the widest cell, two spaces apart; header in capitals.
    func table(_ headers: [String], _ rows: [[Cell]]) {
        var widths = headers.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], cell.text.count) }
        }
        func render(_ cells: [Cell]) -> String {
            cells.enumerated().map { index, cell in
                let padded = index == cells.count - 1 ? cell.text : cell.text.padding(toLength: widths[index], withPad: " ", startingAt: 0)
                return cell.highlight && colour ? "\u{1B}[1;31m\(padded)\u{1B}[0m" : padded
            }.joined(separator: "  ").replacingOccurrences(of: #"\s+$"#, with: "", options: .regularExpression)
        }
        line(render(headers.map { header in
            // Capitals for the name, not for a unit or zone in brackets: "LOCAL (Europe/London)".
            let split = header.range(of: " (")?.lowerBound ?? header.endIndex
            return Cell(header[..<split].uppercased() + header[split...])
        }))
        for row in rows { line(render(row)) }
    }

    /// `label  value` pairs, labels aligned.
    func pairs(_ rows: [(String, String)]) {
        let width = rows.map(\.0.count).max() ?? 0
        for (label, value) in rows { line("\(label.padding(toLength: width, withPad: " ", startingAt: 0))  \(value)") }
    }

    private func write(_ text: String, to handle: FileHandle) { handle.write(Data(text.utf8)) }
}
