import CRIClient
import Foundation
import Testing
import TestSupport

/// Pods end to end, every part real and in its own process: the apiserver and cloud bus, edgecontroller, cloudhub,
/// hub and the edge bus, meta, edged, a private containerd (with runc, and images built locally from
/// busybox-static: no registry), and real kubectl. Needs root and Debian's containerd, runc, busybox-static and
/// containernetworking-plugins (scripts/setup.sh installs them).
final class PodStack: Sendable {
    let api: APIServerProcess
    let link: LinkHarness
    let containerd: Containerd
    let directory: URL
    private let processes = Watched<[String: ChildProcess]>([:])
    static let node = "edge-1"
    static let cgroupRoot = Containerd.cgroupRoot
    let metaServerPort: Int
    /// More flags for edged (a test's own thresholds).
    let edgedExtra: [String]
    /// The edge services start with cloudhub gone (after hub has its certificate): autonomy from the start.
    let cloudAbsentAtStart: Bool

    init(edgedExtra: [String] = [], cloudAbsentAtStart: Bool = false) async throws {
        self.edgedExtra = edgedExtra
        self.cloudAbsentAtStart = cloudAbsentAtStart
        metaServerPort = try FreePort.next()
        let containerd = try await Containerd()
        do {
            try containerd.enableBridge()
            api = try await APIServerProcess()
            link = try await LinkHarness(node: Self.node, cloudBroker: api.broker)
            directory = try TemporaryDirectory.make(prefix: "pods")
        } catch {
            await containerd.stop()
            throw error
        }
        self.containerd = containerd
        do {
            try await startServices()
        } catch {
            await stop()
            throw error
        }
    }

    private func startServices() async throws {
        try await link.startCloudhub()
        try link.startHub(token: try link.token)
        try await link.waitForLink()
        if cloudAbsentAtStart {
            link.cloudhub?.signal(SIGKILL)
            _ = await link.cloudhub?.waitForExit(timeout: 10)
            try await link.waitForLink("disconnected", edgeOnly: true)
        }
        try await start("edgecontroller", ["--kubeconfig", api.kubeconfig, "--node-monitor-grace-seconds", "6"])
        try await start("meta")
        try await start("edged")
    }

    var podsDir: String { directory.appendingPathComponent("edged/pods").path }

    func arguments(_ name: String) -> [String] {
        let cloud = name == "edgecontroller"
        var arguments = [
            "--broker", cloud ? api.broker.address : link.edgeBroker.address, "--node-name", cloud ? "cloud" : Self.node,
            "--data-dir", directory.appendingPathComponent(name).path,
        ]
        if ProcessInfo.processInfo.environment["POD_TEST_TRACE"] != nil { arguments += ["--log-level", "debug"] }
        if name == "meta" { arguments += ["--metaserver-address", "127.0.0.1:\(metaServerPort)"] }
        if name == "edged" {
            arguments += [
                "--runtime-endpoint", "unix://" + containerd.socket, "--pod-sandbox-image", Containerd.pauseImage,
                "--node-ip", "127.0.0.1", "--cgroup-root", Self.cgroupRoot, "--node-status-update-seconds", "2",
                "--restart-backoff-seconds", "1", "--restart-backoff-max-seconds", "2", "--sync-ms", "300",
                "--usage-report-seconds", "2",
                // The host's own memory and disk never evict test pods (a test sets its thresholds in edgedExtra).
                "--eviction-hard", "memory.available<1Ki",
            ] + edgedExtra
        }
        return arguments
    }

    func start(_ name: String, _ extra: [String] = []) async throws {
        let process = try ChildProcess(try Executables.product(name), arguments(name) + extra)
        processes.update { $0[name] = process }
        try await process.waitForLine(containing: "serving", timeout: 60)
    }

    func process(_ name: String) -> ChildProcess? { processes.value[name] }

    /// The stream session ids of edged's log lines that contain `marker` ("kind=exec", "stream session ended").
    func edgedSessions(where marker: String) -> Set<String> {
        let log = process("edged")?.allOutput ?? ""
        return Set(log.split(separator: "\n").filter { $0.contains(marker) }.compactMap { line -> String? in
            guard let range = line.range(of: "session=") else { return nil }
            return String(line[range.upperBound...].prefix { !$0.isWhitespace })
        })
    }

    func kill(_ name: String) async {
        guard let process = processes.value[name] else { return }
        process.signal(SIGKILL)
        _ = await process.waitForExit(timeout: 10)
    }

    func stop() async {
        for (_, process) in processes.value { process.signal(SIGTERM) }
        for (_, process) in processes.value { _ = await process.waitForExit(timeout: 10) }
        link.hub?.signal(SIGTERM)
        link.cloudhub?.signal(SIGTERM)
        _ = await link.hub?.waitForExit(timeout: 5)
        _ = await link.cloudhub?.waitForExit(timeout: 5)
        // Pods are not stopped by edged's exit (kubelet's rule): remove what is left, then containerd.
        try? await CRIClient.with(configuration: .init(endpoint: containerd.socket)) { cri in
            for sandbox in try await cri.listPodSandbox() {
                try? await cri.stopPodSandbox(sandbox.id)
                try? await cri.removePodSandbox(sandbox.id)
            }
        }
        await containerd.stop()
        await link.edgeBroker.stop()
        await api.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// Runs `body`, then stops everything (also when `body` fails: containers outlive their test otherwise).
    func run(_ body: () async throws -> Void) async throws {
        do {
            try await withLogs(body)
        } catch {
            await stop()
            throw error
        }
        await stop()
    }

    /// Runs `body`; on failure the error carries the end of every service's output.
    func withLogs(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch {
            var logs = "\(error)"
            let pods = (try? await api.kubectl(["get", "pods", "-o", "jsonpath={range .items[*]}{.metadata.name} {.status}{\"\\n\"}{end}"]))?.stdout ?? ""
            logs += "\n--- pods ---\n" + String(pods.suffix(4000))
            for (name, process) in processes.value.sorted(by: { $0.key < $1.key }) {
                logs += "\n--- \(name) ---\n" + String(process.allOutput.suffix(4000))
            }
            logs += "\n--- cloudhub ---\n" + String((link.cloudhub?.allOutput ?? "").suffix(1500))
            logs += "\n--- hub ---\n" + String((link.hub?.allOutput ?? "").suffix(1500))
            logs += "\n--- containerd ---\n" + String(containerd.logText.suffix(2000))
            throw TestSupportError(logs)
        }
    }

    func kubectl(_ arguments: String...) async throws -> String {
        try await api.ok(arguments)
    }

    /// A pod of the test image (busybox) bound to the edge node, with one container `main` running `command`;
    /// `container` adds YAML lines to the container (probes, resources), `spec` to the pod spec.
    static func pod(_ name: String, _ command: [String], container: [String] = [], spec: [String] = []) -> String {
        let quoted = command.map { "\"" + $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }
        var lines = [
            "apiVersion: v1", "kind: Pod", "metadata: {name: \(name), namespace: default}", "spec:",
            "  nodeName: \(node)", "  terminationGracePeriodSeconds: 1",
        ]
        lines += spec.map { "  " + $0 }
        lines += ["  containers:", "  - name: main", "    image: \(Containerd.busyboxImage)",
                  "    command: [\(quoted.joined(separator: ", "))]"]
        lines += container.map { "    " + $0 }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A directory of the test's, for hostPath volumes through which a container shows what it sees.
    func sharedDirectory(_ name: String) throws -> URL {
        let url = directory.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// A file a container wrote there, trimmed ("" while it is missing).
    static func read(_ name: String, in directory: URL) -> String {
        ((try? String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)) ?? "")
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func waitForNodeReady() async throws {
        try await waitFor("node Ready", "node", Self.node, #"{.status.conditions[?(@.type=="Ready")].status}"#) { $0 == "True" }
    }

    func jsonpath(_ kind: String, _ name: String, _ path: String) async throws -> String {
        try await api.ok(["get", kind, name, "-o", "jsonpath=\(path)"])
    }

    func waitFor(_ what: String, timeout: Double = 60, _ kind: String, _ name: String, _ path: String,
                 _ condition: @escaping @Sendable (String) -> Bool) async throws {
        try await eventually(what, timeout: timeout) {
            condition((try? await self.jsonpath(kind, name, path)) ?? "")
        }
    }

    /// kubectl against meta's local read API (MetaServer) on the node, without credentials.
    func kubectlOnNode(_ arguments: String...) async throws -> String {
        let empty = directory.appendingPathComponent("empty.kubeconfig").path
        try "apiVersion: v1\nkind: Config\n".write(toFile: empty, atomically: true, encoding: .utf8)
        return try await api.ok(["--kubeconfig", empty, "--server", "http://127.0.0.1:\(metaServerPort)"] + arguments)
    }

    /// The pod's containers in the runtime (by the uid label edged gives them).
    func runtimeContainers(podUID: String) async throws -> [Runtime_V1_Container] {
        try await CRIClient.with(configuration: .init(endpoint: containerd.socket)) { cri in
            var filter = Runtime_V1_ContainerFilter()
            filter.labelSelector = ["io.kubernetes.pod.uid": podUID]
            return try await cri.listContainers(filter: filter)
        }
    }

    /// What a container wrote (CRI log lines `<time> stdout F <text>`), from the log files containerd keeps under
    /// edged's pod directory.
    func containerLog(podUID: String) -> String {
        let logs = podsDir + "/\(podUID)/logs"
        let files = (try? FileManager.default.contentsOfDirectory(atPath: logs)) ?? []
        return files.sorted().compactMap { try? String(contentsOfFile: logs + "/" + $0, encoding: .utf8) }.joined()
    }
}

extension APIServerProcess {
    func ok(_ arguments: [String], input: String? = nil) async throws -> String {
        let result = try await kubectl(arguments, input: input)
        guard result.status == 0 else { throw TestSupportError("kubectl \(arguments.joined(separator: " ")) failed: \(result.stderr)") }
        return result.stdout
    }
}

@Suite("pods end to end", .serialized, .timeLimit(.minutes(6)))
struct PodEndToEndTests {
    static let node = PodStack.node

    static let app = """
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: app-config, namespace: default}
        data: {greeting: hello-from-configmap}
        ---
        apiVersion: v1
        kind: Secret
        metadata: {name: app-secret, namespace: default}
        stringData: {token: s3cr3t-value}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: app, namespace: default}
        spec:
          nodeName: edge-1
          terminationGracePeriodSeconds: 2
          containers:
          - name: main
            image: localhost/edge/busybox:local
            command: ["sh", "-c", "cat /etc/app/greeting; echo; echo TOKEN=$TOKEN; exec sleep 3600"]
            env:
            - name: TOKEN
              valueFrom: {secretKeyRef: {name: app-secret, key: token}}
            volumeMounts:
            - {name: config, mountPath: /etc/app}
            resources: {limits: {memory: 64Mi}}
          volumes:
          - name: config
            configMap: {name: app-config}
        """

    static let deployment = """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web, namespace: default}
        spec:
          replicas: 2
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec:
              nodeSelector: {kubernetes.io/hostname: edge-1}
              terminationGracePeriodSeconds: 1
              containers:
              - {name: web, image: localhost/edge/busybox:local, command: ["sleep", "3600"]}
        """

    static let crasher = """
        apiVersion: v1
        kind: Pod
        metadata: {name: crasher, namespace: default}
        spec:
          nodeName: edge-1
          restartPolicy: Always
          containers:
          - {name: crash, image: localhost/edge/busybox:local, command: ["sh", "-c", "echo crashing; exit 3"]}
        """

    static let invalid = """
        apiVersion: v1
        kind: Pod
        metadata: {name: no-image, namespace: default}
        spec:
          nodeName: edge-1
          containers:
          - {name: main, image: "localhost/edge/missing:local", command: ["sleep", "3600"]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: bad-volume, namespace: default}
        spec:
          nodeName: edge-1
          containers:
          - name: main
            image: localhost/edge/busybox:local
            command: ["sleep", "3600"]
            volumeMounts: [{name: cfg, mountPath: /cfg}]
          volumes:
          - {name: cfg, configMap: {name: does-not-exist}}
        """

    @Test("node Ready; pod with configmap file and secret env Running with an IP; 2-replica deployment; restarts counted; invalid specs get reasons; delete removes the container and the pod")
    func podsEndToEnd() async throws {
        let stack = try await PodStack()
        try await stack.run {
            // The node registers itself and reports Ready.
            try await stack.waitFor("node Ready", "node", Self.node, #"{.status.conditions[?(@.type=="Ready")].status}"#) { $0 == "True" }
            let nodes = try await stack.kubectl("get", "nodes")
            #expect(nodes.contains(Self.node) && nodes.contains("Ready"))
            #expect(try await stack.jsonpath("node", Self.node, "{.status.nodeInfo.containerRuntimeVersion}").hasPrefix("containerd://"))

            // A pod using a configmap (as a file) and a secret (as env).
            _ = try await stack.api.ok(["apply", "-f", "-"], input: Self.app)
            try await stack.waitFor("app Running", "pod", "app", "{.status.phase}") { $0 == "Running" }
            let ip = try await stack.jsonpath("pod", "app", "{.status.podIP}")
            #expect(ip.hasPrefix("10.89."), "pod IP from the CNI bridge: \(ip)")
            let wide = try await stack.kubectl("get", "pods", "-o", "wide")
            #expect(wide.contains("Running") && wide.contains(ip) && wide.contains(Self.node))
            let uid = try await stack.jsonpath("pod", "app", "{.metadata.uid}")
            try await eventually("the container's output") {
                let log = stack.containerLog(podUID: uid)
                return log.contains("hello-from-configmap") && log.contains("TOKEN=s3cr3t-value")
            }
            let running = try await stack.runtimeContainers(podUID: uid)
            #expect(running.count == 1 && running.first?.state == .containerRunning)

            // A deployment of two replicas scheduled to the edge node.
            _ = try await stack.api.ok(["apply", "-f", "-"], input: Self.deployment)
            try await eventually("two web pods Running", timeout: 60) {
                let phases = try await stack.api.ok(["get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].status.phase}"])
                return phases.split(separator: " ") == ["Running", "Running"]
            }
            // kubectl's rollout status reads the Deployment's status as the pods run (observedGeneration,
            // updatedReplicas, availableReplicas).
            let rollout = try await stack.api.ok(["rollout", "status", "deployment/web", "--timeout=60s"])
            #expect(rollout.contains("successfully rolled out"), "\(rollout)")

            // A crashing container is restarted (restartPolicy Always) and the count reaches the cloud.
            _ = try await stack.api.ok(["apply", "-f", "-"], input: Self.crasher)
            try await stack.waitFor("crasher restarted twice", "pod", "crasher", "{.status.containerStatuses[0].restartCount}") {
                (Int($0) ?? 0) >= 2
            }
            try await stack.waitFor("crasher's last state exit code 3", "pod", "crasher",
                                    "{.status.containerStatuses[0].lastState.terminated.exitCode}") { $0 == "3" }

            // Invalid specs: clear reasons, nothing else breaks.
            _ = try await stack.api.ok(["apply", "-f", "-"], input: Self.invalid)
            try await stack.waitFor("no-image waiting on its image", "pod", "no-image",
                                    "{.status.containerStatuses[0].state.waiting.reason}") {
                $0 == "ErrImagePull" || $0 == "ImagePullBackOff"
            }
            let noImage = try await stack.jsonpath("pod", "no-image", "{.status.containerStatuses[0].state}")
            #expect(noImage.contains("localhost/edge/missing:local"), "the pull failure names the image: \(noImage)")
            try await stack.waitFor("bad-volume waiting on its configmap", "pod", "bad-volume",
                                    "{.status.containerStatuses[0].state.waiting.reason}") { $0 == "CreateContainerConfigError" }
            #expect(try await stack.jsonpath("pod", "bad-volume", "{.status.containerStatuses[0].state.waiting.message}")
                .contains("does-not-exist"))
            let app = try await stack.api.ok(["get", "pod", "app", "-o", "jsonpath={.status}"])
            #expect(app.contains(#""phase":"Running""#), "app still Running: \(app)")

            // Deletion: the container is stopped and removed, and the pod leaves the API.
            _ = try await stack.kubectl("delete", "pod", "app", "--wait=false")
            try await eventually("app gone from the API", timeout: 60) {
                let result = try await stack.api.kubectl(["get", "pod", "app"])
                return result.status != 0 && result.stderr.contains("NotFound")
            }
            try await eventually("app's container removed") { try await stack.runtimeContainers(podUID: uid).isEmpty }
        }
    }

    @Test("autonomy: cloudhub stopped, edged and meta killed and restarted, the pod keeps running; what changed offline reaches the cloud; node NotReady then Ready")
    func autonomy() async throws {
        let stack = try await PodStack()
        try await stack.run {
            try await stack.waitFor("node Ready", "node", Self.node, #"{.status.conditions[?(@.type=="Ready")].status}"#) { $0 == "True" }
            _ = try await stack.api.ok(["apply", "-f", "-"], input: Self.app)
            try await stack.waitFor("app Running", "pod", "app", "{.status.phase}") { $0 == "Running" }
            let uid = try await stack.jsonpath("pod", "app", "{.metadata.uid}")
            let before = try await stack.runtimeContainers(podUID: uid)
            #expect(before.count == 1)

            // The cloud goes away; edged and meta die and come back without it.
            stack.link.cloudhub?.signal(SIGTERM)
            _ = await stack.link.cloudhub?.waitForExit(timeout: 10)
            try await stack.link.waitForLink("disconnected", edgeOnly: true)
            await stack.kill("edged")
            await stack.kill("meta")
            try await stack.start("meta")
            try await stack.start("edged")
            let after = try await stack.runtimeContainers(podUID: uid)
            #expect(after.map(\.id) == before.map(\.id), "the same container keeps running")

            // Apps on the node still read the node's objects from meta's local API.
            #expect(try await stack.kubectlOnNode("get", "pods", "-o", "name").contains("pod/app"))
            #expect(try await stack.kubectlOnNode("get", "configmap", "app-config", "-o", "jsonpath={.data.greeting}")
                == "hello-from-configmap")
            #expect(after.first?.state == .containerRunning)

            // The cloud marks the silent node NotReady (Unknown).
            try await stack.waitFor("node not Ready", timeout: 30, "node", Self.node,
                                    #"{.status.conditions[?(@.type=="Ready")].status}"#) { $0 == "Unknown" }

            // Offline, the container dies; edged restarts it and the status waits for the link.
            let containerID = try #require(after.first?.id)
            _ = try Containerd.run("/usr/bin/ctr", ["--address", stack.containerd.socket, "-n", "k8s.io", "tasks", "kill",
                                                    "-s", "KILL", containerID])
            try await eventually("container restarted offline", timeout: 30) {
                let containers = try await stack.runtimeContainers(podUID: uid)
                return containers.contains { $0.metadata.attempt == 1 && $0.state == .containerRunning }
            }
            #expect(try await stack.jsonpath("pod", "app", "{.status.containerStatuses[0].restartCount}") == "0")

            // The cloud returns: the node is Ready again and the restart shows.
            try await stack.link.startCloudhub()
            try await stack.link.waitForLink()
            try await stack.waitFor("restart count reaches the cloud", "pod", "app",
                                    "{.status.containerStatuses[0].restartCount}") { $0 == "1" }
            try await stack.waitFor("node Ready again", "node", Self.node,
                                    #"{.status.conditions[?(@.type=="Ready")].status}"#) { $0 == "True" }
        }
    }
}
