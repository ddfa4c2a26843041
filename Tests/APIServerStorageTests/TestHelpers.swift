import EdgeProtocol
import Foundation
import Testing

#if canImport(APIServerStorage)
@testable import APIServerStorage
#else
@testable import APIServerService
#endif

struct TimeoutError: Error, CustomStringConvertible {
    var description: String { "test timed out" }
}

/// Runs `body`, failing with `TimeoutError` after `seconds` (the body is cancelled).
func withTimeout<T: Sendable>(
    _ seconds: Double = 20, _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .seconds(seconds))
            throw TimeoutError()
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}

/// A fresh directory under the temporary directory, removed by `cleanup()`.
struct TempDir {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("storetest-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    var dbPath: String { url.appendingPathComponent("store.db").path }
    func cleanup() { try? FileManager.default.removeItem(at: url) }
}

func pod(_ name: String, namespace: String = "default", spec: String = "{}") -> [UInt8] {
    Array(#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"\#(name)","namespace":"\#(namespace)"},"spec":\#(spec)}"#.utf8)
}

func podKey(_ name: String, namespace: String = "default") -> ObjectKey {
    ObjectKey(resource: "pods", namespace: namespace, name: name)
}

/// `metadata.resourceVersion` of a stored object.
func storedRV(_ object: [UInt8]) throws -> String? {
    try JSONValue(parsing: object)["metadata"]?["resourceVersion"]?.stringValue
}

/// Reads `stream` until `done` says so.
func collect(_ stream: WatchStream, until done: @escaping @Sendable ([Event]) -> Bool) async throws -> [Event] {
    var events: [Event] = []
    for try await event in stream {
        events.append(event)
        if done(events) { break }
    }
    return events
}

/// A store without automatic compaction unless asked.
func openStore(_ dir: TempDir, autoCompaction: CompactionPolicy? = nil, batch: Int = 256) throws -> ObjectStore {
    try ObjectStore(path: dir.dbPath, options: ObjectStoreOptions(autoCompaction: autoCompaction, watchBatchSize: batch))
}
