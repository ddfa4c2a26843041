// PATCH bodies as kube-apiserver accepts them, applied to a `JSONValue` tree:
//   - application/merge-patch+json            RFC 7386 JSON merge patch
//   - application/json-patch+json             RFC 6902 JSON patch (RFC 6901 pointers)
//   - application/strategic-merge-patch+json  Kubernetes strategic merge patch, for the built-in kinds whose
//                                             list merge keys are known (``StrategicMergeSchema``)
// Server-side apply (application/apply-patch+yaml) is not implemented and is reported as unsupported (415).
// Pure Swift, no Foundation.

import EdgeProtocol

// MARK: - Public API

/// The PATCH content types, by their media type.
public enum PatchType: String, Sendable, Hashable, CaseIterable {
    case json = "application/json-patch+json"
    case merge = "application/merge-patch+json"
    case strategic = "application/strategic-merge-patch+json"
    case apply = "application/apply-patch+yaml"

    /// The patch type of a `Content-Type` header value; parameters (`; charset=utf-8`) and case are ignored.
    public init?(contentType: String) {
        let mediaType = contentType.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        self.init(rawValue: String(mediaType.filter { $0 != " " && $0 != "\t" }).lowercased())
    }
}

/// A patch that cannot be decoded or applied. ``category`` says which HTTP status the server should answer with;
/// ``message`` is meant for the `message` of the `Status` object.
public struct PatchError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Category: Sendable, Hashable {
        /// The patch document itself is malformed (400 BadRequest).
        case badRequest
        /// The patch is well formed but cannot be applied to this object (422 Invalid).
        case unprocessable
        /// The patch type is not accepted for this resource (415 UnsupportedMediaType).
        case unsupportedMediaType

        public var httpStatus: Int {
            switch self {
            case .badRequest: 400
            case .unprocessable: 422
            case .unsupportedMediaType: 415
            }
        }

        /// The `reason` of a Kubernetes `Status` for this category.
        public var statusReason: String {
            switch self {
            case .badRequest: "BadRequest"
            case .unprocessable: "Invalid"
            case .unsupportedMediaType: "UnsupportedMediaType"
            }
        }
    }

    public let category: Category
    public let message: String

    public init(_ category: Category, _ message: String) {
        self.category = category
        self.message = message
    }

    public var httpStatus: Int { category.httpStatus }
    public var description: String { message }
}

/// Applies PATCH bodies to objects.
public enum Patcher {
    /// Upper bound on the operations of one JSON patch, as kube-apiserver enforces.
    public static let maxJSONPatchOperations = 10_000

    /// Applies `patch` (the raw request body) of the given type to `object`, an object of `kind`
    /// (e.g. `"Pod"`; only used by strategic merge patch).
    public static func apply(
        _ type: PatchType, patch: [UInt8], to object: JSONValue, kind: String
    ) throws(PatchError) -> JSONValue {
        try checkSupported(type, kind: kind)
        let document: JSONValue
        do {
            document = try JSONValue(parsing: patch)
        } catch {
            throw PatchError(.badRequest, "error decoding patch: \(error.description)")
        }
        return try apply(type, patch: document, to: object, kind: kind)
    }

    /// Applies an already parsed patch document.
    public static func apply(
        _ type: PatchType, patch: JSONValue, to object: JSONValue, kind: String
    ) throws(PatchError) -> JSONValue {
        try checkSupported(type, kind: kind)
        switch type {
        case .merge: return mergePatch(patch, to: object)
        case .json: return try jsonPatch(patch, to: object)
        case .strategic: return try strategicMergePatch(patch, to: object, kind: kind)
        case .apply: throw unsupported(type, kind: kind)
        }
    }

    /// Whether `kind` is a built-in kind whose strategic-merge metadata is known. Custom resources are not: the
    /// apiserver answers a strategic merge patch for them with 415.
    public static func supportsStrategicMerge(kind: String) -> Bool {
        StrategicMergeSchema.forKind(kind) != nil
    }

    /// The patch types accepted for objects of `kind`, e.g. for the 415 message or discovery.
    public static func acceptedPatchTypes(kind: String) -> [PatchType] {
        supportsStrategicMerge(kind: kind) ? [.json, .merge, .strategic] : [.json, .merge]
    }

    /// RFC 7386 JSON merge patch: `null` deletes, objects merge recursively, anything else replaces.
    public static func mergePatch(_ patch: JSONValue, to target: JSONValue) -> JSONValue {
        guard case .object(let patchMembers) = patch else { return patch }
        var result: JSONValue = target.isObject ? target : .object([])
        for member in patchMembers {
            if member.value.isNull {
                result[member: member.key] = nil
            } else {
                result[member: member.key] = mergePatch(member.value, to: result[member.key] ?? .null)
            }
        }
        return result
    }

    /// RFC 6902 JSON patch: `patch` must be an array of operations.
    public static func jsonPatch(_ patch: JSONValue, to target: JSONValue) throws(PatchError) -> JSONValue {
        let operations = try JSONPatchEngine.decode(patch)
        var document = target
        for operation in operations {
            document = try JSONPatchEngine.apply(operation, to: document)
        }
        return document
    }

    /// Kubernetes strategic merge patch for an object of `kind`.
    public static func strategicMergePatch(
        _ patch: JSONValue, to target: JSONValue, kind: String
    ) throws(PatchError) -> JSONValue {
        guard let schema = StrategicMergeSchema.forKind(kind) else { throw unsupported(.strategic, kind: kind) }
        guard case .object(let patchMembers) = patch else {
            throw PatchError(.badRequest, "invalid JSON document: a strategic merge patch must be a JSON object")
        }
        let original = target.objectMembers ?? []
        return try StrategicMergeEngine(schema: schema).mergeObject(original, patchMembers, path: [])
    }

    private static func checkSupported(_ type: PatchType, kind: String) throws(PatchError) {
        switch type {
        case .json, .merge: return
        case .strategic: if !supportsStrategicMerge(kind: kind) { throw unsupported(type, kind: kind) }
        case .apply: throw unsupported(type, kind: kind)
        }
    }

    private static func unsupported(_ type: PatchType, kind: String) -> PatchError {
        let accepted = acceptedPatchTypes(kind: kind).map(\.rawValue).joined(separator: ", ")
        if type == .apply {
            return PatchError(
                .unsupportedMediaType,
                "server-side apply (\(type.rawValue)) is not supported by this server - accepted media types include: \(accepted)"
            )
        }
        return PatchError(
            .unsupportedMediaType,
            "the body of the request was in an unknown format - accepted media types include: \(accepted)")
    }
}

// MARK: - Strategic merge schema

/// Which lists of a kind merge instead of being replaced: the `patchStrategy:"merge"` / `patchMergeKey` tags of the
/// upstream Go types, keyed by the path of field names from the object root (list elements add no component, so
/// `spec.containers.env` is the `env` of every container).
public struct StrategicMergeSchema: Sendable {
    public enum ListStrategy: Sendable, Hashable {
        /// A list of objects merged element by element on the value of this field.
        case mergeByKey(String)
        /// A list of scalars merged as a set (e.g. `metadata.finalizers`).
        case mergePrimitives
    }

    public let kind: String
    private let lists: [[String]: ListStrategy]

    private init(kind: String, lists: [(String, ListStrategy)]) {
        self.kind = kind
        var table: [[String]: ListStrategy] = [:]
        for (dotted, strategy) in Self.objectMeta(at: "metadata") + lists {
            table[dotted.split(separator: ".").map(String.init)] = strategy
        }
        self.lists = table
    }

    /// The merge strategy of the list at `path` (field names from the root), or `nil` when that list is replaced
    /// as a whole.
    public func listStrategy(at path: [String]) -> ListStrategy? {
        lists[path]
    }

    /// The schema of a built-in kind, `nil` for kinds without strategic merge support (custom resources).
    public static func forKind(_ kind: String) -> StrategicMergeSchema? {
        all[kind]
    }

    /// The kinds that accept strategic merge patches.
    public static var supportedKinds: [String] { all.keys.sorted() }

    // MARK: Table (from the patchStrategy/patchMergeKey tags of k8s.io/api)

    private static let all: [String: StrategicMergeSchema] = {
        let conditions: [(String, ListStrategy)] = [("status.conditions", .mergeByKey("type"))]
        let schemas = [
            StrategicMergeSchema(
                kind: "Pod",
                lists: podSpec(at: "spec") + [
                    ("status.conditions", .mergeByKey("type")),
                    ("status.hostIPs", .mergeByKey("ip")),
                    ("status.podIPs", .mergeByKey("ip")),
                    ("status.resourceClaimStatuses", .mergeByKey("name")),
                    // containerStatuses / initContainerStatuses / ephemeralContainerStatuses carry no patch
                    // strategy upstream: they are replaced as a whole.
                ]),
            StrategicMergeSchema(
                kind: "Node",
                lists: [
                    ("spec.podCIDRs", .mergePrimitives),
                    ("status.conditions", .mergeByKey("type")),
                    ("status.addresses", .mergeByKey("type")),
                    // spec.taints has no patch strategy upstream: replaced as a whole.
                ]),
            StrategicMergeSchema(kind: "Namespace", lists: conditions),
            StrategicMergeSchema(
                kind: "Service",
                lists: [("spec.ports", .mergeByKey("port")), ("status.conditions", .mergeByKey("type"))]),
            StrategicMergeSchema(kind: "Endpoints", lists: []),
            StrategicMergeSchema(kind: "ConfigMap", lists: []),
            StrategicMergeSchema(kind: "Secret", lists: []),
            StrategicMergeSchema(kind: "Event", lists: []),
            StrategicMergeSchema(kind: "ServiceAccount", lists: [("secrets", .mergeByKey("name"))]),
            StrategicMergeSchema(kind: "Lease", lists: []),
            // autoscaling/v1 Scale, the scale subresource (the Python client patches it strategically).
            StrategicMergeSchema(kind: "Scale", lists: []),
            StrategicMergeSchema(kind: "CustomResourceDefinition", lists: []),
            StrategicMergeSchema(kind: "PodTemplate", lists: podTemplate(at: "template")),
            StrategicMergeSchema(kind: "Deployment", lists: podTemplate(at: "spec.template") + conditions),
            StrategicMergeSchema(kind: "ReplicaSet", lists: podTemplate(at: "spec.template") + conditions),
            StrategicMergeSchema(kind: "StatefulSet", lists: podTemplate(at: "spec.template") + conditions),
            StrategicMergeSchema(kind: "DaemonSet", lists: podTemplate(at: "spec.template") + conditions),
            StrategicMergeSchema(
                kind: "ReplicationController", lists: podTemplate(at: "spec.template") + conditions),
            StrategicMergeSchema(kind: "Job", lists: podTemplate(at: "spec.template") + conditions),
            StrategicMergeSchema(kind: "CronJob", lists: podTemplate(at: "spec.jobTemplate.spec.template")),
        ]
        var byKind: [String: StrategicMergeSchema] = [:]
        for schema in schemas { byKind[schema.kind] = schema }
        return byKind
    }()

    private static func objectMeta(at prefix: String) -> [(String, ListStrategy)] {
        [("\(prefix).ownerReferences", .mergeByKey("uid")), ("\(prefix).finalizers", .mergePrimitives)]
    }

    private static func podTemplate(at prefix: String) -> [(String, ListStrategy)] {
        objectMeta(at: "\(prefix).metadata") + podSpec(at: "\(prefix).spec")
    }

    private static func podSpec(at prefix: String) -> [(String, ListStrategy)] {
        var lists: [(String, ListStrategy)] = [
            ("\(prefix).volumes", .mergeByKey("name")),
            ("\(prefix).imagePullSecrets", .mergeByKey("name")),
            ("\(prefix).hostAliases", .mergeByKey("ip")),
            ("\(prefix).topologySpreadConstraints", .mergeByKey("topologyKey")),
            ("\(prefix).schedulingGates", .mergeByKey("name")),
            ("\(prefix).resourceClaims", .mergeByKey("name")),
        ]
        for containers in ["containers", "initContainers", "ephemeralContainers"] {
            let list = "\(prefix).\(containers)"
            lists += [
                (list, .mergeByKey("name")),
                ("\(list).ports", .mergeByKey("containerPort")),
                ("\(list).env", .mergeByKey("name")),
                ("\(list).volumeMounts", .mergeByKey("mountPath")),
                ("\(list).volumeDevices", .mergeByKey("devicePath")),
            ]
        }
        return lists
    }
}

// MARK: - JSON comparison shared by the engines

/// Semantic JSON comparison, shared by the patch engines and field ownership (server-side apply).
enum PatchJSONCompare {
    /// Semantic JSON equality: numbers by value, objects regardless of member order (last duplicate wins).
    static func equal(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.string(let x), .string(let y)): return x == y
        case (.number(let x), .number(let y)): return numbersEqual(x, y)
        case (.array(let x), .array(let y)):
            guard x.count == y.count else { return false }
            for (l, r) in zip(x, y) where !equal(l, r) { return false }
            return true
        case (.object(let x), .object(let y)):
            var left: [String: JSONValue] = [:]
            var right: [String: JSONValue] = [:]
            for member in x { left[member.key] = member.value }
            for member in y { right[member.key] = member.value }
            guard left.count == right.count else { return false }
            for (key, value) in left {
                guard let other = right[key], equal(value, other) else { return false }
            }
            return true
        default:
            return false
        }
    }

    static func numbersEqual(_ a: String, _ b: String) -> Bool {
        if a == b { return true }
        if let x = Int64(a), let y = Int64(b) { return x == y }
        if let x = Double(a), let y = Double(b) { return x == y }
        return false
    }

    static func isScalar(_ value: JSONValue) -> Bool {
        switch value {
        case .array, .object: false
        default: true
        }
    }
}

// MARK: - JSON patch (RFC 6902)

private enum JSONPatchEngine {
    enum Op: String {
        case add, remove, replace, move, copy, test
    }

    struct Operation {
        var op: Op
        var path: [String]
        var pathText: String
        var from: [String] = []
        var fromText = ""
        var value: JSONValue = .null
    }

    static func decode(_ patch: JSONValue) throws(PatchError) -> [Operation] {
        guard case .array(let elements) = patch else {
            throw PatchError(.badRequest, "invalid JSON patch: the patch must be a JSON array of operations")
        }
        guard elements.count <= Patcher.maxJSONPatchOperations else {
            throw PatchError(
                .unprocessable,
                "the allowed maximum operations in a JSON patch is \(Patcher.maxJSONPatchOperations), got \(elements.count)")
        }
        var operations: [Operation] = []
        operations.reserveCapacity(elements.count)
        for (index, element) in elements.enumerated() {
            guard element.isObject else {
                throw PatchError(.badRequest, "invalid JSON patch: operation \(index) is not a JSON object")
            }
            guard let opName = element["op"]?.stringValue else {
                throw PatchError(.badRequest, "invalid JSON patch: operation \(index) has no \"op\"")
            }
            guard let op = Op(rawValue: opName) else {
                throw PatchError(.badRequest, "invalid JSON patch: unexpected kind of operation \"\(opName)\"")
            }
            guard let pathText = element["path"]?.stringValue else {
                throw PatchError(.badRequest, "invalid JSON patch: operation \"\(opName)\" is missing \"path\"")
            }
            var operation = Operation(op: op, path: try parsePointer(pathText), pathText: pathText)
            switch op {
            case .add, .replace, .test:
                guard let value = element["value"] else {
                    throw PatchError(.badRequest, "invalid JSON patch: operation \"\(opName)\" is missing \"value\"")
                }
                operation.value = value
            case .move, .copy:
                guard let fromText = element["from"]?.stringValue else {
                    throw PatchError(.badRequest, "invalid JSON patch: operation \"\(opName)\" is missing \"from\"")
                }
                operation.from = try parsePointer(fromText)
                operation.fromText = fromText
            case .remove:
                break
            }
            operations.append(operation)
        }
        return operations
    }

    /// RFC 6901: `""` is the whole document, otherwise `/`-separated tokens with `~1` = `/` and `~0` = `~`.
    static func parsePointer(_ text: String) throws(PatchError) -> [String] {
        if text.isEmpty { return [] }
        guard text.first == "/" else {
            throw PatchError(.badRequest, "invalid JSON pointer \"\(text)\": must be empty or start with \"/\"")
        }
        var tokens: [String] = []
        for raw in text.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
            var token = ""
            var escaping = false
            for character in raw {
                if escaping {
                    switch character {
                    case "0": token.append("~")
                    case "1": token.append("/")
                    default: throw PatchError(.badRequest, "invalid JSON pointer \"\(text)\": bad escape \"~\(character)\"")
                    }
                    escaping = false
                } else if character == "~" {
                    escaping = true
                } else {
                    token.append(character)
                }
            }
            if escaping { throw PatchError(.badRequest, "invalid JSON pointer \"\(text)\": dangling \"~\"") }
            tokens.append(token)
        }
        return tokens
    }

    static func apply(_ operation: Operation, to document: JSONValue) throws(PatchError) -> JSONValue {
        switch operation.op {
        case .add:
            return try edit(document, operation.path[...], .add(operation.value), pointer: operation.pathText)
        case .remove:
            return try edit(document, operation.path[...], .remove, pointer: operation.pathText)
        case .replace:
            return try edit(document, operation.path[...], .replace(operation.value), pointer: operation.pathText)
        case .move:
            if operation.from == operation.path { return document }
            if operation.from.count < operation.path.count,
                Array(operation.path.prefix(operation.from.count)) == operation.from
            {
                throw PatchError(
                    .unprocessable,
                    "move operation cannot move \"\(operation.fromText)\" into its own child \"\(operation.pathText)\"")
            }
            let value = try get(document, operation.from[...], pointer: operation.fromText)
            let removed = try edit(document, operation.from[...], .remove, pointer: operation.fromText)
            return try edit(removed, operation.path[...], .add(value), pointer: operation.pathText)
        case .copy:
            let value = try get(document, operation.from[...], pointer: operation.fromText)
            return try edit(document, operation.path[...], .add(value), pointer: operation.pathText)
        case .test:
            let actual: JSONValue
            do {
                actual = try get(document, operation.path[...], pointer: operation.pathText)
            } catch {
                throw PatchError(.unprocessable, "testing value \(operation.pathText) failed: \(error.message)")
            }
            guard PatchJSONCompare.equal(actual, operation.value) else {
                throw PatchError(.unprocessable, "testing value \(operation.pathText) failed: test failed")
            }
            return document
        }
    }

    enum Edit {
        case add(JSONValue)
        case remove
        case replace(JSONValue)
    }

    static func get(_ document: JSONValue, _ tokens: ArraySlice<String>, pointer: String) throws(PatchError)
        -> JSONValue
    {
        var current = document
        for token in tokens {
            switch current {
            case .object:
                guard let child = current[token] else { throw missing(pointer) }
                current = child
            case .array(let elements):
                guard let index = arrayIndex(token), index < elements.count else { throw missing(pointer) }
                current = elements[index]
            default:
                throw missing(pointer)
            }
        }
        return current
    }

    /// `document` with `edit` applied at the location `tokens`.
    static func edit(_ document: JSONValue, _ tokens: ArraySlice<String>, _ edit: Edit, pointer: String)
        throws(PatchError) -> JSONValue
    {
        guard let token = tokens.first else {
            switch edit {
            case .add(let value), .replace(let value): return value
            case .remove: throw PatchError(.unprocessable, "cannot remove the whole document")
            }
        }
        let rest = tokens.dropFirst()
        switch document {
        case .object:
            if !rest.isEmpty {
                guard let child = document[token] else { throw missing(pointer) }
                var result = document
                result[member: token] = try self.edit(child, rest, edit, pointer: pointer)
                return result
            }
            var result = document
            switch edit {
            case .add(let value):
                result[member: token] = value
            case .replace(let value):
                guard document[token] != nil else { throw missing(pointer) }
                result[member: token] = value
            case .remove:
                guard document[token] != nil else { throw missing(pointer) }
                result[member: token] = nil
            }
            return result
        case .array(var elements):
            if !rest.isEmpty {
                guard let index = arrayIndex(token), index < elements.count else { throw missing(pointer) }
                elements[index] = try self.edit(elements[index], rest, edit, pointer: pointer)
                return .array(elements)
            }
            switch edit {
            case .add(let value):
                if token == "-" {
                    elements.append(value)
                } else {
                    guard let index = arrayIndex(token), index <= elements.count else {
                        throw PatchError(.unprocessable, "add operation: index out of bounds at \"\(pointer)\"")
                    }
                    elements.insert(value, at: index)
                }
            case .replace(let value):
                guard let index = arrayIndex(token), index < elements.count else { throw missing(pointer) }
                elements[index] = value
            case .remove:
                guard let index = arrayIndex(token), index < elements.count else { throw missing(pointer) }
                elements.remove(at: index)
            }
            return .array(elements)
        default:
            throw missing(pointer)
        }
    }

    /// A decimal array index without leading zeros.
    static func arrayIndex(_ token: String) -> Int? {
        guard !token.isEmpty, token.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        if token.utf8.count > 1, token.utf8.first == 0x30 { return nil }
        return Int(token)
    }

    static func missing(_ pointer: String) -> PatchError {
        PatchError(.unprocessable, "the path \"\(pointer)\" does not exist in the target document")
    }
}

// MARK: - Strategic merge patch

private struct StrategicMergeEngine {
    typealias Members = [(key: String, value: JSONValue)]
    typealias ListStrategy = StrategicMergeSchema.ListStrategy

    static let patchKey = "$patch"
    static let retainKeysKey = "$retainKeys"
    static let setElementOrderPrefix = "$setElementOrder/"
    static let deleteFromPrimitiveListPrefix = "$deleteFromPrimitiveList/"

    let schema: StrategicMergeSchema

    /// Merges `patch` into the object `original` found at `path`. An absent original is passed as `[]`, which also
    /// strips directives and nulls from a value that is new.
    func mergeObject(_ original: Members, _ patch: Members, path: [String]) throws(PatchError) -> JSONValue {
        var patch = patch
        let patchObject = JSONValue.object(patch)

        // $patch: replace | delete | merge
        if let directive = patchObject[Self.patchKey] {
            guard case .string(let name) = directive else {
                throw PatchError(.badRequest, "invalid \(Self.patchKey) directive at \(describe(path)): must be a string")
            }
            patch.removeAll { $0.key == Self.patchKey }
            switch name {
            case "replace": return try mergeObject([], patch, path: path)
            case "delete": return .object([])
            case "merge": break
            default:
                throw PatchError(.badRequest, "unknown patch type \"\(name)\" in \(Self.patchKey) at \(describe(path))")
            }
        }

        var result = JSONValue.object(original)

        // $retainKeys: keep only the listed keys of the original.
        if let retain = patchObject[Self.retainKeysKey] {
            patch.removeAll { $0.key == Self.retainKeysKey }
            guard case .array(let items) = retain else {
                throw PatchError(.badRequest, "invalid \(Self.retainKeysKey) at \(describe(path)): must be a list of strings")
            }
            var keep: Set<String> = []
            for item in items {
                guard case .string(let key) = item else {
                    throw PatchError(
                        .badRequest, "invalid \(Self.retainKeysKey) at \(describe(path)): must be a list of strings")
                }
                keep.insert(key)
            }
            for member in patch where !member.value.isNull && !Self.isListDirective(member.key) {
                guard keep.contains(member.key) else {
                    throw PatchError(
                        .unprocessable,
                        "the patch has field \"\(member.key)\" at \(describe(path)) that is not in its \(Self.retainKeysKey) list")
                }
            }
            result = .object(original.filter { keep.contains($0.key) })
        }

        // $setElementOrder/<field>: merge that list now and put it in the given order.
        // Lists the patch also carries are stored at that field's turn below, so new members keep patch order.
        var orderedLists: [String: JSONValue] = [:]
        for member in patch where member.key.hasPrefix(Self.setElementOrderPrefix) {
            let field = String(member.key.dropFirst(Self.setElementOrderPrefix.count))
            guard !field.isEmpty, case .array(let order) = member.value else {
                throw PatchError(.badRequest, "invalid \(member.key) directive at \(describe(path)): must be a list")
            }
            let fieldPath = path + [field]
            guard let strategy = schema.listStrategy(at: fieldPath) else { continue }  // a replaced list: no order
            let patchList: [JSONValue]?
            switch patchObject[field] {
            case .array(let list)?: patchList = list
            case nil: patchList = nil
            default: continue  // null or a non-list: handled as an ordinary field below
            }
            let originalList = result[field]?.arrayValue
            if let patchList { try validateOrder(patchList, order: order, strategy: strategy, path: fieldPath) }
            let merged: [JSONValue]
            switch (originalList, patchList) {
            case (nil, nil): continue
            case (let list?, nil): merged = list
            case (nil, let list?): merged = try mergeList([], list, strategy: strategy, path: fieldPath)
            case (let base?, let list?): merged = try mergeList(base, list, strategy: strategy, path: fieldPath)
            }
            let arranged = JSONValue.array(
                try arrange(
                    merged, patchOrder: order, serverOrder: originalList ?? [], key: Self.mergeKey(strategy),
                    path: fieldPath))
            if patchList != nil {
                orderedLists[field] = arranged
            } else {
                result[member: field] = arranged
            }
        }

        // Ordinary fields.
        for member in patch {
            let key = member.key
            if Self.isListDirective(key) { continue }
            if let arranged = orderedLists[key] {
                if !arranged.isNull { result[member: key] = arranged }
                orderedLists[key] = .null  // stored once; later duplicates of the key are ignored
                continue
            }
            let fieldPath = path + [key]
            if member.value.isNull {
                result[member: key] = nil
                continue
            }
            switch (result[key], member.value) {
            case (.object(let base)?, .object(let change)):
                result[member: key] = try mergeObject(base, change, path: fieldPath)
            case (.array(let base)?, .array(let change)):
                if let strategy = schema.listStrategy(at: fieldPath) {
                    result[member: key] = .array(try mergeList(base, change, strategy: strategy, path: fieldPath))
                } else {
                    result[member: key] = .array(try replacementList(change, path: fieldPath))
                }
            default:
                result[member: key] = try newValue(member.value, path: fieldPath)
            }
        }

        // $deleteFromPrimitiveList/<field>: remove those values from the list.
        for member in patch where member.key.hasPrefix(Self.deleteFromPrimitiveListPrefix) {
            let field = String(member.key.dropFirst(Self.deleteFromPrimitiveListPrefix.count))
            guard !field.isEmpty, case .array(let doomed) = member.value else {
                throw PatchError(.badRequest, "invalid \(member.key) directive at \(describe(path)): must be a list")
            }
            guard case .array(let list)? = result[field] else { continue }
            result[member: field] = .array(
                list.filter { element in !doomed.contains { PatchJSONCompare.equal($0, element) } })
        }
        return result
    }

    /// A patch value for a field the original does not have (or has with another type); `nil` drops the field.
    private func newValue(_ value: JSONValue, path: [String]) throws(PatchError) -> JSONValue? {
        switch value {
        case .null:
            return nil
        case .object(let members):
            if JSONValue.object(members)[Self.patchKey]?.stringValue == "delete" { return nil }
            return try mergeObject([], members, path: path)
        case .array(let elements):
            if let strategy = schema.listStrategy(at: path) {
                return .array(try mergeList([], elements, strategy: strategy, path: path))
            }
            return .array(try replacementList(elements, path: path))
        default:
            return value
        }
    }

    /// A list without merge strategy: the patch list, cleaned of directives.
    private func replacementList(_ elements: [JSONValue], path: [String]) throws(PatchError) -> [JSONValue] {
        var out: [JSONValue] = []
        out.reserveCapacity(elements.count)
        for element in elements {
            switch element {
            case .object(let members):
                if JSONValue.object(members)[Self.patchKey] != nil { continue }
                out.append(try mergeObject([], members, path: path))
            case .array(let nested):
                out.append(.array(try replacementList(nested, path: path)))
            default:
                out.append(element)
            }
        }
        return out
    }

    func mergeList(_ original: [JSONValue], _ patch: [JSONValue], strategy: ListStrategy, path: [String])
        throws(PatchError) -> [JSONValue]
    {
        switch strategy {
        case .mergePrimitives:
            for element in original + patch where !PatchJSONCompare.isScalar(element) {
                throw PatchError(
                    .unprocessable, "list \(describe(path)) merges as a set of scalars but holds \(kindName(element))")
            }
            var merged: [JSONValue] = []
            for element in original + patch where !merged.contains(where: { PatchJSONCompare.equal($0, element) }) {
                merged.append(element)
            }
            return try arrange(merged, patchOrder: patch, serverOrder: original, key: nil, path: path)

        case .mergeByKey(let key):
            for element in original where !element.isObject {
                throw PatchError(
                    .unprocessable, "list \(describe(path)) merges by \"\(key)\" but holds \(kindName(element))")
            }
            var base = original
            var items: [Members] = []
            var replace = false
            for element in patch {
                guard case .object(let members) = element else {
                    throw PatchError(
                        .unprocessable, "list \(describe(path)) merges by \"\(key)\" but the patch holds \(kindName(element))")
                }
                guard let directive = element[Self.patchKey] else {
                    items.append(members)
                    continue
                }
                switch directive.stringValue {
                case "delete":
                    guard let value = element[key] else {
                        throw PatchError(
                            .unprocessable,
                            "\(Self.patchKey): delete in list \(describe(path)) does not contain the merge key \"\(key)\"")
                    }
                    base.removeAll { Self.sameKey($0[key], value) }
                case "replace":
                    replace = true
                case "merge":
                    items.append(members)  // the element's own $patch: merge is dropped by mergeObject
                default:
                    throw PatchError(
                        .badRequest, "unknown patch type \(directive) in \(Self.patchKey) in list \(describe(path))")
                }
            }
            if replace {
                var out: [JSONValue] = []
                for members in items { out.append(try mergeObject([], members, path: path)) }
                return out
            }
            var merged = base
            var patchOrder: [JSONValue] = []
            for members in items {
                guard let value = JSONValue.object(members)[key] else {
                    throw PatchError(
                        .unprocessable, "an element of list \(describe(path)) does not contain the merge key \"\(key)\"")
                }
                patchOrder.append(.object(members))
                if let index = merged.firstIndex(where: { Self.sameKey($0[key], value) }),
                    case .object(let existing) = merged[index]
                {
                    merged[index] = try mergeObject(existing, members, path: path)
                } else {
                    merged.append(try mergeObject([], members, path: path))
                }
            }
            return try arrange(merged, patchOrder: patchOrder, serverOrder: base, key: key, path: path)
        }
    }

    /// Orders a merged list: the elements named by `patchOrder` in that order, the others (server-only) in their
    /// order in `serverOrder`, interleaved so that a server-only element stays before a patch element it preceded
    /// in the live list (the upstream algorithm; a new patch element goes before the remaining server-only ones).
    private func arrange(
        _ merged: [JSONValue], patchOrder: [JSONValue], serverOrder: [JSONValue], key: String?, path: [String]
    ) throws(PatchError) -> [JSONValue] {
        func identity(_ value: JSONValue) -> JSONValue? {
            guard let key else { return value }
            return value[key]
        }
        func position(of value: JSONValue, in list: [JSONValue]) -> Int? {
            guard let id = identity(value) else { return nil }
            return list.firstIndex { Self.sameKey(identity($0), id) }
        }
        var fromPatch: [(element: JSONValue, rank: Int)] = []
        var serverOnly: [(element: JSONValue, rank: Int)] = []
        for element in merged {
            if let rank = position(of: element, in: patchOrder) {
                fromPatch.append((element, rank))
            } else {
                serverOnly.append((element, position(of: element, in: serverOrder) ?? Int.max))
            }
        }
        let right = Self.stableSorted(fromPatch)
        let left = Self.stableSorted(serverOnly)
        var out: [JSONValue] = []
        out.reserveCapacity(merged.count)
        var i = 0
        var j = 0
        while i < left.count || j < right.count {
            if i < left.count, j < right.count {
                if let l = position(of: left[i], in: serverOrder), let r = position(of: right[j], in: serverOrder), l < r {
                    out.append(left[i])
                    i += 1
                } else {
                    out.append(right[j])
                    j += 1
                }
            } else if i < left.count {
                out.append(left[i])
                i += 1
            } else {
                out.append(right[j])
                j += 1
            }
        }
        return out
    }

    private static func stableSorted(_ items: [(element: JSONValue, rank: Int)]) -> [JSONValue] {
        items.enumerated()
            .sorted { $0.element.rank != $1.element.rank ? $0.element.rank < $1.element.rank : $0.offset < $1.offset }
            .map { $0.element.element }
    }

    /// The patch list must list its elements in the same relative order as the `$setElementOrder` list.
    private func validateOrder(_ patch: [JSONValue], order: [JSONValue], strategy: ListStrategy, path: [String])
        throws(PatchError)
    {
        let key = Self.mergeKey(strategy)
        func identity(_ value: JSONValue) throws(PatchError) -> JSONValue {
            guard let key else { return value }
            guard value.isObject, let id = value[key] else {
                throw PatchError(
                    .badRequest,
                    "invalid \(Self.setElementOrderPrefix)\(path.last ?? "") at \(describe(path)): every element needs the merge key \"\(key)\"")
            }
            return id
        }
        var wanted: [JSONValue] = []
        for element in patch where element[Self.patchKey] == nil { wanted.append(try identity(element)) }
        var orderIDs: [JSONValue] = []
        for element in order { orderIDs.append(try identity(element)) }
        var p = 0
        var o = 0
        while p < wanted.count, o < orderIDs.count {
            if PatchJSONCompare.equal(wanted[p], orderIDs[o]) { p += 1 }
            o += 1
        }
        if p < wanted.count {
            throw PatchError(
                .badRequest,
                "the order in the patch list \(describe(path)) doesn't match its \(Self.setElementOrderPrefix)\(path.last ?? "") list")
        }
    }

    private static func mergeKey(_ strategy: ListStrategy) -> String? {
        if case .mergeByKey(let key) = strategy { return key }
        return nil
    }

    private static func sameKey(_ a: JSONValue?, _ b: JSONValue?) -> Bool {
        guard let a, let b else { return false }
        return PatchJSONCompare.equal(a, b)
    }

    private static func isListDirective(_ key: String) -> Bool {
        key.hasPrefix(setElementOrderPrefix) || key.hasPrefix(deleteFromPrimitiveListPrefix)
    }

    private func describe(_ path: [String]) -> String {
        path.isEmpty ? "the root" : "\"" + path.joined(separator: ".") + "\""
    }

    private func kindName(_ value: JSONValue) -> String {
        switch value {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "a list"
        case .object: "an object"
        }
    }
}
