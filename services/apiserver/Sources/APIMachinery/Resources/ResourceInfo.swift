// What the API server serves: one `ResourceInfo` per (group, version, resource), the built-in ones and those
// registered by CustomResourceDefinitions. Discovery, routing, storage keys and validation all read from here.

import EdgeProtocol
import Synchronization

/// One served resource of one group version.
public struct ResourceInfo: Sendable {
    public var group: String
    public var version: String
    public var plural: String
    public var singular: String
    public var kind: String
    public var namespaced: Bool
    public var shortNames: [String] = []
    public var categories: [String] = []
    /// Served subresources: "status", "log", "binding", "scale".
    public var subresources: Set<String> = []
    /// For custom resources: the CRD version that defines the schema and printer columns.
    public var custom: CustomResourceVersion?
    /// Answered, never stored (access reviews): only `create`.
    public var createOnly = false
    /// Computed, never stored (metrics.k8s.io): only `get` and `list`.
    public var readOnly = false

    public var listKind: String { kind + "List" }
    /// "v1" or "apps/v1".
    public var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }
    /// The object store's resource key: shared by every version of a group's resource.
    public var storageKey: String { group.isEmpty ? plural : "\(plural).\(group)" }
    public var hasStatus: Bool { subresources.contains("status") }

    /// "pods", "deployments.apps": how kube-apiserver names a resource in messages.
    public var qualifiedName: String { storageKey }

    public var verbs: [String] {
        if createOnly { return ["create"] }
        if readOnly { return ["get", "list"] }
        return ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
    }
}

/// The schema side of a custom resource version (see CustomResourceDefinition.swift).
public struct CustomResourceVersion: Sendable {
    public var crdName: String
    public var definition: CRDDefinition
    public var versionName: String
}

/// Every resource the server serves. Thread-safe; CRDs add and remove entries at run time.
public final class ResourceRegistry: Sendable {
    private struct State {
        var custom: [String: [ResourceInfo]] = [:]  // by CRD name
    }

    private let state = Mutex(State())
    public let builtins: [ResourceInfo]

    public init() {
        builtins = BuiltinResources.all
    }

    /// Every served resource: built-ins first, then custom resources by CRD name.
    public var all: [ResourceInfo] {
        let custom = state.withLock { state in
            state.custom.keys.sorted().flatMap { state.custom[$0] ?? [] }
        }
        return builtins + custom
    }

    /// Replaces what the CRD `crdName` serves (an empty list removes it).
    public func setCustom(_ resources: [ResourceInfo], forCRD crdName: String) {
        state.withLock { state in
            state.custom[crdName] = resources.isEmpty ? nil : resources
        }
    }

    public func customResources(ofCRD crdName: String) -> [ResourceInfo] {
        state.withLock { $0.custom[crdName] ?? [] }
    }

    /// The resource `plural` of `group`/`version`.
    public func resource(group: String, version: String, plural: String) -> ResourceInfo? {
        all.first { $0.group == group && $0.version == version && $0.plural == plural }
    }

    /// The resource serving `kind` in `group`/`version`.
    public func resource(group: String, version: String, kind: String) -> ResourceInfo? {
        all.first { $0.group == group && $0.version == version && $0.kind == kind }
    }

    /// Group → versions (preferred first), in discovery order: built-in groups first.
    public func groups() -> [(name: String, versions: [String])] {
        var order: [String] = []
        var versions: [String: [String]] = [:]
        for info in all where !info.group.isEmpty {
            if versions[info.group] == nil {
                order.append(info.group)
                versions[info.group] = []
            }
            if !versions[info.group]!.contains(info.version) { versions[info.group]!.append(info.version) }
        }
        return order.map { group in
            (group, versions[group]!.sorted { KubeVersion.priority($0) > KubeVersion.priority($1) })
        }
    }
}

/// Kubernetes' version ordering (v1 > v1beta2 > v1beta1 > v1alpha1 > anything else).
enum KubeVersion {
    static func priority(_ version: String) -> Int {
        guard version.hasPrefix("v") else { return 0 }
        let rest = version.dropFirst()
        let digits = rest.prefix { $0.isNumber }
        guard let major = Int(digits) else { return 0 }
        let suffix = rest.dropFirst(digits.count)
        if suffix.isEmpty { return 3_000_000 + major * 1000 }
        for (prefix, base) in [("beta", 2_000_000), ("alpha", 1_000_000)] where suffix.hasPrefix(prefix) {
            let minor = Int(suffix.dropFirst(prefix.count)) ?? 0
            return base + major * 1000 + minor
        }
        return 0
    }
}

public enum BuiltinResources {
    public static let all: [ResourceInfo] = [
        .init(group: "", version: "v1", plural: "namespaces", singular: "namespace", kind: "Namespace",
              namespaced: false, shortNames: ["ns"], subresources: ["status"]),
        .init(group: "", version: "v1", plural: "nodes", singular: "node", kind: "Node",
              namespaced: false, shortNames: ["no"], subresources: ["status"]),
        .init(group: "", version: "v1", plural: "pods", singular: "pod", kind: "Pod",
              namespaced: true, shortNames: ["po"], categories: ["all"], subresources: ["status", "log", "binding", "exec", "attach"]),
        .init(group: "", version: "v1", plural: "configmaps", singular: "configmap", kind: "ConfigMap",
              namespaced: true, shortNames: ["cm"]),
        .init(group: "", version: "v1", plural: "secrets", singular: "secret", kind: "Secret", namespaced: true),
        .init(group: "", version: "v1", plural: "services", singular: "service", kind: "Service",
              namespaced: true, shortNames: ["svc"], categories: ["all"], subresources: ["status"]),
        .init(group: "", version: "v1", plural: "endpoints", singular: "endpoints", kind: "Endpoints",
              namespaced: true, shortNames: ["ep"]),
        .init(group: "", version: "v1", plural: "events", singular: "event", kind: "Event",
              namespaced: true, shortNames: ["ev"]),
        .init(group: "", version: "v1", plural: "serviceaccounts", singular: "serviceaccount",
              kind: "ServiceAccount", namespaced: true, shortNames: ["sa"]),
        .init(group: "apps", version: "v1", plural: "deployments", singular: "deployment", kind: "Deployment",
              namespaced: true, shortNames: ["deploy"], categories: ["all"], subresources: ["status", "scale"]),
        .init(group: "coordination.k8s.io", version: "v1", plural: "leases", singular: "lease", kind: "Lease",
              namespaced: true),
        EventsV1.info,
        MetricsAPI.nodes,
        MetricsAPI.pods,
        .init(group: "apiextensions.k8s.io", version: "v1", plural: "customresourcedefinitions",
              singular: "customresourcedefinition", kind: "CustomResourceDefinition", namespaced: false,
              shortNames: ["crd", "crds"], categories: ["api-extensions"], subresources: ["status"]),
        .init(group: "authorization.k8s.io", version: "v1", plural: "selfsubjectaccessreviews",
              singular: "selfsubjectaccessreview", kind: "SelfSubjectAccessReview", namespaced: false, createOnly: true),
        .init(group: "authorization.k8s.io", version: "v1", plural: "selfsubjectrulesreviews",
              singular: "selfsubjectrulesreview", kind: "SelfSubjectRulesReview", namespaced: false, createOnly: true),
    ]
}
