import EdgeProtocol
import Synchronization

/// One durable queue sent through a `DeliveryWindow`: the window's decisions applied to the queue (payloads read,
/// acknowledged messages removed, given-up ones dead-lettered). The caller writes the frames and, for dead letters,
/// tells people; acknowledgements and timer ticks may come from other tasks than the one writing.
public final class DeliveryLane: Sendable {
    public enum Step: Sendable {
        /// Write this payload now (`again` for a re-send).
        case write(DeliveryWindow.Item, payload: [UInt8], again: Bool)
        /// Moved into the queue's dead-letter record; say so.
        case deadLettered(DeliveryWindow.Item, reason: String, payload: [UInt8])
    }

    public let queue: DurableQueue
    public let name: String
    private let waitsForAck: @Sendable (DurableQueue.Entry) -> Bool
    private let state: Mutex<State>

    private struct State {
        var window: DeliveryWindow
        /// Decisions made outside `next()` (acknowledgements, ticks), performed by the next call.
        var pending: [DeliveryWindow.Action] = []
        /// Payloads of messages in flight, for re-sends and dead letters without reading the queue again.
        var payloads: [String: [UInt8]] = [:]
    }

    public init(queue: DurableQueue, name: String, policy: DeliveryWindow.Policy,
                waitsForAck: @escaping @Sendable (DurableQueue.Entry) -> Bool) {
        self.queue = queue
        self.name = name
        self.waitsForAck = waitsForAck
        state = Mutex(State(window: DeliveryWindow(policy: policy)))
    }

    /// What to do now: decisions already made, then messages newly taken from the queue. Empty when nothing can go.
    public func next(now: ContinuousClock.Instant = .now, readLimit: Int = 256) throws -> [Step] {
        let (pending, cursor, wantsMore) = state.withLock { s in
            defer { s.pending = [] }
            return (s.pending, s.window.cursor, s.window.wantsMore)
        }
        var actions = pending
        if wantsMore {
            let entries = try queue.entries(name, after: cursor, limit: readLimit)
            if !entries.isEmpty {
                let offered = state.withLock { s -> [DeliveryWindow.Action] in
                    // A reconnect meanwhile reset the window: these entries no longer follow its cursor.
                    guard s.window.cursor == cursor else { return [] }
                    let taken = s.window.offer(entries.map(item), now: now)
                    for case .send(let item) in taken where item.waitsForAck {
                        s.payloads[item.msgID] = entries.first { $0.msgID == item.msgID }?.payload
                    }
                    return taken
                }
                actions += offered
            }
        }
        var steps: [Step] = []
        for action in actions {
            switch action {
            case .send(let item), .resend(let item):
                let again: Bool
                if case .resend = action { again = true } else { again = false }
                guard let payload = try payload(of: item) else {
                    // Gone from the queue meanwhile (acknowledged, or removed by a tool): nothing to send.
                    _ = state.withLock { $0.window.acknowledge(item.msgID, now: now) }
                    continue
                }
                steps.append(.write(item, payload: payload, again: again))
            case .deadLetter(let item, let reason):
                let payload = try payload(of: item) ?? []
                state.withLock { _ = $0.payloads.removeValue(forKey: item.msgID) }
                try queue.deadLetter(name, msgID: item.msgID, reason: reason, atMillis: Message.nowMillis())
                steps.append(.deadLettered(item, reason: reason, payload: payload))
            }
        }
        return steps
    }

    /// After a write: a message that waits for no acknowledgement is done.
    public func written(_ item: DeliveryWindow.Item) throws {
        if !item.waitsForAck { try queue.remove(name, msgID: item.msgID) }
    }

    /// The peer has `msgID`: removed from the queue. Returns whether it was this lane's (queued or in flight).
    @discardableResult
    public func acknowledge(_ msgID: String, now: ContinuousClock.Instant = .now) throws -> Bool {
        let known = state.withLock { s -> Bool in
            let (known, released) = s.window.acknowledge(msgID, now: now)
            s.pending += released
            s.payloads[msgID] = nil
            return known
        }
        return try queue.remove(name, msgID: msgID) || known
    }

    /// The peer refused `msgID`: dead-lettered by the next `next()`. Returns whether it was in flight here.
    @discardableResult
    public func reject(_ msgID: String, reason: String, now: ContinuousClock.Instant = .now) -> Bool {
        state.withLock { s in
            let actions = s.window.reject(msgID, reason: reason, now: now)
            s.pending += actions
            return !actions.isEmpty
        }
    }

    /// Re-sends and dead letters that are due; returns whether `next()` has work.
    public func tick(now: ContinuousClock.Instant = .now) -> Bool {
        state.withLock { s in
            s.pending += s.window.tick(now: now)
            return !s.pending.isEmpty
        }
    }

    /// A new connection: everything unacknowledged is sent again, in order.
    public func reconnect() {
        state.withLock { s in
            s.window.reconnect()
            s.pending = []
            s.payloads = [:]
        }
    }

    public var inflightCount: Int { state.withLock { $0.window.inflightCount } }

    private func item(_ entry: DurableQueue.Entry) -> DeliveryWindow.Item {
        DeliveryWindow.Item(seq: entry.seq, msgID: entry.msgID, key: entry.key, waitsForAck: waitsForAck(entry))
    }

    private func payload(of item: DeliveryWindow.Item) throws -> [UInt8]? {
        if let cached = state.withLock({ $0.payloads[item.msgID] }) { return cached }
        guard let entry = try queue.entry(name, msgID: item.msgID) else { return nil }
        if item.waitsForAck { state.withLock { $0.payloads[item.msgID] = entry.payload } }
        return entry.payload
    }
}
