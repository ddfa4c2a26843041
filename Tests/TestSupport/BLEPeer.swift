import Foundation

/// bumble virtual controllers on one link (Tests/Peers/ble_peer.py): GATT peripherals, and one controller for the
/// code under test as H4 over TCP on a free port (or over a pty, like a UART).
public final class BLEPeer: Sendable {
    /// The `--hci` value for the mapper.
    public let hci: String
    public let child: ChildProcess
    private let directory: URL

    /// `peripherals`: (address, advertised name). `tick`: seconds between temperature steps (0: only on command).
    public init(peripherals: [(address: String, name: String)] = [("F0:F0:F0:F0:F0:01", "edge-sensor")],
                uart: Bool = false, tick: Double = 1) async throws {
        directory = try TemporaryDirectory.make(prefix: "ble")
        let central: String
        if uart {
            let path = directory.appendingPathComponent("hci-uart").path
            central = "pty:\(path)"
            hci = "serial:\(path)@1000000"
        } else {
            let port = try FreePort.next()
            central = "tcp-server:127.0.0.1:\(port)"
            hci = "tcp:127.0.0.1:\(port)"
        }
        var arguments = [Repository.root.appendingPathComponent("Tests/Peers/ble_peer.py").path, "--central", central,
                         "--tick", String(tick)]
        for peripheral in peripherals { arguments += ["--peripheral", "\(peripheral.address),\(peripheral.name)"] }
        child = try ChildProcess(try PeersVenv.python(), arguments, stdin: true)
        try await child.waitForLine(containing: "READY", timeout: 60)
    }

    deinit {
        child.signal(SIGKILL)
        try? FileManager.default.removeItem(at: directory)
    }

    /// A control command (see ble_peer.py): `away ADDR`, `back ADDR`, `temp ADDR VALUE`, `alarm ADDR VALUE`; waits
    /// until the peer has done it.
    public func command(_ line: String) async throws {
        let done = child.lines.filter { $0.hasPrefix("done ") }.count
        try child.send(line)
        try await child.waitForLines(timeout: 20, "\(line) done") { lines in lines.filter { $0.hasPrefix("done ") }.count > done }
    }
}
