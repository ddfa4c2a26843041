// String formats a CRD schema may use (apiextensions-apiserver's supported list; any other `format`, including
// int32/int64/float/double, is stripped before validation and so never checked), each checked the way
// go-openapi's strfmt default registry checks it.

import Foundation

enum CRDStringFormats {
    /// Names as strfmt normalises them (dashes removed, lower case).
    private static let supportedNames: Set<String> = [
        "bsonobjectid", "uri", "email", "hostname", "ipv4", "ipv6", "cidr", "mac", "uuid", "uuid3", "uuid4",
        "uuid5", "isbn", "isbn10", "isbn13", "creditcard", "ssn", "hexcolor", "rgbcolor", "byte", "password",
        "date", "duration", "datetime",
    ]

    private static func normalized(_ format: String) -> String {
        format.replacingOccurrences(of: "-", with: "").lowercased()
    }

    /// Whether the format survives `StripUnsupportedFormatsPostProcess` and is checked.
    static func supported(_ format: String) -> Bool {
        !format.isEmpty && supportedNames.contains(format.replacingOccurrences(of: "-", with: ""))
    }

    /// Whether `value` is valid for `format` (true for formats that are not checked).
    static func validates(_ format: String, _ value: String) -> Bool {
        switch normalized(format) {
        case "bsonobjectid": return value.utf8.count == 24 && value.utf8.allSatisfy(isHex)
        case "uri": return isRequestURI(value)
        case "email": return isEmail(value)
        case "hostname": return isHostname(value)
        case "ipv4": return parseIP(value) != nil && value.contains(".")
        case "ipv6": return parseIP(value) != nil && value.contains(":")
        case "cidr": return isCIDR(value)
        case "mac": return isMAC(value)
        case "uuid": return Patterns.uuid.matches(value)
        case "uuid3": return Patterns.uuid3.matches(value)
        case "uuid4": return Patterns.uuid4.matches(value)
        case "uuid5": return Patterns.uuid5.matches(value)
        case "isbn": return isISBN10(value) || isISBN13(value)
        case "isbn10": return isISBN10(value)
        case "isbn13": return isISBN13(value)
        case "creditcard": return isCreditCard(value)
        case "ssn": return Patterns.ssn.matches(value)
        case "hexcolor": return Patterns.hexColor.matches(value)
        case "rgbcolor": return Patterns.rgbColor.matches(value)
        case "byte": return isBase64(value)
        case "date": return isDate(value)
        case "datetime": return isDateTime(value)
        case "duration": return isDuration(value)
        default: return true
        }
    }

    private static func isHex(_ b: UInt8) -> Bool {
        (b >= 48 && b <= 57) || (b >= 65 && b <= 70) || (b >= 97 && b <= 102)
    }

    private static func isDigit(_ b: UInt8) -> Bool { b >= 48 && b <= 57 }

    /// Regular expressions, compiled once.
    private enum Patterns {
        static let uuid = make("(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$")
        static let uuid3 = make("(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?3[0-9a-f]{3}-?[0-9a-f]{4}-?[0-9a-f]{12}$")
        static let uuid4 = make("(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?4[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$")
        static let uuid5 = make("(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?5[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$")
        static let ssn = make(#"^\d{3}[- ]?\d{2}[- ]?\d{4}$"#)
        static let hexColor = make("^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
        static let rgbColor = make(
            #"^rgb\(\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*,\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*,\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*\)$"#
        )
        static let hostname = make(
            #"^([a-zA-Z0-9\p{S}\p{L}]((-?[a-zA-Z0-9\p{S}\p{L}]{0,62})?)|([a-zA-Z0-9\p{S}\p{L}](([a-zA-Z0-9-\p{S}\p{L}]{0,61}[a-zA-Z0-9\p{S}\p{L}])?)(\.)){1,}([a-zA-Z\p{L}]){2,63})$"#
        )
        static let creditCard = make(
            #"^(?:4[0-9]{12}(?:[0-9]{3})?|5[1-5][0-9]{14}|(222[1-9]|22[3-9][0-9]|2[3-6][0-9]{2}|27[01][0-9]|2720)[0-9]{12}|6(?:011|5[0-9][0-9])[0-9]{12}|3[47][0-9]{13}|3(?:0[0-5]|[68][0-9])[0-9]{11}|(?:2131|1800|35\d{3})\d{11}|6[27][0-9]{14})$"#
        )
        static let time = make(#"^([0-9]{2}):([0-9]{2}):([0-9]{2})(.[0-9]+)?(z|([+-][0-9]{2}:[0-9]{2}))$"#)
        static let email = make(#"^[^\s@<>()\[\],;:"]+@[^\s@<>()\[\],;:"]+$"#)

        static func make(_ pattern: String) -> CRDRegex {
            // These patterns are constants known to compile.
            try! CRDRegex(pattern)
        }
    }

    // MARK: Network

    /// Go's `net.ParseIP`: the 16 bytes, or nil.
    static func parseIP(_ s: String) -> [UInt8]? {
        if let v4 = parseIPv4(Substring(s)) { return [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF] + v4 }
        return parseIPv6(s)
    }

    private static func parseIPv4(_ s: Substring) -> [UInt8]? {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var out: [UInt8] = []
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.utf8.allSatisfy(isDigit) else { return nil }
            if part.count > 1 && part.first == "0" { return nil }  // Go rejects leading zeros
            guard let v = Int(part), v <= 255 else { return nil }
            out.append(UInt8(v))
        }
        return out
    }

    private static func parseIPv6(_ s: String) -> [UInt8]? {
        guard s.contains(":") else { return nil }
        var text = Substring(s)
        var tail: [UInt8] = []
        // An embedded IPv4 address at the end.
        if let lastColon = text.lastIndex(of: ":"), text[text.index(after: lastColon)...].contains(".") {
            guard let v4 = parseIPv4(text[text.index(after: lastColon)...]) else { return nil }
            tail = v4
            text = text[...lastColon]
            if text.hasSuffix("::") == false { text = text.dropLast() }
        }
        let halves = text.components(separatedBy: "::")
        guard halves.count <= 2 else { return nil }
        func groups(_ part: String) -> [UInt8]? {
            if part.isEmpty { return [] }
            var out: [UInt8] = []
            for g in part.split(separator: ":", omittingEmptySubsequences: false) {
                guard !g.isEmpty, g.count <= 4, g.utf8.allSatisfy(isHex), let v = UInt16(g, radix: 16) else {
                    return nil
                }
                out += [UInt8(v >> 8), UInt8(v & 0xFF)]
            }
            return out
        }
        guard let head = groups(halves[0]) else { return nil }
        if halves.count == 2 {
            guard let rest = groups(halves[1]) else { return nil }
            let used = head.count + rest.count + tail.count
            guard used <= 14 else { return nil }
            return head + [UInt8](repeating: 0, count: 16 - used) + rest + tail
        }
        guard head.count + tail.count == 16 else { return nil }
        return head + tail
    }

    private static func isCIDR(_ s: String) -> Bool {
        guard let slash = s.firstIndex(of: "/") else { return false }
        let address = String(s[..<slash])
        let bits = s[s.index(after: slash)...]
        guard !bits.isEmpty, bits.count <= 3, bits.utf8.allSatisfy(isDigit), let n = Int(bits) else { return false }
        if bits.count > 1 && bits.first == "0" { return false }
        if parseIPv4(Substring(address)) != nil { return n <= 32 }
        if parseIPv6(address) != nil { return n <= 128 }
        return false
    }

    /// Go's `net.ParseMAC`: 6, 8 or 20 octets as `xx:xx:..`, `xx-xx-..` or `xxxx.xxxx.xxxx`.
    private static func isMAC(_ s: String) -> Bool {
        let lengths: Set<Int> = [6, 8, 20]
        for separator in [":", "-"] where s.contains(separator) {
            let parts = s.components(separatedBy: separator)
            return lengths.contains(parts.count) && parts.allSatisfy { $0.utf8.count == 2 && $0.utf8.allSatisfy(isHex) }
        }
        if s.contains(".") {
            let parts = s.components(separatedBy: ".")
            return lengths.contains(parts.count * 2)
                && parts.allSatisfy { $0.utf8.count == 4 && $0.utf8.allSatisfy(isHex) }
        }
        return false
    }

    private static func isHostname(_ s: String) -> Bool {
        s.utf8.count <= 255 && Patterns.hostname.matches(s)
    }

    /// Go's `url.ParseRequestURI` succeeding: an absolute URI (`scheme:...`) or an absolute path.
    private static func isRequestURI(_ s: String) -> Bool {
        if s.isEmpty || s.contains(where: { $0.isWhitespace }) { return false }
        if s.hasPrefix("/") { return true }
        guard let colon = s.firstIndex(of: ":"), colon != s.startIndex else { return false }
        let scheme = s[..<colon]
        guard let first = scheme.unicodeScalars.first, first.properties.isAlphabetic, first.isASCII else {
            return false
        }
        return scheme.unicodeScalars.allSatisfy {
            $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "+-.".unicodeScalars.contains($0))
        }
    }

    /// Roughly `mail.ParseAddress`: `local@domain`, optionally as `Name <local@domain>`.
    private static func isEmail(_ s: String) -> Bool {
        var address = s.trimmingCharacters(in: .whitespaces)
        if address.hasSuffix(">"), let open = address.lastIndex(of: "<") {
            address = String(address[address.index(after: open)..<address.index(before: address.endIndex)])
        }
        return Patterns.email.matches(address)
    }

    // MARK: Numbers that check themselves

    private static func isISBN10(_ s: String) -> Bool {
        let digits = Array(s.filter { $0 != "-" && $0 != " " })
        guard digits.count == 10 else { return false }
        var sum = 0
        for (i, ch) in digits.enumerated() {
            let v: Int
            if let d = ch.wholeNumberValue, ch.isASCII {
                v = d
            } else if ch == "X" && i == 9 {
                v = 10
            } else {
                return false
            }
            sum += (i + 1) * v
        }
        return sum % 11 == 0
    }

    private static func isISBN13(_ s: String) -> Bool {
        let digits = s.filter { $0 != "-" && $0 != " " }.compactMap { $0.isASCII ? $0.wholeNumberValue : nil }
        guard digits.count == 13, s.filter({ $0 != "-" && $0 != " " }).count == 13 else { return false }
        var sum = 0
        for (i, d) in digits.dropLast().enumerated() { sum += d * (i % 2 == 0 ? 1 : 3) }
        return (10 - sum % 10) % 10 == digits[12]
    }

    private static func isCreditCard(_ s: String) -> Bool {
        let cleaned = String(s.filter { $0.isASCII && $0.isNumber })
        guard Patterns.creditCard.matches(cleaned) else { return false }
        var sum = 0
        for (i, ch) in cleaned.reversed().enumerated() {
            var d = ch.wholeNumberValue ?? 0
            if i % 2 == 1 {
                d *= 2
                if d > 9 { d -= 9 }
            }
            sum += d
        }
        return sum % 10 == 0
    }

    // MARK: Encodings, dates and durations

    /// `base64.StdEncoding.DecodeString` succeeding (padding required; CR and LF ignored).
    private static func isBase64(_ s: String) -> Bool {
        let bytes = s.utf8.filter { $0 != 0x0A && $0 != 0x0D }
        guard bytes.count % 4 == 0 else { return false }
        var padding = 0
        for (i, b) in bytes.enumerated() {
            if b == 0x3D {  // '='
                padding += 1
                guard i >= bytes.count - 2 else { return false }
                continue
            }
            guard padding == 0 else { return false }
            let ok = (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || isDigit(b) || b == 0x2B || b == 0x2F
            guard ok else { return false }
        }
        return true
    }

    /// `time.Parse("2006-01-02", s)` succeeding.
    static func isDate(_ s: String) -> Bool {
        let b = Array(s.utf8)
        guard b.count == 10, b[4] == 0x2D, b[7] == 0x2D else { return false }
        let numeric = [0, 1, 2, 3, 5, 6, 8, 9].allSatisfy { isDigit(b[$0]) }
        guard numeric else { return false }
        func number(_ r: Range<Int>) -> Int { r.reduce(0) { $0 * 10 + Int(b[$1] - 48) } }
        let year = number(0..<4)
        let month = number(5..<7)
        let day = number(8..<10)
        guard (1...12).contains(month), day >= 1 else { return false }
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        return day <= days
    }

    /// strfmt's `IsDateTime`: a full date, `T` (any case), `hh:mm:ss[.frac]` and `Z` or an offset.
    static func isDateTime(_ s: String) -> Bool {
        guard s.utf8.count >= 4 else { return false }
        let parts = s.lowercased().components(separatedBy: "t")
        guard parts.count >= 2, isDate(parts[0]) else { return false }
        let time = parts[1]
        guard Patterns.time.matches(time) else { return false }
        let fields = time.prefix(8).split(separator: ":")
        guard fields.count == 3 else { return false }
        return fields[0] <= "23" && fields[1] <= "59" && fields[2] <= "59"
    }

    /// strfmt's `ParseDuration`: Go's `time.ParseDuration`, or numbers with unit words (`3 days`, `1h`).
    private static func isDuration(_ s: String) -> Bool {
        if isGoDuration(s) { return true }
        let units: [[String]] = [
            ["ns", "nanos"], ["us", "µs", "micros"], ["ms", "millis"], ["s", "sec"], ["m", "min"],
            ["h", "hr", "hour"], ["d", "day"], ["w", "wk", "week"],
        ]
        let ns = s as NSString
        let regex = try? NSRegularExpression(pattern: #"(\d+)\s*([A-Za-zµ]+)"#)
        for match in regex?.matches(in: s, range: NSRange(location: 0, length: ns.length)) ?? [] {
            let unit = ns.substring(with: match.range(at: 2)).lowercased()
            for variants in units {
                for (i, variant) in variants.enumerated() {
                    if (i == variants.count - 1 && unit.hasPrefix(variant)) || unit == variant { return true }
                }
            }
        }
        return false
    }

    /// Go's `time.ParseDuration` grammar: `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+`, or `0`.
    private static func isGoDuration(_ s: String) -> Bool {
        var rest = Substring(s)
        if rest.first == "-" || rest.first == "+" { rest = rest.dropFirst() }
        if rest == "0" { return true }
        if rest.isEmpty { return false }
        let units = ["ns", "us", "µs", "μs", "ms", "s", "m", "h"]
        while !rest.isEmpty {
            let intPart = rest.prefix(while: { $0.isASCII && $0.isNumber })
            rest = rest.dropFirst(intPart.count)
            var fracPart = Substring()
            if rest.first == "." {
                rest = rest.dropFirst()
                fracPart = rest.prefix(while: { $0.isASCII && $0.isNumber })
                rest = rest.dropFirst(fracPart.count)
            }
            guard !intPart.isEmpty || !fracPart.isEmpty else { return false }
            let unit = rest.prefix(while: { !($0.isASCII && ($0.isNumber || $0 == ".")) })
            guard units.contains(String(unit)) else { return false }
            rest = rest.dropFirst(unit.count)
        }
        return true
    }
}
