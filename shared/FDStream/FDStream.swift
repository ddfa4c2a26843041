// A byte stream over one file descriptor (a TCP socket, a tty, a raw socket) with a reader thread of its own: the
// mappers' protocol clients (OPC UA, BLE) talk to few peers, and a thread each is cheaper in memory than an event
// loop library. Plain pthreads and a Mutex, not Foundation's Thread and NSLock (which cost a mapper ~600 kB).
import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

public struct FDStreamError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

public final class FDStream: Sendable {
    public let fd: Int32
    private let closed = Mutex(false)

    /// Takes ownership of `fd`: the reader thread closes it when it ends.
    public init(fd: Int32) { self.fd = fd }

    /// Connects to `host:port` (each resolved address in turn) within `timeout`, with TCP_NODELAY, off the
    /// cooperative pool.
    public static func connectTCP(host: String, port: Int, timeout: Duration) async throws(FDStreamError) -> FDStream {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<FDStream, FDStreamError>, Never>) in
            DispatchQueue.global().async {
                continuation.resume(returning: Result { () throws(FDStreamError) -> FDStream in
                    FDStream(fd: try connectTCPBlocking(host: host, port: port, timeout: timeout))
                })
            }
        }
        return try result.get()
    }

    private static func connectTCPBlocking(host: String, port: Int, timeout: Duration) throws(FDStreamError) -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let resolved = getaddrinfo(host, String(port), &hints, &list)
        guard resolved == 0, let first = list else {
            throw FDStreamError("cannot resolve \(host): \(String(cString: gai_strerror(resolved)))")
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
        throw FDStreamError("cannot connect to \(host):\(port): \(lastError)")
    }

    /// Writes all of `bytes` (send() on a socket, write() on anything else).
    public func send(_ bytes: [UInt8]) throws(FDStreamError) {
        var failure: FDStreamError?
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                var written = Glibc.send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                if written < 0 && errno == ENOTSOCK { written = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset) }
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = FDStreamError("write failed: \(String(cString: strerror(errno)))")
                    return
                }
                offset += written
            }
        }
        if let failure { throw failure }
    }

    /// Starts the reader thread: `onBytes` for what arrives, then `onClose` once with the reason ("closed" after
    /// `close()`); the descriptor is closed as the thread ends.
    public func startReading(onBytes: @escaping @Sendable ([UInt8]) -> Void, onClose: @escaping @Sendable (String) -> Void) {
        let loop: @Sendable () -> Void = { [self] in
            var buffer = [UInt8](repeating: 0, count: 65_536)
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
                    onClose(isClosed ? "closed" : count == 0 ? "the peer closed the connection" : String(cString: strerror(errno)))
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
            Unmanaged<ThreadBody>.fromOpaque(context!).takeRetainedValue().run()
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

    /// Ends the stream: a socket's reader wakes at once, a tty's within one poll period.
    public func close() {
        let first = closed.withLock { c -> Bool in
            defer { c = true }
            return !c
        }
        if first { _ = shutdown(fd, Int32(SHUT_RDWR)) }
    }
}

/// A closure for pthread_create.
private final class ThreadBody: Sendable {
    let run: @Sendable () -> Void
    init(_ run: @escaping @Sendable () -> Void) { self.run = run }
}
