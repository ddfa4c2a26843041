import Logging
import SPDY

/// Writes whole SPDY frames to kubectl (a WebSocket message, or the upgraded connection); frames of several tasks may
/// interleave, which SPDY allows.
struct TunnelOutput: Sendable {
    /// False once kubectl is gone.
    let write: @Sendable ([UInt8]) async -> Bool

    init(_ write: @escaping @Sendable ([UInt8]) async -> Bool) { self.write = write }

    @discardableResult
    func send(_ bytes: [UInt8]) async -> Bool { await write(bytes) }
}

/// The API server's side of a SPDY/3.1 connection from kubectl, as port-forward and exec share it: every stream kubectl
/// opens is answered (SYN_REPLY), pings are returned, and bytes that are not SPDY end the connection with a GOAWAY.
/// What is left to the caller are the streams' headers, their data and their resets.
struct SPDYServerSide {
    enum Event {
        case opened(id: UInt32, headers: [SPDYHeader])
        case data(id: UInt32, fin: Bool, payload: [UInt8])
        case reset(id: UInt32)
    }

    let out: TunnelOutput
    /// Names the connection in log lines ("port-forward of default/web").
    let context: String
    let logger: Logger
    private var reader = SPDYFrameReader(readsHeaders: true)
    private var writer = SPDYFrameWriter()

    init(out: TunnelOutput, context: String, logger: Logger) {
        self.out = out
        self.context = context
        self.logger = logger
    }

    /// What `bytes` complete; nil once the connection is over (kubectl's GOAWAY, or bytes that are not SPDY).
    mutating func receive(_ bytes: [UInt8]) async -> [Event]? {
        let frames: [SPDYFrame]
        do {
            frames = try reader.push(bytes)
        } catch {
            logger.warning("\(context) ended: the client's bytes are not SPDY/3.1", metadata: ["reason": "\(error)"])
            await out.send(writer.encode(.goAway(lastGood: 0, status: SPDYFrame.protocolError)))
            return nil
        }
        var events: [Event] = []
        for frame in frames {
            switch frame {
            case .synStream(let id, let headers, _):
                await out.send(writer.encode(.synReply(id: id)))
                events.append(.opened(id: id, headers: headers))
            case .data(let id, let fin, let payload):
                events.append(.data(id: id, fin: fin, payload: payload))
            case .rstStream(let id, _):
                events.append(.reset(id: id))
            case .ping(let id):
                await out.send(writer.encode(.ping(id: id)))
            case .goAway:
                return nil
            default:
                break  // SETTINGS, WINDOW_UPDATE (kubectl's spdystream uses no SPDY flow control), HEADERS
            }
        }
        return events
    }

    /// Refuses a stream kubectl opened (headers missing or unknown).
    mutating func refuse(_ id: UInt32) async {
        logger.warning("\(context): a stream without the headers it needs was reset", metadata: ["stream": "\(id)"])
        await out.send(writer.encode(.rstStream(id: id, status: SPDYFrame.protocolError)))
    }
}
