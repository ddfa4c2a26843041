import ArgumentParser
import Bus
import Crypto
import EdgeProtocol
import Foundation
import Link
import LinkSecurity
import HubService
import Logging
import NIOSSL
import Synchronization
import X509

/// The cloud⇄edge link between a running cloudhub and hub (scripts/bench.sh starts them, with their brokers):
/// messages/s cloud→edge with KubeEdge ACKs, edge→cloud, and how many edge connections cloudhub holds per GB.
struct LinkBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "link", abstract: "Link throughput both ways, and connections held per GB by cloudhub.")

    @Option(help: "The cloud broker.") var cloudBroker: String
    @Option(help: "The edge broker.") var edgeBroker: String
    @Option(help: "The node hub serves.") var node = "bench-node"
    @Option(help: "Messages each way.") var messages = 5000
    @Option(help: "Objects the cloud→edge messages are spread over (one in flight per object until its ACK).")
    var objects = 100
    @Option(help: "cloudhub's websocket address, for the connection run.") var cloudhub: String
    @Option(help: "cloudhub's certificate service address.") var certServer: String
    @Option(help: "A join token of that cloudhub.") var token: String
    @Option(help: "cloudhub's pid (its memory is read from /proc).") var cloudhubPid: Int32
    @Option(help: "Simulated edge connections.") var connections = 1000

    func run() async throws {
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        func client(_ address: String, _ name: String) async throws -> BusClient {
            let bus = try BusClient(BusConfiguration(endpoint: try BusEndpoint(parsing: address),
                                                     clientID: "bench-\(name)-\(getpid())", cleanSession: true),
                                    logger: logger)
            try bus.start()
            try await bus.waitUntilConnected()
            return bus
        }
        let cloud = try await client(cloudBroker, "cloud")
        let edge = try await client(edgeBroker, "edge")
        try await edge.subscribe([Topics.down(.meta)])
        try await cloud.subscribe([Topics.fromNode(node, .edgecontroller)])
        let downCount = SharedCounter(), upCount = SharedCounter()
        // The edge side stands in for meta: it ACKs every cloud message once it has it.
        let fakeMeta = Task {
            for await delivered in edge.messages {
                guard let message = try? MessageCodec.decode(delivered.payload) else { continue }
                guard message.route.resource.hasPrefix("bench/") else { continue }
                try? await edge.publish(Topics.up, message.ack())
                downCount.value.add(1, ordering: .relaxed)
            }
        }
        let cloudSide = Task {
            for await delivered in cloud.messages {
                if let message = try? MessageCodec.decode(delivered.payload), message.route.resource.hasPrefix("bench/") {
                    upCount.value.add(1, ordering: .relaxed)
                }
            }
        }

        // Cloud → edge, ACK class: every message kept in cloudhub's outbox until the edge's ACK.
        var start = ContinuousClock.now
        for index in 0..<messages {
            var message = Message(source: "edgecontroller", group: "resource", operation: "update",
                                  resource: "bench/configmap/c\(index % objects)", content: try RawJSON(["i": .integer(index)]))
            message.header.resourceVersion = String(index + 1)
            try await cloud.publish(Topics.toNode(node), message)
        }
        while downCount.value.load(ordering: .relaxed) < messages { try await Task.sleep(for: .milliseconds(2)) }
        var seconds = APIServerBench.seconds(ContinuousClock.now - start)
        print("cloud → edge, ACK class (\(messages) messages over \(objects) objects, each ACKed by the edge): "
              + "\(Int(Double(messages) / seconds)) msg/s")

        // Edge → cloud: hub's durable queue, acknowledged by cloudhub once on the cloud bus.
        start = ContinuousClock.now
        for index in 0..<messages {
            try await edge.publish(Topics.up, Message(source: "edged", group: "meta", operation: "update",
                                                      resource: "bench/podstatus/p\(index % objects)",
                                                      content: try RawJSON(["i": .integer(index)])))
        }
        while upCount.value.load(ordering: .relaxed) < messages { try await Task.sleep(for: .milliseconds(2)) }
        seconds = APIServerBench.seconds(ContinuousClock.now - start)
        print("edge → cloud (\(messages) messages): \(Int(Double(messages) / seconds)) msg/s")
        fakeMeta.cancel()
        cloudSide.cancel()

        try await connectionsPerGB()
        await cloud.close()
        await edge.close()
    }

    /// Opens `connections` websockets with one edge certificate and a node id each; cloudhub's RSS before and after.
    func connectionsPerGB() async throws {
        let identity = try await Self.join(certServer: certServer, token: token)
        let tls = try LinkTLS.edgeClient(identity)
        let (host, portText) = (String(cloudhub.split(separator: ":")[0]), String(cloudhub.split(separator: ":")[1]))
        let port = Int(portText) ?? 10000
        let before = Self.rssKB(cloudhubPid)
        let open = SharedCounter()
        let release = AsyncStream<Void>.makeStream()
        let holders = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<connections {
                    group.addTask {
                        let nodeName = "sim-\(index)"
                        try await LinkClient.connect(
                            host: host, port: port, path: "/\(LinkProtocol.defaultProjectID)/\(nodeName)/events",
                            headers: [("node_id", nodeName), ("project_id", LinkProtocol.defaultProjectID),
                                      ("ConnectionUse", "msg")],
                            tls: tls
                        ) { _, outbound in
                            try await outbound.send(LinkProtocol.frame(LinkRules.keepalive()))
                            open.value.add(1, ordering: .relaxed)
                            for await _ in release.stream {}
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        let deadline = ContinuousClock.now.advanced(by: .seconds(120))
        while open.value.load(ordering: .relaxed) < connections && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        try await Task.sleep(for: .seconds(2))  // let cloudhub settle its sessions (a measurement, not a test)
        let after = Self.rssKB(cloudhubPid)
        let opened = open.value.load(ordering: .relaxed)
        let perConnectionKB = Double(after - before) / Double(max(1, opened))
        print("cloudhub with \(opened) edge connections: RSS \(before / 1024) MB → \(after / 1024) MB, "
              + String(format: "%.1f kB per connection ≈ %d connections per GB", perConnectionKB,
                       Int(1_048_576 / max(perConnectionKB, 0.001))))
        release.continuation.finish()
        holders.cancel()
    }

    static func rssKB(_ pid: Int32) -> Int {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "0") ?? 0
    }

    /// The token bootstrap, as hub does it: one certificate the simulated nodes share.
    static func join(certServer: String, token: String) async throws -> EdgeIdentity {
        let parts = certServer.split(separator: ":")
        let host = String(parts[0]), port = Int(parts[1]) ?? 10002
        let (_, jwt) = try PKI.parseToken(token)
        var insecure = TLSConfiguration.makeClientConfiguration()
        insecure.certificateVerification = .none
        let caDER = try await HTTPSFetch.get(host: host, port: port, path: "/ca.crt", tls: insecure).body
        var verified = TLSConfiguration.makeClientConfiguration()
        verified.trustRoots = .certificates([try NIOSSLCertificate(bytes: caDER, format: .der)])
        let key = P256.Signing.PrivateKey()
        let response = try await HTTPSFetch.get(host: host, port: port, path: "/edge.crt",
                                                headers: [("Authorization", "Bearer \(jwt)"), ("NodeName", "sim")],
                                                body: try PKI.makeCSR(key: key), tls: verified)
        return EdgeIdentity(caCertificate: try Certificate(derEncoded: caDER),
                            certificate: try Certificate(derEncoded: response.body), privateKey: key)
    }
}
