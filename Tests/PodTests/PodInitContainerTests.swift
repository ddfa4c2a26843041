import Foundation
import Testing
import TestSupport

/// The edged workload suites (init containers, hooks, live volumes, downward API), one pod stack at a time: each
/// starts its own containerd and cloud, and several at once crowd the test process and the 2 cores of CI.
@Suite("edged workloads, one stack at a time", .serialized)
struct EdgedWorkloadSuites {}

extension EdgedWorkloadSuites {
    /// Init containers as kubelet runs them, on a real containerd: in order, each to completion, before the app
    /// containers; a failing one restarted per the pod's policy (OnFailure) or failing the pod (Never).
    @Suite("pod init containers", .serialized, .timeLimit(.minutes(5)))
    struct PodInitContainerTests {
        static func pods(shared: String) -> String {
            """
            apiVersion: v1
            kind: Pod
            metadata: {name: initialized, namespace: default}
            spec:
              nodeName: edge-1
              restartPolicy: OnFailure
              terminationGracePeriodSeconds: 1
              volumes: [{name: shared, hostPath: {path: \(shared)}}]
              initContainers:
              - name: first
                image: localhost/edge/busybox:local
                command: ["sh", "-c", "echo first >> /shared/order; sleep 2"]
                volumeMounts: [{name: shared, mountPath: /shared}]
              # Fails once (no marker yet), then succeeds: restarted because of OnFailure.
              - name: second
                image: localhost/edge/busybox:local
                command: ["sh", "-c", "if [ -f /shared/tried ]; then echo second >> /shared/order; else touch /shared/tried; exit 3; fi"]
                volumeMounts: [{name: shared, mountPath: /shared}]
              containers:
              - name: app
                image: localhost/edge/busybox:local
                command: ["sh", "-c", "echo app >> /shared/order; exec sleep 3600"]
                volumeMounts: [{name: shared, mountPath: /shared}]
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: never-initialized, namespace: default}
            spec:
              nodeName: edge-1
              restartPolicy: Never
              terminationGracePeriodSeconds: 1
              initContainers:
              - {name: broken, image: localhost/edge/busybox:local, command: ["sh", "-c", "exit 7"]}
              containers:
              - {name: app, image: localhost/edge/busybox:local, command: ["sleep", "3600"]}
            """
        }

        @Test("in order to completion before the app; a failed one restarted (OnFailure) or failing the pod (Never)")
        func initContainers() async throws {
            let stack = try await PodStack()
            let shared = stack.directory.appendingPathComponent("shared")
            try FileManager.default.createDirectory(at: shared, withIntermediateDirectories: true)
            try await stack.run {
                try await stack.waitForNodeReady()
                _ = try await stack.api.ok(["apply", "-f", "-"], input: Self.pods(shared: shared.path))

                // While the first runs: Pending, not Initialized, the app waiting.
                try await stack.waitFor("initializing", "pod", "initialized",
                                        #"{.status.phase} {.status.conditions[?(@.type=="Initialized")].status} {.status.containerStatuses[0].state.waiting.reason}"#) {
                    $0 == "Pending False PodInitializing"
                }
                try await stack.waitFor("initialized Running", timeout: 90, "pod", "initialized", "{.status.phase}") { $0 == "Running" }
                let order = try String(contentsOf: shared.appendingPathComponent("order"), encoding: .utf8)
                #expect(order.split(separator: "\n") == ["first", "second", "app"], "\(order)")
                #expect(try await stack.jsonpath("pod", "initialized", #"{.status.conditions[?(@.type=="Initialized")].status}"#) == "True")
                #expect(try await stack.jsonpath("pod", "initialized", "{.status.initContainerStatuses[*].state.terminated.reason}")
                        == "Completed Completed")
                #expect(try await stack.jsonpath("pod", "initialized", "{.status.initContainerStatuses[1].restartCount}") == "1")
                #expect(try await stack.jsonpath("pod", "initialized", "{.status.initContainerStatuses[*].ready}") == "true true")
                // The first init container ended before the second started; the app after both.
                let firstEnd = try await stack.jsonpath("pod", "initialized", "{.status.initContainerStatuses[0].state.terminated.finishedAt}")
                let appStart = try await stack.jsonpath("pod", "initialized", "{.status.containerStatuses[0].state.running.startedAt}")
                #expect(firstEnd <= appStart)

                // restartPolicy Never: the failed init container fails the pod; the app never starts.
                try await stack.waitFor("never-initialized Failed", timeout: 90, "pod", "never-initialized", "{.status.phase}") { $0 == "Failed" }
                #expect(try await stack.jsonpath("pod", "never-initialized", "{.status.initContainerStatuses[0].state.terminated.exitCode}") == "7")
                #expect(try await stack.jsonpath("pod", "never-initialized", "{.status.containerStatuses[0].state.waiting.reason}") == "PodInitializing")
                // kubectl's STATUS column reads the init containers as kube's printer does.
                let listed = try await stack.kubectl("get", "pod", "never-initialized")
                #expect(listed.contains("Init:Error") || listed.contains("Init:ExitCode:7"), "\(listed)")
            }
        }
    }
}
