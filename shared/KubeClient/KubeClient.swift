import EdgeProtocol
import Logging

/// A Kubernetes API client over libcurl: CRUD on any resource, lists with paging, watches as async streams, and
/// ``ListWatch`` (list, then watch, resuming and relisting as needed).
///
/// Every request runs on a thread of its own (never on Swift's cooperative pool) and is bounded by
/// `requestTimeout`; cancelling the calling task aborts it. Bodies and results are `JSONValue`s; ``request(_:_:query:body:contentType:timeout:)``
/// works with raw bytes. API errors are thrown as ``KubeError`` with the server's decoded `Status`.
public final class KubeClient: Sendable {
    public let configuration: KubeClientConfiguration
    public let logger: Logger
    private let settings: ConnectionSettings
    private let pool: HandlePool

    public init(_ configuration: KubeClientConfiguration, logger: Logger = Logger(label: "kubeclient"))
        throws(KubeError)
    {
        self.configuration = configuration
        self.logger = logger
        let server = try ServerURL(parsing: configuration.server)
        var baseURL = server.base()
        var connectTo: String?
        var hostHeader: String?
        if server.scheme == "https", let name = configuration.tlsServerName, !name.isEmpty, name != server.host {
            // Connect to the server's address but speak TLS (SNI, certificate check) to `name`.
            baseURL = server.base(replacingHost: name)
            let port = server.effectivePort
            connectTo = "\(ServerURL.authorityHost(name)):\(port):\(ServerURL.authorityHost(server.host)):\(port)"
            hostHeader = ServerURL.authorityHost(server.host) + (server.port.map { ":\($0)" } ?? "")
        }
        if (configuration.clientCertificate == nil) != (configuration.clientKey == nil) {
            throw .configuration("a client certificate needs its key, and a key its certificate")
        }
        settings = ConnectionSettings(
            baseURL: baseURL, connectTo: connectTo, hostHeader: hostHeader,
            certificateAuthority: configuration.certificateAuthority, insecure: configuration.insecureSkipTLSVerify,
            clientCertificate: configuration.clientCertificate, clientKey: configuration.clientKey,
            token: configuration.token,
            tokenFile: configuration.tokenFile.map { TokenFile(path: $0, refresh: configuration.tokenRefreshInterval) },
            connectTimeoutMs: Self.milliseconds(configuration.connectTimeout),
            userAgent: configuration.userAgent)
        pool = HandlePool(maxIdle: configuration.maxIdleConnections)
    }

    /// A client for a kubeconfig's context (default: its current context).
    public convenience init(kubeconfig: Kubeconfig, context: String? = nil,
                            logger: Logger = Logger(label: "kubeclient")) throws(KubeError) {
        try self.init(kubeconfig.configuration(context: context), logger: logger)
    }

    static func milliseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        return max(1, Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000))
    }

    // MARK: Raw requests

    /// Sends one request; returns the answer when its status is 2xx, throws ``KubeError`` (with the decoded
    /// `Status`) otherwise. `path` starts with `/` (e.g. from ``GroupVersionResource/path(namespace:name:subresource:)``).
    public func request(
        _ method: HTTPMethod, _ path: String, query: [(String, String)] = [], body: [UInt8]? = nil,
        contentType: String? = nil, timeout: Duration? = nil
    ) async throws -> KubeResponse {
        var headers = ["Accept: application/json"]
        if body != nil { headers.append("Content-Type: \(contentType ?? "application/json")") }
        let target = query.isEmpty ? path : path + "?" + PercentEncoding.query(query)
        let request = CurlRequest(
            method: method, target: target, headers: headers, body: body,
            timeoutMs: Self.milliseconds(timeout ?? configuration.requestTimeout), settings: settings)
        let response = try await perform(request)
        guard (200..<300).contains(response.status) else {
            throw KubeError.status(KubeStatus(httpCode: response.status, body: response.body))
        }
        return response
    }

    /// ``request(_:_:query:body:contentType:timeout:)`` with JSON in and out.
    public func requestJSON(
        _ method: HTTPMethod, _ path: String, query: [(String, String)] = [], body: JSONValue? = nil,
        contentType: String? = nil
    ) async throws -> JSONValue {
        let bytes = try body.map(Self.encode)
        let response = try await request(method, path, query: query, body: bytes, contentType: contentType)
        return try Self.decode(response.body)
    }

    private func perform(_ request: CurlRequest) async throws -> KubeResponse {
        let handle = try pool.take()
        let sink = CollectSink(limit: configuration.maxResponseBytes)
        let transfer = Transfer(handle: handle, pool: pool, request: request, sink: sink)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<KubeResponse, any Error>) in
                sink.setContinuation(continuation)
                transfer.start()
            }
        } onCancel: {
            transfer.cancel()
        }
    }

    static func encode(_ value: JSONValue) throws(KubeError) -> [UInt8] {
        do {
            return try value.serialized()
        } catch {
            throw .invalidRequest("body is not valid JSON: \(error)")
        }
    }

    static func decode(_ bytes: [UInt8]) throws(KubeError) -> JSONValue {
        do {
            return try JSONValue(parsing: bytes)
        } catch {
            throw .invalidResponse("not JSON: \(error)")
        }
    }

    // MARK: CRUD

    public func get(_ resource: GroupVersionResource, namespace: String? = nil, name: String,
                    subresource: String? = nil) async throws -> JSONValue {
        try await requestJSON(.get, resource.path(namespace: namespace, name: name, subresource: subresource))
    }

    /// One page of a list. `limit` and `continueToken` page through big collections (see ``listAll``).
    public func list(
        _ resource: GroupVersionResource, namespace: String? = nil, labelSelector: String? = nil,
        fieldSelector: String? = nil, limit: Int? = nil, continueToken: String? = nil, resourceVersion: String? = nil
    ) async throws -> ObjectList {
        var query: [(String, String)] = []
        if let labelSelector, !labelSelector.isEmpty { query.append(("labelSelector", labelSelector)) }
        if let fieldSelector, !fieldSelector.isEmpty { query.append(("fieldSelector", fieldSelector)) }
        if let limit, limit > 0 { query.append(("limit", String(limit))) }
        if let continueToken, !continueToken.isEmpty { query.append(("continue", continueToken)) }
        if let resourceVersion { query.append(("resourceVersion", resourceVersion)) }
        let value = try await requestJSON(.get, resource.path(namespace: namespace), query: query)
        return try ObjectList(value)
    }

    /// Every page of a list, `pageSize` objects at a time. When a continue token expires (410) midway, lists once
    /// more without paging, as client-go does.
    public func listAll(
        _ resource: GroupVersionResource, namespace: String? = nil, labelSelector: String? = nil,
        fieldSelector: String? = nil, pageSize: Int = 500
    ) async throws -> ObjectList {
        var result = try await list(resource, namespace: namespace, labelSelector: labelSelector,
                                    fieldSelector: fieldSelector, limit: pageSize)
        while let token = result.continueToken {
            let page: ObjectList
            do {
                page = try await list(resource, namespace: namespace, labelSelector: labelSelector,
                                      fieldSelector: fieldSelector, limit: pageSize, continueToken: token)
            } catch let error as KubeError where error.isGone {
                logger.debug("continue token expired; listing without paging", metadata: ["resource": "\(resource)"])
                return try await list(resource, namespace: namespace, labelSelector: labelSelector,
                                      fieldSelector: fieldSelector)
            }
            result.items += page.items
            result.continueToken = page.continueToken
            result.remainingItemCount = page.remainingItemCount
        }
        return result
    }

    /// POST to the collection. Returns the object as stored.
    public func create(_ resource: GroupVersionResource, namespace: String? = nil, _ object: JSONValue,
                       fieldManager: String? = nil, dryRun: Bool = false) async throws -> JSONValue {
        try await requestJSON(.post, resource.path(namespace: namespace),
                              query: Self.writeQuery(fieldManager: fieldManager, dryRun: dryRun), body: object)
    }

    /// PUT the whole object (named by its `metadata.name`); a stale `metadata.resourceVersion` fails with 409.
    public func update(_ resource: GroupVersionResource, namespace: String? = nil, _ object: JSONValue,
                       fieldManager: String? = nil, dryRun: Bool = false) async throws -> JSONValue {
        try await put(resource, namespace: namespace, object, subresource: nil, fieldManager: fieldManager,
                      dryRun: dryRun)
    }

    /// PUT to the `status` subresource (only the status is taken).
    public func updateStatus(_ resource: GroupVersionResource, namespace: String? = nil, _ object: JSONValue,
                             fieldManager: String? = nil, dryRun: Bool = false) async throws -> JSONValue {
        try await put(resource, namespace: namespace, object, subresource: "status", fieldManager: fieldManager,
                      dryRun: dryRun)
    }

    private func put(_ resource: GroupVersionResource, namespace: String?, _ object: JSONValue, subresource: String?,
                     fieldManager: String?, dryRun: Bool) async throws -> JSONValue {
        guard let name = object.string(at: "metadata.name"), !name.isEmpty else {
            throw KubeError.invalidRequest("object to update has no metadata.name")
        }
        return try await requestJSON(
            .put, resource.path(namespace: namespace, name: name, subresource: subresource),
            query: Self.writeQuery(fieldManager: fieldManager, dryRun: dryRun), body: object)
    }

    /// PATCH an object (or a subresource such as `status`).
    public func patch(
        _ resource: GroupVersionResource, namespace: String? = nil, name: String, _ patch: JSONValue,
        type: PatchType = .merge, subresource: String? = nil, fieldManager: String? = nil, force: Bool = false,
        dryRun: Bool = false
    ) async throws -> JSONValue {
        var query = Self.writeQuery(fieldManager: fieldManager, dryRun: dryRun)
        if type == .apply {
            guard fieldManager != nil else { throw KubeError.invalidRequest("server-side apply needs a fieldManager") }
            if force { query.append(("force", "true")) }
        }
        return try await requestJSON(
            .patch, resource.path(namespace: namespace, name: name, subresource: subresource), query: query,
            body: patch, contentType: type.rawValue)
    }

    /// DELETE an object. Returns what the server answers: the object (when deletion is deferred by finalizers or a
    /// grace period) or a `Status`.
    public func delete(
        _ resource: GroupVersionResource, namespace: String? = nil, name: String, gracePeriodSeconds: Int? = nil,
        preconditions: Preconditions? = nil, propagationPolicy: PropagationPolicy? = nil, dryRun: Bool = false
    ) async throws -> JSONValue {
        var options: [(key: String, value: JSONValue)] = [("kind", "DeleteOptions"), ("apiVersion", "v1")]
        if let gracePeriodSeconds { options.append(("gracePeriodSeconds", .integer(gracePeriodSeconds))) }
        if let preconditions {
            var members: [(key: String, value: JSONValue)] = []
            if let uid = preconditions.uid { members.append(("uid", .string(uid))) }
            if let rv = preconditions.resourceVersion { members.append(("resourceVersion", .string(rv))) }
            options.append(("preconditions", .object(members)))
        }
        if let propagationPolicy { options.append(("propagationPolicy", .string(propagationPolicy.rawValue))) }
        if dryRun { options.append(("dryRun", ["All"])) }
        return try await requestJSON(.delete, resource.path(namespace: namespace, name: name), body: .object(options))
    }

    private static func writeQuery(fieldManager: String?, dryRun: Bool) -> [(String, String)] {
        var query: [(String, String)] = []
        if let fieldManager { query.append(("fieldManager", fieldManager)) }
        if dryRun { query.append(("dryRun", "All")) }
        return query
    }

    // MARK: Watch

    /// Watches a collection (one namespace, or all when `namespace` is nil), from `resourceVersion` (nil or "0":
    /// the current objects as `ADDED` first). The stream ends when the server closes the watch (e.g. after
    /// `timeoutSeconds`), throws ``KubeError/gone(_:)`` when the version is too old, and other errors when the
    /// connection fails. Cancelling the consuming task, or dropping the stream, aborts the transfer.
    ///
    /// At most `bufferSize` events wait for the consumer; past that the transfer pauses (TCP pushes back).
    public func watch(
        _ resource: GroupVersionResource, namespace: String? = nil, resourceVersion: String? = nil,
        allowBookmarks: Bool = true, labelSelector: String? = nil, fieldSelector: String? = nil,
        timeoutSeconds: Int? = nil, bufferSize: Int = 128
    ) -> AsyncThrowingStream<WatchEvent, any Error> {
        let (stream, continuation) = AsyncThrowingStream.makeStream(
            of: WatchEvent.self, throwing: (any Error).self, bufferingPolicy: .bufferingOldest(max(1, bufferSize)))
        var query: [(String, String)] = [("watch", "true")]
        if let resourceVersion, !resourceVersion.isEmpty { query.append(("resourceVersion", resourceVersion)) }
        if allowBookmarks { query.append(("allowWatchBookmarks", "true")) }
        if let labelSelector, !labelSelector.isEmpty { query.append(("labelSelector", labelSelector)) }
        if let fieldSelector, !fieldSelector.isEmpty { query.append(("fieldSelector", fieldSelector)) }
        if let timeoutSeconds { query.append(("timeoutSeconds", String(timeoutSeconds))) }
        let request = CurlRequest(
            method: .get, target: resource.path(namespace: namespace) + "?" + PercentEncoding.query(query),
            headers: ["Accept: application/json"], body: nil,
            // A client-side bound only when the server was given one, with room for it to close the watch itself.
            timeoutMs: timeoutSeconds.map { ($0 + 30) * 1000 }, settings: settings)
        do {
            let handle = try pool.take()
            let sink = WatchSink(continuation: continuation, maxEventBytes: configuration.maxResponseBytes)
            let transfer = Transfer(handle: handle, pool: pool, request: request, sink: sink)
            continuation.onTermination = { termination in
                if case .cancelled = termination { transfer.cancel() }
            }
            transfer.start()
        } catch {
            continuation.finish(throwing: error)
        }
        return stream
    }

    /// List, then watch from the list's version, resuming after dropped connections and relisting after 410.
    public func listWatch(
        _ resource: GroupVersionResource, namespace: String? = nil, options: ListWatch.Options = .init()
    ) -> ListWatch {
        ListWatch(client: self, resource: resource, namespace: namespace, options: options)
    }
}

/// The content types of PATCH.
public enum PatchType: String, Sendable {
    /// RFC 7386 JSON merge patch.
    case merge = "application/merge-patch+json"
    /// RFC 6902 JSON patch (the body is an array of operations).
    case json = "application/json-patch+json"
    /// Kubernetes strategic merge patch (built-in types only).
    case strategicMerge = "application/strategic-merge-patch+json"
    /// Server-side apply (needs a field manager).
    case apply = "application/apply-patch+yaml"
}

/// Delete only if the object still has this uid / resourceVersion (else 409).
public struct Preconditions: Sendable, Hashable {
    public var uid: String?
    public var resourceVersion: String?

    public init(uid: String? = nil, resourceVersion: String? = nil) {
        self.uid = uid
        self.resourceVersion = resourceVersion
    }
}

public enum PropagationPolicy: String, Sendable {
    case orphan = "Orphan", background = "Background", foreground = "Foreground"
}

/// A page of a list: its items and the list's `metadata` (resourceVersion to watch from, continue token).
public struct ObjectList: Sendable {
    public var items: [JSONValue]
    /// The version of the collection this page was read at: watch from here.
    public var resourceVersion: String
    /// Set when there are more pages.
    public var continueToken: String?
    public var remainingItemCount: Int64?

    public init(items: [JSONValue], resourceVersion: String, continueToken: String? = nil,
                remainingItemCount: Int64? = nil) {
        self.items = items
        self.resourceVersion = resourceVersion
        self.continueToken = continueToken
        self.remainingItemCount = remainingItemCount
    }

    /// Reads a `...List` object.
    public init(_ value: JSONValue) throws(KubeError) {
        guard value.isObject else { throw .invalidResponse("list is not an object") }
        let items = value["items"]
        guard items == nil || items == .null || items?.arrayValue != nil else {
            throw .invalidResponse("list items is not an array")
        }
        let token = value.string(at: "metadata.continue")
        self.init(
            items: items?.arrayValue ?? [],
            resourceVersion: value.string(at: "metadata.resourceVersion") ?? "",
            continueToken: token?.isEmpty == false ? token : nil,
            remainingItemCount: value[path: ["metadata", "remainingItemCount"]]?.int64Value)
    }
}
