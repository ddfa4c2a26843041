import ArgumentParser
import Bus
import EdgeProtocol
import Logging
import Mapper
import MapperModbusService
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Benchmarks of the bus through a real broker. Run with a release build against a local mosquitto
/// (scripts/bench.sh starts one and records the figures next to mosquitto_pub/mosquitto_sub).
@main
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks for KubeEdge in Swift (figures go to docs/performance.md).",
        subcommands: [BusBench.self, EnvelopeBench.self, ModbusBench.self, OPCUABench.self, BLEBench.self, APIServerBench.self, DevicesBench.self, LinkBench.self, PodsBench.self, RouterBench.self])
}

struct BusBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bus",
        abstract: "Round-trip latency and one-way throughput of the bus client through the broker.")

    @Option(help: "Broker: host:port or a unix socket path.")
    var broker = "127.0.0.1:1883"

    @Option(help: "Round trips for the latency run (sequential, QoS 1 both ways).")
    var roundTrips = 2000

    @Option(help: "Messages for each throughput run.")
    var messages = 20_000

    @Option(help: "Payload size in bytes.")
    var size = 200

    func run() async throws {
        let endpoint = try BusEndpoint(parsing: broker)
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        let tag = "\(getpid())"
        func client(_ name: String) throws -> BusClient {
            try BusClient(BusConfiguration(endpoint: endpoint, clientID: "bench-\(name)-\(tag)", cleanSession: true),
                          logger: logger)
        }

        // Latency: ping → echo → pong, one message in flight.
        let pinger = try client("ping")
        let echo = try client("echo")
        for c in [pinger, echo] {
            try c.start()
            try await c.waitUntilConnected()
        }
        try await echo.subscribe(["bench/\(tag)/ping"])
        try await pinger.subscribe(["bench/\(tag)/pong"])
        let echoTask = Task {
            for await message in echo.messages {
                try await echo.publish("bench/\(tag)/pong", message.payload)
            }
        }
        let payload = [UInt8](repeating: UInt8(ascii: "x"), count: size)
        var samples: [Double] = []
        samples.reserveCapacity(roundTrips)
        var pongs = pinger.messages.makeAsyncIterator()
        let clock = ContinuousClock()
        for _ in 0..<roundTrips {
            let start = clock.now
            try await pinger.publish("bench/\(tag)/ping", payload)
            guard await pongs.next() != nil else { throw ValidationError("pong stream ended") }
            samples.append(microseconds(clock.now - start))
        }
        echoTask.cancel()
        samples.sort()
        print("bus round trip (QoS 1 each way, \(size) B, \(roundTrips) sequential): "
            + "p50 \(fmt(percentile(samples, 0.50))) µs, p95 \(fmt(percentile(samples, 0.95))) µs, "
            + "p99 \(fmt(percentile(samples, 0.99))) µs, max \(fmt(samples.last ?? 0)) µs")
        await pinger.close()
        await echo.close()

        for qos in [BusQoS.atMostOnce, .atLeastOnce] {
            let rate = try await throughput(qos: qos, client: client, payload: payload, tag: tag)
            print("bus throughput (QoS \(qos.rawValue), \(size) B, \(messages) messages, publisher → subscriber): "
                + "\(fmt(rate)) msg/s")
        }
    }

    private func throughput(qos: BusQoS, client: (String) throws -> BusClient, payload: [UInt8], tag: String)
        async throws -> Double
    {
        let subscriber = try client("sub\(qos.rawValue)")
        let publisher = try client("pub\(qos.rawValue)")
        for c in [subscriber, publisher] {
            try c.start()
            try await c.waitUntilConnected()
        }
        let topic = "bench/\(tag)/load\(qos.rawValue)"
        try await subscriber.subscribe([topic], qos: qos)
        let count = messages
        let receiver = Task {
            var received = 0
            for await _ in subscriber.messages {
                received += 1
                if received == count { break }
            }
            return received
        }
        let clock = ContinuousClock()
        let start = clock.now
        for _ in 0..<count { try await publisher.publish(topic, payload, qos: qos) }
        let received = try await withDeadline(.seconds(120), what: "throughput run") { await receiver.value }
        let elapsed = clock.now - start
        await publisher.close()
        await subscriber.close()
        if received != count { throw ValidationError("received \(received) of \(count)") }
        return Double(count) / seconds(elapsed)
    }
}

struct EnvelopeBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "envelope",
        abstract: "Decode and encode rate of the KubeEdge envelope codec (a captured ConfigMap insert frame).")

    @Option(help: "Iterations.")
    var iterations = 200_000

    func run() async throws {
        let frame = Array("""
            {"header":{"msg_id":"f3ee46cd-52db-4ec7-9109-5a9b5f37d336","timestamp":1795296287358,"resourceversion":"1001"},\
            "route":{"source":"edgecontroller","group":"resource","operation":"insert","resource":"default/configmap/cm1"},\
            "content":{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm1","namespace":"default",\
            "resourceVersion":"1001","uid":"11111111-2222-3333-4444-555555555555"},"data":{"k":"v"}}}
            """.utf8)
        let clock = ContinuousClock()
        var checksum = 0
        let decodeStart = clock.now
        var message = try MessageCodec.decode(frame)
        for _ in 0..<iterations {
            message = try MessageCodec.decode(frame)
            checksum &+= message.content.bytes.count
        }
        let decodeRate = Double(iterations) / seconds(clock.now - decodeStart)
        let encodeStart = clock.now
        for _ in 0..<iterations { checksum &+= MessageCodec.encode(message).count }
        let encodeRate = Double(iterations) / seconds(clock.now - encodeStart)
        print("envelope (\(frame.count) B frame): decode \(fmt(decodeRate)) msg/s, encode \(fmt(encodeRate)) msg/s"
            + " (checksum \(checksum % 10))")
    }
}

func microseconds(_ duration: Duration) -> Double {
    let (seconds, attoseconds) = duration.components
    return Double(seconds) * 1e6 + Double(attoseconds) / 1e12
}

func seconds(_ duration: Duration) -> Double { microseconds(duration) / 1e6 }

func percentile(_ sorted: [Double], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return 0 }
    return sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
}

func fmt(_ value: Double) -> String {
    value >= 100 ? String(Int(value.rounded())) : String(Double(Int(value * 10)) / 10)
}

// MARK: modbus

/// The Modbus mapper in this process against a running Modbus TCP server (scripts/bench.sh starts pymodbus):
/// property reads per second per device with the collect cycle at its floor (the device's speed is the limit), and
/// the latency from a value being read to its twin/update arriving at a subscriber through the broker.
struct ModbusBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "modbus",
        abstract: "Mapper reads/s per device and twin/update publish latency against a Modbus TCP server.")

    @Option(help: "Broker: host:port or a unix socket path.")
    var broker = "127.0.0.1:1883"

    @Option(help: "Modbus TCP server (host:port), unit id 1.")
    var device = "127.0.0.1:5020"

    @Option(help: "Devices run at once (each its own connection to the server).")
    var devices = 4

    @Option(help: "Properties per device (holding registers, int16).")
    var properties = 4

    @Option(help: "Collect cycle in milliseconds (1 = as fast as the device answers).")
    var cycleMs = 1

    @Option(help: "Seconds to measure.")
    var seconds = 10

    func run() async throws {
        let parts = device.split(separator: ":")
        guard parts.count == 2, let port = Int(parts[1]) else { throw ValidationError("--device host:port") }
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        let endpoint = try BusEndpoint(parsing: broker)
        let tag = "\(getpid())"
        let mapperBus = try BusClient(
            BusConfiguration(endpoint: endpoint, clientID: "bench-mapper-\(tag)", cleanSession: true), logger: logger)
        let watcher = try BusClient(
            BusConfiguration(endpoint: endpoint, clientID: "bench-watch-\(tag)", cleanSession: true), logger: logger)
        for c in [mapperBus, watcher] {
            try c.start()
            try await c.waitUntilConnected()
        }
        try await watcher.subscribe([Topics.Device.anyTwinUpdate])

        let sink = TimedSink(inner: BusSink(bus: mapperBus, logger: logger))
        let runtime = MapperRuntime(
            plugin: ModbusPlugin(), sink: sink, logger: logger,
            settings: .init(parser: SpecParser(minimumCollectCycle: .milliseconds(1))))
        var yaml = ""
        for d in 0..<devices {
            yaml += """
                apiVersion: devices.kubeedge.io/v1beta1
                kind: DeviceModel
                metadata: {name: bench-model}
                spec:
                  properties:
                \((0..<properties).map { "    - {name: p\($0), type: INT, accessMode: ReadWrite}" }.joined(separator: "\n"))
                ---
                apiVersion: devices.kubeedge.io/v1beta1
                kind: Device
                metadata: {name: bench-\(d)}
                spec:
                  deviceModelRef: {name: bench-model}
                  protocol: {protocolName: modbus, configData: {ip: '\(parts[0])', port: \(port), slaveID: 1}}
                  properties:
                \((0..<properties).map { "    - {name: p\($0), collectCycle: \(cycleMs), visitors: {protocolName: modbus, configData: {register: HoldingRegister, offset: \($0), limit: 1}}}" }.joined(separator: "\n"))
                ---

                """
        }
        let specs = SpecParser(minimumCollectCycle: .milliseconds(1)).devices(in: try SpecDocuments.load(yaml: yaml))
        let clock = ContinuousClock()
        let counts = Mutex<(warm: Bool, values: [String: Int], latencies: [Double])>((false, [:], []))
        let collector = Task {
            for await message in watcher.messages {
                let now = clock.now
                let id = String(message.topic.split(separator: "/")[3])
                guard let sent = sink.take(id) else { continue }
                let values = (try? JSONValue(parsing: message.payload))?["twin"]?.members?.count ?? 0
                counts.withLock { c in
                    guard c.warm else { return }
                    c.values[id, default: 0] += values
                    c.latencies.append(microseconds(now - sent))
                }
            }
        }
        runtime.replaceFileDevices(specs)
        try await Task.sleep(for: .seconds(1))  // warm-up: connections made, first reads done
        counts.withLock { $0.warm = true }
        let start = clock.now
        try await Task.sleep(for: .seconds(seconds))
        let elapsed = (clock.now - start)
        let result = counts.withLock { c in
            defer { c.warm = false }
            return (c.values, c.latencies)
        }
        await runtime.stopAll()
        collector.cancel()
        await mapperBus.close()
        await watcher.close()

        let secondsElapsed = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let perDevice = (0..<devices).map { Double(result.0["bench-\($0)"] ?? 0) / secondsElapsed }
        let latencies = result.1.sorted()
        print("modbus mapper (\(devices) devices × \(properties) int16 holding registers, collect cycle \(cycleMs) ms, "
            + "pymodbus TCP, \(seconds) s): reads/s per device "
            + perDevice.map { fmt($0) }.joined(separator: ", ")
            + " (total \(fmt(perDevice.reduce(0, +))))")
        print("twin/update publish latency (read done → subscriber has it, \(latencies.count) messages): "
            + "p50 \(fmt(percentile(latencies, 0.50))) µs, p95 \(fmt(percentile(latencies, 0.95))) µs, "
            + "p99 \(fmt(percentile(latencies, 0.99))) µs, max \(fmt(latencies.last ?? 0)) µs")
    }
}

/// Records when each twin/update was handed to the bus (per device, in order) so the subscriber can pair them.
final class TimedSink: MapperSink {
    let inner: BusSink
    private let sent = Mutex<[String: [ContinuousClock.Instant]]>([:])

    init(inner: BusSink) {
        self.inner = inner
    }

    func publish(_ topic: String, _ payload: [UInt8]) async {
        if topic.hasSuffix("/twin/update") {
            let id = String(topic.split(separator: "/")[3])
            let now = ContinuousClock().now
            sent.withLock { $0[id, default: []].append(now) }
        }
        await inner.publish(topic, payload)
    }

    func take(_ id: String) -> ContinuousClock.Instant? {
        sent.withLock { s in
            guard var queue = s[id], !queue.isEmpty else { return nil }
            let first = queue.removeFirst()
            s[id] = queue
            return first
        }
    }
}
