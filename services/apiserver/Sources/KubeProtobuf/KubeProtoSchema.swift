/// The protobuf schema of the built-in Kubernetes types (read from the generated table in
/// `Generated/KubeProtoSchemaTable.swift`): per message, its fields with their numbers, types, JSON names and the Go facts
/// that decide what gogo-protobuf writes and what encoding/json emits.
public struct KubeProtoSchema: Sendable {
    public enum Scalar: String, Sendable {
        case string, bytes, bool, int32, int64, uint32, uint64, double, float
    }

    public enum ValueType: Sendable, Equatable {
        case scalar(Scalar)
        /// A message, by `alias.Name` (e.g. `core.PodSpec`).
        case message(String)
    }

    public enum FieldType: Sendable, Equatable {
        case single(ValueType)
        case map(key: Scalar, value: ValueType)
    }

    public struct Field: Sendable {
        public var number: Int
        public var jsonName: String
        public var type: FieldType
        /// A Go pointer: written only when set, emitted as `null` (or omitted) when not.
        public var pointer: Bool
        public var omitempty: Bool
        /// `json:",inline"`: the message's members sit in the parent's JSON object.
        public var inline: Bool
        public var repeated: Bool
    }

    public struct Message: Sendable {
        public var name: String
        /// In Go struct order, the order encoding/json writes members in.
        public var fields: [Field]
        /// In field-number order, the order gogo-protobuf writes fields in.
        public var fieldsByNumber: [Field]
    }

    public private(set) var messages: [String: Message] = [:]
    /// Alias → proto package (`core` → `k8s.io.api.core.v1`).
    public private(set) var packages: [String: String] = [:]

    /// The schema of every generated package, read once.
    public static let shared: KubeProtoSchema = {
        do {
            return try KubeProtoSchema(parsing: table)
        } catch {
            preconditionFailure("the generated protobuf schema table is malformed: \(error)")
        }
    }()

    public init(parsing text: String) throws(ProtoDecodingError) {
        var alias = ""
        var current: Message?
        func finish() {
            guard var message = current else { return }
            message.fieldsByNumber = message.fields.sorted { $0.number < $1.number }
            messages[message.name] = message
            current = nil
        }
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ").map(String.init)
            if parts.first == "P", parts.count == 3 {
                finish()
                alias = parts[1]
                packages[alias] = parts[2]
            } else if parts.first == "M", parts.count == 2 {
                finish()
                current = Message(name: alias + "." + parts[1], fields: [], fieldsByNumber: [])
            } else if parts.count == 4, let number = Int(parts[0]), current != nil {
                let flags = parts[3]
                current?.fields.append(Field(
                    number: number, jsonName: parts[1], type: try Self.fieldType(parts[2], line: line),
                    pointer: flags.contains("p"), omitempty: flags.contains("o"), inline: flags.contains("i"),
                    repeated: flags.contains("r")))
            } else {
                throw ProtoDecodingError("schema line not understood: \(line)")
            }
        }
        finish()
    }

    private static func valueType(_ text: String, line: Substring) throws(ProtoDecodingError) -> ValueType {
        if let scalar = Scalar(rawValue: text) { return .scalar(scalar) }
        guard text.contains(".") else { throw ProtoDecodingError("unknown type \(text) in: \(line)") }
        return .message(text)
    }

    private static func fieldType(_ text: String, line: Substring) throws(ProtoDecodingError) -> FieldType {
        guard text.hasPrefix("map:") else { return .single(try valueType(text, line: line)) }
        let parts = text.split(separator: ":").map(String.init)
        guard parts.count == 3, let key = Scalar(rawValue: parts[1]) else {
            throw ProtoDecodingError("bad map type in: \(line)")
        }
        return .map(key: key, value: try valueType(parts[2], line: line))
    }

    /// The package alias holding the types of an API group version (only the ones generated).
    static let groupVersionPackages: [String: String] = [
        "v1": "core", "apps/v1": "apps", "coordination.k8s.io/v1": "coordination", "autoscaling/v1": "autoscaling",
        "authorization.k8s.io/v1": "authorization", "events.k8s.io/v1": "events", "policy/v1": "policy",
    ]

    /// The message for an object's `apiVersion` and `kind`: the group's own types first, then
    /// meta/v1's (Status, DeleteOptions, WatchEvent… travel under any group's version, as kube sends them).
    public func messageName(apiVersion: String, kind: String) -> String? {
        if let alias = Self.groupVersionPackages[apiVersion], messages[alias + "." + kind] != nil {
            return alias + "." + kind
        }
        let version = apiVersion.split(separator: "/").last.map(String.init) ?? apiVersion
        // `/api`'s APIVersions carries no apiVersion at all.
        if version == "v1" || apiVersion.isEmpty, Self.metaKinds.contains(kind) { return "meta." + kind }
        return nil
    }

    /// meta/v1 kinds that are objects in their own right.
    static let metaKinds: Set<String> = [
        "Status", "DeleteOptions", "WatchEvent", "APIResourceList", "APIGroup", "APIGroupList", "APIVersions",
        "GetOptions", "ListOptions", "CreateOptions", "UpdateOptions", "PatchOptions", "PartialObjectMetadata",
        "PartialObjectMetadataList",
    ]
}
