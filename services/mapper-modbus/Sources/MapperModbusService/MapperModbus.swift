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
public struct MapperModbusCommand: AsyncParsableCommand, Sendable {
    public static let configuration = CommandConfiguration(
        commandName: MapperModbus.identity.name,
        abstract: MapperModbus.abstract,
        discussion: """
            Publishes each property's value on $hw/events/device/<id>/twin/update every collect cycle, writes \
            desired values from $hw/events/device/<id>/twin/update/delta to the device and reads them back, and \
            reports online/offline on $hw/events/device/<id>/state/update. Devices come from the edge bus \
            (ke/devices/<id>) and from --devices. Every flag can also be set in the --config file (its own in \
            the 'mapper-modbus' section, as the flag's name in camelCase: devices, timeoutMs, ...).
            """)

    @OptionGroup public var options: BaseOptions

    @OptionGroup public var mapper: MapperOptions

    @Option(name: .customLong("timeout-ms"), help: "A device's response timeout, unless its protocol config sets one.")
    public var timeoutMs = 1000

    public init() {}

    public func run() async throws {
        let command = self
        try await ServiceRunner.run(MapperModbus.identity, options: options) { context in
            try await command.serve(context)
        }
    }

    func serve(_ context: ServiceContext) async throws {
        try await mapper.serve(context, plugin: ModbusPlugin(defaultTimeout: .milliseconds(timeoutMs)))
    }
}
