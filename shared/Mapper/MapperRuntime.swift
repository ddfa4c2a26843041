import Bus
import EdgeProtocol
import Logging
import ServiceKit
import Synchronization

/// The mapper framework: keeps one `DeviceWorker` per device of its protocol, learnt from the edge bus
/// (`ke/devices/{id}`) and/or a local manifest file, and routes twin deltas to them. Devices added, changed and
/// removed take effect at once; a changed device's new worker starts after the old one has stopped.
public final class MapperRuntime: Sendable {
    /// Where a device spec came from: a device is only removed by the source that added it.
    public enum Source: String, Sendable {
        case bus
        case file
    }

    public struct Settings: Sendable {
        public var parser: SpecParser
        public var backoff: BackoffPolicy

        public init(parser: SpecParser = SpecParser(), backoff: BackoffPolicy = BackoffPolicy()) {
            self.parser = parser
            self.backoff = backoff
        }
    }

    private struct Entry {
        var source: Source
        var spec: DeviceSpec
        var worker: DeviceWorker?
    }

    public let plugin: any MapperPlugin
    let sink: any MapperSink
    let logger: Logger
    public let settings: Settings
    private let entries = Mutex<[String: Entry]>([:])

    public init(plugin: any MapperPlugin, sink: any MapperSink, logger: Logger, settings: Settings = Settings()) {
        self.plugin = plugin
        self.sink = sink
        self.logger = logger
        self.settings = settings
    }

    /// The topics the runtime needs on the edge bus.
    public static let subscriptions = [Topics.deviceSpecsAll, Topics.Device.anyTwinUpdateDelta]

    /// Ids of the devices the runtime runs (or holds as invalid).
    public var deviceIDs: [String] { entries.withLock { Array($0.keys).sorted() } }

    /// The worker of a device (nil when unknown or its config is unusable).
    public func worker(_ id: String) -> DeviceWorker? { entries.withLock { $0[id]?.worker } }

    // MARK: bus messages

    /// Handles a message on one of `subscriptions`. Throws `SpecError` for a payload that cannot be used.
    public func handle(_ message: BusMessage) async throws(SpecError) {
        let parts = message.topic.split(separator: "/", omittingEmptySubsequences: false)
        if let id = Topics.deviceID(ofSpecTopic: message.topic) {
            try await handleSpec(id: id, payload: message.payload)
        } else if message.topic.hasPrefix(Topics.Device.prefix), parts.count == 7, parts[5] == "update",
                  parts[6] == "delta" {
            let id = String(parts[3])
            let writes = try TwinMessages.desiredValues(inDelta: message.payload)
            guard let worker = worker(id) else {
                logger.debug("twin delta for a device this mapper does not run", metadata: ["device": "\(id)"])
                return
            }
            logger.debug("twin delta", metadata: ["device": "\(id)", "writes": "\(writes.count)"])
            worker.enqueue(writes)
        }
    }

    private func handleSpec(id: String, payload: [UInt8]) async throws(SpecError) {
        if payload.isEmpty {
            remove(id: id, source: .bus)
            return
        }
        let root: JSONValue
        do {
            root = try JSONValue(parsing: payload)
        } catch {
            fail(id: id, source: .bus, SpecError("device \(id): spec on the bus is not JSON: \(error)"))
            return
        }
        guard let device = root["device"] else {
            fail(id: id, source: .bus, SpecError("device \(id): spec on the bus has no 'device'"))
            return
        }
        do throws(SpecError) {
            let spec = try settings.parser.device(device, model: root["model"])
            guard spec.id == id else {
                throw SpecError("device \(id): spec on the bus names device '\(spec.id)'")
            }
            apply(spec, source: .bus)
        } catch {
            fail(id: id, source: .bus, error)
        }
    }

    // MARK: device set

    /// Adds or changes a device. Devices of another protocol are ignored (and removed if this source had added
    /// them under that id before).
    public func apply(_ spec: DeviceSpec, source: Source) {
        guard spec.protocolName.lowercased() == plugin.protocolName.lowercased() else {
            logger.debug("device of another protocol ignored", metadata: [
                "device": "\(spec.id)", "protocol": "\(spec.protocolName)",
            ])
            remove(id: spec.id, source: source)
            return
        }
        let unchanged = entries.withLock { $0[spec.id].map { $0.spec == spec && $0.source == source } ?? false }
        if unchanged { return }
        let prepared: PreparedDevice
        do {
            prepared = try plugin.prepare(spec)
        } catch {
            fail(id: spec.id, source: source, error, spec: spec)
            return
        }
        if prepared.properties.isEmpty, !(spec.problems + prepared.problems).isEmpty {
            let reasons = (spec.problems + prepared.problems).joined(separator: "; ")
            fail(id: spec.id, source: source, SpecError("no usable property: \(reasons)"), spec: spec)
            return
        }
        for problem in spec.problems + prepared.problems {
            logger.error("device property not usable", metadata: ["device": "\(spec.id)", "reason": "\(problem)"])
        }
        let worker = DeviceWorker(spec: spec, prepared: prepared, sink: sink, logger: logger,
                                  backoff: settings.backoff)
        let previous = entries.withLock { entries -> DeviceWorker? in
            let old = entries[spec.id]?.worker
            entries[spec.id] = Entry(source: source, spec: spec, worker: worker)
            return old
        }
        previous?.cancel()
        logger.info(previous == nil ? "device added" : "device changed", metadata: [
            "device": "\(spec.id)", "source": "\(source.rawValue)", "properties": "\(prepared.properties.count)",
        ])
        worker.start(after: previous)
    }

    /// A device whose spec cannot be used: logged as an error naming it, its state published as `unknown`, and
    /// any worker it had stopped. Other devices are not affected.
    public func fail(id: String, source: Source, _ error: SpecError, spec: DeviceSpec? = nil) {
        logger.error("device config not usable", metadata: ["device": "\(id)", "reason": "\(error.description)"])
        let placeholder = spec ?? DeviceSpec(id: id, protocolName: plugin.protocolName, properties: [])
        let previous = entries.withLock { entries -> DeviceWorker? in
            let old = entries[id]?.worker
            entries[id] = Entry(source: source, spec: placeholder, worker: nil)
            return old
        }
        previous?.cancel()
        let sink = self.sink
        Task {
            await previous?.stopped()
            await sink.publish(Topics.Device.stateUpdate(id), TwinMessages.stateUpdate(.unknown))
        }
    }

    public func remove(id: String, source: Source) {
        let removed = entries.withLock { entries -> Entry? in
            guard let entry = entries[id], entry.source == source else { return nil }
            return entries.removeValue(forKey: id)
        }
        guard let removed else { return }
        removed.worker?.cancel()
        logger.info("device removed", metadata: ["device": "\(id)", "source": "\(source.rawValue)"])
    }

    /// Makes the file's devices exactly `results`: adds and changes them, removes file devices no longer listed.
    public func replaceFileDevices(_ results: [(name: String, result: Result<DeviceSpec, SpecError>)]) {
        let listed = Set(results.map(\.name))
        let stale = entries.withLock { entries in
            entries.filter { $0.value.source == .file && !listed.contains($0.key) }.map(\.key)
        }
        for id in stale { remove(id: id, source: .file) }
        for (name, result) in results {
            switch result {
            case .success(let spec): apply(spec, source: .file)
            case .failure(let error): fail(id: name, source: .file, error)
            }
        }
    }

    /// Stops every worker and waits for them (for shutdown).
    public func stopAll() async {
        let workers = entries.withLock { entries -> [DeviceWorker] in
            defer { entries.removeAll() }
            return entries.values.compactMap(\.worker)
        }
        for worker in workers { worker.cancel() }
        for worker in workers { await worker.stopped() }
    }
}

/// Publishes on the bus at QoS 1; a failure (only possible while the client is closing) is logged.
public struct BusSink: MapperSink {
    let bus: BusClient
    let logger: Logger

    public init(bus: BusClient, logger: Logger) {
        self.bus = bus
        self.logger = logger
    }

    public func publish(_ topic: String, _ payload: [UInt8]) async {
        do {
            try await bus.publish(topic, payload)
        } catch {
            logger.warning("publish failed", metadata: ["topic": "\(topic)", "reason": "\(error)"])
        }
    }
}

extension MapperRuntime {
    /// A mapper service's whole life: devices from `--devices` (a file that cannot be read at start is a startup
    /// error) and from the edge bus, until the service group shuts down; then every worker stops.
    public static func serve(_ context: ServiceContext, plugin: any MapperPlugin, settings: Settings,
                             devicesFile: String?, fileCheckInterval: Duration) async throws {
        let runtime = MapperRuntime(plugin: plugin, sink: BusSink(bus: context.bus, logger: context.logger),
                                    logger: context.logger, settings: settings)
        var file: ManifestFile?
        if let devicesFile {
            let manifest = ManifestFile(path: devicesFile, interval: fileCheckInterval)
            do {
                runtime.replaceFileDevices(try manifest.load(parser: settings.parser))
            } catch {
                throw ConfigError(error.description)
            }
            file = manifest
        }
        try await context.bus.subscribe(subscriptions)
        context.logger.info("serving", metadata: ["devices_file": "\(devicesFile ?? "none")"])
        let watcher = Task { [file] in
            guard let file else { return }
            try? await file.run(into: runtime, logger: context.logger)
        }
        await context.handleMessages { message in
            try await runtime.handle(message)
        }
        watcher.cancel()
        await runtime.stopAll()
    }
}
