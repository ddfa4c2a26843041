// Typed reads and in-place edits of a `JSONValue` tree: what code that rewrites Kubernetes objects (defaulting,
// patches, metadata stamping) needs. Objects keep member order; setting an existing key replaces its last
// occurrence in place, a new key is appended.

extension JSONValue {
    /// The members when this is an object.
    public var objectMembers: [(key: String, value: JSONValue)]? {
        if case .object(let members) = self { return members }
        return nil
    }

    /// The elements when this is an array.
    public var arrayValue: [JSONValue]? {
        if case .array(let elements) = self { return elements }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    /// The number as an integer when its literal is one (no fraction or exponent).
    public var int64Value: Int64? {
        if case .number(let literal) = self { return Int64(literal) }
        return nil
    }

    public var doubleValue: Double? {
        if case .number(let literal) = self { return Double(literal) }
        return nil
    }

    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    public var isObject: Bool { objectMembers != nil }

    /// Reads or writes the member `key` of an object. Setting `nil` removes every member named `key`; setting on
    /// a value that is not an object makes it an empty object first.
    public subscript(member key: String) -> JSONValue? {
        get { self[key] }
        set {
            var members = objectMembers ?? []
            if let newValue {
                if let index = members.lastIndex(where: { $0.key == key }) {
                    members[index].value = newValue
                } else {
                    members.append((key: key, value: newValue))
                }
            } else {
                members.removeAll { $0.key == key }
            }
            self = .object(members)
        }
    }

    /// Reads or writes the value at a path of member names; writing creates missing objects on the way, and
    /// writing `nil` removes the last member (a no-op when the path does not exist).
    public subscript(path path: [String]) -> JSONValue? {
        get {
            var current: JSONValue? = self
            for key in path { current = current?[key] }
            return current
        }
        set {
            guard let first = path.first else {
                self = newValue ?? .null
                return
            }
            if path.count == 1 {
                self[member: first] = newValue
                return
            }
            if newValue == nil, self[first] == nil { return }
            var child = self[first] ?? .object([])
            child[path: Array(path.dropFirst())] = newValue
            self[member: first] = child
        }
    }

    /// The string at a dotted path such as `"metadata.name"`.
    public func string(at dottedPath: String) -> String? {
        self[path: dottedPath.split(separator: ".").map(String.init)]?.stringValue
    }

    /// `.number` from an integer.
    public static func integer(_ value: some BinaryInteger) -> JSONValue { .number(String(value)) }
}
