import EdgeProtocol
import Foundation
import Testing

@testable import KubeClient

@Suite("Requests against the stub", .timeLimit(.minutes(1)))
struct APITests {
    let cm = GroupVersionResource.configMaps

    @Test("create, get, update, updateStatus, patch (three content types), delete with options")
    func crud() async throws {
        let stub = try await StubServer.start()
        let client = try stub.client()

        let created = try await client.create(cm, namespace: "ns", [
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "one", "labels": ["app": "x"]],
            "data": ["k": "v"],
        ])
        #expect(created.name == "one")
        #expect(created.string(at: "metadata.namespace") == "ns")
        let uid = try #require(created.string(at: "metadata.uid"))

        var fetched = try await client.get(cm, namespace: "ns", name: "one")
        #expect(fetched.string(at: "data.k") == "v")

        fetched[path: ["data", "k"]] = "v2"
        let updated = try await client.update(cm, namespace: "ns", fetched)
        #expect(updated.string(at: "data.k") == "v2")
        #expect(updated.string(at: "metadata.resourceVersion") != fetched.string(at: "metadata.resourceVersion"))

        var withStatus = updated
        withStatus[path: ["status", "phase"]] = "Ready"
        withStatus[path: ["data", "k"]] = "ignored"
        let statusUpdated = try await client.updateStatus(cm, namespace: "ns", withStatus)
        #expect(statusUpdated.string(at: "status.phase") == "Ready")
        #expect(statusUpdated.string(at: "data.k") == "v2")  // only the status is taken

        let merged = try await client.patch(cm, namespace: "ns", name: "one", ["data": ["added": "1", "k": nil]])
        #expect(merged.string(at: "data.added") == "1")
        #expect(merged[path: ["data", "k"]] == nil)
        let jsonPatched = try await client.patch(
            cm, namespace: "ns", name: "one", [["op": "replace", "path": "/data/added", "value": "2"]], type: .json)
        #expect(jsonPatched.string(at: "data.added") == "2")
        _ = try await client.patch(cm, namespace: "ns", name: "one", ["status": ["phase": "Gone"]],
                                   type: .strategicMerge, subresource: "status")
        await #expect(throws: KubeError.self) {
            try await client.patch(cm, namespace: "ns", name: "one", ["a": 1], type: .apply)  // needs a field manager
        }

        let deleted = try await client.delete(cm, namespace: "ns", name: "one", gracePeriodSeconds: 0,
                                              preconditions: Preconditions(uid: uid), propagationPolicy: .background)
        #expect(deleted.name == "one")
        await #expect(throws: KubeError.self) { try await client.get(cm, namespace: "ns", name: "one") }

        let state = try await stub.state()
        let options = try #require(state["lastDeleteOptions"])
        #expect(options["gracePeriodSeconds"] == 0)
        #expect(options.string(at: "preconditions.uid") == uid)
        #expect(options["propagationPolicy"] == "Background")
        let patchTypes = (state["requests"]?.arrayValue ?? []).filter { $0["method"] == "PATCH" }
            .compactMap { $0["contentType"]?.stringValue }
        #expect(patchTypes == [PatchType.merge.rawValue, PatchType.json.rawValue, PatchType.strategicMerge.rawValue])
        let lastPatch = (state["requests"]?.arrayValue ?? []).last { $0["method"] == "PATCH" }
        #expect(lastPatch?["path"] == "/api/v1/namespaces/ns/configmaps/one/status")
        #expect((state["requests"]?.arrayValue ?? []).allSatisfy { $0["accept"] == "application/json" })

        // Raw bytes in and out.
        let raw = try await client.request(
            .post, cm.path(namespace: "ns"), body: Array(#"{"metadata":{"name":"raw"}}"#.utf8))
        #expect(raw.status == 201)
        #expect(try JSONValue(parsing: raw.body).name == "raw")
    }

    @Test("404 and 409 come back as KubeError with the decoded Status")
    func errors() async throws {
        let stub = try await StubServer.start()
        let client = try stub.client()

        do {
            _ = try await client.get(cm, namespace: "ns", name: "missing")
            Issue.record("expected 404")
        } catch let error as KubeError {
            #expect(error.httpCode == 404 && error.isNotFound)
            #expect(error.reason == "NotFound")
            #expect(error.status?.message == #"configmaps "missing" not found"#)
            #expect(error.status?.details?["name"] == "missing")
        }

        let object: JSONValue = ["metadata": ["name": "dup"]]
        let first = try await client.create(cm, namespace: "ns", object)
        do {
            _ = try await client.create(cm, namespace: "ns", object)
            Issue.record("expected 409")
        } catch let error as KubeError {
            #expect(error.isConflict && error.isAlreadyExists)
            #expect(error.status?.message.contains("already exists") == true)
        }

        _ = try await client.patch(cm, namespace: "ns", name: "dup", ["data": ["x": "1"]])
        do {
            _ = try await client.update(cm, namespace: "ns", first)  // first's resourceVersion is stale now
            Issue.record("expected 409")
        } catch let error as KubeError {
            #expect(error.isConflict && !error.isAlreadyExists)
            #expect(error.reason == "Conflict")
        }

        do {
            _ = try await client.delete(cm, namespace: "ns", name: "dup", preconditions: Preconditions(uid: "other"))
            Issue.record("expected 409")
        } catch let error as KubeError {
            #expect(error.httpCode == 409)
            #expect(error.status?.message.contains("Precondition failed") == true)
        }

        do {
            _ = try await client.request(.get, "/nonsense")
            Issue.record("expected 404")
        } catch let error as KubeError {
            #expect(error.isNotFound)
        }
        await #expect(throws: KubeError.self) {
            try await client.update(cm, namespace: "ns", ["metadata": [:]])  // no name
        }
    }

    @Test("list with selectors, limit/continue paging, listAll, expired continue token")
    func listPaging() async throws {
        let stub = try await StubServer.start()
        let client = try stub.client()
        for i in 1...5 {
            try await stub.createConfigMap("cm-\(i)", namespace: "paged", labels: ["tier": i % 2 == 0 ? "even" : "odd"])
        }
        try await stub.createConfigMap("elsewhere", namespace: "other")

        let page1 = try await client.list(cm, namespace: "paged", limit: 2)
        #expect(page1.items.compactMap(\.name) == ["cm-1", "cm-2"])
        let token1 = try #require(page1.continueToken)
        #expect(page1.remainingItemCount == 3)
        let page2 = try await client.list(cm, namespace: "paged", limit: 2, continueToken: token1)
        #expect(page2.items.compactMap(\.name) == ["cm-3", "cm-4"])
        #expect(page2.resourceVersion == page1.resourceVersion)
        let token2 = try #require(page2.continueToken)
        let page3 = try await client.list(cm, namespace: "paged", limit: 2, continueToken: token2)
        #expect(page3.items.compactMap(\.name) == ["cm-5"])
        #expect(page3.continueToken == nil)

        let all = try await client.listAll(cm, namespace: "paged", pageSize: 2)
        #expect(all.items.compactMap(\.name) == ["cm-1", "cm-2", "cm-3", "cm-4", "cm-5"])
        #expect(all.resourceVersion == page1.resourceVersion)
        #expect(try await client.list(cm).items.count == 6)  // all namespaces
        #expect(try await client.list(cm, namespace: "paged", labelSelector: "tier=even").items.compactMap(\.name)
            == ["cm-2", "cm-4"])
        #expect(try await client.list(cm, fieldSelector: "metadata.name=elsewhere").items.count == 1)

        try await stub.control(["op": "compact"])
        do {
            _ = try await client.list(cm, namespace: "paged", limit: 2, continueToken: token1)
            Issue.record("expected 410")
        } catch let error as KubeError {
            #expect(error.isGone && error.httpCode == 410 && error.reason == "Expired")
        }
    }

    @Test("bearer token: sent as the Authorization header; a wrong one is 401; token files are re-read")
    func token() async throws {
        let stub = try await StubServer.start(.token("s3cret"))
        let client = try stub.client()
        _ = try await client.list(cm, namespace: "default")
        let state = try await stub.state()
        #expect(state["requests"]?.arrayValue?.first?["authorization"] == "Bearer s3cret")

        let wrong = try KubeClient(KubeClientConfiguration(server: stub.url, token: "nope"))
        do {
            _ = try await wrong.list(cm)
            Issue.record("expected 401")
        } catch let error as KubeError {
            #expect(error.isUnauthorized && error.reason == "Unauthorized")
        }
        // A watch refused by the server ends its stream with the Status.
        do {
            for try await _ in wrong.watch(cm) {}
            Issue.record("expected 401")
        } catch let error as KubeError {
            #expect(error.isUnauthorized)
        }

        let file = stub.path("token")
        try "s3cret\n".write(toFile: file, atomically: true, encoding: .utf8)
        let fromFile = try KubeClient(KubeClientConfiguration(server: stub.url, tokenFile: file,
                                                              tokenRefreshInterval: .zero))
        _ = try await fromFile.list(cm)
        try "rotated".write(toFile: file, atomically: true, encoding: .utf8)
        await #expect(throws: KubeError.self) { try await fromFile.list(cm) }  // the new token was read (and refused)
    }
}
