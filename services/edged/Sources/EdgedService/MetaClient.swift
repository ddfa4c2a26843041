import Bus
import EdgeProtocol
import Synchronization

/// edged's requests to meta over the edge bus (`ke/meta/in`), each answered on `ke/edged/in` by a message whose
/// `parent_msg_id` is the request's id. Requests time out: meta or the cloud may be gone.
public final class MetaClient: Sendable {
    public static let source = "edged"
    public static let group = "meta"

    let bus: BusClient
    let waiting = Mutex([String: CheckedContinuation<Message?, Never>]())

    public init(bus: BusClient) {
        self.bus = bus
    }

    /// Sends without waiting for an answer (status patches: meta and hub deliver them, also after an outage).
    public func send(operation: String, resource: String, content: RawJSON = .null) async throws {
        try await bus.publish(Topics.metaIn, Message(source: Self.source, group: Self.group, operation: operation,
                                                     resource: resource, content: content))
    }

    /// Sends and waits for the answer; nil when none came within `timeout`.
    public func request(operation: String, resource: String, content: RawJSON = .null,
                        timeout: Duration = .seconds(15)) async throws -> Message? {
        let message = Message(source: Self.source, group: Self.group, operation: operation, resource: resource,
                              content: content)
        let id = message.header.id
        return await withCheckedContinuation { continuation in
            waiting.withLock { $0[id] = continuation }
            Task {
                do {
                    try await bus.publish(Topics.metaIn, message)
                } catch {
                    self.resolve(id, with: nil)
                    return
                }
                try? await Task.sleep(for: timeout)
                self.resolve(id, with: nil)
            }
        }
    }

    /// An answer from meta: wakes the request waiting for it. False when nobody waits (a late answer).
    @discardableResult
    public func deliver(_ message: Message) -> Bool {
        resolve(message.header.parentID, with: message)
    }

    @discardableResult
    func resolve(_ id: String, with message: Message?) -> Bool {
        guard let continuation = waiting.withLock({ $0.removeValue(forKey: id) }) else { return false }
        continuation.resume(returning: message)
        return true
    }

    /// The objects of an answer: KubeEdge's local form (an array of JSON strings), an `ObjectResp`, or one object.
    public static func objects(in answer: Message) -> [JSONValue] {
        guard answer.route.operation == "response", let content = try? answer.content.parsed() else { return [] }
        if let items = content.arrayValue {
            return items.compactMap { item in
                if case .string(let text) = item { return try? JSONValue(parsing: Array(text.utf8)) }
                return item.isObject ? item : nil
            }
        }
        if content["Object"] != nil || content["Err"] != nil {
            guard content["Err"] == nil || content["Err"] == .null else { return [] }
            if let object = content["Object"], object.isObject { return [object] }
            return []
        }
        // cloudcore sends a failed query's error as the content itself (`{"ErrStatus": Status}`).
        return content.isObject && content["ErrStatus"] == nil ? [content] : []
    }

    /// A failure an answer reports: an `error` message's text, an `ObjectResp`'s `Err`, or a bare `{"ErrStatus"}`.
    public static func failure(in answer: Message) -> String? {
        if answer.route.operation == "error" { return answer.content.stringValue ?? answer.content.text }
        guard let content = try? answer.content.parsed() else { return nil }
        if let status = content["ErrStatus"] { return status.string(at: "message") ?? "\(status)" }
        guard let err = content["Err"], err != .null else { return nil }
        return err.string(at: "ErrStatus.message") ?? "\(err)"
    }
}
