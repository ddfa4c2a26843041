import EdgeProtocol
import Yams

/// A kubeconfig file: clusters, users and contexts. ``configuration(context:)`` resolves one context (the current
/// one by default) into a ``KubeClientConfiguration``. Relative file paths are taken from the kubeconfig's directory,
/// as kubectl does. Exec and auth-provider plugins are not supported.
public struct Kubeconfig: Sendable {
    public struct Cluster: Sendable, Hashable {
        public var server: String
        /// `certificate-authority` (a path) and `certificate-authority-data` (PEM, base64-decoded). Data wins.
        public var certificateAuthority: String?
        public var certificateAuthorityData: [UInt8]?
        public var insecureSkipTLSVerify: Bool
        public var tlsServerName: String?

        public init(server: String, certificateAuthority: String? = nil, certificateAuthorityData: [UInt8]? = nil,
                    insecureSkipTLSVerify: Bool = false, tlsServerName: String? = nil) {
            self.server = server
            self.certificateAuthority = certificateAuthority
            self.certificateAuthorityData = certificateAuthorityData
            self.insecureSkipTLSVerify = insecureSkipTLSVerify
            self.tlsServerName = tlsServerName
        }
    }

    public struct User: Sendable, Hashable {
        public var clientCertificate: String?
        public var clientCertificateData: [UInt8]?
        public var clientKey: String?
        public var clientKeyData: [UInt8]?
        public var token: String?
        public var tokenFile: String?

        public init(clientCertificate: String? = nil, clientCertificateData: [UInt8]? = nil, clientKey: String? = nil,
                    clientKeyData: [UInt8]? = nil, token: String? = nil, tokenFile: String? = nil) {
            self.clientCertificate = clientCertificate
            self.clientCertificateData = clientCertificateData
            self.clientKey = clientKey
            self.clientKeyData = clientKeyData
            self.token = token
            self.tokenFile = tokenFile
        }
    }

    public struct Context: Sendable, Hashable {
        public var cluster: String
        public var user: String
        public var namespace: String?

        public init(cluster: String, user: String, namespace: String? = nil) {
            self.cluster = cluster
            self.user = user
            self.namespace = namespace
        }
    }

    public var clusters: [String: Cluster]
    public var users: [String: User]
    public var contexts: [String: Context]
    public var currentContext: String?

    public init(clusters: [String: Cluster] = [:], users: [String: User] = [:], contexts: [String: Context] = [:],
                currentContext: String? = nil) {
        self.clusters = clusters
        self.users = users
        self.contexts = contexts
        self.currentContext = currentContext
    }

    /// Parses kubeconfig YAML. `directory` is where relative paths in it are taken from.
    public init(yaml: String, directory: String? = nil) throws(KubeError) {
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: yaml) else { throw KubeError.configuration("kubeconfig is empty") }
            root = node
        } catch let error as KubeError {
            throw error
        } catch {
            throw .configuration("kubeconfig is not valid YAML: \(error)")
        }
        guard root.mapping != nil else { throw .configuration("kubeconfig is not a mapping") }
        self.init()
        currentContext = root["current-context"]?.string.flatMap { $0.isEmpty ? nil : $0 }

        for (name, body) in try Self.namedEntries(root, "clusters", inner: "cluster") {
            guard let server = body["server"]?.string, !server.isEmpty else {
                throw .configuration("cluster '\(name)' has no server")
            }
            clusters[name] = Cluster(
                server: server,
                certificateAuthority: body["certificate-authority"]?.string.map { FileIO.resolve($0, relativeTo: directory) },
                certificateAuthorityData: try Self.data(body, "certificate-authority-data", in: "cluster '\(name)'"),
                insecureSkipTLSVerify: body["insecure-skip-tls-verify"]?.bool ?? false,
                tlsServerName: body["tls-server-name"]?.string)
        }
        for (name, body) in try Self.namedEntries(root, "users", inner: "user") {
            users[name] = User(
                clientCertificate: body["client-certificate"]?.string.map { FileIO.resolve($0, relativeTo: directory) },
                clientCertificateData: try Self.data(body, "client-certificate-data", in: "user '\(name)'"),
                clientKey: body["client-key"]?.string.map { FileIO.resolve($0, relativeTo: directory) },
                clientKeyData: try Self.data(body, "client-key-data", in: "user '\(name)'"),
                token: body["token"]?.string.flatMap { $0.isEmpty ? nil : $0 },
                tokenFile: body["tokenFile"]?.string.map { FileIO.resolve($0, relativeTo: directory) })
        }
        for (name, body) in try Self.namedEntries(root, "contexts", inner: "context") {
            contexts[name] = Context(
                cluster: body["cluster"]?.string ?? "", user: body["user"]?.string ?? "",
                namespace: body["namespace"]?.string.flatMap { $0.isEmpty ? nil : $0 })
        }
    }

    /// Reads a kubeconfig file; relative paths in it are taken from its directory.
    public static func load(path: String) throws(KubeError) -> Kubeconfig {
        try Kubeconfig(yaml: FileIO.readString(path), directory: FileIO.directory(of: path))
    }

    /// The first file named by `$KUBECONFIG` that exists, else `$HOME/.kube/config`. (Several files are not merged.)
    public static func loadDefault() throws(KubeError) -> Kubeconfig {
        var candidates: [String] = []
        if let list = FileIO.environment("KUBECONFIG") {
            candidates += list.split(separator: ":").map(String.init)
        }
        if let home = FileIO.environment("HOME") { candidates.append(home + "/.kube/config") }
        guard let path = candidates.first(where: FileIO.exists) else {
            throw .configuration("no kubeconfig: KUBECONFIG is unset or names no file, and ~/.kube/config is absent")
        }
        return try load(path: path)
    }

    /// The connection settings of `context` (default: `current-context`).
    public func configuration(context name: String? = nil) throws(KubeError) -> KubeClientConfiguration {
        guard let contextName = name ?? currentContext else { throw .configuration("kubeconfig has no current-context") }
        guard let context = contexts[contextName] else { throw .configuration("no context '\(contextName)' in kubeconfig") }
        guard let cluster = clusters[context.cluster] else {
            throw .configuration("context '\(contextName)' names cluster '\(context.cluster)', which is not defined")
        }
        let user: User
        if context.user.isEmpty {
            user = User()
        } else if let found = users[context.user] {
            user = found
        } else {
            throw .configuration("context '\(contextName)' names user '\(context.user)', which is not defined")
        }
        _ = try ServerURL(parsing: cluster.server)
        let ca: PEMSource? = cluster.certificateAuthorityData.map { .data($0) } ?? cluster.certificateAuthority.map { .file($0) }
        let cert: PEMSource? = user.clientCertificateData.map { .data($0) } ?? user.clientCertificate.map { .file($0) }
        let key: PEMSource? = user.clientKeyData.map { .data($0) } ?? user.clientKey.map { .file($0) }
        if (cert == nil) != (key == nil) {
            throw .configuration("user '\(context.user)' has a client certificate without a key, or a key without one")
        }
        return KubeClientConfiguration(
            server: cluster.server, certificateAuthority: ca, insecureSkipTLSVerify: cluster.insecureSkipTLSVerify,
            tlsServerName: cluster.tlsServerName, clientCertificate: cert, clientKey: key, token: user.token,
            tokenFile: user.tokenFile, namespace: context.namespace)
    }

    // MARK: YAML helpers

    /// `- name: x\n  <inner>: {...}` entries of a top-level list.
    private static func namedEntries(_ root: Node, _ key: String, inner: String) throws(KubeError) -> [(String, Node)] {
        guard let list = root[key] else { return [] }
        if case .scalar = list, list.null != nil { return [] }
        guard let sequence = list.sequence else { throw .configuration("kubeconfig '\(key)' is not a list") }
        var entries: [(String, Node)] = []
        for item in sequence {
            guard let name = item["name"]?.string else { throw .configuration("an entry of '\(key)' has no name") }
            guard let body = item[inner], body.mapping != nil else {
                throw .configuration("\(inner) '\(name)' has no '\(inner)' mapping")
            }
            entries.append((name, body))
        }
        return entries
    }

    private static func data(_ node: Node, _ key: String, in what: String) throws(KubeError) -> [UInt8]? {
        guard let text = node[key]?.string, !text.isEmpty else { return nil }
        guard let bytes = Base64.decode(text) else { throw .configuration("\(what): \(key) is not base64") }
        return bytes
    }
}
