import EdgeProtocol
import Foundation
import KubeClient
import Testing
import TestSupport

/// The shared Kubernetes client (what edgecontroller and devicecontroller use) against our real API server, over
/// HTTPS with the admin kubeconfig's client certificate.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct KubeClientAgainstServerTests {
    @Test func crudAndListWatchResumeAcrossAServerRestart() async throws {
        let server = try await APIServerProcess()
        defer { Task { await server.stop() } }
        let client = try KubeClient(try Kubeconfig.load(path: server.kubeconfig).configuration())
        let pod: JSONValue = [
            "apiVersion": "v1", "kind": "Pod", "metadata": ["name": "p1", "labels": ["app": "edge"]],
            "spec": ["nodeName": "edge-1", "containers": [["name": "c", "image": "busybox:1.36"]]],
        ]
        let created = try await client.create(.pods, namespace: "default", pod)
        #expect(created.string(at: "metadata.uid") != nil)
        // Status through the status subresource, labels through a merge patch.
        var withStatus = created
        withStatus[path: ["status", "phase"]] = "Running"
        let running = try await client.updateStatus(.pods, namespace: "default", withStatus)
        #expect(running.string(at: "status.phase") == "Running")
        _ = try await client.patch(.pods, namespace: "default", name: "p1",
                                   ["metadata": ["labels": ["step": "one"]]], type: .merge)
        // A stale resourceVersion is a conflict the caller can recognise.
        do {
            _ = try await client.update(.pods, namespace: "default", created)
            Issue.record("a stale update succeeded")
        } catch let error as KubeError {
            #expect(error.isConflict, "\(error)")
        }

        // list + watch: the first event is the full set, then changes; a server restart in between is resumed
        // from the last resourceVersion without repeating anything.
        let events = Watched<[String]>([])
        let consumer = Task {
            for try await event in client.listWatch(.pods, namespace: "default",
                                                    options: .init(initialBackoff: .milliseconds(50),
                                                                   maxBackoff: .milliseconds(500))) {
                let entry: String
                switch event {
                case .resync(let items, _): entry = "resync " + items.compactMap { $0.string(at: "metadata.name") }.joined(separator: ",")
                case .added(let object): entry = "added " + (object.string(at: "metadata.name") ?? "")
                case .modified(let object):
                    entry = "modified " + (object.string(at: "metadata.name") ?? "") + " "
                        + (object.string(at: "metadata.labels.step") ?? "")
                case .deleted(let object): entry = "deleted " + (object.string(at: "metadata.name") ?? "")
                }
                events.update { $0.append(entry) }
            }
        }
        defer { consumer.cancel() }
        try await events.wait(timeout: 10, "the initial list") { $0.contains("resync p1") }
        _ = try await client.create(.pods, namespace: "default", pod.with(name: "p2"))
        try await events.wait(timeout: 10, "p2 added") { $0.contains("added p2") }
        await server.kill()
        try await server.start()
        _ = try await client.patch(.pods, namespace: "default", name: "p1",
                                   ["metadata": ["labels": ["step": "two"]]], type: .merge)
        _ = try await client.delete(.pods, namespace: "default", name: "p2", gracePeriodSeconds: 0)
        try await events.wait(timeout: 20, "the changes after the restart") { $0.contains("deleted p2") }
        let seen = events.value.filter { !$0.hasPrefix("modified p2") }
        #expect(seen == ["resync p1", "added p2", "modified p1 two", "deleted p2"], "\(events.value)")
    }
}

extension JSONValue {
    fileprivate func with(name: String) -> JSONValue {
        var copy = self
        copy[path: ["metadata", "name"]] = .string(name)
        return copy
    }
}
