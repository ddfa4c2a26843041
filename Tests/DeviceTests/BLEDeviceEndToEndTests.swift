import EdgeProtocol
import Foundation
import Testing
import TestSupport

/// A Bluetooth LE device through the whole system: kubectl applies a v1beta1 Device; the cloud sends it to the node;
/// twin hands it to mapper-ble (from the edge bus, no local file), which reaches a bumble peripheral over plain HCI
/// (Tests/Peers/ble_peer.py; no kernel Bluetooth here); the values reach the Device's status; a desired value set
/// with `kubectl edit` is written to the characteristic and read back.
@Suite("BLE device end to end", .serialized, .timeLimit(.minutes(4)))
struct BLEDeviceEndToEndTests {
    static let base = "12345678-1234-5678-1234-56789abcdef"

    static let manifests = """
        apiVersion: devices.kubeedge.io/v1beta1
        kind: DeviceModel
        metadata: {name: ble-sensor-model, namespace: default}
        spec:
          protocol: bluetooth
          properties:
          - {name: temperature, type: FLOAT, accessMode: ReadOnly}
          - {name: label, type: STRING, accessMode: ReadOnly}
          - {name: power, type: STRING, accessMode: ReadWrite}
        ---
        apiVersion: devices.kubeedge.io/v1beta1
        kind: Device
        metadata: {name: sensor-1, namespace: default}
        spec:
          deviceModelRef: {name: ble-sensor-model}
          nodeName: edge-1
          protocol: {protocolName: bluetooth, configData: {macAddress: "F0:F0:F0:F0:F0:01"}}
          properties:
          - name: temperature
            visitors:
              protocolName: bluetooth
              configData:
                characteristicUUID: \(base)1
                dataConverter:
                  startIndex: 1
                  endIndex: 0
                  orderOfOperations: [{operationType: Divide, operationValue: 100}]
          - name: label
            visitors: {protocolName: bluetooth, configData: {characteristicUUID: \(base)3}}
          - name: power
            visitors: {protocolName: bluetooth, configData: {characteristicUUID: \(base)4, dataWrite: {"ON": [1], "OFF": [0]}}}
        """

    func reported(_ stack: DeviceStack, _ property: String) async throws -> String {
        try await stack.api.ok("get", "device", "sensor-1", "-o",
                               "jsonpath={.status.twins[?(@.propertyName==\"\(property)\")].reported.value}")
    }

    @Test("kubectl apply → mapper-ble reports to the Device status; kubectl edit of desired is written to the peripheral")
    func bleDeviceEndToEnd() async throws {
        let peer = try await BLEPeer(tick: 0)
        let stack = try await DeviceStack()
        let editor = stack.directory.appendingPathComponent("set-power-on.py")
        // kubectl edit with an editor that sets `desired: {value: "ON"}` on the power property, as a person would.
        try """
            import sys, yaml
            path = sys.argv[1]
            device = yaml.safe_load(open(path))
            for prop in device["spec"]["properties"]:
                if prop["name"] == "power":
                    prop["desired"] = {"value": "ON"}
            yaml.safe_dump(device, open(path, "w"))
            """.write(to: editor, atomically: true, encoding: .utf8)
        try await stack.withLogs {
            try await stack.start("mapper-ble", broker: stack.link.edgeBroker, ["--hci", peer.hci])
            _ = try await stack.api.ok("apply", "-f", Manifests.root.appendingPathComponent("crds").path)
            _ = try await stack.api.ok("apply", "-f", "-", input: Self.manifests)
            try await eventually("status.twins reported by mapper-ble", timeout: 60) {
                let temperature = try await reported(stack, "temperature")
                let label = try await reported(stack, "label")
                let power = try await reported(stack, "power")
                return temperature == "21.5" && label == "pump-1" && power == "OFF"
            }
            _ = try await stack.api.ok("edit", "device", "sensor-1",
                                       environment: ["KUBE_EDITOR": "\(try PeersVenv.python()) \(editor.path)"])
            try await peer.child.waitForLine(containing: "power F0:F0:F0:F0:F0:01 01", timeout: 60)
            try await eventually("status.twins reported ON", timeout: 60) { try await reported(stack, "power") == "ON" }
        }
        await stack.stop()
    }
}
