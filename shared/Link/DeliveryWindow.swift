/// One direction of the link's delivery, as a pure state machine: which queued messages to send now, which to send
/// again, and which to give up on. Both ends use it (cloudhub toward a node, hub toward the cloud); the I/O around it
/// reads the durable queue, writes frames and removes what was acknowledged.
///
/// Rules:
/// - Messages are offered in queue order. Up to `window` wait for an acknowledgement at once, but never two with the
///   same key (the object's resource), so per-object order holds.
/// - A message whose key is busy is deferred, not a barrier: later messages for other objects go on (one stuck object
///   never stops a node).
/// - Unacknowledged messages are sent again after `resendAfter`, doubling up to `maxResendInterval`; after `maxSends`
///   sends, or when the peer rejects one, it is dead-lettered and its object's next message may go.
/// - A reconnect forgets everything in flight: the runner offers the queue again from its start, so what was not
///   acknowledged is sent again, in order.
public struct DeliveryWindow: Sendable {
    public struct Policy: Sendable, Equatable {
        public var window: Int
        public var resendAfter: Duration
        public var maxResendInterval: Duration
        public var maxSends: Int
        /// Deferred messages kept in memory; past it the runner stops reading the queue until some are released.
        public var maxDeferred: Int

        public init(window: Int = 64, resendAfter: Duration = .seconds(5), maxResendInterval: Duration = .seconds(60),
                    maxSends: Int = 10, maxDeferred: Int = 4096) {
            self.window = max(1, window)
            self.resendAfter = resendAfter
            self.maxResendInterval = max(resendAfter, maxResendInterval)
            self.maxSends = max(1, maxSends)
            self.maxDeferred = max(1, maxDeferred)
        }
    }

    /// A queued message as the window sees it (its payload stays with the runner).
    public struct Item: Sendable, Equatable, Hashable {
        public let seq: Int64
        public let msgID: String
        public let key: String
        /// False for a message that is done once written (a NO-ACK message toward a real edgecore).
        public let waitsForAck: Bool

        public init(seq: Int64, msgID: String, key: String, waitsForAck: Bool) {
            self.seq = seq
            self.msgID = msgID
            self.key = key
            self.waitsForAck = waitsForAck
        }
    }

    public enum Action: Sendable, Equatable {
        /// Write it now (the first time). An item that does not wait for an ACK is done once written.
        case send(Item)
        /// Write it again: still unacknowledged.
        case resend(Item)
        /// Give up on it: move it aside with the reason.
        case deadLetter(Item, reason: String)
    }

    struct Flight: Sendable {
        let item: Item
        var sentAt: ContinuousClock.Instant
        var sends: Int
    }

    public let policy: Policy
    /// The highest queue sequence number offered so far; the runner reads the queue after it.
    public private(set) var cursor: Int64 = 0
    private var inflight: [String: Flight] = [:]
    private var busyKeys: [String: String] = [:]
    /// Messages waiting for their object's earlier message, per key in queue order.
    private var deferred: [String: [Item]] = [:]
    public private(set) var deferredCount = 0

    public init(policy: Policy = Policy()) {
        self.policy = policy
    }

    public var inflightCount: Int { inflight.count }
    /// Whether reading more of the queue can lead to a send now.
    public var wantsMore: Bool { inflight.count < policy.window && deferredCount < policy.maxDeferred }

    /// Takes queue entries in order (seq after `cursor`); returns what to send. Stops taking entries when the window
    /// or the deferred list is full: the cursor then stays before the first entry not taken.
    public mutating func offer(_ items: [Item], now: ContinuousClock.Instant) -> [Action] {
        var actions: [Action] = []
        for item in items where item.seq > cursor {
            if busyKeys[item.key] != nil || deferred[item.key] != nil {
                guard deferredCount < policy.maxDeferred else { break }
                deferred[item.key, default: []].append(item)
                deferredCount += 1
                cursor = item.seq
                continue
            }
            guard inflight.count < policy.window else { break }
            cursor = item.seq
            actions.append(start(item, now: now))
        }
        return actions
    }

    /// The peer acknowledged `msgID`; returns whether it was in flight, and what may be sent now.
    public mutating func acknowledge(_ msgID: String, now: ContinuousClock.Instant) -> (known: Bool, actions: [Action]) {
        guard let flight = inflight.removeValue(forKey: msgID) else { return (false, []) }
        busyKeys[flight.item.key] = nil
        return (true, release(now: now))
    }

    /// The peer refused `msgID` (an error reply naming it): dead-lettered at once.
    public mutating func reject(_ msgID: String, reason: String, now: ContinuousClock.Instant) -> [Action] {
        guard let flight = inflight.removeValue(forKey: msgID) else { return [] }
        busyKeys[flight.item.key] = nil
        return [.deadLetter(flight.item, reason: reason)] + release(now: now)
    }

    /// Re-sends what is due, dead-letters what has had all its sends.
    public mutating func tick(now: ContinuousClock.Instant) -> [Action] {
        var actions: [Action] = []
        var freed = false
        for (id, var flight) in inflight.sorted(by: { $0.value.item.seq < $1.value.item.seq }) {
            guard now - flight.sentAt >= interval(afterSends: flight.sends) else { continue }
            if flight.sends >= policy.maxSends {
                inflight[id] = nil
                busyKeys[flight.item.key] = nil
                freed = true
                actions.append(.deadLetter(
                    flight.item, reason: "not acknowledged after \(flight.sends) sends"))
                continue
            }
            flight.sends += 1
            flight.sentAt = now
            inflight[id] = flight
            actions.append(.resend(flight.item))
        }
        if freed { actions += release(now: now) }
        return actions
    }

    /// A new connection: nothing is in flight any more; the runner offers the queue again from its start.
    public mutating func reconnect() {
        cursor = 0
        inflight = [:]
        busyKeys = [:]
        deferred = [:]
        deferredCount = 0
    }

    /// How long after its `sends`-th send a message is due again.
    func interval(afterSends sends: Int) -> Duration {
        var interval = policy.resendAfter
        for _ in 1..<max(1, sends) where interval < policy.maxResendInterval { interval = interval * 2 }
        return min(interval, policy.maxResendInterval)
    }

    private mutating func start(_ item: Item, now: ContinuousClock.Instant) -> Action {
        if item.waitsForAck {
            inflight[item.msgID] = Flight(item: item, sentAt: now, sends: 1)
            busyKeys[item.key] = item.msgID
        }
        return .send(item)
    }

    /// Sends deferred messages whose object is free again, oldest first, while the window has room.
    private mutating func release(now: ContinuousClock.Instant) -> [Action] {
        var actions: [Action] = []
        let ready = deferred.filter { busyKeys[$0.key] == nil }.sorted { $0.value[0].seq < $1.value[0].seq }
        for (key, _) in ready {
            while inflight.count < policy.window, busyKeys[key] == nil, var queue = deferred[key], !queue.isEmpty {
                let item = queue.removeFirst()
                deferred[key] = queue.isEmpty ? nil : queue
                deferredCount -= 1
                actions.append(start(item, now: now))
            }
        }
        return actions
    }
}
