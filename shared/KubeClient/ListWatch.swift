import EdgeProtocol
import Logging

/// What a ``ListWatch`` delivers.
public enum ListWatchEvent: Sendable, Hashable {
    /// The full set of objects at `resourceVersion`: first, and again after every relist (the watch fell too far
    /// behind, 410). Replace what you hold with these items; diff to find what changed while not watching.
    case resync(items: [JSONValue], resourceVersion: String)
    case added(JSONValue)
    case modified(JSONValue)
    case deleted(JSONValue)
}

/// The informer pattern without a cache: list, then watch from the list's resourceVersion.
///
/// - A watch that ends or drops is resumed from the last resourceVersion seen (events and bookmarks advance it), so
///   every change is delivered once, in order, across reconnects.
/// - When that version has been compacted (410 Gone), it lists again and delivers ``ListWatchEvent/resync(items:resourceVersion:)``.
/// - Failures (connection refused, 5xx, 401...) are retried with capped exponential backoff (with jitter); after
///   `maxConsecutiveFailures` (when set) the sequence throws the last error.
/// - Pull-based: nothing is read from the server faster than the consumer takes events. Iterate from one task;
///   cancelling it ends the sequence (it returns nil) and aborts the open transfer.
public struct ListWatch: AsyncSequence, Sendable {
    public typealias Element = ListWatchEvent

    public struct Options: Sendable {
        public var labelSelector: String?
        public var fieldSelector: String?
        /// Objects per list page.
        public var pageSize: Int
        /// Each watch asks the server to end it after about this long (varied by up to +50% so that many watches do
        /// not reconnect together); it is then resumed at once.
        public var watchTimeout: Duration
        public var initialBackoff: Duration
        public var maxBackoff: Duration
        /// Nil: retry forever.
        public var maxConsecutiveFailures: Int?
        /// Events buffered between the connection and the consumer.
        public var bufferSize: Int

        public init(
            labelSelector: String? = nil, fieldSelector: String? = nil, pageSize: Int = 500,
            watchTimeout: Duration = .seconds(300), initialBackoff: Duration = .milliseconds(100),
            maxBackoff: Duration = .seconds(30), maxConsecutiveFailures: Int? = nil, bufferSize: Int = 128
        ) {
            self.labelSelector = labelSelector
            self.fieldSelector = fieldSelector
            self.pageSize = pageSize
            self.watchTimeout = watchTimeout
            self.initialBackoff = initialBackoff
            self.maxBackoff = maxBackoff
            self.maxConsecutiveFailures = maxConsecutiveFailures
            self.bufferSize = bufferSize
        }
    }

    public let client: KubeClient
    public let resource: GroupVersionResource
    public let namespace: String?
    public let options: Options

    public init(client: KubeClient, resource: GroupVersionResource, namespace: String? = nil,
                options: Options = Options()) {
        self.client = client
        self.resource = resource
        self.namespace = namespace
        self.options = options
    }

    public func makeAsyncIterator() -> Iterator { Iterator(self) }

    public struct Iterator: AsyncIteratorProtocol {
        public typealias Element = ListWatchEvent
        public typealias Failure = any Error

        private enum Phase {
            case list
            case watch
            case watching(AsyncThrowingStream<WatchEvent, any Error>.AsyncIterator, startedAt: ContinuousClock.Instant,
                          delivered: Bool)
        }

        private let spec: ListWatch
        private var phase = Phase.list
        /// The version everything up to which has been delivered.
        private var resourceVersion = ""
        private var failures = 0
        /// The current watch is the first one after a list.
        private var afterList = false
        private var logger: Logger

        init(_ spec: ListWatch) {
            self.spec = spec
            logger = spec.client.logger
            logger[metadataKey: "resource"] = "\(spec.resource)"
            if let namespace = spec.namespace { logger[metadataKey: "namespace"] = "\(namespace)" }
        }

        public mutating func next() async throws -> ListWatchEvent? {
            try await next(isolation: nil)
        }

        public mutating func next(isolation actor: isolated (any Actor)?) async throws -> ListWatchEvent? {
            while !Task.isCancelled {
                switch phase {
                case .list:
                    do {
                        let list = try await spec.client.listAll(
                            spec.resource, namespace: spec.namespace, labelSelector: spec.options.labelSelector,
                            fieldSelector: spec.options.fieldSelector, pageSize: spec.options.pageSize)
                        resourceVersion = list.resourceVersion
                        failures = 0
                        afterList = true
                        phase = .watch
                        return .resync(items: list.items, resourceVersion: list.resourceVersion)
                    } catch {
                        if Task.isCancelled { return nil }
                        guard await sleep(try backOff(after: error, while: "listing")) else { return nil }
                    }

                case .watch:
                    let timeout = Int(spec.options.watchTimeout.components.seconds)
                    let seconds = Swift.max(1, timeout + Int.random(in: 0...Swift.max(0, timeout / 2)))
                    let stream = spec.client.watch(
                        spec.resource, namespace: spec.namespace, resourceVersion: resourceVersion,
                        allowBookmarks: true, labelSelector: spec.options.labelSelector,
                        fieldSelector: spec.options.fieldSelector, timeoutSeconds: seconds,
                        bufferSize: spec.options.bufferSize)
                    phase = .watching(stream.makeAsyncIterator(), startedAt: .now, delivered: false)

                case .watching(var events, let startedAt, let delivered):
                    phase = .watch  // unless an event comes, below
                    let event: WatchEvent?
                    do {
                        event = try await events.next(isolation: actor)
                    } catch let error as KubeError where error.isGone {
                        logger.info("watch version \(resourceVersion) expired; listing again")
                        phase = .list
                        // Straight to the list, unless the watch right after a list was already outdated.
                        if afterList && !delivered {
                            guard await sleep(try backOff(after: error, while: "watching")) else { return nil }
                        }
                        continue
                    } catch {
                        if Task.isCancelled { return nil }
                        afterList = false
                        guard await sleep(try backOff(after: error, while: "watching")) else { return nil }
                        continue
                    }
                    guard let event else {
                        if Task.isCancelled { return nil }
                        // The server closed the watch. Resume at once, unless it keeps closing them straight away.
                        if !delivered && ContinuousClock.now - startedAt < .seconds(1) {
                            guard await sleep(try backOff(after: nil, while: "watching")) else { return nil }
                        }
                        continue
                    }
                    failures = 0
                    afterList = false
                    phase = .watching(events, startedAt: startedAt, delivered: true)
                    if let delivered = accept(event) { return delivered }
                }
            }
            return nil
        }

        /// Advances the resourceVersion; returns what to deliver (nothing for bookmarks and for a replayed event).
        private mutating func accept(_ event: WatchEvent) -> ListWatchEvent? {
            let version = event.resourceVersion ?? ""
            // resourceVersions are opaque, but etcd's (and ours) are increasing integers: an event at or below the
            // version already delivered would be a duplicate from a server that replays.
            if let new = UInt64(version), let old = UInt64(resourceVersion), new <= old {
                if event.type != .bookmark {
                    logger.debug("skipping replayed event", metadata: ["resourceVersion": "\(version)"])
                }
                return nil
            }
            if !version.isEmpty { resourceVersion = version }
            switch event.type {
            case .added: return .added(event.object)
            case .modified: return .modified(event.object)
            case .deleted: return .deleted(event.object)
            case .bookmark: return nil
            }
        }

        /// The pause before the next attempt; throws once `maxConsecutiveFailures` is passed.
        private mutating func backOff(after error: (any Error)?, while doing: String) throws -> Duration {
            failures += 1
            if let error, let limit = spec.options.maxConsecutiveFailures, failures > limit { throw error }
            let exponent = Swift.min(failures - 1, 20)
            var delay = spec.options.initialBackoff * (1 << exponent)
            if delay > spec.options.maxBackoff { delay = spec.options.maxBackoff }
            delay = delay * Double.random(in: 0.5...1.0)
            if let error {
                let message: Logger.Message = "\(doing) failed (attempt \(failures)): \(error); retrying"
                if failures == 1 || failures % 10 == 0 {
                    logger.warning(message, metadata: ["retry_in": "\(delay)"])
                } else {
                    logger.debug(message, metadata: ["retry_in": "\(delay)"])
                }
            }
            return delay
        }
    }
}

/// False when cancelled.
private func sleep(_ delay: Duration) async -> Bool {
    do {
        try await Task.sleep(for: delay)
        return true
    } catch {
        return false
    }
}
