import Foundation

/// A real `apiserver` process on a real cloud broker, and real kubectl pointed at it with the admin kubeconfig it
/// wrote. kubectl's discovery cache lives in the server's temporary directory.
public final class APIServerProcess: Sendable {
    public let broker: Broker
    public let directory: URL
    public let port: Int
    public let insecurePort: Int
    public let extraArguments: [String]
    private let process = Watched<ChildProcess?>(nil)

    public var dataDir: String { directory.appendingPathComponent("data").path }
    public var kubeconfig: String { dataDir + "/admin.kubeconfig" }
    public var log: String { process.value?.allOutput ?? "" }

    public init(_ extraArguments: [String] = [], broker: Broker? = nil) async throws {
        if let broker { self.broker = broker } else { self.broker = try await Broker() }
        directory = try TemporaryDirectory.make(prefix: "apiserver")
        port = try FreePort.next()
        insecurePort = try FreePort.next()
        self.extraArguments = extraArguments
        try await start()
    }

    public func start() async throws {
        let child = try ChildProcess(try Executables.product("apiserver"), [
            "--broker", broker.address, "--data-dir", dataDir, "--secure-port", String(port),
            "--insecure-port", String(insecurePort), "--watch-bookmark-interval", "1",
            "--pod-reaper-interval-ms", "100",
        ] + extraArguments)
        process.update { $0 = child }
        try await child.waitForLine(containing: "serving on", timeout: 30)
        try await child.waitForLine(containing: "serving plain HTTP", timeout: 30)
    }

    public func kill() async {
        guard let child = process.value else { return }
        child.signal(SIGKILL)
        _ = await child.waitForExit(timeout: 10)
    }

    /// SIGTERM, then the exit code (nil when it did not exit within `timeout`) and how long the exit took.
    public func terminate(timeout: Double = 20) async -> (status: Int32?, seconds: Double) {
        guard let child = process.value else { return (nil, 0) }
        let started = ContinuousClock.now
        child.signal(SIGTERM)
        let status = await child.waitForExit(timeout: timeout)
        let elapsed = ContinuousClock.now - started
        return (status, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }

    public func stop() async {
        if let child = process.value {
            child.signal(SIGTERM)
            if await child.waitForExit(timeout: 10) == nil { child.signal(SIGKILL) }
        }
        await broker.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    public var kubectlEnvironment: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["KUBECONFIG"] = kubeconfig
        environment["HOME"] = directory.path
        return environment
    }

    /// Runs kubectl with the admin kubeconfig.
    public func kubectl(_ arguments: String..., input: String? = nil, environment extra: [String: String] = [:])
        async throws -> Command.Result
    {
        try await kubectl(arguments, input: input, environment: extra)
    }

    public func kubectl(_ arguments: [String], input: String? = nil, environment extra: [String: String] = [:])
        async throws -> Command.Result
    {
        let environment = kubectlEnvironment.merging(extra) { $1 }
        return try await Command.run(
            try Executables.which("kubectl"),
            ["--cache-dir", directory.appendingPathComponent("kube-cache").path] + arguments,
            environment: environment, input: input, timeout: 60)
    }

    /// kubectl that must succeed: its stdout.
    public func ok(_ arguments: String..., input: String? = nil, environment: [String: String] = [:]) async throws -> String {
        let result = try await kubectl(arguments, input: input, environment: environment)
        guard result.status == 0 else {
            throw TestSupportError("kubectl \(arguments.joined(separator: " ")) failed: \(result)")
        }
        return result.stdout
    }

    /// The server's plain-HTTP loopback address.
    public var insecureURL: String { "http://127.0.0.1:\(insecurePort)" }
}

/// ../shared/kubeedge-manifests beside the checkout.
public enum Manifests {
    /// `../shared/kubeedge-manifests` beside the checkout; `KUBEEDGE_MANIFESTS` overrides it, and a clone made
    /// elsewhere (CI) falls back to the project machine's /work/shared.
    public static var root: URL {
        if let path = ProcessInfo.processInfo.environment["KUBEEDGE_MANIFESTS"] { return URL(fileURLWithPath: path) }
        let beside = Repository.root.deletingLastPathComponent().appendingPathComponent("shared/kubeedge-manifests")
        if FileManager.default.fileExists(atPath: beside.path) { return beside }
        return URL(fileURLWithPath: "/work/shared/kubeedge-manifests")
    }
}
