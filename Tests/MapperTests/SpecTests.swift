import EdgeProtocol
import Foundation
import Mapper
import Testing
import TestSupport

/// KubeEdge's own manifests, shared by the projects (../shared/kubeedge-manifests from the checkout).
enum Manifests {
    static var root: URL { TestSupport.Manifests.root }

    static func text(_ relative: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(relative), encoding: .utf8)
    }
}

@Suite("Device specs")
struct SpecTests {
    @Test("KubeEdge's v1alpha2 Modbus samples load as they are (TCP and RTU instances and their model)")
    func v1alpha2Samples() throws {
        let docs = try ["modbus-device-model.yaml", "modbustcp-device-instance.yaml", "modbusrtu-device-instance.yaml"]
            .flatMap { try SpecDocuments.load(yaml: try Manifests.text("samples/v1alpha2/\($0)")) }
        let results = SpecParser().devices(in: docs)
        #expect(results.map(\.name) == ["modbustcp-device", "modbusrtu-device"])
        let tcp = try results[0].result.get()
        #expect(tcp.protocolName == "modbus")
        #expect(tcp.apiVersion == "v1alpha2")
        #expect(tcp.node == "test")
        #expect(tcp.protocolConfig["slaveID"] == .number("1"))
        #expect(tcp.protocolConfig["tcp"]?["ip"] == .string("192.168.33.1"))
        #expect(tcp.properties.map(\.name) == ["temperature", "temperature-enable"])
        #expect(tcp.properties[0].kind == .int)
        #expect(tcp.properties[0].visitor["register"] == .string("CoilRegister"))
        // collectCycle 5000 is nanoseconds for mappers-go: raised to the 10 ms floor. No cycle: 1 s.
        #expect(tcp.properties[0].collectCycle == .milliseconds(10))
        #expect(tcp.properties[1].collectCycle == .seconds(1))
        let rtu = try results[1].result.get()
        #expect(rtu.protocolConfig["com"]?["serialPort"] == .string("/dev/ttyS0"))
        #expect(rtu.protocolConfig["com"]?["parity"] == .string("even"))
        #expect(rtu.problems.isEmpty)
    }

    @Test("a v1beta1 Device and DeviceModel pair")
    func v1beta1() throws {
        let yaml = """
            apiVersion: devices.kubeedge.io/v1beta1
            kind: DeviceModel
            metadata: {name: meter, namespace: default}
            spec:
              protocol: modbus
              properties:
                - {name: power, type: FLOAT, accessMode: ReadOnly}
                - {name: relay, type: BOOLEAN, accessMode: ReadWrite}
            ---
            apiVersion: devices.kubeedge.io/v1beta1
            kind: Device
            metadata: {name: meter-1, namespace: default}
            spec:
              deviceModelRef: {name: meter}
              nodeName: edge-1
              protocol:
                protocolName: modbus
                configData: {ip: 10.0.0.5, port: 502, slaveID: 3}
              properties:
                - name: power
                  collectCycle: 250
                  visitors:
                    protocolName: modbus
                    configData: {register: InputRegister, offset: 4, limit: 2, scale: 0.1, dataType: float32}
                - name: relay
                  desired: {value: "true"}
                  visitors: {protocolName: modbus, configData: {register: CoilRegister, offset: 1, limit: 1}}
                - name: ghost
                  visitors: {protocolName: modbus, configData: {register: CoilRegister, offset: 2}}
            """
        let results = SpecParser().devices(in: try SpecDocuments.load(yaml: yaml))
        let spec = try #require(results.first).result.get()
        #expect(spec.id == "meter-1")
        #expect(spec.node == "edge-1")
        #expect(spec.protocolConfig["slaveID"] == .number("3"))
        #expect(spec.properties.map(\.name) == ["power", "relay"])
        #expect(spec.properties[0].collectCycle == .milliseconds(250))
        #expect(spec.properties[0].accessMode == .readOnly)
        #expect(spec.properties[0].visitor["scale"] == .number("0.1"))
        #expect(spec.properties[1].desired == "true")
        #expect(spec.problems == ["property ghost: not in DeviceModel 'meter'"])
    }

    @Test("a device whose model is missing is an error for that device only")
    func missingModel() throws {
        let yaml = """
            kind: Device
            apiVersion: devices.kubeedge.io/v1beta1
            metadata: {name: lost}
            spec: {deviceModelRef: {name: nowhere}, protocol: {protocolName: modbus}}
            """
        let results = SpecParser().devices(in: try SpecDocuments.load(yaml: yaml))
        #expect(throws: SpecError.self) { try results[0].result.get() }
    }

    @Test("the bus payload: {device, model} as JSON")
    func busJSON() throws {
        let json = """
            {"device":{"apiVersion":"devices.kubeedge.io/v1beta1","kind":"Device","metadata":{"name":"d"},
             "spec":{"deviceModelRef":{"name":"m"},"protocol":{"protocolName":"modbus","configData":{"ip":"h"}},
             "properties":[{"name":"p","collectCycle":1000,"visitors":{"protocolName":"modbus",
             "configData":{"register":"HoldingRegister","offset":0}}}]}},
             "model":{"kind":"DeviceModel","metadata":{"name":"m"},"spec":{"properties":[{"name":"p","type":"INT"}]}}}
            """
        let root = try JSONValue(parsing: Array(json.utf8))
        let spec = try SpecParser().device(try #require(root["device"]), model: root["model"])
        #expect(spec.properties.first?.name == "p")
        #expect(spec.properties.first?.collectCycle == .seconds(1))
    }
}

@Suite("Twin messages")
struct TwinMessageTests {
    @Test("twin/update as mappers-go sends it, with the value timestamp")
    func twinUpdate() {
        let bytes = TwinMessages.twinUpdate(
            [TwinReading(name: "temperature", value: "23", type: "int")], timestamp: 1_700_000_000_000)
        #expect(String(decoding: bytes, as: UTF8.self) == """
            {"event_id":"","timestamp":1700000000000,"twin":{"temperature":{"actual":{"value":"23",\
            "metadata":{"timestamp":1700000000000}},"metadata":{"type":"int"}}}}
            """)
    }

    @Test("state/update")
    func stateUpdate() {
        let bytes = TwinMessages.stateUpdate(.offline, timestamp: 5)
        #expect(String(decoding: bytes, as: UTF8.self) == #"{"event_id":"","timestamp":5,"state":"offline"}"#)
    }

    @Test("desired values from a delta: its delta map, else twins whose expected differs from actual")
    func delta() throws {
        let delta = """
            {"event_id":"x","timestamp":1,"twin":{"switch":{"expected":{"value":"ON","metadata":{"timestamp":1}},\
            "actual":{"value":"OFF"},"optional":false,"metadata":{"type":"string"}}},"delta":{"switch":"ON"}}
            """
        let values = try TwinMessages.desiredValues(inDelta: Array(delta.utf8))
        #expect(values.map(\.name) == ["switch"] && values.map(\.value) == ["ON"])
        let twinOnly = #"{"twin":{"a":{"expected":{"value":"1"},"actual":{"value":"1"}},"b":{"expected":{"value":"2"}}}}"#
        let values2 = try TwinMessages.desiredValues(inDelta: Array(twinOnly.utf8))
        #expect(values2.map(\.name) == ["b"])
        #expect(throws: SpecError.self) { try TwinMessages.desiredValues(inDelta: Array("nope".utf8)) }
    }

    @Test("backoff doubles up to its cap")
    func backoff() {
        let policy = BackoffPolicy(initial: .milliseconds(100), maximum: .seconds(1))
        #expect((1...6).map { policy.delay(afterFailures: $0) }
            == [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .seconds(1), .seconds(1)])
    }
}
