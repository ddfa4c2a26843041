import ArgumentParser
import Bus
import EdgeProtocol
import Foundation
import HTTPFetch
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceKit
import ServiceLifecycle
import Store
import Synchronization

public enum ServiceBus: ServiceDescription {
    public static let identity = ServiceIdentity(name: "servicebus", side: .edge)
    public static let abstract = "Edge: HTTP relay between cloud and edge apps (KubeEdge servicebus)."
}

public struct ServiceBusOptions: ParsableArguments, Sendable {
    @Option(name: .customLong("timeout-seconds"), help: "How long an edge app may take to answer a request from the cloud.")
    public var timeoutSeconds = 10

    @Option(name: .customLong("max-body-bytes"), help: "Largest request or answer body relayed (KubeEdge: 5 MB).")
    public var maxBodyBytes = 5_000_000

    @Option(name: .customLong("allowed-ports"),
            help: "Local ports the cloud may call, e.g. 6666,8080-8090 (empty: any).")
    public var allowedPorts = ""

    @Option(name: .customLong("max-in-flight"), help: "Requests relayed at once; past it the caller gets 503.")
    public var maxInFlight = 64

    @Option(name: .customLong("server"),
            help: "host:port of the local port where edge apps call cloud URLs allowed by a servicebus→rest rule (empty: off).")
    public var server = "127.0.0.1:9060"

    @Option(name: .customLong("cloud-timeout-seconds"), help: "How long an edge app's call waits for the cloud's answer.")
    public var cloudTimeoutSeconds = 60

    public init() {}
}

public struct ServiceBusCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "servicebus", abstract: ServiceBus.abstract,
        discussion: """
            Takes KubeEdge's HTTP requests from the cloud router (ke/down/servicebus: {port}:{path}), calls the app on \
            127.0.0.1:{port}, and answers on ke/up; a dead, slow or oversize app gives the caller a 5xx (or 413) with \
            the reason. Edge apps call cloud URLs allowed by servicebus→rest rules through --server (POST \
            {"method","targetURL","payload"}), as with KubeEdge's port 9060.
            """)

    @OptionGroup public var options: BaseOptions
    @OptionGroup public var servicebus: ServiceBusOptions

    public init() {}

    public func run() async throws {
        let servicebus = self.servicebus
        try await ServiceRunner.run(ServiceBus.identity, options: options, services: { context in
            try await ServiceBusServer(context: context, options: servicebus).services()
        })
    }
}

/// The running servicebus.
public final class ServiceBusServer: Sendable {
    let context: ServiceContext
    let options: ServiceBusOptions
    let logger: Logger
    let ports: [ClosedRange<Int>]
    let allowList: Mutex<AllowList>
    let inFlight = Mutex(0)
    /// Edge apps' calls waiting for the cloud's answer, by the upload's msg_id.
    let waiting = Mutex<[String: CheckedContinuation<Message?, Never>]>([:])

    final class AllowList: @unchecked Sendable {
        // @unchecked: used only inside its Mutex.
        let db: SQLiteDatabase
        init(path: String) throws {
            db = try SQLiteDatabase(path: path)
            try db.execute("CREATE TABLE IF NOT EXISTS target_urls(url TEXT PRIMARY KEY)")
        }
        func add(_ url: String) throws { _ = try db.run("INSERT OR REPLACE INTO target_urls(url) VALUES (?)", .text(url)) }
        func remove(_ url: String) throws -> Bool {
            // KubeEdge's router builds the `stop` resource with path.Join, which turns http:// into http:/.
            try db.run("DELETE FROM target_urls WHERE url = ? OR replace(url, '://', ':/') = ?", .text(url), .text(url)) > 0
        }
        func contains(_ url: String) throws -> Bool {
            (try db.scalarInt64("SELECT count(*) FROM target_urls WHERE url = ?", .text(url)) ?? 0) > 0
        }
        func count() throws -> Int { Int(try db.scalarInt64("SELECT count(*) FROM target_urls") ?? 0) }
    }

    public init(context: ServiceContext, options: ServiceBusOptions) throws {
        self.context = context
        self.options = options
        self.logger = context.logger
        do {
            ports = try ServiceBusRules.parsePorts(options.allowedPorts)
        } catch {
            throw ConfigError("--allowed-ports: \(error)")
        }
        try FileManager.default.createDirectory(atPath: context.config.dataDir, withIntermediateDirectories: true)
        allowList = Mutex(try AllowList(path: context.config.dataDir + "/servicebus.db"))
    }

    /// servicebus's parts, stopped in reverse order on SIGTERM: the local port finishes its calls, then the cloud's
    /// requests already received are answered.
    public func services() async throws -> [any Service] {
        try await context.bus.waitUntilConnected(timeout: .seconds(3600))
        try await context.bus.subscribe([Topics.down(.servicebus)])
        let allowed = try allowList.withLock { try $0.count() }
        logger.info("serving", metadata: ["allowed_urls": "\(allowed)", "local": "\(options.server)"])
        var parts: [any Service] = [MessageLoopService(context) { message in try await self.handle(message) }]
        if let (host, port) = Self.split(options.server) {
            parts.append(localServer(host: host, port: port))
        }
        return parts
    }

    static func split(_ address: String) -> (String, Int)? {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]) else { return nil }
        return (String(address[..<colon]), port)
    }

    // MARK: cloud → edge app

    func handle(_ message: BusMessage) async throws {
        let request = try message.envelope()
        if !request.header.parentID.isEmpty {
            // The cloud's answer to an edge app's call through the local port.
            let waiter = waiting.withLock { $0.removeValue(forKey: request.header.parentID) }
            waiter?.resume(returning: request)
            return
        }
        guard request.route.source == ServiceBusRules.routerSource else {
            logger.warning("ignored a message that is not from the router", metadata: [
                "source": "\(request.route.source)", "operation": "\(request.route.operation)",
            ])
            return
        }
        let command: ServiceBusRules.Command
        do {
            command = try ServiceBusRules.command(request, maxBody: options.maxBodyBytes)
        } catch {
            logger.warning("refused a request from the cloud", metadata: [
                "resource": "\(request.route.resource)", "status": "\(error.status)", "reason": "\(error)",
            ])
            try await answer(ServiceBusRules.errorResponse(to: request, status: error.status, reason: "\(error)"))
            return
        }
        switch command {
        case .allow(let url):
            try allowList.withLock { try $0.add(url) }
            logger.info("edge apps may call a cloud URL", metadata: ["url": "\(url)"])
        case .disallow(let url):
            let removed = try allowList.withLock { try $0.remove(url) }
            logger.info("edge apps may no longer call a cloud URL", metadata: ["url": "\(url)", "known": "\(removed)"])
        case .relay(let call):
            guard ports.isEmpty || ports.contains(where: { $0.contains(call.port) }) else {
                try await answer(ServiceBusRules.errorResponse(
                    to: request, status: 403, reason: "port \(call.port) is not in servicebus's --allowed-ports"))
                return
            }
            let admitted = inFlight.withLock { count -> Bool in
                guard count < options.maxInFlight else { return false }
                count += 1
                return true
            }
            guard admitted else {
                try await answer(ServiceBusRules.errorResponse(
                    to: request, status: 503, reason: "servicebus has \(options.maxInFlight) requests in flight"))
                return
            }
            // Each call on its own task: a slow app holds up only its own caller.
            Task {
                defer { self.inFlight.withLock { $0 -= 1 } }
                let reply = await self.call(call, for: request)
                try? await self.answer(reply)
            }
        }
    }

    func call(_ call: ServiceBusRules.Request, for request: Message) async -> Message {
        let target = "127.0.0.1:\(call.port)\(call.path)"
        do {
            let response = try await HTTPFetch.request(
                method: call.method, host: "127.0.0.1", port: call.port, path: call.path,
                headers: call.headers.map { ($0.name, $0.value) }, body: call.body,
                timeout: .seconds(options.timeoutSeconds), maxBody: options.maxBodyBytes)
            logger.debug("relayed", metadata: ["target": "\(target)", "status": "\(response.status)"])
            return ServiceBusRules.response(to: request, status: response.status, headers: response.headers,
                                            body: response.body)
        } catch let failure as HTTPFetch.Failure {
            let (status, reason): (Int, String) = switch failure.kind {
            case .connect: (502, "error to call service: nothing answers on \(target) (\(failure))")
            case .timeout: (504, "error to call service: \(target) did not answer within \(options.timeoutSeconds) s")
            case .tooLarge: (502, "error to receive response: \(failure)")
            case .malformed: (502, "error to receive response from \(target): \(failure)")
            }
            logger.warning("an edge app failed a request from the cloud", metadata: [
                "target": "\(target)", "status": "\(status)", "reason": "\(reason)",
            ])
            return ServiceBusRules.errorResponse(to: request, status: status, reason: reason)
        } catch {
            return ServiceBusRules.errorResponse(to: request, status: 502, reason: "error to call service \(target): \(error)")
        }
    }

    func answer(_ reply: Message) async throws {
        try await context.bus.publish(Topics.up, reply)
    }

    // MARK: edge app → cloud (the local port)

    func localServer(host: String, port: Int) -> some Service {
        let router = Router()
        let server = self
        router.on("**", method: .post) { request, _ -> Response in
            await server.localCall(request)
        }
        for method in [HTTPRequest.Method.get, .put, .delete, .patch] {
            router.on("**", method: method) { request, _ -> Response in await server.localCall(request) }
        }
        var quiet = logger
        quiet.logLevel = .warning
        return Application(router: router, configuration: .init(address: .hostname(host, port: port)), logger: quiet)
    }

    func localCall(_ request: Request) async -> Response {
        func reply(_ code: Int, _ message: String, _ body: String = "") -> Response {
            Response(status: .ok, headers: [.contentType: "application/json"],
                     body: .init(byteBuffer: ByteBuffer(bytes: ServiceBusRules.localAnswer(code: code, message: message, body: body))))
        }
        guard let buffer = try? await request.body.collect(upTo: options.maxBodyBytes) else {
            return reply(400, "can't read data from body of the http's request")
        }
        let bytes = Array(buffer: buffer)
        guard let call = try? JSONValue(parsing: bytes), let targetURL = call["targetURL"]?.stringValue else {
            return reply(400, "invalid params")
        }
        guard (try? allowList.withLock({ try $0.contains(targetURL) })) == true else {
            return reply(400, "url \(targetURL) is not allowed and please make a rule for this url in the cloud")
        }
        let upload = ServiceBusRules.upload(targetURL: targetURL, requestBody: bytes)
        let id = upload.header.id
        let answer: Message? = await withCheckedContinuation { continuation in
            waiting.withLock { $0[id] = continuation }
            Task {
                do {
                    try await self.context.bus.publish(Topics.up, upload)
                } catch {
                    self.waiting.withLock { $0.removeValue(forKey: id) }?.resume(returning: nil)
                    return
                }
                try? await Task.sleep(for: .seconds(self.options.cloudTimeoutSeconds))
                self.waiting.withLock { $0.removeValue(forKey: id) }?.resume(returning: nil)
            }
        }
        guard let answer else { return reply(400, "timeout to get response for message \(id)") }
        let body = answer.content.stringValue ?? answer.content.text
        return reply(200, "receive response from cloud successfully", body)
    }
}
