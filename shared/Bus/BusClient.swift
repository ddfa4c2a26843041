import CMosquitto
import EdgeProtocol
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A client of the local MQTT broker, over libmosquitto.
///
/// - Persistent session by default (stable client id, clean session off): QoS 1 messages for our subscriptions that
///   arrive while the process is down are delivered when it comes back.
/// - Its own network thread runs `mosquitto_loop` and reconnects with capped exponential backoff; subscriptions the
///   broker lost are re-issued on reconnect.
/// - QoS 1 publishes made while disconnected are kept (in libmosquitto's ordered out-queue) and sent on reconnect;
///   the number outstanding is bounded by `maxQueuedPublishes`, after which `publish` waits (and logs the bound).
/// - Received messages are one `AsyncSequence` (`messages`) for the service's dispatch loop; when its buffer is full
///   the network thread pauses rather than dropping anything.
///
/// libmosquitto is thread-safe once `mosquitto_threaded_set` is on, so the handle may be used from any task; all Swift
/// state lives in one `Mutex`.
public final class BusClient: Sendable {
    public let configuration: BusConfiguration
    public let logger: Logger
    /// `maxQueuedPublishes`, kept below the 16-bit MQTT message-id space so that outstanding ids stay unique.
    private let maxQueued: Int

    // The C handle is only touched through libmosquitto's thread-safe API (threaded mode), see above.
    nonisolated(unsafe) private let handle: OpaquePointer
    private let state = Mutex(State())
    private let inbox: Inbox
    private let network = Mutex<NetworkThread?>(nil)

    /// Every message received on our subscriptions (replies claimed by `request` and messages taken by the intake
    /// excepted), in broker order.
    public let messages: BusMessages

    /// A synchronous handler that sees each received message on the network thread before anything else does.
    public typealias Intake = @Sendable (BusMessage) -> Bool
    // Boxed: a closure kept directly in a Mutex gains a reabstraction thunk on every `withLock` (seen growing the
    // call stack per message in debug builds).
    private final class IntakeBox: Sendable {
        let handler: Intake
        init(_ handler: @escaping Intake) { self.handler = handler }
    }
    private let intake = Mutex<IntakeBox?>(nil)

    private static let libraryInitialised: Bool = {
        mosquitto_lib_init()
        return true
    }()

    public init(_ configuration: BusConfiguration, logger: Logger) throws(BusError) {
        _ = Self.libraryInitialised
        self.configuration = configuration
        self.maxQueued = min(max(1, configuration.maxQueuedPublishes), 60_000)
        var logger = logger
        logger[metadataKey: "bus.client"] = "\(configuration.clientID)"
        self.logger = logger
        let dropLogger = logger
        let inbox = Inbox(capacity: max(1, configuration.receiveBuffer)) { message in
            // Only after finishReceiving(): the service has stopped taking messages and is shutting down.
            dropLogger.warning("message arrived after the service stopped receiving; not handled",
                               metadata: ["topic": "\(message.topic)", "bytes": "\(message.payload.count)"])
        }
        self.inbox = inbox
        self.messages = BusMessages(inbox: inbox)

        let placeholder = UnsafeMutableRawPointer(bitPattern: 1)  // replaced below once `self` exists
        guard let handle = mosquitto_new(configuration.clientID, configuration.cleanSession, placeholder) else {
            throw .library(operation: "mosquitto_new", code: MOSQ_ERR_NOMEM.rawValue, reason: "could not create client")
        }
        self.handle = handle
        mosquitto_user_data_set(handle, Unmanaged.passUnretained(self).toOpaque())
        try configureHandle()
    }

    deinit {
        if let thread = network.withLock({ $0 }) {
            thread.requestStop()
            thread.join()
        }
        mosquitto_destroy(handle)
    }

    // MARK: lifecycle

    /// Starts the network thread. Returns at once; the first connection (and every later one) happens in the
    /// background. Use `waitUntilConnected` to wait for it.
    public func start() throws(BusError) {
        try network.withLock { (thread: inout NetworkThread?) throws(BusError) in
            guard thread == nil else { return }
            let host: String
            let port: Int32
            switch configuration.endpoint {
            case .tcp(let h, let p): host = h; port = Int32(p)
            case .unixSocket(let path): host = path; port = 0  // libmosquitto: port 0 = unix socket
            }
            let newThread = NetworkThread(
                client: self, host: host, port: port, keepAlive: configuration.keepAlive,
                minDelay: configuration.reconnectDelayMin, maxDelay: configuration.reconnectDelayMax)
            try newThread.start()
            thread = newThread
        }
    }

    public var isConnected: Bool { state.withLock { $0.connected } }

    /// Waits until the client is connected (or the timeout passes, which throws).
    public func waitUntilConnected(timeout: Duration = .seconds(10)) async throws {
        try await withDeadline(timeout, what: "connecting to the broker at \(configuration.endpoint)") {
            try await self.connectedWaiters.wait { self.state.withLock { $0.connected } }
        }
    }

    /// Clean shutdown: announce `offline` (if presence is configured), wait up to `drainTimeout` for outstanding
    /// QoS 1 publishes to be acknowledged, disconnect, stop the network thread. Messages already received stay
    /// readable from `messages`, which then ends.
    public func close(drainTimeout: Duration = .seconds(1)) async {
        let alreadyClosed = state.withLock { s in
            defer { s.closing = true }
            return s.closing
        }
        if alreadyClosed { return }
        if let topic = configuration.presenceTopic, isConnected {
            _ = try? publishNow(topic: topic, payload: Array(Presence.offline.utf8), qos: .atLeastOnce, retain: true)
        }
        do {
            try await withDeadline(drainTimeout, what: "draining publishes") {
                try await self.drainedWaiters.wait { self.state.withLock { $0.outstanding == 0 } }
            }
        } catch {
            let left = state.withLock { $0.outstanding }
            if left > 0 { logger.warning("closing with \(left) QoS 1 messages not yet acknowledged by the broker") }
        }
        mosquitto_disconnect(handle)
        let thread = network.withLock { $0 }
        if let thread {
            thread.requestStop()
            await thread.exited()
            thread.join()
        }
        inbox.finish()
        state.withLock { $0.connected = false }
        connectedWaiters.failAll(BusError.closed)
        drainedWaiters.resumeAll()
        roomWaiters.failAll(BusError.closed)
    }

    /// Installs the intake: called on the network thread for every received message, before the broker gets our
    /// acknowledgement of it (libmosquitto queues the PUBACK and this thread writes it only after the callback
    /// returns). A service that commits a message to its own store here therefore never loses it: if the process
    /// dies first, the broker delivers it again. Return true when the message was taken (it then skips `messages`).
    /// Keep it short and never wait on other tasks in it: it holds up all receiving.
    public func setIntake(_ handler: @escaping Intake) {
        let box = IntakeBox(handler)
        intake.withLock { $0 = box }
    }

    /// Ends `messages` after the messages already received: for a graceful shutdown, so the service handles what it
    /// has and then stops. Anything arriving later is logged as not handled.
    public func finishReceiving() {
        inbox.finish()
    }

    // MARK: publish

    /// Publishes one message. Nothing is dropped: while disconnected messages are held and sent, in publishing
    /// order, once the broker is back (after libmosquitto has re-sent what was in flight when the link broke);
    /// when `maxQueuedPublishes` are outstanding this waits for room.
    public func publish(_ topic: String, _ payload: [UInt8], qos: BusQoS = .atLeastOnce, retain: Bool = false)
        async throws
    {
        try await waitForRoom()
        _ = try publishNow(topic: topic, payload: payload, qos: qos, retain: retain)
    }

    public func publish(_ topic: String, _ text: String, qos: BusQoS = .atLeastOnce, retain: Bool = false)
        async throws
    {
        try await publish(topic, Array(text.utf8), qos: qos, retain: retain)
    }

    /// Publishes a KubeEdge envelope (compact JSON, Go field order).
    public func publish(_ topic: String, _ message: Message, qos: BusQoS = .atLeastOnce) async throws {
        try await publish(topic, MessageCodec.encode(message), qos: qos)
    }

    /// Publishes at QoS 1 and returns once the broker has acknowledged the message.
    public func publishConfirmed(_ topic: String, _ payload: [UInt8], retain: Bool = false,
                                 timeout: Duration = .seconds(30)) async throws {
        try await waitForRoom()
        let token = try publishNow(topic: topic, payload: payload, qos: .atLeastOnce, retain: retain)
        try await withDeadline(timeout, what: "broker acknowledgement of a message on '\(topic)'") {
            try await self.ackWaiters.wait { self.state.withLock { !$0.isOutstanding(token) } }
        }
    }

    /// Messages published and not yet handed over: QoS 1 ones not yet acknowledged by the broker, and any held while
    /// disconnected.
    public var outstandingPublishes: Int { state.withLock { $0.outstanding } }

    private func waitForRoom() async throws {
        let limit = maxQueued
        let full = state.withLock { s -> Bool in
            let full = s.outstanding >= limit
            if full && !s.queueFullReported {
                s.queueFullReported = true
                return true
            }
            return false
        }
        if full {
            logger.warning(
                "outbound queue bound reached: \(limit) QoS 1 messages await the broker's acknowledgement; publishers wait",
                metadata: ["connected": "\(isConnected)"])
        }
        try await roomWaiters.wait { self.state.withLock { $0.closing || $0.outstanding < limit } }
        if state.withLock({ $0.closing }) { throw BusError.closed }
    }

    /// Hands a message to libmosquitto when the session is up and nothing is held back; otherwise holds it (in order)
    /// until `flushHeld` runs after the next CONNACK. Returns the message's token (for `publishConfirmed`).
    @discardableResult
    private func publishNow(topic: String, payload: [UInt8], qos: BusQoS, retain: Bool) throws(BusError) -> Int {
        guard MQTTTopic.isValidTopic(topic) else { throw .invalidTopic(topic) }
        // The lock is held across mosquitto_publish so that a PUBACK for this mid cannot be processed before the mid is
        // recorded (libmosquitto never holds its out-queue lock while calling us back, so this cannot deadlock).
        let result: Result<Int, BusError> = state.withLock { s in
            s.nextToken += 1
            let held = HeldPublish(token: s.nextToken, topic: topic, payload: payload, qos: qos, retain: retain)
            guard s.directPublish else {
                s.held.append(held)
                return .success(held.token)
            }
            return send(held, &s).map { sent in
                if !sent { s.held.append(held) }
                return held.token
            }
        }
        return try result.get()
    }

    /// mosquitto_publish, with the caller holding the state lock. `.success(false)`: not connected, hold it.
    private func send(_ message: HeldPublish, _ s: inout State) -> Result<Bool, BusError> {
        var mid: Int32 = 0
        let rc = message.payload.withUnsafeBytes { raw in
            mosquitto_publish(handle, &mid, message.topic, Int32(raw.count), raw.baseAddress, message.qos.rawValue,
                              message.retain)
        }
        switch rc {
        case MOSQ_ERR_SUCCESS.rawValue:
            break
        case MOSQ_ERR_NO_CONN.rawValue where message.qos == .atLeastOnce:
            break  // libmosquitto keeps it in its ordered out-queue and sends it on reconnect
        case MOSQ_ERR_NO_CONN.rawValue:
            s.directPublish = false
            return .success(false)
        default:
            return .failure(.library(operation: "publish to '\(message.topic)'", code: rc, reason: Self.reason(rc)))
        }
        if message.qos == .atLeastOnce { s.inflight[mid] = message.token }
        return .success(true)
    }

    /// After a CONNACK has been fully handled (libmosquitto has queued its re-sends of what was in flight), sends the
    /// messages held while disconnected, in order, then lets publishes go straight through again.
    fileprivate func flushHeld() {
        var failures: [BusError] = []
        let flushed = state.withLock { s -> Int in
            guard s.needsFlush else { return 0 }
            var done = 0
            defer { s.held.removeFirst(done) }
            while done < s.held.count {
                switch send(s.held[done], &s) {
                case .success(true): done += 1
                case .success(false): return done  // lost the connection again; held until the next CONNACK
                case .failure(let error):
                    failures.append(error)
                    done += 1
                }
            }
            s.needsFlush = false
            s.directPublish = true
            return done
        }
        for error in failures { logger.error("dropped a held message libmosquitto refused: \(error)") }
        if flushed > 0 { logger.debug("sent messages held while disconnected", metadata: ["count": "\(flushed)"]) }
        if !failures.isEmpty { afterAcknowledgement() }
    }

    // MARK: subscribe

    /// Subscribes (and remembers the filters, so they are re-issued when the broker has lost our session).
    /// Returns once the broker has acknowledged, or at once when disconnected (they are sent on connect).
    public func subscribe(_ filters: [String], qos: BusQoS = .atLeastOnce, timeout: Duration = .seconds(10))
        async throws
    {
        for filter in filters where !MQTTTopic.isValidFilter(filter) { throw BusError.invalidTopic(filter) }
        var pending: [(String, Int32)] = []
        try state.withLock { (s: inout State) throws(BusError) in
            for filter in filters {
                if !s.subscriptions.contains(where: { $0.filter == filter }) {
                    s.subscriptions.append((filter, qos.rawValue))
                }
                guard s.connected else { continue }
                var mid: Int32 = 0
                let rc = mosquitto_subscribe(handle, &mid, filter, qos.rawValue)
                if rc == MOSQ_ERR_SUCCESS.rawValue {
                    s.pendingSubacks[mid] = filter
                    pending.append((filter, mid))
                } else if rc != MOSQ_ERR_NO_CONN.rawValue {
                    throw .library(operation: "subscribe to '\(filter)'", code: rc, reason: Self.reason(rc))
                }
            }
        }
        for (filter, mid) in pending {
            try await withDeadline(timeout, what: "broker acknowledgement of subscription '\(filter)'") {
                try await self.subackWaiters.wait(key: Int(mid)) {
                    self.state.withLock { $0.pendingSubacks[mid] == nil }
                }
            }
            if state.withLock({ $0.refusedSubscriptions.remove(filter) != nil }) {
                throw BusError.subscriptionRefused(filter)
            }
        }
    }

    public func unsubscribe(_ filters: [String]) {
        state.withLock { s in
            s.subscriptions.removeAll { filters.contains($0.filter) }
            for filter in filters {
                s.brokerSubscriptions.remove(filter)
                _ = mosquitto_unsubscribe(handle, nil, filter)
            }
        }
    }

    // MARK: request / response

    /// Sends a KubeEdge request and waits for the message whose `parent_msg_id` is the request's id, arriving on
    /// `replyTopic` (subscribed on first use). Replies claimed here do not appear in `messages`.
    public func request(_ message: Message, on topic: String, replyTopic: String,
                        timeout: Duration = .seconds(10)) async throws -> Message {
        let needsSubscribe = state.withLock { s -> Bool in
            s.replyWaiters[message.header.id] = ReplySlot()
            return s.replyTopics.insert(replyTopic).inserted
        }
        defer { _ = state.withLock { $0.replyWaiters.removeValue(forKey: message.header.id) } }
        if needsSubscribe { try await subscribe([replyTopic]) }
        try await publish(topic, message)
        return try await withDeadline(
            timeout, what: "reply to \(message.route.operation) \(message.route.resource) (msg_id \(message.header.id))"
        ) {
            try await self.replyArrived.wait(key: message.header.id.hashValue) {
                self.state.withLock { $0.replyWaiters[message.header.id]?.reply != nil }
            }
            guard let reply = self.state.withLock({ $0.replyWaiters[message.header.id]?.reply }) else {
                throw BusError.closed
            }
            return reply
        }
    }

    // MARK: waiters

    private let connectedWaiters = Waiters()
    private let drainedWaiters = Waiters()
    private let roomWaiters = Waiters()
    private let ackWaiters = Waiters()
    private let subackWaiters = Waiters()
    private let replyArrived = Waiters()

    // MARK: setup

    private func configureHandle() throws(BusError) {
        func check(_ rc: Int32, _ what: String) throws(BusError) {
            if rc != MOSQ_ERR_SUCCESS.rawValue {
                throw .library(operation: what, code: rc, reason: Self.reason(rc))
            }
        }
        try check(mosquitto_threaded_set(handle, true), "threaded mode")
        try check(mosquitto_int_option(handle, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311), "protocol version")
        try check(mosquitto_max_inflight_messages_set(handle, UInt32(max(1, configuration.maxInflight))), "inflight")
        // Small request/reply messages otherwise wait for Nagle + delayed ACK (~40 ms per hop).
        try check(mosquitto_int_option(handle, MOSQ_OPT_TCP_NODELAY, 1), "TCP_NODELAY")
        if let user = configuration.username {
            try check(mosquitto_username_pw_set(handle, user, configuration.password), "username/password")
        }
        if let tls = configuration.tls {
            try check(mosquitto_tls_set(handle, tls.caFile, nil, tls.certFile, tls.keyFile, nil), "TLS setup")
            if tls.insecure { try check(mosquitto_tls_insecure_set(handle, true), "TLS insecure") }
        }
        if let topic = configuration.presenceTopic {
            let payload = Array(Presence.offline.utf8)
            try check(
                payload.withUnsafeBytes { mosquitto_will_set(handle, topic, Int32($0.count), $0.baseAddress, 1, true) },
                "last will")
        }
        mosquitto_connect_with_flags_callback_set(handle) { _, userData, rc, flags in
            BusClient.from(userData)?.didConnect(rc: rc, sessionPresent: flags & 1 == 1)
        }
        mosquitto_disconnect_callback_set(handle) { _, userData, rc in
            BusClient.from(userData)?.didDisconnect(rc: rc)
        }
        mosquitto_publish_callback_set(handle) { _, userData, mid in
            BusClient.from(userData)?.didAcknowledgePublish(mid: mid)
        }
        mosquitto_subscribe_callback_set(handle) { _, userData, mid, count, granted in
            let refused = count > 0 && granted.map { $0[0] == 0x80 } == true
            BusClient.from(userData)?.didAcknowledgeSubscribe(mid: mid, refused: refused)
        }
        mosquitto_message_callback_set(handle) { _, userData, message in
            guard let client = BusClient.from(userData), let message else { return }
            client.didReceive(message.pointee)
        }
    }

    private static func from(_ userData: UnsafeMutableRawPointer?) -> BusClient? {
        guard let userData, Int(bitPattern: userData) != 1 else { return nil }
        return Unmanaged<BusClient>.fromOpaque(userData).takeUnretainedValue()
    }

    static func reason(_ rc: Int32) -> String {
        String(cString: mosquitto_strerror(rc))
    }

    // MARK: callbacks (on the network thread)

    private func didConnect(rc: Int32, sessionPresent: Bool) {
        guard rc == 0 else {
            logger.error("broker refused the connection: \(String(cString: mosquitto_connack_string(rc)))",
                         metadata: ["broker": "\(configuration.endpoint)"])
            return
        }
        let resubscribed: [String] = state.withLock { s in
            s.connected = true
            s.needsFlush = true  // flushHeld runs once this CONNACK has been fully processed
            if !sessionPresent { s.brokerSubscriptions.removeAll() }
            var sent: [String] = []
            for (filter, qos) in s.subscriptions where !s.brokerSubscriptions.contains(filter) {
                var mid: Int32 = 0
                if mosquitto_subscribe(handle, &mid, filter, qos) == MOSQ_ERR_SUCCESS.rawValue {
                    s.pendingSubacks[mid] = filter
                    sent.append(filter)
                }
            }
            return sent
        }
        if let topic = configuration.presenceTopic {
            _ = try? publishNow(topic: topic, payload: Array(Presence.online.utf8), qos: .atLeastOnce, retain: true)
        }
        network.withLock { $0?.connected() }
        logger.info("connected to broker", metadata: [
            "broker": "\(configuration.endpoint)", "session_present": "\(sessionPresent)",
            "resubscribed": "\(resubscribed.count)",
        ])
        connectedWaiters.check()
    }

    private func didDisconnect(rc: Int32) {
        let wasClosing = state.withLock { s -> Bool in
            s.connected = false
            s.directPublish = false
            s.needsFlush = false
            return s.closing
        }
        if rc != 0 && !wasClosing {
            logger.warning("lost connection to broker: \(Self.reason(rc)); reconnecting",
                           metadata: ["broker": "\(configuration.endpoint)"])
        }
    }

    private func didAcknowledgePublish(mid: Int32) {
        state.withLock { s in
            s.inflight[mid] = nil
            if s.outstanding < maxQueued / 2 { s.queueFullReported = false }
        }
        afterAcknowledgement()
    }

    private func afterAcknowledgement() {
        ackWaiters.check()
        roomWaiters.check()
        if state.withLock({ $0.outstanding == 0 }) { drainedWaiters.check() }
    }

    private func didAcknowledgeSubscribe(mid: Int32, refused: Bool) {
        let filter: String? = state.withLock { s in
            guard let filter = s.pendingSubacks.removeValue(forKey: mid) else { return nil }
            if refused { s.refusedSubscriptions.insert(filter) } else { s.brokerSubscriptions.insert(filter) }
            return filter
        }
        if refused, let filter { logger.error("broker refused subscription", metadata: ["filter": "\(filter)"]) }
        subackWaiters.check(key: Int(mid))
    }

    private func didReceive(_ raw: mosquitto_message) {
        let topic = String(cString: raw.topic)
        let count = Int(max(0, raw.payloadlen))
        let payload: [UInt8] = count == 0 || raw.payload == nil
            ? [] : Array(UnsafeRawBufferPointer(start: raw.payload, count: count))
        let message = BusMessage(topic: topic, payload: payload, qos: raw.qos, retained: raw.retain)
        if let intake = intake.withLock({ $0 }), intake.handler(message) { return }
        if claimAsReply(message) { return }
        inbox.push(message)
    }

    private func claimAsReply(_ message: BusMessage) -> Bool {
        let watched = state.withLock { s in
            !s.replyWaiters.isEmpty && s.replyTopics.contains { MQTTTopic.matches(filter: $0, topic: message.topic) }
        }
        guard watched, let reply = try? MessageCodec.decode(message.payload), !reply.header.parentID.isEmpty else {
            return false
        }
        let claimed = state.withLock { s -> Bool in
            guard s.replyWaiters[reply.header.parentID] != nil else { return false }
            s.replyWaiters[reply.header.parentID]?.reply = reply
            return true
        }
        if claimed { replyArrived.check(key: reply.header.parentID.hashValue) }
        return claimed
    }

    // MARK: network thread hooks

    fileprivate func loopOnce() -> Int32 { mosquitto_loop(handle, 100, 1) }
    fileprivate func connectFirst(host: String, port: Int32, keepAlive: Int32) -> Int32 {
        mosquitto_connect(handle, host, port, keepAlive)
    }
    fileprivate func reconnect() -> Int32 { mosquitto_reconnect(handle) }
    fileprivate var hasSocket: Bool { mosquitto_socket(handle) >= 0 }
    fileprivate var closing: Bool { state.withLock { $0.closing } }

    fileprivate func logConnectFailure(_ rc: Int32, attempt: Int, retryIn: UInt32) {
        let text = rc == MOSQ_ERR_ERRNO.rawValue ? String(cString: strerror(errno)) : Self.reason(rc)
        let metadata: Logger.Metadata = ["broker": "\(configuration.endpoint)", "retry_in_s": "\(retryIn)"]
        // The first failure and then every tenth is worth a warning; the rest are noise.
        if attempt == 1 || attempt % 10 == 0 {
            logger.warning("cannot reach broker: \(text)", metadata: metadata)
        } else {
            logger.debug("cannot reach broker: \(text)", metadata: metadata)
        }
    }

    fileprivate func unblockReceiver() { inbox.release() }

    // MARK: state

    private struct HeldPublish {
        let token: Int
        let topic: String
        let payload: [UInt8]
        let qos: BusQoS
        let retain: Bool
    }

    private struct ReplySlot {
        var reply: Message?
    }

    private struct State {
        var connected = false
        var closing = false
        var queueFullReported = false
        /// Publishes may go straight to libmosquitto (session up, nothing held back).
        var directPublish = false
        /// A CONNACK arrived; the held messages are to be sent once libmosquitto has queued its re-sends.
        var needsFlush = false
        /// Messages published while disconnected, in order.
        var held: [HeldPublish] = []
        var nextToken = 0
        /// Filters the service wants, in the order asked for.
        var subscriptions: [(filter: String, qos: Int32)] = []
        /// Filters the broker has acknowledged for the current session.
        var brokerSubscriptions: Set<String> = []
        var pendingSubacks: [Int32: String] = [:]
        var refusedSubscriptions: Set<String> = []
        /// QoS 1 messages handed to libmosquitto and not yet acknowledged: mid → token.
        var inflight: [Int32: Int] = [:]
        var outstanding: Int { inflight.count + held.count }

        func isOutstanding(_ token: Int) -> Bool {
            inflight.values.contains(token) || held.contains { $0.token == token }
        }
        var replyTopics: Set<String> = []
        var replyWaiters: [String: ReplySlot] = [:]
    }
}

/// Presence payloads on a service's retained status topic.
public enum Presence {
    public static let online = "online"
    public static let offline = "offline"
}

// MARK: - network thread

/// The thread that drives libmosquitto: `mosquitto_loop` with a short timeout, and reconnects with capped
/// exponential backoff. (Not libmosquitto's own thread: that one exits for good on some errors, such as a failed name
/// lookup, and cannot be stopped promptly while it sleeps between attempts.)
private final class NetworkThread: Sendable {
    nonisolated(unsafe) private var thread = pthread_t()
    private let client: BusClient
    private let host: String
    private let port: Int32
    private let keepAlive: Int32
    private let minDelay: UInt32
    private let maxDelay: UInt32
    private let control = Mutex(Control())
    private let exitWaiters = Waiters()

    private struct Control {
        var stop = false
        var exited = false
        var joined = false
        var delay: UInt32 = 0
    }

    init(client: BusClient, host: String, port: Int32, keepAlive: Int32, minDelay: UInt32, maxDelay: UInt32) {
        self.client = client
        self.host = host
        self.port = port
        self.keepAlive = keepAlive
        self.minDelay = max(1, minDelay)
        self.maxDelay = max(max(1, minDelay), maxDelay)
    }

    func start() throws(BusError) {
        let context = Unmanaged.passRetained(self).toOpaque()
        let rc = pthread_create(&thread, nil, { context in
            let me = Unmanaged<NetworkThread>.fromOpaque(context!).takeRetainedValue()
            me.run()
            return nil
        }, context)
        if rc != 0 {
            Unmanaged<NetworkThread>.fromOpaque(context).release()
            throw .library(operation: "start network thread", code: rc, reason: String(cString: strerror(rc)))
        }
    }

    func requestStop() {
        control.withLock { $0.stop = true }
        client.unblockReceiver()
    }

    func connected() { control.withLock { $0.delay = 0 } }

    func exited() async {
        try? await exitWaiters.wait { self.control.withLock { $0.exited } }
    }

    func join() {
        let shouldJoin = control.withLock { c -> Bool in
            defer { c.joined = true }
            return !c.joined
        }
        if shouldJoin && pthread_equal(thread, pthread_self()) == 0 { pthread_join(thread, nil) }
    }

    private var stopping: Bool { control.withLock { $0.stop } }

    private func run() {
        var attempt = 0
        var loopsSinceStop = 0
        var rc = client.connectFirst(host: host, port: port, keepAlive: keepAlive)
        while true {
            if rc == MOSQ_ERR_SUCCESS.rawValue {
                attempt = 0
                rc = client.loopOnce()
                client.flushHeld()
                // After a clean DISCONNECT libmosquitto closes the socket; then we are done. A broker that never
                // takes the DISCONNECT gets about a second (each loop waits at most 100 ms).
                if stopping {
                    loopsSinceStop += 1
                    if !client.hasSocket || rc != MOSQ_ERR_SUCCESS.rawValue || loopsSinceStop > 10 { break }
                }
                if rc == MOSQ_ERR_SUCCESS.rawValue { continue }
            }
            if stopping || client.closing { break }
            attempt += 1
            let delay = control.withLock { c -> UInt32 in
                c.delay = c.delay == 0 ? minDelay : min(maxDelay, c.delay * 2)
                return c.delay
            }
            if rc != MOSQ_ERR_NO_CONN.rawValue || attempt == 1 {
                client.logConnectFailure(rc, attempt: attempt, retryIn: delay)
            }
            // Sleep in short steps so that a stop request is honoured promptly.
            var slept: UInt32 = 0
            while slept < delay * 10 && !stopping {
                usleep(100_000)
                slept += 1
            }
            if stopping { break }
            rc = client.reconnect()
        }
        control.withLock { $0.exited = true }
        exitWaiters.check()
    }
}
