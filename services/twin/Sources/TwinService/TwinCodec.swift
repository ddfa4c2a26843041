// Encoding and decoding of the devicetwin JSON types with Go's encoding/json rules:
//
// * Encoding: struct fields in Go declaration order (`event_id`, `timestamp`, then the rest), `omitempty` as tagged
//   in dttype/types.go, map keys sorted.
// * Decoding: object keys match field names case-insensitively (the last match wins), unknown keys are ignored,
//   `null` leaves a field at its zero value, and a value of the wrong JSON kind (a string for an int64, a float for
//   an int64, an array for a struct…) fails the whole decode, as json.Unmarshal does.

import EdgeProtocol

/// A payload that Go's json.Unmarshal would reject.
public struct TwinDecodeError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }
}

/// JSON encoders and decoders of the §6.3 types.
public enum TwinCodec {
    // MARK: - Encoding

    static func bytes(_ value: JSONValue) -> [UInt8] {
        // Only `.number` literals can fail to serialise, and every number here comes from an integer.
        (try? value.serialized()) ?? Array("null".utf8)
    }

    public static func json(_ version: TwinVersion) -> JSONValue {
        .object([(key: "cloud", value: .integer(version.cloud)), (key: "edge", value: .integer(version.edge))])
    }

    public static func json(_ metadata: TwinValueMetadata) -> JSONValue {
        metadata.timestamp == 0 ? .object([]) : .object([(key: "timestamp", value: .integer(metadata.timestamp))])
    }

    public static func json(_ value: TwinValue) -> JSONValue {
        var members: [(key: String, value: JSONValue)] = []
        if let v = value.value { members.append((key: "value", value: .string(v))) }
        if let m = value.metadata { members.append((key: "metadata", value: json(m))) }
        return .object(members)
    }

    public static func json(_ metadata: TwinTypeMetadata) -> JSONValue {
        metadata.type.isEmpty ? .object([]) : .object([(key: "type", value: .string(metadata.type))])
    }

    public static func json(_ twin: MsgTwin) -> JSONValue {
        var members: [(key: String, value: JSONValue)] = []
        if let v = twin.expected { members.append((key: "expected", value: json(v))) }
        if let v = twin.actual { members.append((key: "actual", value: json(v))) }
        if let v = twin.optional { members.append((key: "optional", value: .bool(v))) }
        if let v = twin.metadata { members.append((key: "metadata", value: json(v))) }
        if let v = twin.expectedVersion { members.append((key: "expected_version", value: json(v))) }
        if let v = twin.actualVersion { members.append((key: "actual_version", value: json(v))) }
        return .object(members)
    }

    public static func json(_ attr: MsgAttr) -> JSONValue {
        var members: [(key: String, value: JSONValue)] = [(key: "value", value: .string(attr.value))]
        if let v = attr.optional { members.append((key: "optional", value: .bool(v))) }
        if let v = attr.metadata { members.append((key: "metadata", value: json(v))) }
        return .object(members)
    }

    /// A Go `map[string]*T`: sorted keys, `null` for nil entries.
    static func json<T>(_ map: [String: T?], _ encode: (T) -> JSONValue) -> JSONValue {
        .object(map.keys.sorted().map { key in (key: key, value: map[key]!.map(encode) ?? .null) })
    }

    static func json<T>(_ map: [String: T], _ encode: (T) -> JSONValue) -> JSONValue {
        .object(map.keys.sorted().map { key in (key: key, value: encode(map[key]!)) })
    }

    public static func json(_ entry: TwinDocumentEntry) -> JSONValue {
        .object([
            (key: "last", value: entry.last.map(json(_:)) ?? .null),
            (key: "current", value: entry.current.map(json(_:)) ?? .null),
        ])
    }

    public static func json(_ device: MembershipDevice) -> JSONValue {
        var members: [(key: String, value: JSONValue)] = []
        if !device.id.isEmpty { members.append((key: "id", value: .string(device.id))) }
        if !device.name.isEmpty { members.append((key: "name", value: .string(device.name))) }
        if !device.description.isEmpty { members.append((key: "description", value: .string(device.description))) }
        if !device.state.isEmpty { members.append((key: "state", value: .string(device.state))) }
        if !device.lastOnline.isEmpty { members.append((key: "last_online", value: .string(device.lastOnline))) }
        if let attributes = device.attributes, !attributes.isEmpty {
            members.append((key: "attributes", value: json(attributes, json(_:))))
        }
        if let twin = device.twin, !twin.isEmpty {
            members.append((key: "twin", value: json(twin, json(_:))))
        }
        return .object(members)
    }

    static func base(_ eventID: String, _ timestamp: Int64) -> [(key: String, value: JSONValue)] {
        [(key: "event_id", value: .string(eventID)), (key: "timestamp", value: .integer(timestamp))]
    }

    /// `DeviceTwinResult` / `DeviceTwinUpdate`: `{"event_id","timestamp","twin":{…}}`.
    public static func twinResult(eventID: String, timestamp: Int64, twin: [String: MsgTwin?]) -> JSONValue {
        .object(base(eventID, timestamp) + [(key: "twin", value: json(twin, json(_:)))])
    }

    /// `DeviceTwinUpdate` (what the cloud sends on `cloud_updated`, and mappers on `twin/update`).
    public static func json(_ update: DeviceTwinUpdate) -> JSONValue {
        .object(base(update.eventID, update.timestamp)
                + [(key: "twin", value: update.twin.map { json($0, json(_:)) } ?? .null)])
    }

    /// `DeviceTwinDelta`: `{"event_id","timestamp","twin":{…},"delta":{name: expected}}`.
    public static func twinDelta(eventID: String, timestamp: Int64, twin: [String: MsgTwin],
                                 delta: [String: String]) -> JSONValue {
        .object(base(eventID, timestamp) + [
            (key: "twin", value: json(twin, json(_:))),
            (key: "delta", value: json(delta, { JSONValue.string($0) })),
        ])
    }

    /// `DeviceTwinDocument`: `{"event_id","timestamp","twin":{name:{"last","current"}}}`.
    public static func twinDocument(eventID: String, timestamp: Int64, twin: [String: TwinDocumentEntry]) -> JSONValue {
        .object(base(eventID, timestamp) + [(key: "twin", value: json(twin, json(_:)))])
    }

    /// `Result`: `{"event_id","timestamp","code"?,"reason"?}` (code and reason are omitempty).
    public static func errorResult(eventID: String, timestamp: Int64, code: Int, reason: String) -> JSONValue {
        var members = base(eventID, timestamp)
        if code != 0 { members.append((key: "code", value: .integer(code))) }
        if !reason.isEmpty { members.append((key: "reason", value: .string(reason))) }
        return .object(members)
    }

    /// `MembershipUpdate`: `added_devices` / `removed_devices`, each `null` when nil.
    public static func json(_ update: TwinMembershipUpdate) -> JSONValue {
        .object(base(update.eventID, update.timestamp) + [
            (key: "added_devices", value: update.addedDevices.map { .array($0.map(json(_:))) } ?? .null),
            (key: "removed_devices", value: update.removedDevices.map { .array($0.map(json(_:))) } ?? .null),
        ])
    }

    /// `MembershipDetail` / `MembershipGetResult`: `{"event_id","timestamp","devices":[…]}`.
    public static func json(_ detail: TwinMembershipDetail) -> JSONValue {
        .object(base(detail.eventID, detail.timestamp)
                + [(key: "devices", value: detail.devices.map { .array($0.map(json(_:))) } ?? .null)])
    }

    /// `DeviceMsg` (state update result): `{"event_id","timestamp","device":{"name","state","last_online"}}`.
    public static func deviceState(eventID: String, timestamp: Int64, name: String, state: String,
                                   lastOnline: String) -> JSONValue {
        .object(base(eventID, timestamp)
                + [(key: "device", value: json(MembershipDevice(name: name, state: state, lastOnline: lastOnline)))])
    }

    /// `DeviceAttrUpdate`: `{"event_id","timestamp","attributes":{…}}`.
    public static func attributesUpdate(eventID: String, timestamp: Int64, attributes: [String: MsgAttr?]) -> JSONValue {
        .object(base(eventID, timestamp) + [(key: "attributes", value: json(attributes, json(_:)))])
    }

    // MARK: - Decoding (Go encoding/json semantics)

    /// The members of an object; nil for `null`; throws for any other kind.
    static func object(_ value: JSONValue?, _ what: String) throws(TwinDecodeError) -> [(key: String, value: JSONValue)]? {
        switch value {
        case nil, .null?: return nil
        case .object(let members)?: return members
        case let other?: throw mismatch(other, what)
        }
    }

    static func kind(_ value: JSONValue) -> String {
        switch value {
        case .null: "null"
        case .bool: "bool"
        case .number(let n): "number " + n
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    static func mismatch(_ value: JSONValue, _ what: String) -> TwinDecodeError {
        TwinDecodeError("json: cannot unmarshal \(kind(value)) into Go value of type \(what)")
    }

    /// Go's field lookup: the last member whose key equals `name` ignoring ASCII case.
    static func field(_ members: [(key: String, value: JSONValue)], _ name: String) -> JSONValue? {
        for member in members.reversed() where asciiLowercased(member.key) == name {
            return member.value
        }
        return nil
    }

    static func asciiLowercased(_ s: String) -> String {
        var needs = false
        for b in s.utf8 where b >= 0x41 && b <= 0x5A {
            needs = true
            break
        }
        guard needs else { return s }
        return String(decoding: s.utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0 }, as: UTF8.self)
    }

    static func string(_ value: JSONValue?, _ what: String) throws(TwinDecodeError) -> String? {
        switch value {
        case nil, .null?: return nil
        case .string(let s)?: return s
        case let other?: throw mismatch(other, what + " (string)")
        }
    }

    static func int64(_ value: JSONValue?, _ what: String) throws(TwinDecodeError) -> Int64? {
        switch value {
        case nil, .null?: return nil
        case .number(let literal)?:
            guard let v = Int64(literal) else { throw mismatch(.number(literal), what + " (int64)") }
            return v
        case let other?: throw mismatch(other, what + " (int64)")
        }
    }

    static func bool(_ value: JSONValue?, _ what: String) throws(TwinDecodeError) -> Bool? {
        switch value {
        case nil, .null?: return nil
        case .bool(let b)?: return b
        case let other?: throw mismatch(other, what + " (bool)")
        }
    }

    static func array(_ value: JSONValue?, _ what: String) throws(TwinDecodeError) -> [JSONValue]? {
        switch value {
        case nil, .null?: return nil
        case .array(let elements)?: return elements
        case let other?: throw mismatch(other, what)
        }
    }

    /// A Go `map[string]*T` (`nil` for absent/null; entries may be nil for `null`). Duplicate keys: last wins.
    static func map<T>(
        _ value: JSONValue?, _ what: String, _ decode: (JSONValue) throws(TwinDecodeError) -> T?
    ) throws(TwinDecodeError) -> [String: T?]? {
        guard let members = try object(value, what) else { return nil }
        var result: [String: T?] = [:]
        for member in members {
            result.updateValue(try decode(member.value), forKey: member.key)
        }
        return result
    }

    static func baseFields(_ members: [(key: String, value: JSONValue)], _ what: String)
        throws(TwinDecodeError) -> (eventID: String, timestamp: Int64)
    {
        (try string(field(members, "event_id"), what + ".event_id") ?? "",
         try int64(field(members, "timestamp"), what + ".timestamp") ?? 0)
    }

    public static func decodeVersion(_ value: JSONValue) throws(TwinDecodeError) -> TwinVersion? {
        guard let m = try object(value, "dttype.TwinVersion") else { return nil }
        return TwinVersion(cloud: try int64(field(m, "cloud"), "TwinVersion.cloud") ?? 0,
                           edge: try int64(field(m, "edge"), "TwinVersion.edge") ?? 0)
    }

    public static func decodeValueMetadata(_ value: JSONValue) throws(TwinDecodeError) -> TwinValueMetadata? {
        guard let m = try object(value, "dttype.ValueMetadata") else { return nil }
        return TwinValueMetadata(timestamp: try int64(field(m, "timestamp"), "ValueMetadata.timestamp") ?? 0)
    }

    public static func decodeTypeMetadata(_ value: JSONValue) throws(TwinDecodeError) -> TwinTypeMetadata? {
        guard let m = try object(value, "dttype.TypeMetadata") else { return nil }
        return TwinTypeMetadata(type: try string(field(m, "type"), "TypeMetadata.type") ?? "")
    }

    public static func decodeTwinValue(_ value: JSONValue) throws(TwinDecodeError) -> TwinValue? {
        guard let m = try object(value, "dttype.TwinValue") else { return nil }
        return TwinValue(value: try string(field(m, "value"), "TwinValue.value"),
                         metadata: try field(m, "metadata").flatMap(decodeValueMetadata))
    }

    public static func decodeMsgTwin(_ value: JSONValue) throws(TwinDecodeError) -> MsgTwin? {
        guard let m = try object(value, "dttype.MsgTwin") else { return nil }
        return MsgTwin(
            expected: try field(m, "expected").flatMap(decodeTwinValue),
            actual: try field(m, "actual").flatMap(decodeTwinValue),
            optional: try bool(field(m, "optional"), "MsgTwin.optional"),
            metadata: try field(m, "metadata").flatMap(decodeTypeMetadata),
            expectedVersion: try field(m, "expected_version").flatMap(decodeVersion),
            actualVersion: try field(m, "actual_version").flatMap(decodeVersion))
    }

    public static func decodeMsgAttr(_ value: JSONValue) throws(TwinDecodeError) -> MsgAttr? {
        guard let m = try object(value, "dttype.MsgAttr") else { return nil }
        return MsgAttr(value: try string(field(m, "value"), "MsgAttr.value") ?? "",
                       optional: try bool(field(m, "optional"), "MsgAttr.optional"),
                       metadata: try field(m, "metadata").flatMap(decodeTypeMetadata))
    }

    /// A `Device`. A `null` element decodes as an empty device (Go's zero value of a struct element).
    public static func decodeDevice(_ value: JSONValue) throws(TwinDecodeError) -> MembershipDevice {
        guard let m = try object(value, "dttype.Device") else { return MembershipDevice() }
        return MembershipDevice(
            id: try string(field(m, "id"), "Device.id") ?? "",
            name: try string(field(m, "name"), "Device.name") ?? "",
            description: try string(field(m, "description"), "Device.description") ?? "",
            state: try string(field(m, "state"), "Device.state") ?? "",
            lastOnline: try string(field(m, "last_online"), "Device.last_online") ?? "",
            attributes: try map(field(m, "attributes"), "map[string]*dttype.MsgAttr", decodeMsgAttr),
            twin: try map(field(m, "twin"), "map[string]*dttype.MsgTwin", decodeMsgTwin))
    }

    static func devices(_ value: JSONValue?, _ what: String) throws(TwinDecodeError) -> [MembershipDevice]? {
        guard let elements = try array(value, what) else { return nil }
        var result: [MembershipDevice] = []
        for element in elements { result.append(try decodeDevice(element)) }
        return result
    }

    /// Parses bytes as JSON, mapping syntax errors to ``TwinDecodeError``.
    public static func parse(_ payload: some Collection<UInt8>) throws(TwinDecodeError) -> JSONValue {
        if payload.isEmpty { throw TwinDecodeError("unexpected end of JSON input") }
        do {
            return try JSONValue(parsing: payload)
        } catch {
            throw TwinDecodeError("\(error)")
        }
    }

    /// `DeviceTwinUpdate` from a JSON value, without the §6.4 validation (see ``TwinValidation``).
    public static func decodeTwinUpdate(_ value: JSONValue) throws(TwinDecodeError) -> DeviceTwinUpdate {
        guard let m = try object(value, "dttype.DeviceTwinUpdate") else { return DeviceTwinUpdate() }
        let base = try baseFields(m, "DeviceTwinUpdate")
        return DeviceTwinUpdate(eventID: base.eventID, timestamp: base.timestamp,
                                twin: try map(field(m, "twin"), "map[string]*dttype.MsgTwin", decodeMsgTwin))
    }

    /// `BaseMessage` (`twin/get`, `membership/get`).
    public static func decodeBase(_ value: JSONValue) throws(TwinDecodeError) -> (eventID: String, timestamp: Int64) {
        guard let m = try object(value, "dttype.BaseMessage") else { return ("", 0) }
        return try baseFields(m, "BaseMessage")
    }

    public static func decodeMembershipUpdate(_ value: JSONValue) throws(TwinDecodeError) -> TwinMembershipUpdate {
        guard let m = try object(value, "dttype.MembershipUpdate") else { return TwinMembershipUpdate() }
        let base = try baseFields(m, "MembershipUpdate")
        return TwinMembershipUpdate(
            eventID: base.eventID, timestamp: base.timestamp,
            addedDevices: try devices(field(m, "added_devices"), "[]dttype.Device"),
            removedDevices: try devices(field(m, "removed_devices"), "[]dttype.Device"))
    }

    public static func decodeMembershipDetail(_ value: JSONValue) throws(TwinDecodeError) -> TwinMembershipDetail {
        guard let m = try object(value, "dttype.MembershipDetail") else { return TwinMembershipDetail() }
        let base = try baseFields(m, "MembershipDetail")
        return TwinMembershipDetail(eventID: base.eventID, timestamp: base.timestamp,
                                devices: try devices(field(m, "devices"), "[]dttype.Device"))
    }

    /// `DeviceUpdate` (state and attribute updates).
    public static func decodeDeviceUpdate(_ value: JSONValue) throws(TwinDecodeError) -> DeviceStateOrAttrUpdate {
        guard let m = try object(value, "dttype.DeviceUpdate") else { return DeviceStateOrAttrUpdate() }
        let base = try baseFields(m, "DeviceUpdate")
        return DeviceStateOrAttrUpdate(
            eventID: base.eventID, timestamp: base.timestamp,
            state: try string(field(m, "state"), "DeviceUpdate.state") ?? "",
            attributes: try map(field(m, "attributes"), "map[string]*dttype.MsgAttr", decodeMsgAttr))
    }
}
