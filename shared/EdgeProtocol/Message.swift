// The KubeEdge beehive message (staging/src/github.com/kubeedge/beehive/pkg/core/model/message.go), as it
// travels on the cloudhub ⇄ edgehub websocket (docs: kubeedge-wire.md §1). The byte-exact wire codec is
// `MessageCodec`; the Codable conformance uses the same keys and omission rules for use inside other types.

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A beehive message: header, route and a JSON `content` kept as raw bytes.
public struct Message: Sendable, Hashable, Codable, CustomStringConvertible {
    /// `header` on the wire.
    public struct Header: Sendable, Hashable, Codable {
        /// `msg_id`, always emitted. A lowercase UUID v4 for messages we create.
        public var id: String
        /// `parent_msg_id`, omitted when empty: the id of the message this one answers.
        public var parentID: String
        /// `timestamp`, always emitted: milliseconds since the Unix epoch.
        public var timestamp: Int64
        /// `resourceversion`, omitted when empty: the k8s resourceVersion of the object in `content`.
        public var resourceVersion: String
        /// `sync`, omitted when false. Never true on the websocket (§1.3).
        public var sync: Bool
        /// `type`, omitted when empty. Beehive-internal.
        public var type: String

        public init(
            id: String = "", parentID: String = "", timestamp: Int64 = 0, resourceVersion: String = "",
            sync: Bool = false, type: String = ""
        ) {
            self.id = id
            self.parentID = parentID
            self.timestamp = timestamp
            self.resourceVersion = resourceVersion
            self.sync = sync
            self.type = type
        }

        enum CodingKeys: String, CodingKey {
            case id = "msg_id"
            case parentID = "parent_msg_id"
            case timestamp
            case resourceVersion = "resourceversion"
            case sync
            case type
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            id = try c.decodeIfPresent(String.self, forKey: .id) ?? ""
            parentID = try c.decodeIfPresent(String.self, forKey: .parentID) ?? ""
            timestamp = try c.decodeIfPresent(Int64.self, forKey: .timestamp) ?? 0
            resourceVersion = try c.decodeIfPresent(String.self, forKey: .resourceVersion) ?? ""
            sync = try c.decodeIfPresent(Bool.self, forKey: .sync) ?? false
            type = try c.decodeIfPresent(String.self, forKey: .type) ?? ""
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(id, forKey: .id)
            if !parentID.isEmpty { try c.encode(parentID, forKey: .parentID) }
            try c.encode(timestamp, forKey: .timestamp)
            if !resourceVersion.isEmpty { try c.encode(resourceVersion, forKey: .resourceVersion) }
            if sync { try c.encode(sync, forKey: .sync) }
            if !type.isEmpty { try c.encode(type, forKey: .type) }
        }
    }

    /// `route` on the wire; always emitted (`{}` when every field is empty), each field omitted when empty.
    public struct Route: Sendable, Hashable, Codable {
        /// `source`: the sending module, e.g. `edgecontroller`, `websocket`, `twin`.
        public var source: String
        /// `destination`: beehive-internal, not used on the link.
        public var destination: String
        /// `group`: `resource`, `twin`, `user`, `meta`, …
        public var group: String
        /// `operation`: `insert`, `update`, `delete`, `query`, `response`, `keepalive`, …
        public var operation: String
        /// `resource`: e.g. `default/configmap/cm1`, `node`, `membership/detail`.
        public var resource: String

        public init(
            source: String = "", destination: String = "", group: String = "", operation: String = "",
            resource: String = ""
        ) {
            self.source = source
            self.destination = destination
            self.group = group
            self.operation = operation
            self.resource = resource
        }

        enum CodingKeys: String, CodingKey {
            case source, destination, group, operation, resource
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            source = try c.decodeIfPresent(String.self, forKey: .source) ?? ""
            destination = try c.decodeIfPresent(String.self, forKey: .destination) ?? ""
            group = try c.decodeIfPresent(String.self, forKey: .group) ?? ""
            operation = try c.decodeIfPresent(String.self, forKey: .operation) ?? ""
            resource = try c.decodeIfPresent(String.self, forKey: .resource) ?? ""
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            if !source.isEmpty { try c.encode(source, forKey: .source) }
            if !destination.isEmpty { try c.encode(destination, forKey: .destination) }
            if !group.isEmpty { try c.encode(group, forKey: .group) }
            if !operation.isEmpty { try c.encode(operation, forKey: .operation) }
            if !resource.isEmpty { try c.encode(resource, forKey: .resource) }
        }
    }

    public var header: Header
    public var route: Route
    /// Any JSON value, kept as its exact bytes; `null` when absent.
    public var content: RawJSON

    public init(header: Header = Header(), route: Route = Route(), content: RawJSON = .null) {
        self.header = header
        self.route = route
        self.content = content
    }

    /// A new message with a fresh id and the current time.
    public init(
        source: String, group: String, operation: String, resource: String, content: RawJSON = .null,
        resourceVersion: String = "", parentID: String = ""
    ) {
        self.init(
            header: Header(
                id: Message.newID(), parentID: parentID, timestamp: Message.nowMillis(),
                resourceVersion: resourceVersion),
            route: Route(source: source, group: group, operation: operation, resource: resource),
            content: content)
    }

    // MARK: Replies (§1.3, §2.7, captured §13.4)

    /// A response to this message (Go's `NewRespByMessage`): new id, `parent_msg_id` = this id,
    /// operation `response`, same source (unless given), group and resource.
    public func response(content: RawJSON, source: String? = nil) -> Message {
        Message(
            header: Header(id: Message.newID(), parentID: header.id, timestamp: Message.nowMillis()),
            route: Route(
                source: source ?? route.source, group: route.group, operation: "response", resource: route.resource),
            content: content)
    }

    /// The metaManager ACK: a response whose content is the JSON string `"OK"`.
    public func ack() -> Message {
        response(content: Message.okContent)
    }

    /// An error reply: operation `error`, content = `reason` as a JSON string, `parent_msg_id` = this id (the
    /// corrected behaviour; v1.15.0's `NewErrorMessage` copied the request's own parent id), same source (unless
    /// given), group and resource so that it is routed like a response.
    public func errorReply(_ reason: String, source: String? = nil) -> Message {
        Message(
            header: Header(id: Message.newID(), parentID: header.id, timestamp: Message.nowMillis()),
            route: Route(
                source: source ?? route.source, group: route.group, operation: "error", resource: route.resource),
            content: RawJSON(string: reason))
    }

    static let okContent = RawJSON(unchecked: [ASCII.quote, 0x4F, 0x4B, ASCII.quote])  // "OK"

    // MARK: Ids and time

    /// A random UUID v4 in lowercase canonical form (8-4-4-4-12), like Go's `uuid.New().String()`.
    public static func newID() -> String {
        var rng = SystemRandomNumberGenerator()
        var hi: UInt64 = rng.next()
        var lo: UInt64 = rng.next()
        hi = (hi & ~0x0000_0000_0000_F000) | 0x0000_0000_0000_4000  // version 4 (byte 6 high nibble)
        lo = (lo & ~0xC000_0000_0000_0000) | 0x8000_0000_0000_0000  // RFC 4122 variant (byte 8 top bits 10)
        return String(unsafeUninitializedCapacity: 36) { out in
            var k = 0
            for nibble in 0..<32 {
                if nibble == 8 || nibble == 12 || nibble == 16 || nibble == 20 {
                    out[k] = ASCII.minus
                    k += 1
                }
                let word = nibble < 16 ? hi : lo
                let shift = UInt64(60 - 4 * (nibble & 15))
                out[k] = GoJSONWriter.hexDigit(UInt8(truncatingIfNeeded: word >> shift))
                k += 1
            }
            return k
        }
    }

    /// Milliseconds since the Unix epoch from `CLOCK_REALTIME` (Go: `time.Now().UnixNano() / 1e6`).
    public static func nowMillis() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    // MARK: Codable

    enum CodingKeys: String, CodingKey {
        case header, route, content
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        header = try c.decodeIfPresent(Header.self, forKey: .header) ?? Header()
        route = try c.decodeIfPresent(Route.self, forKey: .route) ?? Route()
        content = try c.decodeIfPresent(RawJSON.self, forKey: .content) ?? .null
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(header, forKey: .header)
        try c.encode(route, forKey: .route)
        try c.encode(content, forKey: .content)
    }

    /// The message as compact wire JSON (without the frame's trailing newline).
    public var description: String { String(decoding: MessageCodec.encode(self), as: UTF8.self) }
}
