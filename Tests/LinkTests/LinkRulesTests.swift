import Crypto
import EdgeProtocol
import Foundation
import Link
import LinkSecurity
import HubService
import Testing
import X509

/// KubeEdge's link rules and PKI, checked against the frames captured from a real edgecore (wire reference §13).
@Suite("Link rules")
struct LinkRulesTests {
    static let configMapInsert = #"{"header":{"resourceversion":"1001","msg_id":"f3ee46cd-52db-4ec7-9109-5a9b5f37d336","timestamp":1795296287358},"route":{"source":"edgecontroller","group":"resource","operation":"insert","resource":"default/configmap/cm1"},"content":{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm1","namespace":"default","resourceVersion":"1001","uid":"11111111-2222-3333-4444-555555555555"},"data":{"k":"v"}}}"#
    static let membership = #"{"route":{"source":"devicecontroller","group":"twin","operation":"updated","resource":"membership"},"content":{"event_id":"e-1","timestamp":1700000000000,"added_devices":[],"removed_devices":null},"header":{"msg_id":"d2f94b47-b8a6-40a3-aa07-5a291086f741","timestamp":1795296289358}}"#
    static let keepalive = #"{"header":{"msg_id":"5df58379-9f2b-4dd4-8061-ac309865bc3d","timestamp":1795296185436},"route":{"source":"websocket","group":"resource","operation":"keepalive","resource":"node"},"content":"ping"}"#
    static let membershipDetail = #"{"header":{"msg_id":"84e049cd-bffa-427c-b732-dfc09dcc780b","timestamp":1795296185436},"route":{"source":"twin","group":"resource","operation":"get","resource":"membership/detail"},"content":"{\"event_type\":\"group_membership_event\",\"event_id\":\"73174aa4-5354-404d-b6b6-1c4aea65bcda\",\"group_id\":\"edge-node-1\",\"operation\":\"detail\",\"timestamp\":1795296185436}"}"#
    static let ack = #"{"header":{"msg_id":"0c58fa94-ec12-4309-987c-2793e4fe75a2","parent_msg_id":"f3ee46cd-52db-4ec7-9109-5a9b5f37d336","timestamp":1795296287363},"route":{"source":"edgecontroller","group":"resource","operation":"response","resource":"default/configmap/cm1"},"content":"OK"}"#
    static let upload = #"{"header":{"msg_id":"cdd8f717-5e34-4168-bc74-a7e1de39dd54","timestamp":1795296305232},"route":{"source":"bus","group":"user","operation":"upload","resource":"$hw/events/upload/hello"},"content":"{\"hello\": \"world\"}"}"#
    static let edgeUpdated = #"{"header":{"msg_id":"7a26e9c0-ff6b-4272-988a-5e3ecc79fdb5","timestamp":1795296289372},"route":{"source":"twin","group":"resource","operation":"update","resource":"device/dev1/twin/edge_updated"},"content":{"event_id":"36f7d529-ef31-4707-85d3-4eb53037b73f","timestamp":1795296289371,"twin":{"temperature":{}}}}"#
    static let shutdown = #"{"header":{"msg_id":"","timestamp":0},"route":{},"content":null}"#

    static func decode(_ text: String) throws -> Message { try MessageCodec.decode(Array(text.utf8)) }

    @Test func ackClasses() throws {
        #expect(LinkRules.requiresAck(try Self.decode(Self.configMapInsert)))
        #expect(!LinkRules.requiresAck(try Self.decode(Self.membership)))
        let nodePatchReply = Message(source: "edgecontroller", group: "resource", operation: "response",
                                     resource: "default/nodepatch/n1", content: .null, parentID: "x")
        #expect(!LinkRules.requiresAck(nodePatchReply))
        let okReply = Message(source: "edgecontroller", group: "resource", operation: "response",
                              resource: "default/configmap/c", content: RawJSON(string: "OK"), parentID: "x")
        #expect(!LinkRules.requiresAck(okReply))
        let publish = Message(source: "router_eventbus", group: "user", operation: "publish", resource: "a/b",
                              content: RawJSON(string: "x"))
        #expect(!LinkRules.requiresAck(publish))
        let secret = Message(source: "edgecontroller", group: "resource", operation: "update",
                             resource: "default/secret/s", content: .null, resourceVersion: "7")
        #expect(LinkRules.requiresAck(secret))
    }

    @Test func upstreamDispatch() throws {
        #expect(LinkRules.upstream(try Self.decode(Self.keepalive)) == .keepalive)
        #expect(LinkRules.upstream(try Self.decode(Self.membershipDetail)) == .module(.devicecontroller))
        #expect(LinkRules.upstream(try Self.decode(Self.edgeUpdated)) == .module(.devicecontroller))
        #expect(LinkRules.upstream(try Self.decode(Self.upload)) == .module(.router))
        #expect(LinkRules.upstream(try Self.decode(Self.ack))
            == .ack(parentID: "f3ee46cd-52db-4ec7-9109-5a9b5f37d336"))
        #expect(LinkRules.upstream(try Self.decode(Self.shutdown)) == .empty)
        let nodeStatus = Message(source: "edged", group: "meta", operation: "patch", resource: "default/nodepatch/n1",
                                 content: RawJSON(string: "{}"))
        #expect(LinkRules.upstream(nodeStatus) == .module(.edgecontroller))
    }

    @Test func edgeRouting() throws {
        #expect(LinkRules.edgeModule(for: try Self.decode(Self.configMapInsert)) == .meta)
        #expect(LinkRules.edgeModule(for: try Self.decode(Self.membership)) == .twin)
        #expect(LinkRules.edgeModule(for: Message(source: "router_eventbus", group: "user", operation: "publish",
                                                  resource: "t", content: .null)) == .eventbus)
        #expect(LinkRules.edgeModule(for: Message(source: "router_servicebus", group: "user", operation: "GET",
                                                  resource: "80:/x", content: .null)) == .servicebus)
        #expect(LinkRules.edgeModule(for: Message(source: "x", group: "nonsense", operation: "y",
                                                  resource: "z", content: .null)) == nil)
    }

    @Test("our keepalive has the captured edgecore keepalive's shape, and a frame ends in a newline")
    func keepaliveShape() throws {
        let ours = LinkRules.keepalive()
        let captured = try Self.decode(Self.keepalive)
        #expect(ours.route == captured.route)
        #expect(ours.content == captured.content)
        #expect(ours.header.parentID.isEmpty && ours.header.resourceVersion.isEmpty)
        let frame = LinkProtocol.frame(ours)
        #expect(frame.hasSuffix("\n"))
        // Same bytes as the capture once id and timestamp are the capture's.
        var aligned = ours
        aligned.header.id = captured.header.id
        aligned.header.timestamp = captured.header.timestamp
        #expect(String(decoding: MessageCodec.encode(aligned), as: UTF8.self) == Self.keepalive)
    }

    @Test("join tokens: 4 parts, CA hash first; verified, tampered, expired")
    func tokens() throws {
        let ca = try CertificateAuthority.create()
        let token = ca.makeToken(expiresAt: Date().addingTimeInterval(3600))
        let (hash, jwt) = try PKI.parseToken(token)
        #expect(hash == PKI.sha256Hex(ca.certificateDER))
        try ca.verifyJWT(jwt)
        #expect(throws: PKIError.self) { try ca.verifyJWT(jwt + "x") }
        let other = try CertificateAuthority.create()
        #expect(throws: PKIError.self) { try other.verifyJWT(jwt) }
        let expired = try PKI.parseToken(ca.makeToken(expiresAt: Date().addingTimeInterval(-10))).jwt
        #expect(throws: PKIError.self) { try ca.verifyJWT(expired) }
        #expect(throws: PKIError.self) { try PKI.parseToken("a.b.c") }
    }

    @Test("an edge CSR is signed with the CSR's subject and client auth; a bad CSR is refused")
    func signing() throws {
        let ca = try CertificateAuthority.create()
        let key = P256.Signing.PrivateKey()
        let certificate = try ca.signEdgeCSR(try PKI.makeCSR(key: key))
        #expect(certificate.subject == (try PKI.edgeSubject()))
        #expect(ca.hasIssued(certificate))
        #expect(!((try CertificateAuthority.create()).hasIssued(certificate)))
        #expect(throws: PKIError.self) { try ca.signEdgeCSR([1, 2, 3]) }
        let server = try ca.issueServerCertificate(key: key, addresses: ["127.0.0.1", "localhost"])
        let names = try #require(try server.extensions.subjectAlternativeNames)
        #expect(names.contains(.dnsName("localhost")))
    }
}
