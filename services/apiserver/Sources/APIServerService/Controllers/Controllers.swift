// The controllers a single-host cluster needs, run inside the API server on its own store (as k3s embeds
// kube-controller-manager and the scheduler): the scheduler, the Deployment controller, the pod grace-period
// reaper and the namespace terminator. Each one lists, then follows the event log; a failed step is logged and
// retried on the next event.

import EdgeProtocol
import Foundation
import Logging
import Synchronization

/// Follows one resource: `body` gets every object first (`initial`), then each event.
struct ResourceFollower {
    enum Change {
        case initial([JSONValue])
        case event(EventType, JSONValue)
    }

    let core: APICore
    let info: ResourceInfo

    func run(_ body: (Change) async throws -> Void) async throws {
        while !Task.isCancelled {
            let list = try core.list(info, namespace: nil)
            try await body(.initial(list.items))
            do {
                for try await event in try core.store.watch(resource: info.storageKey, after: list.resourceVersion) {
                    guard event.type != .bookmark else { continue }
                    try await body(.event(event.type, try core.decode(event.object, as: info)))
                }
                return  // cancelled
            } catch StoreError.gone {
                continue  // compaction overtook us: relist
            }
        }
    }
}

public final class Controllers: Sendable {
    let core: APICore
    let logger: Logger
    let reaperInterval: Duration

    public init(core: APICore, logger: Logger, reaperInterval: Duration = .seconds(1)) {
        self.core = core
        self.logger = logger
        self.reaperInterval = reaperInterval
    }

    static let nodesInfo = BuiltinResources.all.first { $0.plural == "nodes" }!
    static let deploymentsInfo = BuiltinResources.all.first { $0.plural == "deployments" }!

    /// Runs every controller until cancelled.
    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.keep("scheduler") { try await self.runScheduler() } }
            group.addTask { await self.keep("deployments") { try await self.runDeployments() } }
            group.addTask { await self.keep("pod-reaper") { try await self.runPodReaper() } }
            group.addTask { await self.keep("namespaces") { try await self.runNamespaces() } }
            await group.waitForAll()
        }
    }

    /// Restarts a controller loop that failed (after a pause), until cancelled.
    private func keep(_ name: String, _ loop: @escaping @Sendable () async throws -> Void) async {
        while !Task.isCancelled {
            do {
                try await loop()
            } catch is CancellationError {
                return
            } catch {
                logger.error("controller failed; restarting", metadata: ["controller": "\(name)", "error": "\(error)"])
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    // MARK: Scheduler

    /// What the scheduler knows from following pods: which are waiting for a node, and how many each node runs.
    struct SchedulerView {
        var pending: Set<ObjectKey> = []
        var nodeOfPod: [ObjectKey: String] = [:]
        var load: [String: Int] = [:]

        mutating func record(_ pod: JSONValue, deleted: Bool = false) {
            let key = ObjectKey(resource: "pods", namespace: pod.string(at: "metadata.namespace") ?? "",
                                name: pod.string(at: "metadata.name") ?? "")
            if let old = nodeOfPod.removeValue(forKey: key) { load[old, default: 1] -= 1 }
            pending.remove(key)
            guard !deleted else { return }
            let node = pod.string(at: "spec.nodeName") ?? ""
            if !node.isEmpty {
                nodeOfPod[key] = node
                load[node, default: 0] += 1
            } else if pod[path: ["metadata", "deletionTimestamp"]] == nil {
                pending.insert(key)
            }
        }
    }

    private func runScheduler() async throws {
        // Pods and nodes both matter: a new Ready node can take the pods that were pending. The pod follower keeps
        // the view current, so a pass only reads the pending pods and the nodes.
        let wake = PendingSignal()
        let view = Locked(SchedulerView())
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await ResourceFollower(core: self.core, info: APICore.podsInfo).run { change in
                    let hasPending = view.withLock { view -> Bool in
                        switch change {
                        case .initial(let pods):
                            view = SchedulerView()
                            for pod in pods { view.record(pod) }
                        case .event(let type, let pod):
                            view.record(pod, deleted: type == .deleted)
                        }
                        return !view.pending.isEmpty
                    }
                    if hasPending { wake.signal() }
                }
            }
            group.addTask {
                try await ResourceFollower(core: self.core, info: Self.nodesInfo).run { _ in wake.signal() }
            }
            group.addTask {
                while !Task.isCancelled {
                    await wake.wait()
                    let (pending, load) = view.withLock { ($0.pending, $0.load) }
                    self.schedule(pending, load: load)
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }

    func schedule(_ pending: Set<ObjectKey>, load: [String: Int]) {
        guard !pending.isEmpty, let nodes = try? core.list(Self.nodesInfo, namespace: nil).items else { return }
        var load = load
        for key in pending.sorted(by: { ($0.namespace, $0.name) < ($1.namespace, $1.name) }) {
            guard let pod = try? core.get(APICore.podsInfo, namespace: key.namespace, name: key.name),
                  (pod.string(at: "spec.nodeName") ?? "").isEmpty,
                  pod[path: ["metadata", "deletionTimestamp"]] == nil else { continue }
            let name = key.name, namespace = key.namespace
            switch SchedulerRules.choose(pod: pod, nodes: nodes, load: load) {
            case .node(let node):
                do {
                    try Scheduling.bind(core, namespace: namespace, pod: name,
                                        binding: ["target": ["kind": "Node", "name": .string(node)]])
                    load[node, default: 0] += 1
                    setScheduledCondition(namespace, name, status: "True", reason: nil, message: nil)
                    logger.info("pod scheduled", metadata: ["pod": "\(namespace)/\(name)", "node": "\(node)"])
                } catch {
                    logger.warning("binding failed", metadata: ["pod": "\(namespace)/\(name)", "error": "\(error)"])
                }
            case .unschedulable(let message):
                let current = (pod[path: ["status", "conditions"]]?.arrayValue ?? [])
                    .first { $0["type"]?.stringValue == "PodScheduled" }
                if current?["message"]?.stringValue != message {
                    setScheduledCondition(namespace, name, status: "False", reason: "Unschedulable", message: message)
                    logger.info("pod unschedulable", metadata: ["pod": "\(namespace)/\(name)", "reason": "\(message)"])
                }
            }
        }
    }

    private func setScheduledCondition(_ namespace: String, _ name: String, status: String, reason: String?,
                                       message: String?) {
        _ = try? core.modify(APICore.podsInfo, namespace: namespace, name: name, precondition: nil,
                             subresource: "status", options: WriteOptions()) { current in
            var pod = current
            var condition: JSONValue = ["type": "PodScheduled", "status": .string(status),
                                        "lastProbeTime": .null, "lastTransitionTime": .string(APICore.now())]
            if let reason { condition[member: "reason"] = .string(reason) }
            if let message { condition[member: "message"] = .string(message) }
            var conditions = (pod[path: ["status", "conditions"]]?.arrayValue ?? [])
                .filter { $0["type"]?.stringValue != "PodScheduled" }
            conditions.append(condition)
            pod[path: ["status", "conditions"]] = .array(conditions)
            return pod
        }
    }

    // MARK: Deployments

    private func runDeployments() async throws {
        let dirty = PendingSignal()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await ResourceFollower(core: self.core, info: Self.deploymentsInfo).run { _ in dirty.signal() }
            }
            group.addTask {
                try await ResourceFollower(core: self.core, info: APICore.podsInfo).run { change in
                    if case .event(_, let pod) = change,
                       !(pod[path: ["metadata", "ownerReferences"]]?.arrayValue ?? []).contains(where: {
                           $0["kind"]?.stringValue == "Deployment"
                       }) { return }
                    dirty.signal()
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    await dirty.wait()
                    self.reconcileDeployments()
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }

    func reconcileDeployments() {
        guard let deployments = try? core.list(Self.deploymentsInfo, namespace: nil).items,
              let pods = try? core.list(APICore.podsInfo, namespace: nil).items else { return }
        for deployment in deployments {
            do {
                try DeploymentRules.reconcile(deployment, pods: pods, core: core, logger: logger)
            } catch {
                logger.warning("deployment reconcile failed", metadata: [
                    "deployment": "\(deployment.string(at: "metadata.namespace") ?? "")/\(deployment.string(at: "metadata.name") ?? "")",
                    "error": "\(error)",
                ])
            }
        }
    }

    // MARK: Pod grace periods

    /// Removes pods whose grace period ended without their node confirming. The deadlines come from following
    /// pods; the periodic check only looks at them.
    private func runPodReaper() async throws {
        let deadlines = Locked<[ObjectKey: Date]>([:])
        func record(_ pod: JSONValue, deleted: Bool) -> (ObjectKey, Date?) {
            let key = ObjectKey(resource: "pods", namespace: pod.string(at: "metadata.namespace") ?? "",
                                name: pod.string(at: "metadata.name") ?? "")
            let deadline = deleted ? nil : pod.string(at: "metadata.deletionTimestamp").flatMap(Self.parseTime)
            return (key, deadline)
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await ResourceFollower(core: self.core, info: APICore.podsInfo).run { change in
                    deadlines.withLock { deadlines in
                        switch change {
                        case .initial(let pods):
                            deadlines = [:]
                            for pod in pods {
                                let (key, deadline) = record(pod, deleted: false)
                                deadlines[key] = deadline
                            }
                        case .event(let type, let pod):
                            let (key, deadline) = record(pod, deleted: type == .deleted)
                            deadlines[key] = deadline
                        }
                    }
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    try await Task.sleep(for: self.reaperInterval)
                    let now = Date()
                    let expired = deadlines.withLock { $0.filter { $0.value <= now }.map(\.key) }
                    for key in expired {
                        if case .deleted? = try? self.core.delete(APICore.podsInfo, namespace: key.namespace,
                                                                  name: key.name,
                                                                  options: DeleteOptions(gracePeriodSeconds: 0)) {
                            self.logger.info("pod removed after its grace period",
                                             metadata: ["pod": "\(key.namespace)/\(key.name)"])
                        }
                        deadlines.withLock { _ = $0.removeValue(forKey: key) }
                    }
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }

    static func parseTime(_ text: String) -> Date? {
        try? Date(text, strategy: .iso8601)
    }

    // MARK: Namespaces

    private func runNamespaces() async throws {
        try await ResourceFollower(core: core, info: APICore.namespacesInfo).run { change in
            let namespaces: [JSONValue]
            switch change {
            case .initial(let all): namespaces = all
            case .event(let type, let namespace): namespaces = type == .deleted ? [] : [namespace]
            }
            for namespace in namespaces where namespace[path: ["metadata", "deletionTimestamp"]] != nil {
                terminate(namespace.string(at: "metadata.name") ?? "")
            }
        }
    }

    /// Deletes everything in a terminating namespace, then the namespace.
    func terminate(_ namespace: String) {
        for info in core.registry.all where info.namespaced {
            guard let items = try? core.store.list(resource: info.storageKey, namespace: namespace).items else {
                continue
            }
            for item in items { _ = try? core.store.delete(item.key) }
        }
        if (try? core.store.delete(ObjectKey(resource: "namespaces", namespace: "", name: namespace))) != nil {
            logger.info("namespace deleted", metadata: ["namespace": "\(namespace)"])
        }
    }
}

/// A level-triggered wake-up: many signals before a wait collapse into one.
final class PendingSignal: Sendable {
    private let stream: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation

    init() {
        (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    func signal() { continuation.yield() }

    func wait() async {
        var iterator = stream.makeAsyncIterator()
        _ = await iterator.next()
    }
}

/// Shared mutable state of a controller's tasks (a Mutex cannot be captured by the closures of a task group).
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    init(_ value: Value) { mutex = Mutex(value) }

    func withLock<Result>(_ body: (inout sending Value) throws -> sending Result) rethrows -> sending Result {
        try mutex.withLock(body)
    }
}
