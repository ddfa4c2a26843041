import EdgeProtocol
import KubeProtobuf
import Testing

/// The protobuf codec against bytes client-go produced (Fixtures/kube-protobuf-golden.json, k8s.io/client-go and
/// k8s.io/api v0.26.15): client-go's bytes decode to client-go's JSON for the same object, and that JSON encodes to
/// exactly client-go's bytes — field order, the non-pointer zero fields gogo-protobuf always writes, sorted map keys,
/// Time without nanoseconds, MicroTime in microseconds, IntOrString, Quantity and the `k8s\0` envelope.
@Suite("protobuf golden bytes from client-go")
struct ProtobufGoldenTests {
    let codec = KubeProtoCodec()

    static var objectCases: [String] {
        ((try? ProtobufGolden.load().cases) ?? []).filter { $0["protobuf"] != nil }.compactMap { $0["name"]?.stringValue }
    }

    static var watchCases: [String] {
        ((try? ProtobufGolden.load().cases) ?? []).filter { $0["frame"] != nil }.compactMap { $0["name"]?.stringValue }
    }

    @Test("the fixture holds every kind the tests name")
    func fixtureComplete() throws {
        let names = Set(try ProtobufGolden.load().cases.compactMap { $0["name"]?.stringValue })
        for name in ["namespace-request", "pod", "node", "lease", "deployment", "podlist", "status-notfound",
                     "deleteoptions", "watch-added-pod"] {
            #expect(names.contains(name), "\(name)")
        }
    }

    @Test("client-go's bytes decode to client-go's JSON", arguments: objectCases)
    func decodes(name: String) throws {
        let golden = try ProtobufGolden.load().named(name)
        let decoded = try codec.decode(try ProtobufGolden.hex(golden["protobuf"]?.stringValue ?? ""))
        let expected = try #require(golden["json"])
        #expect(jsonDifference(decoded, expected) == nil, "\(name): \(jsonDifference(decoded, expected) ?? "")")
    }

    @Test("client-go's JSON encodes to client-go's bytes", arguments: objectCases)
    func encodes(name: String) throws {
        let golden = try ProtobufGolden.load().named(name)
        let expected = try ProtobufGolden.hex(golden["protobuf"]?.stringValue ?? "")
        let encoded = try codec.encode(try #require(golden["json"]))
        let firstDifference = Array(zip(encoded, expected)).firstIndex { $0 != $1 } ?? min(encoded.count, expected.count)
        #expect(encoded == expected, "\(name): first difference at byte \(firstDifference) of \(expected.count) (ours \(encoded.count))")
    }

    @Test("watch frames as kube-apiserver streams them", arguments: watchCases)
    func watchFrames(name: String) throws {
        let golden = try ProtobufGolden.load().named(name)
        let frame = try ProtobufGolden.hex(golden["frame"]?.stringValue ?? "")
        let type = try #require(golden["eventType"]?.stringValue)
        let object = try #require(golden["json"])
        #expect(try codec.watchFrame(type: type, object: object) == frame)
        let (decodedType, decoded) = try codec.decodeWatchEvent(frame.dropFirst(4))
        #expect(decodedType == type)
        #expect(jsonDifference(decoded, object) == nil, "\(name): \(jsonDifference(decoded, object) ?? "")")
    }

    @Test("every truncation and corruption of client-go's bytes is an error, never a crash")
    func truncated() throws {
        for golden in try ProtobufGolden.load().cases {
            guard let hex = golden["protobuf"]?.stringValue else { continue }
            let bytes = try ProtobufGolden.hex(hex)
            for length in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 64)) {
                _ = try? codec.decode(bytes.prefix(length))  // may decode (a prefix can be valid) but must not trap
            }
            var corrupted = bytes
            for index in stride(from: 4, to: corrupted.count, by: max(1, corrupted.count / 32)) {
                corrupted[index] ^= 0xFF
                _ = try? codec.decode(corrupted)
            }
            #expect(throws: KubeProtoError.self) { try codec.decode(bytes.prefix(3)) }
        }
    }

    @Test("a JSON value of the wrong type is a clear error naming the field")
    func wrongTypes() {
        let pod: JSONValue = ["apiVersion": "v1", "kind": "Pod", "metadata": ["name": "p"],
                              "spec": ["containers": [["name": "c", "image": "i", "ports": [["containerPort": "http"]]]]]]
        #expect {
            try codec.encode(pod)
        } throws: { error in
            "\(error)".contains("Pod.spec.containers[0].ports[0].containerPort")
        }
        let big: JSONValue = ["apiVersion": "v1", "kind": "Pod",
                              "spec": ["containers": [["name": "c", "ports": [["containerPort": 4_294_967_296]]]]]]
        #expect(throws: KubeProtoError.self) { try codec.encode(big) }
        let custom: JSONValue = ["apiVersion": "devices.kubeedge.io/v1beta1", "kind": "Device"]
        #expect(throws: KubeProtoError.self) { try codec.encode(custom) }
    }

    @Test("packed repeated scalars and unknown fields are read (proto2 readers accept both)")
    func packedAndUnknown() throws {
        // PodSecurityContext.supplementalGroups (field 4) packed, plus an unknown field 99.
        var context = ProtoWriter()
        var packed = ProtoWriter()
        packed.varint(1000)
        packed.varint(2000)
        context.lengthDelimited(4, packed.bytes)
        context.lengthDelimited(99, [1, 2, 3])
        var spec = ProtoWriter()
        spec.lengthDelimited(14, context.bytes)  // PodSpec.securityContext
        var pod = ProtoWriter()
        pod.lengthDelimited(2, spec.bytes)
        var typeMeta = ProtoWriter()
        typeMeta.lengthDelimited(1, Array("v1".utf8))
        typeMeta.lengthDelimited(2, Array("Pod".utf8))
        var unknown = ProtoWriter()
        unknown.lengthDelimited(1, typeMeta.bytes)
        unknown.lengthDelimited(2, pod.bytes)
        let decoded = try codec.decode(KubeProtoCodec.magic + unknown.bytes)
        #expect(decoded[path: ["spec", "securityContext", "supplementalGroups"]] == [1000, 2000])
    }
}

/// The first place two JSON documents differ, ignoring object member order; nil when equal.
func jsonDifference(_ a: JSONValue, _ b: JSONValue, path: String = "") -> String? {
    switch (a, b) {
    case (.object(let x), .object(let y)):
        let xKeys = Set(x.map(\.key)), yKeys = Set(y.map(\.key))
        if xKeys != yKeys {
            return "\(path): members \(xKeys.subtracting(yKeys).sorted()) only in ours, \(yKeys.subtracting(xKeys).sorted()) only in theirs"
        }
        for key in xKeys.sorted() {
            if let difference = jsonDifference(a[key]!, b[key]!, path: path + "." + key) { return difference }
        }
        return nil
    case (.array(let x), .array(let y)):
        guard x.count == y.count else { return "\(path): \(x.count) elements, expected \(y.count)" }
        for (index, pair) in zip(x, y).enumerated() {
            if let difference = jsonDifference(pair.0, pair.1, path: path + "[\(index)]") { return difference }
        }
        return nil
    case (.null, .array(let y)) where y.isEmpty, (.array(let y), .null) where y.isEmpty:
        return nil  // both are Go's nil slice once through protobuf (an empty list's items are not on the wire)
    case (.number(let x), .number(let y)):
        return Double(x) == Double(y) ? nil : "\(path): \(x) != \(y)"
    default:
        return a == b ? nil : "\(path): \(a) != \(b)"
    }
}
