import Bus
import EdgeProtocol
import Foundation
import Link
import Testing
import TestSupport

/// SIGTERM to either end of the link in the middle of a burst: the process exits cleanly within its bound, and after
/// a restart every message of the burst arrives, once each (after the receivers' de-duplication by msg_id), in order
/// per object.
@Suite("Link graceful shutdown", .serialized, .timeLimit(.minutes(3)))
struct LinkShutdownTests {
    static func terminate(_ process: ChildProcess?) async -> (status: Int32?, seconds: Double) {
        guard let process else { return (nil, 0) }
        let started = ContinuousClock.now
        process.signal(SIGTERM)
        let status = await process.waitForExit(timeout: 20)
        let elapsed = ContinuousClock.now - started
        return (status, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }

    @Test("cloudhub, then hub, stopped with SIGTERM during a burst both ways: all delivered after restarts")
    func sigtermDuringBurst() async throws {
        let harness = try await LinkHarness()
        try await harness.withLogsOnFailure {
            try await harness.startCloudhub()
            try harness.startHub(token: try harness.token)
            try await harness.waitForLink()
            let peers = try await LinkPeers(harness)
            let count = 600

            let producer = Task { try await peers.produce(0..<count, objects: 7) }
            try await peers.downstream.wait(timeout: 60, "part of the burst at the edge") {
                $0.values.reduce(0) { $0 + $1.count } >= 50
            }
            let cloudhubStop = await Self.terminate(harness.cloudhub)
            #expect(cloudhubStop.status == 0, "cloudhub exits cleanly")
            #expect(cloudhubStop.seconds < 12, "cloudhub exits within its drain bound: \(cloudhubStop.seconds) s")
            try await harness.startCloudhub()
            try await harness.waitForLink()

            try await peers.upstream.wait(timeout: 60, "more of the burst in the cloud") {
                $0.values.reduce(0) { $0 + $1.count } >= count / 2
            }
            let hubStop = await Self.terminate(harness.hub)
            #expect(hubStop.status == 0, "hub exits cleanly")
            #expect(hubStop.seconds < 12, "hub exits within its drain bound: \(hubStop.seconds) s")
            try harness.startHub(token: nil)
            try await harness.waitForLink()

            try await producer.value
            try await peers.waitForAll(count)
            #expect(peers.inOrderPerObject, "in order per object")
            // Each message once: the receivers' first sightings are exactly the messages sent.
            #expect(Set(peers.downstream.value.values.flatMap { $0 }).count == count)
            #expect(Set(peers.upstream.value.values.flatMap { $0 }).count == count)
            await peers.stop()
        }
    }
}
