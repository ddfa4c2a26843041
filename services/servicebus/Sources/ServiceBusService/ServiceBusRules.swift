import EdgeProtocol
import Foundation
import HTTPFetch

/// KubeEdge's HTTP relay messages (`common/types/http.go`, `edge/pkg/servicebus`), as pure functions.
///
/// - `HTTPRequest` `{"header": {"Name": ["v"]}, "body": <base64>, "method": "GET", "url": ""}`: the cloud's request for
///   an edge app, with route source `router_servicebus`, group `user`, operation = the method, resource
///   `{port}:{path}`.
/// - `HTTPResponse` `{"header": …, "status_code": 200, "body": <base64>}`: the answer, sent as operation `upload`,
///   source `servicebus`, group `user`, `parent_msg_id` = the request's id (the router takes it by that id).
public enum ServiceBusRules {
    public static let routerSource = MessageSource.routerServiceBus
    public static let source = MessageSource.serviceBus

    /// A request for an edge app, taken apart.
    public struct Request: Equatable, Sendable {
        public var port: Int
        public var path: String
        public var method: String
        public var headers: [(name: String, value: String)]
        public var body: [UInt8]

        public static func == (a: Request, b: Request) -> Bool {
            a.port == b.port && a.path == b.path && a.method == b.method && a.body == b.body
                && a.headers.map(\.name) == b.headers.map(\.name) && a.headers.map(\.value) == b.headers.map(\.value)
        }
    }

    /// What the cloud asks of servicebus.
    public enum Command: Equatable, Sendable {
        /// Allow edge apps to call this cloud URL through the local port (a servicebus→rest rule exists).
        case allow(url: String)
        case disallow(url: String)
        case relay(Request)
    }

    public struct Refusal: Error, Equatable, CustomStringConvertible, Sendable {
        public let status: Int
        public let description: String
        public init(_ status: Int, _ description: String) {
            self.status = status
            self.description = description
        }
    }

    /// Reads a cloud message for servicebus. A request that cannot be used is a `Refusal` with the HTTP status the
    /// caller should get (KubeEdge: 400 for a bad resource or content).
    public static func command(_ message: Message, maxBody: Int) throws(Refusal) -> Command {
        switch message.route.operation {
        case "start": return .allow(url: message.route.resource)
        case "stop": return .disallow(url: message.route.resource)
        default: break
        }
        let resource = message.route.resource
        guard let colon = resource.firstIndex(of: ":"), let port = Int(resource[..<colon]), (1...65535).contains(port)
        else {
            throw Refusal(400, "the format of resource \(resource) is incorrect (expected {port}:{path})")
        }
        var path = String(resource[resource.index(after: colon)...])
        if !path.hasPrefix("/") { path = "/" + path }
        guard let content = try? message.content.parsed(), content.isObject else {
            throw Refusal(400, "error to parse http request: the content is not an HTTPRequest object")
        }
        let method = content["method"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } ?? message.route.operation
        guard !method.isEmpty, method.allSatisfy({ $0.isLetter }) else {
            throw Refusal(400, "error to parse http request: bad method '\(method)'")
        }
        var body: [UInt8] = []
        if let text = content["body"]?.stringValue, !text.isEmpty {
            guard let data = Data(base64Encoded: text) else {
                throw Refusal(400, "error to parse http request: the body is not base64")
            }
            body = Array(data)
        }
        if body.count > maxBody { throw Refusal(413, "the request body is larger than \(maxBody) bytes") }
        var headers: [(name: String, value: String)] = []
        for (name, values) in content["header"]?.objectMembers ?? [] {
            for value in values.arrayValue ?? [] {
                if let text = value.stringValue { headers.append((name, text)) }
            }
        }
        if !headers.contains(where: { $0.name.lowercased() == "accept" }) { headers.append(("Accept", "*/*")) }
        return .relay(Request(port: port, path: path, method: method.uppercased(), headers: headers, body: body))
    }

    /// The answer to `request`: KubeEdge's `HTTPResponse` in an `upload` that names the request as its parent.
    public static func response(to request: Message, status: Int, headers: [(name: String, value: String)],
                                body: [UInt8]) -> Message {
        var grouped: [(key: String, value: JSONValue)] = []
        for (name, value) in headers {
            let canonical = HTTPFetch.canonicalHeaderName(name)
            if let index = grouped.firstIndex(where: { $0.key == canonical }) {
                grouped[index].value = .array((grouped[index].value.arrayValue ?? []) + [.string(value)])
            } else {
                grouped.append((canonical, .array([.string(value)])))
            }
        }
        let content: JSONValue = .object([
            ("header", .object(grouped.sorted { $0.key < $1.key })),
            ("status_code", .integer(status)),
            ("body", .string(Data(body).base64EncodedString())),
        ])
        return Message(
            header: .init(id: Message.newID(), parentID: request.header.id, timestamp: Message.nowMillis()),
            route: .init(source: source, group: MessageGroup.user.rawValue, operation: "upload", resource: ""),
            content: (try? RawJSON(content)) ?? .null)
    }

    /// An error answer. Unlike KubeEdge's (which has no operation, so cloudcore never hands it to the router and the
    /// caller waits for a 408), it is an `upload` like a success: a real router passes its status and body on too.
    public static func errorResponse(to request: Message, status: Int, reason: String) -> Message {
        response(to: request, status: status,
                 headers: [("Content-Type", "text/plain; charset=utf-8"), ("Server", "kubeedge-edgecore")],
                 body: Array((reason + "\n").utf8))
    }

    /// `--allowed-ports`: `6666,8080-8090`; empty allows every port.
    public static func parsePorts(_ text: String) throws(Refusal) -> [ClosedRange<Int>] {
        var ranges: [ClosedRange<Int>] = []
        for part in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !part.isEmpty {
            let bounds = part.split(separator: "-", maxSplits: 1).map { Int($0) }
            guard let low = bounds.first ?? nil, let high = bounds.last ?? nil, 1...65535 ~= low, 1...65535 ~= high,
                  low <= high else {
                throw Refusal(400, "'\(part)' is not a port or a port range")
            }
            ranges.append(low...high)
        }
        return ranges
    }

    /// The upload that carries an edge app's request to a cloud URL (servicebus→rest): KubeEdge sends the whole local
    /// request body, base64.
    public static func upload(targetURL: String, requestBody: [UInt8]) -> Message {
        Message(source: source, group: MessageGroup.user.rawValue, operation: "upload", resource: targetURL,
                content: RawJSON(string: Data(requestBody).base64EncodedString()))
    }

    /// The body the local port answers with (always HTTP 200, as KubeEdge's): `{"code","msg","body"}`.
    public static func localAnswer(code: Int, message: String, body: String = "") -> [UInt8] {
        let answer: JSONValue = .object([("code", .integer(code)), ("msg", .string(message)), ("body", .string(body))])
        return (try? answer.serialized()) ?? []
    }
}
