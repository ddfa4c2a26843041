import ArgumentParser
import Foundation
import HTTPFetch
import Synchronization

/// rest→servicebus through the whole path (router, cloud bus, cloudhub, the link, hub, the edge bus, servicebus, the
/// app) beside the same app called directly: round-trip p50/p95 and requests per second with `concurrency` callers
/// (scripts/bench.sh starts the stack and a Python HTTP server as the app).
struct RouterBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "router", abstract: "rest→servicebus round trip and requests/s, beside the app called directly.")

    @Option(help: "The router's REST URL of a rest→servicebus rule, e.g. http://127.0.0.1:9443/node/default/source")
    var through: String
    @Option(help: "The same app called directly, e.g. http://127.0.0.1:6666/target") var direct: String
    @Option(help: "Requests per run.") var requests = 400
    @Option(help: "Concurrent callers.") var concurrency = 8
    @Option(help: "pids whose memory to report, as name=pid,name=pid.") var pids = ""

    func run() async throws {
        for (label, url) in [("app called directly", direct), ("through router → link → servicebus", through)] {
            guard let target = HTTPFetch.Target(url: url) else { throw ValidationError("bad URL \(url)") }
            let tally = Tally()
            let (requests, concurrency) = (self.requests, self.concurrency)
            let started = ContinuousClock.now
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<concurrency {
                    group.addTask {
                        while tally.take(below: requests) {
                            let start = ContinuousClock.now
                            let response = try? await HTTPFetch.request(
                                method: "GET", host: target.host, port: target.port, path: target.path, timeout: .seconds(30))
                            tally.record(response.map { $0.status < 300 } == true
                                         ? microseconds(ContinuousClock.now - start) / 1000 : nil)
                        }
                    }
                }
            }
            let total = seconds(ContinuousClock.now - started)
            let (sorted, failed) = tally.results()
            print("\(label), \(requests) GETs, \(concurrency) callers: p50 \(fmt(percentile(sorted, 0.5))) ms, "
                + "p95 \(fmt(percentile(sorted, 0.95))) ms, \(fmt(Double(sorted.count) / total)) req/s"
                + (failed > 0 ? ", \(failed) failed" : ""))
        }
        if !pids.isEmpty {
            print("\n| service | VmRSS (kB) | Pss (kB) |\n|---|---|---|")
            for entry in pids.split(separator: ",") {
                let parts = entry.split(separator: "=").map(String.init)
                guard parts.count == 2 else { continue }
                let rss = field("/proc/\(parts[1])/status", "VmRSS:")
                let pss = field("/proc/\(parts[1])/smaps_rollup", "Pss:")
                print("| \(parts[0]) | \(rss) | \(pss) |")
            }
        }
    }

    func field(_ path: String, _ name: String) -> String {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix(name) }) else { return "?" }
        return String(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "?")
    }
}

/// Shared counters of the callers.
final class Tally: Sendable {
    private let state = Mutex((next: 0, latencies: [Double](), failed: 0))

    func take(below limit: Int) -> Bool {
        state.withLock { s in
            defer { s.next += 1 }
            return s.next < limit
        }
    }

    func record(_ milliseconds: Double?) {
        state.withLock { s in
            if let milliseconds { s.latencies.append(milliseconds) } else { s.failed += 1 }
        }
    }

    func results() -> ([Double], Int) { state.withLock { ($0.latencies.sorted(), $0.failed) } }
}
