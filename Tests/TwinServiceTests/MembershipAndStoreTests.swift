// §6.6 membership, §6.4 state updates, attributes, membership/get, and §6.8 persistence.

import EdgeProtocol
import Store
import Testing

@testable import TwinService

@Suite struct MembershipAndStoreTests {
    static let membershipUpdated = "$hw/events/node/edge-node-1/membership/updated"

    @Test func addAndRemoveThroughMembershipUpdate() throws {
        let h = try Harness()
        try h.addDevice("dev1", attributes: #"{"model":{"value":"x1","optional":false,"metadata":{"type":"string"}}}"#)
        try h.addDevice("dev2")
        #expect(h.engine.devices().map(\.id) == ["dev1", "dev2"])
        #expect(h.engine.device("dev1")?.attributes["model"] == MsgAttr(value: "x1", optional: false,
                                                                        metadata: TwinTypeMetadata(type: "string")))

        let out = h.engine.applyMembershipUpdate(try json("""
            {"event_id":"r","timestamp":1,"added_devices":null,"removed_devices":[{"id":"dev1","name":"dev1"},{"id":"nope"}]}
            """), now: 50)
        #expect(out.topics == [Self.membershipUpdated])
        #expect(out.payloadText(Self.membershipUpdated)
            == #"{"event_id":"id-3","timestamp":50,"added_devices":null,"removed_devices":[{"id":"dev1","name":"dev1"}]}"#)
        #expect(out.specsChanged == ["dev1"])
        #expect(h.engine.devices().map(\.id) == ["dev2"])
        try h.reopen()
        #expect(h.engine.devices().map(\.id) == ["dev2"])
        let rows = try h.engine.store.database.scalarInt64("SELECT count(*) FROM device_attr WHERE deviceid = 'dev1'")
        #expect(rows == 0)
    }

    @Test func newDeviceAttributesArePublished() throws {
        let h = try Harness()
        let out = try h.addDevice("dev1", attributes: #"{"vendor":{"value":"acme"}}"#)
        #expect(out.topics == ["$hw/events/device/dev1/updated", Self.membershipUpdated])
        #expect(out.payloadText("$hw/events/device/dev1/updated")
            == #"{"event_id":"","timestamp":1000,"attributes":{"vendor":{"value":"acme"}}}"#)
        #expect(h.engine.device("dev1")?.attributes["vendor"]
            == MsgAttr(value: "acme", optional: true, metadata: TwinTypeMetadata(type: "string")))
    }

    @Test func detailReplacesTheWholeMembership() throws {
        let h = try Harness()
        try h.addDevice("dev1")
        try h.addDevice("dev2", attributes: #"{"a":{"value":"1"},"b":{"value":"2"}}"#)
        let ids = h.box.next
        let out = h.engine.applyMembershipDetail(try json("""
            {"event_id":"d","timestamp":1,"devices":[
              {"id":"dev2","name":"dev2","attributes":{"a":{"value":"1"}}},
              {"id":"dev3","name":"dev3","description":"new",
               "twin":{"t":{"expected":{"value":"5"},"metadata":{"type":"int"},"expected_version":{"cloud":3,"edge":0}}}}]}
            """), now: 70)
        // dev2: attribute b dropped (sync = full list); dev3 added (document, delta, membership); dev1 removed.
        #expect(out.topics == [
            "$hw/events/device/dev2/updated",
            "$hw/events/device/dev3/twin/update/document",
            "$hw/events/device/dev3/twin/update/delta",
            Self.membershipUpdated,
            Self.membershipUpdated,
        ])
        #expect(out.payloadText("$hw/events/device/dev2/updated")
            == #"{"event_id":"","timestamp":70,"attributes":{"b":null}}"#)
        let updates = out.deviceTopics.filter { $0.topic == Self.membershipUpdated }.map { text($0.payload) }
        #expect(updates == [
            #"{"event_id":"id-\#(ids + 2)","timestamp":70,"added_devices":[{"id":"dev3","name":"dev3","description":"new","twin":{"t":{"expected":{"value":"5"},"metadata":{"type":"int"}}}}],"removed_devices":null}"#,
            #"{"event_id":"id-\#(ids + 3)","timestamp":70,"added_devices":null,"removed_devices":[{"id":"dev1"}]}"#,
        ])
        #expect(out.specsChanged == ["dev1", "dev2", "dev3"])
        #expect(h.engine.devices().map(\.id) == ["dev2", "dev3"])
        #expect(h.engine.device("dev2")?.attributes.keys.sorted() == ["a"])

        // The same detail again changes nothing but re-syncing dev3's twin (same versions are accepted).
        let again = h.engine.applyMembershipDetail(try json("""
            {"devices":[{"id":"dev2","name":"dev2","attributes":{"a":{"value":"1"}}},
              {"id":"dev3","name":"dev3","description":"new",
               "twin":{"t":{"expected":{"value":"5"},"metadata":{"type":"int"},"expected_version":{"cloud":3,"edge":0}}}}]}
            """), now: 80)
        #expect(again.topics.contains(Self.membershipUpdated) == false)
        #expect(again.topics.contains("$hw/events/device/dev2/updated") == false)

        // An empty detail removes everything.
        let empty = h.engine.applyMembershipDetail(try json(#"{"devices":[]}"#), now: 90)
        #expect(empty.specsChanged == ["dev2", "dev3"])
        #expect(h.engine.devices().isEmpty)
        try h.reopen()
        #expect(h.engine.devices().isEmpty)
    }

    @Test func persistenceAcrossReopening() throws {
        let h = try Harness()
        try h.addDevice("dev1", twins: """
            {"switch":{"expected":{"value":"ON"},"optional":false,"metadata":{"type":"string"},
                       "expected_version":{"cloud":5,"edge":0}}}
            """, now: 100, attributes: #"{"vendor":{"value":"acme","metadata":{"type":"string"}}}"#)
        _ = h.mqtt("$hw/events/device/dev1/twin/update",
                   #"{"twin":{"switch":{"actual":{"value":"OFF"}},"temp":{"actual":{"value":"21"},"metadata":{"type":"int"}}}}"#,
                   now: 200)
        _ = h.mqtt("$hw/events/device/dev1/twin/update", #"{"twin":{"temp":null}}"#, now: 250)
        _ = h.mqtt("$hw/events/device/dev1/state/update", #"{"event_id":"","timestamp":1,"state":"online"}"#, now: 260)
        let before = h.engine.devices()
        let getBefore = h.mqtt("$hw/events/device/dev1/twin/get", #"{"event_id":"g"}"#, now: 300)

        try h.reopen()
        #expect(h.engine.devices() == before)
        let getAfter = h.mqtt("$hw/events/device/dev1/twin/get", #"{"event_id":"g"}"#, now: 300)
        #expect(text(getAfter.deviceTopics.first?.payload) == text(getBefore.deviceTopics.first?.payload))

        // The rows are in KubeEdge's column format.
        let db = h.engine.store.database
        let row = try db.query(
            """
            SELECT expected, actual, expected_meta, actual_meta, expected_version, actual_version, optional, attr_type,
                   metadata FROM device_twin WHERE deviceid = 'dev1' AND name = 'switch'
            """
        ) { (r) throws(SQLiteError) -> [String] in (0..<9).map { r.string(Int32($0)) ?? "NULL" } }
        #expect(row == [["ON", "OFF", #"{"timestamp":100}"#, #"{"timestamp":200}"#, #"{"cloud":5,"edge":0}"#,
                         #"{"cloud":0,"edge":1}"#, "0", "string", "{}"]])
        let deleted = try db.query(
            "SELECT expected, actual, attr_type, actual_version FROM device_twin WHERE deviceid = 'dev1' AND name = 'temp'"
        ) { (r) throws(SQLiteError) -> [String] in (0..<4).map { r.string(Int32($0)) ?? "NULL" } }
        #expect(deleted == [["NULL", "NULL", "deleted", #"{"cloud":0,"edge":2}"#]])
        let device = try db.query("SELECT id, name, description, state, last_online FROM device") {
            (r) throws(SQLiteError) -> [String] in (0..<5).map { r.string(Int32($0)) ?? "NULL" }
        }
        #expect(device == [["dev1", "dev1", "d", "online", "1970-01-01 00:00:00"]])
    }

    @Test func schemaIsKubeEdges() throws {
        let h = try Harness()
        let db = h.engine.store.database
        func columns(_ table: String) throws -> [String] {
            try db.query("PRAGMA table_info(`\(table)`)") { (r) throws(SQLiteError) -> String in r.string(1) ?? "" }
        }
        #expect(try columns("device") == ["id", "name", "description", "state", "last_online"])
        #expect(try columns("device_attr")
            == ["id", "deviceid", "name", "description", "value", "optional", "attr_type", "metadata"])
        #expect(try columns("device_twin") == [
            "id", "deviceid", "name", "description", "expected", "actual", "expected_meta", "actual_meta",
            "expected_version", "actual_version", "optional", "attr_type", "metadata",
        ])
    }

    @Test func sqliteFailureStoresNothingAndReports500() throws {
        let h = try Harness()
        try h.addDevice("dev1")
        try h.engine.store.database.execute(
            "CREATE TRIGGER no_twins BEFORE INSERT ON device_twin BEGIN SELECT RAISE(ABORT, 'disk says no'); END")
        let out = h.mqtt("$hw/events/device/dev1/twin/update",
                         #"{"event_id":"e5","twin":{"t":{"actual":{"value":"1"}}}}"#, now: 10)
        #expect(out.topics == ["$hw/events/device/dev1/twin/update/result"])
        let result = out.payloadJSON("$hw/events/device/dev1/twin/update/result")
        #expect(result?["code"] == 500)
        #expect(result?["event_id"] == "e5")
        #expect(result?["reason"]?.stringValue?.contains("disk says no") == true)
        #expect(out.toCloud.isEmpty)
        #expect(h.engine.device("dev1")?.twins.isEmpty == true)
    }

    @Test func stateUpdateAcceptedAndIgnored() throws {
        let h = try Harness()
        try h.addDevice("dev1")
        let out = h.mqtt("$hw/events/device/dev1/state/update", #"{"event_id":"","timestamp":1,"state":"OK"}"#,
                         now: 1_700_000_000_000)
        #expect(out.topics == ["$hw/events/device/dev1/state/update/result"])
        let expected = #"{"event_id":"id-2","timestamp":1700000000000,"device":{"name":"dev1","state":"OK","last_online":"2023-11-14 22:13:20"}}"#
        #expect(out.payloadText("$hw/events/device/dev1/state/update/result") == expected)
        #expect(out.toCloud == [CloudTwinMessage(resource: "device/dev1/state/update", operation: "update",
                                                 content: .string(expected))])
        #expect(h.engine.device("dev1")?.state == "OK")
        #expect(h.engine.device("dev1")?.lastOnline == "2023-11-14 22:13:20")

        for state in ["online", "Offline", "UNKNOWN", "disconnected", "ok"] {
            let accepted = h.mqtt("$hw/events/device/dev1/state/update", #"{"state":"\#(state)"}"#, now: 5)
            #expect(accepted.topics == ["$hw/events/device/dev1/state/update/result"], "\(state)")
        }
        h.box.logs.removeAll()
        for state in ["ERROR", "UNHEALTHY", "", "on line"] {
            let ignored = h.mqtt("$hw/events/device/dev1/state/update", #"{"state":"\#(state)"}"#, now: 6)
            #expect(ignored.isEmpty, "\(state)")
        }
        #expect(h.box.logs.filter { $0.0 == .warning && $0.1.contains("ignored") }.count == 4)
        #expect(h.engine.device("dev1")?.state == "ok")
        // Unknown device and broken payloads: nothing.
        #expect(h.mqtt("$hw/events/device/ghost/state/update", #"{"state":"online"}"#, now: 7).isEmpty)
        #expect(h.mqtt("$hw/events/device/dev1/state/update", #"{"state":1}"#, now: 7).isEmpty)
    }

    @Test func membershipGet() throws {
        let h = try Harness()
        let empty = h.mqtt("$hw/events/node/edge-node-1/membership/get", #"{"event_id":"q0"}"#, now: 1)
        #expect(empty.payloadText("$hw/events/node/edge-node-1/membership/get/result")
            == #"{"event_id":"q0","timestamp":1,"devices":[]}"#)
        try h.addDevice("dev2", twins: #"{"t":{"actual":{"value":"1"},"actual_version":{"cloud":1,"edge":0}}}"#)
        try h.addDevice("dev1", attributes: #"{"a":{"value":"1"}}"#)
        // Any node name in the request: the answer goes to this node's topic (as edgecore does).
        let out = h.mqtt("$hw/events/node/other/membership/get", #"{"event_id":"q1","timestamp":3}"#, now: 9)
        #expect(out.topics == ["$hw/events/node/edge-node-1/membership/get/result"])
        #expect(out.payloadText("$hw/events/node/edge-node-1/membership/get/result")
            == #"{"event_id":"q1","timestamp":9,"devices":[{"id":"dev1","name":"dev1","description":"d","attributes":{"a":{"value":"1","optional":true,"metadata":{"type":"string"}}}},{"id":"dev2","name":"dev2","description":"d"}]}"#)
        let bad = h.mqtt("$hw/events/node/edge-node-1/membership/get", "[", now: 10)
        let result = bad.payloadJSON("$hw/events/node/edge-node-1/membership/get/result")
        #expect(result?["code"] == 400)
        #expect(result?["reason"]?.stringValue?.hasPrefix("Unmarshal get membership info [ failed , err: ") == true)
    }

    @Test func attributeUpdatesFromMQTT() throws {
        let h = try Harness()
        try h.addDevice("dev1", attributes: #"{"a":{"value":"1"},"fixed":{"value":"f","optional":false}}"#)
        let out = h.mqtt("$hw/events/device/dev1/updated",
                         #"{"event_id":"u1","timestamp":1,"attributes":{"a":{"value":"2"},"b":{"value":"3","metadata":{"type":"int"}},"fixed":null}}"#,
                         now: 20)
        #expect(out.payloadText("$hw/events/device/dev1/updated")
            == #"{"event_id":"u1","timestamp":20,"attributes":{"a":{"value":"2"},"b":{"value":"3","metadata":{"type":"int"}}}}"#)
        // Our own publish echoed back changes nothing.
        let echo = h.mqtt("$hw/events/device/dev1/updated", text(out.payload(on: "$hw/events/device/dev1/updated")),
                          now: 22)
        #expect(echo.isEmpty)
        let out2 = h.mqtt("$hw/events/device/dev1/updated", #"{"event_id":"u2","attributes":{"a":null}}"#, now: 23)
        #expect(out2.payloadText("$hw/events/device/dev1/updated")
            == #"{"event_id":"u2","timestamp":23,"attributes":{"a":null}}"#)
        #expect(h.engine.device("dev1")?.attributes.keys.sorted() == ["b", "fixed"])
        try h.reopen()
        #expect(h.engine.device("dev1")?.attributes["b"]
            == MsgAttr(value: "3", optional: true, metadata: TwinTypeMetadata(type: "int")))
    }

    @Test func topicsThatAreNotHandled() throws {
        let h = try Harness()
        try h.addDevice("dev1")
        for topic in ["$hw/events/device/dev1/state/get", "$hw/events/node/edge-node-1/membership/updated",
                      "$hw/events/device//twin/update", "$hw/events/upload/x", "$hw/events/device/dev1",
                      "ke/devices/dev1", "$hw/events/device/dev1/twin/update/result"]
        {
            #expect(h.mqtt(topic, #"{"twin":{}}"#, now: 1).isEmpty, "\(topic)")
        }
    }

    @Test func membershipDetailRequest() throws {
        let h = try Harness()
        let message = h.engine.membershipDetailRequest(now: 1_795_296_289_000, eventID: "abc")
        #expect(message.resource == "membership/detail")
        #expect(message.operation == "get")
        #expect(message.group == "resource")
        #expect(message.content == .string(
            #"{"event_type":"group_membership_event","event_id":"abc","group_id":"edge-node-1","operation":"detail","timestamp":1795296289000}"#))
    }

    @Test func unparseableMembershipChangesNothing() throws {
        let h = try Harness()
        try h.addDevice("dev1")
        #expect(h.engine.applyMembershipUpdate(try json(#"{"added_devices":{}}"#), now: 1).isEmpty)
        #expect(h.engine.applyMembershipDetail(.string("{oops"), now: 1).isEmpty)
        #expect(h.engine.applyMembershipDetail(try json(#"{"devices":[{"id":5}]}"#), now: 1).isEmpty)
        #expect(h.engine.devices().map(\.id) == ["dev1"])
    }
}
