import Foundation

public enum Repository {
    /// The repository's root (for Tests/Peers and ../shared).
    public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
}

/// The Python venv with the test peers (pymodbus, kubernetes) made by scripts/setup-peers.sh.
public enum PeersVenv {
    public static var path: String {
        ProcessInfo.processInfo.environment["KUBEEDGE_PEERS_VENV"]
            ?? (NSHomeDirectory() + "/.cache/kubeedge-swift/peers-venv")
    }

    public static func python() throws -> String {
        let python = path + "/bin/python"
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw TestSupportError("the test peers venv is missing at \(path): run scripts/setup-peers.sh")
        }
        return python
    }
}
