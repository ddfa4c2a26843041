import Bus
import EdgeProtocol
import Logging
import ServiceLifecycle

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

/// Keeps the bus connection for the whole life of the process: connects on start, and on graceful shutdown (after the
/// service itself has finished) announces `offline`, drains outstanding publishes and disconnects.
struct BusConnection: Service {
    let bus: BusClient

    func run() async throws {
        try bus.start()
        // Wait for SIGTERM/SIGINT (or cancellation), then close cleanly.
        try? await gracefulShutdown()
        await bus.close()
    }
}

/// The service's own work, as a `Service` for the group.
struct ServiceBody: Service {
    let context: ServiceContext
    let body: @Sendable (ServiceContext) async throws -> Void

    func run() async throws {
        do {
            try await body(context)
        } catch is CancellationError {
            return  // cancelled because shutdown was asked for: a clean stop
        } catch {
            context.logger.critical("stopping: \(error)")
            throw error
        }
    }
}

public enum ServiceRunner {
    /// Runs a service until SIGTERM/SIGINT: resolves the configuration, sets up logging, joins the bus (reporting
    /// `online` on `ke/status/<service>`), runs `body`, and on a signal lets `body` finish its in-flight work before
    /// the bus connection closes. `body` should return once `gracefulShutdown()` fires (see `untilShutdown`).
    public static func run(
        _ identity: ServiceIdentity, options: BaseOptions,
        body: @escaping @Sendable (ServiceContext) async throws -> Void
    ) async throws {
        try await run(identity, options: options, prepare: { $0 }, body: body)
    }

    /// As `run(_:options:body:)`, with `prepare` called before the bus connects: the place to install a bus intake,
    /// so that messages the broker kept for this service's session are taken by it from the first one on.
    public static func run<Prepared: Sendable>(
        _ identity: ServiceIdentity, options: BaseOptions,
        prepare: (ServiceContext) throws -> Prepared,
        body: @escaping @Sendable (Prepared) async throws -> Void
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
        // Services shut down in reverse order: the body first, then the bus connection it publishes through.
        let group = ServiceGroup(
            configuration: .init(
                services: [
                    .init(service: BusConnection(bus: bus)),
                    .init(service: ServiceBody(context: context) { _ in try await body(prepared) },
                          successTerminationBehavior: .gracefullyShutdownGroup),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint],
                cancellationSignals: [],
                logger: logger))
        try await group.run()
        logger.info("stopped")
    }

    /// For services with nothing to do but be present: waits until shutdown is requested.
    public static func untilShutdown() async {
        try? await gracefulShutdown()
    }
}
