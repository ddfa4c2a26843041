// One JSON value kept as its exact bytes: the `content` of a beehive message travels through our services
// untouched, so re-encoding a message reproduces what the peer sent byte for byte.

/// One JSON value, stored as its exact UTF-8 bytes (no surrounding whitespace).
public struct RawJSON: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The bytes of the value.
    public let bytes: [UInt8]

    /// Checks that `bytes` is exactly one valid JSON value (RFC 8259; surrounding whitespace is allowed and
    /// dropped) and keeps the bytes of the value itself.
    public init(validating bytes: some Collection<UInt8>) throws(JSONError) {
        self.bytes = try withContiguousBytes(bytes) { (buf) throws(JSONError) -> [UInt8] in
            var cursor = JSONCursor(buf)
            let range = try cursor.wholeValue()
            if range.count == buf.count { return Array(buf) }
            return Array(UnsafeBufferPointer(rebasing: buf[range]))
        }
    }

    /// Wraps bytes already known to be exactly one valid JSON value. Nothing is checked.
    public init(unchecked bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// A JSON string holding `string`, escaped exactly as Go's encoding/json does (HTML-safe).
    public init(string: String) {
        var out: [UInt8] = []
        out.reserveCapacity(string.utf8.count + 2)
        GoJSONWriter.appendString(string, to: &out)
        self.bytes = out
    }

    /// A JSON integer.
    public init(integer: Int64) {
        var out: [UInt8] = []
        GoJSONWriter.appendInt(integer, to: &out)
        self.bytes = out
    }

    /// `true` or `false`.
    public init(bool: Bool) {
        self = bool ? .true : .false
    }

    /// Serialises `value` compactly (strings escaped as Go does). Throws when a `.number` is not a valid literal.
    public init(_ value: JSONValue) throws(JSONError) {
        self.bytes = try value.serialized()
    }

    public static let null = RawJSON(unchecked: [0x6E, 0x75, 0x6C, 0x6C])
    public static let `true` = RawJSON(unchecked: [0x74, 0x72, 0x75, 0x65])
    public static let `false` = RawJSON(unchecked: [0x66, 0x61, 0x6C, 0x73, 0x65])

    /// Whether the value is `null`.
    public var isNull: Bool { bytes == RawJSON.null.bytes }

    /// The decoded string when the value is a JSON string (all escapes, including surrogate pairs), else nil.
    public var stringValue: String? {
        guard bytes.first == ASCII.quote else { return nil }
        return try? JSONScanner.decodeString(bytes)
    }

    /// The integer when the value is a JSON integer that fits in `Int64`, else nil.
    public var int64Value: Int64? {
        try? JSONScanner.decodeInt64(bytes)
    }

    /// The boolean when the value is `true` or `false`, else nil.
    public var boolValue: Bool? {
        if bytes == RawJSON.true.bytes { return true }
        if bytes == RawJSON.false.bytes { return false }
        return nil
    }

    /// The bytes as UTF-8 text.
    public var text: String { String(decoding: bytes, as: UTF8.self) }

    public var description: String { text }

    /// Parses the value into a ``JSONValue`` tree.
    public func parsed() throws(JSONError) -> JSONValue {
        try JSONValue(parsing: bytes)
    }

    /// The members of a JSON object in document order, each value as its exact bytes.
    public func objectMembers() throws(JSONError) -> [(key: String, value: RawJSON)] {
        try JSONScanner.objectMembers(bytes).map {
            (key: $0.key, value: RawJSON(unchecked: Array(bytes[$0.valueRange])))
        }
    }

    /// The elements of a JSON array in order, each as its exact bytes.
    public func arrayElements() throws(JSONError) -> [RawJSON] {
        try JSONScanner.arrayElements(bytes).map { RawJSON(unchecked: Array(bytes[$0])) }
    }

    // MARK: Codable (through JSONValue; compact output)

    public init(from decoder: any Decoder) throws {
        let value = try JSONValue(from: decoder)
        var out: [UInt8] = []
        try value.write(to: &out, checkNumbers: false)  // number literals come from Swift's own formatting
        self.bytes = out
    }

    public func encode(to encoder: any Encoder) throws {
        try parsed().encode(to: encoder)
    }
}
