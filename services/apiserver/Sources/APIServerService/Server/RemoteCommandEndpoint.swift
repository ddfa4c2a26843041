import EdgeProtocol
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore

/// `pods/{name}/exec` and `pods/{name}/attach` over WebSocket, as kubectl 1.29+ speaks them first
/// (`v5.channel.k8s.io`, or `v4.channel.k8s.io`): binary messages whose first byte is the channel (0 stdin,
/// 1 stdout, 2 stderr, 3 the final Status, 4 terminal size; v5's 255 closes a channel). The session itself is a
/// stream session with the pod's node (`NodeStreams`), served there by edged through CRI. `pods/{name}/portforward`
/// is SPDY tunnelled in the WebSocket, as kubectl 1.31+ speaks it (`PortForwardTunnel`).
struct RemoteCommandEndpoint: Sendable {
    let core: APICore
    let streams: NodeStreams
    /// nil: no authentication (the plain-HTTP loopback port), as for the other requests.
    let authenticator: Authenticator?
    let logger: Logger

    static let protocols = ["v5.channel.k8s.io", "v4.channel.k8s.io"]

    /// The pod, kind and options of an exec/attach path, or nil for any other path.
    static func target(_ path: String) -> (namespace: String, pod: String, kind: StreamRequest.Kind)? {
        let parts = path.split(separator: "?", maxSplits: 1)[0].split(separator: "/").map(String.init)
        guard parts.count == 7, parts[0] == "api", parts[1] == "v1", parts[2] == "namespaces", parts[4] == "pods",
              let kind = StreamRequest.Kind(rawValue: parts[6]), kind != .logs else { return nil }
        return (parts[3], parts[5], kind)
    }

    /// Decides the upgrade: an authenticated exec/attach of an existing pod, with a protocol both sides speak. Anything
    /// else is not upgraded and the HTTP responder answers it (with kube's error for the path).
    func shouldUpgrade(_ request: HTTPRequest, channel: any Channel) async -> ShouldUpgradeResult<WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>> {
        guard let path = request.path, let target = Self.target(path) else { return .dontUpgrade }
        if let authenticator, !(await authenticator.allows(authorization: request.headerFields[.authorization], channel: channel)) {
            return .dontUpgrade  // the responder answers 401
        }
        let offered = (request.headerFields[HTTPField.Name("Sec-WebSocket-Protocol")!] ?? "")
            .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let spoken = target.kind == .portforward ? PortForwardTunnel.protocols : Self.protocols
        guard let chosen = spoken.first(where: offered.contains) else { return .dontUpgrade }
        guard let pod = try? core.get(APICore.podsInfo, namespace: target.namespace, name: target.pod) else { return .dontUpgrade }
        if target.kind == .portforward {
            // An offline node is refused before the upgrade: kubectl then shows the responder's error naming it.
            let node = pod["spec"]?["nodeName"]?.stringValue ?? ""
            guard !node.isEmpty, streams.isConnected(node) == true else { return .dontUpgrade }
            let tunnel = PortForwardTunnel(streams: streams, namespace: target.namespace, pod: target.pod,
                                           uid: pod["metadata"]?["uid"]?.stringValue ?? "", node: node, logger: logger)
            return .upgrade([HTTPField.Name("Sec-WebSocket-Protocol")!: chosen]) { inbound, outbound, _ in
                await tunnel.run(inbound: inbound, outbound: outbound)
            }
        }
        let ask = Self.commandRequest(kind: target.kind, namespace: target.namespace, pod: pod, path: path)
        let node = pod["spec"]?["nodeName"]?.stringValue ?? ""
        let fiveOrLater = chosen == "v5.channel.k8s.io"
        let command = ask
        return .upgrade([HTTPField.Name("Sec-WebSocket-Protocol")!: chosen]) { inbound, outbound, _ in
            await self.run(command, node: node, closeSignals: fiveOrLater, inbound: inbound, outbound: outbound)
        }
    }

    /// What an exec or attach asks of the node: the container (the first one by default), command, and channels, from
    /// the request's query as kube-apiserver reads it.
    static func commandRequest(kind: StreamRequest.Kind, namespace: String, pod: JSONValue, path: String) -> StreamRequest {
        let query = Self.query(path)
        var ask = StreamRequest(kind: kind, namespace: namespace, pod: pod["metadata"]?["name"]?.stringValue ?? "",
                                uid: pod["metadata"]?["uid"]?.stringValue ?? "",
                                container: query.value("container")
                                    ?? pod["spec"]?["containers"]?.arrayValue?.first?["name"]?.stringValue ?? "")
        ask.command = query.values("command")
        func flag(_ name: String, _ fallback: Bool) -> Bool { query.value(name) == nil ? fallback : query.bool(name) }
        ask.stdin = flag("stdin", false)
        ask.stdout = flag("stdout", true)
        ask.stderr = flag("stderr", true)
        ask.tty = flag("tty", false)
        return ask
    }

    /// The request's query, read as for every other request (`Query`).
    static func query(_ path: String) -> Query {
        Query(rawQuery: path.firstIndex(of: "?").map { String(path[path.index(after: $0)...]) })
    }

    /// The Status JSON kube writes on channel 3 for a failure.
    static func status(_ failure: StreamFailure) -> [UInt8] {
        (try? APIError(failure).status.serialized()) ?? []
    }

    private func run(_ request: StreamRequest, node: String, closeSignals: Bool, inbound: WebSocketInboundStream,
                     outbound: WebSocketOutboundWriter) async {
        func frame(_ channel: UInt8, _ bytes: [UInt8]) async throws {
            var buffer = ByteBuffer()
            buffer.writeInteger(channel)
            buffer.writeBytes(bytes)
            try await outbound.write(.binary(buffer))
        }
        guard !node.isEmpty else {
            try? await frame(3, Self.status(.badRequest("pod \(request.pod) does not have a host assigned")))
            try? await outbound.close(.normalClosure, reason: nil)
            return
        }
        let session: NodeStream
        do {
            session = try await streams.open(node: node, request: request)
        } catch {
            try? await frame(3, Self.status(error))
            try? await outbound.close(.normalClosure, reason: nil)
            return
        }
        logger.info("\(request.kind.rawValue) session", metadata: [
            "pod": "\(request.namespace)/\(request.pod)", "container": "\(request.container)", "node": "\(node)",
            "tty": "\(request.tty)",
        ])
        let input = Task {
            // The client's stdin and terminal sizes, to the node; v5's close of channel 0 is stdin's end of file.
            do {
                for try await message in inbound.messages(maxSize: 1 << 20) {
                    let bytes: [UInt8]
                    switch message {
                    case .binary(let buffer): bytes = Array(buffer: buffer)
                    case .text(let text): bytes = Array(text.utf8)
                    }
                    guard let channel = bytes.first else { continue }
                    let payload = Array(bytes.dropFirst())
                    switch channel {
                    case 0:
                        guard await session.sendInput(payload) else { return }
                    case 4:
                        await streams.send(StreamProtocol.data(session: session.id, source: StreamProtocol.cloudSource,
                                                               channel: .resize, bytes: payload), to: node)
                    case 255 where closeSignals && payload.first == 0:
                        _ = await session.sendInput([], eof: true)
                    default:
                        break
                    }
                }
            } catch {}
            await session.close()  // the client left: the command's stream ends at the node
        }
        var statusSent = false
        do {
            while let next = await session.next() {
                if next.operation == .close {
                    if let failure = next.failure, !statusSent { try await frame(3, Self.status(failure)) }
                    break
                }
                guard next.operation == .data, !next.data.isEmpty else { continue }
                switch next.channel {
                case .stdout, .stderr:
                    try await frame(UInt8(next.channel.rawValue), next.data)
                    await session.grant(next.data.count)
                case .status:
                    statusSent = true
                    try await frame(3, next.data)
                default:
                    break
                }
            }
        } catch {
            logger.debug("\(request.kind.rawValue) stream to the client ended", metadata: ["error": "\(error)"])
        }
        input.cancel()
        try? await outbound.close(.normalClosure, reason: nil)
    }
}

// MARK: - SPDY/3.1 upgrades (kubectl before 1.31 for port-forward, before 1.29 for exec and attach)

extension RemoteCommandEndpoint {
    /// Whether a request switching to SPDY is one of ours (taken off the HTTP pipeline); the rest get HTTP's answer.
    func wantsSPDY(_ head: SPDYUpgradeHead) -> Bool {
        Self.target(head.path) != nil
    }

    /// Serves a connection that asked to switch to SPDY: checks it as kube-apiserver does (authentication, the pod,
    /// its node, the protocol), answers 101 with the protocol chosen, and runs the session; or answers the error as a
    /// Status, which kubectl shows ("error upgrading connection: …").
    func serveSPDY(_ connection: SPDYConnection) async {
        let head = connection.head
        func fail(_ error: APIError) async {
            let body = (try? error.status.serialized()) ?? []
            await connection.respond(status: error.code, reason: error.reason, headers: [("Content-Type", "application/json")],
                                     body: body)
        }
        guard let target = Self.target(head.path) else {
            await fail(APIError(code: 404, reason: "NotFound", message: "the server could not find the requested resource"))
            return
        }
        if let authenticator, !(await authenticator.allows(authorization: head.headers["authorization"], channel: connection.channel)) {
            await fail(APIError(code: 401, reason: "Unauthorized", message: "Unauthorized"))
            return
        }
        let pod: JSONValue
        do {
            pod = try core.get(APICore.podsInfo, namespace: target.namespace, name: target.pod)
        } catch {
            await fail(error)
            return
        }
        let node = pod["spec"]?["nodeName"]?.stringValue ?? ""
        guard !node.isEmpty else {
            await fail(APIError(code: 400, reason: "BadRequest", message: "pod \(target.pod) does not have a host assigned"))
            return
        }
        guard streams.isConnected(node) == true else {
            await fail(APIError(.offline(node)))
            return
        }
        let offered = head.values("X-Stream-Protocol-Version")
        let spoken = target.kind == .portforward ? [PortForwardTunnel.spdyProtocol] : SPDYCommandSession.protocols
        guard let chosen = spoken.first(where: offered.contains) else {
            await fail(APIError(code: 403, reason: "Forbidden",
                                message: "unable to upgrade: unable to negotiate protocol: client supports \(offered), server supports \(spoken)"))
            return
        }
        await connection.respond(status: 101, reason: "Switching Protocols", headers: [
            ("Connection", "Upgrade"), ("Upgrade", "SPDY/3.1"), ("X-Stream-Protocol-Version", chosen),
        ])
        if target.kind == .portforward {
            let tunnel = PortForwardTunnel(streams: streams, namespace: target.namespace, pod: target.pod,
                                           uid: pod["metadata"]?["uid"]?.stringValue ?? "", node: node, logger: logger)
            await tunnel.run(connection)
        } else {
            let request = Self.commandRequest(kind: target.kind, namespace: target.namespace, pod: pod, path: head.path)
            await SPDYCommandSession(streams: streams, request: request, node: node, logger: logger).run(connection)
        }
    }
}
