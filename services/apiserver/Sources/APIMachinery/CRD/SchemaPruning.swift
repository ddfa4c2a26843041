// What kube-apiserver does to a custom object before validating it: duplicate JSON fields collapsed (last one
// wins), nulls of non-nullable fields without a default dropped, `default:` values applied, then every field the
// structural schema does not declare pruned (unless `x-kubernetes-preserve-unknown-fields`). The pruned and
// duplicate paths become errors, warnings or nothing according to the request's `fieldValidation`.

import EdgeProtocol

/// The outcome of ``SchemaValidator/admit(_:fieldValidation:)``.
public struct CRDAdmission: Sendable {
    /// The object as the server would store it (deduplicated, defaulted, pruned). Meaningless when rejected.
    public var object: JSONValue
    /// Paths of the fields that were pruned, sorted (`spec.foo`, `spec.items[0].bar`).
    public var unknownFields: [String]
    /// Paths of fields that appeared more than once in an object (the last value was kept).
    public var duplicateFields: [String]
    /// Set with `fieldValidation=Strict` when there were unknown or duplicate fields: the request fails with 400
    /// BadRequest and this text (see ``SchemaValidator/strictDecodingMessage(kind:version:error:)``).
    public var strictDecodingError: String?
    /// `Warning` headers for `fieldValidation=Warn` (`unknown field "spec.foo"`).
    public var warnings: [String]
    /// Schema validation errors (a 422 Invalid when not empty). Empty when ``strictDecodingError`` is set.
    public var errors: [CRDFieldError]

    /// No strict decoding error and no validation error.
    public var isAccepted: Bool { strictDecodingError == nil && errors.isEmpty }
}

extension SchemaValidator {
    /// The `fieldValidation` query parameter.
    public enum FieldValidation: String, Sendable, CaseIterable {
        /// Drop unknown fields silently.
        case ignore = "Ignore"
        /// Drop unknown fields and say so in `Warning` headers.
        case warn = "Warn"
        /// Reject the request when there is any unknown or duplicate field.
        case strict = "Strict"
    }

    /// The whole create/update path for one object: deduplicate, drop non-nullable nulls, default, prune, and
    /// (unless strictly rejected) validate.
    public func admit(_ object: JSONValue, fieldValidation: FieldValidation) -> CRDAdmission {
        var object = object
        let duplicates = Self.removeDuplicateFields(&object)
        pruneNonNullableNulls(&object)
        applyDefaults(&object)
        let unknown = prune(&object)
        let problems =
            duplicates.map { "duplicate field " + CRDGoFormat.quote($0) }
            + unknown.map { "unknown field " + CRDGoFormat.quote($0) }
        var result = CRDAdmission(
            object: object, unknownFields: unknown, duplicateFields: duplicates, strictDecodingError: nil,
            warnings: [], errors: [])
        switch fieldValidation {
        case .strict where !problems.isEmpty:
            result.strictDecodingError = "strict decoding error: " + problems.joined(separator: ", ")
            return result
        case .warn:
            result.warnings = problems
        default:
            break
        }
        result.errors = validate(object)
        return result
    }

    /// The 400 message for a strict decoding error: `Rule in version "v1" cannot be handled as a Rule: ...`.
    public static func strictDecodingMessage(kind: String, version: String, error: String) -> String {
        "\(kind) in version \(CRDGoFormat.quote(version)) cannot be handled as a \(kind): \(error)"
    }

    // MARK: - Duplicates

    /// Collapses repeated members of every object to the last value (what Go's decoder keeps), returning the
    /// repeated paths in document order.
    public static func removeDuplicateFields(_ value: inout JSONValue) -> [String] {
        var paths: [String] = []
        removeDuplicates(&value, path: "", into: &paths)
        return paths
    }

    private static func removeDuplicates(_ value: inout JSONValue, path: String, into paths: inout [String]) {
        switch value {
        case .object(let members):
            var seen = Set<String>()
            var reported = Set<String>()
            for member in members where !seen.insert(member.key).inserted && reported.insert(member.key).inserted {
                paths.append(path.isEmpty ? member.key : path + "." + member.key)
            }
            var collapsed = reported.isEmpty ? members : CRDGoFormat.lastWins(members)
            for i in collapsed.indices {
                let child = path.isEmpty ? collapsed[i].key : path + "." + collapsed[i].key
                removeDuplicates(&collapsed[i].value, path: child, into: &paths)
            }
            value = .object(collapsed)
        case .array(var elements):
            for i in elements.indices {
                removeDuplicates(&elements[i], path: "\(path)[\(i)]", into: &paths)
            }
            value = .array(elements)
        default:
            break
        }
    }

    // MARK: - Nulls and defaults

    /// Drops members whose value is null where the schema says the field is neither nullable nor defaulted
    /// (`PruneNonNullableNullsWithoutDefaults`).
    public func pruneNonNullableNulls(_ object: inout JSONValue) {
        Self.pruneNulls(&object, schema)
    }

    private static func pruneNulls(_ x: inout JSONValue, _ s: CRDSchema) {
        switch x {
        case .object(let members):
            var kept: [(key: String, value: JSONValue)] = []
            kept.reserveCapacity(members.count)
            for member in members {
                guard let child = s.property(member.key) ?? s.additionalSchema else {
                    kept.append(member)
                    continue
                }
                if member.value.isNull && !child.nullable && child.defaultValue == nil { continue }
                var value = member.value
                pruneNulls(&value, child)
                kept.append((key: member.key, value: value))
            }
            x = .object(kept)
        case .array(var elements):
            guard let items = s.items else { return }
            for i in elements.indices { pruneNulls(&elements[i], items) }
            x = .array(elements)
        default:
            break
        }
    }

    /// Applies `default:` values: a missing field, or a null one that is not nullable, gets its schema's
    /// default (structural defaulting; defaults inside defaults apply too).
    public func applyDefaults(_ object: inout JSONValue) {
        Self.applyDefaults(&object, schema)
    }

    private static func applyDefaults(_ x: inout JSONValue, _ s: CRDSchema) {
        switch x {
        case .object(var members):
            for property in s.properties {
                guard let value = property.schema.defaultValue else { continue }
                if let i = members.lastIndex(where: { $0.key == property.name }) {
                    if members[i].value.isNull && !property.schema.nullable { members[i].value = value }
                } else {
                    members.append((key: property.name, value: value))
                }
            }
            for i in members.indices {
                if let property = s.property(members[i].key) {
                    applyDefaults(&members[i].value, property)
                } else if let additional = s.additionalSchema {
                    if members[i].value.isNull && !additional.nullable, let value = additional.defaultValue {
                        members[i].value = value
                    }
                    applyDefaults(&members[i].value, additional)
                }
            }
            x = .object(members)
        case .array(var elements):
            guard let items = s.items else { return }
            for i in elements.indices {
                if elements[i].isNull && !items.nullable, let value = items.defaultValue {
                    elements[i] = value
                }
                applyDefaults(&elements[i], items)
            }
            x = .array(elements)
        default:
            break
        }
    }

    // MARK: - Pruning

    /// Removes every field the schema does not specify, except under `x-kubernetes-preserve-unknown-fields`
    /// and except `apiVersion`, `kind` and `metadata` of the object itself and of embedded resources. Returns
    /// the removed paths, sorted.
    public func prune(_ object: inout JSONValue) -> [String] {
        var unknown: [String] = []
        Self.prune(&object, schema, isRoot: true, parent: "", into: &unknown)
        return unknown.sorted(by: CRDGoFormat.goLess)
    }

    private static let metaFields: Set<String> = ["apiVersion", "kind", "metadata"]

    private static func join(_ parent: String, _ key: String) -> String {
        parent.isEmpty ? key : parent + "." + key
    }

    private static func prune(
        _ x: inout JSONValue, _ s: CRDSchema?, isRoot: Bool, parent: String, into unknown: inout [String]
    ) {
        if let s, s.preserveUnknownFields == true {
            skipPrune(&x, s, isRoot: isRoot, parent: parent, into: &unknown)
            return
        }
        switch x {
        case .object(let members):
            guard let s else {
                for member in members { unknown.append(join(parent, member.key)) }
                x = .object([])
                return
            }
            let embedded = isRoot || s.embeddedResource
            var kept: [(key: String, value: JSONValue)] = []
            kept.reserveCapacity(members.count)
            for member in members {
                if embedded && metaFields.contains(member.key) {
                    kept.append(member)
                } else if let property = s.property(member.key) {
                    var value = member.value
                    prune(&value, property, isRoot: false, parent: join(parent, member.key), into: &unknown)
                    kept.append((key: member.key, value: value))
                } else if let additional = s.additionalProperties {
                    var value = member.value
                    prune(&value, additional.schema, isRoot: false, parent: join(parent, member.key), into: &unknown)
                    kept.append((key: member.key, value: value))
                } else {
                    if !metaFields.contains(member.key) || !parent.isEmpty {
                        unknown.append(join(parent, member.key))
                    }
                }
            }
            x = .object(kept)
        case .array(var elements):
            for i in elements.indices {
                if let s {
                    prune(&elements[i], s.items, isRoot: false, parent: "\(parent)[\(i)]", into: &unknown)
                } else {
                    prune(&elements[i], nil, isRoot: false, parent: parent, into: &unknown)
                }
            }
            x = .array(elements)
        default:
            break
        }
    }

    /// Under `x-kubernetes-preserve-unknown-fields`: unknown members stay, specified ones are still pruned.
    private static func skipPrune(
        _ x: inout JSONValue, _ s: CRDSchema?, isRoot: Bool, parent: String, into unknown: inout [String]
    ) {
        guard let s else { return }
        switch x {
        case .object(var members):
            let embedded = isRoot || s.embeddedResource
            for i in members.indices {
                let key = members[i].key
                if embedded && metaFields.contains(key) { continue }
                if let property = s.property(key) {
                    prune(&members[i].value, property, isRoot: false, parent: join(parent, key), into: &unknown)
                } else if let additional = s.additionalProperties {
                    prune(
                        &members[i].value, additional.schema, isRoot: false, parent: join(parent, key),
                        into: &unknown)
                }
            }
            x = .object(members)
        case .array(var elements):
            for i in elements.indices {
                skipPrune(&elements[i], s.items, isRoot: false, parent: "\(parent)[\(i)]", into: &unknown)
            }
            x = .array(elements)
        default:
            break
        }
    }
}
