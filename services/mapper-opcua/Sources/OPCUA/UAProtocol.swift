// OPC UA Connection Protocol and Secure Conversation framing (OPC 10000-6 §7.1, §6.7) and the service messages the
// mapper uses (OPC 10000-4), with SecurityPolicy None. Pure: bytes in, values out.

// MARK: - Framing

/// One chunk: 3-letter message type, chunk type (`F` final, `C` continued, `A` abort) and what follows the 8-byte
/// header.
public struct UAChunk: Sendable, Equatable {
    public var messageType: String
    public var chunkType: UInt8
    public var body: [UInt8]

    public init(messageType: String, chunkType: UInt8 = UInt8(ascii: "F"), body: [UInt8]) {
        self.messageType = messageType
        self.chunkType = chunkType
        self.body = body
    }

    public var bytes: [UInt8] {
        var w = UAWriter()
        w.append(Array(messageType.utf8.prefix(3)))
        w.byte(chunkType)
        w.uint32(UInt32(8 + body.count))
        w.append(body)
        return w.bytes
    }
}

/// Splits a byte stream into chunks. Refuses a chunk larger than `maxChunkSize` (the receive buffer we announced)
/// before buffering it.
public struct UAChunkSplitter: Sendable {
    public var maxChunkSize: Int
    private var buffer: [UInt8] = []

    public init(maxChunkSize: Int) { self.maxChunkSize = maxChunkSize }

    public mutating func append(_ bytes: some Collection<UInt8>) { buffer.append(contentsOf: bytes) }

    /// The next complete chunk, nil when more bytes are needed.
    public mutating func next() throws(UADecodingError) -> UAChunk? {
        guard buffer.count >= 8 else { return nil }
        var r = UAReader(buffer)
        let type = String(decoding: try r.take(3), as: UTF8.self)
        let chunkType = try r.byte()
        let size = Int(try r.uint32())
        guard ["HEL", "ACK", "ERR", "RHE", "OPN", "MSG", "CLO"].contains(type) else {
            throw UADecodingError("unknown message type \(type.debugDescription)")
        }
        guard [UInt8(ascii: "F"), UInt8(ascii: "C"), UInt8(ascii: "A")].contains(chunkType) else {
            throw UADecodingError("unknown chunk type \(chunkType)")
        }
        guard size >= 8, size <= maxChunkSize else {
            throw UADecodingError("chunk of \(size) bytes (limit \(maxChunkSize))")
        }
        guard buffer.count >= size else { return nil }
        let chunk = UAChunk(messageType: type, chunkType: chunkType, body: Array(buffer[8..<size]))
        buffer.removeFirst(size)
        return chunk
    }
}

public struct UAHello: Sendable, Equatable {
    public var receiveBufferSize: UInt32
    public var sendBufferSize: UInt32
    public var maxMessageSize: UInt32
    public var maxChunkCount: UInt32
    public var endpointURL: String

    public init(receiveBufferSize: UInt32 = 65_536, sendBufferSize: UInt32 = 65_536, maxMessageSize: UInt32 = 16 << 20,
                maxChunkCount: UInt32 = 256, endpointURL: String) {
        self.receiveBufferSize = receiveBufferSize
        self.sendBufferSize = sendBufferSize
        self.maxMessageSize = maxMessageSize
        self.maxChunkCount = maxChunkCount
        self.endpointURL = endpointURL
    }

    public var chunk: UAChunk {
        var w = UAWriter()
        w.uint32(0)
        w.uint32(receiveBufferSize)
        w.uint32(sendBufferSize)
        w.uint32(maxMessageSize)
        w.uint32(maxChunkCount)
        w.string(endpointURL)
        return UAChunk(messageType: "HEL", body: w.bytes)
    }
}

public struct UAAcknowledge: Sendable, Equatable {
    public var receiveBufferSize: UInt32
    public var sendBufferSize: UInt32
    public var maxMessageSize: UInt32
    public var maxChunkCount: UInt32

    public init(_ body: [UInt8]) throws(UADecodingError) {
        var r = UAReader(body)
        _ = try r.uint32()
        receiveBufferSize = try r.uint32()
        sendBufferSize = try r.uint32()
        maxMessageSize = try r.uint32()
        maxChunkCount = try r.uint32()
    }
}

/// An ERR message or an aborted chunk: status code and reason.
public struct UATransportError: Error, Sendable, CustomStringConvertible, Equatable {
    public var status: UInt32
    public var reason: String

    public init(status: UInt32, reason: String) {
        self.status = status
        self.reason = reason
    }

    public init(_ body: [UInt8]) throws(UADecodingError) {
        var r = UAReader(body)
        status = try r.uint32()
        reason = try r.string() ?? ""
    }

    public var description: String { "\(UAStatus.name(status)): \(reason)" }
}

/// The secure conversation headers around a service message, SecurityPolicy None.
public enum UASecureConversation {
    public static let securityPolicyNone = "http://opcfoundation.org/UA/SecurityPolicy#None"

    /// The chunks of one message: `OPN` with the asymmetric header, `MSG`/`CLO` with the token id. Bodies larger than
    /// `maxBodySize` are split into `C` chunks and a final `F`, each with its own sequence number.
    public static func chunks(messageType: String, channelID: UInt32, tokenID: UInt32, firstSequence: UInt32,
                              requestID: UInt32, payload: [UInt8], maxBodySize: Int) -> [UAChunk] {
        var chunks: [UAChunk] = []
        var offset = 0
        var sequence = firstSequence
        repeat {
            let count = min(max(1, maxBodySize), payload.count - offset)
            var w = UAWriter()
            w.uint32(channelID)
            if messageType == "OPN" {
                w.string(securityPolicyNone)
                w.byteString(nil)
                w.byteString(nil)
            } else {
                w.uint32(tokenID)
            }
            w.uint32(sequence)
            w.uint32(requestID)
            w.append(Array(payload[offset..<(offset + count)]))
            offset += count
            sequence &+= 1
            let final = offset >= payload.count
            chunks.append(UAChunk(messageType: messageType, chunkType: UInt8(ascii: final ? "F" : "C"), body: w.bytes))
        } while offset < payload.count
        return chunks
    }

    /// The headers of a received chunk and its part of the payload.
    public struct Received: Sendable {
        public var channelID: UInt32
        public var sequenceNumber: UInt32
        public var requestID: UInt32
        public var payload: [UInt8]
    }

    public static func open(_ chunk: UAChunk) throws(UADecodingError) -> Received {
        var r = UAReader(chunk.body)
        let channel = try r.uint32()
        if chunk.messageType == "OPN" {
            let policy = try r.string()
            _ = try r.byteString()
            _ = try r.byteString()
            guard policy == securityPolicyNone else {
                throw UADecodingError("secure channel policy \(policy ?? "null") is not supported here")
            }
        } else {
            _ = try r.uint32()  // token id
        }
        let sequence = try r.uint32()
        let request = try r.uint32()
        return Received(channelID: channel, sequenceNumber: sequence, requestID: request,
                        payload: Array(try r.take(r.remaining)))
    }
}

// MARK: - Services

/// The binary encoding ids (ns=0) of the service messages used here.
public enum UAEncodingID {
    public static let serviceFault: UInt32 = 397
    public static let getEndpointsRequest: UInt32 = 428, getEndpointsResponse: UInt32 = 431
    public static let openSecureChannelRequest: UInt32 = 446, openSecureChannelResponse: UInt32 = 449
    public static let closeSecureChannelRequest: UInt32 = 452
    public static let createSessionRequest: UInt32 = 461, createSessionResponse: UInt32 = 464
    public static let activateSessionRequest: UInt32 = 467, activateSessionResponse: UInt32 = 470
    public static let closeSessionRequest: UInt32 = 473, closeSessionResponse: UInt32 = 476
    public static let translateBrowsePathsRequest: UInt32 = 554, translateBrowsePathsResponse: UInt32 = 557
    public static let readRequest: UInt32 = 631, readResponse: UInt32 = 634
    public static let writeRequest: UInt32 = 673, writeResponse: UInt32 = 676
    public static let createMonitoredItemsRequest: UInt32 = 751, createMonitoredItemsResponse: UInt32 = 754
    public static let createSubscriptionRequest: UInt32 = 787, createSubscriptionResponse: UInt32 = 790
    public static let dataChangeNotification: UInt32 = 811, statusChangeNotification: UInt32 = 820
    public static let publishRequest: UInt32 = 826, publishResponse: UInt32 = 829
    public static let republishRequest: UInt32 = 832, republishResponse: UInt32 = 835
    public static let anonymousIdentityToken: UInt32 = 321, userNameIdentityToken: UInt32 = 324
}

public struct UARequestHeader: Sendable {
    public var authenticationToken: UANodeId
    public var requestHandle: UInt32
    public var timeoutHint: UInt32

    public init(authenticationToken: UANodeId = .null, requestHandle: UInt32, timeoutHint: UInt32) {
        self.authenticationToken = authenticationToken
        self.requestHandle = requestHandle
        self.timeoutHint = timeoutHint
    }

    func encode(_ w: inout UAWriter) {
        authenticationToken.encode(&w)
        w.int64(UADateTime.now())
        w.uint32(requestHandle)
        w.uint32(0)  // returnDiagnostics
        w.string(nil)  // auditEntryId
        w.uint32(timeoutHint)
        UAExtensionObject.null.encode(&w)
    }
}

/// A decoded service response: its encoding id, service result and the reader positioned after the header.
public struct UAResponse: Sendable {
    public var typeID: UInt32
    public var requestHandle: UInt32
    public var serviceResult: UInt32
    public var reader: UAReader

    public static func decode(_ payload: [UInt8]) throws(UADecodingError) -> UAResponse {
        var r = UAReader(payload)
        let typeId = try UANodeId.decode(&r)
        guard case .numeric(let id) = typeId.identifier, typeId.namespace == 0 else {
            throw UADecodingError("response type \(typeId) is not a standard service")
        }
        _ = try r.int64()  // timestamp
        let handle = try r.uint32()
        let result = try r.uint32()
        try UADiagnosticInfo.skip(&r)
        _ = try r.array { (r) throws(UADecodingError) in try r.string() }  // string table
        _ = try UAExtensionObject.decode(&r)
        return UAResponse(typeID: id, requestHandle: handle, serviceResult: result, reader: r)
    }
}

/// Builds request payloads (encoding id + header + body).
public enum UARequest {
    static func payload(_ typeID: UInt32, _ header: UARequestHeader, _ body: (inout UAWriter) -> Void) -> [UInt8] {
        var w = UAWriter()
        UANodeId.numeric(typeID).encode(&w)
        header.encode(&w)
        body(&w)
        return w.bytes
    }

    public static func openSecureChannel(_ header: UARequestHeader, renew: Bool, lifetimeMs: UInt32,
                                         mode: UASecurityMode = .none, nonce: [UInt8] = []) -> [UInt8] {
        payload(UAEncodingID.openSecureChannelRequest, header) { w in
            w.uint32(0)  // client protocol version
            w.uint32(renew ? 1 : 0)
            w.int32(mode.rawValue)
            w.byteString(nonce)
            w.uint32(lifetimeMs)
        }
    }

    public static func closeSecureChannel(_ header: UARequestHeader) -> [UInt8] {
        payload(UAEncodingID.closeSecureChannelRequest, header) { _ in }
    }

    public static func getEndpoints(_ header: UARequestHeader, endpointURL: String) -> [UInt8] {
        payload(UAEncodingID.getEndpointsRequest, header) { w in
            w.string(endpointURL)
            w.array([String]()) { $0.string($1) }
            w.array([String]()) { $0.string($1) }
        }
    }

    public static func createSession(_ header: UARequestHeader, endpointURL: String, sessionName: String,
                                     timeoutMs: Double, nonce: [UInt8] = [UInt8](repeating: 0, count: 32),
                                     certificate: [UInt8]? = nil) -> [UInt8] {
        payload(UAEncodingID.createSessionRequest, header) { w in
            // ApplicationDescription of this client.
            w.string("urn:kubeedge-swift:mapper-opcua")
            w.string("urn:kubeedge-swift")
            UALocalizedText("mapper-opcua").encode(&w)
            w.int32(1)  // ApplicationType Client
            w.string(nil)
            w.string(nil)
            w.array([String]()) { $0.string($1) }
            w.string(nil)  // serverUri
            w.string(endpointURL)
            w.string(sessionName)
            w.byteString(nonce)  // client nonce (≥ 32 bytes)
            w.byteString(certificate)
            w.double(timeoutMs)
            w.uint32(0)  // max response message size: no limit
        }
    }

    /// ActivateSession with an anonymous or user-name identity. On a secured channel `signature` is the client's
    /// signature (algorithm, bytes) and `password` what goes on the wire (encrypted, with its algorithm); on an
    /// unsecured one the password travels in clear.
    public static func activateSession(_ header: UARequestHeader, identity: UAIdentity, policyID: String,
                                       signature: (String, [UInt8])? = nil,
                                       password: (bytes: [UInt8], algorithm: String?)? = nil) -> [UInt8] {
        payload(UAEncodingID.activateSessionRequest, header) { w in
            w.string(signature?.0)  // client signature algorithm
            w.byteString(signature?.1)
            w.array([UInt8]()) { $0.byte($1) }  // software certificates: none
            w.array(["en"]) { $0.string($1) }
            var token = UAWriter()
            switch identity {
            case .anonymous:
                token.string(policyID)
                UAExtensionObject(typeId: .numeric(UAEncodingID.anonymousIdentityToken), body: token.bytes).encode(&w)
            case .userName(let user, let clear):
                token.string(policyID)
                token.string(user)
                token.byteString(password?.bytes ?? Array(clear.utf8))
                token.string(password?.algorithm)
                UAExtensionObject(typeId: .numeric(UAEncodingID.userNameIdentityToken), body: token.bytes).encode(&w)
            }
            w.string(nil)  // user token signature
            w.byteString(nil)
        }
    }

    public static func closeSession(_ header: UARequestHeader) -> [UInt8] {
        payload(UAEncodingID.closeSessionRequest, header) { w in w.boolean(true) }
    }

    /// Read of one attribute (13 Value, 14 DataType) of each node.
    public static func read(_ header: UARequestHeader, nodes: [UANodeId], attribute: UInt32 = 13) -> [UInt8] {
        payload(UAEncodingID.readRequest, header) { w in
            w.double(0)  // maxAge: current value
            w.int32(2)  // timestamps: both
            w.array(nodes) { w, node in
                node.encode(&w)
                w.uint32(attribute)
                w.string(nil)
                UAQualifiedName("").encode(&w)
            }
        }
    }

    public static func write(_ header: UARequestHeader, node: UANodeId, value: UAVariant) -> [UInt8] {
        payload(UAEncodingID.writeRequest, header) { w in
            w.array([node]) { w, node in
                node.encode(&w)
                w.uint32(13)
                w.string(nil)
                UADataValue(value: value).encode(&w)
            }
        }
    }

    /// One browse path from `start` following hierarchical references through `names`.
    public static func translateBrowsePath(_ header: UARequestHeader, start: UANodeId, names: [UAQualifiedName])
        -> [UInt8]
    {
        payload(UAEncodingID.translateBrowsePathsRequest, header) { w in
            w.int32(1)
            start.encode(&w)
            w.array(names) { w, name in
                UANodeId.numeric(33).encode(&w)  // HierarchicalReferences
                w.boolean(false)
                w.boolean(true)
                name.encode(&w)
            }
        }
    }

    public static func createSubscription(_ header: UARequestHeader, publishingIntervalMs: Double) -> [UInt8] {
        payload(UAEncodingID.createSubscriptionRequest, header) { w in
            w.double(publishingIntervalMs)
            w.uint32(60)  // lifetime count
            w.uint32(10)  // max keep-alive count
            w.uint32(0)  // max notifications per publish: no limit
            w.boolean(true)
            w.byte(0)
        }
    }

    public static func createMonitoredItems(_ header: UARequestHeader, subscriptionID: UInt32,
                                            items: [(handle: UInt32, node: UANodeId)], samplingMs: Double) -> [UInt8] {
        payload(UAEncodingID.createMonitoredItemsRequest, header) { w in
            w.uint32(subscriptionID)
            w.int32(2)  // timestamps: both
            w.array(items) { w, item in
                item.node.encode(&w)
                w.uint32(13)
                w.string(nil)
                UAQualifiedName("").encode(&w)
                w.int32(2)  // MonitoringMode Reporting
                w.uint32(item.handle)
                w.double(samplingMs)
                UAExtensionObject.null.encode(&w)
                w.uint32(10)  // queue size
                w.boolean(true)
            }
        }
    }

    public static func publish(_ header: UARequestHeader, acknowledge: [(subscription: UInt32, sequence: UInt32)])
        -> [UInt8]
    {
        payload(UAEncodingID.publishRequest, header) { w in
            w.array(acknowledge) { w, ack in
                w.uint32(ack.subscription)
                w.uint32(ack.sequence)
            }
        }
    }

    public static func republish(_ header: UARequestHeader, subscriptionID: UInt32, sequence: UInt32) -> [UInt8] {
        payload(UAEncodingID.republishRequest, header) { w in
            w.uint32(subscriptionID)
            w.uint32(sequence)
        }
    }
}

public enum UAIdentity: Sendable, Equatable {
    case anonymous
    case userName(String, password: String)

    /// The UserTokenType the server must offer for it (0 anonymous, 1 user name).
    var tokenType: Int32 {
        switch self {
        case .anonymous: 0
        case .userName: 1
        }
    }
}

/// A user token policy an endpoint offers.
public struct UAUserTokenPolicy: Sendable, Equatable {
    public var policyID: String
    public var tokenType: Int32
    public var securityPolicyURI: String?
}

public struct UAEndpoint: Sendable, Equatable {
    public var url: String
    public var serverCertificate: [UInt8]?
    public var securityMode: Int32
    public var securityPolicyURI: String
    public var userTokens: [UAUserTokenPolicy]
}

/// Decoders of the response bodies (after the header).
public enum UAResponseBody {
    public struct ChannelToken: Sendable, Equatable {
        public var channelID: UInt32
        public var tokenID: UInt32
        public var lifetimeMs: UInt32
        public var serverNonce: [UInt8] = []
    }

    public static func openSecureChannel(_ r: inout UAReader) throws(UADecodingError) -> ChannelToken {
        _ = try r.uint32()  // server protocol version
        let channel = try r.uint32()
        let token = try r.uint32()
        _ = try r.int64()  // created at
        let lifetime = try r.uint32()
        let nonce = try r.byteString() ?? []
        return ChannelToken(channelID: channel, tokenID: token, lifetimeMs: lifetime, serverNonce: nonce)
    }

    static func applicationDescription(_ r: inout UAReader) throws(UADecodingError) {
        _ = try r.string()
        _ = try r.string()
        _ = try UALocalizedText.decode(&r)
        _ = try r.int32()
        _ = try r.string()
        _ = try r.string()
        _ = try r.array { (r) throws(UADecodingError) in try r.string() }
    }

    static func endpoint(_ r: inout UAReader) throws(UADecodingError) -> UAEndpoint {
        let url = try r.string() ?? ""
        try applicationDescription(&r)
        let certificate = try r.byteString()
        let mode = try r.int32()
        let policy = try r.string() ?? ""
        let tokens = try r.array { (r) throws(UADecodingError) -> UAUserTokenPolicy in
            let id = try r.string() ?? ""
            let type = try r.int32()
            _ = try r.string()
            _ = try r.string()
            let uri = try r.string()
            return UAUserTokenPolicy(policyID: id, tokenType: type, securityPolicyURI: uri)
        } ?? []
        _ = try r.string()  // transport profile
        _ = try r.byte()  // security level
        return UAEndpoint(url: url, serverCertificate: certificate, securityMode: mode, securityPolicyURI: policy,
                          userTokens: tokens)
    }

    public static func getEndpoints(_ r: inout UAReader) throws(UADecodingError) -> [UAEndpoint] {
        try r.array { (r) throws(UADecodingError) in try endpoint(&r) } ?? []
    }

    public struct Session: Sendable {
        public var sessionID: UANodeId
        public var authenticationToken: UANodeId
        public var revisedTimeoutMs: Double
        public var serverNonce: [UInt8]
        public var serverCertificate: [UInt8]
        public var endpoints: [UAEndpoint]
    }

    public static func createSession(_ r: inout UAReader) throws(UADecodingError) -> Session {
        let id = try UANodeId.decode(&r)
        let token = try UANodeId.decode(&r)
        let timeout = try r.double()
        let nonce = try r.byteString() ?? []
        let certificate = try r.byteString() ?? []
        let endpoints = try r.array { (r) throws(UADecodingError) in try endpoint(&r) } ?? []
        return Session(sessionID: id, authenticationToken: token, revisedTimeoutMs: timeout, serverNonce: nonce,
                       serverCertificate: certificate, endpoints: endpoints)
    }

    public static func read(_ r: inout UAReader) throws(UADecodingError) -> [UADataValue] {
        let values = try r.array { (r) throws(UADecodingError) in try UADataValue.decode(&r) } ?? []
        try UADiagnosticInfo.skipArray(&r)
        return values
    }

    public static func statusCodes(_ r: inout UAReader) throws(UADecodingError) -> [UInt32] {
        try r.array(minimumElementSize: 4) { (r) throws(UADecodingError) in try r.uint32() } ?? []
    }

    /// (status, first target) per browse path.
    public static func translateBrowsePaths(_ r: inout UAReader) throws(UADecodingError) -> [(UInt32, UANodeId?)] {
        try r.array { (r) throws(UADecodingError) -> (UInt32, UANodeId?) in
            let status = try r.uint32()
            let targets = try r.array { (r) throws(UADecodingError) -> UANodeId in
                let target = try UAExpandedNodeId.decode(&r)
                _ = try r.uint32()
                return target.nodeId
            } ?? []
            return (status, targets.first)
        } ?? []
    }

    public struct Subscription: Sendable, Equatable {
        public var id: UInt32
        public var publishingIntervalMs: Double
    }

    public static func createSubscription(_ r: inout UAReader) throws(UADecodingError) -> Subscription {
        let id = try r.uint32()
        let interval = try r.double()
        _ = try r.uint32()
        _ = try r.uint32()
        return Subscription(id: id, publishingIntervalMs: interval)
    }

    /// Status per created monitored item.
    public static func createMonitoredItems(_ r: inout UAReader) throws(UADecodingError) -> [UInt32] {
        try r.array { (r) throws(UADecodingError) -> UInt32 in
            let status = try r.uint32()
            _ = try r.uint32()
            _ = try r.double()
            _ = try r.uint32()
            _ = try UAExtensionObject.decode(&r)
            return status
        } ?? []
    }

    public struct Notification: Sendable {
        public var subscriptionID: UInt32
        public var sequenceNumber: UInt32
        /// (client handle, value) of every data change.
        public var changes: [(handle: UInt32, value: UADataValue)]
        /// Sequence numbers the server still holds (not yet acknowledged).
        public var available: [UInt32]
    }

    public static func notificationMessage(_ r: inout UAReader, subscription: UInt32, available: [UInt32])
        throws(UADecodingError) -> Notification
    {
        let sequence = try r.uint32()
        _ = try r.int64()
        var changes: [(handle: UInt32, value: UADataValue)] = []
        for data in try r.array({ (r) throws(UADecodingError) in try UAExtensionObject.decode(&r) }) ?? [] {
            guard data.typeId == .numeric(UAEncodingID.dataChangeNotification), let body = data.body else { continue }
            var inner = UAReader(body)
            for item in try inner.array({ (r) throws(UADecodingError) -> (UInt32, UADataValue) in
                (try r.uint32(), try UADataValue.decode(&r))
            }) ?? [] {
                changes.append((item.0, item.1))
            }
        }
        return Notification(subscriptionID: subscription, sequenceNumber: sequence, changes: changes,
                            available: available)
    }

    public static func publish(_ r: inout UAReader) throws(UADecodingError) -> Notification {
        let subscription = try r.uint32()
        let available = try r.array(minimumElementSize: 4) { (r) throws(UADecodingError) in try r.uint32() } ?? []
        _ = try r.boolean()
        let notification = try notificationMessage(&r, subscription: subscription, available: available)
        _ = try statusCodes(&r)
        try UADiagnosticInfo.skipArray(&r)
        return notification
    }
}
