/// Streams across the link (`kubectl logs`, `exec`, `attach`, `port-forward`) and usage figures (`kubectl top`): our
/// extension of KubeEdge's protocol, agreed per connection with the `X-KubeEdge-Swift-Streams` upgrade header (a real
/// edgecore or cloudcore never sees a stream frame). A frame is a beehive message of group `stream`, resource = the
/// session id, operation `open` / `data` / `credit` / `close` (or `metrics`, resource = the node). Frames are written
/// as they come, never queued or acknowledged: a session ends with its link.
///
/// Flow control is by credit, as HTTP/2 windows: whoever produces bytes for a session may have at most the credit
/// its reader granted in flight (`initialCredit`, then `credit` frames as the reader consumes), so one chatty
/// `logs -f` holds at most that much in the link's buffers, ahead of pod and device messages.
public enum StreamProtocol {
    public static let header = "X-KubeEdge-Swift-Streams"
    public static let group = "stream"
    /// Frames from the API server.
    public static let cloudSource = "apiserver"
    /// Frames from the node (edged).
    public static let edgeSource = "edged"
    /// Largest `data` payload in one frame.
    public static let chunkSize = 32 << 10
    /// What a producer may send before its reader grants more.
    public static let initialCredit = 256 << 10

    public enum Operation: String, Sendable {
        case open, data, credit, close, metrics
    }

    /// Kubernetes' stream channels (remotecommand): stdin 0, stdout 1, stderr 2, error/status 3, resize 4.
    public enum Channel: Int, Sendable {
        case stdin = 0, stdout, stderr, status, resize
    }

    public static func isStream(_ message: Message) -> Bool { message.route.group == group }

    public static func frame(_ operation: Operation, session: String, source: String, content: JSONValue) -> Message {
        Message(source: source, group: group, operation: operation.rawValue, resource: session,
                content: (try? RawJSON(content)) ?? .null)
    }

    public static func open(session: String, request: StreamRequest) -> Message {
        frame(.open, session: session, source: cloudSource, content: request.json)
    }

    /// `eof`: the channel ends here (stdin closed by the client).
    public static func data(session: String, source: String, channel: Channel = .stdout, bytes: some Collection<UInt8>,
                            eof: Bool = false) -> Message {
        var members: [(key: String, value: JSONValue)] = [
            ("channel", .number(String(channel.rawValue))), ("data", .string(Base64.encode(bytes))),
        ]
        if eof { members.append(("eof", .bool(true))) }
        return frame(.data, session: session, source: source, content: .object(members))
    }

    /// The node's first frame of a session, empty: it has started serving. `"inputCredit": true` says it grants
    /// credit for the input it takes (stdin, a forwarded connection's bytes), so the API server holds input back to
    /// that credit; a node that does not say so gets input as it comes (an edged from before input credit).
    public static func started(session: String) -> Message {
        frame(.data, session: session, source: edgeSource, content: .object([
            ("channel", .number(String(Channel.stdout.rawValue))), ("data", .string("")), ("inputCredit", .bool(true)),
        ]))
    }

    public static func credit(session: String, source: String, bytes: Int) -> Message {
        frame(.credit, session: session, source: source, content: .object([("bytes", .number(String(bytes)))]))
    }

    /// The end of a session: normal (no failure), or a failure as the API server answers it (`code`, `reason`,
    /// `message` of a Status); `exitCode` for a command that ran.
    public static func close(session: String, source: String, failure: StreamFailure? = nil, exitCode: Int? = nil) -> Message {
        var members: [(key: String, value: JSONValue)] = []
        if let failure {
            members += [("code", .number(String(failure.code))), ("reason", .string(failure.reason)),
                        ("message", .string(failure.message))]
        }
        if let exitCode { members.append(("exitCode", .number(String(exitCode)))) }
        return frame(.close, session: session, source: source, content: .object(members))
    }
}

/// Why a session could not be served, as the API server reports it to the client.
public struct StreamFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: Int
    public var reason: String
    public var message: String

    public init(code: Int, reason: String, _ message: String) {
        self.code = code
        self.reason = reason
        self.message = message
    }

    public static func badRequest(_ message: String) -> StreamFailure { StreamFailure(code: 400, reason: "BadRequest", message) }
    public static func notFound(_ message: String) -> StreamFailure { StreamFailure(code: 404, reason: "NotFound", message) }
    public static func unavailable(_ message: String) -> StreamFailure {
        StreamFailure(code: 503, reason: "ServiceUnavailable", message)
    }
    /// The node's link to the cloud is down: nothing can be streamed with it.
    public static func offline(_ node: String) -> StreamFailure {
        unavailable("node \"\(node)\" is offline: its link to the cloud is down")
    }

    public var description: String { message }
}

/// One decoded stream frame.
public struct StreamFrame: Sendable {
    public var session: String
    public var operation: StreamProtocol.Operation
    public var channel: StreamProtocol.Channel = .stdout
    public var data: [UInt8] = []
    /// The channel ends after `data` (stdin closed).
    public var eof = false
    /// The node's first frame: it grants credit for input (`StreamProtocol.started`).
    public var inputCredit = false
    public var credit = 0
    public var failure: StreamFailure?
    public var exitCode: Int?
    public var request: StreamRequest?

    public init(_ message: Message) throws(StreamError) {
        guard let operation = StreamProtocol.Operation(rawValue: message.route.operation) else {
            throw StreamError("unknown stream operation \(message.route.operation)")
        }
        session = message.route.resource
        self.operation = operation
        guard let content = try? JSONValue(parsing: message.content.bytes) else {
            throw StreamError("stream \(operation.rawValue) frame whose content is not JSON")
        }
        switch operation {
        case .open:
            request = try StreamRequest(json: content)
        case .data:
            guard let text = content["data"]?.stringValue, let bytes = Base64.decode(text) else {
                throw StreamError("stream data frame without base64 data")
            }
            data = bytes
            channel = content["channel"]?.int64Value.flatMap { StreamProtocol.Channel(rawValue: Int($0)) } ?? .stdout
            eof = content["eof"]?.boolValue ?? false
            inputCredit = content["inputCredit"]?.boolValue ?? false
        case .credit:
            guard let bytes = content["bytes"]?.int64Value, bytes > 0 else { throw StreamError("stream credit frame without bytes") }
            credit = Int(clamping: bytes)
        case .close:
            if let code = content["code"]?.int64Value {
                failure = StreamFailure(code: Int(code), reason: content["reason"]?.stringValue ?? "InternalError",
                                        content["message"]?.stringValue ?? "")
            }
            exitCode = content["exitCode"]?.int64Value.map { Int($0) }
        case .metrics:
            break
        }
    }
}

public struct StreamError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// What a session asks of the node.
public struct StreamRequest: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case logs, exec, attach, portforward
    }

    public var kind: Kind
    public var namespace: String
    public var pod: String
    public var uid: String
    public var container: String
    public var logs = LogOptions()
    public var command: [String] = []
    public var stdin = false
    public var stdout = true
    public var stderr = true
    public var tty = false
    public var ports: [Int] = []

    public init(kind: Kind, namespace: String, pod: String, uid: String, container: String) {
        self.kind = kind
        self.namespace = namespace
        self.pod = pod
        self.uid = uid
        self.container = container
    }

    public var json: JSONValue {
        var members: [(key: String, value: JSONValue)] = [
            ("kind", .string(kind.rawValue)), ("namespace", .string(namespace)), ("pod", .string(pod)),
            ("uid", .string(uid)), ("container", .string(container)),
        ]
        switch kind {
        case .logs:
            members.append(("logs", logs.json))
        case .exec, .attach:
            members += [("command", .array(command.map(JSONValue.string))), ("stdin", .bool(stdin)),
                        ("stdout", .bool(stdout)), ("stderr", .bool(stderr)), ("tty", .bool(tty))]
        case .portforward:
            members.append(("ports", .array(ports.map { .number(String($0)) })))
        }
        return .object(members)
    }

    public init(json: JSONValue) throws(StreamError) {
        guard let kindText = json["kind"]?.stringValue, let kind = Kind(rawValue: kindText) else {
            throw StreamError("stream open without a known kind")
        }
        guard let namespace = json["namespace"]?.stringValue, let pod = json["pod"]?.stringValue else {
            throw StreamError("stream open without namespace and pod")
        }
        self.init(kind: kind, namespace: namespace, pod: pod, uid: json["uid"]?.stringValue ?? "",
                  container: json["container"]?.stringValue ?? "")
        if let options = json["logs"] { logs = LogOptions(json: options) }
        command = json["command"]?.arrayValue?.compactMap(\.stringValue) ?? []
        stdin = json["stdin"]?.boolValue ?? false
        stdout = json["stdout"]?.boolValue ?? true
        stderr = json["stderr"]?.boolValue ?? true
        tty = json["tty"]?.boolValue ?? false
        ports = json["ports"]?.arrayValue?.compactMap { $0.int64Value.map { Int($0) } } ?? []
    }
}

/// `kubectl logs` options (PodLogOptions).
public struct LogOptions: Sendable, Equatable {
    public var follow = false
    public var previous = false
    public var timestamps = false
    public var tailLines: Int?
    public var sinceSeconds: Int?
    /// RFC 3339.
    public var sinceTime: String?
    public var limitBytes: Int?

    public init() {}

    public var json: JSONValue {
        var members: [(key: String, value: JSONValue)] = [
            ("follow", .bool(follow)), ("previous", .bool(previous)), ("timestamps", .bool(timestamps)),
        ]
        if let tailLines { members.append(("tailLines", .number(String(tailLines)))) }
        if let sinceSeconds { members.append(("sinceSeconds", .number(String(sinceSeconds)))) }
        if let sinceTime { members.append(("sinceTime", .string(sinceTime))) }
        if let limitBytes { members.append(("limitBytes", .number(String(limitBytes)))) }
        return .object(members)
    }

    public init(json: JSONValue) {
        follow = json["follow"]?.boolValue ?? false
        previous = json["previous"]?.boolValue ?? false
        timestamps = json["timestamps"]?.boolValue ?? false
        tailLines = json["tailLines"]?.int64Value.map { Int($0) }
        sinceSeconds = json["sinceSeconds"]?.int64Value.map { Int($0) }
        sinceTime = json["sinceTime"]?.stringValue
        limitBytes = json["limitBytes"]?.int64Value.map { Int($0) }
    }
}
