// Defaulting and validation of built-in kinds: what kube-apiserver's strategies do that users notice (names,
// required fields, defaults kubectl shows, the selector/template rule of Deployments).

import EdgeProtocol
import Foundation

public enum ObjectRules {
    // MARK: Names

    static let dns1123SubdomainMessage = """
        a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must \
        start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is \
        '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')
        """
    static let dns1123LabelMessage = """
        a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and \
        end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is \
        '[a-z0-9]([-a-z0-9]*[a-z0-9])?')
        """
    static let dns1035LabelMessage = """
        a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic \
        character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for \
        validation is '[a-z]([-a-z0-9]*[a-z0-9])?')
        """

    static func isDNS1123Label(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard !bytes.isEmpty, bytes.count <= 63 else { return false }
        func alnum(_ b: UInt8) -> Bool { (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) }
        guard alnum(bytes.first!), alnum(bytes.last!) else { return false }
        return bytes.allSatisfy { alnum($0) || $0 == UInt8(ascii: "-") }
    }

    static func isDNS1123Subdomain(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= 253 else { return false }
        return name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { isDNS1123Label(String($0)) }
    }

    static func isDNS1035Label(_ name: String) -> Bool {
        guard let first = name.utf8.first, first >= 0x61, first <= 0x7A else { return false }
        return isDNS1123Label(name)
    }

    /// The name rule of a kind: kube validates most names as subdomains, a few as labels.
    static func nameErrors(_ info: ResourceInfo, _ name: String) -> [FieldError] {
        switch (info.group, info.kind) {
        case ("", "Namespace"):
            return isDNS1123Label(name) ? [] : [.invalid("metadata.name", name, dns1123LabelMessage)]
        case ("", "Service"):
            return isDNS1035Label(name) ? [] : [.invalid("metadata.name", name, dns1035LabelMessage)]
        case ("", "Event"):
            return name.isEmpty ? [.required("metadata.name")] : []
        default:
            return isDNS1123Subdomain(name) ? [] : [.invalid("metadata.name", name, dns1123SubdomainMessage)]
        }
    }

    /// Label keys (optional DNS prefix + name) and values, as kube checks them.
    static func labelErrors(_ labels: JSONValue?, field: String = "metadata.labels") -> [FieldError] {
        guard let members = labels?.objectMembers else {
            if let labels, !labels.isNull { return [.invalid(field, "", "must be an object of strings")] }
            return []
        }
        var errors: [FieldError] = []
        for (key, value) in members {
            if !isQualifiedName(key) {
                errors.append(.invalid(field, key, "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"))
            }
            guard let text = value.stringValue else {
                errors.append(.invalid("\(field).\(key)", value, "must be a string"))
                continue
            }
            if !isLabelValue(text) {
                errors.append(.invalid(field, text, "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"))
            }
        }
        return errors
    }

    static func isLabelValue(_ value: String) -> Bool {
        if value.isEmpty { return true }
        let bytes = Array(value.utf8)
        guard bytes.count <= 63 else { return false }
        func alnum(_ b: UInt8) -> Bool {
            (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || (b >= 0x30 && b <= 0x39)
        }
        guard alnum(bytes.first!), alnum(bytes.last!) else { return false }
        return bytes.allSatisfy { alnum($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") }
    }

    static func isQualifiedName(_ key: String) -> Bool {
        let parts = key.split(separator: "/", omittingEmptySubsequences: false)
        switch parts.count {
        case 1: return !parts[0].isEmpty && isLabelValue(String(parts[0]))
        case 2: return isDNS1123Subdomain(String(parts[0])) && !parts[1].isEmpty && isLabelValue(String(parts[1]))
        default: return false
        }
    }

    // MARK: Validation

    /// Field errors of a built-in object (name and metadata included).
    public static func validate(_ info: ResourceInfo, _ object: JSONValue) -> [FieldError] {
        var errors: [FieldError] = []
        let name = object.string(at: "metadata.name") ?? ""
        errors += nameErrors(info, name)
        errors += labelErrors(object[path: ["metadata", "labels"]])
        if let annotations = object[path: ["metadata", "annotations"]], !annotations.isNull,
           annotations.objectMembers?.allSatisfy({ $0.value.stringValue != nil }) != true {
            errors.append(.invalid("metadata.annotations", "", "must be an object of strings"))
        }
        switch (info.group, info.kind) {
        case ("", "Pod"):
            errors += podSpecErrors(object["spec"], field: "spec")
        case ("apps", "Deployment"):
            errors += deploymentErrors(object)
        case ("", "Service"):
            errors += serviceErrors(object)
        case ("", "ConfigMap"), ("", "Secret"):
            for field in ["data", "binaryData", "stringData"] {
                for (key, _) in object[field]?.objectMembers ?? [] where !isConfigKey(key) {
                    errors.append(.invalid("\(field)[\(key)]", key, "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"))
                }
            }
        default:
            break
        }
        return errors
    }

    static func isConfigKey(_ key: String) -> Bool {
        !key.isEmpty && key.utf8.count <= 253 && key.utf8.allSatisfy { b in
            (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || (b >= 0x30 && b <= 0x39)
                || b == UInt8(ascii: "-") || b == UInt8(ascii: "_") || b == UInt8(ascii: ".")
        } && key != "." && key != ".."
    }

    static func podSpecErrors(_ spec: JSONValue?, field: String) -> [FieldError] {
        guard let spec, spec.isObject else { return [.required(field)] }
        var errors: [FieldError] = []
        guard let containers = spec["containers"]?.arrayValue, !containers.isEmpty else {
            return [.required("\(field).containers")]
        }
        var names: Set<String> = []
        for kind in ["initContainers", "containers"] {
            for (index, container) in (spec[kind]?.arrayValue ?? []).enumerated() {
                let path = "\(field).\(kind)[\(index)]"
                let name = container["name"]?.stringValue ?? ""
                if name.isEmpty {
                    errors.append(.required("\(path).name"))
                } else if !isDNS1123Label(name) {
                    errors.append(.invalid("\(path).name", name, dns1123LabelMessage))
                } else if !names.insert(name).inserted {
                    errors.append(FieldError(.duplicate, field: "\(path).name", badValue: .value(.string(name))))
                }
                if (container["image"]?.stringValue ?? "").isEmpty { errors.append(.required("\(path).image")) }
            }
        }
        if let policy = spec["restartPolicy"]?.stringValue, !["Always", "OnFailure", "Never"].contains(policy) {
            errors.append(.notSupported("\(field).restartPolicy", .string(policy), supported: ["Always", "OnFailure", "Never"]))
        }
        return errors
    }

    static func deploymentErrors(_ object: JSONValue) -> [FieldError] {
        var errors: [FieldError] = []
        guard let selector = object[path: ["spec", "selector"]], selector.isObject else {
            return [.required("spec.selector")] + podSpecErrors(object[path: ["spec", "template", "spec"]],
                                                                  field: "spec.template.spec")
        }
        let labels = object[path: ["spec", "template", "metadata", "labels"]] ?? .object([])
        if (selector["matchLabels"]?.objectMembers ?? []).isEmpty, (selector["matchExpressions"]?.arrayValue ?? []).isEmpty {
            errors.append(.invalid("spec.selector", "", "empty selector is invalid for deployment"))
        } else if let parsed = try? LabelSelector(labelSelectorObject: selector), !parsed.matches(labels) {
            errors.append(FieldError(.invalid, field: "spec.template.metadata.labels",
                                     badValue: .literal(labelMapDescription(labels)),
                                     detail: "`selector` does not match template `labels`"))
        }
        if let replicas = object[path: ["spec", "replicas"]]?.int64Value, replicas < 0 {
            errors.append(.invalid("spec.replicas", .integer(replicas), "must be greater than or equal to 0"))
        }
        errors += podSpecErrors(object[path: ["spec", "template", "spec"]], field: "spec.template.spec")
        return errors
    }

    /// Go's `%#v` of a map[string]string, as kube prints it in this message.
    private static func labelMapDescription(_ labels: JSONValue) -> String {
        let members = (labels.objectMembers ?? []).sorted { $0.key < $1.key }
        let inner = members.map { "\"\($0.key)\":\"\($0.value.stringValue ?? "")\"" }.joined(separator: ", ")
        return "map[string]string{\(inner)}"
    }

    static func serviceErrors(_ object: JSONValue) -> [FieldError] {
        var errors: [FieldError] = []
        let type = object[path: ["spec", "type"]]?.stringValue ?? "ClusterIP"
        let ports = object[path: ["spec", "ports"]]?.arrayValue ?? []
        let headless = object[path: ["spec", "clusterIP"]]?.stringValue == "None"
        if ports.isEmpty, type != "ExternalName", !headless { errors.append(.required("spec.ports")) }
        for (index, port) in ports.enumerated() {
            guard let number = port["port"]?.int64Value, (1...65535).contains(number) else {
                errors.append(.invalid("spec.ports[\(index)].port", port["port"] ?? .integer(0),
                                       "must be between 1 and 65535, inclusive"))
                continue
            }
        }
        if !["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"].contains(type) {
            errors.append(.notSupported("spec.type", .string(type),
                                        supported: ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]))
        }
        return errors
    }
}
