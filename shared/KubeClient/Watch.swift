import EdgeProtocol

/// One event of a watch stream. `ERROR` events are not delivered: they end the stream with a ``KubeError``
/// (``KubeError/gone(_:)`` for 410, when the requested resourceVersion has been compacted).
public struct WatchEvent: Sendable, Hashable {
    public enum EventType: String, Sendable, Hashable {
        case added = "ADDED"
        case modified = "MODIFIED"
        case deleted = "DELETED"
        /// Only `metadata.resourceVersion` of the object is meaningful: the point the stream has reached.
        case bookmark = "BOOKMARK"
    }

    public var type: EventType
    public var object: JSONValue

    public init(type: EventType, object: JSONValue) {
        self.type = type
        self.object = object
    }

    /// The object's `metadata.resourceVersion`.
    public var resourceVersion: String? { object.string(at: "metadata.resourceVersion") }

    /// Reads one line of a watch stream. Returns `.failure` for an `ERROR` event.
    static func decode(_ value: JSONValue) -> Result<WatchEvent, KubeError> {
        guard let type = value["type"]?.stringValue, let object = value["object"] else {
            return .failure(.invalidResponse("watch event without type or object"))
        }
        if type == "ERROR" {
            return .failure(.status(KubeStatus(object, httpCode: 500)))
        }
        guard let eventType = EventType(rawValue: type) else {
            return .failure(.invalidResponse("unknown watch event type '\(type)'"))
        }
        return .success(WatchEvent(type: eventType, object: object))
    }
}

/// Splits a byte stream into top-level JSON values (the API server writes one event per line, but nothing here
/// depends on the newlines). Incremental: bytes already scanned are not scanned again.
struct JSONFramer {
    private var buffer: [UInt8] = []
    private var scanned = 0
    private var start: Int?
    private var depth = 0
    private var inString = false
    private var escaped = false
    let maxValueBytes: Int

    init(maxValueBytes: Int) { self.maxValueBytes = maxValueBytes }

    /// True when a value has started and not yet ended.
    var hasPartialValue: Bool { start != nil }

    mutating func feed(_ bytes: UnsafeRawBufferPointer, _ emit: (ArraySlice<UInt8>) -> Bool) throws(KubeError) {
        buffer.append(contentsOf: bytes)
        var consumed = 0
        defer {
            if consumed > 0 {
                buffer.removeFirst(consumed)
                scanned -= consumed
                if let s = start { start = s - consumed }
            }
        }
        while scanned < buffer.count {
            let c = buffer[scanned]
            let index = scanned
            scanned += 1
            if start == nil {
                switch c {
                case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t"):
                    consumed = scanned
                    continue
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    start = index
                    depth = 1
                    continue
                default:
                    throw .invalidResponse("watch stream: expected a JSON object, found byte \(c)")
                }
            }
            if inString {
                if escaped {
                    escaped = false
                } else if c == UInt8(ascii: "\\") {
                    escaped = true
                } else if c == UInt8(ascii: "\"") {
                    inString = false
                }
                continue
            }
            switch c {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
                if depth == 0, let s = start {
                    start = nil
                    consumed = scanned
                    if !emit(buffer[s..<scanned]) { return }
                }
            default: break
            }
        }
        if let s = start, buffer.count - s > maxValueBytes {
            throw .invalidResponse("watch event larger than \(maxValueBytes) bytes")
        }
    }
}

/// Turns a watch response into events on an `AsyncThrowingStream` whose buffer is bounded: when it is full the
/// transfer pauses (libcurl keeps the bytes) until the consumer has taken what was waiting.
final class WatchSink: TransferSink, @unchecked Sendable {
    // @unchecked: used only on the transfer thread (the continuation itself is thread-safe).
    private let continuation: AsyncThrowingStream<WatchEvent, any Error>.Continuation
    private var framer: JSONFramer
    private var pending: [WatchEvent] = []
    private var pendingHead = 0
    private var errorBody: [UInt8] = []
    private var failure: KubeError?
    private var terminated = false

    init(continuation: AsyncThrowingStream<WatchEvent, any Error>.Continuation, maxEventBytes: Int) {
        self.continuation = continuation
        framer = JSONFramer(maxValueBytes: maxEventBytes)
    }

    func receive(_ bytes: UnsafeRawBufferPointer, status: Int) -> SinkDecision {
        if terminated || failure != nil { return .abort }
        guard (200..<300).contains(status) else {
            // An error answer: a Status body, reported at the end.
            errorBody.append(contentsOf: bytes.prefix(max(0, (1 << 20) - errorBody.count)))
            return .consumed
        }
        if !flush() { return .pause }
        do {
            try framer.feed(bytes) { line in
                switch Result(catching: { () throws(JSONError) in try JSONValue(parsing: line) }) {
                case .failure(let error):
                    failure = .invalidResponse("watch event is not JSON: \(error)")
                    return false
                case .success(let value):
                    switch WatchEvent.decode(value) {
                    case .failure(let error):
                        failure = error
                        return false
                    case .success(let event):
                        deliver(event)
                        return !terminated
                    }
                }
            }
        } catch {
            failure = error
        }
        return terminated || failure != nil ? .abort : .consumed
    }

    private func deliver(_ event: WatchEvent) {
        if pendingHead < pending.count {
            pending.append(event)
            return
        }
        switch continuation.yield(event) {
        case .enqueued: break
        case .dropped(let event): pending.append(event)
        case .terminated: terminated = true
        @unknown default: terminated = true
        }
    }

    /// Hands waiting events over while there is room. True when none are left.
    private func flush() -> Bool {
        while pendingHead < pending.count && !terminated {
            switch continuation.yield(pending[pendingHead]) {
            case .enqueued: pendingHead += 1
            case .dropped: return false
            case .terminated: terminated = true
            @unknown default: terminated = true
            }
        }
        pending.removeAll(keepingCapacity: pending.count < 1024)
        pendingHead = 0
        return true
    }

    func readyToResume() -> Bool { flush() }
    var hasBacklog: Bool { !terminated && pendingHead < pending.count }

    func finish(_ outcome: TransferOutcome) {
        if outcome.cancelled || terminated {
            continuation.finish()
        } else if let failure {
            continuation.finish(throwing: failure)
        } else if outcome.status != 0 && !(200..<300).contains(outcome.status) {
            continuation.finish(throwing: KubeError.status(KubeStatus(httpCode: outcome.status, body: errorBody)))
        } else if let error = outcome.error {
            continuation.finish(throwing: error)
        } else if framer.hasPartialValue {
            continuation.finish(throwing: KubeError.invalidResponse("watch stream ended inside an event"))
        } else {
            continuation.finish()  // the server closed the watch (timeoutSeconds, or its own limit)
        }
    }
}
