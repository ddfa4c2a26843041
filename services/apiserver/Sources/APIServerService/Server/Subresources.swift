// The scale subresource (autoscaling/v1 Scale of a Deployment, used by `kubectl scale`) and pod binding.

import EdgeProtocol

enum Scale {
    static func scale(of deployment: JSONValue) -> JSONValue {
        var metadata: JSONValue = .object([])
        for field in ["name", "namespace", "uid", "resourceVersion", "creationTimestamp"] {
            if let value = deployment[path: ["metadata", field]] { metadata[member: field] = value }
        }
        let selector = deployment[path: ["spec", "selector"]].flatMap { try? LabelSelector(labelSelectorObject: $0) }
        return [
            "kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": metadata,
            "spec": ["replicas": deployment[path: ["spec", "replicas"]] ?? 0],
            "status": [
                "replicas": deployment[path: ["status", "replicas"]] ?? 0,
                "selector": .string(selector?.text ?? ""),
            ],
        ]
    }

    /// PUT (a Scale body) or PATCH (of the Scale) → the deployment's spec.replicas.
    static func write(
        _ core: APICore, _ info: ResourceInfo, namespace: String, name: String, patchType: PatchType?, body: [UInt8],
        options: WriteOptions = WriteOptions()
    ) throws(APIError) -> JSONValue {
        var options = options
        options.recordedSubresource = "scale"  // ownership of spec.replicas is recorded as kube does, under "scale"
        let result = try core.modify(info, namespace: namespace, name: name, precondition: nil, subresource: nil,
                                     options: options) { (current) throws(APIError) -> JSONValue in
            let currentScale = scale(of: current)
            let newScale: JSONValue
            do {
                if let patchType {
                    newScale = try Patcher.apply(patchType, patch: body, to: currentScale, kind: "Scale")
                } else {
                    newScale = try JSONValue(parsing: body)
                }
            } catch {
                throw APIError.badRequest("invalid Scale: \(error)")
            }
            if let rv = newScale.string(at: "metadata.resourceVersion"), rv != current.string(at: "metadata.resourceVersion") {
                throw APIError.conflict(info, name)
            }
            guard let replicas = newScale[path: ["spec", "replicas"]]?.int64Value, replicas >= 0 else {
                throw APIError.invalid(info, name, [.invalid("spec.replicas", newScale[path: ["spec", "replicas"]] ?? .null,
                                                             "must be a non-negative integer")])
            }
            var updated = current
            updated[path: ["spec", "replicas"]] = .integer(replicas)
            return updated
        }
        return scale(of: result.object)
    }
}

enum Scheduling {
    /// POST pods/<name>/binding: sets spec.nodeName once.
    static func bind(_ core: APICore, namespace: String, pod: String, binding: JSONValue) throws(APIError) {
        guard let node = binding.string(at: "target.name"), !node.isEmpty else {
            throw APIError.invalid(APICore.podsInfo, pod, [.required("target.name")])
        }
        _ = try core.modify(APICore.podsInfo, namespace: namespace, name: pod, precondition: nil, subresource: nil,
                            options: WriteOptions()) { (current) throws(APIError) -> JSONValue in
            if let bound = current.string(at: "spec.nodeName"), !bound.isEmpty {
                throw APIError(code: 409, reason: "Conflict",
                               message: "pod \(pod) is already assigned to node \"\(bound)\"",
                               name: pod, kind: "pods")
            }
            var updated = current
            updated[path: ["spec", "nodeName"]] = .string(node)
            return updated
        }
    }
}
