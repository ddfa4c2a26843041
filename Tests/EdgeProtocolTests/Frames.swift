// Golden test vectors: frames copied verbatim from /work/shared/docs/kubeedge-wire.md §1.1 and §13 (captured from a
// real KubeEdge edgecore v1.15.4 in §13; ids and timestamps are those of the capture). Without the trailing "\n".

enum Frames {
    // MARK: edge to cloud (real edgecore output, Go field order): decode + encode must give the same bytes

    /// §1.1: keepalive exactly as Go marshals it.
    static let keepaliveExample = #"{"header":{"msg_id":"a1","timestamp":1700000000000},"route":{"source":"websocket","group":"resource","operation":"keepalive","resource":"node"},"content":"ping"}"#

    /// §13.3: first keepalive after connecting.
    static let keepalive = #"{"header":{"msg_id":"5df58379-9f2b-4dd4-8061-ac309865bc3d","timestamp":1795296185436},"route":{"source":"websocket","group":"resource","operation":"keepalive","resource":"node"},"content":"ping"}"#

    /// §13.3: membership/detail get; content is a JSON string.
    static let membershipDetailGet = #"{"header":{"msg_id":"84e049cd-bffa-427c-b732-dfc09dcc780b","timestamp":1795296185436},"route":{"source":"twin","group":"resource","operation":"get","resource":"membership/detail"},"content":"{\"event_type\":\"group_membership_event\",\"event_id\":\"73174aa4-5354-404d-b6b6-1c4aea65bcda\",\"group_id\":\"edge-node-1\",\"operation\":\"detail\",\"timestamp\":1795296185436}"}"#

    /// §13.3: empty message sent on SIGTERM.
    static let shutdown = #"{"header":{"msg_id":"","timestamp":0},"route":{},"content":null}"#

    /// §13.4: metaManager ACK of the ConfigMap insert.
    static let ackInsert = #"{"header":{"msg_id":"0c58fa94-ec12-4309-987c-2793e4fe75a2","parent_msg_id":"f3ee46cd-52db-4ec7-9109-5a9b5f37d336","timestamp":1795296287363},"route":{"source":"edgecontroller","group":"resource","operation":"response","resource":"default/configmap/cm1"},"content":"OK"}"#

    /// §13.4: metaManager ACK of the ConfigMap delete.
    static let ackDelete = #"{"header":{"msg_id":"eb8f58e8-4185-402b-b1f9-cd0d00e2d3b7","parent_msg_id":"766be284-6900-4ab6-a045-0fb1c68151b2","timestamp":1795296295369},"route":{"source":"edgecontroller","group":"resource","operation":"response","resource":"default/configmap/cm1"},"content":"OK"}"#

    /// §13.5: twin sync after the membership add.
    static let edgeUpdated1 = #"{"header":{"msg_id":"7a26e9c0-ff6b-4272-988a-5e3ecc79fdb5","timestamp":1795296289372},"route":{"source":"twin","group":"resource","operation":"update","resource":"device/dev1/twin/edge_updated"},"content":{"event_id":"36f7d529-ef31-4707-85d3-4eb53037b73f","timestamp":1795296289371,"twin":{"temperature":{}}}}"#

    /// §13.5: twin sync after cloud_updated.
    static let edgeUpdated2 = #"{"header":{"msg_id":"de7a6da2-e653-498d-a868-50277472e15b","timestamp":1795296292367},"route":{"source":"twin","group":"resource","operation":"update","resource":"device/dev1/twin/edge_updated"},"content":{"event_id":"dfca1781-016b-41d6-a286-efe4120765ec","timestamp":1795296292364,"twin":{"temperature":{}}}}"#

    /// §13.5: twin sync after a mapper update.
    static let edgeUpdated3 = #"{"header":{"msg_id":"5d0f0401-ec15-491f-9c84-fb2c7149685a","timestamp":1795296304236},"route":{"source":"twin","group":"resource","operation":"update","resource":"device/dev1/twin/edge_updated"},"content":{"event_id":"e0eab1a9-b6a0-4535-91ca-3466447d3ed6","timestamp":1795296304236,"twin":{"temperature":{"actual":{"value":"23.5","metadata":{"timestamp":1795296304227}},"optional":true,"metadata":{"type":"string"},"actual_version":{"cloud":0,"edge":1}}}}}"#

    /// §13.7: MQTT upload forwarded by the eventbus.
    static let upload = #"{"header":{"msg_id":"cdd8f717-5e34-4168-bc74-a7e1de39dd54","timestamp":1795296305232},"route":{"source":"bus","group":"user","operation":"upload","resource":"$hw/events/upload/hello"},"content":"{\"hello\": \"world\"}"}"#

    /// §13.7: viaduct ack of the control ping.
    static let pingAck = #"{"header":{"msg_id":"ef104c95-624c-4b71-b7e6-7ad162893ef1","parent_msg_id":"c4789969-7e6f-4c8c-bd69-5fffe2b9dc39","timestamp":1795296297359},"route":{"source":"controller","group":"resource","operation":"response","resource":"/control/ping"},"content":"ack"}"#

    // MARK: cloud to edge (written by the capture's test server, other key orders)

    /// §13.4: ConfigMap insert (header has resourceversion first).
    static let configMapInsert = #"{"header":{"resourceversion":"1001","msg_id":"f3ee46cd-52db-4ec7-9109-5a9b5f37d336","timestamp":1795296287358},"route":{"source":"edgecontroller","group":"resource","operation":"insert","resource":"default/configmap/cm1"},"content":{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm1","namespace":"default","resourceVersion":"1001","uid":"11111111-2222-3333-4444-555555555555"},"data":{"k":"v"}}}"#

    /// §13.5: membership add (route, content, header order).
    static let membershipUpdate = #"{"route":{"source":"devicecontroller","group":"twin","operation":"updated","resource":"membership"},"content":{"event_id":"e-1","timestamp":1700000000000,"added_devices":[{"id":"dev1","name":"dev1","description":"demo","state":"","attributes":{},"twin":{"temperature":{"expected":{"value":"20"},"optional":true,"metadata":{"type":"string"}}}}],"removed_devices":null},"header":{"msg_id":"d2f94b47-b8a6-40a3-aa07-5a291086f741","timestamp":1795296289358}}"#

    /// §13.5: device/dev1/twin/cloud_updated (route, content, header order).
    static let cloudUpdated = #"{"route":{"source":"devicecontroller","group":"twin","operation":"updated","resource":"device/dev1/twin/cloud_updated"},"content":{"event_id":"e-2","timestamp":1700000001000,"twin":{"temperature":{"expected":{"value":"25"},"optional":true,"metadata":{"type":"string"}}}},"header":{"msg_id":"4e9c0703-6089-430d-aa0c-a532adc4b43f","timestamp":1795296292358}}"#

    /// §13.7: viaduct control ping (route, content, header order).
    static let controlPing = #"{"route":{"source":"controller","group":"resource","operation":"ping","resource":"/control/ping"},"content":"ping","header":{"msg_id":"c4789969-7e6f-4c8c-bd69-5fffe2b9dc39","timestamp":1795296297358}}"#

    static let edgeToCloud: [(name: String, frame: String)] = [
        ("keepaliveExample", keepaliveExample),
        ("keepalive", keepalive),
        ("membershipDetailGet", membershipDetailGet),
        ("shutdown", shutdown),
        ("ackInsert", ackInsert),
        ("ackDelete", ackDelete),
        ("edgeUpdated1", edgeUpdated1),
        ("edgeUpdated2", edgeUpdated2),
        ("edgeUpdated3", edgeUpdated3),
        ("upload", upload),
        ("pingAck", pingAck),
    ]

    static let cloudToEdge: [(name: String, frame: String)] = [
        ("configMapInsert", configMapInsert),
        ("membershipUpdate", membershipUpdate),
        ("cloudUpdated", cloudUpdated),
        ("controlPing", controlPing),
    ]
}
