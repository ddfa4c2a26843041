import Foundation
import Testing

/// A private containerd (Debian's 1.6 + runc) started by a test on its own socket, root and state directories, with
/// a busybox image and a pause image built locally from busybox-static (Tests/Peers/oci-busybox.py) and imported
/// into the CRI namespace: no registry, no network. Needs root and the Debian packages containerd, runc,
/// busybox-static and containernetworking-plugins (see docs/test-peers.md §2, §3).
///
/// `stop()` ends what it started: pods are stopped and removed over CRI by the test, then containerd gets SIGTERM,
/// left-over shims of this instance are killed, the pods' cgroup directories and the scratch directory are removed.
public final class Containerd: @unchecked Sendable {
    // @unchecked: every property is set in init and only read afterwards.
    public static let busyboxImage = "localhost/edge/busybox:local"
    public static let pauseImage = "localhost/edge/pause:local"
    /// The cgroup parent tests give their pods; `stop()` removes the directories under it.
    public static let cgroupRoot = "/cri-swift-test"

    public let directory: String
    public let socket: String
    private let process: Process
    private let log: String

    public init() async throws {
        for tool in ["/usr/bin/containerd", "/usr/bin/ctr", "/usr/sbin/runc", "/bin/busybox"] {
            guard FileManager.default.isExecutableFile(atPath: tool) else {
                throw HarnessError(
                    "\(tool) is missing: apt-get install containerd runc busybox-static containernetworking-plugins")
            }
        }
        guard getuid() == 0 else { throw HarnessError("containerd tests need root") }

        // Short path: a unix socket path must fit in 108 bytes.
        var template = Array("/tmp/cri-test.XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw HarnessError("mkdtemp failed") }
        directory = String(cString: made)
        socket = directory + "/containerd.sock"
        log = directory + "/containerd.log"
        try FileManager.default.createDirectory(atPath: directory + "/cni", withIntermediateDirectories: true)
        let config = """
            version = 2
            root = "\(directory)/root"
            state = "\(directory)/state"
            [grpc]
              address = "\(socket)"
            [plugins."io.containerd.grpc.v1.cri"]
              sandbox_image = "\(Self.pauseImage)"
              restrict_oom_score_adj = true
              disable_apparmor = true
              [plugins."io.containerd.grpc.v1.cri".containerd]
                snapshotter = "overlayfs"
                default_runtime_name = "runc"
                [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
                  runtime_type = "io.containerd.runc.v2"
                  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
                    SystemdCgroup = false
                    BinaryName = "/usr/sbin/runc"
              [plugins."io.containerd.grpc.v1.cri".cni]
                bin_dir = "/usr/lib/cni"
                conf_dir = "\(directory)/cni"

            """
        try config.write(toFile: directory + "/containerd.toml", atomically: true, encoding: .utf8)

        guard FileManager.default.createFile(atPath: log, contents: nil) else { throw HarnessError("cannot create \(log)") }
        let logHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/containerd")
        process.arguments = ["--config", directory + "/containerd.toml"]
        process.standardOutput = logHandle
        process.standardError = logHandle
        try ChildProcess.withSignalsUnblocked { try process.run() }
        try? logHandle.close()

        do {
            // Ready when `ctr version` answers on the socket (~0.1–0.2 s; 20 s budget on a loaded machine).
            try await Self.poll("containerd answering on \(socket)", timeout: 20) {
                FileManager.default.fileExists(atPath: socket)
                    && (try? Self.run("/usr/bin/ctr", ["--address", socket, "version"])) != nil
            }
            try importImages()
        } catch {
            await stop()
            throw HarnessError("\(error)\n--- containerd log ---\n\(logText)")
        }
    }

    /// The CNI bridge `enableBridge` made, removed by `stop()`.
    private let bridge = Watched<String?>(nil)

    /// Gives pods a network of their own: a CNI bridge config in containerd's conf_dir (picked up live). The
    /// bridge name and subnet are this instance's own; `ipMasq` off keeps traffic on the machine.
    public func enableBridge() throws {
        let suffix = Int(getpid() % 200) + 20
        let name = "kest\(suffix)"
        let config = """
            {"cniVersion":"1.0.0","name":"kes-test","plugins":[
             {"type":"bridge","bridge":"\(name)","isGateway":true,"ipMasq":false,"hairpinMode":true,
              "ipam":{"type":"host-local","ranges":[[{"subnet":"10.89.\(suffix).0/24"}]],"routes":[{"dst":"0.0.0.0/0"}],
                      "dataDir":"\(directory)/cni-ipam"}}]}
            """
        try config.write(toFile: directory + "/cni/10-kes-test.conflist", atomically: true, encoding: .utf8)
        bridge.update { $0 = name }
    }

    public var logText: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

    private func importImages() throws {
        let peers = Repository.root.appendingPathComponent("Tests/Peers/oci-busybox.py").path
        let python = FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") ? "/usr/bin/python3" : "python3"
        try Self.run(python, [peers, directory + "/busybox.tar", Self.busyboxImage, "sh"])
        try Self.run(python, [peers, directory + "/pause.tar", Self.pauseImage, "sleep", "infinity"])
        for tar in ["busybox.tar", "pause.tar"] {
            // CRI works in containerd's namespace k8s.io.
            try Self.run("/usr/bin/ctr", ["--address", socket, "-n", "k8s.io", "images", "import", directory + "/" + tar])
        }
    }

    /// Builds and imports one more busybox image under `reference`, different from the others (its command).
    public func importImage(_ reference: String, command: [String]) throws {
        let peers = Repository.root.appendingPathComponent("Tests/Peers/oci-busybox.py").path
        let python = FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") ? "/usr/bin/python3" : "python3"
        let tar = directory + "/extra-\(UInt32.random(in: 0...UInt32.max)).tar"
        try Self.run(python, [peers, tar, reference] + command)
        try Self.run("/usr/bin/ctr", ["--address", socket, "-n", "k8s.io", "images", "import", tar])
    }

    /// The image references containerd's CRI namespace has.
    public func imageReferences() throws -> [String] {
        try Self.run("/usr/bin/ctr", ["--address", socket, "-n", "k8s.io", "images", "ls", "-q"])
            .split(separator: "\n").map(String.init)
    }

    /// Stops containerd and cleans up; the test must have stopped and removed its pods first.
    public func stop() async {
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            let stopped = (try? await Self.poll("containerd exit", timeout: 10) { !self.process.isRunning }) != nil
            if !stopped { kill(process.processIdentifier, SIGKILL) }
        }
        // Shims are reparented to PID 1; those of this instance carry our socket on their command line.
        for pid in Self.processes(withArgument: socket) { kill(pid, SIGKILL) }
        // Empty pod cgroups (one per v1 hierarchy, or one tree under cgroup2).
        for hierarchy in (try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup")) ?? [] {
            let root = "/sys/fs/cgroup/\(hierarchy)\(Self.cgroupRoot)"
            for pod in (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [] where pod.hasPrefix("pod") {
                rmdir(root + "/" + pod)
            }
            rmdir(root)
        }
        if let name = bridge.value { _ = try? Self.run("/usr/sbin/ip", ["link", "del", name]) }
        // Mounts left under the scratch directory (none after a clean stop) must go before rm -rf.
        for mount in Self.mountPoints(under: directory).reversed() { umount2(mount, Int32(MNT_DETACH)) }
        try? FileManager.default.removeItem(atPath: directory)
    }

    // MARK: - Helpers

    /// Runs a tool to completion (bounded by `timeout` seconds) and returns its output; throws on failure.
    @discardableResult
    public static func run(_ tool: String, _ arguments: [String], timeout: Double = 30) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool.hasPrefix("/") ? tool : "/usr/bin/env")
        process.arguments = tool.hasPrefix("/") ? arguments : [tool] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try ChildProcess.withSignalsUnblocked { try process.run() }
        let deadline = Date().addingTimeInterval(timeout)
        var output = Data()
        let reader = pipe.fileHandleForReading
        // Read until EOF; the pipe is small, so read before waiting for exit.
        while true {
            let chunk = reader.availableData
            if chunk.isEmpty { break }
            output.append(chunk)
            if Date() > deadline { break }
        }
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning {
            process.terminate()
            throw HarnessError("\(tool) \(arguments.joined(separator: " ")) did not finish in \(timeout) s")
        }
        let text = String(decoding: output, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw HarnessError("\(tool) \(arguments.joined(separator: " ")) exited \(process.terminationStatus): \(text)")
        }
        return text
    }

    /// Polls `condition` every 20 ms until it holds; throws after `timeout` seconds.
    public static func poll(_ what: String, timeout: Double, _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw HarnessError("timed out after \(timeout) s waiting for \(what)")
    }

    private static func processes(withArgument argument: String) -> [pid_t] {
        let own = getpid()
        return ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { entry in
            guard let pid = pid_t(entry), pid != own,
                let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline")
            else { return nil }
            let arguments = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            return arguments.contains(argument) ? pid : nil
        }
    }

    private static func mountPoints(under prefix: String) -> [String] {
        guard let mounts = try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8) else { return [] }
        return mounts.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count > 1 else { return nil }
            let point = String(fields[1])
            return point.hasPrefix(prefix + "/") ? point : nil
        }
    }
}

public struct HarnessError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
