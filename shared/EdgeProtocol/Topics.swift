/// Every topic of the two buses, in one place. docs/bus.md documents each one (producer, consumers, payload, QoS,
/// retained) and must change with this file.
///
/// Our own module-to-module topics start with `ke/`; the device and app topics are KubeEdge's (`$hw/events/...`,
/// `SYS/dis/upload_records`) so that existing KubeEdge mappers and apps work unchanged.
public enum Topics {
    // MARK: both buses

    /// Retained presence of a service: `online` / `offline` (also the last will).
    public static func status(service: String) -> String { "ke/status/\(service)" }
    public static let statusAll = "ke/status/+"

    // MARK: edge bus: hub ⇄ modules

    /// Cloud messages routed by hub to an edge module (`meta`, `twin`, `eventbus`, `servicebus`), as KubeEdge's
    /// edgehub routes them by group: resource/func → meta, twin → twin, user (router_eventbus) → eventbus,
    /// user (router_servicebus) → servicebus. Payload: envelope.
    public static func down(module: String) -> String { "ke/down/\(module)" }
    public static func down(_ module: EdgeModule) -> String { down(module: module.rawValue) }
    /// Messages any edge module sends to the cloud; hub forwards them over the link. Payload: envelope.
    public static let up = "ke/up"
    /// Retained state of the cloud link as hub sees it: `connected` / `disconnected`.
    public static let hubLink = "ke/hub/link"
    /// Retained backlog of hub's upstream queue: JSON `{"cloud": n, "cloud-acks": m}`, `"deadLetters"` and
    /// `"unroutable"` once there are any.
    public static let hubBacklog = "ke/hub/backlog"
    /// One record per upstream message hub gave up on (JSON: queue, msg_id, resource, operation, reason).
    public static let hubDeadLetter = "ke/hub/deadletter"

    // MARK: edge bus: edged ⇄ meta

    /// edged's requests to meta, as KubeEdge's edged sends them to metamanager (source `edged`, group `meta`):
    /// node registration, node/pod status patches, leases, queries of pods, configmaps and secrets, pod deletion
    /// confirmations. Payload: envelope.
    public static let metaIn = "ke/meta/in"
    /// What meta hands edged: the cloud's pod/configmap/secret objects once stored, and the answers to edged's
    /// requests (`response` / `error`, `parent_msg_id` = the request's `msg_id`). Payload: envelope.
    public static let edgedIn = "ke/edged/in"
    /// The Device and DeviceModel objects (`{ns}/device/{name}`, `{ns}/devicemodel/{name}`) meta stored and
    /// acknowledged, for twin: the cloud's envelope unchanged. Payload: envelope.
    public static let twinSpecs = "ke/twin/specs"

    // MARK: edge bus: eventbus ⇄ twin

    /// Device and node events from the device broker, for twin: envelope with source `bus`, group `user`,
    /// operation `response`, resource = the MQTT topic, content = the payload (a JSON object).
    public static let twinIn = "ke/twin/in"
    /// What twin publishes to devices and apps, for eventbus to put on the device broker: envelope with operation
    /// `publish`, resource = the MQTT topic, content = the payload.
    public static let twinOut = "ke/twin/out"

    // MARK: edge bus: device specs for mappers

    /// Retained spec of one device bound to this node, for the mappers: `{"device": <Device>, "model": <DeviceModel>}`,
    /// the cloud's devices.kubeedge.io objects as JSON (v1alpha2 or v1beta1). An empty retained payload means the
    /// device was removed. `{device}` is the device id (its name).
    public static func deviceSpec(_ device: String) -> String { "ke/devices/\(device)" }
    public static let deviceSpecsAll = "ke/devices/+"
    /// The device id of a `ke/devices/{deviceID}` topic, or nil for another topic.
    public static func deviceID(ofSpecTopic topic: String) -> String? {
        let parts = topic.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "ke", parts[1] == "devices", !parts[2].isEmpty else { return nil }
        return String(parts[2])
    }

    // MARK: cloud bus: cloudhub ⇄ cloud modules

    /// Messages a cloud module sends to one node; cloudhub delivers them over that node's link. Payload: envelope
    /// whose `route.resource` is the wire resource (without KubeEdge's `node/{id}/` prefix).
    public static func toNode(_ node: String) -> String { "ke/node/\(node)/down" }
    public static let toAnyNode = "ke/node/+/down"
    /// Messages from one node for a cloud module (`edgecontroller`, `devicecontroller`, `router`,
    /// `dynamiccontroller`), chosen as KubeEdge's cloudhub dispatches upstream traffic. Payload: envelope.
    public static func fromNode(_ node: String, module: String) -> String { "ke/node/\(node)/up/\(module)" }
    public static func fromAnyNode(module: String) -> String { "ke/node/+/up/\(module)" }
    public static func fromNode(_ node: String, _ module: CloudModule) -> String { fromNode(node, module: module.rawValue) }
    public static func fromAnyNode(_ module: CloudModule) -> String { fromAnyNode(module: module.rawValue) }
    /// Retained backlog of cloudhub's outbox: JSON `{"<node>": <messages not yet delivered or acknowledged>}`, and
    /// `"deadLetters": {"<node>": n}` once messages were moved aside.
    public static let cloudhubBacklog = "ke/cloudhub/backlog"
    /// One record per message cloudhub gave up on (JSON: node, msg_id, resource, operation, reason).
    public static let cloudhubDeadLetter = "ke/cloudhub/deadletter"
    /// Retained state of one node's link as cloudhub sees it: `connected` / `disconnected`.
    public static func nodeLink(_ node: String) -> String { "ke/node/\(node)/link" }
    public static let anyNodeLink = "ke/node/+/link"

    // MARK: streams (kubectl logs, exec, attach, port-forward) and usage figures (kubectl top)

    /// A stream session's frames from the API server to one node (open, data, credit, close); cloudhub writes them
    /// on that node's link as they come, never stored. Payload: envelope of group `stream`, resource = the session id.
    public static func streamToNode(_ node: String) -> String { "ke/node/\(node)/stream/down" }
    public static let streamToAnyNode = "ke/node/+/stream/down"
    /// A stream session's frames from the node, for the API server (data, credit, close); cloudhub publishes them as
    /// they arrive, and answers a close itself when the node cannot take the stream.
    public static func streamFromNode(session: String) -> String { "ke/stream/\(session)/up" }
    public static let streamFromAnyNode = "ke/stream/+/up"
    /// Retained: a node's latest usage figures (JSON NodeMetrics and PodMetrics items), as edged last sent them.
    public static func nodeMetrics(_ node: String) -> String { "ke/node/\(node)/metrics" }
    public static let anyNodeMetrics = "ke/node/+/metrics"
    /// Edge bus: one session's frames from the cloud, for edged (hub publishes what the link brings).
    public static func streamIn(session: String) -> String { "ke/stream/\(session)/in" }
    public static let streamInAll = "ke/stream/+/in"
    /// Edge bus: one session's frames from edged, for the cloud (hub writes them on the link, not queued).
    public static func streamOut(session: String) -> String { "ke/stream/\(session)/out" }
    public static let streamOutAll = "ke/stream/+/out"
    /// Edge bus: edged's usage figures for the cloud (hub writes them on the link when it is up; never queued).
    public static let metricsUp = "ke/metrics"

    /// The session id of a `ke/stream/{session}/{in|out|up}` topic.
    public static func streamSession(ofTopic topic: String) -> String? {
        let parts = topic.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "ke", parts[1] == "stream", !parts[2].isEmpty else { return nil }
        return String(parts[2])
    }

    // MARK: edge bus: KubeEdge device and app topics (§6, §7 of the wire reference)

    public enum Device {
        public static let prefix = "$hw/events/device/"
        public static func twinUpdate(_ device: String) -> String { "$hw/events/device/\(device)/twin/update" }
        public static func twinUpdateResult(_ device: String) -> String {
            "$hw/events/device/\(device)/twin/update/result"
        }
        public static func twinUpdateDelta(_ device: String) -> String {
            "$hw/events/device/\(device)/twin/update/delta"
        }
        public static func twinUpdateDocument(_ device: String) -> String {
            "$hw/events/device/\(device)/twin/update/document"
        }
        public static func twinGet(_ device: String) -> String { "$hw/events/device/\(device)/twin/get" }
        public static func twinGetResult(_ device: String) -> String { "$hw/events/device/\(device)/twin/get/result" }
        public static func twinCloudUpdated(_ device: String) -> String {
            "$hw/events/device/\(device)/twin/cloud_updated"
        }
        public static func stateUpdate(_ device: String) -> String { "$hw/events/device/\(device)/state/update" }
        public static func stateUpdateResult(_ device: String) -> String {
            "$hw/events/device/\(device)/state/update/result"
        }
        public static func updated(_ device: String) -> String { "$hw/events/device/\(device)/updated" }
        /// Every device's reported values (what monitors and benchmarks watch).
        public static let anyTwinUpdate = "$hw/events/device/+/twin/update"
        /// Every device's desired-value deltas (what mappers subscribe to).
        public static let anyTwinUpdateDelta = "$hw/events/device/+/twin/update/delta"
    }

    public enum Node {
        public static let prefix = "$hw/events/node/"
        public static func membershipGet(_ node: String) -> String { "$hw/events/node/\(node)/membership/get" }
        public static func membershipGetResult(_ node: String) -> String {
            "$hw/events/node/\(node)/membership/get/result"
        }
        public static func membershipUpdated(_ node: String) -> String {
            "$hw/events/node/\(node)/membership/updated"
        }
    }

    /// The subscriptions KubeEdge's eventbus makes on the device broker (wire reference §6.2).
    public static let eventBusSubscriptions = [
        "$hw/events/upload/#",
        "$hw/events/device/+/state/update",
        "$hw/events/device/+/twin/+",
        "$hw/events/node/+/membership/get",
        uploadRecords,
        "+/user/#",
    ]
    public static let uploadRecords = "SYS/dis/upload_records"
    /// The first two levels every KubeEdge device and node event topic has (`$hw/events/…`).
    public static let eventsRoot = "$hw/events/"
}

/// The edge modules hub routes cloud messages to (`ke/down/{module}`), as KubeEdge's edgehub names them.
public enum EdgeModule: String, Sendable, CaseIterable {
    case meta, twin, eventbus, servicebus
}

/// The cloud modules cloudhub routes a node's messages to (`ke/node/{node}/up/{module}`), as KubeEdge's cloudhub
/// dispatches them.
public enum CloudModule: String, Sendable, CaseIterable {
    case edgecontroller, devicecontroller, router, dynamiccontroller
}

/// The message groups (`route.group`) of KubeEdge's link.
public enum MessageGroup: String, Sendable, CaseIterable {
    case resource, twin, `func`, user, meta
    case nodeUpgradeJobController = "nodeupgradejobcontroller"
}

/// Route sources the link's routing looks at.
public enum MessageSource {
    public static let routerEventBus = "router_eventbus"
    public static let routerServiceBus = "router_servicebus"
    /// servicebus's answers and uploads, and the router's answers to them.
    public static let serviceBus = "servicebus"
    public static let metaServer = "metaserver"
    public static let twin = "twin"
    public static let edgeController = "edgecontroller"
    public static let nodeUpgradeJobController = "nodeupgradejobcontroller"
}

/// The link resources of device-twin traffic (wire reference §4.2, §4.3), shared by twin (edge) and devicecontroller
/// (cloud). They travel on `ke/up` and `ke/node/{node}/down` without KubeEdge's `node/{id}/` prefix.
public enum TwinResources {
    /// Cloud → edge: devices added to / removed from the node (`update`).
    public static let membership = "membership"
    /// Edge → cloud `get` (every (re)connect), and the cloud's full answer (`update`).
    public static let membershipDetail = "membership/detail"
    /// Cloud → edge: desired values changed.
    public static func cloudUpdated(_ device: String) -> String { "device/\(device)/twin/cloud_updated" }
    /// Edge → cloud: reported (and edge-changed) twins.
    public static func edgeUpdated(_ device: String) -> String { "device/\(device)/twin/edge_updated" }
    public static let edgeUpdatedSuffix = "/twin/edge_updated"
    public static let cloudUpdatedSuffix = "/twin/cloud_updated"
    /// Edge → cloud: a device's state changed.
    public static func stateUpdate(_ device: String) -> String { "device/\(device)/state/update" }
}

/// The resource strings edge modules use for objects (wire reference §4.1, §5.2): `{ns}/{type}/{name}` for one
/// object, `{ns}/{type}` for all objects of a type.
public enum ObjectResource {
    /// metamanager's `type`: the middle token of `{ns}/{type}/{name}`, the last one of `{ns}/{type}`.
    public static func type(of resource: String) -> String {
        let parts = resource.split(separator: "/", omittingEmptySubsequences: false)
        return parts.count >= 3 ? String(parts[1]) : String(parts.last ?? "")
    }
}
