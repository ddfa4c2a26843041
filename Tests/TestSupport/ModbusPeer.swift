import Foundation

/// A pymodbus server (Tests/Peers/modbus_peer.py), TCP on a free port or RTU on a socat pty pair.
public final class ModbusPeer: Sendable {
    public let port: Int
    public let serialPath: String?
    public let arguments: [String]
    private let process = Watched<ChildProcess?>(nil)
    private let socat: ChildProcess?
    public let directory: URL

    /// `overrides`: modbus_peer.py flags such as `["--hr", "0=0xFB2E"]`.
    public init(rtu: Bool = false, overrides: [String] = [], port: Int? = nil) async throws {
        directory = try TemporaryDirectory.make(prefix: "modbus")
        if rtu {
            self.port = 0
            let dev = directory.appendingPathComponent("ttyS-dev").path
            let app = directory.appendingPathComponent("ttyS-app").path
            let socat = try ChildProcess(try Executables.which("socat"), [
                "-d", "-d", "pty,raw,echo=0,link=\(dev)", "pty,raw,echo=0,link=\(app)",
            ])
            self.socat = socat
            try await socat.waitForLine(containing: "starting data transfer loop", timeout: 10)
            serialPath = app
            arguments = ["rtu", "--serial", dev] + overrides
        } else {
            self.port = try port ?? FreePort.next()
            socat = nil
            serialPath = nil
            arguments = ["tcp", "--port", String(self.port)] + overrides
        }
        try await start()
    }

    deinit {
        process.value?.signal(SIGKILL)
        socat?.signal(SIGKILL)
        try? FileManager.default.removeItem(at: directory)
    }

    public func start() async throws {
        let child = try ChildProcess(try PeersVenv.python(),
                                     [Repository.root.appendingPathComponent("Tests/Peers/modbus_peer.py").path] + arguments)
        process.update { $0 = child }
        try await child.waitForLine(containing: "READY", timeout: 20)
    }

    public func kill() async {
        guard let child = process.value else { return }
        child.signal(SIGKILL)
        _ = await child.waitForExit(timeout: 10)
        process.update { $0 = nil }
    }
}

