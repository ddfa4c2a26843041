import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Where the controller is: H4 over TCP, H4 over a UART (or a pty), or a Linux HCI user channel.
public enum HCITransportSpec: Equatable, Sendable, CustomStringConvertible {
    case tcp(host: String, port: Int)
    case serial(path: String, baud: Int)
    /// `hci<N>`: the kernel's HCI user channel on adapter N (exclusive; the adapter must be down and BlueZ off it).
    case userChannel(index: UInt16)

    /// `tcp:HOST:PORT`, `serial:/dev/ttyX[@baud]` (default 115200), `hci<N>`.
    public init?(_ text: String) {
        if text.hasPrefix("tcp:") {
            let rest = text.dropFirst(4)
            guard let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]),
                  (1...65535).contains(port) else { return nil }
            var host = String(rest[..<colon])
            if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            guard !host.isEmpty else { return nil }
            self = .tcp(host: host, port: port)
        } else if text.hasPrefix("serial:") {
            let rest = text.dropFirst(7)
            let parts = rest.split(separator: "@", maxSplits: 1)
            guard let path = parts.first, !path.isEmpty else { return nil }
            let baud = parts.count == 2 ? Int(parts[1]) : 115_200
            guard let baud, HCIStream.speed(baud) != nil else { return nil }
            self = .serial(path: String(path), baud: baud)
        } else if text.hasPrefix("hci"), let index = UInt16(text.dropFirst(3)) {
            self = .userChannel(index: index)
        } else {
            return nil
        }
    }

    public var description: String {
        switch self {
        case .tcp(let host, let port): "tcp:\(host):\(port)"
        case .serial(let path, let baud): "serial:\(path)@\(baud)"
        case .userChannel(let index): "hci\(index)"
        }
    }
}

/// A failure of the controller link (`link: true`: the transport or a connection is gone) or of one request.
public struct BLEError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public let isLinkFailure: Bool

    public init(_ description: String, link: Bool) {
        self.description = description
        self.isLinkFailure = link
    }
}

/// The byte stream to the controller: one file descriptor read by a thread of its own (one per controller). Plain
/// pthreads and a Mutex rather than Foundation's Thread and NSLock, which cost the mapper ~600 kB of private memory.
final class HCIStream: Sendable {
    let fd: Int32
    private let closed = Mutex(false)

    private init(fd: Int32) { self.fd = fd }

    static func open(_ spec: HCITransportSpec, timeout: Duration) async throws -> HCIStream {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try openBlocking(spec, timeout: timeout) })
            }
        }
    }

    static func speed(_ baud: Int) -> speed_t? {
        let table: [Int: speed_t] = [
            9600: speed_t(B9600), 19200: speed_t(B19200), 38400: speed_t(B38400), 57600: speed_t(B57600),
            115_200: speed_t(B115200), 230_400: speed_t(B230400), 460_800: speed_t(B460800),
            921_600: speed_t(B921600), 1_000_000: speed_t(B1000000), 1_500_000: speed_t(B1500000),
            2_000_000: speed_t(B2000000), 3_000_000: speed_t(B3000000), 4_000_000: speed_t(B4000000),
        ]
        return table[baud]
    }

    private static func openBlocking(_ spec: HCITransportSpec, timeout: Duration) throws -> HCIStream {
        switch spec {
        case .tcp(let host, let port):
            return HCIStream(fd: try connectTCP(host: host, port: port, timeout: timeout))
        case .serial(let path, let baud):
            let fd = Glibc.open(path, O_RDWR | O_NOCTTY | O_CLOEXEC)
            guard fd >= 0 else { throw BLEError("cannot open \(path): \(String(cString: strerror(errno)))", link: true) }
            var tio = termios()
            if tcgetattr(fd, &tio) == 0 {
                cfmakeraw(&tio)
                if let speed = speed(baud) { cfsetspeed(&tio, speed) }
                tio.c_cflag |= tcflag_t(CLOCAL | CREAD)
                _ = tcsetattr(fd, TCSANOW, &tio)
            }
            return HCIStream(fd: fd)
        case .userChannel(let index):
            // AF_BLUETOOTH (31), BTPROTO_HCI (1), struct sockaddr_hci { family, dev, channel = HCI_CHANNEL_USER (1) }.
            let fd = socket(31, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 1)
            guard fd >= 0 else {
                throw BLEError("cannot open an HCI socket for hci\(index): \(String(cString: strerror(errno))) (no kernel Bluetooth?)", link: true)
            }
            var address: [UInt16] = [31, index, 1]
            let bound = address.withUnsafeMutableBytes { raw in
                raw.baseAddress!.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, 6) }
            }
            guard bound == 0 else {
                let reason = String(cString: strerror(errno))
                Glibc.close(fd)
                throw BLEError("cannot bind the user channel of hci\(index): \(reason) (is the adapter down and not used by bluetoothd?)", link: true)
            }
            return HCIStream(fd: fd)
        }
    }

    private static func connectTCP(host: String, port: Int, timeout: Duration) throws -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let resolved = getaddrinfo(host, String(port), &hints, &list)
        guard resolved == 0, let first = list else {
            throw BLEError("cannot resolve \(host): \(String(cString: gai_strerror(resolved)))", link: true)
        }
        defer { freeaddrinfo(list) }
        var lastError = "no address"
        var candidate: UnsafeMutablePointer<addrinfo>? = first
        while let info = candidate {
            candidate = info.pointee.ai_next
            let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), info.pointee.ai_protocol)
            if fd < 0 { continue }
            let flags = fcntl(fd, F_GETFL)
            _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
            var result = Glibc.connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen)
            if result != 0 && errno == EINPROGRESS {
                var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                let ms = Int32(clamping: timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
                if poll(&poller, 1, ms) == 1 {
                    var error: Int32 = 0
                    var length = socklen_t(MemoryLayout<Int32>.size)
                    getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
                    result = error == 0 ? 0 : -1
                    errno = error
                } else {
                    errno = ETIMEDOUT
                    result = -1
                }
            }
            if result == 0 {
                _ = fcntl(fd, F_SETFL, flags)
                var one: Int32 = 1
                setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                return fd
            }
            lastError = String(cString: strerror(errno))
            Glibc.close(fd)
        }
        throw BLEError("cannot connect to the controller at \(host):\(port): \(lastError)", link: true)
    }

    func send(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let sent = Glibc.send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                let written = sent < 0 && errno == ENOTSOCK ? Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset) : sent
                if written < 0 {
                    if errno == EINTR { continue }
                    throw BLEError("write to the controller failed: \(String(cString: strerror(errno)))", link: true)
                }
                offset += written
            }
        }
    }

    func startReading(onBytes: @escaping @Sendable ([UInt8]) -> Void, onClose: @escaping @Sendable (String) -> Void) {
        let loop: @Sendable () -> Void = { [self] in
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                // A tty's blocked read() does not wake when it is closed: poll, and look at `closed` now and then.
                var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                let ready = poll(&poller, 1, 250)
                if isClosed {
                    onClose("closed")
                    break
                }
                if ready == 0 || (ready < 0 && errno == EINTR) { continue }
                let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
                if count > 0 {
                    onBytes(Array(buffer[0..<count]))
                } else if count < 0 && (errno == EINTR || errno == EAGAIN) {
                    continue
                } else {
                    onClose(isClosed ? "closed" : count == 0 ? "the controller closed the transport" : String(cString: strerror(errno)))
                    break
                }
            }
            Glibc.close(fd)
        }
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        pthread_attr_setstacksize(&attributes, 256 << 10)
        defer { pthread_attr_destroy(&attributes) }
        let context = Unmanaged.passRetained(ThreadBody(loop)).toOpaque()
        var thread = pthread_t()
        let created = pthread_create(&thread, &attributes, { context in
            let body = Unmanaged<ThreadBody>.fromOpaque(context!).takeRetainedValue()
            body.run()
            return nil
        }, context)
        if created == 0 {
            pthread_detach(thread)
        } else {
            Unmanaged<ThreadBody>.fromOpaque(context).release()
            onClose("cannot start the reader thread: \(String(cString: strerror(created)))")
            Glibc.close(fd)
        }
    }

    private var isClosed: Bool { closed.withLock { $0 } }

    /// Ends the transport; the reader thread closes the descriptor as it exits.
    func close() {
        let first = closed.withLock { c -> Bool in
            defer { c = true }
            return !c
        }
        if first { _ = shutdown(fd, Int32(SHUT_RDWR)) }  // wakes a socket's reader at once; a tty's within one poll
    }
}

/// A closure for pthread_create.
private final class ThreadBody: Sendable {
    let run: @Sendable () -> Void
    init(_ run: @escaping @Sendable () -> Void) { self.run = run }
}
