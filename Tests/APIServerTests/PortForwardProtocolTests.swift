import Bus
import EdgeProtocol
import Foundation
import Logging
import SPDY
import Testing
import TestSupport

/// The API server's SPDY side of `kubectl port-forward`, driven byte by byte over its plain loopback port: protocol
/// negotiation, stream replies, the node's failure on the error stream, a stream without headers, bytes that are not
/// SPDY, and an offline node. The node is played by this test on the cloud bus (its stream topics), so that the
/// server's answers to each case can be checked exactly; the whole path with edged and containerd is PodPortForwardTests.
@Suite("port-forward over SPDY at the API server", .timeLimit(.minutes(3)))
struct PortForwardProtocolTests {
    static let pod = """
        apiVersion: v1
        kind: Pod
        metadata: {name: p, namespace: default}
        spec:
          nodeName: edge-x
          containers: [{name: c, image: busybox}]

        """

    static func upgrade(_ version: String) -> [UInt8] {
        Array(("POST /api/v1/namespaces/default/pods/p/portforward HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + "Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: \(version)\r\nContent-Length: 0\r\n\r\n").utf8)
    }

    @Test("negotiation, replies, the node's failure on the error stream, a stream without headers, non-SPDY bytes, offline")
    func protocolCases() async throws {
        let api = try await APIServerProcess()
        defer { Task { await api.stop() } }
        _ = try await api.ok("apply", "-f", "-", input: Self.pod)
        let node = try BusClient(BusConfiguration(endpoint: try BusEndpoint(parsing: api.broker.address), clientID: "fake-node"),
                                 logger: Logger(label: "fake-node"))
        try node.start()
        try await node.waitUntilConnected(timeout: .seconds(30))
        try await node.subscribe([Topics.streamToNode("edge-x")])
        let opened = Watched<[StreamFrame]>([])
        let reader = Task {
            for await message in node.messages {
                guard let frame = try? StreamFrame(MessageCodec.decode(message.payload)) else { continue }
                opened.update { $0.append(frame) }
            }
        }
        defer { reader.cancel() }
        try await node.publish(Topics.nodeLink("edge-x"), "connected", retain: true)

        // Until the server has seen the link, and again once it is down: 503 naming the node.
        try await eventually("the server sees edge-x connected", timeout: 30) {
            let answer = try? await RawHTTP.exchange(port: api.insecurePort, Self.upgrade("portforward.k8s.io"), readUntil: "\r\n\r\n")
            return answer.map { String(decoding: $0, as: UTF8.self).hasPrefix("HTTP/1.1 101") } ?? false
        }

        let refused = try await RawHTTP.exchange(port: api.insecurePort, Self.upgrade("v9.nothing"), readUntil: nil)
        let refusedText = String(decoding: refused, as: UTF8.self)
        #expect(refusedText.hasPrefix("HTTP/1.1 403"), "\(refusedText)")
        #expect(refusedText.contains("unable to negotiate protocol"), "\(refusedText)")

        let connection = try RawHTTP(port: api.insecurePort)
        defer { connection.close() }
        try connection.send(Self.upgrade("portforward.k8s.io"))
        let head = try await Task.detached { try connection.read(until: Array("\r\n\r\n".utf8)) }.value
        #expect(String(decoding: head, as: UTF8.self).contains("X-Stream-Protocol-Version: portforward.k8s.io"))
        var writer = SPDYFrameWriter()
        func headers(_ type: String) -> [SPDYHeader] {
            [SPDYHeader("streamtype", type), SPDYHeader("port", "80"), SPDYHeader("requestid", "0")]
        }
        try connection.send(writer.encode(.synStream(id: 1, headers: headers("error"), fin: true))
            + writer.encode(.synStream(id: 3, headers: headers("data")))
            + writer.encode(.synStream(id: 5, headers: [SPDYHeader("port", "80")])))
        var frames = SPDYFrameReader(readsHeaders: true)
        var seen: [SPDYFrame] = []
        func collect(_ what: String, _ done: ([SPDYFrame]) -> Bool) async throws {
            while !done(seen) {
                let bytes = try await Task.detached { try connection.readSome() }.value
                guard !bytes.isEmpty else { throw TestSupportError("connection closed before \(what); saw \(seen)") }
                seen += try frames.push(bytes)
            }
        }
        try await collect("replies and the reset of the stream without a type") { frames in
            frames.contains(.synReply(id: 1)) && frames.contains(.synReply(id: 3))
                && frames.contains(.rstStream(id: 5, status: SPDYFrame.protocolError))
        }
        // The pair became one session at the node, for port 80.
        try await opened.wait(timeout: 30, "the node's open") { $0.contains { $0.operation == .open } }
        let open = try #require(opened.value.first { $0.operation == .open })
        #expect(open.request?.kind == .portforward && open.request?.ports == [80] && open.request?.pod == "p")
        try await node.publish(Topics.streamFromNode(session: open.session), StreamProtocol.close(
            session: open.session, source: StreamProtocol.edgeSource,
            failure: StreamFailure(code: 500, reason: "InternalError", "nothing listens on port 80")))
        try await collect("the failure on the error stream, then both streams closed") { frames in
            frames.contains(.data(id: 3, fin: true, payload: []))
        }
        #expect(seen.contains(.data(id: 1, fin: false, payload: Array("nothing listens on port 80".utf8))), "\(seen)")
        #expect(seen.contains(.data(id: 1, fin: true, payload: [])))

        // Bytes that are not SPDY: GOAWAY with PROTOCOL_ERROR, then the connection is closed.
        try connection.send(Array("this is not SPDY at all".utf8))
        try await collect("GOAWAY") { frames in frames.contains(.goAway(lastGood: 0, status: SPDYFrame.protocolError)) }
        #expect(try await Task.detached { try connection.readSome() }.value.isEmpty, "the connection stays open")

        try await node.publish(Topics.nodeLink("edge-x"), "disconnected", retain: true)
        try await eventually("503 naming the node once it is offline", timeout: 30) {
            let answer = try? await RawHTTP.exchange(port: api.insecurePort, Self.upgrade("portforward.k8s.io"), readUntil: nil)
            let text = answer.map { String(decoding: $0, as: UTF8.self) } ?? ""
            return text.hasPrefix("HTTP/1.1 503") && text.contains(#"node \"edge-x\" is offline"#)
        }
        await node.close()
    }

    @Test("SIGTERM with a port-forward tunnel open: the API server closes it and exits promptly")
    func shutdownWithTunnelOpen() async throws {
        let api = try await APIServerProcess()
        defer { Task { await api.stop() } }
        _ = try await api.ok("apply", "-f", "-", input: Self.pod)
        let node = try BusClient(BusConfiguration(endpoint: try BusEndpoint(parsing: api.broker.address), clientID: "fake-node-2"),
                                 logger: Logger(label: "fake-node"))
        try node.start()
        try await node.waitUntilConnected(timeout: .seconds(30))
        try await node.publish(Topics.nodeLink("edge-x"), "connected", retain: true)
        var tunnel: RawHTTP?
        try await eventually("a SPDY tunnel once the server sees edge-x", timeout: 30) {
            guard let attempt = try? RawHTTP(port: api.insecurePort) else { return false }
            try? attempt.send(Self.upgrade("portforward.k8s.io"))
            let head = (try? await Task.detached { try attempt.read(until: Array("\r\n\r\n".utf8)) }.value) ?? []
            guard String(decoding: head, as: UTF8.self).hasPrefix("HTTP/1.1 101") else {
                attempt.close()
                return false
            }
            tunnel = attempt
            return true
        }
        let connection = try #require(tunnel)
        defer { connection.close() }
        let (status, seconds) = await api.terminate(timeout: 20)
        #expect(status == 0, "exit status \(String(describing: status))")
        #expect(seconds < 8, "the API server took \(seconds) s to exit with a tunnel open")
        // The tunnel was closed (after a GOAWAY), not left hanging.
        var rest: [UInt8] = []
        while true {
            let more = try await Task.detached { try connection.readSome() }.value
            if more.isEmpty { break }
            rest += more
        }
        var frames = SPDYFrameReader(readsHeaders: false)
        #expect(try frames.push(rest).contains(.goAway(lastGood: 0, status: 0)), "no GOAWAY before the close")
        await node.close()
    }
}

/// A blocking loopback TCP client for raw HTTP and SPDY bytes.
final class RawHTTP: @unchecked Sendable {
    // @unchecked: one test task uses it at a time.
    private let fd: Int32
    private var pending: [UInt8] = []

    init(port: Int, timeoutSeconds: Int = 20) throws {
        fd = try LoopbackTCP.connect(port: port, timeoutSeconds: timeoutSeconds)
    }

    func close() { Glibc.close(fd) }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let count = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard count > 0 else { throw TestSupportError("send failed") }
            offset += count
        }
    }

    /// What is there (waiting up to the timeout); empty at the end of the stream.
    func readSome() throws -> [UInt8] {
        if !pending.isEmpty { defer { pending = [] }; return pending }
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count < 0 && errno == EINTR { continue }
            if count < 0 { throw TestSupportError("recv failed (errno \(errno)): timed out?") }
            return Array(buffer[0..<count])
        }
    }

    /// Bytes up to and including `marker`; what follows stays for the next read.
    func read(until marker: [UInt8]) throws -> [UInt8] {
        var collected: [UInt8] = []
        while true {
            if let range = collected.firstRange(of: marker) {
                pending = Array(collected[range.upperBound...])
                return Array(collected[..<range.upperBound])
            }
            let more = try readSome()
            guard !more.isEmpty else { return collected }
            collected += more
        }
    }

    /// One request on a new connection, and its answer up to `readUntil` (nil: to the connection's end).
    static func exchange(port: Int, _ request: [UInt8], readUntil marker: String?) async throws -> [UInt8] {
        try await Task.detached {
            let connection = try RawHTTP(port: port)
            defer { connection.close() }
            try connection.send(request)
            return try connection.read(until: Array((marker ?? "\u{0}\u{0}").utf8))
        }.value
    }
}
