// Kubernetes `Status` errors: every failed request answers with one (kubectl prints `Error from server (<reason>):
// <message>` from it).

import EdgeProtocol

/// A failed API request: HTTP code, Kubernetes reason and message, and optional details.
public struct APIError: Error, Sendable, CustomStringConvertible {
    public var code: Int
    public var reason: String
    public var message: String
    public var name: String?
    public var group: String?
    public var kind: String?
    /// Field causes of an Invalid error: (field, reason, message).
    public var causes: [(field: String, reason: String, message: String)] = []
    /// Seconds a client should wait (429/503).
    public var retryAfterSeconds: Int?

    public init(code: Int, reason: String, message: String, name: String? = nil, group: String? = nil,
                kind: String? = nil) {
        self.code = code
        self.reason = reason
        self.message = message
        self.name = name
        self.group = group
        self.kind = kind
    }

    /// A node's answer to a stream session (logs, exec, port-forward), as the API server gives it to its client.
    public init(_ failure: StreamFailure) {
        self.init(code: failure.code, reason: failure.reason, message: failure.message)
    }

    public var description: String { "\(code) \(reason): \(message)" }

    /// The `Status` object's JSON.
    public var status: JSONValue {
        var details: JSONValue = .object([])
        if let name { details[member: "name"] = .string(name) }
        if let group { details[member: "group"] = .string(group) }
        if let kind { details[member: "kind"] = .string(kind) }
        if !causes.isEmpty {
            details[member: "causes"] = .array(causes.map { cause in
                ["reason": .string(cause.reason), "message": .string(cause.message), "field": .string(cause.field)]
            })
        }
        if let retryAfterSeconds { details[member: "retryAfterSeconds"] = .integer(retryAfterSeconds) }
        var status: JSONValue = [
            "kind": "Status", "apiVersion": "v1", "metadata": .object([]), "status": "Failure",
            "message": .string(message), "reason": .string(reason),
        ]
        if details.objectMembers?.isEmpty == false { status[member: "details"] = details }
        status[member: "code"] = .integer(code)
        return status
    }

    // MARK: The usual ones, worded as kube-apiserver words them.

    static func notFound(_ info: ResourceInfo, _ name: String) -> APIError {
        APIError(code: 404, reason: "NotFound", message: "\(info.qualifiedName) \"\(name)\" not found",
                 name: name, group: info.group, kind: info.plural)
    }

    static func alreadyExists(_ info: ResourceInfo, _ name: String) -> APIError {
        APIError(code: 409, reason: "AlreadyExists", message: "\(info.qualifiedName) \"\(name)\" already exists",
                 name: name, group: info.group, kind: info.plural)
    }

    static func conflict(_ info: ResourceInfo, _ name: String) -> APIError {
        APIError(code: 409, reason: "Conflict", message: """
            Operation cannot be fulfilled on \(info.qualifiedName) "\(name)": the object has been modified; please \
            apply your changes to the latest version and try again
            """, name: name, group: info.group, kind: info.plural)
    }

    /// 422 with field causes: `<Kind>[.group] "<name>" is invalid: <field>: <detail>[, ...]`.
    static func invalid(_ info: ResourceInfo, _ name: String, _ errors: [FieldError]) -> APIError {
        let qualifiedKind = info.group.isEmpty ? info.kind : "\(info.kind).\(info.group)"
        let list = errors.map(\.description)
        let joined = list.count == 1 ? list[0] : "[" + list.joined(separator: ", ") + "]"
        var error = APIError(code: 422, reason: "Invalid", message: "\(qualifiedKind) \"\(name)\" is invalid: \(joined)",
                             name: name, group: info.group, kind: info.kind)
        error.causes = errors.map { ($0.field, $0.type.rawValue, $0.errorBody) }
        return error
    }

    static func badRequest(_ message: String) -> APIError {
        APIError(code: 400, reason: "BadRequest", message: message)
    }

    static func methodNotAllowed(_ message: String) -> APIError {
        APIError(code: 405, reason: "MethodNotAllowed", message: message)
    }

    static func unsupportedMediaType(_ contentType: String) -> APIError {
        APIError(code: 415, reason: "UnsupportedMediaType", message: "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json (got \(contentType))")
    }

    static func gone(_ message: String) -> APIError {
        APIError(code: 410, reason: "Expired", message: message)
    }

    static func unauthorized() -> APIError {
        APIError(code: 401, reason: "Unauthorized", message: "Unauthorized")
    }

    static func tooLarge(_ limit: Int) -> APIError {
        APIError(code: 413, reason: "RequestEntityTooLarge", message: "the request body is larger than \(limit) bytes")
    }

    static func internalError(_ message: String) -> APIError {
        APIError(code: 500, reason: "InternalError", message: "Internal error occurred: \(message)")
    }

    static func pathNotFound() -> APIError {
        APIError(code: 404, reason: "NotFound", message: "the server could not find the requested resource")
    }
}
