import EdgeProtocol
import Foundation
import Testing
import TestSupport

/// The API server judged by real kubectl (and the Python client): every test starts its own server process on its
/// own broker and data directory.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct KubectlTests {
    static let appManifest = """
        apiVersion: v1
        kind: Namespace
        metadata:
          name: demo
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: app-config
          namespace: demo
        data:
          mode: edge
        ---
        apiVersion: v1
        kind: Secret
        metadata:
          name: app-secret
          namespace: demo
        stringData:
          password: s3cret
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
          namespace: demo
        spec:
          replicas: 2
          selector:
            matchLabels: {app: web}
          template:
            metadata:
              labels: {app: web}
            spec:
              containers:
              - name: web
                image: busybox:1.36
                command: ["sleep", "3600"]
        """

    static let readyNode = """
        apiVersion: v1
        kind: Node
        metadata:
          name: edge-1
          labels: {node-role.kubernetes.io/edge: ""}
        status:
          conditions:
          - {type: Ready, status: "True", reason: EdgeReady, message: edge is posting ready status}
          addresses:
          - {type: InternalIP, address: 192.168.0.7}
          nodeInfo: {kubeletVersion: v1.30.0-kubeedge, osImage: Debian GNU/Linux 12, kernelVersion: "6.1",
                     containerRuntimeVersion: "containerd://1.6.20", architecture: amd64, operatingSystem: linux,
                     machineID: "", systemUUID: "", bootID: "", kernelVersion: "6.1", kubeProxyVersion: ""}
        """

    @Test func discoveryVersionAndDefaultNamespaces() async throws {
        let server = try await APIServerProcess()
        defer { Task { await server.stop() } }
        let version = try await server.ok("version", "-o", "json")
        let parsed = try JSONValue(parsing: Array(version.utf8))
        #expect(parsed[path: ["serverVersion", "gitVersion"]]?.stringValue == "v1.30.0-kubeedge-swift")
        let namespaces = try await server.ok("get", "namespaces")
        let lines = namespaces.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true) }
        #expect(lines.first == ["NAME", "STATUS", "AGE"])
        #expect(lines.contains { $0.first == "default" && $0.dropFirst().first == "Active" })
        #expect(lines.contains { $0.first == "kube-system" })
        let resources = try await server.ok("api-resources", "-o", "name")
        for name in ["pods", "nodes", "deployments.apps", "leases.coordination.k8s.io",
                     "customresourcedefinitions.apiextensions.k8s.io"] {
            #expect(resources.contains(name + "\n"), "api-resources lacks \(name)")
        }
        // A bad token is refused; the admin token works too (as well as the kubeconfig's client certificate).
        let refused = try await server.kubectl("get", "pods", "--token", "not-the-token")
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("Unauthorized"))
        let token = try String(contentsOfFile: server.dataDir + "/pki/admin.token", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let withToken = try await Command.run(try Executables.which("kubectl"), [
            "--kubeconfig", "/dev/null", "--server", "https://127.0.0.1:\(server.port)",
            "--certificate-authority", server.dataDir + "/pki/ca.crt", "--token", token,
            "--cache-dir", server.directory.appendingPathComponent("c2").path, "get", "ns", "default", "-o", "name",
        ], environment: server.kubectlEnvironment)
        #expect(withToken.stdout == "namespace/default\n", "\(withToken)")
    }

    @Test func kubeEdgeCRDsAndSamplesApplyAndServe() async throws {
        let server = try await APIServerProcess()
        defer { Task { await server.stop() } }
        let crds = Manifests.root.appendingPathComponent("crds").path
        let applied = try await server.ok("apply", "-f", crds)
        #expect(applied.contains("customresourcedefinition.apiextensions.k8s.io/devices.devices.kubeedge.io"))
        #expect(applied.contains("customresourcedefinition.apiextensions.k8s.io/ruleendpoints.rules.kubeedge.io created"))
        let crdList = try await server.ok("get", "crd")
        #expect(crdList.hasPrefix("NAME"))
        #expect(crdList.contains("devicemodels.devices.kubeedge.io"))
        // kubectl validates strictly by default, and KubeEdge's CC2650 sample has mis-indented bluetooth fields the
        // schema does not declare: kube-apiserver refuses it then, and so do we. With --validate=warn it applies,
        // the unknown fields pruned and reported as warnings.
        let strict = try await server.kubectl("apply", "-f", Manifests.root.appendingPathComponent("samples/v1alpha2").path)
        #expect(strict.stderr.contains(#"strict decoding error: unknown field "spec.propertyVisitors[0].bluetooth.endIndex""#), "\(strict)")
        #expect(strict.stdout.contains("device.devices.kubeedge.io/modbustcp-device created"), "\(strict)")
        let samples = try await server.kubectl("apply", "--validate=warn", "-f",
                                               Manifests.root.appendingPathComponent("samples/v1alpha2").path)
        #expect(samples.status == 0, "\(samples)")
        #expect(samples.stdout.contains("device.devices.kubeedge.io/sensor-tag-instance-01 created"), "\(samples)")
        #expect(samples.stderr.contains("Warning: unknown field"), "\(samples)")
        let routerSamples = try await server.ok("apply", "-f", Manifests.root.appendingPathComponent("samples/router").path)
        #expect(routerSamples.contains("rule.rules.kubeedge.io/"))
        #expect(routerSamples.contains("ruleendpoint.rules.kubeedge.io/"))
        let devices = try await server.ok("get", "devices")
        #expect(devices.hasPrefix("NAME"))
        #expect(devices.split(separator: "\n").count >= 4, "\(devices)")
        let endpoints = try await server.ok("get", "ruleendpoints", "-o", "name")
        #expect(endpoints.split(separator: "\n").count == 3)
        // A v1beta1 Device written against the v1beta1 schema, read back through both versions.
        let beta = """
            apiVersion: devices.kubeedge.io/v1beta1
            kind: Device
            metadata:
              name: thermo-1
              labels: {model: thermo}
            spec:
              deviceModelRef: {name: thermo-model}
              nodeName: edge-1
              protocol:
                protocolName: modbus
                configData:
                  data: {ip: 127.0.0.1, port: 5020}
              properties:
              - name: temperature
                desired: {value: "20"}
                visitors:
                  protocolName: modbus
                  configData: {register: HoldingRegister, offset: 2, limit: 1, scale: 0.1}
            """
        #expect(try await server.ok("apply", "-f", "-", input: beta) == "device.devices.kubeedge.io/thermo-1 created\n")
        let yaml = try await server.ok("get", "device.v1beta1.devices.kubeedge.io", "thermo-1", "-o", "yaml")
        #expect(yaml.contains("apiVersion: devices.kubeedge.io/v1beta1"))
        #expect(yaml.contains("nodeName: edge-1"))
        // A value of the wrong type is refused with the schema's message.
        let invalid = try await server.kubectl("apply", "-f", "-", input: beta.replacingOccurrences(
            of: "nodeName: edge-1", with: "nodeName: [edge-1]"))
        #expect(invalid.status != 0)
        #expect(invalid.stderr.contains("spec.nodeName"), "\(invalid)")
        // Patch (merge, as kubectl does for custom resources) and the status subresource.
        _ = try await server.ok("patch", "device", "thermo-1", "--type=merge", "-p",
                                #"{"spec":{"properties":[{"name":"temperature","desired":{"value":"21"}}]}}"#)
        let desired = try await server.ok("get", "device", "thermo-1", "-o",
                                          "jsonpath={.spec.properties[0].desired.value}")
        #expect(desired == "21")
        let described = try await server.ok("describe", "device", "thermo-1")
        #expect(described.contains("Name:") && described.contains("thermo-1"))
        // Deleting the CRD takes its objects with it.
        _ = try await server.ok("delete", "crd", "rules.rules.kubeedge.io")
        let gone = try await server.kubectl("get", "rules")
        #expect(gone.status != 0)
    }

    @Test func multiDocumentApplyScheduleEditAndDelete() async throws {
        let server = try await APIServerProcess()
        defer { Task { await server.stop() } }
        let applied = try await server.ok("apply", "-f", "-", input: Self.appManifest)
        #expect(applied == """
            namespace/demo created
            configmap/app-config created
            secret/app-secret created
            deployment.apps/web created

            """)
        #expect(try await server.ok("apply", "-f", "-", input: Self.appManifest).contains("deployment.apps/web unchanged"))
        // The deployment controller makes two pods; with no node they stay Pending with the scheduler's reason.
        try await eventually("two pending pods") {
            let pods = try await server.ok("get", "pods", "-n", "demo", "--no-headers")
            return pods.split(separator: "\n").filter { $0.contains("Pending") }.count == 2
        }
        let reason = try await server.ok("get", "pods", "-n", "demo", "-o",
                                         "jsonpath={.items[0].status.conditions[0].message}")
        #expect(reason.hasPrefix("0/0 nodes are available"), "\(reason)")
        // A Ready edge node (tainted for edge workloads only) takes them once the pods tolerate the taint.
        #expect(try await server.ok("apply", "-f", "-", input: Self.readyNode) == "node/edge-1 created\n")
        try await eventually("pods scheduled on edge-1") {
            let wide = try await server.ok("get", "pods", "-n", "demo", "-o", "wide", "--no-headers")
            return wide.split(separator: "\n").filter { $0.contains("edge-1") }.count == 2
        }
        let nodes = try await server.ok("get", "nodes", "-o", "wide")
        #expect(nodes.contains("Ready") && nodes.contains("192.168.0.7") && nodes.contains("edge"), "\(nodes)")
        let deployment = try await server.ok("get", "deploy", "-n", "demo")
        #expect(deployment.contains("READY") && deployment.contains("0/2"), "\(deployment)")
        // label, annotate, strategic-merge patch of a container by name, scale.
        _ = try await server.ok("label", "-n", "demo", "deploy", "web", "tier=front")
        #expect(try await server.ok("get", "deploy", "-n", "demo", "-l", "tier=front", "-o", "name") == "deployment.apps/web\n")
        _ = try await server.ok("patch", "-n", "demo", "deploy", "web", "-p",
                                #"{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"busybox:1.37"}]}}}}"#)
        let images = try await server.ok("get", "deploy", "-n", "demo", "web", "-o",
                                         "jsonpath={.spec.template.spec.containers[*].image} {.spec.template.spec.containers[0].command}")
        #expect(images == #"busybox:1.37 ["sleep","3600"]"#)
        _ = try await server.ok("scale", "-n", "demo", "deploy", "web", "--replicas=3")
        // The old template's pods were scheduled: they terminate gracefully (no node confirms here).
        try await eventually("three live pods of the new template") {
            let list = try JSONValue(parsing: Array(try await server.ok("get", "pods", "-n", "demo", "-o", "json").utf8))
            let live = (list["items"]?.arrayValue ?? []).filter { $0[path: ["metadata", "deletionTimestamp"]] == nil }
            return live.map { $0[path: ["spec", "containers"]]?.arrayValue?.first?["image"]?.stringValue ?? "" }
                == ["busybox:1.37", "busybox:1.37", "busybox:1.37"]
        }
        // kubectl edit through KUBE_EDITOR.
        let edited = try await server.ok("edit", "-n", "demo", "configmap", "app-config",
                                         environment: ["KUBE_EDITOR": "sed -i s/mode:\\ edge/mode:\\ cloud/"])
        #expect(edited.contains("configmap/app-config edited"))
        #expect(try await server.ok("get", "cm", "-n", "demo", "app-config", "-o", "jsonpath={.data.mode}") == "cloud")
        let pod = try await server.ok("get", "pods", "-n", "demo", "-o", "jsonpath={.items[0].metadata.name}")
        let described = try await server.ok("describe", "pod", "-n", "demo", pod)
        #expect(described.contains("Node:") && described.contains("edge-1") && described.contains("Controlled By:"))
        // Graceful deletion of a scheduled pod: marked Terminating until its node confirms (a grace-0 delete).
        _ = try await server.ok("delete", "pod", "-n", "demo", pod, "--wait=false")
        let terminating = try await server.ok("get", "pod", "-n", "demo", pod)
        #expect(terminating.contains("Terminating"), "\(terminating)")
        _ = try await server.ok("delete", "pod", "-n", "demo", pod, "--grace-period=0", "--force")
        #expect(try await server.kubectl("get", "pod", "-n", "demo", pod).stderr.contains("NotFound"))
        // Finalizers hold an object until they are removed.
        _ = try await server.ok("patch", "-n", "demo", "cm", "app-config", "--type=merge", "-p",
                                #"{"metadata":{"finalizers":["example.com/hold"]}}"#)
        _ = try await server.ok("delete", "-n", "demo", "cm", "app-config", "--wait=false")
        #expect(try await server.ok("get", "-n", "demo", "cm", "app-config", "-o", "jsonpath={.metadata.deletionTimestamp}") != "")
        _ = try await server.ok("patch", "-n", "demo", "cm", "app-config", "--type=json", "-p",
                                #"[{"op":"remove","path":"/metadata/finalizers"}]"#)
        #expect(try await server.kubectl("get", "-n", "demo", "cm", "app-config").stderr.contains("NotFound"))
        // Deleting the namespace removes what is in it.
        _ = try await server.ok("delete", "namespace", "demo")
        try await eventually("namespace demo gone") {
            try await server.kubectl("get", "namespace", "demo").stderr.contains("NotFound")
        }
        #expect(try await server.ok("get", "pods", "-A", "-o", "name") == "")
    }

    @Test func getWatchShowsChangesAsTheyHappen() async throws {
        let server = try await APIServerProcess()
        defer { Task { await server.stop() } }
        _ = try await server.ok("create", "configmap", "first")
        let watcher = try ChildProcess(try Executables.which("kubectl"), [
            "--cache-dir", server.directory.appendingPathComponent("kube-cache").path, "get", "configmaps", "-w",
        ], environment: server.kubectlEnvironment)
        defer { watcher.signal(SIGKILL) }
        try await watcher.waitForLine(containing: "NAME", timeout: 30)
        _ = try await server.ok("create", "configmap", "watched", "--from-literal=a=1")
        try await watcher.waitForLine(containing: "watched", timeout: 10)
        _ = try await server.ok("create", "configmap", "second")
        try await watcher.waitForLine(containing: "second", timeout: 10)
        let header = watcher.lines.first { $0.contains("NAME") } ?? ""
        #expect(header.split(separator: " ", omittingEmptySubsequences: true) == ["NAME", "DATA", "AGE"])
        #expect(watcher.lines.contains { $0.hasPrefix("watched") && $0.contains(" 1 ") })
    }

    @Test func invalidObjectsGetStatusErrors() async throws {
        let server = try await APIServerProcess()
        defer { Task { await server.stop() } }
        let badName = try await server.kubectl("create", "configmap", "Bad_Name")
        #expect(badName.status != 0)
        #expect(badName.stderr.contains(#"ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name""#))
        let noContainers = try await server.kubectl("apply", "-f", "-", input: """
            {"apiVersion":"v1","kind":"Pod","metadata":{"name":"empty"},"spec":{"containers":[]}}
            """)
        #expect(noContainers.stderr.contains("spec.containers: Required value"), "\(noContainers)")
        // Raw requests: wrong kind for the path, malformed JSON, unknown resource; each a Status body.
        let wrongKind = try await http("POST", server.insecureURL + "/api/v1/namespaces/default/pods",
                                       body: #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}"#)
        #expect(wrongKind.status == 400)
        let status = try JSONValue(parsing: Array(wrongKind.body.utf8))
        #expect(status["kind"]?.stringValue == "Status" && status["reason"]?.stringValue == "BadRequest")
        let malformed = try await http("POST", server.insecureURL + "/api/v1/namespaces/default/configmaps",
                                       body: #"{"apiVersion":"v1","kind":"#)
        #expect(malformed.status == 400)
        let unknown = try await http("GET", server.insecureURL + "/api/v1/namespaces/default/widgets")
        #expect(unknown.status == 404)
        let missing = try await http("GET", server.insecureURL + "/api/v1/namespaces/default/configmaps/nope")
        #expect(missing.status == 404 && missing.body.contains(#""reason":"NotFound""#))
        // Nothing was stored by any of them.
        #expect(try await server.ok("get", "cm,pods", "-o", "name") == "")
    }

    @Test func concurrentWritersWithTheSameResourceVersionOneWins() async throws {
        let server = try await APIServerProcess()
        defer { Task { await server.stop() } }
        _ = try await server.ok("create", "configmap", "contended", "--from-literal=v=0")
        let url = server.insecureURL + "/api/v1/namespaces/default/configmaps/contended"
        for round in 0..<5 {
            // Both writers start from the same read, so both carry the same resourceVersion.
            let read = try JSONValue(parsing: Array(try await http("GET", url).body.utf8))
            var first = read, second = read
            first[path: ["data", "v"]] = .string("a\(round)")
            second[path: ["data", "v"]] = .string("b\(round)")
            async let one = http("PUT", url, body: String(decoding: try first.serialized(), as: UTF8.self))
            async let two = http("PUT", url, body: String(decoding: try second.serialized(), as: UTF8.self))
            let results = try await [one, two]
            #expect(results.map(\.status).sorted() == [200, 409], "round \(round): \(results)")
            let loser = results.first { $0.status == 409 }
            #expect(loser?.body.contains("the object has been modified") == true)
            let stored = try JSONValue(parsing: Array(try await http("GET", url).body.utf8))
            let winner = try JSONValue(parsing: Array(results.first { $0.status == 200 }!.body.utf8))
            #expect(stored[path: ["data", "v"]] == winner[path: ["data", "v"]])
        }
    }

    @Test func pythonClientListsAndWatchesInOrderAndResumes() async throws {
        let server = try await APIServerProcess()
        defer { Task { await server.stop() } }
        let result = try await Command.run(try PeersVenv.python(), [
            Repository.root.appendingPathComponent("Tests/Peers/kube_client_check.py").path, server.kubeconfig, "watch",
        ], timeout: 90)
        #expect(result.status == 0, "\(result)")
        let report = try JSONValue(parsing: Array(result.stdout.utf8))
        #expect(report["version"]?.stringValue == "v1.30.0-kubeedge-swift")
        // Other writers (the scheduler) modify the pods too: the changes this test made must be there, once each,
        // in order, and no resourceVersion may repeat or go back, across the resume.
        func changes(_ key: String) -> [String] {
            (report[key]?.arrayValue ?? []).map {
                "\($0["type"]?.stringValue ?? "") \($0["name"]?.stringValue ?? "") \($0["step"]?.stringValue ?? "")"
            }
        }
        let first = changes("first"), resumed = changes("resumed")
        let firstMarks = ["ADDED p1 ", "ADDED p2 ", "MODIFIED p1 two", "DELETED p2 "].map { mark in
            first.firstIndex { $0 == mark }
        }
        #expect(!firstMarks.contains(nil) && firstMarks == firstMarks.sorted { ($0 ?? 0) < ($1 ?? 0) }, "\(first)")
        #expect(first.last == "DELETED p2 ")
        #expect(resumed.filter { $0 == "ADDED p3 " }.count == 1, "\(resumed)")
        #expect(resumed.filter { $0.hasPrefix("MODIFIED p1 three") }.count == 1, "\(resumed)")
        #expect(!resumed.contains { $0.hasPrefix("ADDED p1") || $0.hasPrefix("DELETED p2") }, "\(resumed)")
        #expect(report["list"] == ["p1", "p3"])
    }

    /// The client's `patch_namespaced_deployment_scale` sends `application/strategic-merge-patch+json`, which
    /// kube-apiserver accepts on the scale subresource.
    @Test func pythonClientScalesADeploymentThroughItsScaleSubresource() async throws {
        let server = try await APIServerProcess()
        defer { Task { await server.stop() } }
        let result = try await Command.run(try PeersVenv.python(), [
            Repository.root.appendingPathComponent("Tests/Peers/kube_client_check.py").path, server.kubeconfig, "scale",
        ], timeout: 60)
        #expect(result.status == 0, "\(result)")
        let report = try JSONValue(parsing: Array(result.stdout.utf8))
        #expect(report["scale"]?.int64Value == 3, "\(result)")
        #expect(report["deployment"]?.int64Value == 3)
    }

    @Test func compactedResourceVersionAnswers410() async throws {
        let server = try await APIServerProcess(["--event-log-keep", "10"])
        defer { Task { await server.stop() } }
        for index in 0..<30 { _ = try await server.ok("create", "configmap", "c\(index)") }
        let result = try await Command.run(try PeersVenv.python(), [
            Repository.root.appendingPathComponent("Tests/Peers/kube_client_check.py").path, server.kubeconfig, "gone", "2",
        ], timeout: 60)
        let report = try JSONValue(parsing: Array(result.stdout.utf8))
        #expect(report["status"]?.int64Value == 410, "\(result)")
        #expect(report["reason"]?.stringValue == "Expired")
    }

    @Test func dataSurvivesSIGKILLMidWrite() async throws {
        let server = try await APIServerProcess()
        defer { Task { await server.stop() } }
        // Writers keep creating configmaps while the server is killed under them.
        let (acknowledged, writers) = burstOfCreates(server, writers: 4, each: 1000)
        try await acknowledged.wait(timeout: 60, "50 acknowledged writes") { $0.count >= 50 }
        await server.kill()
        await writers.value
        try await server.start()
        let list = try await http("GET", server.insecureURL + "/api/v1/namespaces/default/configmaps")
        #expect(list.status == 200)
        let items = try JSONValue(parsing: Array(list.body.utf8))["items"]?.arrayValue ?? []
        let names = Set(items.compactMap { $0.string(at: "metadata.name") })
        #expect(acknowledged.value.isSubset(of: names), "acknowledged writes lost")
        #expect(names.count <= acknowledged.value.count + 4, "more objects than writes in flight")
        for item in items {
            #expect(item[path: ["data", "payload"]]?.stringValue?.count == 512, "partial object \(item)")
        }
    }
}
