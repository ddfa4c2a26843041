import EdgeControllerService
import EdgeProtocol
import KubeClient
import Testing

/// Every answer edgecontroller gives a node, success and failure, against what cloudcore v1.15 sends
/// (`cloud/pkg/edgecontroller/controller/upstream.go`): one route for all (source `edgecontroller`, group `resource`,
/// operation `response`, the request's resource, `parent_msg_id` = the request's id); content and `resourceversion`
/// per operation; no answer where cloudcore sends none.
@Suite("edgecontroller upstream replies")
struct UpstreamReplyTests {
    /// A request as edged sends it through meta (source `edged`, group `meta`).
    static func request(_ resource: String, _ operation: String) -> Message {
        Message(source: "edged", group: "meta", operation: operation, resource: resource, content: .null)
    }

    static let node: JSONValue = ["metadata": ["name": "n1", "resourceVersion": "41"]]
    static let notFound = KubeError.status(KubeStatus(code: 404, reason: "NotFound", message: "configmaps \"cm\" not found"))
    static let conflict = KubeError.status(KubeStatus(code: 409, reason: "Conflict", message: "the object has been modified"))
    static let apiDown = KubeError.transport(code: 7, message: "Failed to connect to 127.0.0.1 port 6443")

    static let notFoundStatus = #"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"configmaps \"cm\" not found","reason":"NotFound","code":404}"#
    static let apiDownStatus = #"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"\#(apiDown)","reason":"ServiceUnavailable","code":503}"#

    /// The route every answer has, and its content as compact JSON.
    static func check(_ reply: Message?, answering request: Message, content: String, resourceVersion: String = "",
                      sourceLocation: SourceLocation = #_sourceLocation) throws {
        let reply = try #require(reply, sourceLocation: sourceLocation)
        #expect(reply.route.source == "edgecontroller", sourceLocation: sourceLocation)
        #expect(reply.route.group == "resource", sourceLocation: sourceLocation)
        #expect(reply.route.operation == "response", sourceLocation: sourceLocation)
        #expect(reply.route.resource == request.route.resource, sourceLocation: sourceLocation)
        #expect(reply.header.parentID == request.header.id, sourceLocation: sourceLocation)
        #expect(reply.header.resourceVersion == resourceVersion, sourceLocation: sourceLocation)
        #expect(reply.content.text == content, sourceLocation: sourceLocation)
    }

    @Test("node registration: ObjectResp with the node; on failure ObjectResp with an empty node and the error")
    func registerNode() throws {
        let request = Self.request("default/node/n1", "insert")
        #expect(UpstreamReply.Request(type: "node", operation: "insert") == .registerNode)
        try Self.check(UpstreamReply.success(to: request, .registerNode, object: Self.node), answering: request,
                       content: #"{"Object":{"metadata":{"name":"n1","resourceVersion":"41"}},"Err":null}"#)
        try Self.check(UpstreamReply.failure(to: request, .registerNode, error: Self.apiDown), answering: request,
                       content: #"{"Object":{"metadata":{}},"Err":{"ErrStatus":\#(Self.apiDownStatus)}}"#)
    }

    @Test("node and configmap/secret queries: the object with its resourceversion; on failure the bare StatusError")
    func queries() throws {
        for (resource, kind) in [("default/node/n1", UpstreamReply.Request.queryNode),
                                 ("default/configmap/cm", .queryObject(type: "configmap")),
                                 ("default/secret/s", .queryObject(type: "secret"))] {
            let request = Self.request(resource, "query")
            let type = resource.split(separator: "/")[1]
            #expect(UpstreamReply.Request(type: String(type), operation: "query") == kind)
            try Self.check(UpstreamReply.success(to: request, kind, object: Self.node), answering: request,
                           content: #"{"metadata":{"name":"n1","resourceVersion":"41"}}"#, resourceVersion: "41")
            try Self.check(UpstreamReply.failure(to: request, kind, error: Self.notFound), answering: request,
                           content: #"{"ErrStatus":\#(Self.notFoundStatus)}"#)
            try Self.check(UpstreamReply.failure(to: request, kind, error: Self.apiDown), answering: request,
                           content: #"{"ErrStatus":\#(Self.apiDownStatus)}"#)
        }
    }

    @Test("node update: \"OK\" with the node's resourceversion; no answer on failure (cloudcore only logs)")
    func updateNode() throws {
        let request = Self.request("default/node/n1", "update")
        try Self.check(UpstreamReply.success(to: request, .updateNode, object: Self.node), answering: request,
                       content: #""OK""#, resourceVersion: "41")
        #expect(UpstreamReply.failure(to: request, .updateNode, error: Self.conflict) == nil)
        #expect(UpstreamReply.failure(to: request, .updateNode, error: Self.apiDown) == nil)
    }

    @Test("node and pod status patches: ObjectResp with the resourceversion; on failure an empty object and the error")
    func statusPatches() throws {
        for (resource, kind) in [("default/nodepatch/n1", UpstreamReply.Request.patchNodeStatus),
                                 ("default/podpatch/p1", .patchPodStatus)] {
            let request = Self.request(resource, "patch")
            try Self.check(UpstreamReply.success(to: request, kind, object: Self.node), answering: request,
                           content: #"{"Object":{"metadata":{"name":"n1","resourceVersion":"41"}},"Err":null}"#,
                           resourceVersion: "41")
            try Self.check(UpstreamReply.failure(to: request, kind, error: Self.notFound), answering: request,
                           content: #"{"Object":{"metadata":{}},"Err":{"ErrStatus":\#(Self.notFoundStatus)}}"#)
        }
    }

    @Test("pod deletion: \"OK\", also when the pod is gone or was replaced; other failures as a StatusError")
    func deletePod() throws {
        let request = Self.request("default/pod/p1", "delete")
        #expect(UpstreamReply.Request(type: "pod", operation: "delete") == .deletePod)
        #expect(UpstreamReply.Request(type: "pod", operation: "update") == nil)
        try Self.check(UpstreamReply.success(to: request, .deletePod, object: nil), answering: request, content: #""OK""#)
        try Self.check(UpstreamReply.failure(to: request, .deletePod, error: Self.notFound), answering: request,
                       content: #""OK""#)
        try Self.check(UpstreamReply.failure(to: request, .deletePod, error: Self.conflict), answering: request,
                       content: #""OK""#)
        try Self.check(UpstreamReply.failure(to: request, .deletePod, error: Self.apiDown), answering: request,
                       content: #"{"ErrStatus":\#(Self.apiDownStatus)}"#)
    }

    @Test("leases: ObjectResp without resourceversion; a failed query has a null Object")
    func leases() throws {
        let lease: JSONValue = ["metadata": ["name": "n1", "resourceVersion": "7"]]
        for operation in ["insert", "update"] {
            let request = Self.request("kube-node-lease/lease/n1", operation)
            #expect(UpstreamReply.Request(type: "lease", operation: operation) == .putLease)
            try Self.check(UpstreamReply.success(to: request, .putLease, object: lease), answering: request,
                           content: #"{"Object":{"metadata":{"name":"n1","resourceVersion":"7"}},"Err":null}"#)
            try Self.check(UpstreamReply.failure(to: request, .putLease, error: Self.conflict), answering: request,
                           content: #"{"Object":{"metadata":{}},"Err":{"ErrStatus":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the object has been modified","reason":"Conflict","code":409}}}"#)
        }
        let query = Self.request("kube-node-lease/lease/n1", "query")
        try Self.check(UpstreamReply.success(to: query, .queryLease, object: lease), answering: query,
                       content: #"{"Object":{"metadata":{"name":"n1","resourceVersion":"7"}},"Err":null}"#)
        try Self.check(UpstreamReply.failure(to: query, .queryLease, error: Self.notFound), answering: query,
                       content: #"{"Object":null,"Err":{"ErrStatus":\#(Self.notFoundStatus)}}"#)
    }

    @Test("requests cloudcore does not serve get no answer")
    func unsupported() {
        #expect(UpstreamReply.Request(type: "configmap", operation: "insert") == nil)
        #expect(UpstreamReply.Request(type: "lease", operation: "delete") == nil)
        #expect(UpstreamReply.Request(type: "rulestatus", operation: "update") == nil)
    }
}
