import Bus
import EdgeProtocol
import Foundation
import Logging
import Testing
import TestSupport

let allServices = [
    "hub", "meta", "twin", "eventbus", "servicebus", "edged", "mapper-modbus", "mapper-opcua", "mapper-ble",
    "cloudhub", "edgecontroller", "devicecontroller", "router", "apiserver",
]

@Suite("Service binaries", .timeLimit(.minutes(2)))
struct ServiceBinaryTests {
    @Test("every service starts, reports online, and exits 0 within 2 s of SIGTERM, leaving 'offline'")
    func startAndStop() async throws {
        let broker = try await Broker()
        let watcher = try BusClient(
            BusConfiguration(endpoint: try BusEndpoint(parsing: broker.address), clientID: "status-watcher"),
            logger: Logger(label: "watcher"))
        try watcher.start()
        try await watcher.waitUntilConnected()
        try await watcher.subscribe([Topics.statusAll])
        let statuses = StatusBoard(watcher)

        let dataRoot = try TemporaryDirectory.make(prefix: "services")
        defer { try? FileManager.default.removeItem(at: dataRoot) }
        // Services that need more than the base flags get what lets them start with nothing else around: hub a
        // cloud address where nobody listens (it keeps retrying), cloudhub free loopback ports.
        let unreachable = try FreePort.next()
        let extra: [String: [String]] = [
            "hub": ["--cloud", "127.0.0.1:\(unreachable)", "--token", String(repeating: "0", count: 64) + ".a.b.c"],
            "cloudhub": ["--websocket-port", "\(try FreePort.next())", "--https-port", "\(try FreePort.next())",
                         "--bind-address", "127.0.0.1"],
            "apiserver": ["--secure-port", "\(try FreePort.next())"],
            "router": ["--address", "127.0.0.1", "--port", "\(try FreePort.next())"],
            "servicebus": ["--server", "127.0.0.1:\(try FreePort.next())"],
        ]
        var processes: [String: ChildProcess] = [:]
        for name in allServices {
            processes[name] = try ChildProcess(try Executables.product(name), [
                "--broker", broker.address, "--node-name", "test-node",
                "--data-dir", dataRoot.appendingPathComponent(name).path,
            ] + (extra[name] ?? []))
        }
        for name in allServices {
            try await statuses.wait(for: name, to: Presence.online)
        }
        for name in allServices { processes[name]?.signal(SIGTERM) }
        for name in allServices {
            let process = try #require(processes[name])
            let status = await process.waitForExit(timeout: 2)
            #expect(status == 0, "\(name) did not exit 0 within 2 s of SIGTERM; output:\n\(process.allOutput)")
        }
        for name in allServices {
            try await statuses.wait(for: name, to: Presence.offline)
        }
        await watcher.close()
    }

    @Test("mapper-ble, the last service built, documents its flags; no --help says a service is not built")
    func everyServiceBuilt() async throws {
        let process = try ChildProcess(try Executables.product("mapper-ble"), ["--help"])
        #expect(await process.waitForExit(timeout: 10) == 0)
        for flag in ["--hci", "tcp:HOST:PORT", "serial:/dev/ttyX", "hci<N>", "--broker", "--node-name", "--devices",
                     "characteristicUUID", "dataConverter"] {
            #expect(process.allOutput.contains(flag), "\(flag) missing from mapper-ble --help")
        }
        for name in ["hub", "meta", "twin", "eventbus", "servicebus", "edged", "mapper-modbus", "mapper-opcua", "mapper-ble",
                     "cloudhub", "edgecontroller", "devicecontroller", "router", "apiserver"] {
            let help = try ChildProcess(try Executables.product(name), ["--help"])
            #expect(await help.waitForExit(timeout: 10) == 0)
            #expect(!help.allOutput.contains("Not built yet"), "\(name) --help still says it is not built")
        }
    }

    @Test("a bad flag or config file fails with a clear message and a non-zero exit")
    func badConfiguration() async throws {
        let process = try ChildProcess(try Executables.product("hub"), ["--log-level", "loud"])
        #expect(await process.waitForExit(timeout: 10) != 0)
        try await process.waitForLine(containing: "unknown log level 'loud'")
        #expect(process.lines.last?.contains("unknown log level 'loud'") == true, "the message ends its line")
    }

    @Test("every service reads its own section of --config; an unknown key or a manifest is refused, naming it")
    func configFileSections() async throws {
        let directory = try TemporaryDirectory.make(prefix: "config-sections")
        defer { try? FileManager.default.removeItem(at: directory) }
        func run(_ service: String, _ yaml: String) async throws -> ChildProcess {
            let file = directory.appendingPathComponent("\(service).yaml")
            try yaml.write(to: file, atomically: true, encoding: .utf8)
            let process = try ChildProcess(try Executables.product(service), [
                "--config", file.path, "--data-dir", directory.appendingPathComponent(service).path,
            ])
            #expect(await process.waitForExit(timeout: 20) != 0, "\(service) refused to start")
            return process
        }
        // The output pipe may still hold the last lines when the exit is seen: wait for them.
        let unknown = try await run("meta", "logLevel: info\nmeta:\n  remoteQueryTimeoutMsec: 5\n")
        try await unknown.waitForLine(containing: "unknown key 'remoteQueryTimeoutMsec' of section 'meta'")
        let manifest = try await run("twin", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
        try await manifest.waitForLine(containing: "is a Kubernetes manifest (kind: ConfigMap)")
        // A section key reaches the service: mapper-modbus opens the devices file its section names.
        let devices = try await run("mapper-modbus", "mapper-modbus:\n  devices: /nonexistent/devices.yaml\n")
        try await devices.waitForLine(containing: "/nonexistent/devices.yaml")
        let badValue = try await run("edgecontroller", "edgecontroller: {nodeMonitorGraceSeconds: soon}\n")
        try await badValue.waitForLine(containing: "key 'nodeMonitorGraceSeconds' of section 'edgecontroller'")
    }
}

/// The latest retained status of each service, from the watcher's subscription.
final class StatusBoard: Sendable {
    private let latest = Watched<[String: String]>([:])
    private let task: Task<Void, Never>

    init(_ client: BusClient) {
        let latest = self.latest
        task = Task {
            for await message in client.messages {
                let service = String(message.topic.split(separator: "/").last ?? "")
                latest.update { $0[service] = message.text }
            }
        }
    }

    deinit { task.cancel() }

    func wait(for service: String, to status: String, timeout: Double = 10) async throws {
        try await latest.wait(timeout: timeout, "status '\(status)' of \(service)") { $0[service] == status }
    }
}
