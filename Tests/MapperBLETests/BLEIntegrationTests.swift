import EdgeProtocol
import Foundation
import Testing
import TestSupport

/// mapper-ble (the executable) through a real mosquitto broker against bumble's virtual controllers
/// (Tests/Peers/ble_peer.py): the mapper drives one controller over plain HCI (H4 over TCP, or a pty as a UART);
/// the peripherals are bumble GATT servers on other controllers of the same virtual link. This machine kind has no
/// kernel Bluetooth, so no real radio is involved; everything above the controller is real.
@Suite("mapper-ble against bumble", .serialized, .timeLimit(.minutes(4)))
struct BLEIntegrationTests {
    static let sensor = "F0:F0:F0:F0:F0:01"
    static let second = "F0:F0:F0:F0:F0:02"
    static let base = "12345678-1234-5678-1234-56789abcdef"

    /// The peer's characteristics as KubeEdge visitors; `temperatureCycle` is the poll period of the notified one.
    static func properties(temperatureCycle: Int? = nil) -> [(name: String, type: String, visitor: String)] {
        [
            ("temperature", "FLOAT", "{characteristicUUID: \(base)1, dataConverter: {startIndex: 1, endIndex: 0, orderOfOperations: [{operationType: Divide, operationValue: 100}]}}"),
            ("battery", "INT", "{characteristicUUID: \"2A19\"}"),
            ("setpoint", "INT", "{characteristicUUID: \(base)2}"),
            ("label", "STRING", "{characteristicUUID: \(base)3}"),
            ("power", "STRING", "{characteristicUUID: \(base)4, dataWrite: {\"ON\": [1], \"OFF\": [0]}}"),
            ("alarm", "INT", "{characteristicUUID: \(base)5}"),
        ]
    }

    static func manifest(_ device: String, config: String, properties: [(name: String, type: String, visitor: String)],
                         slowTemperature: Bool = true) -> String {
        var text = v1beta1Manifest(device: device, protocolName: "bluetooth", protocolConfig: config,
                                   properties: properties, cycleMS: 500)
        if slowTemperature {
            // Polled once a minute: during the test only notifications can deliver its changes.
            text = text.replacingOccurrences(of: "- name: temperature\n      collectCycle: 500",
                                             with: "- name: temperature\n      collectCycle: 60000")
        }
        return text
    }

    /// `viaConfig`: the transport and timeouts come from the `mapper-ble` section of a --config file instead of flags.
    func startMapper(_ broker: Broker, hci: String, manifest: String, viaConfig: Bool = false) throws -> (ChildProcess, URL) {
        let dir = try TemporaryDirectory.make(prefix: "mapper-ble")
        let file = dir.appendingPathComponent("devices.yaml")
        try manifest.write(to: file, atomically: true, encoding: .utf8)
        var arguments = ["--broker", broker.address, "--node-name", "test-node", "--data-dir", dir.path, "--devices", file.path]
        if viaConfig {
            let config = dir.appendingPathComponent("config.yaml")
            try """
                mapper-ble:
                  hci: "\(hci)"
                  reconnectMaxMs: 1000
                  scanTimeoutMs: 5000
                  requestTimeoutMs: 3000
                """.write(to: config, atomically: true, encoding: .utf8)
            arguments += ["--config", config.path]
        } else {
            arguments += ["--hci", hci, "--reconnect-max-ms", "1000", "--scan-timeout-ms", "5000", "--request-timeout-ms", "3000"]
        }
        return (try ChildProcess(try Executables.product("mapper-ble"), arguments), dir)
    }

    @Test("values after conversion, a notification and an indication without a poll, deltas written and read back, an unknown characteristic as a per-device error")
    func valuesNotificationsAndWrites() async throws {
        let broker = try await Broker()
        let peer = try await BLEPeer(tick: 0)
        let events = try await DeviceEvents(broker: broker)
        var properties = Self.properties()
        properties.append(("missing", "INT", "{characteristicUUID: \(Self.base)9}"))
        let manifest = Self.manifest("sensor", config: "{macAddress: \"\(Self.sensor)\"}", properties: properties)
        #expect(manifest.contains("collectCycle: 60000"))
        let (mapper, dir) = try startMapper(broker, hci: peer.hci, manifest: manifest)
        defer {
            mapper.signal(SIGKILL)
            try? FileManager.default.removeItem(at: dir)
        }
        try await events.waitForState("sensor", "online", timeout: 30)
        // 2150 centi-degrees, little-endian int16, through KubeEdge's dataConverter (bytes 1..0, ÷ 100).
        try await events.waitForValues("sensor", ["temperature": "21.5", "battery": "87", "setpoint": "67305985",
                                                  "label": "pump-1", "power": "OFF", "alarm": "0"])

        // The peripheral notifies a new temperature: it arrives although the property is polled once a minute.
        try await peer.command("temp \(Self.sensor) 2733")
        try await events.waitForValues("sensor", ["temperature": "27.33"], timeout: 10)
        try await peer.command("alarm \(Self.sensor) 5")
        try await events.waitForValues("sensor", ["alarm": "5"], timeout: 10)

        // An unknown characteristic is that property's error; the device stays online and the others report.
        try await mapper.waitForLine(containing: "characteristic \(Self.base)9 not found on \(Self.sensor)", timeout: 20)

        // Desired values: an int in the characteristic's own width, and a string through dataWrite.
        let delta = #"{"event_id":"d1","timestamp":1,"twin":{},"delta":{"setpoint":"-2","power":"ON"}}"#
        try await events.client.publish(Topics.Device.twinUpdateDelta("sensor"), Array(delta.utf8))
        try await peer.child.waitForLine(containing: "setpoint \(Self.sensor) feffffff", timeout: 20)
        try await peer.child.waitForLine(containing: "power \(Self.sensor) 01", timeout: 20)
        try await events.waitForValues("sensor", ["setpoint": "-2", "power": "ON"])

        // A value that cannot be written is refused with a clear message.
        let bad = #"{"event_id":"d2","timestamp":2,"twin":{},"delta":{"setpoint":"warm"}}"#
        try await events.client.publish(Topics.Device.twinUpdateDelta("sensor"), Array(bad.utf8))
        try await mapper.waitForLine(containing: #""warm" cannot be written as int"#, timeout: 20)
        #expect(events.states("sensor").last == "online")

        mapper.signal(SIGTERM)
        #expect(await mapper.waitForExit(timeout: 10) == 0)
        await events.close()
    }

    @Test("two peripherals on one controller; one goes away (offline) and comes back (online again by itself) while the other keeps reporting")
    func awayAndBackWithTwoPeripherals() async throws {
        let broker = try await Broker()
        let peer = try await BLEPeer(peripherals: [(Self.sensor, "edge-sensor"), (Self.second, "edge-sensor-2")], tick: 0.5)
        let events = try await DeviceEvents(broker: broker)
        // The second is found by its advertised name.
        let manifest = Self.manifest("near", config: "{macAddress: \"\(Self.sensor)\"}", properties: Self.properties(),
                                     slowTemperature: false)
            + "---\n" + Self.manifest("far", config: "{name: edge-sensor-2}", properties: Self.properties(), slowTemperature: false)
        let (mapper, dir) = try startMapper(broker, hci: peer.hci, manifest: manifest)
        defer {
            mapper.signal(SIGKILL)
            try? FileManager.default.removeItem(at: dir)
        }
        try await events.waitForState("near", "online", timeout: 30)
        try await events.waitForState("far", "online", timeout: 30)
        try await events.waitForValues("near", ["battery": "87", "label": "pump-1"])
        try await events.waitForValues("far", ["battery": "87", "label": "pump-1"])

        try await peer.command("away \(Self.sensor)")
        try await events.waitForState("near", "offline", timeout: 20)
        // The other peripheral keeps reporting while the first is away.
        try await events.waitForMoreTwins("far", count: 3)
        #expect(events.states("far").last == "online")

        try await peer.command("back \(Self.sensor)")
        try await events.waitForState("near", "online", timeout: 30)
        let temperatures = events.events.value.filter { $0.device == "near" }.compactMap { DeviceEvents.value($0, "temperature") }
        try await events.events.wait(timeout: 20, "new temperatures from the reconnected peripheral") { log in
            log.all.filter { $0.device == "near" }.compactMap { DeviceEvents.value($0, "temperature") }.count > temperatures.count + 1
        }
        mapper.signal(SIGTERM)
        #expect(await mapper.waitForExit(timeout: 10) == 0)
        await events.close()
    }

    @Test("over a UART: the controller on a pty (serial:PATH@baud), given in the --config file's mapper-ble section")
    func uartTransport() async throws {
        let broker = try await Broker()
        let peer = try await BLEPeer(uart: true, tick: 0.5)
        let events = try await DeviceEvents(broker: broker)
        let manifest = Self.manifest("uart", config: "{macAddress: \"\(Self.sensor)\"}", properties: Self.properties(),
                                     slowTemperature: false)
        let (mapper, dir) = try startMapper(broker, hci: peer.hci, manifest: manifest, viaConfig: true)
        defer {
            mapper.signal(SIGKILL)
            try? FileManager.default.removeItem(at: dir)
        }
        try await events.waitForState("uart", "online", timeout: 30)
        try await events.waitForValues("uart", ["battery": "87", "label": "pump-1"])
        try await events.waitForMoreTwins("uart", count: 3)
        mapper.signal(SIGTERM)
        #expect(await mapper.waitForExit(timeout: 10) == 0)
        await events.close()
    }
}

/// mapper-ble against a fake controller (Tests/Peers/hci_fake.py) that sends malformed HCI events, ATT PDUs, L2CAP
/// frames and finally bytes of no H4 type: a fake, because no real controller misbehaves on demand.
@Suite("mapper-ble against a misbehaving controller", .timeLimit(.minutes(2)))
struct BLEMalformedInputTests {
    @Test("malformed events, PDUs and frames are logged and survived; an out-of-sync stream reopens the transport")
    func malformedInput() async throws {
        let broker = try await Broker()
        let port = try FreePort.next()
        let fake = try ChildProcess(try PeersVenv.python(), [
            Repository.root.appendingPathComponent("Tests/Peers/hci_fake.py").path, "--port", String(port),
        ])
        defer { fake.signal(SIGKILL) }
        try await fake.waitForLine(containing: "READY", timeout: 20)
        let events = try await DeviceEvents(broker: broker)
        let manifest = v1beta1Manifest(device: "fragile", protocolName: "bluetooth",
                                       protocolConfig: "{macAddress: \"F0:F0:F0:F0:F0:01\"}",
                                       properties: [("battery", "INT", "{characteristicUUID: \"2A19\"}")], cycleMS: 100)
        let dir = try TemporaryDirectory.make(prefix: "mapper-ble-fake")
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("devices.yaml")
        try manifest.write(to: file, atomically: true, encoding: .utf8)
        let mapper = try ChildProcess(try Executables.product("mapper-ble"), [
            "--broker", broker.address, "--node-name", "test-node", "--data-dir", dir.path, "--devices", file.path,
            "--hci", "tcp:127.0.0.1:\(port)", "--reconnect-max-ms", "500", "--request-timeout-ms", "2000",
        ])
        defer { mapper.signal(SIGKILL) }
        // The first connection's answers are malformed: that attempt fails, the device is connected again.
        try await mapper.waitForLine(containing: "malformed HCI event", timeout: 20)
        try await mapper.waitForLine(containing: "malformed ATT PDU", timeout: 20)
        try await fake.waitForLine(containing: "link 2", timeout: 20)
        // The second serves values among junk, then loses sync: the host opens the transport again.
        try await fake.waitForLine(containing: "transport 2", timeout: 30)
        try await mapper.waitForLine(containing: "out of sync", timeout: 5)
        try await fake.waitForLine(containing: "link 3", timeout: 30)
        try await events.waitForState("fragile", "online", timeout: 20)
        try await events.waitForValues("fragile", ["battery": "87"])
        try await events.waitForMoreTwins("fragile", count: 3)
        mapper.signal(SIGTERM)
        #expect(await mapper.waitForExit(timeout: 10) == 0)
        await events.close()
    }
}
