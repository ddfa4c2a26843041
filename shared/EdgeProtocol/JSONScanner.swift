// A validating, allocation-light JSON scanner (RFC 8259) that works on raw bytes.
//
// Nothing here recurses: containers are skipped with an explicit stack, and nesting deeper than
// `JSONScanner.maxDepth` is rejected. Strings must be valid UTF-8 (RFC 3629) without raw control characters.
// `JSONScanner` is the public face; `JSONCursor` is the engine shared with `MessageCodec` and `JSONValue`.

/// Validation and light-weight navigation of JSON held as bytes.
///
/// Ranges returned by these functions are byte **offsets** from the first byte of the input (for an `Array`
/// these are its indices; for an `ArraySlice` add its `startIndex`). Every function validates the whole input:
/// it must be exactly one JSON value, optionally surrounded by whitespace.
public enum JSONScanner {
    /// Deepest nesting of arrays/objects accepted anywhere (the outermost container is depth 1).
    public static let maxDepth = 512

    /// Checks that `bytes` is exactly one valid JSON value (surrounding whitespace allowed).
    public static func validate(_ bytes: some Collection<UInt8>) throws(JSONError) {
        _ = try valueRange(of: bytes)
    }

    /// Validates `bytes` and returns the range of the value itself, without surrounding whitespace.
    public static func valueRange(of bytes: some Collection<UInt8>) throws(JSONError) -> Range<Int> {
        try withContiguousBytes(bytes) { (buf) throws(JSONError) -> Range<Int> in
            var cursor = JSONCursor(buf)
            return try cursor.wholeValue()
        }
    }

    /// Validates `bytes`, which must be one JSON object, and returns its members in document order (duplicates
    /// included) with the decoded key and the range of each value (without surrounding whitespace).
    public static func objectMembers(
        _ bytes: some Collection<UInt8>
    ) throws(JSONError) -> [(key: String, valueRange: Range<Int>)] {
        try withContiguousBytes(bytes) { (buf) throws(JSONError) -> [(key: String, valueRange: Range<Int>)] in
            var cursor = JSONCursor(buf)
            var members: [(key: String, valueRange: Range<Int>)] = []
            cursor.skipWhitespace()
            try cursor.beginObject(what: "a JSON object")
            var first = true
            while let key = try cursor.nextMemberKey(first: &first) {
                let start = cursor.pos
                try cursor.skipValue(depth: 1)
                members.append((key: cursor.decodeString(key), valueRange: start..<cursor.pos))
            }
            try cursor.expectEnd()
            return members
        }
    }

    /// Validates `bytes`, which must be one JSON array, and returns the range of each element in order.
    public static func arrayElements(_ bytes: some Collection<UInt8>) throws(JSONError) -> [Range<Int>] {
        try withContiguousBytes(bytes) { (buf) throws(JSONError) -> [Range<Int>] in
            var cursor = JSONCursor(buf)
            var elements: [Range<Int>] = []
            cursor.skipWhitespace()
            try cursor.beginArray(what: "a JSON array")
            var first = true
            while try cursor.nextElement(first: &first) {
                let start = cursor.pos
                try cursor.skipValue(depth: 1)
                elements.append(start..<cursor.pos)
            }
            try cursor.expectEnd()
            return elements
        }
    }

    /// Decodes `bytes`, which must be one JSON string, to a Swift `String` (all escapes, including surrogate
    /// pairs; a lone surrogate escape becomes U+FFFD as in Go).
    public static func decodeString(_ bytes: some Collection<UInt8>) throws(JSONError) -> String {
        try withContiguousBytes(bytes) { (buf) throws(JSONError) -> String in
            var cursor = JSONCursor(buf)
            cursor.skipWhitespace()
            guard cursor.pos < buf.count, buf[cursor.pos] == ASCII.quote else {
                throw cursor.unexpected(expected: "a JSON string")
            }
            let string = try cursor.scanString()
            try cursor.expectEnd()
            return cursor.decodeString(string)
        }
    }

    /// Decodes `bytes`, which must be one JSON number without fraction or exponent that fits in `Int64`.
    public static func decodeInt64(_ bytes: some Collection<UInt8>) throws(JSONError) -> Int64 {
        try withContiguousBytes(bytes) { (buf) throws(JSONError) -> Int64 in
            var cursor = JSONCursor(buf)
            cursor.skipWhitespace()
            let start = cursor.pos
            guard cursor.pos < buf.count, buf[cursor.pos] == ASCII.minus || ASCII.isDigit(buf[cursor.pos]) else {
                throw cursor.unexpected(expected: "an integer")
            }
            let isInteger = try cursor.scanNumber()
            let end = cursor.pos
            try cursor.expectEnd()
            guard isInteger else { throw JSONError("expected an integer, found a fraction or exponent", at: start) }
            guard let value = cursor.int64(start..<end) else {
                throw JSONError("integer out of the int64 range", at: start)
            }
            return value
        }
    }
}

// MARK: - Contiguous access

/// Runs `body` on contiguous storage of `bytes`, copying only when the collection has none.
@inline(__always)
func withContiguousBytes<C: Collection<UInt8>, R, E: Error>(
    _ bytes: C, _ body: (UnsafeBufferPointer<UInt8>) throws(E) -> R
) throws(E) -> R {
    if let result = bytes.withContiguousStorageIfAvailable({ buf in
        Result { () throws(E) -> R in try body(buf) }
    }) {
        return try result.get()
    }
    let copy = Array(bytes)
    let result = copy.withUnsafeBufferPointer { buf in Result { () throws(E) -> R in try body(buf) } }
    return try result.get()
}

// MARK: - Bytes

enum ASCII {
    static let quote: UInt8 = 0x22  // "
    static let backslash: UInt8 = 0x5C  // \
    static let slash: UInt8 = 0x2F  // /
    static let comma: UInt8 = 0x2C  // ,
    static let colon: UInt8 = 0x3A  // :
    static let openBrace: UInt8 = 0x7B  // {
    static let closeBrace: UInt8 = 0x7D  // }
    static let openBracket: UInt8 = 0x5B  // [
    static let closeBracket: UInt8 = 0x5D  // ]
    static let minus: UInt8 = 0x2D  // -
    static let plus: UInt8 = 0x2B  // +
    static let dot: UInt8 = 0x2E  // .
    static let zero: UInt8 = 0x30  // 0
    static let nine: UInt8 = 0x39  // 9
    static let lowerE: UInt8 = 0x65  // e
    static let upperE: UInt8 = 0x45  // E
    static let lowerT: UInt8 = 0x74  // t
    static let lowerF: UInt8 = 0x66  // f
    static let lowerN: UInt8 = 0x6E  // n
    static let lowerU: UInt8 = 0x75  // u
    static let newline: UInt8 = 0x0A

    @inline(__always) static func isDigit(_ b: UInt8) -> Bool { b &- zero < 10 }

    @inline(__always) static func isWhitespace(_ b: UInt8) -> Bool {
        b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09
    }

    /// Value of a hex digit, or nil.
    @inline(__always) static func hexValue(_ b: UInt8) -> UInt32? {
        switch b {
        case 0x30...0x39: UInt32(b &- 0x30)
        case 0x41...0x46: UInt32(b &- 0x41 &+ 10)
        case 0x61...0x66: UInt32(b &- 0x61 &+ 10)
        default: nil
        }
    }

    /// `'x'` for printable ASCII, `0xNN` otherwise (for error messages).
    static func describe(_ b: UInt8) -> String {
        if b >= 0x21 && b < 0x7F { return "'\(Character(Unicode.Scalar(b)))'" }
        let digits: [Character] = Array("0123456789ABCDEF")
        return "0x" + String(digits[Int(b >> 4)]) + String(digits[Int(b & 0x0F)])
    }
}

/// A string token found by the scanner: the bytes between the quotes, and whether any escape occurs.
struct JSONStringToken {
    var range: Range<Int>
    var hasEscapes: Bool
}

// MARK: - The engine

/// A position in a byte buffer plus the scanning primitives. All methods bounds-check against `buf.count`
/// before reading, so any input is safe.
struct JSONCursor {
    let buf: UnsafeBufferPointer<UInt8>
    var pos: Int

    init(_ buf: UnsafeBufferPointer<UInt8>, at pos: Int = 0) {
        self.buf = buf
        self.pos = pos
    }

    // MARK: errors

    func unexpected(expected: String) -> JSONError {
        guard pos < buf.count else { return JSONError("unexpected end of input, expected \(expected)", at: pos) }
        return JSONError("unexpected byte \(ASCII.describe(buf[pos])), expected \(expected)", at: pos)
    }

    // MARK: whitespace and punctuation

    @inline(__always) mutating func skipWhitespace() {
        while pos < buf.count, ASCII.isWhitespace(buf[pos]) { pos += 1 }
    }

    /// After the value: only whitespace may follow.
    mutating func expectEnd() throws(JSONError) {
        skipWhitespace()
        if pos < buf.count {
            throw JSONError("unexpected data after the JSON value (\(ASCII.describe(buf[pos])))", at: pos)
        }
    }

    /// Skips whitespace, checks that the whole input is one value and returns its range.
    mutating func wholeValue() throws(JSONError) -> Range<Int> {
        skipWhitespace()
        let start = pos
        try skipValue(depth: 0)
        let end = pos
        try expectEnd()
        return start..<end
    }

    /// Consumes `{` (cursor must be on it, whitespace already skipped).
    mutating func beginObject(what: String) throws(JSONError) {
        guard pos < buf.count, buf[pos] == ASCII.openBrace else { throw unexpected(expected: what) }
        pos += 1
    }

    /// Consumes `[` (cursor must be on it, whitespace already skipped).
    mutating func beginArray(what: String) throws(JSONError) {
        guard pos < buf.count, buf[pos] == ASCII.openBracket else { throw unexpected(expected: what) }
        pos += 1
    }

    /// Moves to the next member of an object whose `{` was consumed. Returns its key, with the cursor on the
    /// first byte of the member's value, or nil after consuming the closing `}`.
    mutating func nextMemberKey(first: inout Bool) throws(JSONError) -> JSONStringToken? {
        skipWhitespace()
        guard pos < buf.count else {
            throw JSONError(
                first
                    ? "unexpected end of input, expected an object key or '}'"
                    : "unexpected end of input, expected ',' or '}' after object member", at: pos)
        }
        if first {
            if buf[pos] == ASCII.closeBrace {
                pos += 1
                return nil
            }
            guard buf[pos] == ASCII.quote else { throw unexpected(expected: "an object key (a string) or '}'") }
            first = false
        } else {
            switch buf[pos] {
            case ASCII.closeBrace:
                pos += 1
                return nil
            case ASCII.comma:
                pos += 1
                skipWhitespace()
                guard pos < buf.count, buf[pos] == ASCII.quote else {
                    throw unexpected(expected: "an object key (a string) after ','")
                }
            default:
                throw unexpected(expected: "',' or '}' after object member")
            }
        }
        let key = try scanString()
        try consumeColon()
        return key
    }

    @inline(__always) mutating func consumeColon() throws(JSONError) {
        skipWhitespace()
        guard pos < buf.count, buf[pos] == ASCII.colon else {
            throw pos < buf.count
                ? JSONError("expected ':' after object key", at: pos)
                : JSONError("unexpected end of input, expected ':' after object key", at: pos)
        }
        pos += 1
        skipWhitespace()
    }

    /// Moves to the next element of an array whose `[` was consumed. Returns true with the cursor on the
    /// element's first byte, or false after consuming the closing `]`.
    mutating func nextElement(first: inout Bool) throws(JSONError) -> Bool {
        skipWhitespace()
        guard pos < buf.count else {
            throw JSONError(
                first
                    ? "unexpected end of input, expected a value or ']'"
                    : "unexpected end of input, expected ',' or ']' after array element", at: pos)
        }
        if first {
            if buf[pos] == ASCII.closeBracket {
                pos += 1
                return false
            }
            first = false
            return true
        }
        switch buf[pos] {
        case ASCII.closeBracket:
            pos += 1
            return false
        case ASCII.comma:
            pos += 1
            skipWhitespace()
            return true
        default:
            throw unexpected(expected: "',' or ']' after array element")
        }
    }

    // MARK: scalars

    /// Scans a string; the cursor must be on its opening quote. Leaves the cursor after the closing quote.
    mutating func scanString() throws(JSONError) -> JSONStringToken {
        let opening = pos
        let start = pos + 1
        let n = buf.count
        var i = start
        var escaped = false
        let base = UnsafeRawPointer(buf.baseAddress)
        while i < n {
            // Fast path: skip plain ASCII bytes (not quote, backslash, control or non-ASCII) 8 at a time, and
            // on little-endian machines jump straight to the first special byte.
            if let base, i + 8 <= n {
                let mask = JSONCursor.specialStringBytes(base.loadUnaligned(fromByteOffset: i, as: UInt64.self))
                if mask == 0 {
                    i += 8
                    continue
                }
                #if _endian(little)
                    i += mask.trailingZeroBitCount >> 3
                #endif
            }
            let b = buf[i]
            if b == ASCII.quote {
                pos = i + 1
                return JSONStringToken(range: start..<i, hasEscapes: escaped)
            }
            if b == ASCII.backslash {
                escaped = true
                guard i + 1 < n else { break }
                switch buf[i + 1] {
                case ASCII.quote, ASCII.backslash, ASCII.slash,
                    0x62, 0x66, 0x6E, 0x72, 0x74:  // b f n r t
                    i += 2
                case ASCII.lowerU:
                    for k in 2..<6 {
                        guard i + k < n else { break }
                        guard ASCII.hexValue(buf[i + k]) != nil else {
                            throw JSONError("invalid \\u escape in string: expected 4 hex digits", at: i)
                        }
                    }
                    i += 6
                default:
                    throw JSONError("invalid escape: \(ASCII.describe(buf[i + 1])) after '\\' in string", at: i)
                }
            } else if b < 0x20 {
                throw JSONError("unescaped control character \(ASCII.describe(b)) in string", at: i)
            } else if b < 0x80 {
                i += 1
            } else {
                i = try validateUTF8Sequence(at: i)
            }
        }
        throw JSONError("unexpected end of input in string that starts at byte \(opening)", at: n)
    }

    /// The high bit of each byte of `word` that is `"`, `\`, below 0x20 or above 0x7F (SWAR). Bytes above the
    /// first flagged one (in significance) may be flagged falsely, so the lowest set bit is exact: on a
    /// little-endian machine it marks the first special byte in memory order. Zero means none is special.
    @inline(__always)
    static func specialStringBytes(_ word: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let quotes = word ^ (ones &* UInt64(ASCII.quote))
        let backslashes = word ^ (ones &* UInt64(ASCII.backslash))
        // (x - 0x01…) & ~x has a byte's high bit set where that byte of x is zero (exact for the lowest one).
        let zeroQuote = (quotes &- ones) & ~quotes
        let zeroBackslash = (backslashes &- ones) & ~backslashes
        let control = (word &- ones &* 0x20) & ~word  // bytes below 0x20
        return (zeroQuote | zeroBackslash | control | word) & highs
    }

    /// Validates one multi-byte UTF-8 sequence (RFC 3629) starting at `i`; returns the index after it.
    @inline(__always)
    func validateUTF8Sequence(at i: Int) throws(JSONError) -> Int {
        let n = buf.count
        let b0 = buf[i]
        let length: Int
        var lower: UInt8 = 0x80
        var upper: UInt8 = 0xBF
        switch b0 {
        case 0xC2...0xDF: length = 2
        case 0xE0:
            length = 3
            lower = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED:
            length = 3
            upper = 0x9F
        case 0xF0:
            length = 4
            lower = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4:
            length = 4
            upper = 0x8F
        default: throw JSONError("invalid UTF-8 in string", at: i)
        }
        guard i + length <= n else {
            // Either truncated input or a bad sequence; report the end when the input stops mid-sequence.
            for k in 1..<length where i + k < n {
                let b = buf[i + k]
                if k == 1 ? (b < lower || b > upper) : (b < 0x80 || b > 0xBF) {
                    throw JSONError("invalid UTF-8 in string", at: i)
                }
            }
            throw JSONError("unexpected end of input in UTF-8 sequence", at: n)
        }
        let b1 = buf[i + 1]
        guard b1 >= lower && b1 <= upper else { throw JSONError("invalid UTF-8 in string", at: i) }
        for k in 2..<length where buf[i + k] & 0xC0 != 0x80 {
            throw JSONError("invalid UTF-8 in string", at: i)
        }
        return i + length
    }

    /// Scans a number; the cursor must be on '-' or a digit. Returns true when it has no fraction or exponent.
    mutating func scanNumber() throws(JSONError) -> Bool {
        let n = buf.count
        if pos < n, buf[pos] == ASCII.minus { pos += 1 }
        guard pos < n else { throw JSONError("unexpected end of input in number", at: pos) }
        if buf[pos] == ASCII.zero {
            pos += 1
            if pos < n, ASCII.isDigit(buf[pos]) {
                throw JSONError("leading zeros are not allowed in numbers", at: pos - 1)
            }
        } else if ASCII.isDigit(buf[pos]) {
            pos += 1
            while pos < n, ASCII.isDigit(buf[pos]) { pos += 1 }
        } else {
            throw unexpected(expected: "a digit")
        }
        var integer = true
        if pos < n, buf[pos] == ASCII.dot {
            integer = false
            pos += 1
            try scanDigits("a digit after '.' in number")
        }
        if pos < n, buf[pos] == ASCII.lowerE || buf[pos] == ASCII.upperE {
            integer = false
            pos += 1
            if pos < n, buf[pos] == ASCII.plus || buf[pos] == ASCII.minus { pos += 1 }
            try scanDigits("a digit in number exponent")
        }
        return integer
    }

    private mutating func scanDigits(_ what: String) throws(JSONError) {
        guard pos < buf.count, ASCII.isDigit(buf[pos]) else { throw unexpected(expected: what) }
        pos += 1
        while pos < buf.count, ASCII.isDigit(buf[pos]) { pos += 1 }
    }

    /// Scans `true`, `false` or `null`; the cursor must be on its first letter.
    mutating func scanLiteral() throws(JSONError) {
        let literal: StaticString
        switch buf[pos] {
        case ASCII.lowerT: literal = "true"
        case ASCII.lowerF: literal = "false"
        default: literal = "null"
        }
        let start = pos
        let ok = literal.withUTF8Buffer { lit -> Bool in
            guard start + lit.count <= buf.count else { return false }
            for k in 0..<lit.count where buf[start + k] != lit[k] { return false }
            return true
        }
        guard ok else {
            throw JSONError("invalid literal, expected '\(literal)'", at: start)
        }
        pos += literal.utf8CodeUnitCount
    }

    // MARK: values

    /// Skips (and validates) one value; the cursor must be on its first byte (whitespace already skipped).
    /// `depth` is the number of containers already open around the value.
    mutating func skipValue(depth: Int) throws(JSONError) {
        guard pos < buf.count else { throw unexpected(expected: "a JSON value") }
        switch buf[pos] {
        case ASCII.quote:
            _ = try scanString()
        case ASCII.openBrace, ASCII.openBracket:
            try skipContainer(depth: depth)
        case ASCII.lowerT, ASCII.lowerF, ASCII.lowerN:
            try scanLiteral()
        case ASCII.minus, ASCII.zero...ASCII.nine:
            _ = try scanNumber()
        default:
            throw unexpected(expected: "a JSON value")
        }
    }

    /// Iterative skip of an array or object with an explicit stack (no recursion).
    private mutating func skipContainer(depth baseDepth: Int) throws(JSONError) {
        let capacity = max(1, JSONScanner.maxDepth - baseDepth)
        let result = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: capacity) { stack in
            Result { () throws(JSONError) in try skipContainer(depth: baseDepth, stack: stack) }
        }
        try result.get()
    }

    private mutating func skipContainer(
        depth baseDepth: Int, stack: UnsafeMutableBufferPointer<UInt8>
    ) throws(JSONError) {
        // The cursor is on the opening bracket of the outermost container.
        guard baseDepth < JSONScanner.maxDepth, !stack.isEmpty else {
            throw JSONError("nesting deeper than \(JSONScanner.maxDepth) levels", at: pos)
        }
        stack[0] = buf[pos]
        pos += 1
        var top = 1  // number of open containers in `stack`
        var first = true  // just after the opener of the innermost container
        while top > 0 {
            // Move to the next member/element, or close the innermost container.
            if stack[top - 1] == ASCII.openBrace {
                guard try nextMemberKey(first: &first) != nil else {
                    top -= 1
                    first = false
                    continue
                }
            } else {
                guard try nextElement(first: &first) else {
                    top -= 1
                    first = false
                    continue
                }
            }
            // The cursor is on a value.
            guard pos < buf.count else { throw unexpected(expected: "a JSON value") }
            switch buf[pos] {
            case ASCII.openBrace, ASCII.openBracket:
                guard baseDepth + top < JSONScanner.maxDepth, top < stack.count else {
                    throw JSONError("nesting deeper than \(JSONScanner.maxDepth) levels", at: pos)
                }
                stack[top] = buf[pos]
                top += 1
                pos += 1
                first = true
            case ASCII.quote:
                _ = try scanString()
            case ASCII.lowerT, ASCII.lowerF, ASCII.lowerN:
                try scanLiteral()
            case ASCII.minus, ASCII.zero...ASCII.nine:
                _ = try scanNumber()
            default:
                throw unexpected(expected: "a JSON value")
            }
        }
    }

    // MARK: decoding scanned tokens

    /// The decoded text of a scanned string token.
    func decodeString(_ token: JSONStringToken) -> String {
        let raw = UnsafeBufferPointer(rebasing: buf[token.range])
        if !token.hasEscapes { return String(decoding: raw, as: UTF8.self) }
        return JSONCursor.unescape(raw)
    }

    /// Whether a scanned key equals `literal` (compared after unescaping).
    @inline(__always)
    func keyEquals(_ token: JSONStringToken, _ literal: StaticString) -> Bool {
        if token.hasEscapes { return decodeString(token) == literal.description }
        return literal.withUTF8Buffer { lit -> Bool in
            guard lit.count == token.range.count else { return false }
            var k = token.range.lowerBound
            for b in lit {
                if buf[k] != b { return false }
                k += 1
            }
            return true
        }
    }

    /// The `Int64` of a scanned integer literal (`-?digits`), or nil when out of range.
    func int64(_ range: Range<Int>) -> Int64? {
        var i = range.lowerBound
        var negative = false
        if i < range.upperBound, buf[i] == ASCII.minus {
            negative = true
            i += 1
        }
        guard i < range.upperBound else { return nil }
        var value: Int64 = 0
        while i < range.upperBound {
            let b = buf[i]
            guard ASCII.isDigit(b) else { return nil }
            let digit = Int64(b &- ASCII.zero)
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (s, o2) = negative ? m.subtractingReportingOverflow(digit) : m.addingReportingOverflow(digit)
            if o1 || o2 { return nil }
            value = s
            i += 1
        }
        return value
    }

    /// Decodes the bytes between the quotes of a string already validated by `scanString`.
    static func unescape(_ raw: UnsafeBufferPointer<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        let n = raw.count
        var i = 0
        var runStart = 0

        @inline(__always) func hex4(_ at: Int) -> UInt32? {
            guard at + 4 <= n else { return nil }
            var v: UInt32 = 0
            for k in 0..<4 {
                guard let h = ASCII.hexValue(raw[at + k]) else { return nil }
                v = v << 4 | h
            }
            return v
        }

        while i < n {
            guard raw[i] == ASCII.backslash, i + 1 < n else {
                i += 1
                continue
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: raw[runStart..<i]))
            let e = raw[i + 1]
            i += 2
            switch e {
            case 0x62: out.append(0x08)  // \b
            case 0x66: out.append(0x0C)  // \f
            case 0x6E: out.append(0x0A)  // \n
            case 0x72: out.append(0x0D)  // \r
            case 0x74: out.append(0x09)  // \t
            case ASCII.lowerU:
                var scalar: UInt32 = 0xFFFD
                if let unit = hex4(i) {
                    i += 4
                    if unit >= 0xD800 && unit < 0xDC00 {
                        // High surrogate: only a following low-surrogate escape makes a pair (Go's rule).
                        if i + 6 <= n, raw[i] == ASCII.backslash, raw[i + 1] == ASCII.lowerU,
                            let low = hex4(i + 2), low >= 0xDC00 && low < 0xE000
                        {
                            scalar = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                            i += 6
                        }
                    } else if unit < 0xDC00 || unit >= 0xE000 {
                        scalar = unit
                    }
                } else {
                    i = n  // cannot happen for validated input
                }
                appendUTF8(scalar, to: &out)
            default: out.append(e)  // \" \\ \/
            }
            runStart = i
        }
        out.append(contentsOf: UnsafeBufferPointer(rebasing: raw[min(runStart, n)..<n]))
        return String(decoding: out, as: UTF8.self)
    }

    @inline(__always)
    static func appendUTF8(_ scalar: UInt32, to out: inout [UInt8]) {
        switch scalar {
        case 0..<0x80:
            out.append(UInt8(scalar))
        case 0x80..<0x800:
            out.append(UInt8(0xC0 | (scalar >> 6)))
            out.append(UInt8(0x80 | (scalar & 0x3F)))
        case 0x800..<0x10000:
            out.append(UInt8(0xE0 | (scalar >> 12)))
            out.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
            out.append(UInt8(0x80 | (scalar & 0x3F)))
        default:
            out.append(UInt8(0xF0 | (scalar >> 18)))
            out.append(UInt8(0x80 | ((scalar >> 12) & 0x3F)))
            out.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
            out.append(UInt8(0x80 | (scalar & 0x3F)))
        }
    }
}
