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
        let settings = try ConfigFlags.settings(fromYAML: try String(contentsOf: file, encoding: .utf8), path: file.path,
                                                service: "hub")
        #expect(settings.map(\.arguments) == [["--broker", "10.0.0.1:1999"], ["--node-name", "from-file"],
                                               ["--log-level", "debug"], ["--cloud", "cloud.example:10000"],
                                               ["--heartbeat-seconds", "15"]])
        #expect(fromFile.busClientID == "ke-hub-from-file")

        let flags = try ServiceConfig(identity: identity, options: try BaseOptions.parse([
            "--config", file.path, "--broker", "/run/edge.sock", "--node-name", "from-flag",
        ]))
        #expect(flags.broker == .unixSocket(path: "/run/edge.sock"))
        #expect(flags.nodeName == "from-flag")
        #expect(flags.logLevel == .debug)
    }

    @Test("config keys are the flags' names in camelCase; booleans and lists become flags; the command line wins")
    func configFlags() throws {
        #expect(ConfigFlags.flagName(forKey: "certServer") == "cert-server")
        #expect(ConfigFlags.flagName(forKey: "messageQPS") == "message-qps")
        #expect(ConfigFlags.flagName(forKey: "projectID") == "project-id")
        #expect(ConfigFlags.flagName(forKey: "tokenTTLHours") == "token-ttl-hours")
        #expect(ConfigFlags.flagName(forKey: "maxMessageSize") == "max-message-size")
        #expect(ConfigFlags.flagName(forKey: "cloud") == "cloud")
        let yaml = """
            broker: 127.0.0.1:1999
            brokerTLS: {caFile: /ca.pem}
            meta: {ignored: 1}
            cloudhub:
              upstreamAcks: false
              advertiseAddress: [10.0.0.1, edge.example]
              websocketPort: 10000
            """
        let settings = try ConfigFlags.settings(fromYAML: yaml, path: "c.yaml", service: "cloudhub")
        #expect(settings.map(\.arguments) == [
            ["--broker", "127.0.0.1:1999"], ["--no-upstream-acks"],
            ["--advertise-address", "10.0.0.1", "--advertise-address", "edge.example"], ["--websocket-port", "10000"],
        ])
        #expect(ConfigFlags.fileArguments(settings, overriddenBy: ["--websocket-port=1", "--upstream-acks"])
            == ["--broker", "127.0.0.1:1999", "--advertise-address", "10.0.0.1", "--advertise-address", "edge.example"])
        #expect(ConfigFlags.configPath(in: ["--x", "--config=a.yaml"]) == "a.yaml")
        #expect(ConfigFlags.configPath(in: ["--config", "b.yaml"]) == "b.yaml")
    }

    @Test("a config file with an unknown key, a nested value or a Kubernetes manifest is an error naming it")
    func configFileErrors() {
        func message(_ yaml: String, service: String = "hub") -> String {
            do {
                _ = try ConfigFlags.settings(fromYAML: yaml, path: "c.yaml", service: service)
                return ""
            } catch {
                return "\(error)"
            }
        }
        #expect(message("brokr: x").contains("unknown key 'brokr' at the top level"))
        #expect(message("apiVersion: devices.kubeedge.io/v1beta1\nkind: Device\nmetadata: {name: d}")
            .contains("is a Kubernetes manifest (kind: Device), not a service configuration"))
        #expect(message("hub: {cloud: {host: x}}").contains("key 'cloud' of section 'hub' must be a value or a list"))
        #expect(message("hub: [a]").contains("section 'hub' must be a mapping"))
        #expect(message("- a").contains("the top level must be a mapping"))
        #expect(message("hub: {cloud: x}\nmeta: {anything: 1}").isEmpty, "another service's section is left to it")
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
