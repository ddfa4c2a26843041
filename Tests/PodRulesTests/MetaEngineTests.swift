import EdgeProtocol
import Foundation
import MetaService
import Testing

/// meta's rules (KubeEdge metamanager, wire reference §5.2–§5.4) over a real SQLite file, without a bus.
@Suite("meta rules")
struct MetaEngineTests {
    let directory: String
    let engine: MetaEngine

    init() throws {
        directory = NSTemporaryDirectory() + "meta-rules-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        engine = MetaEngine(store: try MetaStore(path: directory + "/meta.db"), remoteQueryTimeoutMillis: 1000)
    }

    static func pod(_ name: String, rv: String, uid: String = "uid-1") -> Message {
        let pod: JSONValue = ["apiVersion": "v1", "kind": "Pod",
                              "metadata": ["name": .string(name), "namespace": "default", "uid": .string(uid),
                                           "resourceVersion": .string(rv)],
                              "spec": ["nodeName": "edge-1"]]
        return Message(source: "edgecontroller", group: "resource", operation: "insert", resource: "default/pod/\(name)",
                       content: try! RawJSON(pod), resourceVersion: rv)
    }

    @Test("a cloud object is stored, handed to edged, then ACKed; a redelivery of the same version is only ACKed")
    func storeForwardAck() throws {
        let insert = Self.pod("web", rv: "5")
        let outputs = try engine.handleCloud(insert)
        #expect(outputs.map(\.topic) == [Topics.edgedIn, Topics.up])
        #expect(outputs[1].message.header.parentID == insert.header.id)
        #expect(outputs[1].message.content.stringValue == "OK")
        #expect(try engine.store.value(forKey: "default/pod/web")?.string(at: "metadata.resourceVersion") == "5")

        let again = try engine.handleCloud(Self.pod("web", rv: "5"))
        #expect(again.map(\.topic) == [Topics.up])
        let older = try engine.handleCloud(Self.pod("web", rv: "4"))
        #expect(older.map(\.topic) == [Topics.up])
        #expect(try engine.store.value(forKey: "default/pod/web")?.string(at: "metadata.resourceVersion") == "5")
    }

    @Test("Device and DeviceModel objects are stored, handed to twin, then ACKed")
    func deviceObjects() throws {
        let device: JSONValue = ["apiVersion": "devices.kubeedge.io/v1beta1", "kind": "Device",
                                 "metadata": ["name": "d1", "namespace": "default", "uid": "d", "resourceVersion": "3"]]
        let insert = Message(source: "devicecontroller", group: "resource", operation: "insert",
                             resource: "default/device/d1", content: try RawJSON(device), resourceVersion: "3")
        let outputs = try engine.handleCloud(insert)
        #expect(outputs.map(\.topic) == [Topics.twinSpecs, Topics.up])
        #expect(outputs[1].message.header.parentID == insert.header.id)
        #expect(try engine.store.value(forKey: "default/device/d1") != nil)
    }

    @Test("a pod delete removes the row only for that uid, with its podpatch")
    func podDelete() throws {
        _ = try engine.handleCloud(Self.pod("web", rv: "5", uid: "new"))
        var stale = Self.pod("web", rv: "3", uid: "old")
        stale.route.operation = "delete"
        _ = try engine.handleCloud(stale)
        #expect(try engine.store.value(forKey: "default/pod/web") != nil)
        var current = Self.pod("web", rv: "6", uid: "new")
        current.route.operation = "delete"
        let outputs = try engine.handleCloud(current)
        #expect(outputs.map(\.topic) == [Topics.edgedIn, Topics.up])
        #expect(try engine.store.value(forKey: "default/pod/web") == nil)
    }

    @Test("queries: remote while connected (answer stored, ACKed, relayed), local while not, local when the cloud is slow")
    func queries() throws {
        let configmap: JSONValue = ["metadata": ["name": "cfg", "namespace": "default", "uid": "c1", "resourceVersion": "9"],
                                    "data": ["k": "v"]]
        let query = Message(source: "edged", group: "meta", operation: "query", resource: "default/configmap/cfg")
        engine.setCloudConnected(true)
        #expect(try engine.handleEdged(query, now: 0).map(\.topic) == [Topics.up])
        var answer = Message(source: "edgecontroller", group: "resource", operation: "response",
                             resource: "default/configmap/cfg", content: try RawJSON(configmap), resourceVersion: "9",
                             parentID: query.header.id)
        answer.header.parentID = query.header.id
        let relayed = try engine.handleCloud(answer)
        #expect(relayed.map(\.topic) == [Topics.edgedIn, Topics.up])
        #expect(relayed[0].message.header.parentID == query.header.id)

        // Offline: the stored copy answers, in KubeEdge's form (an array of JSON strings).
        _ = try engine.cloudLost(now: 0)
        let local = try engine.handleEdged(query, now: 0)
        #expect(local.map(\.topic) == [Topics.edgedIn])
        let items = try local[0].message.content.parsed().arrayValue ?? []
        #expect(items.count == 1)
        #expect(items.first?.stringValue?.contains("\"k\":\"v\"") == true)

        // Connected but unanswered: after the timeout the store answers.
        engine.setCloudConnected(true)
        let slow = Message(source: "edged", group: "meta", operation: "query", resource: "default/configmap/cfg")
        _ = try engine.handleEdged(slow, now: 0)
        #expect(try engine.expire(now: 500).isEmpty)
        let late = try engine.expire(now: 1000)
        #expect(late.count == 1 && late[0].message.header.parentID == slow.header.id)
    }

    @Test("edged's registration fails fast without a cloud; status patches always go up (hub queues them)")
    func offlineWrites() throws {
        let register = Message(source: "edged", group: "meta", operation: "insert", resource: "default/node/edge-1")
        let refused = try engine.handleEdged(register, now: 0)
        #expect(refused.map(\.message.route.operation) == ["error"])
        #expect(refused.first?.message.content.stringValue == "not connected")
        let patch = Message(source: "edged", group: "meta", operation: "patch", resource: "default/podpatch/web",
                            content: RawJSON(string: #"{"status":{"phase":"Running"}}"#))
        #expect(try engine.handleEdged(patch, now: 0).map(\.topic) == [Topics.up])
        // Pods are always listed locally.
        _ = try engine.handleCloud(Self.pod("a", rv: "1", uid: "a"))
        _ = try engine.handleCloud(Self.pod("b", rv: "1", uid: "b"))
        engine.setCloudConnected(true)
        let list = try engine.handleEdged(Message(source: "edged", group: "meta", operation: "query", resource: "default/pod"), now: 0)
        #expect(list.map(\.topic) == [Topics.edgedIn])
        #expect(try list[0].message.content.parsed().arrayValue?.count == 2)
    }
}
