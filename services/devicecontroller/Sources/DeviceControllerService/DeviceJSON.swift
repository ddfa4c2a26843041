// Small JSON helpers shared by the devicecontroller's pure logic (DeviceView, DevicePlanner, MembershipDetail,
// ReportedStatus). A namespace rather than a JSONValue extension, so nothing here can clash with other code of
// the module.

import EdgeProtocol

enum DeviceJSON {
    /// A scalar as text: strings as they are, numbers as their literal, booleans as `true`/`false`. Objects, arrays
    /// and null give nil.
    static func text(_ value: JSONValue?) -> String? {
        switch value {
        case .string(let s)?: s
        case .number(let n)?: n
        case .bool(let b)?: b ? "true" : "false"
        default: nil
        }
    }

    /// An integer from a number (`12`, `1.2e3` when integral) or a string holding one (`"1550049403598"`).
    static func int64(_ value: JSONValue?) -> Int64? {
        switch value {
        case .number(let n)?:
            if let i = Int64(n) { return i }
            if let d = Double(n), d.isFinite, d == d.rounded(), abs(d) < 9.2e18 { return Int64(d) }
            return nil
        case .string(let s)?:
            return Int64(s)
        default:
            return nil
        }
    }

    /// The element `index` of an array.
    static func element(_ value: JSONValue?, _ index: Int) -> JSONValue? {
        guard let elements = value?.arrayValue, elements.indices.contains(index) else { return nil }
        return elements[index]
    }

    /// A non-empty string at a path.
    static func nonEmpty(_ value: JSONValue?, _ path: [String]) -> String? {
        guard let s = value?[path: path]?.stringValue, !s.isEmpty else { return nil }
        return s
    }

    /// A stable fingerprint of a JSON value (FNV-1a 64 over its compact serialisation), as 16 hex digits. Stable
    /// across processes, so it can be persisted.
    static func digest(_ value: JSONValue) -> String {
        let bytes = (try? value.serialized()) ?? Array("\(value)".utf8)
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// A KubeEdge `TwinVersion` object.
    static func version(cloud: Int64, edge: Int64) -> JSONValue {
        .object([(key: "cloud", value: .integer(cloud)), (key: "edge", value: .integer(edge))])
    }

    /// The `MsgTwin` the cloud sends for a desired twin (v1alpha2-era devicecontroller shape, §10.3): `expected`
    /// with the desired value stamped `now`, `optional:false`, the type, and `expected_version`. A twin without a
    /// desired value carries only its type (the edge creates it empty, ready for reported values).
    static func desiredTwin(value: String?, type: String, cloud: Int64, edge: Int64, now: Int64) -> JSONValue {
        var members: [(key: String, value: JSONValue)] = []
        let hasValue = value.map { !$0.isEmpty } ?? false
        if hasValue, let value {
            members.append((
                key: "expected",
                value: .object([
                    (key: "value", value: .string(value)),
                    (key: "metadata", value: .object([(key: "timestamp", value: .integer(now))])),
                ])))
        }
        members.append((key: "optional", value: .bool(false)))
        members.append((key: "metadata", value: .object([(key: "type", value: .string(type))])))
        if hasValue {
            members.append((key: "expected_version", value: version(cloud: cloud, edge: edge)))
        }
        return .object(members)
    }

    /// The `MsgTwin` that deletes a twin on the edge (sync with type `deleted`).
    static func deletedTwin(cloud: Int64, edge: Int64) -> JSONValue {
        .object([
            (key: "metadata", value: .object([(key: "type", value: .string("deleted"))])),
            (key: "expected_version", value: version(cloud: cloud, edge: edge)),
        ])
    }

    /// A `Device` of the twin protocol (§6.3): `id` and `name` = the Device's name, optional description and twins.
    static func edgeDevice(name: String, description: String?, twins: [(key: String, value: JSONValue)]?) -> JSONValue {
        var members: [(key: String, value: JSONValue)] = [(key: "id", value: .string(name)), (key: "name", value: .string(name))]
        if let description, !description.isEmpty { members.append((key: "description", value: .string(description))) }
        if let twins { members.append((key: "twin", value: .object(twins))) }
        return .object(members)
    }

    /// `BaseMessage` members followed by `rest`.
    static func event(id: String, now: Int64, _ rest: [(key: String, value: JSONValue)]) -> JSONValue {
        .object([(key: "event_id", value: .string(id)), (key: "timestamp", value: .integer(now))] + rest)
    }

    /// The object with `apiVersion` and `kind` set when missing (list items may lack them).
    static func withKind(_ object: JSONValue, apiVersion: String, kind: String) -> JSONValue {
        var result = object
        if (result["apiVersion"]?.stringValue ?? "").isEmpty { result[member: "apiVersion"] = .string(apiVersion) }
        if (result["kind"]?.stringValue ?? "").isEmpty { result[member: "kind"] = .string(kind) }
        return result
    }

    /// A minimal object naming what was deleted when the object itself is no longer at hand.
    static func stub(apiVersion: String, kind: String, namespace: String, name: String, uid: String?) -> JSONValue {
        var metadata: [(key: String, value: JSONValue)] = [
            (key: "name", value: .string(name)), (key: "namespace", value: .string(namespace)),
        ]
        if let uid, !uid.isEmpty { metadata.append((key: "uid", value: .string(uid))) }
        return .object([
            (key: "apiVersion", value: .string(apiVersion)), (key: "kind", value: .string(kind)),
            (key: "metadata", value: .object(metadata)),
        ])
    }

    /// `namespace/name` of an object (namespace `default` when unset).
    static func key(of object: JSONValue) -> String? {
        guard let name = nonEmpty(object, ["metadata", "name"]) else { return nil }
        return "\(nonEmpty(object, ["metadata", "namespace"]) ?? "default")/\(name)"
    }
}
