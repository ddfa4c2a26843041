import Bus
import EdgeProtocol
import Foundation
import Link
import Testing
import TestSupport

/// One bad message, or an API server that dies twice while pods are being created, never stops a node: every pod
/// created around the faults runs. The same real processes as `PodEndToEndTests`.
@Suite("pods under faults", .serialized, .timeLimit(.minutes(6)))
struct PodFaultTests {
    static let node = PodStack.node

    /// A pod reading its own configmap (so that edged queries the cloud for it through meta).
    static func podWithConfig(_ name: String) -> String {
        """
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: \(name)-config, namespace: default}
        data: {value: \(name)}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: \(name), namespace: default}
        spec:
          nodeName: edge-1
          terminationGracePeriodSeconds: 1
          containers:
          - name: main
            image: localhost/edge/busybox:local
            command: ["sh", "-c", "cat /etc/app/value; echo; exec sleep 3600"]
            volumeMounts: [{name: config, mountPath: /etc/app}]
          volumes:
          - {name: config, configMap: {name: \(name)-config}}
        """
    }

    @Test("a poison message between pod creations and an API server killed twice in quick succession: every pod runs, the poison message is dead-lettered with its reason")
    func poisonAndAPIServerKills() async throws {
        let stack = try await PodStack()
        try await stack.run {
            try await stack.waitFor("node Ready", "node", Self.node, #"{.status.conditions[?(@.type=="Ready")].status}"#) { $0 == "True" }
            _ = try await stack.api.ok(["apply", "-f", "-"], input: Self.podWithConfig("before-0"))
            _ = try await stack.api.ok(["apply", "-f", "-"], input: Self.podWithConfig("before-1"))

            // What edgecontroller once sent while the API server was down: an answer that kept the request's group
            // `meta`, which no edge module takes, for the configmap the next pods use.
            let cloudBus = try await stack.link.client(stack.api.broker, "poison")
            let poison = Message(source: "edgecontroller", group: "meta", operation: "response",
                                 resource: "default/configmap/after-0-config",
                                 content: RawJSON(string: "apiserver unavailable"), parentID: "gone")
            try await cloudBus.publish(Topics.toNode(Self.node), poison)
            await cloudBus.close()
            _ = try await stack.api.ok(["apply", "-f", "-"], input: Self.podWithConfig("after-0"))

            // The API server dies twice within seconds while pods are created and their configmaps queried.
            _ = try await stack.api.ok(["apply", "-f", "-"], input: Self.podWithConfig("kill-0"))
            await stack.api.kill()
            try await stack.api.start()
            _ = try await stack.api.ok(["apply", "-f", "-"], input: Self.podWithConfig("kill-1"))
            await stack.api.kill()
            try await stack.api.start()
            _ = try await stack.api.ok(["apply", "-f", "-"], input: Self.podWithConfig("kill-2"))

            // Faults stopped: every pod runs within the bound.
            let pods = ["before-0", "before-1", "after-0", "kill-0", "kill-1", "kill-2"]
            try await eventually("every pod Running", timeout: 120) {
                let phases = try await stack.api.ok(["get", "pods", "-o",
                                                     #"jsonpath={range .items[*]}{.metadata.name}={.status.phase}{" "}{end}"#])
                return pods.allSatisfy { phases.contains("\($0)=Running") }
            }
            for pod in pods {
                let uid = try await stack.jsonpath("pod", pod, "{.metadata.uid}")
                try await eventually("\(pod) read its configmap") { stack.containerLog(podUID: uid).contains(pod) }
            }

            // The poison message is in the node's dead letters with its reason; nothing is left in the outbox.
            let outbox = try DurableQueue(path: stack.link.outboxPath, limit: 10)
            let dead = try outbox.deadLetters(Self.node)
            let record = try #require(dead.first { $0.msgID == poison.header.id }, "dead letters: \(dead.map(\.msgID))")
            #expect(record.reason.contains("no edge module takes group 'meta'"))
            try await eventually("the outbox drained") { try outbox.count(Self.node) == 0 }
        }
    }
}
