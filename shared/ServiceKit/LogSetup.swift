import Logging
import Synchronization

enum LogSetup {
    private static let done = Mutex(false)

    /// Logs to standard error, one line per event, labelled with the service name. Safe to call more than once
    /// (tests run several services in one process); only the first call installs the handler.
    static func bootstrap(level: Logger.Level) {
        let first = done.withLock { done -> Bool in
            defer { done = true }
            return !done
        }
        guard first else { return }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}
