import Bus
import EdgeProtocol
import Foundation
import Link
import Logging
import TestSupport

/// A cloud and an edge on this host, as separate processes: two brokers, cloudhub and hub.
final class LinkHarness: Sendable {
    let cloudBroker: Broker
    let edgeBroker: Broker
    let cloudDir: URL
    let edgeDir: URL
    let websocketPort: Int
    let httpsPort: Int
    let node: String
    private let cloudhubProcess = Watched<ChildProcess?>(nil)
    private let hubProcess = Watched<ChildProcess?>(nil)

    init(node: String = "edge-node-1") async throws {
        self.node = node
        cloudBroker = try await Broker()
        edgeBroker = try await Broker()
        cloudDir = try TemporaryDirectory.make(prefix: "cloudhub")
        edgeDir = try TemporaryDirectory.make(prefix: "hub")
        websocketPort = try FreePort.next()
        httpsPort = try FreePort.next()
    }

    deinit {
        cloudhubProcess.value?.signal(SIGKILL)
        hubProcess.value?.signal(SIGKILL)
        try? FileManager.default.removeItem(at: cloudDir)
        try? FileManager.default.removeItem(at: edgeDir)
    }

    var cloudhub: ChildProcess? { cloudhubProcess.value }
    var hub: ChildProcess? { hubProcess.value }
    var tokenPath: String { cloudDir.appendingPathComponent("token").path }
    var outboxPath: String { cloudDir.appendingPathComponent("outbox.db").path }
    var certificateDirectory: URL { edgeDir.appendingPathComponent("certs") }

    @discardableResult
    func startCloudhub() async throws -> ChildProcess {
        let process = try ChildProcess(try Executables.product("cloudhub"), [
            "--broker", cloudBroker.address, "--data-dir", cloudDir.path,
            "--websocket-port", "\(websocketPort)", "--https-port", "\(httpsPort)", "--bind-address", "127.0.0.1",
            "--advertise-address", "127.0.0.1",
        ] + (ProcessInfo.processInfo.environment["LINK_TEST_TRACE"] != nil ? ["--log-level", "trace"] : []))
        cloudhubProcess.update { $0 = process }
        try await process.waitForLine(containing: "] serving", timeout: 60)
        return process
    }

    var token: String {
        get throws { try String(contentsOfFile: tokenPath, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    @discardableResult
    func startHub(token: String?, extra: [String] = []) throws -> ChildProcess {
        var arguments = [
            "--broker", edgeBroker.address, "--node-name", node, "--data-dir", edgeDir.path,
            "--cloud", "127.0.0.1:\(websocketPort)", "--cert-server", "127.0.0.1:\(httpsPort)",
            "--message-qps", "100000", "--message-burst", "100000",
        ] + extra
        if let token { arguments += ["--token", token] }
        if ProcessInfo.processInfo.environment["LINK_TEST_TRACE"] != nil { arguments += ["--log-level", "trace"] }
        let process = try ChildProcess(try Executables.product("hub"), arguments)
        hubProcess.update { $0 = process }
        return process
    }

    func client(_ broker: Broker, _ id: String) async throws -> BusClient {
        let client = try BusClient(
            BusConfiguration(endpoint: try BusEndpoint(parsing: broker.address), clientID: id),
            logger: Logger(label: id))
        try client.start()
        try await client.waitUntilConnected()
        return client
    }

    /// Waits until both sides report the link up (hub's retained `ke/hub/link`, cloudhub's `ke/node/<n>/link`).
    func waitForLink(_ state: String = "connected", timeout: Double = 30) async throws {
        for (broker, topic) in [(edgeBroker, Topics.hubLink), (cloudBroker, Topics.nodeLink(node))] {
            let watcher = try await client(broker, "link-watch-\(UUID().uuidString.prefix(6))")
            try await watcher.subscribe([topic])
            let seen = Watched<String>("")
            let task = Task { for await message in watcher.messages { seen.update { $0 = message.text } } }
            defer { task.cancel() }
            try await seen.wait(timeout: timeout, "\(topic) = \(state)") { $0 == state }
            await watcher.close()
        }
    }
}


extension LinkHarness {
    /// Runs `body`; if it throws, the error carries the end of both services' output.
    func withLogsOnFailure(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch {
            throw TestSupportError("""
                \(error)
                --- cloudhub (end) ---
                \(String((cloudhub?.allOutput ?? "").suffix(4000)))
                --- hub (end) ---
                \(String((hub?.allOutput ?? "").suffix(4000)))
                """)
        }
    }
}

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
    private let tasks: [Task<Void, any Error>]

    init(_ harness: LinkHarness) async throws {
        self.harness = harness
        let edgeBus = try await harness.client(harness.edgeBroker, "fake-meta")
        try await edgeBus.subscribe([Topics.down(module: "meta")])
        let cloudBus = try await harness.client(harness.cloudBroker, "fake-edgecontroller")
        try await cloudBus.subscribe([Topics.fromNode(harness.node, module: "edgecontroller")])
        self.edgeBus = edgeBus
        self.cloudBus = cloudBus
        let downstream = self.downstream, upstream = self.upstream
        tasks = [
            Task {
                var seen = Set<String>()
                for await delivered in edgeBus.messages {
                    guard let message = try? MessageCodec.decode(delivered.payload) else { continue }
                    try await edgeBus.publish(Topics.up, message.ack())  // duplicates are ACKed again
                    guard seen.insert(message.header.id).inserted else { continue }
                    let rv = Int(message.header.resourceVersion) ?? -1
                    downstream.update { $0[message.route.resource, default: []].append(rv) }
                }
            },
            Task {
                var seen = Set<String>()
                for await delivered in cloudBus.messages {
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
