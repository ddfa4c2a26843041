import ArgumentParser
import BLE
import Bus
import EdgeProtocol
import Foundation
import Logging
import Mapper
import MapperBLEService
import Synchronization

/// mapper-ble's framework and host stack (in this process) against bumble (Tests/Peers/ble_peer.py with `--tick 0`,
/// its stdin a FIFO this command writes to): the peripheral notifies a new value → its twin/update seen by a bus
/// subscriber. Timed from the command to the peer, and from the peer's own notify timestamp.
struct BLEBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ble",
        abstract: "BLE notification → twin/update latency against bumble's virtual controllers.")

    @Option(help: "Broker: host:port or a unix socket path.")
    var broker = "127.0.0.1:1883"

    @Option(help: "The controller for the mapper (tcp:HOST:PORT).")
    var hci = "tcp:127.0.0.1:9100"

    @Option(help: "ble_peer.py's stdin (a FIFO).")
    var control: String

    @Option(help: "ble_peer.py's output (its NOTIFIED lines carry the time of each notification).")
    var peerLog: String

    @Option(help: "The peripheral's address.")
    var address = "F0:F0:F0:F0:F0:01"

    @Option(help: "Notifications timed one after the other.")
    var changes = 50

    func run() async throws {
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        let transport = try HCITransportSpec(hci).orThrow("bad --hci")
        let bus = try BusClient(BusConfiguration(endpoint: try BusEndpoint(parsing: broker),
                                                 clientID: "bench-ble-\(getpid())", cleanSession: true), logger: logger)
        let watcher = try BusClient(BusConfiguration(endpoint: try BusEndpoint(parsing: broker),
                                                     clientID: "bench-ble-watch-\(getpid())", cleanSession: true),
                                    logger: logger)
        for client in [bus, watcher] {
            try client.start()
            try await client.waitUntilConnected()
        }
        try await watcher.subscribe([Topics.Device.anyTwinUpdate])
        // value → (monotonic arrival, wall-clock arrival in seconds)
        let arrivals = Mutex<[String: (ContinuousClock.Instant, Double)]>([:])
        let collector = Task {
            for await message in watcher.messages {
                let now = ContinuousClock.now
                let wall = Date().timeIntervalSince1970
                guard let value = (try? JSONValue(parsing: message.payload))?["twin"]?["temperature"]?["actual"]?["value"]?.stringValue
                else { continue }
                arrivals.withLock { $0[value] = (now, wall) }
            }
        }
        let host = BLEHost(transport: transport)
        let runtime = MapperRuntime(plugin: BLEPlugin(host: host), sink: BusSink(bus: bus, logger: logger), logger: logger,
                                    settings: .init(parser: SpecParser(minimumCollectCycle: .milliseconds(1))))
        runtime.replaceFileDevices(SpecParser().devices(in: try SpecDocuments.load(yaml: manifest())))
        let fifo = try FileHandle(forWritingTo: URL(fileURLWithPath: control))
        while arrivals.withLock({ $0.isEmpty }) { try await Task.sleep(for: .milliseconds(20)) }
        var fromCommand: [Double] = []
        var values: [(String, ContinuousClock.Instant)] = []
        for index in 0..<changes {
            let value = 3_000 + index
            let t0 = ContinuousClock.now
            try fifo.write(contentsOf: Data("temp \(address) \(value)\n".utf8))
            while arrivals.withLock({ $0[String(value)] == nil }) { try await Task.sleep(for: .milliseconds(1)) }
            let (t1, _) = arrivals.withLock { $0[String(value)]! }
            fromCommand.append(APIServerBench.seconds(t1 - t0) * 1000)
            values.append((String(value), t1))
        }
        // The peer prints "NOTIFIED ADDR VALUE <unix time>" right after bumble sent the notification to its controller.
        let notified = Dictionary((try String(contentsOfFile: peerLog, encoding: .utf8)).split(separator: "\n").compactMap { line -> (String, Double)? in
            let words = line.split(separator: " ")
            guard words.count == 4, words[0] == "NOTIFIED", let time = Double(words[3]) else { return nil }
            return (String(words[2]), time)
        }, uniquingKeysWith: { $1 })
        let fromNotify = values.compactMap { value, _ -> Double? in
            guard let sent = notified[value], let (_, wall) = arrivals.withLock({ $0[value] }) else { return nil }
            return (wall - sent) * 1000
        }
        await runtime.stopAll()
        host.close()
        print("peripheral notifies (command to bumble) → twin/update seen by a subscriber (\(changes) notifications): "
              + APIServerBench.percentiles(fromCommand, unit: "ms"))
        print("bumble sent the notification (its own timestamp) → twin/update seen by a subscriber: "
              + APIServerBench.percentiles(fromNotify, unit: "ms"))
        collector.cancel()
        await bus.close()
        await watcher.close()
    }

    func manifest() -> String {
        """
        apiVersion: devices.kubeedge.io/v1beta1
        kind: DeviceModel
        metadata: {name: bench-ble-model}
        spec:
          properties:
          - {name: temperature, type: INT, accessMode: ReadOnly}
        ---
        apiVersion: devices.kubeedge.io/v1beta1
        kind: Device
        metadata: {name: bench-ble}
        spec:
          deviceModelRef: {name: bench-ble-model}
          protocol: {protocolName: bluetooth, configData: {macAddress: "\(address)"}}
          properties:
          - {name: temperature, collectCycle: 60000, visitors: {protocolName: bluetooth, configData: {characteristicUUID: 12345678-1234-5678-1234-56789abcdef1}}}

        """
    }
}
