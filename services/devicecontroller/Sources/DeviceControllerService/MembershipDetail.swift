// The answer to an edge's `membership/detail` get (wire reference §4.3, §6.6), which KubeEdge's cloud ignores.
//
// The edge treats any cloud message carrying a `parent_msg_id` as a mere confirmation and drops its content (§6.7),
// so the answer is two messages: the detail itself pushed as `membership/detail` (no parent; the edge's twin
// replaces its device list with it) and the confirmation `DevicePlanner.confirm(node:requestID:)`.

import EdgeProtocol

public enum MembershipDetail {
    /// `MembershipDetail` content (`{"event_id","timestamp","devices":[Device]}`) for `node`: every Device bound to
    /// it, sorted by namespace and name, with its twins (expected = desired value, `expected_version` as the
    /// planner would send it, or `{cloud: resourceVersion, edge: 0}` without a planner).
    public static func content(
        node: String, devices: [JSONValue], models: [JSONValue], planner: DevicePlanner? = nil, now: Int64,
        eventID: String = DevicePlanner.randomEventID()
    ) -> JSONValue {
        var lookup: [String: JSONValue] = [:]
        for model in models { if let key = DeviceJSON.key(of: model) { lookup[key] = model } }
        var views: [String: DeviceView] = [:]
        for object in devices {
            guard let plain = DeviceView(object), plain.node == node else { continue }
            let model = plain.modelKey.flatMap { lookup[$0] }
            views[plain.key] = model == nil ? plain : DeviceView(object, model: model) ?? plain
        }
        let entries = views.keys.sorted().compactMap { key -> JSONValue? in
            guard let view = views[key] else { return nil }
            let twins = view.twins.map { twin -> (key: String, value: JSONValue) in
                let version: (cloud: Int64, edge: Int64) =
                    planner?.expectedVersion(key: key, node: node, twin: twin.name, resourceVersion: view.resourceVersion)
                    ?? (cloud: Int64(view.resourceVersion) ?? 0, edge: 0)
                return (
                    key: twin.name,
                    value: DeviceJSON.desiredTwin(
                        value: twin.value, type: twin.type, cloud: version.cloud, edge: version.edge, now: now)
                )
            }
            return DeviceJSON.edgeDevice(name: view.name, description: view.description, twins: twins)
        }
        return DeviceJSON.event(id: eventID, now: now, [(key: "devices", value: .array(entries))])
    }

    /// The detail as a message for `node`: resource `membership/detail`, operation `update`, group `twin`.
    public static func message(
        node: String, devices: [JSONValue], models: [JSONValue], planner: DevicePlanner? = nil, now: Int64,
        eventID: String = DevicePlanner.randomEventID()
    ) -> Outgoing {
        Outgoing(
            node: node, resource: TwinResources.membershipDetail, operation: "update", group: DevicePlanner.twinGroup,
            content: content(node: node, devices: devices, models: models, planner: planner, now: now, eventID: eventID))
    }

    /// Whether an upstream message is the edge's detail request: resource `membership/detail` (with or without
    /// KubeEdge's `node/{node}/` prefix), operation `get`.
    public static func isRequest(resource: String, operation: String) -> Bool {
        operation == "get" && (resource == TwinResources.membershipDetail || resource.hasSuffix("/" + TwinResources.membershipDetail))
    }
}
