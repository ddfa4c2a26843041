// Fixtures for the devicecontroller tests: KubeEdge's v1alpha2 samples (YAML from shared/kubeedge-manifests) and a
// v1beta1 Device and DeviceModel written from the v1beta1 CRD, as the JSON the API server would hand out.

import DeviceControllerService
import EdgeProtocol
import Foundation
import TestSupport
import Yams

enum DeviceFixtures {
    /// `shared/kubeedge-manifests` (see TestSupport's `Manifests`).
    static let manifests: URL = Manifests.root

    struct FixtureError: Error, CustomStringConvertible {
        var description: String
    }

    /// The one document of `samples/v1alpha2/<file>`, as the API server returns it (namespace and resourceVersion
    /// filled in).
    static func sample(_ file: String, resourceVersion: String = "1") throws -> JSONValue {
        let url = manifests.appendingPathComponent("samples/v1alpha2").appendingPathComponent(file)
        var object = try yaml(String(contentsOf: url, encoding: .utf8))
        if object[path: ["metadata", "namespace"]] == nil { object[path: ["metadata", "namespace"]] = "default" }
        object[path: ["metadata", "resourceVersion"]] = .string(resourceVersion)
        return object
    }

    /// One YAML document as JSON (plain scalars typed as YAML 1.1 core does; quoted ones stay strings).
    static func yaml(_ text: String) throws -> JSONValue {
        try KubectlYAML.document(text)
    }

    /// The v1beta1 Device of the task description, with a resourceVersion and uid.
    static func thermo(resourceVersion: String = "100", node: String = "edge-1", desired: String = "20") throws
        -> JSONValue
    {
        try yaml(
            """
            apiVersion: devices.kubeedge.io/v1beta1
            kind: Device
            metadata: {name: thermo-1, namespace: default, uid: u-thermo-1, resourceVersion: "\(resourceVersion)"}
            spec:
              deviceModelRef: {name: thermo-model}
              nodeName: \(node)
              protocol: {protocolName: modbus, configData: {data: {ip: 127.0.0.1, port: 5020}}}
              properties:
              - name: temperature
                desired: {value: "\(desired)", metadata: {type: int}}
                visitors: {protocolName: modbus, configData: {register: HoldingRegister, offset: 2}}
            status:
              twins:
              - propertyName: temperature
                reported: {value: "21", metadata: {timestamp: "1700000000000", type: int}}
                observedDesired: {value: "20", metadata: {type: int}}
            """)
    }

    /// A v1beta1 DeviceModel for `thermo-1`.
    static func thermoModel(resourceVersion: String = "90", humidityType: String = "FLOAT") throws -> JSONValue {
        try yaml(
            """
            apiVersion: devices.kubeedge.io/v1beta1
            kind: DeviceModel
            metadata: {name: thermo-model, namespace: default, uid: u-thermo-model, resourceVersion: "\(resourceVersion)"}
            spec:
              protocol: modbus
              properties:
              - {name: temperature, type: INT, accessMode: ReadWrite, minimum: "0", maximum: "100", unit: C}
              - {name: humidity, type: \(humidityType), accessMode: ReadOnly}
            """)
    }

    /// `thermo()` with a second, read-only property `humidity` that has no desired value or type.
    static func thermoWithHumidity(resourceVersion: String = "100") throws -> JSONValue {
        var device = try thermo(resourceVersion: resourceVersion)
        var properties = device[path: ["spec", "properties"]]?.arrayValue ?? []
        properties.append(.object([
            (key: "name", value: "humidity"),
            (key: "visitors", value: .object([(key: "protocolName", value: "modbus")])),
        ]))
        device[path: ["spec", "properties"]] = .array(properties)
        return device
    }

    /// Sets a value at a path.
    static func with(_ object: JSONValue, _ path: [String], _ value: JSONValue?) -> JSONValue {
        var copy = object
        copy[path: path] = value
        return copy
    }

    /// Compact JSON text.
    static func text(_ value: JSONValue) -> String {
        String(decoding: (try? value.serialized()) ?? [], as: UTF8.self)
    }

    /// Parses JSON text.
    static func parse(_ text: String) throws -> JSONValue {
        try JSONValue(parsing: Array(text.utf8))
    }

    /// Deterministic event ids `e-1`, `e-2`, … .
    final class IDs {
        var next = 0
        func callAsFunction() -> String {
            next += 1
            return "e-\(next)"
        }
    }
}

extension Outgoing {
    /// `node operation resource` – compact for comparing plans.
    var summary: String { "\(node) \(group) \(operation) \(resource)" }
}
