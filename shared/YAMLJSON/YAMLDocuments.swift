import EdgeProtocol
import Yams

/// YAML documents as `JSONValue` trees, so that YAML and JSON input take one path (device manifests, apply bodies).
/// Scalars keep their text: a plain scalar that reads as a JSON number or a YAML 1.2 core boolean or null becomes one;
/// quoted scalars stay strings.
public enum YAMLDocuments {
    /// Every document of a (multi-document) YAML text. Empty documents are skipped. A syntax error anywhere throws
    /// (Yams' `compose_all` sequence would end quietly at it, dropping the rest).
    public static func load(_ text: String) throws -> [JSONValue] {
        let parser = try Parser(yaml: text)
        var documents: [JSONValue] = []
        while let node = try parser.nextRoot() { documents.append(json(node)) }
        return documents
    }

    public static func json(_ node: Node) -> JSONValue {
        switch node {
        case .mapping(let mapping):
            return .object(mapping.map { (key: $0.key.string ?? "\($0.key)", value: json($0.value)) })
        case .sequence(let sequence):
            return .array(sequence.map(json))
        case .alias:
            return .null
        case .scalar(let scalar):
            if scalar.style != .plain { return .string(scalar.string) }
            let text = scalar.string
            switch text {
            case "~", "null", "Null", "NULL", "": return .null
            case "true", "True", "TRUE": return .bool(true)
            case "false", "False", "FALSE": return .bool(false)
            default:
                if isNumberLiteral(text) { return .number(text) }
                return .string(text)
            }
        }
    }

    static func isNumberLiteral(_ text: String) -> Bool {
        guard let first = text.utf8.first, first == UInt8(ascii: "-") || (first >= 48 && first <= 57) else {
            return false
        }
        return (try? JSONValue(parsing: Array(text.utf8))).map { if case .number = $0 { true } else { false } }
            ?? false
    }
}
