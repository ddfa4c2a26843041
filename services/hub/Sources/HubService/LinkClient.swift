import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import LinkSecurity
import NIOWebSocket

/// The websocket client side of the link (hub, and tests acting as an edgecore).
///
/// Written on NIOWebSocket rather than a general websocket client because the server is usually addressed by IP
/// (as edgecore's `websocket.server` is): an IP cannot be an SNI name, and the certificate must then be checked
/// against the IP, which NIOSSL does when it is given no host name.
public enum LinkClient {
    public struct NotUpgraded: Error, CustomStringConvertible {
        public var description: String { "the server refused the websocket upgrade" }
    }

    enum UpgradeResult {
        case websocket(NIOAsyncChannel<WebSocketFrame, WebSocketFrame>, HTTPHeaders)
        case notUpgraded
    }

    /// Connects, upgrades and runs `body` with the connection; closes it when `body` returns or throws.
    public static func connect<Result: Sendable>(
        host: String, port: Int, path: String, headers: [(String, String)], tls: TLSConfiguration,
        maxMessageSize: Int = 16 << 20, connectTimeout: TimeAmount = .seconds(30),
        _ body: @Sendable (LinkInbound, LinkOutbound) async throws -> Result
    ) async throws -> Result {
        let context = try NIOSSLContext(configuration: tls)
        let sniName = PKI.ipAddressBytes(host) == nil ? host : nil
        let upgrade: EventLoopFuture<UpgradeResult> = try await ClientBootstrap(
            group: MultiThreadedEventLoopGroup.singleton
        )
        .connectTimeout(connectTimeout)
        .channelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
        .connect(host: host, port: port) { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(
                    try NIOSSLClientHandler(context: context, serverHostname: sniName))
                let upgrader = NIOTypedWebSocketClientUpgrader<UpgradeResult>(
                    maxFrameSize: maxMessageSize,
                    upgradePipelineHandler: { channel, response in
                        channel.eventLoop.makeCompletedFuture {
                            // Reassembles fragmented messages; control frames pass through.
                            try channel.pipeline.syncOperations.addHandler(NIOWebSocketFrameAggregator(
                                minNonFinalFragmentSize: 0, maxAccumulatedFrameCount: 1 << 16,
                                maxAccumulatedFrameSize: maxMessageSize))
                            return UpgradeResult.websocket(
                                try NIOAsyncChannel<WebSocketFrame, WebSocketFrame>(wrappingChannelSynchronously: channel),
                                response.headers)
                        }
                    })
                var requestHeaders = HTTPHeaders()
                requestHeaders.add(name: "Host", value: "\(host):\(port)")
                for (name, value) in headers { requestHeaders.add(name: name, value: value) }
                let configuration = NIOTypedHTTPClientUpgradeConfiguration(
                    upgradeRequestHead: HTTPRequestHead(
                        version: .http1_1, method: .GET, uri: path, headers: requestHeaders),
                    upgraders: [upgrader],
                    notUpgradingCompletionHandler: { channel in
                        channel.eventLoop.makeCompletedFuture { UpgradeResult.notUpgraded }
                    })
                return try channel.pipeline.syncOperations.configureUpgradableHTTPClientPipeline(
                    configuration: .init(upgradeConfiguration: configuration))
            }
        }
        guard case .websocket(let channel, let responseHeaders) = try await upgrade.get() else { throw NotUpgraded() }
        let accepted = responseHeaders.map { ($0.name, $0.value) }
        return try await channel.executeThenClose { inbound, outbound in
            let writer = LinkOutbound(writer: outbound)
            defer { writer.finish() }
            return try await body(LinkInbound(frames: inbound, outbound: writer, upgradeHeaders: accepted), writer)
        }
    }
}

/// Sends text messages (masked, as a client must) and a close frame.
public struct LinkOutbound: Sendable {
    let writer: NIOAsyncChannelOutboundWriter<WebSocketFrame>

    public func send(_ text: String) async throws {
        try await writer.write(WebSocketFrame(
            fin: true, opcode: .text, maskKey: .random(), data: ByteBuffer(string: text)))
    }

    func sendControl(_ opcode: WebSocketOpcode, _ data: ByteBuffer) async throws {
        try await writer.write(WebSocketFrame(fin: true, opcode: opcode, maskKey: .random(), data: data))
    }

    /// A normal close (1000), which edgecore never sends but a well-behaved client should (§13.3).
    public func close() async {
        var data = ByteBuffer()
        data.write(webSocketErrorCode: .normalClosure)
        try? await sendControl(.connectionClose, data)
    }

    func finish() { writer.finish() }
}

/// The data messages received, as bytes; pings are answered and a close ends the sequence.
public struct LinkInbound: AsyncSequence, Sendable {
    public typealias Element = [UInt8]
    let frames: NIOAsyncChannelInboundStream<WebSocketFrame>
    let outbound: LinkOutbound
    /// The headers of the server's upgrade response (extensions it agreed to).
    public let upgradeHeaders: [(name: String, value: String)]

    /// A header of the server's upgrade response, by case-insensitive name.
    public func upgradeHeader(_ name: String) -> String? {
        upgradeHeaders.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        var frames: NIOAsyncChannelInboundStream<WebSocketFrame>.AsyncIterator
        let outbound: LinkOutbound

        public mutating func next() async throws -> [UInt8]? {
            while let frame = try await frames.next() {
                switch frame.opcode {
                case .text, .binary:
                    var data = frame.unmaskedData
                    return data.readBytes(length: data.readableBytes) ?? []
                case .ping:
                    try await outbound.sendControl(.pong, frame.unmaskedData)
                case .connectionClose:
                    try? await outbound.sendControl(.connectionClose, frame.unmaskedData)
                    return nil
                default:
                    continue
                }
            }
            return nil
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(frames: frames.makeAsyncIterator(), outbound: outbound)
    }
}
