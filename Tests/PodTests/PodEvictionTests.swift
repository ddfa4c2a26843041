import Foundation
import Testing
import TestSupport

extension EdgedWorkloadSuites {
    /// kubelet's eviction under node pressure: with a hard threshold the host is always below, the node reports
    /// MemoryPressure and its pods are evicted one per pass, BestEffort before Guaranteed.
    @Suite("eviction under node pressure", .serialized, .timeLimit(.minutes(5)))
    struct PodEvictionTests {
        @Test("MemoryPressure evicts the BestEffort pod first, then the Guaranteed one; Failed, reason Evicted, an Evicted event")
        func evictionOrder() async throws {
            let stack = try await PodStack(edgedExtra: [
                "--eviction-hard", "memory.available<1000Ti", "--eviction-interval-seconds", "4",
            ])
            try await stack.run {
                try await stack.waitFor("node MemoryPressure", timeout: 60, "node", PodStack.node,
                                        #"{.status.conditions[?(@.type=="MemoryPressure")].status}"#) { $0 == "True" }
                _ = try await stack.api.ok(["apply", "-f", "-"], input: [
                    PodStack.pod("guaranteed", ["sleep", "3600"], container: [
                        "resources: {limits: {cpu: 100m, memory: 32Mi}, requests: {cpu: 100m, memory: 32Mi}}",
                    ]),
                    PodStack.pod("besteffort", ["sleep", "3600"]),
                ].joined(separator: "---\n"))
                try await stack.waitFor("besteffort evicted", timeout: 60, "pod", "besteffort", "{.status.reason}") { $0 == "Evicted" }
                #expect(try await stack.jsonpath("pod", "guaranteed", "{.status.reason}") != "Evicted")
                #expect(try await stack.jsonpath("pod", "besteffort", "{.status.phase}") == "Failed")
                #expect(try await stack.jsonpath("pod", "besteffort", "{.status.message}").contains("low on resource: memory"))
                try await stack.waitFor("guaranteed evicted next", timeout: 60, "pod", "guaranteed", "{.status.reason}") { $0 == "Evicted" }
                try await eventually("the Evicted event", timeout: 30) {
                    ((try? await stack.kubectl("get", "events", "--field-selector", "involvedObject.name=besteffort,reason=Evicted",
                                               "-o", "name")) ?? "").contains("event")
                }
            }
        }
    }
}
