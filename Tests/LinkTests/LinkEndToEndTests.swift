import Bus
import Crypto
import EdgeProtocol
import Foundation
import Link
import LinkSecurity
import HubService
import Logging
import NIOSSL
import Testing
import TestSupport
import X509

/// cloudhub and hub as real processes, each with its own real mosquitto.
@Suite("Link end to end", .serialized, .timeLimit(.minutes(3)))
struct LinkEndToEndTests {
    @Test("an edge joins with only a token and the cloud address; a restart reuses the stored certificate")
    func joinAndReuse() async throws {
        let harness = try await LinkHarness()
        try await harness.startCloudhub()
        let hub = try harness.startHub(token: try harness.token)
        try await harness.waitForLink()
        for file in ["rootCA.crt", "server.crt", "server.key"] {
            #expect(FileManager.default.fileExists(atPath: harness.certificateDirectory.appendingPathComponent(file).path))
        }
        try await hub.waitForLine(containing: "joined the cloud")

        hub.signal(SIGTERM)
        #expect(await hub.waitForExit(timeout: 5) == 0)
        try await harness.waitForLink("disconnected")
        let again = try harness.startHub(token: nil)
        try await again.waitForLine(containing: "using the stored edge certificate")
        try await harness.waitForLink()
    }

    @Test("a bad or expired token is refused by the cloud, with a log line on both sides")
    func badTokens() async throws {
        let harness = try await LinkHarness()
        let cloudhub = try await harness.startCloudhub()
        let (hash, jwt) = try PKI.parseToken(try harness.token)

        // Right CA hash, forged signature.
        let forged = hash + "." + jwt.dropLast(4) + "AAAA"
        let first = try harness.startHub(token: forged)
        #expect(await first.waitForExit(timeout: 20) != 0)
        #expect(first.allOutput.contains("refused to issue a certificate (401)"))
        try await cloudhub.waitForLine(containing: "refused a certificate request")

        // Signed by the right CA, but expired.
        let ca = try CertificateAuthority.loadOrCreate(in: harness.cloudDir.appendingPathComponent("pki").path)
        let expired = ca.makeToken(expiresAt: Date().addingTimeInterval(-60))
        let second = try harness.startHub(token: expired)
        #expect(await second.waitForExit(timeout: 20) != 0)
        #expect(second.allOutput.contains("401"))
        #expect(cloudhub.allOutput.contains("expired"))

        // A token for another cloud: the CA hash does not match, the edge stops before sending anything.
        let foreign = try CertificateAuthority.create().makeToken(expiresAt: Date().addingTimeInterval(600))
        let third = try harness.startHub(token: foreign)
        #expect(await third.waitForExit(timeout: 20) != 0)
        #expect(third.allOutput.contains("does not match the join token"))
        #expect(!FileManager.default.fileExists(atPath: harness.certificateDirectory.path + "/server.crt"))
    }

    @Test("a client certificate from another CA, or none at all, is refused; no session is created")
    func badClientCertificates() async throws {
        let harness = try await LinkHarness()
        let cloudhub = try await harness.startCloudhub()
        let cloudCA = try CertificateAuthority.loadOrCreate(in: harness.cloudDir.appendingPathComponent("pki").path)

        // Another CA's certificate, with the real cloud CA as trust root so that only the client side is wrong.
        let other = try CertificateAuthority.create()
        let key = P256.Signing.PrivateKey()
        let foreignIdentity = EdgeIdentity(
            caCertificate: cloudCA.certificate, certificate: try other.signEdgeCSR(try PKI.makeCSR(key: key)),
            privateKey: key)
        await #expect(throws: (any Error).self) {
            try await Self.connect(harness, tls: try LinkTLS.edgeClient(foreignIdentity))
        }
        try await cloudhub.waitForLine(containing: "not issued by this cloud's CA")

        // No certificate at all.
        var noCertificate = TLSConfiguration.makeClientConfiguration()
        noCertificate.trustRoots = .certificates([try NIOSSLCertificate(bytes: cloudCA.certificateDER, format: .der)])
        await #expect(throws: (any Error).self) { try await Self.connect(harness, tls: noCertificate) }
        try await cloudhub.waitForLine(containing: "refused a websocket without a client certificate")
        #expect(!cloudhub.allOutput.contains("edge connected"))
    }

    /// Opens a websocket to cloudhub and sends one keepalive; throws when the upgrade or TLS fails.
    static func connect(_ harness: LinkHarness, tls: TLSConfiguration) async throws {
        try await LinkClient.connect(
            host: "127.0.0.1", port: harness.websocketPort, path: "/p/\(harness.node)/events",
            headers: [("node_id", harness.node)], tls: tls
        ) { _, outbound in
            try await outbound.send(LinkProtocol.frame(LinkRules.keepalive()))
        }
    }

    @Test("10,000 messages each way; ACK-class ones are acknowledged; order holds per object")
    func tenThousandEachWay() async throws {
        let harness = try await LinkHarness()
        try await harness.startCloudhub()
        try harness.startHub(token: try harness.token)
        try await harness.waitForLink()

        let count = 10_000
        let peers = try await LinkPeers(harness)
        try await peers.produce(0..<count, objects: 50)
        try await harness.withLogsOnFailure {
            try await peers.waitForAll(count)
        }
        #expect(peers.inOrderPerObject)
        // Every ACK-class message was acknowledged: the outbox empties. It is another process's database, so there
        // is nothing to await: look every 100 ms (bounded).
        let outbox = try DurableQueue(path: harness.outboxPath, limit: 1)
        var left = -1
        for _ in 0..<300 {
            left = (try? outbox.count(harness.node)) ?? -1
            if left == 0 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(left == 0)
        await peers.stop()
    }

    @Test("cloudhub SIGKILLed mid-stream: after its restart everything produced on both sides arrives, in order")
    func cloudhubKilled() async throws {
        let harness = try await LinkHarness()
        let firstCloudhub = try await harness.startCloudhub()
        try harness.startHub(token: try harness.token)
        try await harness.waitForLink()

        let total = 3000
        let peers = try await LinkPeers(harness)
        try await peers.produce(0..<1000, objects: 10)
        firstCloudhub.signal(SIGKILL)
        _ = await firstCloudhub.waitForExit(timeout: 10)
        try await peers.produce(1000..<2000, objects: 10)  // the link is down: both sides hold these
        try await harness.startCloudhub()
        try await peers.produce(2000..<total, objects: 10)
        try await harness.withLogsOnFailure {
            try await peers.waitForAll(total)
        }
        #expect(peers.inOrderPerObject)
        await peers.stop()
    }

    @Test("cloudhub accepts the frames captured from a real edgecore and routes them as KubeEdge does")
    func capturedFrames() async throws {
        let harness = try await LinkHarness()
        let cloudhub = try await harness.startCloudhub()
        let cloudBus = try await harness.client(harness.cloudBroker, "captured-watch")
        try await cloudBus.subscribe(["ke/node/+/up/+"])
        let arrived = Watched<[String]>([])
        let watch = Task {
            for await message in cloudBus.messages {
                let decoded = try? MessageCodec.decode(message.payload)
                arrived.update { $0.append("\(message.topic) \(decoded?.route.resource ?? "?")") }
            }
        }

        let ca = try CertificateAuthority.loadOrCreate(in: harness.cloudDir.appendingPathComponent("pki").path)
        let key = P256.Signing.PrivateKey()
        let identity = EdgeIdentity(caCertificate: ca.certificate, certificate: try ca.signEdgeCSR(try PKI.makeCSR(key: key)),
                                    privateKey: key)
        let frames = [LinkRulesTests.keepalive, LinkRulesTests.membershipDetail, LinkRulesTests.shutdown,
                      LinkRulesTests.edgeUpdated, LinkRulesTests.upload, "{not json"]
        try await LinkClient.connect(
            host: "127.0.0.1", port: harness.websocketPort,
            path: "/\(LinkProtocol.defaultProjectID)/edge-node-1/events",
            headers: [("Node_id", "edge-node-1"), ("Project_id", LinkProtocol.defaultProjectID),
                      ("Connectionuse", "msg")],
            tls: try LinkTLS.edgeClient(identity)
        ) { _, outbound in
            for frame in frames { try await outbound.send(frame + "\n") }
            try await arrived.wait(timeout: 20, "the three routed frames") { $0.count == 3 }
        }
        #expect(Set(arrived.value) == [
            "ke/node/edge-node-1/up/devicecontroller membership/detail",
            "ke/node/edge-node-1/up/devicecontroller device/dev1/twin/edge_updated",
            "ke/node/edge-node-1/up/router $hw/events/upload/hello",
        ])
        try await cloudhub.waitForLine(containing: "dropped a malformed frame from the edge")
        watch.cancel()
        await cloudBus.close()
    }
}
