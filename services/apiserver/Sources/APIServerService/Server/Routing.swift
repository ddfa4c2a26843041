// URL → what is asked for, following kube-apiserver's layout:
//   /api/v1[/namespaces/<ns>]/<resource>[/<name>[/<subresource>]]
//   /apis/<group>/<version>[/namespaces/<ns>]/<resource>[/<name>[/<subresource>]]
// plus the legacy /watch/ prefix, discovery, health and OpenAPI paths.

struct ResourceTarget: Sendable {
    var info: ResourceInfo
    /// nil: every namespace (collections of namespaced resources) or a cluster-scoped resource.
    var namespace: String?
    var name: String?
    var subresource: String?
    /// Reached through the legacy `/watch/` prefix.
    var watchPrefix = false
}

enum Route: Sendable {
    case version
    case health(String)
    case apiRoot
    case apisRoot
    case apiGroup(String)
    case resourceList(group: String, version: String)
    case openAPIRoot
    case openAPIDocument(String)
    case resource(ResourceTarget)
}

enum Routing {
    static func route(_ path: String, registry: ResourceRegistry) throws(APIError) -> Route {
        let segments = path.split(separator: "/").map(String.init)
        switch segments.first {
        case "version": return .version
        case "healthz", "livez", "readyz": return .health(segments[0])
        case "openapi":
            guard segments.count >= 2, segments[1] == "v3" else { throw APIError.pathNotFound() }
            return segments.count == 2 ? .openAPIRoot : .openAPIDocument(segments[2...].joined(separator: "/"))
        case "api":
            if segments.count == 1 { return .apiRoot }
            guard segments[1] == "v1" else { throw APIError.pathNotFound() }
            if segments.count == 2 { return .resourceList(group: "", version: "v1") }
            return .resource(try target(group: "", version: "v1", Array(segments[2...]), registry))
        case "apis":
            switch segments.count {
            case 1: return .apisRoot
            case 2: return .apiGroup(segments[1])
            case 3: return .resourceList(group: segments[1], version: segments[2])
            default:
                return .resource(try target(group: segments[1], version: segments[2], Array(segments[3...]), registry))
            }
        default:
            throw APIError.pathNotFound()
        }
    }

    private static func target(
        group: String, version: String, _ rest: [String], _ registry: ResourceRegistry
    ) throws(APIError) -> ResourceTarget {
        var rest = rest
        var watchPrefix = false
        if rest.first == "watch" {
            watchPrefix = true
            rest.removeFirst()
        }
        guard !rest.isEmpty else { throw APIError.pathNotFound() }
        var namespace: String?
        // /namespaces/<ns>/<resource>/... unless it is the namespace object itself (or its status/finalize).
        if rest[0] == "namespaces", rest.count >= 3,
           !(rest.count == 3 && ["status", "finalize"].contains(rest[2])
               && registry.resource(group: group, version: version, plural: rest[2]) == nil) {
            namespace = rest[1]
            rest.removeFirst(2)
        }
        guard let info = registry.resource(group: group, version: version, plural: rest[0]) else {
            throw APIError.pathNotFound()
        }
        if namespace != nil, !info.namespaced { throw APIError.pathNotFound() }
        let name = rest.count > 1 ? rest[1] : nil
        var subresource = rest.count > 2 ? rest[2] : nil
        if info.kind == "Namespace", subresource == "finalize" { subresource = "status" }
        if rest.count > 3 { throw APIError.pathNotFound() }
        if let subresource, !info.subresources.contains(subresource) { throw APIError.pathNotFound() }
        if info.namespaced, name != nil, namespace == nil { throw APIError.pathNotFound() }
        return ResourceTarget(info: info, namespace: namespace, name: name, subresource: subresource,
                              watchPrefix: watchPrefix)
    }
}
