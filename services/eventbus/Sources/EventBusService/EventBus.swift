import ArgumentParser
import Bus
import EdgeProtocol
import Foundation
import Logging
import ServiceKit
import ServiceLifecycle
import Store
import Synchronization

public enum EventBus: ServiceDescription {
    public static let identity = ServiceIdentity(name: "eventbus", side: .edge)
    public static let abstract = "Edge: the device and app MQTT surface (KubeEdge eventbus)."
}

public struct EventBusOptions: ParsableArguments, Sendable {
    @Option(name: .customLong("device-broker"),
            help: "The MQTT broker of devices and apps (host:port or a unix socket); default: the edge bus itself.")
    public var deviceBroker: String?

    @Option(name: .customLong("device-broker-user")) public var deviceBrokerUser: String?
    @Option(name: .customLong("device-broker-password")) public var deviceBrokerPassword: String?

    @Option(name: .customLong("max-payload"), help: "Largest device or app payload accepted, in bytes.")
    public var maxPayload = 1 << 20

    public init() {}
}

public struct EventBusCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "eventbus", abstract: EventBus.abstract,
        discussion: """
            Subscribes to KubeEdge's device and app topics on the device broker ($hw/events/..., \
            SYS/dis/upload_records, +/user/#, and what the cloud asks for), hands device events to twin (ke/twin/in), \
            uploads to the cloud (ke/up), and publishes twin's outputs (ke/twin/out) and the cloud's publishes \
            (ke/down/eventbus) on the device broker. Malformed device traffic gets an error result (code 400).
            """)

    @OptionGroup public var options: BaseOptions
    @OptionGroup public var eventbus: EventBusOptions

    public init() {}

    public func run() async throws {
        let eventbus = self.eventbus
        try await ServiceRunner.run(EventBus.identity, options: options, services: { context in
            try await EventBusServer(context: context, options: eventbus).services()
        })
    }
}

/// The running eventbus: the edge bus (twin, hub) and the device broker (the same connection by default).
public final class EventBusServer: Sendable {
    let context: ServiceContext
    let options: EventBusOptions
    let logger: Logger
    /// nil: the device broker is the edge bus.
    let deviceBus: BusClient?
    let subscriptions: Mutex<SubscriptionStore>

    public init(context: ServiceContext, options: EventBusOptions) throws {
        self.context = context
        self.options = options
        self.logger = context.logger
        if let address = options.deviceBroker {
            var configuration = BusConfiguration(
                endpoint: try BusEndpoint(parsing: address), clientID: "ke-eventbus-devices-\(context.nodeName)",
                username: options.deviceBrokerUser, password: options.deviceBrokerPassword)
            configuration.cleanSession = false
            deviceBus = try BusClient(configuration, logger: context.logger)
        } else {
            deviceBus = nil
        }
        try FileManager.default.createDirectory(atPath: context.config.dataDir, withIntermediateDirectories: true)
        subscriptions = Mutex(try SubscriptionStore(path: context.config.dataDir + "/eventbus.db"))
    }

    var devices: BusClient { deviceBus ?? context.bus }

    /// eventbus's parts, stopped in reverse order on SIGTERM: the edge bus messages already received, then those of
    /// the device broker.
    public func services() async throws -> [any Service] {
        let bus = context.bus
        try await bus.waitUntilConnected(timeout: .seconds(3600))
        if let deviceBus {
            try deviceBus.start()
            try await deviceBus.waitUntilConnected(timeout: .seconds(3600))
        }
        let dynamic = try subscriptions.withLock { try $0.all() }
        try await devices.subscribe(Topics.eventBusSubscriptions + dynamic)
        try await bus.subscribe([Topics.down(.eventbus), Topics.twinOut])
        logger.info("serving", metadata: [
            "device_broker": "\(options.deviceBroker ?? "the edge bus")", "dynamic_subscriptions": "\(dynamic.count)",
        ])
        var parts: [any Service] = []
        if let deviceBus {
            // First, so that it stops last: the external device broker's messages already received are handled.
            parts.append(PartService.draining("device broker") {
                await withGracefulShutdownHandler {
                    for await message in deviceBus.messages { await self.handleSafely(message, fromDevices: true) }
                } onGracefulShutdown: {
                    deviceBus.finishReceiving()
                }
                await deviceBus.close()
            })
        }
        parts.append(MessageLoopService(context) { message in
            try await self.handle(message, fromDevices: self.deviceBus == nil)
        })
        return parts
    }

    private func handleSafely(_ message: BusMessage, fromDevices: Bool) async {
        do {
            try await handle(message, fromDevices: fromDevices)
        } catch {
            logger.error("failed to handle message", metadata: ["topic": "\(message.topic)", "reason": "\(error)"])
        }
    }

    func handle(_ message: BusMessage, fromDevices: Bool) async throws {
        if message.topic == Topics.down(.eventbus) || message.topic == Topics.twinOut {
            guard let envelope = message.envelope(orLogTo: logger) else { return }
            try await perform(BrokerAction.from(envelope), for: envelope, from: message.topic)
            return
        }
        guard fromDevices else { return }
        switch DeviceTraffic.classify(topic: message.topic, payload: message.payload, maxPayload: options.maxPayload,
                                      now: Message.nowMillis()) {
        case .toTwin(let envelope):
            try await context.bus.publish(Topics.twinIn, envelope)
        case .toCloud(let envelope):
            try await context.bus.publish(Topics.up, envelope)
        case .rejected(let resultTopic, let result, let reason):
            logger.warning("refused device message", metadata: [
                "topic": "\(message.topic)", "reason": "\(reason)", "bytes": "\(message.payload.count)",
            ])
            if let resultTopic { try await devices.publish(resultTopic, result) }
        }
    }

    private func perform(_ action: BrokerAction, for envelope: Message, from topic: String) async throws {
        switch action {
        case .publish(let target, let payload):
            try await devices.publish(target, payload)
        case .subscribe(let filter):
            try subscriptions.withLock { try $0.add(filter) }
            try await devices.subscribe([filter])
            logger.info("subscribed for the cloud", metadata: ["topic": "\(filter)"])
        case .unsubscribe(let filter):
            try subscriptions.withLock { try $0.remove(filter) }
            devices.unsubscribe([filter])
            logger.info("unsubscribed for the cloud", metadata: ["topic": "\(filter)"])
        case .ignore(let reason):
            logger.warning("ignored message", metadata: [
                "topic": "\(topic)", "operation": "\(envelope.route.operation)", "reason": "\(reason)",
            ])
        }
    }
}

/// The topics the cloud asked eventbus to subscribe to, kept across restarts.
final class SubscriptionStore {
    let db: SQLiteDatabase

    init(path: String) throws {
        db = try SQLiteDatabase(path: path)
        try db.execute("CREATE TABLE IF NOT EXISTS sub_topics(topic TEXT PRIMARY KEY) WITHOUT ROWID")
    }

    func all() throws -> [String] {
        try db.query("SELECT topic FROM sub_topics ORDER BY topic", []) { row in row.string(0) ?? "" }
    }

    func add(_ topic: String) throws { _ = try db.run("INSERT OR IGNORE INTO sub_topics(topic) VALUES (?1)", .text(topic)) }
    func remove(_ topic: String) throws { _ = try db.run("DELETE FROM sub_topics WHERE topic = ?1", .text(topic)) }
}
