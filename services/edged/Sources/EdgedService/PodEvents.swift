import EdgeProtocol

/// kubelet's core/v1 Events for pods, made as its event recorder makes them: a repeat of the same event (same object,
/// container, type, reason and message) raises the `count` of one Event rather than making a new one (its
/// EventCorrelator), and each object may send a burst of 25, then one every 5 minutes (its spam filter), so that a
/// crash loop cannot flood the link or the cloud. Pure: it returns what to send.
struct EventRecorder {
    struct Outgoing: Equatable {
        /// `insert` for a new Event, `update` for a repeat (the same name, count raised).
        var operation: String
        var namespace: String
        var name: String
        var event: JSONValue
    }

    private struct Seen {
        var name: String
        var count: Int
        var first: String
    }

    let node: String
    var burst = 25.0
    /// Tokens per second (one per 5 minutes).
    var refill = 1.0 / 300
    /// Distinct events remembered for aggregation; the oldest are forgotten past this.
    var memory = 4096
    private var seen: [String: Seen] = [:]
    private var order: [String] = []
    private var buckets: [String: (tokens: Double, at: Double)] = [:]
    private(set) var dropped = 0

    init(node: String) {
        self.node = node
    }

    /// An event about `pod` (and one of its containers, when `container` is given), or nil when the spam filter
    /// drops it. `now`: seconds since the epoch; `stamp`: the same time in RFC 3339.
    mutating func record(pod: JSONValue, container: String? = nil, initContainer: Bool = false, warning: Bool = false,
                         reason: String, message: String, now: Double, stamp: String) -> Outgoing? {
        let namespace = pod["metadata"]?["namespace"]?.stringValue ?? "default"
        let podName = pod["metadata"]?["name"]?.stringValue ?? ""
        let uid = pod["metadata"]?["uid"]?.stringValue ?? ""
        var bucket = buckets[uid] ?? (burst, now)
        bucket.tokens = min(burst, bucket.tokens + (now - bucket.at) * refill)
        bucket.at = now
        guard bucket.tokens >= 1 else {
            buckets[uid] = bucket
            dropped += 1
            return nil
        }
        bucket.tokens -= 1
        buckets[uid] = bucket
        let fieldPath = container.map { initContainer ? "spec.initContainers{\($0)}" : "spec.containers{\($0)}" }
        let type = warning ? "Warning" : "Normal"
        let key = [uid, fieldPath ?? "", type, reason, message].joined(separator: "\u{0}")
        let operation: String
        var entry: Seen
        if let known = seen[key] {
            entry = known
            entry.count += 1
            operation = "update"
        } else {
            // kubelet's name: the object's name and the time in nanoseconds, in hex.
            entry = Seen(name: "\(podName).\(String(UInt64(max(0, now) * 1e9), radix: 16))", count: 1, first: stamp)
            operation = "insert"
            order.append(key)
            if order.count > memory {
                let forgotten = order.removeFirst()
                seen[forgotten] = nil
            }
        }
        seen[key] = entry
        var involved: [(key: String, value: JSONValue)] = [
            ("kind", "Pod"), ("namespace", .string(namespace)), ("name", .string(podName)), ("uid", .string(uid)),
            ("apiVersion", "v1"),
        ]
        if let version = pod["metadata"]?["resourceVersion"]?.stringValue { involved.append(("resourceVersion", .string(version))) }
        if let fieldPath { involved.append(("fieldPath", .string(fieldPath))) }
        let event: JSONValue = .object([
            ("kind", "Event"), ("apiVersion", "v1"),
            ("metadata", .object([("name", .string(entry.name)), ("namespace", .string(namespace))])),
            ("involvedObject", .object(involved)),
            ("reason", .string(reason)), ("message", .string(message)),
            ("source", .object([("component", "kubelet"), ("host", .string(node))])),
            ("firstTimestamp", .string(entry.first)), ("lastTimestamp", .string(stamp)),
            ("count", .number(String(entry.count))), ("type", .string(type)),
            ("eventTime", .null), ("reportingComponent", "kubelet"), ("reportingInstance", .string(node)),
        ])
        return Outgoing(operation: operation, namespace: namespace, name: entry.name, event: event)
    }

    /// Forgets a deleted pod's buckets.
    mutating func forget(uid: String) {
        buckets[uid] = nil
    }
}
