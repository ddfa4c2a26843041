import Bus
import Foundation
import Logging
import Testing
import TestSupport

/// TLS towards the broker, with certificates made by the openssl command for each test run.
@Suite("Bus TLS", .timeLimit(.minutes(1)))
struct BusTLSTests {
    @Test("connects to a TLS listener that requires a client certificate; a client without one is refused")
    func mutualTLS() async throws {
        let pki = try await TestPKI.make()
        let tlsPort = try FreePort.next()
        let broker = try await Broker(extraConfig: """
            listener \(tlsPort) 127.0.0.1
            cafile \(pki.path("ca.crt"))
            certfile \(pki.path("server.crt"))
            keyfile \(pki.path("server.key"))
            require_certificate true

            """)
        _ = broker

        let withCert = try BusClient(BusConfiguration(
            endpoint: .tcp(host: "127.0.0.1", port: tlsPort), clientID: "tls-ok",
            tls: BusTLS(caFile: pki.path("ca.crt"), certFile: pki.path("client.crt"), keyFile: pki.path("client.key"))),
            logger: Logger(label: "tls-ok"))
        try await withCert.connectAndSubscribe(["secure/#"])
        try await withCert.publish("secure/x", "over TLS")
        var iterator = withCert.messages.makeAsyncIterator()
        #expect(await iterator.next()?.text == "over TLS")
        await withCert.close()

        let logs = LogCapture()
        let withoutCert = try BusClient(BusConfiguration(
            endpoint: .tcp(host: "127.0.0.1", port: tlsPort), clientID: "tls-no-cert",
            tls: BusTLS(caFile: pki.path("ca.crt"))), logger: logs.logger)
        try withoutCert.start()
        try await logs.waitFor("cannot reach broker")
        #expect(!withoutCert.isConnected)
        await withoutCert.close(drainTimeout: .milliseconds(10))
    }
}

/// A throwaway CA with a server certificate for 127.0.0.1/localhost and a client certificate.
struct TestPKI {
    let directory: URL

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    static func make() async throws -> TestPKI {
        let pki = TestPKI(directory: try TemporaryDirectory.make(prefix: "pki"))
        try "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
            .write(toFile: pki.path("server.ext"), atomically: true, encoding: .utf8)
        try "extendedKeyUsage=clientAuth\n".write(toFile: pki.path("client.ext"), atomically: true, encoding: .utf8)
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        try await pki.openssl(["req", "-x509"] + ec + ["-keyout", pki.path("ca.key"), "-out", pki.path("ca.crt"),
                                                      "-subj", "/CN=test-ca", "-days", "1"])
        for (name, extensions) in [("server", "server.ext"), ("client", "client.ext")] {
            try await pki.openssl(["req"] + ec + ["-keyout", pki.path("\(name).key"), "-out", pki.path("\(name).csr"),
                                                 "-subj", "/CN=\(name == "server" ? "localhost" : "client")"])
            try await pki.openssl(["x509", "-req", "-in", pki.path("\(name).csr"), "-CA", pki.path("ca.crt"),
                                   "-CAkey", pki.path("ca.key"), "-CAcreateserial", "-out", pki.path("\(name).crt"),
                                   "-days", "1", "-extfile", pki.path(extensions)])
        }
        return pki
    }

    private func openssl(_ arguments: [String]) async throws {
        let process = try ChildProcess(try Executables.which("openssl"), arguments)
        let status = await process.waitForExit(timeout: 20)
        guard status == 0 else { throw TestSupportError("openssl \(arguments[0]) failed: \(process.allOutput)") }
    }
}
