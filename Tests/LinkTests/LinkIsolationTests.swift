import Bus
import EdgeProtocol
import Foundation
import Link
import Testing
import TestSupport

/// One bad message never stops a node (issue: an undeliverable message wedged a node's downstream), and hub against
/// a cloud that does not speak our acknowledgement extension. cloudhub, hub and both brokers are real processes; the
/// edge's "meta" and the cloud's "edgecontroller" are test subscribers (`LinkPeers`).
@Suite("Link isolation", .serialized, .timeLimit(.minutes(3)))
struct LinkIsolationTests {
    /// Collects the JSON records published on a topic.
    final class Records: Sendable {
        let seen = Watched<[JSONValue]>([])
        let latest = Watched<String>("")
        private let task: Task<Void, Never>
        private let client: BusClient

        init(_ harness: LinkHarness, _ broker: Broker, _ topic: String) async throws {
            client = try await harness.client(broker, "records-\(UUID().uuidString.prefix(6))")
            try await client.subscribe([topic])
            let seen = self.seen, latest = self.latest, client = self.client
            task = Task {
                for await message in client.messages {
                    latest.update { $0 = message.text }
                    if let value = try? JSONValue(parsing: message.payload) { seen.update { $0.append(value) } }
                }
            }
        }

        func stop() async {
            task.cancel()
            await client.close()
        }
    }

    static func configMapUpdate(_ name: String, version: Int) -> Message {
        Message(source: "edgecontroller", group: "resource", operation: "update", resource: "default/configmap/\(name)",
                content: RawJSON(string: "v\(version)"), resourceVersion: "\(version)")
    }

    @Test("a cloud message no edge module takes is refused by hub and dead-lettered by cloudhub; everything after it, for the same object too, is delivered")
    func unroutableMessage() async throws {
        let harness = try await LinkHarness()
        try await harness.withLogsOnFailure {
            try await harness.startCloudhub(extra: ["--backlog-interval-ms", "100"])
            let hub = try harness.startHub(token: try harness.token)
            try await harness.waitForLink()
            let peers = try await LinkPeers(harness)
            let deadLetters = try await Records(harness, harness.cloudBroker, Topics.cloudhubDeadLetter)
            let backlog = try await Records(harness, harness.cloudBroker, Topics.cloudhubBacklog)
            let hubBacklog = try await Records(harness, harness.edgeBroker, Topics.hubBacklog)

            try await peers.cloudBus.publish(Topics.toNode(harness.node), Self.configMapUpdate("cm-0", version: 1))
            // What edgecontroller used to send while the API server was down: an error reply that kept the request's
            // group `meta`, for the same object as the messages around it.
            let poison = Message(source: "edgecontroller", group: "meta", operation: "error",
                                 resource: "default/configmap/cm-0", content: RawJSON(string: "API server unavailable"),
                                 parentID: "request-1")
            try await peers.cloudBus.publish(Topics.toNode(harness.node), poison)
            for version in 2...20 {
                try await peers.cloudBus.publish(Topics.toNode(harness.node),
                                                 Self.configMapUpdate("cm-\(version % 3)", version: version))
            }
            try await peers.downstream.wait(timeout: 30, "all 20 configmap updates at the edge") {
                $0.values.reduce(0) { $0 + $1.count } == 20
            }
            #expect(peers.inOrderPerObject)

            try await deadLetters.seen.wait(timeout: 30, "the poison message in the dead letters") { !$0.isEmpty }
            let record = try #require(deadLetters.seen.value.first)
            #expect(record["msg_id"]?.stringValue == poison.header.id)
            #expect(record["node"]?.stringValue == harness.node)
            #expect(record["group"]?.stringValue == "meta")
            #expect(record["reason"]?.stringValue?.contains("no edge module takes group 'meta'") == true)
            try await backlog.latest.wait(timeout: 30, "backlog with one dead letter and nothing waiting") {
                $0 == #"{"deadLetters":{"\#(harness.node)":1}}"#
            }
            try await hubBacklog.latest.wait(timeout: 30, "hub counts the refused message") { $0.contains(#""unroutable":1"#) }
            try await hub.waitForLine(containing: "refused a cloud message no edge module takes")

            let outbox = try DurableQueue(path: harness.outboxPath, limit: 10)
            let kept = try outbox.deadLetters(harness.node)
            #expect(kept.map(\.msgID) == [poison.header.id])
            #expect(try MessageCodec.decode(try #require(kept.first).payload).route.group == "meta")
            for records in [deadLetters, backlog, hubBacklog] { await records.stop() }
            await peers.stop()
        }
    }

    @Test("an object the edge never acknowledges is dead-lettered after its sends; other objects are delivered meanwhile")
    func neverAcknowledged() async throws {
        let harness = try await LinkHarness()
        try await harness.withLogsOnFailure {
            let cloudhub = try await harness.startCloudhub(extra: ["--resend-after-ms", "300", "--max-sends", "3"])
            try harness.startHub(token: try harness.token)
            try await harness.waitForLink()
            let peers = try await LinkPeers(harness) { $0.route.resource != "default/configmap/stuck" }
            let deadLetters = try await Records(harness, harness.cloudBroker, Topics.cloudhubDeadLetter)

            let stuck = Self.configMapUpdate("stuck", version: 1)
            try await peers.cloudBus.publish(Topics.toNode(harness.node), stuck)
            try await peers.cloudBus.publish(Topics.toNode(harness.node), Self.configMapUpdate("stuck", version: 2))
            for version in 3...42 {
                try await peers.cloudBus.publish(Topics.toNode(harness.node),
                                                 Self.configMapUpdate("cm-\(version % 5)", version: version))
            }
            // The 40 other updates arrive while the stuck object's first message still waits for its ACK
            // (its three sends take 300 + 600 + 1200 ms).
            try await peers.downstream.wait(timeout: 30, "the 40 other updates at the edge") {
                $0.filter { $0.key != "default/configmap/stuck" }.values.reduce(0) { $0 + $1.count } == 40
            }
            #expect(deadLetters.seen.value.isEmpty, "the other objects did not wait for the stuck one to be given up")
            try await deadLetters.seen.wait(timeout: 30, "both stuck messages in the dead letters, in order") {
                $0.count == 2
            }
            let records = deadLetters.seen.value
            #expect(records.first?["msg_id"]?.stringValue == stuck.header.id)
            #expect(records.allSatisfy { $0["reason"]?.stringValue == "not acknowledged after 3 sends" })
            #expect(records.allSatisfy { $0["resource"]?.stringValue == "default/configmap/stuck" })
            // The edge saw the stuck object's messages in order (each sent three times, de-duplicated by id).
            #expect(peers.downstream.value["default/configmap/stuck"] == [1, 2])
            #expect(cloudhub.allOutput.contains("message moved to the node's dead letters"))
            await deadLetters.stop()
            await peers.stop()
        }
    }

    @Test("against a cloud without the acknowledgement extension, hub writes each upstream message once, as edgecore does, and nothing waits for an ACK")
    func cloudWithoutExtension() async throws {
        let harness = try await LinkHarness()
        try await harness.withLogsOnFailure {
            try await harness.startCloudhub(extra: ["--no-upstream-acks"])
            let hub = try harness.startHub(token: try harness.token)
            try await harness.waitForLink()
            try await hub.waitForLine(containing: "the cloud does not acknowledge upstream messages")
            let peers = try await LinkPeers(harness)
            let hubBacklog = try await Records(harness, harness.edgeBroker, Topics.hubBacklog)

            // Lease renewals and node status for the same objects, back to back: with a per-object wait for an ACK that
            // never comes, only the first of each would leave.
            let count = 60
            for n in 0..<count {
                let resource = n % 2 == 0 ? "kube-node-lease/lease/\(harness.node)" : "default/nodepatch/\(harness.node)"
                try await peers.edgeBus.publish(Topics.up, Message(
                    source: "edged", group: "meta", operation: n % 2 == 0 ? "update" : "patch", resource: resource,
                    content: RawJSON(integer: Int64(n))))
            }
            try await peers.upstream.wait(timeout: 30, "every lease and status update in the cloud") {
                $0.values.reduce(0) { $0 + $1.count } == count
            }
            #expect(peers.inOrderPerObject)
            // Written once each, and gone from hub's queue: nothing is left to send again.
            try await hubBacklog.latest.wait(timeout: 30, "hub's queue empty") { $0 == "{}" }
            #expect(peers.upstreamCopies.value == count)
            // Downstream still works, and hub does not send our transport acknowledgements to such a cloud.
            try await peers.cloudBus.publish(Topics.toNode(harness.node), Self.configMapUpdate("cm", version: 1))
            try await peers.downstream.wait(timeout: 30, "a configmap at the edge") { $0["default/configmap/cm"] == [1] }
            await hubBacklog.stop()
            await peers.stop()
        }
    }
}
