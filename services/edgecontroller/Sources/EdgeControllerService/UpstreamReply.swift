import EdgeProtocol
import KubeClient

/// How cloudcore's edgecontroller answers a node's requests (`cloud/pkg/edgecontroller/controller/upstream.go`,
/// v1.15), success and failure alike. Every answer has the same route: source `edgecontroller`, group `resource`,
/// operation `response`, the request's resource, `parent_msg_id` = the request's id. Only the content and the
/// `resourceversion` header differ by operation; some failures get no answer at all (cloudcore only logs them).
public enum UpstreamReply {
    /// The requests edgecontroller serves, by the `{type}` of `{ns}/{type}/{name}` and the operation.
    public enum Request: Equatable, Sendable {
        case registerNode, queryNode, updateNode, patchNodeStatus, patchPodStatus, deletePod
        /// A static pod's mirror pod (our edge's extension: KubeEdge has no static pods).
        case createMirrorPod
        case putLease, queryLease
        /// `configmap` / `secret` queries: the object itself.
        case queryObject(type: String)

        public init?(type: String, operation: String) {
            switch (type, operation) {
            case ("node", "insert"): self = .registerNode
            case ("node", "query"): self = .queryNode
            case ("node", "update"): self = .updateNode
            case ("nodepatch", "patch"): self = .patchNodeStatus
            case ("podpatch", "patch"): self = .patchPodStatus
            case ("pod", "delete"): self = .deletePod
            case ("pod", "insert"): self = .createMirrorPod
            case ("lease", "insert"), ("lease", "update"): self = .putLease
            case ("lease", "query"): self = .queryLease
            case ("configmap", "query"), ("secret", "query"): self = .queryObject(type: type)
            default: return nil
            }
        }
    }

    public static let source = "edgecontroller"
    public static let group = "resource"

    /// The answer to a request that succeeded (`object`: what the API returned, if anything).
    public static func success(to request: Message, _ kind: Request, object: JSONValue?) -> Message {
        let object = object ?? .null
        let version = object.string(at: "metadata.resourceVersion") ?? ""
        switch kind {
        case .registerNode, .putLease, .queryLease:
            return reply(to: request, objectResponse(object, error: .null))
        case .patchNodeStatus, .patchPodStatus:
            return reply(to: request, objectResponse(object, error: .null), resourceVersion: version)
        case .queryNode, .queryObject, .createMirrorPod:
            return reply(to: request, object, resourceVersion: version)
        case .updateNode:
            return reply(to: request, .string("OK"), resourceVersion: version)
        case .deletePod:
            return reply(to: request, .string("OK"))
        }
    }

    /// The answer to a request that failed, or nil where cloudcore sends none (it only logs; the edge's own timeout
    /// takes over). An API error travels as Go's `json.Marshal` of a `StatusError` writes it: `{"ErrStatus": Status}`.
    /// cloudcore marshals other errors (API server unreachable) to `{}`; we send a Status with the message instead.
    public static func failure(to request: Message, _ kind: Request, error: any Error) -> Message? {
        let kube = error as? KubeError
        let errorJSON: JSONValue = .object([("ErrStatus", status(of: error))])
        switch kind {
        case .updateNode:
            return nil
        case .deletePod where kube?.isNotFound == true || kube?.isConflict == true:
            // Gone already, or a new pod of that name (the uid precondition): nothing left to finish.
            return reply(to: request, .string("OK"))
        case .deletePod, .queryNode, .queryObject, .createMirrorPod:
            return reply(to: request, errorJSON)
        case .registerNode, .putLease, .patchNodeStatus, .patchPodStatus:
            // client-go hands back an empty object with the error, and cloudcore sends it as is.
            return reply(to: request, objectResponse(.object([("metadata", .object([]))]), error: errorJSON))
        case .queryLease:
            return reply(to: request, objectResponse(.null, error: errorJSON))
        }
    }

    /// `metav1.Status` of an error: the API server's own, or one made for a failure that never reached it.
    public static func status(of error: any Error) -> JSONValue {
        let kube = error as? KubeError
        let code = kube?.httpCode ?? 503
        let reason = kube?.reason ?? (kube?.status == nil ? "ServiceUnavailable" : "")
        return [
            "kind": "Status", "apiVersion": "v1", "metadata": .object([]), "status": "Failure",
            "message": .string(kube?.status?.message ?? "\(error)"), "reason": .string(reason),
            "code": .integer(code),
        ]
    }

    /// `ObjectResp{Object, Err}` (Go field names, no JSON tags).
    static func objectResponse(_ object: JSONValue, error: JSONValue) -> JSONValue {
        .object([("Object", object), ("Err", error)])
    }

    static func reply(to request: Message, _ content: JSONValue, resourceVersion: String = "") -> Message {
        var reply = request.response(content: (try? RawJSON(content)) ?? .null, source: source)
        reply.route.group = group
        reply.header.resourceVersion = resourceVersion
        return reply
    }
}
