import Bus
import EdgeProtocol
import Foundation
import Logging
import Testing
import TestSupport

/// Devices end to end, every part real and in its own process: the apiserver and cloud bus, cloudhub, hub and the
/// edge bus, devicecontroller, eventbus, meta and twin, kubectl, and this test acting as a KubeEdge mapper on the edge
/// broker.
final class DeviceStack: Sendable {
    let api: APIServerProcess
    let link: LinkHarness
    let directory: URL
    private let processes = Watched<[String: ChildProcess]>([:])
    static let node = "edge-1"

    init() async throws {
        api = try await APIServerProcess()
        link = try await LinkHarness(node: Self.node, cloudBroker: api.broker)
        directory = try TemporaryDirectory.make(prefix: "devices")
        try await link.startCloudhub()
        try link.startHub(token: try link.token)
        try await link.waitForLink()
        try await start("devicecontroller", broker: api.broker, ["--kubeconfig", api.kubeconfig])
        try await start("eventbus", broker: link.edgeBroker)
        try await start("meta", broker: link.edgeBroker, ["--metaserver-address", ""])
        try await start("twin", broker: link.edgeBroker)
    }

    func start(_ name: String, broker: Broker, _ extra: [String] = []) async throws {
        let process = try ChildProcess(try Executables.product(name), [
            "--broker", broker.address, "--node-name", broker === api.broker ? "cloud" : Self.node,
            "--data-dir", directory.appendingPathComponent(name).path,
        ] + extra)
        processes.update { $0[name] = process }
        try await process.waitForLine(containing: "serving", timeout: 30)
    }

    func process(_ name: String) -> ChildProcess? { processes.value[name] }

    func stop() async {
        for (_, process) in processes.value { process.signal(SIGTERM) }
        for (_, process) in processes.value { _ = await process.waitForExit(timeout: 5) }
        link.hub?.signal(SIGTERM)
        link.cloudhub?.signal(SIGTERM)
        _ = await link.hub?.waitForExit(timeout: 5)
        _ = await link.cloudhub?.waitForExit(timeout: 5)
        await link.edgeBroker.stop()
        await api.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// Runs `body`; on failure the error carries the end of every service's output.
    func withLogs(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch {
            var logs = "\(error)"
            for (name, process) in processes.value.sorted(by: { $0.key < $1.key }) {
                logs += "\n--- \(name) ---\n" + String(process.allOutput.suffix(3000))
            }
            logs += "\n--- cloudhub ---\n" + String((link.cloudhub?.allOutput ?? "").suffix(2000))
            logs += "\n--- hub ---\n" + String((link.hub?.allOutput ?? "").suffix(2000))
            throw TestSupportError(logs)
        }
    }
}

/// A KubeEdge mapper's view of the edge broker: everything under `$hw/events/` and the device specs.
final class MapperProbe: Sendable {
    let client: BusClient
    let seen = Watched<[BusMessage]>([])
    private let task: Task<Void, Never>

    init(_ broker: Broker) async throws {
        client = try BusClient(
            BusConfiguration(endpoint: try BusEndpoint(parsing: broker.address), clientID: "mapper-probe"),
            logger: Logger(label: "mapper-probe"))
        try client.start()
        try await client.waitUntilConnected()
        try await client.subscribe(["$hw/events/#", Topics.deviceSpecsAll])
        let seen = self.seen
        let client = self.client
        task = Task { for await message in client.messages { seen.update { $0.append(message) } } }
    }

    func publish(_ topic: String, _ json: String) async throws { try await client.publish(topic, Array(json.utf8)) }

    /// Waits for a message on `topic` whose payload contains every one of `texts`; returns its payload.
    @discardableResult
    func waitFor(_ topic: String, containing texts: [String], timeout: Double = 15) async throws -> String {
        try await seen.wait(timeout: timeout, "\(topic) with \(texts)") { messages in
            messages.contains { $0.topic == topic && texts.allSatisfy($0.text.contains) }
        }
        return seen.value.last { $0.topic == topic && texts.allSatisfy($0.text.contains) }!.text
    }

    func close() async {
        task.cancel()
        await client.close()
    }
}

@Suite("devices end to end", .serialized, .timeLimit(.minutes(4)))
struct DeviceEndToEndTests {
    static let manifests = """
        apiVersion: devices.kubeedge.io/v1beta1
        kind: DeviceModel
        metadata: {name: thermo-model, namespace: default}
        spec:
          protocol: modbus
          properties:
          - {name: temperature, type: INT, accessMode: ReadWrite}
          - {name: label, type: STRING, accessMode: ReadOnly}
        ---
        apiVersion: devices.kubeedge.io/v1beta1
        kind: Device
        metadata: {name: thermo-1, namespace: default}
        spec:
          deviceModelRef: {name: thermo-model}
          nodeName: edge-1
          protocol: {protocolName: modbus, configData: {data: {ip: 127.0.0.1, port: 5020}}}
          properties:
          - name: temperature
            desired: {value: "20"}
            visitors: {protocolName: modbus, configData: {register: HoldingRegister, offset: 2, limit: 1}}
          - name: label
            visitors: {protocolName: modbus, configData: {register: HoldingRegister, offset: 4, limit: 1}}
        """

    static let update = "$hw/events/device/thermo-1/twin/update"

    static func report(_ value: String, event: String) -> String {
        #"{"event_id":"\#(event)","timestamp":\#(Message.nowMillis()),"twin":{"temperature":{"actual":{"value":"\#(value)"},"metadata":{"type":"int"}}}}"#
    }

    func reported(_ stack: DeviceStack) async throws -> String {
        try await stack.api.ok("get", "device", "thermo-1", "-o",
                               #"jsonpath={.status.twins[?(@.propertyName=="temperature")].reported.value}"#)
    }

    @Test("kubectl apply → membership on the edge; mapper reports → Device status; desired edits → delta; bad updates refused; reports made offline arrive after reconnect")
    func devicesEndToEnd() async throws {
        let stack = try await DeviceStack()
        let mapper = try await MapperProbe(stack.link.edgeBroker)
        try await stack.withLogs {
            _ = try await stack.api.ok("apply", "-f", Manifests.root.appendingPathComponent("crds").path)
            _ = try await stack.api.ok("apply", "-f", "-", input: Self.manifests)

            // The node learns its device: membership/updated, membership/get, the spec for mappers.
            try await mapper.waitFor("$hw/events/node/edge-1/membership/updated", containing: ["thermo-1"])
            try await mapper.waitFor(Topics.deviceSpec("thermo-1"), containing: ["HoldingRegister", "thermo-model"])
            try await mapper.publish("$hw/events/node/edge-1/membership/get", #"{"event_id":"m1"}"#)
            try await mapper.waitFor("$hw/events/node/edge-1/membership/get/result", containing: ["\"m1\"", "thermo-1"])

            // A reported value reaches the Device's status.
            let start = ContinuousClock.now
            try await mapper.publish(Self.update, Self.report("23", event: "r1"))
            try await mapper.waitFor(Self.update + "/result", containing: ["\"r1\""])
            try await mapper.waitFor(Self.update + "/document", containing: ["\"23\""])
            try await eventually("status.twins reported 23") { try await reported(stack) == "23" }
            print("mapper publish → kubectl sees the reported value: \(ContinuousClock.now - start)")

            // A desired value edited in the cloud arrives as a delta for the mapper.
            _ = try await stack.api.ok("patch", "device", "thermo-1", "--type=json", "-p",
                                       #"[{"op":"replace","path":"/spec/properties/0/desired/value","value":"25"}]"#)
            try await mapper.waitFor(Self.update + "/delta", containing: [#""delta":{"temperature":"25"}"#])

            // Bad updates: KubeEdge's error results, nothing stored. Like edgecore, twin answers an update whose
            // values fail validation on the device-less result topic and a value of the wrong type on the device's;
            // eventbus answers JSON that does not parse on the device's result topic, before it reaches twin.
            let rejected = "$hw/events/device//twin/update/result"
            try await mapper.publish(Self.update, #"{"event_id":"bad1","timestamp":1,"twin":{"temperature":{"actual":{"value":"2 3"}}}}"#)
            try await mapper.waitFor(rejected, containing: ["\"code\":400"])
            try await mapper.publish(Self.update, #"{"event_id":"bad2","timestamp":1,"twin":{"temperature":{"actual":{"value":"warm"}},"label":{"actual":{"value":"x"}}}}"#)
            try await mapper.waitFor(Self.update + "/result", containing: ["\"bad2\"", "\"code\":400", "not int"])
            try await mapper.publish("$hw/events/device/nope/twin/update", Self.report("1", event: "bad3"))
            try await mapper.waitFor("$hw/events/device/nope/twin/update/result", containing: ["\"code\":404"])
            try await mapper.publish(Self.update, "{broken")
            try await mapper.waitFor(Self.update + "/result", containing: ["\"code\":400", "not valid JSON"])
            #expect(try await reported(stack) == "23")

            // Link down: reports made meanwhile reach the status after reconnect, the latest winning. On the
            // reconnect twin asks for the membership again, in edgecore's exact shape (wire reference §13.3).
            let cloudProbe = try await stack.link.client(stack.api.broker, "devicecontroller-probe")
            try await cloudProbe.subscribe([Topics.fromNode(DeviceStack.node, module: "devicecontroller")])
            let upstream = Watched<[Message]>([])
            let upstreamReader = Task {
                for await delivered in cloudProbe.messages {
                    if let message = try? MessageCodec.decode(delivered.payload) { upstream.update { $0.append(message) } }
                }
            }
            defer { upstreamReader.cancel() }
            stack.link.cloudhub?.signal(SIGKILL)
            _ = await stack.link.cloudhub?.waitForExit(timeout: 10)
            try await stack.link.waitForLink("disconnected", edgeOnly: true)
            try await mapper.publish(Self.update, Self.report("30", event: "o1"))
            try await mapper.waitFor(Self.update + "/result", containing: ["\"o1\""])
            try await mapper.publish(Self.update, Self.report("31", event: "o2"))
            try await mapper.waitFor(Self.update + "/result", containing: ["\"o2\""])
            try await stack.link.startCloudhub()
            try await stack.link.waitForLink()
            try await eventually("status.twins reported 31 after reconnect", timeout: 30) {
                try await reported(stack) == "31"
            }
            try await upstream.wait(timeout: 20, "a membership/detail request after the reconnect") { messages in
                messages.contains { $0.route.resource == "membership/detail" }
            }
            let detail = try #require(upstream.value.first { $0.route.resource == "membership/detail" })
            #expect(detail.route.source == "twin" && detail.route.group == "resource" && detail.route.operation == "get")
            let inner = try JSONValue(parsing: Array(try #require(detail.content.stringValue).utf8))
            #expect(inner.objectMembers?.map(\.key) == ["event_type", "event_id", "group_id", "operation", "timestamp"])
            #expect(inner["group_id"]?.stringValue == DeviceStack.node && inner["operation"]?.stringValue == "detail")
            await cloudProbe.close()
        }
        await mapper.close()
        await stack.stop()
    }
}
