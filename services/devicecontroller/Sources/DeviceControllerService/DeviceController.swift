import ArgumentParser
import Bus
import EdgeProtocol
import Foundation
import KubeClient
import Logging
import ServiceKit
import Store
import ServiceLifecycle
import Synchronization

public enum DeviceController: ServiceDescription {
    public static let identity = ServiceIdentity(name: "devicecontroller", side: .cloud)
    public static let abstract = "Cloud: syncs Device and DeviceModel CRDs with edge twins (KubeEdge devicecontroller)."
}

public struct DeviceControllerOptions: ParsableArguments, Sendable {
    @Option(name: .customLong("kubeconfig"),
            help: "Kubeconfig of the API server (default: $KUBECONFIG, else the embedded apiserver's admin.kubeconfig).")
    public var kubeconfig: String?

    @Option(name: .customLong("report-refresh-ms"),
            help: "An unchanged reported value is written to the Device status again only after this many ms.")
    public var reportRefreshMs: Int64 = 0

    public init() {}
}

public struct DeviceControllerCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "devicecontroller", abstract: DeviceController.abstract,
        discussion: """
            Watches devices.kubeedge.io Devices and DeviceModels and sends each edge node its membership, desired \
            twins and the objects themselves (ke/node/<node>/down); writes the twins the edges report into the \
            Devices' status, answers membership/detail requests and confirms every twin message.
            """)

    @OptionGroup public var options: BaseOptions
    @OptionGroup public var controller: DeviceControllerOptions

    public init() {}

    public func run() async throws {
        let controller = self.controller
        try await ServiceRunner.run(DeviceController.identity, options: options, services: { context in
            try await DeviceControllerServer(context: context, options: controller).services()
        })
    }
}

/// The running devicecontroller: caches of Devices and DeviceModels from the API, the planner (what each node has
/// been sent, persisted), and the upstream handler.
public final class DeviceControllerServer: Sendable {
    struct State {
        var devices: [String: JSONValue] = [:]
        var models: [String: JSONValue] = [:]
        var planner = DevicePlanner()
    }

    let context: ServiceContext
    let options: DeviceControllerOptions
    let logger: Logger
    let state = Mutex(State())
    /// KubeEdge's Device CRDs have no status subresource (status is written with the object); a CRD that declares
    /// one gets the status written there. Learnt from the first answer.
    let statusSubresource = Mutex<Bool?>(nil)
    let database: Mutex<SQLiteDatabase>

    static let devicesV1beta1 = GroupVersionResource(group: "devices.kubeedge.io", version: "v1beta1", resource: "devices")
    static let devicesV1alpha2 = GroupVersionResource(group: "devices.kubeedge.io", version: "v1alpha2", resource: "devices")
    static let models = GroupVersionResource(group: "devices.kubeedge.io", version: "v1beta1", resource: "devicemodels")

    public init(context: ServiceContext, options: DeviceControllerOptions) throws {
        self.context = context
        self.options = options
        self.logger = context.logger
        try FileManager.default.createDirectory(atPath: context.config.dataDir, withIntermediateDirectories: true)
        let db = try SQLiteDatabase(path: context.config.dataDir + "/devicecontroller.db")
        try db.execute("CREATE TABLE IF NOT EXISTS state(key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID")
        let saved = try db.query("SELECT value FROM state WHERE key = 'planner'", []) { row in row.blob(0) }.first
        if let saved, let planner = DevicePlanner(persistedBytes: saved) {
            state.withLock { $0.planner = planner }
        }
        database = Mutex(db)
    }

    var kubeconfigPath: String { Kubeconfig.controllerPath(explicit: options.kubeconfig) }

    /// devicecontroller's parts, stopped in reverse order on SIGTERM: the watches are cancelled (a restart resumes
    /// them), then the twin reports already received are written to the API.
    public func services() async throws -> [any Service] {
        let bus = context.bus
        try await bus.waitUntilConnected(timeout: .seconds(3600))
        try await bus.subscribe([Topics.fromAnyNode(.devicecontroller)])
        let client = Eventual<KubeClient>()
        return [
            MessageLoopService(context) { message in
                try await self.handleUpstream(message, client: try await client.value())
            },
            PartService.loop("watch device models") {
                // Waiting for the kubeconfig must not hold up a shutdown: this is a cancellable part.
                let connected = try await KubeClient.waitingForKubeconfig(
                    path: self.kubeconfigPath, logger: self.logger, retry: .seconds(2))
                self.logger.info("serving", metadata: [
                    "kubeconfig": "\(self.kubeconfigPath)", "server": "\(connected.configuration.server)"])
                client.set(connected)
                try await self.followModels(connected)
            },
            PartService.loop("watch devices") { try await self.followDevices(try await client.value()) },
        ]
    }


    // MARK: Downstream

    /// A Device read through the v1beta1 endpoint may have been written as v1alpha2 (the versions share storage
    /// without conversion): its shape says which, and the planner reads it as that version.
    static func normalized(_ device: JSONValue) -> JSONValue {
        let spec = device["spec"]
        let alpha = spec?["nodeName"] == nil
            && (spec?["nodeSelector"] != nil || spec?["propertyVisitors"] != nil
                || (device[path: ["status", "twins"]]?.arrayValue ?? []).contains { $0["desired"] != nil })
        guard alpha else { return device }
        var copy = device
        copy[member: "apiVersion"] = "devices.kubeedge.io/v1alpha2"
        return copy
    }

    func followModels(_ client: KubeClient) async throws {
        for try await event in client.listWatch(Self.models, options: Self.watchOptions) {
            let outgoing: [Outgoing] = state.withLock { state in
                let now = Message.nowMillis()
                switch event {
                case .resync(let items, _):
                    state.models = Dictionary(items.compactMap { item in DeviceJSON.key(of: item).map { ($0, item) } }) { $1 }
                    return state.planner.plan(devices: Array(state.devices.values), models: Array(state.models.values), now: now)
                case .added(let model), .modified(let model):
                    guard let key = DeviceJSON.key(of: model) else { return [] }
                    state.models[key] = model
                    return state.planner.plan(modelChanged: model, devices: Array(state.devices.values), now: now)
                case .deleted(let model):
                    guard let key = DeviceJSON.key(of: model) else { return [] }
                    state.models[key] = nil
                    return state.planner.plan(modelDeleted: model, devices: Array(state.devices.values), now: now)
                }
            }
            try await send(outgoing)
        }
    }

    func followDevices(_ client: KubeClient) async throws {
        for try await event in client.listWatch(Self.devicesV1beta1, options: Self.watchOptions) {
            // The model watch may not have delivered a device's model yet (kubectl applies both at once): read it,
            // so the edge gets the property types from the start (it keeps a twin's first type).
            switch event {
            case .resync(let items, _):
                for item in items { await ensureModel(of: item, client) }
            case .added(let device), .modified(let device):
                await ensureModel(of: device, client)
            case .deleted:
                break
            }
            let outgoing: [Outgoing] = state.withLock { state in
                let now = Message.nowMillis()
                let models = Array(state.models.values)
                switch event {
                case .resync(let items, _):
                    state.devices = Dictionary(items.compactMap { item in
                        DeviceJSON.key(of: item).map { ($0, Self.normalized(item)) }
                    }) { $1 }
                    return state.planner.plan(devices: Array(state.devices.values), models: models, now: now)
                case .added(let device), .modified(let device):
                    guard let key = DeviceJSON.key(of: device) else { return [] }
                    let device = Self.normalized(device)
                    state.devices[key] = device
                    return state.planner.plan(deviceChanged: device, models: models, now: now)
                case .deleted(let device):
                    guard let key = DeviceJSON.key(of: device) else { return [] }
                    state.devices[key] = nil
                    return state.planner.plan(deviceDeleted: Self.normalized(device), models: models, now: now)
                }
            }
            try await send(outgoing)
        }
    }

    func ensureModel(of device: JSONValue, _ client: KubeClient) async {
        guard let modelName = device.string(at: "spec.deviceModelRef.name") else { return }
        let namespace = device.string(at: "metadata.namespace") ?? "default"
        let key = namespace + "/" + modelName
        guard state.withLock({ $0.models[key] == nil }) else { return }
        guard let model = try? await client.get(Self.models, namespace: namespace, name: modelName) else { return }
        state.withLock { state in
            if state.models[key] == nil { state.models[key] = model }
        }
    }

    /// Retries at most every 5 s: until KubeEdge's CRDs are applied the lists answer 404, and devices should show
    /// up soon after they are.
    static let watchOptions = ListWatch.Options(maxBackoff: .seconds(5))

    /// Publishes to the nodes' topics (cloudhub keeps them in each node's outbox), then persists the planner.
    func send(_ outgoing: [Outgoing]) async throws {
        for item in outgoing {
            var message = Message(source: DevicePlanner.source, group: item.group, operation: item.operation,
                                  resource: item.resource, content: try RawJSON(item.content),
                                  resourceVersion: item.resourceVersion ?? "", parentID: item.parentID ?? "")
            message.header.sync = false
            try await context.bus.publish(Topics.toNode(item.node), message)
            logger.debug("sent", metadata: ["node": "\(item.node)", "resource": "\(item.resource)", "operation": "\(item.operation)"])
        }
        if !outgoing.isEmpty { try persist() }
    }

    func persist() throws {
        let bytes = state.withLock { $0.planner.persistedBytes() }
        try database.withLock { db in
            _ = try db.run("INSERT INTO state(key, value) VALUES ('planner', ?1) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                           .blob(bytes))
        }
    }

    // MARK: Upstream

    func handleUpstream(_ message: BusMessage, client: KubeClient) async throws {
        let parts = message.topic.split(separator: "/")
        guard parts.count >= 3 else { return }
        let node = String(parts[2])
        let envelope = try message.envelope()
        let resource = envelope.route.resource
        var outgoing: [Outgoing] = []
        if resource.hasSuffix(TwinResources.edgeUpdatedSuffix) {
            try await applyReport(envelope, node: node, client: client)
        } else if MembershipDetail.isRequest(resource: resource, operation: envelope.route.operation) {
            let detail = state.withLock { state in
                MembershipDetail.message(node: node, devices: Array(state.devices.values),
                                         models: Array(state.models.values), planner: state.planner,
                                         now: Message.nowMillis())
            }
            outgoing.append(detail)
            logger.info("membership detail sent", metadata: ["node": "\(node)"])
        } else if envelope.route.operation == "response" || envelope.route.operation == "error" {
            return  // an answer to one of ours: nothing to confirm
        } else {
            logger.debug("twin message confirmed", metadata: ["node": "\(node)", "resource": "\(resource)"])
        }
        // Every twin-group message is confirmed, so a real edgecore stops re-sending it (wire reference §6.6).
        outgoing.append(DevicePlanner.confirm(node: node, requestID: envelope.header.id))
        try await send(outgoing)
    }

    /// `device/{id}/twin/edge_updated`: reported values into the Device's status (through the version it was
    /// written in, so its schema is the one that applies).
    func applyReport(_ envelope: Message, node: String, client: KubeClient) async throws {
        let segments = envelope.route.resource.split(separator: "/").map(String.init)
        guard let index = segments.firstIndex(of: "device"), index + 1 < segments.count else { return }
        let deviceID = segments[index + 1]
        let report = (try? envelope.content.parsed()) ?? .null
        let found: (device: JSONValue, model: JSONValue?)? = state.withLock { state in
            _ = state.planner.observeEdgeUpdate(node: node, deviceID: deviceID, content: report)
            guard let device = state.devices.values.first(where: {
                $0.string(at: "metadata.name") == deviceID
                    && (DeviceView($0)?.node ?? "") == node
            }) else { return nil }
            let modelKey = DeviceView(device)?.modelKey
            return (device, modelKey.flatMap { state.models[$0] })
        }
        guard let found else {
            logger.warning("report for a device this node does not have", metadata: ["node": "\(node)", "device": "\(deviceID)"])
            return
        }
        guard let patch = ReportedStatus.patch(report: report, device: found.device, model: found.model,
                                               now: Message.nowMillis(), refreshAfter: options.reportRefreshMs) else { return }
        let alpha = found.device["apiVersion"]?.stringValue?.hasSuffix("v1alpha2") == true
        let namespace = found.device.string(at: "metadata.namespace") ?? "default"
        let resource = alpha ? Self.devicesV1alpha2 : Self.devicesV1beta1
        do {
            var updated: JSONValue
            if statusSubresource.withLock({ $0 }) != false {
                do {
                    updated = try await client.patch(resource, namespace: namespace, name: deviceID, patch, type: .merge,
                                                     subresource: "status")
                    statusSubresource.withLock { $0 = true }
                } catch let error as KubeError where error.isNotFound && statusSubresource.withLock({ $0 }) == nil {
                    statusSubresource.withLock { $0 = false }
                    updated = try await client.patch(resource, namespace: namespace, name: deviceID, patch, type: .merge)
                }
            } else {
                updated = try await client.patch(resource, namespace: namespace, name: deviceID, patch, type: .merge)
            }
            state.withLock { $0.devices[namespace + "/" + deviceID] = Self.normalized(updated) }
            logger.debug("device status reported", metadata: ["device": "\(namespace)/\(deviceID)"])
        } catch {
            logger.error("could not write the reported twins", metadata: [
                "device": "\(namespace)/\(deviceID)", "error": "\(error)",
            ])
        }
        try persist()
    }
}
