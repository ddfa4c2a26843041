import EdgeProtocol
import Foundation
import Mapper
import MapperOPCUAService
import OPCUA
import Testing

/// The OPC UA binary codecs without sockets (OPC 10000-6 §5.2 encodings, §7.1 framing).
@Suite("OPC UA binary codecs")
struct UACodecTests {
    static let everyType: [UAVariant] = [
        .boolean(true), .sbyte(-12), .byte(200), .int16(-1234), .uint16(54321), .int32(-123_456_789),
        .uint32(3_000_000_000), .int64(-9_000_000_000), .uint64(18_000_000_000_000_000_000), .float(3.5), .double(-2.25),
        .string("pump-1"), .string(nil), .dateTime(133_537_608_002_500_000), .guid(UAGuid("72962B91-FA75-4AE6-8D28-B404DC7DAF63")!),
        .byteString([0, 1, 0xFE, 0xFF]), .xmlElement("<a/>"),
        .nodeId(UANodeId("ns=2;s=Device1.Temperature")!), .nodeId(.numeric(85)), .nodeId(.numeric(70_000, namespace: 300)),
        .expandedNodeId(UAExpandedNodeId(.numeric(7), namespaceURI: "urn:x", serverIndex: 2)),
        .statusCode(0x8034_0000), .qualifiedName(UAQualifiedName(namespace: 2, "Pump")),
        .localizedText(UALocalizedText(locale: "en", "running")),
        .extensionObject(UAExtensionObject(typeId: .numeric(811), body: [1, 2, 3])),
        .dataValue(UADataValue(value: .int32(5), status: 0x4000_0000, sourceTimestamp: 1, serverTimestamp: 2)),
        .variant(.double(1.5)),
        .array(type: 6, [.int32(1), .int32(2), .int32(3)], dimensions: nil),
        .array(type: 12, [.string("a"), .string(nil)], dimensions: [2]),
    ]

    @Test("every built-in type survives a Variant round trip", arguments: everyType)
    func variantRoundTrip(value: UAVariant) throws {
        var writer = UAWriter()
        value.encode(&writer)
        var reader = UAReader(writer.bytes)
        #expect(try UAVariant.decode(&reader) == value)
        #expect(reader.isAtEnd)
    }

    @Test("NodeIds in every encoding and text form")
    func nodeIds() throws {
        // The compact forms the spec prescribes: two-byte, four-byte, numeric, string, guid, opaque.
        let cases: [(UANodeId, [UInt8])] = [
            (.numeric(85), [0x00, 85]),
            (.numeric(1025, namespace: 2), [0x01, 2, 0x01, 0x04]),
            (.numeric(70_000, namespace: 300), [0x02, 0x2C, 0x01, 0x70, 0x11, 0x01, 0x00]),
            (UANodeId("ns=2;s=A")!, [0x03, 2, 0, 1, 0, 0, 0, 0x41]),
        ]
        for (node, bytes) in cases {
            var w = UAWriter()
            node.encode(&w)
            #expect(w.bytes == bytes, "\(node)")
            var r = UAReader(bytes)
            #expect(try UANodeId.decode(&r) == node)
        }
        for text in ["i=85", "ns=2;s=Device1.Temperature", "ns=1;g=72962B91-FA75-4AE6-8D28-B404DC7DAF63", "ns=3;b=AAH+/w=="] {
            #expect(UANodeId(text)?.description == text)
        }
        for bad in ["", "ns=x;i=1", "q=1", "i=abc", "ns=70000;i=1"] { #expect(UANodeId(bad) == nil, "\(bad)") }
    }

    @Test("a message split into chunks is framed, sequenced and reassembled")
    func chunking() throws {
        let payload = (0..<5000).map { UInt8($0 % 251) }
        let chunks = UASecureConversation.chunks(messageType: "MSG", channelID: 7, tokenID: 9, firstSequence: 41,
                                                 requestID: 3, payload: payload, maxBodySize: 1200)
        #expect(chunks.count == 5)
        #expect(chunks.dropLast().allSatisfy { $0.chunkType == UInt8(ascii: "C") })
        #expect(chunks.last?.chunkType == UInt8(ascii: "F"))
        var splitter = UAChunkSplitter(maxChunkSize: 2000)
        // Delivered a few bytes at a time, as a socket may.
        let stream = chunks.flatMap(\.bytes)
        var received: [UAChunk] = []
        for start in stride(from: 0, to: stream.count, by: 7) {
            splitter.append(stream[start..<min(start + 7, stream.count)])
            while let chunk = try splitter.next() { received.append(chunk) }
        }
        #expect(received == chunks)
        var assembled: [UInt8] = []
        var sequences: [UInt32] = []
        for chunk in received {
            let part = try UASecureConversation.open(chunk)
            #expect(part.channelID == 7 && part.requestID == 3)
            sequences.append(part.sequenceNumber)
            assembled += part.payload
        }
        #expect(assembled == payload)
        #expect(sequences == [41, 42, 43, 44, 45])
    }

    @Test("an oversized chunk is refused from its header, before it is buffered")
    func oversizedChunk() {
        var splitter = UAChunkSplitter(maxChunkSize: 65_536)
        var header = UAWriter()
        header.append(Array("MSG".utf8))
        header.byte(UInt8(ascii: "F"))
        header.uint32(200_000_000)
        splitter.append(header.bytes)
        #expect(throws: UADecodingError.self) { try splitter.next() }
        var garbage = UAChunkSplitter(maxChunkSize: 65_536)
        garbage.append(Array("GET / HTTP/1.1\r\n".utf8))
        #expect(throws: UADecodingError.self) { try garbage.next() }
    }

    @Test("truncated, random and hostile input never crashes a decoder and allocates nothing unbounded")
    func robustness() throws {
        var generator = SystemRandomNumberGenerator()
        // Real encodings (every type, a read response, a publish response), then every truncation and random flips.
        var corpus: [[UInt8]] = Self.everyType.map { value in
            var w = UAWriter()
            value.encode(&w)
            return w.bytes
        }
        corpus.append(Self.publishResponse())
        for sample in corpus {
            for length in 0..<sample.count {
                var r = UAReader(Array(sample.prefix(length)))
                _ = try? UAVariant.decode(&r)
                _ = try? UAResponse.decode(Array(sample.prefix(length)))
            }
            for _ in 0..<200 {
                var mutated = sample
                for _ in 0..<3 { mutated[Int.random(in: 0..<mutated.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator) }
                var r = UAReader(mutated)
                _ = try? UAVariant.decode(&r)
                if var response = try? UAResponse.decode(mutated) { _ = try? UAResponseBody.publish(&response.reader) }
            }
        }
        for _ in 0..<2000 {
            let random = (0..<Int.random(in: 0..<64, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            var r = UAReader(random)
            _ = try? UAVariant.decode(&r)
            _ = try? UAResponse.decode(random)
            var splitter = UAChunkSplitter(maxChunkSize: 65_536)
            splitter.append(random)
            _ = try? splitter.next()
        }
        // An array that claims two billion elements in a 9-byte message: refused at once.
        var huge = UAWriter()
        huge.byte(6 | 0x80)
        huge.int32(2_000_000_000)
        var r = UAReader(huge.bytes + [0, 0, 0, 0])
        #expect(throws: UADecodingError.self) { try UAVariant.decode(&r) }
        // Variants nested deeper than the limit: refused, no stack overflow.
        var deep = [UInt8](repeating: 24, count: 10_000)
        deep.append(0)
        var d = UAReader(deep)
        #expect(throws: UADecodingError.self) { try UAVariant.decode(&d) }
    }

    /// A PublishResponse with one DataChangeNotification, as a server sends it.
    static func publishResponse() -> [UInt8] {
        var w = UAWriter()
        UANodeId.numeric(UAEncodingID.publishResponse).encode(&w)
        w.int64(0)
        w.uint32(5)
        w.uint32(0)
        w.byte(0)  // diagnostics
        w.int32(-1)  // string table
        UAExtensionObject.null.encode(&w)
        w.uint32(1)  // subscription
        w.array([UInt32(3)]) { $0.uint32($1) }
        w.boolean(false)
        w.uint32(3)  // sequence
        w.int64(0)
        var change = UAWriter()
        change.array([UInt32(1)]) { w, handle in
            w.uint32(handle)
            UADataValue(value: .int32(42), sourceTimestamp: 7).encode(&w)
        }
        change.int32(-1)
        w.array([UAExtensionObject(typeId: .numeric(UAEncodingID.dataChangeNotification), body: change.bytes)]) { $1.encode(&$0) }
        w.int32(-1)
        w.int32(-1)
        return w.bytes
    }

    @Test("a publish response decodes to its data changes")
    func publish() throws {
        var response = try UAResponse.decode(Self.publishResponse())
        #expect(response.typeID == UAEncodingID.publishResponse && response.requestHandle == 5)
        let notification = try UAResponseBody.publish(&response.reader)
        #expect(notification.sequenceNumber == 3)
        #expect(notification.changes.map(\.handle) == [1])
        #expect(notification.changes.first?.value.value == .int32(42))
    }

    @Test("twin text to and from every writable type; a value that does not fit is refused")
    func twinValues() {
        let cases: [(UAVariant, String)] = [
            (.boolean(false), "false"), (.sbyte(-5), "-5"), (.uint64(18_000_000_000_000_000_000), "18000000000000000000"),
            (.float(3.5), "3.5"), (.double(-2.25), "-2.25"), (.double(12), "12"), (.string("x y"), "x y"),
            (.guid(UAGuid("72962B91-FA75-4AE6-8D28-B404DC7DAF63")!), "72962B91-FA75-4AE6-8D28-B404DC7DAF63"),
            (.byteString([0, 1, 0xFE, 0xFF]), "AAH+/w=="), (.nodeId(.numeric(1001, namespace: 2)), "ns=2;i=1001"),
            (.qualifiedName(UAQualifiedName(namespace: 2, "Pump")), "2:Pump"),
            (.dateTime(133_537_608_002_500_000), "2024-03-01T10:00:00.250Z"),
        ]
        for (value, text) in cases {
            #expect(OPCUAValues.twinText(value) == text, "\(value)")
            #expect(OPCUAValues.variant(text, type: value.typeID) == value, "\(text)")
        }
        #expect(OPCUAValues.twinText(.array(type: 6, [.int32(1), .int32(2)], dimensions: nil)) == "[1,2]")
        #expect(OPCUAValues.twinText(.array(type: 12, [.string("a\"b")], dimensions: nil)) == #"["a\"b"]"#)
        #expect(OPCUAValues.variant("300", type: 3) == nil)  // not a Byte
        #expect(OPCUAValues.variant("warm", type: 11) == nil)
        #expect(OPCUAValues.variant("maybe", type: 1) == nil)
    }
}

/// Manifests written for KubeEdge's own OPC UA mapper (kubeedge/mappers-go `mappers/opcua`: ProtocolConfigOPCUA
/// `url`, `userName`, `password`, `securityPolicy`, `securityMode`, `certificate`, `privateKey`, `timeout`;
/// VisitorConfigOPCUA `nodeID`, `browseName`) work unchanged, v1alpha2 and v1beta1.
@Suite("KubeEdge OPC UA device manifests")
struct OPCUAManifestTests {
    @Test("v1alpha2: protocol.opcua and propertyVisitors[].opcua")
    func v1alpha2() throws {
        let yaml = """
            apiVersion: devices.kubeedge.io/v1alpha2
            kind: DeviceModel
            metadata: {name: lamp-model}
            spec:
              properties:
              - {name: switcher, type: {boolean: {accessMode: ReadWrite}}}
              - {name: temperature, type: {int: {accessMode: ReadOnly}}}
            ---
            apiVersion: devices.kubeedge.io/v1alpha2
            kind: Device
            metadata: {name: lamp}
            spec:
              deviceModelRef: {name: lamp-model}
              protocol:
                opcua: {url: "opc.tcp://192.168.56.103:4840", userName: testuser, password: testpassword, timeout: 3000}
              propertyVisitors:
              - {propertyName: temperature, opcua: {nodeID: "ns=2,i=2"}}
              - {propertyName: switcher, opcua: {browseName: "2:Lamp/2:Switch"}}
            """
        let device = try #require(SpecParser().devices(in: try SpecDocuments.load(yaml: yaml)).first).result.get()
        #expect(device.protocolName == "opcua")
        let prepared = try OPCUAPlugin().prepare(device)
        #expect(prepared.problems.isEmpty)
        #expect(prepared.properties.map(\.name).sorted() == ["switcher", "temperature"])
        let settings = try OPCUADeviceSettings(config: device.protocolConfig)
        #expect(settings.endpoint.host == "192.168.56.103" && settings.endpoint.port == 4840)
        #expect(settings.identity == .userName("testuser", password: "testpassword"))
        #expect(settings.timeout == .milliseconds(3000))
        #expect(try OPCUAVisitor(config: device.properties.first { $0.name == "temperature" }!.visitor).target
                == .node(.numeric(2, namespace: 2)))
        #expect(try OPCUAVisitor(config: device.properties.first { $0.name == "switcher" }!.visitor).target
                == .path([UAQualifiedName(namespace: 2, "Lamp"), UAQualifiedName(namespace: 2, "Switch")]))
    }

    @Test("v1beta1 configData, and configuration errors named per device")
    func v1beta1AndErrors() throws {
        #expect(throws: SpecError.self) { try OPCUADeviceSettings(config: ["url": "http://x"]) }
        #expect(throws: SpecError.self) { try OPCUADeviceSettings(config: [:]) }
        #expect(throws: SpecError.self) {
            try OPCUADeviceSettings(config: ["url": "opc.tcp://h:1", "securityPolicy": "Aes256Sha256RsaPss"])
        }
        #expect(throws: SpecError.self) {
            try OPCUADeviceSettings(config: ["url": "opc.tcp://h:1", "securityPolicy": "Basic256Sha256"])  // no certificate
        }
        #expect(throws: SpecError.self) {
            try OPCUADeviceSettings(config: ["url": "opc.tcp://h:1", "securityPolicy": "None", "securityMode": "Sign"])
        }
        let secured = try OPCUADeviceSettings(config: [
            "url": "opc.tcp://h:4841/server", "securityPolicy": "http://opcfoundation.org/UA/SecurityPolicy#Basic256Sha256",
            "securityMode": "SignAndEncrypt", "certificate": "/etc/c.pem", "privateKey": "/etc/k.pem",
        ])
        #expect(secured.securityMode == .signAndEncrypt && secured.endpoint.port == 4841)
        #expect(throws: SpecError.self) { try OPCUAVisitor(config: ["nodeID": "nonsense"]) }
        #expect(throws: SpecError.self) { try OPCUAVisitor(config: [:]) }
    }
}
