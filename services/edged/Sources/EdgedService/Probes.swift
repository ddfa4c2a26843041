import EdgeProtocol

/// A container's probe as the pod spec has it (core/v1 `Probe`, defaulted as kube-apiserver defaults it).
public struct ProbeSpec: Sendable, Equatable {
    public enum Port: Sendable, Equatable {
        case number(Int)
        case name(String)
    }

    public enum Action: Sendable, Equatable {
        case exec([String])
        case httpGet(scheme: String, host: String?, port: Port, path: String, headers: [String: String])
        case tcpSocket(host: String?, port: Port)
    }

    public var action: Action
    public var initialDelaySeconds: Int
    public var periodSeconds: Int
    public var timeoutSeconds: Int
    public var successThreshold: Int
    public var failureThreshold: Int

    /// nil when there is no probe, or none of the handlers edged runs (gRPC is not one).
    public init?(_ json: JSONValue?) {
        guard let json, json.isObject else { return nil }
        func int(_ key: String, _ fallback: Int) -> Int {
            json[key]?.int64Value.map { max(0, Int($0)) } ?? fallback
        }
        func port(_ value: JSONValue?) -> Port? {
            if let number = value?.int64Value { return .number(Int(number)) }
            if let text = value?.stringValue { return Int(text).map(Port.number) ?? .name(text) }
            return nil
        }
        if let command = json[path: ["exec", "command"]]?.arrayValue {
            action = .exec(command.compactMap(\.stringValue))
        } else if let get = json["httpGet"], let target = port(get["port"]) {
            var headers: [String: String] = [:]
            for header in get["httpHeaders"]?.arrayValue ?? [] {
                if let name = header["name"]?.stringValue { headers[name] = header["value"]?.stringValue ?? "" }
            }
            action = .httpGet(scheme: get["scheme"]?.stringValue ?? "HTTP", host: get["host"]?.stringValue, port: target,
                              path: get["path"]?.stringValue ?? "/", headers: headers)
        } else if let tcp = json["tcpSocket"], let target = port(tcp["port"]) {
            action = .tcpSocket(host: tcp["host"]?.stringValue, port: target)
        } else {
            return nil
        }
        initialDelaySeconds = int("initialDelaySeconds", 0)
        periodSeconds = max(1, int("periodSeconds", 10))
        timeoutSeconds = max(1, int("timeoutSeconds", 1))
        successThreshold = max(1, int("successThreshold", 1))
        failureThreshold = max(1, int("failureThreshold", 3))
    }
}

/// kubelet's prober for one container attempt, without I/O: which probes are due, and what their results mean.
///
/// - A startup probe holds the others back until it succeeds; failing `failureThreshold` times restarts the container.
/// - Liveness failing `failureThreshold` times in a row restarts the container.
/// - Readiness starts false and follows `successThreshold` / `failureThreshold`; without a readiness probe a started
///   container is ready.
public struct ContainerProbes: Sendable {
    public enum Kind: String, Sendable, CaseIterable { case startup, liveness, readiness }

    public enum Outcome: Sendable, Equatable {
        case none
        /// Kill the container and start it again (`reason`: kubelet's event message).
        case restart(reason: String)
    }

    struct Tracker: Sendable {
        var spec: ProbeSpec
        var successes = 0
        var failures = 0
        var lastRun: Double?
        var result: Bool?
    }

    private var trackers: [Kind: Tracker] = [:]
    public private(set) var started: Bool
    public private(set) var ready: Bool
    public private(set) var lastFailure: (kind: Kind, message: String)?

    public init(container: JSONValue) {
        for kind in Kind.allCases {
            if let spec = ProbeSpec(container["\(kind.rawValue)Probe"]) { trackers[kind] = Tracker(spec: spec) }
        }
        started = trackers[.startup] == nil
        ready = started && trackers[.readiness] == nil
    }

    public func spec(_ kind: Kind) -> ProbeSpec? { trackers[kind]?.spec }

    /// The probes to run now, `elapsed` seconds after the container started.
    public func due(elapsed: Double) -> [Kind] {
        Kind.allCases.filter { kind in
            guard let tracker = trackers[kind] else { return false }
            if kind != .startup && !started { return false }
            if kind == .startup && started { return false }
            guard elapsed >= Double(tracker.spec.initialDelaySeconds) else { return false }
            guard let last = tracker.lastRun else { return true }
            return elapsed - last >= Double(tracker.spec.periodSeconds)
        }
    }

    /// Takes a probe's result.
    public mutating func record(_ kind: Kind, success: Bool, message: String = "", elapsed: Double) -> Outcome {
        guard var tracker = trackers[kind] else { return .none }
        tracker.lastRun = elapsed
        if success {
            tracker.successes += 1
            tracker.failures = 0
        } else {
            tracker.failures += 1
            tracker.successes = 0
            lastFailure = (kind, message)
        }
        defer { trackers[kind] = tracker }
        switch kind {
        case .startup:
            if success && tracker.successes >= tracker.spec.successThreshold {
                started = true
                ready = trackers[.readiness] == nil
            } else if !success && tracker.failures >= tracker.spec.failureThreshold {
                return .restart(reason: "Container failed startup probe, will be restarted")
            }
        case .liveness:
            if !success && tracker.failures >= tracker.spec.failureThreshold {
                return .restart(reason: "Container failed liveness probe, will be restarted")
            }
        case .readiness:
            if success && tracker.successes >= tracker.spec.successThreshold { ready = true }
            if !success && tracker.failures >= tracker.spec.failureThreshold { ready = false }
        }
        return .none
    }
}
