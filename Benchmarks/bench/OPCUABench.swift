import ArgumentParser
import Bus
import EdgeProtocol
import Foundation
import Logging
import Mapper
import MapperOPCUAService
import OPCUA
import Synchronization

/// mapper-opcua's framework and client (in this process) against an asyncua server (Tests/Peers/opcua_peer.py with
/// `--tick 0`): a value written by a second client → its twin/update seen by a bus subscriber (through the
/// subscription), and reads/s of polled properties.
struct OPCUABench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "opcua",
        abstract: "OPC UA value change → twin/update latency (subscription) and polled reads/s against asyncua.")

    @Option(help: "Broker: host:port or a unix socket path.")
    var broker = "127.0.0.1:1883"

    @Option(help: "The asyncua server's endpoint.")
    var endpoint = "opc.tcp://127.0.0.1:4840/"

    @Option(help: "Changes timed one after the other.")
    var changes = 50

    @Option(help: "Publishing interval of the subscription, ms.")
    var publishingIntervalMs = 200

    @Option(help: "Devices polled at once (each its own session) for the reads/s run.")
    var devices = 2

    @Option(help: "Seconds of polling.")
    var seconds = 10

    func run() async throws {
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        let endpointURL = try UAEndpointURL(endpoint).orThrow("bad --endpoint")
        let bus = try BusClient(BusConfiguration(endpoint: try BusEndpoint(parsing: broker),
                                                 clientID: "bench-opcua-\(getpid())", cleanSession: true), logger: logger)
        let watcher = try BusClient(BusConfiguration(endpoint: try BusEndpoint(parsing: broker),
                                                     clientID: "bench-opcua-watch-\(getpid())", cleanSession: true),
                                    logger: logger)
        for client in [bus, watcher] {
            try client.start()
            try await client.waitUntilConnected()
        }
        try await watcher.subscribe([Topics.Device.anyTwinUpdate])
        let arrivals = Mutex<[String: ContinuousClock.Instant]>([:])
        let counts = Mutex<[String: Int]>([:])
        let collector = Task {
            for await message in watcher.messages {
                let now = ContinuousClock.now
                let id = String(message.topic.split(separator: "/")[3])
                guard let twin = (try? JSONValue(parsing: message.payload))?["twin"]?.objectMembers else { continue }
                counts.withLock { $0[id, default: 0] += twin.count }
                for member in twin {
                    if let value = member.value["actual"]?["value"]?.stringValue {
                        arrivals.withLock { $0["\(id)/\(value)"] = now }
                    }
                }
            }
        }

        // 1. Latency through the subscription.
        let runtime = MapperRuntime(
            plugin: OPCUAPlugin(publishingInterval: .milliseconds(publishingIntervalMs)),
            sink: BusSink(bus: bus, logger: logger), logger: logger,
            settings: .init(parser: SpecParser(minimumCollectCycle: .milliseconds(1))))
        runtime.replaceFileDevices(SpecParser().devices(in: try SpecDocuments.load(yaml: Self.manifest(
            device: "sub", endpoint: endpoint, subscribe: true, cycleMs: 60_000))))
        let writer = UAClient(endpoint: endpointURL)
        try await writer.connect()
        let node = UANodeId("ns=2;s=Device1.Counter")!
        while arrivals.withLock({ $0.keys.contains { $0.hasPrefix("sub/") } }) == false {
            try await Task.sleep(for: .milliseconds(20))
        }
        var latencies: [Double] = []
        for index in 0..<changes {
            let value = Int32(1_000 + index)
            let t0 = ContinuousClock.now
            _ = try await writer.write(node, value: .int32(value))
            while arrivals.withLock({ $0["sub/\(value)"] == nil }) { try await Task.sleep(for: .milliseconds(1)) }
            let t1 = arrivals.withLock { $0["sub/\(value)"]! }
            latencies.append(APIServerBench.seconds(t1 - t0) * 1000)
        }
        await runtime.stopAll()
        print("value written by a second client → twin/update seen by a subscriber (subscription, publishing interval "
              + "\(publishingIntervalMs) ms, \(changes) changes): " + APIServerBench.percentiles(latencies, unit: "ms"))

        // 2. Polled reads.
        let poller = MapperRuntime(
            plugin: OPCUAPlugin(), sink: BusSink(bus: bus, logger: logger), logger: logger,
            settings: .init(parser: SpecParser(minimumCollectCycle: .milliseconds(1))))
        var yaml = ""
        for d in 0..<devices {
            yaml += Self.manifest(device: "poll-\(d)", endpoint: endpoint, subscribe: false, cycleMs: 1) + "---\n"
        }
        poller.replaceFileDevices(SpecParser(minimumCollectCycle: .milliseconds(1)).devices(in: try SpecDocuments.load(yaml: yaml)))
        try await Task.sleep(for: .seconds(2))  // sessions opened, first reads done
        let before = counts.withLock { $0 }
        let start = ContinuousClock.now
        try await Task.sleep(for: .seconds(seconds))
        let after = counts.withLock { $0 }
        let elapsed = APIServerBench.seconds(ContinuousClock.now - start)
        let perDevice = (0..<devices).map { Double((after["poll-\($0)"] ?? 0) - (before["poll-\($0)"] ?? 0)) / elapsed }
        await poller.stopAll()
        print("polled reads (\(devices) devices × 4 properties, collect cycle 1 ms, asyncua, \(seconds) s): reads/s per device "
              + perDevice.map { String(Int($0)) }.joined(separator: ", ") + " (total \(Int(perDevice.reduce(0, +))))")
        await writer.close()
        collector.cancel()
        await bus.close()
        await watcher.close()
    }

    static func manifest(device: String, endpoint: String, subscribe: Bool, cycleMs: Int) -> String {
        let nodes = subscribe ? ["Counter"] : ["Int32", "Double", "String", "Boolean"]
        return """
            apiVersion: devices.kubeedge.io/v1beta1
            kind: DeviceModel
            metadata: {name: \(device)-model}
            spec:
              properties:
            \(nodes.map { "    - {name: \($0), type: STRING, accessMode: ReadWrite}" }.joined(separator: "\n"))
            ---
            apiVersion: devices.kubeedge.io/v1beta1
            kind: Device
            metadata: {name: \(device)}
            spec:
              deviceModelRef: {name: \(device)-model}
              protocol: {protocolName: opcua, configData: {url: "\(endpoint)"}}
              properties:
            \(nodes.map { "    - {name: \($0), collectCycle: \(cycleMs), visitors: {protocolName: opcua, configData: {nodeID: \"ns=2;s=Device1.\($0)\", subscribe: \(subscribe)}}}" }.joined(separator: "\n"))

            """
    }
}

extension Optional {
    func orThrow(_ message: String) throws -> Wrapped {
        guard let self else { throw ValidationError(message) }
        return self
    }
}
