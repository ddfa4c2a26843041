import EdgeProtocol
import Foundation
import Testing

@Suite("Message")
struct MessageTests {
    // MARK: constructors and replies

    @Test("convenience init sets a fresh id, the current time and the route")
    func convenienceInit() {
        let before = Int64(Date().timeIntervalSince1970 * 1000)
        let m = Message(
            source: "edgecontroller", group: "resource", operation: "insert", resource: "default/pod/nginx",
            content: RawJSON(string: "x"), resourceVersion: "42")
        let after = Int64(Date().timeIntervalSince1970 * 1000)
        #expect(isUUIDv4(m.header.id))
        #expect(m.header.timestamp >= before - 1 && m.header.timestamp <= after + 1)
        #expect(m.header.resourceVersion == "42")
        #expect(m.header.parentID.isEmpty)
        #expect(!m.header.sync)
        #expect(
            m.route
                == Message.Route(
                    source: "edgecontroller", group: "resource", operation: "insert", resource: "default/pod/nginx"))
        #expect(m.content.stringValue == "x")

        let plain = Message(source: "websocket", group: "resource", operation: "keepalive", resource: "node")
        #expect(plain.content.isNull)
        let reply = Message(source: "a", group: "b", operation: "c", resource: "d", parentID: "p")
        #expect(reply.header.parentID == "p")
    }

    @Test("response(): new id, parent = request id, operation response, same source/group/resource (§1.3)")
    func response() throws {
        let request = try decode(Frames.configMapInsert)
        let reply = request.response(content: RawJSON(integer: 7))
        #expect(isUUIDv4(reply.header.id) && reply.header.id != request.header.id)
        #expect(reply.header.parentID == request.header.id)
        #expect(reply.header.resourceVersion.isEmpty && !reply.header.sync && reply.header.type.isEmpty)
        #expect(
            reply.route
                == Message.Route(
                    source: "edgecontroller", group: "resource", operation: "response",
                    resource: "default/configmap/cm1"))
        #expect(reply.content.text == "7")
        #expect(abs(reply.header.timestamp - Message.nowMillis()) < 5_000)

        let fromMeta = request.response(content: .null, source: "metamanager")
        #expect(fromMeta.route.source == "metamanager")
        #expect(fromMeta.route.group == "resource")
    }

    @Test("ack(): the §13.4 shape")
    func ack() throws {
        let request = try decode(Frames.configMapInsert)
        let ack = request.ack()
        let text = encodedText(ack)
        let expected =
            #"{"header":{"msg_id":"\#(ack.header.id)","parent_msg_id":"f3ee46cd-52db-4ec7-9109-5a9b5f37d336","timestamp":\#(ack.header.timestamp)},"route":{"source":"edgecontroller","group":"resource","operation":"response","resource":"default/configmap/cm1"},"content":"OK"}"#
        #expect(text == expected)
    }

    @Test("errorReply(): operation error, parent = request id (corrected §1.3), reason as a JSON string")
    func errorReply() throws {
        let request = try decode(Frames.membershipDetailGet)
        let reply = request.errorReply("no such \"device\"")
        #expect(isUUIDv4(reply.header.id) && reply.header.id != request.header.id)
        #expect(reply.header.parentID == request.header.id)
        #expect(
            reply.route
                == Message.Route(source: "twin", group: "resource", operation: "error", resource: "membership/detail"))
        #expect(reply.content.stringValue == "no such \"device\"")
        #expect(reply.content.text == #""no such \"device\"""#)
        #expect(request.errorReply("x", source: "devicecontroller").route.source == "devicecontroller")
    }

    @Test("newID(): lowercase UUID v4, unique")
    func newID() {
        var seen = Set<String>()
        for _ in 0..<2_000 {
            let id = Message.newID()
            #expect(isUUIDv4(id), "\(id)")
            seen.insert(id)
        }
        #expect(seen.count == 2_000)
    }

    @Test("nowMillis() agrees with Foundation's clock")
    func nowMillis() {
        let foundation = Int64(Date().timeIntervalSince1970 * 1000)
        #expect(abs(Message.nowMillis() - foundation) < 2_000)
    }

    // MARK: omission rules and field order

    @Test("all header and route fields set: Go field order")
    func allFields() throws {
        let m = Message(
            header: Message.Header(id: "i", parentID: "p", timestamp: -5, resourceVersion: "r", sync: true, type: "t"),
            route: Message.Route(source: "s", destination: "d", group: "g", operation: "o", resource: "x"),
            content: RawJSON(unchecked: Array(#"{"b":1,"a":[true,false,null]}"#.utf8)))
        #expect(
            encodedText(m)
                == #"{"header":{"msg_id":"i","parent_msg_id":"p","timestamp":-5,"resourceversion":"r","sync":true,"type":"t"},"route":{"source":"s","destination":"d","group":"g","operation":"o","resource":"x"},"content":{"b":1,"a":[true,false,null]}}"#
        )
        #expect(try MessageCodec.decode(MessageCodec.encode(m)) == m)
    }

    @Test("timestamp extremes encode as Go's strconv does")
    func timestampExtremes() throws {
        for (value, text) in [
            (Int64.max, "9223372036854775807"), (Int64.min, "-9223372036854775808"), (0, "0"), (9, "9"), (-9, "-9"),
            (10, "10"),
        ] {
            let m = Message(header: Message.Header(id: "x", timestamp: value))
            #expect(encodedText(m) == #"{"header":{"msg_id":"x","timestamp":\#(text)},"route":{},"content":null}"#)
            #expect(try MessageCodec.decode(MessageCodec.encode(m)).header.timestamp == value)
        }
    }

    @Test("encode(into:) appends")
    func encodeInto() {
        var out: [UInt8] = Array("prefix".utf8)
        MessageCodec.encode(Message(), into: &out)
        #expect(String(decoding: out, as: UTF8.self) == "prefix" + Frames.shutdown)
    }

    // MARK: Go string escaping

    /// A resource with everything Go escapes, plus things it does not (DEL, é, emoji, '/', '\'').
    static let nasty = "a<b>&c\"q\"\\/ '\n\r\t\u{01}\u{08}\u{0C}\u{1F}\u{7F}\u{2028}\u{2029}é😀\u{0}z"
    /// Written by hand from Go's encoding/json rules (HTML-safe, lowercase hex, \b and \f as \u00xx).
    static let nastyJSON =
        #""a\u003cb\u003e\u0026c\"q\"\\/ '\n\r\t\u0001\u0008\u000c\u001f"# + "\u{7F}" + #"\u2028\u2029"# + "é😀"
        + #"\u0000z""#

    @Test("RawJSON(string:) escapes like Go")
    func goEscaping() throws {
        let raw = RawJSON(string: Self.nasty)
        #expect(raw.text == Self.nastyJSON)
        #expect(raw.stringValue == Self.nasty)
        #expect(try RawJSON(validating: raw.bytes) == raw)
        // Foundation reads it back to the same string.
        let back = try JSONSerialization.jsonObject(with: Data(raw.bytes), options: .fragmentsAllowed) as? String
        #expect(back == Self.nasty)
    }

    @Test("a message with escapes in every string field encodes like Go and round-trips")
    func messageEscaping() throws {
        let m = Message(
            header: Message.Header(
                id: Self.nasty, parentID: "<p>", timestamp: 1, resourceVersion: "&", type: "\u{2029}"),
            route: Message.Route(source: "é", destination: "😀", group: "\"", operation: "\n", resource: Self.nasty),
            content: RawJSON(string: Self.nasty))
        let expected =
            #"{"header":{"msg_id":"# + Self.nastyJSON
            + #","parent_msg_id":"\u003cp\u003e","timestamp":1,"resourceversion":"\u0026","type":"\u2029"},"route":{"source":"é","destination":"😀","group":"\"","operation":"\n","resource":"#
            + Self.nastyJSON + #"},"content":"# + Self.nastyJSON + "}"
        #expect(encodedText(m) == expected)
        #expect(try MessageCodec.decode(MessageCodec.encode(m)) == m)
    }

    @Test("non-Go escapes on input decode correctly (and re-encode the Go way)")
    func foreignEscapes() throws {
        let frame =
            #"{"route":{"resource":"\u0041\/\b\f\u00E9\ud83d\ude00\u2028"},"header":{"msg_id":"\u003c"}}"#
        let m = try decode(frame)
        #expect(m.route.resource == "A/\u{08}\u{0C}é😀\u{2028}")
        #expect(m.header.id == "<")
        #expect(
            encodedText(m)
                == #"{"header":{"msg_id":"\u003c","timestamp":0},"route":{"resource":"A/\u0008\u000cé😀\u2028"},"content":null}"#
        )
    }

    // MARK: Codable

    @Test("JSONEncoder uses the wire keys and omission rules")
    func codableKeys() throws {
        let request = try decode(Frames.configMapInsert)
        let ack = request.ack()
        let data = try JSONEncoder().encode(ack)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(Set(object.keys) == ["header", "route", "content"])
        let header = try #require(object["header"] as? [String: Any])
        #expect(Set(header.keys) == ["msg_id", "parent_msg_id", "timestamp"])
        #expect(header["msg_id"] as? String == ack.header.id)
        #expect(header["parent_msg_id"] as? String == request.header.id)
        #expect((header["timestamp"] as? NSNumber)?.int64Value == ack.header.timestamp)
        let route = try #require(object["route"] as? [String: Any])
        #expect(Set(route.keys) == ["source", "group", "operation", "resource"])
        #expect(object["content"] as? String == "OK")

        let full = Message(
            header: Message.Header(id: "i", parentID: "p", timestamp: 3, resourceVersion: "r", sync: true, type: "t"),
            route: Message.Route(source: "s", destination: "d", group: "g", operation: "o", resource: "x"))
        let fullObject = try #require(
            try JSONSerialization.jsonObject(with: try JSONEncoder().encode(full)) as? [String: Any])
        let fullHeader = try #require(fullObject["header"] as? [String: Any])
        #expect(Set(fullHeader.keys) == ["msg_id", "parent_msg_id", "timestamp", "resourceversion", "sync", "type"])
        #expect(fullHeader["sync"] as? Bool == true)
        #expect(
            Set(try #require(fullObject["route"] as? [String: Any]).keys) == [
                "source", "destination", "group", "operation", "resource",
            ])
        #expect(fullObject["content"] is NSNull)

        let empty = try #require(
            try JSONSerialization.jsonObject(with: try JSONEncoder().encode(Message())) as? [String: Any])
        #expect(Set(try #require(empty["header"] as? [String: Any]).keys) == ["msg_id", "timestamp"])
        #expect(try #require(empty["route"] as? [String: Any]).isEmpty)
    }

    @Test(
        "JSONEncoder/JSONDecoder round trip", arguments: Frames.edgeToCloud.map(\.name) + Frames.cloudToEdge.map(\.name)
    )
    func codableRoundTrip(name: String) throws {
        let frame = try #require((Frames.edgeToCloud + Frames.cloudToEdge).first { $0.name == name }).frame
        let original = try decode(frame)
        let decoded = try JSONDecoder().decode(Message.self, from: try JSONEncoder().encode(original))
        #expect(decoded.header == original.header)
        #expect(decoded.route == original.route)
        // Object member order may change through Foundation; compare the content as JSON.
        #expect(normalized(try original.content.parsed()) == normalized(try decoded.content.parsed()))
        if original.content.bytes.first != UInt8(ascii: "{") {
            #expect(decoded == original)
        }
    }

    @Test("Codable: missing fields take defaults, Message works inside other Codable types")
    func codableDefaults() throws {
        let m = try JSONDecoder().decode(Message.self, from: Data(#"{"header":{"msg_id":"x"},"extra":1}"#.utf8))
        #expect(m.header == Message.Header(id: "x"))
        #expect(m.route == Message.Route())
        #expect(m.content.isNull)

        struct Envelope: Codable, Equatable {
            var topic: String
            var message: Message
        }
        let envelope = Envelope(
            topic: "ke/up",
            message: Message(
                header: Message.Header(id: "1", timestamp: 2),
                route: Message.Route(source: "bus", group: "user", operation: "upload", resource: "t"),
                content: try RawJSON(validating: #"[1,-2.5,"s",true,null,[]]"#.utf8)))
        let back = try JSONDecoder().decode(Envelope.self, from: try JSONEncoder().encode(envelope))
        #expect(back == envelope)
    }

    @Test("RawJSON Codable: any JSON value, serialised compactly")
    func rawJSONCodable() throws {
        let raw = try JSONDecoder().decode(
            RawJSON.self, from: Data(#" [ 1 , "a\u00e9" , { "k" : null } , false ] "#.utf8))
        #expect(raw.text == #"[1,"aé",{"k":null},false]"#)
        let big = try JSONDecoder().decode(RawJSON.self, from: Data("18446744073709551615".utf8))
        #expect(big.text == "18446744073709551615")
        let encoded = try JSONEncoder().encode([RawJSON(string: "<x>"), RawJSON.null, RawJSON(integer: -3)])
        let back = try JSONDecoder().decode([RawJSON].self, from: encoded)
        #expect(back == [RawJSON(string: "<x>"), RawJSON.null, RawJSON(integer: -3)])
    }
}
