import Bus
import EdgeProtocol
import Logging
import Synchronization

/// The API server's side of stream sessions with edge nodes (`kubectl logs` now): frames to a node go on
/// `ke/node/{node}/stream/down` (cloudhub writes them on its link), frames from it arrive on `ke/stream/{session}/up`.
/// Knows which nodes are connected (`ke/node/+/link`, retained) so that a request for an offline node fails at once.
public final class NodeStreams: Sendable {
    let bus: BusClient
    let logger: Logger
    /// How long a node may take to answer a session's open.
    let openTimeout: Duration

    private struct State {
        var links: [String: Bool] = [:]
        /// Each node's last usage report and when it came (monotonic).
        var usage: [String: (report: JSONValue, at: ContinuousClock.Instant)] = [:]
        var sessions: [String: (node: String, continuation: AsyncStream<StreamFrame>.Continuation, stream: NodeStream)] = [:]
    }

    private let state = Mutex(State())

    public init(bus: BusClient, logger: Logger, openTimeout: Duration = .seconds(15)) {
        self.bus = bus
        self.logger = logger
        self.openTimeout = openTimeout
    }

    public static let topics = [Topics.streamFromAnyNode, Topics.anyNodeLink, Topics.anyNodeMetrics]

    /// One bus message (subscribed to `topics`).
    public func handle(_ message: BusMessage) {
        let parts = message.topic.split(separator: "/")
        if parts.count == 4, parts[0] == "ke", parts[1] == "node", parts[3] == "metrics" {
            guard let envelope = try? MessageCodec.decode(message.payload),
                  let report = try? JSONValue(parsing: envelope.content.bytes) else {
                logger.warning("malformed usage report dropped", metadata: ["topic": "\(message.topic)"])
                return
            }
            state.withLock { $0.usage[String(parts[2])] = (report, .now) }
            return
        }
        if parts.count == 4, parts[0] == "ke", parts[1] == "node", parts[3] == "link" {
            let node = String(parts[2])
            let connected = message.text == "connected"
            let dropped = state.withLock { s -> [(node: String, continuation: AsyncStream<StreamFrame>.Continuation, stream: NodeStream)] in
                s.links[node] = connected
                guard !connected else { return [] }
                let ids = s.sessions.filter { $0.value.node == node }.map(\.key)
                return ids.compactMap { s.sessions.removeValue(forKey: $0) }
            }
            for entry in dropped {
                Self.end(entry.continuation, .unavailable("node \"\(node)\" went offline: its link to the cloud dropped"))
                entry.stream.ended()
            }
            return
        }
        guard let session = Topics.streamSession(ofTopic: message.topic) else { return }
        let frame: StreamFrame
        do {
            frame = try StreamFrame(try MessageCodec.decode(message.payload))
        } catch {
            logger.warning("malformed stream frame from a node dropped", metadata: ["session": "\(session)", "reason": "\(error)"])
            return
        }
        let entry = state.withLock { s in
            frame.operation == .close ? s.sessions.removeValue(forKey: session) : s.sessions[session]
        }
        guard let entry else { return }
        if frame.operation == .credit {
            entry.stream.granted(frame.credit)  // the node took input: the client's next bytes may go
            return
        }
        entry.continuation.yield(frame)
        if frame.operation == .close {
            entry.continuation.finish()
            entry.stream.ended()
        }
    }

    /// The nodes' usage reports no older than `maxAge`, of nodes whose link is up: a retained report of a node gone
    /// quiet or offline is not shown (its figures would be stale), so `kubectl top node` of it is a NotFound naming it.
    public func usage(maxAge: Duration) -> [(node: String, report: JSONValue)] {
        let now = ContinuousClock.now
        return state.withLock { s in
            s.usage.filter { now - $0.value.at <= maxAge && s.links[$0.key] != false }
                .map { ($0.key, $0.value.report) }.sorted { $0.0 < $1.0 }
        }
    }

    /// Whether the node's link is up, as cloudhub last said (nil: never seen).
    public func isConnected(_ node: String) -> Bool? { state.withLock { $0.links[node] } }

    /// Opens a session and waits for the node's first frame: a failure (offline, refused, no answer) is thrown
    /// before anything is sent to the client, so that it becomes the HTTP error.
    public func open(node: String, request: StreamRequest) async throws(StreamFailure) -> NodeStream {
        guard isConnected(node) == true else {
            throw .offline(node)
        }
        let id = Message.newID()
        let (frames, continuation) = AsyncStream<StreamFrame>.makeStream(bufferingPolicy: .unbounded)
        let stream = NodeStream(id: id, node: node, owner: self, frames: frames)
        state.withLock { $0.sessions[id] = (node, continuation, stream) }
        do {
            try await bus.publish(Topics.streamToNode(node), MessageCodec.encode(StreamProtocol.open(session: id, request: request)))
        } catch {
            forget(id)
            throw .unavailable("the cloud bus did not take the request for node \"\(node)\": \(error)")
        }
        let timeout = Task { [openTimeout] in
            try await Task.sleep(for: openTimeout)
            self.fail(id, StreamFailure(code: 504, reason: "Timeout", "node \"\(node)\" did not answer within \(openTimeout)"))
        }
        defer { timeout.cancel() }
        guard let first = await stream.next() else {
            throw StreamFailure(code: 500, reason: "InternalError", "the session with node \"\(node)\" ended")
        }
        if first.operation == .close, let failure = first.failure { throw failure }
        if first.inputCredit { stream.limitInputToCredit() }
        stream.pushBack(first)
        return stream
    }

    func fail(_ id: String, _ failure: StreamFailure) {
        guard let entry = state.withLock({ $0.sessions.removeValue(forKey: id) }) else { return }
        Self.end(entry.continuation, failure)
        entry.stream.ended()
    }

    /// Ends a session's frames with a close carrying `failure`, as if the node had sent it.
    static func end(_ continuation: AsyncStream<StreamFrame>.Continuation, _ failure: StreamFailure) {
        if let frame = try? StreamFrame(StreamProtocol.close(session: "", source: StreamProtocol.edgeSource, failure: failure)) {
            continuation.yield(frame)
        }
        continuation.finish()
    }

    func forget(_ id: String) {
        guard let entry = state.withLock({ $0.sessions.removeValue(forKey: id) }) else { return }
        entry.continuation.finish()
        entry.stream.ended()
    }

    func send(_ message: Message, to node: String) async {
        try? await bus.publish(Topics.streamToNode(node), MessageCodec.encode(message))
    }
}

/// One open session: its frames from the node, and what the API server sends back (input, credit, close). Input
/// (stdin, a forwarded connection's bytes) is sent only as far as the node has granted credit for it, as the node
/// sends output: a client uploading faster than the pod reads is held back at the API server.
public final class NodeStream: Sendable {
    public let id: String
    public let node: String
    let owner: NodeStreams
    private let frames: AsyncStream<StreamFrame>
    private let pushedBack = Mutex<StreamFrame?>(nil)

    /// Credit for the client's input; held to it only once the node says it grants it (its first frame).
    private let input = StreamCredit(limited: false)

    init(id: String, node: String, owner: NodeStreams, frames: AsyncStream<StreamFrame>) {
        self.id = id
        self.node = node
        self.owner = owner
        self.frames = frames
    }

    /// The next frame from the node (nil once the session is over). One reader at a time.
    public func next() async -> StreamFrame? {
        if let frame = pushedBack.withLock({ f -> StreamFrame? in defer { f = nil }; return f }) { return frame }
        // AsyncStream is unicast: an iterator made per call continues where the last one stopped.
        var iterator = frames.makeAsyncIterator()
        return await iterator.next()
    }

    func pushBack(_ frame: StreamFrame) { pushedBack.withLock { $0 = frame } }

    /// Sends the client's input on `channel` in chunks, each once the node has credit for it; `eof` ends the channel
    /// after the bytes. False when the session is over.
    public func sendInput(_ bytes: [UInt8], channel: StreamProtocol.Channel = .stdin, eof: Bool = false) async -> Bool {
        var offset = 0
        repeat {
            var granted = 0
            if offset < bytes.count {
                guard let taken = await input.take(upTo: bytes.count - offset) else { return false }
                granted = taken
            } else if input.isClosed {
                return false
            }
            let end = offset + granted
            await owner.send(StreamProtocol.data(session: id, source: StreamProtocol.cloudSource, channel: channel,
                                                 bytes: bytes[offset..<end], eof: eof && end == bytes.count), to: node)
            offset = end
        } while offset < bytes.count
        return true
    }

    func limitInputToCredit() { input.limit() }

    /// The node took `bytes` of input.
    func granted(_ bytes: Int) { input.grant(bytes) }

    /// The session is over: input waiting for credit gives up.
    func ended() { input.close() }

    /// The reader took `bytes`: the node may send that much more.
    public func grant(_ bytes: Int) async {
        guard bytes > 0 else { return }
        await owner.send(StreamProtocol.credit(session: id, source: StreamProtocol.cloudSource, bytes: bytes), to: node)
    }

    /// The client left (or the API server is done): the node stops serving the session.
    public func close() async {
        owner.forget(id)
        await owner.send(StreamProtocol.close(session: id, source: StreamProtocol.cloudSource), to: node)
    }
}
