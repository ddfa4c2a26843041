import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import TestSupport

/// A real `apiserver` process on a real cloud broker, and real kubectl pointed at it with the admin kubeconfig it
/// wrote. kubectl's discovery cache lives in the server's temporary directory.
final class APIServerProcess: Sendable {
    let broker: Broker
    let directory: URL
    let port: Int
    let insecurePort: Int
    let extraArguments: [String]
    private let process = Watched<ChildProcess?>(nil)

    var dataDir: String { directory.appendingPathComponent("data").path }
    var kubeconfig: String { dataDir + "/admin.kubeconfig" }
    var log: String { process.value?.allOutput ?? "" }

    init(_ extraArguments: [String] = []) async throws {
        broker = try await Broker()
        directory = try TemporaryDirectory.make(prefix: "apiserver")
        port = try FreePort.next()
        insecurePort = try FreePort.next()
        self.extraArguments = extraArguments
        try await start()
    }

    func start() async throws {
        let child = try ChildProcess(try Executables.product("apiserver"), [
            "--broker", broker.address, "--data-dir", dataDir, "--secure-port", String(port),
            "--insecure-port", String(insecurePort), "--watch-bookmark-interval", "1",
            "--pod-reaper-interval-ms", "100",
        ] + extraArguments)
        process.update { $0 = child }
        try await child.waitForLine(containing: "serving on", timeout: 30)
        try await child.waitForLine(containing: "serving plain HTTP", timeout: 30)
    }

    func kill() async {
        guard let child = process.value else { return }
        child.signal(SIGKILL)
        _ = await child.waitForExit(timeout: 10)
    }

    func stop() async {
        if let child = process.value {
            child.signal(SIGTERM)
            if await child.waitForExit(timeout: 10) == nil { child.signal(SIGKILL) }
        }
        await broker.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    var kubectlEnvironment: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["KUBECONFIG"] = kubeconfig
        environment["HOME"] = directory.path
        return environment
    }

    /// Runs kubectl with the admin kubeconfig.
    func kubectl(_ arguments: String..., input: String? = nil, environment extra: [String: String] = [:])
        async throws -> Command.Result
    {
        try await kubectl(arguments, input: input, environment: extra)
    }

    func kubectl(_ arguments: [String], input: String? = nil, environment extra: [String: String] = [:])
        async throws -> Command.Result
    {
        let environment = kubectlEnvironment.merging(extra) { $1 }
        return try await Command.run(
            try Executables.which("kubectl"),
            ["--cache-dir", directory.appendingPathComponent("kube-cache").path] + arguments,
            environment: environment, input: input, timeout: 60)
    }

    /// kubectl that must succeed: its stdout.
    func ok(_ arguments: String..., input: String? = nil, environment: [String: String] = [:]) async throws -> String {
        let result = try await kubectl(arguments, input: input, environment: environment)
        guard result.status == 0 else {
            throw TestSupportError("kubectl \(arguments.joined(separator: " ")) failed: \(result)")
        }
        return result.stdout
    }

    /// The server's plain-HTTP loopback address.
    var insecureURL: String { "http://127.0.0.1:\(insecurePort)" }
}

/// ../shared/kubeedge-manifests beside the checkout.
enum Manifests {
    static var root: URL {
        Repository.root.deletingLastPathComponent().appendingPathComponent("shared/kubeedge-manifests")
    }
}

/// A raw HTTP request to the plain loopback port (for cases kubectl cannot make).
func http(_ method: String, _ url: String, body: String? = nil, contentType: String = "application/json")
    async throws -> (status: Int, body: String)
{
    var request = URLRequest(url: URL(string: url)!)
    request.httpMethod = method
    request.timeoutInterval = 30
    if let body {
        request.httpBody = Data(body.utf8)
        request.setValue(contentType, forHTTPHeaderField: "Content-Type")
    }
    let (data, response) = try await URLSession.shared.data(for: request)
    return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
}
