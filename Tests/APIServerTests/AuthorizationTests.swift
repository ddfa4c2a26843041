import EdgeProtocol
import Foundation
import Testing
import TestSupport

/// `kubectl auth can-i` against the server: SelfSubjectAccessReview and SelfSubjectRulesReview
/// (authorization.k8s.io/v1), answered for the one kind of identity this server has, the administrator.
@Suite("authorization reviews")
struct AuthorizationTests {
    @Test("kubectl auth can-i answers yes, --list shows the rules, a malformed review is 422; reviews are not stored")
    func canI() async throws {
        let server = try await APIServerProcess()
        defer { Task { await server.stop() } }
        #expect(try await server.ok("auth", "can-i", "create", "pods").trimmingCharacters(in: .whitespacesAndNewlines) == "yes")
        #expect(try await server.ok("auth", "can-i", "delete", "nodes").trimmingCharacters(in: .whitespacesAndNewlines) == "yes")
        #expect(try await server.ok("auth", "can-i", "get", "/healthz").trimmingCharacters(in: .whitespacesAndNewlines) == "yes")
        let list = try await server.ok("auth", "can-i", "--list", "--namespace", "default")
        #expect(list.contains("*.*") && list.contains("[*]"), "\(list)")

        let review = try await http("POST", server.insecureURL + "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                                    body: #"{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","spec":{"resourceAttributes":{"verb":"list","resource":"secrets","namespace":"kube-system"}}}"#)
        #expect(review.status == 201)
        let answer = try JSONValue(parsing: Array(review.body.utf8))
        #expect(answer[path: ["status", "allowed"]] == .bool(true))
        #expect(answer[path: ["spec", "resourceAttributes", "resource"]] == "secrets")
        let malformed = try await http("POST", server.insecureURL + "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                                       body: #"{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","spec":{}}"#)
        #expect(malformed.status == 422, "\(malformed.body)")
        let listed = try await http("GET", server.insecureURL + "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews")
        #expect(listed.status == 405)
        let discovery = try await server.ok("api-resources", "--api-group", "authorization.k8s.io")
        #expect(discovery.contains("selfsubjectaccessreviews") && discovery.contains("selfsubjectrulesreviews"))
    }
}
