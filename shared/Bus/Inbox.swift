import Dispatch
import Synchronization

/// Received messages between the network thread (producer) and the service's dispatch loop (single consumer).
///
/// Bounded without loss: when `capacity` messages wait unread, the network thread pauses in `push` until the consumer
/// has caught up by half. The broker then holds further messages for our session.
final class Inbox: Sendable {
    let capacity: Int
    let stream: AsyncStream<BusMessage>
    private let continuation: AsyncStream<BusMessage>.Continuation
    private let buffered = Atomic<Int>(0)
    private let producerWaiting = Atomic<Bool>(false)
    private let released = Atomic<Bool>(false)
    private let room = DispatchSemaphore(value: 0)

    private let onDropped: @Sendable (BusMessage) -> Void

    init(capacity: Int, onDropped: @escaping @Sendable (BusMessage) -> Void) {
        self.capacity = capacity
        self.onDropped = onDropped
        (stream, continuation) = AsyncStream.makeStream(of: BusMessage.self, bufferingPolicy: .unbounded)
    }

    func push(_ message: BusMessage) {
        while buffered.load(ordering: .acquiring) >= capacity && !released.load(ordering: .acquiring) {
            producerWaiting.store(true, ordering: .releasing)
            // Timed, so that a missed signal costs at most a tick rather than a hang.
            _ = room.wait(timeout: .now() + .milliseconds(50))
        }
        buffered.add(1, ordering: .acquiringAndReleasing)
        if case .terminated = continuation.yield(message) {
            buffered.subtract(1, ordering: .acquiringAndReleasing)
            onDropped(message)
        }
    }

    func consumed() {
        let left = buffered.subtract(1, ordering: .acquiringAndReleasing).newValue
        if left <= capacity / 2 && producerWaiting.exchange(false, ordering: .acquiringAndReleasing) {
            room.signal()
        }
    }

    /// Lets a paused producer go on (used when closing: the consumer may be gone).
    func release() {
        released.store(true, ordering: .releasing)
        room.signal()
    }

    func finish() {
        release()
        continuation.finish()
    }
}

/// The messages a `BusClient` receives, in order. Iterate it from one task only.
public struct BusMessages: AsyncSequence, Sendable {
    public typealias Element = BusMessage
    let inbox: Inbox

    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: AsyncStream<BusMessage>.AsyncIterator
        let inbox: Inbox

        public mutating func next() async -> BusMessage? {
            guard let message = await base.next() else { return nil }
            inbox.consumed()
            return message
        }

        public mutating func next(isolation actor: isolated (any Actor)?) async -> BusMessage? {
            guard let message = await base.next(isolation: actor) else { return nil }
            inbox.consumed()
            return message
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: inbox.stream.makeAsyncIterator(), inbox: inbox)
    }
}
