import Bus
import EdgeProtocol
import Logging
import ServiceLifecycle
import Synchronization

/// What a service gets to do its work.
public struct ServiceContext: Sendable {
    public let config: ServiceConfig
    public let bus: BusClient
    public let logger: Logger

    public init(config: ServiceConfig, bus: BusClient, logger: Logger) {
        self.config = config
        self.bus = bus
        self.logger = logger
    }

    public var nodeName: String { config.nodeName }
    public var identity: ServiceIdentity { config.identity }
}

/// Keeps the bus connection for the whole life of the process. It is the group's first service, so it stops last:
/// after every other part has finished its in-flight work, it announces `offline`, drains outstanding publishes and
/// disconnects.
struct BusConnection: Service {
    let bus: BusClient

    func run() async throws {
        // Started here, once the group handles signals: `online` is never announced by a process SIGTERM would kill.
        try bus.start()
        try? await gracefulShutdown()
        await bus.close()
    }
}

/// A long-running part of a service. `.loop`: nothing in flight worth finishing (timers, reconnect loops,
/// watches that resume from their cursor), cancelled when the group shuts down. `.draining`: watches
/// `gracefulShutdown()` itself and finishes its in-flight work. Either way a `CancellationError` is a clean stop.
public struct PartService: Service, CustomStringConvertible {
    public enum Stop: Sendable { case cancel, drain }
    public let description: String
    let stop: Stop
    let body: @Sendable () async throws -> Void

    public init(_ name: String, stop: Stop, _ body: @escaping @Sendable () async throws -> Void) {
        description = name
        self.stop = stop
        self.body = body
    }

    public func run() async throws {
        do {
            switch stop {
            case .cancel: try await cancelWhenGracefulShutdown { try await body() }
            case .drain: try await body()
            }
        } catch is CancellationError {
            return
        }
    }
}

extension PartService {
    public static func loop(_ name: String, _ body: @escaping @Sendable () async throws -> Void) -> PartService {
        PartService(name, stop: .cancel, body)
    }

    public static func draining(_ name: String, _ body: @escaping @Sendable () async throws -> Void) -> PartService {
        PartService(name, stop: .drain, body)
    }
}

/// The service's bus messages, handled in order; on graceful shutdown the ones already received are finished first.
public struct MessageLoopService: Service, CustomStringConvertible {
    public var description: String { "bus messages" }
    let context: ServiceContext
    let handle: @Sendable (BusMessage) async throws -> Void

    public init(_ context: ServiceContext, _ handle: @escaping @Sendable (BusMessage) async throws -> Void) {
        self.context = context
        self.handle = handle
    }

    public func run() async throws {
        await context.handleMessages(handle)
    }
}

/// A part's failure stops the process (after the others shut down), and is logged with the part's name.
struct LoggedService: Service {
    let inner: any Service
    let logger: Logger

    func run() async throws {
        do {
            try await inner.run()
        } catch is CancellationError {
            return
        } catch {
            logger.critical("stopping: \(error)", metadata: ["part": "\(inner)"])
            throw error
        }
    }
}

final class GroupHolder: Sendable {
    private let group = Mutex<ServiceGroup?>(nil)
    func set(_ value: ServiceGroup) { group.withLock { $0 = value } }
    func get() -> ServiceGroup? { group.withLock { $0 } }
}

/// Builds the service's parts (waiting for what they need, cancellable by SIGTERM), adds them to the group, then
/// stays until shutdown: the parts, added after it, stop before it.
struct Starter: Service {
    let build: @Sendable () async throws -> [any Service]
    let holder: GroupHolder
    let logger: Logger

    func run() async throws {
        let parts: [any Service]
        do {
            parts = try await cancelWhenGracefulShutdown { try await build() }
        } catch is CancellationError {
            return
        } catch {
            logger.critical("stopping: \(error)")
            throw error
        }
        guard let group = holder.get() else { return }
        for part in parts {
            await group.addServiceUnlessShutdown(.init(
                service: LoggedService(inner: part, logger: logger),
                successTerminationBehavior: .gracefullyShutdownGroup,
                failureTerminationBehavior: .gracefullyShutdownGroup))
        }
        try? await gracefulShutdown()
    }
}

public enum ServiceRunner {
    /// How long in-flight work may take to finish after SIGTERM before what is left is cancelled.
    public static let drainBound: Duration = .seconds(10)

    /// Runs a service until SIGTERM/SIGINT: resolves the configuration, sets up logging, joins the bus (reporting
    /// `online` on `ke/status/<service>`), then runs the parts `services` returns in ONE ServiceGroup. On a signal the
    /// parts stop in reverse order: each stops taking new work and finishes what is in flight (within `drainBound`),
    /// then the bus announces `offline` and closes. `prepare` runs before the bus connects: the place to install a
    /// bus intake, so that messages the broker kept for this service's session are taken from the first one on.
    public static func run<Prepared: Sendable>(
        _ identity: ServiceIdentity, options: BaseOptions,
        prepare: (ServiceContext) throws -> Prepared,
        services: @escaping @Sendable (Prepared) async throws -> [any Service]
    ) async throws {
        let config = try ServiceConfig(identity: identity, options: options)
        LogSetup.bootstrap(level: config.logLevel)
        var logger = Logger(label: identity.name)
        logger[metadataKey: "node"] = "\(config.nodeName)"
        let bus = try BusClient(config.busConfiguration, logger: logger)
        let context = ServiceContext(config: config, bus: bus, logger: logger)
        let prepared = try prepare(context)
        logger.info("starting", metadata: [
            "side": "\(identity.side.rawValue)", "broker": "\(config.broker)", "data_dir": "\(config.dataDir)",
        ])
        // The parts are built by a starter inside the group, so that SIGTERM is handled from the first moment on
        // (a service waiting for its broker or its kubeconfig stops cleanly too).
        let holder = GroupHolder()
        var configuration = ServiceGroupConfiguration(
            services: [
                .init(service: BusConnection(bus: bus)),
                .init(service: Starter(build: { try await services(prepared) }, holder: holder, logger: logger),
                      successTerminationBehavior: .ignore, failureTerminationBehavior: .gracefullyShutdownGroup),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint],
            cancellationSignals: [],
            logger: logger)
        configuration.maximumGracefulShutdownDuration = drainBound
        configuration.maximumCancellationDuration = .seconds(5)
        let group = ServiceGroup(configuration: configuration)
        holder.set(group)
        try await group.run()
        logger.info("stopped")
    }

    /// As `run(_:options:prepare:services:)` without a prepare step.
    public static func run(
        _ identity: ServiceIdentity, options: BaseOptions,
        services: @escaping @Sendable (ServiceContext) async throws -> [any Service]
    ) async throws {
        try await run(identity, options: options, prepare: { $0 }, services: services)
    }

    /// For a service whose work is one body that returns once `gracefulShutdown()` fires.
    public static func run(
        _ identity: ServiceIdentity, options: BaseOptions,
        body: @escaping @Sendable (ServiceContext) async throws -> Void
    ) async throws {
        try await run(identity, options: options, prepare: { $0 }) { context in
            [PartService.draining(identity.name) { try await body(context) }]
        }
    }

    /// For services with nothing to do but be present: waits until shutdown is requested.
    public static func untilShutdown() async {
        try? await gracefulShutdown()
    }
}
