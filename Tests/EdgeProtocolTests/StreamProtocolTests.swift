import EdgeProtocol
import Testing

/// The stream extension's frames (kubectl logs, exec, port-forward over the link), without sockets.
@Suite("stream frames")
struct StreamProtocolTests {
    @Test("open, data, credit and close survive the envelope codec")
    func roundTrip() throws {
        var request = StreamRequest(kind: .logs, namespace: "default", pod: "web", uid: "u-1", container: "main")
        request.logs.follow = true
        request.logs.tailLines = 10
        request.logs.sinceTime = "2026-12-03T10:00:00Z"
        let open = try StreamFrame(try MessageCodec.decode(MessageCodec.encode(StreamProtocol.open(session: "s1", request: request))))
        #expect(open.operation == .open && open.session == "s1" && open.request == request)

        let bytes: [UInt8] = Array(0...255)
        let data = try StreamFrame(StreamProtocol.data(session: "s1", source: StreamProtocol.edgeSource, channel: .stderr, bytes: bytes))
        #expect(data.data == bytes && data.channel == .stderr)

        let credit = try StreamFrame(StreamProtocol.credit(session: "s1", source: StreamProtocol.cloudSource, bytes: 4096))
        #expect(credit.credit == 4096)

        let close = try StreamFrame(StreamProtocol.close(session: "s1", source: StreamProtocol.edgeSource,
                                                         failure: .badRequest("no such container"), exitCode: 3))
        #expect(close.failure == .badRequest("no such container") && close.exitCode == 3)
        let clean = try StreamFrame(StreamProtocol.close(session: "s1", source: StreamProtocol.edgeSource))
        #expect(clean.failure == nil && clean.exitCode == nil)
    }

    @Test("malformed frames are errors")
    func malformed() {
        var message = StreamProtocol.credit(session: "s1", source: "x", bytes: 1)
        message.route.operation = "teleport"
        #expect(throws: StreamError.self) { try StreamFrame(message) }
        message = StreamProtocol.credit(session: "s1", source: "x", bytes: 1)
        message.content = RawJSON(string: "not an object")
        #expect(throws: StreamError.self) { try StreamFrame(message) }
        message.route.operation = "data"
        message.content = (try? RawJSON(.object([("data", .string("%%%"))]))) ?? .null
        #expect(throws: StreamError.self) { try StreamFrame(message) }
        #expect(Topics.streamSession(ofTopic: "ke/stream/abc/in") == "abc")
        #expect(Topics.streamSession(ofTopic: "ke/stream//in") == nil)
        #expect(Topics.streamSession(ofTopic: "ke/node/x/link") == nil)
    }

    @Test("base64 both ways, whitespace and the URL alphabet accepted")
    func base64() {
        for length in 0..<20 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 * 37 + 11) }
            #expect(Base64.decode(Base64.encode(bytes)) == bytes)
        }
        #expect(Base64.encode(Array("hello".utf8)) == "aGVsbG8=")
        #expect(Base64.decode("aGVs\nbG8") == Array("hello".utf8))
        #expect(Base64.decode("a$b") == nil)
    }

    @Test("the node's started frame offers input credit; a plain empty data frame does not; a port-forward open")
    func startedAndPortForward() throws {
        let started = try StreamFrame(MessageCodec.decode(MessageCodec.encode(StreamProtocol.started(session: "s1"))))
        #expect(started.operation == .data && started.data.isEmpty && started.inputCredit && started.session == "s1")
        let plain = try StreamFrame(MessageCodec.decode(MessageCodec.encode(
            StreamProtocol.data(session: "s1", source: StreamProtocol.edgeSource, bytes: []))))
        #expect(!plain.inputCredit)
        var forward = StreamRequest(kind: .portforward, namespace: "default", pod: "web", uid: "u", container: "")
        forward.ports = [8080]
        let open = try StreamFrame(MessageCodec.decode(MessageCodec.encode(StreamProtocol.open(session: "s2", request: forward))))
        #expect(open.request == forward)
    }

    @Test("credit: chunks within the window, a wait until the reader grants more, a close ending the wait")
    func credit() async {
        let credit = StreamCredit(initial: 40_000)
        #expect(await credit.take(upTo: 100_000) == StreamProtocol.chunkSize)  // one frame at most
        #expect(await credit.take(upTo: 100_000) == 40_000 - StreamProtocol.chunkSize)
        let waiting = Task { await credit.take(upTo: 10) }
        credit.grant(4)
        #expect(await waiting.value == 4)
        let ended = Task { await credit.take(upTo: 10) }
        credit.close()
        #expect(await ended.value == nil)

        let unlimited = StreamCredit(initial: 0, limited: false)
        #expect(await unlimited.take(upTo: 5) == 5)
        unlimited.limit()
        unlimited.grant(3)
        #expect(await unlimited.take(upTo: 5) == 3)
    }
}
