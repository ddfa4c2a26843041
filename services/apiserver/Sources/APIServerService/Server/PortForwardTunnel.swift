import EdgeProtocol
import HummingbirdWebSocket
import Logging
import NIOCore
import SPDY
import Synchronization

/// `kubectl port-forward`: a SPDY/3.1 connection with the API server as SPDY server, either tunnelled in a WebSocket's
/// binary messages (`SPDY/3.1+portforward.k8s.io`, kubectl 1.31+) or after an HTTP upgrade to `SPDY/3.1` with
/// `X-Stream-Protocol-Version: portforward.k8s.io` (earlier kubectl). Each local connection kubectl accepts is
/// a pair of streams with the same `requestid` header: `error` (only the server writes on it) and `data`, both naming
/// the `port`. A pair is one stream session with the pod's node (kind `portforward`), served there by edged through
/// CRI `PortForward`: the pod's bytes come back as SPDY data, kubectl's go down as session input with credit, and
/// a failure at the node (nothing listens on the port, …) is written on the error stream as kubelet writes it.
struct PortForwardTunnel: Sendable {
    static let protocols = ["SPDY/3.1+portforward.k8s.io"]
    /// The protocol after an HTTP upgrade to SPDY/3.1 (`X-Stream-Protocol-Version`).
    static let spdyProtocol = "portforward.k8s.io"

    let streams: NodeStreams
    let namespace: String
    let pod: String
    let uid: String
    let node: String
    let logger: Logger

    /// What the reader hands a pair's task: kubectl's bytes, the end of them, or a reset of the pair.
    enum Input: Sendable {
        case bytes([UInt8])
        case end
        case reset
    }

    /// One forwarded connection as its streams arrive.
    struct Pair {
        var port: Int?
        var error: UInt32?
        var data: UInt32?
        var input: AsyncStream<Input>.Continuation?
        var backlog: Backlog?
    }

    /// kubectl's bytes handed to a pair and not yet taken by its node: past `limit` the reader stops reading the
    /// WebSocket until the node catches up (SPDY's own flow control is not used by kubectl's spdystream).
    final class Backlog: Sendable {
        static let limit = 1 << 20
        private let state = Mutex<(bytes: Int, waiter: CheckedContinuation<Void, Never>?)>((0, nil))

        func add(_ count: Int) { state.withLock { $0.bytes += count } }

        func take(_ count: Int) {
            let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
                s.bytes -= count
                guard s.bytes <= Self.limit else { return nil }
                defer { s.waiter = nil }
                return s.waiter
            }
            waiter?.resume()
        }

        /// Returns once at most `limit` bytes wait (or the pair is over: `take(Int.max / 2)`).
        func waitForRoom() async {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { s -> Bool in
                    guard s.bytes > Self.limit else { return true }
                    s.waiter = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        }
    }

    /// Over a WebSocket.
    func run(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async {
        let binary = inbound.messages(maxSize: 1 << 20).compactMap { message -> [UInt8]? in
            if case .binary(let buffer) = message { Array(buffer: buffer) } else { nil }
        }
        await run(transport: "websocket", input: binary, consumed: { _ in }, out: TunnelOutput { bytes in
            do {
                try await outbound.write(.binary(ByteBuffer(bytes: bytes)))
                return true
            } catch {
                return false
            }
        })
        try? await outbound.close(.normalClosure, reason: nil)
    }

    /// Over a connection switched to SPDY (its 101 already sent).
    func run(_ connection: SPDYConnection) async {
        await run(transport: "spdy", input: connection.input, consumed: connection.consumed,
                  out: TunnelOutput { await connection.send($0) })
    }

    /// `input`: the client's bytes, each chunk reported to `consumed` once read.
    private func run<Source: AsyncSequence>(transport: String, input: Source, consumed: @escaping @Sendable (Int) -> Void,
                                            out: TunnelOutput) async where Source.Element == [UInt8] {
        var spdy = SPDYServerSide(out: out, context: "port-forward of \(namespace)/\(pod)", logger: logger)
        var pairs: [String: Pair] = [:]
        var requestOfStream: [UInt32: String] = [:]
        logger.info("port-forward tunnel", metadata: ["pod": "\(namespace)/\(pod)", "node": "\(node)", "transport": "\(transport)"])
        await withTaskGroup(of: Void.self) { group in
            do {
                messages: for try await bytes in input {
                    consumed(bytes.count)
                    guard let events = await spdy.receive(bytes) else { break messages }
                    for event in events {
                        switch event {
                        case .opened(let id, let headers):
                            guard let request = headers.value("requestid"), let type = headers.value("streamtype"),
                                  type == "error" || type == "data" else {
                                await spdy.refuse(id)
                                continue
                            }
                            requestOfStream[id] = request
                            var pair = pairs[request] ?? Pair()
                            if type == "error" { pair.error = id } else { pair.data = id }
                            pair.port = pair.port ?? headers.value("port").flatMap { Int($0) }
                            if let error = pair.error, let data = pair.data, pair.input == nil {
                                let (input, continuation) = AsyncStream<Input>.makeStream(bufferingPolicy: .unbounded)
                                let backlog = Backlog()
                                pair.input = continuation
                                pair.backlog = backlog
                                let port = pair.port
                                group.addTask {
                                    await self.forward(port: port, error: error, data: data, input: input,
                                                       backlog: backlog, out: out)
                                }
                            }
                            pairs[request] = pair
                        case .data(let id, let fin, let payload):
                            // kubectl's side of the error stream only ever closes: nothing to pass on.
                            guard let request = requestOfStream[id], let pair = pairs[request], pair.data == id else { continue }
                            if !payload.isEmpty {
                                pair.backlog?.add(payload.count)
                                pair.input?.yield(.bytes(payload))
                            }
                            if fin { pair.input?.yield(.end) }
                            await pair.backlog?.waitForRoom()
                        case .reset(let id):
                            // kubectl removes a finished connection's streams with resets; an open one is cancelled.
                            guard let request = requestOfStream.removeValue(forKey: id) else { continue }
                            pairs.removeValue(forKey: request)?.input?.yield(.reset)
                        }
                    }
                }
            } catch {
                logger.debug("port-forward tunnel read ended", metadata: ["error": "\(error)"])
            }
            // kubectl left: every connection still open ends at the node.
            for pair in pairs.values { pair.input?.yield(.reset) }
            await group.waitForAll()
        }
        logger.info("port-forward tunnel closed", metadata: ["pod": "\(namespace)/\(pod)"])
    }

    /// One connection: a session with the node for the port, kubectl's bytes down, the pod's up; then both streams
    /// closed (the error stream carrying the failure, if any), as kubelet closes them.
    private func forward(port: Int?, error: UInt32, data: UInt32, input: AsyncStream<Input>, backlog: Backlog,
                         out: TunnelOutput) async {
        // Whatever happens, the reader never waits on this pair once it is over.
        defer { backlog.take(Int.max / 2) }
        func finish(_ failure: String?) async {
            // As kubelet writes it: the text alone (kubectl adds "an error occurred forwarding P -> P: ").
            if let failure { await out.send(SPDYFrameWriter.data(id: error, fin: false, Array(failure.utf8))) }
            await out.send(SPDYFrameWriter.data(id: error, fin: true, []))
            await out.send(SPDYFrameWriter.data(id: data, fin: true, []))
        }
        guard let port, (1...65535).contains(port) else {
            await finish("the stream does not name a port from 1 to 65535")
            return
        }
        var ask = StreamRequest(kind: .portforward, namespace: namespace, pod: pod, uid: uid, container: "")
        ask.ports = [port]
        let session: NodeStream
        do {
            session = try await streams.open(node: node, request: ask)
        } catch {
            await finish(error.message)
            return
        }
        let upload = Task {
            for await next in input {
                switch next {
                case .bytes(let bytes):
                    let sent = await session.sendInput(bytes)
                    backlog.take(bytes.count)
                    guard sent else { return }
                case .end:
                    _ = await session.sendInput([], eof: true)
                case .reset:
                    await session.close()
                    return
                }
            }
        }
        var failure: String?
        while let next = await session.next() {
            if next.operation == .close {
                failure = next.failure?.message
                break
            }
            guard next.operation == .data, next.channel == .stdout, !next.data.isEmpty else { continue }
            guard await out.send(SPDYFrameWriter.data(id: data, fin: false, next.data)) else {
                await session.close()
                break
            }
            await session.grant(next.data.count)
        }
        upload.cancel()
        await finish(failure)
    }
}
