// What the devicecontroller sends each edge node, decided from the Device and DeviceModel objects and from what it
// sent before (wire reference §4.2, §6.3, §6.6, §10.3). Pure: no I/O; the service persists the planner (see
// `persisted`) and turns `Outgoing` values into envelopes on `ke/node/{node}/down`.
//
// Better than KubeEdge v1.15, compatible with v1.15 edges and with the v1alpha2-era twin protocol:
// * membership carries the twins (expected = desired value, expected_version{cloud: device resourceVersion, edge}),
// * `device/{id}/twin/cloud_updated` when desired values change, only for the twins that changed (removed ones as
//   `metadata.type:"deleted"`),
// * the Device and DeviceModel objects as resource messages (`{ns}/device/{name}`, `{ns}/devicemodel/{name}`), sent
//   again only when their spec or labels change (not on every status patch), a model only to the nodes that have a
//   device using it, and deleted from a node when no device there uses it any more,
// * `expected_version.edge` follows what the edge reported (`observeEdgeUpdate`), so a desired value written on the
//   edge does not make every later cloud update a version conflict.

import EdgeProtocol

/// One message for one node. `resource` is the wire resource without KubeEdge's `node/{node}/` prefix.
public struct Outgoing: Sendable, Hashable {
    public var node: String
    public var resource: String
    public var operation: String
    public var group: String
    public var content: JSONValue
    /// The `resourceversion` header: the object's resourceVersion for `{ns}/device|devicemodel/{name}` messages
    /// (ACK class, §4.6); nil for twin messages.
    public var resourceVersion: String?
    /// `parent_msg_id`: set only on confirmations (`DevicePlanner.confirm`); pushes must leave it empty (§1.3).
    public var parentID: String?

    public init(
        node: String, resource: String, operation: String, group: String, content: JSONValue,
        resourceVersion: String? = nil, parentID: String? = nil
    ) {
        self.node = node
        self.resource = resource
        self.operation = operation
        self.group = group
        self.content = content
        self.resourceVersion = resourceVersion
        self.parentID = parentID
    }
}

public struct DevicePlanner: Sendable, Hashable, Codable {
    /// A twin as last sent to the edge.
    public struct SentTwin: Sendable, Hashable, Codable {
        public var value: String?
        public var type: String

        public init(value: String?, type: String) {
            self.value = value
            self.type = type
        }
    }

    /// A device as last sent to its node.
    public struct SentDevice: Sendable, Hashable, Codable {
        public var namespace: String
        public var name: String
        public var apiVersion: String
        public var uid: String?
        public var node: String
        /// The model's name (in `namespace`).
        public var model: String?
        public var twins: [String: SentTwin]
        /// The `expected_version.cloud` last sent.
        public var cloudVersion: Int64
        /// Per twin, the highest `expected_version.edge` the edge reported (absent = 0).
        public var edgeVersions: [String: Int64]
        /// Fingerprint of the Device's labels and spec when last sent as a resource message.
        public var specDigest: String
        /// Fingerprint of its DeviceModel at that time (nil: sent without a model).
        public var modelDigest: String?
    }

    /// A DeviceModel as last sent, per node.
    public struct SentModel: Sendable, Hashable, Codable {
        public var apiVersion: String
        public var uid: String?
        /// node → fingerprint of the model's labels and spec sent there.
        public var nodes: [String: String]
    }

    /// Devices by `namespace/name`.
    public private(set) var devices: [String: SentDevice]
    /// DeviceModels by `namespace/name`.
    public private(set) var models: [String: SentModel]

    public init() {
        devices = [:]
        models = [:]
    }

    public static let source = "devicecontroller"
    public static let twinGroup = "twin"
    public static let resourceGroup = "resource"

    /// A random UUID v4 string, KubeEdge's `event_id`.
    public static func randomEventID() -> String { Message.newID() }

    // MARK: - Planning

    /// Full reconciliation: `devices` and `models` are every Device and DeviceModel in the cluster (initial list,
    /// relist, restart). Devices and models the planner knows but that are not listed are taken off their nodes.
    public mutating func plan(
        devices: [JSONValue], models: [JSONValue], now: Int64, eventID: () -> String = DevicePlanner.randomEventID
    ) -> [Outgoing] {
        var current: [String: JSONValue] = [:]
        for device in devices { if let key = DeviceJSON.key(of: device) { current[key] = device } }
        let lookup = Self.lookup(models)
        let keys = Set(current.keys).union(self.devices.keys).sorted()
        let targets = keys.map { Target(key: $0, current: current[$0], deleted: nil) }
        var gone: [String: JSONValue?] = [:]
        for key in self.models.keys where lookup[key] == nil { gone[key] = .some(nil) }
        return run(targets: targets, models: lookup, goneModels: gone, now: now, eventID: eventID)
    }

    /// A Device was added or modified. `models` must contain its DeviceModel when that exists (passing all models
    /// is fine).
    public mutating func plan(
        deviceChanged device: JSONValue, models: [JSONValue], now: Int64,
        eventID: () -> String = DevicePlanner.randomEventID
    ) -> [Outgoing] {
        guard let key = DeviceJSON.key(of: device) else { return [] }
        return run(
            targets: [Target(key: key, current: device, deleted: nil)], models: Self.lookup(models), goneModels: [:],
            now: now, eventID: eventID)
    }

    /// A Device was deleted (`device` is its last state). `models` only supplies the content of a model deletion
    /// when the device was the last one on its node using that model.
    public mutating func plan(
        deviceDeleted device: JSONValue, models: [JSONValue] = [], now: Int64,
        eventID: () -> String = DevicePlanner.randomEventID
    ) -> [Outgoing] {
        guard let key = DeviceJSON.key(of: device) else { return [] }
        return run(
            targets: [Target(key: key, current: nil, deleted: device)], models: Self.lookup(models), goneModels: [:],
            now: now, eventID: eventID)
    }

    /// A DeviceModel was added or modified; `devices` are the current Devices (those using the model are re-planned:
    /// model update to their nodes, their Device objects again, and twin types that changed).
    public mutating func plan(
        modelChanged model: JSONValue, devices: [JSONValue], now: Int64,
        eventID: () -> String = DevicePlanner.randomEventID
    ) -> [Outgoing] {
        guard let key = DeviceJSON.key(of: model) else { return [] }
        return run(
            targets: Self.users(of: key, in: devices), models: [key: model], goneModels: [:], now: now,
            eventID: eventID)
    }

    /// A DeviceModel was deleted; it is deleted from every node it was sent to and the Devices using it are sent
    /// again (now without a model).
    public mutating func plan(
        modelDeleted model: JSONValue, devices: [JSONValue], now: Int64,
        eventID: () -> String = DevicePlanner.randomEventID
    ) -> [Outgoing] {
        guard let key = DeviceJSON.key(of: model) else { return [] }
        return run(
            targets: Self.users(of: key, in: devices), models: [:], goneModels: [key: model], now: now,
            eventID: eventID)
    }

    /// Records the twin versions of an `edge_updated` report (`DeviceTwinResult`, object or JSON text) from `node`
    /// so later cloud updates carry an `expected_version.edge` the edge accepts. Returns whether anything changed
    /// (the service then persists the planner).
    @discardableResult
    public mutating func observeEdgeUpdate(node: String, deviceID: String, content: JSONValue) -> Bool {
        // Mapper reports carry only actual values: nothing to record, no search.
        guard let report = ReportedStatus.reportObject(content),
            (report["twin"]?.objectMembers ?? []).contains(where: {
                (DeviceJSON.int64($0.value[path: ["expected_version", "edge"]]) ?? 0) > 0
            }),
            let key = devices.first(where: { $0.value.name == deviceID && $0.value.node == node })?.key,
            var sent = devices[key]
        else { return false }
        var changed = false
        for (name, twin) in report["twin"]?.objectMembers ?? [] where sent.twins[name] != nil {
            guard let edge = DeviceJSON.int64(twin[path: ["expected_version", "edge"]]),
                edge > (sent.edgeVersions[name] ?? 0)
            else { continue }
            sent.edgeVersions[name] = edge
            changed = true
        }
        if changed { devices[key] = sent }
        return changed
    }

    /// The confirmation of an upstream twin-group message (`edge_updated`, `membership/detail`, `state/update`):
    /// `twin`/`response`/`"OK"` with `parent_msg_id` = the request's id, which stops the edge's 60 s re-sends (§6.6).
    public static func confirm(node: String, requestID: String) -> Outgoing {
        Outgoing(
            node: node, resource: "twin", operation: "response", group: twinGroup, content: .string("OK"),
            parentID: requestID)
    }

    /// The `expected_version` the planner would use for a twin of a device on `node` whose resourceVersion is
    /// `resourceVersion` (what `MembershipDetail` sends).
    public func expectedVersion(key: String, node: String, twin: String, resourceVersion: String) -> (
        cloud: Int64, edge: Int64
    ) {
        let rv = Int64(resourceVersion)
        guard let sent = devices[key], sent.node == node else { return (rv ?? 0, 0) }
        return (max(rv ?? sent.cloudVersion, sent.cloudVersion), sent.edgeVersions[twin] ?? 0)
    }

    // MARK: - Core

    private struct Target {
        var key: String
        var current: JSONValue?
        /// The deleted object, for the content of the delete message.
        var deleted: JSONValue?
    }

    private static func lookup(_ models: [JSONValue]) -> [String: JSONValue] {
        var lookup: [String: JSONValue] = [:]
        for model in models { if let key = DeviceJSON.key(of: model) { lookup[key] = model } }
        return lookup
    }

    private static func users(of modelKey: String, in devices: [JSONValue]) -> [Target] {
        var targets: [String: JSONValue] = [:]
        for device in devices {
            guard let view = DeviceView(device), view.modelKey == modelKey else { continue }
            targets[view.key] = device
        }
        return targets.keys.sorted().map { Target(key: $0, current: targets[$0], deleted: nil) }
    }

    private mutating func run(
        targets: [Target], models: [String: JSONValue], goneModels: [String: JSONValue?], now: Int64,
        eventID: () -> String
    ) -> [Outgoing] {
        var out: [Outgoing] = []
        for target in targets {
            reconcile(target, models: models, now: now, eventID: eventID, out: &out)
        }
        // Models deleted in the cluster: off every node.
        for key in goneModels.keys.sorted() {
            guard let sent = self.models[key] else { continue }
            let content = goneModels[key].flatMap { $0 } ?? models[key] ?? stubModel(key: key, sent)
            for node in sent.nodes.keys.sorted() {
                out.append(modelMessage(content, node: node, operation: "delete"))
            }
            self.models[key] = nil
        }
        // Models no device on a node uses any more: off that node.
        var needed: Set<String> = []
        for sent in devices.values {
            if let model = sent.model { needed.insert("\(sent.namespace)/\(model)\n\(sent.node)") }
        }
        for key in self.models.keys.sorted() {
            guard var sent = self.models[key] else { continue }
            for node in sent.nodes.keys.sorted() where !needed.contains("\(key)\n\(node)") {
                out.append(modelMessage(models[key] ?? stubModel(key: key, sent), node: node, operation: "delete"))
                sent.nodes[node] = nil
            }
            self.models[key] = sent.nodes.isEmpty ? nil : sent
        }
        return out
    }

    private mutating func reconcile(
        _ target: Target, models: [String: JSONValue], now: Int64, eventID: () -> String, out: inout [Outgoing]
    ) {
        let old = devices[target.key]
        var view: DeviceView? = nil
        var model: JSONValue? = nil
        if let object = target.current, let plain = DeviceView(object) {
            model = plain.modelKey.flatMap { models[$0] }
            view = model == nil ? plain : DeviceView(object, model: model)
        }
        guard let view, let node = view.node else {
            // Deleted, or no longer bound to a node.
            if let old {
                remove(old, content: target.deleted ?? target.current ?? stubDevice(old), now: now, eventID: eventID, out: &out)
                devices[target.key] = nil
            }
            return
        }
        let twins = Dictionary(
            view.twins.map { ($0.name, SentTwin(value: $0.value, type: $0.type)) }, uniquingKeysWith: { a, _ in a })
        let specDigest = Self.digest(view.object)
        let modelDigest = model.map(Self.digest)
        let rv = Int64(view.resourceVersion)

        if var sent = old, sent.node == node {
            if sent.twins != twins {
                let cloud = max(rv ?? sent.cloudVersion + 1, sent.cloudVersion)
                var members: [(key: String, value: JSONValue)] = []
                for twin in view.twins where sent.twins[twin.name] != twins[twin.name] {
                    members.append((
                        key: twin.name,
                        value: DeviceJSON.desiredTwin(
                            value: twin.value, type: twin.type, cloud: cloud, edge: sent.edgeVersions[twin.name] ?? 0,
                            now: now)))
                }
                for name in sent.twins.keys.sorted() where twins[name] == nil {
                    members.append((
                        key: name, value: DeviceJSON.deletedTwin(cloud: cloud, edge: sent.edgeVersions[name] ?? 0)))
                    sent.edgeVersions[name] = nil
                }
                out.append(
                    Outgoing(
                        node: node, resource: TwinResources.cloudUpdated(view.name), operation: "update",
                        group: Self.twinGroup,
                        content: DeviceJSON.event(id: eventID(), now: now, [(key: "twin", value: .object(members))])))
                sent.cloudVersion = cloud
                sent.twins = twins
            }
            ensureModel(view, model: model, node: node, out: &out)
            if sent.specDigest != specDigest || sent.modelDigest != modelDigest || sent.model != view.modelName
                || sent.apiVersion != view.apiVersionString
            {
                out.append(deviceMessage(view, node: node, operation: "update"))
            }
            sent.specDigest = specDigest
            sent.modelDigest = modelDigest
            sent.model = view.modelName
            sent.apiVersion = view.apiVersionString
            sent.uid = view.uid
            devices[target.key] = sent
            return
        }

        // New on this node (added, or moved from another node).
        if let old {
            remove(old, content: view.object, now: now, eventID: eventID, out: &out)
        }
        let cloud = max(rv ?? (old?.cloudVersion ?? 0) + 1, old?.cloudVersion ?? 0)
        let edgeTwins = view.twins.map { twin in
            (key: twin.name,
             value: DeviceJSON.desiredTwin(value: twin.value, type: twin.type, cloud: cloud, edge: 0, now: now))
        }
        let added = DeviceJSON.edgeDevice(name: view.name, description: view.description, twins: edgeTwins)
        out.append(
            Outgoing(
                node: node, resource: TwinResources.membership, operation: "update", group: Self.twinGroup,
                content: DeviceJSON.event(
                    id: eventID(), now: now,
                    [(key: "added_devices", value: .array([added])), (key: "removed_devices", value: .array([]))])))
        ensureModel(view, model: model, node: node, out: &out)
        out.append(deviceMessage(view, node: node, operation: "insert"))
        devices[target.key] = SentDevice(
            namespace: view.namespace, name: view.name, apiVersion: view.apiVersionString, uid: view.uid, node: node,
            model: view.modelName, twins: twins, cloudVersion: cloud, edgeVersions: [:], specDigest: specDigest,
            modelDigest: modelDigest)
    }

    /// Device delete, then membership removal, on the device's old node.
    private func remove(
        _ sent: SentDevice, content: JSONValue, now: Int64, eventID: () -> String, out: inout [Outgoing]
    ) {
        let object = DeviceJSON.withKind(content, apiVersion: sent.apiVersion, kind: "Device")
        out.append(
            Outgoing(
                node: sent.node, resource: "\(sent.namespace)/device/\(sent.name)", operation: "delete",
                group: Self.resourceGroup, content: object,
                resourceVersion: object[path: ["metadata", "resourceVersion"]].flatMap(DeviceJSON.text)))
        out.append(
            Outgoing(
                node: sent.node, resource: TwinResources.membership, operation: "update", group: Self.twinGroup,
                content: DeviceJSON.event(
                    id: eventID(), now: now,
                    [
                        (key: "added_devices", value: .array([])),
                        (
                            key: "removed_devices",
                            value: .array([DeviceJSON.edgeDevice(name: sent.name, description: nil, twins: nil)])
                        ),
                    ])))
    }

    private mutating func ensureModel(_ view: DeviceView, model: JSONValue?, node: String, out: inout [Outgoing]) {
        guard let key = view.modelKey, let model else { return }
        let digest = Self.digest(model)
        var sent = models[key] ?? SentModel(apiVersion: "", uid: nil, nodes: [:])
        sent.apiVersion = Self.modelAPIVersion(model)
        sent.uid = DeviceJSON.nonEmpty(model, ["metadata", "uid"])
        let previous = sent.nodes[node]
        if previous != digest {
            out.append(modelMessage(model, node: node, operation: previous == nil ? "insert" : "update"))
            sent.nodes[node] = digest
        }
        models[key] = sent
    }

    private func deviceMessage(_ view: DeviceView, node: String, operation: String) -> Outgoing {
        Outgoing(
            node: node, resource: "\(view.namespace)/device/\(view.name)", operation: operation,
            group: Self.resourceGroup,
            content: DeviceJSON.withKind(view.object, apiVersion: view.apiVersionString, kind: "Device"),
            resourceVersion: view.resourceVersion.isEmpty ? nil : view.resourceVersion)
    }

    private func modelMessage(_ model: JSONValue, node: String, operation: String) -> Outgoing {
        let object = DeviceJSON.withKind(model, apiVersion: Self.modelAPIVersion(model), kind: "DeviceModel")
        let namespace = DeviceJSON.nonEmpty(object, ["metadata", "namespace"]) ?? "default"
        let name = DeviceJSON.nonEmpty(object, ["metadata", "name"]) ?? ""
        return Outgoing(
            node: node, resource: "\(namespace)/devicemodel/\(name)", operation: operation, group: Self.resourceGroup,
            content: object, resourceVersion: object[path: ["metadata", "resourceVersion"]].flatMap(DeviceJSON.text))
    }

    private func stubDevice(_ sent: SentDevice) -> JSONValue {
        DeviceJSON.stub(
            apiVersion: sent.apiVersion, kind: "Device", namespace: sent.namespace, name: sent.name, uid: sent.uid)
    }

    private func stubModel(key: String, _ sent: SentModel) -> JSONValue {
        let parts = key.split(separator: "/", maxSplits: 1).map(String.init)
        return DeviceJSON.stub(
            apiVersion: sent.apiVersion, kind: "DeviceModel", namespace: parts.first ?? "default",
            name: parts.count > 1 ? parts[1] : key, uid: sent.uid)
    }

    /// Fingerprint of what the edge's copy of an object depends on: labels and spec (not status, not
    /// resourceVersion).
    private static func digest(_ object: JSONValue) -> String {
        DeviceJSON.digest(
            .object([
                (key: "apiVersion", value: object["apiVersion"] ?? .null),
                (key: "labels", value: object[path: ["metadata", "labels"]] ?? .null),
                (key: "spec", value: object["spec"] ?? .null),
            ]))
    }

    /// A DeviceModel's `apiVersion`, or the version its shape implies (v1beta1 types are strings).
    private static func modelAPIVersion(_ model: JSONValue) -> String {
        if let declared = model["apiVersion"]?.stringValue, !declared.isEmpty { return declared }
        let properties = model[path: ["spec", "properties"]]?.arrayValue ?? []
        let beta = properties.contains { $0["type"]?.stringValue != nil }
        return "\(DeviceView.group)/\(beta ? "v1beta1" : "v1alpha2")"
    }
}

// MARK: - Persistence

extension DevicePlanner {
    /// The planner as JSON (keys sorted, so equal planners give equal bytes), for the service's SQLite store.
    /// `Codable` works as well; this form needs no Foundation.
    public var persisted: JSONValue {
        func string(_ s: String?) -> JSONValue { s.map(JSONValue.string) ?? .null }
        let devices = self.devices.keys.sorted().compactMap { key -> (key: String, value: JSONValue)? in
            guard let d = self.devices[key] else { return nil }
            let twins = d.twins.keys.sorted().map { name in
                (key: name, value: JSONValue.object([
                    (key: "value", value: string(d.twins[name]?.value)),
                    (key: "type", value: .string(d.twins[name]?.type ?? "string")),
                ]))
            }
            let edge = d.edgeVersions.keys.sorted().map { (key: $0, value: JSONValue.integer(d.edgeVersions[$0] ?? 0)) }
            return (key: key, value: .object([
                (key: "namespace", value: .string(d.namespace)),
                (key: "name", value: .string(d.name)),
                (key: "apiVersion", value: .string(d.apiVersion)),
                (key: "uid", value: string(d.uid)),
                (key: "node", value: .string(d.node)),
                (key: "model", value: string(d.model)),
                (key: "twins", value: .object(twins)),
                (key: "cloudVersion", value: .integer(d.cloudVersion)),
                (key: "edgeVersions", value: .object(edge)),
                (key: "specDigest", value: .string(d.specDigest)),
                (key: "modelDigest", value: string(d.modelDigest)),
            ]))
        }
        let models = self.models.keys.sorted().compactMap { key -> (key: String, value: JSONValue)? in
            guard let m = self.models[key] else { return nil }
            let nodes = m.nodes.keys.sorted().map { (key: $0, value: JSONValue.string(m.nodes[$0] ?? "")) }
            return (key: key, value: .object([
                (key: "apiVersion", value: .string(m.apiVersion)),
                (key: "uid", value: string(m.uid)),
                (key: "nodes", value: .object(nodes)),
            ]))
        }
        return .object([
            (key: "version", value: 1),
            (key: "devices", value: .object(devices)),
            (key: "models", value: .object(models)),
        ])
    }

    /// Restores a planner from `persisted`; nil when the JSON is not one (start empty then: everything is sent
    /// again, which the edge tolerates).
    public init?(persisted json: JSONValue) {
        guard DeviceJSON.int64(json["version"]) == 1, let deviceMembers = json["devices"]?.objectMembers,
            let modelMembers = json["models"]?.objectMembers
        else { return nil }
        self.init()
        for (key, d) in deviceMembers {
            guard let namespace = d["namespace"]?.stringValue, let name = d["name"]?.stringValue,
                let apiVersion = d["apiVersion"]?.stringValue, let node = d["node"]?.stringValue,
                let twinMembers = d["twins"]?.objectMembers, let cloud = DeviceJSON.int64(d["cloudVersion"]),
                let specDigest = d["specDigest"]?.stringValue
            else { return nil }
            var twins: [String: SentTwin] = [:]
            for (twin, t) in twinMembers {
                twins[twin] = SentTwin(value: t["value"]?.stringValue, type: t["type"]?.stringValue ?? "string")
            }
            var edge: [String: Int64] = [:]
            for (twin, v) in d["edgeVersions"]?.objectMembers ?? [] { edge[twin] = DeviceJSON.int64(v) }
            devices[key] = SentDevice(
                namespace: namespace, name: name, apiVersion: apiVersion, uid: d["uid"]?.stringValue, node: node,
                model: d["model"]?.stringValue, twins: twins, cloudVersion: cloud, edgeVersions: edge,
                specDigest: specDigest, modelDigest: d["modelDigest"]?.stringValue)
        }
        for (key, m) in modelMembers {
            guard let apiVersion = m["apiVersion"]?.stringValue, let nodeMembers = m["nodes"]?.objectMembers
            else { return nil }
            var nodes: [String: String] = [:]
            for (node, digest) in nodeMembers { nodes[node] = digest.stringValue }
            models[key] = SentModel(apiVersion: apiVersion, uid: m["uid"]?.stringValue, nodes: nodes)
        }
    }

    /// `persisted` as compact JSON bytes.
    public func persistedBytes() -> [UInt8] {
        (try? persisted.serialized()) ?? []
    }

    /// Restores from `persistedBytes()`; nil when the bytes are not a persisted planner.
    public init?(persistedBytes bytes: [UInt8]) {
        guard let json = try? JSONValue(parsing: bytes) else { return nil }
        self.init(persisted: json)
    }
}
