import Foundation

/// A value shared between threads and tasks that a test can wait on: `wait` is woken by each `update` (an event,
/// not a poll) and bounded by a timeout, so a hang fails fast with a description of the state.
public final class Watched<State: Sendable>: @unchecked Sendable {
    // @unchecked: all mutable state is guarded by `lock`.
    private let lock = NSLock()
    private var state: State
    private var waiters: [UUID: (check: (State) -> Bool, resume: () -> Void)] = [:]

    public init(_ initial: State) {
        state = initial
    }

    public var value: State { lock.withLock { state } }

    public func update(_ change: (inout State) -> Void) {
        let ready: [() -> Void] = lock.withLock {
            change(&state)
            let met = waiters.filter { $0.value.check(state) }
            for key in met.keys { waiters[key] = nil }
            return met.values.map(\.resume)
        }
        for resume in ready { resume() }
    }

    /// Waits until `condition` holds for the state; throws after `timeout` seconds.
    public func wait(timeout: Double, _ what: String, until condition: @escaping @Sendable (State) -> Bool)
        async throws
    {
        let key = UUID()
        let met: Bool = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let once = OnceFlag()
            let resume = { if once.set() { continuation.resume(returning: true) } }
            let already: Bool = lock.withLock {
                if condition(state) { return true }
                waiters[key] = (check: condition, resume: resume)
                return false
            }
            if already {
                resume()
                return
            }
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout) { [weak self] in
                _ = self?.lock.withLock { self?.waiters.removeValue(forKey: key) }
                if once.set() { continuation.resume(returning: false) }
            }
        }
        if !met { throw TestSupportError("no \(what) within \(timeout) s; state: \(value)") }
    }
}

/// Set once, from any thread.
final class OnceFlag: @unchecked Sendable {
    // @unchecked: guarded by `lock`.
    private let lock = NSLock()
    private var done = false

    /// True for the first caller only.
    func set() -> Bool {
        lock.withLock {
            defer { done = true }
            return !done
        }
    }
}
