import EdgeProtocol
import Foundation
import Testing
import TestSupport

/// An OPC UA device through the whole system: kubectl applies a v1beta1 Device; the cloud sends it to the node; twin
/// hands it to mapper-opcua (from the edge bus, no local file); the mapper's values reach the Device's status; a
/// desired value edited with kubectl is written to the asyncua server and read back.
@Suite("OPC UA device end to end", .serialized, .timeLimit(.minutes(4)))
struct OPCUADeviceEndToEndTests {
    static func manifests(endpoint: String) -> String {
        """
        apiVersion: devices.kubeedge.io/v1beta1
        kind: DeviceModel
        metadata: {name: valve-model, namespace: default}
        spec:
          protocol: opcua
          properties:
          - {name: position, type: INT, accessMode: ReadWrite}
          - {name: label, type: STRING, accessMode: ReadOnly}
        ---
        apiVersion: devices.kubeedge.io/v1beta1
        kind: Device
        metadata: {name: valve-1, namespace: default}
        spec:
          deviceModelRef: {name: valve-model}
          nodeName: edge-1
          protocol: {protocolName: opcua, configData: {url: "\(endpoint)"}}
          properties:
          - name: position
            visitors: {protocolName: opcua, configData: {nodeID: "ns=2;s=Device1.Int16"}}
          - name: label
            visitors: {protocolName: opcua, configData: {browseName: "2:Device1/2:String"}}
        """
    }

    func reported(_ stack: DeviceStack, _ property: String) async throws -> String {
        try await stack.api.ok("get", "device", "valve-1", "-o",
                               "jsonpath={.status.twins[?(@.propertyName==\"\(property)\")].reported.value}")
    }

    @Test("kubectl apply → mapper-opcua reports to the Device status; a kubectl edit of desired is written to the server")
    func opcuaDeviceEndToEnd() async throws {
        let peer = try await OPCUAPeer(tick: 0)
        let stack = try await DeviceStack()
        try await stack.withLogs {
            try await stack.start("mapper-opcua", broker: stack.link.edgeBroker)
            _ = try await stack.api.ok("apply", "-f", Manifests.root.appendingPathComponent("crds").path)
            _ = try await stack.api.ok("apply", "-f", "-", input: Self.manifests(endpoint: peer.endpoint))
            try await eventually("status.twins reported by mapper-opcua", timeout: 60) {
                let position = try await reported(stack, "position")
                let label = try await reported(stack, "label")
                return position == "-1234" && label == "pump-1"
            }
            // The desired value as a user sets it; twin sends the delta, the mapper writes it with the node's type.
            _ = try await stack.api.ok("patch", "device", "valve-1", "--type=json", "-p",
                                       #"[{"op":"add","path":"/spec/properties/0/desired","value":{"value":"42"}}]"#)
            try await eventually("the server holds the desired value", timeout: 60) {
                try await peer.read("ns=2;s=Device1.Int16") == "42"
            }
            try await eventually("status.twins reported 42", timeout: 60) { try await reported(stack, "position") == "42" }
        }
        await stack.stop()
    }
}
