import Foundation
import Testing
import TestSupport

extension EdgedWorkloadSuites {
    /// `kubectl exec` on an edge pod with no extra setup: kubectl's WebSocket (v5.channel.k8s.io) to the API server,
    /// a stream session over the link, and edged's SPDY session with containerd's CRI streaming server.
    @Suite("kubectl exec", .serialized, .timeLimit(.minutes(5)))
    struct PodExecTests {
        static let manifest = PodStack.pod("shell", ["sleep", "3600"])

        @Test("a command's output, its stderr and exit code, stdin piped in, an interactive shell through tmux, attach")
        func exec() async throws {
            let stack = try await PodStack()
            try await stack.run {
                try await stack.waitForNodeReady()
                _ = try await stack.api.ok(["apply", "-f", "-"], input: Self.manifest)
                try await stack.waitFor("shell Running", timeout: 90, "pod", "shell", "{.status.phase}") { $0 == "Running" }

                let hostname = try await stack.api.kubectl(["exec", "shell", "--", "cat", "/etc/hostname"])
                #expect(hostname.status == 0, "\(hostname)")
                #expect(hostname.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "shell", "\(hostname)")

                let failing = try await stack.api.kubectl(["exec", "shell", "--", "sh", "-c", "echo oops >&2; exit 3"])
                #expect(failing.status == 3, "\(failing)")
                #expect(failing.stderr.contains("oops"), "\(failing)")

                let piped = try await stack.api.kubectl(["exec", "-i", "shell", "--", "cat"], input: "hi from stdin\n")
                #expect(piped.status == 0, "\(piped)")
                #expect(piped.stdout == "hi from stdin\n", "\(piped)")

                // kubectl 1.32, v5.channel.k8s.io as kubectl 1.30 (the dispatcher's pick for our v1.30 server).
                let kubectl132 = try Executables.kubectl(minor: 32)
                let newest = try await Command.run(kubectl132, [
                    "--cache-dir", stack.api.directory.appendingPathComponent("kube-cache-132").path,
                    "exec", "shell", "--", "sh", "-c", "cat /etc/hostname; exit 4",
                ], environment: stack.api.kubectlEnvironment, timeout: 60)
                #expect(newest.status == 4 && newest.stdout == "shell\n", "\(newest)")

                // Closing kubectl ends the session at the edge (the command itself is the runtime's to end).
                let leaving = try ChildProcess(kubectl132, [
                    "--cache-dir", stack.api.directory.appendingPathComponent("kube-cache-132").path,
                    "exec", "shell", "--", "sh", "-c", "echo leaving-soon; sleep 300",
                ], environment: stack.api.kubectlEnvironment)
                try await leaving.waitForLines(timeout: 30, "the command's first line") { $0.contains("leaving-soon") }
                leaving.signal(SIGKILL)
                try await eventually("every exec session ended at the edge once its kubectl was gone", timeout: 30) {
                    let opened = stack.edgedSessions(where: "kind=exec")
                    let ended = stack.edgedSessions(where: "stream session ended")
                    return !opened.isEmpty && opened.isSubset(of: ended)
                }

                // Only v4.channel.k8s.io offered (clients before kubectl 1.29's v5, other tools): the Status on
                // channel 3 carries the exit code.
                let v4 = try await Command.run(try PeersVenv.python(), [
                    Repository.root.appendingPathComponent("Tests/Peers/ws_exec_v4.py").path,
                    "ws://127.0.0.1:\(stack.api.insecurePort)/api/v1/namespaces/default/pods/shell/exec?command=sh&command=-c"
                        + "&command=echo+out%3B+echo+err+%3E%262%3B+exit+7&stdout=true&stderr=true",
                ], timeout: 60)
                let v4Answer = try JSONSerialization.jsonObject(with: Data(v4.stdout.utf8)) as? [String: Any]
                #expect(v4Answer?["protocol"] as? String == "v4.channel.k8s.io", "\(v4)")
                #expect(v4Answer?["stdout"] as? String == "out\n" && v4Answer?["stderr"] as? String == "err\n", "\(v4)")
                let v4Status = v4Answer?["status"] as? [String: Any]
                let causes = (v4Status?["details"] as? [String: Any])?["causes"] as? [[String: Any]]
                #expect(v4Status?["reason"] as? String == "NonZeroExitCode", "\(v4)")
                #expect(causes?.first?["reason"] as? String == "ExitCode" && causes?.first?["message"] as? String == "7", "\(v4)")

                // kubectl 1.28 speaks SPDY/3.1 after an HTTP upgrade (WebSocket came with 1.29).
                let old = try Executables.kubectl(minor: 28)
                let cache = stack.api.directory.appendingPathComponent("kube-cache-128").path
                func oldKubectl(_ arguments: [String], input: String? = nil) async throws -> Command.Result {
                    try await Command.run(old, ["--cache-dir", cache] + arguments, environment: stack.api.kubectlEnvironment,
                                          input: input, timeout: 60)
                }
                let oldHostname = try await oldKubectl(["exec", "shell", "--", "cat", "/etc/hostname"])
                #expect(oldHostname.status == 0 && oldHostname.stdout == "shell\n", "\(oldHostname)")
                let oldFailing = try await oldKubectl(["exec", "shell", "--", "sh", "-c", "echo oops >&2; exit 3"])
                #expect(oldFailing.status == 3 && oldFailing.stderr.contains("oops"), "\(oldFailing)")
                let oldPiped = try await oldKubectl(["exec", "-i", "shell", "--", "cat"], input: "old client stdin\n")
                #expect(oldPiped.status == 0 && oldPiped.stdout == "old client stdin\n", "\(oldPiped)")
                #expect(stack.api.log.contains("exec session over SPDY"), "kubectl 1.28 did not come over SPDY")

                // A large output arrives whole (flow control all the way to the runtime's stream).
                let large = try await stack.api.kubectl(["exec", "shell", "--", "sh", "-c",
                                                          "dd if=/dev/zero bs=100000 count=40 2>/dev/null"])
                #expect(large.status == 0 && large.stdout.utf8.count == 4_000_000,
                        "\(large.status) \(large.stdout.utf8.count) bytes, \(large.stderr.prefix(300))")

                let missing = try await stack.api.kubectl(["exec", "shell", "-c", "nope", "--", "true"])
                #expect(missing.status != 0)

                // Interactive, with a terminal: kubectl exec -it driven through tmux, as a person types; with kubectl
                // 1.30 over WebSocket and 1.28 over SPDY. The pane's size reaches the shell (the resize channel).
                let tmux = try Executables.which("tmux")
                let socket = stack.directory.appendingPathComponent("tmux.sock").path
                let kubectl = try Executables.which("kubectl")
                let environment = stack.api.kubectlEnvironment
                defer { _ = try? Process.run(URL(fileURLWithPath: tmux), arguments: ["-S", socket, "kill-server"]) }
                for (client, session, cacheDir) in [(kubectl, "exec", "kube-cache"), (old, "old", "kube-cache-128")] {
                    // A ChildProcess, not Command.run: the tmux client waits for its server's signal, which the test
                    // runner's blocked signals would hold back.
                    let start = try ChildProcess(tmux, [
                        "-S", socket, "new-session", "-d", "-s", session, "-x", "120", "-y", "30",
                        "-e", "KUBECONFIG=\(environment["KUBECONFIG"] ?? "")", "-e", "HOME=\(environment["HOME"] ?? "")",
                        "\(client) --cache-dir \(stack.api.directory.path)/\(cacheDir) exec -it shell -- sh",
                    ])
                    defer { start.signal(SIGKILL) }  // the tmux client may wait for its server; the screen is what counts
                    func screen() async -> String {
                        (try? await Command.run(tmux, ["-S", socket, "capture-pane", "-p", "-t", session], timeout: 10))?.stdout ?? ""
                    }
                    func type(_ keys: String) async throws {
                        _ = try await Command.run(tmux, ["-S", socket, "send-keys", "-t", session, keys, "Enter"], timeout: 10)
                    }
                    try await eventually("a shell prompt in the pod (\(session))", timeout: 30) { await screen().contains("#") }
                    try await type("echo marker-$((6*7)) $(hostname)")
                    try await eventually("the command's output on the terminal (\(session))", timeout: 30) {
                        await screen().contains("marker-42 shell")
                    }
                    try await type("echo size-$(busybox stty size | busybox tr ' ' x)")
                    try await eventually("the pane's 30 rows and 120 columns in the pod (\(session))", timeout: 30) {
                        await screen().contains("size-30x120")
                    }
                    try await type("exit")
                    try await eventually("the session ends with the shell (\(session))", timeout: 30) {
                        let sessions = try? await Command.run(tmux, ["-S", socket, "has-session", "-t", session], timeout: 10)
                        return sessions?.status != 0
                    }
                }

                // kubectl attach: the running main process's output as it comes.
                _ = try await stack.api.ok(["apply", "-f", "-"], input: PodStack.pod(
                    "ticker", ["sh", "-c", "i=0; while true; do echo tick-$i; i=$((i+1)); sleep 0.3; done"]))
                try await stack.waitFor("ticker Running", timeout: 90, "pod", "ticker", "{.status.phase}") { $0 == "Running" }
                let attached = try ChildProcess(kubectl, ["--cache-dir", stack.api.directory.appendingPathComponent("kube-cache").path,
                                                          "attach", "ticker"], environment: environment)
                defer { attached.signal(SIGKILL) }
                try await attached.waitForLines(timeout: 30, "two ticks") { lines in lines.filter { $0.hasPrefix("tick-") }.count >= 2 }
                let oldAttached = try ChildProcess(old, ["--cache-dir", cache, "attach", "ticker"], environment: environment)
                defer { oldAttached.signal(SIGKILL) }
                try await oldAttached.waitForLines(timeout: 30, "two ticks over SPDY") { lines in
                    lines.filter { $0.hasPrefix("tick-") }.count >= 2
                }
                #expect(stack.api.log.contains("attach session over SPDY"), "kubectl 1.28's attach did not come over SPDY")

                // SIGTERM with sessions open (WebSocket and SPDY): the API server ends them and exits promptly.
                let waiting = try ChildProcess(kubectl, ["--cache-dir", stack.api.directory.appendingPathComponent("kube-cache").path,
                                                         "exec", "-i", "shell", "--", "cat"], environment: environment, stdin: true)
                defer { waiting.signal(SIGKILL) }
                let oldWaiting = try ChildProcess(old, ["--cache-dir", cache, "exec", "-i", "shell", "--", "cat"],
                                                  environment: environment, stdin: true)
                defer { oldWaiting.signal(SIGKILL) }
                try waiting.send("echo-1\n")
                try oldWaiting.send("echo-2\n")
                try await waiting.waitForLines(timeout: 30, "cat's echo over WebSocket") { $0.contains("echo-1") }
                try await oldWaiting.waitForLines(timeout: 30, "cat's echo over SPDY") { $0.contains("echo-2") }
                let (status, seconds) = await stack.api.terminate(timeout: 20)
                #expect(status == 0 && seconds < 8, "the API server took \(seconds) s to exit (status \(String(describing: status)))")
                #expect(await waiting.waitForExit(timeout: 10) != nil, "kubectl exec over WebSocket still runs")
                #expect(await oldWaiting.waitForExit(timeout: 10) != nil, "kubectl exec over SPDY still runs")
            }
        }
    }
}
