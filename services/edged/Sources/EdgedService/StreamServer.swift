import Bus
import CRIClient
import EdgeProtocol
import Foundation
import Logging
import Synchronization

/// edged's side of stream sessions (`kubectl logs`, `exec`, `attach`, `port-forward`): frames arrive on
/// `ke/stream/{session}/in`, answers go to `ke/stream/{session}/out`. Each session is a task that sends what its reader
/// has granted credit for, and ends when it is done, when the reader closes it, or when the link to the cloud drops.
/// Input (stdin, a forwarded connection's bytes) is granted back as credit once the runtime has taken it.
final class StreamServer: Sendable {
    let bus: BusClient
    let worker: PodWorker
    let cri: CRIClient
    let logger: Logger
    /// How often a followed log file is looked at for new lines.
    let followInterval: Duration
    /// How much of a log file is read at a time.
    static let readSize = 256 << 10

    private struct Session {
        /// What the API server has granted for this session's output.
        var credit = StreamCredit()
        var task: Task<Void, Never>?
        /// exec, attach and port-forward: the runtime's stream, fed with the client's input and terminal sizes.
        var runtime: RuntimeStream?
    }

    private let sessions = Mutex<[String: Session]>([:])

    init(bus: BusClient, worker: PodWorker, cri: CRIClient, logger: Logger, followInterval: Duration = .milliseconds(100)) {
        self.bus = bus
        self.worker = worker
        self.cri = cri
        self.logger = logger
        self.followInterval = followInterval
    }

    var openSessions: Int { sessions.withLock { $0.count } }

    func handle(_ message: BusMessage) async {
        guard let session = Topics.streamSession(ofTopic: message.topic) else { return }
        let frame: StreamFrame
        do {
            frame = try StreamFrame(try MessageCodec.decode(message.payload))
        } catch {
            logger.warning("malformed stream frame dropped", metadata: ["session": "\(session)", "reason": "\(error)"])
            return
        }
        switch frame.operation {
        case .open:
            guard let request = frame.request else { return }
            start(session, request)
        case .credit:
            sessions.withLock { $0[session]?.credit }?.grant(frame.credit)
        case .close:
            end(session)
        case .data:
            guard let runtime = sessions.withLock({ $0[session]?.runtime }) else { return }
            do {
                switch frame.channel {
                case .stdin:
                    try runtime.writeStdin(frame.data)
                    if frame.eof { try runtime.closeStdin() }
                    // The runtime took it: the API server may send that much more.
                    if !frame.data.isEmpty {
                        await send(StreamProtocol.credit(session: session, source: StreamProtocol.edgeSource, bytes: frame.data.count))
                    }
                case .resize:
                    try runtime.resize(frame.data)
                default:
                    break
                }
            } catch {
                logger.warning("input not passed to the runtime", metadata: ["session": "\(session)", "reason": "\(error)"])
            }
        case .metrics:
            break
        }
    }

    /// The link dropped: every session's reader is gone with it.
    func closeAll() {
        for id in sessions.withLock({ Array($0.keys) }) { end(id) }
    }

    private func start(_ session: String, _ request: StreamRequest) {
        let added = sessions.withLock { s -> Bool in
            guard s[session] == nil else { return false }
            s[session] = Session()
            return true
        }
        guard added else { return }
        logger.info("stream session opened", metadata: [
            "session": "\(session)", "kind": "\(request.kind.rawValue)", "pod": "\(request.namespace)/\(request.pod)",
            "container": "\(request.container)",
        ])
        let task = Task {
            let failure: StreamFailure?
            switch request.kind {
            case .logs:
                failure = await self.serveLogs(session, request)
            case .exec, .attach:
                failure = await self.serveCommand(session, request)
            case .portforward:
                failure = await self.servePortForward(session, request)
            }
            if !Task.isCancelled {
                await self.send(StreamProtocol.close(session: session, source: StreamProtocol.edgeSource, failure: failure))
            }
            self.sessions.withLock { _ = $0.removeValue(forKey: session) }
            self.logger.info("stream session ended", metadata: [
                "session": "\(session)", "error": "\(failure?.message ?? "")",
            ])
        }
        sessions.withLock { $0[session]?.task = task }
    }

    private func end(_ session: String) {
        let entry = sessions.withLock { $0.removeValue(forKey: session) }
        entry?.runtime?.close()
        entry?.task?.cancel()
        entry?.credit.close()
    }

    private func send(_ message: Message) async {
        do {
            try await bus.publish(Topics.streamOut(session: message.route.resource), MessageCodec.encode(message))
        } catch {
            logger.warning("stream frame not published", metadata: ["session": "\(message.route.resource)", "reason": "\(error)"])
        }
    }

    /// Sends bytes in chunks, each only once the reader has granted credit for it. False when the session ended.
    private func write(_ session: String, _ bytes: [UInt8], channel: StreamProtocol.Channel = .stdout) async -> Bool {
        var offset = 0
        while offset < bytes.count {
            guard !Task.isCancelled, let credit = sessions.withLock({ $0[session]?.credit }),
                  let granted = await credit.take(upTo: bytes.count - offset) else { return false }
            await send(StreamProtocol.data(session: session, source: StreamProtocol.edgeSource, channel: channel,
                                           bytes: bytes[offset..<offset + granted]))
            offset += granted
        }
        return true
    }

    // MARK: exec and attach

    /// CRI `Exec` (or `Attach`) through the runtime's streaming server: its output goes up with credit, the client's
    /// stdin and terminal sizes come down (`handle`), and the runtime's final Status (exit code) ends the session.
    private func serveCommand(_ session: String, _ request: StreamRequest) async -> StreamFailure? {
        let id: String
        switch await worker.runningContainer(namespace: request.namespace, pod: request.pod, container: request.container) {
        case .success(let found): id = found
        case .failure(let failure): return failure
        }
        let url: String
        do {
            url = request.kind == .attach
                ? try await cri.attach(id, tty: request.tty, stdin: request.stdin, stdout: request.stdout, stderr: request.stderr)
                : try await cri.exec(id, command: request.command, tty: request.tty, stdin: request.stdin,
                                     stdout: request.stdout, stderr: request.stderr)
        } catch {
            return StreamFailure(code: 500, reason: "InternalError", "the runtime refused \(request.kind.rawValue): \(error.message)")
        }
        return await relay(session, url: url, purpose: .command(stdin: request.stdin, stdout: request.stdout,
                                                                 stderr: request.stderr, tty: request.tty))
    }

    // MARK: port-forward

    /// CRI `PortForward` through the runtime's streaming server: one session is one connection to one port of the
    /// pod's network namespace. What the pod sends goes up with credit, the client's bytes come down (`handle`); the
    /// runtime's error text (nothing listens, …) ends the session as a failure.
    private func servePortForward(_ session: String, _ request: StreamRequest) async -> StreamFailure? {
        guard request.ports.count == 1, let port = request.ports.first, (1...65535).contains(port) else {
            return .badRequest("port-forward takes one port from 1 to 65535, not \(request.ports)")
        }
        let sandbox: String
        switch await worker.readySandbox(namespace: request.namespace, pod: request.pod) {
        case .success(let found): sandbox = found
        case .failure(let failure): return failure
        }
        let url: String
        do {
            url = try await cri.portForward(sandbox, port: port)
        } catch {
            return StreamFailure(code: 500, reason: "InternalError", "the runtime refused port-forward: \(error.message)")
        }
        return await relay(session, url: url, purpose: .portForward(port: port))
    }

    /// Runs a session with the runtime's streaming server at `url` until it ends: output up with credit, then the
    /// final status (exec's Status JSON), or a failure (port-forward's error text, or the connection refused).
    private func relay(_ session: String, url: String, purpose: RuntimeStream.Purpose) async -> StreamFailure? {
        let runtime: RuntimeStream
        do {
            runtime = try await RuntimeStream.open(url: url, purpose: purpose)
        } catch let failure as StreamFailure {
            return failure
        } catch {
            return StreamFailure(code: 500, reason: "InternalError", "\(error)")
        }
        let alive = sessions.withLock { s -> Bool in
            guard s[session] != nil else { return false }
            s[session]!.runtime = runtime
            return true
        }
        guard alive else {
            runtime.close()
            return nil
        }
        defer { runtime.close() }
        await send(StreamProtocol.started(session: session))
        var failure: StreamFailure?
        for await event in runtime.events {
            switch event {
            case .stdout(let bytes):
                guard await write(session, bytes, channel: .stdout) else { return nil }
                runtime.consumed(bytes.count)
            case .stderr(let bytes):
                guard await write(session, bytes, channel: .stderr) else { return nil }
                runtime.consumed(bytes.count)
            case .status(let bytes):
                if case .portForward = purpose {
                    failure = StreamFailure(code: 500, reason: "InternalError", String(decoding: bytes, as: UTF8.self))
                } else {
                    await send(StreamProtocol.data(session: session, source: StreamProtocol.edgeSource, channel: .status, bytes: bytes))
                }
            case .closed:
                return failure
            }
        }
        return failure
    }

    // MARK: logs

    /// kubelet's ReadLogs over our own log files: the file as it is (since, tail, timestamps, limit), then with
    /// `follow` what the container writes until it stops or the reader leaves.
    private func serveLogs(_ session: String, _ request: StreamRequest) async -> StreamFailure? {
        let target: LogTarget
        switch await worker.logTarget(namespace: request.namespace, pod: request.pod, container: request.container,
                                      previous: request.logs.previous) {
        case .success(let found): target = found
        case .failure(let failure): return failure
        }
        guard let file = FileHandle(forReadingAtPath: target.path) else {
            return StreamFailure(code: 500, reason: "InternalError", "cannot read the log file of \(request.pod)")
        }
        defer { try? file.close() }
        // The first frame, empty, says the log is there: the API server answers 200 and streams from here on.
        await send(StreamProtocol.started(session: session))
        var selection = LogSelection(options: request.logs, now: Date().timeIntervalSince1970)
        var rest: [UInt8] = []
        // The file as it is now, read in bounded chunks (memory stays flat however long the log): with `tail`, only
        // the last N shown lines are kept while reading.
        if let tail = request.logs.tailLines {
            var kept = LastLines(capacity: tail)
            while let chunk = try? file.read(upToCount: Self.readSize), !chunk.isEmpty {
                let (lines, remainder) = LogSelection.lines(rest + Array(chunk))
                rest = remainder
                for line in selection.join(lines) where selection.shows(line) { kept.append(line) }
            }
            guard await write(session, selection.render(kept.lines)) else { return nil }
        } else {
            while !Task.isCancelled, !selection.exhausted, let chunk = try? file.read(upToCount: Self.readSize), !chunk.isEmpty {
                let (lines, remainder) = LogSelection.lines(rest + Array(chunk))
                rest = remainder
                guard await write(session, selection.render(selection.join(lines))) else { return nil }
            }
        }
        // Then, with `follow`, what the container writes until it stops or the reader leaves.
        while !Task.isCancelled, !selection.exhausted {
            if let chunk = try? file.read(upToCount: Self.readSize), !chunk.isEmpty {
                let (lines, remainder) = LogSelection.lines(rest + Array(chunk))
                rest = remainder
                guard await write(session, selection.render(selection.join(lines))) else { return nil }
                continue
            }
            guard request.logs.follow else { return nil }
            let running = await worker.stillRunning(namespace: request.namespace, pod: request.pod,
                                                    container: request.container, attempt: target.attempt)
            if !running {
                // One last look: the lines written just before it stopped.
                if let tail = try? file.readToEnd(), !tail.isEmpty {
                    let (lines, _) = LogSelection.lines(rest + Array(tail))
                    _ = await write(session, selection.render(selection.join(lines)))
                }
                return nil
            }
            try? await Task.sleep(for: followInterval)
        }
        return nil
    }
}
