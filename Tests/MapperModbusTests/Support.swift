import Bus
import EdgeProtocol
import Foundation
import Logging
import Mapper
@testable import MapperModbusService
import TestSupport

/// Runs the framework with the Modbus plug-in in this process (logs captured).
struct InProcessMapper {
    let bus: BusClient
    let runtime: MapperRuntime
    let log: LogCapture
    let loop: Task<Void, Never>

    init(broker: Broker, backoff: BackoffPolicy = BackoffPolicy(initial: .milliseconds(100), maximum: .seconds(1)))
        async throws
    {
        log = LogCapture()
        bus = try BusClient(
            BusConfiguration(endpoint: try BusEndpoint(parsing: broker.address), clientID: "mapper-\(UUID())",
                             cleanSession: true),
            logger: log.logger)
        try bus.start()
        try await bus.waitUntilConnected()
        runtime = MapperRuntime(
            plugin: ModbusPlugin(defaultTimeout: .milliseconds(500)), sink: BusSink(bus: bus, logger: log.logger),
            logger: log.logger, settings: .init(backoff: backoff))
        try await bus.subscribe(MapperRuntime.subscriptions)
        let (bus, runtime) = (self.bus, self.runtime)
        loop = Task {
            for await message in bus.messages { try? await runtime.handle(message) }
        }
    }

    func load(yaml: String) throws {
        runtime.replaceFileDevices(SpecParser().devices(in: try SpecDocuments.load(yaml: yaml)))
    }

    func stop() async {
        await runtime.stopAll()
        await bus.close()
        loop.cancel()
    }
}
