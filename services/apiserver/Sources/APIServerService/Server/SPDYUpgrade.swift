import HummingbirdCore
import Logging
import NIOConcurrencyHelpers
import NIOCore
import SPDY
import ServiceLifecycle

/// A request to switch a connection to SPDY/3.1 (`Connection: Upgrade`, `Upgrade: SPDY/3.1`), as kubectl sends for
/// `port-forward` before 1.31 and for `exec`/`attach` before 1.29: what kube-apiserver hands to its SPDY proxy.
struct SPDYUpgradeHead: Sendable {
    var method: String
    /// Path with query.
    var path: String
    /// Header names in lower case; repeated headers joined with ", ".
    var headers: [String: String]

    /// Parses an HTTP/1.1 request head (without the blank line); nil when it is not one.
    init?(_ text: String) {
        let lines = text.split(separator: "\r\n", omittingEmptySubsequences: false)
        let start = lines.first?.split(separator: " ") ?? []
        guard start.count == 3, start[2].hasPrefix("HTTP/1.") else { return nil }
        method = String(start[0])
        path = String(start[1])
        headers = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { return nil }
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            headers[name] = headers[name].map { $0 + ", " + value } ?? value
        }
    }

    var isSPDYUpgrade: Bool {
        (headers["upgrade"] ?? "").lowercased().split(separator: ",").contains { $0.trimmingCharacters(in: .whitespaces) == "spdy/3.1" }
            && (headers["connection"] ?? "").lowercased().contains("upgrade")
    }

    /// The values of a header that may be repeated or comma-separated (`X-Stream-Protocol-Version`).
    func values(_ name: String) -> [String] {
        (headers[name.lowercased()] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}

/// A connection taken over for SPDY: the raw bytes both ways (after TLS), with back-pressure on what comes in.
final class SPDYConnection: Sendable {
    let head: SPDYUpgradeHead
    let channel: any Channel
    /// What the client sends, from the first byte after its request head.
    let input: AsyncStream<[UInt8]>
    private let writeBytes: @Sendable ([UInt8]) -> EventLoopFuture<Void>
    private let closeChannel: @Sendable () -> Void
    private let taken: @Sendable (Int) -> Void

    init(head: SPDYUpgradeHead, channel: any Channel, input: AsyncStream<[UInt8]>,
         write: @escaping @Sendable ([UInt8]) -> EventLoopFuture<Void>, close: @escaping @Sendable () -> Void,
         consumed: @escaping @Sendable (Int) -> Void) {
        self.head = head
        self.channel = channel
        self.input = input
        writeBytes = write
        closeChannel = close
        taken = consumed
    }

    /// Writes and waits until the bytes are on their way (the socket took them): false once the client is gone.
    @discardableResult
    func send(_ bytes: [UInt8]) async -> Bool {
        (try? await writeBytes(bytes).get()) != nil
    }

    /// An HTTP response before (or instead of) the switch.
    func respond(status: Int, reason: String, headers: [(String, String)], body: [UInt8] = []) async {
        var text = "HTTP/1.1 \(status) \(reason)\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        if status != 101 { text += "Content-Length: \(body.count)\r\nConnection: close\r\n" }
        text += "\r\n"
        await send(Array(text.utf8) + body)
    }

    /// The reader handled `count` bytes of `input`: past a backlog, the connection is read again.
    func consumed(_ count: Int) { taken(count) }

    func close() { closeChannel() }
}

/// Hummingbird's HTTP/1 + WebSocket channel with one more way in: a request to switch to SPDY/3.1 that `wants` is
/// taken off the HTTP pipeline before it sees a byte, and `serve` runs the connection. Everything else (the first
/// request head does not ask for SPDY) goes on to the base channel unchanged.
struct SPDYUpgradeChannel<Base: ServerChildChannel>: ServerChildChannel {
    struct Value: ServerChildChannelValue {
        let base: Base.Value
        let takeover: EventLoopFuture<SPDYConnection?>
        var channel: any Channel { base.channel }
    }

    let base: Base
    let wants: @Sendable (SPDYUpgradeHead) -> Bool
    let serve: @Sendable (SPDYConnection) async -> Void

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let promise = channel.eventLoop.makePromise(of: SPDYConnection?.self)
        return channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(SPDYUpgradeSniffer(promise: promise, wants: wants))
        }.flatMap {
            base.setup(channel: channel, logger: logger)
        }.map { Value(base: $0, takeover: promise.futureResult) }
    }

    func handle(value: Value, logger: Logger) async {
        // The sniffer decides on the first request head, before the base channel could see anything.
        if let connection = try? await value.takeover.get() {
            // On SIGTERM the session ends with a GOAWAY and the connection is closed: kubectl learns at once, and the
            // server's shutdown does not wait for a client that may never leave.
            await withGracefulShutdownHandler {
                await serve(connection)
            } onGracefulShutdown: {
                Task {
                    var writer = SPDYFrameWriter()
                    await connection.send(writer.encode(.goAway(lastGood: 0, status: 0)))
                    connection.close()
                }
            }
            connection.close()
        } else {
            await base.handle(value: value.base, logger: logger)
        }
    }
}

/// Looks at a connection's first request head: a SPDY upgrade that is wanted keeps the connection (bytes go to the
/// `SPDYConnection`), anything else is passed on whole and the sniffer leaves the pipeline.
final class SPDYUpgradeSniffer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private enum State {
        case sniffing(ByteBuffer)
        case spdy(AsyncStream<[UInt8]>.Continuation)
        case done
    }

    /// Unread input past which the connection is not read until the reader catches up.
    static let backlogLimit = 1 << 20
    static let maxHead = 16 << 10

    private var state = State.sniffing(ByteBuffer())
    private let promise: EventLoopPromise<SPDYConnection?>
    private let wants: @Sendable (SPDYUpgradeHead) -> Bool
    private let backlog = NIOLockedValueBox((bytes: 0, paused: false))

    init(promise: EventLoopPromise<SPDYConnection?>, wants: @escaping @Sendable (SPDYUpgradeHead) -> Bool) {
        self.promise = promise
        self.wants = wants
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        switch state {
        case .sniffing(var buffer):
            buffer.writeBuffer(&bytes)
            let view = buffer.readableBytesView
            guard let end = view.firstRange(of: [13, 10, 13, 10]) else {
                if buffer.readableBytes > Self.maxHead { passOn(context: context, buffer) } else { state = .sniffing(buffer) }
                return
            }
            let headLength = end.lowerBound - view.startIndex
            let text = String(decoding: view.prefix(headLength), as: UTF8.self)
            guard let head = SPDYUpgradeHead(text), head.isSPDYUpgrade, wants(head) else {
                passOn(context: context, buffer)
                return
            }
            buffer.moveReaderIndex(forwardBy: headLength + 4)
            let (input, continuation) = AsyncStream<[UInt8]>.makeStream(bufferingPolicy: .unbounded)
            state = .spdy(continuation)
            if buffer.readableBytes > 0 { received(context: context, Array(buffer.readableBytesView), continuation) }
            let loopContext = NIOLoopBound(context, eventLoop: context.eventLoop)
            let eventLoop = context.eventLoop
            let backlog = self.backlog
            let connection = SPDYConnection(
                head: head, channel: context.channel, input: input,
                write: { bytes in
                    eventLoop.flatSubmit {
                        loopContext.value.writeAndFlush(NIOAny(ByteBuffer(bytes: bytes)))
                    }
                },
                close: { eventLoop.execute { loopContext.value.close(promise: nil) } },
                consumed: { count in
                    let resume = backlog.withLockedValue { b -> Bool in
                        b.bytes -= count
                        guard b.paused, b.bytes < Self.backlogLimit / 4 else { return false }
                        b.paused = false
                        return true
                    }
                    if resume {
                        eventLoop.execute {
                            let context = loopContext.value
                            try? context.channel.syncOptions?.setOption(ChannelOptions.autoRead, value: true)
                            context.read()
                        }
                    }
                })
            promise.succeed(connection)
        case .spdy(let continuation):
            received(context: context, Array(bytes.readableBytesView), continuation)
        case .done:
            context.fireChannelRead(wrapInboundOut(bytes))
        }
    }

    private func received(context: ChannelHandlerContext, _ bytes: [UInt8], _ continuation: AsyncStream<[UInt8]>.Continuation) {
        let pause = backlog.withLockedValue { b -> Bool in
            b.bytes += bytes.count
            guard !b.paused, b.bytes > Self.backlogLimit else { return false }
            b.paused = true
            return true
        }
        if pause { try? context.channel.syncOptions?.setOption(ChannelOptions.autoRead, value: false) }
        continuation.yield(bytes)
    }

    /// Not a SPDY upgrade: the bytes go on to the HTTP pipeline, and the sniffer is gone.
    private func passOn(context: ChannelHandlerContext, _ buffer: ByteBuffer) {
        state = .done
        promise.succeed(nil)
        context.fireChannelRead(wrapInboundOut(buffer))
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        switch state {
        case .sniffing:
            state = .done
            promise.succeed(nil)
        case .spdy(let continuation):
            continuation.finish()
        case .done:
            break
        }
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        if case .sniffing = state {
            state = .done
            promise.succeed(nil)
        }
    }
}
