import CModbus
import Dispatch

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a Modbus device is reached.
public enum ModbusTransport: Sendable, Equatable, CustomStringConvertible {
    case tcp(host: String, port: Int)
    /// `parity`: "N", "E" or "O".
    case rtu(path: String, baudRate: Int, dataBits: Int, parity: Character, stopBits: Int)

    public var description: String {
        switch self {
        case .tcp(let host, let port): "Modbus TCP \(host):\(port)"
        case .rtu(let path, let baud, let bits, let parity, let stop): "Modbus RTU \(path) \(baud) \(bits)\(parity)\(stop)"
        }
    }
}

/// An error from libmodbus: what was being done, errno, and libmodbus' text for it.
public struct ModbusError: Error, CustomStringConvertible, Sendable {
    public let operation: String
    public let code: Int32
    public let reason: String

    /// The device answered with a Modbus exception (illegal function, illegal data address, …): the link is fine.
    public var isException: Bool {
        code > Int32(MODBUS_ENOBASE) && code <= Int32(MODBUS_ENOBASE) + 11
    }

    public var description: String { "\(operation): \(reason)" }
}

/// A libmodbus context, used from its own serial queue so that its blocking calls (bounded by the response
/// timeout) never hold a thread of Swift's cooperative pool. One per device.
public final class ModbusConnection: @unchecked Sendable {
    // @unchecked: `context` and `connected` are only touched on `queue`.
    public let transport: ModbusTransport
    public let slaveID: Int
    public let timeout: Duration
    private let queue: DispatchQueue
    private var context: OpaquePointer?
    private var connected = false

    public init(transport: ModbusTransport, slaveID: Int, timeout: Duration = .seconds(1)) {
        self.transport = transport
        self.slaveID = slaveID
        self.timeout = timeout
        self.queue = DispatchQueue(label: "modbus \(transport)")
    }

    deinit {
        if let context {
            if connected { modbus_close(context) }
            modbus_free(context)
        }
    }

    private func run<T: Sendable>(_ body: @escaping @Sendable () throws(ModbusError) -> T) async throws(ModbusError) -> T {
        let result: Result<T, ModbusError> = await withCheckedContinuation { continuation in
            queue.async {
                do throws(ModbusError) {
                    continuation.resume(returning: .success(try body()))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        return try result.get()
    }

    private static func failure(_ operation: String) -> ModbusError {
        let code = cmodbus_errno()
        return ModbusError(operation: operation, code: code, reason: String(cString: modbus_strerror(code)))
    }

    // MARK: connection

    public func connect() async throws(ModbusError) {
        try await run { () throws(ModbusError) in try self.connectNow() }
    }

    private func connectNow() throws(ModbusError) {
        if connected { return }
        if context == nil {
            switch transport {
            case .tcp(let host, let port):
                context = modbus_new_tcp_pi(host, String(port))
            case .rtu(let path, let baud, let bits, let parity, let stop):
                context = modbus_new_rtu(path, Int32(baud), CChar(parity.asciiValue ?? UInt8(ascii: "N")),
                                         Int32(bits), Int32(stop))
            }
            guard let context else { throw Self.failure("cannot set up \(transport)") }
            modbus_set_slave(context, Int32(slaveID))
            let (seconds, attoseconds) = timeout.components
            let micros = UInt32(clamping: attoseconds / 1_000_000_000_000)
            modbus_set_response_timeout(context, UInt32(clamping: seconds), micros)
        }
        guard modbus_connect(context) == 0 else {
            throw Self.failure("cannot connect to \(transport)")
        }
        connected = true
    }

    public func close() async {
        _ = try? await run { () throws(ModbusError) in
            if let context = self.context, self.connected { modbus_close(context) }
            self.connected = false
        }
    }

    private func ready(_ operation: String) throws(ModbusError) -> OpaquePointer {
        guard let context, connected else {
            throw ModbusError(operation: operation, code: ENOTCONN, reason: "not connected")
        }
        return context
    }

    // MARK: reads

    public func readBits(_ register: RegisterType, address: Int, count: Int) async throws(ModbusError) -> [Bool] {
        try await run { () throws(ModbusError) -> [Bool] in
            let what = "read \(count) \(register.rawValue) at \(address)"
            let context = try self.ready(what)
            var buffer = [UInt8](repeating: 0, count: count)
            let n = register == .coil
                ? modbus_read_bits(context, Int32(address), Int32(count), &buffer)
                : modbus_read_input_bits(context, Int32(address), Int32(count), &buffer)
            guard n == count else { throw Self.failure(what) }
            return buffer.map { $0 != 0 }
        }
    }

    public func readRegisters(_ register: RegisterType, address: Int, count: Int) async throws(ModbusError) -> [UInt16] {
        try await run { () throws(ModbusError) -> [UInt16] in
            let what = "read \(count) \(register.rawValue) at \(address)"
            let context = try self.ready(what)
            var buffer = [UInt16](repeating: 0, count: count)
            let n = register == .holdingRegister
                ? modbus_read_registers(context, Int32(address), Int32(count), &buffer)
                : modbus_read_input_registers(context, Int32(address), Int32(count), &buffer)
            guard n == count else { throw Self.failure(what) }
            return buffer
        }
    }

    // MARK: writes

    public func writeCoils(address: Int, _ bits: [Bool]) async throws(ModbusError) {
        try await run { () throws(ModbusError) in
            let what = "write \(bits.count) CoilRegister at \(address)"
            let context = try self.ready(what)
            let rc: Int32
            if bits.count == 1 {
                rc = modbus_write_bit(context, Int32(address), bits[0] ? 1 : 0)
            } else {
                var buffer = bits.map { UInt8($0 ? 1 : 0) }
                rc = modbus_write_bits(context, Int32(address), Int32(bits.count), &buffer)
            }
            guard rc == Int32(bits.count) else { throw Self.failure(what) }
        }
    }

    public func writeRegisters(address: Int, _ words: [UInt16]) async throws(ModbusError) {
        try await run { () throws(ModbusError) in
            let what = "write \(words.count) HoldingRegister at \(address)"
            let context = try self.ready(what)
            let rc: Int32
            if words.count == 1 {
                rc = modbus_write_register(context, Int32(address), words[0])
            } else {
                var buffer = words
                rc = modbus_write_registers(context, Int32(address), Int32(words.count), &buffer)
            }
            guard rc == Int32(words.count) else { throw Self.failure(what) }
        }
    }
}
