import Foundation

/// A private mosquitto on a free loopback port (and optionally a unix socket), with persistence in its own temporary
/// directory. Tests start one each, so they can run in parallel and never touch a system broker.
public final class Broker: Sendable {
    public let port: Int
    public let directory: URL
    public let socketPath: String?
    private let configPath: URL
    private let process = Watched<ChildProcess?>(nil)

    public var address: String { "127.0.0.1:\(port)" }

    /// - Parameters:
    ///   - unixSocket: also listen on a unix socket in the broker's directory.
    ///   - maxQueuedMessages: mosquitto's per-client queue limit (0 = unlimited, as our shipped configs set).
    ///   - extraConfig: more mosquitto.conf lines (e.g. TLS listeners).
    public init(unixSocket: Bool = false, maxQueuedMessages: Int = 0, extraConfig: String = "") async throws {
        directory = try TemporaryDirectory.make(prefix: "broker")
        port = try FreePort.next()
        socketPath = unixSocket ? directory.appendingPathComponent("mqtt.sock").path : nil
        configPath = directory.appendingPathComponent("mosquitto.conf")
        var config = """
            user root
            per_listener_settings false
            allow_anonymous true
            persistence true
            persistence_location \(directory.path)/
            autosave_interval 30
            log_dest stderr
            log_type error
            log_type warning
            log_type notice
            log_type information
            max_queued_messages \(maxQueuedMessages)
            max_inflight_messages 100
            set_tcp_nodelay true
            listener \(port) 127.0.0.1

            """
        if let socketPath { config += "listener 0 \(socketPath)\n" }
        config += extraConfig
        try config.write(to: configPath, atomically: true, encoding: .utf8)
        try await start()
    }

    deinit {
        process.value?.signal(SIGKILL)
        try? FileManager.default.removeItem(at: directory)
    }

    /// Starts the broker and waits (for its "running" log line) until it accepts connections.
    public func start() async throws {
        let child = try ChildProcess(try Executables.which("mosquitto"), ["-c", configPath.path])
        process.update { $0 = child }
        try await child.waitForLine(containing: " running", timeout: 10)
    }

    /// SIGTERM (mosquitto saves its persistence file) and waits for the exit.
    public func stop() async {
        guard let child = process.value else { return }
        child.signal(SIGTERM)
        _ = await child.waitForExit(timeout: 10)
        process.update { $0 = nil }
    }

    /// SIGKILL: nothing saved.
    public func kill() async {
        guard let child = process.value else { return }
        child.signal(SIGKILL)
        _ = await child.waitForExit(timeout: 10)
        process.update { $0 = nil }
    }

    public func restart() async throws {
        await stop()
        try await start()
    }

    /// What the broker has logged so far.
    public var log: String { process.value?.allOutput ?? "" }
}

public enum TemporaryDirectory {
    public static func make(prefix: String) throws -> URL {
        let base = URL(fileURLWithPath: NSTemporaryDirectory())
        let url = base.appendingPathComponent("kubeedge-swift-\(prefix)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

public enum FreePort {
    /// Ports handed out by this process, never handed out twice.
    private static let given = Watched<Set<Int>>([])
    /// Below Linux's ephemeral range (32768–60999 by default): the kernel picks a connection's source port from that
    /// range, so a port taken from it could be in use as one (a kubectl's, a broker client's) by the time a server
    /// binds it. Above KubeEdge's own ports (10000–10004, 1883).
    static let range = 20000..<32768

    /// A loopback TCP port that was free a moment ago (bound and released), from `range`.
    public static func next() throws -> Int {
        for _ in 0..<500 {
            let port = Int.random(in: range)
            var fresh = false
            given.update { fresh = $0.insert(port).inserted }
            guard fresh else { continue }
            if let fd = try? bindLoopback(port: port) {
                close(fd.fd)
                return port
            }
        }
        throw TestSupportError("no free loopback port in \(range)")
    }

    /// A TCP socket bound to a loopback port (0: one the kernel chooses), not listening, and that port.
    static func bindLoopback(port: Int = 0) throws -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestSupportError("socket() failed") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else {
            close(fd)
            throw TestSupportError("bind() failed")
        }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }
}

/// A loopback port held bound but never listened on for the object's life: connecting to it is refused, and no other
/// test can take it meanwhile (a port merely free a moment ago may be taken by another test's server).
public final class DeadPort: Sendable {
    public let port: Int
    private let fd: Int32

    public init() throws {
        (fd, port) = try FreePort.bindLoopback()
    }

    deinit { close(fd) }
}

public struct TestSupportError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

public enum Executables {
    /// The directory holding this package's built executables (next to the test bundle).
    public static var buildDirectory: URL {
        URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
    }

    /// One of this package's executables (`hub`, `kebus`, ...).
    public static func product(_ name: String) throws -> String {
        let path = buildDirectory.appendingPathComponent(name).path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw TestSupportError("executable \(name) not built at \(path)")
        }
        return path
    }

    /// A program on PATH (or in /usr/sbin, where Debian puts mosquitto).
    public static func which(_ name: String) throws -> String {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "") + ":/usr/sbin:/usr/bin:/sbin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw TestSupportError("\(name) not found on PATH")
    }

    /// A kubectl of one minor version (`kubectl(minor: 28)`): the Google Cloud SDK's `kubectl` on PATH is a dispatcher
    /// that runs the version matching the server's, and keeps `kubectl.1.27` … `kubectl.1.33` beside itself.
    public static func kubectl(minor: Int) throws -> String {
        let dispatcher = try which("kubectl")
        let path = URL(fileURLWithPath: dispatcher).resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("kubectl.1.\(minor)").path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw TestSupportError("no kubectl 1.\(minor) beside \(dispatcher)")
        }
        return path
    }
}

/// A blocking TCP connection to a loopback port, with receive and send timeouts: the raw clients of tests (SPDY bytes,
/// an echo through port-forward).
public enum LoopbackTCP {
    public static func connect(port: Int, timeoutSeconds: Int = 30) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestSupportError("socket() failed") }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            throw TestSupportError("connect to 127.0.0.1:\(port) failed: errno \(errno)")
        }
        return fd
    }
}
