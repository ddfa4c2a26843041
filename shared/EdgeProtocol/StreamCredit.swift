import Synchronization

/// One direction of a stream session's flow control (`StreamProtocol`): the credit the reader has granted and the
/// producer not yet used. The producer takes credit before each chunk it sends, waiting while there is none; the
/// reader's `credit` frames grant more. Closing it ends any wait.
public final class StreamCredit: Sendable {
    private struct State {
        var available: Int
        /// Not held to credit (a reader that never grants any, e.g. an edged from before input credit).
        var unlimited: Bool
        var waiter: CheckedContinuation<Void, Never>?
        var closed = false
    }

    private let state: Mutex<State>

    public init(initial: Int = StreamProtocol.initialCredit, limited: Bool = true) {
        state = Mutex(State(available: initial, unlimited: !limited))
    }

    /// Takes credit for up to `wanted` bytes (and at most one frame's worth), waiting until there is some: the number
    /// of bytes that may be sent now (more than 0), or nil once closed.
    public func take(upTo wanted: Int) async -> Int? {
        while true {
            let taken = state.withLock { s -> Int? in
                guard !s.closed else { return nil }
                let count = min(s.unlimited ? Int.max : s.available, StreamProtocol.chunkSize, wanted)
                if !s.unlimited { s.available -= count }
                return count
            }
            guard let taken else { return nil }
            if taken > 0 || wanted <= 0 { return taken }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { s -> Bool in
                    guard !s.closed, s.available == 0 else { return true }
                    s.waiter = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        }
    }

    /// The reader granted `bytes` more.
    public func grant(_ bytes: Int) {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            s.available += bytes
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume()
    }

    /// Holds the producer to credit from now on (the reader said it grants it).
    public func limit() { state.withLock { $0.unlimited = false } }

    public var isClosed: Bool { state.withLock { $0.closed } }

    /// The session is over: a wait ends, and no more credit is given.
    public func close() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            s.closed = true
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume()
    }
}
