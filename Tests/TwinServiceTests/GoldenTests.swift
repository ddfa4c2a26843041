// The captured edgecore v1.15.4 traffic of kubeedge-wire.md §13.5 and §13.9, replayed through the engine.

import EdgeProtocol
import Testing

@testable import TwinService

@Suite struct GoldenTests {
    // §13.5: cloud → edge frames (the route is irrelevant to the engine; the content is what it gets).
    static let membershipFrame = #"""
        {"route":{"source":"devicecontroller","group":"twin","operation":"updated","resource":"membership"},"content":{"event_id":"e-1","timestamp":1700000000000,"added_devices":[{"id":"dev1","name":"dev1","description":"demo","state":"","attributes":{},"twin":{"temperature":{"expected":{"value":"20"},"optional":true,"metadata":{"type":"string"}}}}],"removed_devices":null},"header":{"msg_id":"d2f94b47-b8a6-40a3-aa07-5a291086f741","timestamp":1795296289358}}
        """#
    static let edgeUpdated1 = #"""
        {"header":{"msg_id":"7a26e9c0-ff6b-4272-988a-5e3ecc79fdb5","timestamp":1795296289372},"route":{"source":"twin","group":"resource","operation":"update","resource":"device/dev1/twin/edge_updated"},"content":{"event_id":"36f7d529-ef31-4707-85d3-4eb53037b73f","timestamp":1795296289371,"twin":{"temperature":{}}}}
        """#
    static let cloudUpdatedFrame = #"""
        {"route":{"source":"devicecontroller","group":"twin","operation":"updated","resource":"device/dev1/twin/cloud_updated"},"content":{"event_id":"e-2","timestamp":1700000001000,"twin":{"temperature":{"expected":{"value":"25"},"optional":true,"metadata":{"type":"string"}}}},"header":{"msg_id":"4e9c0703-6089-430d-aa0c-a532adc4b43f","timestamp":1795296292358}}
        """#
    static let edgeUpdated2 = #"""
        {"header":{"msg_id":"de7a6da2-e653-498d-a868-50277472e15b","timestamp":1795296292367},"route":{"source":"twin","group":"resource","operation":"update","resource":"device/dev1/twin/edge_updated"},"content":{"event_id":"dfca1781-016b-41d6-a286-efe4120765ec","timestamp":1795296292364,"twin":{"temperature":{}}}}
        """#
    static let mapperUpdate = #"""
        {"event_id": "m-1", "timestamp": 1795296424000, "twin": {"temperature": {"actual": {"value": "23.5"}, "metadata": {"type": "string"}}}}
        """#
    static let edgeUpdated3 = #"""
        {"header":{"msg_id":"5d0f0401-ec15-491f-9c84-fb2c7149685a","timestamp":1795296304236},"route":{"source":"twin","group":"resource","operation":"update","resource":"device/dev1/twin/edge_updated"},"content":{"event_id":"e0eab1a9-b6a0-4535-91ca-3466447d3ed6","timestamp":1795296304236,"twin":{"temperature":{"actual":{"value":"23.5","metadata":{"timestamp":1795296304227}},"optional":true,"metadata":{"type":"string"},"actual_version":{"cloud":0,"edge":1}}}}}
        """#

    /// The content of a captured frame with its event id and timestamps replaced.
    static func content(_ frame: String, eventID: String, replacing: [(String, String)] = []) throws -> JSONValue {
        var frameText = frame
        for (old, new) in replacing { frameText = frameText.replacing(old, with: new) }
        var content = try json(frameText)["content"]!
        content[member: "event_id"] = .string(eventID)
        return content
    }

    @Test func capturedSequence() throws {
        let h = try Harness()

        // 1. membership add: twin value without expected_version ⇒ not stored, empty document entry, `{}` to cloud.
        let now1: Int64 = 1_795_296_409_563
        let out1 = h.engine.applyMembershipUpdate(try json(Self.membershipFrame)["content"]!, now: now1)
        #expect(out1.topics == ["$hw/events/device/dev1/twin/update/document",
                                "$hw/events/node/edge-node-1/membership/updated"])
        #expect(out1.payloadText("$hw/events/device/dev1/twin/update/document")
            == #"{"event_id":"","timestamp":1795296409563,"twin":{"temperature":{"last":null,"current":null}}}"#)
        // §13.9 (event id and timestamp are ours).
        #expect(out1.payloadText("$hw/events/node/edge-node-1/membership/updated")
            == #"{"event_id":"id-2","timestamp":1795296409563,"added_devices":[{"id":"dev1","name":"dev1","description":"demo","twin":{"temperature":{"expected":{"value":"20"},"optional":true,"metadata":{"type":"string"}}}}],"removed_devices":null}"#)
        #expect(out1.toCloud.count == 1)
        #expect(out1.toCloud.first?.resource == "device/dev1/twin/edge_updated")
        #expect(out1.toCloud.first?.operation == "update")
        #expect(out1.toCloud.first?.group == "resource")
        #expect(out1.toCloud.first?.source == "twin")
        #expect(out1.toCloud.first?.content
            == (try Self.content(Self.edgeUpdated1, eventID: "id-1", replacing: [("1795296289371", "1795296409563")])))
        #expect(out1.specsChanged == ["dev1"])
        #expect(h.engine.device("dev1")?.twins.isEmpty == true)
        #expect(h.engine.device("dev1")?.description == "demo")

        // 2. cloud_updated without versions: same picture, document carries the request's event id; no result.
        let now2: Int64 = 1_795_296_412_558
        let out2 = h.engine.applyCloudUpdated(deviceID: "dev1", try json(Self.cloudUpdatedFrame)["content"]!,
                                              now: now2)
        #expect(out2.topics == ["$hw/events/device/dev1/twin/update/document"])
        #expect(out2.payloadText("$hw/events/device/dev1/twin/update/document")
            == #"{"event_id":"e-2","timestamp":1795296412558,"twin":{"temperature":{"last":null,"current":null}}}"#)
        #expect(out2.toCloud.map(\.content)
            == [try Self.content(Self.edgeUpdated2, eventID: "id-3", replacing: [("1795296292364", "1795296412558")])])

        // 3. the mapper reports: result and document exactly as §13.9, edge_updated as §13.5.
        let now3: Int64 = 1_795_296_424_503
        let out3 = h.mqtt("$hw/events/device/dev1/twin/update", Self.mapperUpdate, now: now3)
        #expect(out3.topics == ["$hw/events/device/dev1/twin/update/result",
                                "$hw/events/device/dev1/twin/update/document"])
        #expect(out3.payloadText("$hw/events/device/dev1/twin/update/result")
            == #"{"event_id":"m-1","timestamp":1795296424503,"twin":{"temperature":{"actual":{"value":"23.5","metadata":{"timestamp":1795296424503}},"optional":true,"metadata":{"type":"string"}}}}"#)
        #expect(out3.payloadText("$hw/events/device/dev1/twin/update/document")
            == #"{"event_id":"m-1","timestamp":1795296424503,"twin":{"temperature":{"last":null,"current":{"actual":{"value":"23.5","metadata":{"timestamp":1795296424503}},"optional":true,"metadata":{"type":"string"}}}}}"#)
        #expect(out3.toCloud.map(\.content) == [
            try Self.content(Self.edgeUpdated3, eventID: "id-4",
                             replacing: [("1795296304236", "1795296424503"), ("1795296304227", "1795296424503")]),
        ])
        #expect(out3.toCloud.first.map { text($0.content) }
            == #"{"event_id":"id-4","timestamp":1795296424503,"twin":{"temperature":{"actual":{"value":"23.5","metadata":{"timestamp":1795296424503}},"optional":true,"metadata":{"type":"string"},"actual_version":{"cloud":0,"edge":1}}}}"#)
    }

    @Test func membershipUpdateContentAsString() throws {
        // A content that arrives as a JSON string is accepted too.
        let h = try Harness()
        let content = try json(Self.membershipFrame)["content"]!
        let out = h.engine.applyMembershipUpdate(.string(text(content)), now: 5)
        #expect(out.specsChanged == ["dev1"])
        #expect(h.engine.devices().map(\.id) == ["dev1"])
    }
}
