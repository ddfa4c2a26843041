import EdgeProtocol
import Foundation

/// What kube-apiserver 1.26 fills in on create, update and patch of built-in objects: the generated defaulters
/// (`SetObjectDefaults_<Kind>` of k8s.io/kubernetes `pkg/apis/{core,apps,batch,coordination}/v1`, with the nesting of
/// their `zz_generated.defaults.go`) and the visible effects of the default admission plugins on Pods
/// (ServiceAccount, DefaultTolerationSeconds, Priority). Every rule only fills in what is unset, so applying it twice
/// changes nothing (kube-apiserver defaults again on every read).
///
/// Left out on purpose: the ServiceAccount plugin's projected token volume (`kube-api-access-*`): this server issues no
/// service-account tokens, and an edge kubelet would fail to mount it; quantity canonicalisation (`1000m` → `1`).
public enum Defaulting {
    // MARK: objects

    /// The defaulters of a built-in kind (custom resources have their own, from their schema).
    public static func apply(group: String, kind: String, _ object: inout JSONValue) {
        switch (group, kind) {
        case ("", "Pod"):
            defaultPod(&object)
        case ("", "PodTemplate"):
            defaultTemplate(&object, at: ["template"])
        case ("", "ReplicationController"):
            defaultReplicationController(&object)
        case ("apps", "Deployment"):
            defaultDeployment(&object)
        case ("apps", "ReplicaSet"):
            setIfAbsent(&object, ["spec", "replicas"], 1)
            defaultTemplate(&object, at: ["spec", "template"])
        case ("apps", "DaemonSet"):
            defaultDaemonSet(&object)
        case ("apps", "StatefulSet"):
            defaultStatefulSet(&object)
        case ("batch", "Job"):
            defaultJobSpec(&object, at: ["spec"])
            if object[path: ["metadata", "labels"]]?.objectMembers?.isEmpty ?? true,
               let labels = object[path: ["spec", "template", "metadata", "labels"]], labels.isObject {
                object[path: ["metadata", "labels"]] = labels
            }
        case ("batch", "CronJob"):
            setIfAbsent(&object, ["spec", "concurrencyPolicy"], "Allow")
            setIfAbsent(&object, ["spec", "suspend"], false)
            setIfAbsent(&object, ["spec", "successfulJobsHistoryLimit"], 3)
            setIfAbsent(&object, ["spec", "failedJobsHistoryLimit"], 1)
            templateMetadata(&object, at: ["spec", "jobTemplate"])
            defaultTemplate(&object, at: ["spec", "jobTemplate", "spec", "template"])
        case ("", "Service"):
            defaultService(&object)
        case ("", "Secret"):
            setIfAbsent(&object, ["type"], "Opaque")
            foldStringData(&object)
        case ("", "Namespace"):
            if let name = object.string(at: "metadata.name"), !name.isEmpty {
                object[path: ["metadata", "labels", "kubernetes.io/metadata.name"]] = .string(name)
            }
            setIfAbsent(&object, ["status", "phase"], "Active")
        case ("", "Endpoints"):
            guard let subsets = object["subsets"]?.arrayValue else { break }
            object[member: "subsets"] = .array(subsets.map { subset in
                var subset = subset
                mapArray(&subset, ["ports"]) { setIfAbsent(&$0, ["protocol"], "TCP") }
                return subset
            })
        case ("", "Node"):
            if object[path: ["status", "allocatable"]] == nil, let capacity = object[path: ["status", "capacity"]] {
                object[path: ["status", "allocatable"]] = capacity
            }
        case ("coordination.k8s.io", "Lease"):
            setIfAbsent(&object, ["spec"], .object([]))
        case ("scheduling.k8s.io", "PriorityClass"):
            setIfAbsent(&object, ["preemptionPolicy"], "PreemptLowerPriority")
        default:
            break
        }
    }

    // MARK: Pod and pod specs

    /// `SetObjectDefaults_Pod`: the Pod-only rules, then the pod spec ones.
    static func defaultPod(_ pod: inout JSONValue) {
        guard var spec = pod["spec"], spec.isObject else { return }
        // SetDefaults_Pod: requests default to limits (containers and init containers), service links on.
        for field in ["initContainers", "containers"] {
            mapArray(&spec, [field]) { container in
                guard let limits = container[path: ["resources", "limits"]]?.objectMembers else { return }
                for (resource, quantity) in limits where container[path: ["resources", "requests", resource]] == nil {
                    container[path: ["resources", "requests", resource]] = quantity
                }
            }
        }
        setIfAbsent(&spec, ["enableServiceLinks"], true)
        defaultPodSpec(&spec)
        pod[member: "spec"] = spec
    }

    /// A pod template (`{template}.metadata` and `{template}.spec`): the pod spec rules only.
    static func defaultTemplate(_ object: inout JSONValue, at path: [String]) {
        guard object[path: path] != nil else { return }
        templateMetadata(&object, at: path)
        guard var spec = object[path: path + ["spec"]], spec.isObject else { return }
        defaultPodSpec(&spec)
        object[path: path + ["spec"]] = spec
    }

    /// An embedded ObjectMeta shows `creationTimestamp: null` (Go's zero time of a non-pointer field).
    static func templateMetadata(_ object: inout JSONValue, at path: [String]) {
        guard object[path: path] != nil else { return }
        if object[path: path + ["metadata"]] == nil { object[path: path + ["metadata"]] = .object([]) }
        if object[path: path + ["metadata", "creationTimestamp"]] == nil {
            object[path: path + ["metadata", "creationTimestamp"]] = .null
        }
    }

    /// `SetDefaults_PodSpec`, the volumes' and the containers' defaulters.
    static func defaultPodSpec(_ spec: inout JSONValue) {
        setIfAbsent(&spec, ["dnsPolicy"], "ClusterFirst")
        setIfAbsent(&spec, ["restartPolicy"], "Always")
        if spec["hostNetwork"]?.boolValue == true {
            for field in ["initContainers", "containers"] {
                mapArray(&spec, [field]) { container in
                    mapArray(&container, ["ports"]) { port in
                        if (port["hostPort"]?.int64Value ?? 0) == 0, let number = port["containerPort"] {
                            port[member: "hostPort"] = number
                        }
                    }
                }
            }
        }
        setIfAbsent(&spec, ["securityContext"], .object([]))
        setIfAbsent(&spec, ["terminationGracePeriodSeconds"], 30)
        setIfAbsent(&spec, ["schedulerName"], "default-scheduler")
        mapArray(&spec, ["volumes"], defaultVolume)
        for field in ["initContainers", "containers", "ephemeralContainers"] {
            mapArray(&spec, [field], defaultContainer)
        }
    }

    static func defaultVolume(_ volume: inout JSONValue) {
        let sources = (volume.objectMembers ?? []).map(\.key).filter { $0 != "name" }
        if sources.isEmpty { volume[member: "emptyDir"] = .object([]) }
        if volume["hostPath"] != nil { setIfAbsent(&volume, ["hostPath", "type"], "") }
        for source in ["secret", "configMap", "downwardAPI", "projected"] where volume[source]?.isObject == true {
            setIfAbsent(&volume, [source, "defaultMode"], 420)
        }
        mapArray(&volume, ["downwardAPI", "items"]) { defaultFieldRef(&$0, at: ["fieldRef"]) }
        mapArray(&volume, ["projected", "sources"]) { source in
            mapArray(&source, ["downwardAPI", "items"]) { defaultFieldRef(&$0, at: ["fieldRef"]) }
            if source["serviceAccountToken"] != nil {
                setIfAbsent(&source, ["serviceAccountToken", "expirationSeconds"], 3600)
            }
        }
        if volume["iscsi"] != nil { setIfAbsent(&volume, ["iscsi", "iscsiInterface"], "default") }
        if volume["rbd"] != nil {
            setIfAbsent(&volume, ["rbd", "pool"], "rbd")
            setIfAbsent(&volume, ["rbd", "user"], "admin")
            setIfAbsent(&volume, ["rbd", "keyring"], "/etc/ceph/keyring")
        }
        if volume["azureDisk"] != nil {
            setIfAbsent(&volume, ["azureDisk", "cachingMode"], "ReadWrite")
            setIfAbsent(&volume, ["azureDisk", "fsType"], "ext4")
            setIfAbsent(&volume, ["azureDisk", "readOnly"], false)
            setIfAbsent(&volume, ["azureDisk", "kind"], "Shared")
        }
        if volume["scaleIO"] != nil {
            setIfAbsent(&volume, ["scaleIO", "storageMode"], "ThinProvisioned")
            setIfAbsent(&volume, ["scaleIO", "fsType"], "xfs")
        }
        if volume[path: ["ephemeral", "volumeClaimTemplate"]] != nil {
            templateMetadata(&volume, at: ["ephemeral", "volumeClaimTemplate"])
            setIfAbsent(&volume, ["ephemeral", "volumeClaimTemplate", "spec", "volumeMode"], "Filesystem")
        }
    }

    /// `SetDefaults_Container` with its ports, env, probes and lifecycle handlers.
    static func defaultContainer(_ container: inout JSONValue) {
        if container["imagePullPolicy"] == nil {
            container[member: "imagePullPolicy"] = .string(pullPolicy(forImage: container["image"]?.stringValue ?? ""))
        }
        setIfAbsent(&container, ["terminationMessagePath"], "/dev/termination-log")
        setIfAbsent(&container, ["terminationMessagePolicy"], "File")
        // A non-pointer struct: always present.
        setIfAbsent(&container, ["resources"], .object([]))
        mapArray(&container, ["ports"]) { setIfAbsent(&$0, ["protocol"], "TCP") }
        mapArray(&container, ["env"]) { variable in
            defaultFieldRef(&variable, at: ["valueFrom", "fieldRef"])
            if variable[path: ["valueFrom", "resourceFieldRef"]] != nil {
                setIfAbsent(&variable, ["valueFrom", "resourceFieldRef", "divisor"], "0")
            }
        }
        for probe in ["livenessProbe", "readinessProbe", "startupProbe"] where container[probe]?.isObject == true {
            setIfAbsent(&container, [probe, "timeoutSeconds"], 1)
            setIfAbsent(&container, [probe, "periodSeconds"], 10)
            setIfAbsent(&container, [probe, "successThreshold"], 1)
            setIfAbsent(&container, [probe, "failureThreshold"], 3)
            defaultHTTPGet(&container, at: [probe, "httpGet"])
            if container[path: [probe, "grpc"]] != nil { setIfAbsent(&container, [probe, "grpc", "service"], "") }
        }
        for hook in ["postStart", "preStop"] { defaultHTTPGet(&container, at: ["lifecycle", hook, "httpGet"]) }
    }

    static func defaultHTTPGet(_ object: inout JSONValue, at path: [String]) {
        guard object[path: path]?.isObject == true else { return }
        setIfAbsent(&object, path + ["path"], "/")
        setIfAbsent(&object, path + ["scheme"], "HTTP")
    }

    static func defaultFieldRef(_ object: inout JSONValue, at path: [String]) {
        guard object[path: path]?.isObject == true else { return }
        setIfAbsent(&object, path + ["apiVersion"], "v1")
    }

    /// kubelet's pull policy default (`pkg/util/parsers.ParseImageName`): `Always` when the tag is `latest` (given, or
    /// implied by no tag and no digest), else `IfNotPresent` (also for a reference that does not parse).
    public static func pullPolicy(forImage image: String) -> String {
        guard isValidImageReference(image) else { return "IfNotPresent" }
        var reference = Substring(image)
        let hasDigest = reference.contains("@")
        if let at = reference.firstIndex(of: "@") { reference = reference[..<at] }
        let lastComponent = reference.split(separator: "/", omittingEmptySubsequences: false).last ?? reference
        let tag = lastComponent.lastIndex(of: ":").map { String(lastComponent[lastComponent.index(after: $0)...]) }
        if let tag { return tag == "latest" ? "Always" : "IfNotPresent" }
        return hasDigest ? "IfNotPresent" : "Always"
    }

    /// Roughly docker/distribution's reference grammar: lower-case path components, an optional registry host (with a
    /// port) before them, an optional tag, an optional digest. Enough to tell the references that fail to parse.
    static func isValidImageReference(_ image: String) -> Bool {
        guard !image.isEmpty, image.utf8.count <= 255 + 128 else { return false }
        var name = Substring(image)
        if let at = name.firstIndex(of: "@") {
            let digest = name[name.index(after: at)...]
            guard let colon = digest.firstIndex(of: ":"), !digest[digest.index(after: colon)...].isEmpty else { return false }
            name = name[..<at]
        }
        var components = name.split(separator: "/", omittingEmptySubsequences: false)
        guard let last = components.last else { return false }
        if let colon = last.lastIndex(of: ":") {
            let tag = last[last.index(after: colon)...]
            guard !tag.isEmpty, tag.count <= 128,
                  tag.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "_.-".contains($0)) }) else { return false }
            components[components.count - 1] = last[..<colon]
        }
        // A first component with '.', ':' or "localhost" is a registry host.
        if components.count > 1, let first = components.first,
           first.contains(".") || first.contains(":") || first == "localhost" {
            components.removeFirst()
        }
        // A bare 64-hex id is refused as a name.
        if components.count == 1, components[0].count == 64, components[0].allSatisfy({ $0.isHexDigit }) { return false }
        return components.allSatisfy { component in
            !component.isEmpty && component.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || "._-".contains($0)) }
                && component.first.map { $0.isLowercase || $0.isNumber } == true
        }
    }

    // MARK: Pod admission

    public enum Operation: Sendable { case create, update }

    /// The default admission plugins' visible effects on a Pod (not its subresources).
    /// - ServiceAccount (create): `serviceAccountName` "default" (and the deprecated `serviceAccount` mirroring it).
    /// - DefaultTolerationSeconds (create and update): tolerate not-ready and unreachable for 300 s.
    /// - Priority (create): `priority` 0 and `preemptionPolicy` PreemptLowerPriority without a priority class; on
    ///   update both are kept from the stored pod.
    public static func admitPod(_ pod: inout JSONValue, _ operation: Operation, old: JSONValue? = nil) {
        guard pod["spec"]?.isObject == true else { return }
        let mirror = pod[path: ["metadata", "annotations", "kubernetes.io/config.mirror"]] != nil
        if operation == .create && !mirror {
            if (pod.string(at: "spec.serviceAccountName") ?? "").isEmpty {
                pod[path: ["spec", "serviceAccountName"]] = "default"
            }
        }
        if let account = pod.string(at: "spec.serviceAccountName"), !account.isEmpty {
            pod[path: ["spec", "serviceAccount"]] = .string(account)
        }
        var tolerations = pod[path: ["spec", "tolerations"]]?.arrayValue ?? []
        for taint in ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"] {
            let covered = tolerations.contains { toleration in
                let key = toleration["key"]?.stringValue ?? "", effect = toleration["effect"]?.stringValue ?? ""
                return (key == taint || key.isEmpty) && (effect == "NoExecute" || effect.isEmpty)
            }
            if !covered {
                tolerations.append(["key": .string(taint), "operator": "Exists", "effect": "NoExecute",
                                    "tolerationSeconds": 300])
            }
        }
        pod[path: ["spec", "tolerations"]] = .array(tolerations)
        switch operation {
        case .create:
            if (pod.string(at: "spec.priorityClassName") ?? "").isEmpty {
                setIfAbsent(&pod, ["spec", "priority"], 0)
            }
            setIfAbsent(&pod, ["spec", "preemptionPolicy"], "PreemptLowerPriority")
        case .update:
            for field in ["priority", "preemptionPolicy"] where pod[path: ["spec", field]] == nil {
                if let kept = old?[path: ["spec", field]] { pod[path: ["spec", field]] = kept }
            }
        }
    }

    /// `GetPodQOS` (`core/v1/helper/qos`): cpu and memory of every container and init container.
    public static func qosClass(of pod: JSONValue) -> String {
        var requests: [String: Double] = [:], limits: [String: Double] = [:]
        var everyContainerLimited = true
        let containers = (pod[path: ["spec", "containers"]]?.arrayValue ?? [])
            + (pod[path: ["spec", "initContainers"]]?.arrayValue ?? [])
        for container in containers {
            var limited: Set<String> = []
            for (kind, sums) in [("requests", 0), ("limits", 1)] {
                for resource in ["cpu", "memory"] {
                    guard let text = container[path: ["resources", kind, resource]]?.stringValue
                            ?? container[path: ["resources", kind, resource]]?.int64Value.map(String.init),
                          let value = Quantity.value(text), value > 0 else { continue }
                    if sums == 0 { requests[resource, default: 0] += value } else {
                        limits[resource, default: 0] += value
                        limited.insert(resource)
                    }
                }
            }
            if limited.count < 2 { everyContainerLimited = false }
        }
        if requests.isEmpty && limits.isEmpty { return "BestEffort" }
        let guaranteed = everyContainerLimited && requests.count == limits.count
            && requests.allSatisfy { limits[$0.key] == $0.value }
        return guaranteed ? "Guaranteed" : "Burstable"
    }

    // MARK: workloads

    static func defaultDeployment(_ object: inout JSONValue) {
        setIfAbsent(&object, ["spec", "replicas"], 1)
        setIfAbsent(&object, ["spec", "strategy", "type"], "RollingUpdate")
        if object.string(at: "spec.strategy.type") == "RollingUpdate" {
            setIfAbsent(&object, ["spec", "strategy", "rollingUpdate", "maxUnavailable"], "25%")
            setIfAbsent(&object, ["spec", "strategy", "rollingUpdate", "maxSurge"], "25%")
        }
        setIfAbsent(&object, ["spec", "revisionHistoryLimit"], 10)
        setIfAbsent(&object, ["spec", "progressDeadlineSeconds"], 600)
        defaultTemplate(&object, at: ["spec", "template"])
    }

    static func defaultDaemonSet(_ object: inout JSONValue) {
        setIfAbsent(&object, ["spec", "updateStrategy", "type"], "RollingUpdate")
        if object.string(at: "spec.updateStrategy.type") == "RollingUpdate" {
            setIfAbsent(&object, ["spec", "updateStrategy", "rollingUpdate", "maxUnavailable"], 1)
            setIfAbsent(&object, ["spec", "updateStrategy", "rollingUpdate", "maxSurge"], 0)
        }
        setIfAbsent(&object, ["spec", "revisionHistoryLimit"], 10)
        defaultTemplate(&object, at: ["spec", "template"])
    }

    static func defaultStatefulSet(_ object: inout JSONValue) {
        setIfAbsent(&object, ["spec", "podManagementPolicy"], "OrderedReady")
        if object[path: ["spec", "updateStrategy", "type"]] == nil {
            object[path: ["spec", "updateStrategy", "type"]] = "RollingUpdate"
            setIfAbsent(&object, ["spec", "updateStrategy", "rollingUpdate"], .object([]))
        }
        if object.string(at: "spec.updateStrategy.type") == "RollingUpdate",
           object[path: ["spec", "updateStrategy", "rollingUpdate"]]?.isObject == true {
            setIfAbsent(&object, ["spec", "updateStrategy", "rollingUpdate", "partition"], 0)
        }
        setIfAbsent(&object, ["spec", "replicas"], 1)
        setIfAbsent(&object, ["spec", "revisionHistoryLimit"], 10)
        defaultTemplate(&object, at: ["spec", "template"])
        mapArray(&object, ["spec", "volumeClaimTemplates"]) { claim in
            templateMetadata(&claim, at: [])
            setIfAbsent(&claim, ["spec", "volumeMode"], "Filesystem")
            setIfAbsent(&claim, ["status", "phase"], "Pending")
        }
    }

    static func defaultReplicationController(_ object: inout JSONValue) {
        if let labels = object[path: ["spec", "template", "metadata", "labels"]], labels.isObject {
            if object[path: ["spec", "selector"]]?.objectMembers?.isEmpty ?? true { object[path: ["spec", "selector"]] = labels }
            if object[path: ["metadata", "labels"]]?.objectMembers?.isEmpty ?? true { object[path: ["metadata", "labels"]] = labels }
        }
        setIfAbsent(&object, ["spec", "replicas"], 1)
        defaultTemplate(&object, at: ["spec", "template"])
    }

    static func defaultJobSpec(_ object: inout JSONValue, at path: [String]) {
        if object[path: path + ["completions"]] == nil && object[path: path + ["parallelism"]] == nil {
            object[path: path + ["completions"]] = 1
        }
        setIfAbsent(&object, path + ["parallelism"], 1)
        setIfAbsent(&object, path + ["backoffLimit"], 6)
        setIfAbsent(&object, path + ["completionMode"], "NonIndexed")
        setIfAbsent(&object, path + ["suspend"], false)
        defaultTemplate(&object, at: path + ["template"])
    }

    // MARK: Service, Secret

    static func defaultService(_ object: inout JSONValue) {
        setIfAbsent(&object, ["spec", "sessionAffinity"], "None")
        if object.string(at: "spec.sessionAffinity") == "None" {
            object[path: ["spec", "sessionAffinityConfig"]] = nil
        } else if object.string(at: "spec.sessionAffinity") == "ClientIP" {
            setIfAbsent(&object, ["spec", "sessionAffinityConfig", "clientIP", "timeoutSeconds"], 10800)
        }
        setIfAbsent(&object, ["spec", "type"], "ClusterIP")
        mapArray(&object, ["spec", "ports"]) { port in
            setIfAbsent(&port, ["protocol"], "TCP")
            let target = port["targetPort"]
            if target == nil || target == .string("") || target?.int64Value == 0, let number = port["port"] {
                port[member: "targetPort"] = number
            }
        }
        let type = object.string(at: "spec.type") ?? ""
        if type == "NodePort" || type == "LoadBalancer" { setIfAbsent(&object, ["spec", "externalTrafficPolicy"], "Cluster") }
        if type != "ExternalName" { setIfAbsent(&object, ["spec", "internalTrafficPolicy"], "Cluster") }
        if type == "LoadBalancer" { setIfAbsent(&object, ["spec", "allocateLoadBalancerNodePorts"], true) }
    }

    /// The write-only `stringData` folded into `data` (base64), `stringData` winning (v1 → internal conversion).
    static func foldStringData(_ object: inout JSONValue) {
        guard let strings = object["stringData"]?.objectMembers else { return }
        var data = object["data"]?.objectMembers ?? []
        for (key, value) in strings {
            let encoded = JSONValue.string(Data((value.stringValue ?? "").utf8).base64EncodedString())
            if let index = data.firstIndex(where: { $0.key == key }) { data[index].value = encoded } else { data.append((key, encoded)) }
        }
        object[member: "data"] = .object(data)
        object[member: "stringData"] = nil
    }

    // MARK: helpers

    static func setIfAbsent(_ object: inout JSONValue, _ path: [String], _ value: JSONValue) {
        if object[path: path] == nil { object[path: path] = value }
    }

    /// Changes every element of the array at `path`, if there is one.
    static func mapArray(_ object: inout JSONValue, _ path: [String], _ change: (inout JSONValue) -> Void) {
        guard let items = object[path: path]?.arrayValue else { return }
        object[path: path] = .array(items.map { item in
            var item = item
            if item.isObject { change(&item) }
            return item
        })
    }
}

/// Just enough of resource.Quantity to compare cpu and memory amounts (QoS).
enum Quantity {
    static func value(_ text: String) -> Double? {
        let suffixes: [(String, Double)] = [
            ("Ki", 0x1p10), ("Mi", 0x1p20), ("Gi", 0x1p30), ("Ti", 0x1p40), ("Pi", 0x1p50), ("Ei", 0x1p60),
            ("n", 1e-9), ("u", 1e-6), ("m", 1e-3), ("k", 1e3), ("M", 1e6), ("G", 1e9), ("T", 1e12), ("P", 1e15),
            ("E", 1e18),
        ]
        for (suffix, factor) in suffixes where text.hasSuffix(suffix) {
            return Double(text.dropLast(suffix.count)).map { $0 * factor }
        }
        return Double(text)
    }
}
