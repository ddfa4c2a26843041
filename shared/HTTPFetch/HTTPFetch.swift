import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// One HTTP/1.1 request and its whole response, on NIO: for hub's certificate bootstrap (KubeEdge's `/edge.crt` is a
/// GET with a body, which general-purpose clients dislike), servicebus's calls to edge apps and the router's calls
/// to REST targets. Bounded in time and in the size of what it reads.
public enum HTTPFetch {
    public struct Response: Sendable {
        public let status: Int
        public let headers: [(name: String, value: String)]
        public let body: [UInt8]
    }

    public struct Failure: Error, CustomStringConvertible, Sendable {
        public enum Kind: Sendable { case connect, timeout, tooLarge, malformed }
        public let kind: Kind
        public let description: String
        init(_ kind: Kind, _ description: String) {
            self.kind = kind
            self.description = description
        }
    }

    /// `http://host[:port]/path` or `https://…` split into its parts (a missing path is `/`).
    public struct Target: Sendable, Equatable {
        public var tls: Bool
        public var host: String
        public var port: Int
        public var path: String

        public init?(url: String) {
            let scheme: Bool
            let rest: Substring
            if url.hasPrefix("http://") { scheme = false; rest = url.dropFirst(7) }
            else if url.hasPrefix("https://") { scheme = true; rest = url.dropFirst(8) }
            else { return nil }
            let slash = rest.firstIndex(of: "/") ?? rest.endIndex
            let authority = rest[..<slash]
            path = slash == rest.endIndex ? "/" : String(rest[slash...])
            tls = scheme
            if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
                host = String(authority[authority.index(after: authority.startIndex)..<close])
                let after = authority[authority.index(after: close)...]
                port = after.hasPrefix(":") ? Int(after.dropFirst()) ?? -1 : (scheme ? 443 : 80)
            } else if let colon = authority.lastIndex(of: ":") {
                host = String(authority[..<colon])
                port = Int(authority[authority.index(after: colon)...]) ?? -1
            } else {
                host = String(authority)
                port = scheme ? 443 : 80
            }
            guard !host.isEmpty, (1...65535).contains(port) else { return nil }
        }
    }

    /// Go's `http.CanonicalHeaderKey` (`content-type` → `Content-Type`): how KubeEdge's `http.Header` keys look.
    public static func canonicalHeaderName(_ name: String) -> String {
        var upper = true
        return String(name.map { character -> Character in
            defer { upper = character == "-" }
            return upper ? Character(character.uppercased()) : Character(character.lowercased())
        })
    }

    /// Whether a TCP connection to `host:port` opens within `timeout` (kubelet's tcpSocket probe).
    public static func canConnect(host: String, port: Int, timeout: Duration) async -> Bool {
        do {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000
                                             + timeout.components.attoseconds / 1_000_000_000))
                .connect(host: host, port: port).get()
            try? await channel.close()
            return true
        } catch {
            return false
        }
    }

    public static func request(
        method: String, host: String, port: Int, path: String, headers: [(String, String)] = [], body: [UInt8] = [],
        tls: TLSConfiguration? = nil, timeout: Duration = .seconds(30), maxBody: Int = 1 << 20
    ) async throws -> Response {
        try await withThrowingTaskGroup(of: Response?.self) { group in
            group.addTask {
                try await exchange(method: method, host: host, port: port, path: path, headers: headers, body: body,
                                   tls: tls, timeout: timeout, maxBody: maxBody)
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let response = first else {
                throw Failure(.timeout, "no complete answer from \(host):\(port) within \(timeout)")
            }
            return response
        }
    }

    static func exchange(
        method: String, host: String, port: Int, path: String, headers: [(String, String)], body: [UInt8],
        tls: TLSConfiguration?, timeout: Duration, maxBody: Int
    ) async throws -> Response {
        let context = try tls.map { try NIOSSLContext(configuration: $0) }
        // An IP literal cannot be an SNI name; NIOSSL then checks the peer's IP against the certificate.
        let isIPLiteral = host.contains(":") || host.allSatisfy { $0.isNumber || $0 == "." }
        let channel: NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000
                                             + timeout.components.attoseconds / 1_000_000_000))
                .connect(host: host, port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let context {
                            try channel.pipeline.syncOperations.addHandler(
                                try NIOSSLClientHandler(context: context, serverHostname: isIPLiteral ? nil : host))
                        }
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(
                            wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw Failure(.connect, "cannot connect to \(host):\(port): \(error)")
        }
        return try await channel.executeThenClose { inbound, outbound in
            var head = HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: method), uri: path)
            if !headers.contains(where: { $0.0.lowercased() == "host" }) {
                head.headers.add(name: "Host", value: "\(host):\(port)")
            }
            for (name, value) in headers where !["content-length", "connection", "transfer-encoding"].contains(name.lowercased()) {
                head.headers.add(name: name, value: value)
            }
            head.headers.add(name: "Content-Length", value: "\(body.count)")
            head.headers.add(name: "Connection", value: "close")
            try await outbound.write(.head(head))
            if !body.isEmpty { try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: body)))) }
            try await outbound.write(.end(nil))
            var status = 0
            var responseHeaders: [(name: String, value: String)] = []
            var data: [UInt8] = []
            for try await part in inbound {
                switch part {
                case .head(let response):
                    status = Int(response.status.code)
                    responseHeaders = response.headers.map { ($0.name, $0.value) }
                case .body(var buffer):
                    data += buffer.readBytes(length: buffer.readableBytes) ?? []
                    if data.count > maxBody {
                        throw Failure(.tooLarge, "the answer of \(host):\(port)\(path) is larger than \(maxBody) bytes")
                    }
                case .end:
                    return Response(status: status, headers: responseHeaders, body: data)
                }
            }
            throw Failure(.malformed, "\(host):\(port) closed the connection before its answer ended")
        }
    }
}
