// Discovery documents (/version, /api, /apis, resource lists) and the minimal OpenAPI v3 kubectl reads: kubectl
// asks OpenAPI whether a kind accepts `fieldValidation` before `apply`/`create`; we declare it for every kind, and
// leave out request bodies so kubectl computes strategic-merge patches from its built-in types (custom resources
// get JSON merge patches).

import EdgeProtocol

enum Discovery {
    static let gitVersion = "v1.30.0-kubeedge-swift"

    static var version: JSONValue {
        [
            "major": "1", "minor": "30", "gitVersion": .string(gitVersion), "gitCommit": "0000000000000000000000000000000000000000",
            "gitTreeState": "clean", "buildDate": "2026-11-22T00:00:00Z", "goVersion": "swift6.3", "compiler": "swift",
            "platform": .string(platform),
        ]
    }

    static var platform: String {
        #if arch(arm64)
        "linux/arm64"
        #else
        "linux/amd64"
        #endif
    }

    static func apiVersions(serverAddress: String) -> JSONValue {
        [
            "kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [["clientCIDR": "0.0.0.0/0", "serverAddress": .string(serverAddress)]],
        ]
    }

    static func group(_ name: String, versions: [String]) -> JSONValue {
        let list: [JSONValue] = versions.map { ["groupVersion": .string("\(name)/\($0)"), "version": .string($0)] }
        return ["name": .string(name), "versions": .array(list), "preferredVersion": list.first ?? .null]
    }

    static func groupList(_ registry: ResourceRegistry) -> JSONValue {
        [
            "kind": "APIGroupList", "apiVersion": "v1",
            "groups": .array(registry.groups().map { group($0.name, versions: $0.versions) }),
        ]
    }

    static func apiGroup(_ registry: ResourceRegistry, _ name: String) -> JSONValue? {
        guard let found = registry.groups().first(where: { $0.name == name }) else { return nil }
        var result = group(found.name, versions: found.versions)
        result[member: "kind"] = "APIGroup"
        result[member: "apiVersion"] = "v1"
        return result
    }

    /// The APIResourceList of one group version, or nil when nothing is served there.
    static func resourceList(_ registry: ResourceRegistry, group: String, version: String) -> JSONValue? {
        let infos = registry.all.filter { $0.group == group && $0.version == version }
        guard !infos.isEmpty else { return nil }
        var resources: [JSONValue] = []
        for info in infos {
            var entry: JSONValue = [
                "name": .string(info.plural), "singularName": .string(info.singular),
                "namespaced": .bool(info.namespaced), "kind": .string(info.kind),
                "verbs": .array(info.verbs.map { .string($0) }),
            ]
            if !info.shortNames.isEmpty { entry[member: "shortNames"] = .array(info.shortNames.map { .string($0) }) }
            if !info.categories.isEmpty { entry[member: "categories"] = .array(info.categories.map { .string($0) }) }
            resources.append(entry)
            for sub in info.subresources.sorted() {
                var subEntry: JSONValue = [
                    "name": .string("\(info.plural)/\(sub)"), "singularName": "", "namespaced": .bool(info.namespaced),
                    "kind": .string(info.kind), "verbs": ["get", "patch", "update"],
                ]
                switch sub {
                case "log": subEntry[member: "verbs"] = ["get"]
                case "binding":
                    subEntry[member: "kind"] = "Binding"
                    subEntry[member: "verbs"] = ["create"]
                case "scale":
                    subEntry[member: "group"] = "autoscaling"
                    subEntry[member: "version"] = "v1"
                    subEntry[member: "kind"] = "Scale"
                default: break
                }
                resources.append(subEntry)
            }
        }
        return [
            "kind": "APIResourceList", "apiVersion": "v1",
            "groupVersion": .string(group.isEmpty ? version : "\(group)/\(version)"),
            "resources": .array(resources),
        ]
    }

    // MARK: OpenAPI v3

    /// Every group version's path ("api/v1", "apis/apps/v1").
    static func groupVersionPaths(_ registry: ResourceRegistry) -> [String] {
        var paths: [String] = []
        for info in registry.all {
            let path = info.group.isEmpty ? "api/\(info.version)" : "apis/\(info.group)/\(info.version)"
            if !paths.contains(path) { paths.append(path) }
        }
        return paths
    }

    static func openAPIRoot(_ registry: ResourceRegistry) -> JSONValue {
        var paths: [(key: String, value: JSONValue)] = []
        for path in groupVersionPaths(registry) {
            let hash = openAPIHash(registry, path)
            paths.append((path, ["serverRelativeURL": .string("/openapi/v3/\(path)?hash=\(hash)")]))
        }
        return ["paths": .object(paths)]
    }

    /// Changes whenever the group version's resources change (clients cache documents by it).
    static func openAPIHash(_ registry: ResourceRegistry, _ path: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for info in registry.all where (info.group.isEmpty ? "api/\(info.version)" : "apis/\(info.group)/\(info.version)") == path {
            for byte in "\(info.plural)|\(info.kind)|\(info.namespaced);".utf8 {
                hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
            }
        }
        return String(hash, radix: 16, uppercase: true)
    }

    static func openAPIDocument(_ registry: ResourceRegistry, path: String) -> JSONValue? {
        let infos = registry.all.filter {
            ($0.group.isEmpty ? "api/\($0.version)" : "apis/\($0.group)/\($0.version)") == path
        }
        guard !infos.isEmpty else { return nil }
        var paths: [(key: String, value: JSONValue)] = []
        for info in infos {
            let gvk: JSONValue = ["group": .string(info.group), "version": .string(info.version),
                                  "kind": .string(info.kind)]
            let item = info.namespaced
                ? "/\(path)/namespaces/{namespace}/\(info.plural)/{name}" : "/\(path)/\(info.plural)/{name}"
            let patch: JSONValue = [
                "description": .string("partially update the specified \(info.kind)"),
                "operationId": .string("patch\(info.kind)"),
                "parameters": [
                    ["name": "dryRun", "in": "query", "schema": ["type": "string", "uniqueItems": true]],
                    ["name": "fieldManager", "in": "query", "schema": ["type": "string", "uniqueItems": true]],
                    ["name": "fieldValidation", "in": "query", "schema": ["type": "string", "uniqueItems": true]],
                ],
                "responses": ["200": ["description": "OK"]],
                "x-kubernetes-action": "patch",
                "x-kubernetes-group-version-kind": gvk,
            ]
            paths.append((item, ["patch": patch]))
        }
        return [
            "openapi": "3.0.0",
            "info": ["title": "Kubernetes", "version": .string(gitVersion)],
            "paths": .object(paths),
            "components": ["schemas": .object([])],
        ]
    }
}
