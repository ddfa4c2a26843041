import EdgeProtocol
import Mapper

/// The four Modbus data tables.
public enum RegisterType: String, Sendable, Equatable {
    case coil = "CoilRegister"
    case discreteInput = "DiscreteInputRegister"
    case inputRegister = "InputRegister"
    case holdingRegister = "HoldingRegister"

    /// KubeEdge's names (`CoilRegister`, …) and the short ones (`coil`, `discrete input`, `input`, `holding`).
    public init?(name: String) {
        let key = name.lowercased().filter { $0.isLetter }
        switch key {
        case "coilregister", "coil", "coils": self = .coil
        case "discreteinputregister", "discreteinput", "discreteinputs", "discrete": self = .discreteInput
        case "inputregister", "input", "inputregisters": self = .inputRegister
        case "holdingregister", "holding", "holdingregisters": self = .holdingRegister
        default: return nil
        }
    }

    public var isBits: Bool { self == .coil || self == .discreteInput }
    public var isWritable: Bool { self == .coil || self == .holdingRegister }
    /// Most items one request may read (Modbus spec: 2000 bits, 125 registers).
    var maxReadCount: Int { isBits ? 2000 : 125 }
}

/// How a property's registers are read as a value.
public enum ModbusDataType: String, Sendable, Equatable {
    case int16, uint16, int32, uint32, int64, uint64, float32, float64, boolean, string

    public init?(name: String) {
        switch name.lowercased() {
        case "int16", "short": self = .int16
        case "uint16", "ushort", "word": self = .uint16
        case "int32", "dint": self = .int32
        case "uint32", "udint", "dword": self = .uint32
        case "int64": self = .int64
        case "uint64": self = .uint64
        case "float32", "real": self = .float32
        case "float64", "lreal": self = .float64
        case "boolean", "bool": self = .boolean
        case "string": self = .string
        default: return nil
        }
    }

    /// Registers a value of this type occupies (nil: any number, for strings).
    var registers: Int? {
        switch self {
        case .int16, .uint16, .boolean: 1
        case .int32, .uint32, .float32: 2
        case .int64, .uint64, .float64: 4
        case .string: nil
        }
    }

    var isInteger: Bool {
        switch self {
        case .int16, .uint16, .int32, .uint32, .int64, .uint64: true
        default: false
        }
    }
}

/// A property's Modbus visitor (KubeEdge: `register`, `offset`, `limit`, `scale`, `isSwap`, `isRegisterSwap`, and
/// v1beta1's `dataType`), checked and with defaults filled in.
public struct ModbusVisitor: Sendable, Equatable {
    public var register: RegisterType
    /// 0-based address as sent on the wire.
    public var offset: Int
    /// Number of registers (or bits) read.
    public var limit: Int
    public var scale: Double
    /// Swap the two bytes of each register.
    public var isSwap: Bool
    /// Swap the order of the registers (low word first).
    public var isRegisterSwap: Bool
    public var dataType: ModbusDataType
    /// The twin `metadata.type` reported.
    public var twinType: String

    public init(register: RegisterType, offset: Int, limit: Int, scale: Double = 1, isSwap: Bool = false,
                isRegisterSwap: Bool = false, dataType: ModbusDataType, twinType: String) {
        self.register = register
        self.offset = offset
        self.limit = limit
        self.scale = scale
        self.isSwap = isSwap
        self.isRegisterSwap = isRegisterSwap
        self.dataType = dataType
        self.twinType = twinType
    }

    /// Reads and checks a visitor config for a property of `kind`.
    public init(config: JSONValue, kind: PropertyKind) throws(SpecError) {
        guard let registerName = config.member("register")?.scalarText else {
            throw SpecError("no register type (CoilRegister, DiscreteInputRegister, InputRegister, HoldingRegister)")
        }
        guard let register = RegisterType(name: registerName) else {
            throw SpecError("unknown register type '\(registerName)' (CoilRegister, DiscreteInputRegister, "
                + "InputRegister, HoldingRegister)")
        }
        guard let offsetValue = config.member("offset") else { throw SpecError("no offset") }
        guard let offset = offsetValue.looseInt64, offset >= 0, offset <= 65535 else {
            throw SpecError("offset \(offsetValue.scalarText ?? "?") out of range (0…65535)")
        }
        let scale = config.member("scale")?.looseDouble ?? 1
        guard scale.isFinite, scale != 0 else { throw SpecError("scale must be a non-zero number") }
        let givenLimit = config.member("limit")?.looseInt64

        // The data type: explicit (`dataType`), else from the model's property type and the limit.
        var dataType: ModbusDataType
        if let name = config.member("dataType")?.scalarText ?? config.member("type")?.scalarText {
            if let explicit = ModbusDataType(name: name) {
                dataType = explicit
            } else if let modelKind = PropertyKind.allCases.first(where: { $0.rawValue == name.lowercased() }) {
                dataType = Self.defaultType(for: modelKind, register: register, limit: givenLimit)
            } else {
                throw SpecError("unknown data type '\(name)' (int16, uint16, int32, uint32, int64, uint64, float32, "
                    + "float64, boolean, string)")
            }
        } else {
            dataType = Self.defaultType(for: kind, register: register, limit: givenLimit)
        }
        if register.isBits, dataType != .boolean, !dataType.isInteger {
            throw SpecError("\(register.rawValue) holds bits: data type \(dataType.rawValue) does not fit")
        }
        let limit: Int
        if register.isBits {
            limit = Int(givenLimit ?? 1)
            if dataType == .boolean, limit != 1 { throw SpecError("a boolean coil or input has limit 1, not \(limit)") }
            if limit > 64 { throw SpecError("limit \(limit): at most 64 bits make one value") }
        } else if let needed = dataType.registers {
            if let givenLimit, givenLimit != 0, Int(givenLimit) != needed {
                throw SpecError("limit \(givenLimit) does not fit data type \(dataType.rawValue) "
                    + "(\(needed) register\(needed == 1 ? "" : "s"))")
            }
            limit = needed
        } else {
            limit = Int(givenLimit ?? 1)
        }
        guard limit >= 1, limit <= register.maxReadCount else {
            throw SpecError("limit \(limit) out of range (1…\(register.maxReadCount))")
        }
        guard Int(offset) + limit <= 65536 else {
            throw SpecError("offset \(offset) + limit \(limit) runs past the last address 65535")
        }
        let integral = dataType.isInteger && scale.rounded() == scale
        let twinType: String
        switch dataType {
        case .boolean: twinType = "boolean"
        case .string: twinType = "string"
        case .float32, .float64: twinType = "float"
        default: twinType = integral ? "int" : "float"
        }
        self.init(register: register, offset: Int(offset), limit: limit, scale: scale,
                  isSwap: config.member("isSwap")?.looseBool ?? false,
                  isRegisterSwap: config.member("isRegisterSwap")?.looseBool ?? false,
                  dataType: dataType, twinType: twinType)
    }

    static func defaultType(for kind: PropertyKind, register: RegisterType, limit: Int64?) -> ModbusDataType {
        if register.isBits { return kind == .boolean ? .boolean : .uint16 }
        switch kind {
        case .int:
            switch limit ?? 1 {
            case 2: return .int32
            case 4: return .int64
            default: return .int16
            }
        case .float: return (limit ?? 2) == 4 ? .float64 : .float32
        case .double: return (limit ?? 4) == 2 ? .float32 : .float64
        case .boolean: return .boolean
        case .string, .bytes: return .string
        }
    }

    // MARK: decoding

    /// The register words as the value's big-endian bytes, after the configured swaps.
    func bytes(of words: [UInt16]) -> [UInt8] {
        let ordered = isRegisterSwap ? words.reversed() : words
        var out: [UInt8] = []
        out.reserveCapacity(ordered.count * 2)
        for word in ordered {
            let hi = UInt8(word >> 8), lo = UInt8(word & 0xFF)
            if isSwap { out += [lo, hi] } else { out += [hi, lo] }
        }
        return out
    }

    /// The words that `bytes(of:)` turns into `bytes` (its inverse).
    func words(of bytes: [UInt8]) -> [UInt16] {
        var words: [UInt16] = []
        var i = 0
        while i + 1 < bytes.count {
            let (hi, lo) = isSwap ? (bytes[i + 1], bytes[i]) : (bytes[i], bytes[i + 1])
            words.append(UInt16(hi) << 8 | UInt16(lo))
            i += 2
        }
        return isRegisterSwap ? words.reversed() : words
    }

    /// Converts registers read from the device to the twin value text.
    public func decode(registers words: [UInt16]) throws(PropertyFailure) -> String {
        let raw = bytes(of: words)
        func unsigned() -> UInt64 { raw.reduce(0) { $0 << 8 | UInt64($1) } }
        switch dataType {
        case .int16: return scaled(Int64(Int16(bitPattern: UInt16(truncatingIfNeeded: unsigned()))))
        case .uint16: return scaled(Int64(unsigned()))
        case .int32: return scaled(Int64(Int32(bitPattern: UInt32(truncatingIfNeeded: unsigned()))))
        case .uint32: return scaled(Int64(unsigned()))
        case .int64: return scaled(Int64(bitPattern: unsigned()))
        case .uint64:
            let u = unsigned()
            return u <= UInt64(Int64.max) ? scaled(Int64(u)) : Self.format(Double(u) * scale)
        case .float32: return Self.format(Double(Float(bitPattern: UInt32(truncatingIfNeeded: unsigned()))) * scale,
                                          float32: scale == 1)
        case .float64: return Self.format(Double(bitPattern: unsigned()) * scale)
        case .boolean: return unsigned() != 0 ? "true" : "false"
        case .string:
            var text = raw
            while let last = text.last, last == 0 || last == 0x20 { text.removeLast() }
            return String(decoding: text, as: UTF8.self)
        }
    }

    /// Converts bits read from a coil or discrete input (first bit = lowest) to the twin value text.
    public func decode(bits: [Bool]) -> String {
        if dataType == .boolean { return bits.first == true ? "true" : "false" }
        var value: Int64 = 0
        for (i, bit) in bits.enumerated() where bit { value |= 1 << Int64(i) }
        return scaled(value)
    }

    private func scaled(_ value: Int64) -> String {
        if scale == 1 { return String(value) }
        return Self.format(Double(value) * scale)
    }

    /// Decimal text without exponent (the twin value pattern allows only `[a-zA-Z0-9-_.,:/@#]`), shortest that
    /// reads back; integral values without a fraction.
    static func format(_ value: Double, float32: Bool = false) -> String {
        guard value.isFinite else { return value.isNaN ? "NaN" : (value < 0 ? "-Inf" : "Inf") }
        if value.rounded() == value, abs(value) < 1e15 { return String(Int64(value)) }
        let text = float32 ? "\(Float(value))" : "\(value)"
        guard text.contains("e") else { return text }
        return plain(text)
    }

    /// "1.5e-07" → "0.00000015", "1.2e+20" → "120000000000000000000".
    static func plain(_ scientific: String) -> String {
        let parts = scientific.split(separator: "e")
        guard parts.count == 2, let exponent = Int(parts[1]) else { return scientific }
        var mantissa = String(parts[0])
        let negative = mantissa.hasPrefix("-")
        if negative { mantissa.removeFirst() }
        let pieces = mantissa.split(separator: ".", omittingEmptySubsequences: false)
        let intPart = String(pieces[0])
        let fracPart = pieces.count > 1 ? String(pieces[1]) : ""
        var digits = intPart + fracPart
        var point = intPart.count + exponent
        if point <= 0 {
            digits = String(repeating: "0", count: -point + 1) + digits
            point = 1
        } else if point > digits.count {
            digits += String(repeating: "0", count: point - digits.count)
        }
        var result = String(digits.prefix(point))
        var fraction = String(digits.dropFirst(point))
        while fraction.hasSuffix("0") { fraction.removeLast() }
        if !fraction.isEmpty { result += "." + fraction }
        return (negative ? "-" : "") + result
    }

    // MARK: encoding

    /// Converts a twin value to the registers to write.
    public func encode(registers value: String) throws(PropertyFailure) -> [UInt16] {
        let text = value.trimmingCharacters()
        func number() throws(PropertyFailure) -> Double {
            guard let d = Double(text) else { throw PropertyFailure("'\(value)' is not a number") }
            return d / scale
        }
        func integer(_ range: ClosedRange<Double>) throws(PropertyFailure) -> UInt64 {
            let d = try number().rounded()
            guard range.contains(d) else {
                throw PropertyFailure("'\(value)' is out of range for \(dataType.rawValue)")
            }
            return d < 0 ? UInt64(bitPattern: Int64(d)) : UInt64(d)
        }
        var raw: [UInt8]
        func bigEndian(_ v: UInt64, bytes n: Int) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: v >> UInt64(8 * (n - 1 - $0))) } }
        switch dataType {
        case .int16: raw = bigEndian(try integer(-32768...32767), bytes: 2)
        case .uint16: raw = bigEndian(try integer(0...65535), bytes: 2)
        case .int32: raw = bigEndian(try integer(-2147483648...2147483647), bytes: 4)
        case .uint32: raw = bigEndian(try integer(0...4294967295), bytes: 4)
        case .int64: raw = bigEndian(try integer(-9.2e18...9.2e18), bytes: 8)
        case .uint64: raw = bigEndian(try integer(0...1.8e19), bytes: 8)
        case .float32: raw = bigEndian(UInt64(Float(try number()).bitPattern), bytes: 4)
        case .float64: raw = bigEndian(try number().bitPattern, bytes: 8)
        case .boolean:
            guard let b = Self.parseBool(text) else { throw PropertyFailure("'\(value)' is not a boolean") }
            raw = [0, b ? 1 : 0]
        case .string:
            raw = Array(text.utf8)
            guard raw.count <= limit * 2 else {
                throw PropertyFailure("'\(value)' is longer than \(limit * 2) bytes")
            }
            raw += [UInt8](repeating: 0, count: limit * 2 - raw.count)
        }
        return words(of: raw)
    }

    /// Converts a twin value to the bits to write to coils.
    public func encode(bits value: String) throws(PropertyFailure) -> [Bool] {
        let text = value.trimmingCharacters()
        if dataType == .boolean || limit == 1, let b = Self.parseBool(text) { return [b] }
        guard let d = Double(text).map({ ($0 / scale).rounded() }), d >= 0, d < Double(UInt64(1) << UInt64(limit)) else {
            throw PropertyFailure("'\(value)' does not fit \(limit) coil\(limit == 1 ? "" : "s")")
        }
        let v = UInt64(d)
        return (0..<limit).map { v >> UInt64($0) & 1 == 1 }
    }

    static func parseBool(_ text: String) -> Bool? {
        switch text.lowercased() {
        case "true", "1", "on": true
        case "false", "0", "off": false
        default: nil
        }
    }
}

extension String {
    func trimmingCharacters() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return String(s)
    }
}
