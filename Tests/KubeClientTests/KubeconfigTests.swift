import EdgeProtocol
import Foundation
import Testing

@testable import KubeClient

@Suite("Kubeconfig and addressing")
struct KubeconfigTests {
    static let yaml = """
        apiVersion: v1
        kind: Config
        current-context: edge
        clusters:
        - name: prod
          cluster:
            server: https://10.0.0.1:6443
            certificate-authority-data: \(Self.b64("CA-PEM"))
            tls-server-name: kubernetes.default.svc
        - name: lab
          cluster:
            server: https://lab.example:8443/k8s/clusters/c-1/
            insecure-skip-tls-verify: true
        contexts:
        - name: edge
          context:
            cluster: prod
            user: admin
            namespace: kubeedge
        - name: lab
          context:
            cluster: lab
            user: robot
        users:
        - name: admin
          user:
            client-certificate-data: \(Self.b64("CERT-PEM"))
            client-key-data: \(Self.b64("KEY-PEM"))
        - name: robot
          user:
            token: abc.def
        """

    static func b64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }

    @Test("inline data: current context, certificate data, tls-server-name, namespace; other contexts by name")
    func dataVariant() throws {
        let config = try Kubeconfig(yaml: Self.yaml)
        #expect(config.currentContext == "edge")
        #expect(config.clusters.count == 2 && config.users.count == 2 && config.contexts.count == 2)

        let edge = try config.configuration()
        #expect(edge.server == "https://10.0.0.1:6443")
        #expect(edge.certificateAuthority == .data(Array("CA-PEM".utf8)))
        #expect(edge.clientCertificate == .data(Array("CERT-PEM".utf8)))
        #expect(edge.clientKey == .data(Array("KEY-PEM".utf8)))
        #expect(edge.tlsServerName == "kubernetes.default.svc")
        #expect(edge.namespace == "kubeedge")
        #expect(!edge.insecureSkipTLSVerify)
        #expect(edge.token == nil)

        let lab = try config.configuration(context: "lab")
        #expect(lab.server == "https://lab.example:8443/k8s/clusters/c-1/")
        #expect(lab.insecureSkipTLSVerify)
        #expect(lab.token == "abc.def")
        #expect(lab.certificateAuthority == nil && lab.clientCertificate == nil)
        #expect(lab.namespace == nil)
        _ = try KubeClient(lab)  // the server URL (with a path prefix) is accepted

        #expect(throws: KubeError.self) { try config.configuration(context: "nope") }
    }

    @Test("malformed kubeconfigs are reported, not guessed")
    func errors() {
        #expect(throws: KubeError.self) { try Kubeconfig(yaml: "clusters: [") }
        #expect(throws: KubeError.self) { try Kubeconfig(yaml: "- a\n- b\n") }
        let badBase64 = """
            clusters:
            - name: c
              cluster: {server: "https://x", certificate-authority-data: "not*base64"}
            """
        #expect(throws: KubeError.self) { try Kubeconfig(yaml: badBase64) }
        let danglingUser = """
            current-context: x
            clusters: [{name: c, cluster: {server: "https://x"}}]
            contexts: [{name: x, context: {cluster: c, user: ghost}}]
            """
        #expect(throws: KubeError.self) { try Kubeconfig(yaml: danglingUser).configuration() }
        let noCurrent = """
            clusters: [{name: c, cluster: {server: "https://x"}}]
            contexts: [{name: x, context: {cluster: c}}]
            """
        #expect(throws: KubeError.self) { try Kubeconfig(yaml: noCurrent).configuration() }
        #expect(throws: KubeError.self) { try KubeClient(KubeClientConfiguration(server: "ftp://x")) }
    }

    @Test("file variant: paths relative to the kubeconfig's directory, token file")
    func fileVariant() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kubeconfig-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("pki"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try """
            current-context: c
            clusters:
            - name: k
              cluster:
                server: https://127.0.0.1:6443
                certificate-authority: pki/ca.crt
            users:
            - name: u
              user:
                client-certificate: pki/client.crt
                client-key: /abs/client.key
                tokenFile: token
            contexts:
            - name: c
              context: {cluster: k, user: u, namespace: ns1}
            """.write(to: dir.appendingPathComponent("config"), atomically: true, encoding: .utf8)
        let config = try Kubeconfig.load(path: dir.appendingPathComponent("config").path)
        let resolved = try config.configuration()
        #expect(resolved.certificateAuthority == .file(dir.path + "/pki/ca.crt"))
        #expect(resolved.clientCertificate == .file(dir.path + "/pki/client.crt"))
        #expect(resolved.clientKey == .file("/abs/client.key"))
        #expect(resolved.tokenFile == dir.path + "/token")
        #expect(resolved.namespace == "ns1")
        #expect(throws: KubeError.self) { try Kubeconfig.load(path: dir.appendingPathComponent("missing").path) }
    }

    @Test("in-cluster configuration from explicit values")
    func inCluster() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sa-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try "tok\n".write(to: dir.appendingPathComponent("token"), atomically: true, encoding: .utf8)
        try "kubeedge\n".write(to: dir.appendingPathComponent("namespace"), atomically: true, encoding: .utf8)
        let config = try KubeClientConfiguration.inCluster(
            host: "fd00::1", port: 443, tokenFile: dir.path + "/token", caFile: dir.path + "/ca.crt",
            namespaceFile: dir.path + "/namespace")
        #expect(config.server == "https://[fd00::1]:443")
        #expect(config.tokenFile == dir.path + "/token")
        #expect(config.certificateAuthority == nil)  // no ca.crt there
        #expect(config.namespace == "kubeedge")
    }

    @Test("resource paths for core and named groups")
    func paths() {
        #expect(GroupVersionResource.pods.path(namespace: "default", name: "p1")
            == "/api/v1/namespaces/default/pods/p1")
        #expect(GroupVersionResource.pods.path() == "/api/v1/pods")
        #expect(GroupVersionResource.nodes.path(name: "edge-1", subresource: "status") == "/api/v1/nodes/edge-1/status")
        #expect(GroupVersionResource.devices.path(namespace: "ns") == "/apis/devices.kubeedge.io/v1beta1/namespaces/ns/devices")
        let deploy = GroupVersionResource(apiVersion: "apps/v1", resource: "deployments")
        #expect(deploy.group == "apps" && deploy.version == "v1" && deploy.apiVersion == "apps/v1")
        #expect(deploy.path(namespace: "a b", name: "x/y") == "/apis/apps/v1/namespaces/a%20b/deployments/x%2Fy")
        #expect(GroupVersionResource(apiVersion: "v1", resource: "pods") == .pods)
        #expect(PercentEncoding.query([("labelSelector", "app=x,tier in (a,b)")])
            == "labelSelector=app%3Dx%2Ctier%20in%20%28a%2Cb%29")
    }

    @Test("server URLs, base64")
    func helpers() throws {
        let v6 = try ServerURL(parsing: "https://[::1]:6443/prefix/")
        #expect(v6.host == "::1" && v6.port == 6443 && v6.basePath == "/prefix")
        #expect(v6.base(replacingHost: "kube.test") == "https://kube.test:6443/prefix")
        #expect(try ServerURL(parsing: "http://host").effectivePort == 80)
        #expect(throws: KubeError.self) { try ServerURL(parsing: "https://host:99999") }
        #expect(Base64.decode("aGVsbG8=") == Array("hello".utf8))
        #expect(Base64.decode("aGVs\nbG8") == Array("hello".utf8))
        #expect(Base64.decode("a$b") == nil)
    }

    @Test("the watch framer splits JSON values across arbitrary chunk boundaries")
    func framer() throws {
        let events = [
            #"{"type":"ADDED","object":{"metadata":{"name":"a}{\"b"}}}"#,
            #"{"type":"MODIFIED","object":{"data":{"k":"[{\\"}}}"#,
            #"{"type":"DELETED","object":{"list":[1,{"x":[]}]}}"#,
        ]
        let stream = Array((events.joined(separator: "\n") + "\n").utf8)
        for chunkSize in [1, 2, 7, 64, stream.count] {
            var framer = JSONFramer(maxValueBytes: 1 << 20)
            var out: [String] = []
            var offset = 0
            while offset < stream.count {
                let end = min(stream.count, offset + chunkSize)
                try stream[offset..<end].withUnsafeBytes { raw in
                    try framer.feed(raw) { value in
                        out.append(String(decoding: value, as: UTF8.self))
                        return true
                    }
                }
                offset = end
            }
            #expect(out == events, "chunk size \(chunkSize)")
            #expect(!framer.hasPartialValue)
        }
        var framer = JSONFramer(maxValueBytes: 16)
        #expect(throws: KubeError.self) {
            try Array(#"{"type":"ADDED","object":{"long":"xxxxxxxxxxxxxxxxxxxx"#.utf8).withUnsafeBytes { raw in
                try framer.feed(raw) { _ in true }
            }
        }
    }
}
