import EdgeProtocol

/// A Kubernetes `Status` (the body of every API error, and the object of a watch `ERROR` event).
public struct KubeStatus: Sendable, Hashable, CustomStringConvertible {
    /// The HTTP status code (`status.code`, or the response's code when the body did not say).
    public var code: Int
    /// `Failure` or `Success`.
    public var status: String
    /// Machine-readable: `NotFound`, `AlreadyExists`, `Conflict`, `Expired`, `Gone`, `Invalid`, `Forbidden`, ...
    public var reason: String
    public var message: String
    /// `details` (name, group, kind, causes, retryAfterSeconds) as sent, when present.
    public var details: JSONValue?

    public init(code: Int, status: String = "Failure", reason: String, message: String, details: JSONValue? = nil) {
        self.code = code
        self.status = status
        self.reason = reason
        self.message = message
        self.details = details
    }

    /// Reads a `Status` object; `httpCode` fills in a missing `code`.
    public init(_ object: JSONValue, httpCode: Int) {
        var code = object["code"]?.int64Value.map { Int($0) } ?? 0
        if code == 0 { code = httpCode }
        self.init(
            code: code,
            status: object["status"]?.stringValue ?? "Failure",
            reason: object["reason"]?.stringValue ?? Self.defaultReason(for: code),
            message: object["message"]?.stringValue ?? "",
            details: object["details"])
    }

    /// The status of an error response: its `Status` body when there is one, else one made from the code and text.
    public init(httpCode: Int, body: [UInt8]) {
        if let object = try? JSONValue(parsing: body), object["kind"]?.stringValue == "Status" {
            self.init(object, httpCode: httpCode)
        } else {
            var text = String(decoding: body.prefix(512), as: UTF8.self)
            while text.last?.isWhitespace == true { text.removeLast() }
            self.init(code: httpCode, reason: Self.defaultReason(for: httpCode),
                      message: text.isEmpty ? "HTTP \(httpCode)" : text)
        }
    }

    /// What the API server says for codes that came without a reason.
    public static func defaultReason(for code: Int) -> String {
        switch code {
        case 400: "BadRequest"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "NotFound"
        case 405: "MethodNotAllowed"
        case 406: "NotAcceptable"
        case 409: "Conflict"
        case 410: "Gone"
        case 413: "RequestEntityTooLarge"
        case 415: "UnsupportedMediaType"
        case 422: "Invalid"
        case 429: "TooManyRequests"
        case 500: "InternalError"
        case 503: "ServiceUnavailable"
        case 504: "Timeout"
        default: ""
        }
    }

    public var description: String { "\(code) \(reason): \(message)" }
}

/// Everything a `KubeClient` call can fail with. Branch on ``httpCode`` (404, 409, 410...) or the helpers.
public enum KubeError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The API server refused the request (a non-2xx answer, or a watch `ERROR` event), other than 410.
    case api(KubeStatus)
    /// 410 Gone / Expired: the resourceVersion or continue token is too old (compacted). List again.
    case gone(KubeStatus)
    /// No usable HTTP answer: connecting, TLS, a timeout, a dropped connection. `code` is libcurl's `CURLcode`.
    case transport(code: Int, message: String)
    /// The server's answer could not be understood (not JSON, not a list, a watch line that is not an event).
    case invalidResponse(String)
    /// The call itself is wrong (an object without `metadata.name` for `update`, an unserialisable body).
    case invalidRequest(String)
    /// A kubeconfig, certificate, token or server setting is missing or malformed.
    case configuration(String)

    /// `.gone` for 410, `.api` for the rest.
    public static func status(_ status: KubeStatus) -> KubeError {
        status.code == 410 ? .gone(status) : .api(status)
    }

    /// The decoded `Status` of an API error.
    public var status: KubeStatus? {
        switch self {
        case .api(let s), .gone(let s): s
        default: nil
        }
    }

    /// The HTTP code of an API error (410 for `.gone`).
    public var httpCode: Int? { status?.code }
    /// The Kubernetes reason of an API error (`NotFound`, `AlreadyExists`, `Conflict`, `Expired`...).
    public var reason: String? { status?.reason }

    public var isNotFound: Bool { httpCode == 404 }
    /// 409: `AlreadyExists` on create, `Conflict` on a stale update or a failed precondition.
    public var isConflict: Bool { httpCode == 409 }
    public var isAlreadyExists: Bool { httpCode == 409 && reason == "AlreadyExists" }
    public var isGone: Bool {
        if case .gone = self { return true }
        return false
    }
    public var isUnauthorized: Bool { httpCode == 401 }
    public var isForbidden: Bool { httpCode == 403 }
    /// A client-side timeout (connect or request), or the server's 504.
    public var isTimeout: Bool {
        if case .transport(let code, _) = self { return code == 28 }  // CURLE_OPERATION_TIMEDOUT
        return httpCode == 504
    }

    public var description: String {
        switch self {
        case .api(let s): "Kubernetes API error \(s)"
        case .gone(let s): "resource version expired (\(s))"
        case .transport(let code, let message): "transport error (curl \(code)): \(message)"
        case .invalidResponse(let m): "invalid response: \(m)"
        case .invalidRequest(let m): "invalid request: \(m)"
        case .configuration(let m): "configuration: \(m)"
        }
    }
}
