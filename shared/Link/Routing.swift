import EdgeProtocol

/// KubeEdge's routing and delivery rules for the cloud⇄edge link (wire reference §2.7, §2.8), as pure functions.
public enum LinkRules {
    /// Whether a cloud→edge message is ACK-class: kept until the edge answers with a `response` whose
    /// `parent_msg_id` is its id (cloudhub's `noAckRequired`, inverted).
    public static func requiresAck(_ message: Message) -> Bool {
        let route = message.route
        let resource = route.resource
        if route.group != MessageGroup.resource.rawValue { return false }  // twin, user, func, …: written once
        for marker in ["podlist", "membership", "twin/cloud_updated", "serviceaccounttoken"]
        where resource.contains(marker) {
            return false
        }
        switch route.operation {
        case "applicationResponse", "createvolume", "deletevolume", "controllerpublishvolume",
            "controllerunpublishvolume":
            return false
        case "response" where message.content.stringValue == "OK":
            return false
        default:
            break
        }
        if route.source == MessageSource.nodeUpgradeJobController { return false }
        if route.source == MessageSource.edgeController {
            let type = resourceType(resource)
            if ["node", "lease", "nodepatch", "podpatch", "podstatus"].contains(type) { return false }
            if type == "pod" && route.operation == "response" { return false }
        }
        return true
    }

    /// The resource type token of `{ns}/{type}/{name}` (or of `{type}` / `{type}/{id}` for short resources).
    public static func resourceType(_ resource: String) -> String {
        let parts = resource.split(separator: "/", omittingEmptySubsequences: false)
        return parts.count >= 3 ? String(parts[1]) : String(parts.first ?? "")
    }

    /// What cloudhub does with a message that arrived from an edge.
    public enum Upstream: Equatable, Sendable {
        /// An application keepalive: resets the session timer, no reply.
        case keepalive
        /// An acknowledgement of a cloud message (`parent_msg_id`).
        case ack(parentID: String)
        /// An error report from the edge; logged.
        case error
        /// edgecore's empty shutdown frame (`msg_id` "", empty route, null content): ignored.
        case empty
        /// For a cloud module.
        case module(CloudModule)
    }

    /// cloudhub's upstream dispatch (`DispatchUpstream`).
    public static func upstream(_ message: Message) -> Upstream {
        let route = message.route
        if message.header.id.isEmpty && route == Message.Route() { return .empty }
        switch route.operation {
        case "keepalive": return .keepalive
        case "response": return .ack(parentID: message.header.parentID)
        case "error": return .error
        default: break
        }
        if route.operation == "upload" && route.group == MessageGroup.user.rawValue { return .module(.router) }
        switch route.source {
        case MessageSource.metaServer: return .module(.dynamiccontroller)
        case MessageSource.twin: return .module(.devicecontroller)
        default: return .module(.edgecontroller)
        }
    }

    /// edgehub's routing of a cloud message to an edge module (`defaultHandler`), or nil when KubeEdge drops it.
    public static func edgeModule(for message: Message) -> EdgeModule? {
        switch MessageGroup(rawValue: message.route.group) {
        case .resource, .func: return .meta
        case .twin: return .twin
        case .user:
            switch message.route.source {
            case MessageSource.routerEventBus: return .eventbus
            case MessageSource.routerServiceBus: return .servicebus
            // The router's answer to an edge app's call through servicebus's local port (KubeEdge hands any user
            // message with a parent to the module waiting for it).
            case MessageSource.serviceBus where !message.header.parentID.isEmpty: return .servicebus
            default: return nil
            }
        default: return nil
        }
    }

    /// Why `edgeModule(for:)` found no module, for the error reply and the log.
    public static func unroutableReason(_ message: Message) -> String {
        let route = message.route
        if route.group == "user" {
            return "no edge module takes group 'user' from source '\(route.source)' "
                + "(only router_eventbus and router_servicebus)"
        }
        return "no edge module takes group '\(route.group)' (resource '\(route.resource)', operation "
            + "'\(route.operation)'); edge modules take resource, func, twin and user"
    }

    /// edgecontroller's deletion of the node itself (`namespace/node/{node}`, `delete`): cloudhub ends the node's
    /// session instead of forwarding it (wire reference §4.2).
    public static func isNodeDeletion(_ message: Message, node: String) -> Bool {
        guard message.route.operation == "delete" else { return false }
        let parts = message.route.resource.split(separator: "/", omittingEmptySubsequences: false)
        return parts.count == 3 && parts[1] == "node" && parts[2] == node
    }

    /// viaduct swallows these operations and answers them itself (§2.6).
    public static func isViaductControl(_ message: Message) -> Bool {
        ["config", "ping", "pong"].contains(message.route.operation)
    }

    /// The key that orders messages for one object: later messages for the same key wait for earlier ones.
    public static func orderingKey(_ message: Message) -> String {
        message.route.resource
    }

    /// edgehub's keepalive (§2.5, captured §13.3).
    public static func keepalive() -> Message {
        Message(source: "websocket", group: "resource", operation: "keepalive", resource: "node",
                content: RawJSON(string: "ping"))
    }
}
