// §6.5: results, documents, deltas, versions, deletion, cloud sync.

import EdgeProtocol
import Testing

@testable import TwinService

@Suite struct TwinBehaviourTests {
    /// dev1 with twin `switch` desired "ON" from the cloud at cloud version 5 (v1alpha2 devicecontroller shape).
    static let switchTwin = """
        {"switch":{"expected":{"value":"ON","metadata":{"timestamp":1}},"optional":false,
                   "metadata":{"type":"string"},"expected_version":{"cloud":5,"edge":0}}}
        """

    @Test func membershipAddWithVersionsStoresTheTwinAndPublishesDelta() throws {
        let h = try Harness()
        let out = try h.addDevice("dev1", twins: Self.switchTwin, now: 100)
        #expect(out.topics == ["$hw/events/device/dev1/twin/update/document",
                               "$hw/events/device/dev1/twin/update/delta",
                               "$hw/events/node/edge-node-1/membership/updated"])
        #expect(out.payloadText("$hw/events/device/dev1/twin/update/document")
            == #"{"event_id":"","timestamp":100,"twin":{"switch":{"last":null,"current":{"expected":{"value":"ON","metadata":{"timestamp":100}},"optional":false,"metadata":{"type":"string"}}}}}"#)
        #expect(out.payloadText("$hw/events/device/dev1/twin/update/delta")
            == #"{"event_id":"id-1","timestamp":100,"twin":{"switch":{"expected":{"value":"ON","metadata":{"timestamp":100}},"optional":false,"metadata":{"type":"string"}}},"delta":{"switch":"ON"}}"#)
        // Versions are stripped in membership/updated, the request's metadata kept.
        #expect(out.payloadText("$hw/events/node/edge-node-1/membership/updated")
            == #"{"event_id":"id-2","timestamp":100,"added_devices":[{"id":"dev1","name":"dev1","description":"d","twin":{"switch":{"expected":{"value":"ON","metadata":{"timestamp":1}},"optional":false,"metadata":{"type":"string"}}}}],"removed_devices":null}"#)
        #expect(out.toCloud.isEmpty)  // an accepted sync is not echoed
        #expect(h.engine.device("dev1")?.twins["switch"]?.expectedVersion == TwinVersion(cloud: 5, edge: 0))
    }

    @Test func mapperReportPublishesResultDocumentDeltaAndEdgeUpdated() throws {
        let h = try Harness()
        try h.addDevice("dev1", twins: Self.switchTwin, now: 100)
        // The mapper reports OFF: delta stays (ON ≠ OFF).
        let out = h.mqtt("$hw/events/device/dev1/twin/update",
                         #"{"event_id":"","timestamp":150,"twin":{"switch":{"actual":{"value":"OFF","metadata":{}},"metadata":{"type":"string"}}}}"#,
                         now: 200)
        #expect(out.topics == ["$hw/events/device/dev1/twin/update/result",
                               "$hw/events/device/dev1/twin/update/document",
                               "$hw/events/device/dev1/twin/update/delta"])
        #expect(out.payloadText("$hw/events/device/dev1/twin/update/result")
            == #"{"event_id":"","timestamp":200,"twin":{"switch":{"actual":{"value":"OFF","metadata":{"timestamp":200}},"optional":false,"metadata":{"type":"string"}}}}"#)
        #expect(out.payloadText("$hw/events/device/dev1/twin/update/document")
            == #"{"event_id":"","timestamp":200,"twin":{"switch":{"last":{"expected":{"value":"ON","metadata":{"timestamp":100}},"optional":false,"metadata":{"type":"string"}},"current":{"expected":{"value":"ON","metadata":{"timestamp":100}},"actual":{"value":"OFF","metadata":{"timestamp":200}},"optional":false,"metadata":{"type":"string"}}}}}"#)
        #expect(out.payloadText("$hw/events/device/dev1/twin/update/delta")
            == #"{"event_id":"id-3","timestamp":200,"twin":{"switch":{"expected":{"value":"ON","metadata":{"timestamp":100}},"actual":{"value":"OFF","metadata":{"timestamp":200}},"optional":false,"metadata":{"type":"string"}}},"delta":{"switch":"ON"}}"#)
        #expect(out.toCloud.count == 1)
        #expect(out.toCloud.first.map { text($0.content) }
            == #"{"event_id":"id-4","timestamp":200,"twin":{"switch":{"actual":{"value":"OFF","metadata":{"timestamp":200}},"optional":false,"metadata":{"type":"string"},"actual_version":{"cloud":0,"edge":1}}}}"#)

        // Reporting ON clears the delta: no delta publish; the same value again is still a change (edge 2 → 3).
        let on = h.mqtt("$hw/events/device/dev1/twin/update",
                        #"{"event_id":"r2","twin":{"switch":{"actual":{"value":"ON"}}}}"#, now: 300)
        #expect(on.topics == ["$hw/events/device/dev1/twin/update/result",
                              "$hw/events/device/dev1/twin/update/document"])
        let again = h.mqtt("$hw/events/device/dev1/twin/update",
                           #"{"event_id":"r3","twin":{"switch":{"actual":{"value":"ON"}}}}"#, now: 400)
        #expect(again.topics.count == 2)
        #expect(again.toCloud.first?.content[path: ["twin", "switch", "actual_version"]]
            == TwinCodec.json(TwinVersion(cloud: 0, edge: 3)))
    }

    @Test func deltaListsEveryTwinWithExpectedButOnlyDifferencesInDelta() throws {
        let h = try Harness()
        try h.addDevice("dev1", twins: """
            {"a":{"expected":{"value":"1"},"expected_version":{"cloud":1,"edge":0}},
             "b":{"expected":{"value":"2"},"expected_version":{"cloud":1,"edge":0}},
             "c":{"actual":{"value":"3"},"actual_version":{"cloud":1,"edge":0}}}
            """, now: 10)
        let out = h.mqtt("$hw/events/device/dev1/twin/update", #"{"twin":{"a":{"actual":{"value":"1"}}}}"#, now: 20)
        let delta = out.payloadJSON("$hw/events/device/dev1/twin/update/delta")
        #expect(delta?["delta"] == ["b": "2"])
        #expect(delta?["twin"]?.objectMembers?.map(\.key) == ["a", "b"])
    }

    @Test func twinGetReturnsNonDeletedTwinsWithoutVersions() throws {
        let h = try Harness()
        try h.addDevice("dev1", twins: Self.switchTwin, now: 100)
        let out = h.mqtt("$hw/events/device/dev1/twin/get", #"{"event_id":"g-1","timestamp":5}"#, now: 500)
        #expect(out.topics == ["$hw/events/device/dev1/twin/get/result"])
        #expect(out.payloadText("$hw/events/device/dev1/twin/get/result")
            == #"{"event_id":"g-1","timestamp":500,"twin":{"switch":{"expected":{"value":"ON","metadata":{"timestamp":100}},"optional":false,"metadata":{"type":"string"}}}}"#)
        let bad = h.mqtt("$hw/events/device/dev1/twin/get", "{x", now: 501)
        let result = bad.payloadJSON("$hw/events/device/dev1/twin/get/result")
        #expect(result?["code"] == 400)
        #expect(result?["event_id"] == "")
        #expect(result?["reason"]?.stringValue?.hasPrefix("Unmarshal twin info {x failed , err: ") == true)
    }

    @Test func optionalTwinDeletion() throws {
        let h = try Harness()
        try h.addDevice("dev1", twins: Self.switchTwin, now: 100)
        _ = h.mqtt("$hw/events/device/dev1/twin/update",
                   #"{"twin":{"temp":{"actual":{"value":"20"},"metadata":{"type":"int"}}}}"#, now: 110)
        // `switch` is not optional (the cloud said optional:false): a null does nothing.
        let refused = h.mqtt("$hw/events/device/dev1/twin/update", #"{"event_id":"d0","twin":{"switch":null}}"#,
                             now: 115)
        #expect(refused.payloadText("$hw/events/device/dev1/twin/update/result")
            == #"{"event_id":"d0","timestamp":115,"twin":{}}"#)
        #expect(refused.topics.contains("$hw/events/device/dev1/twin/update/document") == false)
        #expect(refused.toCloud.isEmpty)

        // `temp` is optional (mapper-created twins default to optional:true).
        let out = h.mqtt("$hw/events/device/dev1/twin/update", #"{"event_id":"d1","twin":{"temp":null}}"#, now: 120)
        #expect(out.payloadText("$hw/events/device/dev1/twin/update/result")
            == #"{"event_id":"d1","timestamp":120,"twin":{"temp":null}}"#)
        #expect(out.payloadText("$hw/events/device/dev1/twin/update/document")
            == #"{"event_id":"d1","timestamp":120,"twin":{"temp":{"last":{"actual":{"value":"20","metadata":{"timestamp":110}},"optional":true,"metadata":{"type":"int"}},"current":null}}}"#)
        #expect(out.toCloud.first.map { text($0.content) }
            == #"{"event_id":"id-7","timestamp":120,"twin":{"temp":{"actual":{},"optional":true,"metadata":{"type":"deleted"},"expected_version":{"cloud":0,"edge":0},"actual_version":{"cloud":0,"edge":2}}}}"#)
        #expect(h.engine.device("dev1")?.twins["temp"]?.isDeleted == true)

        let get = h.mqtt("$hw/events/device/dev1/twin/get", #"{"event_id":"g"}"#, now: 130)
        #expect(get.payloadJSON("$hw/events/device/dev1/twin/get/result")?["twin"]?.objectMembers?.map(\.key)
            == ["switch"])

        // A new report revives the deleted twin with the request's type.
        let revive = h.mqtt("$hw/events/device/dev1/twin/update",
                            #"{"event_id":"d2","twin":{"temp":{"actual":{"value":"21"},"metadata":{"type":"int"}}}}"#,
                            now: 140)
        #expect(revive.payloadText("$hw/events/device/dev1/twin/update/result")
            == #"{"event_id":"d2","timestamp":140,"twin":{"temp":{"actual":{"value":"21","metadata":{"timestamp":140}},"optional":true,"metadata":{"type":"int"}}}}"#)
        #expect(h.engine.device("dev1")?.twins["temp"]?.type == "int")
        #expect(h.engine.device("dev1")?.twins["temp"]?.actualVersion == TwinVersion(cloud: 0, edge: 3))
    }

    @Test func cloudSyncVersionRules() throws {
        let h = try Harness()
        try h.addDevice("dev1", twins: Self.switchTwin, now: 100)

        // Accepted: newer cloud version. Document and delta, no result, nothing to the cloud.
        let ok = h.engine.applyCloudUpdated(deviceID: "dev1", try json("""
            {"event_id":"c-2","timestamp":1,"twin":{"switch":{"expected":{"value":"OFF"},"optional":false,
             "metadata":{"type":"string"},"expected_version":{"cloud":6,"edge":0}}}}
            """), now: 200)
        #expect(ok.topics == ["$hw/events/device/dev1/twin/update/document",
                              "$hw/events/device/dev1/twin/update/delta"])
        #expect(ok.toCloud.isEmpty)
        #expect(ok.payloadJSON("$hw/events/device/dev1/twin/update/document")?["event_id"] == "c-2")
        #expect(h.engine.device("dev1")?.twins["switch"]?.expected?.value == "OFF")

        // Without a version: refused silently (no document, nothing to the cloud).
        let noVersion = h.engine.applyCloudUpdated(deviceID: "dev1", try json(
            #"{"event_id":"c-3","twin":{"switch":{"expected":{"value":"X"},"metadata":{"type":"string"}}}}"#), now: 210)
        #expect(noVersion.topics == ["$hw/events/device/dev1/twin/update/delta"])
        #expect(noVersion.toCloud.first.map { text($0.content) }
            == #"{"event_id":"id-5","timestamp":210,"twin":{"switch":{"expected":{"value":"OFF","metadata":{"timestamp":200}},"optional":false,"metadata":{"type":"string"},"expected_version":{"cloud":6,"edge":0}}}}"#)
        #expect(h.engine.device("dev1")?.twins["switch"]?.expected?.value == "OFF")

        // The edge changes the desired value itself (edge version 1) …
        _ = h.mqtt("$hw/events/device/dev1/twin/update", #"{"twin":{"switch":{"expected":{"value":"AUTO"}}}}"#,
                   now: 300)
        #expect(h.engine.device("dev1")?.twins["switch"]?.expectedVersion == TwinVersion(cloud: 6, edge: 1))
        // … so a cloud update still at edge 0 conflicts: the edge's value is reported back with its versions.
        let conflict = h.engine.applyCloudUpdated(deviceID: "dev1", try json("""
            {"event_id":"c-4","twin":{"switch":{"expected":{"value":"ON"},"metadata":{"type":"string"},
             "expected_version":{"cloud":7,"edge":0}}}}
            """), now: 400)
        #expect(conflict.topics.contains("$hw/events/device/dev1/twin/update/document") == false)
        #expect(conflict.topics.contains("$hw/events/device/dev1/twin/update/result") == false)
        #expect(conflict.toCloud.count == 1)
        #expect(conflict.toCloud.first.map { text($0.content) }
            == #"{"event_id":"id-9","timestamp":400,"twin":{"switch":{"expected":{"value":"AUTO","metadata":{"timestamp":300}},"optional":false,"metadata":{"type":"string"},"expected_version":{"cloud":6,"edge":1}}}}"#)
        #expect(h.engine.device("dev1")?.twins["switch"]?.expected?.value == "AUTO")

        // An older cloud version also conflicts.
        let older = h.engine.applyCloudUpdated(deviceID: "dev1", try json("""
            {"twin":{"switch":{"expected":{"value":"ON"},"expected_version":{"cloud":5,"edge":1}}}}
            """), now: 410)
        #expect(older.toCloud.count == 1)
        #expect(h.engine.device("dev1")?.twins["switch"]?.expected?.value == "AUTO")

        // A cloud that has seen the edge's change (edge 1) wins.
        let accepted = h.engine.applyCloudUpdated(deviceID: "dev1", try json("""
            {"twin":{"switch":{"expected":{"value":"ON"},"expected_version":{"cloud":7,"edge":1}}}}
            """), now: 420)
        #expect(accepted.toCloud.isEmpty)
        #expect(h.engine.device("dev1")?.twins["switch"]?.expected?.value == "ON")
        #expect(h.engine.device("dev1")?.twins["switch"]?.expectedVersion == TwinVersion(cloud: 7, edge: 1))
    }

    @Test func cloudDeletesATwin() throws {
        let h = try Harness()
        try h.addDevice("dev1", twins: Self.switchTwin, now: 100)
        let out = h.engine.applyCloudUpdated(deviceID: "dev1", try json("""
            {"event_id":"c-9","twin":{"switch":{"expected":{"value":"ON"},"optional":false,
             "metadata":{"type":"deleted"},"expected_version":{"cloud":8,"edge":0}}}}
            """), now: 200)
        #expect(out.topics == ["$hw/events/device/dev1/twin/update/document"])
        #expect(out.payloadText("$hw/events/device/dev1/twin/update/document")
            == #"{"event_id":"c-9","timestamp":200,"twin":{"switch":{"last":{"expected":{"value":"ON","metadata":{"timestamp":100}},"optional":false,"metadata":{"type":"string"}},"current":null}}}"#)
        #expect(out.toCloud.isEmpty)
        let twin = h.engine.device("dev1")?.twins["switch"]
        #expect(twin?.isDeleted == true)
        #expect(twin?.expected == nil)
        #expect(twin?.expectedVersion == TwinVersion(cloud: 8, edge: 0))
    }

    @Test func cloudUpdatedFromMQTTTopicAndBrokenSync() throws {
        let h = try Harness()
        try h.addDevice("dev1", twins: Self.switchTwin, now: 100)
        // The old bluetooth mapper publishes on …/twin/cloud_updated: treated as a sync.
        let out = h.mqtt("$hw/events/device/dev1/twin/cloud_updated",
                         #"{"twin":{"switch":{"expected":{"value":"OFF"},"expected_version":{"cloud":9,"edge":0}}}}"#,
                         now: 200)
        #expect(out.topics.contains("$hw/events/device/dev1/twin/update/result") == false)
        #expect(h.engine.device("dev1")?.twins["switch"]?.expected?.value == "OFF")

        let broken = h.mqtt("$hw/events/device/dev1/twin/cloud_updated", "{nope", now: 210)
        #expect(broken.payloadText("$hw/events/device//twin/update/result")
            == #"{"event_id":"","timestamp":210,"code":400,"reason":"unmarshal update request body failed, Please check the request"}"#)
        let broken2 = h.engine.applyCloudUpdated(deviceID: "dev1", try json(#"{"twin":{"bad key":{}}}"#), now: 220)
        #expect(broken2.payloadJSON("$hw/events/device//twin/update/result")?["reason"]
            == "unmarshal update request body failed, Please check the request")
    }

    @Test func optionalOnlyGoesFromTrueToFalse() throws {
        let h = try Harness()
        try h.addDevice("dev1")
        _ = h.mqtt("$hw/events/device/dev1/twin/update", #"{"twin":{"t":{"actual":{"value":"1"}}}}"#, now: 1)
        let toFalse = h.mqtt("$hw/events/device/dev1/twin/update", #"{"event_id":"o","twin":{"t":{"optional":false}}}"#,
                             now: 2)
        #expect(toFalse.payloadText("$hw/events/device/dev1/twin/update/result")
            == #"{"event_id":"o","timestamp":2,"twin":{"t":{"optional":false}}}"#)
        let toTrue = h.mqtt("$hw/events/device/dev1/twin/update", #"{"event_id":"p","twin":{"t":{"optional":true}}}"#,
                            now: 3)
        #expect(toTrue.payloadText("$hw/events/device/dev1/twin/update/result")
            == #"{"event_id":"p","timestamp":3,"twin":{}}"#)
        #expect(toTrue.toCloud.isEmpty)
        #expect(h.engine.device("dev1")?.twins["t"]?.optional == false)
    }
}
