import Bus
import EdgeProtocol
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Logging
import Testing
import TestSupport

/// KubeEdge's router rules end to end, every part a real process: the apiserver and cloud bus, cloudhub, hub and the
/// edge bus, eventbus, servicebus and router, real kubectl applying KubeEdge's CRDs and sample rules, HTTP servers
/// in Python (Tests/Peers/http_peer.py) as the edge app and the cloud target, and plain MQTT clients.
final class RouterStack: Sendable {
    let api: APIServerProcess
    let link: LinkHarness
    let directory: URL
    let routerPort: Int
    let edgeAppPort: Int
    let cloudTargetPort: Int
    /// Held bound, never listened on: nothing answers there, and no other test's server can take it.
    let dead: DeadPort
    var deadPort: Int { dead.port }
    let edgeApp: ChildProcess
    let cloudTarget: ChildProcess
    private let processes = Watched<[String: ChildProcess]>([:])
    static let node = "edge-node"  // the node the KubeEdge samples name

    init() async throws {
        api = try await APIServerProcess()
        link = try await LinkHarness(node: Self.node, cloudBroker: api.broker)
        directory = try TemporaryDirectory.make(prefix: "router")
        routerPort = try FreePort.next()
        edgeAppPort = try FreePort.next()
        cloudTargetPort = try FreePort.next()
        dead = try DeadPort()
        let peer = Repository.root.appendingPathComponent("Tests/Peers/http_peer.py").path
        edgeApp = try ChildProcess(try Executables.which("python3"), [peer, "\(edgeAppPort)"])
        cloudTarget = try ChildProcess(try Executables.which("python3"), [peer, "\(cloudTargetPort)"])
        try await edgeApp.waitForLine(containing: "listening", timeout: 20)
        try await cloudTarget.waitForLine(containing: "listening", timeout: 20)
        try await link.startCloudhub()
        try link.startHub(token: try link.token)
        try await link.waitForLink()
        // A node object, as edged would register it (the router answers 404 for nodes it does not know).
        _ = try await api.ok("create", "-f", "-", input: #"{"apiVersion":"v1","kind":"Node","metadata":{"name":"edge-node"}}"#)
        try await start("eventbus", broker: link.edgeBroker)
        try await start("servicebus", broker: link.edgeBroker, ["--timeout-seconds", "3", "--server", ""])
        try await start("router", broker: api.broker, [
            "--kubeconfig", api.kubeconfig, "--address", "127.0.0.1", "--port", "\(routerPort)",
            "--rest-timeout-seconds", "10", "--max-body-bytes", "100000", "--status-interval-ms", "200",
        ])
    }

    func start(_ name: String, broker: Broker, _ extra: [String] = []) async throws {
        let process = try ChildProcess(try Executables.product(name), [
            "--broker", broker.address, "--node-name", broker === api.broker ? "cloud" : Self.node,
            "--data-dir", directory.appendingPathComponent(name).path,
        ] + extra)
        processes.update { $0[name] = process }
        try await process.waitForLine(containing: "serving", timeout: 30)
    }

    func stop() async {
        for (_, process) in processes.value { process.signal(SIGTERM) }
        for (_, process) in processes.value { _ = await process.waitForExit(timeout: 5) }
        for peer in [edgeApp, cloudTarget] { peer.signal(SIGKILL) }
        link.hub?.signal(SIGTERM)
        link.cloudhub?.signal(SIGTERM)
        _ = await link.hub?.waitForExit(timeout: 5)
        _ = await link.cloudhub?.waitForExit(timeout: 5)
        await link.edgeBroker.stop()
        await api.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    func run(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch {
            var logs = "\(error)"
            for (name, process) in processes.value.sorted(by: { $0.key < $1.key }) {
                logs += "\n--- \(name) ---\n" + String(process.allOutput.suffix(3000))
            }
            logs += "\n--- hub ---\n" + String((link.hub?.allOutput ?? "").suffix(1500))
            await stop()
            throw TestSupportError(logs)
        }
        await stop()
    }

    /// The sample rules of ../shared/kubeedge-manifests/samples/router, with this host's ports where they name a
    /// service port or a target URL.
    func applySamples() async throws {
        let crds = Manifests.root.appendingPathComponent("crds")
        for file in ["router_v1_rule.yaml", "router_v1_ruleEndpoint.yaml"] {
            _ = try await api.ok("apply", "-f", crds.appendingPathComponent(file).path)
        }
        try await eventually("the rule CRDs served", timeout: 30) {
            (try? await self.api.ok("get", "rules,ruleendpoints")) != nil
        }
        let samples = Manifests.root.appendingPathComponent("samples/router")
        for file in ["ruleEndpoint-rest.yaml", "ruleEndpoint-eventbus.yaml", "ruleEndpoint-servicebus.yaml",
                     "rule-rest-eventbus.yaml", "rule-eventbus-rest.yaml", "rule-rest-servicebus.yaml"] {
            var text = try String(contentsOf: samples.appendingPathComponent(file), encoding: .utf8)
            text = text.replacingOccurrences(of: #""service_port":"6666""#, with: #""service_port":"\#(edgeAppPort)""#)
            text = text.replacingOccurrences(of: "http://a.com", with: "http://127.0.0.1:\(cloudTargetPort)/from-edge")
            _ = try await api.ok("apply", "-f", "-", input: text)
        }
        // One more: an endpoint whose app is not running.
        _ = try await api.ok("apply", "-f", "-", input: """
            apiVersion: rules.kubeedge.io/v1
            kind: RuleEndpoint
            metadata: {name: dead-servicebus}
            spec: {ruleEndpointType: servicebus, properties: {service_port: "\(deadPort)"}}
            ---
            apiVersion: rules.kubeedge.io/v1
            kind: Rule
            metadata: {name: dead}
            spec: {source: my-rest, sourceResource: {path: /dead}, target: dead-servicebus, targetResource: {path: /x}}
            """)
    }

    var rest: String { "http://127.0.0.1:\(routerPort)" }
}

struct HTTPResult: Sendable {
    let status: Int
    let headers: [String: String]
    let body: Data
    var text: String { String(decoding: body, as: UTF8.self) }
}

func call(_ method: String, _ url: String, body: Data? = nil, timeout: Double = 30) async throws -> HTTPResult {
    var request = URLRequest(url: URL(string: url)!)
    request.httpMethod = method
    request.timeoutInterval = timeout
    request.httpBody = body
    let (data, response) = try await URLSession.shared.data(for: request)
    let http = response as? HTTPURLResponse
    var headers: [String: String] = [:]
    for (key, value) in http?.allHeaderFields ?? [:] { headers["\(key)".lowercased()] = "\(value)" }
    return HTTPResult(status: http?.statusCode ?? 0, headers: headers, body: data)
}

@Suite("router and servicebus end to end", .serialized, .timeLimit(.minutes(4)))
struct RouterEndToEndTests {
    static let node = RouterStack.node

    @Test("KubeEdge's three sample rules end to end; errors with reasons; rule status counts; link drops")
    func samplesEndToEnd() async throws {
        let stack = try await RouterStack()
        try await stack.run {
            let edge = try await stack.link.client(stack.link.edgeBroker, "edge-app")
            try await edge.subscribe(["test", "test/#"])
            let received = Watched<[String]>([])
            let reader = Task { for await message in edge.messages { received.update { $0.append("\(message.topic) \(message.text)") } } }
            defer { reader.cancel() }
            try await stack.applySamples()

            // rest → eventbus: an HTTP POST in the cloud arrives on the edge broker.
            try await eventually("the rest→eventbus rule loaded", timeout: 30) {
                (try? await call("POST", stack.rest + "/\(Self.node)/default/test", body: Data(#"{"message":"hello"}"#.utf8)))?.status == 200
            }
            try await received.wait(timeout: 20, "the message on the edge broker") {
                $0.contains(#"test {"message":"hello"}"#)
            }

            // eventbus → rest: an edge app's publish on {namespace}/{topic} reaches the cloud HTTP server.
            try await eventually("an edge publish POSTed to the cloud target", timeout: 30) {
                try await edge.publish("default/test", Array(#"{"temperature":21}"#.utf8))
                return stack.cloudTarget.allOutput.contains(#""body": "{\"temperature\":21}""#)
            }
            #expect(stack.cloudTarget.allOutput.contains(#""path": "/from-edge""#))

            // rest → servicebus: the edge app's answer comes back whole: status, headers, binary body.
            let answer = try await call("GET", stack.rest + "/\(Self.node)/default/source/items?id=7")
            #expect(answer.status == 201, "\(answer.status) \(answer.text)")
            #expect(answer.body == Data(Array(0...255) + Array(0...255) as [UInt8]), "the binary body intact")
            #expect(answer.headers["x-edge-app"] == "yes")
            #expect(answer.headers["x-path"] == "/target/items?id=7", "the path and query relayed")

            // Errors, each with its reason, none hanging.
            let dead = try await call("GET", stack.rest + "/\(Self.node)/default/dead")
            #expect(dead.status == 502 && dead.text.contains("nothing answers"), "\(dead.status) \(dead.text)")
            let slow = try await call("GET", stack.rest + "/\(Self.node)/default/source/slow")
            #expect(slow.status == 504 && slow.text.contains("did not answer within 3 s"), "\(slow.status) \(slow.text)")
            let oversize = try await call("POST", stack.rest + "/\(Self.node)/default/test",
                                          body: Data(repeating: 0x41, count: 200_000))
            #expect(oversize.status == 413, "\(oversize.status) \(oversize.text)")
            let unknownNode = try await call("GET", stack.rest + "/no-such-node/default/source")
            #expect(unknownNode.status == 404 && unknownNode.text.contains("no-such-node"), "\(unknownNode.text)")
            let noRule = try await call("GET", stack.rest + "/\(Self.node)/default/nothing-here")
            #expect(noRule.status == 404)

            // The rule status counts what happened.
            try await eventually("my-rule's status counts its success", timeout: 20) {
                let count = try await stack.api.ok("get", "rule", "my-rule", "-o", "jsonpath={.status.successMessages}")
                return (Int(count) ?? 0) >= 1
            }
            try await eventually("the servicebus rule's status counts the slow app's failure", timeout: 20) {
                let status = try await stack.api.ok("get", "rule", "my-rule-rest-servicebus", "-o", "jsonpath={.status}")
                return status.contains("failMessages") && status.contains("successMessages")
            }

            // The link drops while a request is in flight: the caller gets an error at once, nothing hangs; after the
            // link returns, requests work again.
            let inFlight = Task { try await call("GET", stack.rest + "/\(Self.node)/default/source/slow") }
            try await Task.sleep(for: .milliseconds(500))
            let started = ContinuousClock.now
            stack.link.cloudhub?.signal(SIGTERM)
            let dropped = try await inFlight.value
            #expect(dropped.status == 503 && dropped.text.contains("link"), "\(dropped.status) \(dropped.text)")
            #expect(ContinuousClock.now - started < .seconds(8), "the caller did not wait for the timeout")
            let offline = try await call("GET", stack.rest + "/\(Self.node)/default/source")
            #expect(offline.status == 503 && offline.text.contains("offline"), "\(offline.text)")
            try await stack.link.startCloudhub()
            try await stack.link.waitForLink()
            try await eventually("requests work again after the link returns", timeout: 30) {
                (try? await call("GET", stack.rest + "/\(Self.node)/default/source"))?.status == 201
            }

            // A deleted rule's path is 404 again.
            _ = try await stack.api.ok("delete", "rule", "my-rule-rest-servicebus")
            try await eventually("404 once the rule is gone", timeout: 20) {
                (try? await call("GET", stack.rest + "/\(Self.node)/default/source"))?.status == 404
            }
            await edge.close()
        }
    }
}
