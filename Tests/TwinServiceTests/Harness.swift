import EdgeProtocol
import Store
import Testing

@testable import TwinService

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An engine on a fresh SQLite file, deterministic event ids ("id-1", "id-2", …) and UTC `last_online`.
final class Harness {
    final class Box {
        var next = 0
        var logs: [(TwinLogLevel, String)] = []
    }

    let path: String
    let node: String
    let box = Box()
    private(set) var engine: TwinEngine

    init(node: String = "edge-node-1") throws {
        path = "/tmp/twin-test-\(Message.newID()).db"
        self.node = node
        engine = try Self.makeEngine(path: path, node: node, box: box)
    }

    deinit {
        engine.store.close()
        for suffix in ["", "-wal", "-shm"] { unlink(path + suffix) }
    }

    static func makeEngine(path: String, node: String, box: Box) throws -> TwinEngine {
        try TwinEngine(
            store: TwinStore(path: path), nodeName: node,
            makeEventID: {
                box.next += 1
                return "id-\(box.next)"
            },
            formatLastOnline: { TwinClock.utcDateTime(millis: $0) },
            log: { level, text in box.logs.append((level, text)) })
    }

    /// Closes the database and opens a new engine on the same file (as after a restart).
    func reopen() throws {
        engine.store.close()
        engine = try Self.makeEngine(path: path, node: node, box: box)
    }

    func mqtt(_ topic: String, _ payload: String, now: Int64) -> TwinOutput {
        engine.handleDeviceTopic(topic, payload: Array(payload.utf8), now: now)
    }

    /// Adds a device through a cloud membership update whose twins carry versions (the v1alpha2 shape).
    @discardableResult
    func addDevice(_ id: String, twins: String = "{}", now: Int64 = 1_000, attributes: String = "{}") throws
        -> TwinOutput
    {
        let content = try json("""
            {"event_id":"c-1","timestamp":1,"added_devices":[{"id":"\(id)","name":"\(id)","description":"d",
            "attributes":\(attributes),"twin":\(twins)}],"removed_devices":null}
            """)
        return engine.applyMembershipUpdate(content, now: now)
    }
}

func json(_ text: String) throws -> JSONValue { try JSONValue(parsing: Array(text.utf8)) }

func text(_ bytes: [UInt8]?) -> String { bytes.map { String(decoding: $0, as: UTF8.self) } ?? "<none>" }

func text(_ value: JSONValue) -> String { text(try? value.serialized()) }

/// Compact form of a JSON text (to compare against hand-written expectations).
func compact(_ s: String) -> String {
    guard let value = try? json(s) else { return "<invalid JSON>" }
    return text(value)
}

extension TwinOutput {
    var topics: [String] { deviceTopics.map(\.topic) }

    func payloadText(_ topic: String) -> String { text(payload(on: topic)) }

    func payloadJSON(_ topic: String) -> JSONValue? {
        payload(on: topic).flatMap { try? JSONValue(parsing: $0) }
    }
}
