// One node of a CRD's `openAPIV3Schema` (apiextensions.k8s.io/v1 JSONSchemaProps), parsed once from the CRD
// object and shared read-only by validation, pruning, defaulting and the CRD's own structural checks.

import EdgeProtocol
import Foundation

/// A parsed `JSONSchemaProps` node. Immutable; children are shared.
public final class CRDSchema: Sendable {
    /// `additionalProperties`: `true`/`false` or a schema for every value of a map.
    public enum AdditionalProperties: Sendable {
        case allows(Bool)
        case schema(CRDSchema)

        public var schema: CRDSchema? {
            if case .schema(let s) = self { return s }
            return nil
        }
    }

    /// The node as it was in the CRD.
    public let raw: JSONValue

    public let type: String
    public let format: String
    public let title: String
    public let description: String
    public let nullable: Bool
    /// `properties` in document order.
    public let properties: [(name: String, schema: CRDSchema)]
    private let propertyIndex: [String: Int]
    public let required: [String]
    public let additionalProperties: AdditionalProperties?
    public let items: CRDSchema?
    public let enumValues: [JSONValue]?
    public let defaultValue: JSONValue?
    public let maximum: Double?
    public let exclusiveMaximum: Bool
    public let minimum: Double?
    public let exclusiveMinimum: Bool
    public let multipleOf: Double?
    public let maxLength: Int64?
    public let minLength: Int64?
    public let pattern: String?
    public let maxItems: Int64?
    public let minItems: Int64?
    public let uniqueItems: Bool
    public let maxProperties: Int64?
    public let minProperties: Int64?
    public let allOf: [CRDSchema]
    public let anyOf: [CRDSchema]
    public let oneOf: [CRDSchema]
    public let not: CRDSchema?
    /// `x-kubernetes-preserve-unknown-fields` (nil when absent).
    public let preserveUnknownFields: Bool?
    public let intOrString: Bool
    public let embeddedResource: Bool
    public let listType: String?
    public let listMapKeys: [String]
    public let mapType: String?

    /// The compiled `pattern`, or nil when there is none or it does not compile (see ``patternError``).
    let patternRegex: CRDRegex?
    /// Why `pattern` does not compile.
    public let patternError: String?
    /// Keywords present that v1 CRDs forbid (`$ref`, `id`, `patternProperties`, ...), for the CRD's own validation.
    let forbiddenKeywords: [String]
    /// `items` was a list of schemas (forbidden).
    let itemsIsArray: Bool

    /// Parses `json`; shape problems (a keyword of the wrong JSON type) are appended to `errors` with their
    /// path under `path` (e.g. `spec.versions[0].schema.openAPIV3Schema`) and the keyword is then ignored.
    public init(parsing json: JSONValue, path: String, errors: inout [CRDFieldError]) {
        raw = json
        let members = json.objectMembers ?? []
        if json.objectMembers == nil {
            errors.append(.invalid(path, json, "must be an object"))
        }
        let reader = Reader(members: members, path: path)

        type = reader.string("type", &errors) ?? ""
        format = reader.string("format", &errors) ?? ""
        title = reader.string("title", &errors) ?? ""
        description = reader.string("description", &errors) ?? ""
        nullable = reader.bool("nullable", &errors) ?? false
        required = reader.strings("required", &errors) ?? []
        maximum = reader.double("maximum", &errors)
        exclusiveMaximum = reader.bool("exclusiveMaximum", &errors) ?? false
        minimum = reader.double("minimum", &errors)
        exclusiveMinimum = reader.bool("exclusiveMinimum", &errors) ?? false
        multipleOf = reader.double("multipleOf", &errors)
        maxLength = reader.int("maxLength", &errors)
        minLength = reader.int("minLength", &errors)
        pattern = reader.string("pattern", &errors)
        maxItems = reader.int("maxItems", &errors)
        minItems = reader.int("minItems", &errors)
        uniqueItems = reader.bool("uniqueItems", &errors) ?? false
        maxProperties = reader.int("maxProperties", &errors)
        minProperties = reader.int("minProperties", &errors)
        preserveUnknownFields = reader.bool("x-kubernetes-preserve-unknown-fields", &errors)
        intOrString = reader.bool("x-kubernetes-int-or-string", &errors) ?? false
        embeddedResource = reader.bool("x-kubernetes-embedded-resource", &errors) ?? false
        listType = reader.string("x-kubernetes-list-type", &errors)
        listMapKeys = reader.strings("x-kubernetes-list-map-keys", &errors) ?? []
        mapType = reader.string("x-kubernetes-map-type", &errors)
        defaultValue = reader.value("default")

        if let e = reader.value("enum") {
            if let list = e.arrayValue {
                enumValues = list
            } else {
                errors.append(.invalid(path + ".enum", e, "must be an array"))
                enumValues = nil
            }
        } else {
            enumValues = nil
        }

        var props: [(name: String, schema: CRDSchema)] = []
        var index: [String: Int] = [:]
        if let p = reader.value("properties") {
            if let pm = p.objectMembers {
                for member in CRDGoFormat.lastWins(pm) {
                    let child = CRDSchema(
                        parsing: member.value, path: path + ".properties[" + member.key + "]", errors: &errors)
                    index[member.key] = props.count
                    props.append((name: member.key, schema: child))
                }
            } else {
                errors.append(.invalid(path + ".properties", p, "must be an object"))
            }
        }
        properties = props
        propertyIndex = index

        if let ap = reader.value("additionalProperties") {
            switch ap {
            case .bool(let b): additionalProperties = .allows(b)
            case .object:
                additionalProperties = .schema(
                    CRDSchema(parsing: ap, path: path + ".additionalProperties", errors: &errors))
            default:
                errors.append(.invalid(path + ".additionalProperties", ap, "must be a boolean or an object"))
                additionalProperties = nil
            }
        } else {
            additionalProperties = nil
        }

        var itemsArray = false
        if let it = reader.value("items") {
            switch it {
            case .object:
                items = CRDSchema(parsing: it, path: path + ".items", errors: &errors)
            case .array:
                itemsArray = true
                items = nil
            default:
                errors.append(.invalid(path + ".items", it, "must be an object"))
                items = nil
            }
        } else {
            items = nil
        }
        itemsIsArray = itemsArray

        allOf = reader.schemas("allOf", &errors)
        anyOf = reader.schemas("anyOf", &errors)
        oneOf = reader.schemas("oneOf", &errors)
        if let n = reader.value("not") {
            not = CRDSchema(parsing: n, path: path + ".not", errors: &errors)
        } else {
            not = nil
        }

        var forbidden: [String] = []
        for keyword in ["$ref", "id", "additionalItems", "patternProperties", "definitions", "dependencies"]
        where reader.value(keyword) != nil {
            forbidden.append(keyword)
        }
        forbiddenKeywords = forbidden

        if let pattern, !pattern.isEmpty {
            do {
                patternRegex = try CRDRegex(pattern)
                patternError = nil
            } catch {
                patternRegex = nil
                patternError = "error parsing regexp: invalid pattern `\(pattern)`"
            }
        } else {
            patternRegex = nil
            patternError = nil
        }
    }

    /// Parses a schema that is known to be well formed (tests, built-in schemas); shape problems are ignored.
    public convenience init(_ json: JSONValue) {
        var ignored: [CRDFieldError] = []
        self.init(parsing: json, path: "openAPIV3Schema", errors: &ignored)
    }

    /// The schema of property `name`.
    public func property(_ name: String) -> CRDSchema? {
        propertyIndex[name].map { properties[$0].schema }
    }

    /// The schema values of a map (or unknown fields) follow, if any.
    var additionalSchema: CRDSchema? { additionalProperties?.schema }

    /// `type` as kube-openapi sees it: `x-kubernetes-int-or-string` means `integer` or `string`.
    var types: [String] {
        if intOrString { return ["integer", "string"] }
        return type.isEmpty ? [] : [type]
    }

    /// Typed reads of schema keywords.
    private struct Reader {
        let members: [(key: String, value: JSONValue)]
        let path: String

        func value(_ key: String) -> JSONValue? {
            members.last(where: { $0.key == key })?.value
        }

        func string(_ key: String, _ errors: inout [CRDFieldError]) -> String? {
            guard let v = value(key), !v.isNull else { return nil }
            if let s = v.stringValue { return s }
            errors.append(.invalid(path + "." + key, v, "must be a string"))
            return nil
        }

        func bool(_ key: String, _ errors: inout [CRDFieldError]) -> Bool? {
            guard let v = value(key), !v.isNull else { return nil }
            if let b = v.boolValue { return b }
            errors.append(.invalid(path + "." + key, v, "must be a boolean"))
            return nil
        }

        func double(_ key: String, _ errors: inout [CRDFieldError]) -> Double? {
            guard let v = value(key), !v.isNull else { return nil }
            if let d = v.doubleValue { return d }
            errors.append(.invalid(path + "." + key, v, "must be a number"))
            return nil
        }

        func int(_ key: String, _ errors: inout [CRDFieldError]) -> Int64? {
            guard let v = value(key), !v.isNull else { return nil }
            if let i = v.int64Value { return i }
            errors.append(.invalid(path + "." + key, v, "must be an integer"))
            return nil
        }

        func strings(_ key: String, _ errors: inout [CRDFieldError]) -> [String]? {
            guard let v = value(key), !v.isNull else { return nil }
            if let list = v.arrayValue {
                var out: [String] = []
                for (i, element) in list.enumerated() {
                    if let s = element.stringValue {
                        out.append(s)
                    } else {
                        errors.append(.invalid(path + "." + key + "[\(i)]", element, "must be a string"))
                    }
                }
                return out
            }
            errors.append(.invalid(path + "." + key, v, "must be an array of strings"))
            return nil
        }

        func schemas(_ key: String, _ errors: inout [CRDFieldError]) -> [CRDSchema] {
            guard let v = value(key), !v.isNull else { return [] }
            guard let list = v.arrayValue else {
                errors.append(.invalid(path + "." + key, v, "must be an array"))
                return []
            }
            return list.enumerated().map { i, element in
                CRDSchema(parsing: element, path: path + "." + key + "[\(i)]", errors: &errors)
            }
        }
    }
}

/// A compiled `pattern`. JSON-schema patterns are unanchored searches (Go's `regexp.MatchString`).
final class CRDRegex: @unchecked Sendable {
    // NSRegularExpression is immutable once built and documented as safe to use from several threads.
    private let regex: NSRegularExpression

    init(_ pattern: String) throws {
        // RE2's named groups `(?P<name>...)` are `(?<name>...)` for ICU.
        let translated = pattern.replacingOccurrences(of: "(?P<", with: "(?<")
        regex = try NSRegularExpression(pattern: translated, options: [])
    }

    func matches(_ s: String) -> Bool {
        regex.firstMatch(in: s, options: [], range: NSRange(s.startIndex..<s.endIndex, in: s)) != nil
    }
}
