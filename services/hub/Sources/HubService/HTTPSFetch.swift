import HTTPFetch
import LinkSecurity
import NIOSSL

/// hub's certificate requests: a GET with a body (KubeEdge's `/edge.crt`), over HTTPS.
public enum HTTPSFetch {
    public struct Response: Sendable {
        public let status: Int
        public let body: [UInt8]
    }

    public static func get(
        host: String, port: Int, path: String, headers: [(String, String)] = [], body: [UInt8] = [],
        tls: TLSConfiguration, timeout: Duration = .seconds(30), maxBody: Int = 1 << 20
    ) async throws -> Response {
        let response = try await HTTPFetch.request(method: "GET", host: host, port: port, path: path, headers: headers,
                                                   body: body, tls: tls, timeout: timeout, maxBody: maxBody)
        return Response(status: response.status, body: response.body)
    }
}
