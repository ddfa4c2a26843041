import ArgumentParser
import Bus
import Crypto
import EdgeProtocol
import Foundation
import Link
import LinkSecurity
import Logging
import NIOCore
import NIOSSL
import ServiceKit
import ServiceLifecycle
import Synchronization
import X509

public enum Hub: ServiceDescription {
    public static let identity = ServiceIdentity(name: "hub", side: .edge)
    public static let abstract = "Edge: the websocket link to cloudhub (KubeEdge edgehub)."
}

public struct HubOptions: ParsableArguments, Sendable {
    @Option(help: "cloudhub's websocket address, host:port.")
    public var cloud: String?

    @Option(name: .customLong("cert-server"),
            help: "cloudhub's certificate service, host:port (default: the --cloud host, port 10002).")
    public var certServer: String?

    @Option(help: "Join token from the cloud (<data-dir>/token of cloudhub); needed only until this edge has a certificate.")
    public var token: String?

    @Option(name: .customLong("token-file"),
            help: "A file holding the join token (waited for until it exists), instead of --token.")
    public var tokenFile: String?

    @Option(name: .customLong("project-id"), help: "Project id in the websocket path.")
    public var projectID = LinkProtocol.defaultProjectID

    @Option(name: .customLong("heartbeat"), help: "Seconds between keepalives.")
    public var heartbeat = 15

    @Option(name: .customLong("message-qps"), help: "Upstream rate limit, messages per second.")
    public var messageQPS: Double = 30

    @Option(name: .customLong("message-burst"), help: "Upstream rate limit burst.")
    public var messageBurst = 60

    @Option(name: .customLong("upstream-limit"), help: "Messages kept for the cloud while the link is down.")
    public var upstreamLimit = 100_000

    @Option(name: .customLong("max-message-size"), help: "Largest websocket message accepted, in bytes.")
    public var maxMessageSize = 16 << 20

    /// Used only with a cloud that acknowledges (our cloudhub).
    @OptionGroup public var delivery: DeliveryOptions

    @Option(name: .customLong("cert-renew-before-seconds"),
            help: "Renew the edge certificate this long before it expires (at the latest half-way through what is left).")
    public var certRenewBeforeSeconds = 30 * 86400


    public init() {}
}

public struct HubCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "hub", abstract: Hub.abstract,
        discussion: """
            Joins the cloud with a token on first start (certificates kept in <data-dir>/certs), then keeps a \
            mutual-TLS websocket to cloudhub: cloud messages go to ke/down/<module>, and ke/up goes to the cloud \
            through a durable queue (docs/bus.md). Every flag can also be set in the --config file: the base flags at \
            its top level, hub's own in its 'hub' section, each as the flag's name in camelCase (certServer, \
            messageQPS, ...).
            """)

    @OptionGroup public var options: BaseOptions
    @OptionGroup public var hub: HubOptions

    public init() {}

    public func run() async throws {
        let hub = self.hub
        try await ServiceRunner.run(Hub.identity, options: options, prepare: { context in
            let client = try HubClient(context: context, options: hub)
            context.bus.setIntake { [client] message in client.takeUpstream(message) }
            return client
        }, services: { client in client.services() })
    }
}

public struct HubError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// The hub service: certificate bootstrap, the link with reconnects, routing both ways.
public final class HubClient: Sendable {
    let context: ServiceContext
    let options: HubOptions
    let logger: Logger
    let upstream: DurableQueue
    let cloudHost: String
    let cloudPort: Int
    private let link = Mutex(LinkState())
    /// The edge certificate in use; rotation replaces it and ends the session, so the next one uses the new one.
    private let identity = Mutex<EdgeIdentity?>(nil)
    private let rotated = WakeSignal()
    private let recentDownstream = Mutex(RecentIDs())
    private let wakeup = WakeSignal()
    /// Whether the cloud agreed to acknowledge upstream messages (our cloudhub does; a real cloudcore does not), and
    /// the cloud messages no edge module takes (refused with an error reply, counted on ke/hub/backlog).
    private let linkFacts = LinkFacts()

    final class LinkFacts: Sendable {
        let cloudAcknowledges = Mutex(false)
        /// The cloud agreed to stream frames (logs, exec, port-forward, usage figures) on this connection.
        let cloudStreams = Mutex(false)
        let unroutable = Mutex(0)
    }
    /// ACKs of cloud messages go in their own lane, ahead of everything else: the cloud holds the next message for the
    /// same object until it has the ACK, so an ACK stuck behind a backlog of status updates would stall the downlink.
    let ackLane: DeliveryLane
    let cloudLane: DeliveryLane

    static let queueName = "cloud"
    static let ackQueueName = "cloud-acks"

    struct LinkState {
        var writer: LinkOutbound?
    }

    public init(context: ServiceContext, options: HubOptions) throws {
        self.context = context
        self.options = options
        self.logger = context.logger
        guard let cloud = options.cloud else { throw HubError("--cloud <host:port> of cloudhub is required") }
        (cloudHost, cloudPort) = try Self.hostPort(cloud, defaultPort: 10000)
        try FileManager.default.createDirectory(atPath: context.config.dataDir, withIntermediateDirectories: true)
        upstream = try DurableQueue(path: context.config.dataDir + "/upstream.db", limit: options.upstreamLimit)
        let facts = linkFacts
        let waitsForAck: @Sendable (DurableQueue.Entry) -> Bool = { _ in facts.cloudAcknowledges.withLock { $0 } }
        ackLane = DeliveryLane(queue: upstream, name: Self.ackQueueName, policy: options.delivery.policy,
                               waitsForAck: waitsForAck)
        cloudLane = DeliveryLane(queue: upstream, name: Self.queueName, policy: options.delivery.policy,
                                 waitsForAck: waitsForAck)
    }

    static func hostPort(_ text: String, defaultPort: Int) throws -> (String, Int) {
        guard case .tcp(let host, let port) = try BusEndpoint(parsing: text) else {
            throw HubError("'\(text)' is not host:port")
        }
        return (host, text.contains(":") ? port : defaultPort)
    }

    /// hub's parts, stopped in reverse order on SIGTERM: the backlog, certificate renewal and the link are cancelled
    /// (nothing in them is lost: the queue is durable), then the bus messages already received are finished.
    public func services() -> [any Service] {
        [
            // ke/up is taken by the intake; stream frames and usage figures from edged come here, in order.
            MessageLoopService(context) { message in try await self.forwardStream(message) },
            PartService.loop("cloud link") { try await self.runLink() },
            PartService.loop("certificate renewal") {
                while self.identity.withLock({ $0 }) == nil { try await Task.sleep(for: .milliseconds(200)) }
                try await self.rotationLoop()
            },
            PartService.loop("backlog") {
                let facts = self.linkFacts
                try await self.upstream.publishBacklog(on: self.context.bus, topic: Topics.hubBacklog, every: .seconds(2),
                                                       extra: { ["unroutable": facts.unroutable.withLock { $0 }] })
            },
        ]
    }

    /// The certificate (stored, or from the token), then the link with reconnects.
    func runLink() async throws {
        let loaded = try await loadOrBootstrapIdentity()
        identity.withLock { $0 = loaded }
        try await context.bus.waitUntilConnected(timeout: .seconds(3600))
        try await context.bus.publish(Topics.hubLink, "disconnected", retain: true)
        try await context.bus.subscribe([Topics.up, Topics.streamOutAll, Topics.metricsUp])
        do {
            try await connectLoop()
        } catch {
            // Stopped by cancellation (SIGTERM) or a failure: the edge must still learn that the cloud is gone.
            await setConnected(false)
            throw error
        }
        await setConnected(false)
    }

    // MARK: certificates

    var certificateDirectory: String { context.config.dataDir + "/certs" }

    /// The stored certificate when there is one; otherwise the token bootstrap of §3.3.
    func loadOrBootstrapIdentity() async throws -> EdgeIdentity {
        let dir = certificateDirectory
        let caPath = dir + "/rootCA.crt", certPath = dir + "/server.crt", keyPath = dir + "/server.key"
        if FileManager.default.fileExists(atPath: certPath), FileManager.default.fileExists(atPath: keyPath),
           FileManager.default.fileExists(atPath: caPath) {
            let identity = EdgeIdentity(
                caCertificate: try Certificate(pemEncoded: try String(contentsOfFile: caPath, encoding: .utf8)),
                certificate: try Certificate(pemEncoded: try String(contentsOfFile: certPath, encoding: .utf8)),
                privateKey: try P256.Signing.PrivateKey(pemRepresentation: try String(contentsOfFile: keyPath,
                                                                                        encoding: .utf8)))
            logger.info("using the stored edge certificate", metadata: [
                "dir": "\(dir)", "expires": "\(identity.certificate.notValidAfter)",
            ])
            return identity
        }
        guard let token = try await joinToken() else {
            throw HubError("no certificate in \(dir) and no --token (or --token-file) to get one from the cloud")
        }
        var delay = 1.0
        while true {
            do {
                return try await bootstrap(token: token)
            } catch let error as HubError {
                throw error  // the cloud said no, or the token is for another cloud: retrying will not help
            } catch {
                try Task.checkCancellation()
                logger.warning("cannot reach the cloud's certificate service; retrying", metadata: [
                    "reason": "\(error)", "retry_in_s": "\(Int(delay))",
                ])
                try await Task.sleep(for: .seconds(delay))
                delay = min(delay * 2, 30)
            }
        }
    }

    /// --token, or the content of --token-file once that file exists (e.g. cloudhub's token on a shared volume).
    func joinToken() async throws -> String? {
        if let token = options.token { return token }
        guard let path = options.tokenFile else { return nil }
        var warned = false
        while true {
            if let text = try? String(contentsOfFile: path, encoding: .utf8) {
                let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
                if !token.isEmpty { return token }
            }
            if !warned {
                logger.info("waiting for the join token file", metadata: ["path": "\(path)"])
                warned = true
            }
            try await Task.sleep(for: .seconds(1))
        }
    }

    /// The token bootstrap of §3.3: CA pinned by the token's hash, then a certificate for a fresh key.
    func bootstrap(token: String) async throws -> EdgeIdentity {
        let dir = certificateDirectory
        let caPath = dir + "/rootCA.crt", certPath = dir + "/server.crt", keyPath = dir + "/server.key"
        let (caHash, jwt) = try PKI.parseToken(token)
        let (host, port) = try Self.hostPort(options.certServer ?? "\(cloudHost):10002", defaultPort: 10002)

        // The CA is fetched without verification and then pinned by the hash in the token.
        var insecure = TLSConfiguration.makeClientConfiguration()
        insecure.certificateVerification = .none
        let caResponse = try await HTTPSFetch.get(host: host, port: port, path: "/ca.crt", tls: insecure)
        guard caResponse.status == 200 else {
            throw HubError("cloud certificate service answered \(caResponse.status) for /ca.crt")
        }
        guard PKI.sha256Hex(caResponse.body) == caHash.lowercased() else {
            throw HubError("the cloud's CA does not match the join token (wrong token or wrong cloud)")
        }
        let ca = try Certificate(derEncoded: caResponse.body)

        let key = P256.Signing.PrivateKey()
        var verified = TLSConfiguration.makeClientConfiguration()
        verified.trustRoots = .certificates([try NIOSSLCertificate(bytes: caResponse.body, format: .der)])
        verified.certificateVerification = .fullVerification
        let certResponse = try await HTTPSFetch.get(
            host: host, port: port, path: "/edge.crt",
            headers: [("Authorization", "Bearer \(jwt)"), ("NodeName", context.nodeName)],
            body: try PKI.makeCSR(key: key), tls: verified)
        guard certResponse.status == 200, !certResponse.body.isEmpty else {
            throw HubError("the cloud refused to issue a certificate (\(certResponse.status)): "
                + String(decoding: certResponse.body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let certificate = try Certificate(derEncoded: certResponse.body)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try PKI.write(try PKI.pem(ca), to: caPath, mode: 0o644)
        try PKI.write(try PKI.pem(certificate), to: certPath, mode: 0o644)
        try PKI.write(key.pemRepresentation, to: keyPath, mode: 0o600)
        logger.notice("joined the cloud: certificate issued", metadata: [
            "dir": "\(dir)", "expires": "\(certificate.notValidAfter)",
        ])
        return EdgeIdentity(caCertificate: ca, certificate: certificate, privateKey: key)
    }

    /// When to renew: `certRenewBeforeSeconds` before expiry, but never later than half-way through what is left
    /// (so that a short-lived certificate is renewed in time and renewals cannot follow each other back to back).
    func renewalTime(of certificate: Certificate, now: Date = Date()) -> Date {
        let remaining = certificate.notValidAfter.timeIntervalSince(now)
        return certificate.notValidAfter.addingTimeInterval(-min(Double(options.certRenewBeforeSeconds), max(0, remaining / 2)))
    }

    /// Renews the edge certificate before it expires: a new key, a CSR sent with the current certificate as the
    /// credential (cloudhub accepts a certificate it issued instead of a token), then a reconnect with the new one.
    func rotationLoop() async throws {
        while true {
            guard let current = identity.withLock({ $0 }) else { return }
            let due = renewalTime(of: current.certificate)
            let wait = due.timeIntervalSinceNow
            if wait > 0 { try await Task.sleep(for: .milliseconds(Int(min(wait, 86400) * 1000))) }
            guard due.timeIntervalSinceNow <= 0 else { continue }
            do {
                let renewed = try await renew(current)
                identity.withLock { $0 = renewed }
                logger.notice("edge certificate renewed", metadata: [
                    "expires": "\(renewed.certificate.notValidAfter)", "previous_expiry": "\(current.certificate.notValidAfter)",
                ])
                rotated.signal()
            } catch {
                let retry = max(1, min(60, current.certificate.notValidAfter.timeIntervalSinceNow / 4))
                logger.warning("could not renew the edge certificate; retrying", metadata: [
                    "reason": "\(error)", "expires": "\(current.certificate.notValidAfter)", "retry_in_s": "\(Int(retry))",
                ])
                try await Task.sleep(for: .milliseconds(Int(retry * 1000)))
            }
        }
    }

    func renew(_ current: EdgeIdentity) async throws -> EdgeIdentity {
        let dir = certificateDirectory
        let (host, port) = try Self.hostPort(options.certServer ?? "\(cloudHost):10002", defaultPort: 10002)
        let key = P256.Signing.PrivateKey()
        let response = try await HTTPSFetch.get(
            host: host, port: port, path: "/edge.crt", headers: [("NodeName", context.nodeName)],
            body: try PKI.makeCSR(key: key), tls: try LinkTLS.edgeClient(current))
        guard response.status == 200, !response.body.isEmpty else {
            throw HubError("the cloud refused to renew the certificate (\(response.status)): "
                + String(decoding: response.body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let certificate = try Certificate(derEncoded: response.body)
        // Both written beside the old ones, then renamed over them (each rename is atomic).
        try PKI.write(key.pemRepresentation, to: dir + "/server.key.new", mode: 0o600)
        try PKI.write(try PKI.pem(certificate), to: dir + "/server.crt.new", mode: 0o644)
        for name in ["server.key", "server.crt"] where rename(dir + "/\(name).new", dir + "/" + name) != 0 {
            throw HubError("could not replace \(dir)/\(name): errno \(errno)")
        }
        return EdgeIdentity(caCertificate: current.caCertificate, certificate: certificate, privateKey: key)
    }

    // MARK: upstream: edge bus → durable queue → cloud

    /// Messages for the cloud are committed to the durable queue before the broker learns we have them (bus intake).
    func takeUpstream(_ message: BusMessage) -> Bool {
        guard message.topic == Topics.up else { return false }
        guard let envelope = message.envelope(orLogTo: logger) else { return true }
        let isAck = envelope.route.operation == "response"
        let id = envelope.header.id.isEmpty ? Message.newID() : envelope.header.id
        let added = upstream.appendWaiting(
            isAck ? Self.ackQueueName : Self.queueName, msgID: id, key: isAck ? id : LinkRules.orderingKey(envelope),
            needsAck: true, payload: MessageCodec.encode(envelope), logger: logger)
        if added { wakeup.signal() }
        logger.trace("queued for the cloud", metadata: [
            "id": "\(id)", "op": "\(envelope.route.operation)", "added": "\(added)"])
        return true
    }

    /// Sends the queue through the delivery window (rate-limited, ACKs first; one message per object in flight, but
    /// a stuck object never holds back the others). With a cloud that acknowledges, messages leave the queue on its
    /// acknowledgement, are sent again when it does not come, and are dead-lettered after their sends; with a real
    /// cloudcore they leave the queue once written, as edgecore sends them.
    func sendLoop(_ writer: LinkOutbound) async throws {
        let bucket = TokenBucket(rate: options.messageQPS, burst: options.messageBurst)
        var lastTick = ContinuousClock.now
        while !Task.isCancelled {
            var progressed = false
            for lane in [ackLane, cloudLane] {
                for step in try lane.next() {
                    switch step {
                    case .write(let item, let payload, let again):
                        try await bucket.take()
                        try await writer.send(String(decoding: payload + [UInt8(ascii: "\n")], as: UTF8.self))
                        try lane.written(item)
                        logger.trace(again ? "sent to the cloud again" : "sent to the cloud",
                                     metadata: ["id": "\(item.msgID)", "seq": "\(item.seq)"])
                    case .deadLettered(let item, let reason, let payload):
                        deadLettered(payload, lane: lane.name, msgID: item.msgID, reason: reason)
                    }
                    progressed = true
                }
            }
            if ContinuousClock.now - lastTick >= .seconds(1) {
                lastTick = .now
                if ackLane.tick() || cloudLane.tick() { continue }
            }
            if !progressed {
                // Woken by a new message or an acknowledgement; at least every second for re-sends.
                await wakeup.wait(timeout: .seconds(1))
            }
        }
    }

    /// Logged, and published on `ke/hub/deadletter` for people and monitoring.
    func deadLettered(_ payload: [UInt8], lane: String, msgID: String, reason: String) {
        let message = try? MessageCodec.decode(payload)
        logger.error("upstream message moved to the dead letters; its object's later messages go on", metadata: [
            "queue": "\(lane)", "msg_id": "\(msgID)", "resource": "\(message?.route.resource ?? "?")",
            "operation": "\(message?.route.operation ?? "?")", "reason": "\(reason)",
        ])
        let record: JSONValue = [
            "queue": .string(lane), "msg_id": .string(msgID), "resource": .string(message?.route.resource ?? ""),
            "operation": .string(message?.route.operation ?? ""), "reason": .string(reason),
        ]
        let bus = context.bus
        Task { try? await bus.publish(Topics.hubDeadLetter, try record.serialized()) }
    }

    // MARK: the link

    func connectLoop() async throws {
        let path = "/\(options.projectID)/\(context.nodeName)/events"
        var delay = 1.0
        while !Task.isCancelled {
            let started = ContinuousClock.now
            let renewed = Mutex(false)
            do {
                guard let identity = identity.withLock({ $0 }) else { return }
                let tls = try LinkTLS.edgeClient(identity)
                try await LinkClient.connect(
                    host: cloudHost, port: cloudPort, path: path,
                    headers: [
                        ("node_id", context.nodeName), ("project_id", options.projectID), ("ConnectionUse", "msg"),
                        (LinkProtocol.upstreamAckHeader, "1"), (StreamProtocol.header, "1"),
                    ],
                    tls: tls, maxMessageSize: options.maxMessageSize
                ) { inbound, outbound in
                    let agreed = inbound.upgradeHeader(LinkProtocol.upstreamAckHeader) == "1"
                    self.linkFacts.cloudAcknowledges.withLock { $0 = agreed }
                    let streams = inbound.upgradeHeader(StreamProtocol.header) == "1"
                    self.linkFacts.cloudStreams.withLock { $0 = streams }
                    if !agreed {
                        self.logger.notice(
                            "the cloud does not acknowledge upstream messages (a KubeEdge cloudcore): each is written once, as edgecore does")
                    }
                    let ended = try await self.session(inbound: inbound, outbound: outbound)
                    renewed.withLock { $0 = ended }
                }
                if renewed.withLock({ $0 }) {
                    logger.info("reconnecting with the renewed certificate")
                    await setConnected(false)
                    continue
                }
                logger.warning("link to the cloud closed", metadata: ["cloud": "\(cloudHost):\(cloudPort)"])
            } catch {
                if Task.isCancelled { return }
                logger.warning("cannot reach the cloud", metadata: [
                    "cloud": "\(cloudHost):\(cloudPort)", "reason": "\(error)", "retry_in_s": "\(Int(delay))",
                ])
            }
            await setConnected(false)
            if ContinuousClock.now - started > .seconds(30) { delay = 1 }
            // Capped exponential backoff with jitter, so that many edges do not return at the same instant.
            try await Task.sleep(for: .milliseconds(Int(delay * Double.random(in: 750...1250))))
            delay = min(delay * 2, 30)
        }
    }

    /// Returns true when it ended because the certificate was renewed.
    private func session(inbound: LinkInbound, outbound: LinkOutbound) async throws -> Bool {
        logger.info("connected to the cloud", metadata: ["cloud": "\(cloudHost):\(cloudPort)"])
        link.withLock { $0.writer = outbound }
        // Everything unacknowledged is sent again on this connection, in order.
        ackLane.reconnect()
        cloudLane.reconnect()
        await setConnected(true)
        defer { link.withLock { $0.writer = nil } }
        return try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                // The first keepalive right after connecting, as edgecore does (§13.3).
                while !Task.isCancelled {
                    try await outbound.send(LinkProtocol.frame(LinkRules.keepalive()))
                    try await Task.sleep(for: .seconds(self.options.heartbeat))
                }
                return false
            }
            group.addTask {
                try await self.sendLoop(outbound)
                return false
            }
            group.addTask {
                for try await bytes in inbound {
                    try await self.handleDownstream(bytes, outbound: outbound)
                }
                return false
            }
            group.addTask {
                await self.rotated.wait(timeout: .seconds(365 * 86400))
                return !Task.isCancelled
            }
            // Whichever ends first (the reader at a close, a failed write, a renewed certificate) ends the connection.
            let renewed = try await group.next() ?? false
            group.cancelAll()
            return renewed
        }
    }

    private func setConnected(_ connected: Bool) async {
        try? await context.bus.publish(Topics.hubLink, connected ? "connected" : "disconnected", retain: true)
    }

    // MARK: streams: edged → cloud, written as they come

    /// A stream frame or usage figures from edged go on the link now, beside the queued traffic: not queued (a
    /// session ends with its link), not rate-limited (sessions have their own credit), dropped when the link is down
    /// or the cloud did not agree to streams (the session's cloud side has already failed then).
    func forwardStream(_ message: BusMessage) async throws {
        guard message.topic == Topics.metricsUp || Topics.streamSession(ofTopic: message.topic) != nil else { return }
        guard let writer = link.withLock({ $0.writer }), linkFacts.cloudStreams.withLock({ $0 }) else {
            logger.debug("stream frame dropped: no link that takes streams", metadata: ["topic": "\(message.topic)"])
            return
        }
        guard let envelope = message.envelope(orLogTo: logger) else { return }
        try? await writer.send(LinkProtocol.frame(envelope))
    }

    // MARK: downstream: cloud → edge bus

    func handleDownstream(_ bytes: [UInt8], outbound: LinkOutbound) async throws {
        let message: Message
        do {
            message = try MessageCodec.decode(bytes)
        } catch {
            logger.error("dropped a malformed frame from the cloud", metadata: ["reason": "\(error)"])
            return
        }
        if message.route.operation == "response" && message.route.source == LinkProtocol.cloudhubSource {
            // cloudhub has our upstream message on its bus.
            let parent = message.header.parentID
            if try ackLane.acknowledge(parent) || cloudLane.acknowledge(parent) { wakeup.signal() }
            return
        }
        if StreamProtocol.isStream(message), linkFacts.cloudStreams.withLock({ $0 }) {
            // A session's frame for edged: published as it comes, never queued or acknowledged.
            try await context.bus.publish(Topics.streamIn(session: message.route.resource), MessageCodec.encode(message))
            return
        }
        if LinkRules.isViaductControl(message) {
            try await outbound.send(LinkProtocol.frame(message.response(content: RawJSON(string: "ack"))))
            return
        }
        guard let module = LinkRules.edgeModule(for: message) else {
            // KubeEdge's edgehub logs and discards these, leaving an ACK-class sender waiting forever. We refuse them
            // with an error naming the message, so the cloud can move it aside and go on.
            let reason = LinkRules.unroutableReason(message)
            let count = linkFacts.unroutable.withLock { n -> Int in
                n += 1
                return n
            }
            logger.error("refused a cloud message no edge module takes", metadata: [
                "msg_id": "\(message.header.id)", "group": "\(message.route.group)", "source": "\(message.route.source)",
                "resource": "\(message.route.resource)", "operation": "\(message.route.operation)",
                "reason": "\(reason)", "unroutable_total": "\(count)",
            ])
            try await outbound.send(LinkProtocol.frame(message.errorReply(reason, source: LinkProtocol.hubSource)))
            return
        }
        let needsAck = LinkRules.requiresAck(message)
        let first = recentDownstream.withLock { $0.insert(message.header.id) }
        // ACK-class copies go on even when seen before: meta drops the duplicate by resourceVersion and ACKs again.
        if first || needsAck {
            try await context.bus.publishConfirmed(Topics.down(module), MessageCodec.encode(message))
        }
        if !needsAck && linkFacts.cloudAcknowledges.withLock({ $0 }) {
            try await outbound.send(LinkProtocol.frame(
                LinkProtocol.transportAck(for: message, source: LinkProtocol.hubSource)))
        }
    }
}

/// Upstream rate limit: `rate` tokens per second, at most `burst` saved up (KubeEdge: 30 qps, burst 60).
actor TokenBucket {
    let rate: Double
    let burst: Double
    var tokens: Double
    var last = ContinuousClock.now

    init(rate: Double, burst: Int) {
        self.rate = max(rate, 0.001)
        self.burst = Double(max(burst, 1))
        tokens = Double(max(burst, 1))
    }

    func take() async throws {
        while true {
            let now = ContinuousClock.now
            let elapsed = now - last
            last = now
            tokens = min(burst, tokens + rate * (Double(elapsed.components.seconds)
                + Double(elapsed.components.attoseconds) / 1e18))
            if tokens >= 1 {
                tokens -= 1
                return
            }
            try await Task.sleep(for: .milliseconds(Int((1 - tokens) / rate * 1000) + 1))
        }
    }
}
