// Watch: a watcher is a cursor over the event log. It reads the log after its cursor in batches (the replay),
// and when it has caught up it parks on the `WatchHub` until the store's revision passes the cursor (live). The
// log is the only source of events, and the cursor only moves forward past what was delivered, so replay and
// live cannot overlap (no duplicate) nor leave a hole (no gap), whatever writes race with the handover:
//
// - `ObjectStore.read` returns the matching events and `scannedThrough`, the revision up to which it looked,
//   inside one read transaction; the cursor becomes `scannedThrough`.
// - Writers call `WatchHub.publish` after commit while still holding the store's lock, so the hub's revision
//   never runs ahead of the log and never misses a commit.
// - `WatchHub.wait(after:)` returns at once when the hub's revision is already past the cursor (a commit that
//   landed between the read and the wait), otherwise it parks until a publish passes it: no lost wake-up.
//
// No polling: parked watchers cost one continuation each. A bookmark is emitted when `bookmarkInterval` passes
// without an event delivered to this watcher (events of other resources do not count).

import Synchronization

/// Wakes watchers parked until the store's revision passes their cursor.
final class WatchHub: Sendable {
    private struct Waiter {
        var after: Int64
        var continuation: CheckedContinuation<Void, Never>
    }

    private struct State {
        var revision: Int64
        var nextID: UInt64 = 0
        var waiters: [UInt64: Waiter] = [:]
        /// Waits cancelled before their continuation was registered.
        var cancelled: Set<UInt64> = []
        /// The server is stopping: every watch ends.
        var closed = false
    }

    private let state: Mutex<State>

    init(revision: Int64) {
        state = Mutex(State(revision: revision))
    }

    /// The newest revision published.
    var revision: Int64 { state.withLock { $0.revision } }

    var isClosed: Bool { state.withLock { $0.closed } }

    /// Ends every watch, parked or not (graceful shutdown: watches would otherwise hold the listeners open).
    func close() {
        let parked: [CheckedContinuation<Void, Never>] = state.withLock { state in
            state.closed = true
            defer { state.waiters = [:] }
            return state.waiters.values.map(\.continuation)
        }
        for continuation in parked { continuation.resume() }
    }

    /// Number of parked watchers (for tests and metrics).
    var parkedCount: Int { state.withLock { $0.waiters.count } }

    /// Records a committed revision and wakes every watcher whose cursor it passes.
    func publish(revision: Int64) {
        let ready: [CheckedContinuation<Void, Never>] = state.withLock { state in
            state.revision = max(state.revision, revision)
            var ready: [CheckedContinuation<Void, Never>] = []
            for (id, waiter) in state.waiters where waiter.after < state.revision {
                ready.append(waiter.continuation)
                state.waiters[id] = nil
            }
            return ready
        }
        for continuation in ready { continuation.resume() }
    }

    /// Returns once the published revision is greater than `rv`, or when the task is cancelled.
    func wait(after rv: Int64) async {
        let id = state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state in
                    if state.closed || state.cancelled.remove(id) != nil || state.revision > rv { return true }
                    state.waiters[id] = Waiter(after: rv, continuation: continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { state in
                if let waiter = state.waiters.removeValue(forKey: id) { return Optional(waiter) }
                state.cancelled.insert(id)
                return nil
            }
            waiter?.continuation.resume()
        }
        // A cancellation that arrived after the continuation was resumed by a publish leaves its mark behind.
        state.withLock { _ = $0.cancelled.remove(id) }
    }
}

/// The events of one watch: replay from the log, then live events, with bookmarks. Iterating throws
/// `StoreError.gone` when compaction overtook the reader; it ends (nil) when the iterating task is cancelled.
public struct WatchStream: AsyncSequence, Sendable {
    public typealias Element = Event

    let store: ObjectStore
    let resource: String?
    let namespace: String?
    let start: Int64
    let bookmarkInterval: Duration?

    init(store: ObjectStore, resource: String?, namespace: String?, after rv: Int64, bookmarkInterval: Duration?) {
        self.store = store
        self.resource = resource
        self.namespace = namespace
        self.start = rv
        self.bookmarkInterval = bookmarkInterval
    }

    public func makeAsyncIterator() -> Iterator {
        Iterator(stream: self)
    }

    public struct Iterator: AsyncIteratorProtocol {
        let stream: WatchStream
        /// Every matching event with rv <= cursor has been delivered (or is in `pending`).
        private(set) var cursor: Int64
        private var pending: [Event] = []
        private var pendingIndex = 0
        private var nextBookmark: ContinuousClock.Instant?
        private var failed = false

        init(stream: WatchStream) {
            self.stream = stream
            self.cursor = stream.start
            self.nextBookmark = stream.bookmarkInterval.map { ContinuousClock.now.advanced(by: $0) }
        }

        private mutating func delivered() {
            if let interval = stream.bookmarkInterval { nextBookmark = ContinuousClock.now.advanced(by: interval) }
        }

        public mutating func next() async throws -> Event? {
            if failed { return nil }
            while true {
                if pendingIndex < pending.count {
                    let event = pending[pendingIndex]
                    pendingIndex += 1
                    delivered()
                    return event
                }
                if Task.isCancelled || stream.store.hub.isClosed { return nil }
                let batch: (events: [Event], scannedThrough: Int64)
                do {
                    batch = try stream.store.read(
                        after: cursor, resource: stream.resource, namespace: stream.namespace,
                        limit: stream.store.options.watchBatchSize)
                } catch {
                    failed = true
                    throw error
                }
                cursor = batch.scannedThrough
                if !batch.events.isEmpty {
                    pending = batch.events
                    pendingIndex = 0
                    continue
                }
                // Caught up: park until a newer revision is published or the bookmark is due.
                if let due = nextBookmark {
                    if ContinuousClock.now >= due {
                        delivered()
                        return Event(
                            type: .bookmark, rv: cursor,
                            key: ObjectKey(resource: stream.resource ?? "", namespace: stream.namespace ?? "", name: ""),
                            object: [])
                    }
                    await waitOrDeadline(after: cursor, deadline: due)
                } else {
                    await stream.store.hub.wait(after: cursor)
                }
            }
        }

        private func waitOrDeadline(after rv: Int64, deadline: ContinuousClock.Instant) async {
            let hub = stream.store.hub
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await hub.wait(after: rv) }
                group.addTask { try? await Task.sleep(until: deadline, clock: .continuous) }
                _ = await group.next()
                group.cancelAll()
            }
        }
    }
}
