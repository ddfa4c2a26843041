import Bus
import EdgeProtocol
@testable import EventBusService
import Foundation
import Logging
import Testing
import TestSupport

@Suite("eventbus rules")
struct DeviceTrafficTests {
    @Test("device events go to twin with the topic as resource; uploads go to the cloud as upload")
    func routing() throws {
        let update = #"{"event_id":"e1","timestamp":1700000000000,"twin":{"t":{"actual":{"value":"23"}}}}"#
        guard case .toTwin(let message) = DeviceTraffic.classify(
            topic: "$hw/events/device/d1/twin/update", payload: Array(update.utf8), maxPayload: 1024, now: 1) else {
            Issue.record("not sent to twin")
            return
        }
        #expect(message.route.source == "bus" && message.route.group == "user" && message.route.operation == "response")
        #expect(message.route.resource == "$hw/events/device/d1/twin/update")
        #expect(message.content.text == update)
        guard case .toCloud(let upload) = DeviceTraffic.classify(
            topic: "SYS/dis/upload_records", payload: Array("hello".utf8), maxPayload: 1024, now: 1) else {
            Issue.record("not uploaded")
            return
        }
        #expect(upload.route.operation == "upload" && upload.route.resource == "SYS/dis/upload_records")
        #expect(upload.content.stringValue == "hello")
    }

    @Test("malformed, non-object and oversize device payloads get a 400 result on the sender's result topic")
    func rejections() throws {
        for (payload, reason) in [("{broken", "not valid JSON"), ("[1,2]", "not a JSON object"),
                                  (#"{"timestamp":"soon"}"#, "timestamp must be an integer")] {
            let traffic = DeviceTraffic.classify(topic: "$hw/events/device/d1/twin/update",
                                                 payload: Array(payload.utf8), maxPayload: 1024, now: 42)
            guard case .rejected(let topic, let result, let why) = traffic else {
                Issue.record("\(payload) was accepted")
                continue
            }
            #expect(topic == "$hw/events/device/d1/twin/update/result")
            #expect(why.contains(reason))
            let parsed = try JSONValue(parsing: result)
            #expect(parsed["code"]?.int64Value == 400 && parsed["timestamp"]?.int64Value == 42)
        }
        let big = DeviceTraffic.classify(topic: "$hw/events/node/n1/membership/get",
                                         payload: Array(repeating: 0x20, count: 2000), maxPayload: 1024, now: 1)
        guard case .rejected(let topic, _, _) = big else {
            Issue.record("oversize accepted")
            return
        }
        #expect(topic == "$hw/events/node/n1/membership/get/result")
    }

    @Test("cloud and twin operations: publish (string or JSON content), subscribe, unsubscribe, message")
    func actions() throws {
        let publish = Message(source: "twin", group: "user", operation: "publish", resource: "$hw/a",
                              content: try RawJSON(["x": 1]))
        #expect(BrokerAction.from(publish) == .publish(topic: "$hw/a", payload: Array(#"{"x":1}"#.utf8)))
        let text = Message(source: "router_eventbus", group: "user", operation: "publish", resource: "t/1",
                           content: RawJSON(string: "plain"))
        #expect(BrokerAction.from(text) == .publish(topic: "t/1", payload: Array("plain".utf8)))
        #expect(BrokerAction.from(Message(source: "c", group: "user", operation: "subscribe", resource: "a/#"))
                    == .subscribe("a/#"))
        let wrapped = Message(source: "c", group: "user", operation: "message", resource: "",
                              content: try RawJSON(["message": ["topic": "m/1", "v": 2]]))
        #expect(BrokerAction.from(wrapped) == .publish(topic: "m/1", payload: Array(#"{"topic":"m/1","v":2}"#.utf8)))
        guard case .ignore = BrokerAction.from(Message(source: "c", group: "user", operation: "nope", resource: "x")) else {
            Issue.record("unknown operation not ignored")
            return
        }
    }
}

@Suite("eventbus against a real broker", .serialized, .timeLimit(.minutes(2)))
struct EventBusProcessTests {
    @Test("device traffic to twin and cloud, refusals answered, twin's and the cloud's publishes delivered, cloud subscriptions kept across a restart")
    func endToEnd() async throws {
        let broker = try await Broker()
        let dataDir = try TemporaryDirectory.make(prefix: "eventbus")
        defer { try? FileManager.default.removeItem(at: dataDir) }
        func start() async throws -> ChildProcess {
            let process = try ChildProcess(try Executables.product("eventbus"), [
                "--broker", broker.address, "--node-name", "n1", "--data-dir", dataDir.path,
            ])
            try await process.waitForLine(containing: "serving", timeout: 20)
            return process
        }
        var eventbus = try await start()
        let probe = try BusClient(
            BusConfiguration(endpoint: try BusEndpoint(parsing: broker.address), clientID: "probe"),
            logger: Logger(label: "probe"))
        try probe.start()
        try await probe.waitUntilConnected()
        try await probe.subscribe([Topics.twinIn, Topics.up, "$hw/events/device/+/twin/update/result", "$hw/events/device/+/twin/update/delta", "cloud/asked"])
        let seen = Watched<[BusMessage]>([])
        let reader = Task { for await message in probe.messages { seen.update { $0.append(message) } } }
        defer { reader.cancel() }

        try await probe.publish("$hw/events/device/d1/twin/update", Array(#"{"event_id":"e","timestamp":1,"twin":{}}"#.utf8))
        try await seen.wait(timeout: 10, "twin/update on ke/twin/in") { $0.contains { $0.topic == Topics.twinIn } }
        try await probe.publish("$hw/events/device/d1/twin/update", Array("{not json".utf8))
        try await seen.wait(timeout: 10, "a 400 result") { messages in
            messages.contains { $0.topic == "$hw/events/device/d1/twin/update/result" && String(decoding: $0.payload, as: UTF8.self).contains("\"code\":400") }
        }
        try await probe.publish("SYS/dis/upload_records", Array("records".utf8))
        try await seen.wait(timeout: 10, "an upload on ke/up") { messages in
            messages.contains { $0.topic == Topics.up && String(decoding: $0.payload, as: UTF8.self).contains("upload") }
        }
        // twin's output reaches the device broker.
        try await probe.publish(Topics.twinOut, Message(source: "twin", group: "user", operation: "publish",
                                                        resource: "$hw/events/device/d1/twin/update/delta",
                                                        content: try RawJSON(["delta": ["t": "1"]])))
        try await seen.wait(timeout: 10, "the delta") { $0.contains { $0.topic == "$hw/events/device/d1/twin/update/delta" } }
        // The cloud subscribes eventbus to a topic; after a restart the subscription still holds.
        try await probe.publish(Topics.down(module: "eventbus"), Message(source: "router_eventbus", group: "user",
                                                                         operation: "subscribe", resource: "apps/+/out"))
        try await eventbus.waitForLine(containing: "subscribed for the cloud", timeout: 10)
        eventbus.signal(SIGTERM)
        _ = await eventbus.waitForExit(timeout: 5)
        eventbus = try await start()
        #expect(eventbus.lines.contains { $0.contains("dynamic_subscriptions=1") })
        try await probe.publish("apps/a1/out", Array("from an app".utf8))
        try await seen.wait(timeout: 10, "the app message uploaded") { messages in
            messages.contains { $0.topic == Topics.up && String(decoding: $0.payload, as: UTF8.self).contains("apps/a1/out") }
        }
        eventbus.signal(SIGTERM)
        _ = await eventbus.waitForExit(timeout: 5)
        await probe.close()
        await broker.stop()
    }

    @Test("with an external device broker: devices there, modules on the edge bus")
    func externalDeviceBroker() async throws {
        let edgeBus = try await Broker()
        let deviceBroker = try await Broker()
        let dataDir = try TemporaryDirectory.make(prefix: "eventbus-ext")
        defer { try? FileManager.default.removeItem(at: dataDir) }
        let eventbus = try ChildProcess(try Executables.product("eventbus"), [
            "--broker", edgeBus.address, "--device-broker", deviceBroker.address, "--node-name", "n1",
            "--data-dir", dataDir.path,
        ])
        try await eventbus.waitForLine(containing: "serving", timeout: 20)
        func probe(_ broker: Broker, _ id: String, _ topics: [String]) async throws -> (BusClient, Watched<[BusMessage]>, Task<Void, Never>) {
            let client = try BusClient(BusConfiguration(endpoint: try BusEndpoint(parsing: broker.address), clientID: id),
                                       logger: Logger(label: id))
            try client.start()
            try await client.waitUntilConnected()
            try await client.subscribe(topics)
            let seen = Watched<[BusMessage]>([])
            let task = Task { for await message in client.messages { seen.update { $0.append(message) } } }
            return (client, seen, task)
        }
        let (modules, moduleSeen, moduleTask) = try await probe(edgeBus, "modules", [Topics.twinIn])
        let (devices, deviceSeen, deviceTask) = try await probe(deviceBroker, "devices", ["$hw/events/device/#"])
        defer { moduleTask.cancel(); deviceTask.cancel() }
        try await devices.publish("$hw/events/device/d1/twin/get", Array(#"{"event_id":"g1","timestamp":1}"#.utf8))
        try await moduleSeen.wait(timeout: 10, "twin/get on the edge bus") { $0.contains { $0.text.contains("g1") } }
        try await devices.publish("$hw/events/device/d1/twin/get", Array("nope".utf8))
        try await deviceSeen.wait(timeout: 10, "the 400 on the device broker") { messages in
            messages.contains { $0.topic == "$hw/events/device/d1/twin/get/result" && $0.text.contains("\"code\":400") }
        }
        try await modules.publish(Topics.twinOut, Message(source: "twin", group: "user", operation: "publish",
                                                          resource: "$hw/events/device/d1/twin/get/result",
                                                          content: try RawJSON(["event_id": "g1"])))
        try await deviceSeen.wait(timeout: 10, "twin's answer on the device broker") { messages in
            messages.contains { $0.topic == "$hw/events/device/d1/twin/get/result" && $0.text.contains("g1") }
        }
        // Nothing for devices leaked onto the edge bus, nor module traffic onto the device broker.
        #expect(!moduleSeen.value.contains { $0.topic.hasPrefix("$hw/") })
        eventbus.signal(SIGTERM)
        #expect(await eventbus.waitForExit(timeout: 5) == 0)
        await modules.close()
        await devices.close()
        await edgeBus.stop()
        await deviceBroker.stop()
    }
}
