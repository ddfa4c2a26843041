import EdgeProtocol
import Foundation
import Testing

@testable import APIMachinery
@testable import APIServerService

@Suite struct OtherKindsTableTests {
    @Test func everyPrinterHasOneCellPerColumn() {
        for printer in TablePrinter.Printer.allCases {
            let (group, kind) = printer.key
            let row = TablePrinter.cells(forKind: kind, group: group, object: json(#"{"metadata":{"name":"x"}}"#), now: tableNow)
            #expect(row.count == TablePrinter.columns(forKind: kind, group: group).count, "\(kind)")
            #expect(TablePrinter.hasPrinter(kind: kind, group: group))
        }
    }

    @Test func workloads() {
        let rs = cells(
            "ReplicaSet", "apps",
            #"{"metadata":{"name":"web-5d8"},"spec":{"replicas":2,"selector":{"matchLabels":{"app":"web","pod-template-hash":"5d8"}},"template":{"spec":{"containers":[{"name":"nginx","image":"nginx"}]}}},"status":{"replicas":2,"readyReplicas":1}}"#
        )
        #expect(rs == ["web-5d8", 2, 2, 1, "<unknown>", "nginx", "nginx", "app=web,pod-template-hash=5d8"])
        #expect(TablePrinter.columns(forKind: "ReplicaSet", group: "apps").map(\.type)[1] == "integer")

        let ds = cells(
            "DaemonSet", "apps",
            #"{"metadata":{"name":"edgemesh"},"spec":{"selector":{"matchLabels":{"k8s-app":"edgemesh"}},"template":{"spec":{"nodeSelector":{"node-role.kubernetes.io/edge":""},"containers":[{"name":"agent","image":"kubeedge/edgemesh-agent:v1.15"}]}}},"status":{"desiredNumberScheduled":3,"currentNumberScheduled":3,"numberReady":2,"updatedNumberScheduled":3,"numberAvailable":2}}"#
        )
        #expect(
            ds == [
                "edgemesh", 3, 3, 2, 3, 2, "node-role.kubernetes.io/edge=", "<unknown>", "agent",
                "kubeedge/edgemesh-agent:v1.15", "k8s-app=edgemesh",
            ])

        let sts = cells(
            "StatefulSet", "apps",
            #"{"metadata":{"name":"db"},"spec":{"replicas":3,"template":{"spec":{"containers":[{"name":"pg","image":"postgres:16"}]}}},"status":{"readyReplicas":3}}"#
        )
        #expect(sts == ["db", "3/3", "<unknown>", "pg", "postgres:16"])

        let revision = cells(
            "ControllerRevision", "apps",
            #"{"metadata":{"name":"db-7c9","ownerReferences":[{"apiVersion":"apps/v1","kind":"StatefulSet","name":"db","controller":true}]},"revision":4}"#
        )
        #expect(revision == ["db-7c9", "statefulset.apps/db", 4, "<unknown>"])

        let rc = cells("ReplicationController", "", #"{"metadata":{"name":"rc"},"spec":{"selector":{"app":"x"}}}"#)
        #expect(rc == ["rc", 1, 0, 0, "<unknown>", "", "", "app=x"])
    }

    @Test func rbacAndPolicy() {
        let binding = cells(
            "RoleBinding", "rbac.authorization.k8s.io",
            #"{"metadata":{"name":"rb"},"roleRef":{"kind":"ClusterRole","name":"view"},"subjects":[{"kind":"User","name":"alice"},{"kind":"Group","name":"devs"},{"kind":"ServiceAccount","namespace":"kubeedge","name":"cloudcore"},{"kind":"User","name":"bob"}]}"#
        )
        #expect(binding == ["rb", "ClusterRole/view", "<unknown>", "alice, bob", "devs", "kubeedge/cloudcore"])
        #expect(
            TablePrinter.columns(forKind: "ClusterRoleBinding", group: "rbac.authorization.k8s.io")[3].description
                == "Users in the clusterRoleBinding")

        let pdb = cells(
            "PodDisruptionBudget", "policy",
            #"{"metadata":{"name":"p"},"spec":{"minAvailable":"50%"},"status":{"disruptionsAllowed":1}}"#)
        #expect(pdb == ["p", "50%", "N/A", 1, "<unknown>"])

        let priority = cells(
            "PriorityClass", "scheduling.k8s.io", #"{"metadata":{"name":"system-node-critical"},"value":2000001000}"#)
        #expect(priority == ["system-node-critical", 2_000_001_000, false, "<unknown>"])
    }

    @Test func networkingAndStorage() {
        let ingress = cells(
            "Ingress", "networking.k8s.io",
            #"{"metadata":{"name":"ing"},"spec":{"ingressClassName":"nginx","rules":[{"host":"a.example.com"},{"host":""},{"host":"b.example.com"}],"tls":[{"hosts":["a.example.com"]}]},"status":{"loadBalancer":{"ingress":[{"ip":"10.0.0.9"}]}}}"#
        )
        #expect(ingress == ["ing", "nginx", "a.example.com,b.example.com", "10.0.0.9", "80, 443", "<unknown>"])
        let bare = cells("Ingress", "networking.k8s.io", #"{"metadata":{"name":"ing"},"spec":{}}"#)
        #expect(bare == ["ing", "<none>", "*", "", "80", "<unknown>"])

        let policy = cells("NetworkPolicy", "networking.k8s.io", #"{"metadata":{"name":"deny"},"spec":{"podSelector":{}}}"#)
        #expect(policy == ["deny", "<none>", "<unknown>"])

        let slice = cells(
            "EndpointSlice", "discovery.k8s.io",
            #"{"metadata":{"name":"web-abc"},"addressType":"IPv4","ports":[{"name":"http","port":80},{"name":"x"}],"endpoints":[{"addresses":["10.0.0.1"]},{"addresses":["10.0.0.2"]},{"addresses":["10.0.0.3"]},{"addresses":["10.0.0.4"]}]}"#
        )
        #expect(slice == ["web-abc", "IPv4", "80,x", "10.0.0.1,10.0.0.2,10.0.0.3 + 1 more...", "<unknown>"])
        #expect(cells("EndpointSlice", "discovery.k8s.io", #"{"metadata":{"name":"e"}}"#)[2...3] == ["<unset>", "<unset>"])

        let storageClass = cells(
            "StorageClass", "storage.k8s.io",
            #"{"metadata":{"name":"local-path","annotations":{"storageclass.kubernetes.io/is-default-class":"true"}},"provisioner":"rancher.io/local-path","volumeBindingMode":"WaitForFirstConsumer"}"#
        )
        #expect(
            storageClass == [
                "local-path (default)", "rancher.io/local-path", "Delete", "WaitForFirstConsumer", false, "<unknown>",
            ])

        let webhook = cells(
            "MutatingWebhookConfiguration", "admissionregistration.k8s.io",
            #"{"metadata":{"name":"w"},"webhooks":[{"name":"a"},{"name":"b"}]}"#)
        #expect(webhook == ["w", 2, "<unknown>"])
        let runtime = cells("RuntimeClass", "node.k8s.io", #"{"metadata":{"name":"kata"},"handler":"kata"}"#)
        #expect(runtime == ["kata", "kata", "<unknown>"])
        #expect(TablePrinter.columns(forKind: "RuntimeClass", group: "node.k8s.io")[1].description == "")
    }
}
