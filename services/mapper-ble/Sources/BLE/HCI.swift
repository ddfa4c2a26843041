// HCI framing as the Bluetooth Core spec (v5.4, Vol 4 Part E §5.4, Part A §2) defines it for an H4 transport: one
// packet-type byte, then the packet. Pure types: they encode and decode bytes and never touch a socket.

/// A malformed frame or field. The host treats it as the transport losing sync (it resets the controller link); a
/// malformed PDU inside a good frame only fails the request it answered.
public struct BLEDecodeError: Error, CustomStringConvertible, Sendable, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A little-endian reader over bytes that throws instead of trapping on short input.
public struct ByteReader {
    public let bytes: [UInt8]
    public private(set) var offset: Int

    public init(_ bytes: [UInt8], offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    public var remaining: Int { bytes.count - offset }

    public mutating func u8(_ what: @autoclosure () -> String = "byte") throws(BLEDecodeError) -> UInt8 {
        guard remaining >= 1 else { throw BLEDecodeError("truncated: no \(what())") }
        defer { offset += 1 }
        return bytes[offset]
    }

    public mutating func u16(_ what: @autoclosure () -> String = "16-bit field") throws(BLEDecodeError) -> UInt16 {
        guard remaining >= 2 else { throw BLEDecodeError("truncated: no \(what())") }
        defer { offset += 2 }
        return UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8
    }

    public mutating func take(_ count: Int, _ what: @autoclosure () -> String = "field") throws(BLEDecodeError) -> [UInt8] {
        guard count >= 0, remaining >= count else {
            throw BLEDecodeError("truncated: \(what()) needs \(count) bytes, \(remaining) left")
        }
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }

    public mutating func rest() -> [UInt8] {
        defer { offset = bytes.count }
        return Array(bytes[offset...])
    }
}

extension Array where Element == UInt8 {
    mutating func appendLE(_ value: UInt16) {
        append(UInt8(value & 0xff))
        append(UInt8(value >> 8))
    }
}

/// A Bluetooth device address. Text is most significant byte first (`F0:F0:F0:F0:F0:01`); HCI carries it little-endian.
public struct BDAddress: Hashable, Sendable, CustomStringConvertible {
    /// Most significant byte first, as written.
    public let bytes: [UInt8]

    public init?(_ text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 6 else { return nil }
        var bytes: [UInt8] = []
        for part in parts {
            guard part.count == 2, let byte = UInt8(part, radix: 16) else { return nil }
            bytes.append(byte)
        }
        self.bytes = bytes
    }

    public init(littleEndian wire: [UInt8]) {
        precondition(wire.count == 6)
        bytes = wire.reversed()
    }

    public var littleEndian: [UInt8] { bytes.reversed() }

    public var description: String {
        bytes.map { byte in
            let hex = String(byte, radix: 16, uppercase: true)
            return byte < 16 ? "0" + hex : hex
        }.joined(separator: ":")
    }
}

/// What an H4 transport carries.
public enum H4Packet: Equatable, Sendable {
    case command(opcode: UInt16, parameters: [UInt8])
    case acl(handle: UInt16, boundary: UInt8, data: [UInt8])
    case event(code: UInt8, parameters: [UInt8])
    /// SCO and ISO data: framed and skipped (the mapper uses neither).
    case other(type: UInt8, bytes: [UInt8])

    public static let commandType: UInt8 = 0x01
    public static let aclType: UInt8 = 0x02
    public static let scoType: UInt8 = 0x03
    public static let eventType: UInt8 = 0x04
    public static let isoType: UInt8 = 0x05

    /// The packet with its H4 type byte, ready to write.
    public var h4: [UInt8] {
        switch self {
        case .command(let opcode, let parameters):
            var out: [UInt8] = [Self.commandType]
            out.appendLE(opcode)
            out.append(UInt8(parameters.count))
            return out + parameters
        case .acl(let handle, let boundary, let data):
            var out: [UInt8] = [Self.aclType]
            out.appendLE((handle & 0x0fff) | UInt16(boundary & 0x3) << 12)
            out.appendLE(UInt16(data.count))
            return out + data
        case .event(let code, let parameters):
            return [Self.eventType, code, UInt8(parameters.count)] + parameters
        case .other(let type, let bytes):
            return [type] + bytes
        }
    }
}

/// Splits a byte stream into H4 packets. A packet type it does not know, or an ACL frame longer than
/// `maxACLLength`, means the stream is out of sync: `push` throws and the owner must drop the transport.
public struct H4Deframer: Sendable {
    public var maxACLLength: Int
    private var buffer: [UInt8] = []

    public init(maxACLLength: Int = 4096) {
        self.maxACLLength = maxACLLength
    }

    public mutating func push(_ bytes: [UInt8]) throws(BLEDecodeError) -> [H4Packet] {
        buffer.append(contentsOf: bytes)
        var packets: [H4Packet] = []
        var start = 0
        defer { buffer.removeFirst(start) }
        while start < buffer.count {
            let type = buffer[start]
            let headerLength: Int
            switch type {
            case H4Packet.commandType: headerLength = 3
            case H4Packet.aclType, H4Packet.isoType: headerLength = 4
            case H4Packet.scoType: headerLength = 3
            case H4Packet.eventType: headerLength = 2
            default:
                throw BLEDecodeError("unknown H4 packet type 0x\(String(type, radix: 16)): the stream is out of sync")
            }
            guard buffer.count - start >= 1 + headerLength else { break }
            let header = start + 1
            let payloadLength: Int
            switch type {
            case H4Packet.commandType, H4Packet.scoType: payloadLength = Int(buffer[header + 2])
            case H4Packet.eventType: payloadLength = Int(buffer[header + 1])
            default:
                payloadLength = Int(buffer[header + 2]) | Int(buffer[header + 3]) << 8
                if type == H4Packet.aclType, payloadLength > maxACLLength {
                    throw BLEDecodeError("ACL frame of \(payloadLength) bytes (at most \(maxACLLength)): the stream is out of sync")
                }
            }
            let end = header + headerLength + payloadLength
            guard buffer.count >= end else { break }
            let body = Array(buffer[(header + headerLength)..<end])
            switch type {
            case H4Packet.commandType:
                packets.append(.command(opcode: UInt16(buffer[header]) | UInt16(buffer[header + 1]) << 8, parameters: body))
            case H4Packet.eventType:
                packets.append(.event(code: buffer[header], parameters: body))
            case H4Packet.aclType:
                let word = UInt16(buffer[header]) | UInt16(buffer[header + 1]) << 8
                packets.append(.acl(handle: word & 0x0fff, boundary: UInt8((word >> 12) & 0x3), data: body))
            default:
                packets.append(.other(type: type, bytes: Array(buffer[header..<end])))
            }
            start = end
        }
        return packets
    }
}

/// The HCI commands the mapper's host sends (opcode = OGF << 10 | OCF).
public enum HCICommand {
    public static let disconnect: UInt16 = 0x0406
    public static let setEventMask: UInt16 = 0x0c01
    public static let reset: UInt16 = 0x0c03
    public static let readBufferSize: UInt16 = 0x1005
    public static let readBDAddr: UInt16 = 0x1009
    public static let leSetEventMask: UInt16 = 0x2001
    public static let leReadBufferSize: UInt16 = 0x2002
    public static let leSetScanParameters: UInt16 = 0x200b
    public static let leSetScanEnable: UInt16 = 0x200c
    public static let leCreateConnection: UInt16 = 0x200d
    public static let leCreateConnectionCancel: UInt16 = 0x200e

    /// Disconnection Complete, Command Complete/Status, Hardware Error, Number of Completed Packets, Data Buffer
    /// Overflow, LE Meta: the events the host handles.
    public static func setEventMaskParameters() -> [UInt8] {
        let mask: UInt64 = 1 << 4 | 1 << 13 | 1 << 14 | 1 << 15 | 1 << 18 | 1 << 24 | 1 << 61
        return (0..<8).map { UInt8((mask >> ($0 * 8)) & 0xff) }
    }

    /// LE Connection Complete, LE Advertising Report, LE Enhanced Connection Complete, LE Extended Advertising
    /// Report.
    public static func leSetEventMaskParameters() -> [UInt8] {
        let mask: UInt64 = 1 << 0 | 1 << 1 | 1 << 9 | 1 << 12
        return (0..<8).map { UInt8((mask >> ($0 * 8)) & 0xff) }
    }

    /// Active scanning (scan responses carry names), interval and window in 0.625 ms units, public own address,
    /// accept all advertisers.
    public static func leSetScanParameters(interval: UInt16 = 0x0010, window: UInt16 = 0x0010) -> [UInt8] {
        var out: [UInt8] = [0x01]
        out.appendLE(interval)
        out.appendLE(window)
        out += [0x00, 0x00]
        return out
    }

    /// Scanning on or off, without duplicate filtering (each report refreshes what the host knows).
    public static func leSetScanEnable(_ on: Bool) -> [UInt8] { [on ? 1 : 0, 0] }

    /// Connect to one peer: 30 ms intervals, no latency, 4 s supervision timeout.
    public static func leCreateConnection(peer: BDAddress, addressType: UInt8) -> [UInt8] {
        var out: [UInt8] = []
        out.appendLE(0x0060)        // scan interval 60 ms
        out.appendLE(0x0030)        // scan window 30 ms
        out.append(0x00)            // no filter accept list: this peer
        out.append(addressType)
        out += peer.littleEndian
        out.append(0x00)            // own address public
        out.appendLE(0x0018)        // connection interval min 30 ms
        out.appendLE(0x0018)        // max
        out.appendLE(0x0000)        // latency
        out.appendLE(0x0190)        // supervision timeout 4 s
        out.appendLE(0x0000)        // min CE length
        out.appendLE(0x0000)
        return out
    }

    /// Reason 0x13, remote user terminated the connection.
    public static func disconnectParameters(handle: UInt16, reason: UInt8 = 0x13) -> [UInt8] {
        var out: [UInt8] = []
        out.appendLE(handle)
        out.append(reason)
        return out
    }
}

/// One advertising report (LE Advertising Report sub-event).
public struct AdvertisingReport: Equatable, Sendable {
    public var eventType: UInt8
    public var addressType: UInt8
    public var address: BDAddress
    public var data: [UInt8]
    public var rssi: Int8

    /// The complete or shortened local name in the data (AD types 0x09, 0x08), when present and UTF-8.
    public var localName: String? {
        var complete: String?
        var shortened: String?
        for (type, value) in AdvertisingData.structures(data) {
            if type == 0x09 { complete = String(validating: value, as: UTF8.self) }
            if type == 0x08 { shortened = String(validating: value, as: UTF8.self) }
        }
        return complete ?? shortened
    }
}

public enum AdvertisingData {
    /// The AD structures (length, type, value) of advertising or scan-response data; a malformed tail is ignored
    /// (peers send padding).
    public static func structures(_ data: [UInt8]) -> [(type: UInt8, value: [UInt8])] {
        var out: [(UInt8, [UInt8])] = []
        var index = 0
        while index < data.count {
            let length = Int(data[index])
            if length == 0 || index + 1 + length > data.count { break }
            out.append((data[index + 1], Array(data[(index + 2)..<(index + 1 + length)])))
            index += 1 + length
        }
        return out
    }
}

/// The HCI events the host acts on; anything else is `.other`.
public enum HCIEvent: Equatable, Sendable {
    case commandComplete(credits: UInt8, opcode: UInt16, returnParameters: [UInt8])
    case commandStatus(status: UInt8, credits: UInt8, opcode: UInt16)
    case disconnectionComplete(status: UInt8, handle: UInt16, reason: UInt8)
    case numberOfCompletedPackets([(handle: UInt16, count: UInt16)])
    case hardwareError(code: UInt8)
    case leConnectionComplete(status: UInt8, handle: UInt16, role: UInt8, addressType: UInt8, address: BDAddress)
    case leAdvertisingReports([AdvertisingReport])
    case other(code: UInt8)

    public static func == (a: HCIEvent, b: HCIEvent) -> Bool {
        switch (a, b) {
        case let (.commandComplete(c1, o1, r1), .commandComplete(c2, o2, r2)): return c1 == c2 && o1 == o2 && r1 == r2
        case let (.commandStatus(s1, c1, o1), .commandStatus(s2, c2, o2)): return s1 == s2 && c1 == c2 && o1 == o2
        case let (.disconnectionComplete(s1, h1, r1), .disconnectionComplete(s2, h2, r2)): return s1 == s2 && h1 == h2 && r1 == r2
        case let (.numberOfCompletedPackets(l1), .numberOfCompletedPackets(l2)):
            return l1.count == l2.count && zip(l1, l2).allSatisfy { $0.handle == $1.handle && $0.count == $1.count }
        case let (.hardwareError(c1), .hardwareError(c2)): return c1 == c2
        case let (.leConnectionComplete(s1, h1, r1, t1, a1), .leConnectionComplete(s2, h2, r2, t2, a2)):
            return s1 == s2 && h1 == h2 && r1 == r2 && t1 == t2 && a1 == a2
        case let (.leAdvertisingReports(r1), .leAdvertisingReports(r2)): return r1 == r2
        case let (.other(c1), .other(c2)): return c1 == c2
        default: return false
        }
    }

    /// Decodes an event's parameters; a known event that is too short throws.
    public init(code: UInt8, parameters: [UInt8]) throws(BLEDecodeError) {
        var r = ByteReader(parameters)
        switch code {
        case 0x0e:
            let credits = try r.u8("Num_HCI_Command_Packets")
            let opcode = try r.u16("Command_Opcode")
            self = .commandComplete(credits: credits, opcode: opcode, returnParameters: r.rest())
        case 0x0f:
            let status = try r.u8("Status")
            let credits = try r.u8("Num_HCI_Command_Packets")
            self = .commandStatus(status: status, credits: credits, opcode: try r.u16("Command_Opcode"))
        case 0x05:
            let status = try r.u8("Status")
            let handle = try r.u16("Connection_Handle") & 0x0fff
            self = .disconnectionComplete(status: status, handle: handle, reason: try r.u8("Reason"))
        case 0x13:
            let count = Int(try r.u8("Num_Handles"))
            var list: [(UInt16, UInt16)] = []
            for _ in 0..<count {
                list.append((try r.u16("Connection_Handle") & 0x0fff, 0))
            }
            for index in 0..<count {
                list[index].1 = try r.u16("Num_Completed_Packets")
            }
            self = .numberOfCompletedPackets(list.map { (handle: $0.0, count: $0.1) })
        case 0x10:
            self = .hardwareError(code: try r.u8("Hardware_Code"))
        case 0x3e:
            let sub = try r.u8("Subevent_Code")
            switch sub {
            case 0x01, 0x0a:
                let status = try r.u8("Status")
                let handle = try r.u16("Connection_Handle") & 0x0fff
                let role = try r.u8("Role")
                let addressType = try r.u8("Peer_Address_Type")
                let address = BDAddress(littleEndian: try r.take(6, "Peer_Address"))
                self = .leConnectionComplete(status: status, handle: handle, role: role, addressType: addressType,
                                             address: address)
            case 0x02:
                let count = Int(try r.u8("Num_Reports"))
                var reports: [AdvertisingReport] = []
                for _ in 0..<count {
                    let eventType = try r.u8("Event_Type")
                    let addressType = try r.u8("Address_Type")
                    let address = BDAddress(littleEndian: try r.take(6, "Address"))
                    let length = Int(try r.u8("Data_Length"))
                    guard length <= 31 else { throw BLEDecodeError("advertising data of \(length) bytes (at most 31)") }
                    let data = try r.take(length, "Data")
                    let rssi = Int8(bitPattern: try r.u8("RSSI"))
                    reports.append(AdvertisingReport(eventType: eventType, addressType: addressType, address: address,
                                                     data: data, rssi: rssi))
                }
                self = .leAdvertisingReports(reports)
            case 0x0d:
                // LE Extended Advertising Report (what newer controllers send, legacy PDUs included): mapped to the
                // legacy event types the host matches on.
                let count = Int(try r.u8("Num_Reports"))
                var reports: [AdvertisingReport] = []
                for _ in 0..<count {
                    let eventType = try r.u16("Event_Type")
                    let addressType = try r.u8("Address_Type")
                    let address = BDAddress(littleEndian: try r.take(6, "Address"))
                    _ = try r.take(4, "PHYs, SID, TX power")
                    let rssi = Int8(bitPattern: try r.u8("RSSI"))
                    _ = try r.take(9, "periodic interval, direct address")
                    let length = Int(try r.u8("Data_Length"))
                    let data = try r.take(length, "Data")
                    let legacy: UInt8 = eventType & 0x08 != 0 ? 0x04 : eventType & 0x01 != 0 ? 0x00 : 0x03
                    reports.append(AdvertisingReport(eventType: legacy, addressType: addressType & 0x01, address: address,
                                                     data: data, rssi: rssi))
                }
                self = .leAdvertisingReports(reports)
            default:
                self = .other(code: code)
            }
        default:
            self = .other(code: code)
        }
    }
}

/// HCI error codes the host names in messages (Core v5.4 Vol 1 Part F).
public enum HCIStatus {
    public static func name(_ code: UInt8) -> String {
        let names: [UInt8: String] = [
            0x00: "Success", 0x01: "Unknown HCI Command", 0x02: "Unknown Connection Identifier",
            0x04: "Page Timeout", 0x05: "Authentication Failure", 0x07: "Memory Capacity Exceeded",
            0x08: "Connection Timeout", 0x09: "Connection Limit Exceeded", 0x0c: "Command Disallowed",
            0x0d: "Connection Rejected due to Limited Resources", 0x12: "Invalid HCI Command Parameters",
            0x13: "Remote User Terminated Connection", 0x16: "Connection Terminated By Local Host",
            0x1a: "Unsupported Remote Feature", 0x1f: "Unspecified Error", 0x22: "LL Response Timeout",
            0x3b: "Unacceptable Connection Parameters", 0x3e: "Connection Failed to be Established",
        ]
        let hex = "0x" + (code < 16 ? "0" : "") + String(code, radix: 16)
        return names[code].map { "\($0) (\(hex))" } ?? hex
    }
}

/// L2CAP basic frames over ACL (Core v5.4 Vol 3 Part A §3.1): reassembles fragments per connection handle and
/// splits outgoing frames to the controller's ACL buffer size.
public struct L2CAPReassembler: Sendable {
    private var partial: [UInt16: [UInt8]] = [:]
    /// Largest L2CAP frame accepted (the ATT MTU the host offers plus headroom).
    public var maxFrame: Int

    public init(maxFrame: Int = 1024) {
        self.maxFrame = maxFrame
    }

    /// Feeds one ACL packet; returns the completed frame `(cid, payload)` if this packet finished one. A malformed
    /// sequence (a continuation with no start, an oversize length) drops that handle's partial frame and throws.
    public mutating func push(handle: UInt16, boundary: UInt8, data: [UInt8]) throws(BLEDecodeError) -> (cid: UInt16, payload: [UInt8])? {
        var frame: [UInt8]
        if boundary == 0x01 {
            guard let started = partial[handle] else {
                throw BLEDecodeError("ACL continuation on handle \(handle) without a start")
            }
            frame = started + data
        } else {
            if partial[handle] != nil { partial[handle] = nil }  // a new start abandons an unfinished frame
            frame = data
        }
        guard frame.count >= 4 else {
            partial[handle] = frame
            return nil
        }
        let length = Int(frame[0]) | Int(frame[1]) << 8
        guard length <= maxFrame else {
            partial[handle] = nil
            throw BLEDecodeError("L2CAP frame of \(length) bytes on handle \(handle) (at most \(maxFrame))")
        }
        if frame.count < 4 + length {
            partial[handle] = frame
            return nil
        }
        partial[handle] = nil
        guard frame.count == 4 + length else {
            throw BLEDecodeError("L2CAP frame on handle \(handle) has \(frame.count - 4 - length) bytes past its length")
        }
        let cid = UInt16(frame[2]) | UInt16(frame[3]) << 8
        return (cid, Array(frame[4...]))
    }

    public mutating func drop(handle: UInt16) {
        partial[handle] = nil
    }

    /// One L2CAP frame as ACL packets of at most `aclLength` data bytes (first: boundary 0b00, start of a
    /// non-flushable frame as LE requires; then 0b01 continuations).
    public static func fragments(handle: UInt16, cid: UInt16, payload: [UInt8], aclLength: Int) -> [H4Packet] {
        var frame: [UInt8] = []
        frame.appendLE(UInt16(payload.count))
        frame.appendLE(cid)
        frame += payload
        let size = max(aclLength, 1)
        var out: [H4Packet] = []
        var start = 0
        while start < frame.count {
            let end = min(start + size, frame.count)
            out.append(.acl(handle: handle, boundary: start == 0 ? 0x00 : 0x01, data: Array(frame[start..<end])))
            start = end
        }
        return out
    }

    /// ATT's fixed channel on LE.
    public static let attChannel: UInt16 = 0x0004
}
