/// Where the broker is: `host:port` over TCP, or a unix socket path.
public enum BusEndpoint: Sendable, Hashable, CustomStringConvertible {
    case tcp(host: String, port: Int)
    case unixSocket(path: String)

    public static let defaultPort = 1883

    /// Parses `host:port`, `host` (port 1883), `[::1]:1883`, `unix:///path/sock`, `unix:/path` or `/path/sock`.
    public init(parsing text: String) throws(BusError) {
        if text.hasPrefix("unix://") {
            self = .unixSocket(path: String(text.dropFirst("unix://".count)))
        } else if text.hasPrefix("unix:") {
            self = .unixSocket(path: String(text.dropFirst("unix:".count)))
        } else if text.hasPrefix("/") || text.hasPrefix("./") {
            self = .unixSocket(path: text)
        } else if text.hasPrefix("[") {
            // [IPv6]:port
            guard let close = text.firstIndex(of: "]") else { throw .invalidEndpoint(text, "missing ']'") }
            let host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            if rest.isEmpty {
                self = .tcp(host: host, port: Self.defaultPort)
            } else {
                guard rest.first == ":", let port = Int(rest.dropFirst()), (1...65535).contains(port) else {
                    throw .invalidEndpoint(text, "bad port")
                }
                self = .tcp(host: host, port: port)
            }
        } else {
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            switch parts.count {
            case 1 where !text.isEmpty:
                self = .tcp(host: text, port: Self.defaultPort)
            case 2 where !parts[0].isEmpty:
                guard let port = Int(parts[1]), (1...65535).contains(port) else {
                    throw .invalidEndpoint(text, "bad port '\(parts[1])'")
                }
                self = .tcp(host: String(parts[0]), port: port)
            default:
                throw .invalidEndpoint(text, "expected host:port or a unix socket path")
            }
        }
    }

    public var description: String {
        switch self {
        case .tcp(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        case .unixSocket(let path): "unix://\(path)"
        }
    }
}

/// TLS towards the broker (files in PEM, as libmosquitto wants them).
public struct BusTLS: Sendable, Hashable {
    public var caFile: String
    public var certFile: String?
    public var keyFile: String?
    /// Skip the broker hostname check (never for production).
    public var insecure: Bool

    public init(caFile: String, certFile: String? = nil, keyFile: String? = nil, insecure: Bool = false) {
        self.caFile = caFile
        self.certFile = certFile
        self.keyFile = keyFile
        self.insecure = insecure
    }
}

public struct BusConfiguration: Sendable {
    public var endpoint: BusEndpoint
    /// Stable per service (and node) so that the broker keeps the session while the service is down.
    public var clientID: String
    /// `false` (the default) asks the broker for a persistent session: QoS 1 messages for our subscriptions are
    /// queued while we are away and delivered when we return.
    public var cleanSession: Bool
    public var username: String?
    public var password: String?
    public var tls: BusTLS?
    /// MQTT keepalive in seconds.
    public var keepAlive: Int32
    /// Retained presence topic: the client sets `offline` as its last will, publishes `online` on every connect
    /// and `offline` on a clean shutdown.
    public var presenceTopic: String?
    /// Reconnect backoff, doubling from `reconnectDelayMin` to `reconnectDelayMax` seconds (libmosquitto counts
    /// whole seconds).
    public var reconnectDelayMin: UInt32
    public var reconnectDelayMax: UInt32
    /// How many QoS 1 messages may be outstanding (published, not yet acknowledged by the broker, including those
    /// held while disconnected). Past it, `publish` waits for room and the bound is logged.
    public var maxQueuedPublishes: Int
    /// QoS 1 messages in flight on the wire at once (MQTT receive-maximum towards the broker).
    public var maxInflight: Int32
    /// Received messages buffered for the consumer; past it the network thread pauses (back-pressure to the broker,
    /// which queues for our session) instead of dropping.
    public var receiveBuffer: Int

    public init(
        endpoint: BusEndpoint,
        clientID: String,
        cleanSession: Bool = false,
        username: String? = nil,
        password: String? = nil,
        tls: BusTLS? = nil,
        keepAlive: Int32 = 30,
        presenceTopic: String? = nil,
        reconnectDelayMin: UInt32 = 1,
        reconnectDelayMax: UInt32 = 10,
        maxQueuedPublishes: Int = 50_000,
        maxInflight: Int32 = 100,
        receiveBuffer: Int = 10_000
    ) {
        self.endpoint = endpoint
        self.clientID = clientID
        self.cleanSession = cleanSession
        self.username = username
        self.password = password
        self.tls = tls
        self.keepAlive = keepAlive
        self.presenceTopic = presenceTopic
        self.reconnectDelayMin = reconnectDelayMin
        self.reconnectDelayMax = reconnectDelayMax
        self.maxQueuedPublishes = maxQueuedPublishes
        self.maxInflight = maxInflight
        self.receiveBuffer = receiveBuffer
    }
}

public enum BusQoS: Int32, Sendable {
    case atMostOnce = 0
    case atLeastOnce = 1
}

public struct BusMessage: Sendable, Hashable {
    public let topic: String
    public let payload: [UInt8]
    public let qos: Int32
    public let retained: Bool

    public init(topic: String, payload: [UInt8], qos: Int32 = 1, retained: Bool = false) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retained = retained
    }

    /// The payload as UTF-8 text (invalid bytes repaired), for logs and plain-text payloads.
    public var text: String { String(decoding: payload, as: UTF8.self) }
}

public enum BusError: Error, Sendable, Hashable, CustomStringConvertible {
    case invalidEndpoint(String, String)
    case invalidTopic(String)
    case library(operation: String, code: Int32, reason: String)
    case timeout(String)
    case subscriptionRefused(String)
    case closed

    public var description: String {
        switch self {
        case .invalidEndpoint(let text, let why): "invalid broker address '\(text)': \(why)"
        case .invalidTopic(let topic): "invalid topic '\(topic)'"
        case .library(let operation, let code, let reason): "\(operation) failed: \(reason) (mosquitto error \(code))"
        case .timeout(let what): "timed out: \(what)"
        case .subscriptionRefused(let filter): "broker refused subscription to '\(filter)'"
        case .closed: "bus client is closed"
        }
    }
}
