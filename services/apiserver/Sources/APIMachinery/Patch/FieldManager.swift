// Server-side apply and field ownership (`metadata.managedFields`), as kube-apiserver does them with
// sigs.k8s.io/structured-merge-diff: every write records which manager set which fields; an apply merges the applier's
// configuration into the object, removes the fields it stopped applying (unless someone else owns them) and refuses
// to change fields another manager owns unless forced.
//
// A field set is a set of paths; a path is a list of elements serialised as in `fieldsV1`: `f:<field>`,
// `k:<json of the key fields>` (an item of a list keyed by fields), `v:<json>` (an item of a set), `i:<index>`.

import EdgeProtocol
import Foundation

/// The list semantics server-side apply needs (the `+listType` / `+listMapKey` markers of the Go types, or
/// `x-kubernetes-list-type` in a CRD schema).
public enum ApplyListType: Sendable, Equatable {
    /// Replaced as a whole, owned as one field.
    case atomic
    /// Scalars merged as a set.
    case set
    /// Objects merged item by item on these key fields.
    case map([String])
}

/// The shape of a kind's objects at a path of field names (list items add no name).
public protocol ApplyShape: Sendable {
    /// Whether the object at `names` is a struct (its members are fields) rather than a map (its members are entries,
    /// each owned in its own right). Unknown paths are maps, as structured-merge-diff deduces them.
    func isStruct(at names: [String]) -> Bool
    func listType(at names: [String]) -> ApplyListType
}

/// Custom resources without a structural schema: every object a map, every list atomic.
public struct DeducedShape: ApplyShape {
    public init() {}
    public func isStruct(at names: [String]) -> Bool { false }
    public func listType(at names: [String]) -> ApplyListType { .atomic }
}

/// A custom resource's shape from its CRD version's OpenAPI schema.
public struct CRDShape: ApplyShape {
    let root: CRDSchema

    public init(_ root: CRDSchema) { self.root = root }

    func schema(at names: [String]) -> CRDSchema? {
        var node: CRDSchema? = root
        for name in names {
            guard let current = node else { return nil }
            // List items add no name: descend through arrays first.
            var base = current
            while base.type == "array", let items = base.items { base = items }
            if let property = base.properties.first(where: { $0.name == name }) {
                node = property.schema
            } else if let additional = base.additionalProperties?.schema {
                node = additional
            } else {
                return nil
            }
        }
        return node
    }

    public func isStruct(at names: [String]) -> Bool {
        guard var node = schema(at: names) else { return false }
        while node.type == "array", let items = node.items { node = items }
        return !node.properties.isEmpty
    }

    public func listType(at names: [String]) -> ApplyListType {
        guard let node = schema(at: names) else { return .atomic }
        switch node.raw["x-kubernetes-list-type"]?.stringValue {
        case "set": return .set
        case "map":
            let keys = (node.raw["x-kubernetes-list-map-keys"]?.arrayValue ?? []).compactMap(\.stringValue)
            return keys.isEmpty ? .atomic : .map(keys)
        default: return .atomic
        }
    }
}

/// A set of field paths, with `fieldsV1` conversion.
public struct FieldSet: Sendable, Hashable {
    public typealias Path = [String]
    public private(set) var paths: Set<Path>

    public init(_ paths: Set<Path> = []) { self.paths = paths }

    public var isEmpty: Bool { paths.isEmpty }

    public func union(_ other: FieldSet) -> FieldSet { FieldSet(paths.union(other.paths)) }
    public func subtracting(_ other: FieldSet) -> FieldSet { FieldSet(paths.subtracting(other.paths)) }
    public func intersection(_ other: FieldSet) -> FieldSet { FieldSet(paths.intersection(other.paths)) }

    /// Without every path under (or at) one of `prefixes`.
    public func removingPrefixes(_ prefixes: [Path]) -> FieldSet {
        FieldSet(paths.filter { path in !prefixes.contains { path.starts(with: $0) } })
    }

    /// The `fieldsV1` document: one member per element, `"."` marking a path that is itself in the set and has
    /// children.
    public var fieldsV1: JSONValue {
        final class Node {
            var member = false
            var children: [String: Node] = [:]
        }
        let root = Node()
        for path in paths {
            var node = root
            for element in path {
                if let child = node.children[element] {
                    node = child
                } else {
                    let child = Node()
                    node.children[element] = child
                    node = child
                }
            }
            node.member = true
        }
        func render(_ node: Node) -> JSONValue {
            var members: [(key: String, value: JSONValue)] = []
            if node.member && !node.children.isEmpty { members.append((".", .object([]))) }
            for key in node.children.keys.sorted() { members.append((key, render(node.children[key]!))) }
            return .object(members)
        }
        return render(root)
    }

    public init(fieldsV1: JSONValue) {
        var paths = Set<Path>()
        func walk(_ value: JSONValue, _ path: Path) {
            let members = value.objectMembers ?? []
            if members.isEmpty, !path.isEmpty { paths.insert(path) }
            for member in members {
                if member.key == "." { paths.insert(path) } else { walk(member.value, path + [member.key]) }
            }
        }
        walk(fieldsV1, [])
        self.paths = paths
    }

    /// A path as structured-merge-diff prints it in conflicts: `.spec.containers[name="app"].image`.
    public static func display(_ path: Path) -> String {
        path.map { element -> String in
            let body = String(element.dropFirst(2))
            switch element.prefix(2) {
            case "f:": return "." + body
            case "v:": return "[=" + body + "]"
            case "i:": return "[" + body + "]"
            case "k:":
                guard let key = try? JSONValue(parsing: Array(body.utf8)), let members = key.objectMembers else {
                    return "[" + body + "]"
                }
                return "[" + members.map { "\($0.key)=\(FieldManager.compactJSON($0.value))" }.joined(separator: ",") + "]"
            default: return element
            }
        }.joined()
    }
}

/// One entry of `metadata.managedFields`.
public struct ManagedFieldsEntry: Sendable, Hashable {
    public var manager: String
    /// `Apply` or `Update`.
    public var operation: String
    public var apiVersion: String
    public var time: String?
    public var subresource: String?
    public var fields: FieldSet

    public init(manager: String, operation: String, apiVersion: String, time: String?, subresource: String?,
                fields: FieldSet) {
        self.manager = manager
        self.operation = operation
        self.apiVersion = apiVersion
        self.time = time
        self.subresource = subresource
        self.fields = fields
    }

    /// The identity structured-merge-diff keys managers by (time aside).
    var identity: String { "\(manager)\u{0}\(operation)\u{0}\(subresource ?? "")\u{0}\(operation == "Apply" ? "" : apiVersion)" }

    /// How kube names this manager in a conflict: `"kubectl"`, `"edged" using v1`, `"x" with subresource "status"`.
    var printed: String {
        var text = FieldManager.goQuoted(manager)
        if let subresource, !subresource.isEmpty { text += " with subresource \(FieldManager.goQuoted(subresource))" }
        if operation == "Update" { text += " using \(apiVersion)" }
        return text
    }

    public init?(_ json: JSONValue) {
        guard let manager = json["manager"]?.stringValue, let operation = json["operation"]?.stringValue else {
            return nil
        }
        self.init(manager: manager, operation: operation, apiVersion: json["apiVersion"]?.stringValue ?? "",
                  time: json["time"]?.stringValue, subresource: json["subresource"]?.stringValue,
                  fields: FieldSet(fieldsV1: json["fieldsV1"] ?? .object([])))
    }

    public var json: JSONValue {
        var members: [(key: String, value: JSONValue)] = [
            ("manager", .string(manager)), ("operation", .string(operation)), ("apiVersion", .string(apiVersion)),
        ]
        if let time { members.append(("time", .string(time))) }
        members.append(("fieldsType", "FieldsV1"))
        members.append(("fieldsV1", fields.fieldsV1))
        if let subresource, !subresource.isEmpty { members.append(("subresource", .string(subresource))) }
        return .object(members)
    }
}

/// An apply that would change fields other managers own.
public struct ApplyConflicts: Error, Sendable {
    /// (printed manager, path) in kube's order.
    public var conflicts: [(manager: String, path: String)]

    /// `Apply failed with 1 conflict: conflict with "m" using v1: .data.key` (k8s.io/apiserver fieldmanager
    /// `internal/conflict.go`).
    public var message: String {
        if conflicts.count == 1 {
            return "Apply failed with 1 conflict: conflict with \(conflicts[0].manager): \(conflicts[0].path)"
        }
        var lines: [String] = []
        for manager in Set(conflicts.map(\.manager)).sorted() {
            lines.append("conflicts with \(manager):")
            for conflict in conflicts where conflict.manager == manager { lines.append("- \(conflict.path)") }
        }
        return "Apply failed with \(conflicts.count) conflicts: " + lines.joined(separator: "\n")
    }
}

public enum FieldManager {
    /// Fields nobody owns (fieldmanager's `stripMeta`): identity and system metadata.
    static let systemFields: [FieldSet.Path] = [
        ["f:apiVersion"], ["f:kind"], ["f:metadata", "f:name"], ["f:metadata", "f:namespace"],
        ["f:metadata", "f:creationTimestamp"], ["f:metadata", "f:selfLink"], ["f:metadata", "f:uid"],
        ["f:metadata", "f:generation"], ["f:metadata", "f:managedFields"], ["f:metadata", "f:resourceVersion"],
        ["f:metadata", "f:deletionTimestamp"], ["f:metadata", "f:deletionGracePeriodSeconds"],
    ]

    /// The paths a write through `subresource` may own: the status subresource owns status (and metadata, which
    /// kube lets it change), the main resource everything but status when the kind has a status subresource.
    static func ignored(subresource: String?, hasStatus: Bool) -> [FieldSet.Path] {
        if subresource == "status" { return systemFields + [["f:spec"]] }
        return systemFields + (hasStatus ? [["f:status"]] : [])
    }

    /// The manager a request records when it names none: the user agent up to its first `/`
    /// (fieldmanager `prefixFromUserAgent`), e.g. `kubectl`, `OpenAPI-Generator`, `cloudcore`.
    public static func defaultManager(userAgent: String?) -> String {
        let prefix = (userAgent ?? "").split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).first
        let name = prefix.map(String.init) ?? ""
        return String(name.prefix(128))
    }

    public static func entries(of object: JSONValue) -> [ManagedFieldsEntry] {
        (object[path: ["metadata", "managedFields"]]?.arrayValue ?? []).compactMap(ManagedFieldsEntry.init)
    }

    /// Writes `entries` into `object` in kube's order (oldest first, Apply before Update at the same time).
    public static func store(_ entries: [ManagedFieldsEntry], in object: inout JSONValue) {
        let sorted = entries.filter { !$0.fields.isEmpty }.sorted {
            ($0.time ?? "", $0.operation == "Apply" ? 0 : 1, $0.manager)
                < ($1.time ?? "", $1.operation == "Apply" ? 0 : 1, $1.manager)
        }
        object[path: ["metadata", "managedFields"]] = sorted.isEmpty ? nil : .array(sorted.map(\.json))
    }

    // MARK: Field sets

    /// The fields a value sets (structured-merge-diff `ToFieldSet`).
    public static func fieldSet(of value: JSONValue, shape: any ApplyShape) -> FieldSet {
        var paths = Set<FieldSet.Path>()
        visit(value, path: [], names: [], shape: shape) { path, _ in paths.insert(path) }
        return FieldSet(paths)
    }

    /// Calls `emit` for every path the value sets, with the leaf value (nil for an item or entry with children).
    static func visit(_ value: JSONValue, path: FieldSet.Path, names: [String], shape: any ApplyShape,
                      emit: (FieldSet.Path, JSONValue?) -> Void) {
        switch value {
        case .object(let members):
            let isStruct = shape.isStruct(at: names)
            var seen = Set<String>()
            for member in members.reversed() where seen.insert(member.key).inserted {
                let childPath = path + ["f:" + member.key]
                let child = member.value
                visit(child, path: childPath, names: names + [member.key], shape: shape, emit: emit)
                if child.isNull || child.objectMembers?.isEmpty == true {
                    emit(childPath, child)
                } else if !isStruct, child.isObject || isKeyedList(child, names + [member.key], shape) {
                    emit(childPath, nil)  // a map entry is owned in its own right
                }
            }
        case .array(let items):
            switch shape.listType(at: names) {
            case .atomic:
                emit(path, value)
            case .set:
                for item in items { emit(path + ["v:" + compactJSON(item)], item) }
            case .map(let keys):
                for item in items {
                    let element = keyElement(item, keys: keys)
                    visit(item, path: path + [element], names: names, shape: shape, emit: emit)
                    emit(path + [element], item.isObject && item.objectMembers?.isEmpty == false ? nil : item)
                }
            }
        default:
            emit(path, value)
        }
    }

    private static func isKeyedList(_ value: JSONValue, _ names: [String], _ shape: any ApplyShape) -> Bool {
        guard value.arrayValue != nil else { return false }
        return shape.listType(at: names) != .atomic
    }

    /// `k:{"name":"app"}`: the item's key fields, sorted by name.
    static func keyElement(_ item: JSONValue, keys: [String]) -> String {
        let members: [(key: String, value: JSONValue)] = keys.sorted().compactMap { key in
            item[key].map { (key: key, value: $0) }
        }
        return "k:" + compactJSON(.object(members))
    }

    static func compactJSON(_ value: JSONValue) -> String {
        String(decoding: (try? value.serialized()) ?? [], as: UTF8.self)
    }

    static func goQuoted(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    // MARK: Comparison

    /// What changed from `old` to `new`: paths added or modified, and paths removed.
    static func compare(_ old: JSONValue, _ new: JSONValue, shape: any ApplyShape)
        -> (changed: FieldSet, removed: FieldSet)
    {
        var before: [FieldSet.Path: JSONValue?] = [:]
        var after: [FieldSet.Path: JSONValue?] = [:]
        visit(old, path: [], names: [], shape: shape) { before.updateValue($1, forKey: $0) }
        visit(new, path: [], names: [], shape: shape) { after.updateValue($1, forKey: $0) }
        var changed = Set<FieldSet.Path>()
        for (path, value) in after {
            guard let previous = before[path] else {
                changed.insert(path)
                continue
            }
            switch (previous, value) {
            case (nil, nil): continue
            case (let a?, let b?): if !PatchJSONCompare.equal(a, b) { changed.insert(path) }
            default: changed.insert(path)
            }
        }
        return (FieldSet(changed), FieldSet(Set(before.keys).subtracting(after.keys)))
    }

    // MARK: Update

    /// The managers after a create, update or non-apply patch by `manager`: it takes every field it added or changed
    /// (from whoever owned it), and removed fields leave every set (structured-merge-diff `Updater.Update`).
    public static func update(
        old: JSONValue?, new: JSONValue, manager: String, apiVersion: String, subresource: String?, hasStatus: Bool,
        time: String, shape: any ApplyShape
    ) -> [ManagedFieldsEntry] {
        var entries = old.map(entries(of:)) ?? []
        let ignored = ignored(subresource: subresource, hasStatus: hasStatus)
        let (changed, removed) = compare(old ?? .object([]), new, shape: shape)
        let owned = changed.removingPrefixes(ignored)
        let me = ManagedFieldsEntry(manager: manager, operation: "Update", apiVersion: apiVersion, time: time,
                                    subresource: subresource, fields: FieldSet())
        for index in entries.indices where entries[index].identity != me.identity {
            entries[index].fields = entries[index].fields.subtracting(owned).subtracting(removed)
        }
        if let index = entries.firstIndex(where: { $0.identity == me.identity }) {
            entries[index].fields = entries[index].fields.union(owned).subtracting(removed)
            if !owned.isEmpty { entries[index].time = time }
        } else if !owned.isEmpty {
            var entry = me
            entry.fields = owned
            entries.append(entry)
        }
        return entries.filter { !$0.fields.isEmpty }
    }

    // MARK: Apply

    /// Server-side apply of `config` by `manager` to `live` (nil: the object does not exist yet): the new object and
    /// its managers, or the conflicts with other managers when not forced (structured-merge-diff `Updater.Apply`).
    public static func apply(
        live: JSONValue?, config: JSONValue, manager: String, apiVersion: String, subresource: String?,
        hasStatus: Bool, force: Bool, time: String, shape: any ApplyShape
    ) throws(ApplyConflicts) -> (object: JSONValue, entries: [ManagedFieldsEntry]) {
        let liveObject = live ?? .object([])
        var entries = entries(of: liveObject)
        let ignored = ignored(subresource: subresource, hasStatus: hasStatus)
        var configuration = config
        configuration[path: ["metadata", "managedFields"]] = nil
        let applied = fieldSet(of: configuration, shape: shape).removingPrefixes(ignored)
        let me = ManagedFieldsEntry(manager: manager, operation: "Apply", apiVersion: apiVersion, time: time,
                                    subresource: subresource, fields: applied)
        let previous = entries.first { $0.identity == me.identity }?.fields ?? FieldSet()
        entries.removeAll { $0.identity == me.identity }

        var merged = merge(liveObject, configuration, names: [], shape: shape)
        // Fields this manager stopped applying go, unless another manager (or this apply) still owns them or
        // something under them.
        let stillOwned = entries.reduce(applied) { $0.union($1.fields) }
        let dropped = previous.subtracting(stillOwned).paths.filter { path in
            !stillOwned.paths.contains { $0.count > path.count && $0.starts(with: path) }
        }
        for path in dropped.sorted(by: { $0.count > $1.count }) { remove(path, from: &merged, shape: shape) }

        let (changed, removed) = compare(liveObject, merged, shape: shape)
        var conflicts: [(manager: String, path: String)] = []
        for index in entries.indices {
            let clash = entries[index].fields.intersection(changed)
            if clash.isEmpty { continue }
            if force {
                entries[index].fields = entries[index].fields.subtracting(clash)
            } else {
                for path in clash.paths.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
                    conflicts.append((entries[index].printed, FieldSet.display(path)))
                }
            }
        }
        if !conflicts.isEmpty { throw ApplyConflicts(conflicts: conflicts) }
        for index in entries.indices { entries[index].fields = entries[index].fields.subtracting(removed) }
        entries.append(me)
        return (merged, entries.filter { !$0.fields.isEmpty })
    }

    /// The configuration merged into the live object: structs and maps member by member, keyed lists item by item,
    /// sets as a union, everything else replaced.
    static func merge(_ live: JSONValue, _ config: JSONValue, names: [String], shape: any ApplyShape) -> JSONValue {
        switch (live, config) {
        case (.object(var members), .object(let configMembers)):
            for member in configMembers {
                if let index = members.lastIndex(where: { $0.key == member.key }) {
                    members[index].value = merge(members[index].value, member.value, names: names + [member.key],
                                                 shape: shape)
                } else {
                    members.append(member)
                }
            }
            return .object(members)
        case (.array(var items), .array(let configItems)):
            switch shape.listType(at: names) {
            case .atomic:
                return config
            case .set:
                for item in configItems where !items.contains(where: { PatchJSONCompare.equal($0, item) }) { items.append(item) }
                return .array(items)
            case .map(let keys):
                for item in configItems {
                    let key = keyElement(item, keys: keys)
                    if let index = items.firstIndex(where: { keyElement($0, keys: keys) == key }) {
                        items[index] = merge(items[index], item, names: names, shape: shape)
                    } else {
                        items.append(item)
                    }
                }
                return .array(items)
            }
        default:
            return config
        }
    }

    /// Removes the value at `path` (a field, a keyed item or a set item).
    static func remove(_ path: FieldSet.Path, from value: inout JSONValue, shape: any ApplyShape, names: [String] = []) {
        guard let element = path.first else { return }
        let rest = Array(path.dropFirst())
        let body = String(element.dropFirst(2))
        switch element.prefix(2) {
        case "f:":
            guard var members = value.objectMembers, let index = members.lastIndex(where: { $0.key == body }) else {
                return
            }
            if rest.isEmpty {
                members.remove(at: index)
            } else {
                remove(rest, from: &members[index].value, shape: shape, names: names + [body])
            }
            value = .object(members)
        case "k:", "v:":
            guard var items = value.arrayValue else { return }
            let index: Int?
            if element.hasPrefix("v:") {
                index = items.firstIndex { compactJSON($0) == body }
            } else if case .map(let keys) = shape.listType(at: names) {
                index = items.firstIndex { keyElement($0, keys: keys) == element }
            } else {
                index = nil
            }
            guard let index else { return }
            if rest.isEmpty {
                items.remove(at: index)
            } else {
                remove(rest, from: &items[index], shape: shape, names: names)
            }
            value = .array(items)
        default:
            return
        }
    }
}
