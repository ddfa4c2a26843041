import Foundation
import Testing
import TestSupport

extension EdgedWorkloadSuites {
    /// `kubectl exec` on an edge pod with no extra setup: kubectl's WebSocket (v5.channel.k8s.io) to the API server,
    /// a stream session over the link, and edged's SPDY session with containerd's CRI streaming server.
    @Suite("kubectl exec", .serialized, .timeLimit(.minutes(5)))
    struct PodExecTests {
        static let manifest = """
            apiVersion: v1
            kind: Pod
            metadata: {name: shell, namespace: default}
            spec:
              nodeName: edge-1
              terminationGracePeriodSeconds: 1
              containers:
              - {name: main, image: localhost/edge/busybox:local, command: ["sleep", "3600"]}
            """

        @Test("a command's output, its stderr and exit code, and stdin piped in")
        func exec() async throws {
            let stack = try await PodStack()
            try await stack.run {
                try await stack.waitForNodeReady()
                _ = try await stack.api.ok(["apply", "-f", "-"], input: Self.manifest)
                try await stack.waitFor("shell Running", timeout: 90, "pod", "shell", "{.status.phase}") { $0 == "Running" }

                let hostname = try await stack.api.kubectl(["exec", "shell", "--", "cat", "/etc/hostname"])
                #expect(hostname.status == 0, "\(hostname)")
                #expect(hostname.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "shell", "\(hostname)")

                let failing = try await stack.api.kubectl(["exec", "shell", "--", "sh", "-c", "echo oops >&2; exit 3"])
                #expect(failing.status == 3, "\(failing)")
                #expect(failing.stderr.contains("oops"), "\(failing)")

                let piped = try await stack.api.kubectl(["exec", "-i", "shell", "--", "cat"], input: "hi from stdin\n")
                #expect(piped.status == 0, "\(piped)")
                #expect(piped.stdout == "hi from stdin\n", "\(piped)")

                let missing = try await stack.api.kubectl(["exec", "shell", "-c", "nope", "--", "true"])
                #expect(missing.status != 0)
            }
        }
    }
}
