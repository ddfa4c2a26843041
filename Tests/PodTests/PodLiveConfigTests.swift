import Foundation
import Testing
import TestSupport

extension EdgedWorkloadSuites {
    /// A ConfigMap or Secret mounted as a volume follows its edits while the container runs, swapped atomically as
    /// kubelet does; a `subPath` mount keeps the file it started with (as on Kubernetes); no restart.
    @Suite("live configMap and secret volumes", .serialized, .timeLimit(.minutes(5)))
    struct PodLiveConfigTests {
        static func manifests(shared: String) -> String {
            """
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: live-config, namespace: default}
            data: {greeting: hello-1}
            ---
            apiVersion: v1
            kind: Secret
            metadata: {name: live-secret, namespace: default}
            stringData: {token: secret-1}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: reader, namespace: default}
            spec:
              nodeName: edge-1
              terminationGracePeriodSeconds: 1
              volumes:
              - {name: cfg, configMap: {name: live-config}}
              - {name: sec, secret: {secretName: live-secret}}
              - {name: shared, hostPath: {path: \(shared)}}
              containers:
              - name: main
                image: localhost/edge/busybox:local
                # What the container itself reads, copied out every 0.2 s.
                command: ["sh", "-c", "while true; do cat /etc/app/greeting > /shared/greeting.tmp && mv /shared/greeting.tmp /shared/greeting; cat /etc/sec/token > /shared/token.tmp && mv /shared/token.tmp /shared/token; cat /etc/pinned > /shared/pinned.tmp && mv /shared/pinned.tmp /shared/pinned; sleep 0.2; done"]
                volumeMounts:
                - {name: cfg, mountPath: /etc/app}
                - {name: sec, mountPath: /etc/sec}
                - {name: cfg, mountPath: /etc/pinned, subPath: greeting}
                - {name: shared, mountPath: /shared}
            """
        }

        @Test("kubectl edit of a ConfigMap (and a patched Secret) reaches the running container's files; a subPath mount keeps its file; no restart")
        func liveUpdates() async throws {
            let stack = try await PodStack()
            let shared = try stack.sharedDirectory("live")
            func read(_ name: String) -> String { PodStack.read(name, in: shared) }
            try await stack.run {
                try await stack.waitForNodeReady()
                _ = try await stack.api.ok(["apply", "-f", "-"], input: Self.manifests(shared: shared.path))
                try await stack.waitFor("reader Running", timeout: 90, "pod", "reader", "{.status.phase}") { $0 == "Running" }
                try await eventually("the first values inside the container", timeout: 30) {
                    read("greeting") == "hello-1" && read("token") == "secret-1" && read("pinned") == "hello-1"
                }

                // kubectl edit, as a person would (the editor is sed).
                _ = try await stack.api.ok("edit", "configmap", "live-config",
                                           environment: ["KUBE_EDITOR": "sed -i s/hello-1/hello-2/"])
                _ = try await stack.kubectl("patch", "secret", "live-secret", "--type=merge", "-p", #"{"stringData":{"token":"secret-2"}}"#)
                try await eventually("the edits inside the running container", timeout: 30) {
                    read("greeting") == "hello-2" && read("token") == "secret-2"
                }
                #expect(read("pinned") == "hello-1")  // subPath: unchanged, as on Kubernetes
                #expect(try await stack.jsonpath("pod", "reader", "{.status.containerStatuses[0].restartCount}") == "0")
            }
        }
    }
}
