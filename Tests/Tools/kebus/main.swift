import ArgumentParser
import Bus
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// A small client of the bus built on our own `Bus` library: like mosquitto_sub/mosquitto_pub, but with this project's
/// persistent sessions and queueing. Tests run it as a separate process (to SIGKILL a subscriber); people can use it
/// to poke at a bus.
@main
struct KEBus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kebus",
        abstract: "Publish to and subscribe on a KubeEdge-in-Swift bus with the project's own bus client.",
        subcommands: [Subscribe.self, Publish.self])
}

struct Connection: ParsableArguments {
    @Option(help: "Broker: host:port or a unix socket path.")
    var broker = "127.0.0.1:1883"

    @Option(name: .customLong("client-id"), help: "Client id; reuse it to resume a persistent session.")
    var clientID = "kebus-\(getpid())"

    @Flag(name: .customLong("clean"), help: "Clean session (no persistence across runs).")
    var clean = false

    func client() throws -> BusClient {
        var logger = Logger(label: "kebus")
        logger.logLevel = .warning
        let endpoint = try BusEndpoint(parsing: broker)
        return try BusClient(BusConfiguration(endpoint: endpoint, clientID: clientID, cleanSession: clean),
                             logger: logger)
    }
}

struct Subscribe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sub",
        abstract: "Print each message as '<topic> <payload>' (or just the payload with --payload-only).")

    @OptionGroup var connection: Connection

    @Option(name: .customLong("topic"), help: "Filter to subscribe to (repeatable).")
    var topics: [String]

    @Option(help: "Exit after this many messages.")
    var count: Int?

    @Flag(name: .customLong("payload-only"), help: "Print only payloads.")
    var payloadOnly = false

    func run() async throws {
        let client = try connection.client()
        try client.start()
        try await client.waitUntilConnected(timeout: .seconds(20))
        try await client.subscribe(topics)
        // Tests wait for this line before acting.
        print("kebus: subscribed")
        fflush(nil)
        var received = 0
        if count == 0 { await client.close(); return }
        for await message in client.messages {
            print(payloadOnly ? message.text : "\(message.topic) \(message.text)")
            fflush(nil)
            received += 1
            if let count, received >= count { break }
        }
        await client.close()
    }
}

struct Publish: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pub",
        abstract: "Publish a message, or --count numbered messages '<message>-<n>', at QoS 1, and wait for the broker's acknowledgements.")

    @OptionGroup var connection: Connection

    @Option(help: "Topic to publish to.")
    var topic: String

    @Option(name: .shortAndLong, help: "Payload (with --count, the prefix of each numbered payload).")
    var message: String

    @Option(help: "How many numbered messages to publish.")
    var count: Int?

    @Flag(help: "Retain the message.")
    var retain = false

    func run() async throws {
        let client = try connection.client()
        try client.start()
        if let count {
            for n in 0..<count { try await client.publish(topic, "\(message)-\(n)", retain: retain) }
        } else {
            try await client.publish(topic, message, retain: retain)
        }
        await client.close(drainTimeout: .seconds(30))
        if client.outstandingPublishes > 0 {
            throw ValidationError("\(client.outstandingPublishes) messages not acknowledged by the broker")
        }
    }
}
