import EdgeProtocol
import Foundation
import KubeClient
import Logging
import TestSupport

struct StubError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// What a consumer task took from a stream, and how the stream ended.
struct Collected<Element: Sendable>: Sendable, CustomStringConvertible {
    var items: [Element] = []
    var finished = false
    var error: (any Error)?
    var description: String { "\(items.count) items, finished: \(finished), error: \(String(describing: error))" }
}

/// Consumes a sequence in a task of its own, so the test can wait for what arrives with a timeout.
final class Consumer<Element: Sendable>: Sendable {
    let collected = Watched(Collected<Element>())
    private let task: Task<Void, Never>

    init<S: AsyncSequence & Sendable>(_ sequence: S) where S.Element == Element {
        let collected = self.collected
        task = Task {
            do {
                for try await item in sequence {
                    collected.update { $0.items.append(item) }
                }
                collected.update { $0.finished = true }
            } catch {
                collected.update {
                    $0.error = error
                    $0.finished = true
                }
            }
        }
    }

    var items: [Element] { collected.value.items }

    func waitForCount(_ count: Int, timeout: Double = 10) async throws {
        try await collected.wait(timeout: timeout, "\(count) items") { $0.items.count >= count || $0.finished }
        let state = collected.value
        if state.items.count < count { throw StubError("stream ended early: \(state)") }
    }

    func waitForEnd(timeout: Double = 10) async throws -> Collected<Element> {
        try await collected.wait(timeout: timeout, "end of stream") { $0.finished }
        return collected.value
    }

    func cancel() { task.cancel() }
}

/// The Python stand-in for kube-apiserver (kube_stub.py beside this file), on a free loopback port, with its
/// certificates in a temporary directory of its own. Killed when released.
final class StubServer: @unchecked Sendable {
    // @unchecked: `process` is configured before it runs and only signalled afterwards.
    enum Mode: Sendable {
        case plain
        case tls
        case token(String)
    }

    let mode: Mode
    let directory: URL
    let port: Int
    private let process: Process
    private let output: Watched<String>

    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("kube_stub.py").path

    var isTLS: Bool {
        if case .tls = mode { return true }
        return false
    }

    var url: String { "\(isTLS ? "https" : "http")://127.0.0.1:\(port)" }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    func pem(_ name: String) throws -> [UInt8] { Array(try Data(contentsOf: directory.appendingPathComponent(name))) }

    static func start(_ mode: Mode = .plain) async throws -> StubServer {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("kubeclient-stub-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var arguments = [script, "serve"]
        switch mode {
        case .plain: break
        case .tls: arguments += ["--tls", directory.path]
        case .token(let token): arguments += ["--token", token]
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try which("python3"))
        process.arguments = arguments
        let output = Watched("")
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        pipe.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if data.isEmpty {
                handle.readabilityHandler = nil
                return
            }
            output.update { $0 += String(decoding: data, as: UTF8.self) }
        }
        try process.run()
        do {
            try await output.wait(timeout: 30, "PORT line from kube_stub.py") { text in
                text.split(separator: "\n").contains { $0.hasPrefix("PORT ") } || text.contains("Traceback")
            }
        } catch {
            process.terminate()
            throw error
        }
        guard let line = output.value.split(separator: "\n").first(where: { $0.hasPrefix("PORT ") }),
            let port = Int(line.dropFirst(5).trimmingCharacters(in: .whitespaces))
        else {
            process.terminate()
            throw StubError("kube_stub.py did not start: \(output.value)")
        }
        return StubServer(mode: mode, directory: directory, port: port, process: process, output: output)
    }

    private init(mode: Mode, directory: URL, port: Int, process: Process, output: Watched<String>) {
        self.mode = mode
        self.directory = directory
        self.port = port
        self.process = process
        self.output = output
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(at: directory)
    }

    var log: String { output.value }

    private static func which(_ name: String) throws -> String {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
            let candidate = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw StubError("\(name) not found on PATH")
    }

    /// A configuration that the stub accepts (the EC client certificate as in-memory PEM, or the token).
    func configuration() throws -> KubeClientConfiguration {
        switch mode {
        case .plain:
            return KubeClientConfiguration(server: url, connectTimeout: .seconds(5), requestTimeout: .seconds(20))
        case .token(let token):
            return KubeClientConfiguration(server: url, token: token, connectTimeout: .seconds(5),
                                           requestTimeout: .seconds(20))
        case .tls:
            return KubeClientConfiguration(
                server: url, certificateAuthority: .data(try pem("ca.crt")),
                clientCertificate: .data(try pem("client-ec.crt")), clientKey: .data(try pem("client-ec.key")),
                connectTimeout: .seconds(5), requestTimeout: .seconds(20))
        }
    }

    func client() throws -> KubeClient {
        var logger = Logger(label: "kubeclient-test")
        logger.logLevel = .debug
        return try KubeClient(configuration(), logger: logger)
    }

    /// Runs stub control ops (see kube_stub.py).
    @discardableResult
    func control(_ ops: JSONValue) async throws -> JSONValue {
        try await client().requestJSON(.post, "/_stub/control", body: ops)
    }

    func waitFor(_ what: String, count: Int, timeout: Int = 10) async throws {
        try await control(["op": "wait", "what": .string(what), "count": .integer(count), "timeout": .integer(timeout)])
    }

    func state() async throws -> JSONValue {
        try await client().requestJSON(.get, "/_stub/state")
    }

    /// Creates a ConfigMap in `namespace` through the stub's own control path (not through the client under test).
    @discardableResult
    func createConfigMap(_ name: String, namespace: String = "default", labels: JSONValue = [:],
                         data: JSONValue = [:]) async throws -> String {
        let result = try await control([
            "op": "create", "path": .string(GroupVersionResource.configMaps.path(namespace: namespace)),
            "object": ["metadata": ["name": .string(name), "labels": labels], "data": data],
        ])
        return result["results"]?.arrayValue?.first?.stringValue ?? ""
    }
}

extension JSONValue {
    var name: String? { string(at: "metadata.name") }
}

extension ListWatchEvent {
    /// "resync:a,b" / "added:a" / ...: compact, for comparing sequences.
    var summary: String {
        switch self {
        case .resync(let items, _): "resync:" + items.compactMap(\.name).joined(separator: ",")
        case .added(let o): "added:" + (o.name ?? "?")
        case .modified(let o): "modified:" + (o.name ?? "?")
        case .deleted(let o): "deleted:" + (o.name ?? "?")
        }
    }
}
