// Value types of the API server's object store. No Foundation.

/// Where an object lives: its resource (plural, with group for non-core: "pods", "devices.devices.kubeedge.io"),
/// its namespace ("" for cluster-scoped objects) and its name.
public struct ObjectKey: Sendable, Hashable, CustomStringConvertible {
    public var resource: String
    public var namespace: String
    public var name: String

    public init(resource: String, namespace: String, name: String) {
        self.resource = resource
        self.namespace = namespace
        self.name = name
    }

    public var description: String {
        namespace.isEmpty ? "\(resource)/\(name)" : "\(resource)/\(namespace)/\(name)"
    }
}

/// One object as stored: its JSON bytes carry `metadata.resourceVersion == String(rv)`.
public struct StoredObject: Sendable, Hashable {
    public var key: ObjectKey
    public var rv: Int64
    public var object: [UInt8]

    public init(key: ObjectKey, rv: Int64, object: [UInt8]) {
        self.key = key
        self.rv = rv
        self.object = object
    }
}

/// The kind of a watch event. `bookmark` never appears in the log; watchers synthesise it.
public enum EventType: String, Sendable, Hashable {
    case added = "ADDED"
    case modified = "MODIFIED"
    case deleted = "DELETED"
    case bookmark = "BOOKMARK"
}

/// One entry of the event log (or a bookmark). For `.deleted` the object is the last state, its
/// `metadata.resourceVersion` set to the deletion's rv (as kube-apiserver does). For `.bookmark` the key's
/// resource is the watched resource (name and namespace empty), the object is empty and `rv` means "every change
/// up to here has been delivered".
public struct Event: Sendable, Hashable {
    public var type: EventType
    public var rv: Int64
    public var key: ObjectKey
    public var object: [UInt8]

    public init(type: EventType, rv: Int64, key: ObjectKey, object: [UInt8]) {
        self.type = type
        self.rv = rv
        self.key = key
        self.object = object
    }
}

/// Errors of the object store, each with the HTTP status the API server should answer.
public enum StoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// create: the key exists (409 AlreadyExists).
    case alreadyExists(ObjectKey)
    /// update/delete/get of a key that does not exist (404 NotFound).
    case notFound(ObjectKey)
    /// expectedRV differs from the stored rv (409 Conflict).
    case conflict(key: ObjectKey, current: Int64)
    /// A watch/list-from resourceVersion older than the compacted revision (410 Gone: the client relists).
    /// `oldest` is the oldest resourceVersion from which a watch is still possible.
    case gone(oldest: Int64)
    /// The object is not a JSON object or its metadata is not an object (400/422).
    case invalidObject(String)

    public var httpStatus: Int {
        switch self {
        case .alreadyExists, .conflict: 409
        case .notFound: 404
        case .gone: 410
        case .invalidObject: 422
        }
    }

    public var description: String {
        switch self {
        case .alreadyExists(let key): "\(key) already exists"
        case .notFound(let key): "\(key) not found"
        case .conflict(let key, let current):
            "operation on \(key) failed: the object has been modified (current resourceVersion \(current))"
        case .gone(let oldest): "too old resource version (oldest available: \(oldest))"
        case .invalidObject(let reason): "invalid object: \(reason)"
        }
    }
}
