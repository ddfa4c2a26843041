import EdgeProtocol
import Testing

@testable import APIMachinery
@testable import APIServerService

@Suite("scheduler rules")
struct SchedulerRulesTests {
    static func node(_ name: String, ready: Bool = true, labels: JSONValue = .object([]), taints: [JSONValue] = [],
                     unschedulable: Bool = false) -> JSONValue {
        [
            "metadata": ["name": .string(name), "labels": labels],
            "spec": ["taints": .array(taints), "unschedulable": .bool(unschedulable)],
            "status": ["conditions": [["type": "Ready", "status": .string(ready ? "True" : "False")]]],
        ]
    }

    static let edgeTaint: JSONValue = ["key": "node-role.kubernetes.io/edge", "value": "", "effect": "NoSchedule"]

    @Test func picksTheLeastLoadedReadyMatchingNode() {
        let pod: JSONValue = ["spec": ["nodeSelector": ["zone": "a"]]]
        let nodes = [Self.node("n1", labels: ["zone": "a"]), Self.node("n2", labels: ["zone": "a"]),
                     Self.node("n3", labels: ["zone": "b"]), Self.node("n4", ready: false, labels: ["zone": "a"])]
        #expect(SchedulerRules.choose(pod: pod, nodes: nodes, load: ["n1": 3, "n2": 1]) == .node("n2"))
    }

    @Test func theEdgeTaintNeedsAToleration() {
        let nodes = [Self.node("edge-1", taints: [Self.edgeTaint])]
        let plain: JSONValue = ["spec": .object([])]
        #expect(SchedulerRules.choose(pod: plain, nodes: nodes, load: [:]) == .unschedulable(
            "0/1 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/edge: }."))
        let tolerating: JSONValue = ["spec": ["tolerations": [["key": "node-role.kubernetes.io/edge", "operator": "Exists",
                                                              "effect": "NoSchedule"]]]]
        #expect(SchedulerRules.choose(pod: tolerating, nodes: nodes, load: [:]) == .node("edge-1"))
        let everything: JSONValue = ["spec": ["tolerations": [["operator": "Exists"]]]]
        #expect(SchedulerRules.choose(pod: everything, nodes: nodes, load: [:]) == .node("edge-1"))
    }

    @Test func saysWhyNothingFits() {
        let pod: JSONValue = ["spec": ["nodeSelector": ["zone": "c"]]]
        let nodes = [Self.node("n1", labels: ["zone": "a"]), Self.node("n2", ready: false),
                     Self.node("n3", labels: ["zone": "c"], unschedulable: true)]
        #expect(SchedulerRules.choose(pod: pod, nodes: nodes, load: [:]) == .unschedulable(
            "0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) were not ready, 1 node(s) were unschedulable."))
        #expect(SchedulerRules.choose(pod: pod, nodes: [], load: [:]) == .unschedulable("0/0 nodes are available."))
    }
}
