import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import TestSupport

/// A raw HTTP request to the plain loopback port (for cases kubectl cannot make).
func http(_ method: String, _ url: String, body: String? = nil, contentType: String = "application/json")
    async throws -> (status: Int, body: String)
{
    var request = URLRequest(url: URL(string: url)!)
    request.httpMethod = method
    request.timeoutInterval = 30
    if let body {
        request.httpBody = Data(body.utf8)
        request.setValue(contentType, forHTTPHeaderField: "Content-Type")
    }
    let (data, response) = try await URLSession.shared.data(for: request)
    return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
}

/// Concurrent writers creating 512-byte configmaps through the plain port until one is refused (the server went away)
/// or each has written `each`: the names answered 201, and the task to await.
func burstOfCreates(_ server: APIServerProcess, writers: Int, each: Int) -> (Watched<Set<String>>, Task<Void, Never>) {
    let acknowledged = Watched<Set<String>>([])
    let task = Task {
        await withTaskGroup(of: Void.self) { group in
            for writer in 0..<writers {
                group.addTask {
                    for index in 0..<each {
                        let name = "w\(writer)-\(index)"
                        let body = #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"\#(name)"},"data":{"payload":"\#(String(repeating: "x", count: 512))"}}"#
                        guard let result = try? await http("POST", server.insecureURL + "/api/v1/namespaces/default/configmaps", body: body),
                              result.status == 201 else { return }
                        acknowledged.update { $0.insert(name) }
                    }
                }
            }
        }
    }
    return (acknowledged, task)
}
