// A read-only view of a devices.kubeedge.io Device of either API version (wire reference §10): where it runs, its
// model, and its desired twins with their types.

import EdgeProtocol

public struct DeviceView: Sendable, Hashable {
    public enum APIVersion: String, Sendable, Hashable, Codable {
        case v1alpha2, v1beta1
    }

    /// One twin the cloud wants the edge to have: the desired value (nil when the property has none, e.g. a
    /// read-only property) and the value type the edge validates with (`int`, `string`, `float`, …).
    public struct DesiredTwin: Sendable, Hashable, Codable {
        public var name: String
        public var value: String?
        public var type: String

        public init(name: String, value: String?, type: String) {
            self.name = name
            self.value = value
            self.type = type
        }
    }

    public static let group = "devices.kubeedge.io"

    /// The Device object as given.
    public let object: JSONValue
    public let apiVersion: APIVersion
    /// `metadata.namespace`, `default` when unset.
    public let namespace: String
    public let name: String
    public let uid: String?
    public let resourceVersion: String
    /// v1beta1 `spec.nodeName`; v1alpha2 `spec.nodeSelector.nodeSelectorTerms[0].matchExpressions[0].values[0]`.
    /// nil when the device is not bound to a node.
    public let node: String?
    /// `spec.deviceModelRef.name` (the model lives in the device's namespace).
    public let modelName: String?
    /// The `description` label (what KubeEdge puts into the edge device's description).
    public let description: String?
    /// Desired twins in document order: v1beta1 `spec.properties[]` (`desired{value, metadata.type}`), v1alpha2
    /// `status.twins[]` (`desired`). Types missing on the device come from the model, else `string`.
    public let twins: [DesiredTwin]

    /// `namespace/name`.
    public var key: String { "\(namespace)/\(name)" }
    /// `namespace/modelName`, the key of the DeviceModel.
    public var modelKey: String? { modelName.map { "\(namespace)/\($0)" } }
    /// The full `apiVersion` string.
    public var apiVersionString: String { "\(Self.group)/\(apiVersion.rawValue)" }

    /// The twin named `name`.
    public func twin(_ name: String) -> DesiredTwin? { twins.first { $0.name == name } }

    /// Reads a Device; nil when `object` is not an object with `metadata.name`. `model` (the DeviceModel named by
    /// `spec.deviceModelRef`) supplies property types the Device does not state.
    public init?(_ object: JSONValue, model: JSONValue? = nil) {
        guard object.isObject, let name = DeviceJSON.nonEmpty(object, ["metadata", "name"]) else { return nil }
        self.object = object
        self.name = name
        self.namespace = DeviceJSON.nonEmpty(object, ["metadata", "namespace"]) ?? "default"
        self.uid = DeviceJSON.nonEmpty(object, ["metadata", "uid"])
        self.resourceVersion = object[path: ["metadata", "resourceVersion"]].flatMap(DeviceJSON.text) ?? ""
        self.description = DeviceJSON.text(object[path: ["metadata", "labels", "description"]])
        self.modelName = DeviceJSON.nonEmpty(object, ["spec", "deviceModelRef", "name"])

        let spec = object["spec"]
        let declared = object["apiVersion"]?.stringValue ?? ""
        let version: APIVersion
        if declared.hasSuffix("/v1beta1") {
            version = .v1beta1
        } else if declared.hasSuffix("/v1alpha2") {
            version = .v1alpha2
        } else {
            version = spec?["nodeName"] != nil || spec?["properties"] != nil ? .v1beta1 : .v1alpha2
        }
        self.apiVersion = version

        let selected = DeviceJSON.element(
            DeviceJSON.element(
                DeviceJSON.element(spec?[path: ["nodeSelector", "nodeSelectorTerms"]], 0)?["matchExpressions"], 0
            )?["values"], 0)
        let nodeName = DeviceJSON.nonEmpty(spec, ["nodeName"])
        let nodeSelected = DeviceJSON.text(selected).flatMap { $0.isEmpty ? nil : $0 }
        self.node = version == .v1beta1 ? (nodeName ?? nodeSelected) : (nodeSelected ?? nodeName)

        let modelTypes = model.map(Self.propertyTypes(model:)) ?? [:]
        var twins: [DesiredTwin] = []
        var seen: Set<String> = []
        // v1beta1 keeps desired values in the spec, v1alpha2 in the status.
        let entries = version == .v1beta1 ? spec?["properties"]?.arrayValue : object[path: ["status", "twins"]]?.arrayValue
        let nameKey = version == .v1beta1 ? "name" : "propertyName"
        for entry in entries ?? [] {
            guard let property = DeviceJSON.text(entry[nameKey]), !property.isEmpty, !seen.contains(property)
            else { continue }
            seen.insert(property)
            let desired = entry["desired"]
            let value = DeviceJSON.text(desired?["value"])
            let type = DeviceJSON.text(desired?[path: ["metadata", "type"]]).flatMap { $0.isEmpty ? nil : $0 }
            twins.append(DesiredTwin(name: property, value: value, type: type ?? modelTypes[property] ?? "string"))
        }
        self.twins = twins
    }

    /// Property types of a DeviceModel, by property name: v1alpha2 `spec.properties[].type.<int|string|double|
    /// float|boolean|bytes>` (the member present), v1beta1 `spec.properties[].type` (`INT`, `FLOAT`, … lower-cased).
    public static func propertyTypes(model: JSONValue) -> [String: String] {
        var types: [String: String] = [:]
        for property in model[path: ["spec", "properties"]]?.arrayValue ?? [] {
            guard let name = DeviceJSON.text(property["name"]), !name.isEmpty, types[name] == nil else { continue }
            switch property["type"] {
            case .string(let s)? where !s.isEmpty:
                types[name] = s.lowercased()
            case .object(let members)?:
                let known = ["int", "string", "double", "float", "boolean", "bytes"]
                if let member = members.first(where: { known.contains($0.key) }) ?? members.first {
                    types[name] = member.key.lowercased()
                }
            default:
                break
            }
        }
        return types
    }

    /// Property names of a DeviceModel in document order.
    public static func propertyNames(model: JSONValue) -> [String] {
        (model[path: ["spec", "properties"]]?.arrayValue ?? []).compactMap { DeviceJSON.text($0["name"]) }
    }
}
