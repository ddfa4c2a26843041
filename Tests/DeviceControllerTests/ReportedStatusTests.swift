import DeviceControllerService
import EdgeProtocol
import Testing

@Suite struct ReportedStatusTests {
    typealias F = DeviceFixtures
    static let now: Int64 = 1_800_000_000_000

    @Test func v1beta1ReportedValueKeepsObservedDesired() throws {
        let report = try F.parse(#"{"event_id":"r","timestamp":1700000005000,"twin":{"temperature":{"actual":{"value":"23","metadata":{"timestamp":1700000004000}},"optional":false,"metadata":{"type":"int"},"actual_version":{"cloud":0,"edge":1}}}}"#)
        let patch = try #require(ReportedStatus.patch(report: report, device: try F.thermo(), now: Self.now))
        #expect(F.text(patch) == #"{"status":{"twins":[{"propertyName":"temperature","reported":{"value":"23","metadata":{"timestamp":"1700000004000","type":"int"}},"observedDesired":{"value":"20","metadata":{"type":"int"}}}]}}"#)
    }

    @Test func olderOrIdenticalReportsAreIgnored() throws {
        let device = try F.thermo()  // reported "21" at 1700000000000
        let older = try F.parse(#"{"twin":{"temperature":{"actual":{"value":"19","metadata":{"timestamp":1699999999999}}}}}"#)
        #expect(ReportedStatus.patch(report: older, device: device, now: Self.now) == nil)
        let same = try F.parse(#"{"twin":{"temperature":{"actual":{"value":"21","metadata":{"timestamp":1700000000000}},"metadata":{"type":"int"}}}}"#)
        #expect(ReportedStatus.patch(report: same, device: device, now: Self.now) == nil)
        let newer = try F.parse(#"{"twin":{"temperature":{"actual":{"value":"21","metadata":{"timestamp":1700000000001}},"metadata":{"type":"int"}}}}"#)
        #expect(ReportedStatus.patch(report: newer, device: device, now: Self.now) != nil)
        // Throttled: the same value only a little later is not written.
        #expect(ReportedStatus.patch(report: newer, device: device, now: Self.now, refreshAfter: 60_000) == nil)
        let muchLater = try F.parse(#"{"twin":{"temperature":{"actual":{"value":"21","metadata":{"timestamp":1700000060000}},"metadata":{"type":"int"}}}}"#)
        #expect(ReportedStatus.patch(report: muchLater, device: device, now: Self.now, refreshAfter: 60_000) != nil)
        let changed = try F.parse(#"{"twin":{"temperature":{"actual":{"value":"22","metadata":{"timestamp":1700000000001}},"metadata":{"type":"int"}}}}"#)
        #expect(ReportedStatus.patch(report: changed, device: device, now: Self.now, refreshAfter: 60_000) != nil)
    }

    @Test func expectedReportedByTheEdgeBecomesObservedDesired() throws {
        let report = try F.parse(#"{"event_id":"r","timestamp":1700000009000,"twin":{"temperature":{"expected":{"value":"25","metadata":{"timestamp":1700000008000}},"actual":{"value":"24","metadata":{"timestamp":1700000008500}},"metadata":{"type":"int"},"expected_version":{"cloud":120,"edge":0}}}}"#)
        let patch = try #require(ReportedStatus.patch(report: report, device: try F.thermo(), now: Self.now))
        #expect(F.text(patch) == #"{"status":{"twins":[{"propertyName":"temperature","reported":{"value":"24","metadata":{"timestamp":"1700000008500","type":"int"}},"observedDesired":{"value":"25","metadata":{"timestamp":"1700000008000","type":"int"}}}]}}"#)
    }

    @Test func newTwinsOfKnownPropertiesAreAddedOthersIgnored() throws {
        let device = F.with(try F.thermoWithHumidity(), ["status"], nil)
        let report = try F.parse(#"{"timestamp":1700000001000,"twin":{"humidity":{"actual":{"value":"40.5"}},"bogus":{"actual":{"value":"1"}},"temperature":null,"gone":{"metadata":{"type":"deleted"}}}}"#)
        let patch = try #require(ReportedStatus.patch(report: report, device: device, model: try F.thermoModel(), now: Self.now))
        // No actual timestamp: the report's; no type in the report: the model's.
        #expect(F.text(patch) == #"{"status":{"twins":[{"propertyName":"humidity","reported":{"value":"40.5","metadata":{"timestamp":"1700000001000","type":"float"}}}]}}"#)
        // No timestamp at all: now.
        let bare = try F.parse(#"{"twin":{"humidity":{"actual":{"value":"41"}}}}"#)
        let second = try #require(ReportedStatus.patch(report: bare, device: device, now: Self.now))
        #expect(second[path: ["status", "twins"]]?.arrayValue?.first?[path: ["reported", "metadata", "timestamp"]] == "1800000000000")
    }

    @Test func v1alpha2ReportedKeepsDesired() throws {
        let device = try F.sample("modbustcp-device-instance.yaml", resourceVersion: "33")
        let report = try F.parse(#"{"event_id":"r","timestamp":1700000000000,"twin":{"temperature-enable":{"actual":{"value":"1","metadata":{"timestamp":1700000000000}},"expected":{"value":"1"},"metadata":{"type":"integer"}},"temperature":{"actual":{"value":"37","metadata":{"timestamp":1700000000000}},"metadata":{"type":"int"}}}}"#)
        let patch = try #require(ReportedStatus.patch(report: report, device: device, now: Self.now, precondition: true))
        #expect(F.text(patch) == #"{"status":{"twins":["#
            + #"{"propertyName":"temperature-enable","reported":{"value":"1","metadata":{"timestamp":"1700000000000","type":"integer"}},"desired":{"metadata":{"timestamp":"1550049403598","type":"integer"},"value":"0"}},"#
            + #"{"propertyName":"temperature","reported":{"value":"37","metadata":{"timestamp":"1700000000000","type":"int"}}}"#
            + #"]},"metadata":{"resourceVersion":"33"}}"#)
    }

    @Test func capturedEdgeReportsFromARealEdgecore() throws {
        // §13.5: the device dev1 as the test server defined it, as a v1alpha2 Device.
        let device = try F.yaml(
            """
            apiVersion: devices.kubeedge.io/v1alpha2
            kind: Device
            metadata: {name: dev1, namespace: default, labels: {description: demo}, resourceVersion: "5"}
            spec:
              nodeSelector: {nodeSelectorTerms: [{matchExpressions: [{key: '', operator: In, values: [edge-1]}]}]}
            status:
              twins:
              - propertyName: temperature
                desired: {value: "25", metadata: {type: string}}
            """)
        let empty = try F.parse(#"{"header":{"msg_id":"7a26e9c0-ff6b-4272-988a-5e3ecc79fdb5","timestamp":1795296289372},"route":{"source":"twin","group":"resource","operation":"update","resource":"device/dev1/twin/edge_updated"},"content":{"event_id":"36f7d529-ef31-4707-85d3-4eb53037b73f","timestamp":1795296289371,"twin":{"temperature":{}}}}"#)
        #expect(ReportedStatus.patch(report: try #require(empty["content"]), device: device, now: Self.now) == nil)
        let reported = try F.parse(#"{"header":{"msg_id":"5d0f0401-ec15-491f-9c84-fb2c7149685a","timestamp":1795296304236},"route":{"source":"twin","group":"resource","operation":"update","resource":"device/dev1/twin/edge_updated"},"content":{"event_id":"e0eab1a9-b6a0-4535-91ca-3466447d3ed6","timestamp":1795296304236,"twin":{"temperature":{"actual":{"value":"23.5","metadata":{"timestamp":1795296304227}},"optional":true,"metadata":{"type":"string"},"actual_version":{"cloud":0,"edge":1}}}}}"#)
        let content = try #require(reported["content"])
        let expected = #"{"status":{"twins":[{"propertyName":"temperature","desired":{"value":"25","metadata":{"type":"string"}},"reported":{"value":"23.5","metadata":{"timestamp":"1795296304227","type":"string"}}}]}}"#
        #expect(F.text(try #require(ReportedStatus.patch(report: content, device: device, now: Self.now))) == expected)
        // The same content as JSON text.
        let text = Self.textContent(content)
        #expect(F.text(try #require(ReportedStatus.patch(report: text, device: device, now: Self.now))) == expected)
        // The planner confirms it.
        #expect(DevicePlanner.confirm(node: "edge-1", requestID: "5d0f0401-ec15-491f-9c84-fb2c7149685a").summary == "edge-1 twin response twin")
    }

    @Test func garbageGivesNoPatch() throws {
        let device = try F.thermo()
        #expect(ReportedStatus.patch(report: "not json", device: device, now: Self.now) == nil)
        #expect(ReportedStatus.patch(report: try F.parse(#"{"event_id":"x"}"#), device: device, now: Self.now) == nil)
        #expect(ReportedStatus.patch(report: try F.parse(#"{"twin":{"temperature":{"actual":{"value":"1"}}}}"#), device: "x", now: Self.now) == nil)
    }

    static func textContent(_ value: JSONValue) -> JSONValue {
        .string(F.text(value))
    }
}
