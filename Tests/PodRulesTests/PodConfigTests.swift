import EdgeProtocol
import EdgedService
import Testing

/// edged's pure rules: pod → CRI configs, restart policy and back-off, quantities, status.
@Suite("edged pod rules")
struct PodConfigTests {
    static let pod: JSONValue = [
        "metadata": ["name": "web", "namespace": "prod", "uid": "u-1", "labels": ["app": "web"]],
        "spec": [
            "nodeName": "edge-1", "restartPolicy": "OnFailure",
            "containers": [[
                "name": "main", "image": "localhost/edge/busybox:local", "command": ["sh"], "args": ["-c", "true"],
                "resources": ["limits": ["memory": "64Mi", "cpu": "250m"]],
            ]],
        ],
    ]

    @Test("sandbox: kubelet's labels, a cgroup parent per pod, pod network unless hostNetwork (then no hostname)")
    func sandbox() {
        let config = PodConfig.sandboxConfig(pod: Self.pod, node: "edge-1", attempt: 2, logDirectory: "/x/logs", cgroupRoot: "/kes")
        #expect(config.metadata.uid == "u-1" && config.metadata.namespace == "prod" && config.metadata.attempt == 2)
        #expect(config.labels[PodConfig.podUIDLabel] == "u-1" && config.labels["app"] == "web")
        #expect(config.linux.cgroupParent == "/kes/podu-1")
        #expect(config.linux.securityContext.namespaceOptions.network == .pod && config.hostname == "web")
        var host = Self.pod
        host[path: ["spec", "hostNetwork"]] = true
        let hostConfig = PodConfig.sandboxConfig(pod: host, node: "edge-1", attempt: 0, logDirectory: "/x", cgroupRoot: "/kes")
        #expect(hostConfig.linux.securityContext.namespaceOptions.network == .node && hostConfig.hostname.isEmpty)
    }

    @Test("container: command and args, limits as cgroup values, log path per attempt")
    func container() {
        let container = PodConfig.containers(Self.pod)[0]
        var resolved = PodConfig.Resolved()
        resolved.env = [("A", "1")]
        let config = PodConfig.containerConfig(pod: Self.pod, container: container, attempt: 3, resolved: resolved, node: "edge-1")
        #expect(config.command == ["sh"] && config.args == ["-c", "true"])
        #expect(config.linux.resources.memoryLimitInBytes == 64 * 1024 * 1024)
        #expect(config.linux.resources.cpuQuota == 25_000 && config.linux.resources.cpuPeriod == 100_000)
        #expect(config.logPath == "main_3.log" && config.metadata.attempt == 3)
        #expect(config.envs.first?.key == "A")
    }

    @Test("pull policy defaults, restart policy, back-off and quantities follow kubelet")
    func rules() {
        #expect(PodConfig.pullPolicy(["image": "busybox"]) == "Always")
        #expect(PodConfig.pullPolicy(["image": "busybox:latest"]) == "Always")
        #expect(PodConfig.pullPolicy(["image": "localhost:5000/busybox:1.36"]) == "IfNotPresent")
        #expect(PodConfig.pullPolicy(["image": "busybox", "imagePullPolicy": "Never"]) == "Never")
        #expect(PodConfig.shouldRestart(policy: "Always", exitCode: 0))
        #expect(!PodConfig.shouldRestart(policy: "OnFailure", exitCode: 0) && PodConfig.shouldRestart(policy: "OnFailure", exitCode: 1))
        #expect(!PodConfig.shouldRestart(policy: "Never", exitCode: 1))
        #expect((0..<7).map { PodConfig.backoffSeconds(restarts: $0, initial: 10, maximum: 300) } == [10, 20, 40, 80, 160, 300, 300])
        #expect(Quantity.bytes("1Gi") == 1_073_741_824 && Quantity.bytes("100M") == 100_000_000 && Quantity.bytes("512") == 512)
        #expect(Quantity.millis("0.5") == 500 && Quantity.millis("250m") == 250 && Quantity.millis("2") == 2000)
    }

    @Test("status: phase by restart policy, Ready only with every container running, restart counts and last state")
    func status() {
        let exited = ContainerView.State.terminated(exitCode: 3, reason: "Error", message: "", startedAt: 1_000_000_000,
                                                    finishedAt: 2_000_000_000)
        #expect(PodStatusBuilder.phase(policy: "Never", containers: [ContainerView(name: "a", image: "i", state: exited)]) == "Failed")
        #expect(PodStatusBuilder.phase(policy: "Always", containers: [ContainerView(name: "a", image: "i", state: exited)]) == "Running")
        #expect(PodStatusBuilder.phase(policy: "Always", containers: [ContainerView(name: "a", image: "i",
                                                                                     state: .waiting(reason: "ErrImagePull", message: ""))]) == "Pending")
        var view = ContainerView(name: "main", image: "i", state: .running(startedAt: 3_000_000_000))
        view.restartCount = 2
        view.lastTerminated = exited
        view.containerID = "abc"
        let (status, transitions) = PodStatusBuilder.build(
            .init(pod: Self.pod, containers: [view], hostIP: "10.0.0.1", podIP: "10.89.1.2", startTime: "2026-01-01T00:00:00Z",
                  transitions: [:]), now: "2026-01-01T00:00:05Z")
        #expect(status.string(at: "phase") == "Running")
        #expect(status.string(at: "podIP") == "10.89.1.2")
        let container = status["containerStatuses"]?.arrayValue?.first
        #expect(container?["restartCount"] == .integer(2))
        #expect(container?[path: ["lastState", "terminated", "exitCode"]] == .integer(3))
        #expect(container?.string(at: "containerID") == "containerd://abc")
        #expect(transitions["Ready"]?.status == "True")
        // Unchanged conditions keep their transition time.
        let (again, _) = PodStatusBuilder.build(
            .init(pod: Self.pod, containers: [view], hostIP: "10.0.0.1", podIP: "10.89.1.2", startTime: "2026-01-01T00:00:00Z",
                  transitions: transitions), now: "2026-01-01T00:01:00Z")
        #expect(again == status)
    }

    @Test("init containers: Pending and not Initialized until all complete; a failed one fails a Never pod")
    func initContainerStatus() {
        let done = ContainerView.State.terminated(exitCode: 0, reason: "Completed", message: "", startedAt: 1, finishedAt: 2)
        let failed = ContainerView.State.terminated(exitCode: 7, reason: "Error", message: "", startedAt: 1, finishedAt: 2)
        let app = ContainerView(name: "app", image: "i", state: .waiting(reason: "PodInitializing", message: ""))
        func build(_ policy: String, _ initStates: [ContainerView.State], app: ContainerView) -> JSONValue {
            var pod = Self.pod
            pod[path: ["spec", "restartPolicy"]] = .string(policy)
            var input = PodStatusBuilder.Input(pod: pod, containers: [app], hostIP: "10.0.0.1", podIP: nil,
                                               startTime: "2026-01-01T00:00:00Z", transitions: [:])
            input.initContainers = initStates.enumerated().map { ContainerView(name: "init\($0.offset)", image: "i", state: $0.element) }
            return PodStatusBuilder.build(input, now: "2026-01-01T00:00:05Z").status
        }
        let running = build("Always", [done, .running(startedAt: 3)], app: app)
        #expect(running.string(at: "phase") == "Pending")
        #expect(running["conditions"]?.arrayValue?.first { $0["type"] == "Initialized" }?["status"] == "False")
        #expect(running["conditions"]?.arrayValue?.first { $0["type"] == "Initialized" }?["reason"] == "ContainersNotInitialized")
        #expect(running["initContainerStatuses"]?.arrayValue?.map { $0["ready"] } == [.bool(true), .bool(false)])
        #expect(build("Never", [failed], app: app).string(at: "phase") == "Failed")
        #expect(build("OnFailure", [failed], app: app).string(at: "phase") == "Pending")  // it will be restarted
        let ready = build("Always", [done, done], app: ContainerView(name: "app", image: "i", state: .running(startedAt: 4)))
        #expect(ready.string(at: "phase") == "Running")
        #expect(ready["conditions"]?.arrayValue?.first { $0["type"] == "Initialized" }?["status"] == "True")
    }
}
