import Foundation
import Testing
import TestSupport

extension EdgedWorkloadSuites {
    /// The workload features across an edged restart with the cloud away: init containers are not run again, the
    /// probes go on, events made offline reach the cloud when it returns.
    @Suite("workloads while the cloud is away", .serialized, .timeLimit(.minutes(5)))
    struct PodAutonomyTests {
        @Test("cloud gone and edged restarted: no re-run init container, no restart, probes still judged, offline events delivered")
        func autonomy() async throws {
            let stack = try await PodStack()
            let shared = try stack.sharedDirectory("autonomy")
            try "ok".write(to: shared.appendingPathComponent("ready"), atomically: true, encoding: .utf8)
            try await stack.run {
                try await stack.waitForNodeReady()
                _ = try await stack.api.ok(["apply", "-f", "-"], input: """
                    apiVersion: v1
                    kind: Pod
                    metadata: {name: steady, namespace: default}
                    spec:
                      nodeName: edge-1
                      terminationGracePeriodSeconds: 1
                      volumes: [{name: shared, hostPath: {path: \(shared.path)}}]
                      initContainers:
                      - {name: setup, image: localhost/edge/busybox:local, command: ["sh", "-c", "echo ran >> /shared/init"],
                         volumeMounts: [{name: shared, mountPath: /shared}]}
                      containers:
                      - name: main
                        image: localhost/edge/busybox:local
                        command: ["sleep", "3600"]
                        volumeMounts: [{name: shared, mountPath: /shared}]
                        readinessProbe: {exec: {command: ["cat", "/shared/ready"]}, periodSeconds: 1, failureThreshold: 1}
                    """)
                try await stack.waitFor("steady ready", timeout: 90, "pod", "steady",
                                        "{.status.containerStatuses[0].ready}") { $0 == "true" }

                // The cloud goes, then edged restarts.
                stack.link.cloudhub?.signal(SIGKILL)
                _ = await stack.link.cloudhub?.waitForExit(timeout: 10)
                try await stack.link.waitForLink("disconnected", edgeOnly: true)
                await stack.kill("edged")
                try await stack.start("edged")
                // While offline: the readiness probe starts failing (events made now wait for the link).
                try FileManager.default.removeItem(at: shared.appendingPathComponent("ready"))
                try await stack.process("edged")!.waitForLines(timeout: 30, "three failed probes offline") { lines in
                    lines.filter { $0.contains("probe failed") }.count >= 3
                }

                // The cloud returns: the offline Unhealthy event arrives, the pod shows not ready, nothing restarted.
                let reconnected = ISO8601DateFormatter().string(from: Date())
                _ = try await stack.link.startCloudhub()
                try await stack.link.waitForLink()
                try await stack.waitFor("steady not ready after the outage", timeout: 60, "pod", "steady",
                                        "{.status.containerStatuses[0].ready}") { $0 == "false" }
                try await eventually("the Unhealthy event made offline", timeout: 60) {
                    let first = (try? await stack.kubectl("get", "events", "--field-selector", "involvedObject.name=steady,reason=Unhealthy",
                                                         "-o", "jsonpath={.items[*].firstTimestamp}")) ?? ""
                    return first.split(separator: " ").contains { String($0) < reconnected }
                }
                #expect(try await stack.jsonpath("pod", "steady", "{.status.containerStatuses[0].restartCount}") == "0")
                #expect(PodStack.read("init", in: shared) == "ran", "the init container ran again")
            }
        }
    }
}
