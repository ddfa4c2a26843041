import Bus
import EdgeProtocol
import Foundation
import Link
import Logging
import TestSupport

/// Stand-ins for the modules at both ends of the link: on the edge bus a "meta" that ACKs every cloud message it gets
/// (as KubeEdge's metamanager does once it has stored it), on the cloud bus an "edgecontroller" that takes what the
/// edge sends. Both drop duplicates by msg_id and record, per object, the sequence numbers in arrival order.
final class LinkPeers: Sendable {
    let harness: LinkHarness
    let edgeBus: BusClient
    let cloudBus: BusClient
    /// resource → resourceVersions received at the edge.
    let downstream = Watched<[String: [Int]]>([:])
    /// resource → sequence numbers received in the cloud.
    let upstream = Watched<[String: [Int]]>([:])
    /// Upstream messages received in the cloud, duplicates included.
    let upstreamCopies = Watched(0)
    private let tasks: [Task<Void, any Error>]

    /// `acknowledges`: whether the fake meta ACKs a message (by default every one).
    init(_ harness: LinkHarness, acknowledges: @escaping @Sendable (Message) -> Bool = { _ in true }) async throws {
        self.harness = harness
        let edgeBus = try await harness.client(harness.edgeBroker, "fake-meta")
        try await edgeBus.subscribe([Topics.down(module: "meta")])
        let cloudBus = try await harness.client(harness.cloudBroker, "fake-edgecontroller")
        try await cloudBus.subscribe([Topics.fromNode(harness.node, module: "edgecontroller")])
        self.edgeBus = edgeBus
        self.cloudBus = cloudBus
        let downstream = self.downstream, upstream = self.upstream, upstreamCopies = self.upstreamCopies
        tasks = [
            Task {
                var seen = Set<String>()
                for await delivered in edgeBus.messages {
                    guard let message = try? MessageCodec.decode(delivered.payload) else { continue }
                    if acknowledges(message) {
                        try await edgeBus.publish(Topics.up, message.ack())  // duplicates are ACKed again
                    }
                    guard seen.insert(message.header.id).inserted else { continue }
                    let rv = Int(message.header.resourceVersion) ?? -1
                    downstream.update { $0[message.route.resource, default: []].append(rv) }
                }
            },
            Task {
                var seen = Set<String>()
                for await delivered in cloudBus.messages {
                    upstreamCopies.update { $0 += 1 }
                    guard let message = try? MessageCodec.decode(delivered.payload),
                          seen.insert(message.header.id).inserted else { continue }
                    let seq = message.content.int64Value.map(Int.init) ?? -1
                    upstream.update { $0[message.route.resource, default: []].append(seq) }
                }
            },
        ]
    }

    /// For each n: an ACK-class update of configmap cm-(n % objects) with resourceVersion n+1 from the cloud, and a
    /// pod status patch for pod p-(n % objects) carrying n from the edge.
    func produce(_ range: Range<Int>, objects: Int) async throws {
        for n in range {
            try await cloudBus.publish(Topics.toNode(harness.node), Message(
                source: "edgecontroller", group: "resource", operation: "update",
                resource: "default/configmap/cm-\(n % objects)", content: RawJSON(string: "v\(n)"),
                resourceVersion: "\(n + 1)"))
            try await edgeBus.publish(Topics.up, Message(
                source: "edged", group: "meta", operation: "patch", resource: "default/podpatch/p-\(n % objects)",
                content: RawJSON(integer: Int64(n))))
        }
    }

    func waitForAll(_ count: Int, timeout: Double = 120) async throws {
        try await downstream.wait(timeout: timeout, "\(count) messages at the edge") {
            $0.values.reduce(0) { $0 + $1.count } == count
        }
        try await upstream.wait(timeout: timeout, "\(count) messages in the cloud") {
            $0.values.reduce(0) { $0 + $1.count } == count
        }
    }

    var inOrderPerObject: Bool {
        downstream.value.values.allSatisfy { $0 == $0.sorted() } && upstream.value.values.allSatisfy { $0 == $0.sorted() }
    }

    func stop() async {
        for task in tasks { task.cancel() }
        await edgeBus.close()
        await cloudBus.close()
    }
}
