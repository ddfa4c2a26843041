// Byte-level JSON output that matches Go's encoding/json (json.Marshal / json.Encoder with the default
// SetEscapeHTML(true), which is what gorilla's WriteJSON uses on the KubeEdge link).

enum GoJSONWriter {
    /// Appends the bytes of a static string.
    @inline(__always)
    static func appendLiteral(_ literal: StaticString, to out: inout [UInt8]) {
        literal.withUTF8Buffer { out.append(contentsOf: $0) }
    }

    /// Appends `string` as a quoted JSON string escaped exactly like Go: `\"` `\\` `\n` `\r` `\t`, other control
    /// characters as `\u00xx` (lowercase hex), `<` `>` `&` as `\u003c` `\u003e` `\u0026`, U+2028/U+2029 as
    /// `\u2028`/`\u2029`; everything else (including DEL and non-ASCII) verbatim.
    @inline(__always)
    static func appendString(_ string: String, to out: inout [UInt8]) {
        var string = string
        string.withUTF8 { appendString(utf8: $0, to: &out) }
    }

    static func appendString(utf8 buf: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        out.append(ASCII.quote)
        let n = buf.count
        var runStart = 0
        var i = 0
        let base = UnsafeRawPointer(buf.baseAddress)
        while i < n {
            // Fast path: skip 8 bytes at a time while none needs a look (see `specialBytes`).
            if let base, i + 8 <= n {
                let mask = specialBytes(base.loadUnaligned(fromByteOffset: i, as: UInt64.self))
                if mask == 0 {
                    i += 8
                    continue
                }
                #if _endian(little)
                    i += mask.trailingZeroBitCount >> 3
                #endif
            }
            let b = buf[i]
            if b < 0x80 {
                // Fast path: bytes that need no escape.
                if b >= 0x20 && b != ASCII.quote && b != ASCII.backslash && b != 0x3C && b != 0x3E && b != 0x26 {
                    i += 1
                    continue
                }
                if runStart < i { out.append(contentsOf: UnsafeBufferPointer(rebasing: buf[runStart..<i])) }
                switch b {
                case ASCII.quote, ASCII.backslash:
                    out.append(ASCII.backslash)
                    out.append(b)
                case 0x0A:
                    out.append(ASCII.backslash)
                    out.append(0x6E)  // n
                case 0x0D:
                    out.append(ASCII.backslash)
                    out.append(0x72)  // r
                case 0x09:
                    out.append(ASCII.backslash)
                    out.append(0x74)  // t
                default:
                    appendUnicodeEscape(UInt16(b), to: &out)
                }
                i += 1
                runStart = i
            } else if b == 0xE2, i + 2 < n, buf[i + 1] == 0x80, buf[i + 2] == 0xA8 || buf[i + 2] == 0xA9 {
                // U+2028 LINE SEPARATOR / U+2029 PARAGRAPH SEPARATOR
                if runStart < i { out.append(contentsOf: UnsafeBufferPointer(rebasing: buf[runStart..<i])) }
                appendUnicodeEscape(buf[i + 2] == 0xA8 ? 0x2028 : 0x2029, to: &out)
                i += 3
                runStart = i
            } else {
                i += 1
            }
        }
        if runStart < n { out.append(contentsOf: UnsafeBufferPointer(rebasing: buf[runStart..<n])) }
        out.append(ASCII.quote)
    }

    /// The high bit of each byte of `word` that may need escaping: `"` `\\` `<` `>` `&`, below 0x20, or non-ASCII
    /// (U+2028/U+2029 start with 0xE2). As in `JSONCursor.specialStringBytes`, the lowest set bit is exact.
    @inline(__always)
    static func specialBytes(_ word: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        @inline(__always) func zeroBytes(_ x: UInt64) -> UInt64 { (x &- ones) & ~x }
        let quote = zeroBytes(word ^ (ones &* 0x22))
        let backslash = zeroBytes(word ^ (ones &* 0x5C))
        let less = zeroBytes(word ^ (ones &* 0x3C))
        let greater = zeroBytes(word ^ (ones &* 0x3E))
        let ampersand = zeroBytes(word ^ (ones &* 0x26))
        let control = (word &- ones &* 0x20) & ~word
        return (quote | backslash | less | greater | ampersand | control | word) & 0x8080_8080_8080_8080
    }

    /// `\uXXXX` with lowercase hex digits, as Go writes it.
    @inline(__always)
    static func appendUnicodeEscape(_ unit: UInt16, to out: inout [UInt8]) {
        out.append(ASCII.backslash)
        out.append(ASCII.lowerU)
        out.append(hexDigit(UInt8(truncatingIfNeeded: unit >> 12)))
        out.append(hexDigit(UInt8(truncatingIfNeeded: unit >> 8)))
        out.append(hexDigit(UInt8(truncatingIfNeeded: unit >> 4)))
        out.append(hexDigit(UInt8(truncatingIfNeeded: unit)))
    }

    @inline(__always)
    static func hexDigit(_ nibble: UInt8) -> UInt8 {
        let v = nibble & 0x0F
        return v < 10 ? 0x30 &+ v : 0x61 &+ (v &- 10)
    }

    /// Appends the decimal text of `value` (as Go's strconv.AppendInt).
    static func appendInt(_ value: Int64, to out: inout [UInt8]) {
        if value < 0 { out.append(ASCII.minus) }
        var magnitude = value.magnitude
        if magnitude < 10 {
            out.append(ASCII.zero &+ UInt8(magnitude))
            return
        }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var k = 20
            while magnitude > 0 {
                k -= 1
                digits[k] = ASCII.zero &+ UInt8(magnitude % 10)
                magnitude /= 10
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: digits[k..<20]))
        }
    }
}
