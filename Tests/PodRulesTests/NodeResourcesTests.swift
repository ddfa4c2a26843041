@testable import EdgedService
import Testing

/// Node pressure and allocatable as kubelet computes them, with KubeEdge edged's default hard eviction thresholds
/// (kubelet's DefaultEvictionHard: memory.available<100Mi, nodefs.available<10%, imagefs.available<15%,
/// nodefs.inodesFree<5%).
@Suite("node pressure and allocatable")
struct NodeResourcesTests {
    let defaults = try! NodeResources.parseThresholds(NodeResources.defaultEvictionHard)
    let healthy = NodeResources.HostSample(memoryTotal: 8e9, memoryAvailable: 4e9, fsTotal: 100e9, fsAvailable: 50e9,
                                           inodesTotal: 1e6, inodesFree: 5e5, pidMax: 32768, pids: 300)

    func pressure(_ sample: NodeResources.HostSample, _ thresholds: [String: NodeResources.Threshold]? = nil) -> [String: Bool] {
        Dictionary(uniqueKeysWithValues: NodeResources.conditions(sample, thresholds: thresholds ?? defaults).map { ($0.type, $0.pressure) })
    }

    @Test("thresholds parse as kubelet's flags; a bad one is an error")
    func parsing() throws {
        #expect(defaults["memory.available"] == .quantity(100 * 1_048_576))
        #expect(defaults["nodefs.available"] == .percent(10))
        #expect(throws: EdgedError.self) { try NodeResources.parseThresholds("memory.available>1Gi") }
        #expect(throws: EdgedError.self) { try NodeResources.parseThresholds("cpu.available<1") }
        #expect(throws: EdgedError.self) { try NodeResources.parseReserved("gpu=1") }
        #expect(try NodeResources.parseReserved("cpu=500m,memory=1Gi") == ["cpu": 0.5, "memory": 1_073_741_824])
    }

    @Test("pressure conditions from the host's numbers")
    func conditions() {
        #expect(pressure(healthy) == ["MemoryPressure": false, "DiskPressure": false, "PIDPressure": false])
        var low = healthy
        low.memoryAvailable = 50 * 1_048_576
        #expect(pressure(low)["MemoryPressure"] == true)
        var full = healthy
        full.fsAvailable = 12e9  // 12 %: below imagefs' 15 %
        #expect(pressure(full)["DiskPressure"] == true)
        var inodes = healthy
        inodes.inodesFree = 4e4  // 4 %
        #expect(pressure(inodes)["DiskPressure"] == true)
        var pids = healthy
        pids.pids = 32000
        #expect(pressure(pids)["PIDPressure"] == false)  // no pid threshold by default
        #expect(pressure(pids, try! NodeResources.parseThresholds("pid.available<5%"))["PIDPressure"] == true)
    }

    @Test("allocatable subtracts reservations and the hard eviction threshold")
    func allocatable() {
        let free = NodeResources.allocatable(
            capacity: ["cpu": 2, "memory": 8_589_934_592, "ephemeral-storage": 100e9],
            systemReserved: ["cpu": 0.1, "memory": 104_857_600], kubeReserved: ["memory": 209_715_200], thresholds: defaults)
        #expect(abs(free["cpu"]! - 1.9) < 1e-9)
        let expected: Double = 8_589_934_592 - 104_857_600 - 209_715_200 - 104_857_600
        #expect(free["memory"]! == expected)
        #expect(free["ephemeral-storage"] == 90e9)
    }

    @Test("a pressure condition is held for the transition period after its signal clears")
    func transitionPeriod() {
        var low = healthy
        low.memoryAvailable = 50 * 1_048_576
        var last: [String: Double] = [:]
        let seen = NodeResources.held(NodeResources.conditions(low, thresholds: defaults), lastPressure: &last, now: 1000, period: 300)
        #expect(seen.first { $0.type == "MemoryPressure" }?.pressure == true)
        let cleared = NodeResources.conditions(healthy, thresholds: defaults)
        #expect(NodeResources.held(cleared, lastPressure: &last, now: 1200, period: 300).first { $0.type == "MemoryPressure" }?.pressure == true)
        #expect(NodeResources.held(cleared, lastPressure: &last, now: 1301, period: 300).first { $0.type == "MemoryPressure" }?.pressure == false)
    }
}
