import ArgumentParser
import EdgeProtocol
import Foundation
import KubeClient
import Synchronization

/// The API server under load, through the shared Kubernetes client over its plain-HTTP loopback port (no TLS, so
/// the figures are the server's): creates/s, list latency of 10k pods, watch fan-out.
struct APIServerBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apiserver",
        abstract: "Creates/s, list latency at N pods, watch fan-out to M watchers (against a running apiserver).")

    @Option(help: "The apiserver's plain-HTTP address (its --insecure-port).")
    var server = "http://127.0.0.1:18080"

    @Option(help: "Pods to create.")
    var pods = 10_000

    @Option(help: "Concurrent creators.")
    var concurrency = 8

    @Option(help: "Full lists to time.")
    var lists = 20

    @Option(help: "Watchers for the fan-out run.")
    var watchers = 100

    @Option(help: "Objects created one by one while the watchers watch.")
    var fanoutObjects = 50

    func run() async throws {
        let client = try KubeClient(KubeClientConfiguration(server: server))
        _ = try? await client.create(.namespaces, ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": "bench"]])

        // Creates: pods already bound to a node (the scheduler has nothing to do), `concurrency` in flight.
        let next = SharedCounter()
        let pods = self.pods
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    while true {
                        let index = next.value.add(1, ordering: .relaxed).oldValue
                        if index >= pods { return }
                        let pod: JSONValue = [
                            "apiVersion": "v1", "kind": "Pod",
                            "metadata": ["name": .string("bench-\(index)"), "labels": ["app": "bench"]],
                            "spec": ["nodeName": "api-bench-node", "containers": [["name": "c", "image": "busybox:1.36"]]],
                        ]
                        _ = try await client.create(.pods, namespace: "bench", pod)
                    }
                }
            }
            try await group.waitForAll()
        }
        let createSeconds = Self.seconds(ContinuousClock.now - start)
        print("creates: \(pods) pods in \(String(format: "%.1f", createSeconds)) s = \(Int(Double(pods) / createSeconds))/s (\(concurrency) concurrent)")

        // List latency: the whole collection in one response.
        var listTimes: [Double] = []
        for _ in 0..<lists {
            let t0 = ContinuousClock.now
            let list = try await client.list(.pods, namespace: "bench")
            listTimes.append(Self.seconds(ContinuousClock.now - t0) * 1000)
            precondition(list.items.count == pods, "listed \(list.items.count) pods")
        }
        print("list of \(pods) pods: " + Self.percentiles(listTimes, unit: "ms"))
        var pageTimes: [Double] = []
        for _ in 0..<lists {
            let t0 = ContinuousClock.now
            _ = try await client.list(.pods, namespace: "bench", limit: 500)
            pageTimes.append(Self.seconds(ContinuousClock.now - t0) * 1000)
        }
        print("first page of 500 (kubectl's page): " + Self.percentiles(pageTimes, unit: "ms"))

        // Fan-out: `watchers` watches of configmaps; each created object must reach all of them.
        let base = try await client.list(.configMaps, namespace: "bench").resourceVersion
        let arrivals = SharedArrivals()
        let ready = SharedCounter()
        let watchTasks = (0..<watchers).map { _ in
            Task {
                for try await event in client.watch(.configMaps, namespace: "bench", resourceVersion: base,
                                                    allowBookmarks: false) {
                    guard event.type == .added, let name = event.object.string(at: "metadata.name") else { continue }
                    let now = ContinuousClock.now
                    arrivals.map.withLock { $0[name, default: []].append(now) }
                    if name == "warmup" { ready.value.add(1, ordering: .relaxed) }
                }
            }
        }
        // A first object proves every watch is established before timing starts.
        _ = try await client.create(.configMaps, namespace: "bench",
                                    ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "warmup"]])
        while ready.value.load(ordering: .relaxed) < watchers { try await Task.sleep(for: .milliseconds(10)) }
        var fanout: [Double] = []
        let fanStart = ContinuousClock.now
        for index in 0..<fanoutObjects {
            let name = "fan-\(index)"
            let t0 = ContinuousClock.now
            _ = try await client.create(.configMaps, namespace: "bench",
                                        ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": .string(name)]])
            while arrivals.map.withLock({ $0[name]?.count ?? 0 }) < watchers { try await Task.sleep(for: .microseconds(200)) }
            let last = arrivals.map.withLock { $0[name]!.max()! }
            fanout.append(Self.seconds(last - t0) * 1000)
        }
        let fanSeconds = Self.seconds(ContinuousClock.now - fanStart)
        for task in watchTasks { task.cancel() }
        print("watch fan-out to \(watchers) watchers (create → last watcher has it): " + Self.percentiles(fanout, unit: "ms")
              + "; \(Int(Double(fanoutObjects * watchers) / fanSeconds)) events/s delivered")
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    static func percentiles(_ values: [Double], unit: String) -> String {
        let sorted = values.sorted()
        func at(_ p: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }
        return String(format: "p50 %.1f %@, p95 %.1f %@, max %.1f %@", at(0.5), unit, at(0.95), unit, sorted.last ?? 0, unit)
    }
}

final class SharedCounter: Sendable {
    let value = Atomic<Int>(0)
}

final class SharedArrivals: Sendable {
    let map = Mutex<[String: [ContinuousClock.Instant]]>([:])
}
