import ArgumentParser
import Bus
import CRIClient
import EdgeProtocol
import Foundation
import Logging
import ServiceKit
import ServiceLifecycle
import Synchronization

public enum Edged: ServiceDescription {
    public static let identity = ServiceIdentity(name: "edged", side: .edge)
    public static let abstract = "Edge: runs pods in containerd over CRI (KubeEdge edged)."
}

public struct EdgedOptions: ParsableArguments, Sendable {
    @Option(name: .customLong("runtime-endpoint"), help: "The CRI runtime's socket.")
    public var runtimeEndpoint: String = CRIConfiguration.defaultEndpoint

    @Option(name: .customLong("pod-sandbox-image"),
            help: "The sandbox (pause) image; the runtime's own setting (containerd's sandbox_image) is what it uses.")
    public var podSandboxImage: String = "localhost/edge/pause:local"

    @Option(name: .customLong("node-ip"), help: "The node's InternalIP (default: the host's first non-loopback IPv4).")
    public var nodeIP: String?

    @Option(name: .customLong("root-dir"), help: "Pods' volumes and logs (default: <data-dir>/pods).")
    public var rootDir: String?

    @Option(name: .customLong("cgroup-root"), help: "cgroup parent of the pods' cgroups.")
    public var cgroupRoot: String = "/kubeedge-swift"

    @Option(name: .customLong("node-status-update-seconds"), help: "How often the node status and lease are sent.")
    public var nodeStatusUpdateSeconds: Int = 10

    @Option(name: .customLong("usage-report-seconds"),
            help: "How often the node's and its pods' CPU and memory usage go to the cloud (kubectl top); 0: never.")
    public var usageReportSeconds: Int = 15

    @Option(name: .customLong("image-gc-high-threshold"),
            help: "Image filesystem use (%) at which unused images are removed (KubeEdge edged's default 80; 100: never).")
    public var imageGCHighThreshold: Int = 80

    @Option(name: .customLong("image-gc-low-threshold"), help: "Image filesystem use (%) image removal brings it down to.")
    public var imageGCLowThreshold: Int = 40

    @Option(name: .customLong("image-gc-minimum-age-seconds"), help: "An unused image younger than this stays.")
    public var imageGCMinimumAgeSeconds: Int = 120

    @Option(name: .customLong("image-gc-period-seconds"), help: "How often image use is looked at.")
    public var imageGCPeriodSeconds: Int = 300

    @Option(name: .customLong("pod-manifest-path"),
            help: "Directory of static pod manifests (kubelet's staticPodPath): run without the cloud, mirrored in the API once connected.")
    public var podManifestPath: String?

    @Option(name: .customLong("static-pod-check-seconds"), help: "How often the static pod directory is read (kubelet: 20).")
    public var staticPodCheckSeconds: Int = 20

    @Option(name: .customLong("eviction-interval-seconds"),
            help: "How often node pressure is checked; under pressure one pod is evicted per check (kubelet: 10 s).")
    public var evictionIntervalSeconds: Int = 10

    @Option(name: .customLong("sync-ms"), help: "How often pods are reconciled with the runtime.")
    public var syncMs: Int = 1000

    @Option(name: .customLong("restart-backoff-seconds"),
            help: "First delay before restarting a crashed container (doubles per restart, at most --restart-backoff-max-seconds).")
    public var restartBackoffSeconds: Int = 10

    @Option(name: .customLong("restart-backoff-max-seconds"))
    public var restartBackoffMaxSeconds: Int = 300

    @Option(name: .customLong("eviction-hard"),
            help: "Hard eviction thresholds (signal<amount or signal<percent): the pressure conditions and allocatable.")
    public var evictionHard: String = NodeResources.defaultEvictionHard

    @Option(name: .customLong("eviction-pressure-transition-seconds"),
            help: "How long a pressure condition stays true after its signal was last below the threshold.")
    public var evictionPressureTransitionSeconds: Int = 300

    @Option(name: .customLong("system-reserved"), help: "Reserved for the system: cpu=…,memory=…,ephemeral-storage=….")
    public var systemReserved: String = ""

    @Option(name: .customLong("kube-reserved"), help: "Reserved for the edge services: cpu=…,memory=…,ephemeral-storage=….")
    public var kubeReserved: String = ""

    public init() {}
}

public struct EdgedCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "edged", abstract: Edged.abstract,
        discussion: """
            Registers the node with the cloud and reports its status and lease; runs the pods meta hands it \
            (ke/edged/in) in the container runtime over CRI (sandbox, image, volumes, env, restart policy) and sends \
            their status back (ke/meta/in). Without a cloud, it keeps running the pods meta has stored.
            """)

    @OptionGroup public var options: BaseOptions
    @OptionGroup public var edged: EdgedOptions

    public init() {}

    public func run() async throws {
        let edged = self.edged
        try await ServiceRunner.run(Edged.identity, options: options, services: { context in
            try await EdgedServer(context: context, options: edged).services()
        })
    }
}

/// The running edged.
public final class EdgedServer: Sendable {
    let context: ServiceContext
    let options: EdgedOptions
    let logger: Logger
    let meta: MetaClient
    let cri: CRIClient
    let worker: PodWorker
    /// kubectl logs sessions (the stream extension).
    let streams: StreamServer
    let nodeIP: String
    let rootDir: String
    let cloudConnected = Mutex(false)
    let registered = Mutex(false)
    /// Wakes the sync loop when the desired pods change.
    let podsChanged = WakeSignal()
    /// Wakes the node loop when the link comes or goes.
    let linkChanged = WakeSignal()

    public init(context: ServiceContext, options: EdgedOptions) throws {
        self.context = context
        self.options = options
        self.logger = context.logger
        meta = MetaClient(bus: context.bus)
        cri = try CRIClient(configuration: .init(endpoint: options.runtimeEndpoint))
        nodeIP = options.nodeIP ?? NodeStatus.hostIPv4()
        rootDir = options.rootDir ?? context.config.dataDir + "/pods"
        try FileManager.default.createDirectory(atPath: rootDir, withIntermediateDirectories: true)
        worker = PodWorker(cri: cri, meta: meta, settings: .init(
            nodeName: context.nodeName, nodeIP: nodeIP, rootDir: rootDir, cgroupRoot: options.cgroupRoot,
            backoffInitial: options.restartBackoffSeconds, backoffMax: options.restartBackoffMaxSeconds), logger: context.logger)
        streams = StreamServer(bus: context.bus, worker: worker, cri: cri, logger: context.logger)
    }

    /// edged's parts, stopped in reverse order on SIGTERM: the pod and node loops are cancelled (pods keep running,
    /// as with kubelet), the messages already received are handled, then the runtime connection closes.
    public func services() async throws -> [any Service] {
        let bus = context.bus
        try await bus.waitUntilConnected(timeout: .seconds(3600))
        try await bus.subscribe([Topics.edgedIn, Topics.hubLink, Topics.streamInAll])
        let cri = self.cri
        return [
            PartService.draining("runtime connection") {
                try await withGracefulShutdownHandler {
                    try await cri.run()
                } onGracefulShutdown: {
                    cri.shutdown()
                }
            },
            MessageLoopService(context) { message in try await self.handle(message) },
            PartService.loop("pods and node") { try await self.work() },
        ]
    }

    /// Runtime first, then the pods meta has (autonomy: no cloud needed), then the node and the pod loop.
    func work() async throws {
        let runtimeVersion = try await waitForRuntime()
        // CRI has no per-pod sandbox image: the runtime's own setting (containerd's sandbox_image) is used. Say so
        // when that image is not there, since every pod would then fail at its sandbox.
        if (try? await cri.imageStatus(options.podSandboxImage)) == nil {
            logger.warning("the pod sandbox image is not in the runtime; pods need the runtime's sandbox_image",
                           metadata: ["image": "\(options.podSandboxImage)"])
        }
        let pods = try await loadPods()
        await worker.setAll(pods)
        if let directory = options.podManifestPath { await loadStaticPods(directory) }
        logger.info("serving", metadata: ["runtime": "\(runtimeVersion)", "pods": "\(pods.count)", "node_ip": "\(nodeIP)"])
        var status: NodeStatus
        do {
            status = NodeStatus(nodeName: context.nodeName, nodeIP: nodeIP, runtimeVersion: runtimeVersion, rootDir: rootDir,
                                evictionHard: try NodeResources.parseThresholds(options.evictionHard),
                                systemReserved: try NodeResources.parseReserved(options.systemReserved),
                                kubeReserved: try NodeResources.parseReserved(options.kubeReserved))
            status.pressureTransitionSeconds = Double(options.evictionPressureTransitionSeconds)
        } catch {
            throw ConfigError("\(error)")
        }
        let nodeStatus = status
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.nodeLoop(nodeStatus) }
            group.addTask { try await self.syncLoop() }
            if self.options.usageReportSeconds > 0 {
                let reporter = UsageReporter(bus: self.context.bus, cri: self.cri, node: self.context.nodeName,
                                             interval: .seconds(self.options.usageReportSeconds), logger: self.logger)
                group.addTask { try await reporter.run(connected: { self.cloudConnected.withLock { $0 } }) }
            }
            if let directory = self.options.podManifestPath {
                let every = Duration.seconds(max(1, self.options.staticPodCheckSeconds))
                group.addTask { try await self.staticPodLoop(directory, every: every) }
            }
            let thresholds = nodeStatus.evictionHard
            if !thresholds.isEmpty {
                let interval = Duration.seconds(max(1, self.options.evictionIntervalSeconds))
                group.addTask { try await self.evictionLoop(thresholds: thresholds, every: interval) }
            }
            if self.options.imageGCHighThreshold < 100 {
                let collector = ImageGarbageCollector(
                    cri: self.cri,
                    policy: ImageGCPolicy(high: self.options.imageGCHighThreshold, low: self.options.imageGCLowThreshold,
                                          minimumAge: Double(self.options.imageGCMinimumAgeSeconds)),
                    sandboxImage: self.options.podSandboxImage, logger: self.logger)
                let period = Duration.seconds(max(1, self.options.imageGCPeriodSeconds))
                group.addTask { try await collector.run(every: period) }
            }
            try await group.next()
        }
    }

    /// Reads the static pod directory; starts and stops what changed.
    func loadStaticPods(_ directory: String) async {
        let (pods, problems) = StaticPods.load(directory: directory, node: context.nodeName, seen: RFC3339.now())
        for problem in problems { logger.warning("static pod manifest skipped", metadata: ["reason": "\(problem)"]) }
        let before = Set(await worker.staticPods().map(PodConfig.uid))
        await worker.setStatic(pods)
        if Set(pods.map(PodConfig.uid)) != before {
            logger.info("static pods", metadata: ["directory": "\(directory)", "pods": "\(pods.map(PodConfig.name))"])
            podsChanged.signal()
        }
    }

    /// The directory, re-read every period; while the cloud is there, each static pod's mirror pod is made in the
    /// API (again after a reconnect, or when someone deleted it), as kubelet's mirror client does.
    func staticPodLoop(_ directory: String, every period: Duration) async throws {
        while !Task.isCancelled {
            try await Task.sleep(for: period)
            await loadStaticPods(directory)
            guard cloudConnected.withLock({ $0 }), registered.withLock({ $0 }) else { continue }
            for pod in await worker.staticPods() {
                let resource = "\(PodConfig.namespace(pod))/pod/\(PodConfig.name(pod))"
                guard let content = try? RawJSON(StaticPods.mirror(of: pod)) else { continue }
                guard let answer = try? await meta.request(operation: "insert", resource: resource, content: content,
                                                            timeout: .seconds(10)) else { continue }
                if let failure = MetaClient.failure(in: answer) {
                    logger.warning("mirror pod not created", metadata: ["pod": "\(resource)", "reason": "\(failure)"])
                    continue
                }
                // A new mirror pod has no status yet: the static pod's is sent again, changed or not.
                let mirror = try? answer.content.parsed()
                let reported = await worker.reportedPhase(uid: PodConfig.uid(pod))
                if mirror?.string(at: "status.phase") != reported {
                    await worker.forgetReportedStatus(uid: PodConfig.uid(pod))
                    podsChanged.signal()
                }
            }
        }
    }

    /// kubelet's eviction manager (hard thresholds): while a signal is below its threshold, one pod per pass is
    /// stopped and reported Failed with reason Evicted.
    func evictionLoop(thresholds: [String: NodeResources.Threshold], every interval: Duration) async throws {
        while !Task.isCancelled {
            try await Task.sleep(for: interval)
            let sample = NodeResources.HostSample.read(root: rootDir)
            let pressed = NodeResources.conditions(sample, thresholds: thresholds).filter(\.pressure)
            guard let first = pressed.first else { continue }
            let resource = first.type == "MemoryPressure" ? "memory" : first.type == "DiskPressure" ? "ephemeral-storage" : "pids"
            if await worker.evictOne(resource: resource) != nil { podsChanged.signal() }
        }
    }

    func waitForRuntime() async throws -> String {
        var warned = false
        while true {
            do {
                let version = try await cri.version()
                return "\(version.runtimeName)://\(version.runtimeVersion)"
            } catch {
                if !warned {
                    logger.warning("waiting for the container runtime", metadata: ["endpoint": "\(options.runtimeEndpoint)", "error": "\(error)"])
                    warned = true
                }
                try await Task.sleep(for: .seconds(1))
            }
        }
    }

    /// The pods stored in meta (KubeEdge's edged queries `default/pod`: every stored pod, any namespace).
    func loadPods() async throws -> [JSONValue] {
        var warned = false
        while true {
            if let answer = try await meta.request(operation: "query", resource: "default/pod", timeout: .seconds(5)),
               MetaClient.failure(in: answer) == nil {
                return MetaClient.objects(in: answer)
            }
            if !warned {
                logger.warning("waiting for meta to list the node's pods")
                warned = true
            }
        }
    }

    func handle(_ message: BusMessage) async throws {
        switch message.topic {
        case Topics.hubLink:
            let connected = message.text == "connected"
            cloudConnected.withLock { $0 = connected }
            linkChanged.signal()
            if !connected { streams.closeAll() }
        case Topics.edgedIn:
            let envelope = try message.envelope()
            if !envelope.header.parentID.isEmpty {
                meta.deliver(envelope)
                return
            }
            let type = ObjectResource.type(of: envelope.route.resource)
            if type == "configmap" || type == "secret", ["insert", "update"].contains(envelope.route.operation),
               let object = try? envelope.content.parsed() {
                await worker.objectChanged(type: type, object)
                return
            }
            guard type == "pod" else { return }
            let pod = (try? envelope.content.parsed()) ?? .null
            if StaticPods.isMirror(pod) {
                // A mirror pod deleted in the API: confirm at once (there is nothing to stop); the static pod runs on
                // and its mirror is made again.
                if pod[path: ["metadata", "deletionTimestamp"]] != nil, let uid = pod.string(at: "metadata.uid") {
                    let options: JSONValue = ["kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0,
                                              "preconditions": ["uid": .string(uid)]]
                    try await meta.send(operation: "delete", resource: "\(PodConfig.namespace(pod))/pod/\(PodConfig.name(pod))",
                                        content: RawJSON(options))
                }
                return
            }
            switch envelope.route.operation {
            case "insert", "update": await worker.upsert(pod)
            case "delete": await worker.remove(pod)
            default: return
            }
            podsChanged.signal()
        default:
            if Topics.streamSession(ofTopic: message.topic) != nil {
                await streams.handle(message)
            }
        }
    }

    func syncLoop() async throws {
        while !Task.isCancelled {
            let reports = await worker.syncAll()
            for outgoing in await worker.takeEvents() {
                try? await meta.send(operation: outgoing.operation, resource: "\(outgoing.namespace)/event/\(outgoing.name)",
                                     content: RawJSON(outgoing.event))
            }
            for report in reports {
                switch report {
                case .status(let namespace, let name, let uid, let status):
                    // A static pod's status goes to its mirror pod, whose uid the API chose.
                    let patch: JSONValue = await worker.isStatic(uid: uid)
                        ? ["status": status] : ["metadata": ["uid": .string(uid)], "status": status]
                    reportStatus(namespace: namespace, name: name, uid: uid,
                                 content: RawJSON(string: String(decoding: try patch.serialized(), as: UTF8.self)))
                case .deleted(let namespace, let name, let uid):
                    let options: JSONValue = ["kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0,
                                              "preconditions": ["uid": .string(uid)]]
                    try await meta.send(operation: "delete", resource: "\(namespace)/pod/\(name)", content: RawJSON(options))
                }
            }
            // Next pass after the sync period, or at once when the desired pods change.
            await podsChanged.wait(timeout: .milliseconds(options.syncMs))
        }
    }

    /// Sends a pod's status (hub queues it durably while offline). When the cloud answers that it could not apply it
    /// (its API server was down, say), the status is reported again on a later pass, as kubelet's status manager
    /// retries: a status change is never lost to one failed patch.
    func reportStatus(namespace: String, name: String, uid: String, content: RawJSON) {
        let (meta, worker, logger, podsChanged) = (self.meta, self.worker, self.logger, self.podsChanged)
        Task {
            guard let answer = try? await meta.request(operation: "patch", resource: "\(namespace)/podpatch/\(name)",
                                                       content: content, timeout: .seconds(120)),
                  let failure = MetaClient.failure(in: answer) else { return }
            logger.warning("the cloud did not take a pod status; reporting it again", metadata: [
                "pod": "\(namespace)/\(name)", "reason": "\(failure)",
            ])
            try? await Task.sleep(for: .seconds(2))
            await worker.forgetReportedStatus(uid: uid)
            podsChanged.signal()
        }
    }

    /// Registration (while connected, until it succeeds), then node status and lease every period, and at once
    /// after the link comes back.
    func nodeLoop(_ status: NodeStatus) async throws {
        var leaseCreated = false
        while !Task.isCancelled {
            if cloudConnected.withLock({ $0 }) {
                if !registered.withLock({ $0 }) {
                    await register(status)
                }
                if registered.withLock({ $0 }) {
                    let patch = status.statusPatch(now: RFC3339.now())
                    try await meta.send(operation: "patch", resource: "default/nodepatch/\(context.nodeName)",
                                        content: RawJSON(string: String(decoding: try patch.serialized(), as: UTF8.self)))
                    leaseCreated = await renewLease(create: !leaseCreated) || leaseCreated
                }
            }
            await linkChanged.wait(timeout: .seconds(options.nodeStatusUpdateSeconds))
        }
    }

    func register(_ status: NodeStatus) async {
        let node = status.node()
        guard let content = try? RawJSON(node),
              let answer = try? await meta.request(operation: "insert", resource: "default/node/\(context.nodeName)",
                                                   content: content)
        else {
            logger.warning("node registration got no answer; retrying")
            return
        }
        if let failure = MetaClient.failure(in: answer) {
            logger.warning("node registration failed", metadata: ["reason": "\(failure)"])
            return
        }
        registered.withLock { $0 = true }
        logger.info("node registered", metadata: ["node": "\(context.nodeName)"])
    }

    func renewLease(create: Bool) async -> Bool {
        let lease: JSONValue = [
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": ["name": .string(context.nodeName), "namespace": "kube-node-lease"],
            "spec": ["holderIdentity": .string(context.nodeName), "leaseDurationSeconds": 40,
                     "renewTime": .string(MicroTime.now())],
        ]
        guard let content = try? RawJSON(lease),
              let answer = try? await meta.request(operation: create ? "insert" : "update",
                                                   resource: "kube-node-lease/lease/\(context.nodeName)", content: content)
        else { return false }
        return MetaClient.failure(in: answer) == nil
    }
}

/// Kubernetes MicroTime (`2026-11-22T04:10:48.123456Z`), as leases carry: six fraction digits.
enum MicroTime {
    static func now() -> String {
        let now = Date()
        let micros = Int(now.timeIntervalSince1970 * 1_000_000) % 1_000_000
        let fraction = String(micros)
        return RFC3339.format(now).dropLast() + "." + String(repeating: "0", count: 6 - fraction.count) + fraction + "Z"
    }
}
