// The JSON types of KubeEdge's devicetwin (kubeedge-wire.md §6.3; `edge/pkg/devicetwin/dttype/types.go`).
//
// Optionality mirrors Go's pointers and `omitempty` so that what we re-encode looks like what edgecore sends:
// a `nil` property is omitted, an empty string/zero that Go tags `omitempty` is omitted too. Twin and attribute
// maps are Swift dictionaries; they are encoded with sorted keys, as Go's encoding/json does for maps.

import EdgeProtocol

/// `{"cloud": N, "edge": M}`: the version of one twin value.
public struct TwinVersion: Sendable, Hashable {
    public var cloud: Int64
    public var edge: Int64

    public init(cloud: Int64 = 0, edge: Int64 = 0) {
        self.cloud = cloud
        self.edge = edge
    }
}

/// `{"timestamp": ms}` of a twin value; a zero timestamp is omitted (`{}`).
public struct TwinValueMetadata: Sendable, Hashable {
    public var timestamp: Int64

    public init(timestamp: Int64 = 0) { self.timestamp = timestamp }
}

/// `{"value"?: string, "metadata"?: {"timestamp"?: ms}}`.
public struct TwinValue: Sendable, Hashable {
    public var value: String?
    public var metadata: TwinValueMetadata?

    public init(value: String? = nil, metadata: TwinValueMetadata? = nil) {
        self.value = value
        self.metadata = metadata
    }
}

/// `{"type"?: string}`: the value type of a twin or attribute (`string`, `int`, `float`, `boolean`, `deleted`…).
/// KubeEdge's struct has no other field, so any other key of a `metadata` object is dropped.
public struct TwinTypeMetadata: Sendable, Hashable {
    public var type: String

    public init(type: String = "") { self.type = type }
}

/// `MsgTwin`: one twin property as carried in requests, results and the cache.
public struct MsgTwin: Sendable, Hashable {
    public var expected: TwinValue?
    public var actual: TwinValue?
    public var optional: Bool?
    public var metadata: TwinTypeMetadata?
    public var expectedVersion: TwinVersion?
    public var actualVersion: TwinVersion?

    public init(
        expected: TwinValue? = nil, actual: TwinValue? = nil, optional: Bool? = nil,
        metadata: TwinTypeMetadata? = nil, expectedVersion: TwinVersion? = nil, actualVersion: TwinVersion? = nil
    ) {
        self.expected = expected
        self.actual = actual
        self.optional = optional
        self.metadata = metadata
        self.expectedVersion = expectedVersion
        self.actualVersion = actualVersion
    }

    /// `metadata.type`, or nil without metadata.
    public var type: String? { metadata?.type }
    /// True when the twin is a `deleted` placeholder.
    public var isDeleted: Bool { metadata?.type == TwinValueType.deleted }

    /// The twin without its versions (what mappers see).
    public var withoutVersions: MsgTwin {
        var copy = self
        copy.expectedVersion = nil
        copy.actualVersion = nil
        return copy
    }
}

/// `MsgAttr`: a device attribute. `value` is always emitted.
public struct MsgAttr: Sendable, Hashable {
    public var value: String
    public var optional: Bool?
    public var metadata: TwinTypeMetadata?

    public init(value: String = "", optional: Bool? = nil, metadata: TwinTypeMetadata? = nil) {
        self.value = value
        self.optional = optional
        self.metadata = metadata
    }
}

/// `Device` as it travels in membership messages (`added_devices`, `removed_devices`, `devices`). Every field is
/// `omitempty`. A `nil` entry in `attributes` / `twin` is a JSON `null`.
public struct MembershipDevice: Sendable, Hashable {
    public var id: String
    public var name: String
    public var description: String
    public var state: String
    public var lastOnline: String
    public var attributes: [String: MsgAttr?]?
    public var twin: [String: MsgTwin?]?

    public init(
        id: String = "", name: String = "", description: String = "", state: String = "", lastOnline: String = "",
        attributes: [String: MsgAttr?]? = nil, twin: [String: MsgTwin?]? = nil
    ) {
        self.id = id
        self.name = name
        self.description = description
        self.state = state
        self.lastOnline = lastOnline
        self.attributes = attributes
        self.twin = twin
    }
}

/// One device as the twin engine holds it (cache and SQLite agree on this shape).
public struct TwinDevice: Sendable, Hashable {
    public var id: String
    public var name: String
    public var description: String
    public var state: String
    /// Local time `2006-01-02 15:04:05` of the last accepted state update, or "".
    public var lastOnline: String
    public var attributes: [String: MsgAttr]
    public var twins: [String: MsgTwin]

    public init(
        id: String, name: String = "", description: String = "", state: String = "", lastOnline: String = "",
        attributes: [String: MsgAttr] = [:], twins: [String: MsgTwin] = [:]
    ) {
        self.id = id
        self.name = name
        self.description = description
        self.state = state
        self.lastOnline = lastOnline
        self.attributes = attributes
        self.twins = twins
    }
}

/// `{"last": MsgTwin|null, "current": MsgTwin|null}`: one entry of an `update/document`.
public struct TwinDocumentEntry: Sendable, Hashable {
    public var last: MsgTwin?
    public var current: MsgTwin?

    public init(last: MsgTwin? = nil, current: MsgTwin? = nil) {
        self.last = last
        self.current = current
    }
}

/// `DeviceTwinUpdate`: `{"event_id","timestamp","twin": {name: MsgTwin|null}}`. `twin == nil` means the key was
/// absent or `null`.
public struct DeviceTwinUpdate: Sendable, Hashable {
    public var eventID: String
    public var timestamp: Int64
    public var twin: [String: MsgTwin?]?

    public init(eventID: String = "", timestamp: Int64 = 0, twin: [String: MsgTwin?]? = nil) {
        self.eventID = eventID
        self.timestamp = timestamp
        self.twin = twin
    }
}

/// KubeEdge `MembershipUpdate`: `added_devices` / `removed_devices` (each `null` when nil).
public struct TwinMembershipUpdate: Sendable, Hashable {
    public var eventID: String
    public var timestamp: Int64
    public var addedDevices: [MembershipDevice]?
    public var removedDevices: [MembershipDevice]?

    public init(
        eventID: String = "", timestamp: Int64 = 0, addedDevices: [MembershipDevice]? = nil,
        removedDevices: [MembershipDevice]? = nil
    ) {
        self.eventID = eventID
        self.timestamp = timestamp
        self.addedDevices = addedDevices
        self.removedDevices = removedDevices
    }
}

/// KubeEdge `MembershipDetail`: the full list of devices bound to the node.
public struct TwinMembershipDetail: Sendable, Hashable {
    public var eventID: String
    public var timestamp: Int64
    public var devices: [MembershipDevice]?

    public init(eventID: String = "", timestamp: Int64 = 0, devices: [MembershipDevice]? = nil) {
        self.eventID = eventID
        self.timestamp = timestamp
        self.devices = devices
    }
}

/// `DeviceUpdate`: the payload of `state/update` and of `…/updated` (attributes).
public struct DeviceStateOrAttrUpdate: Sendable, Hashable {
    public var eventID: String
    public var timestamp: Int64
    public var state: String
    public var attributes: [String: MsgAttr?]?

    public init(eventID: String = "", timestamp: Int64 = 0, state: String = "", attributes: [String: MsgAttr?]? = nil) {
        self.eventID = eventID
        self.timestamp = timestamp
        self.state = state
        self.attributes = attributes
    }
}

/// The twin value types edgecore knows (`dtcommon.ValidateValue`, devicecontroller constants).
public enum TwinValueType {
    public static let string = "string"
    public static let int = "int"
    public static let integer = "integer"
    public static let float = "float"
    /// Rejected by edgecore; accepted by us as a float64 (kubeedge-wire.md §6.4 "do better").
    public static let double = "double"
    public static let boolean = "boolean"
    public static let deleted = "deleted"
}

/// A message for the cloud: edgecore sends these with `source:"twin"`, `group:"resource"` (§4.3).
public struct CloudTwinMessage: Sendable, Hashable {
    /// e.g. `device/dev1/twin/edge_updated`, `device/dev1/state/update`, `membership/detail`.
    public var resource: String
    /// `update` or `get`.
    public var operation: String
    /// The content as it goes on the wire: an object for edge_updated, a JSON string for state/update and
    /// membership/detail.
    public var content: JSONValue
    /// Always `resource`.
    public var group: String
    /// Always `twin`.
    public var source: String

    public init(resource: String, operation: String, content: JSONValue, group: String = "resource",
                source: String = "twin") {
        self.resource = resource
        self.operation = operation
        self.content = content
        self.group = group
        self.source = source
    }
}

/// What one engine call wants published. The engine does no I/O: the service publishes `deviceTopics` on the
/// device broker in order, queues `toCloud` durably for the link, and republishes the specs of `specsChanged`.
public struct TwinOutput: Sendable {
    /// `$hw/events/...` topics and payloads, in publishing order.
    public var deviceTopics: [(topic: String, payload: [UInt8])]
    /// Messages for the cloud, in order.
    public var toCloud: [CloudTwinMessage]
    /// Ids of devices that were added, removed or changed by a membership message (sorted, unique).
    public var specsChanged: [String]

    public init(deviceTopics: [(topic: String, payload: [UInt8])] = [], toCloud: [CloudTwinMessage] = [],
                specsChanged: [String] = []) {
        self.deviceTopics = deviceTopics
        self.toCloud = toCloud
        self.specsChanged = specsChanged
    }

    public var isEmpty: Bool { deviceTopics.isEmpty && toCloud.isEmpty && specsChanged.isEmpty }

    /// The payload of the first publish on `topic`, if any (handy in tests and logs).
    public func payload(on topic: String) -> [UInt8]? {
        deviceTopics.first(where: { $0.topic == topic })?.payload
    }

    mutating func publish(_ topic: String, _ value: JSONValue) {
        deviceTopics.append((topic: topic, payload: TwinCodec.bytes(value)))
    }

    mutating func append(contentsOf other: TwinOutput) {
        deviceTopics.append(contentsOf: other.deviceTopics)
        toCloud.append(contentsOf: other.toCloud)
        specsChanged.append(contentsOf: other.specsChanged)
    }
}

/// Log levels of ``TwinEngine``'s logger.
public enum TwinLogLevel: Sendable, Hashable {
    case debug, info, warning, error
}
