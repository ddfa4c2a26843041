import Foundation
import Testing
import TestSupport

extension EdgedWorkloadSuites {
    /// `kubectl port-forward` to an edge pod with no extra setup: kubectl's SPDY tunnelled in a WebSocket to the API
    /// server, one stream session over the link per connection, and edged's SPDY session with containerd's CRI
    /// streaming server, which connects inside the pod's network namespace.
    @Suite("kubectl port-forward", .serialized, .timeLimit(.minutes(5)))
    struct PodPortForwardTests {
        static let manifest = """
            apiVersion: v1
            kind: Pod
            metadata: {name: web, namespace: default, labels: {app: web}}
            spec:
              nodeName: \(PodStack.node)
              terminationGracePeriodSeconds: 1
              containers:
              - name: http
                image: \(Containerd.busyboxImage)
                command: ["sh", "-c", "busybox mkdir -p /www && echo hello-from-pod > /www/index.html && busybox dd if=/dev/urandom of=/www/big bs=100000 count=30 2>/dev/null && exec httpd -f -p 8080 -h /www"]
              - name: echo
                image: \(Containerd.busyboxImage)
                command: ["nc", "-ll", "-p", "9000", "-e", "cat"]
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: web, namespace: default}
            spec:
              selector: {app: web}
              ports: [{name: http, port: 80, targetPort: 8080}]

            """

        @Test("an HTTP request and a 3 MB download through it, 2 MB echoed both ways, an unserved port's error, a Service")
        func portForward() async throws {
            let stack = try await PodStack()
            try await stack.run {
                try await stack.waitForNodeReady()
                _ = try await stack.api.ok(["apply", "-f", "-"], input: Self.manifest)
                try await stack.waitFor("web Running", timeout: 90, "pod", "web", "{.status.phase}") { $0 == "Running" }
                // Both servers listen before kubectl connects (a refused connection ends kubectl's port-forward).
                try await eventually("httpd and nc listen in the pod", timeout: 60) {
                    // The listening sockets' local ports in hex (8080 = 1F90, 9000 = 2328).
                    let sockets = try? await stack.api.kubectl(["exec", "web", "-c", "http", "--", "cat", "/proc/net/tcp", "/proc/net/tcp6"])
                    let text = sockets?.stdout ?? ""
                    return text.contains(":1F90") && text.contains(":2328")
                }

                // The dispatcher runs the kubectl of the server's minor version (1.30: SPDY after an HTTP upgrade);
                // 1.32 tunnels SPDY in a WebSocket.
                let dispatcher = try Executables.which("kubectl")
                for kubectl in [dispatcher, try Executables.kubectl(minor: 32)] {
                    try await Self.check(stack, kubectl: kubectl)
                }
                // To a Service: kubectl picks a pod of its selector and maps the service port to the target port.
                let toService = try ChildProcess(dispatcher, [
                    "--cache-dir", stack.api.directory.appendingPathComponent("kube-cache").path,
                    "port-forward", "svc/web", ":80",
                ], environment: stack.api.kubectlEnvironment)
                defer { toService.signal(SIGKILL) }
                try await toService.waitForLines(timeout: 30, "a local port for the service") { lines in
                    lines.contains { $0.hasPrefix("Forwarding from 127.0.0.1:") && $0.hasSuffix("-> 8080") }
                }
                let serviceLine = try #require(toService.lines.first { $0.hasPrefix("Forwarding from 127.0.0.1:") })
                let servicePort = try #require(Int(serviceLine.dropFirst("Forwarding from 127.0.0.1:".count).prefix { $0.isNumber }))
                let viaService = try await Command.run(try Executables.which("curl"),
                                                       ["-sS", "--max-time", "30", "http://127.0.0.1:\(servicePort)/"], timeout: 40)
                #expect(viaService.status == 0 && viaService.stdout == "hello-from-pod\n", "\(viaService)")

                // One tunnel of each kind reached the API server.
                #expect(stack.api.log.contains("port-forward tunnel") && stack.api.log.contains("transport=spdy"), "no SPDY upgrade")
                #expect(stack.api.log.contains("transport=websocket"), "no WebSocket tunnel")
                #expect(!stack.api.log.contains("Error handling upgrade result"), "a SPDY connection's end logged as an error")
            }
        }

        /// Forwards three ports with `kubectl` and uses them: a page, a 3 MB download, 2 MB echoed, a port nothing
        /// serves.
        static func check(_ stack: PodStack, kubectl: String) async throws {
            let forward = try ChildProcess(kubectl, [
                "--cache-dir", stack.api.directory.appendingPathComponent("kube-cache").path,
                "port-forward", "pod/web", ":8080", ":9000", ":9999",
            ], environment: stack.api.kubectlEnvironment)
            defer { forward.signal(SIGKILL) }
            try await forward.waitForLines(timeout: 30, "three local ports") { lines in
                lines.filter { $0.hasPrefix("Forwarding from 127.0.0.1:") }.count == 3
            }
            func localPort(_ remote: Int) throws -> Int {
                let line = try #require(forward.lines.first { $0.hasPrefix("Forwarding from 127.0.0.1:") && $0.hasSuffix("-> \(remote)") })
                let text = line.dropFirst("Forwarding from 127.0.0.1:".count).prefix { $0.isNumber }
                return try #require(Int(text))
            }
            let http = try localPort(8080), echo = try localPort(9000), unserved = try localPort(9999)

            let curl = try Executables.which("curl")
            let page = try await Command.run(curl, ["-sS", "--max-time", "30", "http://127.0.0.1:\(http)/"], timeout: 40)
            #expect(page.status == 0 && page.stdout == "hello-from-pod\n", "\(kubectl): \(page)")
            let big = try await Command.run(curl, ["-sS", "--max-time", "60", "-o", "/dev/null", "-w", "%{size_download}",
                                                   "http://127.0.0.1:\(http)/big"], timeout: 70)
            #expect(big.status == 0 && big.stdout == "3000000", "\(kubectl): \(big)")

            // Both directions at once, through the pod's echo server: what comes back is what went.
            var sent = [UInt8](repeating: 0, count: 2_000_000)
            for index in sent.indices { sent[index] = UInt8(truncatingIfNeeded: index &* 2_654_435_761 >> 13) }
            let payload = sent
            let received = try await Task.detached { try TCPEcho.roundTrip(port: echo, payload) }.value
            #expect(received.count == sent.count, "\(kubectl)")
            #expect(received == sent, "\(kubectl): the echoed bytes differ")

            // A connection left open when kubectl goes: its session ends at the edge too.
            let idle = try RawEcho(port: echo)
            defer { idle.close() }
            #expect(try await Task.detached { try idle.roundTrip(Array("ping".utf8)) }.value == Array("ping".utf8))

            // Nothing listens on 9999: kubectl shows the runtime's error for the port, and nothing hangs.
            let refused = try await Command.run(curl, ["-sS", "--max-time", "30", "http://127.0.0.1:\(unserved)/"], timeout: 40)
            #expect(refused.status != 0)
            try await forward.waitForLines(timeout: 30, "the error for port 9999") { lines in
                lines.contains { $0.contains("an error occurred forwarding") && $0.contains("9999") }
            }
            forward.signal(SIGKILL)
            try await eventually("every port-forward session ended at the edge once kubectl was gone", timeout: 30) {
                let opened = stack.edgedSessions(where: "kind=portforward")
                let ended = stack.edgedSessions(where: "stream session ended")
                return !opened.isEmpty && opened.isSubset(of: ended)
            }
        }

    }
}

/// A TCP connection kept open to an echo server: bytes out, the same bytes back.
final class RawEcho: @unchecked Sendable {
    // @unchecked: one task uses it at a time.
    private let fd: Int32

    init(port: Int) throws { fd = try LoopbackTCP.connect(port: port, timeoutSeconds: 60) }

    func roundTrip(_ bytes: [UInt8]) throws -> [UInt8] {
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var buffer = [UInt8](repeating: 0, count: bytes.count)
        var received = 0
        while received < bytes.count {
            let count = buffer[received...].withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { throw TestSupportError("the echo ended after \(received) bytes") }
            received += count
        }
        return buffer
    }

    func close() { Glibc.close(fd) }
}

/// A blocking TCP client for the echo check: writes `payload` from one thread while reading as many bytes back.
enum TCPEcho {
    static func roundTrip(port: Int, _ payload: [UInt8]) throws -> [UInt8] {
        let fd = try LoopbackTCP.connect(port: port, timeoutSeconds: 60)
        defer { close(fd) }
        let writer = Thread {
            var offset = 0
            while offset < payload.count {
                let count = payload[offset...].withUnsafeBytes { send(fd, $0.baseAddress, min($0.count, 65536), Int32(MSG_NOSIGNAL)) }
                if count <= 0 { return }
                offset += count
            }
        }
        writer.start()
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while received.count < payload.count {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else {
                throw TestSupportError("the echo ended after \(received.count) of \(payload.count) bytes (errno \(errno))")
            }
            received += buffer[0..<count]
        }
        return received
    }
}
