import EdgeProtocol
import YAMLJSON

/// Device manifests arrive as YAML (a local file) or JSON (the edge bus); both become `JSONValue` trees so that one
/// parser reads them. YAML scalars keep their text: a plain scalar that reads as a number or boolean becomes one.
public enum SpecDocuments {
    /// Every document of a (multi-document) YAML text, as JSON trees. Empty documents are skipped.
    public static func load(yaml text: String) throws(SpecError) -> [JSONValue] {
        do {
            return try YAMLDocuments.load(text)
        } catch {
            throw SpecError("not valid YAML: \(error)")
        }
    }
}

/// A device or model spec that cannot be used, and why.
public struct SpecError: Error, CustomStringConvertible, Sendable, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension JSONValue {
    public var members: [(key: String, value: JSONValue)]? {
        if case .object(let m) = self { return m }
        return nil
    }

    public var elements: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    /// A scalar as text: strings as they are, numbers as their literal, booleans as `true`/`false`.
    public var scalarText: String? {
        switch self {
        case .string(let s): s
        case .number(let n): n
        case .bool(let b): b ? "true" : "false"
        default: nil
        }
    }

    /// A number, or a string holding one (YAML users quote numbers now and then).
    public var looseDouble: Double? {
        switch self {
        case .number(let n): Double(n)
        case .string(let s): Double(s.trimmingSpaces)
        default: nil
        }
    }

    public var looseInt64: Int64? {
        switch self {
        case .number(let n), .string(let n):
            if let i = Int64(n.trimmingSpaces) { return i }
            if let d = Double(n.trimmingSpaces), d.rounded() == d, abs(d) < 9.2e18 { return Int64(d) }
            return nil
        default: return nil
        }
    }

    public var looseBool: Bool? {
        switch self {
        case .bool(let b): b
        case .string(let s):
            switch s.lowercased() {
            case "true": true
            case "false": false
            default: nil
            }
        default: nil
        }
    }

    /// Looks a key up ignoring ASCII case (KubeEdge's JSON decoding of CRD fields is case-insensitive too).
    public func member(_ key: String) -> JSONValue? {
        if let exact = self[key] { return exact }
        let lower = key.lowercased()
        return members?.last(where: { $0.key.lowercased() == lower })?.value
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return String(s)
    }
}
