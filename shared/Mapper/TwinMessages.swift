import EdgeProtocol

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A property value read from a device, as the twin reports it.
public struct TwinReading: Sendable, Equatable {
    public var name: String
    /// The value as twin text (KubeEdge twin values are strings).
    public var value: String
    /// The twin's `metadata.type`: `int`, `float`, `boolean` or `string` (what edgecore validates against).
    public var type: String

    public init(name: String, value: String, type: String) {
        self.name = name
        self.value = value
        self.type = type
    }
}

/// A device's connection state as mappers report it on `state/update`. edgecore accepts (lower-cased) `online`,
/// `offline`, `ok`, `unknown`, `disconnected`.
public enum DeviceState: String, Sendable, Equatable {
    case online
    case offline
    /// Configuration the mapper cannot use: it does not talk to the device.
    case unknown
}

/// The device-twin JSON payloads of KubeEdge (wire reference §6.3, mappers-go §11.2).
public enum TwinMessages {
    /// Milliseconds since the epoch (KubeEdge timestamps).
    public static func nowMilliseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    /// `DeviceTwinUpdate` with the actual values, as mappers-go sends it:
    /// `{"event_id":"","timestamp":…,"twin":{"p":{"actual":{"value":"23","metadata":{"timestamp":…}},"metadata":{"type":"int"}}}}`.
    public static func twinUpdate(_ readings: [TwinReading], timestamp: Int64 = nowMilliseconds(),
                                  eventID: String = "") -> [UInt8] {
        let twins: [(key: String, value: JSONValue)] = readings.map { reading in
            (key: reading.name, value: .object([
                (key: "actual", value: .object([
                    (key: "value", value: .string(reading.value)),
                    (key: "metadata", value: .object([(key: "timestamp", value: .number(String(timestamp)))])),
                ])),
                (key: "metadata", value: .object([(key: "type", value: .string(reading.type))])),
            ]))
        }
        let message: JSONValue = .object([
            (key: "event_id", value: .string(eventID)),
            (key: "timestamp", value: .number(String(timestamp))),
            (key: "twin", value: .object(twins)),
        ])
        return (try? message.serialized()) ?? []
    }

    /// `{"event_id":"","timestamp":…,"state":"online"}`.
    public static func stateUpdate(_ state: DeviceState, timestamp: Int64 = nowMilliseconds(),
                                   eventID: String = "") -> [UInt8] {
        let message: JSONValue = .object([
            (key: "event_id", value: .string(eventID)),
            (key: "timestamp", value: .number(String(timestamp))),
            (key: "state", value: .string(state.rawValue)),
        ])
        return (try? message.serialized()) ?? []
    }

    /// The desired values of a `DeviceTwinDelta`: its `delta` map (`{"name": "expectedValue"}`), in document order.
    /// A delta without `delta` but with twins whose expected value differs from the actual one is read from `twin`.
    public static func desiredValues(inDelta payload: [UInt8]) throws(SpecError) -> [(name: String, value: String)] {
        let root: JSONValue
        do {
            root = try JSONValue(parsing: payload)
        } catch {
            throw SpecError("twin delta is not JSON: \(error)")
        }
        guard root.members != nil else { throw SpecError("twin delta is not a JSON object") }
        if let delta = root["delta"]?.members {
            return delta.compactMap { member in member.value.scalarText.map { (member.key, $0) } }
        }
        guard let twins = root["twin"]?.members else { throw SpecError("twin delta has neither 'delta' nor 'twin'") }
        return twins.compactMap { member in
            guard let expected = member.value["expected"]?["value"]?.scalarText else { return nil }
            let actual = member.value["actual"]?["value"]?.scalarText
            return expected == actual ? nil : (member.key, expected)
        }
    }

    /// The twin `metadata.type` for a property kind: edgecore validates `int`, `float`, `boolean`, `string`
    /// (and rejects `double`, so doubles are reported as `float`, which it parses as float64).
    public static func twinType(for kind: PropertyKind, integral: Bool = true) -> String {
        switch kind {
        case .int: integral ? "int" : "float"
        case .float, .double: "float"
        case .boolean: "boolean"
        case .string, .bytes: "string"
        }
    }
}
