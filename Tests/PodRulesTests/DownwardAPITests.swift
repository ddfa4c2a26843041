import EdgeProtocol
@testable import EdgedService
import Testing

/// The downward API's fields and resources as kubelet computes them (k8s.io/kubernetes `pkg/fieldpath`
/// ExtractFieldPathAsString, `pkg/api/v1/resource` ExtractContainerResourceValue: limits fall back to the node's
/// allocatable, values are divided by the divisor and rounded up).
@Suite("downward API")
struct DownwardAPITests {
    static let node = DownwardAPI.Node(name: "edge-1", ip: "10.0.0.5", cpuCores: 2, memoryBytes: 8 << 30)
    static let pod: JSONValue = [
        "metadata": ["name": "p", "namespace": "ns", "labels": ["b": "2", "a": "one \"quoted\""], "annotations": ["note": "x"]],
        "spec": ["serviceAccountName": "sa", "containers": [
            ["name": "main", "resources": ["limits": ["cpu": "250m", "memory": "64Mi"], "requests": ["memory": "32Mi"]]],
            ["name": "plain"],
        ]],
    ]

    @Test("fields", arguments: [
        ("metadata.name", "p"), ("metadata.namespace", "ns"), ("metadata.uid", "u-1"), ("spec.nodeName", "edge-1"),
        ("spec.serviceAccountName", "sa"), ("status.hostIP", "10.0.0.5"), ("status.podIP", "10.88.0.9"),
        ("metadata.labels['b']", "2"), ("metadata.annotations['note']", "x"), ("metadata.labels['missing']", ""),
        ("metadata.labels", "a=\"one \\\"quoted\\\"\"\nb=\"2\""),
    ])
    func fields(path: String, expected: String) {
        #expect(DownwardAPI.field(path, pod: Self.pod, uid: "u-1", podIP: "10.88.0.9", node: Self.node) == expected)
    }

    @Test("resources with divisors, and the node's capacity for a missing limit")
    func resources() {
        let main = Self.pod[path: ["spec", "containers"]]!.arrayValue![0]
        let plain = Self.pod[path: ["spec", "containers"]]!.arrayValue![1]
        #expect(DownwardAPI.resource("limits.cpu", container: main, divisor: nil, node: Self.node) == "1")  // 0.25 rounded up
        #expect(DownwardAPI.resource("limits.cpu", container: main, divisor: "1m", node: Self.node) == "250")
        #expect(DownwardAPI.resource("limits.memory", container: main, divisor: "1Mi", node: Self.node) == "64")
        #expect(DownwardAPI.resource("requests.memory", container: main, divisor: "1Mi", node: Self.node) == "32")
        #expect(DownwardAPI.resource("requests.cpu", container: main, divisor: "1m", node: Self.node) == "250")  // = limit
        #expect(DownwardAPI.resource("limits.cpu", container: plain, divisor: nil, node: Self.node) == "2")
        #expect(DownwardAPI.resource("limits.memory", container: plain, divisor: "1Gi", node: Self.node) == "8")
        #expect(DownwardAPI.resource("limits.gpu", container: main, divisor: nil, node: Self.node) == nil)
    }
}
