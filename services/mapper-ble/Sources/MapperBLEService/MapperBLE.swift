import ArgumentParser
import BLE
import Logging
import Mapper
import ServiceKit

public enum MapperBLE: ServiceDescription {
    public static let identity = ServiceIdentity(name: "mapper-ble", side: .edge)
    public static let abstract = "Edge: Bluetooth LE devices as KubeEdge device twins."
}

/// `mapper-ble`: runs the Bluetooth LE devices of this node with its own host stack (HCI, L2CAP, ATT, GATT client)
/// over a standard HCI transport, so no BlueZ daemon is needed. Learns devices from the edge bus (`ke/devices/{id}`)
/// and, with `--devices <file>`, from a local YAML file of Device and DeviceModel manifests.
public struct MapperBLECommand: AsyncParsableCommand, Sendable {
    public static let configuration = CommandConfiguration(
        commandName: MapperBLE.identity.name,
        abstract: MapperBLE.abstract,
        discussion: """
            Finds each device by scanning for its macAddress (or the local name it advertises, `name`), connects, \
            discovers its GATT services and reports each property's characteristic on \
            $hw/events/device/<id>/twin/update: pushed by notifications or indications when the characteristic \
            offers them, else read every collect cycle. Desired values from $hw/events/device/<id>/twin/update/delta \
            are written (dataWrite's bytes, else the value encoded by the property's type) and read back. \
            online/offline goes to $hw/events/device/<id>/state/update; a lost peripheral is found and connected \
            again by itself. Devices come from the edge bus (ke/devices/<id>) and from --devices; their config is \
            KubeEdge's (protocol bluetooth: macAddress; visitors: characteristicUUID, dataConverter with \
            startIndex/endIndex/shiftLeft/shiftRight/orderOfOperations, dataWrite). Every flag can also be set in \
            the --config file (the 'mapper-ble' section, as the flag's name in camelCase: hci, devices, ...).
            """)

    @OptionGroup public var options: BaseOptions

    @OptionGroup public var mapper: MapperOptions

    @Option(name: .customLong("hci"), help: ArgumentHelp(
        "The controller: tcp:HOST:PORT (H4 over TCP), serial:/dev/ttyX[@baud] (H4 UART, default 115200) or hci<N> (a Linux HCI user channel).",
        valueName: "transport"))
    public var hci: String = "hci0"

    @Option(name: .customLong("request-timeout-ms"), help: "An ATT request's timeout; past it the connection is dropped.")
    public var requestTimeoutMs = 5000

    @Option(name: .customLong("scan-timeout-ms"), help: "How long to scan for a device's advertisement per attempt.")
    public var scanTimeoutMs = 10_000

    @Option(name: .customLong("connect-timeout-ms"), help: "How long a connection may take once the device was seen.")
    public var connectTimeoutMs = 10_000

    public init() {}

    public func validate() throws {
        guard HCITransportSpec(hci) != nil else {
            throw ValidationError("--hci \(hci) is not tcp:HOST:PORT, serial:/dev/ttyX[@baud] or hci<N>")
        }
    }

    public func run() async throws {
        let command = self
        try await ServiceRunner.run(MapperBLE.identity, options: options) { context in
            try await command.serve(context)
        }
    }

    func serve(_ context: ServiceContext) async throws {
        guard let transport = HCITransportSpec(hci) else { throw ValidationError("--hci \(hci) is not a transport") }
        let logger = context.logger
        let host = BLEHost(
            transport: transport,
            settings: BLEHostSettings(scanTimeout: .milliseconds(scanTimeoutMs), connectTimeout: .milliseconds(connectTimeoutMs),
                                      requestTimeout: .milliseconds(requestTimeoutMs)),
            log: { problem, message in
                if problem { logger.warning("\(message)") } else { logger.info("\(message)") }
            })
        defer { host.close() }
        try await mapper.serve(context, plugin: BLEPlugin(host: host))
    }
}
