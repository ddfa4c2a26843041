// A small JSON document model. Numbers keep their literal text and objects keep member order (and duplicates),
// so parsing and serialising with our own code does not change a document beyond removing whitespace.

/// One JSON value.
public enum JSONValue: Sendable, Hashable, Codable {
    case null
    case bool(Bool)
    /// A number as its JSON literal text, e.g. `"-12"`, `"1.5e3"`. Must be a valid JSON number to serialise.
    case number(String)
    case string(String)
    case array([JSONValue])
    /// Members in document order. Lookups by key (``subscript(_:)``) use the last match, as Go does.
    case object([(key: String, value: JSONValue)])

    // MARK: Equatable / Hashable (tuples are neither, so these are written out)

    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): true
        case (.bool(let a), .bool(let b)): a == b
        case (.number(let a), .number(let b)): a == b
        case (.string(let a), .string(let b)): a == b
        case (.array(let a), .array(let b)): a == b
        case (.object(let a), .object(let b)):
            a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .null:
            hasher.combine(0)
        case .bool(let b):
            hasher.combine(1)
            hasher.combine(b)
        case .number(let n):
            hasher.combine(2)
            hasher.combine(n)
        case .string(let s):
            hasher.combine(3)
            hasher.combine(s)
        case .array(let a):
            hasher.combine(4)
            hasher.combine(a)
        case .object(let members):
            hasher.combine(5)
            hasher.combine(members.count)
            for member in members {
                hasher.combine(member.key)
                hasher.combine(member.value)
            }
        }
    }

    // MARK: Accessors

    /// The value of the last member named `key` when this is an object.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.last(where: { $0.key == key })?.value
    }

    /// The string when this is `.string`.
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    // MARK: Parsing

    /// Parses exactly one JSON value (surrounding whitespace allowed). Iterative; nesting is limited to
    /// ``JSONScanner/maxDepth``.
    public init(parsing bytes: some Collection<UInt8>) throws(JSONError) {
        self = try withContiguousBytes(bytes) { (buf) throws(JSONError) -> JSONValue in
            var cursor = JSONCursor(buf)
            cursor.skipWhitespace()
            let value = try cursor.parseValue()
            try cursor.expectEnd()
            return value
        }
    }

    // MARK: Serialising

    /// Compact JSON bytes, strings escaped as Go does. Throws when a `.number` holds an invalid literal.
    public func serialized() throws(JSONError) -> [UInt8] {
        var out: [UInt8] = []
        try write(to: &out, checkNumbers: true)
        return out
    }

    /// Appends compact JSON. With `checkNumbers == false` number literals are trusted.
    func write(to out: inout [UInt8], checkNumbers: Bool) throws(JSONError) {
        switch self {
        case .null:
            GoJSONWriter.appendLiteral("null", to: &out)
        case .bool(let b):
            if b { GoJSONWriter.appendLiteral("true", to: &out) } else { GoJSONWriter.appendLiteral("false", to: &out) }
        case .number(let literal):
            if checkNumbers { try JSONValue.checkNumberLiteral(literal, at: out.count) }
            out.append(contentsOf: literal.utf8)
        case .string(let s):
            GoJSONWriter.appendString(s, to: &out)
        case .array(let elements):
            out.append(ASCII.openBracket)
            for (k, element) in elements.enumerated() {
                if k > 0 { out.append(ASCII.comma) }
                try element.write(to: &out, checkNumbers: checkNumbers)
            }
            out.append(ASCII.closeBracket)
        case .object(let members):
            out.append(ASCII.openBrace)
            for (k, member) in members.enumerated() {
                if k > 0 { out.append(ASCII.comma) }
                GoJSONWriter.appendString(member.key, to: &out)
                out.append(ASCII.colon)
                try member.value.write(to: &out, checkNumbers: checkNumbers)
            }
            out.append(ASCII.closeBrace)
        }
    }

    static func checkNumberLiteral(_ literal: String, at offset: Int) throws(JSONError) {
        let valid = withContiguousBytes(literal.utf8) { (buf) -> Bool in
            var cursor = JSONCursor(buf)
            guard !buf.isEmpty, buf[0] == ASCII.minus || ASCII.isDigit(buf[0]) else { return false }
            do {
                _ = try cursor.scanNumber()
            } catch {
                return false
            }
            return cursor.pos == buf.count
        }
        guard valid else { throw JSONError("invalid JSON number literal \"\(literal)\"", at: offset) }
    }

    // MARK: Codable

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public init(from decoder: any Decoder) throws {
        if let single = try? decoder.singleValueContainer() {
            if single.decodeNil() {
                self = .null
                return
            }
            if let b = try? single.decode(Bool.self) {
                self = .bool(b)
                return
            }
            if let i = try? single.decode(Int64.self) {
                self = .number(String(i))
                return
            }
            if let u = try? single.decode(UInt64.self) {
                self = .number(String(u))
                return
            }
            if let d = try? single.decode(Double.self) {
                guard d.isFinite else {
                    throw DecodingError.dataCorruptedError(
                        in: single, debugDescription: "non-finite number cannot be represented in JSON")
                }
                self = .number(String(d))
                return
            }
            if let s = try? single.decode(String.self) {
                self = .string(s)
                return
            }
        }
        if let keyed = try? decoder.container(keyedBy: AnyKey.self) {
            var members: [(key: String, value: JSONValue)] = []
            for key in keyed.allKeys {
                members.append((key: key.stringValue, value: try keyed.decode(JSONValue.self, forKey: key)))
            }
            self = .object(members)
            return
        }
        if var unkeyed = try? decoder.unkeyedContainer() {
            var elements: [JSONValue] = []
            while !unkeyed.isAtEnd {
                elements.append(try unkeyed.decode(JSONValue.self))
            }
            self = .array(elements)
            return
        }
        throw DecodingError.dataCorrupted(
            DecodingError.Context(codingPath: decoder.codingPath, debugDescription: "not a JSON value"))
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .null:
            var c = encoder.singleValueContainer()
            try c.encodeNil()
        case .bool(let b):
            var c = encoder.singleValueContainer()
            try c.encode(b)
        case .number(let literal):
            var c = encoder.singleValueContainer()
            if let i = Int64(literal) {
                try c.encode(i)
            } else if let u = UInt64(literal) {
                try c.encode(u)
            } else if let d = Double(literal), d.isFinite {
                try c.encode(d)
            } else {
                throw EncodingError.invalidValue(
                    literal,
                    EncodingError.Context(
                        codingPath: encoder.codingPath,
                        debugDescription: "JSON number \"\(literal)\" cannot be represented"))
            }
        case .string(let s):
            var c = encoder.singleValueContainer()
            try c.encode(s)
        case .array(let elements):
            var c = encoder.unkeyedContainer()
            for element in elements { try c.encode(element) }
        case .object(let members):
            var c = encoder.container(keyedBy: AnyKey.self)
            for member in members { try c.encode(member.value, forKey: AnyKey(stringValue: member.key)) }
        }
    }
}

// MARK: - Literals

extension JSONValue: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    public init(nilLiteral: ()) { self = .null }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int64) { self = .number(String(value)) }
    /// Uses Swift's shortest round-trip text, which is a valid JSON number for finite values.
    public init(floatLiteral value: Double) { self = .number(String(value)) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(elements.map { (key: $0.0, value: $0.1) })
    }
}

// MARK: - Iterative parser

extension JSONCursor {
    /// Parses one value at the cursor (whitespace already skipped) without recursion.
    mutating func parseValue() throws(JSONError) -> JSONValue {
        struct Frame {
            var isObject: Bool
            var elements: [JSONValue] = []
            var members: [(key: String, value: JSONValue)] = []
            var key = ""
            var first = true
        }
        var stack: [Frame] = []

        while true {
            // 1. Produce the next complete value, or open a container and go read its first item.
            var value: JSONValue
            guard pos < buf.count else { throw unexpected(expected: "a JSON value") }
            switch buf[pos] {
            case ASCII.openBrace, ASCII.openBracket:
                guard stack.count < JSONScanner.maxDepth else {
                    throw JSONError("nesting deeper than \(JSONScanner.maxDepth) levels", at: pos)
                }
                stack.append(Frame(isObject: buf[pos] == ASCII.openBrace))
                pos += 1
                value = .null  // placeholder; replaced below when the container closes at once
            case ASCII.quote:
                value = .string(decodeString(try scanString()))
            case ASCII.lowerT:
                try scanLiteral()
                value = .bool(true)
            case ASCII.lowerF:
                try scanLiteral()
                value = .bool(false)
            case ASCII.lowerN:
                try scanLiteral()
                value = .null
            case ASCII.minus, ASCII.zero...ASCII.nine:
                let start = pos
                _ = try scanNumber()
                value = .number(String(decoding: UnsafeBufferPointer(rebasing: buf[start..<pos]), as: UTF8.self))
            default:
                throw unexpected(expected: "a JSON value")
            }

            // 2. Hand the value to the enclosing containers; close those that end; stop at the next item.
            var haveValue = !(stack.last?.first ?? false)  // a fresh container has no value yet
            while let top = stack.indices.last {
                if haveValue {
                    if stack[top].isObject {
                        stack[top].members.append((key: stack[top].key, value: value))
                    } else {
                        stack[top].elements.append(value)
                    }
                }
                let more: Bool
                if stack[top].isObject {
                    if let key = try nextMemberKey(first: &stack[top].first) {
                        stack[top].key = decodeString(key)
                        more = true
                    } else {
                        more = false
                    }
                } else {
                    more = try nextElement(first: &stack[top].first)
                }
                if more { break }
                let done = stack.removeLast()
                value = done.isObject ? .object(done.members) : .array(done.elements)
                haveValue = true
            }
            if stack.isEmpty { return value }
        }
    }
}
