extension Array where Element == UInt8 {
    /// Appends an integer in decimal ASCII without building a `String` (status lines,
    /// `Content-Length`, JSON numbers, log fields).
    package mutating func appendDecimal<T: BinaryInteger>(_ value: T) {
        if value < 0 { append(UInt8(ascii: "-")) }
        var magnitude = UInt64(value.magnitude)
        if magnitude == 0 { return append(UInt8(ascii: "0")) }
        let start = count
        while magnitude > 0 {
            append(UInt8(ascii: "0") + UInt8(magnitude % 10))
            magnitude /= 10
        }
        self[start...].reverse()
    }
}
