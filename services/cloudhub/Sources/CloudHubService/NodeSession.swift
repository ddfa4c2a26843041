import Bus
import EdgeProtocol
import HummingbirdWebSocket
import Link
import Logging
import NIOCore
import Synchronization

/// One edge node's websocket link: sends its outbox in order, takes its upstream messages to the cloud bus, and
/// watches its keepalives.
///
/// Delivery: an ACK-class message stays in the outbox until the edge's `response` names it; a NO-ACK message is
/// removed once written (KubeEdge's behaviour) or, for our own hub, once hub has acknowledged it. Up to `window`
/// messages are unacknowledged at once, but never two for the same object, so per-object order holds. Anything
/// unacknowledged when the link drops is sent again, in order, on the next connection.
final class NodeSession: Sendable {
    let node: String
    let ackCapable: Bool
    let peer: String
    private let hub: CloudHubServer
    private let outbound: WebSocketOutboundWriter
    private let logger: Logger
    private let state = Mutex(State())
    private let wakeups: AsyncStream<Void>
    private let wakeupContinuation: AsyncStream<Void>.Continuation

    static let window = 64
    static let resendAfter: Duration = .seconds(5)
    static let maxAttempts = 5

    private struct Inflight {
        let key: String
        let payload: [UInt8]
        var sentAt: ContinuousClock.Instant
        var attempts: Int
    }

    private struct State {
        var closed = false
        var lastKeepalive = ContinuousClock.now
        var inflight: [String: Inflight] = [:]
        var stuckReported = false
    }

    init(node: String, hub: CloudHubServer, outbound: WebSocketOutboundWriter, ackCapable: Bool, peer: String) {
        self.node = node
        self.hub = hub
        self.outbound = outbound
        self.ackCapable = ackCapable
        self.peer = peer
        var logger = hub.logger
        logger[metadataKey: "node"] = "\(node)"
        self.logger = logger
        (wakeups, wakeupContinuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    func wake() { wakeupContinuation.yield() }

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
        hub.register(self)
        logger.info("edge connected", metadata: [
            "peer": "\(peer)", "ack_capable": "\(ackCapable)",
            "backlog": "\((try? hub.outbox.count(node)) ?? -1)",
        ])
        wake()
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.sendLoop() }
            group.addTask { await self.timerLoop() }
            await self.readLoop(inbound, maxMessageSize: maxMessageSize)
            self.close(reason: "connection ended")
            group.cancelAll()
        }
        hub.unregister(self)
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
                await handleUpstream(message)
            }
        } catch {
            logger.warning("link read failed", metadata: ["reason": "\(error)"])
        }
    }

    private func handleUpstream(_ message: Message) async {
        switch LinkRules.upstream(message) {
        case .empty:
            return  // edgecore's shutdown frame
        case .keepalive:
            state.withLock { $0.lastKeepalive = .now }
            return
        case .ack(let parentID):
            let known = state.withLock { $0.inflight.removeValue(forKey: parentID) != nil }
            logger.trace("ack from the edge", metadata: ["parent": "\(parentID)", "known": "\(known)"])
            do {
                if try hub.outbox.remove(node, msgID: parentID) || known { wake() }
            } catch {
                logger.error("outbox update failed", metadata: ["reason": "\(error)"])
            }
            // hub's own transport acknowledgements are not acknowledged back.
            if message.route.source == LinkProtocol.hubSource { return }
        case .error:
            logger.warning("edge reported an error", metadata: [
                "resource": "\(message.route.resource)", "content": "\(message.content.text.prefix(300))",
            ])
        case .module(let module):
            do {
                if hub.firstSighting(of: message.header.id, from: node) {
                    try await hub.context.bus.publishConfirmed(
                        Topics.fromNode(node, module: module), MessageCodec.encode(message))
                }
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

    private func sendLoop() async {
        var cursor: Int64 = 0
        for await _ in wakeups {
            while !state.withLock({ $0.closed }) {
                let entries: [DurableQueue.Entry]
                do {
                    entries = try hub.outbox.entries(node, after: cursor, limit: 256)
                } catch {
                    logger.error("outbox read failed", metadata: ["reason": "\(error)"])
                    return
                }
                var progressed = false
                for entry in entries {
                    let waitsForAck = entry.needsAck || ackCapable
                    let blocked = state.withLock { s in
                        s.inflight.count >= Self.window || s.inflight.values.contains { $0.key == entry.key }
                    }
                    if blocked { break }  // resumes when an acknowledgement wakes us
                    if waitsForAck {
                        state.withLock {
                            $0.inflight[entry.msgID] = Inflight(key: entry.key, payload: entry.payload,
                                                                sentAt: .now, attempts: 1)
                        }
                    }
                    do {
                        try await send(String(decoding: entry.payload + [UInt8(ascii: "\n")], as: UTF8.self))
                    } catch {
                        close(reason: "write failed: \(error)")
                        return
                    }
                    if !waitsForAck { _ = try? hub.outbox.remove(node, msgID: entry.msgID) }
                    cursor = entry.seq
                    progressed = true
                }
                if !progressed { break }
            }
        }
    }

    private func send(_ frame: String) async throws {
        try await outbound.write(.text(frame))
    }

    // MARK: timers

    /// Keepalive timeout and re-sending of unacknowledged messages (every 5 s, at most 5 times per connection).
    private func timerLoop() async {
        let timeout = Duration.seconds(hub.options.keepaliveTimeout)
        while !Task.isCancelled {
            do { try await Task.sleep(for: .seconds(1)) } catch { return }
            let now = ContinuousClock.now
            let (expired, due, stuck) = state.withLock { s -> (Bool, [(String, [UInt8])], Int) in
                if now - s.lastKeepalive > timeout { return (true, [], 0) }
                var due: [(String, [UInt8])] = []
                var stuck = 0
                for (id, var item) in s.inflight where now - item.sentAt > Self.resendAfter {
                    if item.attempts >= Self.maxAttempts {
                        stuck += 1
                        continue
                    }
                    item.attempts += 1
                    item.sentAt = now
                    s.inflight[id] = item
                    due.append((id, item.payload))
                }
                let report = stuck > 0 && !s.stuckReported
                if report { s.stuckReported = true }
                return (false, due, report ? stuck : 0)
            }
            if expired {
                logger.warning("no keepalive within \(hub.options.keepaliveTimeout) s")
                close(reason: "keepalive timeout")
                return
            }
            for (_, payload) in due {
                try? await send(String(decoding: payload + [UInt8(ascii: "\n")], as: UTF8.self))
            }
            if stuck > 0 {
                logger.warning("messages unacknowledged after \(Self.maxAttempts) sends; kept for the next connection",
                               metadata: ["count": "\(stuck)"])
            }
        }
    }
}
