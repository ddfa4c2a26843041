import DeviceControllerService
import EdgeProtocol
import Foundation
import Testing

@Suite struct DevicePlannerTests {
    typealias F = DeviceFixtures
    static let now: Int64 = 1_700_000_000_000

    /// A planner that has sent `thermo-1` (RV 100) and its model to edge-1.
    func plannerWithThermo() throws -> DevicePlanner {
        var planner = DevicePlanner()
        _ = planner.plan(devices: [try F.thermo()], models: [try F.thermoModel()], now: Self.now)
        return planner
    }

    @Test func deviceAddedSendsMembershipWithTwinsThenModelThenDevice() throws {
        var planner = DevicePlanner()
        let ids = F.IDs()
        let out = planner.plan(
            deviceChanged: try F.thermo(), models: [try F.thermoModel()], now: Self.now, eventID: { ids() })
        #expect(out.map(\.summary) == [
            "edge-1 twin update membership",
            "edge-1 resource insert default/devicemodel/thermo-model",
            "edge-1 resource insert default/device/thermo-1",
        ])
        #expect(F.text(out[0].content) == #"{"event_id":"e-1","timestamp":1700000000000,"added_devices":[{"id":"thermo-1","name":"thermo-1","twin":{"temperature":{"expected":{"value":"20","metadata":{"timestamp":1700000000000}},"optional":false,"metadata":{"type":"int"},"expected_version":{"cloud":100,"edge":0}}}}],"removed_devices":[]}"#)
        #expect(out[0].resourceVersion == nil && out[0].parentID == nil)
        #expect(out[1].content == (try F.thermoModel()))
        #expect(out[1].resourceVersion == "90")
        #expect(out[2].content == (try F.thermo()))
        #expect(out[2].resourceVersion == "100")
        #expect(planner.devices["default/thermo-1"]?.node == "edge-1")
        #expect(planner.devices["default/thermo-1"]?.cloudVersion == 100)
        #expect(planner.models["default/thermo-model"]?.nodes.keys.sorted() == ["edge-1"])
    }

    @Test func twinsWithoutDesiredValueCarryOnlyTheirType() throws {
        var planner = DevicePlanner()
        let out = planner.plan(
            deviceChanged: try F.thermoWithHumidity(), models: [try F.thermoModel()], now: Self.now, eventID: { "e" })
        let twin = out[0].content[path: ["added_devices"]]?.arrayValue?.first?[path: ["twin", "humidity"]]
        #expect(twin.map(F.text) == #"{"optional":false,"metadata":{"type":"float"}}"#)
    }

    @Test func desiredChangeSendsCloudUpdatedForTheChangedTwinAndTheNewSpec() throws {
        var planner = try plannerWithThermo()
        let ids = F.IDs()
        let out = planner.plan(
            deviceChanged: try F.thermo(resourceVersion: "120", desired: "25"), models: [try F.thermoModel()],
            now: Self.now + 5, eventID: { ids() })
        #expect(out.map(\.summary) == [
            "edge-1 twin update device/thermo-1/twin/cloud_updated",
            "edge-1 resource update default/device/thermo-1",
        ])
        #expect(F.text(out[0].content) == #"{"event_id":"e-1","timestamp":1700000000005,"twin":{"temperature":{"expected":{"value":"25","metadata":{"timestamp":1700000000005}},"optional":false,"metadata":{"type":"int"},"expected_version":{"cloud":120,"edge":0}}}}"#)
        #expect(out[1].resourceVersion == "120")
        #expect(planner.devices["default/thermo-1"]?.twins["temperature"]?.value == "25")
        #expect(planner.devices["default/thermo-1"]?.cloudVersion == 120)
        // The same object again: nothing.
        #expect(planner.plan(
            deviceChanged: try F.thermo(resourceVersion: "120", desired: "25"), models: [try F.thermoModel()],
            now: Self.now + 6
        ).isEmpty)
    }

    @Test func statusOnlyChangesSendNothing() throws {
        var planner = try plannerWithThermo()
        var device = try F.thermo(resourceVersion: "130")
        device[path: ["status", "twins"]] = .array([])
        #expect(planner.plan(deviceChanged: device, models: [try F.thermoModel()], now: Self.now).isEmpty)
    }

    @Test func removedPropertyIsSentAsDeletedTwin() throws {
        var planner = DevicePlanner()
        _ = planner.plan(devices: [try F.thermoWithHumidity()], models: [try F.thermoModel()], now: Self.now)
        let ids = F.IDs()
        let out = planner.plan(
            deviceChanged: try F.thermo(resourceVersion: "140"), models: [try F.thermoModel()], now: Self.now,
            eventID: { ids() })
        #expect(out.map(\.summary) == [
            "edge-1 twin update device/thermo-1/twin/cloud_updated",
            "edge-1 resource update default/device/thermo-1",
        ])
        #expect(F.text(out[0].content) == #"{"event_id":"e-1","timestamp":1700000000000,"twin":{"humidity":{"metadata":{"type":"deleted"},"expected_version":{"cloud":140,"edge":0}}}}"#)
        #expect(planner.devices["default/thermo-1"]?.twins.keys.sorted() == ["temperature"])
    }

    @Test func movedDeviceLeavesTheOldNodeAndJoinsTheNewOne() throws {
        var planner = try plannerWithThermo()
        let ids = F.IDs()
        let out = planner.plan(
            deviceChanged: try F.thermo(resourceVersion: "150", node: "edge-2"), models: [try F.thermoModel()],
            now: Self.now, eventID: { ids() })
        #expect(out.map(\.summary) == [
            "edge-1 resource delete default/device/thermo-1",
            "edge-1 twin update membership",
            "edge-2 twin update membership",
            "edge-2 resource insert default/devicemodel/thermo-model",
            "edge-2 resource insert default/device/thermo-1",
            "edge-1 resource delete default/devicemodel/thermo-model",
        ])
        #expect(F.text(out[1].content) == #"{"event_id":"e-1","timestamp":1700000000000,"added_devices":[],"removed_devices":[{"id":"thermo-1","name":"thermo-1"}]}"#)
        #expect(out[2].content[path: ["added_devices"]]?.arrayValue?.first?[path: ["twin", "temperature", "expected_version", "cloud"]] == 150)
        #expect(planner.devices["default/thermo-1"]?.node == "edge-2")
        #expect(planner.models["default/thermo-model"]?.nodes.keys.sorted() == ["edge-2"])
    }

    @Test func deletedDeviceIsRemovedWithItsModel() throws {
        var planner = try plannerWithThermo()
        let ids = F.IDs()
        let device = try F.thermo(resourceVersion: "160")
        let out = planner.plan(deviceDeleted: device, models: [try F.thermoModel()], now: Self.now, eventID: { ids() })
        #expect(out.map(\.summary) == [
            "edge-1 resource delete default/device/thermo-1",
            "edge-1 twin update membership",
            "edge-1 resource delete default/devicemodel/thermo-model",
        ])
        #expect(out[0].content == device)
        #expect(out[0].resourceVersion == "160")
        #expect(out[1].content["removed_devices"]?.arrayValue?.count == 1)
        #expect(out[2].content == (try F.thermoModel()))
        #expect(planner.devices.isEmpty && planner.models.isEmpty)
        // Deleting again: nothing.
        #expect(planner.plan(deviceDeleted: device, now: Self.now).isEmpty)
    }

    @Test func unbindingADeviceRemovesItAndBindingAddsIt() throws {
        var planner = try plannerWithThermo()
        let unbound = F.with(try F.thermo(resourceVersion: "170"), ["spec", "nodeName"], nil)
        #expect(planner.plan(deviceChanged: unbound, models: [try F.thermoModel()], now: Self.now).map(\.summary) == [
            "edge-1 resource delete default/device/thermo-1",
            "edge-1 twin update membership",
            "edge-1 resource delete default/devicemodel/thermo-model",
        ])
        #expect(planner.plan(deviceChanged: unbound, models: [try F.thermoModel()], now: Self.now).isEmpty)
        #expect(planner.plan(deviceChanged: try F.thermo(resourceVersion: "171"), models: [try F.thermoModel()], now: Self.now).count == 3)
    }

    @Test func modelChangeResendsModelAndAffectedDevicesAndChangedTypes() throws {
        var planner = DevicePlanner()
        let other = F.with(F.with(try F.thermoWithHumidity(resourceVersion: "101"), ["metadata", "name"], "thermo-2"), ["spec", "nodeName"], "edge-2")
        let unrelated = F.with(try F.thermo(resourceVersion: "102"), ["metadata", "name"], "thermo-3")
        let unrelatedOther = F.with(unrelated, ["spec", "deviceModelRef", "name"], "other-model")
        let devices = [try F.thermoWithHumidity(), other, unrelatedOther]
        _ = planner.plan(devices: devices, models: [try F.thermoModel()], now: Self.now)

        let changed = try F.thermoModel(resourceVersion: "95", humidityType: "DOUBLE")
        let ids = F.IDs()
        let out = planner.plan(modelChanged: changed, devices: devices, now: Self.now, eventID: { ids() })
        #expect(out.map(\.summary) == [
            "edge-1 twin update device/thermo-1/twin/cloud_updated",
            "edge-1 resource update default/devicemodel/thermo-model",
            "edge-1 resource update default/device/thermo-1",
            "edge-2 twin update device/thermo-2/twin/cloud_updated",
            "edge-2 resource update default/devicemodel/thermo-model",
            "edge-2 resource update default/device/thermo-2",
        ])
        #expect(F.text(out[0].content) == #"{"event_id":"e-1","timestamp":1700000000000,"twin":{"humidity":{"optional":false,"metadata":{"type":"double"}}}}"#)
        #expect(out[1].content == changed)
        #expect(out[1].resourceVersion == "95")
        // Only labels/spec count: a new resourceVersion alone changes nothing.
        let sameSpec = F.with(changed, ["metadata", "resourceVersion"], "96")
        #expect(planner.plan(modelChanged: sameSpec, devices: devices, now: Self.now).isEmpty)
    }

    @Test func modelChangeWithoutTypeChangeResendsOnlySpecs() throws {
        var planner = try plannerWithThermo()
        let changed = F.with(try F.thermoModel(resourceVersion: "97"), ["spec", "protocol"], "modbus-tcp")
        #expect(planner.plan(modelChanged: changed, devices: [try F.thermo()], now: Self.now).map(\.summary) == [
            "edge-1 resource update default/devicemodel/thermo-model",
            "edge-1 resource update default/device/thermo-1",
        ])
    }

    @Test func modelDeletedLeavesEveryNode() throws {
        var planner = try plannerWithThermo()
        let model = try F.thermoModel()
        let out = planner.plan(modelDeleted: model, devices: [try F.thermo()], now: Self.now)
        // The device is sent again without a model, then the model is deleted. Its twin types came from the device.
        #expect(out.map(\.summary) == [
            "edge-1 resource update default/device/thermo-1",
            "edge-1 resource delete default/devicemodel/thermo-model",
        ])
        #expect(out[1].content == model)
        #expect(planner.models.isEmpty)
        // The model comes back: sent again with the device.
        #expect(planner.plan(modelChanged: model, devices: [try F.thermo()], now: Self.now).map(\.summary) == [
            "edge-1 resource insert default/devicemodel/thermo-model",
            "edge-1 resource update default/device/thermo-1",
        ])
    }

    @Test func sharedModelStaysWhileADeviceOnTheNodeUsesIt() throws {
        var planner = DevicePlanner()
        let second = F.with(try F.thermo(resourceVersion: "105"), ["metadata", "name"], "thermo-2")
        let out = planner.plan(devices: [try F.thermo(), second], models: [try F.thermoModel()], now: Self.now)
        #expect(out.map(\.summary) == [
            "edge-1 twin update membership",
            "edge-1 resource insert default/devicemodel/thermo-model",
            "edge-1 resource insert default/device/thermo-1",
            "edge-1 twin update membership",
            "edge-1 resource insert default/device/thermo-2",
        ])
        #expect(planner.plan(deviceDeleted: try F.thermo(), now: Self.now).map(\.summary) == [
            "edge-1 resource delete default/device/thermo-1", "edge-1 twin update membership",
        ])
        #expect(planner.plan(deviceDeleted: second, now: Self.now).map(\.summary) == [
            "edge-1 resource delete default/device/thermo-2", "edge-1 twin update membership",
            "edge-1 resource delete default/devicemodel/thermo-model",
        ])
    }

    @Test func fullPlanRemovesWhatIsNoLongerListed() throws {
        var planner = try plannerWithThermo()
        let out = planner.plan(devices: [], models: [], now: Self.now)
        #expect(out.map(\.summary) == [
            "edge-1 resource delete default/device/thermo-1",
            "edge-1 twin update membership",
            "edge-1 resource delete default/devicemodel/thermo-model",
        ])
        #expect(F.text(out[0].content) == #"{"apiVersion":"devices.kubeedge.io/v1beta1","kind":"Device","metadata":{"name":"thermo-1","namespace":"default","uid":"u-thermo-1"}}"#)
        #expect(F.text(out[2].content) == #"{"apiVersion":"devices.kubeedge.io/v1beta1","kind":"DeviceModel","metadata":{"name":"thermo-model","namespace":"default","uid":"u-thermo-model"}}"#)
    }

    @Test func restartFromPersistedStateSendsNothingAlreadySent() throws {
        var planner = DevicePlanner()
        let devices = [
            try F.thermoWithHumidity(), try F.sample("modbustcp-device-instance.yaml"),
            try F.sample("CC2650-device-instance.yaml"),
        ]
        let models = [try F.thermoModel(), try F.sample("modbus-device-model.yaml"), try F.sample("CC2650-device-model.yaml")]
        #expect(planner.plan(devices: devices, models: models, now: Self.now).count == 9)
        planner.observeEdgeUpdate(
            node: "edge-1", deviceID: "thermo-1",
            content: try F.parse(#"{"event_id":"x","timestamp":1,"twin":{"temperature":{"expected":{"value":"22"},"expected_version":{"cloud":100,"edge":3}}}}"#))

        // Our own JSON form.
        let bytes = planner.persistedBytes()
        var restored = try #require(DevicePlanner(persistedBytes: bytes))
        #expect(restored == planner)
        #expect(restored.persistedBytes() == bytes)
        #expect(restored.plan(devices: devices, models: models, now: Self.now + 1000).isEmpty)
        // Codable (Foundation) as well.
        let data = try JSONEncoder().encode(planner)
        var decoded = try JSONDecoder().decode(DevicePlanner.self, from: data)
        #expect(decoded == planner)
        #expect(decoded.plan(devices: devices, models: models, now: Self.now + 1000).isEmpty)
        // A change made while the controller was down is sent after the restart.
        let changed = try F.thermo(resourceVersion: "300", desired: "30")
        #expect(restored.plan(devices: [changed] + devices.dropFirst(), models: models, now: Self.now).map(\.summary) == [
            "edge-1 twin update device/thermo-1/twin/cloud_updated",
            "edge-1 resource update default/device/thermo-1",
        ])
        // Garbage is refused.
        #expect(DevicePlanner(persistedBytes: Array("{}".utf8)) == nil)
        #expect(DevicePlanner(persistedBytes: Array("not json".utf8)) == nil)
        #expect(DevicePlanner(persistedBytes: DevicePlanner().persistedBytes()) == DevicePlanner())
    }

    @Test func v1alpha2SamplesAreSentToTheirNodesWithStatusDesiredValues() throws {
        var planner = DevicePlanner()
        let devices = [
            try F.sample("modbustcp-device-instance.yaml", resourceVersion: "11"),
            try F.sample("modbusrtu-device-instance.yaml", resourceVersion: "12"),
            try F.sample("CC2650-device-instance.yaml", resourceVersion: "13"),
            try F.sample("led-light-device-instance.yaml", resourceVersion: "14"),
        ]
        let models = try ["modbus-device-model.yaml", "CC2650-device-model.yaml", "led-light-device-model.yaml"].map { try F.sample($0) }
        let ids = F.IDs()
        let out = planner.plan(devices: devices, models: models, now: Self.now, eventID: { ids() })
        #expect(out.map(\.summary) == [
            "edge-node1 twin update membership",
            "edge-node1 resource insert default/devicemodel/led-light",
            "edge-node1 resource insert default/device/led-light-instance-01",
            "test twin update membership",
            "test resource insert default/devicemodel/modbus-sample-model",
            "test resource insert default/device/modbusrtu-device",
            "test twin update membership",
            "test resource insert default/device/modbustcp-device",
            "edge-node1 twin update membership",
            "edge-node1 resource insert default/devicemodel/cc2650-sensortag",
            "edge-node1 resource insert default/device/sensor-tag-instance-01",
        ])
        #expect(F.text(out[6].content) == #"{"event_id":"e-3","timestamp":1700000000000,"added_devices":[{"id":"modbustcp-device","name":"modbustcp-device","description":"TISimplelinkSensorTag","twin":{"temperature-enable":{"expected":{"value":"0","metadata":{"timestamp":1700000000000}},"optional":false,"metadata":{"type":"integer"},"expected_version":{"cloud":11,"edge":0}}}}],"removed_devices":[]}"#)
        #expect(F.text(out[0].content) == #"{"event_id":"e-1","timestamp":1700000000000,"added_devices":[{"id":"led-light-instance-01","name":"led-light-instance-01","description":"LEDLight","twin":{"power-status":{"optional":false,"metadata":{"type":"string"}}}}],"removed_devices":[]}"#)
        #expect(out[2].content["apiVersion"] == "devices.kubeedge.io/v1alpha2")

        // v1alpha2 desired values live in the status: a change there is a cloud_updated, and no spec update.
        var led = devices[3]
        led[path: ["metadata", "resourceVersion"]] = "20"
        led[path: ["status", "twins"]] = try F.parse(#"[{"propertyName":"power-status","desired":{"value":"ON","metadata":{"type":"string"}}}]"#)
        let update = planner.plan(deviceChanged: led, models: models, now: Self.now, eventID: { ids() })
        #expect(update.map(\.summary) == ["edge-node1 twin update device/led-light-instance-01/twin/cloud_updated"])
        #expect(F.text(update[0].content) == #"{"event_id":"e-5","timestamp":1700000000000,"twin":{"power-status":{"expected":{"value":"ON","metadata":{"timestamp":1700000000000}},"optional":false,"metadata":{"type":"string"},"expected_version":{"cloud":20,"edge":0}}}}"#)
    }

    @Test func edgeVersionsReportedByTheEdgeAreUsedInLaterUpdates() throws {
        var planner = try plannerWithThermo()
        let report = #"{"event_id":"r","timestamp":1,"twin":{"temperature":{"expected":{"value":"18","metadata":{"timestamp":5}},"optional":false,"metadata":{"type":"int"},"expected_version":{"cloud":100,"edge":2}},"unknown":{"expected_version":{"cloud":1,"edge":9}}}}"#
        // As an object, or as JSON text; from the wrong node nothing is recorded.
        let wrongNode = planner.observeEdgeUpdate(node: "edge-9", deviceID: "thermo-1", content: .string(report))
        let first = planner.observeEdgeUpdate(node: "edge-1", deviceID: "thermo-1", content: .string(report))
        let again = planner.observeEdgeUpdate(node: "edge-1", deviceID: "thermo-1", content: try F.parse(report))
        #expect(!wrongNode && first && !again)
        #expect(planner.devices["default/thermo-1"]?.edgeVersions == ["temperature": 2])
        let out = planner.plan(
            deviceChanged: try F.thermo(resourceVersion: "200", desired: "26"), models: [try F.thermoModel()],
            now: Self.now)
        #expect(out.first?.content[path: ["twin", "temperature", "expected_version"]].map(F.text) == #"{"cloud":200,"edge":2}"#)
    }

    @Test func nonNumericResourceVersionsStillIncreaseTheCloudVersion() throws {
        var planner = DevicePlanner()
        _ = planner.plan(deviceChanged: try F.thermo(resourceVersion: "abc"), models: [], now: Self.now)
        #expect(planner.devices["default/thermo-1"]?.cloudVersion == 1)
        _ = planner.plan(deviceChanged: try F.thermo(resourceVersion: "abd", desired: "21"), models: [], now: Self.now)
        #expect(planner.devices["default/thermo-1"]?.cloudVersion == 2)
    }

    @Test func confirmationOfTwinMessages() {
        let confirm = DevicePlanner.confirm(node: "edge-1", requestID: "req-1")
        #expect(confirm == Outgoing(
            node: "edge-1", resource: "twin", operation: "response", group: "twin", content: "OK", parentID: "req-1"))
    }

    @Test func randomEventIDsAreUUIDv4() {
        let id = DevicePlanner.randomEventID()
        let parts = id.split(separator: "-")
        #expect(parts.map(\.count) == [8, 4, 4, 4, 12])
        #expect(parts[2].first == "4")
        #expect("89ab".contains(parts[3].first ?? "x"))
        #expect(id != DevicePlanner.randomEventID())
    }
}
