// HTTP in and out: authentication, routing, content negotiation (JSON, Kubernetes protobuf, or the Table kubectl asks
// for), Status error bodies, watch streams. Semantics live in APICore.

import EdgeProtocol
import Foundation
import KubeProtobuf
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOSSL

public struct APIRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}

/// Who may call: bearer tokens, and any client certificate the TLS layer verified against our CA.
public struct Authenticator: Sendable {
    public var tokens: Set<String>

    public init(tokens: Set<String>) { self.tokens = tokens }

    func allows(_ request: Request, channel: any Channel) async -> Bool {
        await allows(authorization: request.headers[.authorization], channel: channel)
    }

    /// The same check for a request seen before routing (a WebSocket upgrade).
    func allows(authorization: String?, channel: any Channel) async -> Bool {
        if let authorization {
            let parts = authorization.split(separator: " ", maxSplits: 1)
            return parts.count == 2 && parts[0] == "Bearer" && tokens.contains(String(parts[1]))
        }
        // With optional verification, a certificate the peer presented has already been checked by TLS.
        let certificate = try? await channel.nioSSL_peerCertificate().get()
        return certificate != nil
    }
}

public struct APIHandlerOptions: Sendable {
    public var maxBodyBytes = 3 << 20
    public var bookmarkInterval: Duration = .seconds(60)
    public var serverAddress = "127.0.0.1:6443"
    /// Stream sessions with the nodes (pod logs) and their usage figures; nil: those requests are refused.
    public var streams: NodeStreams?
    /// Usage figures older than this are not served (metrics.k8s.io).
    public var metricsMaxAge: Duration = .seconds(60)

    public init() {}
}

public struct APIResponder: HTTPResponder {
    public typealias Context = APIRequestContext
    let core: APICore
    /// nil: no authentication (the plain-HTTP loopback port).
    let authenticator: Authenticator?
    let options: APIHandlerOptions
    let logger: Logger

    public init(core: APICore, authenticator: Authenticator?, options: APIHandlerOptions, logger: Logger) {
        self.core = core
        self.authenticator = authenticator
        self.options = options
        self.logger = logger
    }

    public func respond(to request: Request, context: APIRequestContext) async throws -> Response {
        // Every body this request answers with (errors included) is encoded as its Accept header asks.
        try await Negotiation.$format.withValue(Negotiation.format(accept: request.headers[.accept])) {
            try await respondNegotiated(to: request, context: context)
        }
    }

    private func respondNegotiated(to request: Request, context: APIRequestContext) async throws -> Response {
        let path = request.uri.path
        do {
            let route = try Routing.route(path, registry: core.registry)
            if case .health(let name) = route { return text("ok", name: name) }
            if case .version = route { return json(Discovery.version) }
            if let authenticator, !(await authenticator.allows(request, channel: context.channel)) {
                logger.info("unauthenticated request refused", metadata: ["path": "\(path)"])
                throw APIError.unauthorized()
            }
            return try await respond(route, request)
        } catch let error as APIError {
            if error.code >= 500 {
                logger.error("request failed", metadata: [
                    "method": "\(request.method)", "path": "\(path)", "error": "\(error)",
                ])
            } else {
                logger.debug("request refused", metadata: [
                    "method": "\(request.method)", "path": "\(path)", "error": "\(error)",
                ])
            }
            return failure(error)
        } catch {
            logger.error("request failed", metadata: ["method": "\(request.method)", "path": "\(path)", "error": "\(error)"])
            return failure(APIError.internalError("\(error)"))
        }
    }

    private func text(_ body: String, name: String) -> Response {
        Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"],
                 body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    /// A body in the negotiated encoding: protobuf when the client asked for it and the kind has one, else JSON
    /// (or 406 when the client accepts protobuf only).
    func json(_ value: JSONValue, status: HTTPResponse.Status = .ok, warnings: [String] = []) -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        for warning in warnings {
            let escaped = warning.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            headers.append(HTTPField(name: HTTPField.Name("Warning")!, value: "299 - \"\(escaped)\""))
        }
        if case .protobuf(let jsonAccepted) = Negotiation.format {
            do {
                let bytes = try Negotiation.codec.encode(value)
                headers[.contentType] = KubeProtoCodec.mediaType
                return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
            } catch {
                if !jsonAccepted {
                    let refusal = APIError(code: 406, reason: "NotAcceptable",
                                           message: "only the following media types are accepted: application/json, application/yaml (\(error))")
                    let bytes = (try? refusal.status.serialized()) ?? Array("{}".utf8)
                    return Response(status: .notAcceptable, headers: [.contentType: "application/json"],
                                    body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
                }
                if case .noSchema = error {} else {
                    logger.warning("protobuf encoding failed; answering in JSON", metadata: ["error": "\(error)"])
                }
            }
        }
        let bytes = (try? value.serialized()) ?? Array("{}".utf8)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    func failure(_ error: APIError) -> Response {
        var response = json(error.status, status: HTTPResponse.Status(code: error.code))
        if let retry = error.retryAfterSeconds { response.headers[.retryAfter] = String(retry) }
        return response
    }

    // MARK: Dispatch

    private func respond(_ route: Route, _ request: Request) async throws -> Response {
        let registry = core.registry
        switch route {
        case .version, .health:
            throw APIError.pathNotFound()  // answered before authentication
        case .apiRoot:
            return json(Discovery.apiVersions(serverAddress: options.serverAddress))
        case .apisRoot:
            return json(Discovery.groupList(registry))
        case .apiGroup(let name):
            guard let group = Discovery.apiGroup(registry, name) else { throw APIError.pathNotFound() }
            return json(group)
        case .resourceList(let group, let version):
            guard let list = Discovery.resourceList(registry, group: group, version: version) else {
                throw APIError.pathNotFound()
            }
            return json(list)
        case .openAPIRoot:
            return json(Discovery.openAPIRoot(registry))
        case .openAPIDocument(let path):
            guard let document = Discovery.openAPIDocument(registry, path: path) else { throw APIError.pathNotFound() }
            return json(document)
        case .resource(let target):
            return try await respond(target, request)
        }
    }

    private func respond(_ target: ResourceTarget, _ request: Request) async throws -> Response {
        let query = Query(rawQuery: request.uri.query)
        let info = target.info
        let namespace = target.namespace ?? ""
        let table = Negotiation.table(request.headers[.accept], query)
        if info.group == EventsV1.info.group { return try await respondEventsV1(target, request, query: query, table: table) }
        if info.group == MetricsAPI.group { return try respondMetrics(target, request) }
        if info.createOnly {
            guard request.method == .post, target.name == nil else {
                throw APIError(code: 405, reason: "MethodNotAllowed",
                               message: "the server does not allow this method on the requested resource", name: nil,
                               group: info.group, kind: info.plural)
            }
            switch AccessReview.answer(kind: info.kind, try await body(request)) {
            case .success(let answer): return json(answer, status: .created)
            case .failure(let error): throw APIError.invalid(info, "", [error])
            }
        }
        switch (request.method, target.name, target.subresource) {
        case (.get, nil, _):
            if target.watchPrefix || query.bool("watch") {
                return try watch(target, query: query, table: table, request: request)
            }
            return try list(target, query: query, table: table)
        case (.get, let name?, nil), (.get, let name?, "status"):
            let object = try core.get(info, namespace: namespace, name: name)
            return json(table.map { Tables.single(info, object, includeObject: $0) } ?? object)
        case (.get, let name?, "scale"):
            return json(Scale.scale(of: try core.get(info, namespace: namespace, name: name)))
        case (_, let name?, "exec"), (_, let name?, "attach"), (_, let name?, "portforward"):
            // Served over WebSocket (the upgrade is taken before this responder); a plain request gets kube's answer,
            // or, for a node that is offline, why the upgrade was refused.
            let pod = try core.get(info, namespace: namespace, name: name)
            if let streams = options.streams, let node = pod["spec"]?["nodeName"]?.stringValue, !node.isEmpty,
               streams.isConnected(node) != true {
                throw APIError(.offline(node))
            }
            throw APIError(code: 400, reason: "BadRequest", message: "Upgrade request required")
        case (.get, let name?, "log"):
            return try await logs(namespace: namespace, pod: name, query: query, request: request)
        case (.post, nil, nil):
            let object = try await body(request)
            let result = try core.create(info, namespace: namespace, object: object, options: writeOptions(query, request))
            return json(result.object, status: .created, warnings: result.warnings)
        case (.post, let name?, "binding"):
            let binding = try await body(request)
            try Scheduling.bind(core, namespace: namespace, pod: name, binding: binding)
            return json(Self.success(), status: .created)
        case (.put, let name?, let subresource) where subresource != "scale":
            let object = try await body(request)
            let result = try core.update(info, namespace: namespace, name: name, object: object,
                                         subresource: subresource, options: writeOptions(query, request))
            return json(result.object, warnings: result.warnings)
        case (.patch, let name?, let subresource) where subresource != "scale":
            let type = try Negotiation.patchType(request.headers[.contentType], allowApply: true)
            let patch = try await bytes(request)
            if type == .apply {
                let applied = try core.apply(info, namespace: namespace, name: name, patch: patch,
                                             subresource: subresource, options: writeOptions(query, request))
                return json(applied.result.object, status: applied.created ? .created : .ok,
                            warnings: applied.result.warnings)
            }
            let result = try core.patch(info, namespace: namespace, name: name, type: type, patch: patch,
                                        subresource: subresource, options: writeOptions(query, request))
            return json(result.object, warnings: result.warnings)
        case (.put, let name?, "scale"), (.patch, let name?, "scale"):
            let input = request.method == .put ? try await body(request).serialized() : try await bytes(request)
            let type = request.method == .put ? nil : try Negotiation.patchType(request.headers[.contentType])
            return json(try Scale.write(core, info, namespace: namespace, name: name, patchType: type, body: input,
                                        options: writeOptions(query, request)))
        case (.delete, let name?, nil):
            let options = try await deleteOptions(request, query)
            switch try core.delete(info, namespace: namespace, name: name, options: options) {
            case .pending(let object):
                return json(object)
            case .deleted(let object):
                // kube answers with the deleted object for these kinds (the clients decode it as such).
                if info.custom != nil || ["CustomResourceDefinition", "Pod", "Service"].contains(info.kind) {
                    return json(object)
                }
                return json(Self.success(name: name, info: info, uid: object.string(at: "metadata.uid")))
            }
        case (.delete, nil, nil):
            let options = try await deleteOptions(request, query)
            let items = try core.list(info, namespace: target.namespace, labelSelector: try query.labelSelector(),
                                      fieldSelector: try query.fieldSelector()).items
            var deleted: [JSONValue] = []
            for item in items {
                let name = item.string(at: "metadata.name") ?? ""
                do {
                    switch try core.delete(info, namespace: item.string(at: "metadata.namespace") ?? "", name: name,
                                           options: options) {
                    case .deleted(let object), .pending(let object): deleted.append(object)
                    }
                } catch {
                    continue  // deleted meanwhile
                }
            }
            return json(["kind": .string(info.listKind), "apiVersion": .string(info.apiVersion),
                         "metadata": .object([]), "items": .array(deleted)])
        default:
            throw APIError.methodNotAllowed("the server does not allow this method on the requested resource")
        }
    }

    static func success(name: String? = nil, info: ResourceInfo? = nil, uid: String? = nil) -> JSONValue {
        var status: JSONValue = ["kind": "Status", "apiVersion": "v1", "metadata": .object([]), "status": "Success"]
        if let name, let info {
            var details: JSONValue = ["name": .string(name), "kind": .string(info.plural)]
            if !info.group.isEmpty { details[member: "group"] = .string(info.group) }
            if let uid { details[member: "uid"] = .string(uid) }
            status[member: "details"] = details
        }
        return status
    }

    // MARK: Bodies and options

    func bytes(_ request: Request) async throws -> [UInt8] {
        do {
            return Array(buffer: try await request.body.collect(upTo: options.maxBodyBytes))
        } catch {
            throw APIError.tooLarge(options.maxBodyBytes)
        }
    }

    func body(_ request: Request) async throws -> JSONValue {
        let data = try await bytes(request)
        if Negotiation.isProtobuf(request.headers[.contentType]) { return try Negotiation.decodeProtobuf(data) }
        do {
            return try JSONValue(parsing: data)
        } catch {
            throw APIError.badRequest("the request body is not valid JSON: \(error)")
        }
    }

    /// The write's options; the field manager is `fieldManager` or, as kube-apiserver derives it, the User-Agent up
    /// to its first `/`.
    func writeOptions(_ query: Query, _ request: Request) -> WriteOptions {
        let manager = query.value("fieldManager").flatMap { $0.isEmpty ? nil : $0 }
            ?? FieldManager.defaultManager(userAgent: request.headers[.userAgent])
        return WriteOptions(dryRun: query.values("dryRun").contains("All"),
                            fieldValidation: query.value("fieldValidation") ?? "Warn",
                            fieldManager: request.headers[.contentType].flatMap(PatchType.init(contentType:)) == .apply
                                ? query.value("fieldManager") : manager,
                            force: query.bool("force"))
    }

    func deleteOptions(_ request: Request, _ query: Query) async throws -> DeleteOptions {
        var options = DeleteOptions()
        let data = try await bytes(request)
        if !data.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) {
            let body: JSONValue
            if Negotiation.isProtobuf(request.headers[.contentType]) {
                body = try Negotiation.decodeProtobuf(data)
            } else {
                guard let parsed = try? JSONValue(parsing: data), parsed.isObject else {
                    throw APIError.badRequest("the DeleteOptions body is not a JSON object")
                }
                body = parsed
            }
            options.gracePeriodSeconds = body["gracePeriodSeconds"]?.int64Value
            options.propagationPolicy = body["propagationPolicy"]?.stringValue
                ?? (body["orphanDependents"]?.boolValue == true ? "Orphan" : nil)
            options.preconditionUID = body[path: ["preconditions", "uid"]]?.stringValue
            options.preconditionResourceVersion = body[path: ["preconditions", "resourceVersion"]]?.stringValue
            options.dryRun = (body["dryRun"]?.arrayValue ?? []).contains("All")
        }
        if let grace = try query.int64("gracePeriodSeconds") { options.gracePeriodSeconds = grace }
        if let policy = query.value("propagationPolicy") { options.propagationPolicy = policy }
        if query.values("dryRun").contains("All") { options.dryRun = true }
        return options
    }

    // MARK: List

    /// `view`: the stored resource and the conversion to the requested version, when they differ (events.k8s.io);
    /// field selectors then match the converted objects and Tables print the stored ones.
    private func list(_ target: ResourceTarget, query: Query, table: IncludeObject?,
                      view: (ResourceInfo, (JSONValue) -> JSONValue)? = nil) throws -> Response {
        let limit = try query.int64("limit").map { Int($0) }
        let stored = view?.0 ?? target.info
        let fieldSelector = try query.fieldSelector()
        let result = try core.list(stored, namespace: target.namespace, labelSelector: try query.labelSelector(),
                                   fieldSelector: view == nil ? fieldSelector : nil, limit: limit,
                                   continueToken: query.value("continue"))
        var items = result.items.map { ($0, view?.1($0) ?? $0) }
        if view != nil, let fieldSelector { items = items.filter { fieldSelector.matches($0.1) } }
        if let table {
            return json(Tables.list(stored, items.map(\.0), resourceVersion: String(result.resourceVersion),
                                    continueToken: result.continueToken, includeObject: table))
        }
        var metadata: JSONValue = ["resourceVersion": .string(String(result.resourceVersion))]
        if let token = result.continueToken { metadata[member: "continue"] = .string(token) }
        if let remaining = result.remaining, view == nil || fieldSelector == nil {
            metadata[member: "remainingItemCount"] = .integer(remaining)
        }
        return json([
            "kind": .string(target.info.listKind), "apiVersion": .string(target.info.apiVersion),
            "metadata": metadata, "items": .array(items.map(\.1)),
        ])
    }

    // MARK: events.k8s.io/v1

    /// events.k8s.io/v1 Events: the core/v1 Events, converted on the way in and out (one storage, as in kube).
    private func respondEventsV1(_ target: ResourceTarget, _ request: Request, query: Query, table: IncludeObject?)
        async throws -> Response
    {
        guard let coreInfo = core.registry.resource(group: "", version: "v1", plural: "events") else {
            throw APIError.pathNotFound()
        }
        let namespace = target.namespace ?? ""
        switch (request.method, target.name, target.subresource) {
        case (.get, nil, nil):
            if target.watchPrefix || query.bool("watch") {
                // Tables print the stored core Events (kube's event columns read involvedObject and source).
                let convert: @Sendable (JSONValue) -> JSONValue
                if table == nil { convert = { EventsV1.fromCore($0) } } else { convert = { $0 } }
                return try watch(target, query: query, table: table, request: request, view: (coreInfo, convert))
            }
            return try list(target, query: query, table: table, view: (coreInfo, EventsV1.fromCore))
        case (.get, let name?, nil):
            let object = try core.get(coreInfo, namespace: namespace, name: name)
            return json(table.map { Tables.single(coreInfo, object, includeObject: $0) } ?? EventsV1.fromCore(object))
        case (.post, nil, nil):
            let result = try core.create(coreInfo, namespace: namespace, object: EventsV1.toCore(try await body(request)),
                                         options: writeOptions(query, request))
            return json(EventsV1.fromCore(result.object), status: .created, warnings: result.warnings)
        case (.put, let name?, nil):
            let result = try core.update(coreInfo, namespace: namespace, name: name,
                                         object: EventsV1.toCore(try await body(request)),
                                         options: writeOptions(query, request))
            return json(EventsV1.fromCore(result.object), warnings: result.warnings)
        case (.patch, let name?, nil):
            let type = try Negotiation.patchType(request.headers[.contentType])
            let patch = try await bytes(request)
            let result = try core.modify(coreInfo, namespace: namespace, name: name, precondition: nil,
                                         subresource: nil, options: writeOptions(query, request)) {
                (current) throws(APIError) -> JSONValue in
                do {
                    return EventsV1.toCore(try Patcher.apply(type, patch: patch, to: EventsV1.fromCore(current),
                                                             kind: "Event"))
                } catch let error as PatchError {
                    throw APIError(code: error.httpStatus, reason: error.category.statusReason, message: error.message)
                } catch {
                    throw APIError.internalError("\(error)")
                }
            }
            return json(EventsV1.fromCore(result.object), warnings: result.warnings)
        case (.delete, let name?, nil):
            switch try core.delete(coreInfo, namespace: namespace, name: name,
                                   options: try await deleteOptions(request, query)) {
            case .pending(let object): return json(EventsV1.fromCore(object))
            case .deleted(let object):
                return json(Self.success(name: name, info: EventsV1.info, uid: object.string(at: "metadata.uid")))
            }
        default:
            throw APIError.methodNotAllowed("the server does not allow this method on the requested resource")
        }
    }

    // MARK: Watch

    /// `view`: the stored resource and the conversion to the requested version, when they differ (events.k8s.io).
    private func watch(_ target: ResourceTarget, query: Query, table: IncludeObject?, request: Request,
                       view: (ResourceInfo, @Sendable (JSONValue) -> JSONValue)? = nil) throws -> Response
    {
        let timeout = try query.int64("timeoutSeconds").map { Duration.seconds(max(1, $0)) }
            ?? .seconds(1800)
        let watcher = try Watcher(
            core: core, info: view?.0 ?? target.info, presentedAs: view.map { (target.info, $0.1) },
            namespace: target.namespace, resourceVersion: query.value("resourceVersion"),
            labelSelector: try query.labelSelector(), fieldSelector: try query.fieldSelector(),
            bookmarks: query.bool("allowWatchBookmarks") ? options.bookmarkInterval : nil, table: table,
            timeout: timeout)
        let logger = self.logger
        // Protobuf frames when asked for and the kind has them (never for Tables), else JSON lines.
        var frames: KubeProtoCodec?
        if case .protobuf(let jsonAccepted) = Negotiation.format, table == nil {
            if Negotiation.codec.canEncode(apiVersion: target.info.apiVersion, kind: target.info.kind) {
                frames = Negotiation.codec
            } else if !jsonAccepted {
                throw APIError(code: 406, reason: "NotAcceptable",
                               message: "only the following media types are accepted: application/json, application/yaml")
            }
        }
        let codec = frames
        let contentType = codec == nil ? "application/json" : KubeProtoCodec.mediaType + ";stream=watch"
        return Response(
            status: .ok, headers: [.contentType: contentType],
            body: ResponseBody { writer in
                do {
                    // Ends when the client closes its side, the timeout passes or the stream fails.
                    try await request.body.consumeWithCancellationOnInboundClose { _ in
                        try await watcher.run(protobuf: codec) { line in try await writer.write(ByteBuffer(bytes: line)) }
                    }
                } catch is CancellationError {
                    return
                } catch {
                    logger.debug("watch ended", metadata: ["error": "\(error)"])
                }
                try await writer.finish(nil)
            })
    }
}

/// The query parameters of a request, read as kube-apiserver converts them into its option structs
/// (k8s.io/apimachinery `pkg/runtime/conversion.go`, `Convert_Slice_string_To_*`): the first value of a parameter
/// counts; a boolean is false only when absent, `0` or `false` in any case (so `watch=True`, `watch=1` and `watch=`
/// are true); an integer is Go's `strconv.ParseInt(s, 10, 64)`, and anything else is a 400 naming the value.
public struct Query: Sendable {
    let parameters: [(String, String)]

    public init(_ parameters: [(String, String)]) {
        self.parameters = parameters
    }

    /// A raw query string read as Go's `url.ParseQuery` reads it for kube-apiserver: `+` is a space (kubectl encodes
    /// spaces so, e.g. in `-l 'app in (a,b)'`), then percent escapes; a pair without a name is dropped.
    public init(rawQuery: String?) {
        parameters = (rawQuery ?? "").split(separator: "&").compactMap { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map { part in
                let spaced = part.replacingOccurrences(of: "+", with: " ")
                return spaced.removingPercentEncoding ?? spaced
            }
            guard let name = parts.first, !name.isEmpty else { return nil }
            return (name, parts.count > 1 ? parts[1] : "")
        }
    }

    public func value(_ name: String) -> String? { parameters.first { $0.0 == name }?.1 }
    public func values(_ name: String) -> [String] { parameters.filter { $0.0 == name }.map(\.1) }

    public func bool(_ name: String) -> Bool {
        guard let text = value(name) else { return false }
        return !(text == "0" || text.lowercased() == "false")
    }

    public func int64(_ name: String) throws(APIError) -> Int64? {
        guard let text = value(name) else { return nil }
        if let number = Int64(text) { return number }
        // strconv.ParseInt's own messages: a well-formed number that does not fit, or anything else.
        let digits = text.drop { $0 == "+" || $0 == "-" }
        let wellFormed = text.count - digits.count <= 1 && !digits.isEmpty && digits.allSatisfy { $0.isASCII && $0.isNumber }
        throw APIError.badRequest(
            "strconv.ParseInt: parsing \(Self.goQuoted(text)): \(wellFormed ? "value out of range" : "invalid syntax")")
    }

    /// Go's `%q` of a string, for the messages above.
    static func goQuoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    out += "\\x" + String(scalar.value, radix: 16).leftPadded(to: 2)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    func labelSelector() throws(APIError) -> LabelSelector {
        guard let text = value("labelSelector"), !text.isEmpty else { return .everything }
        do {
            return try LabelSelector(parsing: text)
        } catch {
            throw APIError.badRequest("unable to parse requirement: \(error)")
        }
    }

    func fieldSelector() throws(APIError) -> FieldSelector? {
        guard let text = value("fieldSelector"), !text.isEmpty else { return nil }
        do {
            return try FieldSelector(parsing: text)
        } catch {
            throw APIError.badRequest("\(error)")
        }
    }
}

enum Negotiation {
    enum Format: Sendable {
        case json
        /// Kubernetes protobuf; `jsonAccepted` when the client also takes JSON (client-go sends both).
        case protobuf(jsonAccepted: Bool)
    }

    /// The response encoding of the request being answered.
    @TaskLocal static var format: Format = .json

    static let codec = KubeProtoCodec()

    /// The first media type of `Accept` this server can write, as kube-apiserver picks it (in the client's order).
    static func format(accept: String?) -> Format {
        guard let accept else { return .json }
        let types = accept.split(separator: ",").map {
            $0.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        }
        let jsonTypes: Set<String> = ["application/json", "*/*", "application/*"]
        for (index, type) in types.enumerated() {
            if type == KubeProtoCodec.mediaType {
                return .protobuf(jsonAccepted: types[(index + 1)...].contains { jsonTypes.contains($0) })
            }
            if jsonTypes.contains(type) { return .json }
        }
        return .json
    }

    static func isProtobuf(_ contentType: String?) -> Bool {
        guard let contentType else { return false }
        let type = contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        return type == KubeProtoCodec.mediaType
    }

    /// A protobuf request body as the JSON object the rest of the server works on.
    static func decodeProtobuf(_ data: [UInt8]) throws -> JSONValue {
        do {
            return try codec.decode(data)
        } catch .noSchema(let apiVersion, let kind) {
            throw APIError(code: 415, reason: "UnsupportedMediaType",
                           message: "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (no protobuf encoding of \(kind) in \(apiVersion))")
        } catch {
            throw APIError.badRequest("the request body is not a valid protobuf object: \(error)")
        }
    }

    /// The row object wanted when the client asks for a Table (kubectl get), else nil.
    static func table(_ accept: String?, _ query: Query) -> IncludeObject? {
        guard let accept, accept.contains("as=Table") else { return nil }
        return IncludeObject.parse(query.value("includeObject")) ?? .metadata
    }

    static func patchType(_ contentType: String?, allowApply: Bool = false) throws(APIError) -> PatchType {
        guard let type = PatchType(contentType: contentType ?? ""), allowApply || type != .apply else {
            throw APIError.unsupportedMediaType(contentType ?? "")
        }
        return type
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

extension APIResponder {
    // MARK: pod logs

    /// `GET pods/{name}/log`: checked here as kube-apiserver checks it, then served by the pod's node through its
    /// link (a stream session), with the node's answer streamed to the client as it comes.
    func logs(namespace: String, pod name: String, query: Query, request: Request) async throws -> Response {
        let pod = try core.get(APICore.podsInfo, namespace: namespace, name: name)
        let containers = (pod["spec"]?["containers"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
        let initContainers = (pod["spec"]?["initContainers"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
        var container = query.value("container") ?? ""
        if container.isEmpty {
            guard containers.count == 1 else {
                var message = "a container name must be specified for pod \(name), choose one of: [\(containers.joined(separator: " "))]"
                if !initContainers.isEmpty { message += " or one of the init containers: [\(initContainers.joined(separator: " "))]" }
                throw APIError(code: 400, reason: "BadRequest", message: message)
            }
            container = containers[0]
        } else if !containers.contains(container) && !initContainers.contains(container) {
            throw APIError(code: 400, reason: "BadRequest", message: "container \(container) is not valid for pod \(name)")
        }
        var logOptions = LogOptions()
        logOptions.follow = query.bool("follow")
        logOptions.previous = query.bool("previous")
        logOptions.timestamps = query.bool("timestamps")
        logOptions.tailLines = try query.int64("tailLines").map { Int($0) }
        logOptions.sinceSeconds = try query.int64("sinceSeconds").map { Int($0) }
        logOptions.sinceTime = query.value("sinceTime")
        logOptions.limitBytes = try query.int64("limitBytes").map { Int($0) }
        var invalid: [String] = []
        if let tail = logOptions.tailLines, tail < 0 { invalid.append("tailLines: Invalid value: \(tail): must be greater than or equal to 0") }
        if let since = logOptions.sinceSeconds, since < 1 { invalid.append("sinceSeconds: Invalid value: \(since): must be greater than 0") }
        if let limit = logOptions.limitBytes, limit < 1 { invalid.append("limitBytes: Invalid value: \(limit): must be greater than 0") }
        if logOptions.sinceSeconds != nil && logOptions.sinceTime != nil { invalid.append("at most one of `sinceTime` or `sinceSeconds` may be specified") }
        guard invalid.isEmpty else {
            throw APIError(code: 422, reason: "Invalid", message: "PodLogOptions \"\" is invalid: [\(invalid.joined(separator: ", "))]")
        }
        guard let node = pod["spec"]?["nodeName"]?.stringValue, !node.isEmpty else {
            throw APIError(code: 400, reason: "BadRequest", message: "pod \(name) does not have a host assigned")
        }
        guard let streams = options.streams else {
            throw APIError(code: 501, reason: "NotImplemented", message: "this API server has no link to the nodes")
        }
        var ask = StreamRequest(kind: .logs, namespace: namespace, pod: name,
                                uid: pod["metadata"]?["uid"]?.stringValue ?? "", container: container)
        ask.logs = logOptions
        let session: NodeStream
        do {
            session = try await streams.open(node: node, request: ask)
        } catch {
            throw APIError(error)
        }
        let logger = self.logger
        return Response(
            status: .ok, headers: [.contentType: "text/plain"],
            body: ResponseBody { writer in
                do {
                    try await request.body.consumeWithCancellationOnInboundClose { _ in
                        while let frame = await session.next() {
                            if frame.operation == .close {
                                if let failure = frame.failure {
                                    logger.info("log stream ended by the node", metadata: ["pod": "\(namespace)/\(name)", "reason": "\(failure.message)"])
                                }
                                return
                            }
                            guard frame.operation == .data, !frame.data.isEmpty else { continue }
                            try await writer.write(ByteBuffer(bytes: frame.data))
                            await session.grant(frame.data.count)
                        }
                    }
                } catch {
                    await session.close()  // the client left: the node stops reading
                    if !(error is CancellationError) { logger.debug("log stream ended", metadata: ["error": "\(error)"]) }
                    return
                }
                try await writer.finish(nil)
            })
    }

    // MARK: metrics.k8s.io

    /// NodeMetrics and PodMetrics from the nodes' latest usage reports (get and list; nothing is stored).
    func respondMetrics(_ target: ResourceTarget, _ request: Request) throws -> Response {
        guard request.method == .get else {
            throw APIError(code: 405, reason: "MethodNotAllowed", message: "the server does not allow this method on the requested resource",
                           name: nil, group: target.info.group, kind: target.info.plural)
        }
        let reports = options.streams?.usage(maxAge: options.metricsMaxAge) ?? []
        let created = APICore.now()
        var items: [JSONValue]
        if target.info.kind == MetricsAPI.nodes.kind {
            items = reports.compactMap { MetricsAPI.nodeMetrics(node: $0.node, report: $0.report, created: created) }
        } else {
            items = reports.flatMap { MetricsAPI.podMetrics(report: $0.report, namespace: target.namespace, created: created) }
        }
        if let name = target.name {
            items = items.filter { $0["metadata"]?["name"]?.stringValue == name }
            guard let item = items.first else {
                throw APIError(code: 404, reason: "NotFound", message: "\(target.info.plural).\(MetricsAPI.group) \"\(name)\" not found",
                               name: name, group: MetricsAPI.group, kind: target.info.plural)
            }
            return json(item)
        }
        return json(MetricsAPI.list(target.info, items))
    }
}
