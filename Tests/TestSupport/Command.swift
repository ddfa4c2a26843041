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
        // Close-on-exec: children started at the same moment by other tests must not inherit these ends (they would
        // hold the pipes, and our descriptors, open for their whole life). The child gets its own via dup2.
        for handle in [out.fileHandleForReading, out.fileHandleForWriting, err.fileHandleForReading,
                       err.fileHandleForWriting, inPipe.fileHandleForReading, inPipe.fileHandleForWriting] {
            _ = fcntl(handle.fileDescriptor, F_SETFD, FD_CLOEXEC)
        }
        process.standardOutput = out
        process.standardError = err
        process.standardInput = inPipe
        let state = Watched(State())
        // Blocking reads on threads of their own (dispatch readability handlers on pipes that close crash here).
        let outReader = out.fileHandleForReading, errReader = err.fileHandleForReading
        Thread.detachNewThread {
            let data = outReader.readDataToEndOfFile()
            try? outReader.close()  // at EOF: a run of many commands must not pile up descriptors
            state.update {
                $0.stdout = data
                $0.stdoutClosed = true
            }
        }
        Thread.detachNewThread {
            let data = errReader.readDataToEndOfFile()
            try? errReader.close()
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
        // The child has its copies; the parent's would keep descriptors (and pipes) alive.
        try? out.fileHandleForWriting.close()
        try? err.fileHandleForWriting.close()
        try? inPipe.fileHandleForReading.close()
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
