/// A kind of resource on the API server, and the URL paths of its collections and objects:
/// `/api/v1/namespaces/<ns>/pods/<name>` for the core group, `/apis/<group>/<version>/...` for the others.
public struct GroupVersionResource: Sendable, Hashable, CustomStringConvertible {
    /// Empty for the core ("legacy") group.
    public var group: String
    public var version: String
    /// The plural, lower-case resource name: `pods`, `configmaps`, `devices`.
    public var resource: String

    public init(group: String = "", version: String, resource: String) {
        self.group = group
        self.version = version
        self.resource = resource
    }

    /// From an object's `apiVersion` (`v1`, `apps/v1`) and the resource's plural name.
    public init(apiVersion: String, resource: String) {
        if let slash = apiVersion.firstIndex(of: "/") {
            self.init(group: String(apiVersion[..<slash]), version: String(apiVersion[apiVersion.index(after: slash)...]),
                      resource: resource)
        } else {
            self.init(group: "", version: apiVersion, resource: resource)
        }
    }

    /// `v1` or `group/version`, as in an object's `apiVersion`.
    public var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }

    /// `/api/v1` or `/apis/<group>/<version>`.
    public var apiPrefix: String { group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)" }

    /// The path of the collection (no `name`), of one object, or of its subresource (`status`, `scale`...).
    /// A nil or empty `namespace` addresses cluster-scoped resources, or all namespaces when listing.
    public func path(namespace: String? = nil, name: String? = nil, subresource: String? = nil) -> String {
        var path = apiPrefix
        if let namespace, !namespace.isEmpty { path += "/namespaces/" + PercentEncoding.encode(namespace) }
        path += "/" + resource
        if let name {
            path += "/" + PercentEncoding.encode(name)
            if let subresource, !subresource.isEmpty { path += "/" + subresource }
        }
        return path
    }

    public var description: String { group.isEmpty ? "\(resource).\(version)" : "\(resource).\(version).\(group)" }

    // MARK: Resources the cloud services use

    public static let pods = GroupVersionResource(version: "v1", resource: "pods")
    public static let nodes = GroupVersionResource(version: "v1", resource: "nodes")
    public static let namespaces = GroupVersionResource(version: "v1", resource: "namespaces")
    public static let configMaps = GroupVersionResource(version: "v1", resource: "configmaps")
    public static let secrets = GroupVersionResource(version: "v1", resource: "secrets")
    public static let services = GroupVersionResource(version: "v1", resource: "services")
    public static let endpoints = GroupVersionResource(version: "v1", resource: "endpoints")
    public static let events = GroupVersionResource(version: "v1", resource: "events")
    public static let persistentVolumes = GroupVersionResource(version: "v1", resource: "persistentvolumes")
    public static let persistentVolumeClaims = GroupVersionResource(version: "v1", resource: "persistentvolumeclaims")
    public static let leases = GroupVersionResource(group: "coordination.k8s.io", version: "v1", resource: "leases")
    public static let endpointSlices = GroupVersionResource(group: "discovery.k8s.io", version: "v1",
                                                            resource: "endpointslices")
    /// KubeEdge device CRDs.
    public static let devices = GroupVersionResource(group: "devices.kubeedge.io", version: "v1beta1",
                                                     resource: "devices")
    public static let deviceModels = GroupVersionResource(group: "devices.kubeedge.io", version: "v1beta1",
                                                          resource: "devicemodels")
}
