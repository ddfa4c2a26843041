import ArgumentParser

/// The flags every service accepts, so that tools and unit files can treat all services alike.
/// A flag overrides the same key of the `--config` file, which overrides the built-in default.
public struct BaseOptions: ParsableArguments, Sendable {
    @Option(name: .long, help: ArgumentHelp("YAML config file (keys: broker, brokerUser, brokerPassword, brokerTLS, nodeName, dataDir, logLevel, and a section named after the service).", valueName: "file"))
    public var config: String?

    @Option(name: .long, help: ArgumentHelp("Broker address: host:port, or a unix socket path (unix:///path or /path). Default: 127.0.0.1:1883 on the edge, 127.0.0.1:11883 in the cloud.", valueName: "address"))
    public var broker: String?

    @Option(name: .customLong("broker-user"), help: ArgumentHelp("Broker username.", valueName: "name"))
    public var brokerUser: String?

    @Option(name: .customLong("broker-password"), help: ArgumentHelp("Broker password.", valueName: "password"))
    public var brokerPassword: String?

    @Option(name: .customLong("node-name"), help: ArgumentHelp("This node's name (edge: defaults to the host name; cloud: 'cloud').", valueName: "name"))
    public var nodeName: String?

    @Option(name: .customLong("data-dir"), help: ArgumentHelp("Directory for this service's state (default /var/lib/kubeedge-swift/<service>).", valueName: "dir"))
    public var dataDir: String?

    @Option(name: .customLong("log-level"), help: ArgumentHelp("trace, debug, info, notice, warning, error or critical (default info).", valueName: "level"))
    public var logLevel: String?

    public init() {}
}
