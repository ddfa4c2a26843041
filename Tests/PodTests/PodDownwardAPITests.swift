import Foundation
import Testing
import TestSupport

extension EdgedWorkloadSuites {
    /// The downward API and projected volumes on a real containerd: env from fieldRef and resourceFieldRef, a
    /// downwardAPI volume that follows label changes, a projected volume of a configMap and pod fields.
    @Suite("downward API and projected volumes", .serialized, .timeLimit(.minutes(5)))
    struct PodDownwardAPITests {
        static func manifests(shared: String) -> String {
            """
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: projected-config, namespace: default}
            data: {mode: fast}
            ---
            apiVersion: v1
            kind: Pod
            metadata:
              name: downward
              namespace: default
              labels: {tier: edge}
              annotations: {owner: team-a}
            spec:
              nodeName: edge-1
              terminationGracePeriodSeconds: 1
              volumes:
              - name: shared
                hostPath: {path: \(shared)}
              - name: podinfo
                downwardAPI:
                  items:
                  - {path: labels, fieldRef: {fieldPath: metadata.labels}}
                  - {path: cpu-millis, resourceFieldRef: {containerName: main, resource: limits.cpu, divisor: 1m}}
              - name: bundle
                projected:
                  sources:
                  - configMap: {name: projected-config}
                  - downwardAPI: {items: [{path: namespace, fieldRef: {fieldPath: metadata.namespace}}]}
              containers:
              - name: main
                image: localhost/edge/busybox:local
                resources: {limits: {cpu: 250m, memory: 64Mi}}
                env:
                - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
                - {name: TIER, valueFrom: {fieldRef: {fieldPath: "metadata.labels['tier']"}}}
                - {name: OWNER, valueFrom: {fieldRef: {fieldPath: "metadata.annotations['owner']"}}}
                - {name: MEM_MI, valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}}
                command: ["sh", "-c", "echo $POD_NAME $TIER $OWNER $MEM_MI > /shared/env; while true; do cp /etc/podinfo/labels /shared/labels.tmp && mv /shared/labels.tmp /shared/labels; cat /etc/podinfo/cpu-millis > /shared/cpu; cat /etc/bundle/mode /etc/bundle/namespace > /shared/bundle; sleep 0.2; done"]
                volumeMounts:
                - {name: shared, mountPath: /shared}
                - {name: podinfo, mountPath: /etc/podinfo}
                - {name: bundle, mountPath: /etc/bundle}
            """
        }

        @Test("env fields and resources; downwardAPI and projected volumes; labels followed live")
        func downward() async throws {
            // KubeEdge's default memory threshold, so that allocatable is computed from it (not the stack's 1Ki).
            let stack = try await PodStack(edgedExtra: ["--eviction-hard", "memory.available<100Mi"])
            let shared = try stack.sharedDirectory("downward")
            func read(_ name: String) -> String { PodStack.read(name, in: shared) }
            try await stack.run {
                try await stack.waitForNodeReady()
                // The node's allocatable memory is its capacity less KubeEdge's default hard eviction threshold (100Mi),
                // and the host's pressure conditions are reported.
                let capacity = try await stack.jsonpath("node", PodStack.node, "{.status.capacity.memory}")
                let allocatable = try await stack.jsonpath("node", PodStack.node, "{.status.allocatable.memory}")
                #expect(Int(capacity.dropLast(2)).map { "\($0 - 102_400)Ki" } == allocatable, "\(capacity) \(allocatable)")
                #expect(try await stack.jsonpath("node", PodStack.node, #"{.status.conditions[?(@.type=="MemoryPressure")].reason}"#)
                        .hasPrefix("KubeletHas"))
                _ = try await stack.api.ok(["apply", "-f", "-"], input: Self.manifests(shared: shared.path))
                try await stack.waitFor("downward Running", timeout: 90, "pod", "downward", "{.status.phase}") { $0 == "Running" }
                try await eventually("the container wrote what it sees", timeout: 30) { !read("bundle").isEmpty && !read("labels").isEmpty }
                #expect(read("env") == "downward edge team-a 64")
                #expect(read("cpu") == "250")
                #expect(read("bundle") == "fastdefault")  // the files hold the values without a newline, as on Kubernetes
                #expect(read("labels") == #"tier="edge""#)
                // A new label reaches the downwardAPI file in the running container.
                _ = try await stack.kubectl("label", "pod", "downward", "stage=beta")
                try await eventually("the new label inside the container", timeout: 30) {
                    read("labels") == "stage=\"beta\"\ntier=\"edge\""
                }
            }
        }
    }
}
