import Foundation
import Testing
import TestSupport

extension EdgedWorkloadSuites {
    /// Static pods (kubelet's staticPodPath, `--pod-manifest-path`): they run on the node with no cloud at all, and
    /// appear in the API as mirror pods once the node is connected.
    @Suite("static pods", .serialized, .timeLimit(.minutes(5)))
    struct PodStaticTests {
        @Test("a static pod runs with the cloud absent from the start, then shows in kubectl get pods once connected")
        func staticPod() async throws {
            let manifests = try TemporaryDirectory.make(prefix: "static-pods")
            defer { try? FileManager.default.removeItem(at: manifests) }
            let shared = try TemporaryDirectory.make(prefix: "static-shared")
            defer { try? FileManager.default.removeItem(at: shared) }
            try """
                apiVersion: v1
                kind: Pod
                metadata: {name: watchdog, namespace: kube-system, labels: {app: watchdog}}
                spec:
                  terminationGracePeriodSeconds: 1
                  volumes: [{name: shared, hostPath: {path: \(shared.path)}}]
                  containers:
                  - name: main
                    image: localhost/edge/busybox:local
                    command: ["sh", "-c", "while true; do date +%s > /shared/alive; sleep 0.5; done"]
                    volumeMounts: [{name: shared, mountPath: /shared}]
                """.write(to: manifests.appendingPathComponent("watchdog.yaml"), atomically: true, encoding: .utf8)
            try "not: [a pod".write(to: manifests.appendingPathComponent("broken.yaml"), atomically: true, encoding: .utf8)
            let stack = try await PodStack(edgedExtra: ["--pod-manifest-path", manifests.path, "--static-pod-check-seconds", "1"],
                                           cloudAbsentAtStart: true)
            try await stack.run {
                // No cloud: the static pod runs anyway.
                try await eventually("the static pod runs with no cloud", timeout: 60) {
                    !PodStack.read("alive", in: shared).isEmpty
                }
                try await stack.process("edged")!.waitForLine(containing: "static pod manifest skipped", timeout: 10)
                #expect((try? await stack.kubectl("get", "pod", "-n", "kube-system", "watchdog-edge-1", "-o", "name")) == nil)

                // The cloud comes: the mirror pod appears, with the static pod's status.
                _ = try await stack.link.startCloudhub()
                try await stack.link.waitForLink()
                try await eventually("the mirror pod Running in the API", timeout: 90) {
                    ((try? await stack.kubectl("get", "pod", "-n", "kube-system", "watchdog-edge-1", "-o",
                                              "jsonpath={.status.phase}")) ?? "") == "Running"
                }
                let annotations = try await stack.kubectl("get", "pod", "-n", "kube-system", "watchdog-edge-1", "-o",
                                                          "jsonpath={.metadata.annotations}")
                #expect(annotations.contains("kubernetes.io/config.mirror") && annotations.contains("\"file\""), "\(annotations)")
                // Deleting the mirror pod does not stop the static pod; its mirror comes back.
                _ = try await stack.kubectl("delete", "pod", "-n", "kube-system", "watchdog-edge-1", "--wait=false")
                try await eventually("the mirror pod made again", timeout: 90) {
                    let out = (try? await stack.kubectl("get", "pod", "-n", "kube-system", "watchdog-edge-1", "-o",
                                                        "jsonpath={.metadata.deletionTimestamp}/{.status.phase}")) ?? ""
                    return out == "/Running"
                }
                let before = PodStack.read("alive", in: shared)
                try await eventually("the static pod still running", timeout: 10) { PodStack.read("alive", in: shared) != before }
            }
        }
    }
}
