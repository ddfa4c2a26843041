// Kubernetes field errors (k8s.io/apimachinery/pkg/util/validation/field) as the CRD code reports them, and the
// Status message kube-apiserver builds from a list of them (`<Kind>.<group> "<name>" is invalid: [...]`).
// Bad values are printed the way Go's fmt prints the decoded JSON (`%q` for strings, `%v` for numbers and bools,
// `%#v` for maps and slices), so messages match a real API server's byte for byte in the common cases.

import EdgeProtocol

/// One field-level validation error, as `field.Error` in Kubernetes.
public struct CRDFieldError: Error, Sendable, Hashable, CustomStringConvertible {
    /// `field.ErrorType`: the raw value is what a Status cause carries as `reason`.
    public enum ErrorType: String, Sendable, Hashable {
        case notFound = "FieldValueNotFound"
        case required = "FieldValueRequired"
        case duplicate = "FieldValueDuplicate"
        case invalid = "FieldValueInvalid"
        case notSupported = "FieldValueNotSupported"
        case forbidden = "FieldValueForbidden"
        case tooLong = "FieldValueTooLong"
        case tooMany = "FieldValueTooMany"
        case internalError = "InternalError"
        case typeInvalid = "FieldValueTypeInvalid"

        /// The words the message starts with ("Invalid value", "Required value", ...).
        public var phrase: String {
            switch self {
            case .notFound: "Not found"
            case .required: "Required value"
            case .duplicate: "Duplicate value"
            case .invalid, .typeInvalid: "Invalid value"
            case .notSupported: "Unsupported value"
            case .forbidden: "Forbidden"
            case .tooLong: "Too long"
            case .tooMany: "Too many"
            case .internalError: "Internal error"
            }
        }
    }

    /// What the message shows after the phrase.
    public enum BadValue: Sendable, Hashable {
        /// Nothing (Required, Forbidden, Too long and Internal errors never show their value).
        case omitted
        /// A decoded JSON value, printed as Go prints the unstructured value (`"text"`, `5`, `1.5`, `true`,
        /// `map[string]interface {}{...}`); JSON null prints as `"null"`.
        case value(JSONValue)
        /// Text printed as it is (Go's `%#v` of a typed value, e.g. a list of CRD versions).
        case literal(String)
    }

    public var type: ErrorType
    /// The field path, e.g. `spec.replicas` or `spec.versions[0].name`; `<nil>` where Kubernetes has none.
    public var field: String
    public var badValue: BadValue
    public var detail: String

    public init(_ type: ErrorType, field: String, badValue: BadValue = .omitted, detail: String = "") {
        self.type = type
        self.field = field
        self.badValue = badValue
        self.detail = detail
    }

    public static func required(_ field: String, _ detail: String = "") -> CRDFieldError {
        CRDFieldError(.required, field: field, detail: detail)
    }

    public static func invalid(_ field: String, _ value: JSONValue, _ detail: String) -> CRDFieldError {
        CRDFieldError(.invalid, field: field, badValue: .value(value), detail: detail)
    }

    public static func forbidden(_ field: String, _ detail: String) -> CRDFieldError {
        CRDFieldError(.forbidden, field: field, detail: detail)
    }

    /// `field.NotSupported`: the detail lists the quoted supported values.
    public static func notSupported(_ field: String, _ value: JSONValue, supported: [String]) -> CRDFieldError {
        let detail =
            supported.isEmpty ? "" : "supported values: " + supported.map(CRDGoFormat.quote).joined(separator: ", ")
        return CRDFieldError(.notSupported, field: field, badValue: .value(value), detail: detail)
    }

    /// `field.TooLong` (current wording).
    public static func tooLong(_ field: String, maxLength: Int) -> CRDFieldError {
        let unit = maxLength == 1 ? "byte" : "bytes"
        let detail = maxLength >= 0 ? "may not be more than \(maxLength) \(unit)" : "value is too long"
        return CRDFieldError(.tooLong, field: field, detail: detail)
    }

    /// `field.TooMany`.
    public static func tooMany(_ field: String, actual: Int, max: Int) -> CRDFieldError {
        let detail = max >= 0 ? "must have at most \(max) \(max == 1 ? "item" : "items")" : "has too many items"
        let bad: BadValue = actual >= 0 ? .value(.integer(actual)) : .omitted
        return CRDFieldError(.tooMany, field: field, badValue: bad, detail: detail)
    }

    /// The message without the field (`field.Error.ErrorBody`): what a Status cause carries as `message`.
    public var errorBody: String {
        var s: String
        switch (type, badValue) {
        case (.required, _), (.forbidden, _), (.tooLong, _), (.internalError, _), (_, .omitted):
            s = type.phrase
        case (_, .value(let value)):
            s = type.phrase + ": " + CRDGoFormat.fieldValue(value)
        case (_, .literal(let text)):
            s = type.phrase + ": " + text
        }
        if !detail.isEmpty { s += ": " + detail }
        return s
    }

    /// `<field>: <body>`, e.g. `spec.protocol: Required value`.
    public var description: String { field + ": " + errorBody }

    // MARK: Aggregates and Status

    /// The errors joined as `field.ErrorList.ToAggregate().Error()` does: duplicates dropped, one message as it
    /// is, several as `[m1, m2]`; empty for no errors.
    public static func aggregateMessage(_ errors: [CRDFieldError]) -> String {
        var seen = Set<String>()
        var messages: [String] = []
        for error in errors {
            let message = error.description
            if seen.insert(message).inserted { messages.append(message) }
        }
        switch messages.count {
        case 0: return ""
        case 1: return messages[0]
        default: return "[" + messages.joined(separator: ", ") + "]"
        }
    }

    /// The Status message of a 422 Invalid (`apierrors.NewInvalid`): `Rule.rules.kubeedge.io "r1" is invalid: ...`.
    /// `group` may be empty (core kinds print the kind alone).
    public static func invalidMessage(kind: String, group: String, name: String, errors: [CRDFieldError]) -> String {
        let qualified = group.isEmpty ? kind : kind + "." + group
        let head = qualified + " " + CRDGoFormat.quote(name) + " is invalid"
        let aggregate = aggregateMessage(errors)
        return aggregate.isEmpty ? head : head + ": " + aggregate
    }

    /// The whole `Status` object kube-apiserver answers a 422 Invalid with (reason `Invalid`, one cause per error).
    public static func invalidStatus(kind: String, group: String, name: String, errors: [CRDFieldError]) -> JSONValue {
        let causes: [JSONValue] = errors.map { error in
            .object([
                (key: "reason", value: .string(error.type.rawValue)),
                (key: "message", value: .string(error.errorBody)),
                (key: "field", value: .string(error.field)),
            ])
        }
        var details: [(key: String, value: JSONValue)] = [(key: "name", value: .string(name))]
        if !group.isEmpty { details.append((key: "group", value: .string(group))) }
        details.append((key: "kind", value: .string(kind)))
        if !causes.isEmpty { details.append((key: "causes", value: .array(causes))) }
        return .object([
            (key: "kind", value: "Status"),
            (key: "apiVersion", value: "v1"),
            (key: "metadata", value: .object([])),
            (key: "status", value: "Failure"),
            (key: "message", value: .string(invalidMessage(kind: kind, group: group, name: name, errors: errors))),
            (key: "reason", value: "Invalid"),
            (key: "details", value: .object(details)),
            (key: "code", value: 422),
        ])
    }
}

// MARK: - Go formatting of decoded JSON values

/// How Go prints values that came out of `json.Unmarshal` into `interface{}` the way Kubernetes decodes
/// unstructured objects: integers that fit int64 are `int64`, other numbers `float64`.
enum CRDGoFormat {
    /// A JSON number as Kubernetes' unstructured decoder holds it.
    enum Number: Sendable, Hashable {
        case int(Int64)
        case float(Double)

        init?(_ value: JSONValue) {
            guard case .number(let literal) = value else { return nil }
            self.init(literal: literal)
        }

        init?(literal: String) {
            if let i = Int64(literal) {
                self = .int(i)
            } else if let d = Double(literal), d.isFinite {
                self = .float(d)
            } else {
                return nil
            }
        }

        var double: Double {
            switch self {
            case .int(let i): Double(i)
            case .float(let d): d
            }
        }
    }

    /// `strconv.Quote`.
    static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\u{07}": out += "\\a"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{0B}": out += "\\v"
            default:
                let v = scalar.value
                if v < 0x20 || v == 0x7F {
                    out += "\\x" + hex(v, width: 2)
                } else if (0x80...0x9F).contains(v) || v == 0xAD || (0xFFF9...0xFFFB).contains(v)
                    || (0x2028...0x2029).contains(v) || v == 0xFEFF
                {
                    out += v > 0xFFFF ? "\\U" + hex(v, width: 8) : "\\u" + hex(v, width: 4)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    private static func hex(_ v: UInt32, width: Int) -> String {
        let digits = String(v, radix: 16)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    /// A bad value in a field error (`field.Error.ErrorBody`): strings quoted, numbers and bools with `%v`,
    /// null as `"null"`, maps and slices with `%#v`.
    static func fieldValue(_ value: JSONValue) -> String {
        switch value {
        case .null: quote("null")
        case .string(let s): quote(s)
        case .bool(let b): b ? "true" : "false"
        case .number(let literal): number(literal)
        case .array, .object: sharpV(value)
        }
    }

    /// `%v` of a JSON number literal as Go holds it (int64 or float64).
    static func number(_ literal: String) -> String {
        switch Number(literal: literal) {
        case .int(let i): String(i)
        case .float(let d): formatV(d)
        case nil: literal
        }
    }

    /// `%#v` of an unstructured value.
    static func sharpV(_ value: JSONValue) -> String {
        switch value {
        case .null: "interface {}(nil)"
        case .string(let s): quote(s)
        case .bool(let b): b ? "true" : "false"
        case .number(let literal): number(literal)
        case .array(let elements):
            "[]interface {}{" + elements.map(sharpV).joined(separator: ", ") + "}"
        case .object(let members):
            "map[string]interface {}{"
                + lastWins(members).sorted { goLess($0.key, $1.key) }.map { quote($0.key) + ":" + sharpV($0.value) }
                .joined(separator: ", ") + "}"
        }
    }

    /// Object members with duplicate keys collapsed to the last value (what a Go map holds), in first-seen order.
    static func lastWins(_ members: [(key: String, value: JSONValue)]) -> [(key: String, value: JSONValue)] {
        var index: [String: Int] = [:]
        var out: [(key: String, value: JSONValue)] = []
        for member in members {
            if let i = index[member.key] {
                out[i].value = member.value
            } else {
                index[member.key] = out.count
                out.append(member)
            }
        }
        return out
    }

    /// Go's string order (bytewise).
    static func goLess(_ a: String, _ b: String) -> Bool {
        a.utf8.lexicographicallyPrecedes(b.utf8)
    }

    /// `json.Marshal` of an unstructured value: map keys sorted, numbers as Go re-encodes its int64/float64.
    static func json(_ value: JSONValue) -> String {
        let normalized = normalizeForJSON(value)
        guard let bytes = try? normalized.serialized() else { return "null" }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func normalizeForJSON(_ value: JSONValue) -> JSONValue {
        switch value {
        case .number(let literal):
            switch Number(literal: literal) {
            case .int(let i): return .number(String(i))
            case .float(let d): return .number(formatJSON(d))
            case nil: return value
            }
        case .array(let elements):
            return .array(elements.map(normalizeForJSON))
        case .object(let members):
            return .object(
                lastWins(members).sorted { goLess($0.key, $1.key) }.map {
                    (key: $0.key, value: normalizeForJSON($0.value))
                })
        default:
            return value
        }
    }

    // MARK: Floats

    /// Shortest round-trip decimal digits of `d` (no sign) and the decimal point position: value = 0.digits × 10^dp.
    private static func shortestDigits(_ d: Double) -> (digits: [UInt8], dp: Int) {
        let text = "\(abs(d))"  // Swift prints the shortest round-trip representation
        var mantissa = Substring(text)
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            mantissa = text[..<e]
            var expText = text[text.index(after: e)...]
            if expText.first == "+" { expText = expText.dropFirst() }
            exponent = Int(expText) ?? 0
        }
        var digits: [UInt8] = []
        var pointAt: Int?
        for ch in mantissa {
            if ch == "." {
                pointAt = digits.count
            } else if let v = ch.asciiValue, v >= 48, v <= 57 {
                digits.append(v - 48)
            }
        }
        var dp = (pointAt ?? digits.count) + exponent
        while let first = digits.first, first == 0, digits.count > 1 {
            digits.removeFirst()
            dp -= 1
        }
        while let last = digits.last, last == 0, digits.count > 1 { digits.removeLast() }
        if digits == [0] { dp = 1 }
        return (digits, dp)
    }

    private static func formatE(_ digits: [UInt8], _ dp: Int, negative: Bool, twoDigitExponent: Bool) -> String {
        var s = negative ? "-" : ""
        s += String(digits[0])
        if digits.count > 1 { s += "." + digits.dropFirst().map(String.init).joined() }
        let exp = digits == [0] ? 0 : dp - 1
        s += exp < 0 ? "e-" : "e+"
        let magnitude = String(abs(exp))
        s += (twoDigitExponent && magnitude.count < 2 ? "0" : "") + magnitude
        return s
    }

    private static func formatF(_ digits: [UInt8], _ dp: Int, negative: Bool) -> String {
        var s = negative ? "-" : ""
        if dp <= 0 {
            s += "0." + String(repeating: "0", count: -dp) + digits.map(String.init).joined()
        } else if dp >= digits.count {
            s += digits.map(String.init).joined() + String(repeating: "0", count: dp - digits.count)
        } else {
            s += digits[..<dp].map(String.init).joined() + "." + digits[dp...].map(String.init).joined()
        }
        return s
    }

    /// Go's `%v` of a float64 (`strconv.FormatFloat(f, 'g', -1, 64)`): `1`, `1.5`, `100000`, `1e+06`, `1e-05`.
    static func formatV(_ d: Double) -> String {
        if d.isNaN { return "NaN" }
        if d.isInfinite { return d < 0 ? "-Inf" : "+Inf" }
        let (digits, dp) = shortestDigits(d)
        let negative = d.sign == .minus && d != 0
        // Shortest 'g': the exponent form when exp < -4 || exp >= 6 (strconv uses precision 6 for this decision).
        let exp = dp - 1
        if digits != [0] && (exp < -4 || exp >= 6) {
            return formatE(digits, dp, negative: negative, twoDigitExponent: true)
        }
        return formatF(digits, dp, negative: negative)
    }

    /// `encoding/json`'s float64: plain decimal unless tiny or huge, exponent without a leading zero.
    static func formatJSON(_ d: Double) -> String {
        let (digits, dp) = shortestDigits(d)
        let negative = d.sign == .minus && d != 0
        let a = abs(d)
        if a != 0 && (a < 1e-6 || a >= 1e21) {
            return formatE(digits, dp, negative: negative, twoDigitExponent: false)
        }
        return formatF(digits, dp, negative: negative)
    }
}

/// Field errors are kube's `field.Error`, for built-in kinds as for custom resources.
public typealias FieldError = CRDFieldError

extension CRDFieldError {
    /// `Invalid value: "<value>"` for a string value.
    public static func invalid(_ field: String, _ value: String, _ detail: String) -> CRDFieldError {
        CRDFieldError(.invalid, field: field, badValue: .value(.string(value)), detail: detail)
    }
}
