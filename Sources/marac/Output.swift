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

    /// One line on stdout, control characters made visible (`TerminalText.safe`):
    /// text from the broker, even from an old journal, never acts on the terminal.
    func line(_ text: String = "") { write(TerminalText.safe(text) + "\n", to: .standardOutput) }

    /// A line whose parts were already made safe and that carries our own colour codes.
    func styledLine(_ text: String) { write(text + "\n", to: .standardOutput) }

    /// Red on a terminal with colour; `text` made safe first.
    func red(_ text: String) -> String {
        let safe = TerminalText.safe(text, singleLine: true)
        return colour ? "\u{1B}[1;31m\(safe)\u{1B}[0m" : safe
    }

    func error(_ text: String) { write(TerminalText.safe(text) + "\n", to: .standardError) }

    /// The broker's JSON body as it was sent, except that control and format
    /// characters inside strings are written as `\uNNNN` escapes (the same JSON value).
    func raw(_ bytes: [UInt8]) {
        var data = Data(TerminalText.safeJSON(bytes))
        if bytes.last != UInt8(ascii: "\n") { data.append(UInt8(ascii: "\n")) }
        FileHandle.standardOutput.write(data)
    }

    /// Columns aligned on the widest cell, two spaces apart; header in capitals.
    func table(_ headers: [String], _ rows: [[Cell]]) {
        var widths = headers.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], TerminalText.safe(cell.text, singleLine: true).count) }
        }
        func render(_ cells: [Cell]) -> String {
            cells.enumerated().map { index, cell in
                let text = TerminalText.safe(cell.text, singleLine: true)
                let padded = index == cells.count - 1 ? text : text.padding(toLength: widths[index], withPad: " ", startingAt: 0)
                return cell.highlight && colour ? "\u{1B}[1;31m\(padded)\u{1B}[0m" : padded
            }.joined(separator: "  ").replacingOccurrences(of: #"\s+$"#, with: "", options: .regularExpression)
        }
        styledLine(render(headers.map { header in
            // Capitals for the name, not for a unit or zone in brackets: "LOCAL (Europe/London)".
            let split = header.range(of: " (")?.lowerBound ?? header.endIndex
            return Cell(header[..<split].uppercased() + header[split...])
        }))
        for row in rows { styledLine(render(row)) }
    }

    /// `label  value` pairs, labels aligned.
    func pairs(_ rows: [(String, String)]) {
        let width = rows.map(\.0.count).max() ?? 0
        for (label, value) in rows { line("\(label.padding(toLength: width, withPad: " ", startingAt: 0))  \(value)") }
    }

    private func write(_ text: String, to handle: FileHandle) { handle.write(Data(text.utf8)) }
}
