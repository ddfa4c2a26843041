import Foundation

/// Polls `condition` until it holds, for state only visible through a command (kubectl) and not as an event;
/// bounded by `timeout`.
public func eventually(_ what: String, timeout: Double = 20, _ condition: () async throws -> Bool) async throws {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(100))
    }
    throw TestSupportError("timed out waiting for \(what)")
}
