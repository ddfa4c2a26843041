import EdgeProtocol
import Foundation
import Testing

@testable import KubeClient

@Suite("Watch", .timeLimit(.minutes(1)))
struct WatchTests {
    let cm = GroupVersionResource.configMaps

    @Test("events stream in order from the list's resourceVersion; bookmarks; initial ADDED from version 0")
    func streaming() async throws {
        let stub = try await StubServer.start(.tls)
        let client = try stub.client()
        _ = try await client.create(cm, namespace: "w", ["metadata": ["name": "before"]])
        let list = try await client.list(cm, namespace: "w")

        let consumer = Consumer(client.watch(cm, namespace: "w", resourceVersion: list.resourceVersion))
        try await stub.waitFor("watchers", count: 1)
        let a = try await client.create(cm, namespace: "w", ["metadata": ["name": "a"]])
        _ = try await client.create(cm, namespace: "other", ["metadata": ["name": "not-mine"]])
        _ = try await client.patch(cm, namespace: "w", name: "a", ["data": ["x": "1"]])
        _ = try await client.delete(cm, namespace: "w", name: "a")
        try await consumer.waitForCount(3)
        try await stub.control(["op": "bookmark"])
        try await consumer.waitForCount(4)
        let events = consumer.items
        #expect(events.map(\.type) == [.added, .modified, .deleted, .bookmark])
        #expect(events.prefix(3).allSatisfy { $0.object.name == "a" })
        #expect(events[0].resourceVersion == a.string(at: "metadata.resourceVersion"))
        #expect(events[1].object.string(at: "data.x") == "1")
        let versions = events.compactMap { $0.resourceVersion.flatMap { Int($0) } }
        #expect(versions.count == 4 && versions == versions.sorted() && Set(versions.prefix(3)).count == 3)
        #expect(events[3].resourceVersion == (try await stub.state())["resourceVersion"]?.stringValue)
        consumer.cancel()
        _ = try await consumer.waitForEnd()

        // From version 0: the current objects first.
        let fromZero = Consumer(client.watch(cm, namespace: "w", resourceVersion: "0", allowBookmarks: false))
        try await fromZero.waitForCount(1)
        #expect(fromZero.items.first?.type == .added && fromZero.items.first?.object.name == "before")
        fromZero.cancel()
        _ = try await fromZero.waitForEnd()

        let query = (try await stub.state())["watchRequests"]?.arrayValue?.first?["query"]
        #expect(query?["allowWatchBookmarks"] == "true")
        #expect(query?["resourceVersion"] == .string(list.resourceVersion))
    }

    @Test("an ERROR event with 410 ends the stream with KubeError.gone; a server-side timeout ends it cleanly")
    func expired() async throws {
        let stub = try await StubServer.start()
        let client = try stub.client()
        let old = try await client.list(cm).resourceVersion
        try await stub.createConfigMap("x")
        try await stub.control(["op": "compact"])
        let result = try await Consumer(client.watch(cm, resourceVersion: old)).waitForEnd()
        let error = try #require(result.error as? KubeError)
        #expect(error.isGone && error.httpCode == 410 && error.reason == "Expired")
        #expect(result.items.isEmpty)

        let ended = try await Consumer(client.watch(cm, resourceVersion: "0", timeoutSeconds: 1)).waitForEnd()
        #expect(ended.error == nil && ended.items.count == 1)
    }

    @Test("a connection dropped mid-event ends the stream with a transport error, without the partial event")
    func droppedConnection() async throws {
        let stub = try await StubServer.start()
        let client = try stub.client()
        let consumer = Consumer(client.watch(cm, resourceVersion: try await client.list(cm).resourceVersion))
        try await stub.waitFor("watchers", count: 1)
        try await stub.createConfigMap("complete")
        try await consumer.waitForCount(1)
        try await stub.control(["op": "drop"])
        let result = try await consumer.waitForEnd()
        #expect(result.items.map(\.object.name) == ["complete"])
        guard case .transport = try #require(result.error as? KubeError) else {
            Issue.record("expected a transport error, got \(String(describing: result.error))")
            return
        }
    }

    @Test("a slow consumer pauses the transfer; nothing is lost or reordered")
    func backpressure() async throws {
        let stub = try await StubServer.start()
        let client = try stub.client()
        let start = try await client.list(cm).resourceVersion
        var ops: [JSONValue] = []
        for i in 0..<300 {
            ops.append(["op": "create", "path": .string(cm.path(namespace: "bp")),
                        "object": ["metadata": ["name": .string("o\(i)")], "data": ["pad": .string(String(repeating: "x", count: 2000))]]])
        }
        try await stub.control(.array(ops))
        var names: [String] = []
        for try await event in client.watch(cm, namespace: "bp", resourceVersion: start, bufferSize: 2) {
            names.append(event.object.name ?? "?")
            if names.count % 50 == 0 { try await Task.sleep(for: .milliseconds(50)) }  // a slow consumer
            if names.count == 300 { break }
        }
        #expect(names == (0..<300).map { "o\($0)" })
        try await stub.waitFor("watchers", count: 0, timeout: 5)  // leaving the loop ended the watch
    }

    @Test("cancelling the consumer aborts the watch at once; cancelling or timing out a request too")
    func cancellation() async throws {
        let stub = try await StubServer.start(.tls)
        let client = try stub.client()
        let consumer = Consumer(client.watch(cm))
        try await stub.waitFor("watchers", count: 1)
        let clock = ContinuousClock()
        let started = clock.now
        consumer.cancel()
        let result = try await consumer.waitForEnd(timeout: 5)
        #expect(result.error == nil)
        try await stub.waitFor("watchers", count: 0, timeout: 5)  // the server saw the connection close
        #expect(clock.now - started < .seconds(2))

        let request = Task { try await client.request(.get, "/_stub/hang") }
        try await stub.waitFor("hanging", count: 1)
        let cancelledAt = clock.now
        request.cancel()
        await #expect(throws: CancellationError.self) { try await request.value }
        #expect(clock.now - cancelledAt < .seconds(2))
        try await stub.waitFor("hanging", count: 0, timeout: 5)

        var config = try stub.configuration()
        config.requestTimeout = .milliseconds(300)
        let impatient = try KubeClient(config)
        let before = clock.now
        do {
            _ = try await impatient.request(.get, "/_stub/hang")
            Issue.record("expected a timeout")
        } catch let error as KubeError {
            #expect(error.isTimeout)
        }
        #expect(clock.now - before < .seconds(5))
        try await stub.waitFor("hanging", count: 0, timeout: 5)
    }
}
