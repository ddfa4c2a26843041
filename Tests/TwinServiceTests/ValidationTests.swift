// §6.4: every rejection, its topic, code and reason; nothing is stored on error.

import EdgeProtocol
import Testing

@testable import TwinService

@Suite struct ValidationTests {
    static let emptyResult = "$hw/events/device//twin/update/result"
    static let dev1Result = "$hw/events/device/dev1/twin/update/result"
    static let unmarshalReason = "Unmarshal update request body failed, please check the request"
    static let keyReason = "The key of twin must only include upper or lowercase letters, number, english, and special letter - _ . , : / @ # and the length of key should be less than 128 bytes"
    static let valueReason = "The value of twin must only include upper or lowercase letters, number, english, and special letter - _ . , : / @ # and the length of value should be less than 512 bytes"

    static func errorText(_ eventID: String, _ now: Int64, _ code: Int, _ reason: String) -> String {
        #"{"event_id":"\#(eventID)","timestamp":\#(now),"code":\#(code),"reason":"\#(reason)"}"#
    }

    /// Publishes `payload` on dev1's twin/update and expects exactly one error result on `topic`.
    func expectRejected(_ h: Harness, _ payload: String, topic: String, eventID: String, code: Int, reason: String,
                        sourceLocation: SourceLocation = #_sourceLocation) {
        let before = h.engine.device("dev1")
        let out = h.mqtt("$hw/events/device/dev1/twin/update", payload, now: 77)
        #expect(out.topics == [topic], sourceLocation: sourceLocation)
        #expect(out.payloadText(topic) == Self.errorText(eventID, 77, code, reason), sourceLocation: sourceLocation)
        #expect(out.toCloud.isEmpty, sourceLocation: sourceLocation)
        #expect(h.engine.device("dev1") == before, sourceLocation: sourceLocation)
    }

    @Test func brokenJSONGoesToTheEmptyDeviceTopic() throws {
        let h = try Harness()
        try h.addDevice("dev1")
        for payload in ["{", "", "not json", #"{"twin":{"a":{"actual":{"value":"1"}}}"#] {
            expectRejected(h, payload, topic: Self.emptyResult, eventID: "", code: 400, reason: Self.unmarshalReason)
        }
    }

    @Test func wrongJSONKindsFailTheDecodeAsInGo() throws {
        let h = try Harness()
        try h.addDevice("dev1")
        let payloads = [
            #"{"event_id":"e","timestamp":"1","twin":{}}"#,
            #"{"event_id":5,"twin":{}}"#,
            #"{"timestamp":1.5,"twin":{}}"#,
            #"{"twin":[]}"#,
            #"{"twin":{"a":"x"}}"#,
            #"{"twin":{"a":{"actual":{"value":1}}}}"#,
            #"{"twin":{"a":{"optional":"yes"}}}"#,
            #"{"twin":{"a":{"actual_version":{"cloud":"1"}}}}"#,
            #"[]"#,
        ]
        for payload in payloads {
            expectRejected(h, payload, topic: Self.emptyResult, eventID: "", code: 400, reason: Self.unmarshalReason)
        }
    }

    @Test func missingTwinKey() throws {
        let h = try Harness()
        try h.addDevice("dev1")
        for payload in [#"{"event_id":"e1","timestamp":1}"#, #"{"event_id":"e1","twin":null}"#, "null"] {
            expectRejected(h, payload, topic: Self.emptyResult, eventID: "", code: 400,
                           reason: "Update twin error, key:twin does not exist")
        }
    }

    @Test func keyPattern() throws {
        let h = try Harness()
        try h.addDevice("dev1")
        let bad = ["a b", "", "tem+p", "t\"x", "température", String(repeating: "k", count: 129)]
        for key in bad {
            let payload = text(JSONValue.object([
                (key: "event_id", value: "e1"),
                (key: "twin", value: .object([(key: key, value: ["actual": ["value": "1"]] as JSONValue)])),
            ]))
            expectRejected(h, payload, topic: Self.emptyResult, eventID: "", code: 400, reason: Self.keyReason)
        }
        let longest = String(repeating: "k", count: 128)
        let out = h.mqtt("$hw/events/device/dev1/twin/update",
                         #"{"twin":{"\#(longest)":{"actual":{"value":"1"}},"a-_.,:/@#Z9":{"actual":{"value":"x"}}}}"#,
                         now: 5)
        #expect(out.payloadJSON(Self.dev1Result)?["code"] == nil)
        #expect(h.engine.device("dev1")?.twins.count == 2)
    }

    @Test func valuePattern() throws {
        let h = try Harness()
        try h.addDevice("dev1")
        let bad = ["2 3", "+5", "a\"b", "ü", "x'y", String(repeating: "v", count: 513)]
        for value in bad {
            for side in ["expected", "actual"] {
                let payload = text(JSONValue.object([
                    (key: "event_id", value: "e1"),
                    (key: "twin", value: .object([(key: "t", value: .object([(key: side, value: ["value": .string(value)] as JSONValue)]))])),
                ]))
                expectRejected(h, payload, topic: Self.emptyResult, eventID: "", code: 400, reason: Self.valueReason)
            }
        }
        // 512 characters and the empty value pass the pattern.
        let longest = String(repeating: "v", count: 512)
        let out = h.mqtt("$hw/events/device/dev1/twin/update",
                         #"{"twin":{"t":{"actual":{"value":"\#(longest)"}},"u":{"actual":{"value":""}}}}"#, now: 5)
        #expect(out.payloadJSON(Self.dev1Result)?["code"] == nil)
        #expect(h.engine.device("dev1")?.twins["t"]?.actual?.value == longest)
    }

    @Test func unknownDeviceIs404() throws {
        let h = try Harness()
        let out = h.mqtt("$hw/events/device/ghost/twin/update",
                         #"{"event_id":"e9","timestamp":1,"twin":{"t":{"actual":{"value":"1"}}}}"#, now: 42)
        #expect(out.topics == ["$hw/events/device/ghost/twin/update/result"])
        #expect(out.payloadText("$hw/events/device/ghost/twin/update/result")
            == Self.errorText("e9", 42, 404, "update rejected due to the device is not existed"))
        #expect(h.engine.devices().isEmpty)

        let get = h.mqtt("$hw/events/device/ghost/twin/get", #"{"event_id":"g1","timestamp":1}"#, now: 43)
        #expect(get.payloadText("$hw/events/device/ghost/twin/get/result")
            == Self.errorText("g1", 43, 404, "Device ghost not found while getting twin"))

        // A cloud update for an unknown device also gets edgecore's 404 on the result topic.
        let sync = h.engine.applyCloudUpdated(
            deviceID: "ghost", try json(#"{"event_id":"c9","twin":{"t":{"expected":{"value":"1"}}}}"#), now: 44)
        #expect(sync.payloadText("$hw/events/device/ghost/twin/update/result")
            == Self.errorText("c9", 44, 404, "update rejected due to the device is not existed"))
    }

    @Test func valueTypes() throws {
        let h = try Harness()
        try h.addDevice("dev1", twins: """
            {"i":{"expected":{"value":"1"},"metadata":{"type":"int"},"expected_version":{"cloud":1,"edge":0}},
             "n":{"expected":{"value":"1"},"metadata":{"type":"integer"},"expected_version":{"cloud":1,"edge":0}},
             "f":{"expected":{"value":"1.5"},"metadata":{"type":"float"},"expected_version":{"cloud":1,"edge":0}},
             "d":{"expected":{"value":"1.500000"},"metadata":{"type":"double"},"expected_version":{"cloud":1,"edge":0}},
             "b":{"expected":{"value":"true"},"metadata":{"type":"boolean"},"expected_version":{"cloud":1,"edge":0}},
             "s":{"expected":{"value":"x"},"metadata":{"type":"string"},"expected_version":{"cloud":1,"edge":0}}}
            """)
        #expect(h.engine.device("dev1")?.twins.keys.sorted() == ["b", "d", "f", "i", "n", "s"])

        let cases: [(String, String, String?)] = [
            ("i", "12", nil), ("i", "-3", nil), ("i", "1.5", "the value is not int or integer"),
            ("i", "99999999999999999999", "the value is not int or integer"), ("n", "x", "the value is not int or integer"),
            ("f", "2.25", nil), ("f", "1e3", nil), ("f", "abc", "the value is not float"),
            ("f", "1e400", "the value is not float"),
            ("d", "23.500000", nil), ("d", "x", "the value is not float"),
            ("b", "false", nil), ("b", "True", "the bool value must be true or false"),
            ("b", "1", "the bool value must be true or false"),
            ("s", "anything:goes", nil),
        ]
        for (key, value, reason) in cases {
            let payload = #"{"event_id":"v-\#(key)","timestamp":1,"twin":{"\#(key)":{"actual":{"value":"\#(value)"}}}}"#
            if let reason {
                expectRejected(h, payload, topic: Self.dev1Result, eventID: "v-\(key)", code: 400, reason: reason)
            } else {
                let out = h.mqtt("$hw/events/device/dev1/twin/update", payload, now: 9)
                #expect(out.payloadJSON(Self.dev1Result)?["code"] == nil, "\(key)=\(value)")
                #expect(h.engine.device("dev1")?.twins[key]?.actual?.value == value)
            }
        }
    }

    @Test func unknownTypesAreRejectedOnNewTwins() throws {
        let h = try Harness()
        try h.addDevice("dev1")
        expectRejected(h, #"{"event_id":"e","twin":{"raw":{"actual":{"value":"AAEC"},"metadata":{"type":"bytes"}}}}"#,
                       topic: Self.dev1Result, eventID: "e", code: 400, reason: "the value type is not allowed")
        expectRejected(h, #"{"event_id":"e","twin":{"n":{"actual":{"value":"x"},"metadata":{"type":"int"}}}}"#,
                       topic: Self.dev1Result, eventID: "e", code: 400, reason: "the value is not int or integer")
        expectRejected(h, #"{"event_id":"e","twin":{"n":null}}"#,
                       topic: Self.dev1Result, eventID: "e", code: 400, reason: "the request body is wrong")
        // double is accepted (edgecore would reject it).
        let out = h.mqtt("$hw/events/device/dev1/twin/update",
                         #"{"event_id":"e","twin":{"t":{"actual":{"value":"21.500000"},"metadata":{"type":"double"}}}}"#,
                         now: 3)
        #expect(out.payloadJSON(Self.dev1Result)?["code"] == nil)
        #expect(h.engine.device("dev1")?.twins["t"]?.type == "double")
    }

    @Test func oneBadTwinRejectsTheWholeRequest() throws {
        let h = try Harness()
        try h.addDevice("dev1", twins: #"{"i":{"metadata":{"type":"int"},"optional":true}}"#)
        expectRejected(h, #"{"event_id":"e","twin":{"a":{"actual":{"value":"ok"}},"i":{"actual":{"value":"bad"}}}}"#,
                       topic: Self.dev1Result, eventID: "e", code: 400, reason: "the value is not int or integer")
        #expect(h.engine.device("dev1")?.twins["a"] == nil)
        // Nor is anything in SQLite.
        try h.reopen()
        #expect(h.engine.device("dev1")?.twins["a"] == nil)
        #expect(h.engine.device("dev1")?.twins["i"] != nil)
    }

    @Test func fieldNamesMatchCaseInsensitivelyAndUnknownKeysAreIgnored() throws {
        let h = try Harness()
        try h.addDevice("dev1")
        // The old JS mapper's "tyep" typo and other unknown keys are ignored; Go matches "Twin" to `twin`.
        let out = h.mqtt("$hw/events/device/dev1/twin/update",
                         #"{"Event_ID":"x1","Twin":{"t":{"Actual":{"value":"5"},"metadata":{"tyep":"int"},"extra":1}}}"#,
                         now: 8)
        #expect(out.payloadText(Self.dev1Result)
            == #"{"event_id":"x1","timestamp":8,"twin":{"t":{"actual":{"value":"5","metadata":{"timestamp":8}},"optional":true,"metadata":{}}}}"#)
    }
}
