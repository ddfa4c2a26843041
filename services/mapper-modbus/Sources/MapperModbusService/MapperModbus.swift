import ArgumentParser
import Bus
import EdgeProtocol
import Logging
import Mapper
import ServiceKit

public enum MapperModbus: ServiceDescription {
    public static let identity = ServiceIdentity(name: "mapper-modbus", side: .edge)
    public static let abstract = "Edge: Modbus TCP/RTU devices as KubeEdge device twins."
}

/// `mapper-modbus`: runs the Modbus devices of this node. Learns them from the edge bus (`ke/devices/{id}`,
/// retained, published by twin) and, with `--devices <file>`, from a local YAML file of Device and DeviceModel
/// manifests (v1alpha2 or v1beta1, multi-document), re-read when it changes.
public struct MapperModbusCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: MapperModbus.identity.name,
        abstract: MapperModbus.abstract,
        discussion: """
            Publishes each property's value on $hw/events/device/<id>/twin/update every collect cycle, writes \
            desired values from $hw/events/device/<id>/twin/update/delta to the device and reads them back, and \
            reports online/offline on $hw/events/device/<id>/state/update. Devices come from the edge bus \
            (ke/devices/<id>) and from --devices. Service settings (section 'mapper-modbus' of --config): \
            devices (file), timeoutMs (response timeout, default 1000), reconnectMinMs (250), reconnectMaxMs \
            (5000), minCollectCycleMs (10), fileCheckMs (2000).
            """)

    @OptionGroup public var options: BaseOptions

    @Option(name: .customLong("devices"), help: ArgumentHelp(
        "YAML file of Device and DeviceModel manifests (multi-document) to run besides those from the bus.",
        valueName: "file"))
    public var devices: String?

    public init() {}

    struct Section: Decodable {
        var devices: String?
        var timeoutMs: Int?
        var reconnectMinMs: Int?
        var reconnectMaxMs: Int?
        var minCollectCycleMs: Int?
        var fileCheckMs: Int?
    }

    public func run() async throws {
        let devicesFlag = devices
        try await ServiceRunner.run(MapperModbus.identity, options: options) { context in
            let section = try context.config.section(Section.self) ?? Section()
            try await Self.serve(context, section: section, devicesFile: devicesFlag ?? section.devices)
        }
    }

    static func serve(_ context: ServiceContext, section: Section, devicesFile: String?) async throws {
        let settings = MapperRuntime.Settings(
            parser: SpecParser(minimumCollectCycle: .milliseconds(section.minCollectCycleMs ?? 10)),
            backoff: BackoffPolicy(initial: .milliseconds(section.reconnectMinMs ?? 250),
                                   maximum: .milliseconds(section.reconnectMaxMs ?? 5000)))
        let runtime = MapperRuntime(
            plugin: ModbusPlugin(defaultTimeout: .milliseconds(section.timeoutMs ?? 1000)),
            sink: BusSink(bus: context.bus, logger: context.logger), logger: context.logger, settings: settings)
        var file: ManifestFile?
        if let devicesFile {
            let manifest = ManifestFile(path: devicesFile, interval: .milliseconds(section.fileCheckMs ?? 2000))
            // A file that cannot be read at start is a startup error (clear message, non-zero exit).
            do {
                runtime.replaceFileDevices(try manifest.load(parser: settings.parser))
            } catch {
                throw ConfigError(error.description)
            }
            file = manifest
        }
        try await context.bus.subscribe(MapperRuntime.subscriptions)
        context.logger.info("serving", metadata: ["devices_file": "\(devicesFile ?? "none")"])
        let watcher = Task { [file] in
            guard let file else { return }
            try? await file.run(into: runtime, logger: context.logger)
        }
        await context.handleMessages { message in
            try await runtime.handle(message)
        }
        watcher.cancel()
        await runtime.stopAll()
    }
}
