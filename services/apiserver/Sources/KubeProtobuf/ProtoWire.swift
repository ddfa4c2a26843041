/// The protobuf wire format (varints, tags, length-delimited fields), with nothing Kubernetes-specific.

public enum WireType: UInt8, Sendable {
    case varint = 0
    case fixed64 = 1
    case lengthDelimited = 2
    case fixed32 = 5
}

/// Appends protobuf fields to a byte array.
public struct ProtoWriter: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    public mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    public mutating func tag(_ number: Int, _ type: WireType) {
        varint(UInt64(number) << 3 | UInt64(type.rawValue))
    }

    public mutating func lengthDelimited(_ number: Int, _ payload: [UInt8]) {
        tag(number, .lengthDelimited)
        varint(UInt64(payload.count))
        bytes.append(contentsOf: payload)
    }

    public mutating func fixed64(_ number: Int, _ value: UInt64) {
        tag(number, .fixed64)
        for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }

    public mutating func fixed32(_ number: Int, _ value: UInt32) {
        tag(number, .fixed32)
        for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
    }
}

/// One field as read from the wire: its number and raw value.
public struct ProtoField: Sendable {
    public enum Value: Sendable {
        case varint(UInt64)
        case fixed64(UInt64)
        case fixed32(UInt32)
        case bytes(ArraySlice<UInt8>)
    }

    public var number: Int
    public var value: Value
}

public struct ProtoDecodingError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Reads the fields of one message, in wire order.
public struct ProtoReader: Sendable {
    private let bytes: ArraySlice<UInt8>
    private var index: Int

    public init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        self.index = bytes.startIndex
    }

    public var isAtEnd: Bool { index >= bytes.endIndex }

    public mutating func varint() throws(ProtoDecodingError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard index < bytes.endIndex else { throw ProtoDecodingError("truncated varint") }
            let byte = bytes[index]
            index += 1
            if shift == 63 && byte > 1 { throw ProtoDecodingError("varint overflows 64 bits") }
            result |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return result }
            shift += 7
            if shift > 63 { throw ProtoDecodingError("varint longer than 10 bytes") }
        }
    }

    private mutating func take(_ count: Int) throws(ProtoDecodingError) -> ArraySlice<UInt8> {
        guard count >= 0, bytes.endIndex - index >= count else {
            throw ProtoDecodingError("field of \(count) bytes runs past the end of the message")
        }
        defer { index += count }
        return bytes[index..<(index + count)]
    }

    public mutating func fixed64() throws(ProtoDecodingError) -> UInt64 {
        var value: UInt64 = 0
        for (shift, byte) in try take(8).enumerated() { value |= UInt64(byte) << UInt64(shift * 8) }
        return value
    }

    public mutating func fixed32() throws(ProtoDecodingError) -> UInt32 {
        var value: UInt32 = 0
        for (shift, byte) in try take(4).enumerated() { value |= UInt32(byte) << UInt32(shift * 8) }
        return value
    }

    public mutating func next() throws(ProtoDecodingError) -> ProtoField? {
        guard !isAtEnd else { return nil }
        let key = try varint()
        let number = Int(truncatingIfNeeded: key >> 3)
        guard number > 0, number < 1 << 29 else { throw ProtoDecodingError("invalid field number \(key >> 3)") }
        switch key & 7 {
        case 0:
            return ProtoField(number: number, value: .varint(try varint()))
        case 1:
            return ProtoField(number: number, value: .fixed64(try fixed64()))
        case 2:
            let length = try varint()
            guard length <= UInt64(Int.max) else { throw ProtoDecodingError("length \(length) too large") }
            return ProtoField(number: number, value: .bytes(try take(Int(length))))
        case 5:
            return ProtoField(number: number, value: .fixed32(try fixed32()))
        default:
            throw ProtoDecodingError("unsupported wire type \(key & 7) for field \(number)")
        }
    }
}
