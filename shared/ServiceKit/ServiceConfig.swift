import Bus
import EdgeProtocol
import Foundation
import Logging
import Yams

public enum Side: String, Sendable, Codable {
    case edge
    case cloud

    public var defaultBroker: String {
        switch self {
        case .edge: "127.0.0.1:1883"   // where KubeEdge mappers expect the edge broker
        case .cloud: "127.0.0.1:11883"
        }
    }
}

/// What names a service: its executable name and the side it runs on.
public struct ServiceIdentity: Sendable, Hashable {
    public let name: String
    public let side: Side

    public init(name: String, side: Side) {
        self.name = name
        self.side = side
    }
}

public struct ConfigError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The resolved configuration of one service: built-in defaults < YAML file < flags. The file's keys reach the
/// services as flags (`ConfigFlags`); this reads the base keys again (and `brokerTLS`, which has no flag).
public struct ServiceConfig: Sendable {
    public let identity: ServiceIdentity
    public var broker: BusEndpoint
    public var brokerUser: String?
    public var brokerPassword: String?
    public var brokerTLS: BusTLS?
    public var nodeName: String
    public var dataDir: String
    public var logLevel: Logger.Level

    /// The keys of the YAML file common to all services.
    struct FileKeys: Decodable {
        var broker: String?
        var brokerUser: String?
        var brokerPassword: String?
        var brokerTLS: TLSKeys?
        var nodeName: String?
        var dataDir: String?
        var logLevel: String?
    }

    struct TLSKeys: Decodable {
        var caFile: String
        var certFile: String?
        var keyFile: String?
        var insecure: Bool?
    }

    public init(identity: ServiceIdentity, options: BaseOptions) throws {
        self.identity = identity
        var file = FileKeys()
        if let path = options.config {
            let text: String
            do {
                text = try String(contentsOfFile: path, encoding: .utf8)
            } catch {
                throw ConfigError("cannot read config file \(path): \(error.localizedDescription)")
            }
            do {
                if let root = try Yams.compose(yaml: text) {
                    if root.mapping == nil { throw ConfigError("config file \(path): the top level must be a mapping") }
                    file = try YAMLDecoder().decode(FileKeys.self, from: root)
                }
            } catch let error as ConfigError {
                throw error
            } catch {
                throw ConfigError("config file \(path) is not valid: \(error)")
            }
        }

        let brokerText = options.broker ?? file.broker ?? identity.side.defaultBroker
        do {
            broker = try BusEndpoint(parsing: brokerText)
        } catch {
            throw ConfigError("\(error)")
        }
        brokerUser = options.brokerUser ?? file.brokerUser
        brokerPassword = options.brokerPassword ?? file.brokerPassword
        brokerTLS = file.brokerTLS.map {
            BusTLS(caFile: $0.caFile, certFile: $0.certFile, keyFile: $0.keyFile, insecure: $0.insecure ?? false)
        }
        nodeName = options.nodeName ?? file.nodeName ?? Self.defaultNodeName(side: identity.side)
        guard Self.isValidName(nodeName) else {
            throw ConfigError("node name '\(nodeName)' is not a valid DNS-1123 subdomain (lowercase letters, digits, '-', '.')")
        }
        dataDir = options.dataDir ?? file.dataDir ?? "/var/lib/kubeedge-swift/\(identity.name)"
        let levelText = options.logLevel ?? file.logLevel ?? "info"
        guard let level = Logger.Level(rawValue: levelText.lowercased()) else {
            throw ConfigError("unknown log level '\(levelText)' (trace, debug, info, notice, warning, error, critical)")
        }
        logLevel = level
    }

    /// The bus client id: stable per service and node, so that the broker keeps its session across restarts.
    public var busClientID: String { "ke-\(identity.name)-\(nodeName)" }

    public var busConfiguration: BusConfiguration {
        BusConfiguration(
            endpoint: broker, clientID: busClientID, username: brokerUser, password: brokerPassword, tls: brokerTLS,
            presenceTopic: Topics.status(service: identity.name))
    }

    static func defaultNodeName(side: Side) -> String {
        switch side {
        case .cloud:
            return "cloud"
        case .edge:
            var buffer = [CChar](repeating: 0, count: 256)
            guard gethostname(&buffer, buffer.count) == 0 else { return "edge-node" }
            let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                .lowercased()
            return isValidName(name) ? name : "edge-node"
        }
    }

    /// RFC 1123 subdomain, as Kubernetes requires of node names.
    public static func isValidName(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= 253 else { return false }
        return name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            guard let first = label.utf8.first, let last = label.utf8.last, label.utf8.count <= 63 else { return false }
            func alnum(_ c: UInt8) -> Bool { (c >= 97 && c <= 122) || (c >= 48 && c <= 57) }
            return alnum(first) && alnum(last) && label.utf8.allSatisfy { alnum($0) || $0 == UInt8(ascii: "-") }
        }
    }
}
