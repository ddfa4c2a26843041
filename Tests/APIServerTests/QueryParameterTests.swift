import APIServerService
import EdgeProtocol
import Testing
import TestSupport

/// Query parameters are read as kube-apiserver reads them: k8s.io/apimachinery `pkg/runtime/conversion.go`
/// (`Convert_Slice_string_To_bool`: "Only the absence of a value, a value of "false", or a value of "0" resolve to
/// false. Any other value (including empty string) resolves to true."; `Convert_Slice_string_To_int64`:
/// `strconv.ParseInt(str, 10, 64)` of the first value).
@Suite("query parameters like kube-apiserver")
struct QueryParameterTests {
    @Test("booleans", arguments: [
        ("watch=true", true), ("watch=True", true), ("watch=TRUE", true), ("watch=1", true), ("watch=t", true),
        ("watch=T", true), ("watch=yes", true), ("watch=", true),
        ("watch=false", false), ("watch=False", false), ("watch=FALSE", false), ("watch=0", false), ("", false),
        // The first value counts.
        ("watch=false&watch=true", false), ("watch=1&watch=0", true),
    ])
    func booleans(query: String, expected: Bool) {
        #expect(Self.query(query).bool("watch") == expected, "\(query)")
    }

    @Test("integers", arguments: [
        ("limit=5", Int64?.some(5)), ("limit=+5", 5), ("limit=-1", -1), ("limit=0", 0), ("limit=007", 7),
        ("limit=9223372036854775807", Int64.max), ("", nil), ("limit=3&limit=9", 3),
    ])
    func integers(query: String, expected: Int64?) throws {
        #expect(try Self.query(query).int64("limit") == expected, "\(query)")
    }

    @Test("malformed integers are a 400 with strconv's message", arguments: [
        ("limit=abc", #"strconv.ParseInt: parsing "abc": invalid syntax"#),
        ("limit=", #"strconv.ParseInt: parsing "": invalid syntax"#),
        ("limit=1.5", #"strconv.ParseInt: parsing "1.5": invalid syntax"#),
        ("limit=0x10", #"strconv.ParseInt: parsing "0x10": invalid syntax"#),
        ("limit=--1", #"strconv.ParseInt: parsing "--1": invalid syntax"#),
        ("limit=9223372036854775808", #"strconv.ParseInt: parsing "9223372036854775808": value out of range"#),
    ])
    func malformedIntegers(query: String, message: String) {
        #expect(throws: APIError.self) { try Self.query(query).int64("limit") }
        do {
            _ = try Self.query(query).int64("limit")
        } catch {
            #expect(error.code == 400 && error.reason == "BadRequest")
            #expect(error.message == message)
        }
    }

    static func query(_ text: String) -> Query {
        Query(text.split(separator: "&").map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (String(parts[0]), parts.count > 1 ? String(parts[1]) : "")
        })
    }

    @Test("watch=True (as the official Python client sends it) streams events; limit=abc is refused")
    func overHTTP() async throws {
        let server = try await APIServerProcess()
        defer { Task { await server.stop() } }
        _ = try await server.ok("create", "configmap", "watched", "--from-literal=v=1")
        let watched = try await http(
            "GET", server.insecureURL + "/api/v1/namespaces/default/configmaps?watch=True&timeoutSeconds=1")
        #expect(watched.status == 200)
        let first = try JSONValue(parsing: Array((watched.body.split(separator: "\n").first ?? "").utf8))
        #expect(first["type"]?.stringValue == "ADDED")
        #expect(first.string(at: "object.metadata.name") == "watched")
        let refused = try await http("GET", server.insecureURL + "/api/v1/namespaces/default/configmaps?limit=abc")
        #expect(refused.status == 400)
        #expect(refused.body.contains(#"strconv.ParseInt: parsing \"abc\": invalid syntax"#))
    }
}
