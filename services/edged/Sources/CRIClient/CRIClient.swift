// A small client for the Kubernetes Container Runtime Interface (CRI v1, `runtime.v1`) that edged uses to run pods
// on containerd (or any CRI runtime) over its unix socket. It wraps the generated gRPC clients in Generated/
// (scripts/generate-cri.sh) with: one place for the endpoint, a bounded deadline on every call, and one error type
// that carries the gRPC status.
//
//     let cri = try CRIClient(configuration: .init(endpoint: "unix:///run/containerd/containerd.sock"))
//     async let connections: Void = cri.run()       // or: try await CRIClient.with(configuration: …) { cri in … }
//     let version = try await cri.version()
//     …
//     cri.shutdown(); try await connections
//
// The message types are the generated ones (`Runtime_V1_PodSandboxConfig`, `Runtime_V1_ContainerConfig`, …).
import GRPCCore
import GRPCNIOTransportHTTP2Posix

/// Where and how to reach the runtime.
public struct CRIConfiguration: Sendable {
    /// containerd's default CRI endpoint.
    public static let defaultEndpoint = "unix:///run/containerd/containerd.sock"

    /// `unix:///path/to.sock` (the kubelet form), `unix:/path` or a plain absolute socket path.
    public var endpoint: String
    /// Deadline of every call but `PullImage` and `StopContainer`.
    public var timeout: Duration
    /// Deadline of `PullImage` (a pull from a registry can take minutes).
    public var pullImageTimeout: Duration
    /// Largest response accepted (kubelet uses 16 MiB; `ListContainers` on a busy node can exceed gRPC's 4 MiB).
    public var maxResponseBytes: Int

    public init(
        endpoint: String = CRIConfiguration.defaultEndpoint,
        timeout: Duration = .seconds(30),
        pullImageTimeout: Duration = .seconds(300),
        maxResponseBytes: Int = 16 * 1024 * 1024
    ) {
        self.endpoint = endpoint
        self.timeout = timeout
        self.pullImageTimeout = pullImageTimeout
        self.maxResponseBytes = maxResponseBytes
    }

    /// The socket path named by `endpoint`.
    public func socketPath() throws(CRIError) -> String {
        var rest = Substring(endpoint)
        if rest.hasPrefix("unix://") {
            rest = rest.dropFirst("unix://".count)
        } else if rest.hasPrefix("unix:") {
            rest = rest.dropFirst("unix:".count)
        }
        guard rest.hasPrefix("/"), rest.count > 1 else {
            throw CRIError(
                method: "", code: .invalidArgument,
                message: "CRI endpoint '\(endpoint)' is not unix:///absolute/path or /absolute/path")
        }
        return String(rest)
    }
}

/// A failed CRI call: the method and the gRPC status the runtime (or the transport) gave.
public struct CRIError: Error, Sendable, CustomStringConvertible {
    /// The CRI method, e.g. `RunPodSandbox`; empty for a configuration error.
    public var method: String
    /// The gRPC status code: `.notFound` for an unknown id, `.unavailable` when the runtime cannot be reached,
    /// `.deadlineExceeded` when the call's deadline passed, `.cancelled` when the calling task was cancelled.
    public var code: RPCError.Code
    /// The status message.
    public var message: String

    public init(method: String, code: RPCError.Code, message: String) {
        self.method = method
        self.code = code
        self.message = message
    }

    init(method: String, wrapping error: any Error) {
        switch error {
        case let error as CRIError:
            self = error
        case let error as RPCError:
            self.init(method: method, code: error.code, message: error.message)
        case let error as RuntimeError:
            // The client itself failed (e.g. used after shutdown, transport could not start).
            self.init(method: method, code: .unavailable, message: "\(error)")
        case is CancellationError:
            self.init(method: method, code: .cancelled, message: "the calling task was cancelled")
        default:
            self.init(method: method, code: .unknown, message: "\(error)")
        }
    }

    public var isNotFound: Bool { code == .notFound }
    public var isUnavailable: Bool { code == .unavailable }
    public var isTimeout: Bool { code == .deadlineExceeded }
    /// The connection to the runtime closed while the call was under way: whether the runtime did it is unknown.
    public var isConnectionDrop: Bool { code == .unavailable && message.contains("unexpectedly closed") }
    /// The call was not sent: the client was between connections after one dropped (not: the runtime is not there).
    public var isNotSent: Bool {
        code == .unavailable
            && (message.contains("subchannel isn't ready") || message.contains("connection was dropped unexpectedly"))
    }

    public var description: String {
        method.isEmpty ? "CRI: \(code): \(message)" : "CRI \(method): \(code): \(message)"
    }
}

/// A CRI v1 client (RuntimeService + ImageService) over one HTTP/2 connection on a unix socket.
///
/// The connection runs inside `run()`, which returns after `shutdown()` (once calls in flight have finished) or
/// throws if its task is cancelled. Calls made before `run()` starts are queued; calls fail fast with
/// `.unavailable` when the socket is missing or refuses connections (no waiting for the runtime to appear).
public final class CRIClient: Sendable {
    public typealias Transport = HTTP2ClientTransport.Posix

    public let configuration: CRIConfiguration
    private let grpc: GRPCClient<Transport>
    /// The generated clients, for the RPCs this type does not wrap (exec, stats, events, …).
    public let runtimeService: Runtime_V1_RuntimeService.Client<Transport>
    public let imageService: Runtime_V1_ImageService.Client<Transport>

    public init(configuration: CRIConfiguration = .init()) throws(CRIError) {
        self.configuration = configuration
        let path = try configuration.socketPath()
        let transport: Transport
        do {
            // The runtime is a local socket: reconnecting is cheap, so it is tried again soon (grpc-swift's default
            // waits 1 s, then up to 2 minutes, before the next attempt).
            var config = Transport.Config.defaults
            config.backoff = .init(initial: .milliseconds(20), max: .seconds(2), multiplier: 1.6, jitter: 0.2)
            transport = try .http2NIOPosix(
                target: .unixDomainSocket(path: path),
                transportSecurity: .plaintext,
                config: config)
        } catch {
            throw CRIError(method: "", wrapping: error)
        }
        grpc = GRPCClient(transport: transport)
        runtimeService = Runtime_V1_RuntimeService.Client(wrapping: grpc)
        imageService = Runtime_V1_ImageService.Client(wrapping: grpc)
    }

    /// Maintains the connection; returns after `shutdown()`. Call once.
    public func run() async throws {
        try await grpc.runConnections()
    }

    /// Lets calls in flight finish, then closes the connection and makes `run()` return. New calls fail.
    public func shutdown() {
        grpc.beginGracefulShutdown()
    }

    /// Runs `body` with a connected client and shuts the client down when `body` returns or throws.
    public static func with<Result: Sendable>(
        configuration: CRIConfiguration = .init(),
        isolation: isolated (any Actor)? = #isolation,
        _ body: (CRIClient) async throws -> Result
    ) async throws -> Result {
        let client = try CRIClient(configuration: configuration)
        return try await withThrowingDiscardingTaskGroup(returning: Result.self, isolation: isolation) { group in
            group.addTask { try await client.run() }
            defer { client.shutdown() }
            return try await body(client)
        }
    }

    // MARK: - Calls

    /// `waitForReady` false: a runtime that is not there fails the call at once rather than at its deadline.
    private func options(timeout: Duration? = nil, waitForReady: Bool = false) -> CallOptions {
        var options = CallOptions.defaults
        options.timeout = timeout ?? configuration.timeout
        options.waitForReady = waitForReady
        options.maxResponseMessageBytes = configuration.maxResponseBytes
        return options
    }

    /// Calls that change something each time they run (a second sandbox or container, a command run twice): never
    /// sent again by this client. The others are reads, or idempotent by CRI's contract (stop, remove).
    static let notRepeatable: Set<String> = ["RunPodSandbox", "CreateContainer", "StartContainer", "ExecSync"]

    /// How often a call is sent again after its connection dropped (repeatable calls), or while the client reconnects
    /// (any call: it was never sent), and the pause before each.
    static let retryPauses: [Duration] = [.milliseconds(0), .milliseconds(20), .milliseconds(100)]

    private func call<Response: Sendable>(
        _ method: String, timeout: Duration? = nil,
        _ body: (CallOptions) async throws -> Response
    ) async throws(CRIError) -> Response {
        var attempt = 0
        let budget = timeout ?? configuration.timeout
        let started = ContinuousClock.now
        while true {
            do {
                // A call sent again waits for the new connection, within what is left of its deadline: however often
                // it is sent, a call takes about its deadline at most (a runtime that is gone fails it in time).
                let left = attempt == 0 ? budget : max(budget - (ContinuousClock.now - started), .seconds(1))
                return try await body(options(timeout: left, waitForReady: attempt > 0))
            } catch {
                let failure = CRIError(method: method, wrapping: error)
                // grpc-swift closes its HTTP/2 connection when a peer sends more than 200 RST_STREAM or PING frames
                // in a short window (a DoS heuristic), and containerd's gRPC server sends one of each for nearly every
                // call; the call under way then fails although the runtime may have answered, and calls made while
                // the client reconnects fail unsent. Those are sent again; a call that may have run is sent again only
                // if running it twice is harmless.
                let again = failure.isNotSent || (failure.isConnectionDrop && !Self.notRepeatable.contains(method))
                guard again, attempt < Self.retryPauses.count, ContinuousClock.now - started < budget else { throw failure }
                try? await Task.sleep(for: Self.retryPauses[attempt])
                attempt += 1
            }
        }
    }

    // MARK: RuntimeService: runtime

    /// Runtime name, version and CRI API version.
    public func version() async throws(CRIError) -> Runtime_V1_VersionResponse {
        try await call("Version") { options in
            try await runtimeService.version(Runtime_V1_VersionRequest(), options: options)
        }
    }

    /// Runtime conditions (`RuntimeReady`, `NetworkReady`), handlers and features.
    public func status(verbose: Bool = false) async throws(CRIError) -> Runtime_V1_StatusResponse {
        var request = Runtime_V1_StatusRequest()
        request.verbose = verbose
        return try await call("Status") { options in
            try await runtimeService.status(request, options: options)
        }
    }

    // MARK: ImageService

    /// The image if the runtime has it, nil if not.
    public func imageStatus(_ image: String) async throws(CRIError) -> Runtime_V1_Image? {
        var request = Runtime_V1_ImageStatusRequest()
        request.image.image = image
        let response = try await call("ImageStatus") { options in
            try await imageService.imageStatus(request, options: options)
        }
        return response.hasImage ? response.image : nil
    }

    /// Pulls `image`; returns the image reference the runtime gives (usually the digest).
    public func pullImage(
        _ image: String, auth: Runtime_V1_AuthConfig? = nil, sandboxConfig: Runtime_V1_PodSandboxConfig? = nil
    ) async throws(CRIError) -> String {
        var request = Runtime_V1_PullImageRequest()
        request.image.image = image
        if let auth { request.auth = auth }
        if let sandboxConfig { request.sandboxConfig = sandboxConfig }
        return try await call("PullImage", timeout: configuration.pullImageTimeout) { options in
            try await imageService.pullImage(request, options: options).imageRef
        }
    }

    public func listImages(filter image: String? = nil) async throws(CRIError) -> [Runtime_V1_Image] {
        var request = Runtime_V1_ListImagesRequest()
        if let image { request.filter.image.image = image }
        return try await call("ListImages") { options in
            try await imageService.listImages(request, options: options).images
        }
    }

    // MARK: RuntimeService: pod sandboxes

    /// Creates and starts a pod sandbox; returns its id.
    public func runPodSandbox(
        _ config: Runtime_V1_PodSandboxConfig, runtimeHandler: String = ""
    ) async throws(CRIError) -> String {
        var request = Runtime_V1_RunPodSandboxRequest()
        request.config = config
        request.runtimeHandler = runtimeHandler
        return try await call("RunPodSandbox") { options in
            try await runtimeService.runPodSandbox(request, options: options).podSandboxID
        }
    }

    /// Stops every container of the sandbox and the sandbox itself. Idempotent.
    public func stopPodSandbox(_ id: String) async throws(CRIError) {
        var request = Runtime_V1_StopPodSandboxRequest()
        request.podSandboxID = id
        _ = try await call("StopPodSandbox") { options in
            try await runtimeService.stopPodSandbox(request, options: options)
        }
    }

    /// Removes a stopped sandbox and its containers. Idempotent.
    public func removePodSandbox(_ id: String) async throws(CRIError) {
        var request = Runtime_V1_RemovePodSandboxRequest()
        request.podSandboxID = id
        _ = try await call("RemovePodSandbox") { options in
            try await runtimeService.removePodSandbox(request, options: options)
        }
    }

    public func podSandboxStatus(
        _ id: String, verbose: Bool = false
    ) async throws(CRIError) -> Runtime_V1_PodSandboxStatusResponse {
        var request = Runtime_V1_PodSandboxStatusRequest()
        request.podSandboxID = id
        request.verbose = verbose
        return try await call("PodSandboxStatus") { options in
            try await runtimeService.podSandboxStatus(request, options: options)
        }
    }

    public func listPodSandbox(
        filter: Runtime_V1_PodSandboxFilter? = nil
    ) async throws(CRIError) -> [Runtime_V1_PodSandbox] {
        var request = Runtime_V1_ListPodSandboxRequest()
        if let filter { request.filter = filter }
        return try await call("ListPodSandbox") { options in
            try await runtimeService.listPodSandbox(request, options: options).items
        }
    }

    // MARK: RuntimeService: containers

    /// Creates a container in a sandbox; returns its id. `sandboxConfig` is the config the sandbox was run with.
    public func createContainer(
        inPodSandbox podSandboxID: String, config: Runtime_V1_ContainerConfig,
        sandboxConfig: Runtime_V1_PodSandboxConfig
    ) async throws(CRIError) -> String {
        var request = Runtime_V1_CreateContainerRequest()
        request.podSandboxID = podSandboxID
        request.config = config
        request.sandboxConfig = sandboxConfig
        return try await call("CreateContainer") { options in
            try await runtimeService.createContainer(request, options: options).containerID
        }
    }

    public func startContainer(_ id: String) async throws(CRIError) {
        var request = Runtime_V1_StartContainerRequest()
        request.containerID = id
        _ = try await call("StartContainer") { options in
            try await runtimeService.startContainer(request, options: options)
        }
    }

    /// Stops a container: SIGTERM (or the image's stop signal), then SIGKILL after `gracePeriod` (whole seconds;
    /// zero kills at once). The call's deadline is the configured timeout plus the grace period, as kubelet does.
    public func stopContainer(_ id: String, gracePeriod: Duration = .seconds(10)) async throws(CRIError) {
        var request = Runtime_V1_StopContainerRequest()
        request.containerID = id
        request.timeout = max(0, gracePeriod.components.seconds)
        _ = try await call("StopContainer", timeout: configuration.timeout + .seconds(request.timeout)) { options in
            try await runtimeService.stopContainer(request, options: options)
        }
    }

    /// Runs a command in a running container and waits for it (probes): its exit code and output.
    public func execSync(_ id: String, command: [String], timeout: Duration) async throws(CRIError)
        -> (exitCode: Int32, stdout: [UInt8], stderr: [UInt8])
    {
        var request = Runtime_V1_ExecSyncRequest()
        request.containerID = id
        request.cmd = command
        request.timeout = max(1, timeout.components.seconds)
        let response = try await call("ExecSync", timeout: configuration.timeout + timeout) { options in
            try await runtimeService.execSync(request, options: options)
        }
        return (response.exitCode, Array(response.stdout), Array(response.stderr))
    }

    /// Removes a container (force-removes a running one). Idempotent.
    public func removeContainer(_ id: String) async throws(CRIError) {
        var request = Runtime_V1_RemoveContainerRequest()
        request.containerID = id
        _ = try await call("RemoveContainer") { options in
            try await runtimeService.removeContainer(request, options: options)
        }
    }

    public func containerStatus(
        _ id: String, verbose: Bool = false
    ) async throws(CRIError) -> Runtime_V1_ContainerStatusResponse {
        var request = Runtime_V1_ContainerStatusRequest()
        request.containerID = id
        request.verbose = verbose
        return try await call("ContainerStatus") { options in
            try await runtimeService.containerStatus(request, options: options)
        }
    }

    public func listContainers(
        filter: Runtime_V1_ContainerFilter? = nil
    ) async throws(CRIError) -> [Runtime_V1_Container] {
        var request = Runtime_V1_ListContainersRequest()
        if let filter { request.filter = filter }
        return try await call("ListContainers") { options in
            try await runtimeService.listContainers(request, options: options).containers
        }
    }

    /// Usage figures of every container (cumulative CPU time, working set), for `kubectl top`.
    public func listContainerStats() async throws(CRIError) -> [Runtime_V1_ContainerStats] {
        let request = Runtime_V1_ListContainerStatsRequest()
        return try await call("ListContainerStats") { options in
            try await runtimeService.listContainerStats(request, options: options).stats
        }
    }

    /// A streaming exec: the URL of the runtime's streaming server for it.
    public func exec(_ id: String, command: [String], tty: Bool, stdin: Bool, stdout: Bool, stderr: Bool) async throws(CRIError) -> String {
        var request = Runtime_V1_ExecRequest()
        request.containerID = id
        request.cmd = command
        request.tty = tty
        request.stdin = stdin
        request.stdout = stdout
        request.stderr = stderr && !tty
        return try await call("Exec") { options in
            try await runtimeService.exec(request, options: options).url
        }
    }

    /// A streaming attach to the container's main process: the URL of the runtime's streaming server for it.
    public func attach(_ id: String, tty: Bool, stdin: Bool, stdout: Bool, stderr: Bool) async throws(CRIError) -> String {
        var request = Runtime_V1_AttachRequest()
        request.containerID = id
        request.tty = tty
        request.stdin = stdin
        request.stdout = stdout
        request.stderr = stderr && !tty
        return try await call("Attach") { options in
            try await runtimeService.attach(request, options: options).url
        }
    }

    /// A streaming port-forward into a pod sandbox's network namespace: the URL of the runtime's streaming server.
    public func portForward(_ sandboxID: String, port: Int) async throws(CRIError) -> String {
        var request = Runtime_V1_PortForwardRequest()
        request.podSandboxID = sandboxID
        request.port = [Int32(port)]
        return try await call("PortForward") { options in
            try await runtimeService.portForward(request, options: options).url
        }
    }

    /// Removes an image (by id or reference).
    public func removeImage(_ image: String) async throws(CRIError) {
        var request = Runtime_V1_RemoveImageRequest()
        request.image.image = image
        _ = try await call("RemoveImage") { options in
            try await imageService.removeImage(request, options: options)
        }
    }

    /// The mount points of the runtime's image filesystems.
    public func imageFilesystems() async throws(CRIError) -> [String] {
        let request = Runtime_V1_ImageFsInfoRequest()
        return try await call("ImageFsInfo") { options in
            try await imageService.imageFsInfo(request, options: options).imageFilesystems.map { $0.fsID.mountpoint }
        }
    }
}
