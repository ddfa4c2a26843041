import EdgeProtocol
import FDStream
import Foundation
import HTTPFetch
import SPDY
import Synchronization

/// A session with the container runtime's streaming server (the URL CRI `Exec`, `Attach` or `PortForward` returns):
/// HTTP upgrade to SPDY/3.1, then the streams client-go opens. exec and attach (`v4.channel.k8s.io`): one stream
/// each for error, stdin, stdout, stderr and resize. port-forward (`portforward.k8s.io`): an error and a data stream
/// for one connection to the port. Output and the final status arrive in `events`.
final class RuntimeStream: Sendable {
    enum Purpose: Sendable {
        case command(stdin: Bool, stdout: Bool, stderr: Bool, tty: Bool)
        case portForward(port: Int)
    }

    enum Event: Sendable {
        /// Output (exec, attach), or what the pod's port sent (port-forward).
        case stdout([UInt8])
        case stderr([UInt8])
        /// exec and attach: the v4 protocol's Status JSON, success or the exit code. port-forward: the runtime's
        /// error text.
        case status([UInt8])
        case closed(String)
    }

    private struct State {
        var writer = SPDYFrameWriter()
        var reader = SPDYFrameReader(readsHeaders: false)
        var upgraded = false
        var head: [UInt8] = []
        var handshake: CheckedContinuation<Void, any Error>?
        var handshakeResult: Result<Void, StreamFailure>?
        var status: [UInt8] = []
        var ended = false
        /// Output handed to `events` and not yet taken by the session (`consumed`).
        var buffered = 0
        var closing = false
        /// port-forward: which of the runtime's two streams it has closed.
        var dataClosed = false
        var errorClosed = false
    }

    /// Output the runtime may have waiting here: past it the reader stops reading, so TCP holds the runtime back
    /// (a command printing faster than the cloud side takes it never grows edged's memory).
    static let bufferLimit = 1 << 20
    private let room = NSCondition()

    let events: AsyncStream<Event>
    private let sink: AsyncStream<Event>.Continuation
    private let stream: FDStream
    private let state = Mutex(State())
    private let purpose: Purpose
    /// Stream ids. port-forward's one data stream is both `stdin` and `stdout`.
    private let ids: (error: UInt32, stdin: UInt32?, stdout: UInt32?, stderr: UInt32?, resize: UInt32?)

    private init(stream: FDStream, purpose: Purpose) {
        self.stream = stream
        self.purpose = purpose
        (events, sink) = AsyncStream.makeStream(bufferingPolicy: .unbounded)
        var next: UInt32 = 1
        func take(_ wanted: Bool) -> UInt32? {
            guard wanted else { return nil }
            defer { next += 2 }
            return next
        }
        let error = take(true)!
        switch purpose {
        case .command(let stdin, let stdout, let stderr, let tty):
            ids = (error, take(stdin), take(stdout), take(stderr && !tty), take(tty))
        case .portForward:
            let data = take(true)!
            ids = (error, data, data, nil, nil)
        }
    }

    /// Connects to `url` (`http://host:port/path`) and opens the streams; throws when the server refuses.
    static func open(url: String, purpose: Purpose, timeout: Duration = .seconds(10)) async throws -> RuntimeStream {
        guard let target = HTTPFetch.Target(url: url), !target.tls else {
            throw StreamFailure(code: 500, reason: "InternalError", "unsupported streaming URL \(url)")
        }
        let stream: FDStream
        do {
            stream = try await FDStream.connectTCP(host: target.host, port: target.port, timeout: timeout)
        } catch {
            throw StreamFailure(code: 500, reason: "InternalError", "cannot reach the runtime's streaming server: \(error)")
        }
        let session = RuntimeStream(stream: stream, purpose: purpose)
        let authority = target.host.contains(":") ? "[\(target.host)]:\(target.port)" : "\(target.host):\(target.port)"
        try await session.handshake(host: authority, path: target.path, timeout: timeout)
        return session
    }

    private func handshake(host: String, path: String, timeout: Duration) async throws {
        stream.startReading(onBytes: { [self] bytes in received(bytes) },
                            onClose: { [self] reason in ended("the runtime's stream closed: \(reason)") })
        let version = if case .portForward = purpose { "portforward.k8s.io" } else { "v4.channel.k8s.io" }
        let request = "POST \(path) HTTP/1.1\r\nHost: \(host)\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
            + "X-Stream-Protocol-Version: \(version)\r\nContent-Length: 0\r\n\r\n"
        do {
            try stream.send(Array(request.utf8))
        } catch {
            stream.close()
            throw StreamFailure(code: 500, reason: "InternalError", "cannot write to the runtime's streaming server: \(error)")
        }
        let timer = Task {
            try await Task.sleep(for: timeout)
            self.finishHandshake(.failure(StreamFailure(code: 500, reason: "InternalError",
                                                        "the runtime's streaming server did not answer within \(timeout)")))
        }
        defer { timer.cancel() }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let ready = state.withLock { s -> Result<Void, StreamFailure>? in
                if let result = s.handshakeResult { return result }
                s.handshake = continuation
                return nil
            }
            if let ready { continuation.resume(with: ready.mapError { $0 as any Error }) }
        }
        // The streams client-go opens, in its order; the server starts once it has them all.
        var frames: [SPDYFrame] = []
        switch purpose {
        case .command:
            frames.append(.synStream(id: ids.error, headers: [SPDYHeader("streamtype", "error")]))
            if let id = ids.stdin { frames.append(.synStream(id: id, headers: [SPDYHeader("streamtype", "stdin")])) }
            if let id = ids.stdout { frames.append(.synStream(id: id, headers: [SPDYHeader("streamtype", "stdout")])) }
            if let id = ids.stderr { frames.append(.synStream(id: id, headers: [SPDYHeader("streamtype", "stderr")])) }
            if let id = ids.resize { frames.append(.synStream(id: id, headers: [SPDYHeader("streamtype", "resize")])) }
        case .portForward(let port):
            // One connection to the port: request 0 of this SPDY connection. The client's side of the error stream
            // is closed at once, as client-go does (only the runtime writes on it).
            func headers(_ type: String) -> [SPDYHeader] {
                [SPDYHeader("streamtype", type), SPDYHeader("port", String(port)), SPDYHeader("requestid", "0")]
            }
            frames.append(.synStream(id: ids.error, headers: headers("error"), fin: true))
            frames.append(.synStream(id: ids.stdout!, headers: headers("data")))
        }
        try write(frames)
    }

    private func finishHandshake(_ result: Result<Void, StreamFailure>) {
        let waiter = state.withLock { s -> CheckedContinuation<Void, any Error>? in
            guard s.handshakeResult == nil else { return nil }
            s.handshakeResult = result
            defer { s.handshake = nil }
            return s.handshake
        }
        waiter?.resume(with: result.mapError { $0 as any Error })
    }

    private func write(_ frames: [SPDYFrame]) throws {
        let bytes = state.withLock { s in frames.flatMap { s.writer.encode($0) } }
        do {
            try stream.send(bytes)
        } catch {
            throw StreamFailure(code: 500, reason: "InternalError", "write to the runtime failed: \(error)")
        }
    }

    func writeStdin(_ bytes: [UInt8]) throws {
        guard let id = ids.stdin, !bytes.isEmpty else { return }
        var offset = 0
        while offset < bytes.count {
            let end = min(offset + 16 << 10, bytes.count)
            try write([.data(id: id, fin: false, payload: Array(bytes[offset..<end]))])
            offset = end
        }
    }

    /// The client's stdin ended: the command sees end of file (port-forward: the pod's connection is half-closed).
    func closeStdin() throws {
        guard let id = ids.stdin else { return }
        try write([.data(id: id, fin: true, payload: [])])
    }

    /// A terminal size change, as JSON `{"Width": w, "Height": h}`.
    func resize(_ json: [UInt8]) throws {
        guard let id = ids.resize else { return }
        try write([.data(id: id, fin: false, payload: json)])
    }

    func close() {
        stream.close()
        state.withLock { $0.closing = true }
        room.broadcast()
    }

    /// The session sent `count` bytes of output on: the reader may read that much more.
    func consumed(_ count: Int) {
        state.withLock { $0.buffered -= count }
        room.broadcast()
    }

    private func received(_ bytes: [UInt8]) {
        var out: [Event] = []
        var replies: [SPDYFrame] = []
        var handshake: Result<Void, StreamFailure>?
        var broken: String?
        state.withLock { s in
            var input = bytes
            if !s.upgraded {
                s.head += bytes
                guard let end = s.head.firstRange(of: Array("\r\n\r\n".utf8)) else {
                    if s.head.count > 16 << 10 { broken = "the runtime's streaming server sent no HTTP answer" }
                    return
                }
                let head = String(decoding: s.head[..<end.lowerBound], as: UTF8.self)
                input = Array(s.head[end.upperBound...])
                s.head = []
                let status = head.split(separator: " ", maxSplits: 2).dropFirst().first.flatMap { Int($0) } ?? 0
                guard status == 101 else {
                    handshake = .failure(StreamFailure(code: 500, reason: "InternalError",
                                                       "the runtime refused the stream: \(head.split(separator: "\r\n").first ?? "")"))
                    return
                }
                s.upgraded = true
                handshake = .success(())
            }
            do {
                for frame in try s.reader.push(input) {
                    switch frame {
                    case .data(let id, let fin, let payload):
                        if id == ids.stdout, !payload.isEmpty { out.append(.stdout(payload)) }
                        if id == ids.stderr, !payload.isEmpty { out.append(.stderr(payload)) }
                        if id == ids.error {
                            s.status += payload
                            if fin, !s.status.isEmpty {
                                out.append(.status(s.status))
                                s.status = []
                            }
                            if fin { s.errorClosed = true }
                        }
                        if id == ids.stdout, fin { s.dataClosed = true }
                        // port-forward: the runtime closes both streams once the pod's connection is over, the error
                        // stream after writing any error, in either order; the SPDY connection itself would stay open
                        // for further requests.
                        if case .portForward = purpose, s.dataClosed, s.errorClosed {
                            broken = "the pod's connection closed"
                        }
                    case .rstStream(let id, _) where id == ids.stdout:
                        broken = "the runtime reset the stream"
                    case .ping(let id):
                        replies.append(.ping(id: id))
                    case .goAway:
                        broken = "the runtime ended the stream"
                    default:
                        break
                    }
                }
            } catch {
                broken = "\(error)"
            }
        }
        if let handshake { finishHandshake(handshake) }
        if !replies.isEmpty { try? write(replies) }
        let size = out.reduce(0) { total, event in
            switch event {
            case .stdout(let bytes), .stderr(let bytes): total + bytes.count
            default: total
            }
        }
        state.withLock { $0.buffered += size }
        for event in out { sink.yield(event) }
        // The reader thread waits here while the session is behind.
        while state.withLock({ $0.buffered > Self.bufferLimit && !$0.ended && !$0.closing }) {
            room.lock()
            _ = room.wait(until: Date().addingTimeInterval(0.2))
            room.unlock()
        }
        if let broken {
            ended(broken)
            stream.close()
        }
    }

    private func ended(_ reason: String) {
        let (first, status) = state.withLock { s -> (Bool, [UInt8]) in
            defer { s.ended = true; s.status = [] }
            return (!s.ended, s.status)
        }
        finishHandshake(.failure(StreamFailure(code: 500, reason: "InternalError", reason)))
        guard first else { return }
        if !status.isEmpty { sink.yield(.status(status)) }
        sink.yield(.closed(reason))
        sink.finish()
    }
}
