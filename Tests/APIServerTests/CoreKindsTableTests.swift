import EdgeProtocol
import Foundation
import Testing

@testable import APIMachinery
@testable import APIServerService

@Suite struct CoreKindsTableTests {
    @Test func node() {
        #expect(
            columnNames("Node") == [
                "Name", "Status", "Roles", "Age", "Version", "Internal-IP", "External-IP", "OS-Image", "Kernel-Version",
                "Container-Runtime",
            ])
        #expect(widePriorities("Node") == [0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
        #expect(TablePrinter.columns(forKind: "Node", group: "")[4].description == "Kubelet Version reported by the node.")
        let ready = cells(
            "Node",
            """
            {"metadata":{"name":"edge-1","creationTimestamp":"\(ago(45 * 86_400))",
               "labels":{"node-role.kubernetes.io/edge":"","node-role.kubernetes.io/agent":"","kubernetes.io/role":"worker",
                         "node-role.kubernetes.io/":"x","kubernetes.io/hostname":"edge-1"}},
             "spec":{"unschedulable":true},
             "status":{"conditions":[{"type":"MemoryPressure","status":"False"},{"type":"Ready","status":"True"}],
               "addresses":[{"type":"Hostname","address":"edge-1"},{"type":"InternalIP","address":"192.168.1.10"},
                            {"type":"InternalIP","address":"192.168.1.11"}],
               "nodeInfo":{"kubeletVersion":"v1.30.0-kubeedge-v1.18.0","osImage":"Ubuntu 22.04.4 LTS",
                 "kernelVersion":"5.15.0-101-generic","containerRuntimeVersion":"containerd://1.7.13"}}}
            """)
        #expect(
            ready == [
                "edge-1", "Ready,SchedulingDisabled", "agent,edge,worker", "45d", "v1.30.0-kubeedge-v1.18.0",
                "192.168.1.10", "<none>", "Ubuntu 22.04.4 LTS", "5.15.0-101-generic", "containerd://1.7.13",
            ])
        let notReady = cells(
            "Node",
            #"{"metadata":{"name":"n"},"status":{"conditions":[{"type":"Ready","status":"Unknown"}],"addresses":[{"type":"ExternalIP","address":"1.2.3.4"}]}}"#
        )
        #expect(notReady == ["n", "NotReady", "<none>", "<unknown>", "", "<none>", "1.2.3.4", "<unknown>", "<unknown>", "<unknown>"])
        let unknown = cells("Node", #"{"metadata":{"name":"n"}}"#)
        #expect(unknown[1] == "Unknown")
    }

    @Test func namespace() {
        #expect(columnNames("Namespace") == ["Name", "Status", "Age"])
        #expect(TablePrinter.columns(forKind: "Namespace", group: "")[1].description == "The status of the namespace")
        #expect(
            cells("Namespace", #"{"metadata":{"name":"kube-system","creationTimestamp":"\#(ago(730 * 86_400))"},"status":{"phase":"Active"}}"#)
                == ["kube-system", "Active", "2y"])
        #expect(
            cells("Namespace", #"{"metadata":{"name":"gone","deletionTimestamp":"\#(ago(1))"},"status":{"phase":"Terminating"}}"#)[1]
                == "Terminating")
    }

    @Test func service() {
        #expect(columnNames("Service") == ["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age", "Selector"])
        #expect(widePriorities("Service") == [0, 0, 0, 0, 0, 0, 1])
        let clusterIP = cells(
            "Service",
            """
            {"metadata":{"name":"web","creationTimestamp":"\(ago(600))"},
             "spec":{"type":"ClusterIP","clusterIP":"10.96.12.7","clusterIPs":["10.96.12.7"],
               "ports":[{"name":"http","port":80,"targetPort":8080,"protocol":"TCP"},{"name":"dns","port":53,"protocol":"UDP"}],
               "selector":{"tier":"web","app":"nginx"}}}
            """)
        #expect(clusterIP == ["web", "ClusterIP", "10.96.12.7", "<none>", "80/TCP,53/UDP", "10m", "app=nginx,tier=web"])

        let nodePort = cells(
            "Service",
            #"{"metadata":{"name":"np"},"spec":{"type":"NodePort","clusterIPs":["10.96.0.9"],"externalIPs":["5.6.7.8","5.6.7.9"],"ports":[{"port":80,"nodePort":30080}]}}"#
        )
        #expect(nodePort == ["np", "NodePort", "10.96.0.9", "5.6.7.8,5.6.7.9", "80:30080/TCP", "<unknown>", "<none>"])

        let pending = cells(
            "Service", #"{"metadata":{"name":"lb"},"spec":{"type":"LoadBalancer","clusterIP":"1.3.4.5","ports":[]}}"#)
        #expect(pending == ["lb", "LoadBalancer", "1.3.4.5", "<pending>", "<none>", "<unknown>", "<none>"])

        // The server prints wide, so long load-balancer lists are not clipped.
        let lb = cells(
            "Service",
            #"{"metadata":{"name":"lb"},"spec":{"type":"LoadBalancer","clusterIP":"1.5.6.7","externalIPs":["9.9.9.9"],"ports":[{"port":80,"protocol":"TCP"}]},"status":{"loadBalancer":{"ingress":[{"ip":"3.4.5.6"},{"ip":"2.3.4.5"},{"ip":"5.6.7.8","hostname":"host5678"},{"hostname":"lb.example.com"},{"ip":"2.3.4.5"}]}}}"#
        )
        #expect(lb[3] == "2.3.4.5,3.4.5.6,5.6.7.8,lb.example.com,9.9.9.9")

        let headless = cells("Service", #"{"metadata":{"name":"h"},"spec":{"clusterIP":"None","ports":[{"port":5432}]}}"#)
        #expect(headless[1...4] == ["ClusterIP", "None", "<none>", "5432/TCP"])
        let external = cells(
            "Service", #"{"metadata":{"name":"x"},"spec":{"type":"ExternalName","externalName":"db.example.com"}}"#)
        #expect(external[1...4] == ["ExternalName", "<none>", "db.example.com", "<none>"])
    }

    @Test func endpoints() {
        #expect(columnNames("Endpoints") == ["Name", "Endpoints", "Age"])
        #expect(cells("Endpoints", #"{"metadata":{"name":"e"}}"#) == ["e", "<none>", "<unknown>"])
        let many = cells(
            "Endpoints",
            """
            {"metadata":{"name":"web"},"subsets":[
              {"addresses":[{"ip":"10.0.0.1"},{"ip":"10.0.0.2"}],"ports":[{"name":"http","port":8080},{"name":"m","port":9090}]},
              {"addresses":[{"ip":"fd00::3"}],"ports":[{"port":8080}]}]}
            """)
        #expect(many[1] == "10.0.0.1:8080,10.0.0.2:8080,10.0.0.1:9090 + 2 more...")
        let headless = cells(
            "Endpoints", #"{"metadata":{"name":"h"},"subsets":[{"addresses":[{"ip":"10.0.0.1"},{"ip":"fd00::1"}]}]}"#)
        #expect(headless[1] == "10.0.0.1,fd00::1")
        let v6 = cells("Endpoints", #"{"metadata":{"name":"h"},"subsets":[{"addresses":[{"ip":"fd00::1"}],"ports":[{"port":53}]}]}"#)
        #expect(v6[1] == "[fd00::1]:53")
        let notReadyOnly = cells(
            "Endpoints", #"{"metadata":{"name":"h"},"subsets":[{"notReadyAddresses":[{"ip":"10.0.0.1"}],"ports":[{"port":53}]}]}"#)
        #expect(notReadyOnly[1] == "")
    }

    @Test func configMapSecretServiceAccountLease() {
        #expect(columnNames("ConfigMap") == ["Name", "Data", "Age"])
        #expect(
            cells("ConfigMap", #"{"metadata":{"name":"cfg","creationTimestamp":"\#(ago(90))"},"data":{"a":"1","b":"2"},"binaryData":{"c":"AA=="}}"#)
                == ["cfg", 3, "90s"])
        #expect(columnNames("Secret") == ["Name", "Type", "Data", "Age"])
        #expect(
            cells("Secret", #"{"metadata":{"name":"tls"},"type":"kubernetes.io/tls","data":{"tls.crt":"","tls.key":""}}"#)
                == ["tls", "kubernetes.io/tls", 2, "<unknown>"])
        #expect(cells("Secret", #"{"metadata":{"name":"s"}}"#) == ["s", "Opaque", 0, "<unknown>"])
        #expect(columnNames("ServiceAccount") == ["Name", "Secrets", "Age"])
        #expect(
            cells("ServiceAccount", #"{"metadata":{"name":"default","creationTimestamp":"\#(ago(3 * 3600 + 60))"}}"#)
                == ["default", 0, "3h1m"])
        #expect(
            cells("ServiceAccount", #"{"metadata":{"name":"bot"},"secrets":[{"name":"bot-token"}]}"#)[1] == 1)
        #expect(columnNames("Lease", "coordination.k8s.io") == ["Name", "Holder", "Age"])
        #expect(
            TablePrinter.columns(forKind: "Lease", group: "coordination.k8s.io")[1].description
                == "holderIdentity contains the identity of the holder of a current lease.")
        #expect(
            cells("Lease", "coordination.k8s.io", #"{"metadata":{"name":"edge-1","namespace":"kube-node-lease"},"spec":{"holderIdentity":"edge-1","leaseDurationSeconds":40}}"#)
                == ["edge-1", "edge-1", "<unknown>"])
        #expect(cells("Lease", "coordination.k8s.io", #"{"metadata":{"name":"l"},"spec":{}}"#)[1] == "")
        // A core-group "Lease" is not the coordination one.
        #expect(!TablePrinter.hasPrinter(kind: "Lease", group: ""))
    }

    @Test func deployment() {
        #expect(
            columnNames("Deployment", "apps") == [
                "Name", "Ready", "Up-to-date", "Available", "Age", "Containers", "Images", "Selector",
            ])
        #expect(widePriorities("Deployment", "apps") == [0, 0, 0, 0, 0, 1, 1, 1])
        let columns = TablePrinter.columns(forKind: "Deployment", group: "apps")
        #expect(columns[1].description == "Number of the pod with ready state")
        #expect(columns[2].type == "string")
        let row = cells(
            "Deployment", "apps",
            """
            {"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","creationTimestamp":"\(ago(49 * 3600))"},
             "spec":{"replicas":3,"selector":{"matchLabels":{"app":"web"},
                 "matchExpressions":[{"key":"tier","operator":"In","values":["front","edge"]},{"key":"canary","operator":"DoesNotExist"}]},
               "template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[
                 {"name":"nginx","image":"nginx:1.25"},{"name":"sidecar","image":"envoy:1.29"}]}}},
             "status":{"replicas":3,"updatedReplicas":3,"readyReplicas":2,"availableReplicas":2}}
            """)
        #expect(
            row == [
                "web", "2/3", 3, 2, "2d1h", "nginx,sidecar", "nginx:1.25,envoy:1.29",
                "app=web,!canary,tier in (edge,front)",
            ])
        let fresh = cells("Deployment", "apps", #"{"metadata":{"name":"d"},"spec":{"template":{"spec":{"containers":[{"name":"c","image":"i"}]}}}}"#)
        #expect(fresh == ["d", "0/1", 0, 0, "<unknown>", "c", "i", ""])
        let invalid = cells(
            "Deployment", "apps",
            #"{"metadata":{"name":"d"},"spec":{"replicas":0,"selector":{"matchExpressions":[{"key":"a","operator":"Bogus"}]}}}"#)
        #expect(invalid[1] == "0/0")
        #expect(invalid[7] == "<invalid>")
    }

    @Test func events() {
        #expect(
            columnNames("Event") == [
                "Last Seen", "Type", "Reason", "Object", "Subobject", "Source", "Message", "First Seen", "Count", "Name",
            ])
        #expect(widePriorities("Event") == [0, 0, 0, 0, 1, 1, 0, 1, 1, 1])
        let columns = TablePrinter.columns(forKind: "Event", group: "")
        #expect(columns[9].format == "name")
        #expect(columns[3].description == "The object that this event is about.")
        #expect(columns[8].type == "string")

        let core = cells(
            "Event",
            """
            {"apiVersion":"v1","kind":"Event","metadata":{"name":"web-1.17a2b3c4d5e6f7a8","namespace":"default"},
             "involvedObject":{"kind":"Pod","namespace":"default","name":"web-1","fieldPath":"spec.containers{nginx}"},
             "reason":"BackOff","message":"  Back-off restarting failed container\\n","type":"Warning",
             "source":{"component":"kubelet","host":"edge-1"},"firstTimestamp":"\(ago(3600))",
             "lastTimestamp":"\(ago(30))","count":12}
            """)
        #expect(
            core == [
                "30s", "Warning", "BackOff", "pod/web-1", "spec.containers{nginx}", "kubelet, edge-1",
                "Back-off restarting failed container", "60m", 12, "web-1.17a2b3c4d5e6f7a8",
            ])

        // New-style event written through core/v1: no timestamps but eventTime, no count, reporting fields.
        let single = cells(
            "Event",
            """
            {"metadata":{"name":"e2"},"involvedObject":{"kind":"Node"},"reason":"Starting","message":"m","type":"Normal",
             "source":{},"eventTime":"\(ago(126)).123456Z","reportingComponent":"kube-proxy","reportingInstance":""}
            """.replacingOccurrences(of: "Z.123456Z", with: ".123456Z"))
        #expect(single == ["2m5s", "Normal", "Starting", "node", "", "kube-proxy", "m", "2m5s", 1, "e2"])

        let series = cells(
            "Event",
            """
            {"metadata":{"name":"e3"},"involvedObject":{"kind":"Pod","name":"p"},"type":"Normal","reason":"Pulled",
             "firstTimestamp":"\(ago(7200))","lastTimestamp":"\(ago(3600))","count":3,
             "series":{"count":9,"lastObservedTime":"\(ago(6)).000001Z"}}
            """.replacingOccurrences(of: "Z.000001Z", with: ".000001Z"))
        #expect(series[0] == "5s")
        #expect(series[7] == "120m")
        #expect(series[8] == 9)

        // events.k8s.io/v1 reads through the same printer.
        let v1 = cells(
            "Event", "events.k8s.io",
            """
            {"apiVersion":"events.k8s.io/v1","kind":"Event","metadata":{"name":"e4"},
             "regarding":{"kind":"Deployment","name":"web"},"note":"Scaled up","type":"Normal","reason":"ScalingReplicaSet",
             "reportingController":"deployment-controller","reportingInstance":"cp-1",
             "deprecatedFirstTimestamp":"\(ago(600))","deprecatedLastTimestamp":"\(ago(60))","deprecatedCount":2}
            """)
        #expect(
            v1 == [
                "60s", "Normal", "ScalingReplicaSet", "deployment/web", "", "deployment-controller, cp-1", "Scaled up",
                "10m", 2, "e4",
            ])
        #expect(TablePrinter.columns(forKind: "Event", group: "events.k8s.io") == columns)
    }
}
