import EdgeProtocol
import Foundation
import Testing

/// The frames of kubeedge-wire.md §1.1 and §13 (see Frames.swift).
@Suite("Golden frames")
struct GoldenFrameTests {
    // MARK: edge to cloud: byte for byte

    @Test("edge to cloud frames decode and re-encode byte for byte", arguments: Frames.edgeToCloud.map(\.name))
    func edgeToCloudRoundTrip(name: String) throws {
        let frame = try #require(Frames.edgeToCloud.first { $0.name == name }).frame
        let bytes = frame.bytes
        let message = try MessageCodec.decode(bytes)
        #expect(MessageCodec.encode(message) == bytes)
        #expect(MessageCodec.encodeFrame(message) == bytes + [0x0A])
        #expect(message.description == frame)
        // As received on the websocket, with the trailing newline (§2.4, §13.2).
        #expect(try MessageCodec.decode(bytes + [0x0A]) == message)
        // The content is the exact text after `"content":` (content is the last key in Go's order).
        let contentStart = try #require(frame.range(of: #""content":"#)).upperBound
        let expectedContent = String(frame[contentStart...].dropLast())
        #expect(message.content.text == expectedContent)
    }

    @Test("decoding works on any collection of bytes (slices, non-contiguous collections)")
    func anyCollection() throws {
        let bytes = Frames.edgeUpdated3.bytes
        let expected = try MessageCodec.decode(bytes)
        #expect(try MessageCodec.decode(Frames.edgeUpdated3.utf8) == expected)
        #expect(try MessageCodec.decode(bytes.lazy.map { $0 }) == expected)  // no contiguous storage: copied
        #expect(try MessageCodec.decode(([0x20] + bytes + [0x0A])[1...]) == expected)
        #expect(try MessageCodec.decode(Data(bytes)) == expected)
        #expect(try RawJSON(validating: bytes.lazy.map { $0 }).bytes == bytes)
    }

    @Test("§1.1 keepalive fields")
    func keepaliveExample() throws {
        let m = try decode(Frames.keepaliveExample)
        #expect(m.header == Message.Header(id: "a1", timestamp: 1_700_000_000_000))
        #expect(
            m.route == Message.Route(source: "websocket", group: "resource", operation: "keepalive", resource: "node"))
        #expect(m.content.stringValue == "ping")
        #expect(m.content.bytes == #""ping""#.bytes)
    }

    @Test("§13.3 keepalive fields")
    func keepalive() throws {
        let m = try decode(Frames.keepalive)
        #expect(m.header.id == "5df58379-9f2b-4dd4-8061-ac309865bc3d")
        #expect(m.header.timestamp == 1_795_296_185_436)
        #expect(
            m.header.parentID.isEmpty && m.header.resourceVersion.isEmpty && !m.header.sync && m.header.type.isEmpty)
        #expect(m.route.source == "websocket")
        #expect(m.route.group == "resource")
        #expect(m.route.operation == "keepalive")
        #expect(m.route.resource == "node")
        #expect(m.route.destination.isEmpty)
        #expect(m.content.stringValue == "ping")
        #expect(isUUIDv4(m.header.id))
    }

    @Test("§13.3 membership/detail content is a JSON string holding JSON")
    func membershipDetail() throws {
        let m = try decode(Frames.membershipDetailGet)
        #expect(
            m.route == Message.Route(source: "twin", group: "resource", operation: "get", resource: "membership/detail")
        )
        let inner = try #require(m.content.stringValue)
        #expect(
            inner
                == #"{"event_type":"group_membership_event","event_id":"73174aa4-5354-404d-b6b6-1c4aea65bcda","group_id":"edge-node-1","operation":"detail","timestamp":1795296185436}"#
        )
        // Our parser …
        let value = try JSONValue(parsing: inner.utf8)
        #expect(value["event_type"] == "group_membership_event")
        #expect(value["group_id"] == "edge-node-1")
        #expect(value["operation"] == "detail")
        #expect(value["timestamp"] == .number("1795296185436"))
        // … and Foundation's agree.
        let object = try #require(try JSONSerialization.jsonObject(with: Data(inner.utf8)) as? [String: Any])
        #expect(object["event_id"] as? String == "73174aa4-5354-404d-b6b6-1c4aea65bcda")
        #expect((object["timestamp"] as? NSNumber)?.int64Value == 1_795_296_185_436)
    }

    @Test("§13.3 shutdown frame: empty id, zero timestamp, empty route, null content")
    func shutdown() throws {
        let m = try decode(Frames.shutdown)
        #expect(m.header == Message.Header())
        #expect(m.route == Message.Route())
        #expect(m.content.isNull)
        #expect(m.content == .null)
        #expect(m == Message())
        #expect(encodedText(Message()) == Frames.shutdown)
    }

    @Test("§13.4 ACKs: parent id, operation response, content \"OK\"")
    func acks() throws {
        let insertAck = try decode(Frames.ackInsert)
        #expect(insertAck.header.id == "0c58fa94-ec12-4309-987c-2793e4fe75a2")
        #expect(insertAck.header.parentID == "f3ee46cd-52db-4ec7-9109-5a9b5f37d336")
        #expect(insertAck.header.timestamp == 1_795_296_287_363)
        #expect(insertAck.header.resourceVersion.isEmpty)
        #expect(
            insertAck.route
                == Message.Route(
                    source: "edgecontroller", group: "resource", operation: "response",
                    resource: "default/configmap/cm1"))
        #expect(insertAck.content.stringValue == "OK")
        #expect(insertAck.content.bytes == #""OK""#.bytes)

        let deleteAck = try decode(Frames.ackDelete)
        #expect(deleteAck.header.parentID == "766be284-6900-4ab6-a045-0fb1c68151b2")
        #expect(deleteAck.route.operation == "response")
        #expect(deleteAck.content.stringValue == "OK")
    }

    @Test("§13.5 edge_updated content is an object")
    func edgeUpdated() throws {
        let m = try decode(Frames.edgeUpdated3)
        #expect(
            m.route
                == Message.Route(
                    source: "twin", group: "resource", operation: "update", resource: "device/dev1/twin/edge_updated"))
        #expect(m.content.stringValue == nil)
        let content = try m.content.parsed()
        #expect(content["event_id"] == "e0eab1a9-b6a0-4535-91ca-3466447d3ed6")
        #expect(content["twin"]?["temperature"]?["actual"]?["value"] == "23.5")
        #expect(content["twin"]?["temperature"]?["actual_version"] == ["cloud": 0, "edge": 1])
        let members = try m.content.objectMembers()
        #expect(members.map(\.key) == ["event_id", "timestamp", "twin"])
        #expect(members[1].value.int64Value == 1_795_296_304_236)
    }

    @Test("§13.7 upload content is the MQTT payload as a string")
    func upload() throws {
        let m = try decode(Frames.upload)
        #expect(
            m.route
                == Message.Route(source: "bus", group: "user", operation: "upload", resource: "$hw/events/upload/hello")
        )
        #expect(m.content.stringValue == #"{"hello": "world"}"#)
        #expect(m.content.text == #""{\"hello\": \"world\"}""#)
    }

    // MARK: cloud to edge: other key orders

    @Test("cloud to edge frames: content is the exact substring", arguments: Frames.cloudToEdge.map(\.name))
    func cloudToEdgeContent(name: String) throws {
        let frame = try #require(Frames.cloudToEdge.first { $0.name == name }).frame
        let message = try decode(frame)
        let contentStart = try #require(frame.range(of: #""content":"#)).upperBound
        let contentEnd =
            frame.range(of: #","header":{"#, range: contentStart..<frame.endIndex)?.lowerBound
            ?? frame.index(before: frame.endIndex)
        #expect(message.content.bytes == Array(frame[contentStart..<contentEnd].utf8))
        // Decoding our re-encoding gives the same message, and re-encoding is stable.
        let encoded = MessageCodec.encode(message)
        #expect(try MessageCodec.decode(encoded) == message)
        #expect(MessageCodec.encode(try MessageCodec.decode(encoded)) == encoded)
    }

    @Test("§13.4 ConfigMap insert: resourceversion first in header; encodes in Go order")
    func configMapInsert() throws {
        let m = try decode(Frames.configMapInsert)
        #expect(
            m.header
                == Message.Header(
                    id: "f3ee46cd-52db-4ec7-9109-5a9b5f37d336", timestamp: 1_795_296_287_358, resourceVersion: "1001"))
        #expect(
            m.route
                == Message.Route(
                    source: "edgecontroller", group: "resource", operation: "insert", resource: "default/configmap/cm1")
        )
        #expect(
            m.content.text
                == #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm1","namespace":"default","resourceVersion":"1001","uid":"11111111-2222-3333-4444-555555555555"},"data":{"k":"v"}}"#
        )
        let expected =
            #"{"header":{"msg_id":"f3ee46cd-52db-4ec7-9109-5a9b5f37d336","timestamp":1795296287358,"resourceversion":"1001"},"route":{"source":"edgecontroller","group":"resource","operation":"insert","resource":"default/configmap/cm1"},"content":{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm1","namespace":"default","resourceVersion":"1001","uid":"11111111-2222-3333-4444-555555555555"},"data":{"k":"v"}}}"#
        #expect(encodedText(m) == expected)
    }

    @Test("§13.5 membership: route, content, header order; encodes in Go order")
    func membershipUpdate() throws {
        let m = try decode(Frames.membershipUpdate)
        #expect(m.header == Message.Header(id: "d2f94b47-b8a6-40a3-aa07-5a291086f741", timestamp: 1_795_296_289_358))
        #expect(
            m.route
                == Message.Route(
                    source: "devicecontroller", group: "twin", operation: "updated", resource: "membership"))
        let content = try m.content.parsed()
        #expect(content["removed_devices"] == .null)
        guard case .array(let added)? = content["added_devices"] else {
            Issue.record("added_devices is not an array")
            return
        }
        #expect(added.count == 1)
        #expect(added.first?["id"] == "dev1")
        #expect(added.first?["twin"]?["temperature"]?["expected"]?["value"] == "20")
        let expected =
            #"{"header":{"msg_id":"d2f94b47-b8a6-40a3-aa07-5a291086f741","timestamp":1795296289358},"route":{"source":"devicecontroller","group":"twin","operation":"updated","resource":"membership"},"content":{"event_id":"e-1","timestamp":1700000000000,"added_devices":[{"id":"dev1","name":"dev1","description":"demo","state":"","attributes":{},"twin":{"temperature":{"expected":{"value":"20"},"optional":true,"metadata":{"type":"string"}}}}],"removed_devices":null}}"#
        #expect(encodedText(m) == expected)
    }

    @Test("§13.5 cloud_updated: encodes in Go order")
    func cloudUpdated() throws {
        let m = try decode(Frames.cloudUpdated)
        #expect(m.header == Message.Header(id: "4e9c0703-6089-430d-aa0c-a532adc4b43f", timestamp: 1_795_296_292_358))
        #expect(m.route.resource == "device/dev1/twin/cloud_updated")
        #expect(m.route.group == "twin")
        let expected =
            #"{"header":{"msg_id":"4e9c0703-6089-430d-aa0c-a532adc4b43f","timestamp":1795296292358},"route":{"source":"devicecontroller","group":"twin","operation":"updated","resource":"device/dev1/twin/cloud_updated"},"content":{"event_id":"e-2","timestamp":1700000001000,"twin":{"temperature":{"expected":{"value":"25"},"optional":true,"metadata":{"type":"string"}}}}}"#
        #expect(encodedText(m) == expected)
    }

    @Test("§13.7 control ping: encodes in Go order")
    func controlPing() throws {
        let m = try decode(Frames.controlPing)
        #expect(m.header == Message.Header(id: "c4789969-7e6f-4c8c-bd69-5fffe2b9dc39", timestamp: 1_795_296_297_358))
        #expect(
            m.route
                == Message.Route(source: "controller", group: "resource", operation: "ping", resource: "/control/ping"))
        #expect(m.content.stringValue == "ping")
        let expected =
            #"{"header":{"msg_id":"c4789969-7e6f-4c8c-bd69-5fffe2b9dc39","timestamp":1795296297358},"route":{"source":"controller","group":"resource","operation":"ping","resource":"/control/ping"},"content":"ping"}"#
        #expect(encodedText(m) == expected)
    }

    // MARK: replies reproduce the captured replies

    @Test("ack() of the §13.4 insert is the captured ACK (given its id and time)")
    func ackMatchesCapture() throws {
        let request = try decode(Frames.configMapInsert)
        var ack = request.ack()
        #expect(isUUIDv4(ack.header.id))
        #expect(ack.header.id != request.header.id)
        #expect(ack.header.parentID == request.header.id)
        #expect(ack.header.resourceVersion.isEmpty)
        #expect(ack.route.operation == "response")
        #expect(ack.content.stringValue == "OK")
        ack.header.id = "0c58fa94-ec12-4309-987c-2793e4fe75a2"
        ack.header.timestamp = 1_795_296_287_363
        #expect(encodedText(ack) == Frames.ackInsert)
    }

    @Test("response() to the §13.7 control ping is the captured viaduct ack")
    func responseMatchesCapture() throws {
        let ping = try decode(Frames.controlPing)
        var reply = ping.response(content: RawJSON(string: "ack"))
        #expect(reply.header.parentID == ping.header.id)
        reply.header.id = "ef104c95-624c-4b71-b7e6-7ad162893ef1"
        reply.header.timestamp = 1_795_296_297_359
        #expect(encodedText(reply) == Frames.pingAck)
    }
}
