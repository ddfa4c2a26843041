import Foundation
import Logging

/// A logger whose entries a test can read and await.
public final class LogCapture: Sendable {
    public struct Entry: Sendable, CustomStringConvertible {
        public let level: Logger.Level
        public let message: String
        public let metadata: [String: String]
        public var description: String { "\(level) \(message) \(metadata)" }
    }

    private let entries = Watched<[Entry]>([])

    public init() {}

    public var logger: Logger {
        Logger(label: "capture") { _ in Handler(capture: self) }
    }

    public var all: [Entry] { entries.value }

    /// Waits until an entry whose message contains `text` has been logged; returns it.
    @discardableResult
    public func waitFor(_ text: String, timeout: Double = 10) async throws -> Entry {
        try await entries.wait(timeout: timeout, "log entry containing '\(text)'") { entries in
            entries.contains { $0.message.contains(text) }
        }
        return entries.value.first { $0.message.contains(text) }!
    }

    struct Handler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { $1 }
            let entry = Entry(level: event.level, message: "\(event.message)", metadata: merged.mapValues { "\($0)" })
            capture.entries.update { $0.append(entry) }
        }
    }
}
