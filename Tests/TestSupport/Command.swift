import Foundation

/// A short-lived command (kubectl, python): runs to completion with its output collected; waiting for it never
/// blocks a thread of the cooperative pool.
public enum Command {
    public struct Result: Sendable, CustomStringConvertible {
        public let status: Int32
        public let stdout: String
        public let stderr: String
        public var description: String { "exit \(status)\nstdout:\n\(stdout)\nstderr:\n\(stderr)" }
    }

    private struct State: Sendable {
        var stdout = Data()
        var stderr = Data()
        var stdoutClosed = false
        var stderrClosed = false
        var status: Int32?
        var done: Bool { stdoutClosed && stderrClosed && status != nil }
    }

    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil, input: String? = nil,
        timeout: Double = 60
    ) async throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        let out = Pipe(), err = Pipe(), inPipe = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = inPipe
        let state = Watched(State())
        // Blocking reads on threads of their own (dispatch readability handlers on pipes that close crash here).
        let outReader = out.fileHandleForReading, errReader = err.fileHandleForReading
        Thread.detachNewThread {
            let data = outReader.readDataToEndOfFile()
            state.update {
                $0.stdout = data
                $0.stdoutClosed = true
            }
        }
        Thread.detachNewThread {
            let data = errReader.readDataToEndOfFile()
            state.update {
                $0.stderr = data
                $0.stderrClosed = true
            }
        }
        process.terminationHandler = { process in
            let status = process.terminationStatus
            state.update { $0.status = status }
        }
        try process.run()
        if let input { inPipe.fileHandleForWriting.write(Data(input.utf8)) }
        try? inPipe.fileHandleForWriting.close()
        do {
            try await state.wait(timeout: timeout, "\(executable) \(arguments.joined(separator: " "))") { $0.done }
        } catch {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            throw error
        }
        let final = state.value
        return Result(status: final.status ?? -1, stdout: String(decoding: final.stdout, as: UTF8.self),
                      stderr: String(decoding: final.stderr, as: UTF8.self))
    }
}
