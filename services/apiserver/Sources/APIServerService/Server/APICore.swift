// The API's semantics over the object store, independent of HTTP: create/get/list/update/patch/delete/watch with
// what kube-apiserver adds around storage — system metadata (uid, creationTimestamp, generation,
// resourceVersion), defaulting and validation, the status subresource split, optimistic concurrency, graceful
// deletion of scheduled pods, finalizers, namespaces that must exist and terminate, and custom resources
// validated against their CRD. The HTTP layer and the built-in controllers both go through here.

import EdgeProtocol
import Foundation
import KubeProtobuf
import YAMLJSON
import Logging
import Synchronization

/// Options of a write request (query parameters kube accepts on POST/PUT/PATCH/DELETE).
public struct WriteOptions: Sendable {
    /// `dryRun=All`: validate and answer, store nothing.
    public var dryRun = false
    /// `fieldValidation`: Strict (unknown fields are an error), Warn (a warning), Ignore.
    public var fieldValidation = "Warn"
    /// The manager recorded in `metadata.managedFields` (`fieldManager`, else from the User-Agent); nil for the
    /// server's own controllers, whose writes are not recorded.
    public var fieldManager: String?
    /// `force=true` on an apply: take over fields other managers own instead of failing with a conflict.
    public var force = false
    /// The object already carries its managedFields (an apply computed them).
    var managersComputed = false
    /// The subresource a write is recorded under when it is not the one the request wrote through (`scale`).
    var recordedSubresource: String?

    public init(dryRun: Bool = false, fieldValidation: String = "Warn", fieldManager: String? = nil, force: Bool = false) {
        self.dryRun = dryRun
        self.fieldValidation = fieldValidation
        self.fieldManager = fieldManager
        self.force = force
    }
}

/// DELETE's options: from the query and/or a DeleteOptions body.
public struct DeleteOptions: Sendable {
    public var gracePeriodSeconds: Int64?
    /// Orphan, Background or Foreground.
    public var propagationPolicy: String?
    public var preconditionUID: String?
    public var preconditionResourceVersion: String?
    public var dryRun = false

    public init(gracePeriodSeconds: Int64? = nil, propagationPolicy: String? = nil) {
        self.gracePeriodSeconds = gracePeriodSeconds
        self.propagationPolicy = propagationPolicy
    }
}

/// What a DELETE did.
public enum DeleteOutcome: Sendable {
    /// The object is gone; its last state.
    case deleted(JSONValue)
    /// The object is marked for deletion (grace period, finalizers, namespace termination); its current state.
    case pending(JSONValue)
}

/// A write's answer: the object and warnings for the `Warning` header.
public struct WriteResult: Sendable {
    public var object: JSONValue
    public var warnings: [String] = []
}

public final class APICore: Sendable {
    public let store: ObjectStore
    public let registry: ResourceRegistry
    let logger: Logger
    /// Cluster IPs handed to Services (10.96.0.0/16 without .0.0 and .0.1).
    private let nextClusterIP = Mutex<Int>(10)

    public init(store: ObjectStore, registry: ResourceRegistry, logger: Logger) throws {
        self.store = store
        self.registry = registry
        self.logger = logger
        try bootstrap()
    }

    static let namespacesInfo = BuiltinResources.all.first { $0.plural == "namespaces" }!
    static let podsInfo = BuiltinResources.all.first { $0.plural == "pods" }!
    static let crdInfo = BuiltinResources.all.first { $0.plural == "customresourcedefinitions" }!

    /// Creates the namespaces every cluster has, and serves the CRDs already stored.
    private func bootstrap() throws {
        for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            let key = ObjectKey(resource: "namespaces", namespace: "", name: name)
            if try store.get(key) == nil {
                _ = try create(Self.namespacesInfo, namespace: "",
                               object: ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string(name)]])
            }
        }
        for crd in try store.list(resource: Self.crdInfo.storageKey).items {
            guard let object = try? JSONValue(parsing: crd.object) else { continue }
            registerCRD(object)
        }
        let services = try store.list(resource: "services").items.count
        nextClusterIP.withLock { $0 = 10 + services }
    }

    // MARK: Time and identity

    static func now() -> String { Date().formatted(.iso8601) }

    static func newUID() -> String { UUID().uuidString.lowercased() }

    /// kube's generateName suffix: 5 characters from an alphabet without vowels and look-alikes.
    static func randomSuffix() -> String {
        let alphabet = Array("bcdfghjklmnpqrstvwxz2456789")
        return String((0..<5).map { _ in alphabet.randomElement()! })
    }

    // MARK: Reads

    func key(_ info: ResourceInfo, _ namespace: String, _ name: String) -> ObjectKey {
        ObjectKey(resource: info.storageKey, namespace: info.namespaced ? namespace : "", name: name)
    }

    /// Decodes a stored object as `info`'s version sees it (custom resources are stored once for all versions).
    func decode(_ bytes: [UInt8], as info: ResourceInfo) throws(APIError) -> JSONValue {
        guard var object = try? JSONValue(parsing: bytes) else {
            throw APIError.internalError("stored object is not JSON")
        }
        if info.custom != nil, object["apiVersion"]?.stringValue != info.apiVersion {
            object[member: "apiVersion"] = .string(info.apiVersion)
        }
        return object
    }

    public func get(_ info: ResourceInfo, namespace: String, name: String) throws(APIError) -> JSONValue {
        try fetch(info, key(info, namespace, name)).object
    }

    /// The stored object at `key` and its decoded form; 404 when there is none.
    func fetch(_ info: ResourceInfo, _ key: ObjectKey) throws(APIError) -> (stored: StoredObject, object: JSONValue) {
        let stored: StoredObject?
        do {
            stored = try store.get(key)
        } catch {
            throw APIError.internalError("\(error)")
        }
        guard let stored else { throw APIError.notFound(info, key.name) }
        return (stored, try decode(stored.object, as: info))
    }

    public struct ListResult: Sendable {
        public var items: [JSONValue]
        public var resourceVersion: Int64
        public var continueToken: String?
        public var remaining: Int?
    }

    /// Lists `info` (in `namespace`, or everywhere when nil) filtered by selectors, a page of `limit` after the
    /// continue token.
    public func list(
        _ info: ResourceInfo, namespace: String?, labelSelector: LabelSelector = .everything,
        fieldSelector: FieldSelector? = nil, limit: Int? = nil, continueToken: String? = nil
    ) throws(APIError) -> ListResult {
        var namespace = info.namespaced ? namespace : nil
        if info.namespaced, namespace == nil, let required = fieldSelector?.requiredValue("metadata.namespace") {
            namespace = required
        }
        let snapshot: (items: [StoredObject], listRV: Int64)
        do {
            snapshot = try store.list(resource: info.storageKey, namespace: namespace)
        } catch {
            throw APIError.internalError("\(error)")
        }
        var after: (String, String)?
        if let continueToken, !continueToken.isEmpty {
            guard let data = Data(base64Encoded: continueToken),
                  let text = String(data: data, encoding: .utf8) else {
                throw APIError.badRequest("invalid continue token")
            }
            let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2 else { throw APIError.badRequest("invalid continue token") }
            after = (String(parts[0]), String(parts[1]))
        }
        var items: [JSONValue] = []
        var remaining = 0
        var lastKey: (String, String)?
        for stored in snapshot.items {
            if let after, (stored.key.namespace, stored.key.name) <= after { continue }
            if let limit, limit > 0, items.count >= limit {
                remaining += 1
                continue
            }
            let object = try decode(stored.object, as: info)
            guard labelSelector.matches(object[path: ["metadata", "labels"]]),
                  fieldSelector?.matches(object) ?? true else { continue }
            items.append(object)
            lastKey = (stored.key.namespace, stored.key.name)
        }
        var token: String?
        if remaining > 0, let lastKey {
            token = Data("\(lastKey.0)/\(lastKey.1)".utf8).base64EncodedString()
        }
        // kube counts what is left only when nothing is filtered (ListMeta.remainingItemCount: "not set if the list
        // request contains label or field selectors").
        let filtered = !labelSelector.requirements.isEmpty || !(fieldSelector?.requirements.isEmpty ?? true)
        return ListResult(items: items, resourceVersion: snapshot.listRV, continueToken: token,
                          remaining: remaining > 0 && !filtered ? remaining : nil)
    }

    // MARK: Create

    @discardableResult
    public func create(
        _ info: ResourceInfo, namespace: String, object input: JSONValue, options: WriteOptions = WriteOptions()
    ) throws(APIError) -> WriteResult {
        var object = try checkTypeMeta(input, info)
        var warnings: [String] = []
        // Namespace: from the path; the body may repeat it but not contradict it.
        if info.namespaced {
            if let bodyNamespace = object.string(at: "metadata.namespace"), !bodyNamespace.isEmpty,
               bodyNamespace != namespace {
                throw APIError.badRequest(
                    "the namespace of the provided object does not match the namespace sent on the request")
            }
            object[path: ["metadata", "namespace"]] = .string(namespace)
            try requireNamespaceAccepting(namespace, info: info, name: object.string(at: "metadata.name") ?? "")
        } else {
            object[path: ["metadata", "namespace"]] = nil
        }
        // Name, or one generated.
        var name = object.string(at: "metadata.name") ?? ""
        if name.isEmpty {
            guard let prefix = object.string(at: "metadata.generateName"), !prefix.isEmpty else {
                throw APIError.invalid(info, "", [.required("metadata.name", "name or generateName is required")])
            }
            name = prefix + Self.randomSuffix()
            object[path: ["metadata", "name"]] = .string(name)
        }
        // System metadata.
        object[path: ["metadata", "uid"]] = .string(Self.newUID())
        object[path: ["metadata", "creationTimestamp"]] = .string(Self.now())
        object[path: ["metadata", "resourceVersion"]] = nil
        object[path: ["metadata", "deletionTimestamp"]] = nil
        object[path: ["metadata", "deletionGracePeriodSeconds"]] = nil
        if !options.managersComputed { object[path: ["metadata", "managedFields"]] = nil }
        if object["spec"] != nil || info.custom != nil { object[path: ["metadata", "generation"]] = 1 }
        // As kube-apiserver: defaulting at decode, mutating admission, then the strategy's PrepareForCreate.
        if info.custom == nil { Defaulting.apply(group: info.group, kind: info.kind, &object) }
        if info.group == "", info.kind == "Pod" { Defaulting.admitPod(&object, .create) }
        prepareForCreate(info, &object)
        warnings += try validateAndPrune(info, &object, options: options)
        if !options.managersComputed, let manager = options.fieldManager {
            FieldManager.store(FieldManager.update(
                old: nil, new: object, manager: manager, apiVersion: info.apiVersion, subresource: nil,
                hasStatus: info.hasStatus, time: Self.now(), shape: applyShape(info)), in: &object)
        }
        if options.dryRun { return WriteResult(object: object, warnings: warnings) }
        let rv: Int64
        do {
            rv = try store.create(key(info, namespace, name), object: try object.serialized())
        } catch StoreError.alreadyExists {
            throw APIError.alreadyExists(info, name)
        } catch {
            throw APIError.internalError("\(error)")
        }
        object[path: ["metadata", "resourceVersion"]] = .string(String(rv))
        afterWrite(info, object, old: nil)
        return WriteResult(object: object, warnings: warnings)
    }

    /// The kind and apiVersion in the body must be the ones of the path (both are filled in when missing).
    func checkTypeMeta(_ input: JSONValue, _ info: ResourceInfo) throws(APIError) -> JSONValue {
        guard input.isObject else { throw APIError.badRequest("the body of the request is not a JSON object") }
        var object = input
        let kind = object["kind"]?.stringValue ?? ""
        let apiVersion = object["apiVersion"]?.stringValue ?? ""
        if !kind.isEmpty, kind != info.kind {
            throw APIError.badRequest("""
                \(kind) in version "\(info.version)" cannot be handled as a \(info.kind): the kind in the body \
                (\(kind)) does not match the kind of the path (\(info.kind))
                """)
        }
        if !apiVersion.isEmpty, apiVersion != info.apiVersion {
            throw APIError.badRequest("""
                the API version in the data (\(apiVersion)) does not match the expected API version \
                (\(info.apiVersion))
                """)
        }
        if let metadata = object["metadata"], !metadata.isObject {
            throw APIError.badRequest("\(info.kind) in version \"\(info.version)\" cannot be handled as a \(info.kind): metadata must be an object")
        }
        object[member: "apiVersion"] = .string(info.apiVersion)
        object[member: "kind"] = .string(info.kind)
        return object
    }

    private func requireNamespaceAccepting(_ namespace: String, info: ResourceInfo, name: String) throws(APIError) {
        guard !namespace.isEmpty else { throw APIError.badRequest("a namespace is required for \(info.plural)") }
        let ns: JSONValue
        do {
            ns = try get(Self.namespacesInfo, namespace: "", name: namespace)
        } catch {
            throw APIError.notFound(Self.namespacesInfo, namespace)
        }
        if ns[path: ["metadata", "deletionTimestamp"]] != nil {
            throw APIError(code: 403, reason: "Forbidden", message: """
                \(info.qualifiedName) "\(name)" is forbidden: unable to create new content in namespace \
                \(namespace) because it is being terminated
                """, name: name, group: info.group, kind: info.plural)
        }
    }

    /// What kube's strategies reset on create: server-owned status.
    private func prepareForCreate(_ info: ResourceInfo, _ object: inout JSONValue) {
        switch (info.group, info.kind) {
        case ("", "Pod"):
            object[member: "status"] = ["phase": "Pending", "qosClass": .string(Defaulting.qosClass(of: object))]
            object[path: ["metadata", "generation"]] = nil  // pods have none in 1.26
        case ("", "Namespace"):
            var finalizers = object[path: ["spec", "finalizers"]]?.arrayValue ?? []
            if !finalizers.contains("kubernetes") { finalizers.append("kubernetes") }
            object[path: ["spec", "finalizers"]] = .array(finalizers)
            object[member: "status"] = ["phase": "Active"]
        case ("apps", "Deployment"):
            object[member: "status"] = .object([])
        case ("", "Service"):
            object[path: ["metadata", "generation"]] = nil  // services have none
            let externalName = object[path: ["spec", "type"]]?.stringValue == "ExternalName"
            if let given = object.string(at: "spec.clusterIP"), !given.isEmpty,
               object[path: ["spec", "clusterIPs"]]?.arrayValue?.isEmpty ?? true {
                object[path: ["spec", "clusterIPs"]] = [.string(given)]
            }
            if !externalName {
                // A single-stack IPv4 cluster: a headless service without a selector asks for both families.
                let headless = object.string(at: "spec.clusterIP") == "None"
                let selectorless = object[path: ["spec", "selector"]]?.objectMembers?.isEmpty ?? true
                let requireDual = headless && selectorless
                if object[path: ["spec", "ipFamilyPolicy"]] == nil {
                    object[path: ["spec", "ipFamilyPolicy"]] = requireDual ? "RequireDualStack" : "SingleStack"
                }
                if object[path: ["spec", "ipFamilies"]]?.arrayValue?.isEmpty ?? true {
                    object[path: ["spec", "ipFamilies"]] = requireDual ? ["IPv4", "IPv6"] : ["IPv4"]
                }
            }
            if object[path: ["spec", "clusterIP"]] == nil, !externalName {
                let ip = nextClusterIP.withLock { next -> String in
                    defer { next += 1 }
                    return "10.96.\(next / 254 % 256).\(next % 254 + 1)"
                }
                object[path: ["spec", "clusterIP"]] = .string(ip)
                object[path: ["spec", "clusterIPs"]] = [.string(ip)]
            }
            if object["status"] == nil { object[member: "status"] = ["loadBalancer": .object([])] }
        case ("apiextensions.k8s.io", "CustomResourceDefinition"):
            object[member: "status"] = .object([])
        default:
            if info.custom != nil, info.hasStatus { object[member: "status"] = nil }
        }
    }

    /// Defaults, validation (422) and, for custom resources, schema pruning per `fieldValidation`.
    private func validateAndPrune(
        _ info: ResourceInfo, _ object: inout JSONValue, options: WriteOptions
    ) throws(APIError) -> [String] {
        if info.custom == nil { Defaulting.apply(group: info.group, kind: info.kind, &object) }
        let name = object.string(at: "metadata.name") ?? ""
        var errors = ObjectRules.validate(info, object)
        var warnings: [String] = []
        if let custom = info.custom, errors.isEmpty {
            let admission = CustomResourceChecks.admit(&object, version: custom, fieldValidation: options.fieldValidation)
            if let strict = admission.strictDecodingError { throw APIError.badRequest(strict) }
            errors += admission.errors
            warnings += admission.warnings
        } else if info.kind == "CustomResourceDefinition" {
            errors += CustomResourceChecks.validateCRD(object)
        }
        if !errors.isEmpty { throw APIError.invalid(info, name, errors) }
        return warnings
    }

    // MARK: Update

    /// PUT of the object or of its status subresource.
    @discardableResult
    public func update(
        _ info: ResourceInfo, namespace: String, name: String, object input: JSONValue, subresource: String? = nil,
        options: WriteOptions = WriteOptions()
    ) throws(APIError) -> WriteResult {
        var object = try checkTypeMeta(input, info)
        let bodyName = object.string(at: "metadata.name") ?? ""
        if !bodyName.isEmpty, bodyName != name {
            throw APIError.badRequest("the name of the object (\(bodyName)) does not match the name on the URL (\(name))")
        }
        object[path: ["metadata", "name"]] = .string(name)
        if info.namespaced {
            if let bodyNamespace = object.string(at: "metadata.namespace"), !bodyNamespace.isEmpty,
               bodyNamespace != namespace {
                throw APIError.badRequest(
                    "the namespace of the provided object does not match the namespace sent on the request")
            }
        }
        let precondition = object.string(at: "metadata.resourceVersion").flatMap { Int64($0) }
        return try modify(info, namespace: namespace, name: name, precondition: precondition,
                          subresource: subresource, options: options) { _ in object }
    }

    /// PATCH: applies `patch` to the current object (retrying on a concurrent write unless the patch pins a
    /// resourceVersion).
    @discardableResult
    public func patch(
        _ info: ResourceInfo, namespace: String, name: String, type: PatchType, patch: [UInt8],
        subresource: String? = nil, options: WriteOptions = WriteOptions()
    ) throws(APIError) -> WriteResult {
        if type == .strategic, info.custom != nil {
            throw APIError.unsupportedMediaType(type.rawValue)
        }
        return try modify(info, namespace: namespace, name: name, precondition: nil, subresource: subresource,
                          options: options) { (current) throws(APIError) -> JSONValue in
            do {
                return try Patcher.apply(type, patch: patch, to: current, kind: info.kind)
            } catch let error as PatchError {
                // kubectl prints an "Invalid" reason only through field causes; a patch error has none.
                let reason = error.httpStatus == 422 ? "UnprocessableEntity" : error.category.statusReason
                throw APIError(code: error.httpStatus, reason: reason, message: error.message,
                               name: name, group: info.group, kind: info.kind)
            } catch {
                throw APIError.internalError("\(error)")
            }
        }
    }

    // MARK: Server-side apply

    /// PATCH with `application/apply-patch+yaml`: merges the configuration into the object (creating it when
    /// missing) under `options.fieldManager`'s ownership. `created` tells a 201 from a 200.
    public func apply(
        _ info: ResourceInfo, namespace: String, name: String, patch: [UInt8], subresource: String? = nil,
        options: WriteOptions
    ) throws(APIError) -> (result: WriteResult, created: Bool) {
        guard let manager = options.fieldManager, !manager.isEmpty else {
            throw APIError(code: 422, reason: "Invalid", message: """
                PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch
                """)
        }
        // kubectl sends JSON (which is YAML); anything else is read as one YAML document.
        let config: JSONValue
        do {
            config = try JSONValue(parsing: patch)
        } catch {
            do {
                let documents = try YAMLDocuments.load(String(decoding: patch, as: UTF8.self))
                guard documents.count == 1 else {
                    throw APIError.badRequest("error decoding YAML: an apply patch is one document, not \(documents.count)")
                }
                config = documents[0]
            } catch let error as APIError {
                throw error
            } catch {
                throw APIError.badRequest("error decoding YAML: \(error)")
            }
        }
        guard config.isObject else { throw APIError.badRequest("the apply configuration is not an object") }
        let configName = config.string(at: "metadata.name") ?? ""
        if !configName.isEmpty, configName != name {
            throw APIError.badRequest("the name of the object (\(configName)) does not match the name on the URL (\(name))")
        }
        let shape = applyShape(info)
        var applyOptions = options
        applyOptions.managersComputed = true
        func conflictError(_ conflicts: ApplyConflicts) -> APIError {
            var error = APIError(code: 409, reason: "Conflict", message: conflicts.message)
            error.causes = conflicts.conflicts.map { ($0.path, "FieldManagerConflict", "conflict with \($0.manager)") }
            return error
        }
        if (try? fetch(info, key(info, namespace, name))) == nil {
            var object: JSONValue
            do throws(ApplyConflicts) {
                let applied = try FieldManager.apply(
                    live: nil, config: config, manager: manager, apiVersion: info.apiVersion, subresource: subresource,
                    hasStatus: info.hasStatus, force: options.force, time: Self.now(), shape: shape)
                object = applied.object
                FieldManager.store(applied.entries, in: &object)
            } catch {
                throw conflictError(error)
            }
            object[path: ["metadata", "name"]] = .string(name)
            do {
                return (try create(info, namespace: namespace, object: object, options: applyOptions), true)
            } catch let error where error.reason == "AlreadyExists" {
                // Created meanwhile: apply to it below.
            }
        }
        let result = try modify(info, namespace: namespace, name: name, precondition: nil, subresource: subresource,
                                options: applyOptions) { (current) throws(APIError) -> JSONValue in
            do throws(ApplyConflicts) {
                var applied = try FieldManager.apply(
                    live: current, config: config, manager: manager, apiVersion: info.apiVersion,
                    subresource: subresource, hasStatus: info.hasStatus, force: options.force, time: Self.now(),
                    shape: shape)
                FieldManager.store(applied.entries, in: &applied.object)
                return applied.object
            } catch {
                throw conflictError(error)
            }
        }
        return (result, false)
    }

    /// How server-side apply sees a kind's objects.
    func applyShape(_ info: ResourceInfo) -> any ApplyShape {
        if let custom = info.custom {
            let version = custom.definition.versions.first { $0.name == custom.versionName }
            return version?.schema.map { CRDShape($0) as any ApplyShape } ?? DeducedShape()
        }
        return ProtoApplyShape(apiVersion: info.apiVersion, kind: info.kind) ?? DeducedShape()
    }

    /// The read-modify-write every update goes through. `change` gets the current object and returns the new
    /// one (as the client sent or patched it); system metadata and the other half of the status split are then
    /// taken from the current object.
    func modify(
        _ info: ResourceInfo, namespace: String, name: String, precondition: Int64?, subresource: String?,
        options: WriteOptions, change: (JSONValue) throws(APIError) -> JSONValue
    ) throws(APIError) -> WriteResult {
        for _ in 0..<16 {
            let storeKey = key(info, namespace, name)
            let (stored, current) = try fetch(info, storeKey)
            var object = try checkTypeMeta(try change(current), info)
            // A resourceVersion in the new object (PUT body or patch) is a precondition.
            let pinned = precondition ?? object.string(at: "metadata.resourceVersion").flatMap { Int64($0) }
            if let pinned, pinned != stored.rv { throw APIError.conflict(info, name) }
            if let subresource, subresource == "status" {
                // Status writes change status only (metadata labels/annotations too, as kube allows).
                var merged = current
                merged[member: "status"] = object["status"]
                object = merged
            } else if info.hasStatus {
                object[member: "status"] = current["status"]
            }
            // System metadata is the server's.
            for field in ["uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "name",
                          "namespace", "generation"] {
                object[path: ["metadata", field]] = current[path: ["metadata", field]]
            }
            if !info.namespaced { object[path: ["metadata", "namespace"]] = nil }
            if Self.specChanged(current, object), let generation = current[path: ["metadata", "generation"]]?.int64Value {
                object[path: ["metadata", "generation"]] = .integer(generation + 1)
            }
            object[path: ["metadata", "resourceVersion"]] = .string(String(stored.rv))
            if info.group == "", info.kind == "Pod", subresource == nil {
                Defaulting.apply(group: info.group, kind: info.kind, &object)
                Defaulting.admitPod(&object, .update, old: current)
            }
            if info.group == "", info.kind == "Service", subresource == nil {
                // beginUpdate: allocated addresses the new object omits are kept.
                for field in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"]
                where object[path: ["spec", field]] == nil {
                    object[path: ["spec", field]] = current[path: ["spec", field]]
                }
            }
            if info.group == "", info.kind == "Namespace", subresource == nil {
                object[path: ["spec", "finalizers"]] = current[path: ["spec", "finalizers"]]
            }
            let warnings = try validateAndPrune(info, &object, options: options)
            if options.managersComputed {
                // An apply: its managers were computed against `current`.
            } else if let manager = options.fieldManager {
                var previous = current
                if object[path: ["metadata", "managedFields"]] == [.object([])] {
                    previous[path: ["metadata", "managedFields"]] = nil  // `[{}]` resets ownership, as in kube
                }
                FieldManager.store(FieldManager.update(
                    old: previous, new: object, manager: manager, apiVersion: info.apiVersion,
                    subresource: options.recordedSubresource ?? subresource, hasStatus: info.hasStatus, time: Self.now(), shape: applyShape(info)),
                    in: &object)
            } else {
                object[path: ["metadata", "managedFields"]] = current[path: ["metadata", "managedFields"]]
            }
            if info.kind == "Namespace", current[path: ["status", "phase"]]?.stringValue == "Terminating" {
                object[path: ["status", "phase"]] = "Terminating"
            }
            if options.dryRun { return WriteResult(object: object, warnings: warnings) }
            // Finalizers all gone on an object being deleted: the update is its removal.
            if current[path: ["metadata", "deletionTimestamp"]] != nil, info.kind != "Namespace",
               (object[path: ["metadata", "finalizers"]]?.arrayValue ?? []).isEmpty,
               !Self.waitsForGrace(info, object) {
                do {
                    let removed = try store.delete(storeKey, expectedRV: stored.rv)
                    var last = object
                    last[path: ["metadata", "resourceVersion"]] = .string(String(removed.rv))
                    afterDelete(info, last)
                    return WriteResult(object: last, warnings: warnings)
                } catch StoreError.conflict {
                    if precondition != nil { throw APIError.conflict(info, name) }
                    continue
                } catch {
                    throw APIError.internalError("\(error)")
                }
            }
            do {
                let rv = try store.update(storeKey, object: try object.serialized(), expectedRV: stored.rv)
                object[path: ["metadata", "resourceVersion"]] = .string(String(rv))
            } catch StoreError.conflict {
                if precondition != nil { throw APIError.conflict(info, name) }
                continue  // someone wrote in between: retry on the new state
            } catch StoreError.notFound {
                throw APIError.notFound(info, name)
            } catch {
                throw APIError.internalError("\(error)")
            }
            afterWrite(info, object, old: current)
            return WriteResult(object: object, warnings: warnings)
        }
        throw APIError.conflict(info, name)
    }

    /// Whether anything but metadata and status differs (kube bumps generation then).
    static func specChanged(_ old: JSONValue, _ new: JSONValue) -> Bool {
        func content(_ object: JSONValue) -> [String: JSONValue] {
            var result: [String: JSONValue] = [:]
            for (key, value) in object.objectMembers ?? [] where key != "metadata" && key != "status" {
                result[key] = value
            }
            return result
        }
        return content(old) != content(new)
    }

    /// A scheduled pod being deleted gracefully stays until its node confirms or the grace period ends.
    static func waitsForGrace(_ info: ResourceInfo, _ object: JSONValue) -> Bool {
        guard info.group.isEmpty, info.kind == "Pod" else { return false }
        return (object[path: ["metadata", "deletionGracePeriodSeconds"]]?.int64Value ?? 0) > 0
    }

    // MARK: Delete

    public func delete(
        _ info: ResourceInfo, namespace: String, name: String, options: DeleteOptions = DeleteOptions()
    ) throws(APIError) -> DeleteOutcome {
        for _ in 0..<16 {
            let storeKey = key(info, namespace, name)
            let (stored, object) = try fetch(info, storeKey)
            if let uid = options.preconditionUID, uid != object.string(at: "metadata.uid") {
                throw APIError(code: 409, reason: "Conflict", message: """
                    Operation cannot be fulfilled on \(info.qualifiedName) "\(name)": Precondition failed: \
                    UID in precondition: \(uid), UID in object meta: \(object.string(at: "metadata.uid") ?? "")
                    """, name: name, group: info.group, kind: info.plural)
            }
            if let rv = options.preconditionResourceVersion, rv != String(stored.rv) {
                throw APIError.conflict(info, name)
            }
            let finalizers = object[path: ["metadata", "finalizers"]]?.arrayValue ?? []
            var marked = object
            var deferred = false
            if info.kind == "Pod", info.group.isEmpty {
                // Graceful deletion of a pod a node runs: mark it; the node (or the grace deadline) removes it.
                let grace = options.gracePeriodSeconds
                    ?? object[path: ["spec", "terminationGracePeriodSeconds"]]?.int64Value ?? 30
                let scheduled = !(object.string(at: "spec.nodeName") ?? "").isEmpty
                let phase = object.string(at: "status.phase") ?? ""
                if scheduled, grace > 0, phase != "Succeeded", phase != "Failed" {
                    let current = object[path: ["metadata", "deletionGracePeriodSeconds"]]?.int64Value
                    if current == nil || grace < current! {
                        marked[path: ["metadata", "deletionGracePeriodSeconds"]] = .integer(grace)
                        marked[path: ["metadata", "deletionTimestamp"]] = .string(
                            Date().addingTimeInterval(Double(grace)).formatted(.iso8601))
                    }
                    deferred = true
                } else if !finalizers.isEmpty {
                    marked[path: ["metadata", "deletionGracePeriodSeconds"]] = 0
                    if marked[path: ["metadata", "deletionTimestamp"]] == nil {
                        marked[path: ["metadata", "deletionTimestamp"]] = .string(Self.now())
                    }
                    deferred = true
                }
            } else if (info.kind == "Namespace" && info.group.isEmpty) || !finalizers.isEmpty {
                // Namespaces are emptied by the namespace controller first; finalizers hold any object.
                if marked[path: ["metadata", "deletionTimestamp"]] == nil {
                    marked[path: ["metadata", "deletionTimestamp"]] = .string(Self.now())
                    marked[path: ["metadata", "deletionGracePeriodSeconds"]] = 0
                }
                if info.kind == "Namespace" { marked[path: ["status", "phase"]] = "Terminating" }
                deferred = true
            }
            if deferred {
                if options.dryRun || marked == object { return .pending(object) }
                do {
                    // Only metadata changed: stored as is (old objects are not re-validated).
                    let rv = try store.update(storeKey, object: try marked.serialized(), expectedRV: stored.rv)
                    marked[path: ["metadata", "resourceVersion"]] = .string(String(rv))
                } catch StoreError.conflict {
                    continue
                } catch {
                    throw APIError.internalError("\(error)")
                }
                return .pending(marked)
            }
            if options.dryRun { return .deleted(object) }
            var last = object
            do {
                let removed = try store.delete(storeKey, expectedRV: stored.rv)
                last[path: ["metadata", "resourceVersion"]] = .string(String(removed.rv))
            } catch StoreError.conflict {
                continue
            } catch StoreError.notFound {
                throw APIError.notFound(info, name)
            } catch {
                throw APIError.internalError("\(error)")
            }
            afterDelete(info, last, propagation: options.propagationPolicy)
            return .deleted(last)
        }
        throw APIError.conflict(info, name)
    }

    // MARK: Side effects

    /// Hooks after a successful create/update.
    private func afterWrite(_ info: ResourceInfo, _ object: JSONValue, old: JSONValue?) {
        if info.kind == "CustomResourceDefinition", info.group == "apiextensions.k8s.io" {
            registerCRD(object)
            establish(object)
        }
    }

    /// Hooks after an object is gone: CRDs take their objects with them; owned pods are collected.
    private func afterDelete(_ info: ResourceInfo, _ object: JSONValue, propagation: String? = nil) {
        let name = object.string(at: "metadata.name") ?? ""
        if info.kind == "CustomResourceDefinition", info.group == "apiextensions.k8s.io" {
            let resources = registry.customResources(ofCRD: name)
            registry.setCustom([], forCRD: name)
            if let first = resources.first, let items = try? store.list(resource: first.storageKey).items {
                for item in items { _ = try? store.delete(item.key) }
            }
            logger.info("custom resource definition removed", metadata: ["crd": "\(name)"])
        }
        if propagation != "Orphan", let uid = object.string(at: "metadata.uid"), info.kind != "Pod" {
            collectDependents(ofUID: uid, namespace: object.string(at: "metadata.namespace") ?? "")
        }
    }

    /// Deletes the pods an object owned (the garbage collector's background propagation, for pods).
    func collectDependents(ofUID uid: String, namespace: String) {
        guard let pods = try? list(Self.podsInfo, namespace: namespace.isEmpty ? nil : namespace) else { return }
        for pod in pods.items {
            let owners = pod[path: ["metadata", "ownerReferences"]]?.arrayValue ?? []
            guard owners.contains(where: { $0["uid"]?.stringValue == uid }) else { continue }
            _ = try? delete(Self.podsInfo, namespace: pod.string(at: "metadata.namespace") ?? "",
                            name: pod.string(at: "metadata.name") ?? "")
        }
    }

    /// Serves what a stored CRD declares.
    func registerCRD(_ crd: JSONValue) {
        let name = crd.string(at: "metadata.name") ?? ""
        let definition = CRDDefinition(crd)
        registry.setCustom(CustomResourceChecks.resources(of: definition, crdName: name), forCRD: name)
    }

    /// Marks a CRD's names accepted and the CRD established, as kube's CRD controllers do.
    private func establish(_ crd: JSONValue) {
        let name = crd.string(at: "metadata.name") ?? ""
        guard crd[path: ["status", "conditions"]] == nil || crd[path: ["status", "acceptedNames", "kind"]] == nil
                || crd[path: ["status", "acceptedNames"]] != crd[path: ["spec", "names"]] else { return }
        var status = crd["status"] ?? .object([])
        let now = Self.now()
        status[member: "acceptedNames"] = crd[path: ["spec", "names"]] ?? .object([])
        status[member: "conditions"] = [
            ["type": "NamesAccepted", "status": "True", "lastTransitionTime": .string(now),
             "reason": "NoConflicts", "message": "no conflicts found"],
            ["type": "Established", "status": "True", "lastTransitionTime": .string(now),
             "reason": "InitialNamesAccepted", "message": "the initial names have been accepted"],
        ]
        let stored = (crd[path: ["spec", "versions"]]?.arrayValue ?? [])
            .filter { $0["storage"]?.boolValue == true }.compactMap { $0["name"] }
        var storedVersions = status["storedVersions"]?.arrayValue ?? []
        for version in stored where !storedVersions.contains(version) { storedVersions.append(version) }
        status[member: "storedVersions"] = .array(storedVersions)
        var updated = crd
        updated[member: "status"] = status
        _ = try? update(Self.crdInfo, namespace: "", name: name, object: updated, subresource: "status")
    }
}
