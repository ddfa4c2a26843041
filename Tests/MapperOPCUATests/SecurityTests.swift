import EdgeProtocol
import OPCUA
import Foundation
import Testing
import TestSupport
extension AgainstAsyncua {
    /// SecurityPolicy Basic256Sha256 against asyncua with a server certificate (`opcua_peer.py --secure`), with a TCP tap
    /// (Tests/Peers/tcp_tap.py) between mapper and server so the test sees the wire: everything after GetEndpoints must
    /// be encrypted, and the same check finds the values in clear over SecurityPolicy None.
    @Suite("mapper-opcua with Basic256Sha256", .serialized, .timeLimit(.minutes(4)))
    struct OPCUASecurityTests {
        /// A relay in front of `target` recording every read, as hex lines "<connection> <c2s|s2c> <hex>".
        final class Tap: Sendable {
            let port: Int
            let record: URL
            let process: ChildProcess

            init(target: Int, directory: URL) async throws {
                port = try FreePort.next()
                record = directory.appendingPathComponent("wire-\(port).txt")
                process = try ChildProcess(try PeersVenv.python(), [
                    Repository.root.appendingPathComponent("Tests/Peers/tcp_tap.py").path, "--listen", String(port),
                    "--target", "127.0.0.1:\(target)", "--record", record.path,
                ])
                try await process.waitForLine(containing: "READY", timeout: 20)
            }

            deinit { process.signal(SIGKILL) }

            var endpoint: String { "opc.tcp://127.0.0.1:\(port)/" }

            /// The recorded bytes, per connection, in one direction.
            func bytes(_ direction: String) throws -> [Int: [UInt8]] {
                var out: [Int: [UInt8]] = [:]
                for line in try String(contentsOf: record, encoding: .utf8).split(separator: "\n") {
                    let parts = line.split(separator: " ")
                    guard parts.count == 3, parts[1] == direction, let connection = Int(parts[0]) else { continue }
                    let hex = Array(parts[2].utf8)
                    var data: [UInt8] = []
                    var index = 0
                    while index + 1 < hex.count {
                        data.append(UInt8(String(decoding: hex[index..<(index + 2)], as: UTF8.self), radix: 16)!)
                        index += 2
                    }
                    out[connection, default: []] += data
                }
                return out
            }
        }

        static func counter(_ log: DeviceEvents.Log) -> Int {
            log.all.filter { $0.device == "secured" }.compactMap { DeviceEvents.value($0, "counter").flatMap { Int($0) } }
                .max() ?? 0
        }

        static func contains(_ haystack: [UInt8], _ needle: String) -> Bool {
            let n = Array(needle.utf8)
            guard n.count <= haystack.count else { return false }
            return (0...(haystack.count - n.count)).contains { Array(haystack[$0..<($0 + n.count)]) == n }
        }

        func run(_ broker: Broker, _ manifest: String, in directory: URL, extra: [String] = []) throws -> ChildProcess {
            let file = directory.appendingPathComponent("devices-\(UUID()).yaml")
            try manifest.write(to: file, atomically: true, encoding: .utf8)
            return try ChildProcess(try Executables.product("mapper-opcua"), [
                "--broker", broker.address, "--node-name", "test-node", "--data-dir", directory.path, "--devices", file.path,
                "--reconnect-max-ms", "1000",
            ] + extra)
        }

        /// A client certificate and key made with openssl, as a user would bring them (KubeEdge's certificate/privateKey).
        static func clientCertificate(in directory: URL) async throws -> (certificate: String, key: String) {
            let certificate = directory.appendingPathComponent("client.pem"), key = directory.appendingPathComponent("client.key")
            let openssl = try await Command.run(try Executables.which("openssl"), [
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key.path, "-out", certificate.path, "-days", "2",
                "-subj", "/CN=mapper-opcua", "-addext", "subjectAltName=URI:urn:kubeedge-swift:mapper-opcua",
            ], timeout: 60)
            guard openssl.status == 0 else { throw TestSupportError("openssl failed: \(openssl)") }
            return (certificate.path, key.path)
        }

        static let properties: [(name: String, type: String, visitor: String)] = [
            ("label", "STRING", "{nodeID: \"ns=2;s=Device1.String\", subscribe: false}"),
            ("position", "INT", "{nodeID: \"ns=2;s=Device1.Int16\", subscribe: false}"),
            ("counter", "INT", "{nodeID: \"ns=2;s=Device1.Counter\"}"),
        ]

        @Test("SignAndEncrypt: values, subscription and writes as over None, and nothing of them in clear on the wire")
        func signAndEncrypt() async throws {
            let directory = try TemporaryDirectory.make(prefix: "opcua-secure")
            defer { try? FileManager.default.removeItem(at: directory) }
            let broker = try await Broker()
            let peer = try await OPCUAPeer(secureDirectory: directory.appendingPathComponent("server-pki").path)
            let events = try await DeviceEvents(broker: broker)
            let tap = try await Tap(target: peer.port, directory: directory)
            let client = try await Self.clientCertificate(in: directory)

            let secured = v1beta1Manifest(
                device: "secured", protocolName: "opcua",
                protocolConfig: "{url: \"\(tap.endpoint)\", securityPolicy: Basic256Sha256, securityMode: SignAndEncrypt, certificate: \"\(client.certificate)\", privateKey: \"\(client.key)\"}",
                properties: Self.properties, cycleMS: 300)
            // A 3 s channel lifetime: the token is renewed every 2.25 s while the test runs (5 s and more), and a
            // renewal late by up to 0.75 s on a loaded 2-core machine does not yet let the server drop the channel.
            let mapper = try run(broker, secured, in: directory, extra: ["--channel-lifetime-ms", "3000"])
            defer { mapper.signal(SIGKILL) }
            try await events.waitForState("secured", "online", timeout: 30)
            try await events.waitForValues("secured", ["label": "pump-1", "position": "-1234"])
            try await events.events.wait(timeout: 20, "two counter values by subscription") { log in
                Set(log.all.filter { $0.device == "secured" }.compactMap { DeviceEvents.value($0, "counter") }).count >= 2
            }
            let delta = #"{"event_id":"s1","timestamp":1,"twin":{},"delta":{"label":"sealed-valve","position":"77"}}"#
            try await events.client.publish(Topics.Device.twinUpdateDelta("secured"), Array(delta.utf8))
            try await events.waitForValues("secured", ["label": "sealed-valve", "position": "77"])
            #expect(try await peer.read("ns=2;s=Device1.String") == "sealed-valve")
            // Values keep coming across several channel renewals: the counter (0.5 s a tick) moves on by 10, 5 s.
            let counterNow = Self.counter(events.events.value)
            try await events.events.wait(timeout: 60, "the counter 10 ticks on") { log in
                Self.counter(log) >= counterNow + 10
            }
            mapper.signal(SIGTERM)
            _ = await mapper.waitForExit(timeout: 10)

            // On the wire: connection 1 is the discovery (GetEndpoints over None), connection 2 the secured session.
            let sent = try tap.bytes("c2s"), received = try tap.bytes("s2c")
            let discovery = try #require(sent[1]), session = try #require(sent[2])
            #expect(Self.contains(discovery, "SecurityPolicy#None"))
            #expect(Self.contains(session, "SecurityPolicy#Basic256Sha256"))
            // The channel was renewed (OpenSecureChannel again on the same connection) and kept working.
            var splitter = UAChunkSplitter(maxChunkSize: 1 << 20)
            splitter.append(session)
            var opens = 0
            while let chunk = try splitter.next() { if chunk.messageType == "OPN" { opens += 1 } }
            #expect(opens >= 3, "\(opens) OpenSecureChannel requests")
            #expect(events.states("secured").filter { $0 == "offline" }.isEmpty)
            for secret in ["Device1.String", "Device1.Int16", "sealed-valve", "pump-1"] {
                #expect(!Self.contains(session, secret), "\(secret) in clear from the client")
                #expect(!Self.contains(received[2] ?? [], secret), "\(secret) in clear from the server")
            }

            // The same check has teeth: over SecurityPolicy None the node ids and values are in clear.
            let plainTap = try await Tap(target: peer.port, directory: directory)
            let plain = v1beta1Manifest(device: "plain", protocolName: "opcua", protocolConfig: "{url: \"\(plainTap.endpoint)\"}",
                                        properties: Self.properties, cycleMS: 300)
            let plainMapper = try run(broker, plain, in: directory)
            defer { plainMapper.signal(SIGKILL) }
            try await events.waitForValues("plain", ["label": "sealed-valve"], timeout: 30)
            plainMapper.signal(SIGTERM)
            _ = await plainMapper.waitForExit(timeout: 10)
            #expect(Self.contains(try plainTap.bytes("c2s")[1] ?? [], "Device1.String"))
            #expect(Self.contains(try plainTap.bytes("s2c")[1] ?? [], "sealed-valve"))
            await events.close()
        }

        @Test("Sign mode, a user-name login whose password is encrypted, and a client certificate from files")
        func signUserNameAndCertificateFiles() async throws {
            let directory = try TemporaryDirectory.make(prefix: "opcua-secure")
            defer { try? FileManager.default.removeItem(at: directory) }
            let broker = try await Broker()
            let peer = try await OPCUAPeer(user: "operator", password: "s3cret-pw",
                                           secureDirectory: directory.appendingPathComponent("server-pki").path)
            let events = try await DeviceEvents(broker: broker)
            let tap = try await Tap(target: peer.port, directory: directory)
            let client = try await Self.clientCertificate(in: directory)
            let signed = v1beta1Manifest(
                device: "signed", protocolName: "opcua",
                protocolConfig: "{url: \"\(tap.endpoint)\", securityPolicy: Basic256Sha256, securityMode: Sign, userName: operator, password: s3cret-pw, certificate: \"\(client.certificate)\", privateKey: \"\(client.key)\"}",
                properties: Self.properties, cycleMS: 300)
            let wrong = v1beta1Manifest(
                device: "wrong", protocolName: "opcua",
                protocolConfig: "{url: \"\(peer.endpoint)\", securityPolicy: Basic256Sha256, securityMode: SignAndEncrypt, userName: operator, password: nope, certificate: \"\(client.certificate)\", privateKey: \"\(client.key)\"}",
                properties: Self.properties, cycleMS: 300)
            // A secured policy without the client's certificate is a clear error of that device.
            let missing = v1beta1Manifest(
                device: "nocert", protocolName: "opcua",
                protocolConfig: "{url: \"\(peer.endpoint)\", securityPolicy: Basic256Sha256, securityMode: Sign}",
                properties: Self.properties, cycleMS: 300)
            let mapper = try run(broker, signed + "---\n" + wrong + "---\n" + missing, in: directory)
            defer { mapper.signal(SIGKILL) }
            try await events.waitForValues("signed", ["label": "pump-1", "position": "-1234"], timeout: 30)
            try await events.waitForState("wrong", "offline", timeout: 30)
            try await mapper.waitForLine(containing: "needs the client's certificate and privateKey files")
            mapper.signal(SIGTERM)
            _ = await mapper.waitForExit(timeout: 10)
            let session = try #require(try tap.bytes("c2s")[2])
            // Sign mode signs but does not encrypt: node ids are visible, the password never is (it is encrypted for
            // the server's key whatever the mode).
            #expect(Self.contains(session, "Device1.String"))
            #expect(!Self.contains(session, "s3cret-pw"))
            #expect(Self.contains(session, "operator"))
            await events.close()
        }
    }
}
extension AgainstAsyncua {
    /// The decoders fed with what a real asyncua server sent on the wire (captured through the tap while a mapper reads,
    /// writes and subscribes), then with every truncation and random corruptions of it: never a crash.
    @Suite("OPC UA decoders on captured asyncua traffic", .serialized, .timeLimit(.minutes(3)))
    struct OPCUACapturedTrafficTests {
        @Test("real responses decode; truncated and corrupted ones are errors")
        func capturedTraffic() async throws {
            let directory = try TemporaryDirectory.make(prefix: "opcua-capture")
            defer { try? FileManager.default.removeItem(at: directory) }
            let broker = try await Broker()
            let peer = try await OPCUAPeer(tick: 0.2)
            let events = try await DeviceEvents(broker: broker)
            let tap = try await AgainstAsyncua.OPCUASecurityTests.Tap(target: peer.port, directory: directory)
            var properties = AgainstAsyncua.OPCUAIntegrationTests.types.map { ($0.name, $0.type, "{nodeID: \"ns=2;s=Device1.\($0.node)\", subscribe: false}") }
            properties.append(("counter", "INT", "{nodeID: \"ns=2;s=Device1.Counter\"}"))
            let manifest = v1beta1Manifest(device: "captured", protocolName: "opcua",
                                           protocolConfig: "{url: \"\(tap.endpoint)\"}", properties: properties, cycleMS: 200)
            let mapper = try AgainstAsyncua.OPCUASecurityTests().run(broker, manifest, in: directory)
            defer { mapper.signal(SIGKILL) }
            try await events.waitForValues("captured", ["string": "pump-1"], timeout: 30)
            try await events.events.wait(timeout: 20, "three counter values") { log in
                Set(log.all.filter { $0.device == "captured" }.compactMap { DeviceEvents.value($0, "counter") }).count >= 3
            }
            mapper.signal(SIGTERM)
            _ = await mapper.waitForExit(timeout: 10)

            // Split what the server sent into chunks and decode every service response.
            var splitter = UAChunkSplitter(maxChunkSize: 1 << 20)
            splitter.append(try #require(try tap.bytes("s2c")[1]))
            var payloads: [[UInt8]] = []
            var kinds = Set<UInt32>()
            while let chunk = try splitter.next() {
                guard chunk.messageType == "MSG" || chunk.messageType == "OPN" else { continue }
                let payload = try UASecureConversation.open(chunk).payload
                let response = try UAResponse.decode(payload)
                kinds.insert(response.typeID)
                payloads.append(payload)
            }
            #expect(kinds.isSuperset(of: [UAEncodingID.openSecureChannelResponse, UAEncodingID.createSessionResponse,
                                          UAEncodingID.readResponse, UAEncodingID.publishResponse]), "\(kinds.sorted())")
            var generator = SystemRandomNumberGenerator()
            for payload in payloads {
                for length in stride(from: 0, to: payload.count, by: max(1, payload.count / 40)) {
                    if var response = try? UAResponse.decode(Array(payload.prefix(length))) {
                        _ = try? UAResponseBody.read(&response.reader)
                        _ = try? UAResponseBody.publish(&response.reader)
                    }
                }
                for _ in 0..<50 {
                    var mutated = payload
                    for _ in 0..<4 { mutated[Int.random(in: 0..<mutated.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator) }
                    if var response = try? UAResponse.decode(mutated) {
                        var copy = response.reader
                        _ = try? UAResponseBody.read(&response.reader)
                        _ = try? UAResponseBody.publish(&copy)
                    }
                }
            }
            await events.close()
        }
    }
}
