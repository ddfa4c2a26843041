import ArgumentParser
import Crypto
import EdgeProtocol
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import HummingbirdWebSocket
import LinkSecurity
import Logging
import NIOCore
import NIOSSL
import ServiceKit
import ServiceLifecycle
import X509

public enum APIServer: ServiceDescription {
    public static let identity = ServiceIdentity(name: "apiserver", side: .cloud)
    public static let abstract = "Cloud: embedded Kubernetes-compatible API server on SQLite."
}

public struct APIServerOptions: ParsableArguments, Sendable {
    @Option(name: .customLong("secure-port"), help: "HTTPS port (client certificate or bearer token required).")
    public var securePort = 6443

    @Option(name: .customLong("bind-address"), help: "Address the HTTPS port listens on.")
    public var bindAddress = "127.0.0.1"

    @Option(name: .customLong("insecure-port"),
            help: "Plain-HTTP port on 127.0.0.1 without authentication, for local tools (0: off).")
    public var insecurePort = 0

    @Option(name: .customLong("advertise-address"), parsing: .singleValue,
            help: "Extra IP or DNS name for the serving certificate (repeatable).")
    public var advertiseAddress: [String] = []

    @Option(name: .customLong("kubeconfig-server"),
            help: "The server URL written into admin.kubeconfig (default: https://<bind address or 127.0.0.1>:<secure port>).")
    public var kubeconfigServer: String?

    @Option(name: .customLong("event-log-keep"),
            help: "Events kept in the log for watches to resume from (older resourceVersions answer 410).")
    public var eventLogKeep = 100_000

    @Option(name: .customLong("watch-bookmark-interval"), help: "Seconds between watch bookmarks.")
    public var watchBookmarkInterval = 60

    @Option(name: .customLong("pod-reaper-interval-ms"), help: "How often expired pod grace periods are checked.")
    public var podReaperIntervalMs = 1000

    public init() {}
}

public struct APIServerCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "apiserver", abstract: APIServer.abstract,
        discussion: """
            Serves the Kubernetes API (core/v1, apps/v1 Deployments, coordination.k8s.io Leases, \
            apiextensions.k8s.io CRDs and the custom resources they define) from one SQLite event log, with a \
            scheduler and a Deployment controller built in. On first start it writes <data-dir>/admin.kubeconfig.
            """)

    @OptionGroup public var options: BaseOptions
    @OptionGroup public var apiserver: APIServerOptions

    public init() {}

    public func run() async throws {
        let apiserver = self.apiserver
        try await ServiceRunner.run(APIServer.identity, options: options, services: { context in
            try APIServerRuntime(context: context, options: apiserver).services()
        })
    }
}

/// The running API server: store, core, controllers and the HTTP(S) listeners.
public final class APIServerRuntime: Sendable {
    let context: ServiceContext
    let options: APIServerOptions
    public let core: APICore
    let credentials: AdminCredentials

    public init(context: ServiceContext, options: APIServerOptions) throws {
        self.context = context
        self.options = options
        let dataDir = context.config.dataDir
        try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
        let store = try ObjectStore(
            path: dataDir + "/apiserver.db",
            options: ObjectStoreOptions(autoCompaction: CompactionPolicy(
                keepLast: options.eventLogKeep, every: max(1, options.eventLogKeep / 10))))
        core = try APICore(store: store, registry: ResourceRegistry(), logger: context.logger)
        credentials = try AdminCredentials.loadOrCreate(
            in: dataDir, addresses: ["127.0.0.1", "localhost", options.bindAddress] + options.advertiseAddress)
    }

    /// The API server's parts, stopped in reverse order on SIGTERM: the controllers are cancelled, each HTTP
    /// listener stops accepting and finishes the requests in flight (a request that got its 2xx is stored), then
    /// the store is closed.
    public func services() throws -> [any Service] {
        let logger = context.logger
        let server = options.kubeconfigServer
            ?? "https://\(options.bindAddress == "0.0.0.0" ? "127.0.0.1" : options.bindAddress):\(options.securePort)"
        let kubeconfigPath = context.config.dataDir + "/admin.kubeconfig"
        try credentials.writeKubeconfig(to: kubeconfigPath, server: server)
        var handlerOptions = APIHandlerOptions()
        handlerOptions.bookmarkInterval = .seconds(options.watchBookmarkInterval)
        handlerOptions.serverAddress = "\(options.bindAddress):\(options.securePort)"
        // Pod logs through the nodes' links (cloudhub's stream extension).
        let streams = NodeStreams(bus: context.bus, logger: logger)
        handlerOptions.streams = streams
        let secure = APIResponder(core: core, authenticator: Authenticator(tokens: [credentials.token]),
                                  options: handlerOptions, logger: logger)
        // kubectl exec and attach: WebSocket upgrades, taken before the responder.
        let secureCommands = RemoteCommandEndpoint(core: core, streams: streams,
                                                   authenticator: Authenticator(tokens: [credentials.token]), logger: logger)
        let plainCommands = RemoteCommandEndpoint(core: core, streams: streams, authenticator: nil, logger: logger)
        let quiet = Self.quiet(logger)
        let store = core.store
        var parts: [any Service] = [
            PartService.draining("store") {
                try? await gracefulShutdown()
                store.close()  // last: after every listener has finished its requests
            },
            Application(
                responder: secure,
                server: Self.streamingServer(commands: secureCommands, tls: try credentials.serverTLS()),
                configuration: .init(address: .hostname(options.bindAddress, port: options.securePort),
                                     serverName: "apiserver"),
                onServerRunning: { _ in
                    logger.info("serving", metadata: ["https": "\(server)", "kubeconfig": "\(kubeconfigPath)"])
                    print("apiserver: serving on \(server); use it with:\n  export KUBECONFIG=\(kubeconfigPath)")
                    fflush(nil)
                },
                logger: quiet),
        ]
        let insecurePort = options.insecurePort
        if insecurePort > 0 {
            let plain = APIResponder(core: core, authenticator: nil, options: handlerOptions, logger: logger)
            parts.append(Application(
                responder: plain,
                server: Self.streamingServer(commands: plainCommands, tls: nil),
                configuration: .init(address: .hostname("127.0.0.1", port: insecurePort), serverName: "apiserver"),
                onServerRunning: { _ in
                    logger.info("serving plain HTTP on loopback", metadata: ["port": "\(insecurePort)"])
                },
                logger: quiet))
        }
        let controllers = Controllers(core: core, logger: logger,
                                      reaperInterval: .milliseconds(options.podReaperIntervalMs))
        parts.append(PartService.draining("watches") {
            // After the listeners, so that it stops before them: open watches end (clients re-watch from their
            // resourceVersion), and the listeners then finish the other requests.
            try? await gracefulShutdown()
            store.hub.close()
        })
        parts.append(PartService.loop("controllers") { await controllers.run() })
        let context = self.context
        parts.append(PartService.loop("node streams") {
            try await context.bus.waitUntilConnected(timeout: .seconds(3600))
            try await context.bus.subscribe(NodeStreams.topics)
            await context.handleMessages { message in streams.handle(message) }
        })
        return parts
    }

    /// HTTP/1.1 with the upgrades kubectl's streams use: WebSocket (exec, attach, port-forward tunnelled) and SPDY/3.1
    /// (port-forward of kubectl before 1.31); with TLS when `tls` is given.
    static func streamingServer(commands: RemoteCommandEndpoint, tls: TLSConfiguration?) -> HTTPServerBuilder {
        HTTPServerBuilder { responder -> any ServerChildChannel in
            let http = HTTP1WebSocketUpgradeChannel(
                responder: responder, configuration: .init(ws: .init(maxFrameSize: 1 << 20))
            ) { request, channel, _ in
                await commands.shouldUpgrade(request, channel: channel)
            }
            let channel = SPDYUpgradeChannel(base: http, wants: commands.wantsSPDY, serve: commands.serveSPDY)
            guard let tls else { return channel }
            return try TLSChannel(channel, tlsConfiguration: tls)
        }
    }

    /// Hummingbird logs every connection at info; ours speak for themselves.
    static func quiet(_ logger: Logger) -> Logger {
        var quiet = logger
        quiet.logLevel = max(logger.logLevel, .warning)
        return quiet
    }
}

/// The API server's CA, serving certificate, and the admin's client certificate and token; kept in
/// `<data-dir>/pki`, reused across restarts.
struct AdminCredentials: Sendable {
    let ca: CertificateAuthority
    let serverCertificate: Certificate
    let serverKey: P256.Signing.PrivateKey
    let adminCertificate: Certificate
    let adminKey: P256.Signing.PrivateKey
    let token: String

    static func loadOrCreate(in dataDir: String, addresses: [String]) throws -> AdminCredentials {
        let pki = dataDir + "/pki"
        let ca = try CertificateAuthority.loadOrCreate(in: pki)
        func keyPair(_ name: String, make: (P256.Signing.PrivateKey) throws -> Certificate) throws
            -> (Certificate, P256.Signing.PrivateKey)
        {
            let certPath = "\(pki)/\(name).crt", keyPath = "\(pki)/\(name).key"
            if let certText = try? String(contentsOfFile: certPath, encoding: .utf8),
               let keyText = try? String(contentsOfFile: keyPath, encoding: .utf8) {
                return (try Certificate(pemEncoded: certText), try P256.Signing.PrivateKey(pemRepresentation: keyText))
            }
            let key = P256.Signing.PrivateKey()
            let certificate = try make(key)
            try PKI.write(try PKI.pem(certificate), to: certPath, mode: 0o644)
            try PKI.write(key.pemRepresentation, to: keyPath, mode: 0o600)
            return (certificate, key)
        }
        var unique: [String] = []
        for address in addresses where !address.isEmpty && address != "0.0.0.0" && !unique.contains(address) {
            unique.append(address)
        }
        var (serverCertificate, serverKey) = try keyPair("apiserver") {
            try ca.issueServerCertificate(key: $0, addresses: unique)
        }
        // New addresses asked for: a new serving certificate.
        if let names = try? serverCertificate.extensions.subjectAlternativeNames,
           Set(unique).isSubset(of: Set(names.map { name -> String in
               switch name {
               case .dnsName(let dns): return dns
               case .ipAddress(let octets): return Array(octets.bytes).map(String.init).joined(separator: ".")
               default: return ""
               }
           })) == false {
            serverKey = P256.Signing.PrivateKey()
            serverCertificate = try ca.issueServerCertificate(key: serverKey, addresses: unique)
            try PKI.write(try PKI.pem(serverCertificate), to: "\(pki)/apiserver.crt", mode: 0o644)
            try PKI.write(serverKey.pemRepresentation, to: "\(pki)/apiserver.key", mode: 0o600)
        }
        let (adminCertificate, adminKey) = try keyPair("admin") {
            try ca.issueClientCertificate(key: $0, commonName: "kubernetes-admin", organization: "system:masters")
        }
        let tokenPath = "\(pki)/admin.token"
        var token = (try? String(contentsOfFile: tokenPath, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        if token.isEmpty {
            token = PKI.sha256Hex(Array(UUID().uuidString.utf8) + Array(UUID().uuidString.utf8))
            try PKI.write(token + "\n", to: tokenPath, mode: 0o600)
        }
        return AdminCredentials(ca: ca, serverCertificate: serverCertificate, serverKey: serverKey,
                                adminCertificate: adminCertificate, adminKey: adminKey, token: token)
    }

    /// TLS 1.2+, client certificates asked for and checked against our CA when presented (tokens work too).
    func serverTLS() throws -> TLSConfiguration {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: [.certificate(try NIOSSLCertificate(bytes: try PKI.der(serverCertificate), format: .der))],
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(serverKey.pemRepresentation.utf8), format: .pem)))
        configuration.minimumTLSVersion = .tlsv12
        configuration.trustRoots = .certificates([try NIOSSLCertificate(bytes: ca.certificateDER, format: .der)])
        configuration.certificateVerification = .optionalVerification
        return configuration
    }

    /// The admin kubeconfig: our CA, the admin client certificate and key (all inline).
    func writeKubeconfig(to path: String, server: String) throws {
        func base64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }
        let text = """
            apiVersion: v1
            kind: Config
            clusters:
            - name: kubeedge-swift
              cluster:
                server: \(server)
                certificate-authority-data: \(base64(try PKI.pem(ca.certificate)))
            users:
            - name: admin
              user:
                client-certificate-data: \(base64(try PKI.pem(adminCertificate)))
                client-key-data: \(base64(adminKey.pemRepresentation))
            contexts:
            - name: kubeedge-swift
              context:
                cluster: kubeedge-swift
                user: admin
            current-context: kubeedge-swift

            """
        try PKI.write(text, to: path, mode: 0o600)
    }
}
