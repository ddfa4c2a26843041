import Bus
import EdgeProtocol
import Foundation
import Link
import LinkSecurity
import HubService
import Logging
import Testing
import TestSupport
import X509

/// The link over time: certificates renewed before they expire, join tokens refreshed, a deleted node's session
/// ended, backlogs visible on both buses.
@Suite("Link lifecycle", .serialized, .timeLimit(.minutes(3)))
struct LinkLifecycleTests {
    func certificate(_ harness: LinkHarness) throws -> Certificate {
        try Certificate(pemEncoded: try String(
            contentsOf: harness.certificateDirectory.appendingPathComponent("server.crt"), encoding: .utf8))
    }

    @Test("the edge certificate is renewed before it expires, with the old one as the credential, and the link comes back with the new one")
    func certificateRotation() async throws {
        let harness = try await LinkHarness()
        try await harness.withLogsOnFailure {
            // Long enough that the first certificate is read before its renewal even on a loaded machine.
            try await harness.startCloudhub(extra: ["--edge-cert-validity-seconds", "12"])
            let hub = try harness.startHub(token: try harness.token)
            try await harness.waitForLink()
            let first = try certificate(harness)
            try await hub.waitForLine(containing: "edge certificate renewed", timeout: 30)
            try await hub.waitForLine(containing: "reconnecting with the renewed certificate", timeout: 10)
            try await harness.waitForLink()
            let second = try certificate(harness)
            #expect(second.serialNumber != first.serialNumber)
            #expect(second.notValidAfter > first.notValidAfter)
            // The renewal used the client certificate, not the join token.
            #expect(harness.cloudhub?.allOutput.contains("refused a certificate request") == false)
            try await eventually("hub logged its second connection") {
                hub.lines.filter { $0.contains("connected to the cloud") }.count >= 2
            }
        }
    }

    @Test("cloudhub makes a new join token on its refresh interval, and an edge joins with it")
    func tokenRefresh() async throws {
        let harness = try await LinkHarness()
        try await harness.withLogsOnFailure {
            let cloudhub = try await harness.startCloudhub(extra: ["--token-refresh-seconds", "1"])
            let first = try harness.token
            try await cloudhub.waitForLine(containing: "join token refreshed", timeout: 10)
            let refreshed = try harness.token
            #expect(refreshed != first)
            let hub = try harness.startHub(token: refreshed)
            try await hub.waitForLine(containing: "joined the cloud", timeout: 20)
            try await harness.waitForLink()
        }
    }

    @Test("deleting the node ends its session instead of being forwarded")
    func nodeDeletion() async throws {
        let harness = try await LinkHarness()
        try await harness.withLogsOnFailure {
            let cloudhub = try await harness.startCloudhub()
            let hub = try harness.startHub(token: try harness.token)
            try await harness.waitForLink()
            let cloudBus = try await harness.client(harness.cloudBroker, "edgecontroller-probe")
            let edgeBus = try await harness.client(harness.edgeBroker, "meta-probe")
            try await edgeBus.subscribe([Topics.down(module: "meta")])
            let delivered = Watched<[String]>([])
            let reader = Task { for await message in edgeBus.messages { delivered.update { $0.append(message.text) } } }
            defer { reader.cancel() }
            try await cloudBus.publish(Topics.toNode(harness.node), Message(
                source: "edgecontroller", group: "resource", operation: "delete",
                resource: "namespace/node/\(harness.node)"))
            try await cloudhub.waitForLine(containing: "node deleted: its session ends", timeout: 10)
            try await hub.waitForLine(containing: "link to the cloud closed", timeout: 10)
            #expect(!delivered.value.contains { $0.contains("namespace/node/") })
            await cloudBus.close()
            await edgeBus.close()
        }
    }

    @Test("backlogs: cloudhub's per-node outbox and hub's upstream queue are published, retained")
    func backlogs() async throws {
        let harness = try await LinkHarness()
        try await harness.withLogsOnFailure {
            let cloudhub = try await harness.startCloudhub(extra: ["--backlog-interval-ms", "100"])
            try harness.startHub(token: try harness.token)
            try await harness.waitForLink()
            // The edge cannot take ACK-class messages (no meta ACKs them here): they wait in the outbox.
            let cloudBus = try await harness.client(harness.cloudBroker, "backlog-cloud")
            try await cloudBus.subscribe([Topics.cloudhubBacklog])
            let cloudBacklog = Watched<String>("")
            let cloudReader = Task { for await message in cloudBus.messages { cloudBacklog.update { $0 = message.text } } }
            defer { cloudReader.cancel() }
            for index in 0..<3 {
                var message = Message(source: "edgecontroller", group: "resource", operation: "update",
                                      resource: "default/configmap/c\(index)", content: try RawJSON(["data": .object([])]))
                message.header.resourceVersion = "\(index + 1)"
                try await cloudBus.publish(Topics.toNode(harness.node), message)
            }
            try await cloudBacklog.wait(timeout: 10, "a backlog of 3 for the node") { $0 == #"{"\#(harness.node)":3}"# }
            // With cloudhub gone, what the edge produces waits in hub's queue.
            cloudhub.signal(SIGKILL)
            _ = await cloudhub.waitForExit(timeout: 10)
            try await harness.waitForLink("disconnected", edgeOnly: true)
            let edgeBus = try await harness.client(harness.edgeBroker, "backlog-edge")
            try await edgeBus.subscribe([Topics.hubBacklog])
            let edgeBacklog = Watched<String>("")
            let edgeReader = Task { for await message in edgeBus.messages { edgeBacklog.update { $0 = message.text } } }
            defer { edgeReader.cancel() }
            for index in 0..<2 {
                try await edgeBus.publish(Topics.up, Message(source: "edged", group: "meta", operation: "update",
                                                             resource: "default/podstatus/p\(index)"))
            }
            try await edgeBacklog.wait(timeout: 10, "a backlog of 2 in hub") { $0 == #"{"cloud":2}"# }
            await cloudBus.close()
            await edgeBus.close()
        }
    }

    @Test("hub takes cloud, certServer and token from the hub section of its --config file")
    func hubConfigFile() async throws {
        let harness = try await LinkHarness()
        try await harness.withLogsOnFailure {
            try await harness.startCloudhub()
            let config = harness.edgeDir.appendingPathComponent("hub.yaml")
            try """
                broker: \(harness.edgeBroker.address)
                nodeName: \(harness.node)
                hub:
                  cloud: 127.0.0.1:\(harness.websocketPort)
                  certServer: 127.0.0.1:\(harness.httpsPort)
                  token: \(try harness.token)
                  heartbeat: 5
                """.write(to: config, atomically: true, encoding: .utf8)
            let hub = try ChildProcess(try Executables.product("hub"), [
                "--config", config.path, "--data-dir", harness.edgeDir.appendingPathComponent("data").path,
            ])
            defer { hub.signal(SIGKILL) }
            try await hub.waitForLine(containing: "joined the cloud", timeout: 20)
            try await harness.waitForLink()
        }
    }

    @Test("hub waits for a --token-file that appears later, then joins with it")
    func tokenFile() async throws {
        let harness = try await LinkHarness()
        try await harness.withLogsOnFailure {
            try await harness.startCloudhub()
            let file = harness.edgeDir.appendingPathComponent("join-token")
            let hub = try harness.startHub(token: nil, extra: ["--token-file", file.path])
            try await hub.waitForLine(containing: "waiting for the join token file", timeout: 20)
            try (try harness.token).write(to: file, atomically: true, encoding: .utf8)
            try await hub.waitForLine(containing: "joined the cloud", timeout: 20)
            try await harness.waitForLink()
        }
    }
}
