// Reported twin values from the edge (`device/{id}/twin/edge_updated`, a DeviceTwinResult, wire reference §6.3,
// §6.5) into the Device's `status` subresource, as KubeEdge's devicecontroller does (§10.3), with two
// improvements: a report older than what the status already holds is ignored (the edge re-sends unconfirmed
// reports), and a twin the Device's status does not list yet is added when it is one of the device's properties.

import EdgeProtocol

public enum ReportedStatus {
    /// The JSON merge patch for the Device's `status` subresource, `{"status":{"twins":[…]}}` with the complete new
    /// `twins` array (a merge patch replaces arrays), or nil when the report changes nothing.
    ///
    /// - v1beta1: `twins[].reported = {value, metadata{timestamp:"<ms>", type}}`; `observedDesired` is kept, and set
    ///   from the twin's `expected` when the edge reports one (what the edge, hence the mapper, has as desired).
    /// - v1alpha2: `twins[].reported` likewise; `desired` (the user's) is kept untouched.
    ///
    /// The timestamp is the twin's `actual.metadata.timestamp`, else the report's `timestamp`, else `now`; a value
    /// whose timestamp is older than the one in the status is ignored. `model` (the Device's DeviceModel) supplies
    /// property names and types the Device does not list. With `precondition`, the patch also carries
    /// `metadata.resourceVersion`, so the API server refuses it (409) if the Device changed since it was read.
    /// `refreshAfter` (ms) throttles the periodic re-reports of an unchanged value (mappers report every collect
    /// cycle): an unchanged value and type are written again only when their timestamp moved by at least that much
    /// (0: every newer report is written, as KubeEdge does).
    public static func patch(
        report: JSONValue, device: JSONValue, model: JSONValue? = nil, now: Int64, precondition: Bool = false,
        refreshAfter: Int64 = 0
    ) -> JSONValue? {
        guard let report = reportObject(report), let view = DeviceView(device, model: model),
            let reportedTwins = report["twin"]?.objectMembers
        else { return nil }
        let beta = view.apiVersion == .v1beta1
        let reportTime = DeviceJSON.int64(report["timestamp"])
        var entries = device[path: ["status", "twins"]]?.arrayValue ?? []
        var known = Set(view.twins.map(\.name))
        if let model { known.formUnion(DeviceView.propertyNames(model: model)) }
        if !beta {
            for visitor in device[path: ["spec", "propertyVisitors"]]?.arrayValue ?? [] {
                if let name = DeviceJSON.text(visitor["propertyName"]) { known.insert(name) }
            }
        }
        let modelTypes = model.map(DeviceView.propertyTypes(model:)) ?? [:]
        var changed = false

        for (name, twin) in reportedTwins {
            guard twin.isObject, twin[path: ["metadata", "type"]]?.stringValue != "deleted" else { continue }
            var index = entries.firstIndex { DeviceJSON.text($0["propertyName"]) == name }
            let type =
                DeviceJSON.text(twin[path: ["metadata", "type"]]).flatMap { $0.isEmpty ? nil : $0 }
                ?? view.twin(name)?.type ?? modelTypes[name]
                ?? index.flatMap { DeviceJSON.text(entries[$0][path: ["reported", "metadata", "type"]]) }
                ?? "string"
            var updates: [(field: String, value: JSONValue)] = []
            if let value = DeviceJSON.text(twin[path: ["actual", "value"]]) {
                let time = DeviceJSON.int64(twin[path: ["actual", "metadata", "timestamp"]]) ?? reportTime ?? now
                updates.append((field: "reported", value: property(value: value, time: time, type: type)))
            }
            if beta, let value = DeviceJSON.text(twin[path: ["expected", "value"]]) {
                let time = DeviceJSON.int64(twin[path: ["expected", "metadata", "timestamp"]]) ?? reportTime ?? now
                updates.append((field: "observedDesired", value: property(value: value, time: time, type: type)))
            }
            guard !updates.isEmpty else { continue }
            if index == nil {
                guard known.contains(name) else { continue }
                entries.append(.object([(key: "propertyName", value: .string(name))]))
                known.insert(name)
                index = entries.count - 1
            }
            guard let index else { continue }
            for update in updates {
                let existing = entries[index][update.field]
                if let existing,
                    isNewer(existing, than: update.value)
                        || sameValue(existing, update.value, refreshAfter: refreshAfter)
                {
                    continue
                }
                entries[index][member: update.field] = update.value
                changed = true
            }
        }
        guard changed else { return nil }
        var patch: JSONValue = .object([(key: "status", value: .object([(key: "twins", value: .array(entries))]))])
        if precondition, !view.resourceVersion.isEmpty {
            patch[path: ["metadata", "resourceVersion"]] = .string(view.resourceVersion)
        }
        return patch
    }

    /// The report as an object: `content` itself, or the JSON text it holds.
    static func reportObject(_ content: JSONValue) -> JSONValue? {
        if content.isObject { return content }
        if let text = content.stringValue, let parsed = try? JSONValue(parsing: Array(text.utf8)), parsed.isObject {
            return parsed
        }
        return nil
    }

    private static func property(value: String, time: Int64, type: String) -> JSONValue {
        .object([
            (key: "value", value: .string(value)),
            (key: "metadata", value: .object([
                (key: "timestamp", value: .string(String(time))), (key: "type", value: .string(type)),
            ])),
        ])
    }

    /// Whether the status property `existing` carries a later timestamp than `candidate`.
    private static func isNewer(_ existing: JSONValue, than candidate: JSONValue) -> Bool {
        guard let old = DeviceJSON.int64(existing[path: ["metadata", "timestamp"]]),
            let new = DeviceJSON.int64(candidate[path: ["metadata", "timestamp"]])
        else { return false }
        return old > new
    }

    /// Same value and type, and a timestamp less than `refreshAfter` ms later (or equal): not worth writing.
    private static func sameValue(_ existing: JSONValue, _ candidate: JSONValue, refreshAfter: Int64) -> Bool {
        guard DeviceJSON.text(existing["value"]) == DeviceJSON.text(candidate["value"]),
            DeviceJSON.text(existing[path: ["metadata", "type"]])
                == DeviceJSON.text(candidate[path: ["metadata", "type"]])
        else { return false }
        let old = DeviceJSON.int64(existing[path: ["metadata", "timestamp"]])
        let new = DeviceJSON.int64(candidate[path: ["metadata", "timestamp"]])
        guard let old, let new else { return old == new }
        return new == old || new - old < refreshAfter
    }
}
