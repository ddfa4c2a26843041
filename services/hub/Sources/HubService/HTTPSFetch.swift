import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import LinkSecurity

/// One HTTPS request and its whole response: what hub's certificate bootstrap needs (KubeEdge's `/edge.crt` is a GET
/// with a body, which general-purpose clients dislike).
public enum HTTPSFetch {
    public struct Response: Sendable {
        public let status: Int
        public let body: [UInt8]
    }

    public static func get(
        host: String, port: Int, path: String, headers: [(String, String)] = [], body: [UInt8] = [],
        tls: TLSConfiguration, timeout: TimeAmount = .seconds(30), maxBody: Int = 1 << 20
    ) async throws -> Response {
        let context = try NIOSSLContext(configuration: tls)
        // An IP literal cannot be an SNI name; NIOSSL then checks the peer's IP against the certificate.
        let sniName = PKI.ipAddressBytes(host) == nil ? host : nil
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(timeout)
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        try NIOSSLClientHandler(context: context, serverHostname: sniName))
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(
                        wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path)
            head.headers.add(name: "Host", value: "\(host):\(port)")
            head.headers.add(name: "Content-Length", value: "\(body.count)")
            head.headers.add(name: "Connection", value: "close")
            for (name, value) in headers { head.headers.add(name: name, value: value) }
            try await outbound.write(.head(head))
            if !body.isEmpty { try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: body)))) }
            try await outbound.write(.end(nil))
            var status = 0
            var data: [UInt8] = []
            for try await part in inbound {
                switch part {
                case .head(let response):
                    status = Int(response.status.code)
                case .body(var buffer):
                    data += buffer.readBytes(length: buffer.readableBytes) ?? []
                    if data.count > maxBody { throw PKIError("response from \(host):\(port)\(path) is too large") }
                case .end:
                    return Response(status: status, body: data)
                }
            }
            throw PKIError("connection to \(host):\(port) closed before the response ended")
        }
    }
}
