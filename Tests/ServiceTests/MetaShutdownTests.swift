import Bus
import EdgeProtocol
import Foundation
import Logging
import Testing
import TestSupport

/// SIGTERM to meta while it stores a burst of cloud objects: it finishes the message in hand (stored, then ACKed),
/// exits within its bound, and after a restart every object of the burst is stored and ACKed: what it had not taken
/// yet waited in its broker session.
@Suite("meta graceful shutdown", .serialized, .timeLimit(.minutes(2)))
struct MetaShutdownTests {
    @Test("SIGTERM mid-store: every object ends up stored and ACKed after a restart")
    func sigtermMidStore() async throws {
        let broker = try await Broker()
        let directory = try TemporaryDirectory.make(prefix: "meta-shutdown")
        defer { try? FileManager.default.removeItem(at: directory) }
        func startMeta() async throws -> ChildProcess {
            let process = try ChildProcess(try Executables.product("meta"), [
                "--broker", broker.address, "--node-name", "edge-1", "--data-dir", directory.path,
                "--metaserver-address", "",
            ])
            try await process.waitForLine(containing: "serving", timeout: 30)
            return process
        }
        let meta = try await startMeta()
        let client = try BusClient(BusConfiguration(endpoint: try BusEndpoint(parsing: broker.address), clientID: "cloud-side"),
                                   logger: Logger(label: "test"))
        try client.start()
        try await client.waitUntilConnected()
        try await client.subscribe([Topics.up])
        let acked = Watched<Set<String>>([])
        let reader = Task {
            for await message in client.messages {
                guard let ack = try? MessageCodec.decode(message.payload), ack.route.operation == "response" else { continue }
                acked.update { $0.insert(ack.header.parentID) }
            }
        }
        let count = 400
        var ids: [String] = []
        for n in 0..<count {
            let configMap = #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm-\#(n)","namespace":"default","uid":"u-\#(n)","resourceVersion":"\#(n + 1)"},"data":{"k":"\#(n)"}}"#
            let message = Message(source: "edgecontroller", group: "resource", operation: "insert",
                                  resource: "default/configmap/cm-\(n)", content: try RawJSON(validating: Array(configMap.utf8)),
                                  resourceVersion: "\(n + 1)")
            ids.append(message.header.id)
            try await client.publish(Topics.down(.meta), message)
        }
        try await acked.wait(timeout: 60, "meta storing the burst") { $0.count >= 20 }
        let started = ContinuousClock.now
        meta.signal(SIGTERM)
        let status = await meta.waitForExit(timeout: 20)
        let elapsed = ContinuousClock.now - started
        #expect(status == 0, "meta exits cleanly")
        #expect(elapsed < .seconds(12), "meta exits within its drain bound: \(elapsed)")
        let beforeRestart = acked.value.count

        let again = try await startMeta()
        let all = Set(ids)
        try await acked.wait(timeout: 60, "every object stored and ACKed") { all.isSubset(of: $0) }
        #expect(beforeRestart < count || beforeRestart == count)
        again.signal(SIGTERM)
        #expect(await again.waitForExit(timeout: 20) == 0)
        reader.cancel()
        await client.close()
        await broker.stop()
    }
}
