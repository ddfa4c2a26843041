import ArgumentParser
import Bus
import EdgeProtocol
import Foundation
import HTTPFetch
import HTTPTypes
import Hummingbird
import KubeClient
import Logging
import NIOCore
import NIOSSL
import ServiceKit
import ServiceLifecycle
import Synchronization

public enum RouterIdentity: ServiceDescription {
    public static let identity = ServiceIdentity(name: "router", side: .cloud)
    public static let abstract = "Cloud: KubeEdge's rules between REST, edge eventbus and edge servicebus (KubeEdge router)."
}

public struct RouterOptions: ParsableArguments, Sendable {
    @Option(name: .customLong("kubeconfig"),
            help: "Kubeconfig of the API server (default: $KUBECONFIG, else the embedded apiserver's admin.kubeconfig).")
    public var kubeconfig: String?

    @Option(name: .customLong("address"), help: "Address of the REST endpoint (plain HTTP, as KubeEdge's).")
    public var address = "0.0.0.0"

    @Option(name: .customLong("port"), help: "Port of the REST endpoint: /{node}/{namespace}/{path}.")
    public var port = 9443

    @Option(name: .customLong("rest-timeout-seconds"), help: "How long a REST caller waits for an edge app's answer.")
    public var restTimeoutSeconds = 60

    @Option(name: .customLong("max-body-bytes"), help: "Largest REST request body (larger: 413); servicebus's limit.")
    public var maxBodyBytes = 5_000_000

    @Option(name: .customLong("max-in-flight-per-rule"),
            help: "Requests in flight per rule; past it callers get 429, so one slow app or URL holds up only its rule.")
    public var maxInFlightPerRule = 32

    @Option(name: .customLong("status-interval-ms"), help: "How often changed rule statuses are written back.")
    public var statusIntervalMs = 1000

    public init() {}
}

public struct RouterCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "router", abstract: RouterIdentity.abstract,
        discussion: """
            Watches rules.kubeedge.io Rules and RuleEndpoints and serves KubeEdge's REST endpoint (/{node}/{namespace}/ \
            {path}): rest→eventbus publishes on the node's device broker, rest→servicebus relays to an app on the node \
            and returns its answer; eventbus→rest and servicebus→rest POST what edge apps send to the rule's URL. \
            Rule status (successMessages, failMessages, errors) is written back.
            """)

    @OptionGroup public var options: BaseOptions
    @OptionGroup public var router: RouterOptions

    public init() {}

    public func run() async throws {
        let router = self.router
        try await ServiceRunner.run(RouterIdentity.identity, options: options, services: { context in
            try await RouterServer(context: context, options: router).services()
        })
    }
}

/// The running router.
public final class RouterServer: Sendable {
    static let rules = GroupVersionResource(group: "rules.kubeedge.io", version: "v1", resource: "rules")
    static let endpoints = GroupVersionResource(group: "rules.kubeedge.io", version: "v1", resource: "ruleendpoints")
    static let nodes = GroupVersionResource(version: "v1", resource: "nodes")

    let context: ServiceContext
    let options: RouterOptions
    let logger: Logger
    let table = Mutex(RuleTable())
    let client = Eventual<KubeClient>()
    let state = Mutex(State())

    struct Pending {
        let node: String
        let continuation: CheckedContinuation<Result<Message, Failure>, Never>
    }

    struct Failure: Error {
        let status: HTTPResponse.Status
        let reason: String
    }

    struct Counts: Equatable {
        var success = 0
        var fail = 0
        var errors: [String] = []
    }

    struct State {
        var pending: [String: Pending] = [:]
        var links: [String: Bool] = [:]
        var nodes: Set<String>?
        var inFlight: [String: Int] = [:]
        /// Counts not yet written to each rule's status, and the invalid rules' reasons.
        var counts: [String: Counts] = [:]
        var invalid: [String: String] = [:]
        var registered: Set<String> = []
    }

    public init(context: ServiceContext, options: RouterOptions) {
        self.context = context
        self.options = options
        self.logger = context.logger
    }

    var kubeconfigPath: String { Kubeconfig.controllerPath(explicit: options.kubeconfig) }

    public func services() async throws -> [any Service] {
        try await context.bus.waitUntilConnected(timeout: .seconds(3600))
        try await context.bus.subscribe([Topics.fromAnyNode(.router), Topics.anyNodeLink])
        return [
            MessageLoopService(context) { message in try await self.handle(message) },
            restEndpoint(),
            PartService.loop("watch rule endpoints") {
                let connected = try await KubeClient.waitingForKubeconfig(
                    path: self.kubeconfigPath, logger: self.logger, retry: .seconds(1))
                self.logger.info("serving", metadata: [
                    "kubeconfig": "\(self.kubeconfigPath)", "rest": "\(self.options.address):\(self.options.port)"])
                self.client.set(connected)
                try await self.follow(Self.endpoints, connected)
            },
            PartService.loop("watch rules") { try await self.follow(Self.rules, try await self.client.value()) },
            PartService.loop("watch nodes") { try await self.followNodes(try await self.client.value()) },
            PartService.loop("rule status") { try await self.writeStatuses() },
        ]
    }

    // MARK: rules and nodes

    func follow(_ resource: GroupVersionResource, _ client: KubeClient) async throws {
        for try await event in client.listWatch(resource, options: .init(maxBackoff: .seconds(5))) {
            table.withLock { table in
                switch (resource.resource, event) {
                case ("rules", .resync(let items, _)): table.replaceAll(rules: items)
                case ("rules", .added(let o)), ("rules", .modified(let o)): table.setRule(o)
                case ("rules", .deleted(let o)): table.removeRule(o)
                case (_, .resync(let items, _)): table.replaceAll(endpoints: items)
                case (_, .added(let o)), (_, .modified(let o)): table.setEndpoint(o)
                case (_, .deleted(let o)): table.removeEndpoint(o)
                }
            }
            try await rulesChanged()
        }
    }

    func followNodes(_ client: KubeClient) async throws {
        for try await event in client.listWatch(Self.nodes, options: .init(maxBackoff: .seconds(5))) {
            state.withLock { state in
                var nodes = state.nodes ?? []
                switch event {
                case .resync(let items, _): nodes = Set(items.compactMap { $0.string(at: "metadata.name") })
                case .added(let node), .modified(let node): node.string(at: "metadata.name").map { _ = nodes.insert($0) }
                case .deleted(let node): node.string(at: "metadata.name").map { _ = nodes.remove($0) }
                }
                state.nodes = nodes
            }
        }
    }

    /// Edge registrations (eventbus subscriptions, servicebus allowances) for new rules; withdrawals for removed ones;
    /// invalid rules noted for their status.
    func rulesChanged() async throws {
        let (registrations, invalid) = table.withLock { table -> ([(node: String, message: Message)], [String: String]) in
            var invalid: [String: String] = [:]
            for rule in table.rules.values {
                if case .failure(let error) = table.flow(of: rule) { invalid[rule.key] = "invalid rule: \(error)" }
            }
            return (table.edgeRegistrations(), invalid)
        }
        let wanted = Set(registrations.map { "\($0.node)|\($0.message.route.operation)|\($0.message.route.resource)" })
        let (toSend, toWithdraw) = state.withLock { state -> ([(node: String, message: Message)], [String]) in
            for (key, reason) in invalid where state.invalid[key] != reason {
                state.invalid[key] = reason
                state.counts[key, default: Counts()].errors = [reason]
            }
            state.invalid = state.invalid.filter { invalid[$0.key] != nil }
            let send = registrations.filter { !state.registered.contains("\($0.node)|\($0.message.route.operation)|\($0.message.route.resource)") }
            let withdraw = state.registered.subtracting(wanted).sorted()
            state.registered = wanted
            return (send, withdraw)
        }
        for (node, message) in toSend {
            logger.info("registering a rule at the edge", metadata: [
                "node": "\(node)", "operation": "\(message.route.operation)", "resource": "\(message.route.resource)"])
            try await context.bus.publish(Topics.toNode(node), message)
        }
        for entry in toWithdraw {
            let parts = entry.split(separator: "|", maxSplits: 2).map(String.init)
            guard parts.count == 3 else { continue }
            let message = parts[1] == "subscribe"
                ? RuleTable.subscribe(namespace: "", topic: "", unsubscribe: true)
                : RuleTable.allow(targetURL: "", stop: true)
            var withdrawal = message
            withdrawal.route.resource = parts[2]
            try await context.bus.publish(Topics.toNode(parts[0]), withdrawal)
        }
    }

    // MARK: the bus: node links and uploads

    func handle(_ message: BusMessage) async throws {
        let parts = message.topic.split(separator: "/").map(String.init)
        guard parts.count >= 4, parts[0] == "ke", parts[1] == "node" else { return }
        let node = parts[2]
        if parts[3] == "link" {
            let up = message.text == "connected"
            let failed = state.withLock { state -> [Pending] in
                state.links[node] = up
                guard !up else { return [] }
                let gone = state.pending.filter { $0.value.node == node }
                for key in gone.keys { state.pending[key] = nil }
                return Array(gone.values)
            }
            for pending in failed {
                pending.continuation.resume(returning: .failure(Failure(
                    status: .serviceUnavailable, reason: "the link to node \(node) went down while the request was in flight")))
            }
            if up {
                // Registrations again: the node may have lost them (a new edge, a reset eventbus).
                let again = table.withLock { $0.edgeRegistrations() }.filter { $0.node == node }
                for (_, registration) in again { try await context.bus.publish(Topics.toNode(node), registration) }
            }
            return
        }
        let envelope = try message.envelope()
        if !envelope.header.parentID.isEmpty {
            let pending = state.withLock { $0.pending.removeValue(forKey: envelope.header.parentID) }
            pending?.continuation.resume(returning: .success(envelope))
            return
        }
        guard envelope.route.operation == "upload" else { return }
        guard let (rule, flow) = table.withLock({ $0.rule(forUpload: envelope, from: node) }) else {
            logger.debug("an upload no rule takes", metadata: ["node": "\(node)", "resource": "\(envelope.route.resource)"])
            return
        }
        guard admit(rule) else {
            count(rule, ok: false, error: "more than \(options.maxInFlightPerRule) deliveries in flight; one dropped")
            return
        }
        // Each delivery on its own task: a slow URL holds up only its rule.
        Task {
            defer { self.release(rule) }
            await self.deliver(envelope, from: node, rule: rule, flow: flow)
        }
    }

    /// An edge upload to the rule's URL (eventbus→rest: the payload; servicebus→rest: the app's call, whose answer goes
    /// back to the node).
    func deliver(_ upload: Message, from node: String, rule: RuleTable.Rule, flow: RuleTable.Flow) async {
        switch flow {
        case .eventbusToRest(_, _, let url):
            let payload = upload.content.stringValue.map { Array($0.utf8) } ?? upload.content.bytes
            do {
                let response = try await call(url: url, method: "POST", body: payload, headers: [("NodeName", node)])
                count(rule, ok: true)
                logger.debug("delivered an edge message", metadata: ["rule": "\(rule.key)", "status": "\(response.status)"])
            } catch {
                count(rule, ok: false, error: "POST \(url): \(error)")
                logger.warning("could not deliver an edge message", metadata: ["rule": "\(rule.key)", "reason": "\(error)"])
            }
        case .servicebusToRest(_, let targetURL, let url):
            // KubeEdge's servicebus sends the app's whole {method,targetURL,payload} request, base64.
            let raw = (upload.content.stringValue).flatMap { Data(base64Encoded: $0) }.map(Array.init) ?? upload.content.bytes
            let request = try? JSONValue(parsing: raw)
            let method = request?["method"]?.stringValue.flatMap { $0.isEmpty ? nil : $0.uppercased() } ?? "POST"
            let payload: [UInt8] = request?["payload"].map { $0.stringValue.map { Array($0.utf8) } ?? ((try? $0.serialized()) ?? []) } ?? raw
            do {
                let response = try await call(url: url, method: method, body: payload, headers: [("NodeName", node)])
                count(rule, ok: true)
                let answer = Message(
                    header: .init(id: Message.newID(), parentID: upload.header.id, timestamp: Message.nowMillis()),
                    route: .init(source: MessageSource.serviceBus, group: MessageGroup.user.rawValue, operation: "response",
                                 resource: targetURL),
                    content: RawJSON(string: String(decoding: response.body.prefix(1 << 20), as: UTF8.self)))
                try await context.bus.publish(Topics.toNode(node), answer)
            } catch {
                count(rule, ok: false, error: "\(method) \(url): \(error)")
            }
        default:
            return
        }
    }

    func call(url: String, method: String, body: [UInt8], headers: [(String, String)]) async throws -> HTTPFetch.Response {
        guard let target = HTTPFetch.Target(url: url) else { throw RuleError("'\(url)' is not an http(s) URL") }
        return try await HTTPFetch.request(
            method: method, host: target.host, port: target.port, path: target.path, headers: headers, body: body,
            tls: target.tls ? TLSConfiguration.makeClientConfiguration() : nil,
            timeout: .seconds(options.restTimeoutSeconds), maxBody: options.maxBodyBytes)
    }

    // MARK: per-rule bounds and status

    func admit(_ rule: RuleTable.Rule) -> Bool {
        state.withLock { state in
            guard state.inFlight[rule.key, default: 0] < options.maxInFlightPerRule else { return false }
            state.inFlight[rule.key, default: 0] += 1
            return true
        }
    }

    func release(_ rule: RuleTable.Rule) { state.withLock { $0.inFlight[rule.key, default: 1] -= 1 } }

    func count(_ rule: RuleTable.Rule, ok: Bool, error: String? = nil) {
        state.withLock { state in
            var counts = state.counts[rule.key] ?? Counts()
            if ok { counts.success += 1 } else { counts.fail += 1 }
            if let error { counts.errors = Array((counts.errors + [error]).suffix(10)) }
            state.counts[rule.key] = counts
        }
    }

    /// KubeEdge's Rule status: `successMessages`, `failMessages` and the last `errors` (at most 10 here).
    func writeStatuses() async throws {
        let client = try await client.value()
        while true {
            try await Task.sleep(for: .milliseconds(options.statusIntervalMs))
            let pending = state.withLock { state -> [String: Counts] in
                defer { state.counts = [:] }
                return state.counts
            }
            for (key, delta) in pending.sorted(by: { $0.key < $1.key }) {
                let parts = key.split(separator: "/", maxSplits: 1).map(String.init)
                do {
                    let rule = try await client.get(Self.rules, namespace: parts[0], name: parts[1])
                    let success = (rule[path: ["status", "successMessages"]]?.int64Value ?? 0) + Int64(delta.success)
                    let fail = (rule[path: ["status", "failMessages"]]?.int64Value ?? 0) + Int64(delta.fail)
                    var errors = (rule[path: ["status", "errors"]]?.arrayValue ?? []).compactMap(\.stringValue)
                    errors = Array((errors + delta.errors).suffix(10))
                    let status: JSONValue = .object([
                        ("successMessages", .integer(success)), ("failMessages", .integer(fail)),
                        ("errors", .array(errors.map { .string($0) })),
                    ])
                    _ = try await client.patch(Self.rules, namespace: parts[0], name: parts[1], ["status": status])
                } catch let error as KubeError where error.isNotFound {
                    continue  // the rule is gone
                } catch {
                    logger.warning("could not write a rule's status; later", metadata: ["rule": "\(key)", "reason": "\(error)"])
                    state.withLock { state in
                        var merged = state.counts[key] ?? Counts()
                        merged.success += delta.success
                        merged.fail += delta.fail
                        merged.errors = Array((delta.errors + merged.errors).suffix(10))
                        state.counts[key] = merged
                    }
                }
            }
        }
    }

    // MARK: the REST endpoint

    func restEndpoint() -> some Service {
        let router = Router()
        let server = self
        for method in [HTTPRequest.Method.get, .post, .put, .delete, .patch, .head, .options] {
            router.on("**", method: method) { request, _ -> Response in await server.rest(request) }
        }
        var quiet = logger
        quiet.logLevel = .warning
        return Application(router: router, configuration: .init(address: .hostname(options.address, port: options.port),
                                                                serverName: "router"),
                           logger: quiet)
    }

    static func text(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"],
                 body: .init(byteBuffer: ByteBuffer(string: text + "\n")))
    }

    func rest(_ request: Request) async -> Response {
        let uri = request.uri.description
        guard let call = RuleTable.parse(uri: uri) else {
            return Self.text(.notFound, "Request error: the path must be /{node}/{namespace}/{path}")
        }
        let (known, linkUp) = state.withLock { state in
            (state.nodes.map { $0.contains(call.node) } ?? true, state.links[call.node] ?? false)
        }
        guard known else { return Self.text(.notFound, "Request error: node \(call.node) not found") }
        guard let (rule, flow, param) = table.withLock({ $0.match(call) }) else {
            return Self.text(.notFound, "Request error: no rule in namespace \(call.namespace) matches /\(call.path)")
        }
        let body: [UInt8]
        do {
            body = Array(buffer: try await request.body.collect(upTo: options.maxBodyBytes))
        } catch {
            count(rule, ok: false, error: "a request body larger than \(options.maxBodyBytes) bytes")
            return Self.text(.contentTooLarge, "Request error: the body is larger than \(options.maxBodyBytes) bytes")
        }
        guard admit(rule) else {
            count(rule, ok: false, error: "\(options.maxInFlightPerRule) requests in flight; one refused")
            return Self.text(.tooManyRequests, "rule \(rule.key) has \(options.maxInFlightPerRule) requests in flight; try again")
        }
        defer { release(rule) }
        switch flow {
        case .restToEventbus(_, let topic):
            let publish = Message(source: MessageSource.routerEventBus, group: MessageGroup.user.rawValue,
                                  operation: "publish", resource: RuleTable.topic(topic, param: param),
                                  content: RawJSON(string: String(decoding: body, as: UTF8.self)))
            do {
                try await context.bus.publish(Topics.toNode(call.node), publish)
                count(rule, ok: true)
                return Self.text(.ok, "message delivered")
            } catch {
                count(rule, ok: false, error: "\(error)")
                return Self.text(.internalServerError, "could not queue the message: \(error)")
            }
        case .restToServicebus(_, let port, let targetPath):
            guard linkUp else {
                count(rule, ok: false, error: "node \(call.node) is offline")
                return Self.text(.serviceUnavailable, "node \(call.node) is offline (no link to the cloud)")
            }
            var headers: [(key: String, value: JSONValue)] = []
            for field in request.headers {
                let name = HTTPFetch.canonicalHeaderName(field.name.rawName)
                if let index = headers.firstIndex(where: { $0.key == name }) {
                    headers[index].value = .array((headers[index].value.arrayValue ?? []) + [.string(field.value)])
                } else {
                    headers.append((name, .array([.string(field.value)])))
                }
            }
            let content: JSONValue = .object([
                ("header", .object(headers)), ("body", .string(Data(body).base64EncodedString())),
                ("method", .string(request.method.rawValue)), ("url", ""),
            ])
            let relay = Message(source: MessageSource.routerServiceBus, group: MessageGroup.user.rawValue,
                                operation: request.method.rawValue, resource: "\(port):\(targetPath)\(param)",
                                content: (try? RawJSON(content)) ?? .null)
            let outcome = await exchange(relay, node: call.node)
            switch outcome {
            case .failure(let failure):
                count(rule, ok: false, error: failure.reason)
                return Self.text(failure.status, failure.reason)
            case .success(let answer):
                guard let response = try? answer.content.parsed(), let code = response["status_code"]?.int64Value else {
                    count(rule, ok: false, error: "invalid response from node \(call.node)")
                    return Self.text(.badGateway, "invalid response from node \(call.node)")
                }
                count(rule, ok: code < 500)
                var fields = HTTPFields()
                for (name, values) in response["header"]?.objectMembers ?? [] {
                    guard let fieldName = HTTPField.Name(name),
                          !["content-length", "connection", "transfer-encoding"].contains(name.lowercased()) else { continue }
                    for value in values.arrayValue ?? [] { if let text = value.stringValue { fields.append(.init(name: fieldName, value: text)) } }
                }
                let bytes = response["body"]?.stringValue.flatMap { Data(base64Encoded: $0) }.map(Array.init) ?? []
                return Response(status: .init(code: Int(code)), headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
            }
        default:
            return Self.text(.notFound, "Request error: rule \(rule.key) has no REST source")
        }
    }

    /// Sends `message` to `node` and waits for the answer naming it, for the REST timeout at most.
    func exchange(_ message: Message, node: String) async -> Result<Message, Failure> {
        let id = message.header.id
        let timeout = options.restTimeoutSeconds
        return await withCheckedContinuation { continuation in
            state.withLock { $0.pending[id] = Pending(node: node, continuation: continuation) }
            Task {
                do {
                    try await self.context.bus.publish(Topics.toNode(node), message)
                } catch {
                    self.state.withLock { $0.pending.removeValue(forKey: id) }?.continuation
                        .resume(returning: .failure(Failure(status: .internalServerError, reason: "could not queue the request: \(error)")))
                    return
                }
                try? await Task.sleep(for: .seconds(timeout))
                self.state.withLock { $0.pending.removeValue(forKey: id) }?.continuation.resume(returning: .failure(Failure(
                    status: .gatewayTimeout, reason: "no answer from node \(node) within \(timeout) s")))
            }
        }
    }
}
