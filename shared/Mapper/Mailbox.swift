import Synchronization

/// Write requests for one device worker, and a wait that ends at a deadline or as soon as a request arrives.
/// One consumer (the worker); any number of producers.
final class Mailbox: Sendable {
    private struct State {
        var items: [(name: String, value: String)] = []
        /// Set by a driver whose link broke outside a read or write (a subscription's loop).
        var linkLost: String?
        var waiter: CheckedContinuation<Void, Never>?
        var waitID = 0
        var cancelledID = -1
    }

    private let state = Mutex(State())

    func post(_ writes: [(name: String, value: String)]) {
        guard !writes.isEmpty else { return }
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            s.items.append(contentsOf: writes)
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume()
    }

    /// Wakes the worker: the device's link is broken.
    func postLinkLost(_ reason: String) {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            s.linkLost = s.linkLost ?? reason
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume()
    }

    func takeLinkLost() -> String? {
        state.withLock { s in
            defer { s.linkLost = nil }
            return s.linkLost
        }
    }

    func take() -> [(name: String, value: String)] {
        state.withLock { s in
            defer { s.items.removeAll() }
            return s.items
        }
    }

    var isEmpty: Bool { state.withLock { $0.items.isEmpty && $0.linkLost == nil } }

    /// Returns at `deadline`, when a request is posted, or when the task is cancelled, whichever comes first.
    func wait(until deadline: ContinuousClock.Instant) async {
        if !isEmpty || Task.isCancelled { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await Task.sleep(until: deadline, clock: .continuous) }
            group.addTask { await self.waitForPost() }
            await group.next()
            group.cancelAll()
        }
    }

    private func waitForPost() async {
        let id = state.withLock { s -> Int in
            s.waitID += 1
            return s.waitID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { s -> Bool in
                    if !s.items.isEmpty || s.linkLost != nil || s.cancelledID == id { return true }
                    s.waiter = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
                s.cancelledID = id
                defer { s.waiter = nil }
                return s.waiter
            }
            waiter?.resume()
        }
    }
}

/// Capped exponential backoff for reconnects.
public struct BackoffPolicy: Sendable, Equatable {
    public var initial: Duration
    public var maximum: Duration

    public init(initial: Duration = .milliseconds(250), maximum: Duration = .seconds(5)) {
        self.initial = initial
        self.maximum = maximum
    }

    /// The delay before attempt `failures + 1` (after `failures` consecutive failures, ≥ 1).
    public func delay(afterFailures failures: Int) -> Duration {
        var delay = initial
        for _ in 1..<max(1, min(failures, 30)) {
            delay = delay * 2
            if delay >= maximum { return maximum }
        }
        return min(delay, maximum)
    }
}
