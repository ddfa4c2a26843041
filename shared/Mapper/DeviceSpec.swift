import EdgeProtocol

/// The data type of a device property, as its DeviceModel declares it.
public enum PropertyKind: String, Sendable, Equatable, CaseIterable {
    case int, float, double, boolean, string, bytes

    /// v1alpha2 `type: {int: {...}}` keys and v1beta1 `type: INT` values.
    init?(modelType text: String) {
        switch text.lowercased() {
        case "int", "integer": self = .int
        case "float": self = .float
        case "double": self = .double
        case "boolean", "bool": self = .boolean
        case "string": self = .string
        case "bytes": self = .bytes
        default: return nil
        }
    }
}

public enum AccessMode: String, Sendable, Equatable {
    case readWrite = "ReadWrite"
    case readOnly = "ReadOnly"
}

/// One property of a device the mapper collects: model data merged with the device's visitor.
public struct PropertySpec: Sendable, Equatable {
    public var name: String
    public var kind: PropertyKind
    public var accessMode: AccessMode
    /// How often the property is read.
    public var collectCycle: Duration
    /// The protocol-specific visitor config (v1alpha2 `propertyVisitors[].modbus`, v1beta1
    /// `properties[].visitors.configData`), interpreted by the protocol's driver.
    public var visitor: JSONValue
    /// v1beta1 `properties[].desired.value`, when set.
    public var desired: String?

    public init(name: String, kind: PropertyKind, accessMode: AccessMode = .readWrite,
                collectCycle: Duration = .seconds(1), visitor: JSONValue = .object([]), desired: String? = nil) {
        self.name = name
        self.kind = kind
        self.accessMode = accessMode
        self.collectCycle = collectCycle
        self.visitor = visitor
        self.desired = desired
    }

    public static func == (a: PropertySpec, b: PropertySpec) -> Bool {
        a.name == b.name && a.kind == b.kind && a.accessMode == b.accessMode && a.collectCycle == b.collectCycle
            && a.visitor == b.visitor && a.desired == b.desired
    }
}

/// A device as a mapper needs it, from either API version.
public struct DeviceSpec: Sendable, Equatable {
    /// The KubeEdge device id: the Device's name.
    public var id: String
    public var namespace: String
    public var model: String
    /// The node the device is bound to, when the manifest says (v1beta1 `nodeName`, v1alpha2 `nodeSelector`).
    public var node: String?
    /// `modbus`, `opcua`, `bluetooth`, or a customized protocol's name.
    public var protocolName: String
    /// Protocol config: v1beta1 `protocol.configData` as it is; for v1alpha2 the members of `protocol.<kind>`
    /// and of `protocol.common` merged (e.g. `slaveID`, `tcp`, `com`).
    public var protocolConfig: JSONValue
    public var properties: [PropertySpec]
    /// Properties that were left out, with the reason (also logged by the runtime).
    public var problems: [String]
    /// `v1alpha2` or `v1beta1`.
    public var apiVersion: String

    public init(id: String, namespace: String = "default", model: String = "", node: String? = nil,
                protocolName: String, protocolConfig: JSONValue = .object([]), properties: [PropertySpec],
                problems: [String] = [], apiVersion: String = "v1beta1") {
        self.id = id
        self.namespace = namespace
        self.model = model
        self.node = node
        self.protocolName = protocolName
        self.protocolConfig = protocolConfig
        self.properties = properties
        self.problems = problems
        self.apiVersion = apiVersion
    }

    public static func == (a: DeviceSpec, b: DeviceSpec) -> Bool {
        a.id == b.id && a.namespace == b.namespace && a.model == b.model && a.node == b.node
            && a.protocolName == b.protocolName && a.protocolConfig == b.protocolConfig
            && a.properties == b.properties && a.problems == b.problems && a.apiVersion == b.apiVersion
    }
}

/// Reads KubeEdge Device and DeviceModel manifests (devices.kubeedge.io v1alpha2 and v1beta1).
public struct SpecParser: Sendable {
    /// Used when a visitor has no (or a zero) collect cycle, as mappers-go does (1 s).
    public var defaultCollectCycle: Duration = .seconds(1)
    /// Collect cycles are raised to at least this, so that a manifest cannot make the mapper spin (KubeEdge's
    /// v1alpha2 Modbus sample says `collectCycle: 5000`, which mappers-go reads as 5000 ns).
    public var minimumCollectCycle: Duration = .milliseconds(10)

    public init(defaultCollectCycle: Duration = .seconds(1), minimumCollectCycle: Duration = .milliseconds(10)) {
        self.defaultCollectCycle = defaultCollectCycle
        self.minimumCollectCycle = minimumCollectCycle
    }

    /// One device from its Device manifest and its DeviceModel (nil when unknown: then every property is
    /// reported as a problem).
    public func device(_ device: JSONValue, model: JSONValue?) throws(SpecError) -> DeviceSpec {
        guard device.member("kind")?.stringValue.map({ $0 == "Device" }) ?? true else {
            throw SpecError("not a Device (kind \(device.member("kind")?.scalarText ?? "?"))")
        }
        guard let name = device.member("metadata")?.member("name")?.scalarText, !name.isEmpty else {
            throw SpecError("Device without metadata.name")
        }
        guard let spec = device.member("spec"), spec.members != nil else {
            throw SpecError("device \(name): no spec")
        }
        let namespace = device.member("metadata")?.member("namespace")?.scalarText ?? "default"
        let modelName = spec.member("deviceModelRef")?.member("name")?.scalarText ?? ""
        let version = Self.apiVersion(of: device)
        let modelProperties = try model.map { (m) throws(SpecError) in try Self.modelProperties(m) } ?? [:]
        if version == "v1alpha2" {
            return try v1alpha2(name: name, namespace: namespace, modelName: modelName, spec: spec,
                                modelProperties: modelProperties, haveModel: model != nil)
        }
        return try v1beta1(name: name, namespace: namespace, modelName: modelName, spec: spec,
                           modelProperties: modelProperties, haveModel: model != nil)
    }

    /// Devices from a set of manifests (a multi-document YAML file): each Device is paired with the DeviceModel
    /// its `deviceModelRef` names. A device that cannot be used is an error for that device only.
    public func devices(in documents: [JSONValue]) -> [(name: String, result: Result<DeviceSpec, SpecError>)] {
        var models: [String: JSONValue] = [:]
        for doc in documents where doc.member("kind")?.stringValue == "DeviceModel" {
            if let name = doc.member("metadata")?.member("name")?.scalarText {
                let ns = doc.member("metadata")?.member("namespace")?.scalarText ?? "default"
                models["\(ns)/\(name)"] = doc
                models[name] = models[name] ?? doc
            }
        }
        var out: [(name: String, result: Result<DeviceSpec, SpecError>)] = []
        for doc in documents where doc.member("kind")?.stringValue == "Device" {
            let name = doc.member("metadata")?.member("name")?.scalarText ?? "?"
            let ns = doc.member("metadata")?.member("namespace")?.scalarText ?? "default"
            let ref = doc.member("spec")?.member("deviceModelRef")?.member("name")?.scalarText ?? ""
            let model = models["\(ns)/\(ref)"] ?? models[ref]
            do throws(SpecError) {
                if model == nil { throw SpecError("device \(name): DeviceModel '\(ref)' not found") }
                out.append((name, .success(try device(doc, model: model))))
            } catch {
                out.append((name, .failure(error)))
            }
        }
        return out
    }

    // MARK: versions

    static func apiVersion(of doc: JSONValue) -> String {
        if let v = doc.member("apiVersion")?.scalarText {
            if v.hasSuffix("/v1alpha2") { return "v1alpha2" }
            if v.hasSuffix("/v1beta1") { return "v1beta1" }
        }
        return doc.member("spec")?.member("propertyVisitors") != nil ? "v1alpha2" : "v1beta1"
    }

    struct ModelProperty {
        var kind: PropertyKind
        var accessMode: AccessMode
    }

    static func modelProperties(_ model: JSONValue) throws(SpecError) -> [String: ModelProperty] {
        var out: [String: ModelProperty] = [:]
        for property in model.member("spec")?.member("properties")?.elements ?? [] {
            guard let name = property.member("name")?.scalarText else { continue }
            let type = property.member("type")
            if let text = type?.stringValue {  // v1beta1: type: INT, accessMode beside it
                guard let kind = PropertyKind(modelType: text) else { continue }
                let mode = property.member("accessMode")?.scalarText == "ReadOnly" ? AccessMode.readOnly : .readWrite
                out[name] = ModelProperty(kind: kind, accessMode: mode)
            } else if let (key, body) = type?.members?.first {  // v1alpha2: type: {int: {accessMode: ...}}
                guard let kind = PropertyKind(modelType: key) else { continue }
                let mode = body.member("accessMode")?.scalarText == "ReadOnly" ? AccessMode.readOnly : .readWrite
                out[name] = ModelProperty(kind: kind, accessMode: mode)
            }
        }
        return out
    }

    func cycle(_ raw: Int64?, unit: Duration) -> Duration {
        guard let raw, raw > 0 else { return defaultCollectCycle }
        let cycle = unit * raw
        return max(cycle, minimumCollectCycle)
    }

    func v1alpha2(name: String, namespace: String, modelName: String, spec: JSONValue,
                  modelProperties: [String: ModelProperty], haveModel: Bool) throws(SpecError) -> DeviceSpec {
        guard let proto = spec.member("protocol") else { throw SpecError("device \(name): no spec.protocol") }
        var protocolName = ""
        var config: [(key: String, value: JSONValue)] = []
        for (key, value) in proto.members ?? [] {
            switch key {
            case "common":
                config += value.members ?? []
            case "customizedProtocol":
                protocolName = value.member("protocolName")?.scalarText ?? "customized-protocol"
                config += value.member("configData")?.members ?? []
            default:
                protocolName = key == "bluetooth" ? "bluetooth" : key
                config += value.members ?? []
            }
        }
        guard !protocolName.isEmpty else { throw SpecError("device \(name): spec.protocol names no protocol") }
        var properties: [PropertySpec] = []
        var problems: [String] = []
        for visitor in spec.member("propertyVisitors")?.elements ?? [] {
            guard let propertyName = visitor.member("propertyName")?.scalarText else {
                problems.append("a property visitor has no propertyName")
                continue
            }
            guard let model = modelProperties[propertyName] else {
                problems.append("property \(propertyName): not in DeviceModel '\(modelName)'")
                continue
            }
            let protocolVisitor = visitor.member(protocolName)
                ?? visitor.member("customizedProtocol")?.member("configData")
                ?? .object([])
            // mappers-go reads the v1alpha2 collectCycle as a Go time.Duration: nanoseconds.
            properties.append(PropertySpec(
                name: propertyName, kind: model.kind, accessMode: model.accessMode,
                collectCycle: cycle(visitor.member("collectCycle")?.looseInt64, unit: .nanoseconds(1)),
                visitor: protocolVisitor))
        }
        let node = spec.member("nodeSelector")?.member("nodeSelectorTerms")?.elements?.first?
            .member("matchExpressions")?.elements?.first?.member("values")?.elements?.first?.scalarText
        return DeviceSpec(
            id: name, namespace: namespace, model: modelName, node: node, protocolName: protocolName,
            protocolConfig: .object(config), properties: properties, problems: problems, apiVersion: "v1alpha2")
    }

    func v1beta1(name: String, namespace: String, modelName: String, spec: JSONValue,
                 modelProperties: [String: ModelProperty], haveModel: Bool) throws(SpecError) -> DeviceSpec {
        guard let proto = spec.member("protocol") else { throw SpecError("device \(name): no spec.protocol") }
        guard let protocolName = proto.member("protocolName")?.scalarText, !protocolName.isEmpty else {
            throw SpecError("device \(name): spec.protocol.protocolName is missing")
        }
        var properties: [PropertySpec] = []
        var problems: [String] = []
        for property in spec.member("properties")?.elements ?? [] {
            guard let propertyName = property.member("name")?.scalarText else {
                problems.append("a property has no name")
                continue
            }
            guard let visitors = property.member("visitors") else { continue }  // not collected
            guard let model = modelProperties[propertyName] else {
                problems.append("property \(propertyName): not in DeviceModel '\(modelName)'")
                continue
            }
            if let visitorProtocol = visitors.member("protocolName")?.scalarText, visitorProtocol != protocolName {
                problems.append(
                    "property \(propertyName): visitor is for protocol '\(visitorProtocol)', device uses '\(protocolName)'")
                continue
            }
            // v1beta1 (mapper-framework) collect cycles are milliseconds.
            properties.append(PropertySpec(
                name: propertyName, kind: model.kind, accessMode: model.accessMode,
                collectCycle: cycle(property.member("collectCycle")?.looseInt64, unit: .milliseconds(1)),
                visitor: visitors.member("configData") ?? .object([]),
                desired: property.member("desired")?.member("value")?.scalarText))
        }
        return DeviceSpec(
            id: name, namespace: namespace, model: modelName, node: spec.member("nodeName")?.scalarText,
            protocolName: protocolName, protocolConfig: proto.member("configData") ?? .object([]),
            properties: properties, problems: problems, apiVersion: "v1beta1")
    }
}
