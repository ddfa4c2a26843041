// The decisions of the scheduler and the Deployment controller as pure functions of objects.

import EdgeProtocol
import Foundation
import Logging

enum SchedulerRules {
    enum Decision: Equatable {
        case node(String)
        case unschedulable(String)
    }

    static func isReady(_ node: JSONValue) -> Bool {
        (node[path: ["status", "conditions"]]?.arrayValue ?? []).contains {
            $0["type"]?.stringValue == "Ready" && $0["status"]?.stringValue == "True"
        }
    }

    /// Whether `tolerations` tolerate `taint` (kube's ToleratesTaint).
    static func tolerates(_ tolerations: [JSONValue], _ taint: JSONValue) -> Bool {
        let key = taint["key"]?.stringValue ?? ""
        let value = taint["value"]?.stringValue ?? ""
        let effect = taint["effect"]?.stringValue ?? ""
        return tolerations.contains { toleration in
            let tEffect = toleration["effect"]?.stringValue ?? ""
            guard tEffect.isEmpty || tEffect == effect else { return false }
            let tKey = toleration["key"]?.stringValue ?? ""
            switch toleration["operator"]?.stringValue ?? "Equal" {
            case "Exists": return tKey.isEmpty || tKey == key
            default: return tKey == key && (toleration["value"]?.stringValue ?? "") == value
            }
        }
    }

    /// The least loaded Ready node that matches the pod's nodeSelector and whose NoSchedule/NoExecute taints the
    /// pod tolerates; otherwise why not, worded like kube-scheduler.
    static func choose(pod: JSONValue, nodes: [JSONValue], load: [String: Int]) -> Decision {
        let selector = pod[path: ["spec", "nodeSelector"]]?.objectMembers ?? []
        let tolerations = pod[path: ["spec", "tolerations"]]?.arrayValue ?? []
        var notReady = 0, unschedulable = 0, selectorMismatch = 0
        var untolerated: [String: Int] = [:]
        var candidates: [String] = []
        for node in nodes {
            let name = node.string(at: "metadata.name") ?? ""
            let labels = node[path: ["metadata", "labels"]]
            guard isReady(node) else {
                notReady += 1
                continue
            }
            if node[path: ["spec", "unschedulable"]]?.boolValue == true {
                unschedulable += 1
                continue
            }
            guard selector.allSatisfy({ labels?[$0.key]?.stringValue == $0.value.stringValue }) else {
                selectorMismatch += 1
                continue
            }
            let taints = (node[path: ["spec", "taints"]]?.arrayValue ?? []).filter {
                ["NoSchedule", "NoExecute"].contains($0["effect"]?.stringValue ?? "")
            }
            if let taint = taints.first(where: { !tolerates(tolerations, $0) }) {
                let text = "{\(taint["key"]?.stringValue ?? ""): \(taint["value"]?.stringValue ?? "")}"
                untolerated[text, default: 0] += 1
                continue
            }
            candidates.append(name)
        }
        if let best = candidates.min(by: { (load[$0] ?? 0, $0) < (load[$1] ?? 0, $1) }) { return .node(best) }
        var reasons: [String] = []
        if selectorMismatch > 0 { reasons.append("\(selectorMismatch) node(s) didn't match Pod's node affinity/selector") }
        for (taint, count) in untolerated.sorted(by: { $0.key < $1.key }) {
            reasons.append("\(count) node(s) had untolerated taint \(taint)")
        }
        if notReady > 0 { reasons.append("\(notReady) node(s) were not ready") }
        if unschedulable > 0 { reasons.append("\(unschedulable) node(s) were unschedulable") }
        let message = "0/\(nodes.count) nodes are available" + (reasons.isEmpty ? "." : ": " + reasons.sorted().joined(separator: ", ") + ".")
        return .unschedulable(message)
    }
}

enum DeploymentRules {
    /// kube's pod-template-hash alphabet, 10 characters of an FNV-1a hash of the template.
    static func templateHash(_ template: JSONValue) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in (try? template.serialized()) ?? [] { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        let alphabet = Array("bcdfghjklmnpqrstvwxz2456789")
        var text = ""
        for _ in 0..<10 {
            text.append(alphabet[Int(hash % UInt64(alphabet.count))])
            hash /= UInt64(alphabet.count)
        }
        return text
    }

    static func isPodReady(_ pod: JSONValue) -> Bool {
        (pod[path: ["status", "conditions"]]?.arrayValue ?? []).contains {
            $0["type"]?.stringValue == "Ready" && $0["status"]?.stringValue == "True"
        }
    }

    /// Brings the deployment's pods to `spec.replicas` of the current template (pods of an older template are
    /// replaced: Recreate semantics, also for RollingUpdate) and writes its status.
    static func reconcile(_ deployment: JSONValue, pods: [JSONValue], core: APICore, logger: Logger) throws {
        guard deployment[path: ["metadata", "deletionTimestamp"]] == nil,
              let uid = deployment.string(at: "metadata.uid"),
              let name = deployment.string(at: "metadata.name"),
              let namespace = deployment.string(at: "metadata.namespace") else { return }
        let template = deployment[path: ["spec", "template"]] ?? .object([])
        let hash = templateHash(template)
        let wanted = Int(deployment[path: ["spec", "replicas"]]?.int64Value ?? 1)
        let owned = pods.filter { pod in
            pod.string(at: "metadata.namespace") == namespace
                && (pod[path: ["metadata", "ownerReferences"]]?.arrayValue ?? []).contains { $0["uid"]?.stringValue == uid }
        }
        let live = owned.filter { $0[path: ["metadata", "deletionTimestamp"]] == nil }
        let current = live.filter { $0[path: ["metadata", "labels", "pod-template-hash"]]?.stringValue == hash }
        let outdated = live.filter { $0[path: ["metadata", "labels", "pod-template-hash"]]?.stringValue != hash }
        let podsInfo = APICore.podsInfo
        for pod in outdated {
            _ = try? core.delete(podsInfo, namespace: namespace, name: pod.string(at: "metadata.name") ?? "")
        }
        if current.count < wanted {
            for _ in current.count..<wanted {
                var pod: JSONValue = ["apiVersion": "v1", "kind": "Pod"]
                var metadata = template["metadata"] ?? .object([])
                metadata[member: "generateName"] = .string("\(name)-\(hash)-")
                metadata[member: "namespace"] = .string(namespace)
                metadata[path: ["labels", "pod-template-hash"]] = .string(hash)
                metadata[member: "ownerReferences"] = [[
                    "apiVersion": "apps/v1", "kind": "Deployment", "name": .string(name), "uid": .string(uid),
                    "controller": true, "blockOwnerDeletion": true,
                ]]
                pod[member: "metadata"] = metadata
                pod[member: "spec"] = template["spec"] ?? .object([])
                let created = try core.create(podsInfo, namespace: namespace, object: pod)
                logger.info("deployment created a pod", metadata: [
                    "deployment": "\(namespace)/\(name)", "pod": "\(created.object.string(at: "metadata.name") ?? "")",
                ])
            }
        } else if current.count > wanted {
            // Remove the pods that are not ready first, then the newest.
            let ordered = current.sorted { a, b in
                let (ra, rb) = (isPodReady(a), isPodReady(b))
                if ra != rb { return !ra }
                return (a.string(at: "metadata.creationTimestamp") ?? "") > (b.string(at: "metadata.creationTimestamp") ?? "")
            }
            for pod in ordered.prefix(current.count - wanted) {
                _ = try? core.delete(podsInfo, namespace: namespace, name: pod.string(at: "metadata.name") ?? "")
            }
        }
        // Status.
        let kept = min(current.count, wanted) + max(0, wanted - current.count)
        let ready = current.filter(isPodReady).count
        let available = min(ready, wanted)
        let now = APICore.now()
        func condition(_ type: String, _ status: String, _ reason: String, _ message: String) -> JSONValue {
            let old = (deployment[path: ["status", "conditions"]]?.arrayValue ?? []).first { $0["type"]?.stringValue == type }
            let transition = old?["status"]?.stringValue == status ? (old?["lastTransitionTime"] ?? .string(now)) : .string(now)
            return ["type": .string(type), "status": .string(status), "lastUpdateTime": old?["status"]?.stringValue == status && old?["reason"]?.stringValue == reason ? (old?["lastUpdateTime"] ?? .string(now)) : .string(now),
                    "lastTransitionTime": transition, "reason": .string(reason), "message": .string(message)]
        }
        var status: JSONValue = [
            "observedGeneration": deployment[path: ["metadata", "generation"]] ?? 1,
            "replicas": .integer(kept),
            "updatedReplicas": .integer(kept),
        ]
        if ready > 0 { status[member: "readyReplicas"] = .integer(ready) }
        if available > 0 { status[member: "availableReplicas"] = .integer(available) }
        if wanted - available > 0 { status[member: "unavailableReplicas"] = .integer(wanted - available) }
        status[member: "conditions"] = [
            available >= wanted
                ? condition("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.")
                : condition("Available", "False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability."),
            available >= wanted
                ? condition("Progressing", "True", "NewReplicaSetAvailable", "Deployment \"\(name)\" has successfully progressed.")
                : condition("Progressing", "True", "ReplicaSetUpdated", "Deployment \"\(name)\" is progressing."),
        ]
        if Self.sameStatus(deployment["status"], status) { return }
        _ = try core.modify(Controllers.deploymentsInfo, namespace: namespace, name: name, precondition: nil,
                            subresource: "status", options: WriteOptions()) { current in
            var updated = current
            updated[member: "status"] = status
            return updated
        }
    }

    /// Equal apart from condition timestamps.
    static func sameStatus(_ old: JSONValue?, _ new: JSONValue) -> Bool {
        func stripped(_ status: JSONValue?) -> JSONValue? {
            guard var status else { return nil }
            if let conditions = status["conditions"]?.arrayValue {
                status[member: "conditions"] = .array(conditions.map { condition in
                    var condition = condition
                    condition[member: "lastUpdateTime"] = nil
                    condition[member: "lastTransitionTime"] = nil
                    return condition
                })
            }
            return status
        }
        return stripped(old) == stripped(new)
    }
}
