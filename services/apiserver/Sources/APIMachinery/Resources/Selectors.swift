// Label and field selectors, in both forms kube accepts: the query-string syntax (`app=web,tier!=db`,
// `env in (a,b)`, `!legacy`) and the LabelSelector object of Deployments (`matchLabels`, `matchExpressions`).

import EdgeProtocol
import Foundation

/// A parsed label selector; an empty one matches everything.
public struct LabelSelector: Sendable, Hashable {
    public enum Operator: Sendable, Hashable { case equals, notEquals, isIn, notIn, exists, doesNotExist }

    public struct Requirement: Sendable, Hashable {
        public var key: String
        public var op: Operator
        public var values: [String]
    }

    public var requirements: [Requirement]

    public static let everything = LabelSelector(requirements: [])

    init(requirements: [Requirement]) { self.requirements = requirements }

    /// Parses the query-string form. Throws a message kube would put in a 400.
    public init(parsing text: String) throws(SelectorError) {
        var requirements: [Requirement] = []
        for term in Self.splitTerms(text) {
            let term = term.trimmed
            if term.isEmpty { continue }
            if term.hasPrefix("!") {
                let key = String(term.dropFirst()).trimmed
                guard ObjectRules.isQualifiedName(key) else { throw SelectorError("invalid label key \"\(key)\"") }
                requirements.append(Requirement(key: key, op: .doesNotExist, values: []))
                continue
            }
            if let range = term.range(of: " notin ") ?? term.range(of: " in ") {
                let key = String(term[..<range.lowerBound]).trimmed
                let isNot = term[range].contains("notin")
                let rest = String(term[range.upperBound...]).trimmed
                guard rest.hasPrefix("("), rest.hasSuffix(")") else {
                    throw SelectorError("unable to parse requirement: found '\(rest)', expected: '('")
                }
                let values = rest.dropFirst().dropLast().split(separator: ",").map { String($0).trimmed }
                requirements.append(Requirement(key: key, op: isNot ? .notIn : .isIn, values: values))
                continue
            }
            for (token, op) in [("!=", Operator.notEquals), ("==", .equals), ("=", .equals)] {
                if let range = term.range(of: token) {
                    let key = String(term[..<range.lowerBound]).trimmed
                    let value = String(term[range.upperBound...]).trimmed
                    guard ObjectRules.isQualifiedName(key) else {
                        throw SelectorError("invalid label key \"\(key)\"")
                    }
                    guard ObjectRules.isLabelValue(value) else {
                        throw SelectorError("invalid label value: \"\(value)\"")
                    }
                    requirements.append(Requirement(key: key, op: op, values: [value]))
                    break
                }
                if token == "=" {
                    guard ObjectRules.isQualifiedName(term) else { throw SelectorError("invalid label key \"\(term)\"") }
                    requirements.append(Requirement(key: term, op: .exists, values: []))
                }
            }
        }
        self.requirements = requirements
    }

    /// Parses a `metav1.LabelSelector` object (`matchLabels` + `matchExpressions`).
    public init(labelSelectorObject object: JSONValue) throws(SelectorError) {
        var requirements: [Requirement] = []
        for (key, value) in object["matchLabels"]?.objectMembers ?? [] {
            requirements.append(Requirement(key: key, op: .equals, values: [value.stringValue ?? ""]))
        }
        for expression in object["matchExpressions"]?.arrayValue ?? [] {
            let key = expression["key"]?.stringValue ?? ""
            let values = (expression["values"]?.arrayValue ?? []).compactMap(\.stringValue)
            switch expression["operator"]?.stringValue {
            case "In": requirements.append(Requirement(key: key, op: .isIn, values: values))
            case "NotIn": requirements.append(Requirement(key: key, op: .notIn, values: values))
            case "Exists": requirements.append(Requirement(key: key, op: .exists, values: []))
            case "DoesNotExist": requirements.append(Requirement(key: key, op: .doesNotExist, values: []))
            case let other: throw SelectorError("\"\(other ?? "")\" is not a valid label selector operator")
            }
        }
        self.requirements = requirements
    }

    /// Whether `labels` (an object of strings, or nil) satisfies every requirement.
    public func matches(_ labels: JSONValue?) -> Bool {
        requirements.allSatisfy { requirement in
            let value = labels?[requirement.key]?.stringValue
            switch requirement.op {
            case .equals: return value == requirement.values.first
            case .notEquals: return value != requirement.values.first
            case .isIn: return value.map { requirement.values.contains($0) } ?? false
            case .notIn: return value.map { !requirement.values.contains($0) } ?? true
            case .exists: return value != nil
            case .doesNotExist: return value == nil
            }
        }
    }

    /// The query-string form (Deployment status.selector, Scale).
    public var text: String {
        requirements.map { requirement in
            switch requirement.op {
            case .equals: "\(requirement.key)=\(requirement.values.first ?? "")"
            case .notEquals: "\(requirement.key)!=\(requirement.values.first ?? "")"
            case .isIn: "\(requirement.key) in (\(requirement.values.joined(separator: ",")))"
            case .notIn: "\(requirement.key) notin (\(requirement.values.joined(separator: ",")))"
            case .exists: requirement.key
            case .doesNotExist: "!\(requirement.key)"
            }
        }.joined(separator: ",")
    }

    /// Splits on commas that are not inside parentheses.
    static func splitTerms(_ text: String) -> [String] {
        var terms: [String] = []
        var current = ""
        var depth = 0
        for character in text {
            switch character {
            case "(": depth += 1
            case ")": depth -= 1
            case "," where depth == 0:
                terms.append(current)
                current = ""
                continue
            default: break
            }
            current.append(character)
        }
        terms.append(current)
        return terms
    }
}

/// A field selector: `metadata.name=x,spec.nodeName!=`. Any dotted path of the object can be used (kube allows a
/// fixed set per kind; we accept the superset, which includes `involvedObject.*` for events and `status.phase`).
public struct FieldSelector: Sendable, Hashable {
    public struct Requirement: Sendable, Hashable {
        public var path: String
        public var negated: Bool
        public var value: String
    }

    public var requirements: [Requirement]

    public init(parsing text: String) throws(SelectorError) {
        var requirements: [Requirement] = []
        for term in text.split(separator: ",") {
            let term = String(term).trimmed
            if term.isEmpty { continue }
            if let range = term.range(of: "!=") {
                requirements.append(Requirement(path: String(term[..<range.lowerBound]), negated: true,
                                                value: String(term[range.upperBound...])))
            } else if let range = term.range(of: "==") ?? term.range(of: "=") {
                requirements.append(Requirement(path: String(term[..<range.lowerBound]), negated: false,
                                                value: String(term[range.upperBound...])))
            } else {
                throw SelectorError("invalid field selector: '\(term)': expected an operator")
            }
        }
        self.requirements = requirements
    }

    /// The value a requirement compares: strings as they are, numbers and booleans as their text, missing as "".
    static func fieldValue(_ object: JSONValue, _ path: String) -> String {
        switch object[path: path.split(separator: ".").map(String.init)] {
        case .string(let s): s
        case .number(let n): n
        case .bool(let b): b ? "true" : "false"
        default: ""
        }
    }

    public func matches(_ object: JSONValue) -> Bool {
        requirements.allSatisfy { requirement in
            (Self.fieldValue(object, requirement.path) == requirement.value) != requirement.negated
        }
    }

    /// The value required for `path` by an `=` requirement (lets lists narrow by namespace or name).
    public func requiredValue(_ path: String) -> String? {
        requirements.first { $0.path == path && !$0.negated }?.value
    }
}

public struct SelectorError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

extension String {
    var trimmed: String {
        var scalars = Substring(self)
        while scalars.first?.isWhitespace == true { scalars = scalars.dropFirst() }
        while scalars.last?.isWhitespace == true { scalars = scalars.dropLast() }
        return String(scalars)
    }
}
