import EdgedService
import EdgeProtocol
import Testing

/// kubelet's prober rules without a runtime.
@Suite("probe rules")
struct ProbeRulesTests {
    static func container(_ probes: String) throws -> JSONValue {
        try JSONValue(parsing: Array(#"{"name":"c","ports":[{"name":"http","containerPort":8080}],\#(probes)}"#.utf8))
    }

    @Test("probe specs: handlers, named ports, kube's defaults")
    func specs() throws {
        let http = try #require(ProbeSpec(try JSONValue(parsing: Array(#"{"httpGet":{"port":"http","path":"/h","httpHeaders":[{"name":"X","value":"1"}]},"initialDelaySeconds":2}"#.utf8))))
        #expect(http.action == .httpGet(scheme: "HTTP", host: nil, port: .name("http"), path: "/h", headers: ["X": "1"]))
        #expect((http.initialDelaySeconds, http.periodSeconds, http.timeoutSeconds, http.successThreshold, http.failureThreshold)
            == (2, 10, 1, 1, 3))
        #expect(ProbeSpec(try JSONValue(parsing: Array(#"{"tcpSocket":{"port":80}}"#.utf8)))?.action == .tcpSocket(host: nil, port: .number(80)))
        #expect(ProbeSpec(try JSONValue(parsing: Array(#"{"grpc":{"port":80}}"#.utf8))) == nil)
        #expect(ProbeSpec(nil) == nil)
    }

    @Test("readiness starts false and follows the thresholds; no readiness probe means ready")
    func readiness() throws {
        var probes = ContainerProbes(container: try Self.container(#""readinessProbe":{"exec":{"command":["x"]},"periodSeconds":1,"successThreshold":2,"failureThreshold":2}"#))
        #expect(!probes.ready)
        #expect(probes.due(elapsed: 0) == [.readiness])
        #expect(probes.record(.readiness, success: true, elapsed: 0) == .none)
        #expect(!probes.ready, "two successes needed")
        #expect(probes.due(elapsed: 0.5) == [], "not before its period")
        _ = probes.record(.readiness, success: true, elapsed: 1)
        #expect(probes.ready)
        _ = probes.record(.readiness, success: false, elapsed: 2)
        #expect(probes.ready, "two failures needed")
        _ = probes.record(.readiness, success: false, elapsed: 3)
        #expect(!probes.ready)
        #expect(ContainerProbes(container: try Self.container(#""name2":1"#)).ready)
    }

    @Test("liveness restarts after its failure threshold; a startup probe holds liveness and readiness back")
    func livenessAndStartup() throws {
        var probes = ContainerProbes(container: try Self.container(#""startupProbe":{"exec":{"command":["s"]},"periodSeconds":1,"failureThreshold":3},"livenessProbe":{"exec":{"command":["l"]},"periodSeconds":1,"failureThreshold":2,"initialDelaySeconds":5}"#))
        #expect(!probes.started && !probes.ready)
        #expect(probes.due(elapsed: 0) == [.startup])
        #expect(probes.record(.startup, success: false, elapsed: 0) == .none)
        #expect(probes.record(.startup, success: true, elapsed: 1) == .none)
        #expect(probes.started && probes.ready)
        #expect(probes.due(elapsed: 2) == [], "liveness waits for its initial delay")
        #expect(probes.due(elapsed: 5) == [.liveness])
        #expect(probes.record(.liveness, success: false, elapsed: 5) == .none)
        #expect(probes.record(.liveness, success: false, elapsed: 6)
            == .restart(reason: "Container failed liveness probe, will be restarted"))

        var failing = ContainerProbes(container: try Self.container(#""startupProbe":{"exec":{"command":["s"]},"failureThreshold":2}"#))
        _ = failing.record(.startup, success: false, elapsed: 0)
        #expect(failing.record(.startup, success: false, elapsed: 10)
            == .restart(reason: "Container failed startup probe, will be restarted"))
    }
}
