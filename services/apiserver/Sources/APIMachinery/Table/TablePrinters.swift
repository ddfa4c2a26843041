// kube-apiserver v1.30's printers (pkg/printers/internalversion) for the kinds this server serves, reading the
// versioned JSON. Fields kube's defaulting always fills (replicas 1, Service type ClusterIP, port protocol TCP,
// Secret type Opaque, Namespace phase Active) are read with those defaults, so an object stored without them
// prints as kube would print it.

import EdgeProtocol
import Foundation

extension TablePrinter {
    /// The kinds with a dedicated printer.
    enum Printer: CaseIterable {
        case pod, node, namespace, service, endpoints, configMap, secret, event, serviceAccount, lease, deployment
        case replicaSet, daemonSet, statefulSet, controllerRevision, replicationController, podTemplate
        case endpointSlice, roleBinding, clusterRoleBinding, priorityClass, storageClass, csiNode
        case ingress, ingressClass, networkPolicy, mutatingWebhookConfiguration, validatingWebhookConfiguration
        case runtimeClass, podDisruptionBudget

        /// `events.k8s.io` Events are the core Events under another schema, printed by the same printer.
        var key: (group: String, kind: String) {
            switch self {
            case .pod: ("", "Pod")
            case .node: ("", "Node")
            case .namespace: ("", "Namespace")
            case .service: ("", "Service")
            case .endpoints: ("", "Endpoints")
            case .configMap: ("", "ConfigMap")
            case .secret: ("", "Secret")
            case .event: ("", "Event")
            case .serviceAccount: ("", "ServiceAccount")
            case .lease: ("coordination.k8s.io", "Lease")
            case .deployment: ("apps", "Deployment")
            case .replicaSet: ("apps", "ReplicaSet")
            case .daemonSet: ("apps", "DaemonSet")
            case .statefulSet: ("apps", "StatefulSet")
            case .controllerRevision: ("apps", "ControllerRevision")
            case .replicationController: ("", "ReplicationController")
            case .podTemplate: ("", "PodTemplate")
            case .endpointSlice: ("discovery.k8s.io", "EndpointSlice")
            case .roleBinding: ("rbac.authorization.k8s.io", "RoleBinding")
            case .clusterRoleBinding: ("rbac.authorization.k8s.io", "ClusterRoleBinding")
            case .priorityClass: ("scheduling.k8s.io", "PriorityClass")
            case .storageClass: ("storage.k8s.io", "StorageClass")
            case .csiNode: ("storage.k8s.io", "CSINode")
            case .ingress: ("networking.k8s.io", "Ingress")
            case .ingressClass: ("networking.k8s.io", "IngressClass")
            case .networkPolicy: ("networking.k8s.io", "NetworkPolicy")
            case .mutatingWebhookConfiguration: ("admissionregistration.k8s.io", "MutatingWebhookConfiguration")
            case .validatingWebhookConfiguration: ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration")
            case .runtimeClass: ("node.k8s.io", "RuntimeClass")
            case .podDisruptionBudget: ("policy", "PodDisruptionBudget")
            }
        }

        var columns: [TableColumn] { TablePrinter.columns(self) }

        func print(_ object: Field, _ now: Date) -> PrintedRow { TablePrinter.render(self, object, now) }
    }

    static func printer(kind: String, group: String) -> Printer? {
        if group == "events.k8s.io" && kind == "Event" { return .event }
        return Printer.allCases.first { $0.key.group == group && $0.key.kind == kind }
    }

    // MARK: Column definitions (AddHandlers)

    private static func nameColumn(priority: Int32 = 0) -> TableColumn {
        TableColumn(name: "Name", type: "string", format: "name", description: Doc.name, priority: priority)
    }
    private static let ageColumn = TableColumn(name: "Age", type: "string", description: Doc.creationTimestamp)
    private static func column(_ name: String, _ type: String = "string", _ description: String, wide: Bool = false)
        -> TableColumn
    {
        TableColumn(name: name, type: type, description: description, priority: wide ? 1 : 0)
    }
    private static let containersColumn = column(
        "Containers", "string", "Names of each container in the template.", wide: true)
    private static let imagesColumn = column(
        "Images", "string", "Images referenced by each container in the template.", wide: true)
    private static let webhooksDescription =
        "Webhooks indicates the number of webhooks registered in this configuration"

    private static func columns(_ printer: Printer) -> [TableColumn] {
        switch printer {
        case .pod:
            return [
                nameColumn(),
                column("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
                column("Status", "string", "The aggregate status of the containers in this pod."),
                column(
                    "Restarts", "string",
                    "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."
                ),
                ageColumn,
                column("IP", "string", Doc.podIP, wide: true),
                column("Node", "string", Doc.nodeName, wide: true),
                column("Nominated Node", "string", Doc.nominatedNodeName, wide: true),
                column("Readiness Gates", "string", Doc.readinessGates, wide: true),
            ]
        case .node:
            return [
                nameColumn(),
                column("Status", "string", "The status of the node"),
                column("Roles", "string", "The roles of the node"),
                ageColumn,
                column("Version", "string", Doc.kubeletVersion),
                column("Internal-IP", "string", Doc.nodeAddresses, wide: true),
                column("External-IP", "string", Doc.nodeAddresses, wide: true),
                column("OS-Image", "string", Doc.osImage, wide: true),
                column("Kernel-Version", "string", Doc.kernelVersion, wide: true),
                column("Container-Runtime", "string", Doc.containerRuntimeVersion, wide: true),
            ]
        case .namespace:
            return [nameColumn(), column("Status", "string", "The status of the namespace"), ageColumn]
        case .service:
            return [
                nameColumn(),
                column("Type", "string", Doc.serviceType),
                column("Cluster-IP", "string", Doc.serviceClusterIP),
                column("External-IP", "string", Doc.serviceExternalIPs),
                column("Port(s)", "string", Doc.servicePorts),
                ageColumn,
                column("Selector", "string", Doc.serviceSelector, wide: true),
            ]
        case .endpoints:
            return [nameColumn(), column("Endpoints", "string", Doc.endpointsSubsets), ageColumn]
        case .configMap:
            return [nameColumn(), column("Data", "string", Doc.configMapData), ageColumn]
        case .secret:
            return [
                nameColumn(), column("Type", "string", Doc.secretType), column("Data", "string", Doc.secretData),
                ageColumn,
            ]
        case .event:
            return [
                column("Last Seen", "string", Doc.eventLastTimestamp),
                column("Type", "string", Doc.eventType),
                column("Reason", "string", Doc.eventReason),
                column("Object", "string", Doc.eventInvolvedObject),
                column("Subobject", "string", Doc.eventFieldPath, wide: true),
                column("Source", "string", Doc.eventSource, wide: true),
                column("Message", "string", Doc.eventMessage),
                column("First Seen", "string", Doc.eventFirstTimestamp, wide: true),
                column("Count", "string", Doc.eventCount, wide: true),
                nameColumn(priority: 1),
            ]
        case .serviceAccount:
            return [nameColumn(), column("Secrets", "string", Doc.serviceAccountSecrets), ageColumn]
        case .lease:
            return [nameColumn(), column("Holder", "string", Doc.leaseHolderIdentity), ageColumn]
        case .deployment:
            return [
                nameColumn(),
                column("Ready", "string", "Number of the pod with ready state"),
                column("Up-to-date", "string", Doc.deploymentUpdatedReplicas),
                column("Available", "string", Doc.deploymentAvailableReplicas),
                ageColumn, containersColumn, imagesColumn,
                column("Selector", "string", Doc.deploymentSelector, wide: true),
            ]
        case .replicaSet:
            return [
                nameColumn(),
                column("Desired", "integer", Doc.rsSpecReplicas),
                column("Current", "integer", Doc.rsStatusReplicas),
                column("Ready", "integer", Doc.rsReadyReplicas),
                ageColumn, containersColumn, imagesColumn,
                column("Selector", "string", Doc.rsSelector, wide: true),
            ]
        case .daemonSet:
            return [
                nameColumn(),
                column("Desired", "integer", Doc.dsDesired),
                column("Current", "integer", Doc.dsCurrent),
                column("Ready", "integer", Doc.dsReady),
                column("Up-to-date", "integer", Doc.dsUpdated),
                column("Available", "integer", Doc.dsAvailable),
                column("Node Selector", "string", Doc.nodeSelector),
                ageColumn, containersColumn, imagesColumn,
                column("Selector", "string", Doc.dsSelector, wide: true),
            ]
        case .statefulSet:
            return [
                nameColumn(), column("Ready", "string", "Number of the pod with ready state"), ageColumn,
                containersColumn, imagesColumn,
            ]
        case .controllerRevision:
            return [
                nameColumn(), column("Controller", "string", "Controller of the object"),
                column("Revision", "string", Doc.controllerRevisionRevision), ageColumn,
            ]
        case .replicationController:
            return [
                nameColumn(),
                column("Desired", "integer", Doc.rcSpecReplicas),
                column("Current", "integer", Doc.rcStatusReplicas),
                column("Ready", "integer", Doc.rcReadyReplicas),
                ageColumn, containersColumn, imagesColumn,
                column("Selector", "string", Doc.rcSelector, wide: true),
            ]
        case .podTemplate:
            return [
                nameColumn(),
                column("Containers", "string", "Names of each container in the template."),
                column("Images", "string", "Images referenced by each container in the template."),
                column("Pod Labels", "string", "The labels for the pod template."),
            ]
        case .endpointSlice:
            return [
                nameColumn(),
                column("AddressType", "string", Doc.endpointSliceAddressType),
                column("Ports", "string", Doc.endpointSlicePorts),
                column("Endpoints", "string", Doc.endpointSliceEndpoints),
                ageColumn,
            ]
        case .roleBinding, .clusterRoleBinding:
            let what = printer == .roleBinding ? "roleBinding" : "clusterRoleBinding"
            return [
                nameColumn(),
                column(
                    "Role", "string", printer == .roleBinding ? Doc.roleBindingRoleRef : Doc.clusterRoleBindingRoleRef),
                ageColumn,
                column("Users", "string", "Users in the \(what)", wide: true),
                column("Groups", "string", "Groups in the \(what)", wide: true),
                column("ServiceAccounts", "string", "ServiceAccounts in the \(what)", wide: true),
            ]
        case .priorityClass:
            return [
                nameColumn(), column("Value", "integer", Doc.priorityClassValue),
                column("Global-Default", "boolean", Doc.priorityClassGlobalDefault), ageColumn,
            ]
        case .storageClass:
            return [
                nameColumn(),
                column("Provisioner", "string", Doc.storageClassProvisioner),
                column("ReclaimPolicy", "string", Doc.storageClassReclaimPolicy),
                column("VolumeBindingMode", "string", Doc.storageClassVolumeBindingMode),
                column("AllowVolumeExpansion", "string", Doc.storageClassAllowVolumeExpansion),
                ageColumn,
            ]
        case .csiNode:
            return [
                nameColumn(),
                column("Drivers", "integer", "Drivers indicates the number of CSI drivers registered on the node"),
                ageColumn,
            ]
        case .ingress:
            return [
                nameColumn(),
                column(
                    "Class", "string",
                    "The name of the IngressClass resource that should be used for additional configuration"),
                column("Hosts", "string", "Hosts that incoming requests are matched against before the ingress rule"),
                column("Address", "string", "Address is a list containing ingress points for the load-balancer"),
                column("Ports", "string", "Ports of TLS configurations that open"),
                ageColumn,
            ]
        case .ingressClass:
            return [
                nameColumn(),
                column("Controller", "string", "Controller that is responsible for handling this class"),
                column("Parameters", "string", "A reference to a resource with additional parameters"),
                ageColumn,
            ]
        case .networkPolicy:
            return [nameColumn(), column("Pod-Selector", "string", Doc.networkPolicyPodSelector), ageColumn]
        case .mutatingWebhookConfiguration, .validatingWebhookConfiguration:
            return [nameColumn(), column("Webhooks", "integer", webhooksDescription), ageColumn]
        case .runtimeClass:
            // kube takes this description from ObjectMeta's docs, which have no "handler" entry: it is empty.
            return [nameColumn(), column("Handler", "string", ""), ageColumn]
        case .podDisruptionBudget:
            return [
                nameColumn(),
                column("Min Available", "string", "The minimum number of pods that must be available."),
                column("Max Unavailable", "string", "The maximum number of pods that may be unavailable."),
                column("Allowed Disruptions", "integer", "Calculated number of pods that may be disrupted at this time."),
                ageColumn,
            ]
        }
    }

    // MARK: Rows

    private static func render(_ printer: Printer, _ o: Field, _ now: Date) -> PrintedRow {
        let age = JSONValue.string(TablePrinter.age(of: o["metadata"]["creationTimestamp"].str, now: now))
        let name = JSONValue.string(o.name)
        switch printer {
        case .pod:
            return printPod(o, now)
        case .node:
            return PrintedRow(cells: nodeCells(o, age))
        case .namespace:
            return PrintedRow(cells: [name, .string(o["status"]["phase"].str ?? "Active"), age])
        case .service:
            return PrintedRow(cells: serviceCells(o, age))
        case .endpoints:
            return PrintedRow(cells: [name, .string(formatEndpoints(o["subsets"])), age])
        case .configMap:
            return PrintedRow(cells: [name, .integer(o["data"].keyCount + o["binaryData"].keyCount), age])
        case .secret:
            return PrintedRow(cells: [name, .string(o["type"].str ?? "Opaque"), .integer(o["data"].keyCount), age])
        case .event:
            return PrintedRow(cells: eventCells(o, now))
        case .serviceAccount:
            return PrintedRow(cells: [name, .integer(o["secrets"].items.count), age])
        case .lease:
            return PrintedRow(cells: [name, .string(o["spec"]["holderIdentity"].string), age])
        case .deployment:
            let selector = labelSelectorString(o["spec"]["selector"]) ?? "<invalid>"
            let (names, images) = containerCells(o["spec"]["template"]["spec"]["containers"])
            let status = o["status"]
            return PrintedRow(cells: [
                name, .string("\(status["readyReplicas"].int)/\(o["spec"]["replicas"].int(default: 1))"),
                .integer(status["updatedReplicas"].int), .integer(status["availableReplicas"].int), age,
                .string(names), .string(images), .string(selector),
            ])
        case .replicaSet:
            let (names, images) = containerCells(o["spec"]["template"]["spec"]["containers"])
            return PrintedRow(cells: [
                name, .integer(o["spec"]["replicas"].int(default: 1)), .integer(o["status"]["replicas"].int),
                .integer(o["status"]["readyReplicas"].int), age, .string(names), .string(images),
                .string(formatLabelSelector(o["spec"]["selector"])),
            ])
        case .daemonSet:
            let status = o["status"]
            let (names, images) = containerCells(o["spec"]["template"]["spec"]["containers"])
            return PrintedRow(cells: [
                name, .integer(status["desiredNumberScheduled"].int), .integer(status["currentNumberScheduled"].int),
                .integer(status["numberReady"].int), .integer(status["updatedNumberScheduled"].int),
                .integer(status["numberAvailable"].int),
                .string(formatLabels(o["spec"]["template"]["spec"]["nodeSelector"])), age, .string(names),
                .string(images), .string(formatLabelSelector(o["spec"]["selector"])),
            ])
        case .statefulSet:
            let (names, images) = containerCells(o["spec"]["template"]["spec"]["containers"])
            return PrintedRow(cells: [
                name, .string("\(o["status"]["readyReplicas"].int)/\(o["spec"]["replicas"].int(default: 1))"), age,
                .string(names), .string(images),
            ])
        case .controllerRevision:
            return PrintedRow(cells: [name, .string(controllerName(o)), .integer(o["revision"].int), age])
        case .replicationController:
            let (names, images) = containerCells(o["spec"]["template"]["spec"]["containers"])
            return PrintedRow(cells: [
                name, .integer(o["spec"]["replicas"].int(default: 1)), .integer(o["status"]["replicas"].int),
                .integer(o["status"]["readyReplicas"].int), age, .string(names), .string(images),
                .string(formatLabels(o["spec"]["selector"])),
            ])
        case .podTemplate:
            let (names, images) = containerCells(o["template"]["spec"]["containers"])
            return PrintedRow(cells: [
                name, .string(names), .string(images), .string(formatLabels(o["template"]["metadata"]["labels"])),
            ])
        case .endpointSlice:
            return PrintedRow(cells: [
                name, .string(o["addressType"].string), .string(formatSlicePorts(o["ports"])),
                .string(formatSliceEndpoints(o["endpoints"])), age,
            ])
        case .roleBinding, .clusterRoleBinding:
            let roleRef = "\(o["roleRef"]["kind"].string)/\(o["roleRef"]["name"].string)"
            var users: [String] = []
            var groups: [String] = []
            var serviceAccounts: [String] = []
            for subject in o["subjects"].items {
                switch subject["kind"].string {
                case "ServiceAccount": serviceAccounts.append("\(subject["namespace"].string)/\(subject["name"].string)")
                case "User": users.append(subject["name"].string)
                case "Group": groups.append(subject["name"].string)
                default: break
                }
            }
            return PrintedRow(cells: [
                name, .string(roleRef), age, .string(users.joined(separator: ", ")),
                .string(groups.joined(separator: ", ")), .string(serviceAccounts.joined(separator: ", ")),
            ])
        case .priorityClass:
            return PrintedRow(cells: [name, .integer(o["value"].int), .bool(o["globalDefault"].bool), age])
        case .storageClass:
            let annotations = o["metadata"]["annotations"]
            let isDefault =
                annotations["storageclass.kubernetes.io/is-default-class"].str == "true"
                || annotations["storageclass.beta.kubernetes.io/is-default-class"].str == "true"
            return PrintedRow(cells: [
                .string(isDefault ? o.name + " (default)" : o.name), .string(o["provisioner"].string),
                .string(o["reclaimPolicy"].str ?? "Delete"), .string(o["volumeBindingMode"].str ?? "Immediate"),
                .bool(o["allowVolumeExpansion"].bool), age,
            ])
        case .csiNode:
            return PrintedRow(cells: [name, .integer(o["spec"]["drivers"].items.count), age])
        case .ingress:
            return PrintedRow(cells: [
                name, .string(o["spec"]["ingressClassName"].str ?? "<none>"), .string(formatHosts(o["spec"]["rules"])),
                .string(loadBalancerIngress(o["status"]["loadBalancer"]["ingress"]).joined(separator: ",")),
                .string(o["spec"]["tls"].items.isEmpty ? "80" : "80, 443"), age,
            ])
        case .ingressClass:
            var parameters = "<none>"
            let p = o["spec"]["parameters"]
            if p.exists {
                parameters = p["kind"].string
                if let apiGroup = p["apiGroup"].str { parameters += "." + apiGroup }
                parameters += "/" + p["name"].string
            }
            return PrintedRow(cells: [name, .string(o["spec"]["controller"].string), .string(parameters), age])
        case .networkPolicy:
            return PrintedRow(cells: [name, .string(formatLabelSelector(o["spec"]["podSelector"])), age])
        case .mutatingWebhookConfiguration, .validatingWebhookConfiguration:
            return PrintedRow(cells: [name, .integer(o["webhooks"].items.count), age])
        case .runtimeClass:
            return PrintedRow(cells: [name, .string(o["handler"].string), age])
        case .podDisruptionBudget:
            return PrintedRow(cells: [
                name, .string(intOrString(o["spec"]["minAvailable"]) ?? "N/A"),
                .string(intOrString(o["spec"]["maxUnavailable"]) ?? "N/A"),
                .integer(o["status"]["disruptionsAllowed"].int), age,
            ])
        }
    }

    // MARK: Pod

    private static let podSucceededCondition: JSONValue = [
        "type": "Completed", "status": "True", "reason": "Succeeded", "message": "The pod has completed successfully.",
    ]
    private static let podFailedCondition: JSONValue = [
        "type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed.",
    ]

    /// `printPod`: READY, STATUS (phase, status reason, scheduling gates, init containers, container states,
    /// Terminating), RESTARTS with the age of the last restart, and the wide columns.
    private static func printPod(_ pod: Field, _ now: Date) -> PrintedRow {
        let spec = pod["spec"]
        let status = pod["status"]
        var restarts: Int64 = 0
        var restartableInitContainerRestarts: Int64 = 0
        var totalContainers = spec["containers"].items.count
        var readyContainers = 0
        var lastRestartDate = GoTime.zero
        var lastRestartableInitContainerRestartDate = GoTime.zero

        let phase = status["phase"].string
        var reason = phase
        if let statusReason = status["reason"].str, !statusReason.isEmpty { reason = statusReason }

        let conditions = status["conditions"].items
        for condition in conditions
        where condition["type"].string == "PodScheduled" && condition["reason"].string == "SchedulingGated" {
            reason = "SchedulingGated"
        }

        var row = PrintedRow(cells: [])
        switch phase {
        case "Succeeded": row.conditions = [podSucceededCondition]
        case "Failed": row.conditions = [podFailedCondition]
        default: break
        }

        // Init containers by name (the last one wins, as in kube's map); sidecars count as containers.
        let initContainerSpecs = spec["initContainers"].items
        var restartPolicyByName: [String: String] = [:]
        for container in initContainerSpecs {
            restartPolicyByName[container["name"].string] = container["restartPolicy"].string
            if container["restartPolicy"].str == "Always" { totalContainers += 1 }
        }
        func isRestartable(_ status: Field) -> Bool { restartPolicyByName[status["name"].string] == "Always" }

        var initializing = false
        for (index, container) in status["initContainerStatuses"].items.enumerated() {
            restarts += container["restartCount"].int
            let lastTerminated = container["lastState"]["terminated"]
            if lastTerminated.exists {
                let terminatedDate = GoTime(lastTerminated["finishedAt"])
                if lastRestartDate < terminatedDate { lastRestartDate = terminatedDate }
            }
            if isRestartable(container) {
                restartableInitContainerRestarts += container["restartCount"].int
                if lastTerminated.exists {
                    let terminatedDate = GoTime(lastTerminated["finishedAt"])
                    if lastRestartableInitContainerRestartDate < terminatedDate {
                        lastRestartableInitContainerRestartDate = terminatedDate
                    }
                }
            }
            let terminated = container["state"]["terminated"]
            let waiting = container["state"]["waiting"]
            if terminated.exists && terminated["exitCode"].int == 0 { continue }
            if isRestartable(container) && container["started"].bool {
                if container["ready"].bool { readyContainers += 1 }
                continue
            }
            if terminated.exists {
                // initialization failed
                if terminated["reason"].string.isEmpty {
                    let signal = terminated["signal"].int
                    reason =
                        signal != 0 ? "Init:Signal:\(signal)" : "Init:ExitCode:\(terminated["exitCode"].int)"
                } else {
                    reason = "Init:" + terminated["reason"].string
                }
            } else if waiting.exists && !waiting["reason"].string.isEmpty
                && waiting["reason"].string != "PodInitializing"
            {
                reason = "Init:" + waiting["reason"].string
            } else {
                reason = "Init:\(index)/\(initContainerSpecs.count)"
            }
            initializing = true
            break
        }

        if !initializing || isConditionTrue(conditions, "Initialized", firstOnly: true) {
            restarts = restartableInitContainerRestarts
            lastRestartDate = lastRestartableInitContainerRestartDate
            var hasRunning = false
            for container in status["containerStatuses"].items.reversed() {
                restarts += container["restartCount"].int
                let lastTerminated = container["lastState"]["terminated"]
                if lastTerminated.exists {
                    let terminatedDate = GoTime(lastTerminated["finishedAt"])
                    if lastRestartDate < terminatedDate { lastRestartDate = terminatedDate }
                }
                let waiting = container["state"]["waiting"]
                let terminated = container["state"]["terminated"]
                if waiting.exists && !waiting["reason"].string.isEmpty {
                    reason = waiting["reason"].string
                } else if terminated.exists && !terminated["reason"].string.isEmpty {
                    reason = terminated["reason"].string
                } else if terminated.exists {
                    let signal = terminated["signal"].int
                    reason = signal != 0 ? "Signal:\(signal)" : "ExitCode:\(terminated["exitCode"].int)"
                } else if container["ready"].bool && container["state"]["running"].exists {
                    hasRunning = true
                    readyContainers += 1
                }
            }
            // Back to "Running" while at least one container still runs.
            if reason == "Completed" && hasRunning {
                reason = isConditionTrue(conditions, "Ready", firstOnly: false) ? "Running" : "NotReady"
            }
        }

        if pod["metadata"]["deletionTimestamp"].exists {
            reason = status["reason"].str == "NodeLost" ? "Unknown" : "Terminating"
        }

        var restartsText = String(restarts)
        if restarts != 0 && !lastRestartDate.isZero {
            restartsText = "\(restarts) (\(lastRestartDate.age(now)) ago)"
        }

        // Wide columns.
        var podIP = status["podIP"].string
        if podIP.isEmpty { podIP = status["podIPs"].items.first?["ip"].string ?? "" }
        let nodeName = spec["nodeName"].string
        let nominatedNodeName = status["nominatedNodeName"].string
        var readinessGates = "<none>"
        let gates = spec["readinessGates"].items
        if !gates.isEmpty {
            var trueConditions = 0
            for gate in gates {
                if let condition = conditions.first(where: { $0["type"].string == gate["conditionType"].string }),
                    condition["status"].string == "True"
                {
                    trueConditions += 1
                }
            }
            readinessGates = "\(trueConditions)/\(gates.count)"
        }

        row.cells = [
            .string(pod.name), .string("\(readyContainers)/\(totalContainers)"), .string(reason), .string(restartsText),
            .string(age(of: pod["metadata"]["creationTimestamp"].str, now: now)),
            .string(podIP.isEmpty ? "<none>" : podIP), .string(nodeName.isEmpty ? "<none>" : nodeName),
            .string(nominatedNodeName.isEmpty ? "<none>" : nominatedNodeName), .string(readinessGates),
        ]
        return row
    }

    /// `isPodInitializedConditionTrue` looks at the first condition of the type; `hasPodReadyCondition` at any.
    private static func isConditionTrue(_ conditions: [Field], _ type: String, firstOnly: Bool) -> Bool {
        if firstOnly {
            return conditions.first { $0["type"].string == type }?["status"].string == "True"
        }
        return conditions.contains { $0["type"].string == type && $0["status"].string == "True" }
    }

    // MARK: Node

    private static func nodeCells(_ node: Field, _ age: JSONValue) -> [JSONValue] {
        // Only the Ready condition counts; a repeated type: the last one wins.
        var status: [String] = []
        if let ready = node["status"]["conditions"].items.last(where: { $0["type"].string == "Ready" }) {
            status.append(ready["status"].string == "True" ? "Ready" : "NotReady")
        }
        if status.isEmpty { status.append("Unknown") }
        if node["spec"]["unschedulable"].bool { status.append("SchedulingDisabled") }

        var roles = Set<String>()
        for (key, value) in node["metadata"]["labels"].stringMap {
            if key.hasPrefix("node-role.kubernetes.io/") {
                let role = String(key.dropFirst("node-role.kubernetes.io/".count))
                if !role.isEmpty { roles.insert(role) }
            } else if key == "kubernetes.io/role" && !value.isEmpty {
                roles.insert(value)
            }
        }
        let roleText = roles.sorted().joined(separator: ",")

        let info = node["status"]["nodeInfo"]
        func address(_ type: String) -> String {
            node["status"]["addresses"].items.first { $0["type"].string == type }?["address"].string ?? "<none>"
        }
        func orUnknown(_ text: String) -> String { text.isEmpty ? "<unknown>" : text }
        return [
            .string(node.name), .string(status.joined(separator: ",")), .string(roleText.isEmpty ? "<none>" : roleText),
            age, .string(info["kubeletVersion"].string),
            .string(address("InternalIP")), .string(address("ExternalIP")),
            .string(orUnknown(info["osImage"].string)), .string(orUnknown(info["kernelVersion"].string)),
            .string(orUnknown(info["containerRuntimeVersion"].string)),
        ]
    }

    // MARK: Service

    private static func serviceCells(_ service: Field, _ age: JSONValue) -> [JSONValue] {
        let spec = service["spec"]
        let type = spec["type"].str ?? "ClusterIP"
        // v1 → internal conversion: clusterIP wins over clusterIPs[0].
        var clusterIP = spec["clusterIP"].string
        if clusterIP.isEmpty { clusterIP = spec["clusterIPs"].items.first?.string ?? "" }
        if clusterIP.isEmpty { clusterIP = "<none>" }

        let externalIPs = spec["externalIPs"].items.map(\.string)
        let externalIP: String
        switch type {
        case "ClusterIP", "NodePort":
            externalIP = externalIPs.isEmpty ? "<none>" : externalIPs.joined(separator: ",")
        case "LoadBalancer":
            // The server prints wide: the load-balancer addresses are not clipped.
            let lbIPs = loadBalancerIngress(service["status"]["loadBalancer"]["ingress"])
            if !externalIPs.isEmpty {
                externalIP = (lbIPs + externalIPs).joined(separator: ",")
            } else {
                externalIP = lbIPs.isEmpty ? "<pending>" : lbIPs.joined(separator: ",")
            }
        case "ExternalName":
            externalIP = spec["externalName"].string
        default:
            externalIP = "<unknown>"
        }

        var ports: [String] = []
        for port in spec["ports"].items {
            let proto = port["protocol"].str ?? "TCP"
            let nodePort = port["nodePort"].int
            ports.append(
                nodePort > 0 ? "\(port["port"].int):\(nodePort)/\(proto)" : "\(port["port"].int)/\(proto)")
        }
        let portText = ports.joined(separator: ",")

        return [
            .string(service.name), .string(type), .string(clusterIP), .string(externalIP),
            .string(portText.isEmpty ? "<none>" : portText), age, .string(formatLabels(spec["selector"])),
        ]
    }

    /// The sorted, de-duplicated IPs (or else hostnames) of a load balancer status's `ingress` list.
    private static func loadBalancerIngress(_ ingress: Field) -> [String] {
        var result = Set<String>()
        for entry in ingress.items {
            if let ip = entry["ip"].str, !ip.isEmpty {
                result.insert(ip)
            } else if let hostname = entry["hostname"].str, !hostname.isEmpty {
                result.insert(hostname)
            }
        }
        return result.sorted()
    }

    // MARK: Endpoints and EndpointSlices

    /// `formatEndpoints` with all ports: up to three `ip:port` entries, then `+ N more...`.
    private static func formatEndpoints(_ subsets: Field) -> String {
        let all = subsets.items
        if all.isEmpty { return "<none>" }
        let max = 3
        var list: [String] = []
        var more = false
        var count = 0
        for subset in all {
            let addresses = subset["addresses"].items
            let ports = subset["ports"].items
            if ports.isEmpty {
                // Headless services may have no ports.
                count += addresses.count
                for address in addresses {
                    if list.count == max {
                        more = true
                        break
                    }
                    list.append(address["ip"].string)
                }
                continue
            }
            for port in ports {
                count += addresses.count
                for address in addresses {
                    if list.count == max {
                        more = true
                        break
                    }
                    list.append(joinHostPort(address["ip"].string, port["port"].int))
                }
            }
        }
        let text = list.joined(separator: ",")
        return more ? "\(text) + \(count - max) more..." : text
    }

    /// Go's `net.JoinHostPort`: brackets around hosts containing a colon (IPv6).
    private static func joinHostPort(_ host: String, _ port: Int64) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    private static func listWithMore(_ list: [String], more: Bool, count: Int, max: Int) -> String {
        let text = list.joined(separator: ",")
        if more { return "\(text) + \(count - max) more..." }
        return text.isEmpty ? "<unset>" : text
    }

    private static func formatSlicePorts(_ ports: Field) -> String {
        var list: [String] = []
        var more = false
        var count = 0
        for port in ports.items {
            if list.count < 3 {
                if port["port"].exists {
                    list.append(String(port["port"].int))
                } else if let name = port["name"].str {
                    list.append(name)
                } else {
                    list.append("*")
                }
            } else if list.count == 3 {
                more = true
            }
            count += 1
        }
        return listWithMore(list, more: more, count: count, max: 3)
    }

    private static func formatSliceEndpoints(_ endpoints: Field) -> String {
        var list: [String] = []
        var more = false
        var count = 0
        for endpoint in endpoints.items {
            for address in endpoint["addresses"].items {
                if list.count < 3 {
                    list.append(address.string)
                } else if list.count == 3 {
                    more = true
                }
                count += 1
            }
        }
        return listWithMore(list, more: more, count: count, max: 3)
    }

    // MARK: Event

    private static func eventCells(_ rawEvent: Field, _ now: Date) -> [JSONValue] {
        let event = coreEvent(rawEvent)
        var firstTimestamp = GoTime(event["firstTimestamp"]).age(now)
        if GoTime(event["firstTimestamp"]).isZero { firstTimestamp = GoTime(event["eventTime"]).age(now) }
        var lastTimestamp = GoTime(event["lastTimestamp"]).age(now)
        if GoTime(event["lastTimestamp"]).isZero { lastTimestamp = firstTimestamp }

        var count = event["count"].int
        let series = event["series"]
        if series.exists {
            lastTimestamp = GoTime(series["lastObservedTime"]).age(now)
            count = series["count"].int
        } else if count == 0 {
            // Singleton events of the new API have no count.
            count = 1
        }

        let involved = event["involvedObject"]
        let kind = involved["kind"].string.lowercased()
        let target = involved["name"].string.isEmpty ? kind : "\(kind)/\(involved["name"].string)"

        let component = firstNonEmpty(event["source"]["component"].string, event["reportingComponent"].string)
        let host = firstNonEmpty(event["source"]["host"].string, event["reportingInstance"].string)
        let source = host.isEmpty ? component : "\(component), \(host)"

        return [
            .string(lastTimestamp), .string(event["type"].string), .string(event["reason"].string), .string(target),
            .string(involved["fieldPath"].string), .string(source),
            .string(event["message"].string.trimmingCharacters(in: .whitespacesAndNewlines)), .string(firstTimestamp),
            .integer(count), .string(rawEvent.name),
        ]
    }

    private static func firstNonEmpty(_ a: String, _ b: String) -> String { a.isEmpty ? b : a }

    /// An `events.k8s.io/v1` Event read as the core/v1 one it is stored as (other Events pass through).
    private static func coreEvent(_ event: Field) -> Field {
        guard event["apiVersion"].str?.hasPrefix("events.k8s.io/") == true,
            case .object(let members)? = event.value
        else { return event }
        let renames = [
            "regarding": "involvedObject", "note": "message", "deprecatedSource": "source",
            "deprecatedFirstTimestamp": "firstTimestamp", "deprecatedLastTimestamp": "lastTimestamp",
            "deprecatedCount": "count", "reportingController": "reportingComponent",
        ]
        return Field(.object(members.map { (key: renames[$0.key] ?? $0.key, value: $0.value) }))
    }

    // MARK: Workloads and others

    /// `layoutContainerCells`: container names and images, comma-separated.
    private static func containerCells(_ containers: Field) -> (String, String) {
        let items = containers.items
        return (items.map { $0["name"].string }.joined(separator: ","), items.map { $0["image"].string }.joined(separator: ","))
    }

    /// `metav1.GetControllerOf` as `kind[.group]/name`, lowercased (`formatResourceName`), or `<none>`.
    private static func controllerName(_ object: Field) -> String {
        guard let owner = object["metadata"]["ownerReferences"].items.first(where: { $0["controller"].bool }) else {
            return "<none>"
        }
        let apiVersion = owner["apiVersion"].string
        let group = apiVersion.contains("/") ? String(apiVersion[..<apiVersion.firstIndex(of: "/")!]) : ""
        let kind = owner["kind"].string
        if kind.isEmpty && group.isEmpty { return owner["name"].string }
        let groupKind = group.isEmpty ? kind : "\(kind).\(group)"
        return groupKind.lowercased() + "/" + owner["name"].string
    }

    /// `formatHosts`: up to three rule hosts, `*` when none.
    private static func formatHosts(_ rules: Field) -> String {
        let all = rules.items
        var list: [String] = []
        var more = false
        for rule in all {
            if list.count == 3 { more = true }
            if !more, let host = rule["host"].str, !host.isEmpty { list.append(host) }
        }
        if list.isEmpty { return "*" }
        let text = list.joined(separator: ",")
        return more ? "\(text) + \(all.count - 3) more..." : text
    }

    /// An IntOrString as text, nil when absent.
    private static func intOrString(_ value: Field) -> String? {
        switch value.value {
        case .string(let s)?: return s
        case .number?: return String(value.int)
        default: return nil
        }
    }

    // MARK: Labels and selectors

    /// `labels.FormatLabels`: sorted `k=v` pairs, `<none>` when empty.
    static func formatLabels(_ labels: Field) -> String {
        let map = labels.stringMap
        let text = map.keys.sorted().map { "\($0)=\(map[$0]!)" }.joined(separator: ",")
        return text.isEmpty ? "<none>" : text
    }

    /// `metav1.FormatLabelSelector`: the selector's string, `<none>` when it selects everything or nothing,
    /// `<error>` when invalid.
    static func formatLabelSelector(_ selector: Field) -> String {
        guard let text = labelSelectorString(selector) else { return "<error>" }
        return text.isEmpty ? "<none>" : text
    }

    /// `LabelSelectorAsSelector(…).String()`: requirements sorted by key, `key=value`, `key in (a,b)`,
    /// `key notin (a,b)`, `key`, `!key`; empty for a nil or empty selector; nil when invalid.
    static func labelSelectorString(_ selector: Field) -> String? {
        guard selector.exists else { return "" }
        var requirements: [(key: String, text: String)] = []
        for (key, value) in selector["matchLabels"].stringMap.sorted(by: { $0.key < $1.key }) {
            guard !key.isEmpty else { return nil }
            requirements.append((key: key, text: "\(key)=\(value)"))
        }
        for expression in selector["matchExpressions"].items {
            let key = expression["key"].string
            guard !key.isEmpty else { return nil }
            let values = expression["values"].items.map(\.string)
            let valueText = values.count == 1 ? values[0] : values.sorted().joined(separator: ",")
            switch expression["operator"].string {
            case "In":
                guard !values.isEmpty else { return nil }
                requirements.append((key: key, text: "\(key) in (\(valueText))"))
            case "NotIn":
                guard !values.isEmpty else { return nil }
                requirements.append((key: key, text: "\(key) notin (\(valueText))"))
            case "Exists":
                guard values.isEmpty else { return nil }
                requirements.append((key: key, text: key))
            case "DoesNotExist":
                guard values.isEmpty else { return nil }
                requirements.append((key: key, text: "!" + key))
            default:
                return nil
            }
        }
        // Stable by key, so matchLabels come before expressions on the same key.
        let sorted = requirements.enumerated().sorted {
            $0.element.key != $1.element.key ? $0.element.key < $1.element.key : $0.offset < $1.offset
        }
        return sorted.map(\.element.text).joined(separator: ",")
    }
}

// MARK: - Reading objects

extension TablePrinter {
    /// A forgiving view of a JSON value: missing members and `null` read as empty values, as Go's zero values.
    struct Field: Sendable {
        let value: JSONValue?

        init(_ value: JSONValue?) { self.value = value }

        subscript(_ key: String) -> Field { Field(value?[key]) }

        /// Present and not null (a Go pointer that is set).
        var exists: Bool {
            guard let value else { return false }
            return !value.isNull
        }

        var str: String? { value?.stringValue }
        var string: String { str ?? "" }
        var bool: Bool { value?.boolValue ?? false }

        /// An integer (0 when absent); tolerates integral literals such as `3.0`.
        var int: Int64 { int(default: 0) }

        func int(default fallback: Int64) -> Int64 {
            guard case .number(let literal)? = value else { return fallback }
            if let i = Int64(literal) { return i }
            if let d = Double(literal), d.isFinite, let i = Int64(exactly: d.rounded(.towardZero)) { return i }
            return fallback
        }

        var items: [Field] { value?.arrayValue?.map(Field.init) ?? [] }

        /// The number of distinct keys of an object (Go decodes objects into maps).
        var keyCount: Int { Set((value?.objectMembers ?? []).map(\.key)).count }

        /// The string members of an object, the last one winning for a repeated key.
        var stringMap: [String: String] {
            var map: [String: String] = [:]
            for member in value?.objectMembers ?? [] {
                if let s = member.value.stringValue { map[member.key] = s }
            }
            return map
        }

        var name: String { self["metadata"]["name"].string }
    }

    /// A Go `metav1.Time` as read from JSON: absent, null or unparsable is the zero time.
    struct GoTime: Comparable {
        /// Seconds since 1970, or nil for the zero time (which sorts first).
        let seconds: Double?

        static let zero = GoTime(seconds: nil)

        init(seconds: Double?) { self.seconds = seconds }

        init(_ field: Field) { seconds = field.str.flatMap { TablePrinter.instant($0) } }

        var isZero: Bool { seconds == nil }

        /// `translateTimestampSince`.
        func age(_ now: Date) -> String {
            guard let seconds else { return "<unknown>" }
            return HumanDuration.string(now.timeIntervalSince1970 - seconds)
        }

        static func < (a: GoTime, b: GoTime) -> Bool {
            switch (a.seconds, b.seconds) {
            case (nil, nil): return false
            case (nil, _?): return true
            case (_?, nil): return false
            case (let x?, let y?): return x < y
            }
        }
    }
}
