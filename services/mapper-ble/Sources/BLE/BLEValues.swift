import Foundation

// KubeEdge's Bluetooth visitor config (devices v1alpha2 `VisitorConfigBluetooth`, mappers-go `BleVisitorConfig`):
// `characteristicUUID`, `dataConverter` (read conversion) and `dataWrite` (twin value → bytes). Pure types.

/// One step of `orderOfOperations`.
public struct BLEOperation: Equatable, Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        case add = "Add", subtract = "Subtract", multiply = "Multiply", divide = "Divide"
    }

    public var kind: Kind
    public var value: Double

    public init(_ kind: Kind, _ value: Double) {
        self.kind = kind
        self.value = value
    }
}

/// `dataConverter`: which bytes of the characteristic value make the number and what is done to it.
///
/// KubeEdge documents `startIndex`/`endIndex` as inclusive, with start > end taking the bytes in reverse; the bytes,
/// in that order, are one unsigned big-endian integer (so `startIndex: 1, endIndex: 0` reads a little-endian 16-bit
/// value, as KubeEdge's CC2650 sample needs). Then one shift (`shiftLeft`, else `shiftRight`), then the operations in
/// order. mappers-go's current code joins the bytes' decimal digits instead (`[0x0A,0x1F]` → 1031); that contradicts
/// the CRD's documentation and its own sample, so this follows the documentation.
public struct BLEDataConverter: Equatable, Sendable {
    public var startIndex: Int
    public var endIndex: Int
    public var shiftLeft: Int
    public var shiftRight: Int
    public var operations: [BLEOperation]

    public init(startIndex: Int, endIndex: Int, shiftLeft: Int = 0, shiftRight: Int = 0, operations: [BLEOperation] = []) {
        self.startIndex = startIndex
        self.endIndex = endIndex
        self.shiftLeft = shiftLeft
        self.shiftRight = shiftRight
        self.operations = operations
    }

    /// The number the bytes stand for; a value too short for the indices is a per-property error.
    public func convert(_ value: [UInt8]) -> Result<Double, BLEDecodeError> {
        let indices = startIndex <= endIndex ? Array(startIndex...endIndex) : Array((endIndex...startIndex).reversed())
        guard let last = indices.max(), last < value.count, indices.allSatisfy({ $0 >= 0 }) else {
            return .failure(BLEDecodeError("value of \(value.count) bytes is too short for bytes \(startIndex)...\(endIndex)"))
        }
        var raw: UInt64 = 0
        for index in indices.suffix(8) { raw = raw << 8 | UInt64(value[index]) }
        if shiftLeft > 0 { raw = shiftLeft >= 64 ? 0 : raw << UInt64(shiftLeft) }
        else if shiftRight > 0 { raw = shiftRight >= 64 ? 0 : raw >> UInt64(shiftRight) }
        var number = Double(raw)
        for operation in operations {
            switch operation.kind {
            case .add: number += operation.value
            case .subtract: number -= operation.value
            case .multiply: number *= operation.value
            case .divide:
                guard operation.value != 0 else { return .failure(BLEDecodeError("dataConverter divides by zero")) }
                number /= operation.value
            }
        }
        return .success(number)
    }
}

/// How a property's twin value and its characteristic's bytes relate.
public enum BLEValueCodec {
    /// The twin text of a converted number: an integer for `int` (rounded toward zero, as a Go int conversion
    /// does), else the shortest decimal that reads back the same.
    public static func text(_ number: Double, kind: String) -> String {
        if kind == "int" || kind == "boolean" {
            guard number.isFinite, abs(number) < 9.2e18 else { return String(number) }
            let integer = Int64(number)
            return kind == "boolean" ? (integer != 0 ? "true" : "false") : String(integer)
        }
        if number.isFinite, number == number.rounded(), abs(number) < 1e15 { return String(Int64(number)) }
        return kind == "float" ? String(Float(number)) : String(number)
    }

    /// Without a `dataConverter`: the value as GATT characteristics usually carry it (little-endian). `int`: a
    /// signed integer of 1, 2, 4 or 8 bytes; `float`/`double`: IEEE 754 of 4/8 bytes; `boolean`: the first byte;
    /// `string`: UTF-8; `bytes`: base64.
    public static func text(_ value: [UInt8], kind: String) -> Result<String, BLEDecodeError> {
        switch kind {
        case "int":
            switch value.count {
            case 1: return .success(String(Int8(bitPattern: value[0])))
            case 2: return .success(String(Int16(bitPattern: UInt16(littleEndian: value))))
            case 4: return .success(String(Int32(bitPattern: UInt32(truncatingIfNeeded: UInt64(littleEndian: value)))))
            case 8: return .success(String(Int64(bitPattern: UInt64(littleEndian: value))))
            default: return .failure(BLEDecodeError("an int needs 1, 2, 4 or 8 bytes, the value has \(value.count) (set a dataConverter)"))
            }
        case "float", "double":
            if value.count == 4 { return .success(text(Double(Float(bitPattern: UInt32(truncatingIfNeeded: UInt64(littleEndian: value)))), kind: kind)) }
            if value.count == 8 { return .success(text(Double(bitPattern: UInt64(littleEndian: value)), kind: kind)) }
            return .failure(BLEDecodeError("a \(kind) needs 4 or 8 bytes, the value has \(value.count) (set a dataConverter)"))
        case "boolean":
            guard let first = value.first else { return .failure(BLEDecodeError("a boolean needs 1 byte, the value is empty")) }
            return .success(first != 0 ? "true" : "false")
        case "bytes":
            return .success(Data(value).base64EncodedString())
        default:
            return .success(String(decoding: value, as: UTF8.self))
        }
    }

    /// The bytes to write for a twin value. `dataWrite` maps values to bytes first (`"ON": [1]`); otherwise the
    /// value is encoded as `text(_:kind:)` decodes it, an `int` in `width` bytes (the characteristic's current
    /// length, else 4). Nil when the value does not fit.
    public static func bytes(_ text: String, kind: String, width: Int?, dataWrite: [String: [UInt8]]) -> [UInt8]? {
        if let mapped = dataWrite[text] { return mapped }
        let trimmed = asciiTrimmed(text)
        switch kind {
        case "int":
            guard let number = Int64(trimmed) else { return nil }
            let size = [1, 2, 4, 8].contains(width ?? 0) ? width! : 4
            if size < 8 {
                let limit = Int64(1) << (size * 8 - 1)
                guard number >= -limit, number < limit * 2 else { return nil }
            }
            return (0..<size).map { UInt8(truncatingIfNeeded: number >> ($0 * 8)) }
        case "float":
            guard let number = Float(trimmed) else { return nil }
            let bits = width == 8 ? Double(number).bitPattern : UInt64(number.bitPattern)
            return (0..<(width == 8 ? 8 : 4)).map { UInt8(truncatingIfNeeded: bits >> ($0 * 8)) }
        case "double":
            guard let number = Double(trimmed) else { return nil }
            let bits = width == 4 ? UInt64(Float(number).bitPattern) : number.bitPattern
            return (0..<(width == 4 ? 4 : 8)).map { UInt8(truncatingIfNeeded: bits >> ($0 * 8)) }
        case "boolean":
            switch trimmed.lowercased() {
            case "true", "1", "on": return [1]
            case "false", "0", "off": return [0]
            default: return nil
            }
        case "bytes":
            return Data(base64Encoded: trimmed).map { Array($0) }
        default:
            return Array(text.utf8)
        }
    }
}

/// Without leading and trailing ASCII blanks (ASCII only, as twin values of numbers are).
func asciiTrimmed(_ text: String) -> String {
    let blank: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 || $0 == 0x0a || $0 == 0x0d }
    let utf8 = Array(text.utf8)
    guard let first = utf8.firstIndex(where: { !blank($0) }), let last = utf8.lastIndex(where: { !blank($0) }) else { return "" }
    return String(decoding: utf8[first...last], as: UTF8.self)
}

extension UInt16 {
    init(littleEndian bytes: [UInt8]) { self = UInt16(bytes[0]) | UInt16(bytes[1]) << 8 }
}

extension UInt64 {
    init(littleEndian bytes: [UInt8]) {
        var value: UInt64 = 0
        for (index, byte) in bytes.prefix(8).enumerated() { value |= UInt64(byte) << (index * 8) }
        self = value
    }
}
