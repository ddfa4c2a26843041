import Foundation

/// The node's pressure conditions and allocatable resources as kubelet computes them, with KubeEdge edged's
/// defaults (edgecore v1alpha2 `default_kubelet_configuration.go`: kubelet's DefaultEvictionHard
/// `memory.available<100Mi, nodefs.available<10%, imagefs.available<15%, nodefs.inodesFree<5%`, no reservations).
/// Pure: the host's numbers come in a `HostSample`.
public enum NodeResources {
    /// A hard eviction threshold: an absolute amount, or a percentage of the capacity.
    public enum Threshold: Sendable, Equatable {
        case quantity(Double)
        case percent(Double)

        func amount(of capacity: Double) -> Double {
            switch self {
            case .quantity(let value): value
            case .percent(let percent): capacity * percent / 100
            }
        }
    }

    public static let defaultEvictionHard = "memory.available<100Mi,nodefs.available<10%,imagefs.available<15%,nodefs.inodesFree<5%"

    /// `signal<value` pairs, comma-separated (kubelet's `--eviction-hard` map written as flags).
    public static func parseThresholds(_ text: String) throws -> [String: Threshold] {
        var out: [String: Threshold] = [:]
        for part in text.split(separator: ",") where !part.trimmingCharacters(in: .whitespaces).isEmpty {
            let pieces = part.split(separator: "<", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pieces.count == 2 else { throw EdgedError("eviction threshold \(part) is not signal<value") }
            let signal = pieces[0], value = pieces[1]
            guard ["memory.available", "nodefs.available", "imagefs.available", "nodefs.inodesFree", "pid.available"]
                .contains(signal) else { throw EdgedError("unknown eviction signal \(signal)") }
            if value.hasSuffix("%"), let percent = Double(value.dropLast()), (0...100).contains(percent) {
                out[signal] = .percent(percent)
            } else if let amount = Quantity.value(value), amount >= 0 {
                out[signal] = .quantity(amount)
            } else {
                throw EdgedError("eviction threshold \(signal)<\(value) has no amount or percentage")
            }
        }
        return out
    }

    /// `cpu=100m,memory=200Mi,ephemeral-storage=1Gi` (kubelet's `--system-reserved` / `--kube-reserved`).
    public static func parseReserved(_ text: String) throws -> [String: Double] {
        var out: [String: Double] = [:]
        for part in text.split(separator: ",") where !part.isEmpty {
            let pieces = part.split(separator: "=", maxSplits: 1).map(String.init)
            guard pieces.count == 2, ["cpu", "memory", "ephemeral-storage", "pid"].contains(pieces[0]),
                  let amount = Quantity.value(pieces[1]), amount >= 0 else {
                throw EdgedError("reservation \(part) is not cpu=, memory=, ephemeral-storage= or pid= an amount")
            }
            out[pieces[0]] = amount
        }
        return out
    }

    /// What the host has now.
    public struct HostSample: Sendable, Equatable {
        public var memoryTotal: Double
        public var memoryAvailable: Double
        public var fsTotal: Double
        public var fsAvailable: Double
        public var inodesTotal: Double
        public var inodesFree: Double
        public var pidMax: Double
        public var pids: Double

        public init(memoryTotal: Double, memoryAvailable: Double, fsTotal: Double, fsAvailable: Double,
                    inodesTotal: Double, inodesFree: Double, pidMax: Double, pids: Double) {
            self.memoryTotal = memoryTotal
            self.memoryAvailable = memoryAvailable
            self.fsTotal = fsTotal
            self.fsAvailable = fsAvailable
            self.inodesTotal = inodesTotal
            self.inodesFree = inodesFree
            self.pidMax = pidMax
            self.pids = pids
        }

        /// /proc/meminfo, statvfs of `root` (the node's and the images' filesystem here), the process count.
        public static func read(root: String) -> HostSample {
            var total = 0.0, available = 0.0
            let meminfo = (try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8)) ?? ""
            for line in meminfo.split(separator: "\n") {
                let parts = line.split(separator: " ", omittingEmptySubsequences: true)
                guard parts.count >= 2, let kib = Double(parts[1]) else { continue }
                if parts[0] == "MemTotal:" { total = kib * 1024 }
                if parts[0] == "MemAvailable:" { available = kib * 1024 }
            }
            var fs = statvfs()
            let ok = statvfs(root, &fs) == 0
            let pidMax = Double(((try? String(contentsOfFile: "/proc/sys/kernel/pid_max", encoding: .utf8)) ?? "")
                .trimmingCharacters(in: .whitespacesAndNewlines)) ?? 32768
            let pids = Double(((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [])
                .filter { $0.allSatisfy(\.isNumber) }.count)
            return HostSample(
                memoryTotal: total, memoryAvailable: available,
                fsTotal: ok ? Double(fs.f_blocks) * Double(fs.f_frsize) : 0,
                fsAvailable: ok ? Double(fs.f_bavail) * Double(fs.f_frsize) : 0,
                inodesTotal: ok ? Double(fs.f_files) : 0, inodesFree: ok ? Double(fs.f_favail) : 0,
                pidMax: pidMax, pids: pids)
        }
    }

    public struct Condition: Sendable, Equatable {
        public var type: String
        public var pressure: Bool
        public var reason: String
        public var message: String
    }

    /// MemoryPressure, DiskPressure and PIDPressure: true while a signal is below its threshold.
    public static func conditions(_ sample: HostSample, thresholds: [String: Threshold]) -> [Condition] {
        func below(_ signal: String, _ available: Double, of capacity: Double) -> Bool {
            guard let threshold = thresholds[signal], capacity > 0 else { return false }
            return available < threshold.amount(of: capacity)
        }
        let memory = below("memory.available", sample.memoryAvailable, of: sample.memoryTotal)
        let disk = below("nodefs.available", sample.fsAvailable, of: sample.fsTotal)
            || below("imagefs.available", sample.fsAvailable, of: sample.fsTotal)
            || below("nodefs.inodesFree", sample.inodesFree, of: sample.inodesTotal)
        let pid = below("pid.available", sample.pidMax - sample.pids, of: sample.pidMax)
        return [
            memory ? Condition(type: "MemoryPressure", pressure: true, reason: "KubeletHasInsufficientMemory",
                               message: "kubelet has insufficient memory available")
                : Condition(type: "MemoryPressure", pressure: false, reason: "KubeletHasSufficientMemory",
                            message: "kubelet has sufficient memory available"),
            disk ? Condition(type: "DiskPressure", pressure: true, reason: "KubeletHasDiskPressure",
                             message: "kubelet has disk pressure")
                : Condition(type: "DiskPressure", pressure: false, reason: "KubeletHasNoDiskPressure",
                            message: "kubelet has no disk pressure"),
            pid ? Condition(type: "PIDPressure", pressure: true, reason: "KubeletHasInsufficientPID",
                            message: "kubelet has insufficient PID available")
                : Condition(type: "PIDPressure", pressure: false, reason: "KubeletHasSufficientPID",
                            message: "kubelet has sufficient PID available"),
        ]
    }

    /// Allocatable = capacity − system-reserved − kube-reserved − the hard eviction threshold (kubelet's node
    /// allocatable, for cpu, memory and ephemeral-storage), never below zero.
    public static func allocatable(capacity: [String: Double], systemReserved: [String: Double],
                                   kubeReserved: [String: Double], thresholds: [String: Threshold]) -> [String: Double] {
        var out = capacity
        for (resource, total) in capacity {
            var amount = total - (systemReserved[resource] ?? 0) - (kubeReserved[resource] ?? 0)
            if resource == "memory", let threshold = thresholds["memory.available"] { amount -= threshold.amount(of: total) }
            if resource == "ephemeral-storage", let threshold = thresholds["nodefs.available"] {
                amount -= threshold.amount(of: total)
            }
            out[resource] = max(0, amount)
        }
        return out
    }

    /// kubelet's `evictionPressureTransitionPeriod` (5 min in KubeEdge's edged): a pressure condition stays true that
    /// long after its signal was last seen below the threshold, so that it does not flap.
    public static func held(_ current: [Condition], lastPressure: inout [String: Double], now: Double,
                            period: Double) -> [Condition] {
        current.map { condition in
            if condition.pressure {
                lastPressure[condition.type] = now
                return condition
            }
            guard let last = lastPressure[condition.type], now - last < period else { return condition }
            var held = condition
            held.pressure = true
            held.reason = condition.type == "MemoryPressure" ? "KubeletHasInsufficientMemory"
                : condition.type == "DiskPressure" ? "KubeletHasDiskPressure" : "KubeletHasInsufficientPID"
            held.message = "pressure seen \(Int(now - last)) s ago (transition period \(Int(period)) s)"
            return held
        }
    }
}
