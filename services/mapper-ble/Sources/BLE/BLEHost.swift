import FDStream
import Synchronization

/// A peripheral to find: by address, or by the local name it advertises.
public enum BLETarget: Equatable, Sendable, CustomStringConvertible {
    case address(BDAddress)
    case name(String)

    public var description: String {
        switch self {
        case .address(let address): address.description
        case .name(let name): "\"\(name)\""
        }
    }
}

public struct BLEHostSettings: Sendable {
    /// How long the controller may take to answer a command.
    public var commandTimeout: Duration
    /// How long to scan for a peripheral's advertisement before giving up (the worker retries with back-off).
    public var scanTimeout: Duration
    /// How long a connection may take to be established once the peripheral was seen.
    public var connectTimeout: Duration
    /// An ATT request's timeout; when it passes the connection is dropped (ATT allows no further request on it).
    public var requestTimeout: Duration
    /// The ATT MTU offered to peripherals.
    public var attMTU: UInt16

    public init(commandTimeout: Duration = .seconds(3), scanTimeout: Duration = .seconds(10),
                connectTimeout: Duration = .seconds(10), requestTimeout: Duration = .seconds(5), attMTU: UInt16 = 247) {
        self.commandTimeout = commandTimeout
        self.scanTimeout = scanTimeout
        self.connectTimeout = connectTimeout
        self.requestTimeout = requestTimeout
        self.attMTU = attMTU
    }
}

/// One at a time, in arrival order, across suspension points.
final class AsyncGate: Sendable {
    private let state = Mutex<(busy: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func acquire() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let enter = state.withLock { s -> Bool in
                if !s.busy {
                    s.busy = true
                    return true
                }
                s.waiters.append(continuation)
                return false
            }
            if enter { continuation.resume() }
        }
    }

    func release() {
        let next = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if s.waiters.isEmpty {
                s.busy = false
                return nil
            }
            return s.waiters.removeFirst()
        }
        next?.resume()
    }
}

/// A result that can be given before anyone waits for it, once (later results are ignored).
final class Promise<Value: Sendable>: Sendable {
    private let state = Mutex<(result: Result<Value, any Error>?, waiter: CheckedContinuation<Value, any Error>?)>((nil, nil))

    func resolve(_ result: Result<Value, any Error>) {
        let waiter = state.withLock { s -> CheckedContinuation<Value, any Error>? in
            guard s.result == nil else { return nil }
            s.result = result
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume(with: result)
    }

    var value: Value {
        get async throws {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Value, any Error>) in
                let ready = state.withLock { s -> Result<Value, any Error>? in
                    if let result = s.result { return result }
                    s.waiter = continuation
                    return nil
                }
                if let ready { continuation.resume(with: ready) }
            }
        }
    }
}

/// A BLE host (the central role, LE only) over one controller: HCI commands one at a time, scanning, LE
/// connections, ACL flow control (LE buffer size, Number of Completed Packets), L2CAP reassembly and the ATT bearer
/// of each connection. Shared by every device on that controller. When the transport breaks, every connection fails
/// and the next `connect` opens and resets the controller again.
public final class BLEHost: Sendable {
    public let transport: HCITransportSpec
    let settings: BLEHostSettings
    /// Where the host reports what it sees: `problem` is true for malformed input and lost links.
    let log: @Sendable (_ problem: Bool, _ message: String) -> Void

    struct Link {
        var address: BDAddress
        var pending: (id: Int, response: UInt8, continuation: CheckedContinuation<ATTServerPDU, any Error>)?
        var onNotification: (@Sendable (UInt16, [UInt8]) -> Void)?
        var onDisconnect: [@Sendable (String) -> Void] = []
        var mtu: UInt16 = 23
    }

    struct State {
        var stream: FDStream?
        var generation = 0
        var deframer = H4Deframer()
        var reassembler = L2CAPReassembler()
        var command: (id: Int, opcode: UInt16, continuation: CheckedContinuation<CommandOutcome, any Error>)?
        var aclLength = 27
        var aclCredits = 1
        var aclQueue: [H4Packet] = []
        var inFlight: [UInt16: Int] = [:]
        var links: [UInt16: Link] = [:]
        var scan: (target: BLETarget, promise: Promise<AdvertisingReport>)?
        var connecting: Promise<(UInt8, UInt16)>?
        /// Names seen in advertising or scan-response data, by address (a name may come only in the scan response).
        var names: [BDAddress: String] = [:]
        var nextID = 0

        mutating func id() -> Int {
            nextID += 1
            return nextID
        }
    }

    enum CommandOutcome {
        case complete([UInt8])
        case status(UInt8)
    }

    private let state = Mutex(State())
    /// Start-up and connection establishment: one at a time (a controller scans and connects for one initiator).
    private let establishing = AsyncGate()
    private let commands = AsyncGate()

    public init(transport: HCITransportSpec, settings: BLEHostSettings = BLEHostSettings(),
                log: @escaping @Sendable (_ problem: Bool, _ message: String) -> Void = { _, _ in }) {
        self.transport = transport
        self.settings = settings
        self.log = log
    }

    /// Closes the transport; every connection fails.
    public func close() {
        fail("the host is closing", generation: nil)
    }

    // MARK: connections

    /// Finds the peripheral by scanning and connects to it.
    public func connect(_ target: BLETarget) async throws -> BLEConnection {
        await establishing.acquire()
        defer { establishing.release() }
        let generation = try await start()
        let report = try await scan(for: target, generation: generation)
        let (status, handle) = try await createConnection(report, generation: generation)
        guard status == 0 else {
            throw BLEError("connection to \(target) at \(report.address) failed: \(HCIStatus.name(status))", link: true)
        }
        return BLEConnection(host: self, handle: handle, address: report.address, generation: generation)
    }

    /// Opens and resets the controller if it is not running; returns the transport's generation.
    private func start() async throws -> Int {
        if let generation = state.withLock({ s in s.stream != nil ? s.generation : nil }) { return generation }
        let stream = try await HCIStream.open(transport, timeout: settings.commandTimeout)
        let generation = state.withLock { s -> Int in
            s.generation += 1
            s.stream = stream
            s.deframer = H4Deframer()
            s.reassembler = L2CAPReassembler(maxFrame: Int(settings.attMTU) + 4)
            s.aclQueue = []
            s.inFlight = [:]
            s.links = [:]
            return s.generation
        }
        stream.startReading(onBytes: { [self] bytes in received(bytes, generation: generation) },
                            onClose: { [self] reason in fail("transport \(transport): \(reason)", generation: generation) })
        do {
            _ = try await command(HCICommand.reset, [], generation: generation)
            _ = try await command(HCICommand.setEventMask, HCICommand.setEventMaskParameters(), generation: generation)
            _ = try await command(HCICommand.leSetEventMask, HCICommand.leSetEventMaskParameters(), generation: generation)
            var r = ByteReader(try await command(HCICommand.leReadBufferSize, [], generation: generation))
            _ = try r.u8("status")
            var length = Int(try r.u16("LE ACL data packet length"))
            var count = Int(try r.u8("total LE ACL data packets"))
            if length == 0 || count == 0 {
                // Shared buffers: the BR/EDR ones serve LE too.
                var shared = ByteReader(try await command(HCICommand.readBufferSize, [], generation: generation))
                _ = try shared.u8("status")
                length = Int(try shared.u16("ACL data packet length"))
                _ = try shared.u8("SCO length")
                count = Int(try shared.u16("total ACL data packets"))
            }
            guard length > 0, count > 0 else { throw BLEError("the controller reports no ACL buffers", link: true) }
            state.withLock { s in
                s.aclLength = length
                s.aclCredits = count
            }
            log(false, "controller on \(transport) is ready (ACL \(count) × \(length) bytes)")
            return generation
        } catch {
            fail("controller start-up on \(transport) failed: \(error)", generation: generation)
            throw error
        }
    }

    /// Sends a command and waits for its Command Complete (its return parameters, status first) or Command Status
    /// (nonzero: thrown). A controller that does not answer in time is treated as gone.
    @discardableResult
    func command(_ opcode: UInt16, _ parameters: [UInt8], generation: Int) async throws -> [UInt8] {
        await commands.acquire()
        defer { commands.release() }
        let id = state.withLock { $0.id() }
        let timeout = Task { [settings] in
            try await Task.sleep(for: settings.commandTimeout)
            self.fail("the controller did not answer command 0x\(String(opcode, radix: 16)) within \(settings.commandTimeout)",
                      generation: generation)
        }
        defer { timeout.cancel() }
        let outcome = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<CommandOutcome, any Error>) in
            let error = state.withLock { s -> BLEError? in
                guard s.generation == generation, let stream = s.stream else {
                    return BLEError("the controller transport is closed", link: true)
                }
                s.command = (id, opcode, continuation)
                do {
                    try stream.send(H4Packet.command(opcode: opcode, parameters: parameters).h4)
                    return nil
                } catch {
                    s.command = nil
                    return BLEError("controller transport: \(error)", link: true)
                }
            }
            if let error { continuation.resume(throwing: error) }
        }
        switch outcome {
        case .complete(let parameters):
            if let status = parameters.first, status != 0 {
                throw BLEError("command 0x\(String(opcode, radix: 16)) failed: \(HCIStatus.name(status))", link: false)
            }
            return parameters
        case .status(let status):
            guard status == 0 else {
                throw BLEError("command 0x\(String(opcode, radix: 16)) failed: \(HCIStatus.name(status))", link: false)
            }
            return []
        }
    }

    private func scan(for target: BLETarget, generation: Int) async throws -> AdvertisingReport {
        let found = Promise<AdvertisingReport>()
        state.withLock { s in s.scan = (target, found) }
        defer { state.withLock { s in if s.scan?.promise === found { s.scan = nil } } }
        // Scanning may be left on by an earlier attempt that was cut short; turn it off first (an error is fine).
        _ = try? await command(HCICommand.leSetScanEnable, HCICommand.leSetScanEnable(false), generation: generation)
        try await command(HCICommand.leSetScanParameters, HCICommand.leSetScanParameters(), generation: generation)
        try await command(HCICommand.leSetScanEnable, HCICommand.leSetScanEnable(true), generation: generation)
        let timeout = Task { [settings] in
            try await Task.sleep(for: settings.scanTimeout)
            found.resolve(.failure(BLEError("no advertisement from \(target) within \(settings.scanTimeout)", link: true)))
        }
        let result: Result<AdvertisingReport, any Error>
        do {
            result = .success(try await found.value)
        } catch {
            result = .failure(error)
        }
        timeout.cancel()
        _ = try? await command(HCICommand.leSetScanEnable, HCICommand.leSetScanEnable(false), generation: generation)
        return try result.get()
    }

    private func createConnection(_ report: AdvertisingReport, generation: Int) async throws -> (UInt8, UInt16) {
        let completed = Promise<(UInt8, UInt16)>()
        state.withLock { s in s.connecting = completed }
        defer { state.withLock { s in if s.connecting === completed { s.connecting = nil } } }
        try await command(HCICommand.leCreateConnection,
                          HCICommand.leCreateConnection(peer: report.address, addressType: report.addressType),
                          generation: generation)
        let timeout = Task { [settings] in
            try await Task.sleep(for: settings.connectTimeout)
            // Cancelling makes the controller end the attempt (Unknown Connection Identifier); a connection that
            // completes anyway after this is dropped when it arrives.
            _ = try? await self.command(HCICommand.leCreateConnectionCancel, [], generation: generation)
            completed.resolve(.failure(BLEError("connection to \(report.address) not established within \(settings.connectTimeout)", link: true)))
        }
        defer { timeout.cancel() }
        return try await completed.value
    }

    // MARK: ATT over a connection

    func request(_ request: ATTRequest, handle: UInt16, generation: Int) async throws -> ATTServerPDU {
        let id = state.withLock { $0.id() }
        let timeout = Task { [settings] in
            try await Task.sleep(for: settings.requestTimeout)
            self.attTimedOut(handle: handle, id: id, generation: generation)
        }
        defer { timeout.cancel() }
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<ATTServerPDU, any Error>) in
            let error = state.withLock { s -> BLEError? in
                guard s.generation == generation, s.links[handle] != nil else {
                    return BLEError("the connection is gone", link: true)
                }
                s.links[handle]!.pending = (id, ATTOpcode.response(to: request.opcode), continuation)
                return sendATT(&s, handle: handle, pdu: request.pdu)
            }
            if let error {
                state.withLock { s in
                    if s.links[handle]?.pending?.id == id { s.links[handle]!.pending = nil }
                }
                continuation.resume(throwing: error)
            }
        }
    }

    func send(_ request: ATTRequest, handle: UInt16, generation: Int) throws {
        let error = state.withLock { s -> BLEError? in
            guard s.generation == generation, s.links[handle] != nil else { return BLEError("the connection is gone", link: true) }
            return sendATT(&s, handle: handle, pdu: request.pdu)
        }
        if let error { throw error }
    }

    private func attTimedOut(handle: UInt16, id: Int, generation: Int) {
        let waiter = state.withLock { s -> CheckedContinuation<ATTServerPDU, any Error>? in
            guard s.generation == generation, let pending = s.links[handle]?.pending, pending.id == id else { return nil }
            s.links[handle]!.pending = nil
            return pending.continuation
        }
        guard let waiter else { return }
        waiter.resume(throwing: BLEError("no ATT response within \(settings.requestTimeout)", link: true))
        // ATT allows no further request on a bearer whose transaction timed out: drop the link.
        Task { try? await self.disconnect(handle: handle, generation: generation) }
    }

    func setNotificationHandler(handle: UInt16, generation: Int, _ handler: @escaping @Sendable (UInt16, [UInt8]) -> Void) {
        state.withLock { s in
            guard s.generation == generation, s.links[handle] != nil else { return }
            s.links[handle]!.onNotification = handler
        }
    }

    /// Calls `handler` once when the connection ends (at once if it already has).
    func onDisconnect(handle: UInt16, generation: Int, _ handler: @escaping @Sendable (String) -> Void) {
        let gone = state.withLock { s -> Bool in
            guard s.generation == generation, s.links[handle] != nil else { return true }
            s.links[handle]!.onDisconnect.append(handler)
            return false
        }
        if gone { handler("the connection is gone") }
    }

    func isConnected(handle: UInt16, generation: Int) -> Bool {
        state.withLock { $0.generation == generation && $0.links[handle] != nil }
    }

    func disconnect(handle: UInt16, generation: Int) async throws {
        guard isConnected(handle: handle, generation: generation) else { return }
        try await command(HCICommand.disconnect, HCICommand.disconnectParameters(handle: handle), generation: generation)
    }

    /// Queues the PDU's ACL fragments and sends what the controller has buffers for. Called with the state locked.
    private func sendATT(_ s: inout State, handle: UInt16, pdu: [UInt8]) -> BLEError? {
        s.aclQueue += L2CAPReassembler.fragments(handle: handle, cid: L2CAPReassembler.attChannel, payload: pdu,
                                                 aclLength: s.aclLength)
        return drainACL(&s)
    }

    private func drainACL(_ s: inout State) -> BLEError? {
        guard let stream = s.stream else { return BLEError("the controller transport is closed", link: true) }
        while s.aclCredits > 0, !s.aclQueue.isEmpty {
            let packet = s.aclQueue.removeFirst()
            guard case .acl(let handle, _, _) = packet else { continue }
            s.aclCredits -= 1
            s.inFlight[handle, default: 0] += 1
            do {
                try stream.send(packet.h4)
            } catch {
                return BLEError("controller transport: \(error)", link: true)
            }
        }
        return nil
    }

    // MARK: input

    private func received(_ bytes: [UInt8], generation: Int) {
        var effects: [@Sendable () -> Void] = []
        var broken: String?
        state.withLock { s in
            guard s.generation == generation else { return }
            let packets: [H4Packet]
            do {
                packets = try s.deframer.push(bytes)
            } catch {
                broken = "\(error)"
                return
            }
            for packet in packets {
                switch packet {
                case .event(let code, let parameters):
                    do {
                        let event = try HCIEvent(code: code, parameters: parameters)
                        if let reason = handle(event, &s, &effects) { broken = reason }
                    } catch {
                        let text = "malformed HCI event 0x\(String(code, radix: 16)) ignored: \(error)"
                        effects.append { [log] in log(true, text) }
                    }
                case .acl(let handle, let boundary, let data):
                    do {
                        if let (cid, payload) = try s.reassembler.push(handle: handle, boundary: boundary, data: data),
                           cid == L2CAPReassembler.attChannel {
                            attReceived(payload, handle: handle, &s, &effects)
                        }
                    } catch {
                        let text = "malformed ACL data on handle \(handle) ignored: \(error)"
                        effects.append { [log] in log(true, text) }
                    }
                case .command, .other:
                    break
                }
            }
        }
        for effect in effects { effect() }
        if let broken { fail("transport \(transport): \(broken)", generation: generation) }
    }

    /// Acts on one event; returns a reason when the controller must be considered gone.
    private func handle(_ event: HCIEvent, _ s: inout State, _ effects: inout [@Sendable () -> Void]) -> String? {
        switch event {
        case .commandComplete(_, let opcode, let parameters):
            if let command = s.command, command.opcode == opcode {
                s.command = nil
                effects.append { command.continuation.resume(returning: .complete(parameters)) }
            }
        case .commandStatus(let status, _, let opcode):
            if let command = s.command, command.opcode == opcode {
                s.command = nil
                effects.append { command.continuation.resume(returning: .status(status)) }
            }
        case .numberOfCompletedPackets(let list):
            for (handle, count) in list {
                let counted = min(Int(count), s.inFlight[handle] ?? 0)
                s.inFlight[handle] = (s.inFlight[handle] ?? 0) - counted
                s.aclCredits += counted
            }
            if let error = drainACL(&s) { return error.description }
        case .disconnectionComplete(let status, let handle, let reason):
            guard status == 0 else { break }
            s.reassembler.drop(handle: handle)
            s.aclCredits += s.inFlight.removeValue(forKey: handle) ?? 0
            s.aclQueue.removeAll { packet in
                if case .acl(let h, _, _) = packet { return h == handle }
                return false
            }
            if let link = s.links.removeValue(forKey: handle) {
                let text = "disconnected from \(link.address): \(HCIStatus.name(reason))"
                effects.append { [log] in log(true, text) }
                effects.append {
                    link.pending?.continuation.resume(throwing: BLEError(text, link: true))
                    for handler in link.onDisconnect { handler(text) }
                }
            }
        case .hardwareError(let code):
            return "the controller reported hardware error 0x\(String(code, radix: 16))"
        case .leConnectionComplete(let status, let handle, _, _, let address):
            if let connecting = s.connecting {
                s.connecting = nil
                if status == 0 { s.links[handle] = Link(address: address) }
                effects.append { connecting.resolve(.success((status, handle))) }
            } else if status == 0 {
                // Nobody asked for it (a late completion after a timeout): do not keep it.
                if let stream = s.stream {
                    try? stream.send(H4Packet.command(opcode: HCICommand.disconnect,
                                                      parameters: HCICommand.disconnectParameters(handle: handle)).h4)
                }
            }
        case .leAdvertisingReports(let reports):
            for report in reports {
                if let name = report.localName { s.names[report.address] = name }
                guard let scan = s.scan else { continue }
                let matches: Bool
                switch scan.target {
                case .address(let address): matches = report.address == address
                case .name(let name): matches = s.names[report.address] == name
                }
                // Only connectable advertising (ADV_IND, ADV_DIRECT_IND) or a scan response of a known name.
                guard matches, report.eventType == 0x00 || report.eventType == 0x01 || report.eventType == 0x04 else { continue }
                s.scan = nil
                var usable = report
                if report.eventType == 0x04 { usable.eventType = 0x00 }
                let found = usable
                effects.append { scan.promise.resolve(.success(found)) }
            }
        case .other:
            break
        }
        return nil
    }

    private func attReceived(_ pdu: [UInt8], handle: UInt16, _ s: inout State, _ effects: inout [@Sendable () -> Void]) {
        guard s.links[handle] != nil else { return }
        let decoded: ATTServerPDU
        do {
            decoded = try ATTServerPDU(pdu)
        } catch {
            let text = "malformed ATT PDU from \(s.links[handle]!.address): \(error)"
            effects.append { [log] in log(true, text) }
            if let opcode = pdu.first, let pending = s.links[handle]!.pending,
               opcode == pending.response || opcode == ATTOpcode.errorResponse {
                s.links[handle]!.pending = nil
                effects.append { pending.continuation.resume(throwing: BLEError(text, link: false)) }
            }
            return
        }
        switch decoded {
        case .notification(let attribute, let value):
            if let handler = s.links[handle]!.onNotification { effects.append { handler(attribute, value) } }
        case .indication(let attribute, let value):
            _ = sendATT(&s, handle: handle, pdu: ATTRequest.confirmation.pdu)
            if let handler = s.links[handle]!.onNotification { effects.append { handler(attribute, value) } }
        case .unsupported(let opcode):
            if opcode == ATTOpcode.exchangeMTURequest {
                var answer: [UInt8] = [ATTOpcode.exchangeMTUResponse]
                answer.appendLE(settings.attMTU)
                _ = sendATT(&s, handle: handle, pdu: answer)
            } else if opcode & 0x40 == 0, opcode & 1 == 0 {
                // A request the client role does not serve: Request Not Supported.
                var answer: [UInt8] = [ATTOpcode.errorResponse, opcode, 0, 0, 0x06]
                if pdu.count >= 3 { answer[2] = pdu[1]; answer[3] = pdu[2] }
                _ = sendATT(&s, handle: handle, pdu: answer)
            }
        default:
            guard let pending = s.links[handle]!.pending,
                  decoded.opcode == pending.response || decoded.opcode == ATTOpcode.errorResponse else {
                let text = "unexpected ATT PDU 0x\(String(decoded.opcode, radix: 16)) from \(s.links[handle]!.address) ignored"
                effects.append { [log] in log(true, text) }
                return
            }
            s.links[handle]!.pending = nil
            effects.append { pending.continuation.resume(returning: decoded) }
        }
    }

    /// The transport is gone (or being closed): everything waiting fails, every connection ends.
    private func fail(_ reason: String, generation: Int?) {
        let taken = state.withLock { s -> (FDStream, State)? in
            guard let stream = s.stream, generation == nil || s.generation == generation else { return nil }
            let before = s
            s.stream = nil
            s.command = nil
            s.scan = nil
            s.connecting = nil
            s.links = [:]
            s.aclQueue = []
            s.inFlight = [:]
            return (stream, before)
        }
        guard let (stream, before) = taken else { return }
        stream.close()
        log(generation != nil, reason)
        let error = BLEError(reason, link: true)
        before.command?.continuation.resume(throwing: error)
        before.scan?.promise.resolve(.failure(error))
        before.connecting?.resolve(.failure(error))
        for link in before.links.values {
            link.pending?.continuation.resume(throwing: error)
            for handler in link.onDisconnect { handler(reason) }
        }
    }
}

/// One LE connection to a peripheral, with its ATT bearer (one request at a time, as ATT requires).
public final class BLEConnection: ATTBearer {
    public let handle: UInt16
    public let address: BDAddress
    let host: BLEHost
    let generation: Int
    private let requests = AsyncGate()

    init(host: BLEHost, handle: UInt16, address: BDAddress, generation: Int) {
        self.host = host
        self.handle = handle
        self.address = address
        self.generation = generation
    }

    /// Sends a request and returns the server's answer (an Error Response is returned, not thrown).
    public func request(_ request: ATTRequest) async throws -> ATTServerPDU {
        await requests.acquire()
        defer { requests.release() }
        return try await host.request(request, handle: handle, generation: generation)
    }

    /// A Write Command (no answer).
    public func send(_ request: ATTRequest) throws {
        try host.send(request, handle: handle, generation: generation)
    }

    /// Receives notifications and indications (attribute handle, value); indications are confirmed.
    public func onNotification(_ handler: @escaping @Sendable (UInt16, [UInt8]) -> Void) {
        host.setNotificationHandler(handle: handle, generation: generation, handler)
    }

    public func onDisconnect(_ handler: @escaping @Sendable (String) -> Void) {
        host.onDisconnect(handle: handle, generation: generation, handler)
    }

    public func disconnect() async {
        try? await host.disconnect(handle: handle, generation: generation)
    }
}
