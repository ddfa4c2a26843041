import EdgeProtocol

/// What crosses the websocket, beyond KubeEdge's own rules (`LinkRules`).
public enum LinkProtocol {
    /// edgecore's default project id, part of the URL path (cloudhub ignores the path, §2.1).
    public static let defaultProjectID = "e632aba927ea4ac2b575ec1603d56f10"

    /// Sent by our hub in the upgrade request. It means: acknowledge my upstream messages (so I can drop them from my
    /// durable queue), and expect my acknowledgements of NO-ACK downstream messages (so you can drop them from the
    /// outbox only once they are on my bus). Our cloudhub agrees by sending it back in its upgrade response; a real
    /// cloudcore does not, and hub then behaves as edgecore does (each upstream message written once). A real edgecore
    /// does not send it and gets exactly KubeEdge's behaviour.
    public static let upstreamAckHeader = "X-KubeEdge-Swift-Ack"

    /// Source of cloudhub's acknowledgements of upstream messages.
    public static let cloudhubSource = "cloudhub"
    /// Source of hub's acknowledgements of NO-ACK downstream messages (cloudhub does not acknowledge these back).
    public static let hubSource = "hub"

    /// One websocket text frame: compact JSON and a newline, as gorilla's WriteJSON writes it (§2.4).
    public static func frame(_ message: Message) -> String {
        String(decoding: MessageCodec.encodeFrame(message), as: UTF8.self)
    }

    /// A transport acknowledgement: `response`, `parent_msg_id` = the message's id, content "OK".
    public static func transportAck(for message: Message, source: String) -> Message {
        var ack = message.ack()
        ack.route.source = source
        return ack
    }
}

/// The last message ids seen (bounded), to drop duplicates that at-least-once delivery produces after a reconnect.
public struct RecentIDs: Sendable {
    private var seen: Set<String> = []
    private var order: [String] = []
    public let capacity: Int

    public init(capacity: Int = 20_000) {
        self.capacity = capacity
    }

    /// True the first time an id is seen (within the last `capacity` ids).
    public mutating func insert(_ id: String) -> Bool {
        guard seen.insert(id).inserted else { return false }
        order.append(id)
        if order.count > capacity {
            let drop = order.count - capacity / 2
            for old in order[..<drop] { seen.remove(old) }
            order.removeFirst(drop)
        }
        return true
    }
}
