import EdgeProtocol
import Foundation
import Testing

@testable import KubeClient

@Suite("ListWatch", .timeLimit(.minutes(1)))
struct ListWatchTests {
    let cm = GroupVersionResource.configMaps
    static let fast = ListWatch.Options(pageSize: 2, initialBackoff: .milliseconds(20), maxBackoff: .milliseconds(200))

    func watchVersions(_ stub: StubServer) async throws -> [String] {
        (try await stub.state()["watchRequests"]?.arrayValue ?? []).compactMap { $0["resourceVersion"]?.stringValue }
    }

    @Test("a dropped watch resumes from the last resourceVersion: every change once, in order")
    func resumeAfterDrop() async throws {
        let stub = try await StubServer.start(.tls)
        let client = try stub.client()
        try await stub.createConfigMap("x1", namespace: "lw")
        let consumer = Consumer(client.listWatch(cm, namespace: "lw", options: Self.fast))
        try await consumer.waitForCount(1)
        try await stub.waitFor("watchers", count: 1)
        let x2 = try await client.create(cm, namespace: "lw", ["metadata": ["name": "x2"]])
        try await consumer.waitForCount(2)

        // Drop the watch mid-event; x3 and x4 happen before the client can be back.
        try await stub.control([
            ["op": "drop"],
            ["op": "create", "path": .string(cm.path(namespace: "lw")), "object": ["metadata": ["name": "x3"]]],
            ["op": "update", "path": .string(cm.path(namespace: "lw", name: "x2")),
             "object": ["metadata": ["name": "x2"], "data": ["v": "2"]]],
        ])
        try await consumer.waitForCount(4)
        try await stub.waitFor("watchers", count: 1)
        try await stub.createConfigMap("x4", namespace: "lw")
        try await consumer.waitForCount(5)
        consumer.cancel()
        _ = try await consumer.waitForEnd()

        #expect(consumer.items.map(\.summary) == ["resync:x1", "added:x2", "added:x3", "modified:x2", "added:x4"])
        let versions = try await watchVersions(stub)
        #expect(versions.count == 2)
        #expect(versions.last == x2.string(at: "metadata.resourceVersion"))  // resumed where it stood
    }

    @Test("bookmarks advance the version a closed watch resumes from")
    func bookmarks() async throws {
        let stub = try await StubServer.start()
        let client = try stub.client()
        var options = Self.fast
        options.labelSelector = "app=mine"
        let consumer = Consumer(client.listWatch(cm, namespace: "lw", options: options))
        try await consumer.waitForCount(1)
        try await stub.waitFor("watchers", count: 1)
        let notMine = try await stub.createConfigMap("theirs", namespace: "lw", labels: ["app": "other"])
        // A bookmark at the current version, then a clean end of the watch.
        try await stub.control([["op": "bookmark"], ["op": "end"]])
        try await stub.waitFor("watchers", count: 1)  // resumed
        try await stub.createConfigMap("mine", namespace: "lw", labels: ["app": "mine"])
        try await consumer.waitForCount(2)
        consumer.cancel()
        _ = try await consumer.waitForEnd()

        #expect(consumer.items.map(\.summary) == ["resync:", "added:mine"])
        let versions = try await watchVersions(stub)
        #expect(versions.count == 2)
        #expect(versions.last == notMine)
    }

    @Test("410 on resume: list again and report it as a resync")
    func relistOnGone() async throws {
        let stub = try await StubServer.start()
        let client = try stub.client()
        try await stub.createConfigMap("a1", namespace: "lw")
        let consumer = Consumer(client.listWatch(cm, namespace: "lw", options: Self.fast))
        try await consumer.waitForCount(1)
        try await stub.waitFor("watchers", count: 1)
        try await stub.createConfigMap("a2", namespace: "lw")
        try await consumer.waitForCount(2)

        // While the client is away: a3 created, a1 deleted, and the versions it knows compacted.
        try await stub.control([
            ["op": "drop"],
            ["op": "create", "path": .string(cm.path(namespace: "lw")), "object": ["metadata": ["name": "a3"]]],
            ["op": "delete", "path": .string(cm.path(namespace: "lw", name: "a1"))],
            ["op": "compact"],
        ])
        try await consumer.waitForCount(3)
        try await stub.waitFor("watchers", count: 1)
        try await stub.createConfigMap("a4", namespace: "lw")
        try await consumer.waitForCount(4)
        consumer.cancel()
        _ = try await consumer.waitForEnd()

        #expect(consumer.items.map(\.summary) == ["resync:a1", "added:a2", "resync:a2,a3", "added:a4"])
        guard case .resync(_, let relistVersion) = consumer.items[2] else {
            Issue.record("expected a resync")
            return
        }
        let versions = try await watchVersions(stub)
        #expect(versions.count == 3)  // first watch, the expired resume, the watch after the relist
        #expect(versions.last == relistVersion)
    }

    @Test("failures back off and, when bounded, end the sequence with the error")
    func boundedFailures() async throws {
        let client = try KubeClient(KubeClientConfiguration(server: "http://127.0.0.1:1", connectTimeout: .seconds(2)))
        var options = Self.fast
        options.maxConsecutiveFailures = 2
        let result = try await Consumer(client.listWatch(cm, options: options)).waitForEnd(timeout: 30)  // generous: a loaded CI machine
        #expect(result.items.isEmpty)
        guard case .transport = try #require(result.error as? KubeError) else {
            Issue.record("expected a transport error, got \(String(describing: result.error))")
            return
        }
    }

    @Test("cancelling the consumer ends the sequence and the open watch")
    func cancellation() async throws {
        let stub = try await StubServer.start()
        let client = try stub.client()
        let consumer = Consumer(client.listWatch(cm, options: Self.fast))
        try await consumer.waitForCount(1)
        try await stub.waitFor("watchers", count: 1, timeout: 20)
        consumer.cancel()
        let result = try await consumer.waitForEnd(timeout: 20)
        #expect(result.error == nil)
        // The stub notices the closed connection at its next write: generous for a loaded machine.
        try await stub.waitFor("watchers", count: 0, timeout: 20)
    }
}
