import Bus
import EdgeProtocol
import Foundation
import Logging
import Mapper
@testable import MapperModbusService
import Testing
import TestSupport

/// The register map of the "all data types" device (raw words on the peer, expected twin values).
enum TypesDevice {
    static let peerArguments = [
        "--hr", "0=0xFB2E,54321,0xF8A4,0x32EB,0xB2D0,0x5E00,0x4060,0,0xC002,0,0,0,0x4142,0x4344,0x3412",
        "--hr", "16=0xE240,0x0001,0,0xC03F,255",
        "--hr", "40=0,0",
    ]
    static let properties: [(name: String, type: String, visitor: String)] = [
        ("i16", "INT", "{register: HoldingRegister, offset: 0, limit: 1, dataType: int16}"),
        ("u16", "INT", "{register: HoldingRegister, offset: 1, limit: 1, dataType: uint16}"),
        ("i32", "INT", "{register: HoldingRegister, offset: 2, limit: 2, dataType: int32}"),
        ("u32", "INT", "{register: HoldingRegister, offset: 4, limit: 2, dataType: uint32}"),
        ("f32", "FLOAT", "{register: HoldingRegister, offset: 6, limit: 2, dataType: float32}"),
        ("f64", "DOUBLE", "{register: HoldingRegister, offset: 8, limit: 4, dataType: float64}"),
        ("text", "STRING", "{register: HoldingRegister, offset: 12, limit: 2, dataType: string}"),
        ("swapped", "INT", "{register: HoldingRegister, offset: 14, limit: 1, dataType: uint16, isSwap: true}"),
        ("lowfirst", "INT", "{register: HoldingRegister, offset: 16, limit: 2, dataType: int32, isRegisterSwap: true}"),
        ("bothswap", "FLOAT",
         "{register: HoldingRegister, offset: 18, limit: 2, dataType: float32, isSwap: true, isRegisterSwap: true}"),
        ("scaled", "FLOAT", "{register: HoldingRegister, offset: 20, limit: 1, dataType: uint16, scale: 0.1}"),
        ("input", "INT", "{register: InputRegister, offset: 5, limit: 1, dataType: int16, scale: 2}"),
        ("coil", "BOOLEAN", "{register: CoilRegister, offset: 4, limit: 1, dataType: boolean}"),
        ("discrete", "BOOLEAN", "{register: DiscreteInputRegister, offset: 4, limit: 1}"),
        ("setpoint", "INT", "{register: HoldingRegister, offset: 30, limit: 1, dataType: uint16}"),
        ("relay", "BOOLEAN", "{register: CoilRegister, offset: 11, limit: 1}"),
        ("level", "FLOAT", "{register: HoldingRegister, offset: 40, limit: 2, dataType: float32}"),
    ]
    static let expected = [
        "i16": "-1234", "u16": "54321", "i32": "-123456789", "u32": "3000000000", "f32": "3.5", "f64": "-2.25",
        "text": "ABCD", "swapped": "4660", "lowfirst": "123456", "bothswap": "1.5", "scaled": "25.5",
        "input": "410", "coil": "true", "discrete": "false", "setpoint": "130", "relay": "false", "level": "0",
    ]
}

@Suite("mapper-modbus against a real pymodbus server", .serialized, .timeLimit(.minutes(3)))
struct IntegrationTests {
    @Test("standalone over TCP: every data type with scale and byte/word order; a delta is written and read back")
    func standaloneTCP() async throws {
        let broker = try await Broker()
        let peer = try await ModbusPeer(overrides: TypesDevice.peerArguments)
        let events = try await DeviceEvents(broker: broker)
        let dir = try TemporaryDirectory.make(prefix: "mapper")
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("devices.yaml")
        try v1beta1Manifest(device: "types", protocolConfig: "{ip: 127.0.0.1, port: \(peer.port), slaveID: 1}",
                            properties: TypesDevice.properties).write(to: file, atomically: true, encoding: .utf8)
        let mapper = try ChildProcess(try Executables.product("mapper-modbus"), [
            "--broker", broker.address, "--node-name", "test-node", "--data-dir", dir.path,
            "--devices", file.path,
        ])
        defer { mapper.signal(SIGKILL) }
        try await events.waitForState("types", "online")
        try await events.waitForValues("types", TypesDevice.expected)
        // The twin type edgecore validates against.
        let last = try #require(events.events.value.last { $0.device == "types" && $0.kind == "twin" })
        #expect(last.json["twin"]?["scaled"]?["metadata"]?["type"] == .string("float"))
        #expect(last.json["twin"]?["i32"]?["metadata"]?["type"] == .string("int"))
        #expect(last.json["twin"]?["coil"]?["metadata"]?["type"] == .string("boolean"))

        // A delta as twin publishes it.
        let delta = #"{"event_id":"e1","timestamp":1,"twin":{"setpoint":{"expected":{"value":"777"}}},"#
            + #""delta":{"setpoint":"777","relay":"true","level":"12.5","input":"5"}}"#
        try await events.client.publish(Topics.Device.twinUpdateDelta("types"), Array(delta.utf8))
        try await events.waitForValues("types", ["setpoint": "777", "relay": "true", "level": "12.5"])
        try await mapper.waitForLine(containing: "desired value for a read-only property not written")

        // What the device itself now holds, read independently.
        let check = ModbusConnection(transport: .tcp(host: "127.0.0.1", port: peer.port), slaveID: 1)
        try await check.connect()
        #expect(try await check.readRegisters(.holdingRegister, address: 30, count: 1) == [777])
        #expect(try await check.readBits(.coil, address: 11, count: 1) == [true])
        #expect(try await check.readRegisters(.holdingRegister, address: 40, count: 2) == [0x4148, 0])
        await check.close()

        mapper.signal(SIGTERM)
        #expect(await mapper.waitForExit(timeout: 5) == 0)
        await events.close()
    }

    @Test("RTU over a socat pty pair: values, and a write read back")
    func rtu() async throws {
        let broker = try await Broker()
        let peer = try await ModbusPeer(rtu: true, overrides: ["--hr", "0=0xFB2E,0x4060,0"])
        let events = try await DeviceEvents(broker: broker)
        let mapper = try await InProcessMapper(broker: broker)
        let path = try #require(peer.serialPath)
        try mapper.load(yaml: v1beta1Manifest(
            device: "serial",
            protocolConfig: "{slaveID: 1, com: {serialPort: '\(path)', baudRate: 19200, dataBits: 8, parity: none, stopBits: 1}}",
            properties: [
                ("temp", "INT", "{register: HoldingRegister, offset: 0, limit: 1}"),
                ("ratio", "FLOAT", "{register: HoldingRegister, offset: 1, limit: 2}"),
                ("lamp", "BOOLEAN", "{register: CoilRegister, offset: 2, limit: 1}"),
                ("alarm", "BOOLEAN", "{register: DiscreteInputRegister, offset: 3, limit: 1}"),
            ]))
        try await events.waitForState("serial", "online")
        try await events.waitForValues("serial", ["temp": "-1234", "ratio": "3.5", "lamp": "true", "alarm": "true"])
        let delta = #"{"event_id":"e","timestamp":1,"twin":{},"delta":{"temp":"-7","lamp":"false"}}"#
        try await events.client.publish(Topics.Device.twinUpdateDelta("serial"), Array(delta.utf8))
        try await events.waitForValues("serial", ["temp": "-7", "lamp": "false"])
        await mapper.stop()
        await events.close()
    }

    @Test("a killed server marks its device offline, the other device keeps reporting, and it recovers by itself")
    func offlineAndRecovery() async throws {
        let broker = try await Broker()
        let peerA = try await ModbusPeer(overrides: ["--hr", "0=11"])
        let peerB = try await ModbusPeer(overrides: ["--hr", "0=22"])
        let events = try await DeviceEvents(broker: broker)
        let mapper = try await InProcessMapper(broker: broker)
        let property = [("v", "INT", "{register: HoldingRegister, offset: 0, limit: 1}")]
        try mapper.load(yaml:
            v1beta1Manifest(device: "a", protocolConfig: "{ip: 127.0.0.1, port: \(peerA.port)}", properties: property)
            + "---\n"
            + v1beta1Manifest(device: "b", protocolConfig: "{ip: 127.0.0.1, port: \(peerB.port)}", properties: property))
        try await events.waitForValues("a", ["v": "11"])
        try await events.waitForValues("b", ["v": "22"])
        try await events.waitForState("a", "online")
        try await events.waitForState("b", "online")
        let statesOfB = events.states("b")

        await peerA.kill()
        try await events.waitForState("a", "offline")
        try await events.waitForMoreTwins("b", count: 5)  // b is not held up by a's reconnect attempts
        let twinsOfA = events.twins("a")

        try await peerA.start()
        try await events.waitForState("a", "online")
        try await events.waitForMoreTwins("a", count: 1)
        #expect(events.twins("a") > twinsOfA)
        #expect(events.states("a").suffix(3) == ["online", "offline", "online"])
        #expect(events.states("b") == statesOfB, "b's state must not change while a is down")
        await mapper.stop()
        await events.close()
    }

    @Test("bad config is a clear error for that device only: unknown register type, offset out of range, unreachable host")
    func badConfig() async throws {
        let broker = try await Broker()
        let peer = try await ModbusPeer(overrides: ["--hr", "0=5"])
        let events = try await DeviceEvents(broker: broker)
        let mapper = try await InProcessMapper(broker: broker)
        let closedPort = try FreePort.next()
        let good = "{ip: 127.0.0.1, port: \(peer.port)}"
        try mapper.load(yaml: [
            v1beta1Manifest(device: "good", protocolConfig: good,
                            properties: [("v", "INT", "{register: HoldingRegister, offset: 0}")]),
            v1beta1Manifest(device: "badregister", protocolConfig: good,
                            properties: [("v", "INT", "{register: FancyRegister, offset: 0}")]),
            v1beta1Manifest(device: "badoffset", protocolConfig: good,
                            properties: [("v", "INT", "{register: HoldingRegister, offset: 70000}")]),
            v1beta1Manifest(device: "pastend", protocolConfig: good, properties: [
                ("v", "INT", "{register: HoldingRegister, offset: 5000}"),
                ("w", "INT", "{register: HoldingRegister, offset: 0}"),
            ]),
            v1beta1Manifest(device: "unreachable", protocolConfig: "{ip: 127.0.0.1, port: \(closedPort)}",
                            properties: [("v", "INT", "{register: HoldingRegister, offset: 0}")]),
            v1beta1Manifest(device: "notransport", protocolConfig: "{slaveID: 1}",
                            properties: [("v", "INT", "{register: HoldingRegister, offset: 0}")]),
        ].joined(separator: "---\n"))

        try await events.waitForValues("good", ["v": "5"])
        try await events.waitForValues("pastend", ["w": "5"])   // its other property still reports
        try await events.waitForState("badregister", "unknown")
        try await events.waitForState("badoffset", "unknown")
        try await events.waitForState("notransport", "unknown")
        try await events.waitForState("unreachable", "offline")
        try await mapper.log.waitFor("cannot read property")
        let entries = mapper.log.all
        func reason(_ device: String, _ message: String) -> String? {
            entries.first { $0.metadata["device"] == device && $0.message == message }?.metadata["reason"]
        }
        #expect(reason("badregister", "device config not usable")?.contains("unknown register type 'FancyRegister'") == true)
        #expect(reason("badoffset", "device config not usable")?.contains("offset 70000 out of range") == true)
        #expect(reason("notransport", "device config not usable")?.contains("neither tcp") == true)
        #expect(reason("unreachable", "cannot connect to device")?.contains("Connection refused") == true)
        #expect(reason("pastend", "cannot read property")?.contains("Illegal data address") == true)
        try await events.waitForMoreTwins("good", count: 3)
        #expect(events.states("pastend").last == "online")
        await mapper.stop()
        await events.close()
    }

    @Test("devices from the bus: added, changed and removed without restart")
    func busDevices() async throws {
        let broker = try await Broker()
        let peer = try await ModbusPeer(overrides: ["--hr", "0=1,2"])
        let events = try await DeviceEvents(broker: broker)
        let dir = try TemporaryDirectory.make(prefix: "mapper")
        defer { try? FileManager.default.removeItem(at: dir) }
        let mapper = try ChildProcess(try Executables.product("mapper-modbus"), [
            "--broker", broker.address, "--node-name", "test-node", "--data-dir", dir.path,
        ])
        defer { mapper.signal(SIGKILL) }
        try await mapper.waitForLine(containing: "connected to broker")

        func spec(offset: Int) throws -> [UInt8] {
            let docs = try SpecDocuments.load(yaml: v1beta1Manifest(
                device: "busdev", protocolConfig: "{ip: 127.0.0.1, port: \(peer.port)}",
                properties: [("v", "INT", "{register: HoldingRegister, offset: \(offset)}")]))
            let payload: JSONValue = .object([(key: "device", value: docs[1]), (key: "model", value: docs[0])])
            return try payload.serialized()
        }
        try await events.client.publish(Topics.deviceSpec("busdev"), try spec(offset: 0), retain: true)
        try await events.waitForValues("busdev", ["v": "1"])
        try await events.client.publish(Topics.deviceSpec("busdev"), try spec(offset: 1), retain: true)
        try await events.waitForValues("busdev", ["v": "2"])
        try await mapper.waitForLine(containing: "device changed")
        try await events.client.publish(Topics.deviceSpec("busdev"), [], retain: true)
        try await mapper.waitForLine(containing: "device removed")
        mapper.signal(SIGTERM)
        #expect(await mapper.waitForExit(timeout: 5) == 0)
        await events.close()
    }
}
