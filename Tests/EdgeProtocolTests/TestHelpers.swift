import EdgeProtocol
import TestSupport

extension String {
    var bytes: [UInt8] { Array(utf8) }
}

/// Decodes a frame given as text.
func decode(_ frame: String) throws(MessageDecodingError) -> Message {
    try MessageCodec.decode(frame.bytes)
}

/// The encoded message as text.
func encodedText(_ message: Message) -> String {
    String(decoding: MessageCodec.encode(message), as: UTF8.self)
}

/// Whether `id` is a lowercase canonical UUID v4 (8-4-4-4-12, version 4, RFC 4122 variant).
func isUUIDv4(_ id: String) -> Bool {
    let chars = Array(id.utf8)
    guard chars.count == 36 else { return false }
    for (k, c) in chars.enumerated() {
        if k == 8 || k == 13 || k == 18 || k == 23 {
            guard c == UInt8(ascii: "-") else { return false }
        } else {
            guard
                (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "f"))
            else { return false }
        }
    }
    return chars[14] == UInt8(ascii: "4") && "89ab".utf8.contains(chars[19])
}

/// Nested arrays `[[[…]]]` of the given depth.
func nestedArrays(_ depth: Int) -> String {
    String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
}

/// `value` with object members sorted by key at every level (for comparisons that ignore member order).
func normalized(_ value: JSONValue) -> JSONValue {
    switch value {
    case .array(let elements):
        .array(elements.map(normalized))
    case .object(let members):
        .object(members.map { (key: $0.key, value: normalized($0.value)) }.sorted { $0.key < $1.key })
    default:
        value
    }
}
