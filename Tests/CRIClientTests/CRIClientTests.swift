import CRIClient
import TestSupport
import Foundation
import Testing

@Suite("CRI client: endpoint and errors")
struct CRIClientUnitTests {
    @Test("endpoints: unix:///path, unix:/path and plain paths; anything else is rejected")
    func endpoints() throws {
        #expect(try CRIConfiguration().socketPath() == "/run/containerd/containerd.sock")
        #expect(try CRIConfiguration(endpoint: "unix:/x/y.sock").socketPath() == "/x/y.sock")
        #expect(try CRIConfiguration(endpoint: "/x/y.sock").socketPath() == "/x/y.sock")
        for bad in ["", "unix://", "tcp://127.0.0.1:1", "relative.sock"] {
            let error = #expect(throws: CRIError.self) { try CRIConfiguration(endpoint: bad).socketPath() }
            #expect(error?.code == .invalidArgument)
        }
    }

    @Test("a missing socket fails fast with unavailable", .timeLimit(.minutes(1)))
    func missingSocket() async throws {
        let started = ContinuousClock.now
        let error = await #expect(throws: CRIError.self) {
            try await CRIClient.with(configuration: .init(endpoint: "unix:///tmp/no-such-dir-\(getpid())/cri.sock")) {
                try await $0.version()
            }
        }
        #expect(error?.code == .unavailable)
        #expect(error?.method == "Version")
        // Fast means no waiting out a connection timeout; 20 s leaves room for a loaded 2-core machine.
        #expect(ContinuousClock.now - started < .seconds(20))
    }
}

/// End to end against a real containerd 1.6 + runc that the test starts itself (host-network pod, busybox).
@Suite("CRI client against a real containerd", .serialized, .timeLimit(.minutes(3)))
struct CRIClientContainerdTests {
    @Test("Version, Status, images, sandbox and a busybox container from start to removal")
    func podLifecycle() async throws {
        let containerd = try await Containerd()
        let configuration = CRIConfiguration(endpoint: "unix://" + containerd.socket, timeout: .seconds(20))
        do {
            try await CRIClient.with(configuration: configuration) { cri in
                try await Self.lifecycle(cri, logDirectory: containerd.directory + "/pods")
            }
        } catch {
            // Best effort: no pod of ours may outlive the test.
            try? await CRIClient.with(configuration: configuration) { cri in
                for pod in (try? await cri.listPodSandbox()) ?? [] {
                    try? await cri.stopPodSandbox(pod.id)
                    try? await cri.removePodSandbox(pod.id)
                }
            }
            await containerd.stop()
            Issue.record("containerd log:\n\(containerd.logText.suffix(4000))")
            throw error
        }
        await containerd.stop()
    }

    /// containerd's gRPC server answers nearly every call with an RST_STREAM and a PING besides the response, and
    /// grpc-swift drops its connection after 200 such frames in a short window; 600 calls in a row cross that more than
    /// once. Repeatable calls are sent again on the new connection, so none of them fails.
    @Test("600 calls in a row: the dropped connections under them are not seen by the caller")
    func callsAcrossDroppedConnections() async throws {
        let containerd = try await Containerd()
        defer { Task { await containerd.stop() } }
        let configuration = CRIConfiguration(endpoint: "unix://" + containerd.socket, timeout: .seconds(20))
        let failures = try await CRIClient.with(configuration: configuration) { cri in
            var failures: [String] = []
            for _ in 0..<600 {
                do { _ = try await cri.version() } catch { failures.append("\(error)") }
            }
            return failures
        }
        #expect(failures.isEmpty, "\(failures.count) calls failed: \(failures.prefix(3))")
    }

    static func lifecycle(_ cri: CRIClient, logDirectory: String) async throws {
        let version = try await cri.version()
        #expect(version.runtimeName == "containerd")
        #expect(version.runtimeApiVersion == "v1")
        #expect(!version.runtimeVersion.isEmpty)

        let status = try await cri.status()
        let runtimeReady = status.status.conditions.first { $0.type == "RuntimeReady" }
        #expect(runtimeReady?.status == true)

        // Images: present locally (imported, no registry).
        let busybox = try #require(try await cri.imageStatus(Containerd.busyboxImage))
        #expect(busybox.repoTags.contains(Containerd.busyboxImage))
        #expect(try await cri.imageStatus("localhost/edge/absent:none") == nil)
        #expect(try await cri.listImages().contains { $0.id == busybox.id })
        // A pull needs a registry; on loopback with none, it fails with a CRIError carrying the gRPC status.
        let pullError = await #expect(throws: CRIError.self) {
            try await cri.pullImage("127.0.0.1:1/none/such:tag")
        }
        #expect(pullError?.method == "PullImage")
        #expect(pullError?.code != .deadlineExceeded)

        // A host-network sandbox (hostname empty, as kubelet does for host network; no CNI needed).
        let uid = UUID().uuidString.lowercased()
        var sandbox = Runtime_V1_PodSandboxConfig()
        sandbox.metadata.name = "cri-swift"
        sandbox.metadata.uid = uid
        sandbox.metadata.namespace = "default"
        sandbox.logDirectory = logDirectory + "/" + uid
        sandbox.linux.cgroupParent = "\(Containerd.cgroupRoot)/pod\(uid)"
        sandbox.linux.securityContext.namespaceOptions.network = .node
        try FileManager.default.createDirectory(atPath: sandbox.logDirectory, withIntermediateDirectories: true)

        let podID = try await cri.runPodSandbox(sandbox)
        #expect(!podID.isEmpty)
        let podStatus = try await cri.podSandboxStatus(podID)
        #expect(podStatus.status.state == .sandboxReady)
        #expect(podStatus.status.metadata.uid == uid)
        #expect(try await cri.listPodSandbox().map(\.id) == [podID])

        var container = Runtime_V1_ContainerConfig()
        container.metadata.name = "sleeper"
        container.image.image = Containerd.busyboxImage
        container.command = ["sleep", "3600"]
        container.logPath = "sleeper.log"
        let containerID = try await cri.createContainer(
            inPodSandbox: podID, config: container, sandboxConfig: sandbox)
        #expect(try await cri.containerStatus(containerID).status.state == .containerCreated)
        try await cri.startContainer(containerID)

        try await Containerd.poll("container running", timeout: 15) {
            try await cri.containerStatus(containerID).status.state == .containerRunning
        }
        let running = try await cri.containerStatus(containerID).status
        #expect(running.metadata.name == "sleeper")
        #expect(running.startedAt > 0)
        var filter = Runtime_V1_ContainerFilter()
        filter.podSandboxID = podID
        #expect(try await cri.listContainers(filter: filter).map(\.id) == [containerID])

        // SIGTERM, then SIGKILL after the grace period (busybox `sleep` dies of the SIGTERM here: exit 143).
        let stopStarted = ContinuousClock.now
        try await cri.stopContainer(containerID, gracePeriod: .seconds(1))
        #expect(ContinuousClock.now - stopStarted < .seconds(15))
        let exited = try await cri.containerStatus(containerID).status
        #expect(exited.state == .containerExited)
        #expect([128 + 15, 128 + 9].contains(exited.exitCode))   // SIGTERM or SIGKILL

        try await cri.removeContainer(containerID)
        let gone = await #expect(throws: CRIError.self) { try await cri.containerStatus(containerID) }
        #expect(gone?.isNotFound == true)

        try await cri.stopPodSandbox(podID)
        #expect(try await cri.podSandboxStatus(podID).status.state == .sandboxNotready)
        try await cri.removePodSandbox(podID)
        #expect(try await cri.listPodSandbox().isEmpty)
        let podGone = await #expect(throws: CRIError.self) { try await cri.podSandboxStatus(podID) }
        #expect(podGone?.code == .notFound)
    }
}
