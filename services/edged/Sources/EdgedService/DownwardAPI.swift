import EdgeProtocol
import Foundation

/// The downward API (k8s.io/kubernetes `pkg/fieldpath` and `pkg/api/v1/resource`): a pod's own fields and its
/// containers' resources, for env `valueFrom` and for `downwardAPI` / `projected` volume files. Pure.
public enum DownwardAPI {
    /// What the node knows of itself for the pod: addresses, and the capacity that stands in for a missing limit.
    public struct Node: Sendable {
        public var name: String
        public var ip: String
        public var cpuCores: Int
        public var memoryBytes: Int64

        public init(name: String, ip: String, cpuCores: Int, memoryBytes: Int64) {
            self.name = name
            self.ip = ip
            self.cpuCores = cpuCores
            self.memoryBytes = memoryBytes
        }
    }

    /// A `fieldRef.fieldPath`'s value, nil for a path the downward API does not offer.
    public static func field(_ path: String, pod: JSONValue, uid: String, podIP: String?, node: Node) -> String? {
        func quotedMap(_ key: String) -> String {
            // Volume form: key="value" lines, sorted (kubelet's FormatMap).
            let members = (pod[path: ["metadata", key]]?.objectMembers ?? []).sorted { $0.key < $1.key }
            return members.map { "\($0.key)=\(goQuote($0.value.stringValue ?? ""))" }.joined(separator: "\n")
        }
        for (prefix, key) in [("metadata.labels['", "labels"), ("metadata.annotations['", "annotations")]
        where path.hasPrefix(prefix) && path.hasSuffix("']") {
            let name = String(path.dropFirst(prefix.count).dropLast(2))
            return pod[path: ["metadata", key, name]]?.stringValue ?? ""
        }
        switch path {
        case "metadata.name": return pod.string(at: "metadata.name") ?? ""
        case "metadata.namespace": return pod.string(at: "metadata.namespace") ?? "default"
        case "metadata.uid": return uid
        case "metadata.labels": return quotedMap("labels")
        case "metadata.annotations": return quotedMap("annotations")
        case "spec.nodeName": return node.name
        case "spec.serviceAccountName": return pod.string(at: "spec.serviceAccountName") ?? ""
        case "status.hostIP", "status.hostIPs": return node.ip
        case "status.podIP", "status.podIPs":
            return (PodConfig.hostNetwork(pod) ? node.ip : podIP) ?? ""
        default: return nil
        }
    }

    /// A `resourceFieldRef`'s value: the container's limit (or, without one, the node's capacity, as kubelet does) or
    /// request, divided by `divisor` and rounded up; nil for a resource it does not offer.
    public static func resource(_ resource: String, container: JSONValue, divisor: String?, node: Node) -> String? {
        let parts = resource.split(separator: ".", maxSplits: 1).map(String.init)
        guard parts.count == 2, ["limits", "requests"].contains(parts[0]) else { return nil }
        let declared = container[path: ["resources", parts[0], parts[1]]]?.stringValue
            ?? (parts[0] == "requests" ? container[path: ["resources", "limits", parts[1]]]?.stringValue : nil)
        let amount: Double
        switch parts[1] {
        case "cpu":
            amount = declared.flatMap(Quantity.value) ?? (parts[0] == "limits" ? Double(node.cpuCores) : 0)
        case "memory":
            amount = declared.flatMap(Quantity.value) ?? (parts[0] == "limits" ? Double(node.memoryBytes) : 0)
        case "ephemeral-storage":
            amount = declared.flatMap(Quantity.value) ?? 0
        default:
            return nil
        }
        let by = divisor.flatMap(Quantity.value).flatMap { $0 > 0 ? $0 : nil } ?? 1
        return String(Int64((amount / by).rounded(.up)))
    }

    /// The files of a `downwardAPI` volume (or projection): each item's path and value.
    public static func files(_ source: JSONValue, pod: JSONValue, uid: String, podIP: String?, node: Node)
        -> [(path: String, data: [UInt8])]
    {
        var out: [(path: String, data: [UInt8])] = []
        for item in source["items"]?.arrayValue ?? [] {
            guard let path = item.string(at: "path") else { continue }
            var value: String?
            if let field = item.string(at: "fieldRef.fieldPath") {
                value = Self.field(field, pod: pod, uid: uid, podIP: podIP, node: node)
            } else if let ref = item["resourceFieldRef"], let name = ref.string(at: "resource") {
                let containerName = ref.string(at: "containerName")
                let container = PodConfig.containers(pod).first { $0.string(at: "name") == containerName }
                    ?? PodConfig.containers(pod).first ?? .object([])
                value = Self.resource(name, container: container, divisor: text(ref["divisor"]), node: node)
            }
            if let value { out.append((path, Array(value.utf8))) }
        }
        return out
    }

    /// A quantity as text, whether the manifest wrote it as a string or a number.
    public static func text(_ value: JSONValue?) -> String? {
        switch value {
        case .string(let text)?: return text
        case .number(let literal)?: return literal
        default: return nil
        }
    }

    static func goQuote(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n") + "\""
    }
}
