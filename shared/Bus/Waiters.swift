import Synchronization

/// Tasks waiting for a condition on some other state, woken by `check` after that state changes.
///
/// A waiter is resumed once its predicate holds (checked on entry, again right after it is registered, and on every
/// `check`), when it is cancelled (throws `CancellationError`), or by `failAll`. Predicates are evaluated outside this
/// type's lock, so they may take other locks.
final class Waiters: Sendable {
    private struct Entry {
        let key: Int?
        let predicate: @Sendable () -> Bool
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct Table {
        var next = 0
        var entries: [Int: Entry] = [:]
    }

    private let table = Mutex(Table())

    func wait(key: Int? = nil, until predicate: @escaping @Sendable () -> Bool) async throws {
        if predicate() { return }
        try Task.checkCancellation()
        let token = table.withLock { t -> Int in
            t.next += 1
            return t.next
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                table.withLock { $0.entries[token] = Entry(key: key, predicate: predicate, continuation: continuation) }
                // The condition may have become true between the first look and the registration.
                if predicate() { take(token)?.resume() }
            }
        } onCancel: {
            take(token)?.resume(throwing: CancellationError())
        }
    }

    /// Re-evaluates the waiters registered under `key` (all waiters when `key` is nil).
    func check(key: Int? = nil) {
        let candidates = table.withLock { t -> [(Int, @Sendable () -> Bool)] in
            if t.entries.isEmpty { return [] }
            return t.entries.compactMap { token, entry in
                key == nil || entry.key == key ? (token, entry.predicate) : nil
            }
        }
        for (token, predicate) in candidates where predicate() {
            take(token)?.resume()
        }
    }

    func resumeAll() {
        for entry in drain() { entry.continuation.resume() }
    }

    func failAll(_ error: any Error) {
        for entry in drain() { entry.continuation.resume(throwing: error) }
    }

    private func drain() -> [Entry] {
        table.withLock { t in
            defer { t.entries.removeAll() }
            return Array(t.entries.values)
        }
    }

    private func take(_ token: Int) -> CheckedContinuation<Void, any Error>? {
        table.withLock { $0.entries.removeValue(forKey: token)?.continuation }
    }
}

/// Runs `body`, throwing `BusError.timeout(what)` if it has not finished within `duration`.
public func withDeadline<T: Sendable>(
    _ duration: Duration, what: String, _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: duration)
            throw BusError.timeout(what)
        }
        defer { group.cancelAll() }
        guard let first = try await group.next() else { throw CancellationError() }
        return first
    }
}
