import ArgumentParser
import Bus
import Crypto
import EdgeProtocol
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTLS
import HummingbirdWebSocket
import Link
import LinkSecurity
import Logging
import NIOCore
import NIOSSL
import ServiceKit
import ServiceLifecycle
import Synchronization
import X509

public enum CloudHub: ServiceDescription {
    public static let identity = ServiceIdentity(name: "cloudhub", side: .cloud)
    public static let abstract = "Cloud: accepts edge nodes' websocket links (KubeEdge cloudhub)."
}

public struct CloudHubOptions: ParsableArguments, Sendable {
    @Option(name: .customLong("advertise-address"), parsing: .singleValue,
            help: "IP or DNS name put in the server certificate (repeatable, or comma-separated).")
    public var advertiseAddress: [String] = []

    @Option(name: .customLong("websocket-port"), help: "Port of the edges' websocket link (mutual TLS).")
    public var websocketPort = 10000

    @Option(name: .customLong("https-port"), help: "Port of the certificate service (/ca.crt, /edge.crt).")
    public var httpsPort = 10002

    @Option(name: .customLong("bind-address"), help: "Address both ports listen on.")
    public var bindAddress = "0.0.0.0"

    @Option(name: .customLong("keepalive-timeout"), help: "Seconds without a keepalive before a link is closed.")
    public var keepaliveTimeout = 30

    @Option(name: .customLong("token-ttl"), help: "Hours a join token stays valid.")
    public var tokenTTLHours = 24

    @Option(name: .customLong("token-refresh-seconds"),
            help: "A new join token is made (and written to <data-dir>/token) this often; older ones stay valid until they expire.")
    public var tokenRefreshSeconds = 12 * 3600

    @Option(name: .customLong("edge-cert-validity-seconds"), help: "Validity of the edge certificates issued.")
    public var edgeCertValiditySeconds = 365 * 86400

    @Option(name: .customLong("backlog-interval-ms"),
            help: "How often the per-node backlog is published on ke/cloudhub/backlog (when it changed).")
    public var backlogIntervalMs = 2000

    @Option(name: .customLong("outbox-limit"), help: "Messages kept per node while it is offline or slow.")
    public var outboxLimit = 100_000

    @Option(name: .customLong("max-message-size"), help: "Largest websocket message accepted, in bytes.")
    public var maxMessageSize = 16 << 20

    @OptionGroup public var delivery: DeliveryOptions

    @Flag(name: .customLong("upstream-acks"), inversion: .prefixedNo,
          help: "Agree to our hub's acknowledgement extension (X-KubeEdge-Swift-Ack); --no-upstream-acks behaves as KubeEdge's cloudcore.")
    public var upstreamAcks = true

    @Flag(name: .customLong("streams"), inversion: .prefixedNo,
          help: "Agree to our hub's stream extension (X-KubeEdge-Swift-Streams: kubectl logs/exec/attach/port-forward and usage figures over the link); --no-streams behaves as KubeEdge's cloudcore.")
    public var streams = true

    public init() {}
}

public struct CloudHubCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "cloudhub", abstract: CloudHub.abstract,
        discussion: """
            Serves KubeEdge v1.15 edges (and our hub) on a mutual-TLS websocket, issues edge certificates from join \
            tokens, and bridges every node's link to the cloud bus (docs/bus.md). The current join token is written \
            to <data-dir>/token.
            """)

    @OptionGroup public var options: BaseOptions
    @OptionGroup public var hub: CloudHubOptions

    public init() {}

    public func run() async throws {
        let hub = self.hub
        try await ServiceRunner.run(CloudHub.identity, options: options, prepare: { context in
            let server = try CloudHubServer(context: context, options: hub)
            context.bus.setIntake { [server] message in server.takeDownstream(message) }
            return server
        }, services: { server in try await server.services() })
    }
}

/// The cloudhub service: PKI, the certificate service, the websocket server, per-node sessions and outboxes.
public final class CloudHubServer: NodeSessionHost {
    let context: ServiceContext
    let options: CloudHubOptions
    let logger: Logger
    let outbox: DurableQueue
    let ca: CertificateAuthority
    let sessions = Mutex<[String: NodeSession]>([:])
    let recentUpstream = Mutex<[String: RecentIDs]>([:])
    let runningServers = Mutex(0)

    public init(context: ServiceContext, options: CloudHubOptions) throws {
        self.context = context
        self.options = options
        self.logger = context.logger
        try FileManager.default.createDirectory(atPath: context.config.dataDir, withIntermediateDirectories: true)
        ca = try CertificateAuthority.loadOrCreate(in: context.config.dataDir + "/pki")
        outbox = try DurableQueue(path: context.config.dataDir + "/outbox.db", limit: options.outboxLimit)
    }

    /// cloudhub's parts, stopped in reverse order on SIGTERM: the backlog and token refresh are cancelled, the
    /// websocket server stops accepting and each node's session finishes the frame it is handling (and its ACK) before
    /// it closes, then the certificate service, then the bus messages already received.
    public func services() async throws -> [any Service] {
        let addresses = Self.addresses(options.advertiseAddress)
        let serverKey = P256.Signing.PrivateKey()
        let serverCertificate = try ca.issueServerCertificate(key: serverKey, addresses: addresses)
        try writeToken(first: true)

        try await context.bus.waitUntilConnected(timeout: .seconds(3600))
        try await context.bus.subscribe([Topics.toAnyNode, Topics.streamToAnyNode])
        return [
            // ke/node/+/down is taken by the intake; stream frames for the nodes come here, in order.
            MessageLoopService(context) { message in await self.takeStream(message) },
            try makeCertificateService(certificate: serverCertificate, key: serverKey),
            try makeWebSocketService(certificate: serverCertificate, key: serverKey),
            PartService.loop("join token refresh") { try await self.refreshTokens() },
            PartService.loop("backlog") {
                try await self.outbox.publishBacklog(on: self.context.bus, topic: Topics.cloudhubBacklog,
                                                     every: .milliseconds(self.options.backlogIntervalMs))
            },
        ]
    }

    /// Writes a new join token to <data-dir>/token (mode 600) and says so.
    func writeToken(first: Bool) throws {
        let token = ca.makeToken(expiresAt: Date().addingTimeInterval(Double(options.tokenTTLHours) * 3600))
        let tokenPath = context.config.dataDir + "/token"
        try PKI.write(token + "\n", to: tokenPath, mode: 0o600)
        // The token itself is a secret: it goes to the file (and, at start, to the operator's terminal), never to
        // the log.
        logger.notice(first ? "join token written" : "join token refreshed", metadata: [
            "path": "\(tokenPath)", "valid_h": "\(options.tokenTTLHours)",
        ])
        if first {
            print("cloudhub: join token for edges (also in \(tokenPath)):\n\(token)")
            fflush(nil)
        }
    }

    /// KubeEdge refreshes the join token every 12 h; edges joining later use the newest one.
    func refreshTokens() async throws {
        while true {
            try await Task.sleep(for: .seconds(options.tokenRefreshSeconds))
            do {
                try writeToken(first: false)
            } catch {
                logger.error("could not write a new join token", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Logs "serving" once both ports listen (tests and people wait for that line).
    func serverRunning() {
        let both = runningServers.withLock { count -> Bool in
            count += 1
            return count == 2
        }
        guard both else { return }
        logger.info("serving", metadata: [
            "websocket": "\(options.bindAddress):\(options.websocketPort)",
            "https": "\(options.bindAddress):\(options.httpsPort)",
            "san": "\(Self.addresses(options.advertiseAddress))",
        ])
    }

    static func addresses(_ flags: [String]) -> [String] {
        let given = flags.flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
            .filter { !$0.isEmpty }
        return given.isEmpty ? ["127.0.0.1", "localhost"] : given
    }

    // MARK: downstream: cloud bus → outbox → node

    /// Every message for a node is committed to its outbox before the broker learns we have it (bus intake).
    func takeDownstream(_ message: BusMessage) -> Bool {
        let parts = message.topic.split(separator: "/")
        guard parts.count == 4, parts[0] == "ke", parts[1] == "node", parts[3] == "down" else { return false }
        let node = String(parts[2])
        guard let envelope = message.envelope(orLogTo: logger) else { return true }
        if LinkRules.isNodeDeletion(envelope, node: node) {
            // Not forwarded: the node is gone from the cluster, so its session ends (as KubeEdge's cloudhub does).
            logger.notice("node deleted: its session ends", metadata: ["node": "\(node)"])
            session(for: node)?.close(reason: "the node was deleted")
            return true
        }
        enqueue(envelope, for: node)
        return true
    }

    func enqueue(_ message: Message, for node: String) {
        let needsAck = LinkRules.requiresAck(message)
        if needsAck && message.header.resourceVersion.isEmpty && message.route.operation != "delete" {
            // KubeEdge's cloudhub drops these silently (§2.7); we deliver them and say so.
            logger.warning("ACK-class message without resourceversion", metadata: [
                "node": "\(node)", "resource": "\(message.route.resource)", "operation": "\(message.route.operation)",
            ])
        }
        let added = outbox.appendWaiting(
            node, msgID: message.header.id, key: LinkRules.orderingKey(message), needsAck: needsAck,
            payload: MessageCodec.encode(message), logger: logger)
        if added { session(for: node)?.wake() }
    }

    func session(for node: String) -> NodeSession? { sessions.withLock { $0[node] } }

    /// False for an upstream message already passed on (our hub re-sends what it has no acknowledgement for).
    func firstSighting(of id: String, from node: String) -> Bool {
        if id.isEmpty { return true }
        return recentUpstream.withLock { $0[node, default: RecentIDs()].insert(id) }
    }

    /// Backlog per node, for people and tests.
    public func backlog() -> [String: Int] { outbox.backlog() }

    // MARK: what node sessions need

    var keepaliveTimeout: Duration { .seconds(options.keepaliveTimeout) }
    var deliveryPolicy: DeliveryWindow.Policy { options.delivery.policy }

    func forward(_ message: Message, from node: String, to module: CloudModule) async throws {
        guard firstSighting(of: message.header.id, from: node) else { return }
        try await context.bus.publishConfirmed(Topics.fromNode(node, module), MessageCodec.encode(message))
    }

    // MARK: streams

    /// A session's frame for a node goes on its link now (never stored). A node that is offline, or runs an edge
    /// without our stream extension, cannot take it: the API server gets a close saying so at once.
    func takeStream(_ message: BusMessage) async {
        let parts = message.topic.split(separator: "/")
        guard parts.count == 5, parts[0] == "ke", parts[1] == "node", parts[3] == "stream", parts[4] == "down" else { return }
        let node = String(parts[2])
        guard let envelope = message.envelope(orLogTo: logger), StreamProtocol.isStream(envelope) else { return }
        let session = envelope.route.resource
        let failure: StreamFailure
        if let target = self.session(for: node) {
            if target.streamCapable {
                if await target.sendStream(envelope) { return }
                failure = .unavailable("node \"\(node)\" is offline: its link to the cloud dropped")
            } else {
                failure = StreamFailure(code: 501, reason: "NotImplemented", """
                    node "\(node)" runs an edge without stream support (KubeEdge's edgecore: logs and exec need its \
                    edgeStream module and cloudcore's cloudStream)
                    """)
            }
        } else {
            failure = .offline(node)
        }
        guard envelope.route.operation == StreamProtocol.Operation.open.rawValue else { return }
        let close = StreamProtocol.close(session: session, source: StreamProtocol.edgeSource, failure: failure)
        try? await context.bus.publish(Topics.streamFromNode(session: session), MessageCodec.encode(close))
    }

    /// A session's frame from a node, for the API server; usage figures, retained for it.
    func forwardStream(_ message: Message, from node: String) async {
        let metrics = message.route.operation == StreamProtocol.Operation.metrics.rawValue
        let topic = metrics ? Topics.nodeMetrics(node) : Topics.streamFromNode(session: message.route.resource)
        do {
            try await context.bus.publish(topic, MessageCodec.encode(message), retain: metrics)
        } catch {
            logger.warning("stream frame not passed to the cloud bus", metadata: ["node": "\(node)", "reason": "\(error)"])
        }
    }

    /// Logged, and published on `ke/cloudhub/deadletter` for people and monitoring.
    func deadLettered(_ payload: [UInt8], node: String, msgID: String, reason: String) {
        let message = try? MessageCodec.decode(payload)
        let record: JSONValue = [
            "node": .string(node), "msg_id": .string(msgID),
            "resource": .string(message?.route.resource ?? ""), "operation": .string(message?.route.operation ?? ""),
            "group": .string(message?.route.group ?? ""), "source": .string(message?.route.source ?? ""),
            "reason": .string(reason),
        ]
        logger.error("message moved to the node's dead letters; its object's later messages go on", metadata: [
            "node": "\(node)", "msg_id": "\(msgID)", "resource": "\(message?.route.resource ?? "?")",
            "operation": "\(message?.route.operation ?? "?")", "group": "\(message?.route.group ?? "?")",
            "reason": "\(reason)",
        ])
        let bus = context.bus
        Task { try? await bus.publish(Topics.cloudhubDeadLetter, try record.serialized()) }
    }

    // MARK: certificate service (port 10002)

    struct CertificateRequestContext: RequestContext {
        var coreContext: CoreRequestContextStorage
        let channel: any Channel

        init(source: ApplicationRequestContextSource) {
            coreContext = .init(source: source)
            channel = source.channel
        }
    }

    func makeCertificateService(certificate: Certificate, key: P256.Signing.PrivateKey) throws
        -> some ApplicationProtocol
    {
        let router = Router(context: CertificateRequestContext.self)
        let ca = self.ca
        let logger = self.logger
        let validity = TimeInterval(options.edgeCertValiditySeconds)
        router.get("/ca.crt") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/octet-stream"],
                     body: .init(byteBuffer: ByteBuffer(bytes: ca.certificateDER)))
        }
        router.get("/edge.crt") { request, context in
            let node = request.headers[HTTPField.Name("NodeName")!] ?? "?"
            do {
                try await Self.authorizeCertificateRequest(request, context: context, ca: ca)
            } catch {
                logger.warning("refused a certificate request", metadata: ["node": "\(node)", "reason": "\(error)"])
                return Response(status: .unauthorized, body: .init(byteBuffer: ByteBuffer(string: "\(error)\n")))
            }
            let csr = try await request.body.collect(upTo: 1 << 20)
            do {
                let signed = try ca.signEdgeCSR(Array(buffer: csr), validity: validity)
                logger.info("issued an edge certificate", metadata: ["node": "\(node)"])
                return Response(status: .ok, headers: [.contentType: "application/octet-stream"],
                                body: .init(byteBuffer: ByteBuffer(bytes: try PKI.der(signed))))
            } catch {
                logger.warning("bad certificate signing request", metadata: ["node": "\(node)", "reason": "\(error)"])
                return Response(status: .badRequest, body: .init(byteBuffer: ByteBuffer(string: "\(error)\n")))
            }
        }
        return Application(
            router: router,
            server: try .tls(.http1(), tlsConfiguration: try LinkTLS.certificateServer(
                ca: ca, certificate: certificate, key: key)),
            configuration: .init(address: .hostname(options.bindAddress, port: options.httpsPort),
                                 serverName: "cloudhub"),
            onServerRunning: { [self] _ in serverRunning() },
            logger: Self.quiet(logger))
    }

    /// A bearer JWT made with our CA key, or (for rotation) a client certificate our CA issued.
    static func authorizeCertificateRequest(_ request: Request, context: CertificateRequestContext,
                                            ca: CertificateAuthority) async throws {
        if let authorization = request.headers[.authorization] {
            let parts = authorization.split(separator: " ")
            guard parts.count == 2, parts[0] == "Bearer" else {
                throw PKIError("the Authorization header must be 'Bearer <token>'")
            }
            try ca.verifyJWT(String(parts[1]))
            return
        }
        if let presented = try? await context.channel.nioSSL_peerCertificate().get() {
            let certificate = try Certificate(derEncoded: try presented.toDERBytes())
            if ca.hasIssued(certificate) { return }
            throw PKIError("the client certificate was not issued by this cloud's CA")
        }
        throw PKIError("neither a bearer token nor a client certificate was presented")
    }

    // MARK: websocket service (port 10000)

    func makeWebSocketService(certificate: Certificate, key: P256.Signing.PrivateKey) throws
        -> some ApplicationProtocol
    {
        let router = Router()
        router.get("/healthz") { _, _ in "ok" }
        let maxSize = options.maxMessageSize
        return Application(
            router: router,
            server: try .tls(
                .http1WebSocketUpgrade(configuration: .init(ws: .init(maxFrameSize: maxSize)), shouldUpgrade: {
                    (request: HTTPRequest, channel: any Channel, _: Logger) async throws
                        -> ShouldUpgradeResult<WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>> in
                    // Identity is the node_id header (sent as Node_id), looked up case-insensitively (§2.2).
                    let peer = channel.remoteAddress?.description ?? "?"
                    guard let node = request.headerFields[HTTPField.Name("node_id")!], !node.isEmpty else {
                        self.logger.warning("refused a websocket without a node_id header", metadata: ["peer": "\(peer)"])
                        return .dontUpgrade
                    }
                    // The TLS layer only asks for a client certificate so that refusals can be logged here.
                    guard (try? await channel.nioSSL_peerCertificate().get()) != nil else {
                        self.logger.warning("refused a websocket without a client certificate",
                                            metadata: ["peer": "\(peer)", "node": "\(node)"])
                        return .dontUpgrade
                    }
                    let ackCapable = self.options.upstreamAcks
                        && request.headerFields[HTTPField.Name(LinkProtocol.upstreamAckHeader)!] == "1"
                    let streamCapable = self.options.streams
                        && request.headerFields[HTTPField.Name(StreamProtocol.header)!] == "1"
                    // Our extensions are agreed to in the upgrade response; a real edgecore never asks for them.
                    var agreed: HTTPFields = ackCapable ? [HTTPField.Name(LinkProtocol.upstreamAckHeader)!: "1"] : [:]
                    if streamCapable { agreed[HTTPField.Name(StreamProtocol.header)!] = "1" }
                    return .upgrade(agreed) { inbound, outbound, _ in
                        let session = NodeSession(
                            node: node, host: self, outbound: outbound, ackCapable: ackCapable,
                            streamCapable: streamCapable, peer: channel.remoteAddress?.description ?? "?")
                        await session.run(inbound: inbound, maxMessageSize: maxSize)
                    }
                }),
                configuration: TLSChannelConfiguration(
                    tlsConfiguration: try LinkTLS.certificateServer(ca: ca, certificate: certificate, key: key),
                    customAsyncVerificationCallback: { [logger, ca] presented in
                        Self.verifyClient(presented, ca: ca, logger: logger)
                    })),
            configuration: .init(address: .hostname(options.bindAddress, port: options.websocketPort),
                                 serverName: "cloudhub"),
            onServerRunning: { [self] _ in serverRunning() },
            logger: Self.quiet(logger))
    }

    /// A client certificate on the websocket port must chain to our CA and be valid now; a refusal is logged.
    static func verifyClient(_ presented: [NIOSSLCertificate], ca: CertificateAuthority, logger: Logger)
        -> NIOSSLVerificationResult
    {
        guard let leaf = presented.first,
              let certificate = try? Certificate(derEncoded: try leaf.toDERBytes())
        else {
            logger.warning("refused a TLS client: unreadable certificate")
            return .failed
        }
        guard ca.hasIssued(certificate) else {
            logger.warning("refused a TLS client: its certificate was not issued by this cloud's CA (or has expired)",
                           metadata: ["subject": "\(certificate.subject)", "issuer": "\(certificate.issuer)"])
            return .failed
        }
        return .certificateVerified
    }

    /// Hummingbird logs every request at info; ours are few and logged by us.
    static func quiet(_ logger: Logger) -> Logger {
        var quiet = logger
        quiet.logLevel = max(logger.logLevel, .warning)
        return quiet
    }

    // MARK: sessions

    /// Registers a new session, replacing (and closing) an older one for the same node.
    func register(_ session: NodeSession) {
        let previous = sessions.withLock { sessions -> NodeSession? in
            defer { sessions[session.node] = session }
            return sessions[session.node]
        }
        if let previous {
            logger.warning("a second connection for the node replaces the first", metadata: ["node": "\(session.node)"])
            previous.close(reason: "replaced by a newer connection")
        }
        publishLink(session.node, connected: true)
    }

    func unregister(_ session: NodeSession) {
        let wasCurrent = sessions.withLock { sessions -> Bool in
            guard sessions[session.node] === session else { return false }
            sessions[session.node] = nil
            return true
        }
        if wasCurrent { publishLink(session.node, connected: false) }
    }

    func publishLink(_ node: String, connected: Bool) {
        let bus = context.bus
        Task { try? await bus.publish(Topics.nodeLink(node), connected ? "connected" : "disconnected", retain: true) }
    }
}

