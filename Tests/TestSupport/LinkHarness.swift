import Bus
import EdgeProtocol
import Foundation
import Logging

/// A cloud and an edge on this host, as separate processes: two brokers, cloudhub and hub.
public final class LinkHarness: Sendable {
    public let cloudBroker: Broker
    public let edgeBroker: Broker
    public let cloudDir: URL
    public let edgeDir: URL
    /// The ports cloudhub listens on; picked anew when its first start finds one taken (a free port can be taken by
    /// another test's outgoing connection before cloudhub binds it).
    public var websocketPort: Int { ports.value.websocket }
    public var httpsPort: Int { ports.value.https }
    private let ports: Watched<(websocket: Int, https: Int)>
    public let node: String
    private let cloudhubProcess = Watched<ChildProcess?>(nil)
    private let hubProcess = Watched<ChildProcess?>(nil)

    public init(node: String = "edge-node-1", cloudBroker: Broker? = nil) async throws {
        self.node = node
        if let cloudBroker { self.cloudBroker = cloudBroker } else { self.cloudBroker = try await Broker() }
        edgeBroker = try await Broker()
        cloudDir = try TemporaryDirectory.make(prefix: "cloudhub")
        edgeDir = try TemporaryDirectory.make(prefix: "hub")
        ports = Watched((try FreePort.next(), try FreePort.next()))
    }

    deinit {
        cloudhubProcess.value?.signal(SIGKILL)
        hubProcess.value?.signal(SIGKILL)
        try? FileManager.default.removeItem(at: cloudDir)
        try? FileManager.default.removeItem(at: edgeDir)
    }

    public var cloudhub: ChildProcess? { cloudhubProcess.value }
    public var hub: ChildProcess? { hubProcess.value }
    public var tokenPath: String { cloudDir.appendingPathComponent("token").path }
    public var outboxPath: String { cloudDir.appendingPathComponent("outbox.db").path }
    public var certificateDirectory: URL { edgeDir.appendingPathComponent("certs") }

    @discardableResult
    public func startCloudhub(extra: [String] = []) async throws -> ChildProcess {
        for attempt in 1...3 {
            let process = try ChildProcess(try Executables.product("cloudhub"), [
                "--broker", cloudBroker.address, "--data-dir", cloudDir.path,
                "--websocket-port", "\(websocketPort)", "--https-port", "\(httpsPort)", "--bind-address", "127.0.0.1",
                "--advertise-address", "127.0.0.1",
            ] + extra + (ProcessInfo.processInfo.environment["LINK_TEST_TRACE"] != nil ? ["--log-level", "trace"] : []))
            cloudhubProcess.update { $0 = process }
            let deadline = Date().addingTimeInterval(60)
            while Date() < deadline {
                if process.lines.contains(where: { $0.contains("] serving") }) { return process }
                if await process.waitForExit(timeout: 0.1) != nil { break }
            }
            // Its port was taken meanwhile: before any hub knows the ports, try again on others.
            if process.allOutput.contains("Address already in use"), hub == nil, attempt < 3 {
                ports.update { $0 = (try! FreePort.next(), try! FreePort.next()) }
                continue
            }
            try await process.waitForLine(containing: "] serving", timeout: 1)  // the error, with its output
        }
        throw TestSupportError("cloudhub did not start")
    }

    public var token: String {
        get throws { try String(contentsOfFile: tokenPath, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    @discardableResult
    public func startHub(token: String?, extra: [String] = []) throws -> ChildProcess {
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

    public func client(_ broker: Broker, _ id: String) async throws -> BusClient {
        let client = try BusClient(
            BusConfiguration(endpoint: try BusEndpoint(parsing: broker.address), clientID: id),
            logger: Logger(label: id))
        try client.start()
        try await client.waitUntilConnected(timeout: .seconds(30))  // generous: the whole suite runs in parallel on 2 cores
        return client
    }

    /// Waits until both sides report the link up (hub's retained `ke/hub/link`, cloudhub's `ke/node/<n>/link`).
    /// `edgeOnly`: only hub's view (a SIGKILLed cloudhub leaves its own retained state behind).
    public func waitForLink(_ state: String = "connected", timeout: Double = 30, edgeOnly: Bool = false) async throws {
        let sides = [(edgeBroker, Topics.hubLink), (cloudBroker, Topics.nodeLink(node))]
        for (broker, topic) in edgeOnly ? Array(sides.prefix(1)) : sides {
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
    public func withLogsOnFailure(_ body: () async throws -> Void) async throws {
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

