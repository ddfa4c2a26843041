import EdgeProtocol
import Mapper
@testable import MapperModbusService
import Testing

@Suite("Modbus value conversion")
struct CodecTests {
    func visitor(_ yaml: String, kind: PropertyKind = .int) throws -> ModbusVisitor {
        try ModbusVisitor(config: try #require(try SpecDocuments.load(yaml: yaml).first), kind: kind)
    }

    @Test("every data type, byte and word order, scale")
    func decode() throws {
        #expect(try visitor("{register: HoldingRegister, offset: 0, dataType: int16}").decode(registers: [0xFB2E]) == "-1234")
        #expect(try visitor("{register: HoldingRegister, offset: 0, dataType: uint16}").decode(registers: [54321]) == "54321")
        #expect(try visitor("{register: HoldingRegister, offset: 0, limit: 2, dataType: int32}")
            .decode(registers: [0xF8A4, 0x32EB]) == "-123456789")
        #expect(try visitor("{register: HoldingRegister, offset: 0, dataType: uint32}")
            .decode(registers: [0xB2D0, 0x5E00]) == "3000000000")
        #expect(try visitor("{register: HoldingRegister, offset: 0, dataType: float32}", kind: .float)
            .decode(registers: [0x4060, 0]) == "3.5")
        #expect(try visitor("{register: HoldingRegister, offset: 0, dataType: float64}", kind: .double)
            .decode(registers: [0xC002, 0, 0, 0]) == "-2.25")
        #expect(try visitor("{register: HoldingRegister, offset: 0, limit: 3, dataType: string}", kind: .string)
            .decode(registers: [0x4142, 0x4344, 0]) == "ABCD")
        #expect(try visitor("{register: HoldingRegister, offset: 0, dataType: uint16, isSwap: true}")
            .decode(registers: [0x3412]) == "4660")
        #expect(try visitor("{register: HoldingRegister, offset: 0, dataType: int32, isRegisterSwap: true}")
            .decode(registers: [0xE240, 0x0001]) == "123456")
        #expect(try visitor("{register: HoldingRegister, offset: 0, dataType: float32, isSwap: true, isRegisterSwap: true}",
                            kind: .float).decode(registers: [0, 0xC03F]) == "1.5")
        #expect(try visitor("{register: InputRegister, offset: 0, dataType: uint16, scale: 0.1}")
            .decode(registers: [255]) == "25.5")
        #expect(try visitor("{register: CoilRegister, offset: 0}", kind: .boolean).decode(bits: [true]) == "true")
        #expect(try visitor("{register: CoilRegister, offset: 0, limit: 3}").decode(bits: [true, false, true]) == "5")
    }

    @Test("encoding is the inverse of decoding")
    func roundTrip() throws {
        let cases: [(String, PropertyKind, String)] = [
            ("{register: HoldingRegister, offset: 0, dataType: int16}", .int, "-1234"),
            ("{register: HoldingRegister, offset: 0, dataType: uint32, isRegisterSwap: true}", .int, "3000000000"),
            ("{register: HoldingRegister, offset: 0, dataType: float32, isSwap: true}", .float, "12.5"),
            ("{register: HoldingRegister, offset: 0, dataType: float64, isRegisterSwap: true}", .double, "-0.125"),
            ("{register: HoldingRegister, offset: 0, dataType: uint16, scale: 0.5}", .float, "21.5"),
            ("{register: HoldingRegister, offset: 0, limit: 2, dataType: string}", .string, "AB12"),
        ]
        for (yaml, kind, value) in cases {
            let v = try visitor(yaml, kind: kind)
            #expect(try v.decode(registers: try v.encode(registers: value)) == value, "\(yaml)")
        }
        #expect(try visitor("{register: CoilRegister, offset: 0}", kind: .boolean).encode(bits: "true") == [true])
        #expect(throws: PropertyFailure.self) {
            try self.visitor("{register: HoldingRegister, offset: 0, dataType: int16}").encode(registers: "70000")
        }
    }

    @Test("defaults from the model type and the limit; twin types edgecore accepts")
    func defaults() throws {
        #expect(try visitor("{register: HoldingRegister, offset: 1, limit: 2}").dataType == .int32)
        #expect(try visitor("{register: HoldingRegister, offset: 1}", kind: .float).dataType == .float32)
        #expect(try visitor("{register: CoilRegister, offset: 1}").twinType == "int")
        #expect(try visitor("{register: HoldingRegister, offset: 1, scale: 0.1}").twinType == "float")
        #expect(try visitor("{register: HoldingRegister, offset: 1}", kind: .double).twinType == "float")
    }

    @Test("bad visitors give a clear reason")
    func badVisitors() throws {
        func reason(_ yaml: String) -> String {
            do {
                _ = try visitor(yaml)
                return "accepted"
            } catch {
                return "\(error)"
            }
        }
        #expect(reason("{register: FancyRegister, offset: 0}").contains("unknown register type 'FancyRegister'"))
        #expect(reason("{register: HoldingRegister, offset: 70000}").contains("offset 70000 out of range"))
        #expect(reason("{register: HoldingRegister, offset: 65535, limit: 2}").contains("runs past"))
        #expect(reason("{register: HoldingRegister, offset: 0, limit: 3, dataType: int32}").contains("does not fit"))
        #expect(reason("{register: HoldingRegister, offset: 0, dataType: complex}").contains("unknown data type"))
        #expect(reason("{register: CoilRegister, offset: 0, dataType: float32}").contains("holds bits"))
    }

    @Test("protocol config: TCP and RTU, v1alpha2 nested and v1beta1 flat")
    func settings() throws {
        func settings(_ yaml: String) throws -> ModbusDeviceSettings {
            try ModbusDeviceSettings(config: try #require(try SpecDocuments.load(yaml: yaml).first))
        }
        #expect(try settings("{slaveID: 1, tcp: {ip: 192.168.33.1, port: 502}}").transport
            == .tcp(host: "192.168.33.1", port: 502))
        #expect(try settings("{ip: 127.0.0.1, port: 1502, deviceID: 7}").slaveID == 7)
        #expect(try settings("{slaveID: 1, com: {serialPort: /dev/ttyS0, baudRate: 9600, dataBits: 8, parity: even, stopBits: 1}}")
            .transport == .rtu(path: "/dev/ttyS0", baudRate: 9600, dataBits: 8, parity: "E", stopBits: 1))
        #expect(throws: SpecError.self) { try settings("{slaveID: 1}") }
        #expect(throws: SpecError.self) { try settings("{slaveID: 300, tcp: {ip: h}}") }
    }

    @Test("numbers never use exponents (the twin value pattern forbids '+')")
    func formatting() {
        #expect(ModbusVisitor.format(1.5e-7) == "0.00000015")
        #expect(ModbusVisitor.format(1.25e20) == "125000000000000000000")
        #expect(ModbusVisitor.format(-42) == "-42")
    }
}
