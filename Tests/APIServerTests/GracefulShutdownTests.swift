import EdgeProtocol
import Foundation
import Testing
import TestSupport

/// SIGTERM stops the API server the way swift-service-lifecycle's graceful shutdown promises: the listeners stop
/// taking requests, the requests in flight finish, then the store closes. A write that got its 2xx is stored.
@Suite("apiserver graceful shutdown", .serialized)
struct APIServerGracefulShutdownTests {
    @Test("SIGTERM during a burst of creates: every create answered 2xx is stored, and the process exits in its bound")
    func sigtermDuringCreates() async throws {
        let server = try await APIServerProcess()
        defer { Task { await server.stop() } }
        let (acknowledged, writers) = burstOfCreates(server, writers: 6, each: 2000)
        try await acknowledged.wait(timeout: 60, "100 acknowledged creates") { $0.count >= 100 }
        let (status, seconds) = await server.terminate()
        await writers.value
        #expect(status == 0, "a clean exit")
        #expect(seconds < 12, "exited within the drain bound (10 s): \(seconds) s")
        #expect(server.log.contains("stopped"))

        try await server.start()
        let list = try await http("GET", server.insecureURL + "/api/v1/namespaces/default/configmaps")
        let items = try JSONValue(parsing: Array(list.body.utf8))["items"]?.arrayValue ?? []
        let names = Set(items.compactMap { $0.string(at: "metadata.name") })
        let lost = acknowledged.value.subtracting(names)
        #expect(lost.isEmpty, "answered 2xx but not stored: \(lost.sorted().prefix(10))")
    }

    @Test("SIGTERM with a watch open: the watch ends and the process still exits promptly")
    func sigtermWithOpenWatch() async throws {
        let server = try await APIServerProcess()
        defer { Task { await server.stop() } }
        let watch = Task { try? await http("GET", server.insecureURL + "/api/v1/namespaces/default/configmaps?watch=1") }
        _ = try await server.ok("create", "configmap", "watched")
        let (status, seconds) = await server.terminate()
        _ = await watch.value
        #expect(status == 0)
        #expect(seconds < 3, "the watch does not hold the shutdown up: \(seconds) s")
    }
}
