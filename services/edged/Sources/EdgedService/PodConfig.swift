import CRIClient
import EdgeProtocol
import Foundation

/// How a v1.Pod becomes CRI configs (as kubelet's kuberuntime does it, reduced to what edged supports). Pure.
public enum PodConfig {
    /// Labels every sandbox and container of ours carries: kubelet's, plus one naming the node's edged.
    public static let podUIDLabel = "io.kubernetes.pod.uid"
    public static let podNameLabel = "io.kubernetes.pod.name"
    public static let podNamespaceLabel = "io.kubernetes.pod.namespace"
    public static let containerNameLabel = "io.kubernetes.container.name"
    public static let managedLabel = "kubeedge-swift.io/edged"

    public static func uid(_ pod: JSONValue) -> String { pod.string(at: "metadata.uid") ?? "" }
    public static func name(_ pod: JSONValue) -> String { pod.string(at: "metadata.name") ?? "" }
    public static func namespace(_ pod: JSONValue) -> String { pod.string(at: "metadata.namespace") ?? "default" }
    public static func hostNetwork(_ pod: JSONValue) -> Bool { pod[path: ["spec", "hostNetwork"]]?.boolValue ?? false }
    public static func containers(_ pod: JSONValue) -> [JSONValue] { pod[path: ["spec", "containers"]]?.arrayValue ?? [] }
    public static func initContainers(_ pod: JSONValue) -> [JSONValue] {
        pod[path: ["spec", "initContainers"]]?.arrayValue ?? []
    }
    public static func restartPolicy(_ pod: JSONValue) -> String { pod.string(at: "spec.restartPolicy") ?? "Always" }

    /// The host's network, PID and IPC namespaces when the pod asks for them; its own otherwise (PID per container,
    /// as kubelet's default).
    static func namespaceOptions(_ pod: JSONValue) -> Runtime_V1_NamespaceOption {
        var namespaces = Runtime_V1_NamespaceOption()
        namespaces.network = hostNetwork(pod) ? .node : .pod
        namespaces.pid = (pod[path: ["spec", "hostPID"]]?.boolValue ?? false) ? .node : .container
        namespaces.ipc = (pod[path: ["spec", "hostIPC"]]?.boolValue ?? false) ? .node : .pod
        return namespaces
    }

    public static func sandboxConfig(
        pod: JSONValue, node: String, attempt: UInt32, logDirectory: String, cgroupRoot: String
    ) -> Runtime_V1_PodSandboxConfig {
        var config = Runtime_V1_PodSandboxConfig()
        config.metadata.name = name(pod)
        config.metadata.namespace = namespace(pod)
        config.metadata.uid = uid(pod)
        config.metadata.attempt = attempt
        // A host-network pod must leave the hostname empty (no UTS namespace of its own).
        config.hostname = hostNetwork(pod) ? "" : (pod.string(at: "spec.hostname") ?? name(pod))
        config.logDirectory = logDirectory
        config.labels = [
            podUIDLabel: uid(pod), podNameLabel: name(pod), podNamespaceLabel: namespace(pod), managedLabel: node,
        ]
        for (key, value) in pod[path: ["metadata", "labels"]]?.objectMembers ?? [] {
            if let text = value.stringValue, config.labels[key] == nil { config.labels[key] = text }
        }
        config.linux.cgroupParent = "\(cgroupRoot)/pod\(uid(pod))"
        config.linux.securityContext.namespaceOptions = namespaceOptions(pod)
        return config
    }

    /// What a container needs from outside its spec: the resolved environment and the host paths of its volumes.
    public struct Resolved: Sendable {
        public var env: [(String, String)] = []
        public var mounts: [Runtime_V1_Mount] = []
        public init() {}
    }

    public static func containerConfig(
        pod: JSONValue, container: JSONValue, attempt: UInt32, resolved: Resolved, node: String
    ) -> Runtime_V1_ContainerConfig {
        var config = Runtime_V1_ContainerConfig()
        let containerName = container.string(at: "name") ?? ""
        config.metadata.name = containerName
        config.metadata.attempt = attempt
        config.image.image = container.string(at: "image") ?? ""
        config.command = (container["command"]?.arrayValue ?? []).compactMap(\.stringValue)
        config.args = (container["args"]?.arrayValue ?? []).compactMap(\.stringValue)
        config.workingDir = container.string(at: "workingDir") ?? ""
        config.envs = resolved.env.map { key, value in
            var pair = Runtime_V1_KeyValue()
            pair.key = key
            pair.value = Data(value.utf8)
            return pair
        }
        config.mounts = resolved.mounts
        config.labels = [
            podUIDLabel: uid(pod), podNameLabel: name(pod), podNamespaceLabel: namespace(pod),
            containerNameLabel: containerName, managedLabel: node,
        ]
        config.logPath = "\(containerName)_\(attempt).log"
        config.stdin = container["stdin"]?.boolValue ?? false
        config.tty = container["tty"]?.boolValue ?? false
        var resources = Runtime_V1_LinuxContainerResources()
        if let memory = container.string(at: "resources.limits.memory").flatMap(Quantity.bytes) {
            resources.memoryLimitInBytes = memory
        }
        if let cpu = container.string(at: "resources.limits.cpu").flatMap(Quantity.millis) {
            resources.cpuPeriod = 100_000
            resources.cpuQuota = max(1000, cpu * 100)
        }
        let requestCPU = container.string(at: "resources.requests.cpu").flatMap(Quantity.millis)
            ?? container.string(at: "resources.limits.cpu").flatMap(Quantity.millis)
        resources.cpuShares = max(2, (requestCPU ?? 2) * 1024 / 1000)
        config.linux.resources = resources
        if container[path: ["securityContext", "privileged"]]?.boolValue == true {
            config.linux.securityContext.privileged = true
        }
        if let user = container[path: ["securityContext", "runAsUser"]]?.int64Value
            ?? pod[path: ["spec", "securityContext", "runAsUser"]]?.int64Value {
            config.linux.securityContext.runAsUser.value = user
        }
        config.linux.securityContext.namespaceOptions = namespaceOptions(pod)
        return config
    }

    /// kubelet's default: `Always` for `:latest` or an untagged image, `IfNotPresent` otherwise.
    public static func pullPolicy(_ container: JSONValue) -> String {
        if let policy = container.string(at: "imagePullPolicy") { return policy }
        let image = container.string(at: "image") ?? ""
        let last = image.split(separator: "/").last ?? ""
        if image.contains("@") { return "IfNotPresent" }
        guard let colon = last.lastIndex(of: ":") else { return "Always" }
        return last[last.index(after: colon)...] == "latest" ? "Always" : "IfNotPresent"
    }

    /// Whether a container that exited with `exitCode` is started again under the pod's restartPolicy.
    public static func shouldRestart(policy: String, exitCode: Int32) -> Bool {
        switch policy {
        case "Never": false
        case "OnFailure": exitCode != 0
        default: true
        }
    }

    /// kubelet's crash-loop back-off: 10 s doubling per restart, at most 5 min.
    public static func backoffSeconds(restarts: Int, initial: Int, maximum: Int) -> Int {
        var delay = initial
        for _ in 0..<max(0, restarts) {
            delay *= 2
            if delay >= maximum { return maximum }
        }
        return min(delay, maximum)
    }

    /// The termination grace: the deletion's own, else the pod's, else 30 s.
    public static func gracePeriod(_ pod: JSONValue) -> Int64 {
        pod[path: ["metadata", "deletionGracePeriodSeconds"]]?.int64Value
            ?? pod[path: ["spec", "terminationGracePeriodSeconds"]]?.int64Value ?? 30
    }
}

/// Kubernetes resource quantities (`64Mi`, `1G`, `250m`, `0.5`), the forms pods use for memory and CPU.
public enum Quantity {
    static let binary: [(String, Double)] = [("Ki", 1024), ("Mi", 1_048_576), ("Gi", 1_073_741_824), ("Ti", 1_099_511_627_776), ("Pi", 1_125_899_906_842_624), ("Ei", 1_152_921_504_606_846_976)]
    static let decimal: [(String, Double)] = [("k", 1e3), ("M", 1e6), ("G", 1e9), ("T", 1e12), ("P", 1e15), ("E", 1e18), ("m", 1e-3)]

    public static func value(_ text: String) -> Double? {
        for (suffix, factor) in binary + decimal where text.hasSuffix(suffix) {
            return Double(text.dropLast(suffix.count)).map { $0 * factor }
        }
        return Double(text)
    }

    public static func bytes(_ text: String) -> Int64? { value(text).map { Int64($0.rounded(.up)) } }
    public static func millis(_ text: String) -> Int64? { value(text).map { Int64(($0 * 1000).rounded(.up)) } }
}
