import Bus
import EdgeProtocol
import Foundation
import Logging

/// Everything published under `$hw/events/device/`, for awaiting twin values and states.
public final class DeviceEvents: Sendable {
    public struct Event: Sendable, CustomStringConvertible {
        public let device: String
        public let kind: String  // "twin" or "state"
        public let json: JSONValue
        public var description: String { "\(device) \(kind) \(String(decoding: (try? json.serialized()) ?? [], as: UTF8.self))" }
    }

    /// The events, described by their last few (a timed-out wait prints the state).
    public struct Log: Sendable, CustomStringConvertible {
        public var all: [Event] = []
        public var description: String { "\(all.count) events, the last: " + all.suffix(4).map(\.description).joined(separator: "; ") }
        public func last(where match: (Event) -> Bool) -> Event? { all.last(where: match) }
        public func filter(_ match: (Event) -> Bool) -> [Event] { all.filter(match) }
    }

    public let client: BusClient
    public let events = Watched(Log())
    private let task: Task<Void, Never>

    public init(broker: Broker) async throws {
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

    public func close() async {
        await client.close()
        task.cancel()
    }

    public static func value(_ event: Event, _ property: String) -> String? {
        event.kind == "twin" ? event.json["twin"]?[property]?["actual"]?["value"]?.stringValue : nil
    }

    /// Waits until `device` has reported every `values` (property → value) in its latest twin/update messages.
    public func waitForValues(_ device: String, _ values: [String: String], timeout: Double = 45) async throws {
        try await events.wait(timeout: timeout, "twin values \(values) of \(device)") { events in
            values.allSatisfy { name, value in
                events.last { $0.device == device && Self.value($0, name) != nil }.flatMap { Self.value($0, name) }
                    == value
            }
        }
    }

    /// Waits until the latest state/update of `device` is `state`.
    public func waitForState(_ device: String, _ state: String, timeout: Double = 45) async throws {
        try await events.wait(timeout: timeout, "state \(state) of \(device)") { events in
            events.last { $0.device == device && $0.kind == "state" }?.json["state"]?.stringValue == state
        }
    }

    /// Waits for `count` more twin/update messages of `device` than there are now.
    public func waitForMoreTwins(_ device: String, count: Int = 2, timeout: Double = 20) async throws {
        let now = twins(device)
        try await events.wait(timeout: timeout, "\(count) more twin updates of \(device)") { events in
            events.filter { $0.device == device && $0.kind == "twin" }.count >= now + count
        }
    }

    public func twins(_ device: String) -> Int { events.value.filter { $0.device == device && $0.kind == "twin" }.count }

    public func states(_ device: String) -> [String] {
        events.value.filter { $0.device == device && $0.kind == "state" }.compactMap { $0.json["state"]?.stringValue }
    }
}

/// A v1beta1 DeviceModel + Device pair; `properties`: (name, model type, access, visitor configData as YAML flow).
public func v1beta1Manifest(device: String, protocolName: String = "modbus", protocolConfig: String,
                            properties: [(name: String, type: String, visitor: String)], cycleMS: Int = 100) -> String {
    var model = """
        apiVersion: devices.kubeedge.io/v1beta1
        kind: DeviceModel
        metadata: {name: \(device)-model, namespace: default}
        spec:
          protocol: \(protocolName)
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
            protocolName: \(protocolName)
            configData: \(protocolConfig)
          properties:

        """
    for p in properties {
        instance += """
                - name: \(p.name)
                  collectCycle: \(cycleMS)
                  reportCycle: \(cycleMS)
                  visitors: {protocolName: \(protocolName), configData: \(p.visitor)}

            """
    }
    return model + instance + "\n"
}
