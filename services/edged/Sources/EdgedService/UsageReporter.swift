import Bus
import CRIClient
import EdgeProtocol
import Foundation
import Logging

/// Usage figures for `kubectl top`, as metrics-server would make them from kubelet's summary: CPU as a rate over
/// the last interval (so the first sample reports none), memory as the working set. Pure.
struct UsageRates {
    struct Sample {
        /// Cumulative CPU time, nanoseconds.
        var cpu: Double
        var at: Double
    }

    private var last: [String: Sample] = [:]

    /// Nanocores from the previous sample of `key` to this one; nil on the first sample or when the counter went
    /// back (a restarted container): such figures are left out, not invented.
    mutating func rate(_ key: String, cpuNanoseconds: Double, at time: Double) -> Double? {
        defer { last[key] = Sample(cpu: cpuNanoseconds, at: time) }
        guard let previous = last[key], time > previous.at, cpuNanoseconds >= previous.cpu else { return nil }
        return (cpuNanoseconds - previous.cpu) / (time - previous.at)
    }

    mutating func keep(_ keys: Set<String>) {
        last = last.filter { keys.contains($0.key) }
    }

    static func cpu(_ nanocores: Double) -> String { "\(Int64(nanocores.rounded()))n" }
    static func memory(_ bytes: Double) -> String { "\(Int64(bytes / 1024))Ki" }

    /// The host's busy CPU time in nanoseconds from /proc/stat's first line (all but idle and iowait).
    static func hostCPU(_ stat: String, ticksPerSecond: Double) -> Double? {
        guard let line = stat.split(separator: "\n").first, line.hasPrefix("cpu ") else { return nil }
        let fields = line.split(separator: " ").dropFirst().compactMap { Double($0) }
        guard fields.count >= 4 else { return nil }
        let idle = fields[3] + (fields.count > 4 ? fields[4] : 0)
        let total = fields.prefix(8).reduce(0, +)
        return (total - idle) / ticksPerSecond * 1e9
    }
}

/// Sends the node's and its pods' usage upstream every interval (`ke/metrics`, through hub, to the API server's
/// metrics.k8s.io). Nothing is sent while the link is down; figures are never queued.
final class UsageReporter: Sendable {
    let bus: BusClient
    let cri: CRIClient
    let node: String
    let interval: Duration
    let logger: Logger

    init(bus: BusClient, cri: CRIClient, node: String, interval: Duration, logger: Logger) {
        self.bus = bus
        self.cri = cri
        self.node = node
        self.interval = interval
        self.logger = logger
    }

    func run(connected: @escaping @Sendable () -> Bool) async throws {
        var rates = UsageRates()
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let window = "\(Int(interval.components.seconds))s"
        while !Task.isCancelled {
            let now = Date().timeIntervalSince1970
            let stamp = RFC3339.now()
            var report: [(key: String, value: JSONValue)] = []
            let stat = (try? String(contentsOfFile: "/proc/stat", encoding: .utf8)) ?? ""
            let host = NodeResources.HostSample.read(root: "/")
            if let busy = UsageRates.hostCPU(stat, ticksPerSecond: ticks > 0 ? ticks : 100),
               let nanocores = rates.rate("node", cpuNanoseconds: busy, at: now) {
                report.append(("node", .object([
                    ("timestamp", .string(stamp)), ("window", .string(window)),
                    ("usage", .object([("cpu", .string(UsageRates.cpu(nanocores))),
                                       ("memory", .string(UsageRates.memory(host.memoryTotal - host.memoryAvailable)))])),
                ])))
            }
            var pods: [String: (namespace: String, name: String, containers: [JSONValue])] = [:]
            var keys: Set<String> = ["node"]
            if let stats = try? await cri.listContainerStats() {
                for stat in stats {
                    let labels = stat.attributes.labels
                    guard let uid = labels[PodConfig.podUIDLabel], let name = labels[PodConfig.podNameLabel],
                          let namespace = labels[PodConfig.podNamespaceLabel],
                          let container = labels[PodConfig.containerNameLabel] else { continue }
                    let key = stat.attributes.id
                    keys.insert(key)
                    guard stat.hasCpu, stat.hasMemory,
                          let nanocores = rates.rate(key, cpuNanoseconds: Double(stat.cpu.usageCoreNanoSeconds.value), at: now)
                    else { continue }
                    let usage: JSONValue = .object([("cpu", .string(UsageRates.cpu(nanocores))),
                                                    ("memory", .string(UsageRates.memory(Double(stat.memory.workingSetBytes.value))))])
                    pods[uid, default: (namespace, name, [])].containers.append(.object([("name", .string(container)), ("usage", usage)]))
                }
            }
            rates.keep(keys)
            report.append(("pods", .array(pods.values.sorted { ($0.namespace, $0.name) < ($1.namespace, $1.name) }.map { pod in
                .object([("namespace", .string(pod.namespace)), ("name", .string(pod.name)), ("timestamp", .string(stamp)),
                         ("window", .string(window)), ("containers", .array(pod.containers))])
            })))
            if connected() {
                let message = StreamProtocol.frame(.metrics, session: node, source: StreamProtocol.edgeSource,
                                                   content: .object(report))
                do {
                    try await bus.publish(Topics.metricsUp, MessageCodec.encode(message))
                } catch {
                    logger.debug("usage figures not published", metadata: ["reason": "\(error)"])
                }
            }
            try await Task.sleep(for: interval)
        }
    }
}
