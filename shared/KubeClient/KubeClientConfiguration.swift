/// PEM material given inline or as a file path (read by libcurl when the connection is made).
public enum PEMSource: Sendable, Hashable {
    case data([UInt8])
    case file(String)
}

/// Where and how to reach an API server: what a kubeconfig context resolves to, or an in-cluster service account.
public struct KubeClientConfiguration: Sendable {
    /// `https://host:port` (optionally with a path prefix), or `http://...` for a plain local server.
    public var server: String
    /// The CA bundle that signs the server's certificate. Nil: the system's trust store.
    public var certificateAuthority: PEMSource?
    /// Skip verifying the server's certificate (kubeconfig `insecure-skip-tls-verify`). For tests only.
    public var insecureSkipTLSVerify: Bool
    /// The name to send (SNI) and verify the server certificate against instead of the URL's host.
    public var tlsServerName: String?
    /// Client certificate (PEM, may carry a chain) and its key (PEM; EC or RSA).
    public var clientCertificate: PEMSource?
    public var clientKey: PEMSource?
    /// A bearer token.
    public var token: String?
    /// A file holding the bearer token, read again every ``tokenRefreshInterval`` (service account tokens rotate).
    /// Takes precedence over ``token``.
    public var tokenFile: String?
    public var tokenRefreshInterval: Duration
    /// The context's default namespace (informational: every call names its namespace).
    public var namespace: String?
    /// Bound on establishing a connection (TCP + TLS).
    public var connectTimeout: Duration
    /// Bound on a whole non-watch request.
    public var requestTimeout: Duration
    public var userAgent: String
    /// Bigger responses fail with `invalidResponse` (lists of huge clusters may need more).
    public var maxResponseBytes: Int
    /// Connections (libcurl handles) kept open between requests.
    public var maxIdleConnections: Int

    public init(
        server: String,
        certificateAuthority: PEMSource? = nil,
        insecureSkipTLSVerify: Bool = false,
        tlsServerName: String? = nil,
        clientCertificate: PEMSource? = nil,
        clientKey: PEMSource? = nil,
        token: String? = nil,
        tokenFile: String? = nil,
        namespace: String? = nil,
        connectTimeout: Duration = .seconds(10),
        requestTimeout: Duration = .seconds(60),
        userAgent: String = "kubeedge-swift",
        maxResponseBytes: Int = 256 << 20,
        maxIdleConnections: Int = 2,
        tokenRefreshInterval: Duration = .seconds(60)
    ) {
        self.server = server
        self.certificateAuthority = certificateAuthority
        self.insecureSkipTLSVerify = insecureSkipTLSVerify
        self.tlsServerName = tlsServerName
        self.clientCertificate = clientCertificate
        self.clientKey = clientKey
        self.token = token
        self.tokenFile = tokenFile
        self.namespace = namespace
        self.connectTimeout = connectTimeout
        self.requestTimeout = requestTimeout
        self.userAgent = userAgent
        self.maxResponseBytes = maxResponseBytes
        self.maxIdleConnections = maxIdleConnections
        self.tokenRefreshInterval = tokenRefreshInterval
    }

    public static let serviceAccountDirectory = "/var/run/secrets/kubernetes.io/serviceaccount"

    /// A pod's view of its cluster: `KUBERNETES_SERVICE_HOST`/`_PORT` (unless given) and the mounted service account
    /// token, CA and namespace. The token file is re-read as it rotates.
    public static func inCluster(
        host: String? = nil, port: Int? = nil,
        tokenFile: String = serviceAccountDirectory + "/token",
        caFile: String = serviceAccountDirectory + "/ca.crt",
        namespaceFile: String = serviceAccountDirectory + "/namespace"
    ) throws(KubeError) -> KubeClientConfiguration {
        guard let host = host ?? FileIO.environment("KUBERNETES_SERVICE_HOST"), !host.isEmpty else {
            throw .configuration("not in a cluster: KUBERNETES_SERVICE_HOST is not set")
        }
        guard let port = port ?? FileIO.environment("KUBERNETES_SERVICE_PORT").flatMap({ Int($0) }) else {
            throw .configuration("not in a cluster: KUBERNETES_SERVICE_PORT is not set")
        }
        guard FileIO.exists(tokenFile) else { throw .configuration("no service account token at \(tokenFile)") }
        var namespace: String?
        if FileIO.exists(namespaceFile) {
            namespace = try FileIO.readString(namespaceFile).trimmingWhitespace()
        }
        return KubeClientConfiguration(
            server: "https://\(ServerURL.authorityHost(host)):\(port)",
            certificateAuthority: FileIO.exists(caFile) ? .file(caFile) : nil,
            tokenFile: tokenFile, namespace: namespace)
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while s.first?.isWhitespace == true { s.removeFirst() }
        while s.last?.isWhitespace == true { s.removeLast() }
        return String(s)
    }
}
