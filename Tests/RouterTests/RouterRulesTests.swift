import EdgeProtocol
import Foundation
import RouterService
import ServiceBusService
import Testing

/// The router's and servicebus's pure rules, against KubeEdge v1.15's (`cloud/pkg/router`, `edge/pkg/servicebus`).
@Suite("router and servicebus rules")
struct RouterRulesTests {
    static func json(_ text: String) throws -> JSONValue { try JSONValue(parsing: Array(text.utf8)) }

    static func table() throws -> RuleTable {
        var table = RuleTable()
        for endpoint in [
            #"{"metadata":{"name":"my-rest","namespace":"default"},"spec":{"ruleEndpointType":"rest"}}"#,
            #"{"metadata":{"name":"my-eventbus","namespace":"default"},"spec":{"ruleEndpointType":"eventbus"}}"#,
            #"{"metadata":{"name":"my-servicebus","namespace":"default"},"spec":{"ruleEndpointType":"servicebus","properties":{"service_port":"6666"}}}"#,
        ] { table.setEndpoint(try json(endpoint)) }
        for rule in [
            #"{"metadata":{"name":"my-rule","namespace":"default"},"spec":{"source":"my-rest","sourceResource":{"path":"/test"},"target":"my-eventbus","targetResource":{"topic":"test"}}}"#,
            #"{"metadata":{"name":"sb","namespace":"default"},"spec":{"source":"my-rest","sourceResource":{"path":"/source"},"target":"my-servicebus","targetResource":{"path":"/target"}}}"#,
            #"{"metadata":{"name":"deep","namespace":"default"},"spec":{"source":"my-rest","sourceResource":{"path":"/source/deep/{id}"},"target":"my-eventbus","targetResource":{"topic":"deep"}}}"#,
            #"{"metadata":{"name":"up","namespace":"default"},"spec":{"source":"my-eventbus","sourceResource":{"topic":"test","node_name":"edge-node"},"target":"my-rest","targetResource":{"resource":"http://a.com"}}}"#,
            #"{"metadata":{"name":"broken","namespace":"default"},"spec":{"source":"my-rest","sourceResource":{"path":"/x"},"target":"missing","targetResource":{"topic":"t"}}}"#,
        ] { table.setRule(try json(rule)) }
        return table
    }

    @Test("REST calls match their rule by path prefix at segment boundaries; the longest wins; the rest is the param")
    func matching() throws {
        let table = try Self.table()
        let call = try #require(RuleTable.parse(uri: "/edge-node/default/source/items?id=7"))
        #expect(call == RuleTable.Call(node: "edge-node", namespace: "default", path: "source/items", query: "?id=7"))
        let matched = try #require(table.match(call))
        #expect(matched.rule.name == "sb")
        #expect(matched.flow == .restToServicebus(path: "source", port: 6666, targetPath: "/target"))
        #expect(matched.param == "/items?id=7")
        #expect(table.match(try #require(RuleTable.parse(uri: "/n/default/source/deep/42")))?.rule.name == "deep")
        #expect(table.match(try #require(RuleTable.parse(uri: "/n/default/sourcery"))) == nil, "no match inside a segment")
        #expect(table.match(try #require(RuleTable.parse(uri: "/n/other/test"))) == nil, "rules are per namespace")
        #expect(RuleTable.parse(uri: "/n/default") == nil)
        #expect(RuleTable.topic("test", param: "/a/b") == "test/a/b")
        #expect(RuleTable.topic("test/", param: "") == "test/")
    }

    @Test("invalid rules say why; edge registrations for eventbus→rest (namespaced topic) and uploads find their rule")
    func registrations() throws {
        let table = try Self.table()
        let broken = try #require(table.rules["default/broken"])
        guard case .failure(let error) = table.flow(of: broken) else { Issue.record("broken rule accepted"); return }
        #expect(error.description.contains("target endpoint 'missing' does not exist"))
        let registrations = table.edgeRegistrations()
        #expect(registrations.count == 1)
        #expect(registrations.first?.node == "edge-node")
        #expect(registrations.first?.message.route.operation == "subscribe")
        #expect(registrations.first?.message.route.resource == "default/test")
        #expect(registrations.first?.message.route.source == "router_eventbus")
        let upload = Message(source: "bus", group: "user", operation: "upload", resource: "default/test", content: .null)
        #expect(table.rule(forUpload: upload, from: "edge-node")?.rule.name == "up")
        #expect(table.rule(forUpload: upload, from: "other-node") == nil)
    }

    @Test("servicebus reads KubeEdge's HTTPRequest and answers with an HTTPResponse upload naming the request")
    func servicebusMessages() throws {
        let request = Message(
            source: "router_servicebus", group: "user", operation: "POST", resource: "6666:/target",
            content: try RawJSON(validating: Array(#"{"header":{"Accept":["*/*"],"Content-Type":["application/json"]},"body":"eyJtZXNzYWdlIjoiMTIzIn0=","method":"POST","url":""}"#.utf8)))
        guard case .relay(let call) = try ServiceBusRules.command(request, maxBody: 100) else {
            Issue.record("not a relay")
            return
        }
        #expect(call.port == 6666 && call.path == "/target" && call.method == "POST")
        #expect(String(decoding: call.body, as: UTF8.self) == #"{"message":"123"}"#)
        #expect(call.headers.map(\.name) == ["Accept", "Content-Type"])
        let answer = ServiceBusRules.response(to: request, status: 201, headers: [("content-type", "text/plain"), ("x-a", "1"), ("X-A", "2")],
                                              body: [0, 255])
        #expect(answer.header.parentID == request.header.id)
        #expect(answer.route == Message.Route(source: "servicebus", group: "user", operation: "upload", resource: ""))
        #expect(answer.content.text == #"{"header":{"Content-Type":["text/plain"],"X-A":["1","2"]},"status_code":201,"body":"AP8="}"#)
        #expect(throws: ServiceBusRules.Refusal(400, "the format of resource target is incorrect (expected {port}:{path})")) {
            try ServiceBusRules.command(Message(source: "router_servicebus", group: "user", operation: "GET",
                                                resource: "target", content: .null), maxBody: 100)
        }
        #expect(throws: ServiceBusRules.Refusal(413, "the request body is larger than 2 bytes")) {
            try ServiceBusRules.command(request, maxBody: 2)
        }
        #expect(try ServiceBusRules.command(Message(source: "router_servicebus", group: "user", operation: "start",
                                                    resource: "http://127.0.0.1:8080/api", content: .null), maxBody: 1)
            == .allow(url: "http://127.0.0.1:8080/api"))
        #expect(try ServiceBusRules.parsePorts("6666, 8080-8090") == [6666...6666, 8080...8090])
        #expect(throws: ServiceBusRules.Refusal.self) { try ServiceBusRules.parsePorts("80-70") }
    }
}
