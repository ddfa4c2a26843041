import Foundation
import Testing
import TestSupport

extension EdgedWorkloadSuites {
    /// Image garbage collection as kubelet does it: over the high threshold, unused images go (least recently used
    /// first); images in use and the sandbox image stay.
    @Suite("image garbage collection", .serialized, .timeLimit(.minutes(5)))
    struct PodImageGCTests {
        @Test("with the thresholds at 0 an unused image is removed once old enough; the running pod's image and the sandbox image stay")
        func unusedImagesGo() async throws {
            let stack = try await PodStack(edgedExtra: [
                "--image-gc-high-threshold", "0", "--image-gc-low-threshold", "0",
                // Images edged has known for 15 s may go: the pod's image is in use by then, the spare one is not.
                "--image-gc-minimum-age-seconds", "15", "--image-gc-period-seconds", "1",
            ])
            try await stack.run {
                try await stack.waitForNodeReady()
                _ = try await stack.api.ok(["apply", "-f", "-"], input: PodStack.pod("keeper", ["sleep", "3600"]))
                try await stack.waitFor("keeper Running", timeout: 90, "pod", "keeper", "{.status.phase}") { $0 == "Running" }
                try stack.containerd.importImage("localhost/edge/spare:1", command: ["true"])
                #expect(try stack.containerd.imageReferences().contains("localhost/edge/spare:1"))
                try await eventually("the unused image removed", timeout: 60) {
                    !((try? stack.containerd.imageReferences()) ?? ["localhost/edge/spare:1"]).contains("localhost/edge/spare:1")
                }
                let left = try stack.containerd.imageReferences()
                #expect(left.contains(Containerd.busyboxImage) && left.contains(Containerd.pauseImage), "\(left)")
                #expect(try await stack.jsonpath("pod", "keeper", "{.status.phase}") == "Running")
            }
        }
    }
}
