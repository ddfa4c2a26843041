// The behaviour of edgecore's devicetwin module (kubeedge-wire.md §6), without I/O: each call takes a request and
// the current time, updates the cache and SQLite (one transaction per call), and returns what to publish.
//
// Not Sendable: the twin service confines one engine (and its TwinStore) to one task.

import EdgeProtocol

public final class TwinEngine {
    /// The node this edge runs as (membership topics use it).
    public let nodeName: String
    public let store: TwinStore
    /// The cache: every device of the node, as loaded from / written to SQLite.
    private var cache: [String: TwinDevice]
    private let makeEventID: () -> String
    private let formatLastOnline: (Int64) -> String
    private let log: (TwinLogLevel, String) -> Void

    /// - Parameters:
    ///   - store: the twin tables; the cache is loaded from it now.
    ///   - nodeName: this node's name (`$hw/events/node/{nodeName}/…`).
    ///   - makeEventID: new event ids (edgecore: `uuid.New()`); inject for deterministic tests.
    ///   - formatLastOnline: `last_online` text for a time in ms (edgecore: local `2006-01-02 15:04:05`).
    ///   - log: receives what edgecore logs and a few more notes (ignored states, refused syncs).
    public init(
        store: TwinStore, nodeName: String, makeEventID: @escaping () -> String = { Message.newID() },
        formatLastOnline: @escaping (Int64) -> String = { TwinClock.localDateTime(millis: $0) },
        log: @escaping (TwinLogLevel, String) -> Void = { _, _ in }
    ) throws {
        self.store = store
        self.nodeName = nodeName
        self.makeEventID = makeEventID
        self.formatLastOnline = formatLastOnline
        self.log = log
        var cache: [String: TwinDevice] = [:]
        for device in try store.loadDevices() { cache[device.id] = device }
        self.cache = cache
    }

    // MARK: - Queries

    /// Every device, sorted by id.
    public func devices() -> [TwinDevice] { cache.keys.sorted().map { cache[$0]! } }

    /// One device, if bound to this node.
    public func device(_ id: String) -> TwinDevice? { cache[id] }

    /// The `membership/detail` `get` edgecore sends to the cloud on every (re)connect (§6.6, `detailRequest`):
    /// content is a JSON **string** of `{"event_type":"group_membership_event","event_id","group_id","operation",
    /// "timestamp"}`.
    public func membershipDetailRequest(now: Int64, eventID: String? = nil) -> CloudTwinMessage {
        var members: [(key: String, value: JSONValue)] = [(key: "event_type", value: "group_membership_event")]
        let id = eventID ?? makeEventID()
        if !id.isEmpty { members.append((key: "event_id", value: .string(id))) }
        if !nodeName.isEmpty { members.append((key: "group_id", value: .string(nodeName))) }
        members.append((key: "operation", value: "detail"))
        if now != 0 { members.append((key: "timestamp", value: .integer(now))) }
        let text = String(decoding: TwinCodec.bytes(.object(members)), as: UTF8.self)
        return CloudTwinMessage(resource: TwinResources.membershipDetail, operation: "get", content: .string(text))
    }

    // MARK: - Work: a copy of the cache, the SQL changes and the outputs of one call

    private struct Work {
        var devices: [String: TwinDevice]
        var changes: [TwinStoreChange] = []
        var out = TwinOutput()
    }

    /// Writes `work.changes` in one transaction and adopts `work.devices`. False (and the cache unchanged) when
    /// SQLite fails.
    private func commit(_ work: Work) -> SQLiteFailure? {
        do {
            try store.apply(work.changes)
        } catch {
            log(.error, "twin: writing SQLite failed, nothing changed: \(error)")
            return SQLiteFailure(message: "\(error)")
        }
        cache = work.devices
        return nil
    }

    private struct SQLiteFailure {
        var message: String
    }

    // MARK: - MQTT side

    /// A message from the device broker (eventbus → twin): `…/twin/update`, `…/twin/get`, `…/twin/cloud_updated`,
    /// `…/state/update`, `…/updated` and `$hw/events/node/{node}/membership/get`. Other topics give an empty output.
    public func handleDeviceTopic(_ topic: String, payload: [UInt8], now: Int64) -> TwinOutput {
        let parts = topic.split(separator: "/", maxSplits: 4, omittingEmptySubsequences: false)
        guard parts.count == 5, topic.hasPrefix(Topics.eventsRoot), !parts[3].isEmpty else {
            log(.debug, "twin: topic \(topic) is not a twin topic")
            return TwinOutput()
        }
        let identity = String(parts[3])
        switch topic {
        case Topics.Device.twinUpdate(identity):
            return twinUpdate(deviceID: identity, payload: payload, now: now)
        case Topics.Device.twinGet(identity):
            return twinGet(deviceID: identity, payload: payload, now: now)
        case Topics.Device.twinCloudUpdated(identity):
            return cloudUpdated(deviceID: identity, parsed: parsePayload(payload), now: now)
        case Topics.Device.stateUpdate(identity):
            return stateUpdate(deviceID: identity, payload: payload, now: now)
        case Topics.Device.updated(identity):
            return attributesUpdated(deviceID: identity, payload: payload, now: now)
        case Topics.Node.membershipGet(identity):
            return membershipGet(payload: payload, now: now)
        default:
            // `…/state/get` is classified by edgecore but has no handler; membership updated/detail from MQTT
            // would be our own publishes echoed back.
            log(.debug, "twin: no handler for topic \(topic)")
            return TwinOutput()
        }
    }

    private func parsePayload(_ payload: [UInt8]) -> Result<JSONValue, TwinDecodeError> {
        do throws(TwinDecodeError) {
            return .success(try TwinCodec.parse(payload))
        } catch {
            return .failure(error)
        }
    }

    private static func errorPayload(_ eventID: String, _ now: Int64, _ error: TwinError) -> JSONValue {
        TwinCodec.errorResult(eventID: eventID, timestamp: now, code: error.code, reason: error.reason)
    }

    /// `Updated` + `DealDeviceTwin(…, RestDealType)`.
    private func twinUpdate(deviceID: String, payload: [UInt8], now: Int64) -> TwinOutput {
        var out = TwinOutput()
        let update: DeviceTwinUpdate
        do throws(TwinDecodeError) {
            update = try TwinCodec.decodeTwinUpdate(try TwinCodec.parse(payload))
        } catch {
            log(.warning, "twin: update of \(deviceID) not decodable: \(error)")
            out.publish(Topics.Device.twinUpdateResult(""), Self.errorPayload("", now, .unmarshal))
            return out
        }
        if let error = TwinValidation.check(update) {
            // edgecore reports every failure of UnmarshalDeviceTwinUpdate without device id or event id.
            log(.warning, "twin: update of \(deviceID) rejected: \(error.reason)")
            out.publish(Topics.Device.twinUpdateResult(""), Self.errorPayload("", now, error))
            return out
        }
        var work = Work(devices: cache)
        let ok = dealDeviceTwin(&work, deviceID: deviceID, eventID: update.eventID, request: update.twin ?? [:],
                                type: .rest, now: now)
        guard ok else { return work.out }
        if let failure = commit(work) {
            out.publish(Topics.Device.twinUpdateResult(deviceID),
                        Self.errorPayload(update.eventID, now, TwinError(code: 500, reason: failure.message)))
            return out
        }
        return work.out
    }

    /// `dealTwinSync` for a payload from MQTT (`…/twin/cloud_updated`) or the cloud.
    private func cloudUpdated(deviceID: String, parsed: Result<JSONValue, TwinDecodeError>, now: Int64) -> TwinOutput {
        var out = TwinOutput()
        let update: DeviceTwinUpdate
        do throws(TwinDecodeError) {
            update = try TwinCodec.decodeTwinUpdate(try parsed.get())
        } catch {
            log(.warning, "twin: cloud update of \(deviceID) not decodable: \(error)")
            out.publish(Topics.Device.twinUpdateResult(""), Self.errorPayload("", now, .syncUnmarshal))
            return out
        }
        if let error = TwinValidation.check(update) {
            log(.warning, "twin: cloud update of \(deviceID) rejected: \(error.reason)")
            out.publish(Topics.Device.twinUpdateResult(""), Self.errorPayload("", now, .syncUnmarshal))
            return out
        }
        var work = Work(devices: cache)
        let ok = dealDeviceTwin(&work, deviceID: deviceID, eventID: update.eventID, request: update.twin ?? [:],
                                type: .sync, now: now)
        guard ok else { return work.out }
        if commit(work) != nil { return TwinOutput() }
        return work.out
    }

    /// `DealGetTwin`.
    private func twinGet(deviceID: String, payload: [UInt8], now: Int64) -> TwinOutput {
        var out = TwinOutput()
        let topic = Topics.Device.twinGetResult(deviceID)
        let base: (eventID: String, timestamp: Int64)
        do throws(TwinDecodeError) {
            base = try TwinCodec.decodeBase(try TwinCodec.parse(payload))
        } catch {
            let reason = "Unmarshal twin info \(String(decoding: payload, as: UTF8.self)) failed , err: \(error)"
            out.publish(topic, Self.errorPayload("", now, TwinError(code: 400, reason: reason)))
            return out
        }
        guard let device = cache[deviceID] else {
            let reason = "Device \(deviceID) not found while getting twin"
            out.publish(topic, Self.errorPayload(base.eventID, now, TwinError(code: 404, reason: reason)))
            return out
        }
        let twins = TwinDeal.mapperView(device.twins.mapValues { Optional($0) })
        out.publish(topic, TwinCodec.twinResult(eventID: base.eventID, timestamp: now, twin: twins))
        return out
    }

    /// `dealDeviceStateUpdate`.
    private func stateUpdate(deviceID: String, payload: [UInt8], now: Int64) -> TwinOutput {
        let update: DeviceStateOrAttrUpdate
        do throws(TwinDecodeError) {
            update = try TwinCodec.decodeDeviceUpdate(try TwinCodec.parse(payload))
        } catch {
            log(.warning, "twin: state update of \(deviceID) not decodable: \(error)")
            return TwinOutput()
        }
        guard var device = cache[deviceID] else {
            log(.debug, "twin: state update for unknown device \(deviceID) ignored")
            return TwinOutput()
        }
        switch update.state.lowercased() {
        case "online", "offline", "ok", "unknown", "disconnected":
            break
        default:
            // edgecore drops these silently (kubeedge-wire.md §6.4 "do better": log them).
            log(.warning, "twin: state \"\(update.state)\" of device \(deviceID) ignored (not one of online, "
                + "offline, ok, unknown, disconnected)")
            return TwinOutput()
        }
        let lastOnline = formatLastOnline(now)
        device.state = update.state
        device.lastOnline = lastOnline
        var work = Work(devices: cache)
        work.devices[deviceID] = device
        work.changes.append(.updateState(deviceID: deviceID, state: update.state, lastOnline: lastOnline))
        let payload = TwinCodec.deviceState(eventID: makeEventID(), timestamp: now, name: device.name,
                                            state: device.state, lastOnline: lastOnline)
        work.out.publish(Topics.Device.stateUpdateResult(deviceID), payload)
        let text = String(decoding: TwinCodec.bytes(payload), as: UTF8.self)
        work.out.toCloud.append(CloudTwinMessage(resource: TwinResources.stateUpdate(deviceID),
                                                 operation: "update", content: .string(text)))
        if commit(work) != nil { return TwinOutput() }
        return work.out
    }

    /// `dealDeviceAttrUpdate`.
    private func attributesUpdated(deviceID: String, payload: [UInt8], now: Int64) -> TwinOutput {
        let update: DeviceStateOrAttrUpdate
        do throws(TwinDecodeError) {
            update = try TwinCodec.decodeDeviceUpdate(try TwinCodec.parse(payload))
        } catch {
            log(.warning, "twin: attribute update of \(deviceID) not decodable: \(error)")
            return TwinOutput()
        }
        var work = Work(devices: cache)
        updateAttributes(&work, deviceID: deviceID, request: update.attributes ?? [:], eventID: update.eventID,
                         type: .rest, now: now)
        if commit(work) != nil { return TwinOutput() }
        return work.out
    }

    /// `dealMembershipGetInner`. The result goes to this node's topic, whatever node the request named.
    private func membershipGet(payload: [UInt8], now: Int64) -> TwinOutput {
        var out = TwinOutput()
        let topic = Topics.Node.membershipGetResult(nodeName)
        do throws(TwinDecodeError) {
            let base = try TwinCodec.decodeBase(try TwinCodec.parse(payload))
            let devices = devices().map { device in
                MembershipDevice(id: device.id, name: device.name, description: device.description,
                                 state: device.state, lastOnline: device.lastOnline,
                                 attributes: device.attributes.mapValues { Optional($0) })
            }
            out.publish(topic, TwinCodec.json(TwinMembershipDetail(eventID: base.eventID, timestamp: now, devices: devices)))
        } catch {
            let reason = "Unmarshal get membership info \(String(decoding: payload, as: UTF8.self)) failed , err: \(error)"
            out.publish(topic, Self.errorPayload("", now, TwinError(code: 400, reason: reason)))
        }
        return out
    }

    // MARK: - Cloud side

    /// The content of a cloud message as JSON: an object, or a string holding JSON (accepted leniently).
    private func cloudContent(_ content: JSONValue) -> Result<JSONValue, TwinDecodeError> {
        if case .string(let text) = content { return parsePayload(Array(text.utf8)) }
        return .success(content)
    }

    /// `device/{id}/twin/cloud_updated` from the cloud: desired values with versions; `metadata.type:"deleted"`
    /// deletes a twin. No `update/result` is published (only document, delta and, on conflicts, `edge_updated`).
    public func applyCloudUpdated(deviceID: String, _ content: JSONValue, now: Int64) -> TwinOutput {
        cloudUpdated(deviceID: deviceID, parsed: cloudContent(content), now: now)
    }

    /// `membership` (update) from the cloud: `added_devices` / `removed_devices` (`dealMembershipUpdate`).
    public func applyMembershipUpdate(_ content: JSONValue, now: Int64) -> TwinOutput {
        let update: TwinMembershipUpdate
        do throws(TwinDecodeError) {
            update = try TwinCodec.decodeMembershipUpdate(try cloudContent(content).get())
        } catch {
            log(.error, "twin: membership update not decodable: \(error)")
            return TwinOutput()
        }
        var work = Work(devices: cache)
        if let added = update.addedDevices, !added.isEmpty { addDevices(&work, added, now: now) }
        if let removed = update.removedDevices, !removed.isEmpty { removeDevices(&work, removed, now: now) }
        return finish(work)
    }

    /// `membership/detail` from the cloud: the full list; devices not listed are removed (`dealMembershipDetail`).
    public func applyMembershipDetail(_ content: JSONValue, now: Int64) -> TwinOutput {
        let detail: TwinMembershipDetail
        do throws(TwinDecodeError) {
            detail = try TwinCodec.decodeMembershipDetail(try cloudContent(content).get())
        } catch {
            log(.error, "twin: membership detail not decodable: \(error)")
            return TwinOutput()
        }
        var work = Work(devices: cache)
        let listed = detail.devices ?? []
        addDevices(&work, listed, now: now)
        let keep = Set(listed.map(\.id))
        let toRemove = work.devices.keys.sorted().filter { !keep.contains($0) }.map { MembershipDevice(id: $0) }
        if !toRemove.isEmpty { removeDevices(&work, toRemove, now: now) }
        return finish(work)
    }

    private func finish(_ work: Work) -> TwinOutput {
        if commit(work) != nil { return TwinOutput() }
        var out = work.out
        out.specsChanged = Array(Set(out.specsChanged)).sorted()
        return out
    }

    // MARK: - Membership (dtmanager/membership.go)

    /// `addDevice` with `delta == false` (what both membership update and detail use): event id "" and sync deal.
    private func addDevices(_ work: inout Work, _ devices: [MembershipDevice], now: Int64) {
        for device in devices {
            guard !device.id.isEmpty else {
                log(.warning, "twin: membership device without id ignored")
                continue
            }
            if var existing = work.devices[device.id] {
                let before = existing
                // edgecore only re-syncs attributes and twins of a known device; we also take a new name or
                // description.
                if (!device.name.isEmpty && device.name != existing.name)
                    || (!device.description.isEmpty && device.description != existing.description)
                {
                    if !device.name.isEmpty { existing.name = device.name }
                    if !device.description.isEmpty { existing.description = device.description }
                    work.devices[device.id] = existing
                    work.changes.append(.putDevice(existing))
                }
                updateAttributes(&work, deviceID: device.id, request: device.attributes ?? [:], eventID: "",
                                 type: .sync, now: now)
                // edgecore also deals a missing `twin` (and publishes a 400 "key:twin does not exist" on the
                // device's update/result); a v1.15 cloud never sends twins, so we skip instead.
                if let twin = device.twin {
                    dealDeviceTwin(&work, deviceID: device.id, eventID: "", request: twin, type: .sync, now: now)
                }
                if work.devices[device.id] != before { work.out.specsChanged.append(device.id) }
                continue
            }
            let added = TwinDevice(id: device.id, name: device.name, description: device.description,
                                   state: device.state)
            work.devices[device.id] = added
            work.changes.append(.putDevice(added))
            if let twin = device.twin {
                dealDeviceTwin(&work, deviceID: device.id, eventID: "", request: twin, type: .sync, now: now)
            }
            if let attributes = device.attributes {
                updateAttributes(&work, deviceID: device.id, request: attributes, eventID: "", type: .sync, now: now)
            }
            let update = TwinMembershipUpdate(eventID: makeEventID(), timestamp: now,
                                          addedDevices: [Self.forMappers(device)], removedDevices: nil)
            work.out.publish(Topics.Node.membershipUpdated(nodeName), TwinCodec.json(update))
            work.out.specsChanged.append(device.id)
            log(.info, "twin: device \(device.id) added")
        }
    }

    /// `removeDevice` with `delta == false`.
    private func removeDevices(_ work: inout Work, _ devices: [MembershipDevice], now: Int64) {
        for device in devices {
            guard work.devices[device.id] != nil else {
                log(.warning, "twin: remove device \(device.id) failed, not existed")
                continue
            }
            work.devices.removeValue(forKey: device.id)
            work.changes.append(.deleteDevice(device.id))
            let update = TwinMembershipUpdate(eventID: makeEventID(), timestamp: now, addedDevices: nil,
                                          removedDevices: [Self.forMappers(device)])
            work.out.publish(Topics.Node.membershipUpdated(nodeName), TwinCodec.json(update))
            work.out.specsChanged.append(device.id)
            log(.info, "twin: device \(device.id) removed")
        }
    }

    /// `MarshalMembershipUpdate`: versions stripped, deleted twins as `null`.
    static func forMappers(_ device: MembershipDevice) -> MembershipDevice {
        var copy = device
        if let twin = device.twin {
            var stripped: [String: MsgTwin?] = [:]
            for (key, value) in twin {
                if let value, !value.isDeleted {
                    stripped.updateValue(value.withoutVersions, forKey: key)
                } else {
                    stripped.updateValue(nil, forKey: key)
                }
            }
            copy.twin = stripped
        }
        return copy
    }

    // MARK: - Attributes (dtmanager/device.go UpdateDeviceAttr, DealMsgAttr)

    private func updateAttributes(_ work: inout Work, deviceID: String, request: [String: MsgAttr?], eventID: String,
                                  type: TwinDealType, now: Int64) {
        guard var device = work.devices[deviceID] else { return }
        var result: [String: MsgAttr?] = [:]
        for key in request.keys.sorted() {
            let message = request[key]!
            if let attr = device.attributes[key] {
                guard let message else {
                    if type == .rest, attr.optional ?? true {
                        device.attributes.removeValue(forKey: key)
                        result.updateValue(nil, forKey: key)
                        work.changes.append(.deleteAttr(deviceID: deviceID, name: key))
                    }
                    continue
                }
                var changed = attr
                var partial = MsgAttr()
                var isChange = false
                if attr.value != message.value {
                    changed.value = message.value
                    partial.value = message.value
                    isChange = true
                }
                if let metadata = message.metadata, metadata != attr.metadata {
                    changed.metadata = metadata
                    partial.metadata = metadata
                    isChange = true
                }
                if let optional = message.optional, optional != (attr.optional ?? true), attr.optional ?? true {
                    changed.optional = optional
                    partial.optional = optional
                    isChange = true
                }
                if isChange {
                    device.attributes[key] = changed
                    result.updateValue(partial, forKey: key)
                    work.changes.append(.putAttr(deviceID: deviceID, name: key, attr: changed))
                }
            } else {
                guard let message else { continue }  // edgecore dereferences nil here
                let attr = TwinStore.cachedForm(message)
                device.attributes[key] = attr
                result.updateValue(message, forKey: key)
                work.changes.append(.putAttr(deviceID: deviceID, name: key, attr: attr))
            }
        }
        if type != .rest {
            // A sync carries the full list: attributes not in it are deleted.
            for key in device.attributes.keys.sorted() where !request.keys.contains(key) {
                device.attributes.removeValue(forKey: key)
                result.updateValue(nil, forKey: key)
                work.changes.append(.deleteAttr(deviceID: deviceID, name: key))
            }
        }
        work.devices[deviceID] = device
        if !result.isEmpty {
            work.out.publish(Topics.Device.updated(deviceID),
                             TwinCodec.attributesUpdate(eventID: eventID, timestamp: now, attributes: result))
        }
    }

    // MARK: - Twins (dtmanager/twin.go DealDeviceTwin)

    /// Deals `request` for one device into `work`. False when the request was rejected (its error result is in
    /// `work.out`; nothing of it is in `work.devices` / `work.changes`).
    @discardableResult
    private func dealDeviceTwin(_ work: inout Work, deviceID: String, eventID: String, request: [String: MsgTwin?],
                                type: TwinDealType, now: Int64) -> Bool {
        let resultTopic = Topics.Device.twinUpdateResult(deviceID)
        guard var device = work.devices[deviceID] else {
            log(.warning, "twin: update of unknown device \(deviceID) rejected")
            work.out.publish(resultTopic, Self.errorPayload(eventID, now, .deviceNotFound))
            return false
        }
        var deal = TwinDeal(type: type, now: now)
        var twins = device.twins
        let error = deal.deal(request, into: &twins)
        for note in deal.notes { log(type == .rest ? .debug : .warning, "twin: device \(deviceID): \(note)") }
        if let error {
            log(.warning, "twin: update of device \(deviceID) rejected: \(error.reason)")
            work.out.publish(resultTopic, Self.errorPayload(eventID, now, error))
            return false
        }
        for key in deal.changed.sorted() {
            let twin = TwinStore.cachedForm(twins[key]!)
            twins[key] = twin
            work.changes.append(.putTwin(deviceID: deviceID, name: key, twin: twin))
        }
        device.twins = twins
        work.devices[deviceID] = device

        if type == .rest {
            work.out.publish(resultTopic, TwinCodec.twinResult(eventID: eventID, timestamp: now,
                                                              twin: TwinDeal.mapperView(deal.result)))
        }
        if !deal.document.isEmpty {
            work.out.publish(Topics.Device.twinUpdateDocument(deviceID),
                             TwinCodec.twinDocument(eventID: eventID, timestamp: now, twin: deal.document))
        }
        if let delta = TwinDeal.delta(of: twins) {
            work.out.publish(Topics.Device.twinUpdateDelta(deviceID),
                             TwinCodec.twinDelta(eventID: makeEventID(), timestamp: now, twin: delta.twin,
                                                 delta: delta.delta))
        }
        if !deal.syncResult.isEmpty {
            let content = TwinCodec.twinResult(eventID: makeEventID(), timestamp: now,
                                               twin: deal.syncResult.mapValues { Optional($0) })
            work.out.toCloud.append(CloudTwinMessage(resource: TwinResources.edgeUpdated(deviceID),
                                                     operation: "update", content: content))
        }
        return true
    }
}
