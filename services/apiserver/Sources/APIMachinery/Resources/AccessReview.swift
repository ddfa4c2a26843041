import EdgeProtocol

/// `authorization.k8s.io/v1` SelfSubjectAccessReview and SelfSubjectRulesReview, as `kubectl auth can-i` asks them.
/// This server has one kind of identity: the administrator (the admin certificate, the admin token, or the plain
/// loopback port), so every review answers allowed, with the reason, and the rules say `*`.
public enum AccessReview {
    public static let reason = "every identity this API server accepts (admin certificate, admin token, loopback port) is an administrator"

    /// The review as created: the spec the client sent and the server's status.
    public static func answer(kind: String, _ review: JSONValue) -> Result<JSONValue, FieldError> {
        var answer = review
        answer[member: "apiVersion"] = "authorization.k8s.io/v1"
        answer[member: "kind"] = .string(kind)
        if answer["metadata"] == nil { answer[member: "metadata"] = .object([]) }
        answer[path: ["metadata", "creationTimestamp"]] = .null
        switch kind {
        case "SelfSubjectAccessReview":
            let attributes = review[path: ["spec", "resourceAttributes"]]
            let nonResource = review[path: ["spec", "nonResourceAttributes"]]
            guard (attributes == nil) != (nonResource == nil) else {
                return .failure(FieldError(.invalid, field: "spec.resourceAttributes", badValue: .omitted,
                                           detail: "exactly one of nonResourceAttributes or resourceAttributes must be specified"))
            }
            answer[member: "status"] = .object([("allowed", true), ("reason", .string(reason))])
        case "SelfSubjectRulesReview":
            guard let namespace = review.string(at: "spec.namespace"), !namespace.isEmpty else {
                return .failure(FieldError(.required, field: "spec.namespace", badValue: .omitted, detail: ""))
            }
            _ = namespace
            answer[member: "status"] = [
                "resourceRules": [["verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]]],
                "nonResourceRules": [["verbs": ["*"], "nonResourceURLs": ["*"]]],
                "incomplete": false,
            ]
        default:
            return .failure(FieldError(.invalid, field: "kind", badValue: .value(.string(kind)), detail: "not a review"))
        }
        return .success(answer)
    }
}
