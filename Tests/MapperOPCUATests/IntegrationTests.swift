import EdgeProtocol
import Foundation
import Testing
import TestSupport

/// Every test that starts an asyncua server, one at a time: asyncua builds its address space in Python for seconds
/// of CPU, and several at once on a 2-core machine starve the rest of the parallel suite.
@Suite("against asyncua, one server at a time", .serialized)
struct AgainstAsyncua {}
extension AgainstAsyncua {
    /// mapper-opcua (the executable) against a real asyncua 2.1.0 server (Tests/Peers/opcua_peer.py), through a real
    /// mosquitto broker: values on `$hw/events/device/<id>/twin/update`, states on `state/update`, desired values from
    /// `twin/update/delta`.
    @Suite("mapper-opcua against a real asyncua server", .serialized, .timeLimit(.minutes(4)))
    struct OPCUAIntegrationTests {
        /// (twin property, model type, NodeId suffix under Device1, expected twin text).
        static let types: [(name: String, type: String, node: String, expected: String)] = [
            ("boolean", "BOOLEAN", "Boolean", "true"), ("sbyte", "INT", "SByte", "-12"), ("byte", "INT", "Byte", "200"),
            ("int16", "INT", "Int16", "-1234"), ("uint16", "INT", "UInt16", "54321"),
            ("int32", "INT", "Int32", "-123456789"), ("uint32", "INT", "UInt32", "3000000000"),
            ("int64", "INT", "Int64", "-9000000000"), ("uint64", "INT", "UInt64", "18000000000000000000"),
            ("float", "FLOAT", "Float", "3.5"), ("double", "DOUBLE", "Double", "-2.25"),
            ("string", "STRING", "String", "pump-1"), ("datetime", "STRING", "DateTime", "2026-12-03T10:00:00.250Z"),
            ("bytestring", "STRING", "ByteString", "AAH+/w=="),
            ("guid", "STRING", "Guid", "72962B91-FA75-4AE6-8D28-B404DC7DAF63"),
            ("nodeid", "STRING", "NodeId", "ns=2;i=1001"), ("qualified", "STRING", "QualifiedName", "2:Pump"),
            ("localized", "STRING", "LocalizedText", "running"), ("array", "STRING", "Int32Array", "[1,2,3]"),
        ]

        func startMapper(_ broker: Broker, manifest: String, reconnectMaxMs: Int = 1000) throws -> (ChildProcess, URL) {
            let dir = try TemporaryDirectory.make(prefix: "mapper-opcua")
            let file = dir.appendingPathComponent("devices.yaml")
            try manifest.write(to: file, atomically: true, encoding: .utf8)
            let mapper = try ChildProcess(try Executables.product("mapper-opcua"), [
                "--broker", broker.address, "--node-name", "test-node", "--data-dir", dir.path, "--devices", file.path,
                "--reconnect-max-ms", String(reconnectMaxMs),
            ])
            return (mapper, dir)
        }

        @Test("every built-in type as a twin value; the counter arrives by subscription; deltas written and read back; a type mismatch and an unknown node stay per-property errors")
        func typesSubscriptionAndWrites() async throws {
            let broker = try await Broker()
            let peer = try await OPCUAPeer()
            let events = try await DeviceEvents(broker: broker)
            var properties = Self.types.map { ($0.name, $0.type, "{nodeID: \"ns=2;s=Device1.\($0.node)\", subscribe: false}") }
            // Polled once a minute: only the subscription can deliver its changes during the test.
            properties.append(("counter", "INT", "{nodeID: \"ns=2;s=Device1.Counter\"}"))
            properties.append(("byPath", "INT", "{browseName: \"2:Device1/2:Int16\"}"))
            properties.append(("missing", "INT", "{nodeID: \"ns=2;s=Device1.Nope\", subscribe: false}"))
            var manifest = v1beta1Manifest(device: "types", protocolName: "opcua",
                                           protocolConfig: "{url: \"\(peer.endpoint)\"}", properties: properties, cycleMS: 500)
            manifest = manifest.replacingOccurrences(
                of: "- name: counter\n      collectCycle: 500", with: "- name: counter\n      collectCycle: 60000")
            #expect(manifest.contains("collectCycle: 60000"))
            let (mapper, dir) = try startMapper(broker, manifest: manifest)
            defer {
                mapper.signal(SIGKILL)
                try? FileManager.default.removeItem(at: dir)
            }
            try await events.waitForState("types", "online", timeout: 30)
            var expected = Dictionary(uniqueKeysWithValues: Self.types.map { ($0.name, $0.expected) })
            expected["byPath"] = "-1234"
            try await events.waitForValues("types", expected)
            let last = try #require(events.events.value.last { $0.device == "types" && $0.json["twin"]?["int32"] != nil })
            #expect(last.json["twin"]?["int32"]?["metadata"]?["type"] == .string("int"))
            #expect(last.json["twin"]?["double"]?["metadata"]?["type"] == .string("float"))
            #expect(last.json["twin"]?["boolean"]?["metadata"]?["type"] == .string("boolean"))

            // The counter moves every 0.5 s on the server; three new values arrive although it is polled once a minute.
            try await events.events.wait(timeout: 20, "three counter values by subscription") { log in
                Set(log.all.filter { $0.device == "types" }.compactMap { DeviceEvents.value($0, "counter") }).count >= 3
            }

            // An unknown node is an error of that property only.
            try await mapper.waitForLine(containing: "BadNodeIdUnknown")

            // Deltas as twin publishes them: written with the node's own type, read back, and held by the server.
            let delta = #"{"event_id":"d1","timestamp":1,"twin":{},"delta":{"string":"valve-9","int16":"-7","double":"12.5","boolean":"false","uint64":"42","double2":"x"}}"#
            try await events.client.publish(Topics.Device.twinUpdateDelta("types"), Array(delta.utf8))
            try await events.waitForValues("types", ["string": "valve-9", "int16": "-7", "double": "12.5", "boolean": "false",
                                                     "uint64": "42"])
            #expect(try await peer.read("ns=2;s=Device1.String") == "valve-9")
            #expect(try await peer.read("ns=2;s=Device1.Int16") == "-7")
            #expect(try await peer.read("ns=2;s=Device1.Double") == "12.5")

            // A value that does not fit the node's type is refused with a clear message; the others keep reporting.
            let mismatch = #"{"event_id":"d2","timestamp":2,"twin":{},"delta":{"double":"warm"}}"#
            try await events.client.publish(Topics.Device.twinUpdateDelta("types"), Array(mismatch.utf8))
            try await mapper.waitForLine(containing: #""warm" is not a Double"#)
            try await events.waitForMoreTwins("types", count: 3)
            #expect(events.states("types").last == "online")

            mapper.signal(SIGTERM)
            #expect(await mapper.waitForExit(timeout: 10) == 0)
            await events.close()
        }

        @Test("the server stops and starts: offline, then online again by itself with its subscription re-created")
        func serverRestart() async throws {
            let broker = try await Broker()
            let peer = try await OPCUAPeer()
            let events = try await DeviceEvents(broker: broker)
            let manifest = v1beta1Manifest(
                device: "plant", protocolName: "opcua", protocolConfig: "{url: \"\(peer.endpoint)\", timeout: 2000}",
                properties: [("counter", "INT", "{nodeID: \"ns=2;s=Device1.Counter\"}"),
                             ("label", "STRING", "{nodeID: \"ns=2;s=Device1.String\", subscribe: false}")],
                cycleMS: 500)
            let (mapper, dir) = try startMapper(broker, manifest: manifest)
            defer {
                mapper.signal(SIGKILL)
                try? FileManager.default.removeItem(at: dir)
            }
            try await events.waitForState("plant", "online", timeout: 30)
            try await events.waitForValues("plant", ["label": "pump-1"])

            await peer.kill()
            try await events.waitForState("plant", "offline", timeout: 30)
            try await peer.start()
            try await events.waitForState("plant", "online", timeout: 60)
            // The restarted server counts from 0 again: small values prove the new subscription delivers.
            try await events.events.wait(timeout: 30, "counter values from the restarted server") { log in
                let recent = log.all.suffix(from: log.all.lastIndex { $0.device == "plant" && $0.kind == "state" } ?? 0)
                return Set(recent.compactMap { DeviceEvents.value($0, "counter") }).count >= 2
            }
            #expect(mapper.allOutput.contains("lost the device") || mapper.allOutput.contains("cannot connect"))
            await events.close()
        }

        @Test("user-name login: the right password connects, a wrong one is a clear error of that device only")
        func userNameLogin() async throws {
            let broker = try await Broker()
            let peer = try await OPCUAPeer(user: "operator", password: "s3cret")
            let events = try await DeviceEvents(broker: broker)
            let dir = try TemporaryDirectory.make(prefix: "opcua-secret")
            defer { try? FileManager.default.removeItem(at: dir) }
            // mappers-go reads `password` from a file: both forms work.
            let secretFile = dir.appendingPathComponent("password")
            try "s3cret\n".write(to: secretFile, atomically: true, encoding: .utf8)
            let good = v1beta1Manifest(
                device: "good", protocolName: "opcua",
                protocolConfig: "{url: \"\(peer.endpoint)\", userName: operator, password: \"\(secretFile.path)\"}",
                properties: [("label", "STRING", "{nodeID: \"ns=2;s=Device1.String\", subscribe: false}")])
            let literal = v1beta1Manifest(
                device: "literal", protocolName: "opcua",
                protocolConfig: "{url: \"\(peer.endpoint)\", userName: operator, password: s3cret}",
                properties: [("label", "STRING", "{nodeID: \"ns=2;s=Device1.String\"}")])
            let bad = v1beta1Manifest(
                device: "bad", protocolName: "opcua",
                protocolConfig: "{url: \"\(peer.endpoint)\", userName: operator, password: wrong}",
                properties: [("label", "STRING", "{nodeID: \"ns=2;s=Device1.String\"}")])
            let anonymous = v1beta1Manifest(
                device: "anon", protocolName: "opcua", protocolConfig: "{url: \"\(peer.endpoint)\"}",
                properties: [("label", "STRING", "{nodeID: \"ns=2;s=Device1.String\"}")])
            // The refused devices retry every 3 s at most: enough to see them retry, not enough to load the server.
            let (mapper, mapperDir) = try startMapper(broker, manifest: [good, literal, bad, anonymous].joined(separator: "---\n"),
                                                      reconnectMaxMs: 3000)
            defer {
                mapper.signal(SIGKILL)
                try? FileManager.default.removeItem(at: mapperDir)
            }
            try await events.waitForValues("good", ["label": "pump-1"], timeout: 30)
            do {
                try await events.waitForValues("literal", ["label": "pump-1"], timeout: 30)
            } catch {
                Issue.record("\(error); mapper said: \(mapper.lines.filter { $0.contains("device=literal") }.suffix(6))")
            }
            try await events.waitForState("bad", "offline", timeout: 30)
            try await events.waitForState("anon", "offline", timeout: 30)
            try await mapper.waitForLine(containing: "device=bad")
            let badLines = mapper.lines.filter { $0.contains("device=bad") && $0.contains("cannot connect") }
            #expect(badLines.contains { $0.contains("BadUserAccessDenied") || $0.contains("BadIdentityTokenRejected") || $0.contains("BadIdentityTokenInvalid") },
                    "\(badLines)")
            let anonLines = mapper.lines.filter { $0.contains("device=anon") && $0.contains("cannot connect") }
            #expect(anonLines.contains { $0.contains("anonymous") || $0.contains("Bad") }, "\(anonLines)")
            // The good devices keep reporting while the bad ones retry.
            try await events.waitForMoreTwins("good", count: 2)
            await events.close()
        }
    }
}
extension AgainstAsyncua {
    /// A PublishResponse lost on the way (dropped by the tap, as a lossy link would): the client times its Publish out,
    /// sees the gap in sequence numbers on the next one, republishes the missing notification, and no value is lost.
    @Suite("mapper-opcua republishes a lost notification", .serialized, .timeLimit(.minutes(3)))
    struct OPCUARepublishTests {
        @Test("every counter value reaches twin/update although one PublishResponse was dropped")
        func republish() async throws {
            let directory = try TemporaryDirectory.make(prefix: "opcua-republish")
            defer { try? FileManager.default.removeItem(at: directory) }
            let broker = try await Broker()
            let peer = try await OPCUAPeer(tick: 0.5)
            let events = try await DeviceEvents(broker: broker)
            let tapPort = try FreePort.next()
            let record = directory.appendingPathComponent("wire.txt")
            let tap = try ChildProcess(try PeersVenv.python(), [
                Repository.root.appendingPathComponent("Tests/Peers/tcp_tap.py").path, "--listen", String(tapPort),
                "--target", "127.0.0.1:\(peer.port)", "--record", record.path, "--drop-publish", "3",
            ])
            defer { tap.signal(SIGKILL) }
            try await tap.waitForLine(containing: "READY", timeout: 20)
            let manifest = v1beta1Manifest(
                device: "lossy", protocolName: "opcua", protocolConfig: "{url: \"opc.tcp://127.0.0.1:\(tapPort)/\"}",
                properties: [("counter", "INT", "{nodeID: \"ns=2;s=Device1.Counter\"}")], cycleMS: 60_000)
            let (mapper, mapperDir) = try AgainstAsyncua.OPCUAIntegrationTests().startMapper(broker, manifest: manifest)
            defer {
                mapper.signal(SIGKILL)
                try? FileManager.default.removeItem(at: mapperDir)
            }
            try await events.waitForState("lossy", "online", timeout: 30)
            try await eventually("the tap dropped a PublishResponse", timeout: 30) {
                ((try? String(contentsOf: record, encoding: .utf8)) ?? "").contains(" dropped ")
            }
            // Wait well past the drop (the lost Publish times out after 5 s), then check for holes.
            let atDrop = Self.counters(events.events.value).max() ?? 0
            try await events.events.wait(timeout: 40, "counter values 8 past the drop") { log in
                (Self.counters(log).max() ?? 0) >= atDrop + 8
            }
            let seen = Set(Self.counters(events.events.value))
            let first = try #require(seen.min()), last = try #require(seen.max())
            let missing = (first...last).filter { !seen.contains($0) }
            #expect(missing.isEmpty, "values never reported: \(missing)")
            // The mapper asked for the lost notification again (RepublishRequest, type 832, on the wire).
            let wire = try String(contentsOf: record, encoding: .utf8)
            #expect(wire.split(separator: "\n").contains { $0.contains(" c2s ") && $0.contains("01004003") })
            await events.close()
        }

        static func counters(_ log: DeviceEvents.Log) -> [Int] {
            log.all.filter { $0.device == "lossy" }.compactMap { DeviceEvents.value($0, "counter").flatMap { Int($0) } }
        }
    }
}
