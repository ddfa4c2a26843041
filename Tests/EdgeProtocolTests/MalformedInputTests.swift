import EdgeProtocol
import TestSupport
import Foundation
import Testing

@Suite("Malformed input")
struct MalformedInputTests {
    /// Inputs that must be rejected, each with a fragment the error's reason must contain.
    static let rejected: [(input: String, reason: String)] = [
        ("", "empty input"),
        ("   \n", "empty input"),
        ("[]", "must be a JSON object"),
        (#""x""#, "must be a JSON object"),
        ("null", "must be a JSON object"),
        ("42", "must be a JSON object"),
        ("{", "unexpected end of input"),
        (#"{"header":5}"#, #""header" must be an object"#),
        (#"{"header":[]}"#, #""header" must be an object"#),
        (#"{"header":"x"}"#, #""header" must be an object"#),
        (#"{"header":true}"#, #""header" must be an object"#),
        (#"{"route":1}"#, #""route" must be an object"#),
        (#"{"header":{"timestamp":"1"}}"#, #""timestamp" must be an integer"#),
        (#"{"header":{"timestamp":1.5}}"#, #""timestamp" must be an integer"#),
        (#"{"header":{"timestamp":1e3}}"#, #""timestamp" must be an integer"#),
        (#"{"header":{"timestamp":1.0}}"#, #""timestamp" must be an integer"#),
        (#"{"header":{"timestamp":9223372036854775808}}"#, "out of the int64 range"),
        (#"{"header":{"timestamp":-9223372036854775809}}"#, "out of the int64 range"),
        (#"{"header":{"timestamp":99999999999999999999999}}"#, "out of the int64 range"),
        (#"{"header":{"timestamp":true}}"#, #""timestamp" must be an integer"#),
        (#"{"header":{"msg_id":7}}"#, #""msg_id" must be a string"#),
        (#"{"header":{"parent_msg_id":{}}}"#, #""parent_msg_id" must be a string"#),
        (#"{"header":{"resourceversion":1001}}"#, #""resourceversion" must be a string"#),
        (#"{"header":{"type":[]}}"#, #""type" must be a string"#),
        (#"{"header":{"sync":"true"}}"#, #""sync" must be a boolean"#),
        (#"{"header":{"sync":1}}"#, #""sync" must be a boolean"#),
        (#"{"route":{"source":1}}"#, #""source" must be a string"#),
        (#"{"route":{"destination":false}}"#, #""destination" must be a string"#),
        (#"{"route":{"group":[]}}"#, #""group" must be a string"#),
        (#"{"route":{"operation":0}}"#, #""operation" must be a string"#),
        (#"{"route":{"resource":{}}}"#, #""resource" must be a string"#),
        (#"{"content":null}x"#, "unexpected data after the JSON value"),
        (#"{"content":null}{}"#, "unexpected data after the JSON value"),
        (#"{"content":null} ,"#, "unexpected data after the JSON value"),
        (#"{"content":{"a":}}"#, "expected a JSON value"),
        (#"{"content":[1,]}"#, "expected a JSON value"),
        (#"{"content":[1 2]}"#, "expected ',' or ']'"),
        (#"{"content":{"a" 1}}"#, "expected ':' after object key"),
        (#"{"content":{"a":1,}}"#, "expected an object key"),
        (#"{"content":{1:2}}"#, "expected an object key"),
        (#"{"content":tru}"#, "invalid literal"),
        (#"{"content":nul}"#, "invalid literal"),
        (#"{"content":True}"#, "expected a JSON value"),
        (#"{"content":01}"#, "leading zeros"),
        (#"{"content":-}"#, "expected a digit"),
        (#"{"content":1.}"#, "expected a digit after '.'"),
        (#"{"content":.5}"#, "expected a JSON value"),
        (#"{"content":+1}"#, "expected a JSON value"),
        (#"{"content":1e}"#, "exponent"),
        (#"{"content":"\x"}"#, "invalid escape"),
        (#"{"content":'x'}"#, "expected a JSON value"),
        (#"{"content":NaN}"#, "expected a JSON value"),
        (#"{"unknown":[1 2],"content":null}"#, "expected ',' or ']'"),
        (#"{"header":{"msg_id":"abc"#, "unexpected end of input in string"),
        (#"{"header":{"msg_id":"abc}}"#, "unexpected end of input in string"),
        (#"{"route":{"source":"a\qb"}}"#, "invalid escape"),
        (#"{"route":{"source":"\u12G4"}}"#, "invalid \\u escape"),
        (#"{"route":{"source":"\u12"}}"#, "invalid \\u escape"),
        ("{\"route\":{\"source\":\"a\u{01}b\"}}", "unescaped control character"),
        ("{\"route\":{\"source\":\"a\nb\"}}", "unescaped control character"),
        (#"{"header" {}}"#, "expected ':' after object key"),
        (#"{"header":{} "route":{}}"#, "expected ',' or '}'"),
        (#"{header:{}}"#, "expected an object key"),
        (#"{"header":{},}"#, "expected an object key"),
    ]

    @Test("rejected with a clear reason", arguments: 0..<rejected.count)
    func rejectsMalformed(index: Int) {
        let (input, reason) = Self.rejected[index]
        do {
            let m = try MessageCodec.decode(input.bytes)
            Issue.record("accepted \(input): \(m)")
        } catch {
            #expect(error.reason.contains(reason), "\(input) → \(error)")
            #expect(error.offset >= 0 && error.offset <= input.utf8.count)
            #expect(error.description.contains("at byte \(error.offset)"))
        }
    }

    @Test("error offset points at the problem")
    func offsets() {
        do {
            _ = try MessageCodec.decode(#"{"header" {}}"#.bytes)
            Issue.record("accepted")
        } catch {
            #expect(error.description == "expected ':' after object key at byte 10")
        }
        #expect(throws: MessageDecodingError("expected ':' after object key", at: 10)) {
            try MessageCodec.decode(#"{"header" {}}"#.bytes)
        }
        #expect(throws: MessageDecodingError(#""timestamp" must be an integer"#, at: 23)) {
            try MessageCodec.decode(#"{"header":{"timestamp":"1"}}"#.bytes)
        }
        #expect(throws: MessageDecodingError("unexpected data after the JSON value ('x')", at: 16)) {
            try MessageCodec.decode(#"{"content":null}x"#.bytes)
        }
        #expect(throws: MessageDecodingError("empty input, expected a message (a JSON object)", at: 0)) {
            try MessageCodec.decode([UInt8]())
        }
    }

    @Test("invalid UTF-8 is rejected everywhere")
    func invalidUTF8() {
        let cases: [[UInt8]] = [
            [0xC3],  // truncated two-byte sequence
            [0xC0, 0x80],  // overlong NUL
            [0xC1, 0xBF],  // overlong
            [0xE0, 0x80, 0x80],  // overlong three-byte
            [0xED, 0xA0, 0x80],  // UTF-16 surrogate encoded in UTF-8
            [0xF4, 0x90, 0x80, 0x80],  // above U+10FFFF
            [0xF5, 0x80, 0x80, 0x80],
            [0xFF],
            [0x80],  // lone continuation byte
            [0xE2, 0x82],  // truncated
            [0xE2, 0x28, 0xA1],  // bad continuation
        ]
        for bad in cases {
            let inString = #"{"route":{"source":""#.bytes + bad + #""}}"#.bytes
            #expect(throws: MessageDecodingError.self, "\(bad)") { try MessageCodec.decode(inString) }
            let inContent = #"{"content":"x"#.bytes + bad + #""}"#.bytes
            #expect(throws: MessageDecodingError.self, "\(bad)") { try MessageCodec.decode(inContent) }
            let bare = #"{"content":"#.bytes + bad + "}".bytes
            #expect(throws: MessageDecodingError.self, "\(bad)") { try MessageCodec.decode(bare) }
            #expect(throws: JSONError.self) { try RawJSON(validating: [0x22] + bad + [0x22]) }
        }
        // Valid multi-byte sequences at each boundary are accepted.
        let good: [[UInt8]] = [
            [0xC2, 0x80], [0xDF, 0xBF], [0xE0, 0xA0, 0x80], [0xED, 0x9F, 0xBF], [0xEE, 0x80, 0x80],
            [0xF0, 0x90, 0x80, 0x80], [0xF4, 0x8F, 0xBF, 0xBF],
        ]
        for ok in good {
            let frame = #"{"route":{"source":""#.bytes + ok + #""}}"#.bytes
            #expect(throws: Never.self) { _ = try MessageCodec.decode(frame) }
            #expect(throws: Never.self) { _ = try RawJSON(validating: [0x22] + ok + [0x22]) }
        }
    }

    @Test("every strict prefix of a golden frame throws; the full frame succeeds")
    func prefixes() {
        for (name, frame) in Frames.edgeToCloud + Frames.cloudToEdge {
            let bytes = frame.bytes
            for length in 0..<bytes.count {
                #expect(throws: MessageDecodingError.self, "\(name) prefix \(length)") {
                    try MessageCodec.decode(bytes[0..<length])
                }
            }
            #expect(throws: Never.self) { _ = try MessageCodec.decode(bytes[...]) }
        }
    }

    @Test("deep nesting is rejected without a crash")
    func deepNesting() {
        let deep = nestedArrays(10_000)
        for frame in [
            #"{"content":"# + deep + "}",
            #"{"header":{"x":"# + deep + "}}",
            #"{"route":{"x":"# + deep + "}}",
            #"{"x":"# + deep + "}",
            #"{"content":"# + String(repeating: "[", count: 10_000),
            #"{"content":"# + String(repeating: #"{"a":"#, count: 10_000),
        ] {
            #expect(throws: MessageDecodingError.self) { try MessageCodec.decode(frame.bytes) }
        }
        do {
            _ = try MessageCodec.decode((#"{"content":"# + deep + "}").bytes)
        } catch {
            #expect(error.reason.contains("nesting deeper than 512"))
        }
        #expect(throws: JSONError.self) { try JSONScanner.validate(deep.utf8) }
        #expect(throws: JSONError.self) { try JSONValue(parsing: deep.utf8) }
        #expect(throws: JSONError.self) { try RawJSON(validating: deep.utf8) }
    }

    @Test("nesting limit: 512 levels in total, the message object counting as one")
    func nestingLimit() throws {
        // The top-level object is level 1, so content may nest 511 deep.
        let ok = try MessageCodec.decode((#"{"content":"# + nestedArrays(511) + "}").bytes)
        #expect(ok.content.bytes.count == 1_022)
        #expect(throws: MessageDecodingError.self) {
            try MessageCodec.decode((#"{"content":"# + nestedArrays(512) + "}").bytes)
        }
        // Inside header/route (level 2) unknown values may nest 510 deep.
        #expect(throws: Never.self) {
            _ = try MessageCodec.decode((#"{"header":{"x":"# + nestedArrays(510) + "}}").bytes)
        }
        #expect(throws: MessageDecodingError.self) {
            try MessageCodec.decode((#"{"header":{"x":"# + nestedArrays(511) + "}}").bytes)
        }
        // A standalone value may nest 512 deep.
        #expect(throws: Never.self) { try JSONScanner.validate(nestedArrays(512).utf8) }
        #expect(throws: JSONError.self) { try JSONScanner.validate(nestedArrays(513).utf8) }
        #expect(throws: Never.self) { _ = try JSONValue(parsing: nestedArrays(512).utf8) }
        #expect(throws: JSONError.self) { try JSONValue(parsing: nestedArrays(513).utf8) }
    }

    @Test("random mutations of golden frames never crash; accepted ones agree with Foundation and round-trip")
    func mutations() throws {
        var rng = SplitMix64(seed: 0x5EED_F00D)
        let frames = (Frames.edgeToCloud + Frames.cloudToEdge).map { $0.frame.bytes }
        let interesting: [UInt8] =
            Array(#"{}[]",:\u0123456789.eE+-tfnrl x"#.utf8) + [0x00, 0x0A, 0x1F, 0x80, 0xC3, 0xE2, 0xFF]
        var accepted = 0
        for _ in 0..<20_000 {
            var bytes = frames[Int.random(in: 0..<frames.count, using: &rng)]
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                let at = Int.random(in: 0..<bytes.count, using: &rng)
                let byte = interesting[Int.random(in: 0..<interesting.count, using: &rng)]
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: bytes[at] = byte
                case 1: bytes.insert(byte, at: at)
                default: if bytes.count > 1 { bytes.remove(at: at) }
                }
            }
            let foundation = try? JSONSerialization.jsonObject(with: Data(bytes), options: .fragmentsAllowed)
            let ours = Result { () throws(JSONError) in try JSONScanner.validate(bytes) }
            let text = String(decoding: bytes, as: UTF8.self)
            switch ours {
            case .success:
                if foundation == nil {
                    // Foundation refuses numbers that overflow Double, which RFC 8259 allows; nothing else.
                    let tamed = text.replacingOccurrences(
                        of: #"-?[0-9]+(\.[0-9]+)?[eE][+-]?[0-9]+"#, with: "0", options: .regularExpression)
                    #expect(
                        (try? JSONSerialization.jsonObject(with: Data(tamed.utf8), options: .fragmentsAllowed)) != nil,
                        "we accept what Foundation rejects: \(text)")
                }
            case .failure(let error):
                if foundation != nil {
                    // Foundation accepts trailing commas, which RFC 8259 does not; nothing else.
                    let strict = text.replacingOccurrences(of: #",(\s*[\]}])"#, with: "$1", options: .regularExpression)
                    #expect(strict != text, "we reject (\(error)) what Foundation accepts: \(text)")
                    #expect(throws: Never.self, "we reject (\(error)) what Foundation accepts: \(text)") {
                        try JSONScanner.validate(strict.utf8)
                    }
                }
            }
            guard let message = try? MessageCodec.decode(bytes) else { continue }
            accepted += 1
            let encoded = MessageCodec.encode(message)
            let again = try MessageCodec.decode(encoded)
            #expect(again == message)
            #expect(MessageCodec.encode(again) == encoded)
        }
        #expect(accepted > 100)
    }

    @Test("random bytes never crash")
    func randomBytes() {
        var rng = SplitMix64(seed: 42)
        for _ in 0..<5_000 {
            let count = Int.random(in: 0..<64, using: &rng)
            var bytes: [UInt8] = [UInt8(ascii: "{")]
            for _ in 0..<count { bytes.append(UInt8.random(in: 0...255, using: &rng)) }
            _ = try? MessageCodec.decode(bytes)
            _ = try? JSONValue(parsing: bytes)
            _ = try? JSONScanner.objectMembers(bytes)
        }
    }
}
