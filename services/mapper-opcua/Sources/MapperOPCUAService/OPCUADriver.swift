import EdgeProtocol
import Foundation
import Mapper
import OPCUA
import OPCUASecurity
import Synchronization

/// The OPC UA protocol for the mapper framework.
public struct OPCUAPlugin: MapperPlugin {
    public let protocolName = "opcua"
    public var defaultTimeout: Duration
    /// Publishing interval of subscriptions (values arrive within one interval of a change).
    public var publishingInterval: Duration
    /// The secure channel lifetime asked for; its token is renewed at three quarters of what the server grants.
    public var channelLifetime: Duration

    public init(defaultTimeout: Duration = .seconds(5), publishingInterval: Duration = .milliseconds(200),
                channelLifetime: Duration = .seconds(600)) {
        self.defaultTimeout = defaultTimeout
        self.publishingInterval = publishingInterval
        self.channelLifetime = channelLifetime
    }

    public func prepare(_ device: DeviceSpec) throws(SpecError) -> PreparedDevice {
        let settings = try OPCUADeviceSettings(config: device.protocolConfig, defaultTimeout: defaultTimeout)
        var properties: [PropertySpec] = []
        var visitors: [String: OPCUAVisitor] = [:]
        var problems: [String] = []
        for property in device.properties {
            do throws(SpecError) {
                visitors[property.name] = try OPCUAVisitor(config: property.visitor)
                properties.append(property)
            } catch {
                problems.append("property \(property.name): \(error.description)")
            }
        }
        let driver = OPCUADriver(settings: settings, visitors: visitors, publishingInterval: publishingInterval,
                                 channelLifetime: channelLifetime)
        return PreparedDevice(driver: driver, properties: properties, problems: problems)
    }
}

/// A device's OPC UA protocol config, KubeEdge's keys (mappers-go `ProtocolConfigOPCUA`, v1beta1 `configData`, v1alpha2
/// `protocol.opcua`): `url`, `userName`, `password` (the password, or a file holding it, as mappers-go reads it),
/// `securityPolicy`, `securityMode`, `certificate`, `privateKey`, `timeout` (milliseconds).
public struct OPCUADeviceSettings: Sendable, Equatable {
    public var endpoint: UAEndpointURL
    public var identity: UAIdentity
    public var timeout: Duration
    /// nil: SecurityPolicy None; else Basic256Sha256 in this mode.
    public var securityMode: UASecurityMode?
    /// The client certificate and key files (required with a secured policy, as in KubeEdge's mapper).
    public var certificateFiles: (certificate: String, key: String)?

    public static func == (a: OPCUADeviceSettings, b: OPCUADeviceSettings) -> Bool {
        a.endpoint == b.endpoint && a.identity == b.identity && a.timeout == b.timeout
            && a.securityMode == b.securityMode && a.certificateFiles?.certificate == b.certificateFiles?.certificate
            && a.certificateFiles?.key == b.certificateFiles?.key
    }

    public init(config: JSONValue, defaultTimeout: Duration = .seconds(5)) throws(SpecError) {
        guard let url = (config.member("url") ?? config.member("endpoint"))?.scalarText, !url.isEmpty else {
            throw SpecError("opcua config without url")
        }
        guard let endpoint = UAEndpointURL(url) else { throw SpecError("url \(url) is not opc.tcp://host[:port][/path]") }
        self.endpoint = endpoint
        let policy = config.member("securityPolicy")?.scalarText ?? "None"
        let mode = config.member("securityMode")?.scalarText ?? "None"
        let policyName = policy.split(separator: "#").last.map(String.init)?.lowercased() ?? ""
        switch (policyName, mode.lowercased()) {
        case ("none", "none"), ("none", ""), ("", "none"), ("", ""):
            securityMode = nil
        case ("basic256sha256", "sign"):
            securityMode = .sign
        case ("basic256sha256", "signandencrypt"), ("basic256sha256", "none"), ("basic256sha256", ""):
            // A policy without a mode means the strongest, as clients usually choose it.
            guard mode.lowercased() != "none" else {
                throw SpecError("securityPolicy Basic256Sha256 needs securityMode Sign or SignAndEncrypt, not None")
            }
            securityMode = .signAndEncrypt
        case ("none", _), ("", _):
            throw SpecError("securityMode \(mode) needs a securityPolicy (Basic256Sha256)")
        default:
            throw SpecError("securityPolicy \(policy) is not supported (None, Basic256Sha256)")
        }
        let certificate = config.member("certificate")?.scalarText ?? ""
        let key = config.member("privateKey")?.scalarText ?? ""
        if certificate.isEmpty != key.isEmpty {
            throw SpecError("certificate and privateKey go together (one of them is missing)")
        }
        certificateFiles = certificate.isEmpty ? nil : (certificate, key)
        if securityMode != nil, certificateFiles == nil {
            throw SpecError("securityPolicy \(policy) needs the client's certificate and privateKey files")
        }
        if let user = config.member("userName")?.scalarText, !user.isEmpty {
            let secret = config.member("password")?.scalarText ?? ""
            // mappers-go reads `password` as a file path; a value that names no readable file is the password itself.
            let fromFile = (try? String(contentsOfFile: secret, encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines)
            identity = .userName(user, password: fromFile ?? secret)
        } else {
            identity = .anonymous
        }
        let timeoutMs = config.member("timeout")?.looseInt64 ?? 0
        timeout = timeoutMs > 0 ? .milliseconds(timeoutMs) : defaultTimeout
    }
}

/// Where a property's value lives: `nodeID` (`ns=2;s=Name`, `ns=2;i=1001`, also `ns=2,i=1001`), or `browseName`, a
/// path of qualified names from the Objects folder (`2:Device1/2:Temperature`). `subscribe: false` polls it.
public struct OPCUAVisitor: Sendable, Equatable {
    public enum Target: Sendable, Equatable {
        case node(UANodeId)
        case path([UAQualifiedName])
    }

    public var target: Target
    public var subscribe: Bool

    public init(config: JSONValue) throws(SpecError) {
        if let text = config.member("nodeID")?.scalarText ?? config.member("nodeId")?.scalarText, !text.isEmpty {
            let normalized = text.replacingOccurrences(of: ",", with: ";")
            guard let node = UANodeId(normalized) else { throw SpecError("nodeID \(text) is not a NodeId (ns=2;s=Name)") }
            target = .node(node)
        } else if let path = config.member("browseName")?.scalarText, !path.isEmpty {
            var names: [UAQualifiedName] = []
            for part in path.split(separator: "/") {
                let pieces = part.split(separator: ":", maxSplits: 1)
                if pieces.count == 2, let ns = UInt16(pieces[0]) {
                    names.append(UAQualifiedName(namespace: ns, String(pieces[1])))
                } else {
                    names.append(UAQualifiedName(String(part)))
                }
            }
            target = .path(names)
        } else {
            throw SpecError("visitor has neither nodeID nor browseName")
        }
        subscribe = config.member("subscribe")?.scalarText.map { $0.lowercased() != "false" } ?? true
    }
}

/// One device's OPC UA session: reads, writes and a subscription over a `UAClient`.
final class OPCUADriver: DeviceDriver {
    let settings: OPCUADeviceSettings
    let visitors: [String: OPCUAVisitor]
    let publishingInterval: Duration
    let channelLifetime: Duration

    private struct State {
        var client: UAClient?
        var nodes: [String: UANodeId] = [:]
        /// The built-in type of each property's value, as last read: writes use it.
        var types: [String: UInt8] = [:]
    }

    private let state = Mutex(State())

    init(settings: OPCUADeviceSettings, visitors: [String: OPCUAVisitor], publishingInterval: Duration,
         channelLifetime: Duration) {
        self.settings = settings
        self.visitors = visitors
        self.publishingInterval = publishingInterval
        self.channelLifetime = channelLifetime
    }

    func connect() async throws {
        var security: UASecuritySettings?
        if let mode = settings.securityMode, let files = settings.certificateFiles {
            let identity: UAApplicationIdentity
            do {
                identity = try UAApplicationIdentity(certificatePath: files.certificate, keyPath: files.key)
            } catch {
                throw UAError("cannot load the client certificate \(files.certificate) / key \(files.key): \(error)", link: false)
            }
            security = UASecuritySettings(policyURI: Basic256Sha256.uri, mode: mode) { certificate in
                try Basic256Sha256(identity: identity, serverCertificate: certificate)
            }
        }
        let client = UAClient(endpoint: settings.endpoint, settings: UAClientSettings(
            identity: settings.identity, requestTimeout: settings.timeout, channelLifetime: channelLifetime,
            security: security))
        try await client.connect()
        state.withLock { $0.client = client; $0.nodes = [:] }
    }

    func disconnect() async {
        let client = state.withLock { s -> UAClient? in
            defer { s.client = nil }
            return s.client
        }
        await client?.close()
    }

    private func client() throws -> UAClient {
        guard let client = state.withLock({ $0.client }) else { throw UAError("not connected", link: true) }
        return client
    }

    /// The property's node, resolving its browse path once per connection.
    private func node(_ property: PropertySpec) async throws -> UANodeId {
        if let known = state.withLock({ $0.nodes[property.name] }) { return known }
        guard let visitor = visitors[property.name] else { throw PropertyFailure("no OPC UA visitor") }
        let node: UANodeId
        switch visitor.target {
        case .node(let id): node = id
        case .path(let names):
            do {
                node = try await client().resolve(path: names)
            } catch let error as UAError where !error.isLinkFailure {
                throw PropertyFailure("\(error)")
            }
        }
        state.withLock { $0.nodes[property.name] = node }
        return node
    }

    func read(_ property: PropertySpec) async throws -> TwinReading {
        let node = try await node(property)
        let value: UADataValue
        do {
            guard let first = try await client().read([node]).first else { throw UAError("no value", link: true) }
            value = first
        } catch let error as UAError where !error.isLinkFailure {
            throw PropertyFailure("read of \(node): \(error)")
        }
        return try reading(property, node: node, value: value)
    }

    private func reading(_ property: PropertySpec, node: UANodeId, value: UADataValue) throws -> TwinReading {
        guard UAStatus.isGood(value.status) else {
            throw PropertyFailure("\(node): \(UAStatus.name(value.status))")
        }
        guard let variant = value.value else { throw PropertyFailure("\(node) has no value") }
        state.withLock { $0.types[property.name] = variant.typeID }
        return TwinReading(name: property.name, value: OPCUAValues.twinText(variant),
                           type: TwinMessages.twinType(for: property.kind))
    }

    func write(_ property: PropertySpec, value: String) async throws {
        let node = try await node(property)
        var type = state.withLock { $0.types[property.name] }
        if type == nil {
            _ = try await read(property)
            type = state.withLock { $0.types[property.name] }
        }
        guard let type else { throw PropertyFailure("the type of \(node) is unknown") }
        guard let variant = OPCUAValues.variant(value, type: type) else {
            throw PropertyFailure("\(value.debugDescription) is not a \(UAVariant.typeNames[type] ?? "value of type \(type)") (\(node))")
        }
        let status: UInt32
        do {
            status = try await client().write(node, value: variant)
        } catch let error as UAError where !error.isLinkFailure {
            throw PropertyFailure("write of \(node): \(error)")
        }
        guard UAStatus.isGood(status) else { throw PropertyFailure("write of \(node): \(UAStatus.name(status))") }
    }

    func subscribe(_ properties: [PropertySpec], deliver: @escaping @Sendable ([TwinReading]) async -> Void,
                   linkLost: @escaping @Sendable (String) -> Void) async throws -> Set<String> {
        let client = try client()
        client.onFailure { error in linkLost("\(error)") }
        var items: [(handle: UInt32, node: UANodeId)] = []
        var byHandle: [UInt32: PropertySpec] = [:]
        for property in properties where visitors[property.name]?.subscribe == true {
            do {
                let node = try await node(property)
                let handle = UInt32(items.count + 1)
                items.append((handle, node))
                byHandle[handle] = property
            } catch let failure as PropertyFailure {
                _ = failure  // read() reports it on each poll
            }
        }
        guard !items.isEmpty else { return [] }
        let statuses: [UInt32]
        let monitored = items
        let properties = byHandle
        do {
            statuses = try await client.subscribe(items: monitored, publishingInterval: publishingInterval) { [self] changes in
                // A notification may hold several values of one node (queued while no Publish was out): each goes
                // in its own twin/update, in order, so that none is lost.
                var batch: [TwinReading] = []
                for change in changes {
                    guard let property = properties[change.handle],
                          let item = monitored.first(where: { $0.handle == change.handle }),
                          let reading = try? self.reading(property, node: item.node, value: change.value) else { continue }
                    if batch.contains(where: { $0.name == reading.name }) {
                        await deliver(batch)
                        batch = []
                    }
                    batch.append(reading)
                }
                await deliver(batch)
            }
        } catch let error as UAError where !error.isLinkFailure {
            throw PropertyFailure("subscription refused: \(error)")
        }
        var pushed = Set<String>()
        for (index, status) in statuses.enumerated() where index < items.count && UAStatus.isGood(status) {
            if let property = byHandle[items[index].handle] { pushed.insert(property.name) }
        }
        return pushed
    }
}

/// Twin text ⇄ OPC UA values.
public enum OPCUAValues {
    /// A value as twin text: numbers and booleans as JSON writes them, text as is, times in RFC 3339, bytes in
    /// base64, arrays as JSON arrays.
    public static func twinText(_ value: UAVariant) -> String {
        switch value {
        case .null: return ""
        case .boolean(let v): return v ? "true" : "false"
        case .sbyte(let v): return String(v)
        case .byte(let v): return String(v)
        case .int16(let v): return String(v)
        case .uint16(let v): return String(v)
        case .int32(let v): return String(v)
        case .uint32(let v): return String(v)
        case .int64(let v): return String(v)
        case .uint64(let v): return String(v)
        case .float(let v): return v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : "\(v)"
        case .double(let v): return v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : "\(v)"
        case .string(let v), .xmlElement(let v): return v ?? ""
        case .dateTime(let ticks): return UADateTime.rfc3339(ticks)
        case .guid(let g): return g.description
        case .byteString(let b): return Data(b ?? []).base64EncodedString()
        case .nodeId(let n): return n.description
        case .expandedNodeId(let n): return n.nodeId.description
        case .statusCode(let c): return UAStatus.name(c)
        case .qualifiedName(let q): return q.description
        case .localizedText(let t): return t.text ?? ""
        case .extensionObject(let e): return Data(e.body ?? []).base64EncodedString()
        case .dataValue(let d): return d.value.map(twinText) ?? ""
        case .variant(let v): return twinText(v)
        case .array(_, let elements, _):
            let parts = elements.map { element -> String in
                let text = twinText(element)
                switch element {
                case .boolean, .sbyte, .byte, .int16, .uint16, .int32, .uint32, .int64, .uint64, .float, .double:
                    return text
                default:
                    return String(decoding: (try? JSONValue.string(text).serialized()) ?? [], as: UTF8.self)
                }
            }
            return "[" + parts.joined(separator: ",") + "]"
        }
    }

    /// Twin text as a value of built-in type `type` (the node's current type); nil when it does not fit.
    public static func variant(_ text: String, type: UInt8) -> UAVariant? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        switch type {
        case 1:
            switch trimmed.lowercased() {
            case "true", "1": return .boolean(true)
            case "false", "0": return .boolean(false)
            default: return nil
            }
        case 2: return Int8(trimmed).map(UAVariant.sbyte)
        case 3: return UInt8(trimmed).map(UAVariant.byte)
        case 4: return Int16(trimmed).map(UAVariant.int16)
        case 5: return UInt16(trimmed).map(UAVariant.uint16)
        case 6: return Int32(trimmed).map(UAVariant.int32)
        case 7: return UInt32(trimmed).map(UAVariant.uint32)
        case 8: return Int64(trimmed).map(UAVariant.int64)
        case 9: return UInt64(trimmed).map(UAVariant.uint64)
        case 10: return Float(trimmed).map(UAVariant.float)
        case 11: return Double(trimmed).map(UAVariant.double)
        case 12: return .string(text)
        case 13: return UADateTime.ticks(rfc3339: trimmed).map(UAVariant.dateTime)
        case 14: return UAGuid(trimmed).map(UAVariant.guid)
        case 15: return Data(base64Encoded: trimmed).map { .byteString(Array($0)) }
        case 17: return UANodeId(trimmed).map(UAVariant.nodeId)
        case 20:
            let parts = trimmed.split(separator: ":", maxSplits: 1)
            if parts.count == 2, let ns = UInt16(parts[0]) { return .qualifiedName(UAQualifiedName(namespace: ns, String(parts[1]))) }
            return .qualifiedName(UAQualifiedName(trimmed))
        case 21: return .localizedText(UALocalizedText(text))
        default: return nil
        }
    }
}
