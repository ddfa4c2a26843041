// An OPC UA client over `opc.tcp://`: one TCP connection, one secure channel (SecurityPolicy None, its token renewed
// before it expires), one session, requests matched to responses by request id, and subscriptions whose Publish loop
// republishes what a lost response carried. The socket is read by a thread of its own; everything else is async.

import Dispatch
import Foundation
import FDStream
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A failed service call or a broken connection, with the status the server gave when it gave one.
public struct UAError: Error, Sendable, CustomStringConvertible {
    public var status: UInt32?
    public var message: String
    /// The connection is unusable (closed, timed out, malformed data): reconnect.
    public var isLinkFailure: Bool

    public init(status: UInt32? = nil, _ message: String, link: Bool) {
        self.status = status
        self.message = message
        self.isLinkFailure = link
    }

    public var description: String {
        status.map { "\(UAStatus.name($0)): \(message)" } ?? message
    }
}

public struct UAClientSettings: Sendable {
    public var identity: UAIdentity
    public var requestTimeout: Duration
    public var sessionTimeout: Duration
    public var channelLifetime: Duration
    /// A signed (and encrypted) channel: the policy URI, the mode, and how to make the policy's primitives once the
    /// server's certificate is known (from GetEndpoints on an unsecured channel). nil: SecurityPolicy None.
    public var security: UASecuritySettings?

    public init(identity: UAIdentity = .anonymous, requestTimeout: Duration = .seconds(5),
                sessionTimeout: Duration = .seconds(120), channelLifetime: Duration = .seconds(600),
                security: UASecuritySettings? = nil) {
        self.identity = identity
        self.requestTimeout = requestTimeout
        self.sessionTimeout = sessionTimeout
        self.channelLifetime = channelLifetime
        self.security = security
    }
}

public struct UASecuritySettings: Sendable {
    public var policyURI: String
    public var mode: UASecurityMode
    public var makeCrypto: @Sendable (_ serverCertificate: [UInt8]) throws -> any UACrypto

    public init(policyURI: String, mode: UASecurityMode,
                makeCrypto: @escaping @Sendable (_ serverCertificate: [UInt8]) throws -> any UACrypto) {
        self.policyURI = policyURI
        self.mode = mode
        self.makeCrypto = makeCrypto
    }
}

/// A secured channel's primitives and keys, by token (the server may use the previous token until it sees ours).
struct ChannelSecurity: Sendable {
    let crypto: any UACrypto
    let mode: UASecurityMode
    var clientNonce: [UInt8] = []
    var keys: [UInt32: (client: UASymmetricKeys, server: UASymmetricKeys)] = [:]
}

/// Where an `opc.tcp://host:port/path` URL points.
public struct UAEndpointURL: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var text: String

    public init?(_ text: String) {
        guard text.hasPrefix("opc.tcp://") else { return nil }
        let rest = text.dropFirst("opc.tcp://".count)
        let authority = rest.prefix { $0 != "/" }
        var host = String(authority)
        var port = 4840
        if authority.hasPrefix("[") {  // IPv6 literal
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") { guard let p = Int(after.dropFirst()) else { return nil }; port = p }
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            guard let p = Int(authority[authority.index(after: colon)...]) else { return nil }
            port = p
        }
        guard !host.isEmpty, (1...65535).contains(port) else { return nil }
        self.host = host
        self.port = port
        self.text = text
    }
}

public final class UAClient: Sendable {
    public let endpoint: UAEndpointURL
    public let settings: UAClientSettings

    private struct State {
        var stream: FDStream?
        var splitter = UAChunkSplitter(maxChunkSize: 65_536)
        var handshake: CheckedContinuation<UAChunk, any Error>?
        var pending: [UInt32: CheckedContinuation<[UInt8], any Error>] = [:]
        var partial: [UInt32: [UInt8]] = [:]
        var nextRequestID: UInt32 = 1
        var nextSequence: UInt32 = 1
        var channelID: UInt32 = 0
        var tokenID: UInt32 = 0
        var authenticationToken = UANodeId.null
        var sendChunkBody = 65_536 - 64
        var failure: UAError?
        var tasks: [Task<Void, Never>] = []
        var onFailure: (@Sendable (UAError) -> Void)?
        var security: ChannelSecurity?
    }

    private let state = Mutex(State())
    static let maxMessageSize = 16 << 20

    public init(endpoint: UAEndpointURL, settings: UAClientSettings = UAClientSettings()) {
        self.endpoint = endpoint
        self.settings = settings
    }

    /// Called once when the connection breaks after `connect` succeeded (not for `close`).
    public func onFailure(_ handler: @escaping @Sendable (UAError) -> Void) {
        state.withLock { $0.onFailure = handler }
    }

    // MARK: Connect and close

    /// TCP, Hello/Acknowledge, OpenSecureChannel, CreateSession and ActivateSession. With a security policy, the
    /// server's certificate is first fetched with GetEndpoints over an unsecured channel.
    public func connect() async throws {
        if let security = settings.security {
            let endpoints = try await Self.endpoints(of: endpoint, timeout: settings.requestTimeout)
            guard let match = endpoints.first(where: {
                $0.securityPolicyURI == security.policyURI && $0.securityMode == security.mode.rawValue
            }), let certificate = match.serverCertificate, !certificate.isEmpty else {
                let offered = endpoints.map { "\($0.securityPolicyURI.split(separator: "#").last ?? "?")/\($0.securityMode)" }
                throw UAError(status: 0x8055_0000, "the server offers no endpoint with \(security.policyURI) mode \(security.mode) (offered: \(offered.joined(separator: ", ")))", link: false)
            }
            let crypto: any UACrypto
            do {
                crypto = try security.makeCrypto(certificate)
            } catch {
                throw UAError(status: 0x8013_0000, "cannot use the server's certificate: \(error)", link: false)
            }
            state.withLock { $0.security = ChannelSecurity(crypto: crypto, mode: security.mode) }
        }
        try await connectSecured()
    }

    /// The endpoints a server announces (GetEndpoints on an unsecured channel, no session).
    public static func endpoints(of endpoint: UAEndpointURL, timeout: Duration) async throws -> [UAEndpoint] {
        let discovery = UAClient(endpoint: endpoint, settings: UAClientSettings(requestTimeout: timeout))
        do {
            try await discovery.openTransport()
            let endpoints = try await discovery.call(UAEncodingID.getEndpointsResponse) { header in
                UARequest.getEndpoints(header, endpointURL: endpoint.text)
            } decode: { (r) throws(UADecodingError) in try UAResponseBody.getEndpoints(&r) }
            await discovery.close()
            return endpoints
        } catch {
            await discovery.close()
            throw Self.uaError(error)
        }
    }

    private func connectSecured() async throws {
        do {
            try await openTransport()
            try await activateSession()
        } catch {
            await close()
            throw Self.uaError(error)
        }
        let renewal = Task { [weak self] in
            guard let self else { return }
            await self.renewChannel()
        }
        state.withLock { $0.tasks.append(renewal) }
    }

    /// TCP, Hello/Acknowledge and OpenSecureChannel.
    func openTransport() async throws {
        let timeout = settings.requestTimeout
        let stream: FDStream
        do {
            stream = try await FDStream.connectTCP(host: endpoint.host, port: endpoint.port, timeout: timeout)
        } catch {
            throw UAError("\(error)", link: true)
        }
        state.withLock { $0.stream = stream }
        stream.startReading(onBytes: { [weak self] bytes in self?.received(bytes) },
                            onClose: { [weak self] reason in self?.fail(UAError(reason, link: true), link: true) })
        do {
            try stream.send(UAHello(endpointURL: endpoint.text).chunk.bytes)
            let reply = try await withTimeout(timeout, "Hello", expire: { [weak self] error in
                self?.state.withLock { s -> CheckedContinuation<UAChunk, any Error>? in
                    defer { s.handshake = nil }
                    return s.handshake
                }?.resume(throwing: error)
            }) {
                try await withCheckedThrowingContinuation { (c: CheckedContinuation<UAChunk, any Error>) in
                    let failed = self.state.withLock { s -> UAError? in
                        if let failure = s.failure { return failure }
                        s.handshake = c
                        return nil
                    }
                    if let failed { c.resume(throwing: failed) }
                }
            }
            if reply.messageType == "ERR" { throw UAError(status: (try? UATransportError(reply.body))?.status, "server refused Hello: \((try? UATransportError(reply.body))?.reason ?? "")", link: true) }
            guard reply.messageType == "ACK" else { throw UAError("expected ACK, got \(reply.messageType)", link: true) }
            let ack = try UAAcknowledge(reply.body)
            state.withLock { s in
                s.sendChunkBody = max(1024, Int(min(ack.receiveBufferSize, 65_536))) - 64
            }
            try await openChannel(renew: false)
        }
    }

    /// CreateSession and ActivateSession (signed, with the password encrypted for the server, on a secured channel).
    private func activateSession() async throws {
        let security = state.withLock { $0.security }
        let crypto = security?.crypto
        let clientNonce = crypto?.random(32) ?? [UInt8](repeating: 0, count: 32)
        let session = try await call(UAEncodingID.createSessionResponse) { header in
            UARequest.createSession(header, endpointURL: self.endpoint.text, sessionName: "mapper-opcua",
                                    timeoutMs: Double(self.settings.sessionTimeout.components.seconds * 1000),
                                    nonce: clientNonce, certificate: crypto?.clientCertificate)
        } decode: { (r) throws(UADecodingError) in try UAResponseBody.createSession(&r) }
        state.withLock { $0.authenticationToken = session.authenticationToken }
        let policy = try Self.tokenPolicy(for: settings.identity, in: session.endpoints,
                                          channelPolicy: settings.security?.policyURI)
        var signature: (String, [UInt8])?
        var password: (bytes: [UInt8], algorithm: String?)?
        if let crypto {
            do {
                signature = (crypto.asymmetricSignatureURI,
                             try crypto.asymmetricSign(session.serverCertificate + session.serverNonce))
                if case .userName(_, let clear) = settings.identity {
                    // The token policy's own policy, or the channel's when it names none.
                    let tokenPolicy = policy.securityPolicyURI.flatMap { $0.isEmpty ? nil : $0 } ?? crypto.policyURI
                    if tokenPolicy != UASecureConversation.securityPolicyNone {
                        var plain = UAWriter()
                        let secret = Array(clear.utf8) + session.serverNonce
                        plain.uint32(UInt32(secret.count))
                        plain.append(secret)
                        password = (try crypto.asymmetricEncrypt(plain.bytes), crypto.asymmetricEncryptionURI)
                    }
                }
            } catch {
                throw UAError(status: 0x8013_0000, "cannot sign the session: \(error)", link: false)
            }
        }
        let (sig, pw) = (signature, password)
        _ = try await call(UAEncodingID.activateSessionResponse) { header in
            UARequest.activateSession(header, identity: self.settings.identity, policyID: policy.policyID,
                                      signature: sig, password: pw)
        } decode: { (_) throws(UADecodingError) in () }
    }

    /// The user token policy the server announced for this kind of identity on an endpoint of the channel's policy.
    static func tokenPolicy(for identity: UAIdentity, in endpoints: [UAEndpoint], channelPolicy: String?) throws
        -> UAUserTokenPolicy
    {
        let policy = channelPolicy ?? UASecureConversation.securityPolicyNone
        let matching = endpoints.filter { $0.securityPolicyURI == policy }
        for endpoint in matching.isEmpty ? endpoints : matching {
            if let token = endpoint.userTokens.first(where: { $0.tokenType == identity.tokenType }) {
                return token
            }
        }
        if endpoints.isEmpty {
            return UAUserTokenPolicy(policyID: identity == .anonymous ? "anonymous" : "username",
                                     tokenType: identity.tokenType, securityPolicyURI: nil)
        }
        throw UAError(status: 0x8021_0000, "the server offers no \(identity == .anonymous ? "anonymous" : "user-name") login on a \(policy.split(separator: "#").last ?? "") endpoint", link: false)
    }

    /// Closes the session and the channel (best effort), then the socket.
    public func close() async {
        let (stream, tasks, open) = state.withLock { s -> (FDStream?, [Task<Void, Never>], Bool) in
            defer { s.tasks = []; s.onFailure = nil }
            return (s.stream, s.tasks, s.failure == nil && s.channelID != 0)
        }
        for task in tasks { task.cancel() }
        if open {
            _ = try? await call(UAEncodingID.closeSessionResponse, timeout: .seconds(1)) { header in
                UARequest.closeSession(header)
            } decode: { (_) throws(UADecodingError) in () }
            if let stream {
                state.withLock { s in
                    let id = s.nextRequestID
                    s.nextRequestID &+= 1
                    let header = UARequestHeader(authenticationToken: s.authenticationToken, requestHandle: id, timeoutHint: 1000)
                    let chunks = (try? Self.chunks(&s, messageType: "CLO", requestID: id,
                                                   payload: UARequest.closeSecureChannel(header))) ?? []
                    for chunk in chunks { try? stream.send(chunk.bytes) }
                }
            }
        }
        fail(UAError("connection closed", link: true), link: true, notify: false)
        stream?.close()
    }

    // MARK: Secure channel

    private func openChannel(renew: Bool) async throws {
        let lifetime = UInt32(settings.channelLifetime.components.seconds * 1000)
        let (mode, nonce) = state.withLock { s -> (UASecurityMode, [UInt8]) in
            guard var security = s.security else { return (.none, []) }
            security.clientNonce = security.crypto.random(32)
            s.security = security
            return (security.mode, security.clientNonce)
        }
        let token = try await call(UAEncodingID.openSecureChannelResponse, messageType: "OPN") { header in
            UARequest.openSecureChannel(header, renew: renew, lifetimeMs: lifetime, mode: mode, nonce: nonce)
        } decode: { (r) throws(UADecodingError) in try UAResponseBody.openSecureChannel(&r) }
        try state.withLock { s in
            if var security = s.security {
                guard token.serverNonce.count >= 32 else {
                    throw UAError(status: 0x8013_0000, "the server's nonce is \(token.serverNonce.count) bytes", link: true)
                }
                let client = UASymmetricKeys.derive(security.crypto, secret: token.serverNonce, seed: security.clientNonce)
                let server = UASymmetricKeys.derive(security.crypto, secret: security.clientNonce, seed: token.serverNonce)
                security.keys[token.tokenID] = (client, server)
                s.security = security
            }
            s.channelID = token.channelID
            s.tokenID = token.tokenID
        }
        lifetimeMs.withLock { $0 = token.lifetimeMs }
    }

    private let lifetimeMs = Mutex<UInt32>(600_000)

    /// Renews the channel token at three quarters of its lifetime, as the spec asks.
    private func renewChannel() async {
        while !Task.isCancelled {
            let lifetime = Double(lifetimeMs.withLock { $0 })
            try? await Task.sleep(for: .milliseconds(max(1000, lifetime * 0.75)))
            if Task.isCancelled { return }
            do {
                try await openChannel(renew: true)
            } catch {
                fail(Self.uaError(error), link: true)
                return
            }
        }
    }

    // MARK: Services

    public func read(_ nodes: [UANodeId], attribute: UInt32 = 13) async throws -> [UADataValue] {
        let values = try await call(UAEncodingID.readResponse) { header in
            UARequest.read(header, nodes: nodes, attribute: attribute)
        } decode: { (r) throws(UADecodingError) in try UAResponseBody.read(&r) }
        guard values.count == nodes.count else { throw UAError("read answered \(values.count) of \(nodes.count) values", link: true) }
        return values
    }

    /// Writes a node's Value; the write's status code (Good or the server's refusal).
    public func write(_ node: UANodeId, value: UAVariant) async throws -> UInt32 {
        let results = try await call(UAEncodingID.writeResponse) { header in
            UARequest.write(header, node: node, value: value)
        } decode: { (r) throws(UADecodingError) in try UAResponseBody.statusCodes(&r) }
        return results.first ?? 0x8001_0000
    }

    /// The node a browse path of qualified names leads to from `start` (Objects by default).
    public func resolve(path: [UAQualifiedName], from start: UANodeId = .numeric(85)) async throws -> UANodeId {
        let results = try await call(UAEncodingID.translateBrowsePathsResponse) { header in
            UARequest.translateBrowsePath(header, start: start, names: path)
        } decode: { (r) throws(UADecodingError) in try UAResponseBody.translateBrowsePaths(&r) }
        guard let (status, target) = results.first else { throw UAError("no browse path result", link: false) }
        guard UAStatus.isGood(status), let target else {
            throw UAError(status: status, "browse path \(path.map(\.description).joined(separator: "/")) not found", link: false)
        }
        return target
    }

    /// The index of a namespace URI in the server's NamespaceArray.
    public func namespaceIndex(_ uri: String) async throws -> UInt16 {
        let value = try await read([.numeric(2255)]).first
        guard case .array(_, let names, _)? = value?.value,
              let index = names.firstIndex(where: { $0 == .string(uri) }) else {
            throw UAError(status: 0x8034_0000, "namespace \(uri) is not on the server", link: false)
        }
        return UInt16(index)
    }

    // MARK: Subscriptions

    /// A subscription whose data changes go to `deliver` (client handle, value) in order; its Publish loop runs
    /// until the client closes or the link fails. Returns the status of each monitored item.
    public func subscribe(items: [(handle: UInt32, node: UANodeId)], publishingInterval: Duration,
                          deliver: @escaping @Sendable ([(handle: UInt32, value: UADataValue)]) async -> Void)
        async throws -> [UInt32]
    {
        let intervalMs = Double(publishingInterval.components.seconds) * 1000
            + Double(publishingInterval.components.attoseconds) / 1e15
        let subscription = try await call(UAEncodingID.createSubscriptionResponse) { header in
            UARequest.createSubscription(header, publishingIntervalMs: intervalMs)
        } decode: { (r) throws(UADecodingError) in try UAResponseBody.createSubscription(&r) }
        let statuses = try await call(UAEncodingID.createMonitoredItemsResponse) { header in
            UARequest.createMonitoredItems(header, subscriptionID: subscription.id, items: items, samplingMs: intervalMs / 2)
        } decode: { (r) throws(UADecodingError) in try UAResponseBody.createMonitoredItems(&r) }
        let loop = Task { [weak self] in
            guard let self else { return }
            await self.publishLoop(subscription, deliver: deliver)
        }
        state.withLock { $0.tasks.append(loop) }
        return statuses
    }

    private func publishLoop(_ subscription: UAResponseBody.Subscription,
                             deliver: @escaping @Sendable ([(handle: UInt32, value: UADataValue)]) async -> Void) async {
        var acknowledge: [(subscription: UInt32, sequence: UInt32)] = []
        var lastSequence: UInt32?
        // A Publish waits up to a keep-alive period (10 intervals) for something to say.
        let wait = Duration.milliseconds(Int64(max(5000, subscription.publishingIntervalMs * 10 * 2)))
        while !Task.isCancelled {
            do {
                let pending = acknowledge
                let notification = try await call(UAEncodingID.publishResponse, timeout: wait) { header in
                    UARequest.publish(header, acknowledge: pending)
                } decode: { (r) throws(UADecodingError) in try UAResponseBody.publish(&r) }
                acknowledge = []
                // Keep-alives carry the next sequence number and no data; a gap means a response was lost.
                if !notification.changes.isEmpty {
                    if let last = lastSequence, notification.sequenceNumber > last &+ 1 {
                        for missing in (last &+ 1)..<notification.sequenceNumber {
                            if let lost = try? await republish(subscription.id, sequence: missing) {
                                await deliver(lost.changes)
                                acknowledge.append((subscription.id, missing))
                            }
                        }
                    }
                    lastSequence = notification.sequenceNumber
                    await deliver(notification.changes)
                    acknowledge.append((notification.subscriptionID, notification.sequenceNumber))
                }
            } catch {
                if Task.isCancelled { return }
                let failure = Self.uaError(error)
                // A Publish that timed out on a quiet subscription is not a broken link: the next one asks again,
                // unless the connection itself failed.
                if state.withLock({ $0.failure }) != nil { return }
                if failure.status == 0x800A_0000 { continue }
                fail(UAError(status: failure.status, "subscription \(subscription.id): \(failure.message)", link: true), link: true)
                return
            }
        }
    }

    private func republish(_ subscription: UInt32, sequence: UInt32) async throws -> UAResponseBody.Notification {
        try await call(UAEncodingID.republishResponse) { header in
            UARequest.republish(header, subscriptionID: subscription, sequence: sequence)
        } decode: { (r) throws(UADecodingError) in
            try UAResponseBody.notificationMessage(&r, subscription: subscription, available: [])
        }
    }

    // MARK: Requests

    /// Sends one request and decodes its response of type `expected` (a ServiceFault or a bad service result
    /// throws the server's status).
    func call<T: Sendable>(
        _ expected: UInt32, messageType: String = "MSG", timeout: Duration? = nil,
        _ build: @escaping @Sendable (UARequestHeader) -> [UInt8],
        decode: @escaping @Sendable (inout UAReader) throws(UADecodingError) -> T
    ) async throws -> T {
        let timeout = timeout ?? settings.requestTimeout
        let id = state.withLock { s -> UInt32 in
            defer { s.nextRequestID &+= 1 }
            return s.nextRequestID
        }
        // On timeout the waiting request is resumed with the error (a late answer is then dropped).
        let payload = try await withTimeout(timeout, "request", expire: { [weak self] error in
            self?.state.withLock { $0.pending.removeValue(forKey: id) }?.resume(throwing: error)
        }) {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[UInt8], any Error>) in
                // Sequence numbers must reach the server in order: they are assigned and sent under one lock.
                let outcome = self.state.withLock { s -> SendOutcome in
                    if let failure = s.failure { return .refused(failure) }
                    guard let stream = s.stream else { return .refused(UAError("not connected", link: true)) }
                    let hint = UInt32(min(Int64(UInt32.max), timeout.components.seconds * 1000))
                    let header = UARequestHeader(authenticationToken: s.authenticationToken, requestHandle: id,
                                                 timeoutHint: hint)
                    let chunks: [UAChunk]
                    do {
                        chunks = try Self.chunks(&s, messageType: messageType, requestID: id, payload: build(header))
                    } catch {
                        return .refused(UAError("cannot secure the request: \(error)", link: true))
                    }
                    s.pending[id] = continuation
                    do {
                        for chunk in chunks { try stream.send(chunk.bytes) }
                    } catch {
                        return .broken(Self.uaError(error))
                    }
                    return .sent
                }
                switch outcome {
                case .sent: break
                case .refused(let error): continuation.resume(throwing: error)  // never registered
                case .broken(let error): self.fail(error, link: true)  // resumes it with the others
                }
            }
        }
        let response: UAResponse
        do {
            response = try UAResponse.decode(payload)
        } catch {
            throw UAError("malformed response: \(error)", link: true)
        }
        if response.typeID == UAEncodingID.serviceFault || !UAStatus.isGood(response.serviceResult) {
            let status = response.serviceResult
            // Session and channel faults mean the connection must be rebuilt.
            let link = [0x8025_0000, 0x8026_0000, 0x8027_0000, 0x8022_0000, 0x8086_0000].contains(status & 0xFFFF_0000)
            throw UAError(status: status, "service call refused", link: link)
        }
        guard response.typeID == expected else {
            throw UAError("expected response \(expected), got \(response.typeID)", link: true)
        }
        var reader = response.reader
        do {
            return try decode(&reader)
        } catch {
            throw UAError("malformed response \(expected): \(error)", link: true)
        }
    }

    /// Runs `body` (which waits on a continuation) for at most `timeout`; then `expire` must resume that
    /// continuation with the given error, since a continuation does not end with its task's cancellation.
    private func withTimeout<T: Sendable>(_ timeout: Duration, _ what: String,
                                          expire: @escaping @Sendable (UAError) -> Void,
                                          _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            let first = try await group.next()
            if let first, let value = first {
                group.cancelAll()
                return value
            }
            let error = UAError(status: 0x800A_0000, "\(what) timed out after \(timeout)", link: true)
            expire(error)
            group.cancelAll()
            while (try? await group.next()) != nil {}
            throw error
        }
    }

    /// The chunks of one outgoing message, plain or secured, with their sequence numbers taken.
    private static func chunks(_ s: inout State, messageType: String, requestID: UInt32, payload: [UInt8]) throws
        -> [UAChunk]
    {
        guard let security = s.security, security.mode != .none else {
            let chunks = UASecureConversation.chunks(
                messageType: messageType, channelID: s.channelID, tokenID: s.tokenID, firstSequence: s.nextSequence,
                requestID: requestID, payload: payload, maxBodySize: s.sendChunkBody)
            s.nextSequence &+= UInt32(chunks.count)
            return chunks
        }
        if messageType == "OPN" {
            let chunk = try UASecuredChunks.openChunk(security.crypto, channelID: s.channelID, sequence: s.nextSequence,
                                                       requestID: requestID, payload: payload)
            s.nextSequence &+= 1
            return [chunk]
        }
        guard let keys = security.keys[s.tokenID] else { throw UASecurityError("no keys for token \(s.tokenID)") }
        // Room for the headers, the signature and a block of padding in each chunk.
        let maxBody = max(256, s.sendChunkBody - 128)
        var chunks: [UAChunk] = []
        var offset = 0
        repeat {
            let end = min(payload.count, offset + maxBody)
            let final = end >= payload.count
            chunks.append(try UASecuredChunks.symmetricChunk(
                security.crypto, mode: security.mode, keys: keys.client, messageType: messageType,
                chunkType: UInt8(ascii: final ? "F" : "C"), channelID: s.channelID, tokenID: s.tokenID,
                sequence: s.nextSequence, requestID: requestID, payload: Array(payload[offset..<end])))
            s.nextSequence &+= 1
            offset = end
        } while offset < payload.count
        return chunks
    }

    static func uaError(_ error: any Error) -> UAError {
        if let error = error as? UAError { return error }
        if let error = error as? UATransportError { return UAError(status: error.status, error.reason, link: true) }
        return UAError("\(error)", link: true)
    }

    // MARK: Receiving (the reader thread)

    private func received(_ bytes: [UInt8]) {
        var delivered: [(CheckedContinuation<[UInt8], any Error>, Result<[UInt8], UAError>)] = []
        var handshake: (CheckedContinuation<UAChunk, any Error>, UAChunk)?
        var broken: UAError?
        state.withLock { s in
            s.splitter.append(bytes)
            while true {
                let chunk: UAChunk
                do {
                    guard let next = try s.splitter.next() else { break }
                    chunk = next
                } catch {
                    broken = UAError("bad data from the server: \(error)", link: true)
                    break
                }
                switch chunk.messageType {
                case "ACK", "ERR":
                    if let waiting = s.handshake {
                        s.handshake = nil
                        handshake = (waiting, chunk)
                    } else if chunk.messageType == "ERR" {
                        let error = (try? UATransportError(chunk.body)) ?? UATransportError(status: 0x8005_0000, reason: "")
                        broken = UAError(status: error.status, "server closed the channel: \(error.reason)", link: true)
                    }
                case "OPN", "MSG", "CLO":
                    do {
                        let part = try Self.open(chunk, security: s.security)
                        if chunk.chunkType == UInt8(ascii: "A") {
                            var r = UAReader(part.payload)
                            let status = (try? r.uint32()) ?? 0x8001_0000
                            if let waiting = s.pending.removeValue(forKey: part.requestID) {
                                delivered.append((waiting, .failure(UAError(status: status, "server aborted the message", link: false))))
                            }
                            s.partial[part.requestID] = nil
                            continue
                        }
                        var assembled = s.partial[part.requestID] ?? []
                        assembled.append(contentsOf: part.payload)
                        guard assembled.count <= Self.maxMessageSize else {
                            broken = UAError(status: 0x8080_0000, "response larger than \(Self.maxMessageSize) bytes", link: true)
                            break
                        }
                        if chunk.chunkType == UInt8(ascii: "C") {
                            s.partial[part.requestID] = assembled
                            continue
                        }
                        s.partial[part.requestID] = nil
                        if let waiting = s.pending.removeValue(forKey: part.requestID) {
                            delivered.append((waiting, .success(assembled)))
                        }
                    } catch {
                        broken = UAError("bad message from the server: \(error)", link: true)
                    }
                default:
                    broken = UAError("unexpected \(chunk.messageType) from the server", link: true)
                }
                if broken != nil { break }
            }
        }
        if let (continuation, chunk) = handshake { continuation.resume(returning: chunk) }
        for (continuation, result) in delivered { continuation.resume(with: result.mapError { $0 as any Error }) }
        if let broken { fail(broken, link: true) }
    }

    /// A received chunk's headers and payload, checked and decrypted on a secured channel.
    private static func open(_ chunk: UAChunk, security: ChannelSecurity?) throws -> UASecureConversation.Received {
        guard let security, security.mode != .none else { return try UASecureConversation.open(chunk) }
        if chunk.messageType == "OPN" { return try UASecuredChunks.openReceived(security.crypto, chunk) }
        var r = UAReader(chunk.body)
        _ = try r.uint32()
        let token = try r.uint32()
        guard let keys = security.keys[token] else { throw UASecurityError("message for unknown token \(token)") }
        return try UASecuredChunks.symmetricReceived(security.crypto, mode: security.mode, keys: keys.server, chunk)
    }

    /// Fails everything waiting and remembers the failure; tells the owner once (unless it is closing).
    private func fail(_ error: UAError, link: Bool, notify: Bool = true) {
        let (waiting, handshake, handler, stream, first) = state.withLock { s in
            let first = s.failure == nil
            if first { s.failure = error }
            let waiting = Array(s.pending.values)
            s.pending = [:]
            let handshake = s.handshake
            s.handshake = nil
            let handler = first && notify ? s.onFailure : nil
            return (waiting, handshake, handler, s.stream, first)
        }
        for continuation in waiting { continuation.resume(throwing: error) }
        handshake?.resume(throwing: error)
        if first { stream?.close() }
        handler?(error)
    }
}

/// What became of a request: sent, refused before it was registered, or registered but the send failed.
private enum SendOutcome {
    case sent
    case refused(UAError)
    case broken(UAError)
}
