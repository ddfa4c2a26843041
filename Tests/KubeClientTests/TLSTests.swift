import EdgeProtocol
import Foundation
import Testing

@testable import KubeClient

@Suite("TLS", .timeLimit(.minutes(1)))
struct TLSTests {
    @Test("client certificates: EC key in memory from kubeconfig data, RSA key (PKCS#1 and PKCS#8) from files and memory")
    func clientCertificates() async throws {
        let stub = try await StubServer.start(.tls)
        func b64(_ name: String) throws -> String { try Data(stub.pem(name)).base64EncodedString() }

        // kubeconfig with inline data, EC P-256 key ("BEGIN EC PRIVATE KEY").
        let inline = try Kubeconfig(yaml: """
            current-context: stub
            clusters: [{name: s, cluster: {server: "\(stub.url)", certificate-authority-data: "\(try b64("ca.crt"))"}}]
            users:
            - name: ec
              user: {client-certificate-data: "\(try b64("client-ec.crt"))", client-key-data: "\(try b64("client-ec.key"))"}
            contexts: [{name: stub, context: {cluster: s, user: ec}}]
            """)
        let ec = try KubeClient(kubeconfig: inline)
        _ = try await ec.create(.configMaps, namespace: "tls", ["metadata": ["name": "hello"]])
        #expect(try await ec.get(.configMaps, namespace: "tls", name: "hello").name == "hello")

        // kubeconfig file with relative paths, RSA key ("BEGIN RSA PRIVATE KEY").
        try """
            current-context: stub
            clusters: [{name: s, cluster: {server: "\(stub.url)", certificate-authority: ca.crt}}]
            users: [{name: rsa, user: {client-certificate: client-rsa.crt, client-key: client-rsa.key}}]
            contexts: [{name: stub, context: {cluster: s, user: rsa}}]
            """.write(toFile: stub.path("kubeconfig"), atomically: true, encoding: .utf8)
        let rsa = try KubeClient(kubeconfig: try Kubeconfig.load(path: stub.path("kubeconfig")))
        #expect(try await rsa.list(.configMaps, namespace: "tls").items.count == 1)

        // PKCS#8 RSA key in memory.
        let pkcs8 = try KubeClient(KubeClientConfiguration(
            server: stub.url, certificateAuthority: .data(try stub.pem("ca.crt")),
            clientCertificate: .data(try stub.pem("client-rsa.crt")), clientKey: .data(try stub.pem("client-rsa.pkcs8.key"))))
        _ = try await pkcs8.list(.configMaps)

        let names = (try await stub.state()["requests"]?.arrayValue ?? []).compactMap { $0["clientCN"]?.stringValue }
        #expect(names.prefix(4) == ["edge-controller", "edge-controller", "device-controller", "device-controller"])
    }

    @Test("refused: no client certificate, one from another CA, a server the CA did not sign")
    func refusals() async throws {
        let stub = try await StubServer.start(.tls)
        let ca = try stub.pem("ca.crt")

        let noCert = try KubeClient(KubeClientConfiguration(server: stub.url, certificateAuthority: .data(ca)))
        await expectTransportError { try await noCert.list(.configMaps) }

        let rogue = try KubeClient(KubeClientConfiguration(
            server: stub.url, certificateAuthority: .data(ca), clientCertificate: .file(stub.path("client-rogue.crt")),
            clientKey: .file(stub.path("client-rogue.pkcs8.key"))))
        await expectTransportError { try await rogue.list(.configMaps) }

        let wrongCA = try KubeClient(KubeClientConfiguration(
            server: stub.url, certificateAuthority: .data(try stub.pem("other-ca.crt")),
            clientCertificate: .data(try stub.pem("client-ec.crt")), clientKey: .data(try stub.pem("client-ec.key"))))
        await expectTransportError { try await wrongCA.list(.configMaps) }

        // The server counted the two handshakes it refused (the third failed on our side).
        #expect(try await stub.state()["tlsFailures"]?.int64Value ?? 0 >= 2)

        // Without a CA but with insecure-skip-tls-verify it goes through.
        let insecure = try KubeClient(KubeClientConfiguration(
            server: stub.url, insecureSkipTLSVerify: true, clientCertificate: .data(try stub.pem("client-ec.crt")),
            clientKey: .data(try stub.pem("client-ec.key"))))
        _ = try await insecure.list(.configMaps)
    }

    @Test("tls-server-name: verified against that name while connecting to the URL's host")
    func serverName() async throws {
        let stub = try await StubServer.start(.tls)
        func client(server: String, name: String?) throws -> KubeClient {
            try KubeClient(KubeClientConfiguration(
                server: server, certificateAuthority: .data(try stub.pem("ca.crt")), tlsServerName: name,
                clientCertificate: .data(try stub.pem("client-ec.crt")), clientKey: .data(try stub.pem("client-ec.key"))))
        }
        // "localhost" is not in the certificate; "kube-stub.test" is.
        let viaLocalhost = "https://localhost:\(stub.port)"
        await expectTransportError { try await client(server: viaLocalhost, name: nil).list(.configMaps) }
        _ = try await client(server: viaLocalhost, name: "kube-stub.test").list(.configMaps)
        await expectTransportError { try await client(server: stub.url, name: "wrong.test").list(.configMaps) }
        let hosts = (try await stub.state()["requests"]?.arrayValue ?? []).compactMap { $0["host"]?.stringValue }
        #expect(hosts.first == "localhost:\(stub.port)")  // the Host header names the real server
    }
}

func expectTransportError(_ body: () async throws -> some Any, sourceLocation: SourceLocation = #_sourceLocation) async {
    do {
        _ = try await body()
        Issue.record("expected a transport error", sourceLocation: sourceLocation)
    } catch let error as KubeError {
        guard case .transport = error else {
            Issue.record("expected a transport error, got \(error)", sourceLocation: sourceLocation)
            return
        }
    } catch {
        Issue.record("expected a KubeError, got \(error)", sourceLocation: sourceLocation)
    }
}
