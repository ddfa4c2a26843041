import ArgumentParser
import EdgeProtocol
import Foundation
import KubeClient
import Logging
import Synchronization

/// Pods through the whole system (scripts/bench.sh starts it: apiserver, edgecontroller, cloudhub, hub, meta, edged
/// and a private containerd): the time from creating a pod in the API to seeing it Running there (a watch), pod by
/// pod, beside `ctr run -d` of the same image on the same containerd; and the memory of meta and edged, idle and with
/// the pods running.
struct PodsBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pods", abstract: "kubectl-apply-equivalent → Running latency over N pods, beside raw `ctr run`.")

    @Option(help: "Kubeconfig of the API server.") var kubeconfig: String
    @Option(help: "The edge node the pods are bound to.") var node = "bench-node"
    @Option(help: "containerd's socket (for the `ctr run` comparison).") var containerdSocket: String
    @Option(help: "The image (present in containerd's k8s.io namespace).") var image = "localhost/edge/busybox:local"
    @Option(help: "Pods created, one after another.") var count = 20
    @Option(help: "pids of services whose memory to report, as name=pid,name=pid.") var pids = ""

    func run() async throws {
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        let client = try KubeClient(try Kubeconfig.load(path: kubeconfig).configuration(), logger: logger)
        let pods = GroupVersionResource(version: "v1", resource: "pods")
        let memoryBefore = memory()

        let running = Mutex([String: ContinuousClock.Instant]())
        let watch = Task {
            for try await event in client.watch(pods, namespace: "default", allowBookmarks: false,
                                                labelSelector: "bench=pods") {
                if event.object.string(at: "status.phase") == "Running", let name = event.object.string(at: "metadata.name") {
                    let now = ContinuousClock.now
                    running.withLock { if $0[name] == nil { $0[name] = now } }
                }
            }
        }
        try await Task.sleep(for: .milliseconds(300))  // the watch is open (tooling, not a test)
        var latencies: [Duration] = []
        for index in 0..<count {
            let name = "bench-\(index)"
            let pod: JSONValue = [
                "apiVersion": "v1", "kind": "Pod",
                "metadata": ["name": .string(name), "namespace": "default", "labels": ["bench": "pods"]],
                "spec": [
                    "nodeName": .string(node), "terminationGracePeriodSeconds": 0,
                    "containers": [["name": "main", "image": .string(image), "command": ["sleep", "3600"]]],
                ],
            ]
            let start = ContinuousClock.now
            _ = try await client.create(pods, namespace: "default", pod)
            let deadline = start + .seconds(60)
            while running.withLock({ $0[name] }) == nil {
                guard ContinuousClock.now < deadline else { throw ValidationError("\(name) not Running after 60 s") }
                try await Task.sleep(for: .milliseconds(2))
            }
            latencies.append(running.withLock { $0[name]! } - start)
        }
        watch.cancel()
        let memoryWith = memory()
        print("apply → Running (API create to status Running seen by a watch; \(count) pods, one after another): "
              + "p50 \(ms(percentile(latencies, 0.5))) ms, p95 \(ms(percentile(latencies, 0.95))) ms")

        // The same image started by containerd's own client, detached (no pod sandbox, no network setup).
        var raw: [Duration] = []
        for index in 0..<count {
            let start = ContinuousClock.now
            try ctr(["run", "-d", image, "bench-ctr-\(getpid())-\(index)", "sleep", "3600"])
            raw.append(ContinuousClock.now - start)
        }
        for index in 0..<count {
            let id = "bench-ctr-\(getpid())-\(index)"
            try? ctr(["tasks", "kill", "-s", "KILL", id])
            for _ in 0..<50 where (try? ctr(["tasks", "rm", id])) == nil { try await Task.sleep(for: .milliseconds(20)) }
            try? ctr(["containers", "rm", id])
        }
        print("ctr run -d (same image, same containerd, \(count) containers): "
              + "p50 \(ms(percentile(raw, 0.5))) ms, p95 \(ms(percentile(raw, 0.95))) ms")

        for index in 0..<count {
            _ = try? await client.delete(pods, namespace: "default", name: "bench-\(index)", gracePeriodSeconds: 0)
        }
        if !memoryBefore.isEmpty {
            print("\n| service | VmRSS idle (kB) | VmRSS with \(count) pods (kB) |\n|---|---|---|")
            for (name, rss) in memoryBefore { print("| \(name) | \(rss) | \(memoryWith.first { $0.0 == name }?.1 ?? 0) |") }
        }
    }

    func memory() -> [(String, Int)] {
        pids.split(separator: ",").compactMap { entry in
            let parts = entry.split(separator: "=")
            guard parts.count == 2, let status = try? String(contentsOfFile: "/proc/\(parts[1])/status", encoding: .utf8),
                  let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
                  let kb = Int(line.split(separator: " ").dropFirst().first ?? "")
            else { return nil }
            return (String(parts[0]), kb)
        }
    }

    func ctr(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/ctr")
        process.arguments = ["--address", containerdSocket, "-n", "k8s.io"] + arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw ValidationError("ctr \(arguments.joined(separator: " ")) failed") }
    }

    func percentile(_ values: [Duration], _ p: Double) -> Duration {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return .zero }
        return sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)]
    }

    func ms(_ duration: Duration) -> String {
        let value = Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
        return String(format: "%.0f", value)
    }
}
