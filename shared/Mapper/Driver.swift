import EdgeProtocol

/// Talks to one device for the framework. Calls come from that device's worker only, one at a time; each call must
/// be bounded in time (the driver's own timeouts) and must not block the cooperative thread pool (run blocking C
/// calls on the driver's own thread or queue).
public protocol DeviceDriver: Sendable {
    /// Opens the link to the device. Throws (with a clear reason) when it cannot.
    func connect() async throws
    /// Closes the link; the worker calls `connect` again later.
    func disconnect() async
    /// Reads one property and converts it to its twin value. Throw `PropertyFailure` when the device answered but
    /// refused the request (e.g. a Modbus exception): the device stays online. Any other error means the link is
    /// broken: the device goes offline and is reconnected.
    func read(_ property: PropertySpec) async throws -> TwinReading
    /// Converts the twin value and writes it. Errors as for `read`.
    func write(_ property: PropertySpec, value: String) async throws
    /// Asks the device to push changes of these properties (OPC UA subscriptions) instead of being polled, after a
    /// successful `connect`. Returns the names it now pushes; they are not polled until the next connect. `deliver`
    /// publishes pushed readings; `linkLost` tells the worker the link broke outside a read or write. The default
    /// pushes nothing.
    func subscribe(_ properties: [PropertySpec], deliver: @escaping @Sendable ([TwinReading]) async -> Void,
                   linkLost: @escaping @Sendable (String) -> Void) async throws -> Set<String>
}

extension DeviceDriver {
    public func subscribe(_ properties: [PropertySpec], deliver: @escaping @Sendable ([TwinReading]) async -> Void,
                          linkLost: @escaping @Sendable (String) -> Void) async throws -> Set<String> {
        []
    }
}

/// The device answered but could not do what was asked for one property (wrong address, bad value, read-only).
public struct PropertyFailure: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A protocol plug-in: checks a device's config and makes its driver.
public protocol MapperPlugin: Sendable {
    /// The protocol this mapper handles (`modbus`): devices of other protocols are ignored.
    var protocolName: String { get }
    /// Checks the device's protocol config and visitors. Throws for a device-level error (no address, unknown
    /// transport); a property that cannot be used is left out and reported in `problems`.
    func prepare(_ device: DeviceSpec) throws(SpecError) -> PreparedDevice
}

public struct PreparedDevice: Sendable {
    public var driver: any DeviceDriver
    /// The properties the driver can serve.
    public var properties: [PropertySpec]
    /// Properties left out, with the reason.
    public var problems: [String]

    public init(driver: any DeviceDriver, properties: [PropertySpec], problems: [String]) {
        self.driver = driver
        self.properties = properties
        self.problems = problems
    }
}

/// Where the framework publishes (the edge bus in production; benchmarks wrap it to measure).
public protocol MapperSink: Sendable {
    func publish(_ topic: String, _ payload: [UInt8]) async
}
