import ArgumentParser
import Bus
import EdgeProtocol
import Foundation
import KubeClient
import Logging
import Synchronization

/// Devices through the whole system (scripts/bench.sh starts it: apiserver, cloudhub, hub, eventbus, twin,
/// devicecontroller, two brokers): the latency from a mapper's twin/update on the edge broker to the value in the
/// Device's status (seen by a watch on the API), and twin updates per second through the edge.
struct DevicesBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devices",
        abstract: "Mapper publish → Device status latency, and twin updates/s through eventbus and twin.")

    @Option(help: "The edge broker (where mappers publish).")
    var edgeBroker = "127.0.0.1:1883"

    @Option(help: "Kubeconfig of the API server.")
    var kubeconfig: String

    @Option(help: "The device (namespace default) bound to the edge node, with an INT property 'value'.")
    var device = "bench-1"

    @Option(help: "Sequential reports timed end to end.")
    var reports = 100

    @Option(help: "Reports published back to back for the throughput run.")
    var burst = 2000

    func run() async throws {
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        let bus = try BusClient(BusConfiguration(endpoint: try BusEndpoint(parsing: edgeBroker),
                                                 clientID: "bench-mapper-\(getpid())", cleanSession: true),
                                logger: logger)
        try bus.start()
        try await bus.waitUntilConnected()
        let update = Topics.Device.twinUpdate(device)
        try await bus.subscribe([Topics.deviceSpec(device), update + "/result"])
        let results = SharedCounter()
        let specSeen = SharedCounter()
        let reader = Task {
            for await message in bus.messages {
                if message.topic == Topics.deviceSpec(device), !message.payload.isEmpty { specSeen.value.add(1, ordering: .relaxed) }
                if message.topic == update + "/result" { results.value.add(1, ordering: .relaxed) }
            }
        }
        // The edge has the device once twin published its spec.
        while specSeen.value.load(ordering: .relaxed) == 0 { try await Task.sleep(for: .milliseconds(20)) }

        let client = try KubeClient(try Kubeconfig.load(path: kubeconfig).configuration())
        let devices = GroupVersionResource(group: "devices.kubeedge.io", version: "v1beta1", resource: "devices")
        let seenValues = SharedArrivals()
        let watch = Task {
            for try await event in client.watch(devices, namespace: "default", allowBookmarks: false,
                                                fieldSelector: "metadata.name=\(device)") {
                let now = ContinuousClock.now
                for twin in event.object[path: ["status", "twins"]]?.arrayValue ?? [] {
                    if let value = twin[path: ["reported", "value"]]?.stringValue {
                        seenValues.map.withLock { $0[value, default: []].append(now) }
                    }
                }
            }
        }
        func report(_ value: Int) async throws {
            let payload = #"{"event_id":"","timestamp":\#(Message.nowMillis()),"twin":{"value":{"actual":{"value":"\#(value)"},"metadata":{"type":"int"}}}}"#
            try await bus.publish(update, Array(payload.utf8))
        }
        var latencies: [Double] = []
        for index in 0..<reports {
            let value = 100_000 + index
            let t0 = ContinuousClock.now
            try await report(value)
            while seenValues.map.withLock({ $0[String(value)] == nil }) { try await Task.sleep(for: .microseconds(500)) }
            let t1 = seenValues.map.withLock { $0[String(value)]!.first! }
            latencies.append(APIServerBench.seconds(t1 - t0) * 1000)
        }
        print("mapper twin/update → Device status (watch on the API), \(reports) sequential reports: "
              + APIServerBench.percentiles(latencies, unit: "ms"))

        let before = results.value.load(ordering: .relaxed)
        let start = ContinuousClock.now
        for index in 0..<burst { try await report(200_000 + index) }
        while results.value.load(ordering: .relaxed) - before < burst { try await Task.sleep(for: .milliseconds(5)) }
        let seconds = APIServerBench.seconds(ContinuousClock.now - start)
        print("twin updates through eventbus and twin (\(burst) back to back, each answered on update/result): "
              + "\(Int(Double(burst) / seconds))/s")
        let last = 200_000 + burst - 1
        let t0 = ContinuousClock.now
        while seenValues.map.withLock({ $0[String(last)] == nil }) { try await Task.sleep(for: .milliseconds(5)) }
        print("the last of them reached the Device status \(String(format: "%.0f", APIServerBench.seconds(ContinuousClock.now - t0) * 1000)) ms after its result")
        watch.cancel()
        reader.cancel()
        await bus.close()
    }
}
