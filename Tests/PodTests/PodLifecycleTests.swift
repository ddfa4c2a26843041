import Foundation
import Testing
import TestSupport

extension EdgedWorkloadSuites {
    /// Container lifecycle as kubelet runs it, on a real containerd: postStart before the container counts as started,
    /// preStop before SIGTERM on deletion, SIGKILL when the grace period is over.
    @Suite("pod lifecycle hooks and termination", .serialized, .timeLimit(.minutes(5)))
    struct PodLifecycleTests {
        static func pods(shared: String) -> String {
            """
            apiVersion: v1
            kind: Pod
            metadata: {name: hooked, namespace: default}
            spec:
              nodeName: edge-1
              terminationGracePeriodSeconds: 10
              volumes: [{name: shared, hostPath: {path: \(shared)}}]
              containers:
              - name: main
                image: localhost/edge/busybox:local
                # Records SIGTERM and exits on it.
                command: ["sh", "-c", "trap 'echo sigterm >> /shared/events; exit 0' TERM; echo main >> /shared/events; while true; do sleep 0.2; done"]
                volumeMounts: [{name: shared, mountPath: /shared}]
                lifecycle:
                  postStart: {exec: {command: ["sh", "-c", "echo postStart >> /shared/events"]}}
                  preStop: {exec: {command: ["sh", "-c", "echo preStop >> /shared/events; sleep 1"]}}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: stubborn, namespace: default}
            spec:
              nodeName: edge-1
              terminationGracePeriodSeconds: 2
              containers:
              # Ignores SIGTERM: only SIGKILL after the grace period ends it.
              - {name: main, image: localhost/edge/busybox:local, command: ["sh", "-c", "trap '' TERM; while true; do sleep 0.2; done"]}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: bad-hook, namespace: default}
            spec:
              nodeName: edge-1
              restartPolicy: Never
              terminationGracePeriodSeconds: 1
              containers:
              - name: main
                image: localhost/edge/busybox:local
                command: ["sleep", "3600"]
                lifecycle: {postStart: {exec: {command: ["sh", "-c", "exit 4"]}}}
            """
        }

        @Test("postStart runs at start; on delete preStop runs before SIGTERM; a process ignoring SIGTERM is killed after the grace period; a failing postStart kills the container")
        func lifecycle() async throws {
            let stack = try await PodStack()
            let shared = stack.directory.appendingPathComponent("hooks")
            try FileManager.default.createDirectory(at: shared, withIntermediateDirectories: true)
            let events = shared.appendingPathComponent("events")
            func lines() -> [String] {
                ((try? String(contentsOf: events, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
            }
            try await stack.run {
                try await stack.waitForNodeReady()
                _ = try await stack.api.ok(["apply", "-f", "-"], input: Self.pods(shared: shared.path))
                try await stack.waitFor("hooked Running", timeout: 90, "pod", "hooked", "{.status.phase}") { $0 == "Running" }
                try await eventually("postStart ran", timeout: 30) { lines().contains("postStart") }
                try await stack.waitFor("stubborn Running", timeout: 90, "pod", "stubborn", "{.status.phase}") { $0 == "Running" }

                // Deletion: preStop, then SIGTERM, and the pod goes.
                _ = try await stack.kubectl("delete", "pod", "hooked", "--wait=false")
                try await eventually("hooked gone", timeout: 60) {
                    !(try await stack.kubectl("get", "pods", "-o", "name")).contains("pod/hooked")
                }
                let seen = lines()
                let preStop = try #require(seen.firstIndex(of: "preStop"), "\(seen)")
                let term = try #require(seen.firstIndex(of: "sigterm"), "\(seen)")
                #expect(preStop < term, "\(seen)")

                // SIGTERM ignored: the grace period (2 s) ends with SIGKILL and the pod goes.
                _ = try await stack.kubectl("delete", "pod", "stubborn", "--wait=false")
                try await eventually("stubborn gone", timeout: 60) {
                    !(try await stack.kubectl("get", "pods", "-o", "name")).contains("pod/stubborn")
                }

                // A failing postStart: the container is killed; with restartPolicy Never the pod fails.
                try await stack.waitFor("bad-hook Failed", timeout: 90, "pod", "bad-hook", "{.status.phase}") { $0 == "Failed" }
            }
        }
    }
}
