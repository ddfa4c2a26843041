import Bus
import EdgeProtocol
import Foundation
import Logging
import Mapper
@testable import MapperModbusService
import TestSupport

/// Everything published under `$hw/events/device/`, for awaiting twin values and states.
final class DeviceEvents: Sendable {
    struct Event: Sendable, CustomStringConvertible {
        let device: String
        let kind: String  // "twin" or "state"
        let json: JSONValue
        var description: String { "\(device) \(kind) \(String(decoding: (try? json.serialized()) ?? [], as: UTF8.self))" }
    }

    /// The events, described by their last few (a timed-out wait prints the state).
    struct Log: Sendable, CustomStringConvertible {
        var all: [Event] = []
        var description: String { "\(all.count) events, the last: " + all.suffix(4).map(\.description).joined(separator: "; ") }
        func last(where match: (Event) -> Bool) -> Event? { all.last(where: match) }
        func filter(_ match: (Event) -> Bool) -> [Event] { all.filter(match) }
    }

    let client: BusClient
    let events = Watched(Log())
    private let task: Task<Void, Never>

    init(broker: Broker) async throws {
        client = try BusClient(
            BusConfiguration(endpoint: try BusEndpoint(parsing: broker.address), clientID: "events-\(UUID())",
                             cleanSession: true),
            logger: Logger(label: "events"))
        try client.start()
        try await client.waitUntilConnected()
        try await client.subscribe(["$hw/events/device/+/twin/update", "$hw/events/device/+/state/update"])
        let client = self.client
        let events = self.events
        task = Task {
            for await message in client.messages {
                let parts = message.topic.split(separator: "/")
                guard parts.count >= 6, let json = try? JSONValue(parsing: message.payload) else { continue }
                let event = Event(device: String(parts[3]), kind: String(parts[4]), json: json)
                events.update { $0.all.append(event) }
            }
        }
    }

    func close() async {
        await client.close()
        task.cancel()
    }

    static func value(_ event: Event, _ property: String) -> String? {
        event.kind == "twin" ? event.json["twin"]?[property]?["actual"]?["value"]?.stringValue : nil
    }

    /// Waits until `device` has reported every `values` (property → value) in its latest twin/update messages.
    func waitForValues(_ device: String, _ values: [String: String], timeout: Double = 20) async throws {
        try await events.wait(timeout: timeout, "twin values \(values) of \(device)") { events in
            values.allSatisfy { name, value in
                events.last { $0.device == device && Self.value($0, name) != nil }.flatMap { Self.value($0, name) }
                    == value
            }
        }
    }

    /// Waits until the latest state/update of `device` is `state`.
    func waitForState(_ device: String, _ state: String, timeout: Double = 20) async throws {
        try await events.wait(timeout: timeout, "state \(state) of \(device)") { events in
            events.last { $0.device == device && $0.kind == "state" }?.json["state"]?.stringValue == state
        }
    }

    /// Waits for `count` more twin/update messages of `device` than there are now.
    func waitForMoreTwins(_ device: String, count: Int = 2, timeout: Double = 20) async throws {
        let now = twins(device)
        try await events.wait(timeout: timeout, "\(count) more twin updates of \(device)") { events in
            events.filter { $0.device == device && $0.kind == "twin" }.count >= now + count
        }
    }

    func twins(_ device: String) -> Int { events.value.filter { $0.device == device && $0.kind == "twin" }.count }

    func states(_ device: String) -> [String] {
        events.value.filter { $0.device == device && $0.kind == "state" }.compactMap { $0.json["state"]?.stringValue }
    }
}

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

/// A v1beta1 DeviceModel + Device pair; `properties`: (name, model type, access, visitor configData as YAML flow).
func v1beta1Manifest(device: String, protocolConfig: String,
                     properties: [(name: String, type: String, visitor: String)], cycleMS: Int = 100) -> String {
    var model = """
        apiVersion: devices.kubeedge.io/v1beta1
        kind: DeviceModel
        metadata: {name: \(device)-model, namespace: default}
        spec:
          protocol: modbus
          properties:

        """
    for p in properties { model += "    - {name: \(p.name), type: \(p.type), accessMode: ReadWrite}\n" }
    var instance = """
        ---
        apiVersion: devices.kubeedge.io/v1beta1
        kind: Device
        metadata: {name: \(device), namespace: default}
        spec:
          deviceModelRef: {name: \(device)-model}
          nodeName: test-node
          protocol:
            protocolName: modbus
            configData: \(protocolConfig)
          properties:

        """
    for p in properties {
        instance += """
                - name: \(p.name)
                  collectCycle: \(cycleMS)
                  reportCycle: \(cycleMS)
                  visitors: {protocolName: modbus, configData: \(p.visitor)}

            """
    }
    return model + instance + "\n"
}
