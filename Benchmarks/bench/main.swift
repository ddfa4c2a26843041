import ArgumentParser
import Bus
import EdgeProtocol
import Logging

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
        subcommands: [BusBench.self, EnvelopeBench.self])
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
