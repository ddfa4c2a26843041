import EdgeProtocol
import Foundation

/// KubeEdge's router rules (`rules.kubeedge.io/v1` Rule and RuleEndpoint, `cloud/pkg/router`), as pure values: which
/// rule a REST call matches, what to send to a node, which edge uploads go to which URL.
public struct RuleTable: Sendable {
    public enum EndpointType: String, Sendable { case rest, eventbus, servicebus }

    public struct Endpoint: Sendable, Equatable {
        public var type: EndpointType
        public var properties: [String: String]
    }

    public struct Rule: Sendable, Equatable {
        public var namespace: String
        public var name: String
        public var source: String
        public var sourceResource: [String: String]
        public var target: String
        public var targetResource: [String: String]
        public var key: String { namespace + "/" + name }
    }

    /// What a valid rule does.
    public enum Flow: Sendable, Equatable {
        /// `POST /{node}/{ns}/{path}` → publish on the node's device broker.
        case restToEventbus(path: String, topic: String)
        /// `ANY /{node}/{ns}/{path}` → the edge app on `127.0.0.1:{port}{targetPath}`.
        case restToServicebus(path: String, port: Int, targetPath: String)
        /// An edge app's publish on `{ns}/{topic}` on `node` → `POST url`.
        case eventbusToRest(node: String, topic: String, url: String)
        /// An edge app's call through servicebus's local port for `targetURL` → `url`.
        case servicebusToRest(node: String, targetURL: String, url: String)
    }

    public private(set) var endpoints: [String: Endpoint] = [:]
    public private(set) var rules: [String: Rule] = [:]

    public init() {}

    // MARK: objects

    public static func key(_ object: JSONValue) -> String {
        (object.string(at: "metadata.namespace") ?? "default") + "/" + (object.string(at: "metadata.name") ?? "")
    }

    public mutating func setEndpoint(_ object: JSONValue) {
        guard let type = object.string(at: "spec.ruleEndpointType").flatMap(EndpointType.init) else {
            endpoints[Self.key(object)] = nil
            return
        }
        endpoints[Self.key(object)] = Endpoint(type: type, properties: Self.strings(object[path: ["spec", "properties"]]))
    }

    public mutating func removeEndpoint(_ object: JSONValue) { endpoints[Self.key(object)] = nil }

    public mutating func setRule(_ object: JSONValue) {
        rules[Self.key(object)] = Rule(
            namespace: object.string(at: "metadata.namespace") ?? "default", name: object.string(at: "metadata.name") ?? "",
            source: object.string(at: "spec.source") ?? "", sourceResource: Self.strings(object[path: ["spec", "sourceResource"]]),
            target: object.string(at: "spec.target") ?? "", targetResource: Self.strings(object[path: ["spec", "targetResource"]]))
    }

    public mutating func removeRule(_ object: JSONValue) { rules[Self.key(object)] = nil }

    public mutating func replaceAll(rules ruleObjects: [JSONValue]? = nil, endpoints endpointObjects: [JSONValue]? = nil) {
        if let endpointObjects {
            endpoints = [:]
            for object in endpointObjects { setEndpoint(object) }
        }
        if let ruleObjects {
            rules = [:]
            for object in ruleObjects { setRule(object) }
        }
    }

    static func strings(_ value: JSONValue?) -> [String: String] {
        var out: [String: String] = [:]
        for (key, value) in value?.objectMembers ?? [] {
            out[key] = value.stringValue ?? value.int64Value.map(String.init)
        }
        return out
    }

    // MARK: what a rule does

    /// The rule's flow, or why it cannot work (shown in its status). Endpoints are looked up in the rule's namespace.
    public func flow(of rule: Rule) -> Result<Flow, RuleError> {
        guard let source = endpoints[rule.namespace + "/" + rule.source] else {
            return .failure(RuleError("source endpoint '\(rule.source)' does not exist in namespace \(rule.namespace)"))
        }
        guard let target = endpoints[rule.namespace + "/" + rule.target] else {
            return .failure(RuleError("target endpoint '\(rule.target)' does not exist in namespace \(rule.namespace)"))
        }
        func need(_ map: [String: String], _ key: String, _ what: String) -> Result<String, RuleError> {
            guard let value = map[key], !value.isEmpty else { return .failure(RuleError("\(what) needs '\(key)'")) }
            return .success(value)
        }
        do {
            switch (source.type, target.type) {
            case (.rest, .eventbus):
                return .success(.restToEventbus(
                    path: Self.normalize(try need(rule.sourceResource, "path", "sourceResource").get()),
                    topic: try need(rule.targetResource, "topic", "targetResource").get()))
            case (.rest, .servicebus):
                let portText = target.properties["service_port"] ?? ""
                guard let port = Int(portText), (1...65535).contains(port) else {
                    return .failure(RuleError("servicebus endpoint '\(rule.target)' needs properties.service_port (got '\(portText)')"))
                }
                var targetPath = try need(rule.targetResource, "path", "targetResource").get()
                if !targetPath.hasPrefix("/") { targetPath = "/" + targetPath }
                return .success(.restToServicebus(
                    path: Self.normalize(try need(rule.sourceResource, "path", "sourceResource").get()),
                    port: port, targetPath: targetPath))
            case (.eventbus, .rest):
                let url = try need(rule.targetResource, "resource", "targetResource").get()
                guard URLParts.valid(url) else { return .failure(RuleError("targetResource.resource '\(url)' is not an http(s) URL")) }
                return .success(.eventbusToRest(
                    node: try need(rule.sourceResource, "node_name", "sourceResource").get(),
                    topic: try need(rule.sourceResource, "topic", "sourceResource").get(), url: url))
            case (.servicebus, .rest):
                let url = try need(rule.targetResource, "resource", "targetResource").get()
                guard URLParts.valid(url) else { return .failure(RuleError("targetResource.resource '\(url)' is not an http(s) URL")) }
                return .success(.servicebusToRest(
                    node: try need(rule.sourceResource, "node_name", "sourceResource").get(),
                    targetURL: try need(rule.sourceResource, "target_url", "sourceResource").get(), url: url))
            default:
                return .failure(RuleError("a rule from \(source.type.rawValue) to \(target.type.rawValue) is not supported"))
            }
        } catch {
            return .failure(error)
        }
    }

    /// `/a/b/` → `a/b` (KubeEdge's normalizeResource).
    static func normalize(_ path: String) -> String {
        path.split(separator: "/", omittingEmptySubsequences: true).joined(separator: "/")
    }

    // MARK: REST calls

    /// A REST call taken apart: `/{node}/{namespace}/{path…}[?query]`.
    public struct Call: Sendable, Equatable {
        public var node: String
        public var namespace: String
        public var path: String
        public var query: String

        public init(node: String, namespace: String, path: String, query: String) {
            self.node = node
            self.namespace = namespace
            self.path = path
            self.query = query
        }
    }

    public static func parse(uri: String) -> Call? {
        let (pathPart, query) = uri.firstIndex(of: "?").map { (String(uri[..<$0]), String(uri[$0...])) } ?? (uri, "")
        let segments = pathPart.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard segments.count >= 3 else { return nil }
        return Call(node: segments[0], namespace: segments[1], path: segments.dropFirst(2).joined(separator: "/"),
                    query: query)
    }

    /// The rule a REST call matches: a REST-sourced rule of the call's namespace whose path is the call's path or a
    /// prefix of it at a segment boundary (`{x}` matches one segment); the longest wins. `param` is what follows.
    public func match(_ call: Call) -> (rule: Rule, flow: Flow, param: String)? {
        var best: (rule: Rule, flow: Flow, param: String, length: Int)?
        for rule in rules.values where rule.namespace == call.namespace {
            guard case .success(let flow) = self.flow(of: rule) else { continue }
            let rulePath: String
            switch flow {
            case .restToEventbus(let path, _), .restToServicebus(let path, _, _): rulePath = path
            default: continue
            }
            guard let rest = Self.prefixMatch(rulePath, call.path) else { continue }
            if best == nil || rulePath.count > best!.length {
                best = (rule, flow, rest + call.query, rulePath.count)
            }
        }
        return best.map { ($0.rule, $0.flow, $0.param) }
    }

    /// What follows `pattern` in `path` (`""` or `/…`), or nil when it does not match.
    static func prefixMatch(_ pattern: String, _ path: String) -> String? {
        let want = pattern.split(separator: "/").map(String.init)
        let have = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard have.count >= want.count else { return nil }
        for (w, h) in zip(want, have) where !(w.hasPrefix("{") && w.hasSuffix("}")) && w != h { return nil }
        let rest = have.dropFirst(want.count)
        return rest.isEmpty ? "" : "/" + rest.joined(separator: "/")
    }

    /// `{topic}[/{param}]` (KubeEdge: the param is appended to the topic; the namespace is not).
    public static func topic(_ topic: String, param: String) -> String {
        param.isEmpty ? topic : topic.trimmingSuffix("/") + "/" + param.trimmingPrefix("/")
    }

    // MARK: edge → cloud

    /// The eventbus subscriptions and servicebus allowances every node needs for the rules.
    public func edgeRegistrations() -> [(node: String, message: Message)] {
        var out: [(String, Message)] = []
        for rule in rules.values.sorted(by: { $0.key < $1.key }) {
            switch flow(of: rule) {
            case .success(.eventbusToRest(let node, let topic, _)):
                out.append((node, Self.subscribe(namespace: rule.namespace, topic: topic)))
            case .success(.servicebusToRest(let node, let targetURL, _)):
                out.append((node, Self.allow(targetURL: targetURL)))
            default: continue
            }
        }
        return out
    }

    public static func subscribe(namespace: String, topic: String, unsubscribe: Bool = false) -> Message {
        Message(source: MessageSource.routerEventBus, group: MessageGroup.user.rawValue,
                operation: unsubscribe ? "unsubscribe" : "subscribe", resource: namespace + "/" + topic, content: .null)
    }

    public static func allow(targetURL: String, stop: Bool = false) -> Message {
        Message(source: MessageSource.routerServiceBus, group: MessageGroup.user.rawValue,
                operation: stop ? "stop" : "start", resource: targetURL, content: .null)
    }

    /// The rule an upload from `node` belongs to: an app's publish on `{ns}/{topic}` (source `bus`), or an app's call
    /// through servicebus for `targetURL` (source `servicebus`).
    public func rule(forUpload message: Message, from node: String) -> (rule: Rule, flow: Flow)? {
        for rule in rules.values {
            switch flow(of: rule) {
            case .success(let flow):
                switch flow {
                case .eventbusToRest(node, let topic, _)
                where message.route.source != MessageSource.serviceBus && message.route.resource == rule.namespace + "/" + topic:
                    return (rule, flow)
                case .servicebusToRest(node, let targetURL, _)
                where message.route.source == MessageSource.serviceBus && message.route.resource == targetURL:
                    return (rule, flow)
                default: continue
                }
            case .failure: continue
            }
        }
        return nil
    }
}

public struct RuleError: Error, Equatable, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

enum URLParts {
    static func valid(_ url: String) -> Bool { url.hasPrefix("http://") || url.hasPrefix("https://") }
}

extension String {
    fileprivate func trimmingSuffix(_ suffix: String) -> String { hasSuffix(suffix) ? String(dropLast(suffix.count)) : self }
    fileprivate func trimmingPrefix(_ prefix: String) -> String { hasPrefix(prefix) ? String(dropFirst(prefix.count)) : self }
}
