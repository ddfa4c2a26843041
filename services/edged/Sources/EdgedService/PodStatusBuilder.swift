import EdgeProtocol
import Foundation

/// What edged knows of one container, from the runtime and from its own attempts.
public struct ContainerView: Sendable, Equatable {
    public enum State: Sendable, Equatable {
        case waiting(reason: String, message: String)
        case running(startedAt: Int64)
        case terminated(exitCode: Int32, reason: String, message: String, startedAt: Int64, finishedAt: Int64)
    }

    public var name: String
    public var image: String
    public var imageID: String = ""
    public var containerID: String = ""
    public var state: State
    public var lastTerminated: State?
    public var restartCount: Int = 0
    /// Readiness and startup as the probes say (nil: no probes, a running container is both).
    public var ready: Bool?
    public var started: Bool?

    public init(name: String, image: String, state: State) {
        self.name = name
        self.image = image
        self.state = state
    }
}

/// Builds a v1.PodStatus (phase, conditions, container statuses, IPs) from container views. Pure.
public enum PodStatusBuilder {
    public struct Input: Sendable {
        public var pod: JSONValue
        public var containers: [ContainerView]
        /// The init containers, in order (empty when the pod has none).
        public var initContainers: [ContainerView] = []
        public var hostIP: String
        public var podIP: String?
        public var startTime: String
        /// When each condition last changed: type → (status, time), kept by the caller across builds.
        public var transitions: [String: (status: String, time: String)]

        public init(pod: JSONValue, containers: [ContainerView], hostIP: String, podIP: String?, startTime: String,
                    transitions: [String: (status: String, time: String)]) {
            self.pod = pod
            self.containers = containers
            self.hostIP = hostIP
            self.podIP = podIP
            self.startTime = startTime
            self.transitions = transitions
        }
    }

    public static func phase(policy: String, containers: [ContainerView]) -> String {
        if containers.isEmpty { return "Pending" }
        var running = 0, succeeded = 0, failed = 0, waiting = 0
        for container in containers {
            switch container.state {
            case .running: running += 1
            case .terminated(let code, _, _, _, _): if code == 0 { succeeded += 1 } else { failed += 1 }
            case .waiting:
                // A container waiting to be restarted has run before: the pod is running.
                if container.lastTerminated != nil { running += 1 } else { waiting += 1 }
            }
        }
        if waiting > 0 { return "Pending" }
        if running > 0 { return "Running" }
        if failed > 0 { return policy == "Always" ? "Running" : "Failed" }
        return policy == "Always" ? "Running" : "Succeeded"
    }

    /// The status, and the transitions to keep for the next build.
    public static func build(_ input: Input, now: String) -> (status: JSONValue, transitions: [String: (status: String, time: String)]) {
        let policy = PodConfig.restartPolicy(input.pod)
        // Init containers run to completion first: until then the pod is Pending, or Failed when one failed and
        // will not be restarted (restartPolicy Never).
        let initialized = input.initContainers.allSatisfy {
            if case .terminated(let code, _, _, _, _) = $0.state { return code == 0 } else { return false }
        }
        let initFailed = policy == "Never" && input.initContainers.contains {
            if case .terminated(let code, _, _, _, _) = $0.state { return code != 0 } else { return false }
        }
        let phase = initFailed ? "Failed" : initialized ? phase(policy: policy, containers: input.containers) : "Pending"
        let allReady = initialized && !input.containers.isEmpty && input.containers.allSatisfy {
            if case .running = $0.state { return $0.ready ?? true } else { return false }
        }
        var transitions = input.transitions
        func condition(_ type: String, _ ok: Bool, reason: String? = nil) -> JSONValue {
            let status = ok ? "True" : "False"
            if transitions[type]?.status != status { transitions[type] = (status, now) }
            var members: [(key: String, value: JSONValue)] = [
                ("type", .string(type)), ("status", .string(status)), ("lastProbeTime", .null),
                ("lastTransitionTime", .string(transitions[type]?.time ?? now)),
            ]
            if let reason, !ok { members.append(("reason", .string(reason))) }
            return .object(members)
        }
        let notReady = phase == "Succeeded" || phase == "Failed" ? "PodCompleted" : "ContainersNotReady"
        let conditions: [JSONValue] = [
            condition("Initialized", initialized, reason: "ContainersNotInitialized"),
            condition("Ready", allReady, reason: notReady),
            condition("ContainersReady", allReady, reason: notReady),
            condition("PodScheduled", true),
        ]
        var members: [(key: String, value: JSONValue)] = [
            ("phase", .string(phase)),
            ("conditions", .array(conditions)),
            ("hostIP", .string(input.hostIP)),
            ("hostIPs", [["ip": .string(input.hostIP)]]),
        ]
        if let ip = input.podIP, !ip.isEmpty {
            members.append(("podIP", .string(ip)))
            members.append(("podIPs", [["ip": .string(ip)]]))
        }
        members.append(("startTime", .string(input.startTime)))
        if !input.initContainers.isEmpty {
            members.append(("initContainerStatuses", .array(input.initContainers.map { initContainerStatus($0) })))
        }
        members.append(("containerStatuses", .array(input.containers.map(containerStatus))))
        members.append(("qosClass", .string(qosClass(input.pod))))
        return (.object(members), transitions)
    }

    static func state(_ state: ContainerView.State) -> JSONValue {
        switch state {
        case .waiting(let reason, let message):
            var waiting: [(key: String, value: JSONValue)] = [("reason", .string(reason))]
            if !message.isEmpty { waiting.append(("message", .string(message))) }
            return .object([("waiting", .object(waiting))])
        case .running(let startedAt):
            return ["running": ["startedAt": .string(timestamp(nanos: startedAt))]]
        case .terminated(let code, let reason, let message, let startedAt, let finishedAt):
            var terminated: [(key: String, value: JSONValue)] = [
                ("exitCode", .integer(code)), ("reason", .string(reason)),
                ("startedAt", .string(timestamp(nanos: startedAt))), ("finishedAt", .string(timestamp(nanos: finishedAt))),
            ]
            if !message.isEmpty { terminated.append(("message", .string(message))) }
            return .object([("terminated", .object(terminated))])
        }
    }

    static func containerStatus(_ view: ContainerView) -> JSONValue {
        var running = false
        if case .running = view.state { running = true }
        var members: [(key: String, value: JSONValue)] = [
            ("name", .string(view.name)),
            ("state", state(view.state)),
            ("lastState", view.lastTerminated.map(state) ?? .object([])),
            ("ready", .bool(running && (view.ready ?? true))),
            ("restartCount", .integer(view.restartCount)),
            ("image", .string(view.image)),
            ("imageID", .string(view.imageID)),
        ]
        if !view.containerID.isEmpty { members.append(("containerID", .string("containerd://" + view.containerID))) }
        members.append(("started", .bool(running && (view.started ?? true))))
        return .object(members)
    }

    /// An init container is ready once it has completed (kubelet's rule).
    static func initContainerStatus(_ view: ContainerView) -> JSONValue {
        var status = containerStatus(view)
        var completed = false
        if case .terminated(let code, _, _, _, _) = view.state { completed = code == 0 }
        status[member: "ready"] = .bool(completed)
        status[member: "started"] = .bool({ if case .running = view.state { return true } else { return false } }())
        return status
    }

    static func qosClass(_ pod: JSONValue) -> String {
        let containers = PodConfig.containers(pod)
        let anyResources = containers.contains { ($0["resources"]?.objectMembers ?? []).contains { !($0.value.objectMembers ?? []).isEmpty } }
        if !anyResources { return "BestEffort" }
        let guaranteed = containers.allSatisfy { container in
            let limits = container[path: ["resources", "limits"]]
            let requests = container[path: ["resources", "requests"]] ?? limits
            return limits?["cpu"] != nil && limits?["memory"] != nil
                && requests?["cpu"] == limits?["cpu"] && requests?["memory"] == limits?["memory"]
        }
        return guaranteed ? "Guaranteed" : "Burstable"
    }

    /// RFC 3339 (seconds, UTC) from CRI's nanoseconds since the epoch.
    public static func timestamp(nanos: Int64) -> String {
        RFC3339.format(Date(timeIntervalSince1970: Double(nanos / 1_000_000_000)))
    }
}

/// Kubernetes timestamps: RFC 3339 in UTC, whole seconds (Foundation's ISO 8601 style, as the apiserver writes them).
public enum RFC3339 {
    public static func now() -> String { format(Date()) }
    public static func format(_ date: Date) -> String { date.formatted(.iso8601) }
}
