import APIMachinery
import EdgeProtocol

/// The apimachinery types whose Go code writes their own protobuf and JSON (`Time`, `MicroTime`, `Quantity`,
/// `IntOrString`, `RawExtension`, `FieldsV1`, and the string lists `Verbs` and `ExtraValue`, which are messages on the
/// wire and plain arrays in JSON): the generic field rules do not apply to them.
enum WellKnown {
    /// The message bytes for `value` (nil: Go's zero value), or nil when `name` is not one of these types.
    static func encode(_ name: String, _ value: JSONValue?, path: String) throws(KubeProtoError) -> [UInt8]? {
        switch name {
        case "meta.Time", "meta.MicroTime":
            // Time.Marshal writes nothing for the zero time; Time drops the nanoseconds (its JSON has none).
            guard let value else { return [] }
            guard let text = value.stringValue, let (seconds, nanos) = RFC3339.parse(text) else {
                throw KubeProtoError.invalid(path, "expected an RFC 3339 time")
            }
            if seconds == RFC3339.goZeroTimeUnixSeconds && nanos == 0 { return [] }
            var writer = ProtoWriter()
            writer.tag(1, .varint)
            writer.varint(UInt64(bitPattern: seconds))
            writer.tag(2, .varint)
            writer.varint(UInt64(name == "meta.MicroTime" ? nanos / 1000 * 1000 : 0))
            return writer.bytes
        case "resource.Quantity":
            var writer = ProtoWriter()
            switch value {
            case nil: writer.lengthDelimited(1, Array("0".utf8))
            case .string(let text)?: writer.lengthDelimited(1, Array(text.utf8))
            case .number(let literal)?: writer.lengthDelimited(1, Array(literal.utf8))
            default: throw KubeProtoError.invalid(path, "expected a quantity")
            }
            return writer.bytes
        case "intstr.IntOrString":
            var writer = ProtoWriter()
            var type: UInt64 = 0, intVal: Int64 = 0, strVal = ""
            switch value {
            case nil: break
            case .string(let text)?: (type, strVal) = (1, text)
            case .number(let literal)?:
                guard let v = Int64(literal), v >= Int64(Int32.min), v <= Int64(Int32.max) else {
                    throw KubeProtoError.invalid(path, "\(literal) is not an int32")
                }
                intVal = v
            default: throw KubeProtoError.invalid(path, "expected an integer or a string")
            }
            writer.tag(1, .varint)
            writer.varint(type)
            writer.tag(2, .varint)
            writer.varint(UInt64(bitPattern: intVal))
            writer.lengthDelimited(3, Array(strVal.utf8))
            return writer.bytes
        case "meta.Verbs", "authorization.ExtraValue":
            guard let value else { return [] }
            guard let items = value.arrayValue else { throw KubeProtoError.invalid(path, "expected an array of strings") }
            var writer = ProtoWriter()
            for item in items {
                guard let text = item.stringValue else { throw KubeProtoError.invalid(path, "expected a string") }
                writer.lengthDelimited(1, Array(text.utf8))
            }
            return writer.bytes
        case "runtime.RawExtension", "meta.FieldsV1":
            // The raw JSON document, as a JSON client would have sent it.
            guard let value else { return [] }
            var writer = ProtoWriter()
            do {
                writer.lengthDelimited(1, try value.serialized())
            } catch {
                throw KubeProtoError.invalid(path, "\(error)")
            }
            return writer.bytes
        default:
            return nil
        }
    }

    /// The JSON of these types' message bytes, or nil when `name` is not one of them.
    static func decode(_ name: String, _ bytes: ArraySlice<UInt8>, path: String) throws(KubeProtoError) -> JSONValue? {
        switch name {
        case "meta.Time", "meta.MicroTime", "resource.Quantity", "intstr.IntOrString", "runtime.RawExtension",
            "meta.FieldsV1", "meta.Verbs", "authorization.ExtraValue":
            break
        default:
            return nil
        }
        var varints: [Int: UInt64] = [:]
        var strings: [Int: ArraySlice<UInt8>] = [:]
        var list: [JSONValue] = []
        do {
            var reader = ProtoReader(bytes)
            while let field = try reader.next() {
                switch field.value {
                case .varint(let v): varints[field.number] = v
                case .bytes(let b):
                    strings[field.number] = b
                    if field.number == 1 { list.append(.string(String(decoding: b, as: UTF8.self))) }
                default: break
                }
            }
        } catch {
            throw KubeProtoError.malformed("\(path): \(error)")
        }
        switch name {
        case "meta.Time", "meta.MicroTime":
            guard !bytes.isEmpty else { return .null }  // the zero time prints as null
            let seconds = Int64(bitPattern: varints[1] ?? 0)
            if name == "meta.Time" { return .string(RFC3339.format(seconds: seconds)) }
            let nanos = Int32(truncatingIfNeeded: varints[2] ?? 0)
            return .string(RFC3339.format(seconds: seconds, nanos: nanos, fractionDigits: 6))
        case "resource.Quantity":
            let text = strings[1].map { String(decoding: $0, as: UTF8.self) } ?? ""
            return .string(text.isEmpty ? "0" : text)
        case "meta.Verbs", "authorization.ExtraValue":
            return .array(list)
        case "intstr.IntOrString":
            if varints[1] == 1 { return .string(strings[3].map { String(decoding: $0, as: UTF8.self) } ?? "") }
            return .number(String(Int32(truncatingIfNeeded: varints[2] ?? 0)))
        default:  // RawExtension, FieldsV1: a JSON document
            guard let raw = strings[1], !raw.isEmpty else { return .null }
            do {
                return try JSONValue(parsing: raw)
            } catch {
                throw KubeProtoError.malformed("\(path): the embedded raw object is not JSON")
            }
        }
    }
}
