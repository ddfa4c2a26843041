import ArgumentParser
import ServiceKit

/// The flags every mapper service has: where devices come from besides the bus, reconnect back-off, the shortest
/// collect cycle, and how often the devices file is checked.
public struct MapperOptions: ParsableArguments, Sendable {
    @Option(name: .customLong("devices"), help: ArgumentHelp(
        "YAML file of Device and DeviceModel manifests (multi-document) to run besides those from the bus.",
        valueName: "file"))
    public var devices: String?

    @Option(name: .customLong("reconnect-min-ms"), help: "First wait before reconnecting to a device that failed.")
    public var reconnectMinMs = 250

    @Option(name: .customLong("reconnect-max-ms"), help: "Longest wait between reconnects (doubling from the first).")
    public var reconnectMaxMs = 5000

    @Option(name: .customLong("min-collect-cycle-ms"), help: "Shortest collect cycle a polled property may ask for.")
    public var minCollectCycleMs = 10

    @Option(name: .customLong("file-check-ms"), help: "How often the --devices file is checked for changes.")
    public var fileCheckMs = 2000

    public init() {}

    /// Runs the plug-in's devices for the service's life (see `MapperRuntime.serve`).
    public func serve(_ context: ServiceContext, plugin: any MapperPlugin) async throws {
        let settings = MapperRuntime.Settings(
            parser: SpecParser(minimumCollectCycle: .milliseconds(minCollectCycleMs)),
            backoff: BackoffPolicy(initial: .milliseconds(reconnectMinMs), maximum: .milliseconds(reconnectMaxMs)))
        try await MapperRuntime.serve(context, plugin: plugin, settings: settings, devicesFile: devices,
                                      fileCheckInterval: .milliseconds(fileCheckMs))
    }
}
