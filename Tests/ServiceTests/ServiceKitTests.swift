import ArgumentParser
import Bus
import EdgeProtocol
import Foundation
import Logging
import ServiceKit
import Testing
import TestSupport

@Suite("ServiceKit", .timeLimit(.minutes(1)))
struct ServiceKitTests {
    @Test("a malformed payload is logged with topic and reason; the service keeps handling messages")
    func malformedPayload() async throws {
        let broker = try await Broker()
        let logs = LogCapture()
        let options = try BaseOptions.parse(["--broker", broker.address, "--node-name", "n1"])
        let config = try ServiceConfig(identity: ServiceIdentity(name: "meta", side: .edge), options: options)
        let bus = try BusClient(config.busConfiguration, logger: logs.logger)
        let context = ServiceContext(config: config, bus: bus, logger: logs.logger)
        try bus.start()
        try await bus.waitUntilConnected()
        try await bus.subscribe([Topics.down(module: "meta")])

        let handled = Watched<[String]>([])
        let loop = Task {
            await context.handleMessages { message in
                let envelope = try message.envelope()
                handled.update { $0.append(envelope.route.resource) }
            }
        }
        let topic = Topics.down(module: "meta")
        let sender = try BusClient(
            BusConfiguration(endpoint: try BusEndpoint(parsing: broker.address), clientID: "sender"),
            logger: Logger(label: "sender"))
        try sender.start()
        try await sender.publish(topic, "{not json")
        try await sender.publish(topic, Array(repeating: 0xff, count: 3))
        try await sender.publish(topic, Message(source: "edgecontroller", group: "resource", operation: "insert",
                                                resource: "default/pod/after-garbage", content: .null))

        try await handled.wait(timeout: 10, "the valid message") { $0 == ["default/pod/after-garbage"] }
        let errors = logs.all.filter { $0.message == "dropped malformed message" }
        #expect(errors.count == 2)
        #expect(errors.allSatisfy { $0.metadata["topic"] == topic && !($0.metadata["reason"] ?? "").isEmpty })
        #expect(errors.allSatisfy { $0.level == .error })

        loop.cancel()
        await sender.close()
        await bus.close()
    }

    @Test("configuration: defaults < YAML file < flags")
    func configurationLayers() throws {
        let directory = try TemporaryDirectory.make(prefix: "config")
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("hub.yaml")
        try """
            broker: 10.0.0.1:1999
            nodeName: from-file
            logLevel: debug
            hub:
              cloud: cloud.example:10000
              heartbeatSeconds: 15
            """.write(to: file, atomically: true, encoding: .utf8)
        let identity = ServiceIdentity(name: "hub", side: .edge)

        let defaults = try ServiceConfig(identity: identity, options: try BaseOptions.parse([]))
        #expect(defaults.broker == .tcp(host: "127.0.0.1", port: 1883))
        #expect(defaults.dataDir == "/var/lib/kubeedge-swift/hub")
        #expect(defaults.logLevel == .info)
        let cloudDefaults = try ServiceConfig(identity: ServiceIdentity(name: "cloudhub", side: .cloud),
                                              options: try BaseOptions.parse([]))
        #expect(cloudDefaults.broker == .tcp(host: "127.0.0.1", port: 11883))
        #expect(cloudDefaults.nodeName == "cloud")

        let fromFile = try ServiceConfig(identity: identity, options: try BaseOptions.parse(["--config", file.path]))
        #expect(fromFile.broker == .tcp(host: "10.0.0.1", port: 1999))
        #expect(fromFile.nodeName == "from-file")
        #expect(fromFile.logLevel == .debug)
        struct HubSection: Decodable { var cloud: String; var heartbeatSeconds: Int }
        let section = try #require(try fromFile.section(HubSection.self))
        #expect(section.cloud == "cloud.example:10000")
        #expect(section.heartbeatSeconds == 15)
        #expect(fromFile.busClientID == "ke-hub-from-file")

        let flags = try ServiceConfig(identity: identity, options: try BaseOptions.parse([
            "--config", file.path, "--broker", "/run/edge.sock", "--node-name", "from-flag",
        ]))
        #expect(flags.broker == .unixSocket(path: "/run/edge.sock"))
        #expect(flags.nodeName == "from-flag")
        #expect(flags.logLevel == .debug)
    }

    @Test("configuration errors name the problem")
    func configurationErrors() throws {
        let identity = ServiceIdentity(name: "hub", side: .edge)
        let directory = try TemporaryDirectory.make(prefix: "config-bad")
        defer { try? FileManager.default.removeItem(at: directory) }
        let bad = directory.appendingPathComponent("bad.yaml")
        try "broker: [unclosed".write(to: bad, atomically: true, encoding: .utf8)

        func message(_ arguments: [String]) -> String {
            do {
                _ = try ServiceConfig(identity: identity, options: try BaseOptions.parse(arguments))
                return ""
            } catch {
                return "\(error)"
            }
        }
        #expect(message(["--config", bad.path]).contains("is not valid"))
        #expect(message(["--config", directory.appendingPathComponent("missing.yaml").path])
            .contains("cannot read config file"))
        #expect(message(["--node-name", "Bad_Name"]).contains("not a valid DNS-1123"))
        #expect(message(["--broker", "host:notaport"]).contains("invalid broker address"))
        #expect(message(["--log-level", "chatty"]).contains("unknown log level"))
    }
}
