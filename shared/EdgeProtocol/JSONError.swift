// Errors of the JSON scanner and of the message codec. Both carry a human-readable reason and the byte offset
// (from the first byte of the input) where the problem was found.

/// Input is not valid JSON (RFC 8259), or not the JSON shape that was asked for.
public struct JSONError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong, e.g. "expected ':' after object key".
    public let reason: String
    /// Byte offset from the start of the input where the problem was found.
    public let offset: Int

    public init(_ reason: String, at offset: Int) {
        self.reason = reason
        self.offset = offset
    }

    public var description: String { "\(reason) at byte \(offset)" }
}

/// A websocket frame could not be decoded as a beehive ``Message``.
public struct MessageDecodingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong, e.g. "\"timestamp\" must be an integer".
    public let reason: String
    /// Byte offset from the start of the frame where the problem was found.
    public let offset: Int

    public init(_ reason: String, at offset: Int) {
        self.reason = reason
        self.offset = offset
    }

    public init(_ error: JSONError) {
        self.init(error.reason, at: error.offset)
    }

    public var description: String { "\(reason) at byte \(offset)" }
}
