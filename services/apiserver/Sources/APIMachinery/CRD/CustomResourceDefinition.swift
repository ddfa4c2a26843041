// apiextensions.k8s.io/v1 CustomResourceDefinition: parsed from the object a client sends, defaulted as
// kube-apiserver defaults it, and checked for the mistakes kube-apiserver rejects (name vs plural.group, the
// storage version, names, scope, version names, schema shape, printer columns, scale paths), with kube's
// field paths and wording.

import EdgeProtocol

/// A parsed CustomResourceDefinition.
public struct CRDDefinition: Sendable {
    public enum Scope: String, Sendable, Hashable {
        case namespaced = "Namespaced"
        case cluster = "Cluster"
    }

    public struct Names: Sendable, Hashable {
        public var plural: String
        public var singular: String
        public var kind: String
        public var listKind: String
        public var shortNames: [String]
        public var categories: [String]

        public init(
            plural: String, singular: String = "", kind: String, listKind: String = "", shortNames: [String] = [],
            categories: [String] = []
        ) {
            self.plural = plural
            self.singular = singular
            self.kind = kind
            self.listKind = listKind
            self.shortNames = shortNames
            self.categories = categories
        }
    }

    /// `subresources.scale`.
    public struct Scale: Sendable, Hashable {
        public var specReplicasPath: String
        public var statusReplicasPath: String
        public var labelSelectorPath: String?
    }

    public struct Subresources: Sendable, Hashable {
        /// `subresources.status` is present (any content).
        public var status: Bool
        public var scale: Scale?

        public init(status: Bool = false, scale: Scale? = nil) {
            self.status = status
            self.scale = scale
        }
    }

    /// One of `additionalPrinterColumns`.
    public struct PrinterColumn: Sendable, Hashable {
        public var name: String
        public var type: String
        public var format: String
        public var description: String
        public var priority: Int32
        public var jsonPath: String

        public init(
            name: String, type: String, format: String = "", description: String = "", priority: Int32 = 0,
            jsonPath: String
        ) {
            self.name = name
            self.type = type
            self.format = format
            self.description = description
            self.priority = priority
            self.jsonPath = jsonPath
        }
    }

    public struct Version: Sendable {
        public var name: String
        public var served: Bool
        public var storage: Bool
        public var deprecated: Bool
        public var deprecationWarning: String?
        /// `schema.openAPIV3Schema`, parsed; nil when absent.
        public var schema: CRDSchema?
        public var subresources: Subresources
        public var additionalPrinterColumns: [PrinterColumn]

        /// The validator for objects of this version (a schema-less version accepts anything).
        public var validator: SchemaValidator {
            SchemaValidator(schema: schema ?? Self.anything)
        }

        private static let anything = CRDSchema(.object([(key: "x-kubernetes-preserve-unknown-fields", value: true)]))

        /// The columns `kubectl get` shows after NAME: the declared ones, or `Age` when there are none.
        public var printerColumns: [JSONPathColumn] {
            if additionalPrinterColumns.isEmpty { return [JSONPathColumn.age] }
            return additionalPrinterColumns.compactMap { try? JSONPathColumn($0) }
        }
    }

    /// The object as given (see ``defaulted(_:)`` for what the server stores).
    public var object: JSONValue
    /// `metadata.name`.
    public var name: String
    public var group: String
    /// `spec.scope` as written ("" when absent); ``scope`` is nil unless it is valid.
    public var scopeName: String
    public var names: Names
    public var versions: [Version]
    /// `spec.conversion.strategy` ("None" when absent).
    public var conversionStrategy: String
    public var preserveUnknownFields: Bool
    /// Fields of the wrong JSON type found while parsing (reported by ``validate()``).
    public var decodeErrors: [CRDFieldError]

    public var scope: Scope? { Scope(rawValue: scopeName) }
    public var isNamespaced: Bool { scope == .namespaced }

    /// The version objects are stored in, if exactly one is marked.
    public var storageVersion: Version? {
        let marked = versions.filter(\.storage)
        return marked.count == 1 ? marked[0] : nil
    }

    public func version(named name: String) -> Version? {
        versions.first { $0.name == name }
    }

    /// Parses a CRD object (apiextensions.k8s.io/v1), applying the server's defaults (`singular` = lower-case
    /// kind, `listKind` = kind + "List", conversion `None`). Never fails: shape problems land in
    /// ``decodeErrors`` and ``validate()``.
    public init(_ object: JSONValue) {
        self.object = object
        var errors: [CRDFieldError] = []
        func string(_ value: JSONValue?, _ path: String) -> String {
            guard let value, !value.isNull else { return "" }
            if let s = value.stringValue { return s }
            errors.append(.invalid(path, value, "must be a string"))
            return ""
        }
        func bool(_ value: JSONValue?, _ path: String) -> Bool {
            guard let value, !value.isNull else { return false }
            if let b = value.boolValue { return b }
            errors.append(.invalid(path, value, "must be a boolean"))
            return false
        }
        func strings(_ value: JSONValue?, _ path: String) -> [String] {
            guard let value, !value.isNull else { return [] }
            guard let list = value.arrayValue else {
                errors.append(.invalid(path, value, "must be an array of strings"))
                return []
            }
            return list.enumerated().map { string($1, "\(path)[\($0)]") }
        }

        name = string(object[path: ["metadata", "name"]], "metadata.name")
        let spec = object["spec"] ?? .object([])
        group = string(spec["group"], "spec.group")
        scopeName = string(spec["scope"], "spec.scope")
        let n = spec["names"] ?? .object([])
        let kind = string(n["kind"], "spec.names.kind")
        var singular = string(n["singular"], "spec.names.singular")
        var listKind = string(n["listKind"], "spec.names.listKind")
        if singular.isEmpty { singular = kind.lowercased() }
        if listKind.isEmpty && !kind.isEmpty { listKind = kind + "List" }
        names = Names(
            plural: string(n["plural"], "spec.names.plural"), singular: singular, kind: kind, listKind: listKind,
            shortNames: strings(n["shortNames"], "spec.names.shortNames"),
            categories: strings(n["categories"], "spec.names.categories"))
        let strategy = string(spec[path: ["conversion", "strategy"]], "spec.conversion.strategy")
        conversionStrategy = strategy.isEmpty && spec["conversion"] == nil ? "None" : strategy
        preserveUnknownFields = bool(spec["preserveUnknownFields"], "spec.preserveUnknownFields")

        var parsed: [Version] = []
        let versionList = spec["versions"]
        if let versionList, !versionList.isNull, versionList.arrayValue == nil {
            errors.append(.invalid("spec.versions", versionList, "must be an array"))
        }
        for (i, v) in (versionList?.arrayValue ?? []).enumerated() {
            let path = "spec.versions[\(i)]"
            var schema: CRDSchema?
            if let s = v[path: ["schema", "openAPIV3Schema"]], !s.isNull {
                schema = CRDSchema(parsing: s, path: path + ".schema.openAPIV3Schema", errors: &errors)
            }
            var subresources = Subresources()
            if let sub = v["subresources"], !sub.isNull {
                subresources.status = sub["status"].map { !$0.isNull } ?? false
                if let scale = sub["scale"], !scale.isNull {
                    let label = scale["labelSelectorPath"]
                    subresources.scale = Scale(
                        specReplicasPath: string(
                            scale["specReplicasPath"], path + ".subresources.scale.specReplicasPath"),
                        statusReplicasPath: string(
                            scale["statusReplicasPath"], path + ".subresources.scale.statusReplicasPath"),
                        labelSelectorPath: label == nil || label!.isNull
                            ? nil : string(label, path + ".subresources.scale.labelSelectorPath"))
                }
            }
            var columns: [PrinterColumn] = []
            for (j, c) in (v["additionalPrinterColumns"]?.arrayValue ?? []).enumerated() {
                let cp = "\(path).additionalPrinterColumns[\(j)]"
                var priority: Int32 = 0
                if let p = c["priority"], !p.isNull {
                    if let i = p.int64Value, let i32 = Int32(exactly: i) {
                        priority = i32
                    } else {
                        errors.append(.invalid(cp + ".priority", p, "must be an int32"))
                    }
                }
                columns.append(
                    PrinterColumn(
                        name: string(c["name"], cp + ".name"), type: string(c["type"], cp + ".type"),
                        format: string(c["format"], cp + ".format"),
                        description: string(c["description"], cp + ".description"), priority: priority,
                        jsonPath: string(c["jsonPath"], cp + ".jsonPath")))
            }
            let warning = v["deprecationWarning"]
            parsed.append(
                Version(
                    name: string(v["name"], path + ".name"), served: bool(v["served"], path + ".served"),
                    storage: bool(v["storage"], path + ".storage"),
                    deprecated: bool(v["deprecated"], path + ".deprecated"),
                    deprecationWarning: warning == nil || warning!.isNull
                        ? nil : string(warning, path + ".deprecationWarning"),
                    schema: schema, subresources: subresources, additionalPrinterColumns: columns))
        }
        versions = parsed
        decodeErrors = errors
    }

    /// The CRD object with the server's defaults filled in (`spec.names.singular`, `spec.names.listKind`,
    /// `spec.conversion.strategy`), as it would be stored.
    public static func defaulted(_ object: JSONValue) -> JSONValue {
        var out = object
        let kind = object[path: ["spec", "names", "kind"]]?.stringValue ?? ""
        if (object[path: ["spec", "names", "singular"]]?.stringValue ?? "").isEmpty, !kind.isEmpty {
            out[path: ["spec", "names", "singular"]] = .string(kind.lowercased())
        }
        if (object[path: ["spec", "names", "listKind"]]?.stringValue ?? "").isEmpty, !kind.isEmpty {
            out[path: ["spec", "names", "listKind"]] = .string(kind + "List")
        }
        if object[path: ["spec", "conversion"]] == nil || object[path: ["spec", "conversion"]]!.isNull {
            out[path: ["spec", "conversion"]] = .object([(key: "strategy", value: "None")])
        }
        return out
    }

    // MARK: - Validation

    /// The errors kube-apiserver would reject this CRD with (empty when acceptable), e.g.
    /// `metadata.name: Invalid value: "foo": must be spec.names.plural+"."+spec.group`.
    public func validate() -> [CRDFieldError] {
        var errs = decodeErrors

        // metadata.name
        if name.isEmpty {
            errs.append(.required("metadata.name", "name or generateName is required"))
        } else {
            for message in Self.dns1123Subdomain(name) {
                errs.append(.invalid("metadata.name", .string(name), message))
            }
            if name != names.plural + "." + group {
                errs.append(.invalid("metadata.name", .string(name), #"must be spec.names.plural+"."+spec.group"#))
            }
        }

        // spec.group
        if group.isEmpty {
            errs.append(.required("spec.group"))
        } else if case let messages = Self.dns1123Subdomain(group), !messages.isEmpty {
            errs.append(.invalid("spec.group", .string(group), messages.joined(separator: ",")))
        } else if !group.contains(".") {
            errs.append(.invalid("spec.group", .string(group), "should be a domain with at least one dot"))
        }

        // spec.scope
        if scopeName.isEmpty {
            errs.append(.required("spec.scope"))
        } else if scope == nil {
            errs.append(.notSupported("spec.scope", .string(scopeName), supported: ["Cluster", "Namespaced"]))
        }

        // spec.versions
        var seen = Set<String>()
        var unique = true
        for (i, version) in versions.enumerated() {
            let path = "spec.versions[\(i)]"
            if !seen.insert(version.name).inserted { unique = false }
            let messages = Self.dns1035Label(version.name)
            if !messages.isEmpty {
                errs.append(.invalid(path + ".name", .string(version.name), messages.joined(separator: ",")))
            }
            if let schema = version.schema {
                Self.validateSchema(
                    schema, path: path + ".schema.openAPIV3Schema", level: .root, into: &errs)
                if version.subresources.status && schema.type != "object" && !schema.type.isEmpty {
                    errs.append(
                        .invalid(
                            path + ".schema.openAPIV3Schema.type", .string(schema.type),
                            #"only "object" is allowed as the type at the root of the schema if the status subresource is enabled"#
                        ))
                }
            } else {
                errs.append(.required(path + ".schema.openAPIV3Schema", "schemas are required"))
            }
            if let scale = version.subresources.scale {
                Self.validateScale(scale, path: path + ".subresources.scale", into: &errs)
            }
            for (j, column) in version.additionalPrinterColumns.enumerated() {
                Self.validateColumn(column, path: "\(path).additionalPrinterColumns[\(j)]", into: &errs)
            }
        }
        if !unique {
            errs.append(
                CRDFieldError(
                    .invalid, field: "spec.versions", badValue: .literal(versionsLiteral),
                    detail: "must contain unique version names"))
        }
        if versions.filter(\.storage).count != 1 {
            errs.append(
                CRDFieldError(
                    .invalid, field: "spec.versions", badValue: .literal(versionsLiteral),
                    detail: "must have exactly one version marked as storage version"))
        }

        // spec.names
        if names.plural.isEmpty { errs.append(.required("spec.names.plural")) }
        if names.singular.isEmpty { errs.append(.required("spec.names.singular")) }
        if names.kind.isEmpty { errs.append(.required("spec.names.kind")) }
        if names.listKind.isEmpty { errs.append(.required("spec.names.listKind")) }
        Self.validateNames(names, path: "spec.names", into: &errs)

        // spec.conversion / preserveUnknownFields
        if !["None", "Webhook"].contains(conversionStrategy) {
            if conversionStrategy.isEmpty {
                errs.append(.required("spec.conversion.strategy"))
            } else {
                errs.append(
                    .notSupported(
                        "spec.conversion.strategy", .string(conversionStrategy), supported: ["None", "Webhook"]))
            }
        }
        if preserveUnknownFields {
            errs.append(
                .invalid(
                    "spec.preserveUnknownFields", true,
                    "cannot set to true, set x-kubernetes-preserve-unknown-fields to true in spec.versions[*].schema instead"
                ))
        }
        return errs
    }

    /// Go's `%#v` of the versions list, shortened to the fields that matter.
    private var versionsLiteral: String {
        if versions.isEmpty { return "[]apiextensions.CustomResourceDefinitionVersion(nil)" }
        let items = versions.map {
            "apiextensions.CustomResourceDefinitionVersion{Name:\(CRDGoFormat.quote($0.name)), "
                + "Served:\($0.served), Storage:\($0.storage), ...}"
        }
        return "[]apiextensions.CustomResourceDefinitionVersion{" + items.joined(separator: ", ") + "}"
    }

    private static func validateNames(_ names: Names, path: String, into errs: inout [CRDFieldError]) {
        if !names.plural.isEmpty, case let m = dns1035Label(names.plural), !m.isEmpty {
            errs.append(.invalid(path + ".plural", .string(names.plural), m.joined(separator: ",")))
        }
        if !names.singular.isEmpty, case let m = dns1035Label(names.singular), !m.isEmpty {
            errs.append(.invalid(path + ".singular", .string(names.singular), m.joined(separator: ",")))
        }
        if !names.kind.isEmpty, case let m = dns1035Label(names.kind.lowercased()), !m.isEmpty {
            errs.append(
                .invalid(
                    path + ".kind", .string(names.kind),
                    "may have mixed case, but should otherwise match: " + m.joined(separator: ",")))
        }
        if !names.listKind.isEmpty, case let m = dns1035Label(names.listKind.lowercased()), !m.isEmpty {
            errs.append(
                .invalid(
                    path + ".listKind", .string(names.listKind),
                    "may have mixed case, but should otherwise match: " + m.joined(separator: ",")))
        }
        for (i, shortName) in names.shortNames.enumerated() {
            let m = dns1035Label(shortName)
            if !m.isEmpty {
                errs.append(.invalid("\(path).shortNames[\(i)]", .string(shortName), m.joined(separator: ",")))
            }
        }
        if !names.kind.isEmpty && names.kind == names.listKind {
            errs.append(.invalid(path + ".listKind", .string(names.listKind), "kind and listKind may not be the same"))
        }
        for (i, category) in names.categories.enumerated() {
            let m = dns1035Label(category)
            if !m.isEmpty {
                errs.append(.invalid("\(path).categories[\(i)]", .string(category), m.joined(separator: ",")))
            }
        }
    }

    private static let columnTypes = ["boolean", "date", "integer", "number", "string"]
    private static let columnFormats = ["byte", "date", "date-time", "double", "float", "int32", "int64", "password"]

    private static func validateColumn(_ column: PrinterColumn, path: String, into errs: inout [CRDFieldError]) {
        if column.name.isEmpty { errs.append(.required(path + ".name")) }
        let typesMessage = "must be one of " + columnTypes.joined(separator: ",")
        if column.type.isEmpty {
            errs.append(.required(path + ".type", typesMessage))
        } else if !columnTypes.contains(column.type) {
            errs.append(.invalid(path + ".type", .string(column.type), typesMessage))
        }
        if !column.format.isEmpty && !columnFormats.contains(column.format) {
            errs.append(
                .invalid(
                    path + ".format", .string(column.format), "must be one of " + columnFormats.joined(separator: ",")))
        }
        if column.jsonPath.isEmpty {
            errs.append(.required(path + ".jsonPath"))
        } else if let message = simpleJSONPathError(column.jsonPath) {
            errs.append(.invalid(path + ".jsonPath", .string(column.jsonPath), message))
        } else {
            do {
                _ = try JSONPathColumn(jsonPath: column.jsonPath)
            } catch {
                errs.append(.invalid(path + ".jsonPath", .string(column.jsonPath), error.message))
            }
        }
    }

    private static func simpleJSONPathError(_ s: String) -> String? {
        if s.isEmpty { return "must not be empty" }
        if !s.hasPrefix(".") { return "must be a simple json path starting with ." }
        return nil
    }

    private static func validateScale(_ scale: Scale, path: String, into errs: inout [CRDFieldError]) {
        func check(_ value: String, _ field: String, under prefix: String, required: Bool) {
            if value.isEmpty {
                if required { errs.append(.required(path + "." + field)) }
                return
            }
            if let message = simpleJSONPathError(value) {
                errs.append(.invalid(path + "." + field, .string(value), message))
            } else if !value.hasPrefix(prefix + ".") {
                errs.append(.invalid(path + "." + field, .string(value), "should be a json path under \(prefix)"))
            }
        }
        check(scale.specReplicasPath, "specReplicasPath", under: ".spec", required: true)
        check(scale.statusReplicasPath, "statusReplicasPath", under: ".status", required: true)
        check(scale.labelSelectorPath ?? "", "labelSelectorPath", under: ".status", required: false)
    }

    // MARK: Structural schema

    private enum Level { case root, field, item }

    private static func validateSchema(
        _ s: CRDSchema, path: String, level: Level, into errs: inout [CRDFieldError]
    ) {
        for keyword in s.forbiddenKeywords {
            errs.append(.forbidden(path + "." + keyword, "\(keyword) is not supported"))
        }
        if s.type == "null" {
            errs.append(.forbidden(path + ".type", "type cannot be set to null"))
        } else if !s.type.isEmpty && !["object", "array", "string", "integer", "number", "boolean"].contains(s.type) {
            errs.append(
                .notSupported(
                    path + ".type", .string(s.type),
                    supported: ["array", "boolean", "integer", "number", "object", "string"]))
        }
        if s.itemsIsArray {
            errs.append(.forbidden(path + ".items", "items must be a schema object and not an array"))
        }
        if s.uniqueItems {
            errs.append(
                .forbidden(
                    path + ".uniqueItems",
                    "uniqueItems cannot be set to true since the runtime complexity becomes quadratic"))
        }
        if s.additionalProperties != nil && !s.properties.isEmpty {
            switch s.additionalProperties! {
            case .allows(false), .schema:
                errs.append(
                    .forbidden(
                        path + ".additionalProperties", "additionalProperties and properties are mutual exclusive"))
            case .allows(true):
                break
            }
        }
        if let pattern = s.pattern, s.patternError != nil {
            errs.append(.invalid(path + ".pattern", .string(pattern), "must be a valid regular expression, but isn't"))
        }
        if s.preserveUnknownFields == false {
            errs.append(.invalid(path + ".x-kubernetes-preserve-unknown-fields", false, "must be true or undefined"))
        }
        if s.intOrString && !s.type.isEmpty {
            errs.append(
                .invalid(path + ".type", .string(s.type), "must be empty if x-kubernetes-int-or-string is true"))
        }
        if s.embeddedResource && s.type != "object" {
            if s.type.isEmpty {
                errs.append(.required(path + ".type", "must be object if x-kubernetes-embedded-resource is true"))
            } else {
                errs.append(
                    .invalid(
                        path + ".type", .string(s.type), "must be object if x-kubernetes-embedded-resource is true"))
            }
        } else if s.type.isEmpty && !s.intOrString && s.preserveUnknownFields != true {
            let detail: String
            switch level {
            case .root: detail = "must not be empty at the root"
            case .field: detail = "must not be empty for specified object fields"
            case .item: detail = "must not be empty for specified array items"
            }
            errs.append(.required(path + ".type", detail))
        }
        if level == .root && !s.type.isEmpty && s.type != "object" {
            errs.append(.invalid(path + ".type", .string(s.type), "must be object at the root"))
        }
        if s.type == "array" && s.items == nil && !s.itemsIsArray {
            errs.append(.required(path + ".items", "must be specified"))
        }
        if level == .root || s.embeddedResource {
            for (field, want) in [("kind", "string"), ("apiVersion", "string"), ("metadata", "object")] {
                if let p = s.property(field), p.type != want {
                    errs.append(.invalid(path + ".properties[\(field)].type", .string(p.type), "must be \(want)"))
                }
            }
        }
        if level == .root, let metadata = s.property("metadata"),
            metadata.properties.contains(where: { $0.name != "name" && $0.name != "generateName" })
        {
            errs.append(
                .forbidden(
                    path + ".properties[metadata]",
                    "must not specify anything other than name and generateName, but metadata is implicitly specified"))
        }
        for property in s.properties {
            validateSchema(property.schema, path: path + ".properties[\(property.name)]", level: .field, into: &errs)
        }
        if let additional = s.additionalSchema {
            validateSchema(additional, path: path + ".additionalProperties", level: .field, into: &errs)
        }
        if let items = s.items {
            validateSchema(items, path: path + ".items", level: .item, into: &errs)
        }
        for (i, branch) in s.allOf.enumerated() {
            validateJunctor(branch, path: "\(path).allOf[\(i)]", into: &errs)
        }
        for (i, branch) in s.anyOf.enumerated() {
            validateJunctor(branch, path: "\(path).anyOf[\(i)]", into: &errs)
        }
        for (i, branch) in s.oneOf.enumerated() {
            validateJunctor(branch, path: "\(path).oneOf[\(i)]", into: &errs)
        }
        if let not = s.not {
            validateJunctor(not, path: path + ".not", into: &errs)
        }
    }

    /// Inside allOf/anyOf/oneOf/not only value validations are allowed (no type needed), but the same
    /// basic checks apply.
    private static func validateJunctor(_ s: CRDSchema, path: String, into errs: inout [CRDFieldError]) {
        for keyword in s.forbiddenKeywords {
            errs.append(.forbidden(path + "." + keyword, "\(keyword) is not supported"))
        }
        if let pattern = s.pattern, s.patternError != nil {
            errs.append(.invalid(path + ".pattern", .string(pattern), "must be a valid regular expression, but isn't"))
        }
        for property in s.properties {
            validateJunctor(property.schema, path: path + ".properties[\(property.name)]", into: &errs)
        }
        if let items = s.items { validateJunctor(items, path: path + ".items", into: &errs) }
    }

    // MARK: Name rules (k8s.io/apimachinery/pkg/util/validation)

    static func dns1123Subdomain(_ value: String) -> [String] {
        var errs: [String] = []
        if value.utf8.count > 253 { errs.append("must be no more than 253 characters") }
        let labels = value.split(separator: ".", omittingEmptySubsequences: false)
        let ok = labels.allSatisfy { label in
            let b = Array(label.utf8)
            guard let first = b.first, let last = b.last else { return false }
            func alnum(_ c: UInt8) -> Bool { (c >= 97 && c <= 122) || (c >= 48 && c <= 57) }
            return alnum(first) && alnum(last) && b.allSatisfy { alnum($0) || $0 == 45 }
        }
        if !ok {
            errs.append(
                "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
            )
        }
        return errs
    }

    static func dns1035Label(_ value: String) -> [String] {
        var errs: [String] = []
        if value.utf8.count > 63 { errs.append("must be no more than 63 characters") }
        let b = Array(value.utf8)
        var ok = false
        if let first = b.first, let last = b.last {
            func lower(_ c: UInt8) -> Bool { c >= 97 && c <= 122 }
            func digit(_ c: UInt8) -> Bool { c >= 48 && c <= 57 }
            ok = lower(first) && (lower(last) || digit(last)) && b.allSatisfy { lower($0) || digit($0) || $0 == 45 }
        }
        if !ok {
            errs.append(
                "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
            )
        }
        return errs
    }
}
