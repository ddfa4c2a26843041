import ArgumentParser
import Bus
import EdgeProtocol
import Foundation
import Logging
import ServiceKit
import ServiceLifecycle
import Store
import Synchronization

public enum Twin: ServiceDescription {
    public static let identity = ServiceIdentity(name: "twin", side: .edge)
    public static let abstract = "Edge: device twins in SQLite, KubeEdge's $hw/events twin topics (KubeEdge devicetwin)."
}

public struct TwinCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "twin", abstract: Twin.abstract,
        discussion: """
            Keeps this node's devices and twins in SQLite (KubeEdge's tables), answers mappers and apps on the \
            $hw/events topics (through eventbus: ke/twin/in, ke/twin/out), applies the cloud's membership and desired \
            values (ke/down/twin) and the Device/DeviceModel objects meta stored (ke/twin/specs), reports changed \
            twins to the cloud (ke/up), and publishes each device's spec for the mappers (retained ke/devices/<id>).
            """)

    @OptionGroup public var options: BaseOptions

    public init() {}

    public func run() async throws {
        try await ServiceRunner.run(Twin.identity, options: options, services: { context in
            try await TwinServer(context: context).services()
        })
    }
}

/// The running twin service: the engine (confined behind a lock), the device specs, and the bus.
public final class TwinServer: Sendable {
    final class Core {
        let engine: TwinEngine
        let db: SQLiteDatabase

        init(engine: TwinEngine, db: SQLiteDatabase) {
            self.engine = engine
            self.db = db
        }
    }

    let context: ServiceContext
    let logger: Logger
    let core: Mutex<Core>

    public init(context: ServiceContext) throws {
        self.context = context
        let logger = context.logger
        self.logger = logger
        try FileManager.default.createDirectory(atPath: context.config.dataDir, withIntermediateDirectories: true)
        let db = try SQLiteDatabase(path: context.config.dataDir + "/twin.db")
        try db.execute("""
            CREATE TABLE IF NOT EXISTS device_spec(
                kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL, object BLOB NOT NULL,
                PRIMARY KEY (kind, namespace, name)) WITHOUT ROWID
            """)
        let engine = try TwinEngine(store: try TwinStore(database: db), nodeName: context.nodeName, log: { level, text in
            switch level {
            case .warning: logger.warning("\(text)")
            case .error: logger.error("\(text)")
            default: logger.info("\(text)")
            }
        })
        core = Mutex(Core(engine: engine, db: db))
    }

    /// twin's one part: its bus messages, those already received finished on SIGTERM.
    public func services() async throws -> [any Service] {
        let bus = context.bus
        try await bus.waitUntilConnected(timeout: .seconds(3600))
        try await bus.subscribe([Topics.twinIn, Topics.down(.twin), Topics.twinSpecs, Topics.hubLink])
        try await republishAllSpecs()
        let devices = core.withLock { $0.engine.devices().count }
        logger.info("serving", metadata: ["devices": "\(devices)"])
        return [MessageLoopService(context) { message in try await self.handle(message) }]
    }

    func handle(_ message: BusMessage) async throws {
        let now = Message.nowMillis()
        switch message.topic {
        case Topics.hubLink:
            // On every (re)connection, ask the cloud for the full membership (KubeEdge does the same).
            guard message.text == "connected" else { return }
            let request = core.withLock { $0.engine.membershipDetailRequest(now: now) }
            try await emit(TwinOutput(toCloud: [request]))
        case Topics.twinIn:
            let envelope = try message.envelope()
            let payload = envelope.content.stringValue.map { Array($0.utf8) } ?? envelope.content.bytes
            let output = core.withLock { $0.engine.handleDeviceTopic(envelope.route.resource, payload: payload, now: now) }
            try await emit(output)
        case Topics.down(.twin):
            let envelope = try message.envelope()
            try await handleCloud(envelope, now: now)
        case Topics.twinSpecs:
            let envelope = try message.envelope()
            try await handleSpec(envelope)
        default:
            return
        }
    }

    /// Cloud twin traffic: membership, membership detail, desired values; confirmations need nothing.
    func handleCloud(_ envelope: Message, now: Int64) async throws {
        guard envelope.header.parentID.isEmpty else { return }
        var content = (try? envelope.content.parsed()) ?? .null
        if case .string(let text) = content, let inner = try? JSONValue(parsing: Array(text.utf8)) { content = inner }
        let resource = envelope.route.resource
        let output: TwinOutput
        if resource.hasSuffix(TwinResources.membershipDetail) {
            output = core.withLock { $0.engine.applyMembershipDetail(content, now: now) }
        } else if resource.hasSuffix(TwinResources.membership) {
            output = core.withLock { $0.engine.applyMembershipUpdate(content, now: now) }
        } else if resource.hasSuffix(TwinResources.cloudUpdatedSuffix), let id = Self.deviceID(in: resource) {
            output = core.withLock { $0.engine.applyCloudUpdated(deviceID: id, content, now: now) }
        } else {
            logger.info("ignored cloud twin message", metadata: ["resource": "\(resource)", "operation": "\(envelope.route.operation)"])
            return
        }
        try await emit(output)
    }

    static func deviceID(in resource: String) -> String? {
        let segments = resource.split(separator: "/").map(String.init)
        guard let index = segments.firstIndex(of: "device"), index + 1 < segments.count else { return nil }
        return segments[index + 1]
    }

    /// Device and DeviceModel objects (resource messages `{ns}/device/{name}`, `{ns}/devicemodel/{name}`) that meta
    /// stored and acknowledged: kept for the mappers.
    func handleSpec(_ envelope: Message) async throws {
        let segments = envelope.route.resource.split(separator: "/").map(String.init)
        guard segments.count >= 3, ["device", "devicemodel"].contains(segments[segments.count - 2]),
              envelope.header.parentID.isEmpty else { return }
        let kind = segments[segments.count - 2], name = segments[segments.count - 1]
        let namespace = segments[segments.count - 3]
        let object = (try? envelope.content.parsed()) ?? .null
        let deleted = envelope.route.operation == "delete"
        let affected: [String] = try core.withLock { core in
            if deleted {
                _ = try core.db.run("DELETE FROM device_spec WHERE kind = ?1 AND namespace = ?2 AND name = ?3",
                                    .text(kind), .text(namespace), .text(name))
            } else {
                _ = try core.db.run("""
                    INSERT INTO device_spec(kind, namespace, name, object) VALUES (?1, ?2, ?3, ?4)
                    ON CONFLICT(kind, namespace, name) DO UPDATE SET object = excluded.object
                    """, .text(kind), .text(namespace), .text(name), .blob(try object.serialized()))
            }
            if kind == "device" { return [name] }
            // A model change touches every device using it.
            return try Self.specs(core.db, kind: "device").filter {
                $0.string(at: "spec.deviceModelRef.name") == name && $0.string(at: "metadata.namespace") ?? namespace == namespace
            }.compactMap { $0.string(at: "metadata.name") }
        }
        for id in affected { try await publishSpec(id) }
    }

    static func specs(_ db: SQLiteDatabase, kind: String) throws -> [JSONValue] {
        try db.query("SELECT object FROM device_spec WHERE kind = ?1 ORDER BY namespace, name", [.text(kind)]) { row in
            (try? JSONValue(parsing: row.blob(0))) ?? .null
        }
    }

    /// Retained `ke/devices/{id}`: `{"device", "model"}`, or an empty payload once the device is gone.
    func publishSpec(_ id: String) async throws {
        let payload: [UInt8] = try core.withLock { core in
            guard let device = try Self.specs(core.db, kind: "device").first(where: { $0.string(at: "metadata.name") == id })
            else { return [] }
            let modelName = device.string(at: "spec.deviceModelRef.name")
            let namespace = device.string(at: "metadata.namespace")
            let model = try Self.specs(core.db, kind: "devicemodel").first {
                $0.string(at: "metadata.name") == modelName && $0.string(at: "metadata.namespace") == namespace
            }
            return try JSONValue.object([("device", device), ("model", model ?? .null)]).serialized()
        }
        try await context.bus.publish(Topics.deviceSpec(id), payload, retain: true)
        logger.info(payload.isEmpty ? "device spec removed" : "device spec published", metadata: ["device": "\(id)"])
    }

    func republishAllSpecs() async throws {
        let ids = try core.withLock { core in
            try Self.specs(core.db, kind: "device").compactMap { $0.string(at: "metadata.name") }
        }
        for id in ids { try await publishSpec(id) }
    }

    /// Device topics through eventbus, cloud messages through hub (which queues them while the link is down).
    func emit(_ output: TwinOutput) async throws {
        for (topic, payload) in output.deviceTopics {
            let content = (try? RawJSON(validating: payload)) ?? RawJSON(string: String(decoding: payload, as: UTF8.self))
            try await context.bus.publish(Topics.twinOut, Message(source: "twin", group: "user", operation: "publish",
                                                                   resource: topic, content: content))
        }
        for message in output.toCloud {
            try await context.bus.publish(Topics.up, Message(source: message.source, group: message.group,
                                                             operation: message.operation, resource: message.resource,
                                                             content: try RawJSON(message.content)))
        }
    }
}
