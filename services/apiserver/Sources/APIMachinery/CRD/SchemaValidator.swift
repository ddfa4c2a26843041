// Validation of a custom object against its CRD version's openAPIV3Schema, as kube-apiserver does it: the
// kube-openapi SchemaValidator (type, allOf/anyOf/oneOf/not, string, format, number, array, enum, object
// checks, in that order for each node), its errors mapped to field errors the way apiextensions-apiserver maps
// them, then the embedded-resource checks. `apiVersion` and `kind` at the root are the server's business, and of
// `metadata` only `name` and `generateName` are checked against the schema.

import EdgeProtocol

/// Validates, prunes and defaults objects of one CRD version.
public struct SchemaValidator: Sendable {
    /// The version's `openAPIV3Schema`.
    public let schema: CRDSchema

    public init(schema: CRDSchema) {
        self.schema = schema
    }

    /// Parses `openAPIV3Schema` (shape problems ignored; see ``CRDDefinition`` for checking a CRD).
    public init(openAPIV3Schema: JSONValue) {
        self.schema = CRDSchema(openAPIV3Schema)
    }

    /// The schema errors of `object` (a whole custom resource), in kube's wording. Empty when valid.
    /// Run ``admit(_:fieldValidation:)`` instead to also drop nulls, default and prune first, as the server does.
    public func validate(_ object: JSONValue) -> [CRDFieldError] {
        var raw: [OpenAPIError] = []
        validateNode(object, schema, path: "", isRoot: true, into: &raw)
        var errors = raw.map { $0.fieldError }
        embeddedResourceErrors(object, schema, path: "", isRoot: true, into: &errors)
        return errors
    }

    // MARK: - kube-openapi errors

    /// An error as kube-openapi reports it, before apiextensions-apiserver turns it into a field error.
    struct OpenAPIError {
        enum Code {
            case invalidType, required, tooLong, tooShort, pattern, enumFail, multipleOf, maximum, minimum
            case uniqueItems, maxItems, minItems, tooFewProperties, tooManyProperties, forbiddenProperty
            case multipleOfMustBePositive
            /// A plain error without a field (the allOf/anyOf/oneOf/not messages).
            case composite
        }

        var code: Code
        /// The data path (`spec.replicas`, `.spec` for a required field of the root).
        var name: String
        /// `Validation.Value`: nil when it has none.
        var value: JSONValue?
        /// `Validation.Valid` (the limit of maxLength/maxItems/maxProperties).
        var limit: Int64?
        /// `Validation.Values` (the enum).
        var values: [JSONValue] = []
        var message: String

        /// `kubeOpenAPIResultToFieldErrors` with a nil base path.
        var fieldError: CRDFieldError {
            if code == .composite {
                return CRDFieldError(.invalid, field: "<nil>", badValue: .value(.string("")), detail: message)
            }
            var field = "<nil>"
            if !name.isEmpty && name != "." {
                field = name.hasPrefix(".") ? String(name.dropFirst()) : name
            }
            let shown = value ?? .string("")
            switch code {
            case .required:
                return .required(field)
            case .enumFail:
                let supported = values.map { v -> String in
                    if let s = v.stringValue { return s }
                    return CRDGoFormat.json(v)
                }
                return .notSupported(field, value ?? .null, supported: supported)
            case .tooLong:
                return .tooLong(field, maxLength: Int(limit ?? -1))
            case .maxItems, .tooManyProperties:
                let actual = value.flatMap { $0.int64Value }.map { Int($0) } ?? -1
                return .tooMany(field, actual: actual, max: Int(limit ?? -1))
            case .invalidType:
                return CRDFieldError(.typeInvalid, field: field, badValue: .value(shown), detail: message)
            default:
                return CRDFieldError(.invalid, field: field, badValue: .value(shown), detail: message)
            }
        }
    }

    // MARK: - The node validator (kube-openapi SchemaValidator.Validate)

    private func validateNode(
        _ data: JSONValue, _ s: CRDSchema, path: String, isRoot: Bool, into errors: inout [OpenAPIError]
    ) {
        if data.isNull {
            let types = s.types
            if !types.isEmpty && !s.nullable {
                errors.append(Self.invalidType(path, types.joined(separator: ","), "null"))
            }
            validateEnum(data, s, path: path, into: &errors)
            return
        }
        validateType(data, s, path: path, into: &errors)
        validateSchemaProps(data, s, path: path, into: &errors)
        if case .string(let text) = data {
            validateString(text, s, path: path, into: &errors)
            validateFormat(text, s, path: path, into: &errors)
        }
        if let number = CRDGoFormat.Number(data) {
            validateNumber(number, data, s, path: path, into: &errors)
        }
        if case .array(let elements) = data {
            validateArray(elements, s, path: path, into: &errors)
        }
        validateEnum(data, s, path: path, into: &errors)
        if case .object(let members) = data {
            validateObject(CRDGoFormat.lastWins(members), s, path: path, isRoot: isRoot, into: &errors)
        }
    }

    private static func quotedName(_ path: String) -> String { CRDGoFormat.quote(path) }

    /// `errors.InvalidType` with a string value (`%s in body must be of type %s: %q`).
    private static func invalidType(_ path: String, _ typeName: String, _ value: String) -> OpenAPIError {
        OpenAPIError(
            code: .invalidType, name: path, value: .string(value),
            message: "\(path) in body must be of type \(typeName): \(CRDGoFormat.quote(value))")
    }

    /// JSON type and Go format of a decoded value (`typeValidator.schemaInfoForType`).
    private static func schemaInfo(_ data: JSONValue) -> (type: String, format: String) {
        switch data {
        case .null: ("null", "")
        case .bool: ("boolean", "")
        case .string: ("string", "")
        case .array: ("array", "")
        case .object: ("object", "")
        case .number(let literal):
            switch CRDGoFormat.Number(literal: literal) {
            case .int: ("integer", "int64")
            default: ("number", "float64")
            }
        }
    }

    private func validateType(_ data: JSONValue, _ s: CRDSchema, path: String, into errors: inout [OpenAPIError]) {
        let types = s.types
        let format = CRDStringFormats.supported(s.format) ? s.format : ""  // unsupported formats are stripped
        guard !types.isEmpty || !format.isEmpty else { return }
        let (schType, dataFormat) = Self.schemaInfo(data)
        let isStringOrSlice = schType == "string" || schType == "array"
        var isFloatInt = false
        if case .float(let d)? = CRDGoFormat.Number(data) {
            isFloatInt = Self.isJSONInteger(d) && types.contains("integer")
        }
        let isIntFloat = schType == "integer" && types.contains("number")
        if !isStringOrSlice && !format.isEmpty
            && !(types.contains(schType) || dataFormat == format || isFloatInt || isIntFloat)
        {
            errors.append(Self.invalidType(path, format, dataFormat))
            return
        }
        if !(types.contains("number") || types.contains("integer")) && !format.isEmpty && isStringOrSlice {
            return
        }
        if !(types.contains(schType) || isFloatInt || isIntFloat) {
            errors.append(Self.invalidType(path, types.joined(separator: ","), schType))
        }
    }

    /// `swag.IsFloat64AJSONInteger`.
    static func isJSONInteger(_ f: Double) -> Bool {
        let maxJSON = Double((1 << 53) - 1)
        guard f.isFinite, f >= -maxJSON, f <= maxJSON else { return false }
        let g = f.rounded(.towardZero)
        if f == g { return true }
        let diff = abs(f - g)
        if g == 0 { return diff < 1e-9 * Double.leastNonzeroMagnitude }
        return diff / (abs(f) + abs(g)) < 1e-9
    }

    // MARK: allOf / anyOf / oneOf / not

    private func branchErrors(_ data: JSONValue, _ s: CRDSchema, path: String) -> [OpenAPIError] {
        var out: [OpenAPIError] = []
        validateNode(data, s, path: path, isRoot: false, into: &out)
        return out
    }

    private func validateSchemaProps(
        _ data: JSONValue, _ s: CRDSchema, path: String, into errors: inout [OpenAPIError]
    ) {
        if !s.anyOf.isEmpty {
            var best: [OpenAPIError]?
            var succeeded = false
            for branch in s.anyOf {
                let result = branchErrors(data, branch, path: path)
                if result.isEmpty {
                    succeeded = true
                    best = nil
                    break
                }
                if best == nil || result.count < best!.count { best = result }
            }
            if !succeeded {
                errors.append(
                    OpenAPIError(
                        code: .composite, name: path,
                        message: "\(Self.quotedName(path)) must validate at least one schema (anyOf)"))
            }
            if let best { errors += best }
        }
        if !s.oneOf.isEmpty {
            var best: [OpenAPIError]?
            var validated = 0
            for branch in s.oneOf {
                let result = branchErrors(data, branch, path: path)
                if result.isEmpty {
                    validated += 1
                    best = nil
                    continue
                }
                if validated == 0 && (best == nil || result.count < best!.count) { best = result }
            }
            if validated != 1 {
                let more = validated == 0 ? "Found none valid" : "Found \(validated) valid alternatives"
                errors.append(
                    OpenAPIError(
                        code: .composite, name: path,
                        message: "\(Self.quotedName(path)) must validate one and only one schema (oneOf). \(more)"))
                if let best { errors += best }
            }
        }
        if !s.allOf.isEmpty {
            var validated = 0
            for branch in s.allOf {
                let result = branchErrors(data, branch, path: path)
                if result.isEmpty { validated += 1 }
                errors += result
            }
            if validated != s.allOf.count {
                let more = validated == 0 ? ". None validated" : ""
                errors.append(
                    OpenAPIError(
                        code: .composite, name: path,
                        message: "\(Self.quotedName(path)) must validate all the schemas (allOf)\(more)"))
            }
        }
        if let not = s.not, branchErrors(data, not, path: path).isEmpty {
            errors.append(
                OpenAPIError(
                    code: .composite, name: path,
                    message: "\(Self.quotedName(path)) must not validate the schema (not)"))
        }
    }

    // MARK: Strings

    private func validateString(_ text: String, _ s: CRDSchema, path: String, into errors: inout [OpenAPIError]) {
        let length = Int64(text.unicodeScalars.count)
        if let maxLength = s.maxLength, length > maxLength {
            errors.append(
                OpenAPIError(
                    code: .tooLong, name: path, value: .string(text), limit: maxLength,
                    message: "\(path) in body should be at most \(maxLength) chars long"))
            return
        }
        if let minLength = s.minLength, length < minLength {
            errors.append(
                OpenAPIError(
                    code: .tooShort, name: path, value: .string(text), limit: minLength,
                    message: "\(path) in body should be at least \(minLength) chars long"))
            return
        }
        if let pattern = s.pattern, !pattern.isEmpty {
            if let regex = s.patternRegex {
                if !regex.matches(text) {
                    errors.append(
                        OpenAPIError(
                            code: .pattern, name: path, value: .string(text),
                            message: "\(path) in body should match '\(pattern)'"))
                }
            } else {
                let why = s.patternError ?? "invalid pattern"
                errors.append(
                    OpenAPIError(
                        code: .pattern, name: path, value: .string(text),
                        message: "\(path) in body should match '\(pattern), but pattern is invalid: \(why)'"))
            }
        }
    }

    private func validateFormat(_ text: String, _ s: CRDSchema, path: String, into errors: inout [OpenAPIError]) {
        guard !s.format.isEmpty, CRDStringFormats.supported(s.format) else { return }
        if !CRDStringFormats.validates(s.format, text) {
            errors.append(Self.invalidType(path, s.format, text))
        }
    }

    // MARK: Numbers

    /// Go's `int64(f)` for a float bound (saturating instead of undefined).
    private static func truncatedInt(_ f: Double) -> Int64 {
        if f.isNaN { return 0 }
        if f >= 9.2e18 { return .max }
        if f <= -9.2e18 { return .min }
        return Int64(f.rounded(.towardZero))
    }

    private func validateNumber(
        _ number: CRDGoFormat.Number, _ data: JSONValue, _ s: CRDSchema, path: String,
        into errors: inout [OpenAPIError]
    ) {
        if let factor = s.multipleOf {
            switch number {
            case .int(let value):
                let f = Self.truncatedInt(factor)
                if f <= 0 {
                    errors.append(
                        OpenAPIError(
                            code: .multipleOfMustBePositive, name: path, value: .integer(f),
                            message: "factor MultipleOf declared for \(path) must be positive: \(f)"))
                } else if value % f != 0 {
                    errors.append(
                        OpenAPIError(
                            code: .multipleOf, name: path, value: data,
                            message: "\(path) in body should be a multiple of \(f)"))
                }
            case .float(let value):
                if factor <= 0 {
                    errors.append(
                        OpenAPIError(
                            code: .multipleOfMustBePositive, name: path,
                            value: .number(CRDGoFormat.formatJSON(factor)),
                            message: "factor MultipleOf declared for \(path) must be positive: "
                                + CRDGoFormat.formatV(factor)))
                } else {
                    let mult = factor < 1 ? 1 / factor * value : value / factor
                    if !Self.isJSONInteger(mult) {
                        errors.append(
                            OpenAPIError(
                                code: .multipleOf, name: path, value: data,
                                message: "\(path) in body should be a multiple of \(CRDGoFormat.formatV(factor))"))
                    }
                }
            }
        }
        if let minimum = s.minimum {
            let exclusive = s.exclusiveMinimum
            var failed = false
            var bound: String
            switch number {
            case .int(let value):
                let m = Self.truncatedInt(minimum)
                failed = exclusive ? value <= m : value < m
                bound = String(m)
            case .float(let value):
                failed = exclusive ? value <= minimum : value < minimum
                bound = CRDGoFormat.formatV(minimum)
            }
            if failed {
                let relation = exclusive ? "greater than" : "greater than or equal to"
                errors.append(
                    OpenAPIError(
                        code: .minimum, name: path, value: data,
                        message: "\(path) in body should be \(relation) \(bound)"))
            }
        }
        if let maximum = s.maximum {
            let exclusive = s.exclusiveMaximum
            var failed = false
            var bound: String
            switch number {
            case .int(let value):
                let m = Self.truncatedInt(maximum)
                failed = exclusive ? value >= m : value > m
                bound = String(m)
            case .float(let value):
                failed = exclusive ? value >= maximum : value > maximum
                bound = CRDGoFormat.formatV(maximum)
            }
            if failed {
                let relation = exclusive ? "less than" : "less than or equal to"
                errors.append(
                    OpenAPIError(
                        code: .maximum, name: path, value: data,
                        message: "\(path) in body should be \(relation) \(bound)"))
            }
        }
    }

    // MARK: Arrays

    private func validateArray(
        _ elements: [JSONValue], _ s: CRDSchema, path: String, into errors: inout [OpenAPIError]
    ) {
        if let items = s.items {
            for (i, element) in elements.enumerated() {
                validateNode(element, items, path: "\(path)[\(i)]", isRoot: false, into: &errors)
            }
        }
        let size = Int64(elements.count)
        if let minItems = s.minItems, size < minItems {
            errors.append(
                OpenAPIError(
                    code: .minItems, name: path, value: .integer(size), limit: minItems,
                    message: "\(path) in body should have at least \(minItems) items"))
        }
        if let maxItems = s.maxItems, size > maxItems {
            errors.append(
                OpenAPIError(
                    code: .maxItems, name: path, value: .integer(size), limit: maxItems,
                    message: "\(path) in body should have at most \(maxItems) items"))
        }
        if s.uniqueItems {
            var duplicate = false
            outer: for i in elements.indices {
                for j in elements.indices where j < i {
                    if Self.deepEqual(elements[i], elements[j]) {
                        duplicate = true
                        break outer
                    }
                }
            }
            if duplicate {
                errors.append(
                    OpenAPIError(
                        code: .uniqueItems, name: path, message: "\(path) in body shouldn't contain duplicates"))
            }
        }
    }

    /// `reflect.DeepEqual` of two decoded values (int64 and float64 differ; maps ignore order).
    static func deepEqual(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.string(let x), .string(let y)): return x == y
        case (.number(let x), .number(let y)):
            return CRDGoFormat.Number(literal: x) == CRDGoFormat.Number(literal: y)
        case (.array(let x), .array(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { deepEqual($0, $1) }
        case (.object(let x), .object(let y)):
            let mx = CRDGoFormat.lastWins(x)
            let my = CRDGoFormat.lastWins(y)
            guard mx.count == my.count else { return false }
            var index: [String: JSONValue] = [:]
            for m in my { index[m.key] = m.value }
            return mx.allSatisfy { m in index[m.key].map { deepEqual(m.value, $0) } ?? false }
        default: return false
        }
    }

    // MARK: Enum

    /// Whether `data` equals `candidate` as kube-openapi decides it: deep equality, or equality after Go's
    /// conversion of `data` to the candidate's type (int64 ↔ float64, and int64 → string as a code point).
    private static func enumMatches(_ data: JSONValue, _ candidate: JSONValue) -> Bool {
        if deepEqual(data, candidate) { return true }
        switch (data, candidate) {
        case (.number(let x), .number(let y)):
            switch (CRDGoFormat.Number(literal: x), CRDGoFormat.Number(literal: y)) {
            case (.int(let i)?, .float(let f)?): return Double(i) == f
            case (.float(let f)?, .int(let i)?): return truncatedInt(f) == i
            default: return false
            }
        case (.number(let x), .string(let y)):
            guard case .int(let i)? = CRDGoFormat.Number(literal: x) else { return false }
            let scalar = (i >= 0 && i <= 0x10FFFF) ? Unicode.Scalar(UInt32(i)) : nil
            return String(Character(scalar ?? "\u{FFFD}")) == y
        default:
            return false
        }
    }

    private func validateEnum(_ data: JSONValue, _ s: CRDSchema, path: String, into errors: inout [OpenAPIError]) {
        guard let values = s.enumValues, !values.isEmpty else { return }
        if !data.isNull, values.contains(where: { !$0.isNull && Self.enumMatches(data, $0) }) { return }
        let listed = values.map { v -> String in
            switch v {
            case .string(let s): s
            case .null: "<nil>"
            case .number(let literal): CRDGoFormat.number(literal)
            default: CRDGoFormat.sharpV(v)
            }
        }
        errors.append(
            OpenAPIError(
                code: .enumFail, name: path, value: data, values: values,
                message: "\(path) in body should be one of [\(listed.joined(separator: " "))]"))
    }

    // MARK: Objects

    private func validateObject(
        _ members: [(key: String, value: JSONValue)], _ s: CRDSchema, path: String, isRoot: Bool,
        into errors: inout [OpenAPIError]
    ) {
        let count = Int64(members.count)
        if let minProperties = s.minProperties, count < minProperties {
            errors.append(
                OpenAPIError(
                    code: .tooFewProperties, name: path, value: .integer(count), limit: minProperties,
                    message: "\(path) in body should have at least \(minProperties) properties"))
        }
        if let maxProperties = s.maxProperties, count > maxProperties {
            errors.append(
                OpenAPIError(
                    code: .tooManyProperties, name: path, value: .integer(count), limit: maxProperties,
                    message: "\(path) in body should have at most \(maxProperties) properties"))
        }
        /// Root members the server validates itself.
        func serverOwned(_ key: String) -> Bool { isRoot && (key == "apiVersion" || key == "kind") }

        if case .allows(false)? = s.additionalProperties {
            for member in members where s.property(member.key) == nil && !serverOwned(member.key) {
                errors.append(
                    OpenAPIError(
                        code: .forbiddenProperty, name: path, value: .string(member.key),
                        message: "\(path).\(member.key) in body is a forbidden property"))
            }
        } else if let additional = s.additionalSchema {
            for member in members where s.property(member.key) == nil && !serverOwned(member.key) {
                if isRoot && member.key == "metadata" { continue }
                validateNode(member.value, additional, path: path + "." + member.key, isRoot: false, into: &errors)
            }
        }
        for member in members {
            guard let property = s.property(member.key), !serverOwned(member.key) else { continue }
            let childPath = path.isEmpty ? member.key : path + "." + member.key
            if isRoot && member.key == "metadata" {
                validateMetadata(member.value, property, path: childPath, into: &errors)
            } else {
                validateNode(member.value, property, path: childPath, isRoot: false, into: &errors)
            }
        }
        for key in s.required where !members.contains(where: { $0.key == key }) {
            errors.append(
                OpenAPIError(code: .required, name: path + "." + key, message: "\(path).\(key) in body is required"))
        }
    }

    /// `metadata` at the root: only its type and the `name`/`generateName` constraints count.
    private func validateMetadata(
        _ data: JSONValue, _ s: CRDSchema, path: String, into errors: inout [OpenAPIError]
    ) {
        validateType(data, s, path: path, into: &errors)
        guard case .object(let members) = data else { return }
        for member in CRDGoFormat.lastWins(members) where member.key == "name" || member.key == "generateName" {
            if let property = s.property(member.key) {
                validateNode(member.value, property, path: path + "." + member.key, isRoot: false, into: &errors)
            }
        }
    }

    // MARK: - Embedded resources (schemaobjectmeta.Validate)

    private func embeddedResourceErrors(
        _ data: JSONValue, _ s: CRDSchema?, path: String, isRoot: Bool, into errors: inout [CRDFieldError]
    ) {
        guard let s else { return }
        switch data {
        case .object(let raw):
            let members = CRDGoFormat.lastWins(raw)
            if s.embeddedResource && !isRoot {
                Self.checkEmbeddedResource(members, path: path, into: &errors)
            }
            for member in members {
                if isRoot && (member.key == "metadata" || member.key == "apiVersion" || member.key == "kind") {
                    continue
                }
                if let property = s.property(member.key) {
                    let child = path.isEmpty ? member.key : path + "." + member.key
                    embeddedResourceErrors(member.value, property, path: child, isRoot: false, into: &errors)
                } else if let additional = s.additionalSchema {
                    embeddedResourceErrors(
                        member.value, additional, path: path + "[" + member.key + "]", isRoot: false, into: &errors)
                }
            }
        case .array(let elements):
            for (i, element) in elements.enumerated() {
                embeddedResourceErrors(element, s.items, path: "\(path)[\(i)]", isRoot: false, into: &errors)
            }
        default:
            break
        }
    }

    private static func checkEmbeddedResource(
        _ members: [(key: String, value: JSONValue)], path: String, into errors: inout [CRDFieldError]
    ) {
        func child(_ name: String) -> String { path.isEmpty ? name : path + "." + name }
        if !members.contains(where: { $0.key == "apiVersion" }) {
            errors.append(.required(child("apiVersion"), "must not be empty"))
        }
        if !members.contains(where: { $0.key == "kind" }) {
            errors.append(.required(child("kind"), "must not be empty"))
        }
        for member in members {
            switch member.key {
            case "apiVersion":
                guard let apiVersion = member.value.stringValue else {
                    errors.append(.invalid(child("apiVersion"), member.value, "must be a string"))
                    continue
                }
                if apiVersion.isEmpty {
                    errors.append(.invalid(child("apiVersion"), member.value, "must not be empty"))
                } else if apiVersion.split(separator: "/", omittingEmptySubsequences: false).count > 2 {
                    errors.append(
                        .invalid(child("apiVersion"), member.value, "unexpected GroupVersion string: \(apiVersion)"))
                }
            case "kind":
                guard let kind = member.value.stringValue else {
                    errors.append(.invalid(child("kind"), member.value, "must be a string"))
                    continue
                }
                if kind.isEmpty {
                    errors.append(.invalid(child("kind"), member.value, "must not be empty"))
                }
            case "metadata":
                if !member.value.isObject && !member.value.isNull {
                    errors.append(.invalid(child("metadata"), member.value, "must be an object"))
                }
            default:
                break
            }
        }
    }
}
