import CRIClient
import EdgeProtocol
import Foundation
import HTTPFetch
import Logging
import NIOSSL

/// Runs this node's pods in the container runtime and reports what they do. One sync pass at a time (the caller's
/// loop); the bus side only changes the desired pods between passes.
actor PodWorker {
    struct ContainerRecord {
        var id: String?
        var attempt: UInt32 = 0
        /// No new attempt (restart, pull, create) before this.
        var retryAt: ContinuousClock.Instant?
        var failures = 0
        var waiting: (reason: String, message: String)?
        var lastTerminated: ContainerView.State?
        /// The probes of the running attempt (`probedID`); new with every attempt.
        var probes: ContainerProbes?
        var probedID: String?
    }

    struct PodRecord {
        var pod: JSONValue
        var sandboxID: String?
        var sandboxConfig: Runtime_V1_PodSandboxConfig?
        var sandboxAttempt: UInt32 = 0
        var sandboxRetryAt: ContinuousClock.Instant?
        var sandboxError: String?
        var podIP: String?
        var containers: [String: ContainerRecord] = [:]
        var startTime: String?
        var transitions: [String: (status: String, time: String)] = [:]
        var lastStatus: JSONValue?
        /// The container views of the last pass, reported again when the runtime does not answer.
        var lastViews: [String: ContainerView] = [:]
        var deletionSent = false
        var adopted = false
        /// Evicted under node pressure (the message): stopped, reported Failed with reason Evicted, never restarted.
        var evicted: String?
        var evictionReported = false
    }

    struct Settings: Sendable {
        var nodeName: String
        var nodeIP: String
        var rootDir: String
        var cgroupRoot: String
        var backoffInitial: Int
        var backoffMax: Int
    }

    /// What a sync pass asks the caller to send upstream.
    enum Report: Sendable {
        case status(namespace: String, name: String, uid: String, status: JSONValue)
        case deleted(namespace: String, name: String, uid: String)
    }

    let cri: CRIClient
    let meta: MetaClient
    let settings: Settings
    let logger: Logger
    var records: [String: PodRecord] = [:]
    /// Pods meta removed; their sandboxes are removed on the next pass.
    var removed: Set<String> = []
    /// The static pods' uids (from the manifest directory, not from meta).
    var staticUIDs: Set<String> = []
    /// Set once the node's pod list came from meta: only then are unknown sandboxes of ours orphans.
    var knowsAllPods = false
    /// kubelet's events (Pulling, Created, Started, BackOff, Unhealthy, Killing, Failed …), aggregated and limited.
    var recorder: EventRecorder
    /// Events made since the caller last took them (`takeEvents`).
    var outgoingEvents: [EventRecorder.Outgoing] = []

    init(cri: CRIClient, meta: MetaClient, settings: Settings, logger: Logger) {
        self.cri = cri
        self.meta = meta
        self.settings = settings
        self.logger = logger
        recorder = EventRecorder(node: settings.nodeName)
    }

    /// Records an event about a pod (or one of its containers) for the caller to send.
    func event(_ pod: JSONValue, container: String? = nil, initContainer: Bool = false, warning: Bool = false,
               _ reason: String, _ message: String) {
        if let outgoing = recorder.record(pod: pod, container: container, initContainer: initContainer, warning: warning,
                                          reason: reason, message: message, now: Date().timeIntervalSince1970,
                                          stamp: RFC3339.now()) {
            outgoingEvents.append(outgoing)
        }
    }

    func takeEvents() -> [EventRecorder.Outgoing] {
        defer { outgoingEvents = [] }
        return outgoingEvents
    }

    // MARK: Desired pods

    func isMine(_ pod: JSONValue) -> Bool { pod.string(at: "spec.nodeName") == settings.nodeName }

    /// The full list from meta (on start): pods not in it are removed (static pods are not meta's).
    func setAll(_ pods: [JSONValue]) async {
        let mine = pods.filter { isMine($0) && !StaticPods.isMirror($0) }
        let uids = Set(mine.map(PodConfig.uid))
        for uid in records.keys where !uids.contains(uid) && !staticUIDs.contains(uid) { removed.insert(uid); records[uid] = nil }
        for pod in mine { await upsert(pod) }
        knowsAllPods = true
    }

    /// The static pods from `--pod-manifest-path` (all of them): new ones start, removed ones stop.
    func setStatic(_ pods: [JSONValue]) async {
        let uids = Set(pods.map(PodConfig.uid))
        for uid in staticUIDs where !uids.contains(uid) { removed.insert(uid); records[uid] = nil }
        staticUIDs = uids
        for pod in pods { await upsert(pod) }
    }

    func staticPods() -> [JSONValue] { staticUIDs.compactMap { records[$0]?.pod } }

    func isStatic(uid: String) -> Bool { staticUIDs.contains(uid) }

    /// The phase last reported for a pod (nil before its first report).
    func reportedPhase(uid: String) -> String? { records[uid]?.lastStatus?["phase"]?.stringValue }

    func upsert(_ pod: JSONValue) async {
        let uid = PodConfig.uid(pod)
        guard !uid.isEmpty else { return }
        // A mirror pod is the API's picture of one of our static pods: it is never run itself.
        guard !StaticPods.isMirror(pod) else { return }
        guard isMine(pod) else {
            if records[uid] != nil { remove(pod) }
            return
        }
        if records[uid] == nil {
            records[uid] = PodRecord(pod: pod)
            removed.remove(uid)
        } else {
            let before = records[uid]?.pod
            records[uid]?.pod = pod
            // Labels and annotations shown through downwardAPI volumes follow the pod, as with kubelet.
            if before?[path: ["metadata", "labels"]] != pod[path: ["metadata", "labels"]]
                || before?[path: ["metadata", "annotations"]] != pod[path: ["metadata", "annotations"]] {
                await refreshDownwardVolumes(uid: uid)
            }
        }
    }

    /// Rewrites the pod's downwardAPI volumes (and projected ones with a downwardAPI source) that exist.
    func refreshDownwardVolumes(uid: String) async {
        guard let record = records[uid] else { return }
        for volume in record.pod[path: ["spec", "volumes"]]?.arrayValue ?? [] {
            let projectsFields = (volume[path: ["projected", "sources"]]?.arrayValue ?? []).contains { $0["downwardAPI"] != nil }
            guard volume["downwardAPI"] != nil || projectsFields, let name = volume.string(at: "name") else { continue }
            let dir = "\(podDir(uid))/volumes/\(name)"
            guard FileManager.default.fileExists(atPath: dir) else { continue }
            do {
                try AtomicVolumeWriter.write(
                    try await projectedFiles(volume, pod: record.pod, uid: uid, podIP: record.podIP), into: dir,
                    mode: Self.fileMode(volume["downwardAPI"] ?? volume["projected"] ?? .object([])))
            } catch {
                logger.warning("cannot refresh a downwardAPI volume", metadata: [
                    "pod": "\(PodConfig.namespace(record.pod))/\(PodConfig.name(record.pod))", "volume": "\(name)",
                    "error": "\(error)",
                ])
            }
        }
    }

    func remove(_ pod: JSONValue) {
        let uid = PodConfig.uid(pod)
        records[uid] = nil
        removed.insert(uid)
    }

    var podCount: Int { records.count }

    // MARK: Sync

    func syncAll() async -> [Report] {
        var reports: [Report] = []
        for uid in removed.sorted() {
            await removeFromRuntime(uid: uid)
            try? FileManager.default.removeItem(atPath: podDir(uid))
            removed.remove(uid)
        }
        if knowsAllPods { await removeOrphans() }
        for uid in records.keys.sorted() {
            if let report = await sync(uid: uid) { reports.append(report) }
        }
        return reports
    }

    func podDir(_ uid: String) -> String { "\(settings.rootDir)/\(uid)" }

    func sync(uid: String) async -> Report? {
        guard var record = records[uid] else { return nil }
        let pod = record.pod
        if pod[path: ["metadata", "deletionTimestamp"]] != nil {
            guard !record.deletionSent else { return nil }
            await removeFromRuntime(uid: uid, grace: PodConfig.gracePeriod(pod), pod: pod)
            record.deletionSent = true
            store(record, uid: uid)
            logger.info("pod stopped for deletion", metadata: ["pod": "\(PodConfig.namespace(pod))/\(PodConfig.name(pod))"])
            return .deleted(namespace: PodConfig.namespace(pod), name: PodConfig.name(pod), uid: uid)
        }
        if let message = record.evicted {
            guard !record.evictionReported else { return nil }
            await removeFromRuntime(uid: uid, grace: 0, pod: pod)
            record.evictionReported = true
            var status = record.lastStatus ?? .object([])
            status[member: "phase"] = "Failed"
            status[member: "reason"] = "Evicted"
            status[member: "message"] = .string(message)
            record.lastStatus = status
            store(record, uid: uid)
            return .status(namespace: PodConfig.namespace(pod), name: PodConfig.name(pod), uid: uid, status: status)
        }
        if record.startTime == nil { record.startTime = RFC3339.now() }
        if !record.adopted {
            await adopt(&record, uid: uid)
            record.adopted = true
        }
        await ensureSandbox(&record, uid: uid)
        // Init containers one after the other, each to completion; the app containers only after the last.
        var initViews: [ContainerView] = []
        var initialized = true
        for container in PodConfig.initContainers(pod) {
            let name = container.string(at: "name") ?? ""
            guard initialized else {
                initViews.append(ContainerView(name: name, image: container.string(at: "image") ?? "",
                                               state: .waiting(reason: "PodInitializing", message: "")))
                continue
            }
            let view = await syncContainer(container, record: &record, uid: uid, initContainer: true)
            record.lastViews[view.name] = view
            initViews.append(view)
            if case .terminated(let code, _, _, _, _) = view.state, code == 0 { continue }
            initialized = false
        }
        var views: [ContainerView] = []
        for container in PodConfig.containers(pod) {
            guard initialized else {
                views.append(ContainerView(name: container.string(at: "name") ?? "", image: container.string(at: "image") ?? "",
                                           state: .waiting(reason: "PodInitializing", message: "")))
                continue
            }
            let view = await syncContainer(container, record: &record, uid: uid)
            record.lastViews[view.name] = view
            views.append(view)
        }
        var input = PodStatusBuilder.Input(
            pod: pod, containers: views, hostIP: settings.nodeIP,
            podIP: PodConfig.hostNetwork(pod) ? settings.nodeIP : record.podIP,
            startTime: record.startTime ?? RFC3339.now(), transitions: record.transitions)
        input.initContainers = initViews
        let (status, transitions) = PodStatusBuilder.build(input, now: RFC3339.now())
        record.transitions = transitions
        let changed = status != record.lastStatus
        record.lastStatus = status
        store(record, uid: uid)
        guard changed else { return nil }
        return .status(namespace: PodConfig.namespace(pod), name: PodConfig.name(pod), uid: uid, status: status)
    }

    /// The next pass reports the pod's status again, changed or not (the last report was refused).
    func forgetReportedStatus(uid: String) {
        records[uid]?.lastStatus = nil
    }

    /// Keeps the newest desired pod (it may have changed during the pass) with this pass's runtime state.
    func store(_ record: PodRecord, uid: String) {
        guard let current = records[uid] else { return }
        var record = record
        record.pod = current.pod
        records[uid] = record
    }

    /// After a restart of edged: the sandbox and containers already running for this pod are taken over.
    func adopt(_ record: inout PodRecord, uid: String) async {
        var filter = Runtime_V1_PodSandboxFilter()
        filter.labelSelector = [PodConfig.podUIDLabel: uid]
        guard let sandboxes = try? await cri.listPodSandbox(filter: filter) else { return }
        let newest = sandboxes.max { $0.metadata.attempt < $1.metadata.attempt }
        guard let sandbox = newest, sandbox.state == .sandboxReady else {
            record.sandboxAttempt = (newest?.metadata.attempt ?? 0) + (newest == nil ? 0 : 1)
            return
        }
        record.sandboxID = sandbox.id
        record.sandboxAttempt = sandbox.metadata.attempt
        record.sandboxConfig = sandboxConfig(record.pod, attempt: sandbox.metadata.attempt)
        record.podIP = try? await cri.podSandboxStatus(sandbox.id).status.network.ip
        var containerFilter = Runtime_V1_ContainerFilter()
        containerFilter.podSandboxID = sandbox.id
        for container in (try? await cri.listContainers(filter: containerFilter)) ?? [] {
            let name = container.metadata.name
            if let existing = record.containers[name], existing.attempt > container.metadata.attempt { continue }
            record.containers[name] = ContainerRecord(id: container.id, attempt: container.metadata.attempt)
        }
        logger.info("pod adopted from the runtime", metadata: [
            "pod": "\(PodConfig.namespace(record.pod))/\(PodConfig.name(record.pod))", "containers": "\(record.containers.count)",
        ])
    }

    func sandboxConfig(_ pod: JSONValue, attempt: UInt32) -> Runtime_V1_PodSandboxConfig {
        PodConfig.sandboxConfig(pod: pod, node: settings.nodeName, attempt: attempt,
                                logDirectory: podDir(PodConfig.uid(pod)) + "/logs", cgroupRoot: settings.cgroupRoot)
    }

    func ensureSandbox(_ record: inout PodRecord, uid: String) async {
        if let id = record.sandboxID {
            do {
                if try await cri.podSandboxStatus(id).status.state == .sandboxReady { return }
            } catch let error where !error.isNotFound {
                // The runtime did not answer (busy, restarting): keep the sandbox, look again next pass.
                logger.warning("pod sandbox status unavailable", metadata: ["sandbox": "\(id)", "error": "\(error)"])
                return
            } catch {}
            // Gone or not ready (the host rebooted, someone removed it): start over with a new sandbox.
            try? await cri.stopPodSandbox(id)
            try? await cri.removePodSandbox(id)
            record.sandboxID = nil
            record.sandboxAttempt += 1
            for name in record.containers.keys { record.containers[name]?.id = nil }
        }
        if let retry = record.sandboxRetryAt, ContinuousClock.now < retry { return }
        let config = sandboxConfig(record.pod, attempt: record.sandboxAttempt)
        do {
            try FileManager.default.createDirectory(atPath: config.logDirectory, withIntermediateDirectories: true)
            let id = try await cri.runPodSandbox(config)
            record.sandboxID = id
            record.sandboxConfig = config
            record.sandboxError = nil
            record.sandboxRetryAt = nil
            record.podIP = try? await cri.podSandboxStatus(id).status.network.ip
            logger.info("pod sandbox started", metadata: [
                "pod": "\(PodConfig.namespace(record.pod))/\(PodConfig.name(record.pod))", "ip": "\(record.podIP ?? "")",
            ])
        } catch {
            // A sandbox the runtime made although its answer was lost (the connection dropped under the call): its
            // name is taken, so it is adopted, as after a restart of edged.
            if "\(error)".contains("reserve sandbox name") {
                await adopt(&record, uid: uid)
                if record.sandboxID != nil { return }
            }
            if let failure = error as? CRIError, failure.isConnectionDrop {
                // Asked again on the next pass: the runtime either made it (adopted then) or did not.
                logger.notice("pod sandbox call interrupted by a dropped runtime connection; asking again", metadata: [
                    "pod": "\(PodConfig.namespace(record.pod))/\(PodConfig.name(record.pod))",
                ])
                return
            }
            record.sandboxError = "\(error)"
            record.sandboxRetryAt = .now + .seconds(5)
            logger.warning("pod sandbox failed", metadata: [
                "pod": "\(PodConfig.namespace(record.pod))/\(PodConfig.name(record.pod))", "error": "\(error)",
            ])
        }
    }

    /// One container's pass. An init container that completed stays completed (a pod restarting `Always` restarts
    /// only failed init containers, as `OnFailure`), and is never probed.
    func syncContainer(_ container: JSONValue, record: inout PodRecord, uid: String, initContainer: Bool = false) async
        -> ContainerView
    {
        let name = container.string(at: "name") ?? ""
        let image = container.string(at: "image") ?? ""
        var state = record.containers[name] ?? ContainerRecord()
        defer { record.containers[name] = state }
        var view = ContainerView(name: name, image: image, state: .waiting(reason: "ContainerCreating", message: ""))
        view.lastTerminated = state.lastTerminated
        view.restartCount = Int(state.attempt)
        guard let sandboxID = record.sandboxID, let sandboxConfig = record.sandboxConfig else {
            if let error = record.sandboxError {
                view.state = .waiting(reason: "ContainerCreating", message: "failed to create pod sandbox: \(error)")
            }
            return view
        }
        let podPolicy = PodConfig.restartPolicy(record.pod)
        let policy = initContainer && podPolicy == "Always" ? "OnFailure" : podPolicy
        if let id = state.id {
            let status: Runtime_V1_ContainerStatus
            do {
                status = try await cri.containerStatus(id).status
            } catch let error where error.isNotFound {
                state.id = nil  // removed behind our back: create it again
                return view
            } catch {
                // The runtime did not answer: report what was last seen, look again next pass.
                logger.warning("container status unavailable", metadata: ["container": "\(id)", "error": "\(error)"])
                return record.lastViews[name] ?? view
            }
            view.containerID = id
            view.imageID = status.imageRef
            switch status.state {
            case .containerRunning:
                view.state = .running(startedAt: status.startedAt)
                state.failures = 0
                if !initContainer {
                    await probe(container, id: id, startedAt: status.startedAt, state: &state, view: &view, record: record)
                }
                return view
            case .containerCreated:
                do {
                    try await cri.startContainer(id)
                    view.state = .running(startedAt: Int64(Date().timeIntervalSince1970 * 1e9))
                } catch {
                    view.state = .waiting(reason: "RunContainerError", message: "\(error)")
                }
                return view
            default:
                let code = status.exitCode
                let reason = status.reason.isEmpty ? (code == 0 ? "Completed" : "Error") : status.reason
                let terminated = ContainerView.State.terminated(exitCode: code, reason: reason, message: status.message,
                                                                startedAt: status.startedAt, finishedAt: status.finishedAt)
                guard PodConfig.shouldRestart(policy: policy, exitCode: code) else {
                    view.state = terminated
                    return view
                }
                if state.retryAt == nil {
                    // A container that ran 10 minutes without crashing starts its back-off afresh (kubelet).
                    let ranLong = status.finishedAt - status.startedAt > 600 * 1_000_000_000
                    if ranLong { state.failures = 0 }
                    let delay = PodConfig.backoffSeconds(restarts: state.failures, initial: settings.backoffInitial,
                                                         maximum: settings.backoffMax)
                    state.retryAt = .now + .seconds(delay)
                    state.failures += 1
                    state.waiting = ("CrashLoopBackOff", "back-off \(delay)s restarting failed container=\(name) pod=\(PodConfig.name(record.pod))_\(PodConfig.namespace(record.pod))(\(uid))")
                    event(record.pod, container: name, initContainer: initContainer, warning: true, "BackOff",
                          "Back-off restarting failed container \(name) in pod \(PodConfig.name(record.pod))_\(PodConfig.namespace(record.pod))(\(uid))")
                }
                if let retry = state.retryAt, ContinuousClock.now < retry {
                    view.state = .waiting(reason: state.waiting?.reason ?? "CrashLoopBackOff", message: state.waiting?.message ?? "")
                    view.lastTerminated = terminated
                    return view
                }
                // Start the next attempt; the exited one is removed, its end kept as the last state.
                state.lastTerminated = terminated
                view.lastTerminated = terminated
                try? await cri.removeContainer(id)
                state.id = nil
                state.retryAt = nil
                state.attempt += 1
                view.restartCount = Int(state.attempt)
                view.containerID = ""
            }
        }
        // Create (first attempt, or a restart).
        if let retry = state.retryAt, ContinuousClock.now < retry, let waiting = state.waiting {
            view.state = .waiting(reason: waiting.reason, message: waiting.message)
            return view
        }
        do {
            try await ensureImage(container, pod: record.pod, initContainer: initContainer)
        } catch {
            let delay = PodConfig.backoffSeconds(restarts: state.failures, initial: settings.backoffInitial, maximum: settings.backoffMax)
            state.failures += 1
            state.retryAt = .now + .seconds(delay)
            state.waiting = (state.failures > 1 ? "ImagePullBackOff" : "ErrImagePull", "\(error)")
            view.state = .waiting(reason: state.waiting!.reason, message: state.waiting!.message)
            event(record.pod, container: name, initContainer: initContainer, warning: true, "Failed", "\(error)")
            event(record.pod, container: name, initContainer: initContainer, warning: true, "Failed",
                  "Error: \(state.waiting!.reason)")
            if state.failures > 1 {
                event(record.pod, container: name, initContainer: initContainer, "BackOff",
                      "Back-off pulling image \"\(image)\"")
            }
            return view
        }
        let resolved: PodConfig.Resolved
        do {
            resolved = try await resolve(container, pod: record.pod, uid: uid, podIP: record.podIP)
        } catch {
            state.retryAt = .now + .seconds(5)
            state.waiting = ("CreateContainerConfigError", "\(error)")
            view.state = .waiting(reason: "CreateContainerConfigError", message: "\(error)")
            event(record.pod, container: name, initContainer: initContainer, warning: true, "Failed", "Error: \(error)")
            return view
        }
        let config = PodConfig.containerConfig(pod: record.pod, container: container, attempt: state.attempt,
                                               resolved: resolved, node: settings.nodeName)
        do {
            let id = try await cri.createContainer(inPodSandbox: sandboxID, config: config, sandboxConfig: sandboxConfig)
            state.id = id
            view.containerID = id
            event(record.pod, container: name, initContainer: initContainer, "Created", "Created container \(name)")
            try await cri.startContainer(id)
            event(record.pod, container: name, initContainer: initContainer, "Started", "Started container \(name)")
            state.waiting = nil
            view.state = .running(startedAt: Int64(Date().timeIntervalSince1970 * 1e9))
            // postStart runs before the container counts as started; when it fails the container is killed and
            // the restart policy decides (kubelet's FailedPostStartHook).
            if let hook = container[path: ["lifecycle", "postStart"]] {
                let (ok, detail) = await runHook(hook, containerID: id, container: container, record: record,
                                                 timeout: .seconds(30))
                if !ok {
                    logger.warning("postStart hook failed; killing the container", metadata: [
                        "pod": "\(PodConfig.namespace(record.pod))/\(PodConfig.name(record.pod))", "container": "\(name)",
                        "reason": "\(detail)",
                    ])
                    try? await cri.stopContainer(id, gracePeriod: .seconds(PodConfig.gracePeriod(record.pod)))
                    view.state = .waiting(reason: "PostStartHookError", message: detail)
                    return view
                }
            }
            logger.info("container started", metadata: [
                "pod": "\(PodConfig.namespace(record.pod))/\(PodConfig.name(record.pod))", "container": "\(name)",
                "attempt": "\(state.attempt)",
            ])
        } catch {
            // A create the runtime did although its answer was lost (the connection dropped): the name is taken by
            // that container, so it is adopted rather than created again (which would fail the same way forever).
            if state.id == nil, "\(error)".contains("reserve container name") {
                var filter = Runtime_V1_ContainerFilter()
                filter.podSandboxID = sandboxID
                if let existing = (try? await cri.listContainers(filter: filter))?.first(where: {
                    $0.metadata.name == name && $0.metadata.attempt == state.attempt
                }) {
                    state.id = existing.id
                    view.containerID = existing.id
                    logger.notice("adopted a container whose creation answer was lost", metadata: [
                        "pod": "\(PodConfig.namespace(record.pod))/\(PodConfig.name(record.pod))", "container": "\(name)",
                    ])
                    return view
                }
            }
            if state.id == nil, error.isConnectionDrop {
                // Asked again on the next pass: the runtime either made it (adopted then) or did not.
                logger.notice("container creation interrupted by a dropped runtime connection; asking again", metadata: [
                    "pod": "\(PodConfig.namespace(record.pod))/\(PodConfig.name(record.pod))", "container": "\(name)",
                ])
                return view
            }
            state.retryAt = .now + .seconds(5)
            state.waiting = ("CreateContainerError", "\(error)")
            view.state = .waiting(reason: "CreateContainerError", message: "\(error)")
            event(record.pod, container: name, initContainer: initContainer, warning: true, "Failed", "Error: \(error)")
            logger.warning("container failed to start", metadata: [
                "pod": "\(PodConfig.namespace(record.pod))/\(PodConfig.name(record.pod))", "container": "\(name)", "error": "\(error)",
            ])
        }
        return view
    }

    func ensureImage(_ container: JSONValue, pod: JSONValue, initContainer: Bool) async throws {
        let image = container.string(at: "image") ?? ""
        let name = container.string(at: "name") ?? ""
        guard !image.isEmpty else { throw EdgedError("container has no image") }
        let policy = PodConfig.pullPolicy(container)
        if policy != "Always" {
            do {
                if try await cri.imageStatus(image) != nil {
                    event(pod, container: name, initContainer: initContainer, "Pulled",
                          "Container image \"\(image)\" already present on machine")
                    return
                }
            } catch {
                throw EdgedError("could not check image \"\(image)\": \(error.message)")
            }
        }
        if policy == "Never" {
            throw EdgedError("image \"\(image)\" is not present with pull policy of Never")
        }
        event(pod, container: name, initContainer: initContainer, "Pulling", "Pulling image \"\(image)\"")
        let started = ContinuousClock.now
        do {
            _ = try await cri.pullImage(image)
        } catch {
            throw EdgedError("Failed to pull image \"\(image)\": \(error.message)")
        }
        event(pod, container: name, initContainer: initContainer, "Pulled",
              "Successfully pulled image \"\(image)\" in \(ContinuousClock.now - started)")
    }

    // MARK: Environment and volumes

    func fetch(_ type: String, namespace: String, name: String) async throws -> JSONValue {
        let answer = try await meta.request(operation: "query", resource: "\(namespace)/\(type)/\(name)")
        guard let answer else { throw EdgedError("\(type) \"\(name)\" could not be read: no answer from meta") }
        if let failure = MetaClient.failure(in: answer) { throw EdgedError("\(type) \"\(name)\" not found: \(failure)") }
        guard let object = MetaClient.objects(in: answer).first else { throw EdgedError("\(type) \"\(name)\" not found") }
        return object
    }

    /// A configmap's or secret's data as text (secret values are base64).
    static func data(of object: JSONValue, secret: Bool) -> [(String, [UInt8])] {
        var out: [(String, [UInt8])] = []
        for (key, value) in object["data"]?.objectMembers ?? [] {
            guard let text = value.stringValue else { continue }
            if secret {
                out.append((key, Data(base64Encoded: text).map { Array($0) } ?? Array(text.utf8)))
            } else {
                out.append((key, Array(text.utf8)))
            }
        }
        if !secret {
            for (key, value) in object["binaryData"]?.objectMembers ?? [] {
                if let text = value.stringValue, let bytes = Data(base64Encoded: text) { out.append((key, Array(bytes))) }
            }
        }
        return out
    }

    func resolve(_ container: JSONValue, pod: JSONValue, uid: String, podIP: String?) async throws -> PodConfig.Resolved {
        var resolved = PodConfig.Resolved()
        let namespace = PodConfig.namespace(pod)
        fetched = [:]
        func object(_ type: String, _ name: String, optional: Bool) async throws -> JSONValue? {
            try await cachedObject(type, namespace: namespace, name: name, optional: optional)
        }
        for from in container["envFrom"]?.arrayValue ?? [] {
            let prefix = from.string(at: "prefix") ?? ""
            for (type, key) in [("configmap", "configMapRef"), ("secret", "secretRef")] {
                guard let name = from.string(at: "\(key).name") else { continue }
                let optional = from[path: [key, "optional"]]?.boolValue ?? false
                guard let source = try await object(type, name, optional: optional) else { continue }
                for (key, value) in Self.data(of: source, secret: type == "secret") {
                    resolved.env.append((prefix + key, String(decoding: value, as: UTF8.self)))
                }
            }
        }
        for env in container["env"]?.arrayValue ?? [] {
            guard let name = env.string(at: "name") else { continue }
            if let value = env.string(at: "value") {
                resolved.env.append((name, value))
                continue
            }
            guard let from = env["valueFrom"] else {
                resolved.env.append((name, ""))
                continue
            }
            if let path = from.string(at: "fieldRef.fieldPath") {
                guard let value = DownwardAPI.field(path, pod: pod, uid: uid, podIP: podIP, node: downwardNode) else {
                    throw EdgedError("env \(name): the downward API has no field \(path)")
                }
                resolved.env.append((name, value))
                continue
            }
            if let ref = from["resourceFieldRef"], let resource = ref.string(at: "resource") {
                let target = ref.string(at: "containerName").flatMap { wanted in
                    PodConfig.containers(pod).first { $0.string(at: "name") == wanted }
                } ?? container
                guard let value = DownwardAPI.resource(resource, container: target, divisor: DownwardAPI.text(ref["divisor"]),
                                                       node: downwardNode) else {
                    throw EdgedError("env \(name): the downward API has no resource \(resource)")
                }
                resolved.env.append((name, value))
                continue
            }
            for (type, key) in [("configmap", "configMapKeyRef"), ("secret", "secretKeyRef")] {
                guard let ref = from[key], let sourceName = ref.string(at: "name"), let dataKey = ref.string(at: "key") else { continue }
                let optional = ref["optional"]?.boolValue ?? false
                guard let source = try await object(type, sourceName, optional: optional) else { continue }
                guard let value = Self.data(of: source, secret: type == "secret").first(where: { $0.0 == dataKey })?.1 else {
                    if optional { continue }
                    throw EdgedError("couldn't find key \(dataKey) in \(type == "secret" ? "Secret" : "ConfigMap") \(namespace)/\(sourceName)")
                }
                resolved.env.append((name, String(decoding: value, as: UTF8.self)))
            }
        }
        // Volumes this container mounts.
        let volumes = pod[path: ["spec", "volumes"]]?.arrayValue ?? []
        for mount in container["volumeMounts"]?.arrayValue ?? [] {
            guard let volumeName = mount.string(at: "name"), let mountPath = mount.string(at: "mountPath") else { continue }
            guard let volume = volumes.first(where: { $0.string(at: "name") == volumeName }) else {
                throw EdgedError("volume \"\(volumeName)\" mounted at \(mountPath) is not defined in the pod")
            }
            var hostPath = try await prepareVolume(volume, uid: uid, namespace: namespace, pod: pod, podIP: podIP)
            if let subPath = mount.string(at: "subPath"), !subPath.isEmpty { hostPath += "/" + subPath }
            var cri = Runtime_V1_Mount()
            cri.containerPath = mountPath
            cri.hostPath = hostPath
            cri.readonly = mount["readOnly"]?.boolValue ?? false
            resolved.mounts.append(cri)
        }
        return resolved
    }

    /// configmaps and secrets read for the container being created (each is read once per creation).
    var fetched: [String: JSONValue] = [:]

    func cachedObject(_ type: String, namespace: String, name: String, optional: Bool) async throws -> JSONValue? {
        if let hit = fetched["\(type)/\(name)"] { return hit }
        do {
            let found = try await fetch(type, namespace: namespace, name: name)
            fetched["\(type)/\(name)"] = found
            return found
        } catch {
            if optional { return nil }
            throw error
        }
    }

    /// The files of a configMap or secret volume: every key, or the `items` chosen, at their paths.
    static func volumeFiles(_ source: JSONValue, of object: JSONValue, secret: Bool) -> [(path: String, data: [UInt8])] {
        let items = source["items"]?.arrayValue ?? []
        var out: [(path: String, data: [UInt8])] = []
        for (dataKey, value) in Self.data(of: object, secret: secret) {
            if items.isEmpty {
                out.append((dataKey, value))
            } else if let item = items.first(where: { $0.string(at: "key") == dataKey }), let path = item.string(at: "path") {
                out.append((path, value))
            }
        }
        return out
    }

    /// The node as the downward API shows it.
    var downwardNode: DownwardAPI.Node {
        DownwardAPI.Node(name: settings.nodeName, ip: settings.nodeIP,
                         cpuCores: ProcessInfo.processInfo.activeProcessorCount,
                         memoryBytes: Int64(ProcessInfo.processInfo.physicalMemory))
    }

    /// The files of a `downwardAPI` volume, or of a `projected` one (configMap, secret and downwardAPI sources; a
    /// serviceAccountToken source has no token to give at the edge and is left out).
    func projectedFiles(_ volume: JSONValue, pod: JSONValue, uid: String, podIP: String?) async throws
        -> [(path: String, data: [UInt8])]
    {
        if let downward = volume["downwardAPI"] {
            return DownwardAPI.files(downward, pod: pod, uid: uid, podIP: podIP, node: downwardNode)
        }
        var out: [(path: String, data: [UInt8])] = []
        let namespace = PodConfig.namespace(pod)
        for source in volume[path: ["projected", "sources"]]?.arrayValue ?? [] {
            if let downward = source["downwardAPI"] {
                out += DownwardAPI.files(downward, pod: pod, uid: uid, podIP: podIP, node: downwardNode)
            }
            for (type, key) in [("configmap", "configMap"), ("secret", "secret")] {
                guard let projection = source[key], let name = projection.string(at: "name") else { continue }
                let optional = projection["optional"]?.boolValue ?? false
                if let found = try await cachedObject(type, namespace: namespace, name: name, optional: optional) {
                    out += Self.volumeFiles(projection, of: found, secret: type == "secret")
                }
            }
        }
        return out
    }

    /// `defaultMode` (octal 0644 when unset, as the API server defaults it).
    static func fileMode(_ source: JSONValue) -> Int {
        source["defaultMode"]?.int64Value.map { Int($0) & 0o777 } ?? 0o644
    }

    /// A configMap or secret changed (meta handed it over): every running pod that mounts it as a volume gets the
    /// new files at once, swapped atomically; containers are not restarted.
    func objectChanged(type: String, _ object: JSONValue) async {
        let name = object.string(at: "metadata.name") ?? ""
        let namespace = object.string(at: "metadata.namespace") ?? "default"
        fetched["\(type)/\(name)"] = object
        let (key, nameKey) = type == "secret" ? ("secret", "secretName") : ("configMap", "name")
        for (uid, record) in records where PodConfig.namespace(record.pod) == namespace {
            for volume in record.pod[path: ["spec", "volumes"]]?.arrayValue ?? [] {
                let projected = (volume[path: ["projected", "sources"]]?.arrayValue ?? [])
                    .contains { $0[key]?.string(at: "name") == name }
                guard let volumeName = volume.string(at: "name"),
                      volume[key]?.string(at: nameKey) == name || projected else { continue }
                let dir = "\(podDir(uid))/volumes/\(volumeName)"
                guard FileManager.default.fileExists(atPath: dir) else { continue }
                do {
                    if projected {
                        try AtomicVolumeWriter.write(try await projectedFiles(volume, pod: record.pod, uid: uid, podIP: record.podIP),
                                                     into: dir, mode: Self.fileMode(volume["projected"] ?? .object([])))
                    } else {
                        let source = volume[key] ?? .object([])
                        try AtomicVolumeWriter.write(Self.volumeFiles(source, of: object, secret: type == "secret"), into: dir,
                                                     mode: Self.fileMode(source))
                    }
                    logger.info("volume updated", metadata: [
                        "pod": "\(namespace)/\(PodConfig.name(record.pod))", "volume": "\(volumeName)", "\(type)": "\(name)",
                    ])
                } catch {
                    logger.error("cannot update a volume", metadata: [
                        "pod": "\(namespace)/\(PodConfig.name(record.pod))", "volume": "\(volumeName)", "error": "\(error)",
                    ])
                }
            }
        }
    }

    func prepareVolume(_ volume: JSONValue, uid: String, namespace: String, pod: JSONValue? = nil, podIP: String? = nil)
        async throws -> String
    {
        let name = volume.string(at: "name") ?? ""
        let dir = "\(podDir(uid))/volumes/\(name)"
        let files = FileManager.default
        if let path = volume.string(at: "hostPath.path") {
            let type = volume.string(at: "hostPath.type") ?? ""
            if type == "DirectoryOrCreate" { try files.createDirectory(atPath: path, withIntermediateDirectories: true) }
            return path
        }
        if volume["emptyDir"] != nil {
            try files.createDirectory(atPath: dir, withIntermediateDirectories: true)
            return dir
        }
        for (type, key, nameKey) in [("configmap", "configMap", "name"), ("secret", "secret", "secretName")] {
            guard let source = volume[key], let sourceName = source.string(at: nameKey) else { continue }
            let optional = source["optional"]?.boolValue ?? false
            let found = try await cachedObject(type, namespace: namespace, name: sourceName, optional: optional)
            try AtomicVolumeWriter.write(found.map { Self.volumeFiles(source, of: $0, secret: type == "secret") } ?? [],
                                         into: dir, mode: Self.fileMode(source))
            return dir
        }
        if volume["downwardAPI"] != nil || volume["projected"] != nil {
            let record = records[uid]
            try AtomicVolumeWriter.write(
                try await projectedFiles(volume, pod: pod ?? record?.pod ?? .object([]), uid: uid, podIP: podIP ?? record?.podIP),
                into: dir, mode: Self.fileMode(volume["downwardAPI"] ?? volume["projected"] ?? .object([])))
            return dir
        }
        throw EdgedError("volume \"\(name)\" has a type edged does not support (configMap, secret, downwardAPI, projected, emptyDir and hostPath are)")
    }

    // MARK: Removal

    /// Stops (SIGTERM, then SIGKILL after `grace`) and removes every sandbox of the pod and its containers.
    /// Stops the pod's containers as kubelet does: each one's preStop hook first (within the grace period), then
    /// SIGTERM, then SIGKILL when the rest of the grace period is over; then the sandbox goes.
    func removeFromRuntime(uid: String, grace: Int64 = 0, pod: JSONValue? = nil) async {
        var filter = Runtime_V1_PodSandboxFilter()
        filter.labelSelector = [PodConfig.podUIDLabel: uid]
        let record = records[uid]
        for sandbox in (try? await cri.listPodSandbox(filter: filter)) ?? [] {
            var containerFilter = Runtime_V1_ContainerFilter()
            containerFilter.podSandboxID = sandbox.id
            let containers = (try? await cri.listContainers(filter: containerFilter)) ?? []
            if let pod {
                for container in containers where container.state == .containerRunning {
                    let name = container.labels[PodConfig.containerNameLabel] ?? ""
                    event(pod, container: name, "Killing", "Stopping container \(name)")
                }
            }
            await withTaskGroup(of: Void.self) { group in
                for container in containers where container.state == .containerRunning {
                    let name = container.labels[PodConfig.containerNameLabel] ?? ""
                    let spec = pod.flatMap { pod in
                        (PodConfig.containers(pod) + PodConfig.initContainers(pod)).first { $0.string(at: "name") == name }
                    }
                    group.addTask {
                        let started = ContinuousClock.now
                        if let spec, let hook = spec[path: ["lifecycle", "preStop"]], let record, grace > 0 {
                            let (ok, detail) = await self.runHook(hook, containerID: container.id, container: spec,
                                                                  record: record, timeout: .seconds(grace))
                            if !ok {
                                self.logger.warning("preStop hook failed", metadata: [
                                    "pod": "\(PodConfig.namespace(record.pod))/\(PodConfig.name(record.pod))",
                                    "container": "\(name)", "reason": "\(detail)",
                                ])
                            }
                        }
                        // The hook's time comes out of the grace period; kubelet leaves at least 2 s for SIGTERM.
                        let spent = (ContinuousClock.now - started).components.seconds
                        let left = grace > 0 ? max(2, grace - spent) : 0
                        try? await self.cri.stopContainer(container.id, gracePeriod: .seconds(left))
                    }
                }
            }
            do {
                try await cri.stopPodSandbox(sandbox.id)
                try await cri.removePodSandbox(sandbox.id)
            } catch {
                logger.warning("could not remove a pod sandbox", metadata: ["sandbox": "\(sandbox.id)", "error": "\(error)"])
            }
        }
    }

    /// Sandboxes of this node's edged whose pod is no longer wanted (deleted while edged was down).
    func removeOrphans() async {
        var filter = Runtime_V1_PodSandboxFilter()
        filter.labelSelector = [PodConfig.managedLabel: settings.nodeName]
        guard let sandboxes = try? await cri.listPodSandbox(filter: filter) else { return }
        for sandbox in sandboxes {
            let uid = sandbox.labels[PodConfig.podUIDLabel] ?? ""
            if records[uid] == nil {
                logger.info("removing a pod no longer assigned to this node", metadata: ["uid": "\(uid)"])
                await removeFromRuntime(uid: uid)
            }
        }
    }
}

struct EdgedError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

// MARK: probes

extension PodWorker {
    /// Runs the container's due probes; a failed liveness (or startup) probe stops the container, which the restart
    /// policy then restarts with its back-off, as kubelet does.
    func probe(_ container: JSONValue, id: String, startedAt: Int64, state: inout ContainerRecord, view: inout ContainerView,
               record: PodRecord) async {
        if state.probedID != id {
            state.probes = ContainerProbes(container: container)
            state.probedID = id
        }
        guard var probes = state.probes else { return }
        defer {
            state.probes = probes
            view.ready = probes.ready
            view.started = probes.started
        }
        let elapsed = Date().timeIntervalSince1970 - Double(startedAt) / 1e9
        for kind in probes.due(elapsed: elapsed) {
            guard let spec = probes.spec(kind) else { continue }
            let (ok, message) = await run(spec, containerID: id, container: container, record: record)
            if !ok {
                event(record.pod, container: view.name, warning: true, "Unhealthy",
                      "\(kind.rawValue.prefix(1).uppercased() + kind.rawValue.dropFirst()) probe failed: \(message)")
            }
            guard case .restart(let reason) = probes.record(kind, success: ok, message: message, elapsed: elapsed) else {
                if !ok {
                    logger.info("probe failed", metadata: [
                        "pod": "\(PodConfig.namespace(record.pod))/\(PodConfig.name(record.pod))",
                        "container": "\(view.name)", "probe": "\(kind.rawValue)", "message": "\(message)",
                    ])
                }
                continue
            }
            logger.notice("\(reason)", metadata: [
                "pod": "\(PodConfig.namespace(record.pod))/\(PodConfig.name(record.pod))", "container": "\(view.name)",
                "message": "\(message)",
            ])
            event(record.pod, container: view.name, "Killing",
                  reason.replacingOccurrences(of: "Container failed", with: "Container \(view.name) failed"))
            try? await cri.stopContainer(id, gracePeriod: .seconds(Int64(PodConfig.gracePeriod(record.pod))))
            probes = ContainerProbes(container: container)
            return
        }
    }

    /// One probe: exec through the runtime, an HTTP GET, or a TCP connect; the result and what failed.
    /// Runs a lifecycle handler (postStart, preStop: exec, httpGet or tcpSocket) like a probe with `timeout`.
    func runHook(_ handler: JSONValue, containerID: String, container: JSONValue, record: PodRecord,
                 timeout: Duration) async -> (Bool, String) {
        guard var spec = ProbeSpec(handler) else { return (false, "the hook has no handler edged runs") }
        spec.timeoutSeconds = max(1, Int(timeout.components.seconds))
        return await run(spec, containerID: containerID, container: container, record: record)
    }

    func run(_ spec: ProbeSpec, containerID: String, container: JSONValue, record: PodRecord) async -> (Bool, String) {
        let timeout = Duration.seconds(spec.timeoutSeconds)
        func port(_ port: ProbeSpec.Port) -> Int? {
            switch port {
            case .number(let number): return number
            case .name(let name):
                return (container["ports"]?.arrayValue ?? []).first { $0["name"]?.stringValue == name }?["containerPort"]?
                    .int64Value.map(Int.init)
            }
        }
        let podIP = (PodConfig.hostNetwork(record.pod) ? settings.nodeIP : record.podIP) ?? settings.nodeIP
        switch spec.action {
        case .exec(let command):
            do {
                let result = try await cri.execSync(containerID, command: command, timeout: timeout)
                let output = String(decoding: (result.stdout + result.stderr).prefix(512), as: UTF8.self)
                return (result.exitCode == 0, "exit code \(result.exitCode): \(output)")
            } catch {
                return (false, "exec failed: \(error)")
            }
        case .httpGet(let scheme, let host, let target, let path, let headers):
            guard let number = port(target) else { return (false, "no container port named \(target)") }
            let address = host ?? podIP
            do {
                let response = try await HTTPFetch.request(
                    method: "GET", host: address, port: number, path: path,
                    headers: [("User-Agent", "kube-probe/1.26")] + headers.map { ($0.key, $0.value) },
                    tls: scheme.uppercased() == "HTTPS" ? Self.insecureTLS : nil, timeout: timeout, maxBody: 10 << 10)
                return ((200..<400).contains(response.status), "HTTP probe failed with statuscode: \(response.status)")
            } catch {
                return (false, "Get \"\(scheme.lowercased())://\(address):\(number)\(path)\": \(error)")
            }
        case .tcpSocket(let host, let target):
            guard let number = port(target) else { return (false, "no container port named \(target)") }
            let address = host ?? podIP
            let ok = await HTTPFetch.canConnect(host: address, port: number, timeout: timeout)
            return (ok, ok ? "" : "dial tcp \(address):\(number): connection refused")
        }
    }

    /// kubelet's HTTPS probes do not verify the certificate.
    static var insecureTLS: TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.certificateVerification = .none
        return tls
    }
}

// MARK: - Logs (kubectl logs through the stream extension)

/// A container's log file as `kubectl logs` reads it.
struct LogTarget: Sendable, Equatable {
    var path: String
    var attempt: UInt32
    var running: Bool
}

extension PodWorker {
    /// A stream session's pod and container (the pod's only container when none is named), with kube's errors for a
    /// pod not on this node, a missing name among several containers, or a container the pod does not have.
    func streamTarget(namespace: String, pod: String, container: String)
        -> Result<(uid: String, record: PodRecord, container: String), StreamFailure>
    {
        guard let (uid, record) = records.first(where: {
            PodConfig.namespace($0.value.pod) == namespace && PodConfig.name($0.value.pod) == pod
        }) else {
            return .failure(.notFound("pods \"\(pod)\" not found on node \"\(settings.nodeName)\""))
        }
        let names = PodConfig.containers(record.pod).compactMap { $0.string(at: "name") }
        let initNames = PodConfig.initContainers(record.pod).compactMap { $0.string(at: "name") }
        var name = container
        if name.isEmpty {
            guard names.count == 1 else {
                return .failure(.badRequest("a container name must be specified for pod \(pod), choose one of: [\(names.joined(separator: " "))]"))
            }
            name = names[0]
        }
        guard names.contains(name) || initNames.contains(name) else {
            return .failure(.badRequest("container \(name) is not valid for pod \(pod)"))
        }
        return .success((uid, record, name))
    }

    /// The log file of a pod's container (its latest attempt, or the one before with `previous`), with kube's
    /// errors for a container that has not started or has no previous attempt.
    func logTarget(namespace: String, pod: String, container: String, previous: Bool) -> Result<LogTarget, StreamFailure> {
        let uid: String, record: PodRecord, name: String
        switch streamTarget(namespace: namespace, pod: pod, container: container) {
        case .success(let found): (uid, record, name) = found
        case .failure(let failure): return .failure(failure)
        }
        let directory = podDir(uid) + "/logs"
        guard let current = record.containers[name], current.id != nil || current.attempt > 0 else {
            let reason: String
            if case .waiting(let why, _)? = record.lastViews[name]?.state { reason = why } else { reason = "ContainerCreating" }
            return .failure(.badRequest("container \"\(name)\" in pod \"\(pod)\" is waiting to start: \(reason)"))
        }
        let running: Bool
        if case .running? = record.lastViews[name]?.state { running = true } else { running = false }
        if previous {
            let path = "\(directory)/\(name)_\(current.attempt &- 1).log"
            guard current.attempt > 0, access(path, R_OK) == 0 else {
                return .failure(.badRequest("previous terminated container \"\(name)\" in pod \"\(pod)\" not found"))
            }
            return .success(LogTarget(path: path, attempt: current.attempt - 1, running: false))
        }
        let path = "\(directory)/\(name)_\(current.attempt).log"
        guard access(path, R_OK) == 0 else {
            return .failure(.badRequest("container \"\(name)\" in pod \"\(pod)\" is waiting to start: ContainerCreating"))
        }
        return .success(LogTarget(path: path, attempt: current.attempt, running: running))
    }

    /// Whether that attempt of the container is still the running one (a followed log ends when it is not).
    func stillRunning(namespace: String, pod: String, container: String, attempt: UInt32) -> Bool {
        guard case .success(let (_, record, name)) = streamTarget(namespace: namespace, pod: pod, container: container),
              record.containers[name]?.attempt == attempt else { return false }
        if case .running? = record.lastViews[name]?.state { return true }
        return false
    }

    /// The running container `kubectl exec` / `attach` reaches, with kube's errors when it is not running.
    /// The sandbox of a pod that is running here, for port-forward into its network namespace.
    func readySandbox(namespace: String, pod: String) -> Result<String, StreamFailure> {
        guard let record = records.values.first(where: {
            PodConfig.namespace($0.pod) == namespace && PodConfig.name($0.pod) == pod
        }) else {
            return .failure(.notFound("pods \"\(pod)\" not found on node \"\(settings.nodeName)\""))
        }
        guard let id = record.sandboxID else {
            return .failure(.badRequest("pod \(pod) has no running sandbox on node \"\(settings.nodeName)\""))
        }
        return .success(id)
    }

    func runningContainer(namespace: String, pod: String, container: String) -> Result<String, StreamFailure> {
        switch streamTarget(namespace: namespace, pod: pod, container: container) {
        case .failure(let failure):
            return .failure(failure)
        case .success(let (_, record, name)):
            guard let id = record.containers[name]?.id, case .running? = record.lastViews[name]?.state else {
                return .failure(.badRequest("container \(name) is not running in pod \(pod)"))
            }
            return .success(id)
        }
    }
}

// MARK: - Eviction under node pressure

extension PodWorker {
    /// Evicts one pod for the signal under pressure (`memory`, `ephemeral-storage`, `pids`), as kubelet's eviction
    /// manager does on each pass: BestEffort pods first, then Burstable, then Guaranteed; within a class the pod
    /// started last. Returns the pod evicted, if any.
    func evictOne(resource: String) -> String? {
        let ranked = records.filter { $0.value.evicted == nil && $0.value.pod[path: ["metadata", "deletionTimestamp"]] == nil }
            .sorted { a, b in
                let qa = Self.evictionRank(a.value.pod), qb = Self.evictionRank(b.value.pod)
                if qa != qb { return qa < qb }
                return (a.value.startTime ?? "") > (b.value.startTime ?? "")
            }
        guard let (uid, record) = ranked.first else { return nil }
        let name = "\(PodConfig.namespace(record.pod))/\(PodConfig.name(record.pod))"
        let message = "The node was low on resource: \(resource). "
        records[uid]?.evicted = message
        event(record.pod, warning: true, "Evicted", message)
        logger.warning("evicting a pod under node pressure", metadata: ["pod": "\(name)", "resource": "\(resource)"])
        return name
    }

    static func evictionRank(_ pod: JSONValue) -> Int {
        switch PodStatusBuilder.qosClass(pod) {
        case "BestEffort": 0
        case "Burstable": 1
        default: 2
        }
    }
}
