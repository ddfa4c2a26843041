import EdgeProtocol
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// Changes of the objects meta stores, for the local API's watches.
final class MetaEvents: Sendable {
    struct Event: Sendable {
        var type: String  // ADDED, MODIFIED, DELETED
        var resourceType: String  // pod, configmap, …
        var object: JSONValue
    }

    let subscribers = Mutex([Int: AsyncStream<Event>.Continuation]())
    let nextID = Atomic<Int>(0)

    func subscribe() -> (Int, AsyncStream<Event>) {
        let id = nextID.add(1, ordering: .relaxed).newValue
        let (stream, continuation) = AsyncStream.makeStream(of: Event.self, bufferingPolicy: .bufferingNewest(1000))
        subscribers.withLock { $0[id] = continuation }
        return (id, stream)
    }

    func unsubscribe(_ id: Int) {
        subscribers.withLock { $0.removeValue(forKey: id) }?.finish()
    }

    func publish(_ event: Event) {
        for continuation in subscribers.withLock({ Array($0.values) }) { continuation.yield(event) }
    }
}

/// KubeEdge's MetaServer, read-only: the Kubernetes REST layout for apps on the node (`kubectl --server`, client-go)
/// served from meta's store, so it answers with or without a cloud. list, get and watch of pods, configmaps,
/// secrets, services and nodes; discovery so that kubectl works; writes are refused (405).
struct MetaAPI {
    static let resources: [(plural: String, type: String, kind: String, namespaced: Bool)] = [
        ("pods", "pod", "Pod", true), ("configmaps", "configmap", "ConfigMap", true), ("secrets", "secret", "Secret", true),
        ("services", "service", "Service", true), ("nodes", "node", "Node", false),
    ]

    let store: @Sendable (String) throws -> [JSONValue]
    let events: MetaEvents

    func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/version") { _, _ in
            try Self.json(["major": "1", "minor": "26", "gitVersion": "v1.26.7-kubeedge-swift", "platform": "linux/amd64"])
        }
        router.get("/api") { _, _ in try Self.json(["kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []]) }
        router.get("/apis") { _, _ in try Self.json(["kind": "APIGroupList", "apiVersion": "v1", "groups": []]) }
        router.get("/api/v1") { _, _ in
            try Self.json([
                "kind": "APIResourceList", "groupVersion": "v1",
                "resources": .array(Self.resources.map { resource in
                    ["name": .string(resource.plural), "singularName": .string(resource.type), "namespaced": .bool(resource.namespaced),
                     "kind": .string(resource.kind), "verbs": ["get", "list", "watch"]]
                }),
            ])
        }
        router.get("/api/v1/:resource") { request, context in
            try await self.serve(request, context: context, namespace: nil, name: nil)
        }
        router.get("/api/v1/:resource/:name") { request, context in
            try await self.serve(request, context: context, namespace: nil, name: context.parameters.get("name"))
        }
        router.get("/api/v1/namespaces/:namespace/:resource") { request, context in
            try await self.serve(request, context: context, namespace: context.parameters.get("namespace"), name: nil)
        }
        router.get("/api/v1/namespaces/:namespace/:resource/:name") { request, context in
            try await self.serve(request, context: context, namespace: context.parameters.get("namespace"),
                                 name: context.parameters.get("name"))
        }
        return router
    }

    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) throws -> Response {
        Response(status: status, headers: [.contentType: "application/json"],
                 body: ResponseBody(byteBuffer: ByteBuffer(bytes: try value.serialized())))
    }

    static func status(_ code: Int, _ reason: String, _ message: String) throws -> Response {
        try json(["kind": "Status", "apiVersion": "v1", "status": "Failure", "message": .string(message),
                  "reason": .string(reason), "code": .integer(code)],
                 status: HTTPResponse.Status(code: code))
    }

    func serve(_ request: Request, context: BasicRequestContext, namespace: String?, name: String?) async throws -> Response {
        let plural = context.parameters.get("resource") ?? ""
        guard let resource = Self.resources.first(where: { $0.plural == plural }) else {
            return try Self.status(404, "NotFound", "the server could not find the requested resource")
        }
        let objects = try store(resource.type).filter { object in
            guard resource.namespaced, let namespace else { return true }
            return (object.string(at: "metadata.namespace") ?? "default") == namespace
        }.map { Self.withKind($0, resource.kind) }
        if let name {
            guard let object = objects.first(where: { $0.string(at: "metadata.name") == name }) else {
                return try Self.status(404, "NotFound", "\(plural) \"\(name)\" not found")
            }
            return try Self.json(object)
        }
        let selector = request.uri.queryParameters.get("labelSelector").map(LabelSelector.init)
        let matching = objects.filter { selector?.matches($0) ?? true }
        let resourceVersion = matching.compactMap { $0.string(at: "metadata.resourceVersion").flatMap(UInt64.init) }.max() ?? 0
        if request.uri.queryParameters.get("watch") == "true" || request.uri.queryParameters.get("watch") == "1" {
            // From scratch (no resourceVersion, or "0"): the current objects first, as ADDED.
            let fromScratch = request.uri.queryParameters.get("resourceVersion").map { $0 == "0" || $0.isEmpty } ?? true
            return watch(resource: resource, namespace: namespace, initial: fromScratch ? matching : [], selector: selector)
        }
        return try Self.json([
            "kind": .string(resource.kind + "List"), "apiVersion": "v1",
            "metadata": ["resourceVersion": .string(String(resourceVersion))], "items": .array(matching),
        ])
    }

    static func withKind(_ object: JSONValue, _ kind: String) -> JSONValue {
        var object = object
        object[member: "apiVersion"] = "v1"
        object[member: "kind"] = .string(kind)
        return object
    }

    func watch(resource: (plural: String, type: String, kind: String, namespaced: Bool), namespace: String?,
               initial: [JSONValue], selector: LabelSelector?) -> Response {
        let (id, stream) = events.subscribe()
        let events = self.events
        return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody { writer in
            defer { events.unsubscribe(id) }
            func line(_ type: String, _ object: JSONValue) throws -> ByteBuffer {
                var bytes = try JSONValue.object([("type", .string(type)), ("object", object)]).serialized()
                bytes.append(0x0A)
                return ByteBuffer(bytes: bytes)
            }
            for object in initial { try await writer.write(try line("ADDED", object)) }
            for await event in stream where event.resourceType == resource.type {
                if let namespace, resource.namespaced, (event.object.string(at: "metadata.namespace") ?? "default") != namespace {
                    continue
                }
                if let selector, !selector.matches(event.object) { continue }
                try await writer.write(try line(event.type, Self.withKind(event.object, resource.kind)))
            }
            try await writer.finish(nil)
        })
    }
}

/// Equality-based label selectors (`a=b,c!=d,e`), what apps on a node use.
struct LabelSelector: Sendable {
    let terms: [(key: String, value: String?, equal: Bool)]

    init(_ text: String) {
        terms = text.split(separator: ",").map { term in
            if let range = term.range(of: "!=") {
                return (String(term[..<range.lowerBound]), String(term[range.upperBound...]), false)
            }
            let parts = term.split(separator: "=", maxSplits: 1).map { String($0).trimmingCharacters(in: CharacterSet(charactersIn: "=")) }
            return (parts[0], parts.count > 1 ? parts[1] : nil, true)
        }
    }

    func matches(_ object: JSONValue) -> Bool {
        let labels = object[path: ["metadata", "labels"]]
        return terms.allSatisfy { term in
            let value = labels?[term.key]?.stringValue
            guard let expected = term.value else { return value != nil }
            return term.equal ? value == expected : value != expected
        }
    }
}
