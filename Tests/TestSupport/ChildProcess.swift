import Foundation

/// A child process whose standard output and error are collected line by line, so that a test can await a line
/// (an event) instead of sleeping.
public final class ChildProcess: @unchecked Sendable {
    // @unchecked: `process` is configured before it starts and only read afterwards; output is `Watched`.
    public let name: String
    private let process = Process()
    private let output = Watched(Output())
    private let exited = Watched<Int32?>(nil)

    struct Output: Sendable, CustomStringConvertible {
        var lines: [String] = []
        var partial = ""
        var description: String { (lines + [partial]).joined(separator: "\n") }
    }

    /// `stdin`: give the child a pipe for standard input, written with `send` (a peer's control commands).
    public init(_ executable: String, _ arguments: [String], environment: [String: String]? = nil, stdin: Bool = false) throws {
        name = URL(fileURLWithPath: executable).lastPathComponent
        if stdin {
            let input = Pipe()
            process.standardInput = input
            self.input = input.fileHandleForWriting
        } else {
            self.input = nil
        }
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        // A plain pipe read by a thread of its own, closed at EOF: the test process runs hundreds of children, and
        // fds kept open past their exit push libmosquitto's test clients past FD_SETSIZE (its select loop then
        // answers MOSQ_ERR_INVAL and they never connect).
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw TestSupportError("pipe() failed") }
        let (readFD, writeFD) = (fds[0], fds[1])
        _ = fcntl(readFD, F_SETFD, FD_CLOEXEC)
        _ = fcntl(writeFD, F_SETFD, FD_CLOEXEC)  // other children must not hold it open
        let writer = FileHandle(fileDescriptor: writeFD, closeOnDealloc: true)
        process.standardOutput = writer
        process.standardError = writer
        let output = self.output
        let reader = Thread {
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = read(readFD, &buffer, buffer.count)
                if count < 0 && errno == EINTR { continue }
                if count <= 0 { break }
                let text = String(decoding: buffer[0..<count], as: UTF8.self)
                output.update { output in
                    output.partial += text
                    while let newline = output.partial.firstIndex(of: "\n") {
                        output.lines.append(String(output.partial[..<newline]))
                        output.partial = String(output.partial[output.partial.index(after: newline)...])
                    }
                }
            }
            close(readFD)
        }
        self.writer = writer
        self.reader = reader
        let exited = self.exited
        process.terminationHandler = { process in
            let status = process.terminationStatus
            exited.update { $0 = status }
        }
        try Self.withSignalsUnblocked { try process.run() }
        // The child has its copy; ours goes, so that the reader sees EOF when the child exits.
        try? writer.close()
        reader.start()
    }

    private let writer: FileHandle
    private let reader: Thread
    private let input: FileHandle?

    /// Writes a line to the child's standard input (started with `stdin: true`).
    public func send(_ line: String) throws {
        guard let input else { throw TestSupportError("\(name) was started without a stdin pipe") }
        try input.write(contentsOf: Data((line + "\n").utf8))
    }

    /// The test runner blocks SIGTERM, SIGINT and others, and a spawned child inherits the calling thread's mask, so
    /// a broker or service started from a test would ignore SIGTERM. Unblock them around the spawn.
    static func withSignalsUnblocked(_ body: () throws -> Void) rethrows {
        var unblock = sigset_t()
        var previous = sigset_t()
        sigemptyset(&unblock)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2] { sigaddset(&unblock, signal) }
        pthread_sigmask(SIG_UNBLOCK, &unblock, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        try body()
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    public var pid: Int32 { process.processIdentifier }
    public var lines: [String] { output.value.lines }
    public var allOutput: String { output.value.description }

    /// Waits until a line containing `text` has been printed.
    public func waitForLine(containing text: String, timeout: Double = 10) async throws {
        try await output.wait(timeout: timeout, "\(name) line containing '\(text)'") { output in
            output.lines.contains { $0.contains(text) }
        }
    }

    /// Waits until the printed lines satisfy `condition`.
    public func waitForLines(timeout: Double = 10, _ what: String, until condition: @escaping @Sendable ([String]) -> Bool) async throws {
        try await output.wait(timeout: timeout, "\(name): \(what)") { output in condition(output.lines) }
    }

    public func signal(_ signal: Int32) {
        kill(process.processIdentifier, signal)
    }

    /// Waits for the process to exit; returns its exit status, or nil on timeout.
    public func waitForExit(timeout: Double) async -> Int32? {
        try? await exited.wait(timeout: timeout, "exit of \(name)") { $0 != nil }
        return exited.value
    }
}
