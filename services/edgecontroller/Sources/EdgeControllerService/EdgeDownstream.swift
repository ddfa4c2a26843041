import EdgeProtocol

/// Which objects each edge node must have, and the messages that get them there (KubeEdge's edgecontroller
/// downstream, wire reference §4.2): pods bound to an edge node, and the configmaps and secrets those pods use.
/// Pure: fed with API events, it answers with messages for `ke/node/{node}/down`; it remembers what each node was
/// sent (persisted by the caller) so that a relist after a restart finds deletions it missed.
public struct EdgeDownstream: Sendable {
    public struct Outgoing: Sendable, Equatable {
        public var node: String
        public var message: Message
    }

    /// What a node was sent for one resource (`{ns}/{type}/{name}`).
    public struct Sent: Sendable, Codable, Equatable {
        public var resourceVersion: String
        public var uid: String
    }

    public static let edgeLabel = "node-role.kubernetes.io/edge"
    public static let source = "edgecontroller"

    public private(set) var edgeNodes: Set<String> = []
    /// Pods by `ns/name`.
    var pods: [String: JSONValue] = [:]
    var configMaps: [String: JSONValue] = [:]
    var secrets: [String: JSONValue] = [:]
    /// node → resource → what it was sent.
    public var sent: [String: [String: Sent]] = [:]

    public init() {}

    static func key(_ object: JSONValue) -> String? {
        guard let name = object.string(at: "metadata.name") else { return nil }
        return (object.string(at: "metadata.namespace") ?? "default") + "/" + name
    }

    static func resource(_ object: JSONValue, type: String) -> String? {
        guard let name = object.string(at: "metadata.name") else { return nil }
        return "\(object.string(at: "metadata.namespace") ?? "default")/\(type)/\(name)"
    }

    static func isEdgeNode(_ node: JSONValue) -> Bool {
        node[path: ["metadata", "labels", edgeLabel]] != nil
    }

    // MARK: Nodes

    public mutating func resyncNodes(_ nodes: [JSONValue]) -> [Outgoing] {
        let names = Set(nodes.filter(Self.isEdgeNode).compactMap { $0.string(at: "metadata.name") })
        let added = names.subtracting(edgeNodes)
        edgeNodes = names
        return added.sorted().flatMap { syncNode($0) }
    }

    public mutating func nodeChanged(_ node: JSONValue) -> [Outgoing] {
        guard let name = node.string(at: "metadata.name") else { return [] }
        if Self.isEdgeNode(node) {
            guard edgeNodes.insert(name).inserted else { return [] }
            return syncNode(name)
        }
        edgeNodes.remove(name)
        return []
    }

    public mutating func nodeDeleted(_ node: JSONValue) -> [Outgoing] {
        guard let name = node.string(at: "metadata.name") else { return [] }
        edgeNodes.remove(name)
        sent[name] = nil
        // cloudhub ends the node's session on this message (it is not forwarded).
        return [Outgoing(node: name, message: Message(source: Self.source, group: "resource", operation: "delete",
                                                      resource: "namespace/node/\(name)"))]
    }

    /// Everything a node that just became an edge node should have.
    mutating func syncNode(_ node: String) -> [Outgoing] {
        pods.values.filter { $0.string(at: "spec.nodeName") == node }
            .sorted { (Self.key($0) ?? "") < (Self.key($1) ?? "") }
            .flatMap { sendPod($0, to: node) }
    }

    // MARK: Pods

    public mutating func resyncPods(_ items: [JSONValue]) -> [Outgoing] {
        pods = Dictionary(items.compactMap { pod in Self.key(pod).map { ($0, pod) } }) { $1 }
        var out: [Outgoing] = []
        // Pods a node was sent that are gone (deleted while we were not watching).
        for (node, resources) in sent.sorted(by: { $0.key < $1.key }) {
            for (resource, was) in resources.sorted(by: { $0.key < $1.key }) where ObjectResource.type(of: resource) == "pod" {
                let parts = resource.split(separator: "/")
                let current = pods["\(parts[0])/\(parts[2])"]
                if current == nil || current?.string(at: "spec.nodeName") != node
                    || current?.string(at: "metadata.uid") != was.uid {
                    out.append(deletePod(resource: resource, uid: was.uid, node: node, object: nil))
                }
            }
        }
        for pod in items.sorted(by: { (Self.key($0) ?? "") < (Self.key($1) ?? "") }) {
            if let node = pod.string(at: "spec.nodeName"), edgeNodes.contains(node) {
                out += sendPod(pod, to: node)
            }
        }
        return out
    }

    public mutating func podChanged(_ pod: JSONValue) -> [Outgoing] {
        guard let key = Self.key(pod) else { return [] }
        let previous = pods[key]
        pods[key] = pod
        var out: [Outgoing] = []
        // Re-bound elsewhere (not done by kube, but by a delete + create of the same name): the old node drops it.
        if let oldNode = previous?.string(at: "spec.nodeName"), oldNode != pod.string(at: "spec.nodeName"),
           let resource = Self.resource(pod, type: "pod"), let was = sent[oldNode]?[resource] {
            out.append(deletePod(resource: resource, uid: was.uid, node: oldNode, object: previous))
        }
        guard let node = pod.string(at: "spec.nodeName"), edgeNodes.contains(node) else { return out }
        return out + sendPod(pod, to: node)
    }

    public mutating func podDeleted(_ pod: JSONValue) -> [Outgoing] {
        guard let key = Self.key(pod), let resource = Self.resource(pod, type: "pod") else { return [] }
        pods[key] = nil
        guard let node = pod.string(at: "spec.nodeName"), sent[node]?[resource] != nil else { return [] }
        return [deletePod(resource: resource, uid: pod.string(at: "metadata.uid") ?? "", node: node, object: pod)]
    }

    mutating func deletePod(resource: String, uid: String, node: String, object: JSONValue?) -> Outgoing {
        sent[node]?[resource] = nil
        let parts = resource.split(separator: "/").map(String.init)
        let content = object.map(Self.withKind(apiVersion: "v1", kind: "Pod"))
            ?? .object([("metadata", .object([("name", .string(parts[2])), ("namespace", .string(parts[0])),
                                              ("uid", .string(uid))]))])
        return Outgoing(node: node, message: Message(source: Self.source, group: "resource", operation: "delete",
                                                     resource: resource, content: (try? RawJSON(content)) ?? .null))
    }

    /// The pod, after the configmaps and secrets it uses (so that the node has them when it starts the pod).
    mutating func sendPod(_ pod: JSONValue, to node: String) -> [Outgoing] {
        guard Self.resource(pod, type: "pod") != nil else { return [] }
        var out: [Outgoing] = []
        let namespace = pod.string(at: "metadata.namespace") ?? "default"
        let refs = PodReferences(pod)
        for name in refs.configMaps.sorted() {
            if let object = configMaps["\(namespace)/\(name)"] { out += send(object, type: "configmap", to: node) }
        }
        for name in refs.secrets.sorted() {
            if let object = secrets["\(namespace)/\(name)"] { out += send(object, type: "secret", to: node) }
        }
        return out + send(pod, type: "pod", to: node)
    }

    /// An insert (first time) or update (afterwards) carrying the object and its resourceVersion; nothing when
    /// the node already has this version.
    mutating func send(_ object: JSONValue, type: String, to node: String) -> [Outgoing] {
        guard let resource = Self.resource(object, type: type) else { return [] }
        let rv = object.string(at: "metadata.resourceVersion") ?? ""
        let uid = object.string(at: "metadata.uid") ?? ""
        let previous = sent[node]?[resource]
        if let previous, previous.resourceVersion == rv, previous.uid == uid { return [] }
        sent[node, default: [:]][resource] = Sent(resourceVersion: rv, uid: uid)
        // KubeEdge sends secrets as `update` whether new or changed (`syncSecret`).
        let operation = previous == nil && type != "secret" ? "insert" : "update"
        let kind: (String, String) = switch type {
        case "pod": ("v1", "Pod")
        case "configmap": ("v1", "ConfigMap")
        default: ("v1", "Secret")
        }
        let content = Self.withKind(apiVersion: kind.0, kind: kind.1)(object)
        return [Outgoing(node: node, message: Message(source: Self.source, group: "resource", operation: operation,
                                                      resource: resource, content: (try? RawJSON(content)) ?? .null,
                                                      resourceVersion: rv))]
    }

    static func withKind(apiVersion: String, kind: String) -> (JSONValue) -> JSONValue {
        { object in
            var copy = object
            if copy["apiVersion"] == nil { copy[member: "apiVersion"] = .string(apiVersion) }
            if copy["kind"] == nil { copy[member: "kind"] = .string(kind) }
            return copy
        }
    }

    // MARK: ConfigMaps and Secrets

    public mutating func resyncConfig(_ items: [JSONValue], type: String) -> [Outgoing] {
        let map = Dictionary(items.compactMap { item in Self.key(item).map { ($0, item) } }) { $1 }
        if type == "configmap" { configMaps = map } else { secrets = map }
        var out: [Outgoing] = []
        for item in items.sorted(by: { (Self.key($0) ?? "") < (Self.key($1) ?? "") }) { out += configChanged(item, type: type) }
        return out
    }

    public mutating func configChanged(_ object: JSONValue, type: String) -> [Outgoing] {
        guard let key = Self.key(object) else { return [] }
        if type == "configmap" { configMaps[key] = object } else { secrets[key] = object }
        // Only to nodes whose pods use it.
        return nodesUsing(key: key, type: type).sorted().flatMap { send(object, type: type, to: $0) }
    }

    public mutating func configDeleted(_ object: JSONValue, type: String) -> [Outgoing] {
        guard let key = Self.key(object), let resource = Self.resource(object, type: type) else { return [] }
        if type == "configmap" { configMaps[key] = nil } else { secrets[key] = nil }
        var out: [Outgoing] = []
        for node in sent.keys.sorted() where sent[node]?[resource] != nil {
            sent[node]?[resource] = nil
            out.append(Outgoing(node: node, message: Message(
                source: Self.source, group: "resource", operation: "delete", resource: resource,
                content: (try? RawJSON(object)) ?? .null)))
        }
        return out
    }

    func nodesUsing(key: String, type: String) -> Set<String> {
        let parts = key.split(separator: "/", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { return [] }
        var nodes: Set<String> = []
        for pod in pods.values {
            guard let node = pod.string(at: "spec.nodeName"), edgeNodes.contains(node),
                  (pod.string(at: "metadata.namespace") ?? "default") == parts[0] else { continue }
            let refs = PodReferences(pod)
            if (type == "configmap" ? refs.configMaps : refs.secrets).contains(parts[1]) { nodes.insert(node) }
        }
        return nodes
    }
}

/// The configmaps and secrets a pod uses: volumes (also projected), env and envFrom of every container, image
/// pull secrets.
public struct PodReferences: Sendable, Equatable {
    public var configMaps: Set<String> = []
    public var secrets: Set<String> = []

    public init(_ pod: JSONValue) {
        let spec = pod["spec"] ?? .null
        for volume in spec["volumes"]?.arrayValue ?? [] {
            if let name = volume.string(at: "configMap.name") { configMaps.insert(name) }
            if let name = volume.string(at: "secret.secretName") { secrets.insert(name) }
            for source in volume[path: ["projected", "sources"]]?.arrayValue ?? [] {
                if let name = source.string(at: "configMap.name") { configMaps.insert(name) }
                if let name = source.string(at: "secret.name") { secrets.insert(name) }
            }
        }
        let containers = (spec["containers"]?.arrayValue ?? []) + (spec["initContainers"]?.arrayValue ?? [])
        for container in containers {
            for env in container["env"]?.arrayValue ?? [] {
                if let name = env.string(at: "valueFrom.configMapKeyRef.name") { configMaps.insert(name) }
                if let name = env.string(at: "valueFrom.secretKeyRef.name") { secrets.insert(name) }
            }
            for from in container["envFrom"]?.arrayValue ?? [] {
                if let name = from.string(at: "configMapRef.name") { configMaps.insert(name) }
                if let name = from.string(at: "secretRef.name") { secrets.insert(name) }
            }
        }
        for ref in spec["imagePullSecrets"]?.arrayValue ?? [] {
            if let name = ref.string(at: "name") { secrets.insert(name) }
        }
    }
}
