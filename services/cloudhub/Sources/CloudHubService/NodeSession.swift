import Bus
import EdgeProtocol
import HummingbirdWebSocket
import Link
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// What a node's session needs from cloudhub, and nothing more.
protocol NodeSessionHost: AnyObject, Sendable {
    var logger: Logger { get }
    var outbox: DurableQueue { get }
    var keepaliveTimeout: Duration { get }
    var deliveryPolicy: DeliveryWindow.Policy { get }
    func register(_ session: NodeSession)
    func unregister(_ session: NodeSession)
    /// Passes an upstream message to the cloud module (once per msg_id); throws when the cloud bus cannot take it.
    func forward(_ message: Message, from node: String, to module: CloudModule) async throws
    /// Tells people about a message moved into the dead-letter record.
    func deadLettered(_ payload: [UInt8], node: String, msgID: String, reason: String)
    /// Passes a stream frame (or usage figures) from the node to the cloud bus, as it comes.
    func forwardStream(_ message: Message, from node: String) async
}

/// One edge node's websocket link: sends its outbox through a `DeliveryWindow`, takes its upstream messages to the
/// cloud bus, and watches its keepalives.
///
/// Delivery: an ACK-class message stays in the outbox until the edge's `response` names it; a NO-ACK message is
/// removed once written (KubeEdge's behaviour) or, for our own hub, once hub has acknowledged it. A message the edge
/// refuses (an `error` naming it) or never acknowledges is dead-lettered, and its object's later messages go on; other
/// objects never wait for it. Anything unacknowledged when the link drops is sent again on the next connection.
final class NodeSession: Sendable {
    let node: String
    let ackCapable: Bool
    /// The edge agreed to stream frames (`StreamProtocol`).
    let streamCapable: Bool
    let peer: String
    private let host: any NodeSessionHost
    private let outbound: WebSocketOutboundWriter
    private let logger: Logger
    private let lane: DeliveryLane
    private let state = Mutex(State())
    private let wakeups: AsyncStream<Void>
    private let wakeupContinuation: AsyncStream<Void>.Continuation

    private struct State {
        var closed = false
        var lastKeepalive = ContinuousClock.now
        /// Shutting down: close once the frame being handled (and its ACK) is done.
        var draining = false
        var handling = false
    }

    init(node: String, host: any NodeSessionHost, outbound: WebSocketOutboundWriter, ackCapable: Bool,
         streamCapable: Bool = false, peer: String) {
        self.node = node
        self.host = host
        self.outbound = outbound
        self.ackCapable = ackCapable
        self.streamCapable = streamCapable
        self.peer = peer
        var logger = host.logger
        logger[metadataKey: "node"] = "\(node)"
        self.logger = logger
        lane = DeliveryLane(queue: host.outbox, name: node, policy: host.deliveryPolicy) { entry in
            entry.needsAck || ackCapable
        }
        (wakeups, wakeupContinuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    func wake() { wakeupContinuation.yield() }

    /// cloudhub is stopping: take no new frame, finish the one being handled, then close.
    func drain() {
        let idle = state.withLock { s -> Bool in
            s.draining = true
            return !s.handling
        }
        if idle { close(reason: "cloudhub is shutting down") }
    }

    func close(reason: String) {
        let wasOpen = state.withLock { s -> Bool in
            defer { s.closed = true }
            return !s.closed
        }
        guard wasOpen else { return }
        logger.info("closing link", metadata: ["reason": "\(reason)"])
        wakeupContinuation.finish()
        let outbound = self.outbound
        Task { try? await outbound.close(.goingAway, reason: reason) }
    }

    func run(inbound: WebSocketInboundStream, maxMessageSize: Int) async {
        host.register(self)
        logger.info("edge connected", metadata: [
            "peer": "\(peer)", "ack_capable": "\(ackCapable)",
            "backlog": "\((try? host.outbox.count(node)) ?? -1)",
        ])
        wake()
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.sendLoop() }
                group.addTask { await self.timerLoop() }
                await self.readLoop(inbound, maxMessageSize: maxMessageSize)
                self.close(reason: "connection ended")
                group.cancelAll()
            }
        } onGracefulShutdown: {
            self.drain()
        }
        host.unregister(self)
        logger.info("edge disconnected")
    }

    // MARK: upstream

    private func readLoop(_ inbound: WebSocketInboundStream, maxMessageSize: Int) async {
        do {
            for try await frame in inbound.messages(maxSize: maxMessageSize) {
                let bytes: [UInt8]
                switch frame {
                case .text(let text): bytes = Array(text.utf8)
                case .binary(let buffer): bytes = Array(buffer: buffer)
                }
                let message: Message
                do {
                    message = try MessageCodec.decode(bytes)
                } catch {
                    logger.error("dropped a malformed frame from the edge",
                                 metadata: ["reason": "\(error)", "bytes": "\(bytes.count)"])
                    continue
                }
                guard state.withLock({ s -> Bool in
                    s.handling = !s.draining
                    return s.handling
                }) else { break }
                await handleUpstream(message)
                let draining = state.withLock { s -> Bool in
                    s.handling = false
                    return s.draining
                }
                if draining {
                    close(reason: "cloudhub is shutting down")
                    break
                }
            }
        } catch {
            logger.warning("link read failed", metadata: ["reason": "\(error)"])
        }
    }

    private func handleUpstream(_ message: Message) async {
        if streamCapable, StreamProtocol.isStream(message) {
            await host.forwardStream(message, from: node)  // not acknowledged: a session ends with its link
            return
        }
        switch LinkRules.upstream(message) {
        case .empty:
            return  // edgecore's shutdown frame
        case .keepalive:
            state.withLock { $0.lastKeepalive = .now }
            return
        case .ack(let parentID):
            do {
                let known = try lane.acknowledge(parentID)
                logger.trace("ack from the edge", metadata: ["parent": "\(parentID)", "known": "\(known)"])
                if known { wake() }
            } catch {
                logger.error("outbox update failed", metadata: ["reason": "\(error)"])
            }
            // hub's own transport acknowledgements are not acknowledged back.
            if message.route.source == LinkProtocol.hubSource { return }
        case .error:
            let parent = message.header.parentID
            let detail = String((message.content.stringValue ?? message.content.text).prefix(300))
            let refused = !parent.isEmpty && lane.reject(parent, reason: "refused by the edge: \(detail)")
            logger.warning("edge reported an error", metadata: [
                "resource": "\(message.route.resource)", "group": "\(message.route.group)",
                "source": "\(message.route.source)", "parent": "\(parent)", "dead_lettered": "\(refused)",
                "content": "\(message.content.text.prefix(300))",
            ])
            if refused { wake() }
        case .module(let module):
            do {
                try await host.forward(message, from: node, to: module)
            } catch {
                // Not acknowledged: our hub sends it again after reconnecting.
                logger.error("could not pass an upstream message to the cloud bus",
                             metadata: ["reason": "\(error)", "resource": "\(message.route.resource)"])
                close(reason: "cloud bus unavailable")
                return
            }
        }
        if ackCapable {
            try? await send(LinkProtocol.frame(
                LinkProtocol.transportAck(for: message, source: LinkProtocol.cloudhubSource)))
        }
    }

    // MARK: downstream

    /// The only writer of outbox messages: performs what the delivery window decides, whenever something wakes it
    /// (a new message, an acknowledgement, a timer tick).
    private func sendLoop() async {
        for await _ in wakeups {
            while !state.withLock({ $0.closed }) {
                let steps: [DeliveryLane.Step]
                do {
                    steps = try lane.next()
                } catch {
                    logger.error("outbox read failed", metadata: ["reason": "\(error)"])
                    close(reason: "outbox unreadable")
                    return
                }
                if steps.isEmpty { break }
                for step in steps {
                    switch step {
                    case .write(let item, let payload, _):
                        do {
                            try await send(String(decoding: payload + [UInt8(ascii: "\n")], as: UTF8.self))
                            try lane.written(item)
                        } catch {
                            close(reason: "write failed: \(error)")
                            return
                        }
                    case .deadLettered(let item, let reason, let payload):
                        host.deadLettered(payload, node: node, msgID: item.msgID, reason: reason)
                    }
                }
            }
        }
    }

    private func send(_ frame: String) async throws {
        try await outbound.write(.text(frame))
    }

    /// Writes a stream frame now, beside the outbox traffic; false when the link is closed or the write failed.
    func sendStream(_ message: Message) async -> Bool {
        guard !state.withLock({ $0.closed }) else { return false }
        do {
            try await send(LinkProtocol.frame(message))
            return true
        } catch {
            close(reason: "write failed: \(error)")
            return false
        }
    }

    // MARK: timers

    /// Keepalive timeout, and the delivery window's re-sends and dead letters.
    private func timerLoop() async {
        let timeout = host.keepaliveTimeout
        while !Task.isCancelled {
            do { try await Task.sleep(for: .milliseconds(250)) } catch { return }
            if ContinuousClock.now - state.withLock({ $0.lastKeepalive }) > timeout {
                logger.warning("no keepalive within \(timeout)")
                close(reason: "keepalive timeout")
                return
            }
            if lane.tick() { wake() }
        }
    }
}
