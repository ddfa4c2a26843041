import BLE
import EdgeProtocol
import Mapper
import Synchronization

/// The Bluetooth LE protocol for the mapper framework (KubeEdge's protocol name `bluetooth`). Every device shares
/// the one controller given with `--hci`.
public struct BLEPlugin: MapperPlugin {
    public let protocolName = "bluetooth"
    public let host: BLEHost

    public init(host: BLEHost) {
        self.host = host
    }

    public func prepare(_ device: DeviceSpec) throws(SpecError) -> PreparedDevice {
        let target = try BLEDeviceSettings.target(device.protocolConfig)
        var properties: [PropertySpec] = []
        var visitors: [String: BLEVisitor] = [:]
        var problems: [String] = []
        for property in device.properties {
            do throws(SpecError) {
                visitors[property.name] = try BLEVisitor(config: property.visitor)
                properties.append(property)
            } catch {
                problems.append("property \(property.name): \(error.description)")
            }
        }
        return PreparedDevice(driver: BLEDriver(host: host, target: target, device: device.id, visitors: visitors),
                              properties: properties, problems: problems)
    }
}

/// A device's protocol config: KubeEdge's `macAddress` (v1alpha2 `protocol.bluetooth`, v1beta1 `configData`), or
/// `name`, the local name the peripheral advertises (as KubeEdge's first BLE mapper matched devices).
public enum BLEDeviceSettings {
    public static func target(_ config: JSONValue) throws(SpecError) -> BLETarget {
        if let text = config.member("macAddress")?.scalarText, !text.isEmpty {
            guard let address = BDAddress(text.uppercased()) else {
                throw SpecError("macAddress \(text) is not an address like F0:F0:F0:F0:F0:01")
            }
            return .address(address)
        }
        if let name = config.member("name")?.scalarText, !name.isEmpty { return .name(name) }
        throw SpecError("bluetooth config has neither macAddress nor name")
    }
}

/// A property's visitor config, KubeEdge's keys: `characteristicUUID`, `dataConverter` (`startIndex`, `endIndex`,
/// `shiftLeft`, `shiftRight`, `orderOfOperations` of `operationType`/`operationValue`) and `dataWrite` (twin value →
/// bytes, as a JSON array of numbers or base64 as Go writes []byte).
public struct BLEVisitor: Sendable, Equatable {
    public var characteristic: BLEUUID
    public var converter: BLEDataConverter?
    public var dataWrite: [String: [UInt8]]

    public init(config: JSONValue) throws(SpecError) {
        guard let text = config.member("characteristicUUID")?.scalarText, !text.isEmpty else {
            throw SpecError("visitor has no characteristicUUID")
        }
        guard let uuid = BLEUUID(text) else { throw SpecError("characteristicUUID \(text) is not a 16- or 128-bit UUID") }
        characteristic = uuid
        if let converter = config.member("dataConverter"), let members = converter.members, !members.isEmpty {
            var operations: [BLEOperation] = []
            for step in converter.member("orderOfOperations")?.elements ?? [] {
                let name = step.member("operationType")?.scalarText ?? ""
                guard let kind = BLEOperation.Kind.allCases.first(where: { $0.rawValue.lowercased() == name.lowercased() }) else {
                    throw SpecError("operationType \(name.debugDescription) is not Add, Subtract, Multiply or Divide")
                }
                guard let value = step.member("operationValue")?.looseDouble else {
                    throw SpecError("operation \(name) has no numeric operationValue")
                }
                operations.append(BLEOperation(kind, value))
            }
            let int = { (key: String) -> Int in Int(clamping: converter.member(key)?.looseInt64 ?? 0) }
            guard int("startIndex") >= 0, int("endIndex") >= 0, int("shiftLeft") >= 0, int("shiftRight") >= 0 else {
                throw SpecError("dataConverter indices and shifts must not be negative")
            }
            self.converter = BLEDataConverter(startIndex: int("startIndex"), endIndex: int("endIndex"),
                                              shiftLeft: int("shiftLeft"), shiftRight: int("shiftRight"),
                                              operations: operations)
        }
        var dataWrite: [String: [UInt8]] = [:]
        for (key, value) in config.member("dataWrite")?.members ?? [] {
            if let elements = value.elements {
                var bytes: [UInt8] = []
                for element in elements {
                    guard let number = element.looseInt64, let byte = UInt8(exactly: number) else {
                        throw SpecError("dataWrite \(key.debugDescription) holds a value that is not a byte")
                    }
                    bytes.append(byte)
                }
                dataWrite[key] = bytes
            } else if let text = value.scalarText, let bytes = BLEValueCodec.bytes(text, kind: "bytes", width: nil, dataWrite: [:]) {
                dataWrite[key] = bytes
            } else {
                throw SpecError("dataWrite \(key.debugDescription) is neither a byte array nor base64")
            }
        }
        self.dataWrite = dataWrite
    }
}

/// One peripheral: a connection through the shared host, its GATT database, reads, writes and notifications.
final class BLEDriver: DeviceDriver {
    let host: BLEHost
    let target: BLETarget
    let device: String
    let visitors: [String: BLEVisitor]

    private struct State {
        var connection: BLEConnection?
        var client: GATTClient?
        var database = GATTDatabase()
        /// Each property's value length as last read: an int is written in as many bytes.
        var widths: [String: Int] = [:]
    }

    private let state = Mutex(State())

    init(host: BLEHost, target: BLETarget, device: String, visitors: [String: BLEVisitor]) {
        self.host = host
        self.target = target
        self.device = device
        self.visitors = visitors
    }

    func connect() async throws {
        let connection = try await host.connect(target)
        do {
            var client = GATTClient(bearer: connection)
            try await client.exchangeMTU(247)
            let database = try await client.discover()
            let ready = client
            state.withLock { s in
                s.connection = connection
                s.client = ready
                s.database = database
            }
        } catch {
            await connection.disconnect()
            throw BLEError("GATT discovery on \(connection.address) failed: \(error)", link: true)
        }
    }

    func disconnect() async {
        let connection = state.withLock { s -> BLEConnection? in
            defer { s.connection = nil; s.client = nil }
            return s.connection
        }
        await connection?.disconnect()
    }

    private func characteristic(_ property: PropertySpec) throws -> (GATTClient, GATTCharacteristic, BLEVisitor) {
        guard let visitor = visitors[property.name] else { throw PropertyFailure("no bluetooth visitor") }
        let (client, found) = state.withLock { ($0.client, $0.database.characteristic(visitor.characteristic)) }
        guard let client else { throw BLEError("not connected", link: true) }
        guard let found else {
            throw PropertyFailure("characteristic \(visitor.characteristic) not found on \(target)")
        }
        return (client, found, visitor)
    }

    /// Runs an ATT exchange; an answer that is an ATT error is the property's failure, the device stays online.
    private func attempt<T>(_ what: String, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as BLEError where !error.isLinkFailure {
            throw PropertyFailure("\(what): \(error)")
        }
    }

    func read(_ property: PropertySpec) async throws -> TwinReading {
        let (client, characteristic, visitor) = try characteristic(property)
        guard characteristic.canRead else { throw PropertyFailure("characteristic \(characteristic.uuid) is not readable") }
        let value = try await attempt("read of \(characteristic.uuid)") { try await client.read(characteristic.valueHandle) }
        return try reading(property, visitor: visitor, value: value)
    }

    private func reading(_ property: PropertySpec, visitor: BLEVisitor, value: [UInt8]) throws -> TwinReading {
        state.withLock { $0.widths[property.name] = value.count }
        let kind = property.kind.rawValue
        let text: String
        if let converter = visitor.converter {
            switch converter.convert(value) {
            case .success(let number): text = BLEValueCodec.text(number, kind: kind)
            case .failure(let error): throw PropertyFailure("\(visitor.characteristic): \(error)")
            }
        } else if let mapped = visitor.dataWrite.first(where: { $0.value == value })?.key {
            text = mapped  // the value dataWrite writes for it reads back as that twin value
        } else {
            switch BLEValueCodec.text(value, kind: kind) {
            case .success(let decoded): text = decoded
            case .failure(let error): throw PropertyFailure("\(visitor.characteristic): \(error)")
            }
        }
        return TwinReading(name: property.name, value: text, type: TwinMessages.twinType(for: property.kind))
    }

    func write(_ property: PropertySpec, value: String) async throws {
        let (client, characteristic, visitor) = try characteristic(property)
        guard characteristic.canWrite || characteristic.canWriteWithoutResponse else {
            throw PropertyFailure("characteristic \(characteristic.uuid) is not writable")
        }
        let width = state.withLock { $0.widths[property.name] }
        guard let bytes = BLEValueCodec.bytes(value, kind: property.kind.rawValue, width: width, dataWrite: visitor.dataWrite) else {
            throw PropertyFailure("\(value.debugDescription) cannot be written as \(property.kind.rawValue) to \(characteristic.uuid)")
        }
        try await attempt("write of \(characteristic.uuid)") {
            try await client.write(characteristic.valueHandle, bytes, withResponse: characteristic.canWrite)
        }
    }

    /// Notifications (or indications) for every property whose characteristic offers them, as KubeEdge's mapper
    /// does; each property's current value is read and delivered first. A lost connection is reported at once.
    func subscribe(_ properties: [PropertySpec], deliver: @escaping @Sendable ([TwinReading]) async -> Void,
                   linkLost: @escaping @Sendable (String) -> Void) async throws -> Set<String> {
        guard let (connection, client, database) = state.withLock({ s in
            s.connection.map { ($0, s.client!, s.database) }
        }) else { throw BLEError("not connected", link: true) }
        // Notifications arrive on the controller's reader thread: a stream keeps them in order for `deliver`.
        let (values, sink) = AsyncStream<(UInt16, [UInt8])>.makeStream(bufferingPolicy: .bufferingNewest(1024))
        connection.onDisconnect { reason in
            sink.finish()
            linkLost(reason)
        }
        var byHandle: [UInt16: (PropertySpec, BLEVisitor)] = [:]
        var pushed = Set<String>()
        var initial: [TwinReading] = []
        for property in properties {
            guard let visitor = visitors[property.name], let characteristic = database.characteristic(visitor.characteristic),
                  characteristic.canNotify || characteristic.canIndicate, characteristic.cccd != nil else { continue }
            byHandle[characteristic.valueHandle] = (property, visitor)
        }
        guard !byHandle.isEmpty else {
            sink.finish()
            return []
        }
        let routes = byHandle
        connection.onNotification { handle, value in
            if routes[handle] != nil { sink.yield((handle, value)) }
        }
        for (handle, (property, visitor)) in byHandle.sorted(by: { $0.key < $1.key }) {
            guard let characteristic = database.characteristic(visitor.characteristic) else { continue }
            do {
                try await attempt("subscription to \(characteristic.uuid)") { try await client.subscribe(characteristic) }
                pushed.insert(property.name)
                if characteristic.canRead,
                   let value = try? await attempt("read of \(characteristic.uuid)", { try await client.read(handle) }),
                   let reading = try? reading(property, visitor: visitor, value: value) {
                    initial.append(reading)
                }
            } catch let failure as PropertyFailure {
                _ = failure  // polled instead; read() reports any problem
            }
        }
        if !initial.isEmpty { await deliver(initial) }
        Task { [self] in
            for await (handle, value) in values {
                guard let (property, visitor) = routes[handle], pushed.contains(property.name),
                      let reading = try? reading(property, visitor: visitor, value: value) else { continue }
                await deliver([reading])
            }
        }
        return pushed
    }
}
