import ArgumentParser
import Bus
import EdgeProtocol
import Foundation
import KubeClient
import Logging
import ServiceKit
import Store
import ServiceLifecycle
import Synchronization

public enum EdgeController: ServiceDescription {
    public static let identity = ServiceIdentity(name: "edgecontroller", side: .cloud)
    public static let abstract = "Cloud: syncs nodes, pods, configmaps and secrets with edge nodes (KubeEdge edgecontroller)."
}

public struct EdgeControllerOptions: ParsableArguments, Sendable {
    @Option(name: .customLong("kubeconfig"),
            help: "Kubeconfig of the API server (default: $KUBECONFIG, else the embedded apiserver's admin.kubeconfig).")
    public var kubeconfig: String?

    @Option(name: .customLong("node-monitor-grace-seconds"),
            help: "A node whose link is down, or that sent no status, for this long is marked NotReady (Unknown).")
    public var nodeMonitorGraceSeconds: Int = 40

    public init() {}
}

public struct EdgeControllerCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "edgecontroller", abstract: EdgeController.abstract,
        discussion: """
            Watches edge nodes (label node-role.kubernetes.io/edge), the pods bound to them and the configmaps and \
            secrets those pods use, and sends each node what it needs (ke/node/<node>/down). Handles what the nodes \
            send (ke/node/<node>/up/edgecontroller): registration, node and pod status, leases, queries and pod \
            deletion; marks a node NotReady when it is silent or its link is down longer than the grace period.
            """)

    @OptionGroup public var options: BaseOptions
    @OptionGroup public var controller: EdgeControllerOptions

    public init() {}

    public func run() async throws {
        let controller = self.controller
        try await ServiceRunner.run(EdgeController.identity, options: options, services: { context in
            try await EdgeControllerServer(context: context, options: controller).services()
        })
    }
}

/// The running edgecontroller.
public final class EdgeControllerServer: Sendable {
    struct Health {
        var linkUp = false
        var linkChanged = ContinuousClock.now
        var lastStatus: ContinuousClock.Instant?
        var markedUnknown = false
    }

    let context: ServiceContext
    let options: EdgeControllerOptions
    let logger: Logger
    let downstream = Mutex(EdgeDownstream())
    let health = Mutex([String: Health]())
    let database: Mutex<SQLiteDatabase>

    static let nodes = GroupVersionResource(version: "v1", resource: "nodes")
    static let pods = GroupVersionResource(version: "v1", resource: "pods")
    static let events = GroupVersionResource(version: "v1", resource: "events")
    static let configMaps = GroupVersionResource(version: "v1", resource: "configmaps")
    static let secrets = GroupVersionResource(version: "v1", resource: "secrets")
    static let leases = GroupVersionResource(group: "coordination.k8s.io", version: "v1", resource: "leases")

    public init(context: ServiceContext, options: EdgeControllerOptions) throws {
        self.context = context
        self.options = options
        self.logger = context.logger
        try FileManager.default.createDirectory(atPath: context.config.dataDir, withIntermediateDirectories: true)
        let db = try SQLiteDatabase(path: context.config.dataDir + "/edgecontroller.db")
        try db.execute("CREATE TABLE IF NOT EXISTS sent(node TEXT NOT NULL, resource TEXT NOT NULL, rv TEXT NOT NULL, uid TEXT NOT NULL, PRIMARY KEY (node, resource)) WITHOUT ROWID")
        var sent: [String: [String: EdgeDownstream.Sent]] = [:]
        for (node, resource, rv, uid) in try db.query("SELECT node, resource, rv, uid FROM sent", [], row: { row in
            (row.string(0) ?? "", row.string(1) ?? "", row.string(2) ?? "", row.string(3) ?? "")
        }) {
            sent[node, default: [:]][resource] = .init(resourceVersion: rv, uid: uid)
        }
        downstream.withLock { $0.sent = sent }
        database = Mutex(db)
    }

    var kubeconfigPath: String { Kubeconfig.controllerPath(explicit: options.kubeconfig) }

    /// edgecontroller's parts, stopped in reverse order on SIGTERM: the watches and the node monitor are cancelled
    /// (a restart resumes them with a relist), then the node requests already received are answered.
    public func services() async throws -> [any Service] {
        let bus = context.bus
        try await bus.waitUntilConnected(timeout: .seconds(3600))
        try await bus.subscribe([Topics.fromAnyNode(.edgecontroller), Topics.anyNodeLink])
        let client = Eventual<KubeClient>()
        return [
            MessageLoopService(context) { message in try await self.handle(message, client: try await client.value()) },
            PartService.loop("node monitor") {
                let connected = try await KubeClient.waitingForKubeconfig(
                    path: self.kubeconfigPath, logger: self.logger, retry: .seconds(1))
                self.logger.info("serving", metadata: [
                    "kubeconfig": "\(self.kubeconfigPath)", "server": "\(connected.configuration.server)"])
                client.set(connected)
                try await self.monitorNodes(connected)
            },
        ] + [Self.nodes, Self.configMaps, Self.secrets, Self.pods].map { resource in
            PartService.loop("watch \(resource.resource)") { try await self.follow(resource, try await client.value()) }
        }
    }


    // MARK: Downstream

    func follow(_ resource: GroupVersionResource, _ client: KubeClient) async throws {
        let options = ListWatch.Options(maxBackoff: .seconds(5))
        for try await event in client.listWatch(resource, options: options) {
            let outgoing: [EdgeDownstream.Outgoing] = downstream.withLock { state in
                switch (resource.resource, event) {
                case ("nodes", .resync(let items, _)): return state.resyncNodes(items)
                case ("nodes", .added(let node)), ("nodes", .modified(let node)): return state.nodeChanged(node)
                case ("nodes", .deleted(let node)): return state.nodeDeleted(node)
                case ("pods", .resync(let items, _)): return state.resyncPods(items)
                case ("pods", .added(let pod)), ("pods", .modified(let pod)): return state.podChanged(pod)
                case ("pods", .deleted(let pod)): return state.podDeleted(pod)
                case (_, .resync(let items, _)): return state.resyncConfig(items, type: Self.type(of: resource))
                case (_, .added(let object)), (_, .modified(let object)):
                    return state.configChanged(object, type: Self.type(of: resource))
                case (_, .deleted(let object)): return state.configDeleted(object, type: Self.type(of: resource))
                }
            }
            try await send(outgoing)
        }
    }

    static func type(of resource: GroupVersionResource) -> String {
        resource.resource == "configmaps" ? "configmap" : "secret"
    }

    func send(_ outgoing: [EdgeDownstream.Outgoing]) async throws {
        guard !outgoing.isEmpty else { return }
        for item in outgoing {
            try await context.bus.publish(Topics.toNode(item.node), item.message)
            logger.debug("sent", metadata: ["node": "\(item.node)", "resource": "\(item.message.route.resource)",
                                            "operation": "\(item.message.route.operation)"])
        }
        try persist(nodes: Set(outgoing.map(\.node)))
    }

    func persist(nodes: Set<String>) throws {
        let snapshot = downstream.withLock { state in nodes.map { ($0, state.sent[$0] ?? [:]) } }
        try database.withLock { db in
            try db.transaction { db in
                for (node, resources) in snapshot {
                    _ = try db.run("DELETE FROM sent WHERE node = ?1", .text(node))
                    for (resource, sent) in resources {
                        _ = try db.run("INSERT INTO sent(node, resource, rv, uid) VALUES (?1, ?2, ?3, ?4)",
                                       .text(node), .text(resource), .text(sent.resourceVersion), .text(sent.uid))
                    }
                }
            }
        }
    }

    // MARK: Node health

    /// Marks nodes Ready=Unknown (kube's node lifecycle wording) when their link has been down, or they sent no
    /// status, for longer than the grace period; the node's next status sets it again.
    func monitorNodes(_ client: KubeClient) async throws {
        let grace = Duration.seconds(options.nodeMonitorGraceSeconds)
        while !Task.isCancelled {
            try await Task.sleep(for: .seconds(1))
            let now = ContinuousClock.now
            let edgeNodes = downstream.withLock { $0.edgeNodes }
            let stale: [(String, String)] = health.withLock { health in
                var stale: [(String, String)] = []
                for node in edgeNodes {
                    var entry = health[node] ?? Health()
                    defer { health[node] = entry }
                    guard !entry.markedUnknown else { continue }
                    if !entry.linkUp && now - entry.linkChanged > grace {
                        stale.append((node, "the node's link to the cloud is down"))
                        entry.markedUnknown = true
                    } else if let last = entry.lastStatus, now - last > grace {
                        stale.append((node, "Kubelet stopped posting node status."))
                        entry.markedUnknown = true
                    }
                }
                return stale
            }
            for (node, why) in stale { await markUnknown(node, reason: why, client: client) }
        }
    }

    func markUnknown(_ node: String, reason: String, client: KubeClient) async {
        let now = Date().formatted(.iso8601)
        let condition: JSONValue = [
            "type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown", "message": .string(reason),
            "lastTransitionTime": .string(now),
        ]
        let patch: JSONValue = ["status": ["conditions": [condition]]]
        do {
            _ = try await client.patch(Self.nodes, name: node, patch, type: .strategicMerge, subresource: "status")
            logger.warning("node marked NotReady", metadata: ["node": "\(node)", "reason": "\(reason)"])
        } catch {
            logger.error("could not mark the node NotReady", metadata: ["node": "\(node)", "error": "\(error)"])
            health.withLock { $0[node]?.markedUnknown = false }
        }
    }

    // MARK: Upstream

    func handle(_ message: BusMessage, client: KubeClient) async throws {
        let parts = message.topic.split(separator: "/").map(String.init)
        guard parts.count >= 4, parts[0] == "ke", parts[1] == "node" else { return }
        let node = parts[2]
        if parts[3] == "link" {
            let up = message.text == "connected"
            health.withLock { health in
                var entry = health[node] ?? Health()
                if entry.linkUp != up { entry.linkChanged = .now }
                entry.linkUp = up
                health[node] = entry
            }
            return
        }
        let envelope = try message.envelope()
        if let reply = await handleUpstream(envelope, node: node, client: client) {
            try await context.bus.publish(Topics.toNode(node), reply)
        }
    }

    func noteStatus(from node: String) {
        health.withLock { health in
            var entry = health[node] ?? Health()
            entry.lastStatus = .now
            entry.markedUnknown = false
            health[node] = entry
        }
    }

    /// One request from a node: do it against the API, and answer as KubeEdge's edgecontroller does (`UpstreamReply`:
    /// the same route for every answer, success or failure).
    /// A node's pod event (`{ns}/event/{name}`, KubeEdge's resource type `event`): created, or replaced when it is a
    /// repeat with a higher count. Failures are logged; events are best effort, as in kubelet.
    func recordEvent(_ request: Message, namespace: String, node: String, client: KubeClient) async {
        guard var event = try? request.content.parsed(), event.isObject else {
            logger.warning("event from the node is not an object", metadata: ["node": "\(node)", "resource": "\(request.route.resource)"])
            return
        }
        event[member: "metadata"]?[member: "resourceVersion"] = nil
        do {
            if request.route.operation == "insert" {
                do {
                    _ = try await client.create(Self.events, namespace: namespace, event)
                } catch let error as KubeError where error.isAlreadyExists {
                    _ = try await client.update(Self.events, namespace: namespace, event)
                }
            } else {
                do {
                    _ = try await client.update(Self.events, namespace: namespace, event)
                } catch let error as KubeError where error.isNotFound {
                    _ = try await client.create(Self.events, namespace: namespace, event)
                }
            }
        } catch {
            logger.warning("event from the node not recorded", metadata: [
                "node": "\(node)", "resource": "\(request.route.resource)", "error": "\(error)",
            ])
        }
    }

    func handleUpstream(_ request: Message, node: String, client: KubeClient) async -> Message? {
        let resource = request.route.resource
        let parts = resource.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        let operation = request.route.operation
        if parts.count >= 3, parts[1] == "event", ["insert", "update"].contains(operation) {
            await recordEvent(request, namespace: parts[0], node: node, client: client)
            return nil  // as KubeEdge (v1.19, where events came in): no answer to the edge
        }
        guard parts.count >= 3, let kind = UpstreamReply.Request(type: parts[1], operation: operation) else {
            if !["response", "error"].contains(operation) {
                // cloudcore logs these and answers nothing; the edge's own timeout takes over.
                logger.warning("unsupported request from the node", metadata: [
                    "node": "\(node)", "resource": "\(resource)", "operation": "\(operation)",
                ])
            }
            return nil
        }
        let namespace = parts[0], name = parts[2]
        let content = (try? request.content.parsed()) ?? .null
        do {
            let object: JSONValue?
            switch kind {
            case .registerNode:
                object = try await registerNode(content, name: name, client: client)
                noteStatus(from: name)
            case .queryNode:
                object = try await client.get(Self.nodes, name: name)
            case .updateNode:
                object = try await mergeNodeMetadata(content, name: name, client: client)
            case .patchNodeStatus:
                object = try await client.patch(Self.nodes, name: name, try Self.patchBody(content), type: .strategicMerge,
                                                subresource: "status")
                noteStatus(from: name)
            case .patchPodStatus:
                object = try await client.patch(Self.pods, namespace: namespace, name: name, try Self.patchBody(content),
                                                type: .strategicMerge, subresource: "status")
            case .createMirrorPod:
                // Only a mirror pod of a static pod on that very node, as kube's NodeRestriction allows a kubelet.
                guard content[path: ["metadata", "annotations", "kubernetes.io/config.mirror"]] != nil,
                      content.string(at: "spec.nodeName") == node else {
                    logger.warning("refused a pod creation from a node that is not its mirror pod",
                                   metadata: ["node": "\(node)", "pod": "\(namespace)/\(name)"])
                    return UpstreamReply.failure(to: request, kind, error: KubeError.api(KubeStatus(
                        code: 403, reason: "Forbidden", message: "node \(node) may only create mirror pods bound to itself")))
                }
                do {
                    object = try await client.create(Self.pods, namespace: namespace, content)
                    logger.info("mirror pod created", metadata: ["node": "\(node)", "pod": "\(namespace)/\(name)"])
                } catch let error as KubeError where error.isAlreadyExists {
                    object = try await client.get(Self.pods, namespace: namespace, name: name)
                }
            case .deletePod:
                // The node has stopped the pod's containers: finish the graceful deletion.
                let uid = content.string(at: "preconditions.uid") ?? content.stringValue
                let grace = content["gracePeriodSeconds"]?.int64Value.map(Int.init) ?? 0
                _ = try await client.delete(Self.pods, namespace: namespace, name: name, gracePeriodSeconds: grace,
                                            preconditions: uid.map { Preconditions(uid: $0) })
                logger.info("pod deletion confirmed by the node", metadata: ["node": "\(node)", "pod": "\(namespace)/\(name)"])
                object = nil
            case .putLease:
                object = try await putLease(content, namespace: namespace, name: name, client: client)
                noteStatus(from: node)
            case .queryLease:
                object = try await client.get(Self.leases, namespace: namespace, name: name)
            case .queryObject(let type):
                object = try await client.get(type == "secret" ? Self.secrets : Self.configMaps, namespace: namespace,
                                              name: name)
            }
            return UpstreamReply.success(to: request, kind, object: object)
        } catch {
            let reply = UpstreamReply.failure(to: request, kind, error: error)
            logger.warning("request from the node failed", metadata: [
                "node": "\(node)", "resource": "\(resource)", "operation": "\(operation)", "error": "\(error)",
                "answered": "\(reply != nil)",
            ])
            return reply
        }
    }

    /// A JSON-patch-text content (`nodepatch`, `podpatch` send the patch as a JSON string).
    static func patchBody(_ content: JSONValue) throws -> JSONValue {
        if case .string(let text) = content { return try JSONValue(parsing: Array(text.utf8)) }
        return content
    }

    /// Creates the node (labelled as an edge node), or, when it exists, takes the node's labels and status.
    func registerNode(_ node: JSONValue, name: String, client: KubeClient) async throws -> JSONValue {
        var node = node
        node[path: ["metadata", "labels", EdgeDownstream.edgeLabel]] = ""
        node[member: "apiVersion"] = "v1"
        node[member: "kind"] = "Node"
        node[path: ["metadata", "resourceVersion"]] = nil
        node[path: ["metadata", "uid"]] = nil
        do {
            _ = try await client.create(Self.nodes, node)
            logger.info("node registered", metadata: ["node": "\(name)"])
        } catch let error as KubeError where error.isAlreadyExists || error.isConflict {
            try await mergeNodeMetadata(node, name: name, client: client)
        }
        // The node's own status, also for a node that existed (edged restarted, or re-registers after a deletion).
        guard let status = node["status"] else { return try await client.get(Self.nodes, name: name) }
        return try await client.patch(Self.nodes, name: name, ["status": status], type: .merge, subresource: "status")
    }

    /// Takes the node's labels and annotations; returns the node as it is now.
    @discardableResult
    func mergeNodeMetadata(_ node: JSONValue, name: String, client: KubeClient) async throws -> JSONValue {
        var metadata: [(key: String, value: JSONValue)] = []
        if let labels = node[path: ["metadata", "labels"]] { metadata.append(("labels", labels)) }
        if let annotations = node[path: ["metadata", "annotations"]] { metadata.append(("annotations", annotations)) }
        guard !metadata.isEmpty else { return try await client.get(Self.nodes, name: name) }
        return try await client.patch(Self.nodes, name: name, .object([("metadata", .object(metadata))]), type: .merge)
    }

    func putLease(_ lease: JSONValue, namespace: String, name: String, client: KubeClient) async throws -> JSONValue {
        var lease = lease
        lease[member: "apiVersion"] = "coordination.k8s.io/v1"
        lease[member: "kind"] = "Lease"
        lease[path: ["metadata", "resourceVersion"]] = nil
        do {
            return try await client.patch(Self.leases, namespace: namespace, name: name,
                                          ["spec": lease["spec"] ?? .object([])], type: .merge)
        } catch let error as KubeError where error.isNotFound {
            lease[path: ["metadata", "namespace"]] = .string(namespace)
            lease[path: ["metadata", "name"]] = .string(name)
            return try await client.create(Self.leases, namespace: namespace, lease)
        }
    }
}
