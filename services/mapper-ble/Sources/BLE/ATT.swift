// The Attribute Protocol as a GATT client uses it (Core v5.4 Vol 3 Part F §3.4, Part G §4). Pure types.

/// A 16-bit or 128-bit Bluetooth UUID. 16-bit ones are kept short; a 128-bit one on the Bluetooth base is
/// normalised to its 16-bit form, so `2A19` and `00002a19-0000-1000-8000-00805f9b34fb` are equal.
public struct BLEUUID: Hashable, Sendable, CustomStringConvertible {
    /// 2 or 16 bytes, most significant first.
    public let bytes: [UInt8]

    static let baseTail: [UInt8] = [0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0x80, 0x5f, 0x9b, 0x34, 0xfb]

    public init(short: UInt16) {
        bytes = [UInt8(short >> 8), UInt8(short & 0xff)]
    }

    /// `2A19`, `0x2A19`, `0000180f-0000-1000-8000-00805f9b34fb`, `f000aa0104514000b000000000000000` (dashes optional).
    /// ASCII only, byte by byte: Character's Unicode properties would page in libswiftCore's tables for nothing.
    public init?(_ text: String) {
        var digits: [UInt8] = []
        var utf8 = Array(text.utf8)
        if utf8.count > 2, utf8[0] == UInt8(ascii: "0"), utf8[1] | 0x20 == UInt8(ascii: "x") { utf8.removeFirst(2) }
        for byte in utf8 where byte != UInt8(ascii: "-") {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digits.append(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digits.append(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digits.append(byte - UInt8(ascii: "A") + 10)
            default: return nil
            }
        }
        guard digits.count == 4 || digits.count == 8 || digits.count == 32 else { return nil }
        var bytes = stride(from: 0, to: digits.count, by: 2).map { digits[$0] << 4 | digits[$0 + 1] }
        if bytes.count == 4 { bytes += Self.baseTail }
        self.init(normalising: bytes)
    }

    /// From ATT's little-endian 2- or 16-byte form.
    public init?(littleEndian wire: [UInt8]) {
        guard wire.count == 2 || wire.count == 16 else { return nil }
        self.init(normalising: wire.reversed())
    }

    private init(normalising bytes: [UInt8]) {
        if bytes.count == 16, bytes[0] == 0, bytes[1] == 0, Array(bytes[4...]) == Self.baseTail {
            self.bytes = [bytes[2], bytes[3]]
        } else {
            self.bytes = bytes
        }
    }

    public var littleEndian: [UInt8] { bytes.reversed() }

    public var description: String {
        let hex = bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        guard bytes.count == 16 else { return hex.uppercased() }
        let parts = [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { range in
            String(hex[hex.index(hex.startIndex, offsetBy: range.lowerBound)..<hex.index(hex.startIndex, offsetBy: range.upperBound)])
        }
        return parts.joined(separator: "-")
    }

    public static let primaryService = BLEUUID(short: 0x2800)
    public static let characteristic = BLEUUID(short: 0x2803)
    public static let clientCharacteristicConfiguration = BLEUUID(short: 0x2902)
}

/// ATT opcodes and error codes.
public enum ATTOpcode {
    public static let errorResponse: UInt8 = 0x01
    public static let exchangeMTURequest: UInt8 = 0x02
    public static let exchangeMTUResponse: UInt8 = 0x03
    public static let findInformationRequest: UInt8 = 0x04
    public static let findInformationResponse: UInt8 = 0x05
    public static let readByTypeRequest: UInt8 = 0x08
    public static let readByTypeResponse: UInt8 = 0x09
    public static let readRequest: UInt8 = 0x0a
    public static let readResponse: UInt8 = 0x0b
    public static let readBlobRequest: UInt8 = 0x0c
    public static let readBlobResponse: UInt8 = 0x0d
    public static let readByGroupTypeRequest: UInt8 = 0x10
    public static let readByGroupTypeResponse: UInt8 = 0x11
    public static let writeRequest: UInt8 = 0x12
    public static let writeResponse: UInt8 = 0x13
    public static let writeCommand: UInt8 = 0x52
    public static let handleValueNotification: UInt8 = 0x1b
    public static let handleValueIndication: UInt8 = 0x1d
    public static let handleValueConfirmation: UInt8 = 0x1e

    /// The response opcode that answers a request (or an Error Response).
    public static func response(to request: UInt8) -> UInt8 { request + 1 }

    public static func errorName(_ code: UInt8) -> String {
        let names: [UInt8: String] = [
            0x01: "Invalid Handle", 0x02: "Read Not Permitted", 0x03: "Write Not Permitted", 0x04: "Invalid PDU",
            0x05: "Insufficient Authentication", 0x06: "Request Not Supported", 0x07: "Invalid Offset",
            0x08: "Insufficient Authorization", 0x0a: "Attribute Not Found", 0x0b: "Attribute Not Long",
            0x0d: "Invalid Attribute Value Length", 0x0e: "Unlikely Error", 0x0f: "Insufficient Encryption",
            0x11: "Insufficient Resources",
        ]
        let hex = "0x" + (code < 16 ? "0" : "") + String(code, radix: 16)
        return names[code].map { "\($0) (\(hex))" } ?? "error \(hex)"
    }
}

/// Requests a GATT client sends.
public enum ATTRequest: Equatable, Sendable {
    case exchangeMTU(clientMTU: UInt16)
    case readByGroupType(start: UInt16, end: UInt16, type: BLEUUID)
    case readByType(start: UInt16, end: UInt16, type: BLEUUID)
    case findInformation(start: UInt16, end: UInt16)
    case read(handle: UInt16)
    case readBlob(handle: UInt16, offset: UInt16)
    case write(handle: UInt16, value: [UInt8])
    /// Write Command: no response.
    case writeCommand(handle: UInt16, value: [UInt8])
    case confirmation

    public var opcode: UInt8 {
        switch self {
        case .exchangeMTU: ATTOpcode.exchangeMTURequest
        case .readByGroupType: ATTOpcode.readByGroupTypeRequest
        case .readByType: ATTOpcode.readByTypeRequest
        case .findInformation: ATTOpcode.findInformationRequest
        case .read: ATTOpcode.readRequest
        case .readBlob: ATTOpcode.readBlobRequest
        case .write: ATTOpcode.writeRequest
        case .writeCommand: ATTOpcode.writeCommand
        case .confirmation: ATTOpcode.handleValueConfirmation
        }
    }

    /// Whether the server answers it (commands and confirmations get no response).
    public var expectsResponse: Bool {
        switch self {
        case .writeCommand, .confirmation: false
        default: true
        }
    }

    public var pdu: [UInt8] {
        var out: [UInt8] = [opcode]
        switch self {
        case .exchangeMTU(let mtu):
            out.appendLE(mtu)
        case .readByGroupType(let start, let end, let type), .readByType(let start, let end, let type):
            out.appendLE(start)
            out.appendLE(end)
            out += type.littleEndian
        case .findInformation(let start, let end):
            out.appendLE(start)
            out.appendLE(end)
        case .read(let handle):
            out.appendLE(handle)
        case .readBlob(let handle, let offset):
            out.appendLE(handle)
            out.appendLE(offset)
        case .write(let handle, let value), .writeCommand(let handle, let value):
            out.appendLE(handle)
            out += value
        case .confirmation:
            break
        }
        return out
    }
}

/// What a server sends: responses, errors, notifications and indications.
public enum ATTServerPDU: Equatable, Sendable {
    case error(request: UInt8, handle: UInt16, code: UInt8)
    case exchangeMTU(serverMTU: UInt16)
    /// Read By Group Type: (handle, end group handle, value) per attribute.
    case readByGroupType([(handle: UInt16, end: UInt16, value: [UInt8])])
    case readByType([(handle: UInt16, value: [UInt8])])
    case findInformation([(handle: UInt16, type: BLEUUID)])
    case read([UInt8])
    case readBlob([UInt8])
    case write
    case notification(handle: UInt16, value: [UInt8])
    case indication(handle: UInt16, value: [UInt8])
    /// A request from the server (the client role is all the mapper has) or an opcode it does not know.
    case unsupported(opcode: UInt8)

    public var opcode: UInt8 {
        switch self {
        case .error: ATTOpcode.errorResponse
        case .exchangeMTU: ATTOpcode.exchangeMTUResponse
        case .readByGroupType: ATTOpcode.readByGroupTypeResponse
        case .readByType: ATTOpcode.readByTypeResponse
        case .findInformation: ATTOpcode.findInformationResponse
        case .read: ATTOpcode.readResponse
        case .readBlob: ATTOpcode.readBlobResponse
        case .write: ATTOpcode.writeResponse
        case .notification: ATTOpcode.handleValueNotification
        case .indication: ATTOpcode.handleValueIndication
        case .unsupported(let opcode): opcode
        }
    }

    public static func == (a: ATTServerPDU, b: ATTServerPDU) -> Bool {
        switch (a, b) {
        case let (.error(r1, h1, c1), .error(r2, h2, c2)): r1 == r2 && h1 == h2 && c1 == c2
        case let (.exchangeMTU(m1), .exchangeMTU(m2)): m1 == m2
        case let (.readByGroupType(l1), .readByGroupType(l2)):
            l1.count == l2.count && zip(l1, l2).allSatisfy { $0.handle == $1.handle && $0.end == $1.end && $0.value == $1.value }
        case let (.readByType(l1), .readByType(l2)):
            l1.count == l2.count && zip(l1, l2).allSatisfy { $0.handle == $1.handle && $0.value == $1.value }
        case let (.findInformation(l1), .findInformation(l2)):
            l1.count == l2.count && zip(l1, l2).allSatisfy { $0.handle == $1.handle && $0.type == $1.type }
        case let (.read(v1), .read(v2)), let (.readBlob(v1), .readBlob(v2)): v1 == v2
        case (.write, .write): true
        case let (.notification(h1, v1), .notification(h2, v2)), let (.indication(h1, v1), .indication(h2, v2)):
            h1 == h2 && v1 == v2
        case let (.unsupported(o1), .unsupported(o2)): o1 == o2
        default: false
        }
    }

    /// Decodes a PDU from the ATT channel. Throws for an empty or malformed PDU of a known opcode.
    public init(_ pdu: [UInt8]) throws(BLEDecodeError) {
        var r = ByteReader(pdu)
        let opcode = try r.u8("ATT opcode")
        switch opcode {
        case ATTOpcode.errorResponse:
            let request = try r.u8("request opcode in error")
            let handle = try r.u16("handle in error")
            self = .error(request: request, handle: handle, code: try r.u8("error code"))
        case ATTOpcode.exchangeMTUResponse:
            self = .exchangeMTU(serverMTU: try r.u16("Server Rx MTU"))
        case ATTOpcode.readByGroupTypeResponse:
            let length = Int(try r.u8("attribute data length"))
            guard length >= 5 else { throw BLEDecodeError("Read By Group Type item of \(length) bytes (at least 5)") }
            guard r.remaining > 0, r.remaining % length == 0 else {
                throw BLEDecodeError("Read By Group Type data of \(r.remaining) bytes is not a whole number of \(length)-byte items")
            }
            var items: [(UInt16, UInt16, [UInt8])] = []
            while r.remaining > 0 {
                let handle = try r.u16()
                let end = try r.u16()
                items.append((handle, end, try r.take(length - 4)))
            }
            self = .readByGroupType(items.map { (handle: $0.0, end: $0.1, value: $0.2) })
        case ATTOpcode.readByTypeResponse:
            let length = Int(try r.u8("attribute data length"))
            guard length >= 2 else { throw BLEDecodeError("Read By Type item of \(length) bytes (at least 2)") }
            guard r.remaining > 0, r.remaining % length == 0 else {
                throw BLEDecodeError("Read By Type data of \(r.remaining) bytes is not a whole number of \(length)-byte items")
            }
            var items: [(UInt16, [UInt8])] = []
            while r.remaining > 0 {
                let handle = try r.u16()
                items.append((handle, try r.take(length - 2)))
            }
            self = .readByType(items.map { (handle: $0.0, value: $0.1) })
        case ATTOpcode.findInformationResponse:
            let format = try r.u8("format")
            let size: Int
            switch format {
            case 0x01: size = 2
            case 0x02: size = 16
            default: throw BLEDecodeError("Find Information format \(format) (1 or 2)")
            }
            guard r.remaining > 0, r.remaining % (2 + size) == 0 else {
                throw BLEDecodeError("Find Information data of \(r.remaining) bytes is not a whole number of items")
            }
            var items: [(UInt16, BLEUUID)] = []
            while r.remaining > 0 {
                let handle = try r.u16()
                items.append((handle, BLEUUID(littleEndian: try r.take(size))!))
            }
            self = .findInformation(items.map { (handle: $0.0, type: $0.1) })
        case ATTOpcode.readResponse:
            self = .read(r.rest())
        case ATTOpcode.readBlobResponse:
            self = .readBlob(r.rest())
        case ATTOpcode.writeResponse:
            self = .write
        case ATTOpcode.handleValueNotification:
            let handle = try r.u16("attribute handle")
            self = .notification(handle: handle, value: r.rest())
        case ATTOpcode.handleValueIndication:
            let handle = try r.u16("attribute handle")
            self = .indication(handle: handle, value: r.rest())
        default:
            self = .unsupported(opcode: opcode)
        }
    }
}

/// A characteristic as discovery finds it.
public struct GATTCharacteristic: Equatable, Sendable {
    public var uuid: BLEUUID
    /// The declaration's handle.
    public var declaration: UInt16
    public var valueHandle: UInt16
    public var properties: UInt8
    /// Last handle of the characteristic (before the next declaration or the service's end).
    public var end: UInt16
    /// The Client Characteristic Configuration descriptor, when found.
    public var cccd: UInt16?

    public var canRead: Bool { properties & 0x02 != 0 }
    public var canWriteWithoutResponse: Bool { properties & 0x04 != 0 }
    public var canWrite: Bool { properties & 0x08 != 0 }
    public var canNotify: Bool { properties & 0x10 != 0 }
    public var canIndicate: Bool { properties & 0x20 != 0 }

    public init(uuid: BLEUUID, declaration: UInt16, valueHandle: UInt16, properties: UInt8, end: UInt16, cccd: UInt16? = nil) {
        self.uuid = uuid
        self.declaration = declaration
        self.valueHandle = valueHandle
        self.properties = properties
        self.end = end
        self.cccd = cccd
    }

    /// Parses one characteristic declaration value from Read By Type (properties, value handle, UUID).
    public static func declaration(handle: UInt16, value: [UInt8]) throws(BLEDecodeError) -> GATTCharacteristic {
        var r = ByteReader(value)
        let properties = try r.u8("characteristic properties")
        let valueHandle = try r.u16("characteristic value handle")
        guard let uuid = BLEUUID(littleEndian: r.rest()) else {
            throw BLEDecodeError("characteristic declaration at \(handle) has a UUID of \(value.count - 3) bytes")
        }
        guard valueHandle > handle else {
            throw BLEDecodeError("characteristic declaration at \(handle) points back to handle \(valueHandle)")
        }
        return GATTCharacteristic(uuid: uuid, declaration: handle, valueHandle: valueHandle, properties: properties,
                                  end: 0xffff)
    }
}

/// A primary service as discovery finds it.
public struct GATTService: Equatable, Sendable {
    public var uuid: BLEUUID
    public var start: UInt16
    public var end: UInt16

    public init(uuid: BLEUUID, start: UInt16, end: UInt16) {
        self.uuid = uuid
        self.start = start
        self.end = end
    }
}
