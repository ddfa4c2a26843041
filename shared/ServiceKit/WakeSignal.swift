import Synchronization

/// Wakes one waiting task: a signal given while nobody waits is kept for the next wait. Spurious wake-ups are
/// possible (the waiter re-checks its condition), lost ones are not.
public final class WakeSignal: Sendable {
    private struct State {
        var pending = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    public init() {}

    public func signal() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if let waiter = s.waiter {
                s.waiter = nil
                return waiter
            }
            s.pending = true
            return nil
        }
        waiter?.resume()
    }

    /// Returns when signalled, or after `timeout` at the latest. One waiter at a time.
    public func wait(timeout: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await withTaskCancellationHandler {
                    await withCheckedContinuation { continuation in
                        let ready = self.state.withLock { s -> Bool in
                            if s.pending {
                                s.pending = false
                                return true
                            }
                            s.waiter = continuation
                            return false
                        }
                        if ready { continuation.resume() }
                    }
                } onCancel: {
                    self.signal()
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                if !Task.isCancelled { self.signal() }  // releases the waiter above
            }
            await group.next()
            group.cancelAll()
        }
    }
}

/// A value that parts of a service wait for until another part has it (a client once its kubeconfig exists). Any
/// number of tasks may wait.
public final class Eventual<Value: Sendable>: Sendable {
    private let state = Mutex<Value?>(nil)

    public init() {}

    public func set(_ value: Value) {
        state.withLock { $0 = value }
    }

    /// The value, once set; throws `CancellationError` when cancelled first.
    public func value() async throws -> Value {
        while true {
            if let value = state.withLock({ $0 }) { return value }
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}
