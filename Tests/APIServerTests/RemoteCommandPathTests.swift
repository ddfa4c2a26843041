@testable import APIServerService
import EdgeProtocol
import Testing

/// The exec/attach endpoint's own reading of its path and query (kubectl sends `command` once per argument).
@Suite("exec and attach paths")
struct RemoteCommandPathTests {
    @Test("targets, repeated commands, escapes, and malformed pairs dropped")
    func paths() {
        #expect(RemoteCommandEndpoint.target("/api/v1/namespaces/shop/pods/web/exec?command=ls")?.pod == "web")
        #expect(RemoteCommandEndpoint.target("/api/v1/namespaces/shop/pods/web/attach")?.kind == .attach)
        #expect(RemoteCommandEndpoint.target("/api/v1/namespaces/shop/pods/web/log") == nil)
        #expect(RemoteCommandEndpoint.target("/api/v1/namespaces/shop/pods/web") == nil)
        let query = RemoteCommandEndpoint.query("/x?command=sh&command=-c&command=echo+a%26b&stdin=true&=&&tty")
        #expect(query.values("command") == ["sh", "-c", "echo a&b"])
        #expect(query.value("stdin") == "true" && query.value("tty") == "")
        #expect(query.parameters.count == 5)
    }

    @Test("a request head asking for SPDY/3.1: read as kube-apiserver reads it; anything else is left to HTTP")
    func spdyUpgradeHeads() throws {
        let head = try #require(SPDYUpgradeHead(
            "POST /api/v1/namespaces/d/pods/p/portforward HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
                + "Upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n"
                + "X-Stream-Protocol-Version: v3.channel.k8s.io, channel.k8s.io\r\nAuthorization: Bearer t"))
        #expect(head.isSPDYUpgrade && head.method == "POST" && head.headers["authorization"] == "Bearer t")
        #expect(head.values("x-stream-protocol-version") == ["v4.channel.k8s.io", "v3.channel.k8s.io", "channel.k8s.io"])
        #expect(RemoteCommandEndpoint.target(head.path)?.kind == .portforward)
        let websocket = try #require(SPDYUpgradeHead("GET /x HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket"))
        #expect(!websocket.isSPDYUpgrade)
        #expect(SPDYUpgradeHead("not http at all") == nil)
        #expect(SPDYUpgradeHead("GET / HTTP/1.1\r\nno colon here") == nil)
    }
}
