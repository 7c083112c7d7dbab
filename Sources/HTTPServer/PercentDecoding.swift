/// Percent-decoding for query strings and single path segments (RFC 3986 §2.1).
public enum PercentDecoding {
    /// Decodes `%XX` escapes (and `+` as space when `plusAsSpace`), returning nil for a
    /// truncated or non-hex escape or for bytes that are not valid UTF-8 once decoded.
    public static func decode<C: Collection>(_ bytes: C, plusAsSpace: Bool) -> String? where C.Element == UInt8 {
        if !bytes.contains(where: { $0 == 0x25 || (plusAsSpace && $0 == 0x2B) }) {
            return String(validating: bytes, as: UTF8.self)
        }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        while index != bytes.endIndex {
            let byte = bytes[index]
            if byte == 0x25 {
                let first = bytes.index(after: index)
                guard first != bytes.endIndex else { return nil }
                let second = bytes.index(after: first)
                guard second != bytes.endIndex,
                      let high = hexValue(bytes[first]), let low = hexValue(bytes[second]) else { return nil }
                out.append(high << 4 | low)
                index = bytes.index(after: second)
            } else {
                out.append(plusAsSpace && byte == 0x2B ? 0x20 : byte)
                index = bytes.index(after: index)
            }
        }
        return String(validating: out, as: UTF8.self)
    }

    /// Parses `a=1&b=two+words&flag`; nil when any name or value is badly encoded.
    static func parseQuery(_ bytes: [UInt8]) -> [String: String]? {
        var result: [String: String] = [:]
        for pair in bytes.split(separator: 0x26, omittingEmptySubsequences: true) {
            let equals = pair.firstIndex(of: 0x3D)
            let rawName = pair[pair.startIndex..<(equals ?? pair.endIndex)]
            let rawValue = equals.map { pair[pair.index(after: $0)...] } ?? pair[pair.endIndex...]
            guard let name = decode(rawName, plusAsSpace: true),
                  let value = decode(rawValue, plusAsSpace: true) else { return nil }
            result[name] = value
        }
        return result
    }

    @inline(__always)
    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: return byte - 0x30
        case 0x41...0x46: return byte - 0x41 + 10
        case 0x61...0x66: return byte - 0x61 + 10
        default: return nil
        }
    }
}
