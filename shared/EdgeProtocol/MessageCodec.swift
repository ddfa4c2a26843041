// The byte-exact wire codec of the beehive message (kubeedge-wire.md §1.1, §2.4, §13).
//
// Decoding is a hand-written scan over the bytes: any key order at every level, unknown keys ignored, `content`
// kept as the exact bytes of its value, the whole frame validated as JSON. Encoding writes Go's field order,
// omission rules and string escaping, so a frame produced by Go decodes and re-encodes to the same bytes.

/// Encodes and decodes beehive messages as websocket JSON frames.
public enum MessageCodec {
    // MARK: Decoding

    /// Decodes one message. Accepts surrounding whitespace (including the frame's trailing `\n`), any key order,
    /// unknown keys (ignored) and `null` for any field (treated as absent, as Go does). A missing `content`
    /// decodes as `null`. Duplicate keys: the last one wins (fields of repeated `header`/`route` objects merge,
    /// as in Go). Keys are matched exactly (Go would also accept other letter cases).
    public static func decode(_ bytes: some Collection<UInt8>) throws(MessageDecodingError) -> Message {
        do {
            return try withContiguousBytes(bytes) { (buf) throws(JSONError) -> Message in
                var cursor = JSONCursor(buf)
                return try cursor.decodeMessage()
            }
        } catch {
            throw MessageDecodingError(error)
        }
    }

    // MARK: Encoding

    /// Compact JSON in Go's field order and with Go's omission rules and string escaping; `content` is copied
    /// verbatim. No trailing newline.
    public static func encode(_ message: Message) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(estimatedSize(message))
        encode(message, into: &out)
        return out
    }

    /// What goes on the websocket: ``encode(_:)`` followed by `\n` (gorilla `WriteJSON`, §2.4).
    public static func encodeFrame(_ message: Message) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(estimatedSize(message) + 1)
        encode(message, into: &out)
        out.append(ASCII.newline)
        return out
    }

    /// Appends the encoding of `message` to `out` (no trailing newline).
    public static func encode(_ message: Message, into out: inout [UInt8]) {
        let h = message.header
        let r = message.route
        GoJSONWriter.appendLiteral(#"{"header":{"msg_id":"#, to: &out)
        GoJSONWriter.appendString(h.id, to: &out)
        if !h.parentID.isEmpty {
            GoJSONWriter.appendLiteral(#","parent_msg_id":"#, to: &out)
            GoJSONWriter.appendString(h.parentID, to: &out)
        }
        GoJSONWriter.appendLiteral(#","timestamp":"#, to: &out)
        GoJSONWriter.appendInt(h.timestamp, to: &out)
        if !h.resourceVersion.isEmpty {
            GoJSONWriter.appendLiteral(#","resourceversion":"#, to: &out)
            GoJSONWriter.appendString(h.resourceVersion, to: &out)
        }
        if h.sync { GoJSONWriter.appendLiteral(#","sync":true"#, to: &out) }
        if !h.type.isEmpty {
            GoJSONWriter.appendLiteral(#","type":"#, to: &out)
            GoJSONWriter.appendString(h.type, to: &out)
        }
        GoJSONWriter.appendLiteral(#"},"route":{"#, to: &out)
        var needComma = false
        func field(_ key: StaticString, _ value: String, _ out: inout [UInt8]) {
            guard !value.isEmpty else { return }
            if needComma { out.append(ASCII.comma) }
            needComma = true
            GoJSONWriter.appendLiteral(key, to: &out)
            GoJSONWriter.appendString(value, to: &out)
        }
        field(#""source":"#, r.source, &out)
        field(#""destination":"#, r.destination, &out)
        field(#""group":"#, r.group, &out)
        field(#""operation":"#, r.operation, &out)
        field(#""resource":"#, r.resource, &out)
        GoJSONWriter.appendLiteral(#"},"content":"#, to: &out)
        if message.content.bytes.isEmpty {
            GoJSONWriter.appendLiteral("null", to: &out)  // only reachable through RawJSON(unchecked: [])
        } else {
            out.append(contentsOf: message.content.bytes)
        }
        out.append(ASCII.closeBrace)
    }

    static func estimatedSize(_ m: Message) -> Int {
        let h = m.header
        let r = m.route
        return 110 + h.id.utf8.count + h.parentID.utf8.count + h.resourceVersion.utf8.count + h.type.utf8.count
            + r.source.utf8.count + r.destination.utf8.count + r.group.utf8.count + r.operation.utf8.count
            + r.resource.utf8.count + m.content.bytes.count
    }
}

// MARK: - The decoder

extension JSONCursor {
    mutating func decodeMessage() throws(JSONError) -> Message {
        var message = Message()
        skipWhitespace()
        guard pos < buf.count, buf[pos] == ASCII.openBrace else {
            throw pos < buf.count
                ? JSONError("a message must be a JSON object, found \(ASCII.describe(buf[pos]))", at: pos)
                : JSONError("empty input, expected a message (a JSON object)", at: pos)
        }
        pos += 1
        var first = true
        while let key = try nextMemberKey(first: &first) {
            if keyEquals(key, "header") {
                try decodeHeader(into: &message.header)
            } else if keyEquals(key, "route") {
                try decodeRoute(into: &message.route)
            } else if keyEquals(key, "content") {
                let start = pos
                try skipValue(depth: 1)
                message.content = RawJSON(unchecked: Array(UnsafeBufferPointer(rebasing: buf[start..<pos])))
            } else {
                try skipValue(depth: 1)
            }
        }
        try expectEnd()
        return message
    }

    /// Consumes `null` (returning false) or `{` (returning true); anything else is an error about `field`.
    private mutating func beginOptionalObject(_ field: StaticString) throws(JSONError) -> Bool {
        guard pos < buf.count else { throw unexpected(expected: "a JSON value") }
        switch buf[pos] {
        case ASCII.openBrace:
            pos += 1
            return true
        case ASCII.lowerN:
            try scanLiteral()
            return false
        default:
            let start = pos
            try skipValue(depth: 1)  // report invalid JSON first, then the type
            throw JSONError("\"\(field)\" must be an object", at: start)
        }
    }

    private mutating func decodeHeader(into header: inout Message.Header) throws(JSONError) {
        guard try beginOptionalObject("header") else { return }
        var first = true
        while let key = try nextMemberKey(first: &first) {
            if keyEquals(key, "msg_id") {
                try decodeString("msg_id", into: &header.id)
            } else if keyEquals(key, "parent_msg_id") {
                try decodeString("parent_msg_id", into: &header.parentID)
            } else if keyEquals(key, "timestamp") {
                try decodeInt64("timestamp", into: &header.timestamp)
            } else if keyEquals(key, "resourceversion") {
                try decodeString("resourceversion", into: &header.resourceVersion)
            } else if keyEquals(key, "sync") {
                try decodeBool("sync", into: &header.sync)
            } else if keyEquals(key, "type") {
                try decodeString("type", into: &header.type)
            } else {
                try skipValue(depth: 2)
            }
        }
    }

    private mutating func decodeRoute(into route: inout Message.Route) throws(JSONError) {
        guard try beginOptionalObject("route") else { return }
        var first = true
        while let key = try nextMemberKey(first: &first) {
            if keyEquals(key, "source") {
                try decodeString("source", into: &route.source)
            } else if keyEquals(key, "destination") {
                try decodeString("destination", into: &route.destination)
            } else if keyEquals(key, "group") {
                try decodeString("group", into: &route.group)
            } else if keyEquals(key, "operation") {
                try decodeString("operation", into: &route.operation)
            } else if keyEquals(key, "resource") {
                try decodeString("resource", into: &route.resource)
            } else {
                try skipValue(depth: 2)
            }
        }
    }

    /// A string field (null leaves it unchanged, as in Go).
    private mutating func decodeString(_ field: StaticString, into value: inout String) throws(JSONError) {
        guard pos < buf.count else { throw unexpected(expected: "a JSON value") }
        switch buf[pos] {
        case ASCII.quote:
            value = decodeString(try scanString())
        case ASCII.lowerN:
            try scanLiteral()
        default:
            let start = pos
            try skipValue(depth: 2)
            throw JSONError("\"\(field)\" must be a string", at: start)
        }
    }

    /// An int64 field (null leaves it unchanged, as in Go).
    private mutating func decodeInt64(_ field: StaticString, into value: inout Int64) throws(JSONError) {
        guard pos < buf.count else { throw unexpected(expected: "a JSON value") }
        let start = pos
        switch buf[pos] {
        case ASCII.minus, ASCII.zero...ASCII.nine:
            let isInteger = try scanNumber()
            guard isInteger else {
                throw JSONError("\"\(field)\" must be an integer, found a fraction or exponent", at: start)
            }
            guard let v = int64(start..<pos) else {
                throw JSONError("\"\(field)\" is out of the int64 range", at: start)
            }
            value = v
        case ASCII.lowerN:
            try scanLiteral()
        default:
            try skipValue(depth: 2)
            throw JSONError("\"\(field)\" must be an integer", at: start)
        }
    }

    /// A boolean field (null leaves it unchanged, as in Go).
    private mutating func decodeBool(_ field: StaticString, into value: inout Bool) throws(JSONError) {
        guard pos < buf.count else { throw unexpected(expected: "a JSON value") }
        let start = pos
        switch buf[pos] {
        case ASCII.lowerT:
            try scanLiteral()
            value = true
        case ASCII.lowerF:
            try scanLiteral()
            value = false
        case ASCII.lowerN:
            try scanLiteral()
        default:
            try skipValue(depth: 2)
            throw JSONError("\"\(field)\" must be a boolean", at: start)
        }
    }
}
