import Foundation
import Testing
import TestSupport

/// Probes as kubelet runs them (exec through CRI ExecSync, httpGet), on a real containerd: readiness
/// drives READY, a failing liveness probe restarts the container, a startup probe holds the others back.
@Suite("pod probes", .serialized, .timeLimit(.minutes(5)))
struct PodProbeTests {
    static let node = PodStack.node

    static let pods = """
        apiVersion: v1
        kind: Pod
        metadata: {name: probed, namespace: default}
        spec:
          nodeName: edge-1
          terminationGracePeriodSeconds: 1
          containers:
          - name: main
            image: localhost/edge/busybox:local
            # Not ready for 3 s, ready for 5 s, not ready again; after 12 s unhealthy.
            command: ["sh", "-c", "touch /tmp/healthy; sleep 3; touch /tmp/ready; sleep 5; rm /tmp/ready; sleep 4; rm /tmp/healthy; exec sleep 3600"]
            readinessProbe: {exec: {command: [cat, /tmp/ready]}, periodSeconds: 1, timeoutSeconds: 5}
            livenessProbe: {exec: {command: [cat, /tmp/healthy]}, periodSeconds: 1, failureThreshold: 2, timeoutSeconds: 5}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: slow-starter, namespace: default}
        spec:
          nodeName: edge-1
          terminationGracePeriodSeconds: 1
          containers:
          - name: main
            image: localhost/edge/busybox:local
            command: ["sh", "-c", "sleep 8; touch /tmp/started; exec sleep 3600"]
            startupProbe: {exec: {command: [cat, /tmp/started]}, periodSeconds: 1, failureThreshold: 30, timeoutSeconds: 5}
            livenessProbe: {exec: {command: [cat, /tmp/started]}, periodSeconds: 1, failureThreshold: 3, timeoutSeconds: 5}
        """

    /// On the host network (pod IPs of the parallel pod suites' bridges may overlap), on a free port.
    static func web(port: Int) -> String {
        """
        apiVersion: v1
        kind: Pod
        metadata: {name: web, namespace: default}
        spec:
          nodeName: edge-1
          hostNetwork: true
          terminationGracePeriodSeconds: 1
          containers:
          - name: main
            image: localhost/edge/busybox:local
            command: ["sh", "-c", "mkdir -p /tmp/www && echo ok > /tmp/www/index.html && exec httpd -f -p 127.0.0.1:\(port) -h /tmp/www"]
            ports: [{name: http, containerPort: \(port)}]
            readinessProbe: {httpGet: {path: /index.html, port: http}, periodSeconds: 1, timeoutSeconds: 5}
        """
    }

    @Test("readiness turns READY 0/1 → 1/1 → 0/1; a failing liveness probe restarts; a slow starter is not killed early; an httpGet probe")
    func probes() async throws {
        let stack = try await PodStack()
        try await stack.run {
            try await stack.waitFor("node Ready", "node", Self.node, #"{.status.conditions[?(@.type=="Ready")].status}"#) { $0 == "True" }
            _ = try await stack.api.ok(["apply", "-f", "-"], input: Self.pods)
            _ = try await stack.api.ok(["apply", "-f", "-"], input: Self.web(port: try FreePort.next()))

            // Readiness: running but not ready, then ready, then not ready again.
            try await stack.waitFor("probed Running and not ready", "pod", "probed",
                                    #"{.status.phase} {.status.containerStatuses[0].ready} {.status.conditions[?(@.type=="Ready")].status}"#) {
                $0 == "Running false False"
            }
            try await stack.waitFor("probed ready", timeout: 30, "pod", "probed",
                                    #"{.status.containerStatuses[0].ready} {.status.conditions[?(@.type=="Ready")].status}"#) {
                $0 == "true True"
            }
            try await stack.waitFor("probed not ready again", timeout: 30, "pod", "probed",
                                    "{.status.containerStatuses[0].ready}") { $0 == "false" }

            // Liveness: the container is killed and restarted; the count shows.
            try await stack.waitFor("probed restarted by its liveness probe", timeout: 60, "pod", "probed",
                                    "{.status.containerStatuses[0].restartCount}") { (Int($0) ?? 0) >= 1 }
            #expect(try await stack.jsonpath("pod", "probed", "{.status.containerStatuses[0].lastState.terminated.reason}") != "")

            // Startup: the liveness probe would kill it within a second, but it waits for the startup probe.
            try await stack.waitFor("slow-starter ready", timeout: 60, "pod", "slow-starter",
                                    "{.status.containerStatuses[0].ready}") { $0 == "true" }
            #expect(try await stack.jsonpath("pod", "slow-starter", "{.status.containerStatuses[0].restartCount}") == "0")

            // An httpGet probe (port by name) against a real server in the pod.
            try await stack.waitFor("web ready through its HTTP probe", timeout: 90, "pod", "web",
                                    "{.status.containerStatuses[0].ready}") { $0 == "true" }
        }
    }
}
