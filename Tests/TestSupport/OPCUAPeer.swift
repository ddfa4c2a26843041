import Foundation

/// An asyncua server (Tests/Peers/opcua_peer.py) on a free port: every built-in type under Objects/Device1.
public final class OPCUAPeer: Sendable {
    public let port: Int
    public let arguments: [String]
    private let process = Watched<ChildProcess?>(nil)

    public var endpoint: String { "opc.tcp://127.0.0.1:\(port)/" }

    /// `user`/`password`: the server then accepts only that user-name login. `tick`: Counter's period in seconds.
    /// `secureDirectory`: also Basic256Sha256 endpoints, with a server certificate made there.
    public init(user: String? = nil, password: String? = nil, tick: Double = 0.5, port: Int? = nil,
                secureDirectory: String? = nil) async throws {
        self.port = try port ?? FreePort.next()
        var arguments = ["--port", String(self.port), "--tick", String(tick)]
        if let user, let password { arguments += ["--user", user, "--password", password] }
        if let secureDirectory { arguments += ["--secure", secureDirectory] }
        self.arguments = arguments
        try await start()
    }

    deinit {
        process.value?.signal(SIGKILL)
    }

    /// Starts the server; asyncua builds its address space first (seconds on a loaded machine).
    public func start() async throws {
        let child = try ChildProcess(try PeersVenv.python(),
                                     [Repository.root.appendingPathComponent("Tests/Peers/opcua_peer.py").path] + arguments)
        process.update { $0 = child }
        try await child.waitForLine(containing: "READY", timeout: 60)
    }

    public func kill() async {
        guard let child = process.value else { return }
        child.signal(SIGKILL)
        _ = await child.waitForExit(timeout: 10)
        process.update { $0 = nil }
    }

    /// The node's value as asyncua's own `uaread` prints it (an independent reader).
    public func read(_ nodeID: String) async throws -> String {
        let reader = URL(fileURLWithPath: try PeersVenv.python()).deletingLastPathComponent().appendingPathComponent("uaread").path
        let result = try await Command.run(reader, ["-u", endpoint, "-n", nodeID], timeout: 60)
        guard result.status == 0 else { throw TestSupportError("uaread \(nodeID) failed: \(result)") }
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
