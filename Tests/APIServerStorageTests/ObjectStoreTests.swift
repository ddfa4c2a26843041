import CSQLite
import EdgeProtocol
import Foundation
import Store
import Testing

#if canImport(APIServerStorage)
@testable import APIServerStorage
#else
@testable import APIServerService
#endif

@Suite struct ResourceVersionJSONTests {
    @Test func stampsExistingMissingAndEmptyMetadata() throws {
        func stamp(_ s: String, _ rv: Int64) throws -> String {
            String(decoding: try ResourceVersionJSON.setting(rv, in: Array(s.utf8)), as: UTF8.self)
        }
        #expect(try stamp(#"{"metadata":{"name":"a","resourceVersion":"3"},"x":1}"#, 7)
            == #"{"metadata":{"name":"a","resourceVersion":"7"},"x":1}"#)
        #expect(try stamp(#"{"metadata":{"name":"a"}}"#, 12) == #"{"metadata":{"name":"a","resourceVersion":"12"}}"#)
        #expect(try stamp(#"{"metadata":{ }}"#, 1) == #"{"metadata":{ "resourceVersion":"1"}}"#)
        #expect(try stamp(#"{"kind":"X"}"#, 2) == #"{"kind":"X","metadata":{"resourceVersion":"2"}}"#)
        #expect(try stamp(#" {} "#, 2) == #" {"metadata":{"resourceVersion":"2"}} "#)
        #expect(try stamp(#"{"metadata":{"resourceVersion":5}}"#, 6) == #"{"metadata":{"resourceVersion":"6"}}"#)
        #expect(throws: StoreError.self) { try stamp("[1]", 1) }
        #expect(throws: StoreError.self) { try stamp(#"{"metadata":[]}"#, 1) }
        #expect(throws: StoreError.self) { try stamp(#"{"metadata":{}"#, 1) }
    }
}

@Suite struct ObjectStoreTests {
    @Test func crudAndResourceVersionOrdering() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        #expect(try store.currentRevision == 0)
        let rvA = try store.create(podKey("a"), object: pod("a"))
        let rvB = try store.create(podKey("b"), object: pod("b"))
        #expect(rvA == 1 && rvB == 2)
        let a = try #require(try store.get(podKey("a")))
        #expect(a.rv == 1)
        #expect(try storedRV(a.object) == "1")
        #expect(try JSONValue(parsing: a.object)["spec"] == .object([]))

        let rvB2 = try store.update(podKey("b"), object: pod("b", spec: #"{"v":2}"#), expectedRV: 2)
        #expect(rvB2 == 3)
        let b = try #require(try store.get(podKey("b")))
        #expect(b.rv == 3)
        #expect(try storedRV(b.object) == "3")
        #expect(try store.currentRevision == 3)

        #expect(throws: StoreError.alreadyExists(podKey("a"))) { try store.create(podKey("a"), object: pod("a")) }
        #expect(throws: StoreError.notFound(podKey("zz"))) { try store.update(podKey("zz"), object: pod("zz")) }
        #expect(throws: StoreError.self) { try store.create(podKey("bad"), object: Array("not json".utf8)) }
        // Failed writes append nothing.
        #expect(try store.currentRevision == 3)
        // Update without a precondition always applies.
        #expect(try store.update(podKey("a"), object: pod("a", spec: #"{"v":9}"#)) == 4)

        let events = try store.events(after: 0)
        #expect(events.map(\.rv) == [1, 2, 3, 4])
        #expect(events.map(\.type) == [.added, .added, .modified, .modified])
        #expect(events.map(\.key.name) == ["a", "b", "b", "a"])
        for event in events { #expect(try storedRV(event.object) == String(event.rv)) }
        #expect(try store.events(after: 2, limit: 1).map(\.rv) == [3])
    }

    @Test func staleResourceVersionConflicts() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        let rv = try store.create(podKey("a"), object: pod("a"))
        try store.update(podKey("a"), object: pod("a", spec: #"{"v":1}"#), expectedRV: rv)
        #expect(throws: StoreError.conflict(key: podKey("a"), current: 2)) {
            try store.update(podKey("a"), object: pod("a"), expectedRV: rv)
        }
        #expect(throws: StoreError.conflict(key: podKey("a"), current: 2)) {
            try store.delete(podKey("a"), expectedRV: rv)
        }

        // Eight concurrent writers with the same expected rv: exactly one wins.
        let current: Int64 = 2
        let outcomes = try await withTimeout {
            await withTaskGroup(of: Result<Int64, StoreError>.self) { group in
                for i in 0..<8 {
                    group.addTask {
                        do {
                            return .success(try store.update(
                                podKey("a"), object: pod("a", spec: #"{"writer":\#(i)}"#), expectedRV: current))
                        } catch let error as StoreError {
                            return .failure(error)
                        } catch {
                            Issue.record("unexpected \(error)")
                            return .failure(.invalidObject("\(error)"))
                        }
                    }
                }
                var all: [Result<Int64, StoreError>] = []
                for await outcome in group { all.append(outcome) }
                return all
            }
        }
        let wins = outcomes.compactMap { try? $0.get() }
        #expect(wins == [3])
        let conflicts = outcomes.filter {
            if case .failure(.conflict(_, 3)) = $0 { return true } else { return false }
        }
        #expect(conflicts.count == 7)
        #expect(try store.currentRevision == 3)
    }

    @Test func deleteAppendsEventAndRemovesState() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        try store.create(podKey("a"), object: pod("a"))
        try store.create(podKey("b"), object: pod("b"))
        let (rv, last) = try store.delete(podKey("a"), expectedRV: 1)
        #expect(rv == 3)
        #expect(try storedRV(last) == "3")
        #expect(try JSONValue(parsing: last)["metadata"]?["name"] == .string("a"))
        #expect(try store.get(podKey("a")) == nil)
        #expect(throws: StoreError.notFound(podKey("a"))) { try store.delete(podKey("a")) }
        let deleted = try #require(try store.events(after: 2).first)
        #expect(deleted.type == .deleted && deleted.rv == 3 && deleted.object == last)
        // Re-create after delete.
        #expect(try store.create(podKey("a"), object: pod("a")) == 4)
        #expect(try store.list(resource: "pods").items.map(\.key.name) == ["a", "b"])
    }

    @Test func listIsAConsistentSnapshot() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        try store.create(podKey("x", namespace: "b"), object: pod("x", namespace: "b"))
        try store.create(podKey("y", namespace: "a"), object: pod("y", namespace: "a"))
        let device = ObjectKey(resource: "devices.devices.kubeedge.io", namespace: "a", name: "d")
        try store.create(device, object: Array(#"{"kind":"Device","metadata":{"name":"d"}}"#.utf8))
        let nodeKey = ObjectKey(resource: "nodes", namespace: "", name: "n1")
        try store.create(nodeKey, object: Array(#"{"kind":"Node","metadata":{"name":"n1"}}"#.utf8))

        let all = try store.list(resource: "pods")
        #expect(all.items.map(\.key) == [podKey("y", namespace: "a"), podKey("x", namespace: "b")])
        #expect(all.listRV == 4)
        #expect(try store.list(resource: "pods", namespace: "a").items.map(\.key.name) == ["y"])
        #expect(try store.list(resource: "devices.devices.kubeedge.io").items.map(\.key) == [device])
        #expect(try store.list(resource: "nodes").items.first?.key.namespace == "")

        // Lists racing with writes: each is exactly the state at its listRV.
        let writer = Task {
            for i in 0..<200 { try store.create(podKey("p\(i)", namespace: "w"), object: pod("p\(i)", namespace: "w")) }
        }
        var snapshots: [(count: Int, rv: Int64)] = []
        for _ in 0..<50 {
            let list = try store.list(resource: "pods", namespace: "w")
            #expect(list.items.allSatisfy { $0.rv <= list.listRV })
            snapshots.append((list.items.count, list.listRV))
        }
        try await writer.value
        for snapshot in snapshots {
            // Revisions 1...4 are the objects above; every later one is one create in namespace w.
            #expect(Int64(snapshot.count) == max(0, snapshot.rv - 4))
        }
    }

    @Test func compactionBoundsTheLogAndAnswersGone() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        for i in 0..<5 { try store.create(podKey("p\(i)"), object: pod("p\(i)")) }
        for i in 0..<5 { try store.update(podKey("p\(i)"), object: pod("p\(i)", spec: #"{"v":2}"#)) }
        #expect(try store.compact(keepingLast: 3) == 7)
        #expect(try store.compactedRevision == 7)
        #expect(throws: StoreError.gone(oldest: 7)) { try store.events(after: 6) }
        #expect(try store.events(after: 7).map(\.rv) == [8, 9, 10])
        #expect(throws: StoreError.gone(oldest: 7)) { try store.watch(resource: "pods", after: 2) }
        // Current state untouched.
        #expect(try store.list(resource: "pods").items.count == 5)
        #expect(try store.list(resource: "pods").items.allSatisfy { $0.rv >= 6 })
        // Never lowered; compact(before:) removes rv < before.
        #expect(try store.compact(before: 3) == 7)
        #expect(try store.compact(before: 10) == 9)
        #expect(try store.events(after: 9).map(\.rv) == [10])
        // Compacting everything keeps the counter: rvs are never reused.
        #expect(try store.compact(keepingLast: 0) == 10)
        #expect(try store.events(after: 10).isEmpty)
        #expect(try store.create(podKey("new"), object: pod("new")) == 11)
        // A watch from the compacted revision itself is fine.
        let events = try await withTimeout {
            try await collect(try store.watch(resource: "pods", after: 10)) { $0.count == 1 }
        }
        #expect(events.map(\.rv) == [11])
    }

    @Test func automaticCompaction() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let store = try openStore(dir, autoCompaction: CompactionPolicy(keepLast: 5, every: 10))
        for i in 0..<25 { try store.create(podKey("p\(i)"), object: pod("p\(i)")) }
        // Compactions ran after writes 10 and 20.
        #expect(try store.compactedRevision == 15)
        #expect(try store.events(after: 15).count == 10)
        #expect(try store.list(resource: "pods").items.count == 25)
    }

    @Test func persistsAcrossReopen() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        do {
            let store = try openStore(dir)
            try store.create(podKey("a"), object: pod("a"))
            try store.create(podKey("b"), object: pod("b"))
            try store.delete(podKey("b"))
            try store.compact(before: 2)
            store.close()
            #expect(throws: SQLiteError.self) { try store.get(podKey("a")) }
        }
        let store = try openStore(dir)
        #expect(try store.currentRevision == 3)
        #expect(try store.compactedRevision == 1)
        #expect(try store.get(podKey("a"))?.rv == 1)
        #expect(try store.get(podKey("b")) == nil)
        #expect(try store.events(after: 1).map(\.type) == [.added, .deleted])
        #expect(try store.create(podKey("c"), object: pod("c")) == 4)
    }
}
