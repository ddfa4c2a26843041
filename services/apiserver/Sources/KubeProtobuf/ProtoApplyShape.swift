import APIMachinery

/// The server-side-apply shape of a built-in kind: structs and maps from the protobuf schema (the same Go types),
/// list semantics from the strategic-merge table. Lists kube keys on two fields (container ports on containerPort and
/// protocol, service ports on port and protocol) are keyed on the first only: an applied configuration usually omits
/// the defaulted protocol, and kube 1.26 would then fail to match the live item.
public struct ProtoApplyShape: ApplyShape {
    let schema: KubeProtoSchema
    let root: String
    let lists: StrategicMergeSchema?

    public init?(apiVersion: String, kind: String, schema: KubeProtoSchema = .shared) {
        guard let root = schema.messageName(apiVersion: apiVersion, kind: kind) else { return nil }
        self.schema = schema
        self.root = root
        self.lists = StrategicMergeSchema.forKind(kind)
    }

    enum Node {
        case message(String)
        case map
        case scalar
    }

    func node(at names: [String]) -> Node? {
        var node = Node.message(root)
        for name in names {
            switch node {
            case .message(let messageName):
                guard let field = Self.field(name, in: messageName, schema: schema) else { return nil }
                switch field.type {
                case .map: node = .map
                case .single(.message(let inner)): node = Self.wellKnown.contains(inner) ? .scalar : .message(inner)
                case .single(.scalar): node = .scalar
                }
            case .map:
                return nil  // inside a map's values: deduced
            case .scalar:
                return nil
            }
        }
        return node
    }

    /// Types that are one value in JSON (a string or a number), not objects.
    static let wellKnown: Set<String> = [
        "meta.Time", "meta.MicroTime", "resource.Quantity", "intstr.IntOrString", "meta.Duration",
    ]

    static func field(_ jsonName: String, in messageName: String, schema: KubeProtoSchema) -> KubeProtoSchema.Field? {
        guard let message = schema.messages[messageName] else { return nil }
        for field in message.fields {
            if field.inline, case .single(.message(let inner)) = field.type {
                if let found = Self.field(jsonName, in: inner, schema: schema) { return found }
            } else if field.jsonName == jsonName {
                return field
            }
        }
        return nil
    }

    public func isStruct(at names: [String]) -> Bool {
        if case .message(let name)? = node(at: names) { return name != "runtime.RawExtension" && name != "meta.FieldsV1" }
        return false
    }

    public func listType(at names: [String]) -> ApplyListType {
        switch lists?.listStrategy(at: names) {
        case .mergeByKey(let key)?:
            return .map([key])
        case .mergePrimitives?:
            return .set
        case nil:
            return .atomic
        }
    }
}
