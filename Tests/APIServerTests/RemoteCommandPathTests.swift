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
}
