import Yams

/// The `--config` YAML file as command-line flags, so that every option is declared once (its `@Option`: flag,
/// default and help) and is settable both ways: a key is the flag's long name in camelCase (`--cert-server` ↔
/// `certServer`, `--message-qps` ↔ `messageQPS`), at the top level for the base options and under a section named
/// after the service for its own. A flag on the command line wins over the same key in the file.
///
/// A key no flag takes, a top-level key that is neither a base key nor a service's section, and a Kubernetes manifest
/// given as `--config` are errors naming the key.
public enum ConfigFlags {
    /// Top-level keys of the base options (`brokerTLS`, a mapping without a flag, is read by `ServiceConfig`).
    public static let baseKeys = ["broker", "brokerUser", "brokerPassword", "nodeName", "dataDir", "logLevel"]
    public static let fileOnlyKeys = ["brokerTLS"]

    /// One key of the file as flags.
    public struct Setting: Equatable, Sendable {
        public let key: String
        public let section: String?
        public let arguments: [String]
        public var flag: String { "--" + ConfigFlags.flagName(forKey: key) }
    }

    /// `certServer` → `cert-server`, `messageQPS` → `message-qps`, `projectID` → `project-id`.
    public static func flagName(forKey key: String) -> String {
        let characters = Array(key)
        var out = ""
        for (index, character) in characters.enumerated() {
            if character.isUppercase, index > 0 {
                let previous = characters[index - 1]
                let nextIsLower = index + 1 < characters.count && characters[index + 1].isLowercase
                if previous.isLowercase || previous.isNumber || (previous.isUppercase && nextIsLower) { out += "-" }
            }
            out += character.lowercased()
        }
        return out
    }

    /// The settings of `text` for `service`: the base keys, then the service's own section.
    public static func settings(fromYAML text: String, path: String, service: String) throws(ConfigError) -> [Setting] {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw ConfigError("config file \(path) is not valid YAML: \(error)")
        }
        guard let root else { return [] }
        guard let mapping = root.mapping else { throw ConfigError("config file \(path): the top level must be a mapping") }
        let keys = mapping.keys.compactMap(\.string)
        if keys.contains("apiVersion") || keys.contains("kind") {
            let kind = mapping["kind"]?.string.map { " (kind: \($0))" } ?? ""
            throw ConfigError("""
                config file \(path) is a Kubernetes manifest\(kind), not a service configuration: give manifests to \
                kubectl (or to a mapper's --devices); --config takes the keys \((baseKeys + fileOnlyKeys).joined(separator: ", ")) \
                and a section per service
                """)
        }
        var settings: [Setting] = []
        for (keyNode, value) in mapping {
            guard let key = keyNode.string else { throw ConfigError("config file \(path): a key is not a string") }
            if baseKeys.contains(key) {
                settings.append(Setting(key: key, section: nil, arguments: try arguments(key, value, path: path)))
            } else if fileOnlyKeys.contains(key) || ServiceIdentity.knownNames.contains(key) && key != service {
                continue  // brokerTLS is ServiceConfig's; another service's section is that service's
            } else if key == service {
                guard let section = value.mapping else {
                    if value.null != nil { continue }
                    throw ConfigError("config file \(path): section '\(service)' must be a mapping of its options")
                }
                for (innerKey, innerValue) in section {
                    guard let name = innerKey.string else {
                        throw ConfigError("config file \(path): a key in section '\(service)' is not a string")
                    }
                    settings.append(Setting(key: name, section: service,
                                            arguments: try arguments(name, innerValue, path: path, section: service)))
                }
            } else {
                throw ConfigError("""
                    config file \(path): unknown key '\(key)' at the top level (expected \
                    \((baseKeys + fileOnlyKeys).joined(separator: ", ")), or a service's section: \
                    \(ServiceIdentity.knownNames.sorted().joined(separator: ", ")))
                    """)
            }
        }
        return settings
    }

    /// A scalar → `--flag value`; a boolean → `--flag` / `--no-flag`; a list of scalars → the flag repeated.
    static func arguments(_ key: String, _ value: Node, path: String, section: String? = nil) throws(ConfigError) -> [String] {
        let flag = "--" + flagName(forKey: key)
        let place = section.map { "key '\(key)' of section '\($0)'" } ?? "key '\(key)'"
        switch value {
        case .scalar(let scalar):
            if scalar.style == .plain, let bool = Bool(scalar.string), ["true", "false"].contains(scalar.string) {
                return [bool ? flag : "--no-" + flagName(forKey: key)]
            }
            if value.null != nil { return [] }
            return [flag, scalar.string]
        case .sequence(let items):
            var out: [String] = []
            for item in items {
                guard case .scalar(let scalar) = item else {
                    throw ConfigError("config file \(path): \(place) must be a list of plain values")
                }
                out += [flag, scalar.string]
            }
            return out
        default:
            throw ConfigError("config file \(path): \(place) must be a value or a list of values, not a mapping")
        }
    }

    /// The value of `--config` on a command line (`--config f` or `--config=f`), if any.
    public static func configPath(in arguments: [String]) -> String? {
        for (index, argument) in arguments.enumerated() {
            if argument == "--config", index + 1 < arguments.count { return arguments[index + 1] }
            if argument.hasPrefix("--config=") { return String(argument.dropFirst("--config=".count)) }
        }
        return nil
    }

    /// The file's settings that the command line does not override, as arguments to put before it.
    public static func fileArguments(_ settings: [Setting], overriddenBy commandLine: [String]) -> [String] {
        let given = Set(commandLine.filter { $0.hasPrefix("--") }.map { String($0.split(separator: "=").first ?? "") })
        return settings.filter { setting in
            let name = flagName(forKey: setting.key)
            return !given.contains("--" + name) && !given.contains("--no-" + name)
        }.flatMap(\.arguments)
    }
}

extension ServiceIdentity {
    /// Every service's executable name: the sections a shared config file may have.
    public static let knownNames: Set<String> = [
        "hub", "meta", "twin", "eventbus", "servicebus", "edged", "mapper-modbus", "mapper-opcua", "mapper-ble",
        "cloudhub", "edgecontroller", "devicecontroller", "router", "apiserver",
    ]
}
