import EdgeProtocol
import Foundation
import Testing

#if canImport(APIServerStorage)
@testable import APIServerStorage
#else
@testable import APIServerService
#endif

@Suite struct WatchTests {
    @Test func resumeFromAResourceVersionSeesEveryLaterChangeOnceInOrder() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let store = try openStore(dir, batch: 3)  // small batches exercise the paged replay
        let device = ObjectKey(resource: "devices.devices.kubeedge.io", namespace: "", name: "d")
        try store.create(device, object: Array(#"{"metadata":{"name":"d"}}"#.utf8))
        for i in 0..<10 {
            try store.create(podKey("p\(i)"), object: pod("p\(i)"))
            try store.update(device, object: Array(#"{"metadata":{"name":"d"},"n":\#(i)}"#.utf8))
        }
        try store.delete(podKey("p3"))  // rv 22
        let expected = try store.events(after: 5).filter { $0.key.resource == "pods" }
        #expect(expected.first?.rv == 6 && expected.last?.rv == 22)

        let stream = try store.watch(resource: "pods", after: 5)
        let replayed = try await withTimeout { try await collect(stream) { $0.last?.rv == 22 } }
        #expect(replayed == expected)

        // Then live: the same stream position continues with new writes only.
        let live = Task {
            try await collect(try store.watch(resource: "pods", after: 22)) { $0.count == 2 }
        }
        try store.update(device, object: Array(#"{"metadata":{"name":"d"}}"#.utf8))  // filtered out
        try store.create(podKey("q"), object: pod("q"))
        try store.delete(podKey("q"))
        let liveEvents = try await withTimeout { try await live.value }
        #expect(liveEvents.map(\.rv) == [24, 25])
        #expect(liveEvents.map(\.type) == [.added, .deleted])

        // Namespace filter and the all-resources watch.
        try store.create(podKey("other", namespace: "kube-system"), object: pod("other", namespace: "kube-system"))
        let ns = try await withTimeout {
            try await collect(try store.watch(resource: "pods", namespace: "kube-system", after: 0)) { $0.count == 1 }
        }
        #expect(ns.map(\.rv) == [26])
        let everything = try await withTimeout {
            try await collect(try store.watch(resource: nil, after: 0)) { $0.last?.rv == 26 }
        }
        #expect(everything.map(\.rv) == Array(1...26))
    }

    @Test(arguments: [1, 7, 256])
    func replayToLiveHandoverUnderConcurrentWrites(batch: Int) async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let store = try openStore(dir, batch: batch)
        let total: Int64 = 400
        for i in 0..<50 { try store.create(podKey("seed\(i)"), object: pod("seed\(i)")) }

        let results = try await withTimeout(60) {
            try await withThrowingTaskGroup(of: (start: Int64, rvs: [Int64]).self) { group in
                // Two writers interleave creates and updates until rv `total`.
                for w in 0..<2 {
                    group.addTask {
                        var i = 0
                        while try store.currentRevision < total {
                            let key = podKey("w\(w)-\(i % 20)")
                            do {
                                if i < 20 {
                                    try store.create(key, object: pod(key.name))
                                } else {
                                    try store.update(key, object: pod(key.name, spec: #"{"i":\#(i)}"#))
                                }
                            } catch StoreError.alreadyExists, StoreError.notFound {}
                            i += 1
                            await Task.yield()
                        }
                        return (-1, [])
                    }
                }
                // Watchers join at different moments, from the then-current revision or from an older one.
                for k in 0..<8 {
                    group.addTask {
                        for _ in 0..<(k * 10) { await Task.yield() }
                        let now = try store.currentRevision
                        let start = k % 2 == 0 ? now : max(0, now - 30)
                        let events = try await collect(try store.watch(resource: nil, after: start)) {
                            $0.last.map { $0.rv >= total } ?? false
                        }
                        return (start, events.map(\.rv))
                    }
                }
                var results: [(start: Int64, rvs: [Int64])] = []
                for try await result in group where result.start >= 0 { results.append(result) }
                return results
            }
        }
        let logged = try store.events(after: 0, limit: 10_000).map(\.rv)
        #expect(logged.count >= Int(total))
        #expect(results.count == 8)
        for result in results {
            let expected = Array(logged.filter { $0 > result.start && $0 <= result.rvs.last! })
            #expect(result.rvs == expected, "watcher from \(result.start)")
            #expect(result.rvs.first == result.start + 1)
        }
    }

    @Test func bookmarksCarryTheRevisionWhileOtherResourcesChange() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        try store.create(podKey("a"), object: pod("a"))
        let device = ObjectKey(resource: "devices.devices.kubeedge.io", namespace: "", name: "d")
        try store.create(device, object: Array(#"{"metadata":{"name":"d"}}"#.utf8))  // rv 2, not a pod
        let stream = try store.watch(resource: "pods", after: 0, bookmarkInterval: .milliseconds(50))
        let events = try await withTimeout {
            try await collect(stream) { $0.contains { $0.type == .bookmark && $0.rv >= 2 } }
        }
        #expect(events.first?.type == .added && events.first?.rv == 1)
        let bookmark = try #require(events.last)
        #expect(bookmark.type == .bookmark && bookmark.rv == 2 && bookmark.key.resource == "pods")
        #expect(bookmark.object.isEmpty)
        #expect(events.dropFirst().allSatisfy { $0.type == .bookmark })
    }

    @Test func parkedWatcherEndsOnCancellation() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        let stream = try store.watch(resource: "pods", after: 0)
        let task = Task { try await collect(stream) { _ in false } }
        // Wait (bounded) until the watcher has parked on the hub, then cancel it.
        try await withTimeout {
            while store.hub.parkedCount == 0 { await Task.yield() }
        }
        task.cancel()
        let events = try await withTimeout { try await task.value }
        #expect(events.isEmpty)
        #expect(store.hub.parkedCount == 0)
    }

    @Test func slowWatcherOvertakenByCompactionGetsGone() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let store = try openStore(dir, batch: 2)
        for i in 0..<6 { try store.create(podKey("p\(i)"), object: pod("p\(i)")) }
        var iterator = try store.watch(resource: "pods", after: 0).makeAsyncIterator()
        #expect(try await iterator.next()?.rv == 1)
        try store.compact(keepingLast: 1)
        #expect(try await iterator.next()?.rv == 2)  // already read in its batch
        await #expect(throws: StoreError.gone(oldest: 5)) { _ = try await iterator.next() }
        #expect(try await iterator.next() == nil)
    }
}
