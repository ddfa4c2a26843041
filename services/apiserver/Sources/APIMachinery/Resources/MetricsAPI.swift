import EdgeProtocol

/// `metrics.k8s.io/v1beta1` as metrics-server serves it (NodeMetrics, PodMetrics), from the usage figures each edge
/// node sends through its link; `kubectl top` needs nothing else. Figures older than `staleAfter` are left out, never
/// invented.
public enum MetricsAPI {
    public static let group = "metrics.k8s.io"
    public static let apiVersion = "metrics.k8s.io/v1beta1"
    public static let nodes = ResourceInfo(group: group, version: "v1beta1", plural: "nodes", singular: "", kind: "NodeMetrics",
                                           namespaced: false, readOnly: true)
    public static let pods = ResourceInfo(group: group, version: "v1beta1", plural: "pods", singular: "", kind: "PodMetrics",
                                          namespaced: true, readOnly: true)

    /// A node's NodeMetrics from its report (`{"node": {...}, "pods": [...]}`), or nil when it has no node figures.
    public static func nodeMetrics(node: String, report: JSONValue, created: String) -> JSONValue? {
        guard let figures = report["node"], let usage = figures["usage"] else { return nil }
        return .object([
            ("kind", "NodeMetrics"), ("apiVersion", .string(apiVersion)),
            ("metadata", .object([("name", .string(node)), ("creationTimestamp", .string(created))])),
            ("timestamp", figures["timestamp"] ?? .null), ("window", figures["window"] ?? .null), ("usage", usage),
        ])
    }

    /// The PodMetrics of a node's report, optionally of one namespace.
    public static func podMetrics(report: JSONValue, namespace: String?, created: String) -> [JSONValue] {
        (report["pods"]?.arrayValue ?? []).compactMap { pod in
            guard let name = pod["name"]?.stringValue, let podNamespace = pod["namespace"]?.stringValue,
                  namespace == nil || namespace == podNamespace else { return nil }
            return .object([
                ("kind", "PodMetrics"), ("apiVersion", .string(apiVersion)),
                ("metadata", .object([("name", .string(name)), ("namespace", .string(podNamespace)),
                                      ("creationTimestamp", .string(created))])),
                ("timestamp", pod["timestamp"] ?? .null), ("window", pod["window"] ?? .null),
                ("containers", pod["containers"] ?? .array([])),
            ])
        }
    }

    public static func list(_ info: ResourceInfo, _ items: [JSONValue]) -> JSONValue {
        .object([("kind", .string(info.listKind)), ("apiVersion", .string(apiVersion)),
                 ("metadata", .object([])), ("items", .array(items))])
    }
}
