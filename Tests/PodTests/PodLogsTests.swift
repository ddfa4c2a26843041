import Foundation
import Testing
import TestSupport

extension EdgedWorkloadSuites {
    /// `kubectl logs` of edge pods with no extra setup: the API server asks the pod's node through its link (the
    /// stream extension), edged reads its own CRI log files and streams them back with flow control.
    @Suite("kubectl logs", .serialized, .timeLimit(.minutes(5)))
    struct PodLogsTests {
        static let manifests = PodStack.pod("crasher", ["sh", "-c", "echo run-$(cat /proc/sys/kernel/random/uuid); sleep 1; exit 3"])
            + "---\n" + """
            apiVersion: v1
            kind: Pod
            metadata: {name: talker, namespace: default}
            spec:
              nodeName: edge-1
              terminationGracePeriodSeconds: 1
              containers:
              - name: main
                image: localhost/edge/busybox:local
                command: ["sh", "-c", "i=0; while true; do echo line-$i; i=$((i+1)); sleep 0.2; done"]
              - name: side
                image: localhost/edge/busybox:local
                command: ["sh", "-c", "echo side-hello; echo side-err >&2; exec sleep 3600"]
            """

        static func lines(_ text: String) -> [String] {
            text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        }

        @Test("logs, -c, --tail, --timestamps, --since, --limit-bytes, -f following new lines, --previous after a restart")
        func logs() async throws {
            let stack = try await PodStack()
            try await stack.run {
                try await stack.waitForNodeReady()
                _ = try await stack.api.ok(["apply", "-f", "-"], input: Self.manifests)
                try await stack.waitFor("talker Running", timeout: 90, "pod", "talker", "{.status.phase}") { $0 == "Running" }

                // Two containers and none named: kubectl picks the first and says so; the API itself answers with
                // kube's own message.
                let unnamed = try await stack.api.kubectl(["logs", "talker"])
                #expect(unnamed.stderr.contains(#"Defaulted container "main" out of: main, side"#))
                let raw = try await stack.api.kubectl(["get", "--raw", "/api/v1/namespaces/default/pods/talker/log"])
                #expect(raw.status != 0)
                #expect(raw.stderr.contains("a container name must be specified for pod talker, choose one of: [main side]"),
                        "\(raw.stderr)")
                let wrong = try await stack.api.kubectl(["logs", "talker", "-c", "nope"])
                #expect(wrong.stderr.contains("container nope is not valid for pod talker"), "\(wrong.stderr)")

                try await eventually("twenty lines written", timeout: 30) {
                    ((try? await stack.kubectl("logs", "talker", "-c", "main")) ?? "").contains("line-20")
                }
                let all = Self.lines(try await stack.kubectl("logs", "talker", "-c", "main"))
                #expect(all.first == "line-0")
                #expect(all.count >= 21)

                let side = try await stack.kubectl("logs", "talker", "-c", "side")
                #expect(side.contains("side-hello") && side.contains("side-err"))

                let tail = Self.lines(try await stack.kubectl("logs", "talker", "-c", "main", "--tail=3"))
                #expect(tail.count == 3)
                let numbers = tail.compactMap { Int($0.dropFirst("line-".count)) }
                #expect(numbers.count == 3 && numbers[1] == numbers[0] + 1 && numbers[2] == numbers[1] + 1)

                let stamped = Self.lines(try await stack.kubectl("logs", "talker", "-c", "main", "--timestamps", "--tail=1"))
                #expect(stamped.count == 1)
                #expect(stamped.first?.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z line-\d+$"#, options: .regularExpression) != nil,
                        "\(stamped)")

                let recent = Self.lines(try await stack.kubectl("logs", "talker", "-c", "main", "--since=1s"))
                #expect(!recent.isEmpty && recent.count <= 8, "\(recent.count) lines in the last second")

                let limited = try await stack.kubectl("logs", "talker", "-c", "main", "--limit-bytes=10")
                #expect(limited.utf8.count == 10 && limited.hasPrefix("line-0"))

                // -f: follows lines written after it started, until kubectl goes away.
                let follower = try ChildProcess(try Executables.which("kubectl"), [
                    "--cache-dir", stack.api.directory.appendingPathComponent("kube-cache").path,
                    "logs", "-f", "talker", "-c", "main", "--tail=1",
                ], environment: stack.api.kubectlEnvironment)
                try await follower.waitForLines(timeout: 20, "two new lines after the first") { lines in
                    let seen = lines.compactMap { Int($0.dropFirst("line-".count)) }
                    return seen.count >= 3 && seen.last! >= seen.first! + 2
                }
                let followed = follower.lines.compactMap { Int($0.dropFirst("line-".count)) }
                #expect(followed == Array(followed.first!...followed.last!), "follow skipped or repeated lines: \(followed)")
                follower.signal(SIGTERM)
                _ = await follower.waitForExit(timeout: 10)
                try await stack.process("edged")!.waitForLine(containing: "stream session ended", timeout: 20)

                // --previous: the run before the restart (each run prints its own id).
                try await stack.waitFor("crasher restarted twice", timeout: 90, "pod", "crasher",
                                        "{.status.containerStatuses[0].restartCount}") { (Int($0) ?? 0) >= 2 }
                let previous = try await stack.kubectl("logs", "crasher", "--previous")
                let current = try await stack.kubectl("logs", "crasher")
                #expect(previous.hasPrefix("run-") && current.hasPrefix("run-"))
                #expect(previous != current)
            }
        }

        @Test("with the edge node offline, kubectl logs, exec, port-forward and top fail at once naming the node")
        func offlineNode() async throws {
            let stack = try await PodStack()
            try await stack.run {
                try await stack.waitForNodeReady()
                _ = try await stack.api.ok(["apply", "-f", "-"], input: Self.manifests)
                try await stack.waitFor("talker Running", timeout: 90, "pod", "talker", "{.status.phase}") { $0 == "Running" }
                stack.link.hub?.signal(SIGKILL)
                _ = await stack.link.hub?.waitForExit(timeout: 10)
                try await stack.link.cloudhub!.waitForLine(containing: "edge disconnected", timeout: 30)
                let started = ContinuousClock.now
                let result = try await stack.api.kubectl(["logs", "talker", "-c", "main"])
                let took = ContinuousClock.now - started
                #expect(result.status != 0)
                #expect(result.stderr.contains(#"node "edge-1" is offline"#), "\(result.stderr)")
                #expect(took < .seconds(5), "kubectl logs took \(took) to fail")
                let execStarted = ContinuousClock.now
                let exec = try await stack.api.kubectl(["exec", "talker", "-c", "main", "--", "true"])
                #expect(exec.status != 0)
                #expect((exec.stderr + exec.stdout).contains(#"node "edge-1" is offline"#), "\(exec)")
                #expect(ContinuousClock.now - execStarted < .seconds(5))
                let forwardStarted = ContinuousClock.now
                let forward = try await stack.api.kubectl(["port-forward", "pod/talker", ":8080"])
                #expect(forward.status != 0)
                #expect((forward.stderr + forward.stdout).contains(#"node "edge-1" is offline"#), "\(forward)")
                #expect(ContinuousClock.now - forwardStarted < .seconds(5))
                // Its last usage figures are stale now: not shown.
                let top = try await stack.api.kubectl(["top", "node", "edge-1"])
                #expect(top.status != 0)
                #expect((top.stderr + top.stdout).contains(#""edge-1" not found"#), "\(top)")
            }
        }

        @Test("kubectl top node and kubectl top pod show the edge node's and a busy pod's figures")
        func top() async throws {
            let stack = try await PodStack()
            try await stack.run {
                try await stack.waitForNodeReady()
                _ = try await stack.api.ok(["apply", "-f", "-"], input: PodStack.pod(
                    "busy", ["sh", "-c", "while true; do :; done"], container: ["resources: {limits: {cpu: 300m, memory: 64Mi}}"]))
                try await stack.waitFor("busy Running", timeout: 90, "pod", "busy", "{.status.phase}") { $0 == "Running" }
                try await eventually("kubectl top node shows edge-1", timeout: 60) {
                    let out = (try? await stack.kubectl("top", "node", "--no-headers")) ?? ""
                    return out.range(of: #"^edge-1\s+\d+m\s+\d+%\s+\d+Mi\s+\d+%"#, options: .regularExpression) != nil
                }
                // The busy pod spins at its 300m limit: its figure is well above an idle container's.
                try await eventually("kubectl top pod shows busy spinning", timeout: 60) {
                    let out = (try? await stack.kubectl("top", "pod", "busy", "--no-headers")) ?? ""
                    guard let match = out.range(of: #"^busy\s+(\d+)m\s+\d+Mi"#, options: .regularExpression) else { return false }
                    let cpu = Int(out[match].split(whereSeparator: \.isWhitespace)[1].dropLast()) ?? 0
                    return cpu >= 100
                }
                let all = try await stack.kubectl("top", "pod", "--containers")
                #expect(all.contains("busy") && all.contains("main"), "\(all)")
            }
        }

        @Test("ten kubectl logs -f at once on a chatty pod: every one follows, and a new pod still starts promptly")
        func tenFollowers() async throws {
            let stack = try await PodStack()
            try await stack.run {
                try await stack.waitForNodeReady()
                // About 100 KB/s of log lines, so ten followers move ~1 MB/s through the link.
                _ = try await stack.api.ok(["apply", "-f", "-"], input: PodStack.pod("chatty", ["sh", "-c",
                    "while true; do i=0; while [ $i -lt 50 ]; do echo chatty-$i-0123456789012345678901234567890123456789012345678901234567890123456789; i=$((i+1)); done; sleep 0.05; done"]))
                try await stack.waitFor("chatty Running", timeout: 90, "pod", "chatty", "{.status.phase}") { $0 == "Running" }
                let followers = try (0..<10).map { _ in
                    try ChildProcess(try Executables.which("kubectl"), [
                        "--cache-dir", stack.api.directory.appendingPathComponent("kube-cache").path,
                        "logs", "-f", "chatty", "--tail=1",
                    ], environment: stack.api.kubectlEnvironment)
                }
                defer { for follower in followers { follower.signal(SIGKILL) } }
                for follower in followers {
                    try await follower.waitForLines(timeout: 30, "a stream of lines") { $0.count >= 200 }
                }
                // Other traffic goes on beside the ten streams: a new pod is created, started and reported Running.
                let started = ContinuousClock.now
                _ = try await stack.api.ok(["apply", "-f", "-"], input: PodStack.pod("meanwhile", ["sleep", "3600"]))
                try await stack.waitFor("meanwhile Running", timeout: 30, "pod", "meanwhile", "{.status.phase}") { $0 == "Running" }
                let took = ContinuousClock.now - started
                #expect(took < .seconds(10), "a pod took \(took) to start beside ten log streams")
                for follower in followers {
                    try await follower.waitForLines(timeout: 30, "still following") { $0.count >= 400 }
                }
            }
        }
    }
}
