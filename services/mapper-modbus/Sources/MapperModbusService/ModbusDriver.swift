import EdgeProtocol
import Mapper

/// The Modbus protocol for the mapper framework.
public struct ModbusPlugin: MapperPlugin {
    public let protocolName = "modbus"
    /// Response timeout when the device's protocol config sets none.
    public var defaultTimeout: Duration

    public init(defaultTimeout: Duration = .seconds(1)) {
        self.defaultTimeout = defaultTimeout
    }

    public func prepare(_ device: DeviceSpec) throws(SpecError) -> PreparedDevice {
        let settings = try ModbusDeviceSettings(config: device.protocolConfig, defaultTimeout: defaultTimeout)
        var properties: [PropertySpec] = []
        var visitors: [String: ModbusVisitor] = [:]
        var problems: [String] = []
        for property in device.properties {
            do throws(SpecError) {
                let visitor = try ModbusVisitor(config: property.visitor, kind: property.kind)
                visitors[property.name] = visitor
                var property = property
                if !visitor.register.isWritable { property.accessMode = .readOnly }
                properties.append(property)
            } catch {
                problems.append("property \(property.name): \(error.description)")
            }
        }
        let connection = ModbusConnection(
            transport: settings.transport, slaveID: settings.slaveID, timeout: settings.timeout)
        return PreparedDevice(driver: ModbusDriver(connection: connection, visitors: visitors),
                              properties: properties, problems: problems)
    }
}

/// A device's Modbus protocol config: v1alpha2 `protocol.modbus{slaveID}` + `protocol.common{tcp{ip,port} |
/// com{serialPort,baudRate,dataBits,parity,stopBits}}`, or v1beta1 `protocol.configData` with the same keys
/// (nested `tcp`/`com`, or flat `ip`, `port`, `serialPort`, …; `slaveID` or `deviceID`).
public struct ModbusDeviceSettings: Sendable, Equatable {
    public var transport: ModbusTransport
    public var slaveID: Int
    public var timeout: Duration

    public init(config: JSONValue, defaultTimeout: Duration = .seconds(1)) throws(SpecError) {
        let slave = config.member("slaveID") ?? config.member("deviceID") ?? config.member("unitID")
        let slaveID = slave?.looseInt64 ?? 1
        guard (0...255).contains(slaveID) else {
            throw SpecError("slave id \(slave?.scalarText ?? "?") out of range (0…255)")
        }
        self.slaveID = Int(slaveID)
        let timeoutMS = (config.member("timeout") ?? config.member("collectTimeout"))?.looseInt64 ?? 0
        self.timeout = timeoutMS > 0 ? .milliseconds(timeoutMS) : defaultTimeout

        // (JSONValue is ExpressibleByNilLiteral: spell the absent case out.)
        let tcp: JSONValue? = config.member("tcp") ?? (config.member("ip") != nil ? config : Optional<JSONValue>.none)
        let com: JSONValue? = config.member("com")
            ?? (config.member("serialPort") != nil ? config : Optional<JSONValue>.none)
        if let tcp {
            guard let ip = tcp.member("ip")?.scalarText, !ip.isEmpty else { throw SpecError("tcp config without ip") }
            let port = tcp.member("port")?.looseInt64 ?? 502
            guard (1...65535).contains(port) else { throw SpecError("tcp port \(port) out of range") }
            transport = .tcp(host: ip, port: Int(port))
        } else if let com {
            guard let path = com.member("serialPort")?.scalarText, !path.isEmpty else {
                throw SpecError("serial config without serialPort")
            }
            let baud = com.member("baudRate")?.looseInt64 ?? 19200
            let bits = com.member("dataBits")?.looseInt64 ?? 8
            let stop = com.member("stopBits")?.looseInt64 ?? 1
            let parityText = com.member("parity")?.scalarText ?? "none"
            let parity: Character
            switch parityText.lowercased() {
            case "none", "n", "": parity = "N"
            case "even", "e": parity = "E"
            case "odd", "o": parity = "O"
            default: throw SpecError("parity '\(parityText)' is not none, even or odd")
            }
            guard baud > 0, (5...8).contains(bits), (1...2).contains(stop) else {
                throw SpecError("serial settings out of range (baudRate \(baud), dataBits \(bits), stopBits \(stop))")
            }
            transport = .rtu(path: path, baudRate: Int(baud), dataBits: Int(bits), parity: parity, stopBits: Int(stop))
        } else {
            throw SpecError("protocol config has neither tcp (ip, port) nor com (serialPort, …)")
        }
    }
}

/// Reads and writes one device's properties over its `ModbusConnection`.
final class ModbusDriver: DeviceDriver {
    let connection: ModbusConnection
    let visitors: [String: ModbusVisitor]

    init(connection: ModbusConnection, visitors: [String: ModbusVisitor]) {
        self.connection = connection
        self.visitors = visitors
    }

    func connect() async throws {
        try await connection.connect()
    }

    func disconnect() async {
        await connection.close()
    }

    private func visitor(_ property: PropertySpec) throws -> ModbusVisitor {
        guard let visitor = visitors[property.name] else { throw PropertyFailure("no Modbus visitor") }
        return visitor
    }

    /// A Modbus exception is about this property only; anything else is the link.
    private static func classify(_ error: ModbusError) -> any Error {
        error.isException ? PropertyFailure("device answered: \(error.description)") : error
    }

    func read(_ property: PropertySpec) async throws -> TwinReading {
        let visitor = try visitor(property)
        let value: String
        if visitor.register.isBits {
            let bits: [Bool]
            do {
                bits = try await connection.readBits(visitor.register, address: visitor.offset, count: visitor.limit)
            } catch {
                throw Self.classify(error)
            }
            value = visitor.decode(bits: bits)
        } else {
            let words: [UInt16]
            do {
                words = try await connection.readRegisters(
                    visitor.register, address: visitor.offset, count: visitor.limit)
            } catch {
                throw Self.classify(error)
            }
            value = try visitor.decode(registers: words)
        }
        return TwinReading(name: property.name, value: value, type: visitor.twinType)
    }

    func write(_ property: PropertySpec, value: String) async throws {
        let visitor = try visitor(property)
        switch visitor.register {
        case .coil:
            let bits = try visitor.encode(bits: value)
            do {
                try await connection.writeCoils(address: visitor.offset, bits)
            } catch {
                throw Self.classify(error)
            }
        case .holdingRegister:
            let words = try visitor.encode(registers: value)
            do {
                try await connection.writeRegisters(address: visitor.offset, words)
            } catch {
                throw Self.classify(error)
            }
        case .inputRegister, .discreteInput:
            throw PropertyFailure("\(visitor.register.rawValue) is read-only")
        }
    }
}
