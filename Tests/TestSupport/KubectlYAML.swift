import EdgeProtocol
import Foundation
import Yams

/// YAML manifests as the JSON kubectl would send (sigs.k8s.io/yaml: plain scalars typed as YAML 1.1 core does,
/// quoted ones stay strings, empty documents skipped).
public enum KubectlYAML {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Every non-empty document. `float` writes a float the way the caller's Go counterpart would.
    public static func documents(
        _ yaml: String, float: (Double) -> String = { d in d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String(d) }
    ) throws -> [JSONValue] {
        var out: [JSONValue] = []
        var sequence = try Yams.compose_all(yaml: yaml)
        while let node = sequence.next() {
            let value = json(node, float: float)
            if !value.isNull { out.append(value) }
        }
        if let error = sequence.error { throw error }
        return out
    }

    /// Exactly one document.
    public static func document(
        _ yaml: String, float: (Double) -> String = { d in d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String(d) }
    ) throws -> JSONValue {
        let docs = try documents(yaml, float: float)
        guard docs.count == 1 else { throw Failure(description: "expected one YAML document, got \(docs.count)") }
        return docs[0]
    }

    static func json(_ node: Node, float: (Double) -> String) -> JSONValue {
        switch node {
        case .scalar(let scalar):
            if scalar.style != .plain { return .string(scalar.string) }
            switch Tag.Name(rawValue: node.tag.rawValue) {
            case .null: return .null
            case .bool: return node.bool.map(JSONValue.bool) ?? .string(scalar.string)
            case .int: return node.int.map { .integer($0) } ?? .string(scalar.string)
            case .float:
                guard let d = node.float, d.isFinite else { return .string(scalar.string) }
                return .number(float(d))
            default: return .string(scalar.string)
            }
        case .mapping(let mapping):
            return .object(mapping.map { (key: $0.key.string ?? "\($0.key)", value: json($0.value, float: float)) })
        case .sequence(let sequence):
            return .array(sequence.map { json($0, float: float) })
        case .alias:
            return .null
        }
    }
}
