import ArgumentParser
import Bus
import EdgeProtocol
import Foundation
import Logging
import ServiceKit
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

    public init() {}

    public func run() async throws {
        let timeout = remoteQueryTimeoutMs
        try await ServiceRunner.run(Meta.identity, options: options) { context in
            try await MetaServer(context: context, remoteQueryTimeoutMillis: timeout).run()
        }
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

    public init(context: ServiceContext, remoteQueryTimeoutMillis: Int64 = 10_000) throws {
        self.context = context
        self.logger = context.logger
        try FileManager.default.createDirectory(atPath: context.config.dataDir, withIntermediateDirectories: true)
        let store = try MetaStore(path: context.config.dataDir + "/meta.db")
        core = Mutex(Core(engine: MetaEngine(store: store, remoteQueryTimeoutMillis: remoteQueryTimeoutMillis)))
    }

    public func run() async throws {
        let bus = context.bus
        try await bus.waitUntilConnected(timeout: .seconds(3600))
        try await bus.subscribe([Topics.down(module: "meta"), Topics.metaIn, Topics.hubLink])
        let objects = try core.withLock { try $0.engine.store.count() }
        logger.info("serving", metadata: ["objects": "\(objects)"])
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                // Overdue remote queries are answered locally.
                while !Task.isCancelled {
                    try await Task.sleep(for: .milliseconds(500))
                    let outputs = try self.core.withLock { try $0.engine.expire(now: Message.nowMillis()) }
                    try await self.publish(outputs)
                }
            }
            group.addTask {
                await self.context.handleMessages { message in try await self.handle(message) }
            }
            try await group.next()
            group.cancelAll()
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
        case Topics.down(module: "meta"):
            let envelope = try message.envelope()
            outputs = try core.withLock { try $0.engine.handleCloud(envelope) }
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
