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

