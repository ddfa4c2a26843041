import APIMachinery
import EdgeProtocol
import Foundation

/// Kubernetes' protobuf encoding (`application/vnd.kubernetes.protobuf`) of built-in objects, converted to and from
/// the JSON documents the API server stores, exactly as kube-apiserver's Go types would: JSON → Go struct → gogo
/// protobuf when encoding, protobuf → Go struct → encoding/json when decoding (k8s.io/apimachinery
/// `pkg/runtime/serializer/protobuf`). A message is wrapped as a `runtime.Unknown` after the magic `k8s\0`; watch
/// events are `metav1.WatchEvent`s without the wrapper, each after a 4-byte big-endian length.
public struct KubeProtoCodec: Sendable {
    public static let mediaType = "application/vnd.kubernetes.protobuf"
    public static let magic: [UInt8] = [0x6B, 0x38, 0x73, 0x00]  // "k8s\0"

    public let schema: KubeProtoSchema

    public init(schema: KubeProtoSchema = .shared) {
        self.schema = schema
    }

    public func canEncode(apiVersion: String, kind: String) -> Bool {
        schema.messageName(apiVersion: apiVersion, kind: kind) != nil
    }

    // MARK: Envelope

    /// The enveloped encoding of an object that carries its `apiVersion` and `kind`.
    public func encode(_ object: JSONValue) throws(KubeProtoError) -> [UInt8] {
        let apiVersion = object["apiVersion"]?.stringValue ?? ""
        let kind = object["kind"]?.stringValue ?? ""
        guard let name = schema.messageName(apiVersion: apiVersion, kind: kind) else {
            throw KubeProtoError.noSchema(apiVersion: apiVersion, kind: kind)
        }
        let raw = try encodeMessage(name, object, path: kind)
        var typeMeta = ProtoWriter()
        typeMeta.lengthDelimited(1, Array(apiVersion.utf8))
        typeMeta.lengthDelimited(2, Array(kind.utf8))
        var unknown = ProtoWriter()
        unknown.lengthDelimited(1, typeMeta.bytes)
        unknown.lengthDelimited(2, raw)
        unknown.lengthDelimited(3, [])  // contentEncoding
        unknown.lengthDelimited(4, [])  // contentType
        return Self.magic + unknown.bytes
    }

    /// The JSON object of an enveloped encoding, with `kind` and `apiVersion` first (as Go writes them).
    public func decode(_ data: some Collection<UInt8>) throws(KubeProtoError) -> JSONValue {
        let bytes = Array(data)
        guard bytes.count >= 4, Array(bytes[0..<4]) == Self.magic else {
            throw KubeProtoError.malformed("the body does not start with the Kubernetes protobuf prefix k8s\\0")
        }
        var apiVersion = "", kind = "", contentEncoding = ""
        var raw: ArraySlice<UInt8> = []
        do {
            var reader = ProtoReader(bytes[4...])
            while let field = try reader.next() {
                guard case .bytes(let value) = field.value else { continue }
                switch field.number {
                case 1:
                    var typeMeta = ProtoReader(value)
                    while let member = try typeMeta.next() {
                        guard case .bytes(let text) = member.value else { continue }
                        if member.number == 1 { apiVersion = String(decoding: text, as: UTF8.self) }
                        if member.number == 2 { kind = String(decoding: text, as: UTF8.self) }
                    }
                case 2: raw = value
                case 3: contentEncoding = String(decoding: value, as: UTF8.self)
                default: break
                }
            }
        } catch {
            throw KubeProtoError.malformed("runtime.Unknown envelope: \(error)")
        }
        guard contentEncoding.isEmpty else {
            throw KubeProtoError.malformed("content encoding \(contentEncoding) is not supported")
        }
        guard let name = schema.messageName(apiVersion: apiVersion, kind: kind) else {
            throw KubeProtoError.noSchema(apiVersion: apiVersion, kind: kind)
        }
        guard case .object(let members) = try decodeMessage(name, raw, path: kind) else {
            throw KubeProtoError.malformed("\(kind) did not decode to an object")
        }
        // TypeMeta's members are omitempty.
        var typeMeta: [(key: String, value: JSONValue)] = []
        if !kind.isEmpty { typeMeta.append(("kind", .string(kind))) }
        if !apiVersion.isEmpty { typeMeta.append(("apiVersion", .string(apiVersion))) }
        return .object(typeMeta + members)
    }

    // MARK: Watch

    /// One watch event as kube-apiserver streams it to a protobuf client: the enveloped object is the `raw` of a
    /// `metav1.WatchEvent`, written without an envelope after its length.
    public func watchFrame(type: String, object: JSONValue) throws(KubeProtoError) -> [UInt8] {
        var rawExtension = ProtoWriter()
        rawExtension.lengthDelimited(1, try encode(object))
        var event = ProtoWriter()
        event.lengthDelimited(1, Array(type.utf8))
        event.lengthDelimited(2, rawExtension.bytes)
        let length = UInt32(event.bytes.count)
        return [UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)]
            + event.bytes
    }

    /// The event type and object of one frame's `WatchEvent` bytes (after the length).
    public func decodeWatchEvent(_ bytes: some Collection<UInt8>) throws(KubeProtoError) -> (String, JSONValue) {
        var type = ""
        var object: JSONValue = .null
        do {
            var reader = ProtoReader(ArraySlice(bytes))
            while let field = try reader.next() {
                guard case .bytes(let value) = field.value else { continue }
                if field.number == 1 { type = String(decoding: value, as: UTF8.self) }
                if field.number == 2 {
                    var raw = ProtoReader(value)
                    while let member = try raw.next() {
                        if member.number == 1, case .bytes(let inner) = member.value { object = try decode(inner) }
                    }
                }
            }
        } catch let error as KubeProtoError {
            throw error
        } catch {
            throw KubeProtoError.malformed("WatchEvent: \(error)")
        }
        return (type, object)
    }

    // MARK: JSON → protobuf

    /// The fields of message `name` from a JSON value (null or absent is the Go zero value).
    func encodeMessage(_ name: String, _ json: JSONValue?, path: String) throws(KubeProtoError) -> [UInt8] {
        let value = json?.nonNull
        if let special = try WellKnown.encode(name, value, path: path) { return special }
        guard let message = schema.messages[name] else { throw KubeProtoError.malformed("\(path): no message \(name)") }
        var members: [(key: String, value: JSONValue)] = []
        if let value {
            guard let object = value.objectMembers else {
                throw KubeProtoError.invalid(path, "expected an object")
            }
            members = object
        }
        func member(_ key: String) -> JSONValue? {
            members.last(where: { $0.key == key })?.value.nonNull
        }
        var writer = ProtoWriter()
        for field in message.fieldsByNumber {
            let fieldPath = path + "." + field.jsonName
            if field.inline, case .single(.message(let inner)) = field.type {
                writer.lengthDelimited(field.number, try encodeMessage(inner, value, path: path))
                continue
            }
            let item = member(field.jsonName)
            switch field.type {
            case .map(let keyType, let valueType):
                guard let item else { continue }
                guard var entries = item.objectMembers else { throw KubeProtoError.invalid(fieldPath, "expected an object") }
                // gogo sorts map keys for a deterministic encoding; Go maps hold one value per key.
                var seen = Set<String>()
                entries = entries.reversed().filter { seen.insert($0.key).inserted }
                entries.sort { Array($0.key.utf8).lexicographicallyPrecedes(Array($1.key.utf8)) }
                for entry in entries {
                    var pair = ProtoWriter()
                    try write(.scalar(keyType), .string(entry.key), number: 1, into: &pair, path: fieldPath)
                    try write(valueType, entry.value, number: 2, into: &pair, path: fieldPath + "[" + entry.key + "]")
                    writer.lengthDelimited(field.number, pair.bytes)
                }
            case .single(let valueType):
                if field.repeated {
                    guard let item else { continue }
                    guard let elements = item.arrayValue else { throw KubeProtoError.invalid(fieldPath, "expected an array") }
                    for (index, element) in elements.enumerated() {
                        try write(valueType, element, number: field.number, into: &writer,
                                  path: fieldPath + "[\(index)]")
                    }
                } else {
                    // Pointers and []byte are written when set; every other Go field always is.
                    if item == nil && (field.pointer || valueType == .scalar(.bytes)) { continue }
                    try write(valueType, item, number: field.number, into: &writer, path: fieldPath)
                }
            }
        }
        return writer.bytes
    }

    private func write(_ type: KubeProtoSchema.ValueType, _ value: JSONValue?, number: Int,
                       into writer: inout ProtoWriter, path: String) throws(KubeProtoError) {
        let value = value?.nonNull
        switch type {
        case .message(let name):
            writer.lengthDelimited(number, try encodeMessage(name, value, path: path))
        case .scalar(let scalar):
            switch scalar {
            case .string:
                guard let value else { writer.lengthDelimited(number, []); return }
                guard let text = value.stringValue else { throw KubeProtoError.invalid(path, "expected a string") }
                writer.lengthDelimited(number, Array(text.utf8))
            case .bytes:
                guard let value else { writer.lengthDelimited(number, []); return }
                guard let text = value.stringValue, let data = Data(base64Encoded: text) else {
                    throw KubeProtoError.invalid(path, "expected base64-encoded bytes")
                }
                writer.lengthDelimited(number, Array(data))
            case .bool:
                guard let value else { writer.tag(number, .varint); writer.varint(0); return }
                guard let flag = value.boolValue else { throw KubeProtoError.invalid(path, "expected a boolean") }
                writer.tag(number, .varint)
                writer.varint(flag ? 1 : 0)
            case .int32, .int64, .uint32, .uint64:
                let integer = try Self.integer(value, scalar, path: path)
                writer.tag(number, .varint)
                writer.varint(integer)
            case .double:
                let number64 = try Self.double(value, path: path)
                writer.fixed64(number, number64.bitPattern)
            case .float:
                let number32 = Float(try Self.double(value, path: path))
                writer.fixed32(number, number32.bitPattern)
            }
        }
    }

    /// The varint of a JSON integer, range-checked as Go's json.Unmarshal into the field's type would be.
    private static func integer(_ value: JSONValue?, _ scalar: KubeProtoSchema.Scalar, path: String)
        throws(KubeProtoError) -> UInt64
    {
        guard let value else { return 0 }
        guard case .number(let literal) = value else { throw KubeProtoError.invalid(path, "expected a number") }
        switch scalar {
        case .uint32, .uint64:
            guard let v = UInt64(literal), scalar == .uint64 || v <= UInt64(UInt32.max) else {
                throw KubeProtoError.invalid(path, "\(literal) is not a \(scalar.rawValue)")
            }
            return v
        default:
            guard let v = Int64(literal), scalar == .int64 || (v >= Int64(Int32.min) && v <= Int64(Int32.max)) else {
                throw KubeProtoError.invalid(path, "\(literal) is not an \(scalar.rawValue)")
            }
            return UInt64(bitPattern: v)  // negative int32s are sign-extended to 10 bytes, as in Go
        }
    }

    private static func double(_ value: JSONValue?, path: String) throws(KubeProtoError) -> Double {
        guard let value else { return 0 }
        guard let v = value.doubleValue else { throw KubeProtoError.invalid(path, "expected a number") }
        return v
    }

    // MARK: protobuf → JSON

    /// The JSON of message `name` as encoding/json would print the Go struct decoded from `bytes`.
    func decodeMessage(_ name: String, _ bytes: ArraySlice<UInt8>, path: String) throws(KubeProtoError) -> JSONValue {
        if let special = try WellKnown.decode(name, bytes, path: path) { return special }
        guard let message = schema.messages[name] else { throw KubeProtoError.malformed("\(path): no message \(name)") }
        var values: [Int: [ProtoField.Value]] = [:]
        do {
            var reader = ProtoReader(bytes)
            while let field = try reader.next() { values[field.number, default: []].append(field.value) }
        } catch {
            throw KubeProtoError.malformed("\(path): \(error)")
        }
        var members: [(key: String, value: JSONValue)] = []
        for field in message.fields {
            let fieldPath = path + "." + field.jsonName
            let present = values[field.number] ?? []
            // Emitted unless Go would leave it out: omitempty on a zero value, or a nil pointer/slice/map.
            func absent() { if !field.omitempty { members.append((field.jsonName, .null)) } }
            switch field.type {
            case .map(let keyType, let valueType):
                var entries: [String: JSONValue] = [:]
                for entry in present {
                    guard case .bytes(let pair) = entry else { throw KubeProtoError.malformed("\(fieldPath): bad map entry") }
                    var key: JSONValue = try scalarJSON(keyType, nil, path: fieldPath)
                    var mapped: JSONValue? = nil
                    do {
                        var reader = ProtoReader(pair)
                        while let part = try reader.next() {
                            if part.number == 1 { key = try scalarJSON(keyType, part.value, path: fieldPath) }
                            if part.number == 2 { mapped = try valueJSON(valueType, part.value, path: fieldPath) }
                        }
                    } catch let error as KubeProtoError {
                        throw error
                    } catch {
                        throw KubeProtoError.malformed("\(fieldPath): \(error)")
                    }
                    let keyText: String
                    switch key {
                    case .string(let s): keyText = s
                    case .number(let n): keyText = n
                    case .bool(let b): keyText = b ? "true" : "false"
                    default: keyText = ""
                    }
                    if let mapped {
                        entries[keyText] = mapped
                    } else {
                        entries[keyText] = try zeroJSON(valueType, path: fieldPath)
                    }
                }
                if entries.isEmpty { absent(); continue }
                let sorted = entries.sorted { Array($0.key.utf8).lexicographicallyPrecedes(Array($1.key.utf8)) }
                members.append((field.jsonName, .object(sorted.map { (key: $0.key, value: $0.value) })))
            case .single(let valueType):
                if field.inline, case .message(let inner) = valueType {
                    let innerBytes: ArraySlice<UInt8>
                    if case .bytes(let b)? = present.last { innerBytes = b } else { innerBytes = [] }
                    if case .object(let innerMembers) = try decodeMessage(inner, innerBytes, path: path) {
                        members.append(contentsOf: innerMembers)
                    }
                    continue
                }
                if field.repeated {
                    var elements: [JSONValue] = []
                    for value in present {
                        elements.append(contentsOf: try repeatedJSON(valueType, value, path: fieldPath))
                    }
                    if elements.isEmpty { absent() } else { members.append((field.jsonName, .array(elements))) }
                    continue
                }
                guard let last = present.last else {
                    if field.pointer || valueType == .scalar(.bytes) {
                        absent()
                    } else if case .message = valueType {
                        members.append((field.jsonName, try zeroJSON(valueType, path: fieldPath)))
                    } else if !field.omitempty {
                        members.append((field.jsonName, try zeroJSON(valueType, path: fieldPath)))
                    }
                    continue
                }
                let json = try valueJSON(valueType, last, path: fieldPath)
                if !field.pointer, field.omitempty, case .scalar(let scalar) = valueType, scalar != .bytes,
                    Self.isZero(json)
                {
                    continue
                }
                members.append((field.jsonName, json))
            }
        }
        return .object(members)
    }

    private func valueJSON(_ type: KubeProtoSchema.ValueType, _ value: ProtoField.Value, path: String)
        throws(KubeProtoError) -> JSONValue
    {
        switch type {
        case .scalar(let scalar):
            return try scalarJSON(scalar, value, path: path)
        case .message(let name):
            guard case .bytes(let bytes) = value else {
                throw KubeProtoError.malformed("\(path): expected an embedded message")
            }
            return try decodeMessage(name, bytes, path: path)
        }
    }

    /// Elements of a repeated field from one wire value, which may be a packed run of scalars.
    private func repeatedJSON(_ type: KubeProtoSchema.ValueType, _ value: ProtoField.Value, path: String)
        throws(KubeProtoError) -> [JSONValue]
    {
        guard case .scalar(let scalar) = type, case .bytes(let packed) = value, scalar != .string, scalar != .bytes
        else { return [try valueJSON(type, value, path: path)] }
        var elements: [JSONValue] = []
        var reader = ProtoReader(packed)
        do {
            while !reader.isAtEnd {
                switch scalar {
                case .double:
                    elements.append(try scalarJSON(scalar, .fixed64(try reader.fixed64()), path: path))
                case .float:
                    elements.append(try scalarJSON(scalar, .fixed32(try reader.fixed32()), path: path))
                default:
                    elements.append(try scalarJSON(scalar, .varint(try reader.varint()), path: path))
                }
            }
        } catch let error as KubeProtoError {
            throw error
        } catch {
            throw KubeProtoError.malformed("\(path): \(error)")
        }
        return elements
    }

    private func scalarJSON(_ scalar: KubeProtoSchema.Scalar, _ value: ProtoField.Value?, path: String)
        throws(KubeProtoError) -> JSONValue
    {
        guard let value else { return try zeroJSON(.scalar(scalar), path: path) }
        switch (scalar, value) {
        case (.string, .bytes(let b)): return .string(String(decoding: b, as: UTF8.self))
        case (.bytes, .bytes(let b)): return .string(Data(b).base64EncodedString())
        case (.bool, .varint(let v)): return .bool(v != 0)
        case (.int32, .varint(let v)): return .number(String(Int32(truncatingIfNeeded: v)))
        case (.int64, .varint(let v)): return .number(String(Int64(bitPattern: v)))
        case (.uint32, .varint(let v)): return .number(String(UInt32(truncatingIfNeeded: v)))
        case (.uint64, .varint(let v)): return .number(String(v))
        case (.double, .fixed64(let bits)): return .number(Self.goFloat(Double(bitPattern: bits)))
        case (.float, .fixed32(let bits)): return .number(Self.goFloat(Double(Float(bitPattern: bits))))
        default: throw KubeProtoError.malformed("\(path): wire type does not match \(scalar.rawValue)")
        }
    }

    private func zeroJSON(_ type: KubeProtoSchema.ValueType, path: String) throws(KubeProtoError) -> JSONValue {
        switch type {
        case .scalar(.string): return .string("")
        case .scalar(.bytes): return .null
        case .scalar(.bool): return .bool(false)
        case .scalar: return .number("0")
        case .message(let name): return try decodeMessage(name, [], path: path)
        }
    }

    private static func isZero(_ json: JSONValue) -> Bool {
        switch json {
        case .string(let s): s.isEmpty
        case .bool(let b): !b
        case .number(let n): Double(n) == 0
        default: false
        }
    }

    /// encoding/json's float64 text for the values Kubernetes types hold (integral values without a fraction).
    private static func goFloat(_ value: Double) -> String {
        if value.isFinite, value == value.rounded(), abs(value) < 1e21 { return String(Int64(value)) }
        return String(value)
    }
}

extension JSONValue {
    /// nil for JSON null: Go decodes null into a field as its zero value / a nil pointer.
    var nonNull: JSONValue? { isNull ? Optional<JSONValue>.none : self }
}

public enum KubeProtoError: Error, Sendable, CustomStringConvertible {
    /// No protobuf schema for this kind (custom resources, or a group not generated): JSON only.
    case noSchema(apiVersion: String, kind: String)
    /// Bytes that are not a valid encoding.
    case malformed(String)
    /// A JSON value that does not fit the field's type.
    case invalid(String, String)

    public var description: String {
        switch self {
        case .noSchema(let apiVersion, let kind):
            "no protobuf encoding for \(kind.isEmpty ? "<no kind>" : kind) in \(apiVersion.isEmpty ? "<no apiVersion>" : apiVersion)"
        case .malformed(let text): "malformed protobuf: \(text)"
        case .invalid(let path, let text): "\(path): \(text)"
        }
    }
}
