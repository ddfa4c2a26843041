import EdgeControllerService
import EdgeProtocol
import Testing

/// edgecontroller's downstream rules (wire reference §4.2), without the API or a bus.
@Suite("edgecontroller downstream")
struct EdgeDownstreamTests {
    static let edgeNode: JSONValue = ["metadata": ["name": "edge-1", "labels": ["node-role.kubernetes.io/edge": ""]]]
    static let cloudNode: JSONValue = ["metadata": ["name": "cloud-1"]]

    static func pod(_ name: String, node: String, rv: String, uid: String = "u1") -> JSONValue {
        ["metadata": ["name": .string(name), "namespace": "default", "uid": .string(uid), "resourceVersion": .string(rv)],
         "spec": ["nodeName": .string(node),
                  "containers": [["name": "c", "image": "i",
                                  "env": [["name": "T", "valueFrom": ["secretKeyRef": ["name": "s", "key": "k"]]]]]],
                  "volumes": [["name": "v", "configMap": ["name": "cm"]]]]]
    }

    static func config(_ name: String, rv: String) -> JSONValue {
        ["metadata": ["name": .string(name), "namespace": "default", "uid": .string("uid-\(name)"), "resourceVersion": .string(rv)],
         "data": ["k": "dg=="]]
    }

    @Test("a pod on an edge node goes there after its configmap and secret; pods of other nodes do not")
    func podWithReferences() {
        var state = EdgeDownstream()
        _ = state.resyncNodes([Self.edgeNode, Self.cloudNode])
        _ = state.resyncConfig([Self.config("cm", rv: "1")], type: "configmap")
        _ = state.resyncConfig([Self.config("s", rv: "2")], type: "secret")
        let out = state.podChanged(Self.pod("web", node: "edge-1", rv: "3"))
        #expect(out.map(\.message.route.resource) == ["default/configmap/cm", "default/secret/s", "default/pod/web"])
        #expect(out.map(\.message.route.operation) == ["insert", "update", "insert"])
        #expect(out.allSatisfy { $0.node == "edge-1" && !$0.message.header.resourceVersion.isEmpty })
        #expect(state.podChanged(Self.pod("other", node: "cloud-1", rv: "4")).isEmpty)
        // The same version again sends nothing; a new one is an update.
        #expect(state.podChanged(Self.pod("web", node: "edge-1", rv: "3")).isEmpty)
        #expect(state.podChanged(Self.pod("web", node: "edge-1", rv: "5")).map(\.message.route.operation) == ["update"])
        // A configmap change goes only to nodes using it.
        #expect(state.configChanged(Self.config("cm", rv: "6"), type: "configmap").map(\.node) == ["edge-1"])
        #expect(state.configChanged(Self.config("unused", rv: "7"), type: "configmap").isEmpty)
    }

    @Test("a pod deleted while edgecontroller was away is deleted on the node after the relist")
    func relistFindsDeletions() {
        var state = EdgeDownstream()
        _ = state.resyncNodes([Self.edgeNode])
        _ = state.podChanged(Self.pod("web", node: "edge-1", rv: "3", uid: "gone"))
        var restarted = EdgeDownstream()
        restarted.sent = state.sent  // what edgecontroller.db kept
        _ = restarted.resyncNodes([Self.edgeNode])
        let out = restarted.resyncPods([])
        #expect(out.map(\.message.route.operation) == ["delete"])
        #expect(out.first?.message.route.resource == "default/pod/web")
        #expect((try? out.first?.message.content.parsed())??.string(at: "metadata.uid") == "gone")
    }

    @Test("deleting the Node ends the node's session (namespace/node/<name> delete)")
    func nodeDeleted() {
        var state = EdgeDownstream()
        _ = state.resyncNodes([Self.edgeNode])
        let out = state.nodeDeleted(Self.edgeNode)
        #expect(out.map(\.message.route.resource) == ["namespace/node/edge-1"])
        #expect(!state.edgeNodes.contains("edge-1"))
    }
}
