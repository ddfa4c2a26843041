import ArgumentParser
import Bus
import EdgeProtocol
import Foundation
import Hummingbird
import Logging
import ServiceKit
import ServiceLifecycle
import Synchronization

public enum Meta: ServiceDescription {
    public static let identity = ServiceIdentity(name: "meta", side: .edge)
    public static let abstract = "Edge: local metadata store of the node's pods, configmaps and secrets (KubeEdge metamanager)."
}

public struct MetaCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "meta", abstract: Meta.abstract,
        discussion: """
            Stores the objects the cloud sends this node (ke/down/meta) in SQLite (KubeEdge's meta table, \
            <data-dir>/meta.db), acknowledges each once it is stored and hands it to edged (ke/edged/in). Relays \
            edged's requests (ke/meta/in) to the cloud, or answers them from the store while the cloud is unreachable.
            """)

    @OptionGroup public var options: BaseOptions

    @Option(name: .customLong("remote-query-timeout-ms"),
            help: "A query the cloud has not answered in this time is answered from the local store.")
    public var remoteQueryTimeoutMs: Int64 = 10_000

    @Option(name: .customLong("metaserver-address"),
            help: "host:port of the local read API (list/get/watch of pods, configmaps, secrets, services, nodes) for apps on the node; empty: off.")
    public var metaServerAddress: String = "127.0.0.1:10550"

    public init() {}

    public func run() async throws {
        let timeout = remoteQueryTimeoutMs
        let address = metaServerAddress
        try await ServiceRunner.run(Meta.identity, options: options, services: { context in
            try await MetaServer(context: context, remoteQueryTimeoutMillis: timeout, apiAddress: address).services()
        })
    }
}

/// The running meta service: the engine behind a lock, fed by the bus.
public final class MetaServer: Sendable {
    final class Core: @unchecked Sendable {
        // @unchecked: only used inside `engine`'s Mutex.
        let engine: MetaEngine
        init(engine: MetaEngine) { self.engine = engine }
    }

    let context: ServiceContext
    let logger: Logger
    let core: Mutex<Core>
    let apiAddress: String
    let events = MetaEvents()

    public init(context: ServiceContext, remoteQueryTimeoutMillis: Int64 = 10_000, apiAddress: String = "") throws {
        self.context = context
        self.apiAddress = apiAddress
        self.logger = context.logger
        try FileManager.default.createDirectory(atPath: context.config.dataDir, withIntermediateDirectories: true)
        let store = try MetaStore(path: context.config.dataDir + "/meta.db")
        core = Mutex(Core(engine: MetaEngine(store: store, remoteQueryTimeoutMillis: remoteQueryTimeoutMillis)))
    }

    /// meta's parts, stopped in reverse order on SIGTERM: the query timer is cancelled, MetaServer finishes its
    /// requests, then the message being stored (and those already received) is finished and ACKed.
    public func services() async throws -> [any Service] {
        let bus = context.bus
        try await bus.waitUntilConnected(timeout: .seconds(3600))
        try await bus.subscribe([Topics.down(.meta), Topics.metaIn, Topics.hubLink])
        let objects = try core.withLock { try $0.engine.store.count() }
        logger.info("serving", metadata: ["objects": "\(objects)"])
        var parts: [any Service] = [MessageLoopService(context) { message in try await self.handle(message) }]
        if let (host, port) = Self.split(apiAddress) {
            parts.append(PartService.draining("metaserver") { try await self.serveAPI(host: host, port: port) })
        }
        parts.append(PartService.loop("remote query timer") {
            // Overdue remote queries are answered locally.
            while !Task.isCancelled {
                try await Task.sleep(for: .milliseconds(500))
                let outputs = try self.core.withLock { try $0.engine.expire(now: Message.nowMillis()) }
                try await self.publish(outputs)
            }
        })
        return parts
    }

    static func split(_ address: String) -> (String, Int)? {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]) else { return nil }
        return (String(address[..<colon]), port)
    }

    /// The local read API (KubeEdge's MetaServer), from the store.
    func serveAPI(host: String, port: Int) async throws {
        let api = MetaAPI(
            store: { type in
                try self.core.withLock { core in
                    try core.engine.store.values(ofType: type).compactMap { try? JSONValue(parsing: Array($0.utf8)) }
                        .filter(\.isObject)
                }
            },
            events: events)
        var logger = self.logger
        logger.logLevel = .warning
        let app = Application(router: api.router(), configuration: .init(address: .hostname(host, port: port)), logger: logger)
        self.logger.info("metaserver listening", metadata: ["address": "\(host):\(port)"])
        do {
            try await app.run()
        } catch {
            // Without its read API meta still does its main work: say so and carry on.
            self.logger.error("metaserver is off: \(error)", metadata: ["address": "\(host):\(port)"])
            await ServiceRunner.untilShutdown()
        }
    }

    func handle(_ message: BusMessage) async throws {
        let now = Message.nowMillis()
        let outputs: [MetaEngine.Output]
        switch message.topic {
        case Topics.hubLink:
            let connected = message.text == "connected"
            logger.info(connected ? "cloud reachable" : "cloud unreachable: answering from the local store")
            outputs = try core.withLock { core in
                if connected {
                    core.engine.setCloudConnected(true)
                    return []
                }
                return try core.engine.cloudLost(now: now)
            }
        case Topics.down(.meta):
            let envelope = try message.envelope()
            outputs = try core.withLock { try $0.engine.handleCloud(envelope) }
            // Applied objects (handed to edged) are changes for the local API's watches.
            if envelope.header.parentID.isEmpty, outputs.contains(where: { $0.topic == Topics.edgedIn }),
               let object = try? envelope.content.parsed() {
                let type = ObjectResource.type(of: envelope.route.resource)
                switch envelope.route.operation {
                case "insert": events.publish(.init(type: "ADDED", resourceType: type, object: object))
                case "update": events.publish(.init(type: "MODIFIED", resourceType: type, object: object))
                case "delete": events.publish(.init(type: "DELETED", resourceType: type, object: object))
                default: break
                }
            }
            logger.debug("from cloud", metadata: ["resource": "\(envelope.route.resource)", "operation": "\(envelope.route.operation)"])
        case Topics.metaIn:
            let envelope = try message.envelope()
            outputs = try core.withLock { try $0.engine.handleEdged(envelope, now: now) }
            logger.debug("from edged", metadata: ["resource": "\(envelope.route.resource)", "operation": "\(envelope.route.operation)"])
        default:
            return
        }
        try await publish(outputs)
    }

    func publish(_ outputs: [MetaEngine.Output]) async throws {
        for output in outputs { try await context.bus.publish(output.topic, output.message) }
    }
}
