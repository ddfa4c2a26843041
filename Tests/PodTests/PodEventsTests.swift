import Foundation
import Testing
import TestSupport

extension EdgedWorkloadSuites {
    /// edged records kubelet's events and sends them through meta and the link; `kubectl describe pod` and
    /// `kubectl get events` show them.
    @Suite("pod events", .serialized, .timeLimit(.minutes(5)))
    struct PodEventsTests {
        static let manifests = [
            PodStack.pod("normal", ["sleep", "3600"]),
            PodStack.pod("ghost", ["sleep", "3600"]).replacingOccurrences(
                of: Containerd.busyboxImage, with: "localhost/edge/does-not-exist:1"),
            PodStack.pod("sick", ["sleep", "3600"], container: [
                "livenessProbe:", "  exec: {command: [\"cat\", \"/tmp/healthy\"]}", "  periodSeconds: 1", "  failureThreshold: 2",
            ]),
        ].joined(separator: "---\n")

        func reasons(_ stack: PodStack, _ pod: String) async -> [String] {
            let out = (try? await stack.kubectl("get", "events", "--field-selector", "involvedObject.name=\(pod)",
                                                "-o", "jsonpath={.items[*].reason}")) ?? ""
            return out.split(separator: " ").map(String.init)
        }

        @Test("a normal start, an image that does not exist (Failed, BackOff), a failing probe (Unhealthy, Killing)")
        func events() async throws {
            let stack = try await PodStack()
            try await stack.run {
                try await stack.waitForNodeReady()
                _ = try await stack.api.ok(["apply", "-f", "-"], input: Self.manifests)
                try await eventually("the normal start's events", timeout: 60) {
                    Set(await reasons(stack, "normal")).isSuperset(of: ["Pulled", "Created", "Started"])
                }
                let described = try await stack.kubectl("describe", "pod", "normal")
                #expect(described.contains("Started container main"), "\(described)")
                #expect(described.contains(#"Container image "localhost/edge/busybox:local" already present on machine"#))

                try await eventually("the missing image's events", timeout: 60) {
                    Set(await reasons(stack, "ghost")).isSuperset(of: ["Failed", "BackOff"])
                }
                let ghost = try await stack.kubectl("describe", "pod", "ghost")
                #expect(ghost.contains("Error: ErrImagePull") || ghost.contains("Error: ImagePullBackOff"), "\(ghost)")

                try await eventually("the failing probe's events", timeout: 60) {
                    Set(await reasons(stack, "sick")).isSuperset(of: ["Unhealthy", "Killing"])
                }
                let sick = try await stack.kubectl("describe", "pod", "sick")
                #expect(sick.contains("Liveness probe failed"), "\(sick)")
                // Repeats raise the count of one Event instead of adding Events (kubelet's aggregation).
                try await eventually("a repeated Unhealthy counted", timeout: 60) {
                    let counts = (try? await stack.kubectl(
                        "get", "events", "--field-selector", "involvedObject.name=sick,reason=Unhealthy",
                        "-o", "jsonpath={.items[*].count}")) ?? ""
                    return counts.split(separator: " ").contains { (Int($0) ?? 0) >= 2 }
                }
            }
        }
    }
}
