import DeviceControllerService
import EdgeProtocol
import Testing

@Suite struct MembershipDetailTests {
    typealias F = DeviceFixtures
    static let now: Int64 = 1_700_000_000_000

    @Test func everyDeviceOfTheNodeWithTwins() throws {
        let devices = [
            try F.sample("led-light-device-instance.yaml", resourceVersion: "14"),
            try F.sample("modbustcp-device-instance.yaml", resourceVersion: "11"),
            try F.thermo(node: "edge-node1"),
            try F.sample("CC2650-device-instance.yaml", resourceVersion: "13"),
        ]
        let models = [try F.thermoModel(), try F.sample("CC2650-device-model.yaml"), try F.sample("led-light-device-model.yaml")]
        let content = MembershipDetail.content(node: "edge-node1", devices: devices, models: models, now: Self.now, eventID: "d-1")
        #expect(F.text(content) == #"{"event_id":"d-1","timestamp":1700000000000,"devices":["#
            + #"{"id":"led-light-instance-01","name":"led-light-instance-01","description":"LEDLight","twin":{"power-status":{"optional":false,"metadata":{"type":"string"}}}},"#
            + #"{"id":"sensor-tag-instance-01","name":"sensor-tag-instance-01","description":"TISimplelinkSensorTag","twin":{"temperature-enable":{"optional":false,"metadata":{"type":"string"}},"io-data":{"optional":false,"metadata":{"type":"int"}}}},"#
            + #"{"id":"thermo-1","name":"thermo-1","twin":{"temperature":{"expected":{"value":"20","metadata":{"timestamp":1700000000000}},"optional":false,"metadata":{"type":"int"},"expected_version":{"cloud":100,"edge":0}}}}"#
            + #"]}"#)
        let test = MembershipDetail.content(node: "test", devices: devices, models: [], now: Self.now, eventID: "d-2")
        #expect(test["devices"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == ["modbustcp-device"])
        let none = MembershipDetail.content(node: "nowhere", devices: devices, models: models, now: Self.now, eventID: "d-3")
        #expect(F.text(none) == #"{"event_id":"d-3","timestamp":1700000000000,"devices":[]}"#)
    }

    @Test func versionsFollowThePlanner() throws {
        var planner = DevicePlanner()
        _ = planner.plan(devices: [try F.thermo(resourceVersion: "300")], models: [], now: Self.now)
        planner.observeEdgeUpdate(
            node: "edge-1", deviceID: "thermo-1",
            content: try F.parse(#"{"twin":{"temperature":{"expected_version":{"cloud":300,"edge":4}}}}"#))
        // The detail is built from the current object (resourceVersion 310 here) with the edge's version.
        let content = MembershipDetail.content(
            node: "edge-1", devices: [try F.thermo(resourceVersion: "310")], models: [], planner: planner,
            now: Self.now, eventID: "d")
        #expect(content[path: ["devices"]]?.arrayValue?.first?[path: ["twin", "temperature", "expected_version"]].map(F.text)
            == #"{"cloud":310,"edge":4}"#)
    }

    @Test func messageAndRequestRecognition() throws {
        let message = MembershipDetail.message(node: "edge-1", devices: [try F.thermo()], models: [], now: Self.now, eventID: "d")
        #expect(message.summary == "edge-1 twin update membership/detail")
        #expect(message.parentID == nil)
        #expect(message.content["devices"]?.arrayValue?.count == 1)
        #expect(MembershipDetail.isRequest(resource: "membership/detail", operation: "get"))
        #expect(MembershipDetail.isRequest(resource: "node/edge-1/membership/detail", operation: "get"))
        #expect(!MembershipDetail.isRequest(resource: "membership", operation: "get"))
        #expect(!MembershipDetail.isRequest(resource: "membership/detail", operation: "update"))
        // The edge's request content (a JSON string, §4.3) is confirmed like every twin message.
        #expect(DevicePlanner.confirm(node: "edge-1", requestID: "m-1").parentID == "m-1")
    }
}
