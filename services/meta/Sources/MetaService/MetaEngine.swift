import EdgeProtocol
import Foundation

/// What meta does with one message: store first, then say what goes where. Pure logic over the store (no bus), so
/// KubeEdge's metamanager rules (wire reference §5.2–§5.4) are tested without sockets.
public final class MetaEngine {
    /// A message to publish: `topic` is `ke/up` (the cloud, through hub) or `ke/edged/in`.
    public struct Output: Sendable {
        public var topic: String
        public var message: Message
    }

    /// A request of edged sent to the cloud and not answered yet. Queries fall back to the local store when the
    /// answer does not come in time (the cloud may be gone without hub having noticed yet).
    struct Pending {
        var request: Message
        var deadline: Int64
    }

    public let store: MetaStore
    public private(set) var cloudConnected = false
    var pending: [String: Pending] = [:]
    /// How long a remote query may take before the local store answers (KubeEdge waits 60 s; edged should not).
    public var remoteQueryTimeoutMillis: Int64

    /// Types KubeEdge queries in the cloud while connected (§5.3); pods are always local.
    static let remoteQueryTypes: Set<String> = [
        "configmap", "secret", "persistentvolume", "persistentvolumeclaim", "volumeattachment", "node",
        "serviceaccounttoken", "lease",
    ]

    public init(store: MetaStore, remoteQueryTimeoutMillis: Int64 = 10_000) {
        self.store = store
        self.remoteQueryTimeoutMillis = remoteQueryTimeoutMillis
    }

    public func setCloudConnected(_ connected: Bool) { cloudConnected = connected }

    // MARK: From the cloud (`ke/down/meta`)

    public func handleCloud(_ message: Message) throws -> [Output] {
        let resource = message.route.resource
        let type = ObjectResource.type(of: resource)
        if !message.header.parentID.isEmpty {
            return try handleCloudAnswer(message)
        }
        // Device objects go to twin (which keeps the specs for the mappers), edged's objects to edged.
        let consumer = ["device", "devicemodel"].contains(type) ? Topics.twinSpecs : Topics.edgedIn
        switch message.route.operation {
        case "insert", "update":
            let object = try message.content.parsed()
            if let stored = try store.value(forKey: resource), Self.isOlderOrSame(object, than: stored) {
                // Already applied (a redelivery after a lost ACK): acknowledge again, change nothing.
                return [Output(topic: Topics.up, message: message.ack())]
            }
            try store.put(key: resource, value: object)
            return [Output(topic: consumer, message: message), Output(topic: Topics.up, message: message.ack())]
        case "delete":
            let object = (try? message.content.parsed()) ?? .null
            try store.delete(key: resource, uid: object.string(at: "metadata.uid"))
            return [Output(topic: consumer, message: message), Output(topic: Topics.up, message: message.ack())]
        default:
            return [Output(topic: consumer, message: message)]
        }
    }

    /// A `response` / `error` to one of edged's requests (or an old one, after a restart): objects it carries are
    /// stored and acknowledged, and the answer goes to edged.
    func handleCloudAnswer(_ message: Message) throws -> [Output] {
        let request = pending.removeValue(forKey: message.header.parentID)?.request
        var outputs: [Output] = []
        if message.route.operation == "response", message.content.stringValue == nil {
            let content = (try? message.content.parsed()) ?? .null
            let object = Self.object(inAnswer: content)
            if let object, let key = Self.storageKey(for: object, answering: request?.route.resource ?? message.route.resource) {
                let stored = try store.value(forKey: key)
                if stored.map({ !Self.isOlderOrSame(object, than: $0) }) ?? true { try store.put(key: key, value: object) }
            }
            // KubeEdge acknowledges every object reply it got through the remote path (§5.3).
            outputs.append(Output(topic: Topics.up, message: message.ack()))
        }
        outputs.insert(Output(topic: Topics.edgedIn, message: message), at: 0)
        return outputs
    }

    /// The object of a reply: a plain object, or `ObjectResp.Object` when `Err` is null.
    static func object(inAnswer content: JSONValue) -> JSONValue? {
        if content["Object"] != nil || content["Err"] != nil {
            guard content["Err"] == nil || content["Err"] == .null, let object = content["Object"], object.isObject
            else { return nil }
            return object
        }
        return content.isObject && content["metadata"] != nil ? content : nil
    }

    /// Where an answered object is kept: `{ns}/{type}/{name}` of the request, with patch answers stored as the
    /// object itself (a podpatch answer is the pod: `…/pod/{name}`).
    static func storageKey(for object: JSONValue, answering resource: String) -> String? {
        let parts = resource.split(separator: "/").map(String.init)
        guard parts.count >= 3 else { return nil }
        let type = parts[1] == "podpatch" ? "pod" : parts[1] == "nodepatch" ? "node" : parts[1]
        return [parts[0], type, parts[2]].joined(separator: "/")
    }

    /// Whether `incoming` is not newer than `stored` (numeric resourceVersion, as KubeEdge compares them).
    static func isOlderOrSame(_ incoming: JSONValue, than stored: JSONValue) -> Bool {
        guard incoming.string(at: "metadata.uid") == stored.string(at: "metadata.uid"),
              let new = incoming.string(at: "metadata.resourceVersion").flatMap(UInt64.init),
              let old = stored.string(at: "metadata.resourceVersion").flatMap(UInt64.init)
        else { return false }
        return new <= old
    }

    // MARK: From edged (`ke/meta/in`)

    public func handleEdged(_ message: Message, now: Int64) throws -> [Output] {
        let resource = message.route.resource
        let type = ObjectResource.type(of: resource)
        if type == "event" {
            // Pod events go to the cloud as they are, never stored: hub queues them durably while the link is down
            // (edged's recorder already limits how many an object may send).
            return [Output(topic: Topics.up, message: message)]
        }
        switch message.route.operation {
        case "query":
            if type != "pod" && cloudConnected && Self.remoteQueryTypes.contains(type) {
                return remote(message, now: now)
            }
            return [Output(topic: Topics.edgedIn, message: try localAnswer(message))]
        case "insert":
            // Registration and creations need the cloud (KubeEdge fails them fast when it is gone).
            guard cloudConnected else {
                return [Output(topic: Topics.edgedIn, message: message.errorReply("not connected", source: "metamanager"))]
            }
            return remote(message, now: now)
        case "update":
            if type == "lease" {
                guard cloudConnected else {
                    return [Output(topic: Topics.edgedIn, message: message.errorReply("not connected", source: "metamanager"))]
                }
                return remote(message, now: now)
            }
            if let object = try? message.content.parsed(), object.isObject { try store.put(key: resource, value: object) }
            return [Output(topic: Topics.up, message: message),
                    Output(topic: Topics.edgedIn, message: message.ack())]
        case "patch":
            // Kept locally and sent even while offline: hub queues it durably and delivers it when the link returns.
            // Its answer (the patched object) is stored and handed to edged like any answer.
            if let text = message.content.stringValue { try store.put(key: resource, value: .string(text)) }
            return [Output(topic: Topics.up, message: message)]
        case "delete":
            if type == "pod" {
                // A pod's deletion is the cloud's to finish (graceful deletion); queued by hub while offline.
                return [Output(topic: Topics.up, message: message)]
            }
            try store.delete(key: resource, uid: nil)
            return [Output(topic: Topics.edgedIn, message: message.ack())]
        default:
            return [Output(topic: Topics.edgedIn,
                           message: message.errorReply("unsupported operation '\(message.route.operation)'", source: "metamanager"))]
        }
    }

    func remote(_ message: Message, now: Int64) -> [Output] {
        pending[message.header.id] = Pending(request: message, deadline: now + remoteQueryTimeoutMillis)
        return [Output(topic: Topics.up, message: message)]
    }

    /// KubeEdge's local answer: a JSON array of strings, each one object's JSON. `{ns}/{type}` lists every stored
    /// object of that type (namespace ignored, as KubeEdge does); `{ns}/{type}/{name}` gives zero or one.
    func localAnswer(_ message: Message) throws -> Message {
        let resource = message.route.resource
        let parts = resource.split(separator: "/")
        let values: [String]
        if parts.count >= 3 {
            values = try store.value(forKey: resource).map { [String(decoding: try $0.serialized(), as: UTF8.self)] } ?? []
        } else {
            values = try store.values(ofType: ObjectResource.type(of: resource))
        }
        return message.response(content: try RawJSON(.array(values.map { .string($0) })), source: "metamanager")
    }

    /// Queries whose cloud answer is overdue are answered from the store; the others stay pending.
    public func expire(now: Int64) throws -> [Output] {
        let overdue = pending.filter { $0.value.deadline <= now && $0.value.request.route.operation == "query" }
        var outputs: [Output] = []
        for (id, entry) in overdue {
            pending[id] = nil
            outputs.append(Output(topic: Topics.edgedIn, message: try localAnswer(entry.request)))
        }
        // Inserts and lease updates that got no answer fail, so edged retries them.
        for (id, entry) in pending where entry.deadline <= now {
            pending[id] = nil
            outputs.append(Output(topic: Topics.edgedIn, message: entry.request.errorReply("timed out waiting for the cloud", source: "metamanager")))
        }
        return outputs
    }

    /// The link went down: queries waiting for the cloud are answered locally at once.
    public func cloudLost(now: Int64) throws -> [Output] {
        cloudConnected = false
        for id in pending.keys where pending[id]?.request.route.operation == "query" { pending[id]?.deadline = now }
        return try expire(now: now)
    }
}
