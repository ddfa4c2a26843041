import EdgeProtocol
import Logging
import SPDY

/// `kubectl exec` and `attach` over SPDY/3.1, as kubectl before 1.29 speaks them (and later ones when the WebSocket
/// upgrade fails): `v4.channel.k8s.io`, one stream per channel, each named by its `streamtype` header (`error`,
/// `stdin`, `stdout`, `stderr`, `resize`). Once the streams the request asked for are open, the session with the
/// node starts; its output goes on the output streams, its final Status on the error stream, and then every stream
/// the server writes is closed, which is how kubectl learns the command is over.
struct SPDYCommandSession: Sendable {
    static let protocols = ["v4.channel.k8s.io"]
    /// How long kubectl may take to open its streams after the upgrade (kubelet allows 30 s too).
    static let streamCreationTimeout: Duration = .seconds(30)

    let streams: NodeStreams
    let request: StreamRequest
    let node: String
    let logger: Logger

    private struct Channels {
        var ids: [String: UInt32] = [:]

        func complete(for request: StreamRequest) -> Bool {
            ids["error"] != nil && (!request.stdin || ids["stdin"] != nil) && (!request.stdout || ids["stdout"] != nil)
                && (!request.stderr || request.tty || ids["stderr"] != nil) && (!request.tty || ids["resize"] != nil)
        }
    }

    /// What the reader hands the session: kubectl's stdin, its end, a terminal size, or the client going away.
    private enum Input: Sendable {
        case stdin([UInt8])
        case stdinEnd
        case resize([UInt8])
        case gone
    }

    func run(_ connection: SPDYConnection) async {
        let out = TunnelOutput { await connection.send($0) }
        var spdy = SPDYServerSide(out: out, context: "\(request.kind.rawValue) of \(request.namespace)/\(request.pod) over SPDY",
                                  logger: logger)
        var channels = Channels()
        var started = false
        let (inputs, inputSink) = AsyncStream<Input>.makeStream(bufferingPolicy: .unbounded)
        let (ready, readySink) = AsyncStream<[String: UInt32]>.makeStream(bufferingPolicy: .unbounded)
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.serve(ready: ready, inputs: inputs, out: out) }
            let deadline = Task {
                try await Task.sleep(for: Self.streamCreationTimeout)
                readySink.finish()  // the streams never came: the session gives up
            }
            reading: for await bytes in connection.input {
                connection.consumed(bytes.count)
                guard let events = await spdy.receive(bytes) else { break reading }
                for event in events {
                    switch event {
                    case .opened(let id, let headers):
                        guard let type = headers.value("streamtype"),
                              ["error", "stdin", "stdout", "stderr", "resize"].contains(type) else {
                            await spdy.refuse(id)
                            continue
                        }
                        channels.ids[type] = id
                        if !started, channels.complete(for: request) {
                            started = true
                            deadline.cancel()
                            readySink.yield(channels.ids)
                            readySink.finish()
                        }
                    case .data(let id, let fin, let payload):
                        if id == channels.ids["stdin"] {
                            if !payload.isEmpty { inputSink.yield(.stdin(payload)) }
                            if fin { inputSink.yield(.stdinEnd) }
                        } else if id == channels.ids["resize"], !payload.isEmpty {
                            inputSink.yield(.resize(payload))
                        }
                    case .reset:
                        break
                    }
                }
            }
            deadline.cancel()
            readySink.finish()
            inputSink.yield(.gone)
            inputSink.finish()
        }
    }

    /// Waits for the streams, runs the node's session, and writes its output and end.
    private func serve(ready: AsyncStream<[String: UInt32]>, inputs: AsyncStream<Input>, out: TunnelOutput) async {
        var readyIterator = ready.makeAsyncIterator()
        guard let ids = await readyIterator.next(), let errorID = ids["error"] else {
            logger.warning("\(request.kind.rawValue) over SPDY: the client did not open its streams",
                           metadata: ["pod": "\(request.namespace)/\(request.pod)"])
            return
        }
        let serverStreams = [ids["stdout"], ids["stderr"], errorID].compactMap { $0 }
        func finish(status: [UInt8]?) async {
            if let status { await out.send(SPDYFrameWriter.data(id: errorID, fin: false, status)) }
            for id in serverStreams { await out.send(SPDYFrameWriter.data(id: id, fin: true, [])) }
        }
        let session: NodeStream
        do {
            session = try await streams.open(node: node, request: request)
        } catch {
            await finish(status: RemoteCommandEndpoint.status(error))
            return
        }
        logger.info("\(request.kind.rawValue) session over SPDY", metadata: [
            "pod": "\(request.namespace)/\(request.pod)", "container": "\(request.container)", "node": "\(node)",
        ])
        let input = Task {
            for await next in inputs {
                switch next {
                case .stdin(let bytes):
                    guard await session.sendInput(bytes) else { return }
                case .stdinEnd:
                    _ = await session.sendInput([], eof: true)
                case .resize(let json):
                    await streams.send(StreamProtocol.data(session: session.id, source: StreamProtocol.cloudSource,
                                                           channel: .resize, bytes: json), to: node)
                case .gone:
                    await session.close()  // kubectl left: the command's stream ends at the node
                    return
                }
            }
        }
        var status: [UInt8]?
        while let next = await session.next() {
            if next.operation == .close {
                if let failure = next.failure, status == nil { status = RemoteCommandEndpoint.status(failure) }
                break
            }
            guard next.operation == .data, !next.data.isEmpty else { continue }
            switch next.channel {
            case .stdout, .stderr:
                guard let id = ids[next.channel == .stdout ? "stdout" : "stderr"] else { continue }
                guard await out.send(SPDYFrameWriter.data(id: id, fin: false, next.data)) else {
                    await session.close()
                    input.cancel()
                    return
                }
                await session.grant(next.data.count)
            case .status:
                status = next.data
            default:
                break
            }
        }
        input.cancel()
        await finish(status: status)
    }
}
