import EdgeProtocol
import Foundation
import Synchronization

/// The host as a v1.Node: capacity, conditions, addresses, node info (what kubelet reports, wire reference §4.4, §9).
public struct NodeStatus: Sendable {
    public static let kubeletVersion = "v1.26.7-kubeedge-swift"
    public static let kubeletPort = 10350

    public var nodeName: String
    public var nodeIP: String
    public var runtimeVersion: String
    public var maxPods: Int
    public var rootDir: String
    public var evictionHard: [String: NodeResources.Threshold]
    public var systemReserved: [String: Double]
    public var kubeReserved: [String: Double]
    /// kubelet's evictionPressureTransitionPeriod, seconds.
    public var pressureTransitionSeconds: Double = 300
    /// When each pressure was last seen (kept across status builds).
    let lastPressure = PressureMemory()

    public init(nodeName: String, nodeIP: String, runtimeVersion: String, maxPods: Int = 110, rootDir: String,
                evictionHard: [String: NodeResources.Threshold] = (try? NodeResources.parseThresholds(
                    NodeResources.defaultEvictionHard)) ?? [:],
                systemReserved: [String: Double] = [:], kubeReserved: [String: Double] = [:]) {
        self.nodeName = nodeName
        self.nodeIP = nodeIP
        self.runtimeVersion = runtimeVersion
        self.maxPods = maxPods
        self.rootDir = rootDir
        self.evictionHard = evictionHard
        self.systemReserved = systemReserved
        self.kubeReserved = kubeReserved
    }

    /// The Node edged registers.
    public func node(readyMessage: String = "kubelet is posting ready status") -> JSONValue {
        [
            "apiVersion": "v1", "kind": "Node",
            "metadata": [
                "name": .string(nodeName),
                "labels": [
                    "node-role.kubernetes.io/edge": "", "node-role.kubernetes.io/agent": "",
                    "kubernetes.io/hostname": .string(nodeName), "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": .string(Self.architecture), "beta.kubernetes.io/os": "linux",
                    "beta.kubernetes.io/arch": .string(Self.architecture),
                ],
            ],
            "spec": .object([]),
            "status": status(now: RFC3339.now()),
        ]
    }

    public func status(now: String) -> JSONValue {
        // One sample of the host for capacity, allocatable and the pressure conditions.
        let sample = NodeResources.HostSample.read(root: rootDir)
        let resources: JSONValue = [
            "cpu": .string(String(ProcessInfo.processInfo.activeProcessorCount)),
            "memory": .string("\(Int64(sample.memoryTotal / 1024))Ki"),
            "pods": .string(String(maxPods)),
            "ephemeral-storage": .string("\(Int64(sample.fsTotal / 1024))Ki"),
        ]
        let free = NodeResources.allocatable(
            capacity: ["cpu": Double(ProcessInfo.processInfo.activeProcessorCount), "memory": sample.memoryTotal,
                       "ephemeral-storage": sample.fsTotal],
            systemReserved: systemReserved, kubeReserved: kubeReserved, thresholds: evictionHard)
        let allocatable: JSONValue = [
            "cpu": .string("\(Int64(((free["cpu"] ?? 0) * 1000).rounded(.down)))m"),
            "memory": .string("\(Int64((free["memory"] ?? 0) / 1024))Ki"),
            "pods": .string(String(maxPods)),
            "ephemeral-storage": .string("\(Int64((free["ephemeral-storage"] ?? 0) / 1024))Ki"),
        ]
        let sampled = NodeResources.conditions(sample, thresholds: evictionHard)
        let pressure = lastPressure.state.withLock { last in
            NodeResources.held(sampled, lastPressure: &last, now: Date().timeIntervalSince1970,
                               period: pressureTransitionSeconds)
        }
        func condition(_ type: String, _ status: String, _ reason: String, _ message: String) -> JSONValue {
            ["type": .string(type), "status": .string(status), "lastHeartbeatTime": .string(now),
             "lastTransitionTime": .string(now), "reason": .string(reason), "message": .string(message)]
        }
        return [
            "capacity": resources,
            "allocatable": allocatable,
            "conditions": .array(pressure.map { condition($0.type, $0.pressure ? "True" : "False", $0.reason, $0.message) }
                + [condition("Ready", "True", "KubeletReady", "kubelet is posting ready status")]),
            "addresses": [
                ["type": "InternalIP", "address": .string(nodeIP)],
                ["type": "Hostname", "address": .string(nodeName)],
            ],
            "daemonEndpoints": ["kubeletEndpoint": ["Port": .integer(Self.kubeletPort)]],
            "nodeInfo": [
                "machineID": .string(Self.read("/etc/machine-id")),
                "systemUUID": .string(Self.read("/sys/class/dmi/id/product_uuid")),
                "bootID": .string(Self.read("/proc/sys/kernel/random/boot_id")),
                "kernelVersion": .string(Self.kernelVersion()),
                "osImage": .string(Self.osImage()),
                "containerRuntimeVersion": .string(runtimeVersion),
                "kubeletVersion": .string(Self.kubeletVersion),
                "kubeProxyVersion": "",
                "operatingSystem": "linux",
                "architecture": .string(Self.architecture),
            ],
        ]
    }

    /// The lastTransitionTime of Ready must not move on every heartbeat; the cloud keeps it when the status is
    /// unchanged, so the patch sends only heartbeats and values (strategic merge by condition type).
    public func statusPatch(now: String) -> JSONValue {
        ["status": status(now: now)]
    }

    static var architecture: String {
        #if arch(arm64)
        "arm64"
        #else
        "amd64"
        #endif
    }

    static func read(_ path: String) -> String {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func kernelVersion() -> String {
        var name = utsname()
        uname(&name)
        return withUnsafeBytes(of: &name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    static func osImage() -> String {
        for line in read("/etc/os-release").split(separator: "\n") where line.hasPrefix("PRETTY_NAME=") {
            return String(line.dropFirst("PRETTY_NAME=".count)).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        }
        return "Linux"
    }

    /// The first non-loopback IPv4 address of the host, else 127.0.0.1.
    public static func hostIPv4() -> String {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { return "127.0.0.1" }
        defer { freeifaddrs(list) }
        var cursor: UnsafeMutablePointer<ifaddrs>? = first
        while let entry = cursor {
            defer { cursor = entry.pointee.ifa_next }
            guard let address = entry.pointee.ifa_addr, address.pointee.sa_family == sa_family_t(AF_INET),
                  (entry.pointee.ifa_flags & UInt32(IFF_LOOPBACK)) == 0,
                  (entry.pointee.ifa_flags & UInt32(IFF_UP)) != 0 else { continue }
            var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            if getnameinfo(address, socklen_t(MemoryLayout<sockaddr_in>.size), &host, socklen_t(host.count), nil, 0,
                           NI_NUMERICHOST) == 0 {
                let text = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                // Skip bridges edged's own CNI may have made.
                let interface = String(cString: entry.pointee.ifa_name)
                if interface.hasPrefix("cni") || interface.hasPrefix("kes") || interface.hasPrefix("veth") { continue }
                return text
            }
        }
        return "127.0.0.1"
    }
}

/// When each pressure was last seen, shared by the copies of a NodeStatus.
final class PressureMemory: Sendable {
    let state = Mutex<[String: Double]>([:])
}
