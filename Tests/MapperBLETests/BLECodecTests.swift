import BLE
import EdgeProtocol
import Foundation
import Mapper
import MapperBLEService
import Synchronization
import TestSupport
import Testing

/// The BLE host stack's codecs without sockets: H4 framing, HCI events, L2CAP, ATT, GATT discovery over a table,
/// KubeEdge's data conversion.
@Suite("BLE codecs")
struct BLECodecTests {
    @Test("H4 frames split anywhere in the stream come out whole and in order")
    func h4Deframing() throws {
        let packets: [H4Packet] = [
            .event(code: 0x0e, parameters: [0x01, 0x03, 0x0c, 0x00]),
            .acl(handle: 0x0040, boundary: 0x02, data: [0x03, 0x00, 0x04, 0x00, 0x0b, 0x57, 0x08]),
            .event(code: 0x13, parameters: [0x01, 0x40, 0x00, 0x01, 0x00]),
            .other(type: H4Packet.isoType, bytes: [0x01, 0x00, 0x02, 0x00, 0xaa, 0xbb]),
        ]
        let stream = packets.flatMap(\.h4)
        for cut in 0...stream.count {
            var deframer = H4Deframer()
            let out = try deframer.push(Array(stream[..<cut])) + deframer.push(Array(stream[cut...]))
            #expect(out == packets, "cut at \(cut)")
        }
        var deframer = H4Deframer()
        #expect(throws: BLEDecodeError.self) { try deframer.push([0x09, 0x00]) }
        var small = H4Deframer(maxACLLength: 100)
        #expect(throws: BLEDecodeError.self) { try small.push([0x02, 0x40, 0x00, 0xff, 0x00]) }
    }

    @Test("HCI events as a controller sends them")
    func events() throws {
        // Command Complete of Reset (what bumble and any controller answer to 01 03 0c 00).
        #expect(try HCIEvent(code: 0x0e, parameters: [0x01, 0x03, 0x0c, 0x00])
            == .commandComplete(credits: 1, opcode: HCICommand.reset, returnParameters: [0x00]))
        #expect(try HCIEvent(code: 0x0f, parameters: [0x00, 0x01, 0x0d, 0x20])
            == .commandStatus(status: 0, credits: 1, opcode: HCICommand.leCreateConnection))
        #expect(try HCIEvent(code: 0x05, parameters: [0x00, 0x40, 0x00, 0x13])
            == .disconnectionComplete(status: 0, handle: 0x40, reason: 0x13))
        let completed = try HCIEvent(code: 0x13, parameters: [0x02, 0x40, 0x00, 0x41, 0x00, 0x03, 0x00, 0x01, 0x00])
        #expect(completed == .numberOfCompletedPackets([(handle: 0x40, count: 3), (handle: 0x41, count: 1)]))
        // LE Connection Complete: handle 0x0040, central, random address F0:F0:F0:F0:F0:01.
        let connection: [UInt8] = [0x01, 0x00, 0x40, 0x00, 0x00, 0x01, 0x01, 0xf0, 0xf0, 0xf0, 0xf0, 0xf0,
                                   0x18, 0x00, 0x00, 0x00, 0x90, 0x01, 0x00]
        #expect(try HCIEvent(code: 0x3e, parameters: connection)
            == .leConnectionComplete(status: 0, handle: 0x40, role: 0, addressType: 1, address: BDAddress("F0:F0:F0:F0:F0:01")!))
        // An advertising report with flags and a complete local name.
        let data: [UInt8] = [0x02, 0x01, 0x06, 0x0c, 0x09] + Array("edge-sensor".utf8)
        let report: [UInt8] = [0x02, 0x01, 0x00, 0x01, 0x01, 0xf0, 0xf0, 0xf0, 0xf0, 0xf0, UInt8(data.count)] + data + [0xce]
        guard case .leAdvertisingReports(let reports) = try HCIEvent(code: 0x3e, parameters: report) else {
            Issue.record("not an advertising report")
            return
        }
        #expect(reports.count == 1)
        #expect(reports.first?.address.description == "F0:F0:F0:F0:F0:01")
        #expect(reports.first?.localName == "edge-sensor")
        #expect(reports.first?.rssi == -50)
        // The extended form, as bumble's controller reports a legacy ADV_IND (captured from bumble 0.0.236).
        let extended = Array(hex: "0d0101000101f0f0f0f0f001010000ce000000000000000000140201060c09656467652d73656e736f7203020f18")
        guard case .leAdvertisingReports(let extendedReports) = try HCIEvent(code: 0x3e, parameters: extended) else {
            Issue.record("not an extended advertising report")
            return
        }
        #expect(extendedReports.first?.address.description == "F0:F0:F0:F0:F0:01")
        #expect(extendedReports.first?.eventType == 0x00 && extendedReports.first?.addressType == 1)
        #expect(extendedReports.first?.localName == "edge-sensor")
        for cut in 0..<extended.count { _ = try? HCIEvent(code: 0x3e, parameters: Array(extended[..<cut])) }
        // Too short: an error, never a crash.
        for cut in 0..<report.count {
            _ = try? HCIEvent(code: 0x3e, parameters: Array(report[..<cut]))
        }
        #expect(throws: BLEDecodeError.self) { try HCIEvent(code: 0x3e, parameters: Array(report[..<12])) }
    }

    @Test("commands encode as the Core spec lays them out")
    func commands() {
        #expect(H4Packet.command(opcode: HCICommand.reset, parameters: []).h4 == [0x01, 0x03, 0x0c, 0x00])
        let create = HCICommand.leCreateConnection(peer: BDAddress("F0:F0:F0:F0:F0:01")!, addressType: 1)
        #expect(create.count == 25)
        #expect(Array(create[5..<12]) == [0x01, 0x01, 0xf0, 0xf0, 0xf0, 0xf0, 0xf0])
        #expect(HCICommand.disconnectParameters(handle: 0x40) == [0x40, 0x00, 0x13])
    }

    @Test("L2CAP frames fragment to the ACL size and reassemble")
    func l2cap() throws {
        let payload = (0..<200).map { UInt8(truncatingIfNeeded: $0) }
        let fragments = L2CAPReassembler.fragments(handle: 0x41, cid: 4, payload: payload, aclLength: 27)
        #expect(fragments.count == 8)
        var reassembler = L2CAPReassembler(maxFrame: 512)
        var result: (cid: UInt16, payload: [UInt8])?
        for fragment in fragments {
            guard case .acl(let handle, let boundary, let data) = fragment else { continue }
            #expect(result == nil)
            result = try reassembler.push(handle: handle, boundary: boundary, data: data)
        }
        #expect(result?.cid == 4)
        #expect(result?.payload == payload)
        #expect(throws: BLEDecodeError.self) { try reassembler.push(handle: 0x41, boundary: 0x01, data: [1, 2]) }
        var small = L2CAPReassembler(maxFrame: 50)
        #expect(throws: BLEDecodeError.self) { try small.push(handle: 1, boundary: 2, data: [0xff, 0x00, 0x04, 0x00]) }
    }

    @Test("ATT PDUs decode; malformed ones are errors")
    func att() throws {
        #expect(try ATTServerPDU([0x03, 0xf7, 0x00]) == .exchangeMTU(serverMTU: 247))
        #expect(try ATTServerPDU([0x01, 0x0a, 0x03, 0x00, 0x0a]) == .error(request: 0x0a, handle: 3, code: 0x0a))
        #expect(try ATTServerPDU([0x1b, 0x05, 0x00, 0x66, 0x08]) == .notification(handle: 5, value: [0x66, 0x08]))
        let group = try ATTServerPDU([0x11, 0x06, 0x01, 0x00, 0x03, 0x00, 0x0f, 0x18])
        #expect(group == .readByGroupType([(handle: 1, end: 3, value: [0x0f, 0x18])]))
        #expect(throws: BLEDecodeError.self) { try ATTServerPDU([0x11, 0x06, 0x01, 0x00, 0x03]) }
        #expect(throws: BLEDecodeError.self) { try ATTServerPDU([0x09, 0x01, 0x00]) }
        #expect(throws: BLEDecodeError.self) { try ATTServerPDU([0x05, 0x03, 0x01, 0x00]) }
        #expect(throws: BLEDecodeError.self) { try ATTServerPDU([]) }
        #expect(ATTRequest.write(handle: 0x0b, value: [1, 2]).pdu == [0x12, 0x0b, 0x00, 1, 2])
        #expect(ATTRequest.readByType(start: 1, end: 0xffff, type: .characteristic).pdu == [0x08, 0x01, 0x00, 0xff, 0xff, 0x03, 0x28])
    }

    @Test("UUIDs in every written form")
    func uuids() {
        #expect(BLEUUID("2A19") == BLEUUID(short: 0x2a19))
        #expect(BLEUUID("0x2a19") == BLEUUID(short: 0x2a19))
        #expect(BLEUUID("00002a19-0000-1000-8000-00805f9b34fb") == BLEUUID(short: 0x2a19))
        let custom = BLEUUID("12345678-1234-5678-1234-56789abcdef1")!
        #expect(custom.description == "12345678-1234-5678-1234-56789abcdef1")
        #expect(BLEUUID("123456781234567812345678 9abcdef1") == nil)
        #expect(BLEUUID(littleEndian: custom.littleEndian) == custom)
        #expect(BLEUUID("f000aa0104514000b000000000000000")?.bytes.count == 16)
        #expect(BLEUUID("xyz") == nil)
    }

    @Test("dataConverter as KubeEdge documents it: inclusive indices, reversed when start > end, shift, operations")
    func converter() throws {
        // KubeEdge's CC2650 sample: bytes 1..0 (a little-endian 16-bit raw value), >> 2, × 0.03125 → °C.
        let cc2650 = BLEDataConverter(startIndex: 1, endIndex: 0, shiftRight: 2, operations: [BLEOperation(.multiply, 0.03125)])
        #expect(try cc2650.convert([0x60, 0x0b]).get() == Double(0x0b60 >> 2) * 0.03125)
        // mappers-go's test value: byte 2, ÷ 100.
        let divide = BLEDataConverter(startIndex: 2, endIndex: 2, operations: [BLEOperation(.divide, 100)])
        #expect(try divide.convert([0, 0, 150]).get() == 1.5)
        let ordered = BLEDataConverter(startIndex: 0, endIndex: 1, shiftLeft: 1,
                                       operations: [BLEOperation(.add, 1), BLEOperation(.multiply, 2), BLEOperation(.subtract, 0.5)])
        #expect(try ordered.convert([0x01, 0x02]).get() == (Double(0x0102 << 1) + 1) * 2 - 0.5)
        #expect(throws: BLEDecodeError.self) { try cc2650.convert([0x60]).get() }
        #expect(throws: BLEDecodeError.self) { try BLEDataConverter(startIndex: 0, endIndex: 0, operations: [BLEOperation(.divide, 0)]).convert([1]).get() }
    }

    @Test("values without a converter, and what is written")
    func values() throws {
        #expect(try BLEValueCodec.text([0x66, 0x08], kind: "int").get() == "2150")
        #expect(try BLEValueCodec.text([0xff, 0xff], kind: "int").get() == "-1")
        #expect(try BLEValueCodec.text([87], kind: "int").get() == "87")
        #expect(try BLEValueCodec.text(Array("pump-1".utf8), kind: "string").get() == "pump-1")
        #expect(try BLEValueCodec.text([0, 0, 0xc0, 0x3f], kind: "float").get() == "1.5")
        #expect(try BLEValueCodec.text([1], kind: "boolean").get() == "true")
        #expect(throws: BLEDecodeError.self) { try BLEValueCodec.text([1, 2, 3], kind: "int").get() }
        #expect(BLEValueCodec.text(26.5, kind: "float") == "26.5")
        #expect(BLEValueCodec.text(26.9, kind: "int") == "26")
        #expect(BLEValueCodec.text(42, kind: "double") == "42")
        #expect(BLEValueCodec.bytes("ON", kind: "string", width: nil, dataWrite: ["ON": [1], "OFF": [0]]) == [1])
        #expect(BLEValueCodec.bytes("-2", kind: "int", width: 2, dataWrite: [:]) == [0xfe, 0xff])
        #expect(BLEValueCodec.bytes("67305985", kind: "int", width: 4, dataWrite: [:]) == [1, 2, 3, 4])
        #expect(BLEValueCodec.bytes("70000", kind: "int", width: 2, dataWrite: [:]) == nil)
        #expect(BLEValueCodec.bytes("x", kind: "int", width: nil, dataWrite: [:]) == nil)
        #expect(BLEValueCodec.bytes("AQID", kind: "bytes", width: nil, dataWrite: [:]) == [1, 2, 3])
    }

    @Test("visitor and device config with KubeEdge's keys")
    func config() throws {
        let visitor = try BLEVisitor(config: try JSONValue(parsing: Array("""
            {"characteristicUUID": "f000aa0104514000b000000000000000",
             "dataConverter": {"startIndex": 1, "endIndex": 0, "shiftRight": 2,
                               "orderOfOperations": [{"operationType": "Multiply", "operationValue": 0.03125}]},
             "dataWrite": {"ON": [1], "OFF": "AA=="}}
            """.utf8)))
        #expect(visitor.converter == BLEDataConverter(startIndex: 1, endIndex: 0, shiftRight: 2, operations: [BLEOperation(.multiply, 0.03125)]))
        #expect(visitor.dataWrite == ["ON": [1], "OFF": [0]])
        #expect(throws: SpecError.self) { try BLEVisitor(config: .object([])) }
        #expect(throws: SpecError.self) { try BLEVisitor(config: .object([("characteristicUUID", .string("nope"))])) }
        #expect(throws: SpecError.self) {
            try BLEVisitor(config: try JSONValue(parsing: Array(#"{"characteristicUUID":"2A19","dataConverter":{"orderOfOperations":[{"operationType":"Power","operationValue":2}]}}"#.utf8)))
        }
        #expect(try BLEDeviceSettings.target(.object([("macAddress", .string("f0:f0:f0:f0:f0:01"))])) == .address(BDAddress("F0:F0:F0:F0:F0:01")!))
        #expect(try BLEDeviceSettings.target(.object([("name", .string("edge-sensor"))])) == .name("edge-sensor"))
        #expect(throws: SpecError.self) { try BLEDeviceSettings.target(.object([])) }
        #expect(throws: SpecError.self) { try BLEDeviceSettings.target(.object([("macAddress", .string("F0:F0"))])) }
        #expect(HCITransportSpec("tcp:127.0.0.1:9100") == .tcp(host: "127.0.0.1", port: 9100))
        #expect(HCITransportSpec("serial:/dev/ttyUSB0@1000000") == .serial(path: "/dev/ttyUSB0", baud: 1_000_000))
        #expect(HCITransportSpec("serial:/dev/ttyS1") == .serial(path: "/dev/ttyS1", baud: 115_200))
        #expect(HCITransportSpec("hci1") == .userChannel(index: 1))
        #expect(HCITransportSpec("tcp:host") == nil)
        #expect(HCITransportSpec("serial:/dev/ttyS1@12") == nil)
        #expect(HCITransportSpec("usb:0") == nil)
    }

    @Test("GATT discovery, long reads and writes over a table-driven server")
    func gattDiscovery() async throws {
        let server = TableATTServer.sensor()
        var client = GATTClient(bearer: server)
        try await client.exchangeMTU(247)
        #expect(client.mtu == 100)
        let database = try await client.discover()
        #expect(database.services.map(\.uuid) == [BLEUUID(short: 0x180f), BLEUUID("12345678-1234-5678-1234-56789abcdef0")!])
        let battery = try #require(database.characteristic(BLEUUID(short: 0x2a19)))
        #expect(battery.valueHandle == 3 && battery.cccd == 4 && battery.canNotify)
        let label = try #require(database.characteristic(BLEUUID("12345678-1234-5678-1234-56789abcdef3")!))
        #expect(label.cccd == nil && label.canRead && !label.canWrite)
        let long = try await client.read(label.valueHandle)
        #expect(long == Array(repeating: UInt8(ascii: "x"), count: 250))
        let setpoint = try #require(database.characteristic(BLEUUID("12345678-1234-5678-1234-56789abcdef2")!))
        try await client.write(setpoint.valueHandle, [9, 8, 7, 6])
        #expect(try await client.read(setpoint.valueHandle) == [9, 8, 7, 6])
        await #expect(throws: BLEError.self) { try await client.write(battery.valueHandle, [1]) }
        try await client.subscribe(battery)
        #expect(server.value(4) == [1, 0])
    }

    @Test("random and hostile bytes never crash the decoders", arguments: [UInt64(1), 2, 3])
    func fuzz(seed: UInt64) throws {
        var random = SplitMix64(seed: seed)
        for _ in 0..<3000 {
            let length = Int.random(in: 0...80, using: &random)
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &random) }
            var deframer = H4Deframer(maxACLLength: 512)
            if let packets = try? deframer.push(bytes) {
                for case .event(let code, let parameters) in packets { _ = try? HCIEvent(code: code, parameters: parameters) }
            }
            _ = try? HCIEvent(code: bytes.first ?? 0x3e, parameters: Array(bytes.dropFirst()))
            _ = try? HCIEvent(code: 0x3e, parameters: [0x02] + bytes)
            _ = try? HCIEvent(code: 0x13, parameters: bytes)
            _ = try? ATTServerPDU(bytes)
            _ = try? ATTServerPDU([[0x01, 0x05, 0x09, 0x11, 0x0b, 0x1b, 0x1d][Int.random(in: 0..<7, using: &random)]] + bytes)
            var reassembler = L2CAPReassembler(maxFrame: 128)
            _ = try? reassembler.push(handle: 1, boundary: UInt8.random(in: 0...3, using: &random), data: bytes)
            _ = try? reassembler.push(handle: 1, boundary: 1, data: bytes)
            _ = AdvertisingData.structures(bytes)
            _ = try? GATTCharacteristic.declaration(handle: 1, value: bytes)
        }
    }
}

/// An ATT server over an attribute table (handle → type, value, permissions), enough for a GATT client's
/// discovery, reads, long reads and writes. Pure: it stands in for a peripheral in codec tests.
final class TableATTServer: ATTBearer {
    struct Attribute {
        var handle: UInt16
        var type: BLEUUID
        var value: [UInt8]
        var writable = false
    }

    private let attributes: Mutex<[Attribute]>
    let mtu: UInt16

    init(_ attributes: [Attribute], mtu: UInt16) {
        self.attributes = Mutex(attributes)
        self.mtu = mtu
    }

    func value(_ handle: UInt16) -> [UInt8]? {
        attributes.withLock { list in list.first { $0.handle == handle }?.value }
    }

    /// The shape of Tests/Peers/ble_peer.py's peripheral, with a 250-byte label for long reads.
    static func sensor() -> TableATTServer {
        let base = "12345678-1234-5678-1234-56789abcdef"
        func declaration(_ properties: UInt8, _ valueHandle: UInt16, _ uuid: BLEUUID) -> [UInt8] {
            [properties, UInt8(valueHandle & 0xff), UInt8(valueHandle >> 8)] + uuid.littleEndian
        }
        let custom = { (n: Int) in BLEUUID(base + String(n))! }
        return TableATTServer([
            Attribute(handle: 1, type: .primaryService, value: BLEUUID(short: 0x180f).littleEndian),
            Attribute(handle: 2, type: .characteristic, value: declaration(0x12, 3, BLEUUID(short: 0x2a19))),
            Attribute(handle: 3, type: BLEUUID(short: 0x2a19), value: [87]),
            Attribute(handle: 4, type: .clientCharacteristicConfiguration, value: [0, 0], writable: true),
            Attribute(handle: 5, type: .primaryService, value: custom(0).littleEndian),
            Attribute(handle: 6, type: .characteristic, value: declaration(0x12, 7, custom(1))),
            Attribute(handle: 7, type: custom(1), value: [0x66, 0x08]),
            Attribute(handle: 8, type: .clientCharacteristicConfiguration, value: [0, 0], writable: true),
            Attribute(handle: 9, type: .characteristic, value: declaration(0x0a, 10, custom(2))),
            Attribute(handle: 10, type: custom(2), value: [1, 2, 3, 4], writable: true),
            Attribute(handle: 11, type: .characteristic, value: declaration(0x02, 12, custom(3))),
            Attribute(handle: 12, type: custom(3), value: Array(repeating: UInt8(ascii: "x"), count: 250)),
        ], mtu: 100)
    }

    func send(_ request: ATTRequest) throws {
        _ = try answer(request)
    }

    func request(_ request: ATTRequest) async throws -> ATTServerPDU {
        try answer(request)
    }

    private func answer(_ request: ATTRequest) throws -> ATTServerPDU {
        let list = attributes.withLock { $0 }
        let notFound = ATTServerPDU.error(request: request.opcode, handle: 0, code: 0x0a)
        switch request {
        case .exchangeMTU:
            return .exchangeMTU(serverMTU: mtu)
        case .readByGroupType(let start, let end, let type):
            let services = list.filter { $0.type == type && $0.handle >= start && $0.handle <= end }
            guard let first = services.first else { return notFound }
            let size = first.value.count
            var items: [(handle: UInt16, end: UInt16, value: [UInt8])] = []
            for service in services where service.value.count == size {
                let next = list.first { $0.type == .primaryService && $0.handle > service.handle }?.handle
                items.append((service.handle, next.map { $0 - 1 } ?? list.last!.handle, service.value))
                if (items.count + 1) * (size + 4) > Int(mtu) - 2 { break }
            }
            return .readByGroupType(items)
        case .readByType(let start, let end, let type):
            let found = list.filter { $0.type == type && $0.handle >= start && $0.handle <= end }
            guard let first = found.first else { return notFound }
            return .readByType(found.prefix { $0.value.count == first.value.count }.prefix(2).map { ($0.handle, $0.value) })
        case .findInformation(let start, let end):
            let found = list.filter { $0.handle >= start && $0.handle <= end && $0.type.bytes.count == 2 }
            return found.isEmpty ? notFound : .findInformation(found.map { ($0.handle, $0.type) })
        case .read(let handle):
            guard let attribute = list.first(where: { $0.handle == handle }) else {
                return .error(request: request.opcode, handle: handle, code: 0x01)
            }
            return .read(Array(attribute.value.prefix(Int(mtu) - 1)))
        case .readBlob(let handle, let offset):
            guard let attribute = list.first(where: { $0.handle == handle }) else {
                return .error(request: request.opcode, handle: handle, code: 0x01)
            }
            guard Int(offset) <= attribute.value.count else { return .error(request: request.opcode, handle: handle, code: 0x07) }
            return .readBlob(Array(attribute.value[Int(offset)...].prefix(Int(mtu) - 1)))
        case .write(let handle, let value), .writeCommand(let handle, let value):
            guard list.contains(where: { $0.handle == handle && $0.writable }) else {
                return .error(request: request.opcode, handle: handle, code: 0x03)
            }
            attributes.withLock { list in
                if let index = list.firstIndex(where: { $0.handle == handle }) { list[index].value = value }
            }
            return .write
        case .confirmation:
            return .write
        }
    }
}

extension Array where Element == UInt8 {
    init(hex: String) {
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            bytes.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        self = bytes
    }
}
