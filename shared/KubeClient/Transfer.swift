import CCurl
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// The libcurl plumbing. Each request or watch is one `Transfer`: a (multi, easy) handle pair from a small pool, driven
// by `curl_multi_perform`/`curl_multi_poll` on a thread of its own, so that no blocking call ever runs on Swift's
// cooperative pool. Cancellation sets a flag and wakes the poll (`curl_multi_wakeup`), and the progress callback
// returns non-zero, so a transfer stops within a poll round, not at libcurl's next once-a-second progress call.

enum Curl {
    /// `curl_global_init`, once, before the first handle (it is not safe to race with other libcurl calls).
    static let initialised: Bool = kc_global_init() == CURLE_OK

    static func message(_ code: CURLcode) -> String { String(cString: curl_easy_strerror(code)) }
}

/// One easy handle in its own multi handle. The multi handle keeps the connection cache, so a handle that goes back
/// to the pool keeps its connection open for the next request (curl_easy_reset keeps connections).
final class CurlHandle: @unchecked Sendable {
    // @unchecked: used by one transfer (one thread) at a time; handed over through the pool's mutex.
    let easy: UnsafeMutableRawPointer
    let multi: UnsafeMutableRawPointer
    let errorBuffer: UnsafeMutablePointer<CChar>

    init?() {
        _ = Curl.initialised
        guard let easy = curl_easy_init() else { return nil }
        guard let multi = curl_multi_init() else {
            curl_easy_cleanup(easy)
            return nil
        }
        self.easy = easy
        self.multi = multi
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
    }

    deinit {
        curl_multi_cleanup(multi)
        curl_easy_cleanup(easy)
        errorBuffer.deallocate()
    }
}

/// Idle handles, at most `maxIdle`; more are closed when their transfer ends.
final class HandlePool: Sendable {
    private let idle = Mutex<[CurlHandle]>([])
    private let maxIdle: Int

    init(maxIdle: Int) { self.maxIdle = max(0, maxIdle) }

    func take() throws(KubeError) -> CurlHandle {
        if let handle = idle.withLock({ $0.popLast() }) { return handle }
        guard let handle = CurlHandle() else {
            throw .transport(code: Int(CURLE_FAILED_INIT.rawValue), message: "libcurl could not create a handle")
        }
        return handle
    }

    func give(_ handle: CurlHandle) {
        idle.withLock { handles in
            if handles.count < maxIdle { handles.append(handle) }
        }
    }
}

/// The HTTP methods the API uses.
public enum HTTPMethod: String, Sendable {
    case get = "GET", post = "POST", put = "PUT", patch = "PATCH", delete = "DELETE"
}

/// A bearer token read from a file, re-read once `refresh` has passed (service account tokens rotate).
final class TokenFile: Sendable {
    let path: String
    private let refresh: Duration
    private let cached = Mutex<(token: String, readAt: ContinuousClock.Instant)?>(nil)

    init(path: String, refresh: Duration) {
        self.path = path
        self.refresh = refresh
    }

    /// Called on a transfer thread (it may read the file).
    func current() throws(KubeError) -> String {
        let now = ContinuousClock.now
        if let hit = cached.withLock({ $0 }), now - hit.readAt < refresh { return hit.token }
        let token = try FileIO.readString(path).trimmingWhitespace()
        guard !token.isEmpty else { throw .configuration("token file \(path) is empty") }
        cached.withLock { $0 = (token, now) }
        return token
    }
}

/// What every transfer of one client shares: where the server is and how to authenticate, fixed at client creation.
struct ConnectionSettings: Sendable {
    /// `scheme://host[:port][/prefix]`; with a TLS server name its host is that name.
    var baseURL: String
    /// `name:port:host:port` for CURLOPT_CONNECT_TO, when the TLS server name differs from the host.
    var connectTo: String?
    /// The real host for the `Host` header in that case.
    var hostHeader: String?
    var certificateAuthority: PEMSource?
    var insecure: Bool
    var clientCertificate: PEMSource?
    var clientKey: PEMSource?
    var token: String?
    var tokenFile: TokenFile?
    var connectTimeoutMs: Int
    var userAgent: String
}

/// One HTTP exchange to run.
struct CurlRequest: Sendable {
    var method: HTTPMethod
    /// Path and query, appended to the base URL.
    var target: String
    var headers: [String]
    var body: [UInt8]?
    /// Bound on the whole transfer; nil for watches.
    var timeoutMs: Int?
    var settings: ConnectionSettings
}

struct TransferOutcome {
    /// The HTTP status, 0 when no response arrived.
    var status = 0
    var error: KubeError?
    var cancelled = false
}

enum SinkDecision {
    case consumed
    /// Not consumed: libcurl holds the bytes and delivers them again once the transfer is resumed.
    case pause
    case abort
}

/// Where a transfer's response body goes. Called only on the transfer's thread.
protocol TransferSink: AnyObject, Sendable {
    func receive(_ bytes: UnsafeRawBufferPointer, status: Int) -> SinkDecision
    /// Asked while paused, and at the end while `hasBacklog`: true when the consumer has room again.
    func readyToResume() -> Bool
    /// Data received but not yet handed to the consumer; the end is reported only once it has been.
    var hasBacklog: Bool { get }
    func finish(_ outcome: TransferOutcome)
}

final class Transfer: @unchecked Sendable {
    // @unchecked: `paused`, `status` and the sink's calls belong to the transfer thread; the parts touched from other
    // threads are `cancelled` (atomic) and `live` (mutex, which orders `curl_multi_wakeup` before the handle's reuse).
    private let handle: CurlHandle
    private let pool: HandlePool
    private let request: CurlRequest
    private let sink: any TransferSink
    private let cancelled = Atomic<Bool>(false)
    private let live = Mutex(true)
    private var paused = false
    private var status = 0

    init(handle: CurlHandle, pool: HandlePool, request: CurlRequest, sink: any TransferSink) {
        self.handle = handle
        self.pool = pool
        self.request = request
        self.sink = sink
    }

    /// Runs the transfer on a new thread; the sink hears the end.
    func start() {
        do {
            try TransferThread.spawn { self.run() }
        } catch {
            live.withLock { $0 = false }
            pool.give(handle)
            sink.finish(TransferOutcome(error: error))
        }
    }

    /// Stops the transfer promptly, from any thread; the sink then finishes with `cancelled`.
    func cancel() {
        cancelled.store(true, ordering: .releasing)
        live.withLock { isLive in
            if isLive { _ = curl_multi_wakeup(handle.multi) }
        }
    }

    private var isCancelled: Bool { cancelled.load(ordering: .acquiring) }

    /// Polling while the consumer's buffer is full, in milliseconds: from the first to the max, doubling.
    private static let firstPausedPoll: Int32 = 5
    private static let maxPausedPoll: Int32 = 200

    private func run() {
        let easy = handle.easy
        let multi = handle.multi
        var outcome = TransferOutcome()
        var lists = StringLists()
        if isCancelled {
            outcome.cancelled = true
        } else if let error = configure(&lists) {
            outcome.error = error
        } else {
            outcome = perform(easy: easy, multi: multi)
        }
        // What the consumer has not taken yet is delivered before the end is reported.
        var wait: Int32 = Self.firstPausedPoll
        while !outcome.cancelled && sink.hasBacklog {
            if isCancelled {
                outcome.cancelled = true
            } else if !sink.readyToResume() {
                _ = curl_multi_poll(multi, nil, 0, wait, nil)
                wait = min(wait * 2, Self.maxPausedPoll)
            }
        }
        live.withLock { $0 = false }
        lists.free()
        pool.give(handle)
        sink.finish(outcome)
    }

    private func perform(easy: UnsafeMutableRawPointer, multi: UnsafeMutableRawPointer) -> TransferOutcome {
        var outcome = TransferOutcome()
        let added = curl_multi_add_handle(multi, easy)
        guard added == CURLM_OK else {
            outcome.error = .transport(code: -Int(added.rawValue), message: String(cString: curl_multi_strerror(added)))
            return outcome
        }
        var result = CURLE_OK
        var done = false
        var pausedPoll = Self.firstPausedPoll
        while true {
            var running: Int32 = 0
            let mc = curl_multi_perform(multi, &running)
            if mc != CURLM_OK {
                outcome.error = .transport(code: -Int(mc.rawValue), message: String(cString: curl_multi_strerror(mc)))
                break
            }
            if kc_multi_done(multi, easy, &result) != 0 {
                done = true
                break
            }
            if isCancelled { break }
            // Paused, or events decoded but not yet taken (the last bytes of a burst can leave some behind with
            // nothing more arriving to push them): hand them over before waiting for the socket.
            if paused || sink.hasBacklog {
                if sink.readyToResume() {
                    pausedPoll = Self.firstPausedPoll
                    if paused {
                        paused = false
                        _ = kc_unpause(easy)  // may deliver the held bytes right here
                        continue
                    }
                } else {
                    // The consumer cannot wake us when it takes events: look again soon, then less often.
                    _ = curl_multi_poll(multi, nil, 0, pausedPoll, nil)
                    pausedPoll = min(pausedPoll * 2, Self.maxPausedPoll)
                    if isCancelled { break }
                    continue
                }
            }
            // Woken by socket activity, libcurl's own timers (it shortens the wait) or `cancel`.
            _ = curl_multi_poll(multi, nil, 0, 10_000, nil)
            if isCancelled { break }
        }
        var code = 0
        _ = kc_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &code)
        outcome.status = code
        if isCancelled {
            outcome.cancelled = true
        } else if done && result != CURLE_OK {
            let detail = String(cString: handle.errorBuffer)
            outcome.error = .transport(code: Int(result.rawValue), message: detail.isEmpty ? Curl.message(result) : detail)
        }
        _ = curl_multi_remove_handle(multi, easy)
        return outcome
    }

    /// Body bytes from libcurl's write callback.
    fileprivate func received(_ bytes: UnsafeRawBufferPointer) -> Int {
        if isCancelled { return 0 }
        if status == 0 {
            var code = 0
            _ = kc_getinfo_long(handle.easy, CURLINFO_RESPONSE_CODE, &code)
            status = code
        }
        switch sink.receive(bytes, status: status) {
        case .consumed: return bytes.count
        case .pause:
            paused = true
            return kc_write_pause()
        case .abort: return 0
        }
    }

    fileprivate var shouldAbort: Bool { isCancelled }

    // MARK: options

    private func configure(_ lists: inout StringLists) -> KubeError? {
        let easy = handle.easy
        let settings = request.settings
        curl_easy_reset(easy)
        handle.errorBuffer[0] = 0
        var failed: (String, CURLcode)?
        func set(_ what: String, _ code: CURLcode) {
            if failed == nil && code != CURLE_OK { failed = (what, code) }
        }

        set("url", kc_setopt_str(easy, CURLOPT_URL, settings.baseURL + request.target))
        set("protocols", kc_setopt_str(easy, CURLOPT_PROTOCOLS_STR, "http,https"))
        set("nosignal", kc_setopt_long(easy, CURLOPT_NOSIGNAL, 1))
        set("errorbuffer", kc_setopt_ptr(easy, CURLOPT_ERRORBUFFER, handle.errorBuffer))
        set("connect timeout", kc_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, settings.connectTimeoutMs))
        if let timeout = request.timeoutMs { set("timeout", kc_setopt_long(easy, CURLOPT_TIMEOUT_MS, timeout)) }
        set("keepalive", kc_setopt_long(easy, CURLOPT_TCP_KEEPALIVE, 1))
        set("keepidle", kc_setopt_long(easy, CURLOPT_TCP_KEEPIDLE, 30))
        set("keepintvl", kc_setopt_long(easy, CURLOPT_TCP_KEEPINTVL, 10))
        set("accept-encoding", kc_setopt_str(easy, CURLOPT_ACCEPT_ENCODING, ""))
        set("user agent", kc_setopt_str(easy, CURLOPT_USERAGENT, settings.userAgent))
        // One connection per transfer anyway (each has its own multi handle), and pausing an HTTP/1.1 stream is
        // plain TCP back-pressure: HTTP/2 would bring nothing but framing.
        set("http version", kc_setopt_long(easy, CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_1_1)))

        switch request.method {
        case .get: set("get", kc_setopt_long(easy, CURLOPT_HTTPGET, 1))
        case .post: set("post", kc_setopt_long(easy, CURLOPT_POST, 1))
        case .put, .patch, .delete: set("method", kc_setopt_str(easy, CURLOPT_CUSTOMREQUEST, request.method.rawValue))
        }
        if let body = request.body {
            if request.method == .get || request.method == .delete {
                set("post", kc_setopt_long(easy, CURLOPT_POST, 1))
                set("method", kc_setopt_str(easy, CURLOPT_CUSTOMREQUEST, request.method.rawValue))
            }
            set("body size", kc_setopt_off(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count)))
            // COPYPOSTFIELDS copies `size` bytes at once.
            if body.isEmpty {
                set("body", kc_setopt_str(easy, CURLOPT_COPYPOSTFIELDS, ""))
            } else {
                body.withUnsafeBytes { raw in
                    set("body", kc_setopt_ptr(easy, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: raw.baseAddress)))
                }
            }
        }

        var headers = request.headers
        headers.append("Expect:")  // no 100-continue round trip for larger bodies
        if let host = settings.hostHeader { headers.append("Host: \(host)") }
        do {
            if let tokenFile = settings.tokenFile {
                headers.append("Authorization: Bearer \(try tokenFile.current())")
            } else if let token = settings.token {
                headers.append("Authorization: Bearer \(token)")
            }
        } catch {
            return error
        }
        set("headers", kc_setopt_ptr(easy, CURLOPT_HTTPHEADER, lists.make(headers)))
        if let connectTo = settings.connectTo {
            set("connect-to", kc_setopt_ptr(easy, CURLOPT_CONNECT_TO, lists.make([connectTo])))
        }

        // TLS
        if settings.insecure {
            set("verifypeer", kc_setopt_long(easy, CURLOPT_SSL_VERIFYPEER, 0))
            set("verifyhost", kc_setopt_long(easy, CURLOPT_SSL_VERIFYHOST, 0))
        }
        switch settings.certificateAuthority {
        case .data(let pem):
            set("capath", kc_setopt_str(easy, CURLOPT_CAPATH, nil))  // trust only this bundle
            set("ca", pem.withUnsafeBytes { kc_setopt_blob(easy, CURLOPT_CAINFO_BLOB, $0.baseAddress, $0.count) })
        case .file(let path):
            set("capath", kc_setopt_str(easy, CURLOPT_CAPATH, nil))
            set("ca", kc_setopt_str(easy, CURLOPT_CAINFO, path))
        case nil:
            break
        }
        switch settings.clientCertificate {
        case .data(let pem):
            set("cert", pem.withUnsafeBytes { kc_setopt_blob(easy, CURLOPT_SSLCERT_BLOB, $0.baseAddress, $0.count) })
            set("cert type", kc_setopt_str(easy, CURLOPT_SSLCERTTYPE, "PEM"))
        case .file(let path):
            set("cert", kc_setopt_str(easy, CURLOPT_SSLCERT, path))
            set("cert type", kc_setopt_str(easy, CURLOPT_SSLCERTTYPE, "PEM"))
        case nil:
            break
        }
        switch settings.clientKey {
        case .data(let pem):
            set("key", pem.withUnsafeBytes { kc_setopt_blob(easy, CURLOPT_SSLKEY_BLOB, $0.baseAddress, $0.count) })
            set("key type", kc_setopt_str(easy, CURLOPT_SSLKEYTYPE, "PEM"))
        case .file(let path):
            set("key", kc_setopt_str(easy, CURLOPT_SSLKEY, path))
            set("key type", kc_setopt_str(easy, CURLOPT_SSLKEYTYPE, "PEM"))
        case nil:
            break
        }

        // Callbacks; `self` outlives the transfer (the thread holds it).
        let me = Unmanaged.passUnretained(self).toOpaque()
        set("write", kc_setopt_write_function(easy) { data, size, count, context in
            guard let context else { return 0 }
            let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
            return transfer.received(UnsafeRawBufferPointer(start: data, count: size * count))
        })
        set("write data", kc_setopt_ptr(easy, CURLOPT_WRITEDATA, me))
        set("progress", kc_setopt_long(easy, CURLOPT_NOPROGRESS, 0))
        set("xferinfo", kc_setopt_xferinfo_function(easy) { context, _, _, _, _ in
            guard let context else { return 0 }
            return Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue().shouldAbort ? 1 : 0
        })
        set("xferinfo data", kc_setopt_ptr(easy, CURLOPT_XFERINFODATA, me))

        if let (what, code) = failed {
            return .configuration("libcurl refused option \(what): \(Curl.message(code))")
        }
        return nil
    }
}

/// curl_slists that must live until the transfer ends.
private struct StringLists {
    private var lists: [UnsafeMutablePointer<curl_slist>] = []

    mutating func make(_ strings: [String]) -> UnsafeMutablePointer<curl_slist>? {
        var list: UnsafeMutablePointer<curl_slist>?
        for string in strings { list = curl_slist_append(list, string) }  // copies each string
        if let list { lists.append(list) }
        return list
    }

    mutating func free() {
        for list in lists { curl_slist_free_all(list) }
        lists.removeAll()
    }
}

/// Detached POSIX threads for transfers.
enum TransferThread {
    private final class Body {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }

    static func spawn(_ run: @escaping @Sendable () -> Void) throws(KubeError) {
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        pthread_attr_setstacksize(&attributes, 1 << 20)
        let context = Unmanaged.passRetained(Body(run)).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, &attributes, { context in
            let body = Unmanaged<Body>.fromOpaque(context!).takeRetainedValue()
            body.run()
            return nil
        }, context)
        if rc != 0 {
            Unmanaged<Body>.fromOpaque(context).release()
            throw .transport(code: -1, message: "cannot start a transfer thread: \(String(cString: strerror(rc)))")
        }
    }
}

/// Collects a whole response body, for requests.
final class CollectSink: TransferSink, @unchecked Sendable {
    // @unchecked: the continuation is set before the transfer starts; everything else runs on its thread.
    private let limit: Int
    private var body: [UInt8] = []
    private var overflow = false
    private var continuation: CheckedContinuation<KubeResponse, any Error>?

    init(limit: Int) { self.limit = limit }

    func setContinuation(_ continuation: CheckedContinuation<KubeResponse, any Error>) {
        self.continuation = continuation
    }

    func receive(_ bytes: UnsafeRawBufferPointer, status: Int) -> SinkDecision {
        guard body.count + bytes.count <= limit else {
            overflow = true
            return .abort
        }
        body.append(contentsOf: bytes)
        return .consumed
    }

    func readyToResume() -> Bool { true }
    var hasBacklog: Bool { false }

    func finish(_ outcome: TransferOutcome) {
        let result: Result<KubeResponse, any Error>
        if outcome.cancelled {
            result = .failure(CancellationError())
        } else if overflow {
            result = .failure(KubeError.invalidResponse("response larger than \(limit) bytes"))
        } else if let error = outcome.error {
            result = .failure(error)
        } else {
            result = .success(KubeResponse(status: outcome.status, body: body))
        }
        continuation?.resume(with: result)
        continuation = nil
    }
}

/// A raw HTTP answer.
public struct KubeResponse: Sendable {
    public var status: Int
    public var body: [UInt8]

    public init(status: Int, body: [UInt8]) {
        self.status = status
        self.body = body
    }
}
