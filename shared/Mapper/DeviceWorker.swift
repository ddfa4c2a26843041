import EdgeProtocol
import Logging
import Synchronization

/// The driver reported its link broken outside a read or write.
struct DeviceLinkLost: Error, CustomStringConvertible {
    var reason: String
    var description: String { reason }
}

/// Runs one device: connects (with capped exponential backoff), reads each property on its collect cycle and
/// publishes the values on `twin/update`, applies desired values from twin deltas (write, then read back and
/// publish), and reports `online`/`offline` on `state/update` when the state changes. One task per device, and the
/// driver's blocking I/O happens off the shared pool, so a slow or dead device never delays another.
public final class DeviceWorker: Sendable {
    public let spec: DeviceSpec
    let driver: any DeviceDriver
    let properties: [PropertySpec]
    let sink: any MapperSink
    let logger: Logger
    let backoff: BackoffPolicy
    let mailbox = Mailbox()
    private let task = Mutex<(task: Task<Void, Never>?, cancelled: Bool)>((nil, false))
    private let observedState = Mutex<DeviceState?>(nil)

    init(spec: DeviceSpec, prepared: PreparedDevice, sink: any MapperSink, logger: Logger, backoff: BackoffPolicy) {
        self.spec = spec
        self.driver = prepared.driver
        self.properties = prepared.properties
        self.sink = sink
        var logger = logger
        logger[metadataKey: "device"] = "\(spec.id)"
        self.logger = logger
        self.backoff = backoff
    }

    /// The state last published (nil before the first).
    public var state: DeviceState? { observedState.withLock { $0 } }

    /// Starts the worker once `previous` (the worker this one replaces, if any) has stopped.
    func start(after previous: DeviceWorker?) {
        task.withLock { t in
            guard t.task == nil, !t.cancelled else { return }
            t.task = Task {
                if let previous { await previous.stopped() }
                guard !Task.isCancelled else { return }
                await self.run()
            }
        }
    }

    /// Asks the worker to stop; `stopped()` waits for it (at most one driver timeout).
    func cancel() {
        let running = task.withLock { t -> Task<Void, Never>? in
            t.cancelled = true
            return t.task
        }
        running?.cancel()
    }

    func stopped() async {
        cancel()
        await task.withLock { $0.task }?.value
    }

    func enqueue(_ writes: [(name: String, value: String)]) {
        mailbox.post(writes)
    }

    // MARK: the loop

    private func run() async {
        var failures = 0
        var connected = false
        var lastConnectError: String?
        var propertyErrors: [String: String] = [:]
        var pendingWrites: [(name: String, value: String)] = []
        let clock = ContinuousClock()
        var nextDue = [ContinuousClock.Instant](repeating: clock.now, count: properties.count)
        /// Properties the driver pushes: not polled while connected.
        var pushed = Set<String>()
        let far = Duration.seconds(86_400 * 365)

        while !Task.isCancelled {
            if !connected {
                do {
                    try await driver.connect()
                    _ = mailbox.takeLinkLost()  // a failure of the previous connection
                    do {
                        pushed = try await subscribe()
                    } catch {
                        await driver.disconnect()
                        throw error
                    }
                    connected = true
                    failures = 0
                    lastConnectError = nil
                    logger.info("connected to device")
                    nextDue = properties.map { pushed.contains($0.name) ? clock.now + far : clock.now }
                } catch {
                    if Task.isCancelled { break }
                    failures += 1
                    let reason = "\(error)"
                    if reason != lastConnectError {
                        logger.error("cannot connect to device", metadata: ["reason": "\(reason)"])
                        lastConnectError = reason
                    }
                    await publishState(.offline)
                    pendingWrites = merge(pendingWrites, mailbox.take())
                    await mailbox.wait(until: clock.now + backoff.delay(afterFailures: failures))
                    continue
                }
            }

            // Desired values first: they are what someone is waiting for.
            pendingWrites = merge(pendingWrites, mailbox.take())
            var linkError: (any Error)? = mailbox.takeLinkLost().map { DeviceLinkLost(reason: $0) }
            var readings: [TwinReading] = []
            while !pendingWrites.isEmpty, linkError == nil {
                let write = pendingWrites.removeFirst()
                do {
                    if let reading = try await apply(write) { readings.append(reading) }
                } catch {
                    linkError = error
                    pendingWrites.insert(write, at: 0)
                }
            }

            // Then every property that is due.
            let now = clock.now
            if linkError == nil {
                for (index, property) in properties.enumerated() where nextDue[index] <= now {
                    if Task.isCancelled { break }
                    do {
                        let reading = try await driver.read(property)
                        readings.append(reading)
                        if propertyErrors.removeValue(forKey: property.name) != nil {
                            logger.info("property readable again", metadata: ["property": "\(property.name)"])
                        }
                    } catch let failure as PropertyFailure {
                        if propertyErrors[property.name] != failure.description {
                            propertyErrors[property.name] = failure.description
                            logger.error("cannot read property", metadata: [
                                "property": "\(property.name)", "reason": "\(failure.description)",
                            ])
                        }
                    } catch {
                        linkError = error
                        break
                    }
                    // The next read is one cycle on, or now when the device is slower than its cycle.
                    nextDue[index] = max(nextDue[index] + property.collectCycle, now)
                }
            }
            if !readings.isEmpty {
                await sink.publish(Topics.Device.twinUpdate(spec.id), TwinMessages.twinUpdate(readings))
            }
            if let linkError {
                if Task.isCancelled { break }
                logger.error("lost the device", metadata: ["reason": "\(linkError)"])
                lastConnectError = "\(linkError)"
                await driver.disconnect()
                connected = false
                failures = 1
                await publishState(.offline)
                await mailbox.wait(until: clock.now + backoff.delay(afterFailures: failures))
                continue
            }
            if state != .online { await publishState(.online) }
            guard let due = nextDue.min() else {
                await mailbox.wait(until: clock.now + .seconds(3600))
                continue
            }
            await mailbox.wait(until: due)
        }
        if connected { await driver.disconnect() }
    }

    /// Hands the driver the properties it may push; the names it took. A refusal that is not the link is logged and
    /// the properties are polled instead.
    private func subscribe() async throws -> Set<String> {
        let sink = self.sink
        let id = spec.id
        let mailbox = self.mailbox
        do {
            let names = try await driver.subscribe(properties, deliver: { readings in
                guard !readings.isEmpty else { return }
                await sink.publish(Topics.Device.twinUpdate(id), TwinMessages.twinUpdate(readings))
            }, linkLost: { reason in mailbox.postLinkLost(reason) })
            if !names.isEmpty { logger.info("device pushes changes", metadata: ["properties": "\(names.sorted())"]) }
            return names
        } catch let failure as PropertyFailure {
            logger.error("cannot subscribe; polling instead", metadata: ["reason": "\(failure.description)"])
            return []
        }
    }

    /// Writes one desired value and reads it back. Returns the read-back value, or nil when the write was refused
    /// (logged); throws when the link broke.
    private func apply(_ write: (name: String, value: String)) async throws -> TwinReading? {
        guard let property = properties.first(where: { $0.name == write.name }) else {
            logger.debug("delta for a property this mapper does not visit", metadata: ["property": "\(write.name)"])
            return nil
        }
        guard property.accessMode == .readWrite else {
            logger.error("desired value for a read-only property not written", metadata: [
                "property": "\(write.name)", "value": "\(write.value)",
            ])
            return nil
        }
        do {
            try await driver.write(property, value: write.value)
            let reading = try await driver.read(property)
            logger.info("wrote desired value", metadata: [
                "property": "\(write.name)", "desired": "\(write.value)", "read_back": "\(reading.value)",
            ])
            return reading
        } catch let failure as PropertyFailure {
            logger.error("cannot write desired value", metadata: [
                "property": "\(write.name)", "value": "\(write.value)", "reason": "\(failure.description)",
            ])
            return nil
        }
    }

    /// The latest desired value per property wins; order of first arrival is kept.
    private func merge(_ pending: [(name: String, value: String)], _ new: [(name: String, value: String)])
        -> [(name: String, value: String)]
    {
        var out = pending
        for write in new {
            if let index = out.firstIndex(where: { $0.name == write.name }) {
                out[index].value = write.value
            } else {
                out.append(write)
            }
        }
        return out
    }

    func publishState(_ new: DeviceState) async {
        let changed = observedState.withLock { s -> Bool in
            defer { s = new }
            return s != new
        }
        guard changed else { return }
        if new == .online { logger.info("device online") } else { logger.warning("device \(new.rawValue)") }
        await sink.publish(Topics.Device.stateUpdate(spec.id), TwinMessages.stateUpdate(new))
    }
}
