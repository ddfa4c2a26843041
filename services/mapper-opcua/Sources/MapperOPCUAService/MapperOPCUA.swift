import ArgumentParser
import Bus
import EdgeProtocol
import Logging
import Mapper
import ServiceKit

public enum MapperOPCUA: ServiceDescription {
    public static let identity = ServiceIdentity(name: "mapper-opcua", side: .edge)
    public static let abstract = "Edge: OPC UA devices as KubeEdge device twins."
}

/// `mapper-opcua`: runs the OPC UA devices of this node with its own OPC UA binary client (opc.tcp, SecurityPolicy
/// None or Basic256Sha256, anonymous or user-name login). Learns devices from the edge bus (`ke/devices/{id}`) and, with
/// `--devices <file>`, from a local YAML file of Device and DeviceModel manifests, re-read when it changes.
public struct MapperOPCUACommand: AsyncParsableCommand, Sendable {
    public static let configuration = CommandConfiguration(
        commandName: MapperOPCUA.identity.name,
        abstract: MapperOPCUA.abstract,
        discussion: """
            Subscribes to each property's node (values arrive on $hw/events/device/<id>/twin/update within one \
            publishing interval of a change; `subscribe: false` in a visitor polls it every collect cycle instead), \
            writes desired values from $hw/events/device/<id>/twin/update/delta with the node's own data type and \
            reads them back, and reports online/offline on $hw/events/device/<id>/state/update, reconnecting by \
            itself. Devices come from the edge bus (ke/devices/<id>) and from --devices; their protocol config is \
            KubeEdge's (url, userName, password, securityPolicy None or Basic256Sha256, securityMode Sign or \
            SignAndEncrypt, certificate and privateKey files (the client's, PEM or DER, required with \
            Basic256Sha256), timeout; visitors nodeID or browseName). Every flag can also be set in the --config file (the 'mapper-opcua' \
            section, as the flag's name in camelCase: devices, timeoutMs, ...).
            """)

    @OptionGroup public var options: BaseOptions

    @OptionGroup public var mapper: MapperOptions

    @Option(name: .customLong("timeout-ms"), help: "A request's timeout, unless the device's protocol config sets one.")
    public var timeoutMs = 5000

    @Option(name: .customLong("publishing-interval-ms"), help: "Publishing interval of the subscriptions.")
    public var publishingIntervalMs = 200

    @Option(name: .customLong("channel-lifetime-ms"),
            help: "Secure channel lifetime to ask for; the token is renewed at three quarters of what is granted.")
    public var channelLifetimeMs = 600_000

    public init() {}

    public func run() async throws {
        let command = self
        try await ServiceRunner.run(MapperOPCUA.identity, options: options) { context in
            try await command.serve(context)
        }
    }

    func serve(_ context: ServiceContext) async throws {
        let plugin = OPCUAPlugin(defaultTimeout: .milliseconds(timeoutMs),
                                 publishingInterval: .milliseconds(publishingIntervalMs),
                                 channelLifetime: .milliseconds(channelLifetimeMs))
        try await mapper.serve(context, plugin: plugin)
    }
}
