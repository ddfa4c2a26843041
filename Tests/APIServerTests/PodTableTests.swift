import EdgeProtocol
import Foundation
import Testing

@testable import APIMachinery
@testable import APIServerService

@Suite struct PodTableTests {
    @Test func columns() {
        #expect(
            columnNames("Pod") == [
                "Name", "Ready", "Status", "Restarts", "Age", "IP", "Node", "Nominated Node", "Readiness Gates",
            ])
        #expect(widePriorities("Pod") == [0, 0, 0, 0, 0, 1, 1, 1, 1])
        let columns = TablePrinter.columns(forKind: "Pod", group: "")
        #expect(columns[0].format == "name")
        #expect(columns[0].description.hasPrefix("Name must be unique within a namespace."))
        #expect(columns[3].type == "string")
        #expect(
            columns[3].description
                == "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."
        )
        #expect(columns[4].description.hasPrefix("CreationTimestamp is a timestamp representing the server time"))
        #expect(columns[4].description.contains("UTC.\n\nPopulated by the system."))
        #expect(columns[5].description == "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.")
        #expect(columns[8].description.contains("equal to \"True\" More info"))
        #expect(columns.allSatisfy { $0.format == ($0.name == "Name" ? "name" : "") })
    }

    @Test func runningPodWithRestarts() {
        let row = cells(
            "Pod",
            """
            {"apiVersion":"v1","kind":"Pod","metadata":{"name":"web-7d4b9c-x2x9q","namespace":"default",
              "creationTimestamp":"\(ago(3 * 86_400 + 4 * 3600))"},
             "spec":{"nodeName":"edge-node-1","containers":[{"name":"nginx","image":"nginx:1.25"},{"name":"log","image":"busybox"}],
               "readinessGates":[{"conditionType":"example.com/gate-a"},{"conditionType":"example.com/gate-b"}]},
             "status":{"phase":"Running","podIP":"10.244.1.7","podIPs":[{"ip":"10.244.1.7"},{"ip":"fd00::7"}],
               "conditions":[{"type":"Ready","status":"True"},{"type":"example.com/gate-a","status":"True"},
                             {"type":"example.com/gate-b","status":"False"}],
               "containerStatuses":[
                 {"name":"nginx","ready":true,"restartCount":2,"state":{"running":{"startedAt":"\(ago(300))"}},
                  "lastState":{"terminated":{"exitCode":137,"reason":"OOMKilled","finishedAt":"\(ago(300))"}}},
                 {"name":"log","ready":true,"restartCount":1,"state":{"running":{}},
                  "lastState":{"terminated":{"exitCode":1,"finishedAt":"\(ago(3600))"}}}]}}
            """)
        #expect(
            row == [
                "web-7d4b9c-x2x9q", "2/2", "Running", "3 (5m ago)", "3d4h", "10.244.1.7", "edge-node-1", "<none>", "1/2",
            ])
    }

    @Test func pendingPods() {
        let unscheduled = cells(
            "Pod",
            """
            {"metadata":{"name":"pending","creationTimestamp":"\(ago(5))"},
             "spec":{"containers":[{"name":"app","image":"app"}]},"status":{"phase":"Pending"}}
            """)
        #expect(unscheduled == ["pending", "0/1", "Pending", "0", "5s", "<none>", "<none>", "<none>", "<none>"])

        let creating = cells(
            "Pod",
            """
            {"metadata":{"name":"creating","creationTimestamp":"\(ago(200))"},
             "spec":{"nodeName":"n1","containers":[{"name":"app","image":"app"}]},
             "status":{"phase":"Pending","containerStatuses":[{"name":"app","ready":false,"restartCount":0,
               "state":{"waiting":{"reason":"ContainerCreating"}}}]}}
            """)
        #expect(creating[1...4] == ["0/1", "ContainerCreating", "0", "3m20s"])

        let crashing = cells(
            "Pod",
            """
            {"metadata":{"name":"crash","creationTimestamp":"\(ago(1000))"},
             "spec":{"containers":[{"name":"app"}]},
             "status":{"phase":"Running","containerStatuses":[{"name":"app","ready":false,"restartCount":7,
               "state":{"waiting":{"reason":"CrashLoopBackOff","message":"back-off"}},
               "lastState":{"terminated":{"exitCode":1,"reason":"Error","finishedAt":"\(ago(42))"}}}]}}
            """)
        #expect(crashing[1...3] == ["0/1", "CrashLoopBackOff", "7 (42s ago)"])

        let gated = cells(
            "Pod",
            """
            {"metadata":{"name":"gated"},"spec":{"containers":[{"name":"app"}],"schedulingGates":[{"name":"g"}]},
             "status":{"phase":"Pending","conditions":[{"type":"PodScheduled","status":"False","reason":"SchedulingGated"}]}}
            """)
        #expect(gated[1...4] == ["0/1", "SchedulingGated", "0", "<unknown>"])

        let evicted = cells(
            "Pod",
            """
            {"metadata":{"name":"evicted"},"spec":{"containers":[{"name":"app"}]},
             "status":{"phase":"Failed","reason":"Evicted","message":"low on memory"}}
            """)
        #expect(evicted[2] == "Evicted")
    }

    @Test func terminatingPods() {
        let terminating = cells(
            "Pod",
            """
            {"metadata":{"name":"old","creationTimestamp":"\(ago(7200))","deletionTimestamp":"\(ago(-30))",
               "deletionGracePeriodSeconds":30},
             "spec":{"containers":[{"name":"app"}]},
             "status":{"phase":"Running","containerStatuses":[{"name":"app","ready":true,"restartCount":0,"state":{"running":{}}}]}}
            """)
        #expect(terminating[1...4] == ["1/1", "Terminating", "0", "120m"])

        // v1.30 prints Terminating even once the pod reached a terminal phase.
        let finished = cells(
            "Pod",
            """
            {"metadata":{"name":"done","deletionTimestamp":"\(ago(1))"},"spec":{"containers":[{"name":"app"}]},
             "status":{"phase":"Succeeded","containerStatuses":[{"name":"app","state":{"terminated":{"exitCode":0,"reason":"Completed"}}}]}}
            """)
        #expect(finished[2] == "Terminating")

        let lost = cells(
            "Pod",
            """
            {"metadata":{"name":"lost","deletionTimestamp":"\(ago(1))"},"spec":{"containers":[{"name":"app"}]},
             "status":{"phase":"Running","reason":"NodeLost"}}
            """)
        #expect(lost[2] == "Unknown")
    }

    @Test func initContainers() {
        // First init container still running (no reason): Init:0/2.
        let running = cells(
            "Pod",
            """
            {"metadata":{"name":"i"},"spec":{"initContainers":[{"name":"a"},{"name":"b"}],"containers":[{"name":"app"}]},
             "status":{"phase":"Pending",
               "initContainerStatuses":[
                 {"name":"a","ready":false,"restartCount":3,"state":{"running":{}},
                  "lastState":{"terminated":{"exitCode":1,"finishedAt":"\(ago(10))"}}},
                 {"name":"b","ready":false,"restartCount":0,"state":{"waiting":{"reason":"PodInitializing"}}}],
               "containerStatuses":[{"name":"app","ready":false,"restartCount":0,"state":{"waiting":{"reason":"PodInitializing"}}}]}}
            """)
        #expect(running[1...3] == ["0/1", "Init:0/2", "3 (10s ago)"])

        // First one done (restarted twice two minutes ago), second one crashing.
        let second = cells(
            "Pod",
            """
            {"metadata":{"name":"i"},"spec":{"initContainers":[{"name":"a"},{"name":"b"}],"containers":[{"name":"app"}]},
             "status":{"phase":"Pending",
               "initContainerStatuses":[
                 {"name":"a","restartCount":2,"state":{"terminated":{"exitCode":0,"reason":"Completed"}},
                  "lastState":{"terminated":{"exitCode":1,"finishedAt":"\(ago(120))"}}},
                 {"name":"b","restartCount":3,"state":{"waiting":{"reason":"CrashLoopBackOff"}},
                  "lastState":{"terminated":{"exitCode":1,"finishedAt":"\(ago(10))"}}}]}}
            """)
        #expect(second[1...3] == ["0/1", "Init:CrashLoopBackOff", "5 (10s ago)"])

        let exitCode = cells(
            "Pod",
            """
            {"metadata":{"name":"i"},"spec":{"initContainers":[{"name":"a"}],"containers":[{"name":"app"}]},
             "status":{"phase":"Pending","initContainerStatuses":[{"name":"a","state":{"terminated":{"exitCode":3}}}]}}
            """)
        #expect(exitCode[2] == "Init:ExitCode:3")
        let signal = cells(
            "Pod",
            """
            {"metadata":{"name":"i"},"spec":{"initContainers":[{"name":"a"}],"containers":[{"name":"app"}]},
             "status":{"phase":"Pending","initContainerStatuses":[{"name":"a","state":{"terminated":{"exitCode":137,"signal":9}}}]}}
            """)
        #expect(signal[2] == "Init:Signal:9")
        let reasoned = cells(
            "Pod",
            """
            {"metadata":{"name":"i"},"spec":{"initContainers":[{"name":"a"}],"containers":[{"name":"app"}]},
             "status":{"phase":"Pending","initContainerStatuses":[{"name":"a","state":{"terminated":{"exitCode":1,"reason":"Error"}}}]}}
            """)
        #expect(reasoned[2] == "Init:Error")

        // Init done and its restarts forgotten: only the app container's restarts count.
        let initialized = cells(
            "Pod",
            """
            {"metadata":{"name":"i"},"spec":{"initContainers":[{"name":"a"}],"containers":[{"name":"app"}]},
             "status":{"phase":"Running",
               "initContainerStatuses":[{"name":"a","restartCount":2,"state":{"terminated":{"exitCode":0}},
                 "lastState":{"terminated":{"finishedAt":"\(ago(120))"}}}],
               "containerStatuses":[{"name":"app","ready":false,"restartCount":4,"state":{"running":{}},
                 "lastState":{"terminated":{"finishedAt":"\(ago(20))"}}}]}}
            """)
        #expect(initialized[1...3] == ["0/1", "Running", "4 (20s ago)"])
    }

    @Test func sidecarInitContainers() {
        // A restartable init container (sidecar) counts as a container and its restarts stay counted.
        let row = cells(
            "Pod",
            """
            {"metadata":{"name":"s"},
             "spec":{"initContainers":[{"name":"proxy","restartPolicy":"Always"}],"containers":[{"name":"app"}]},
             "status":{"phase":"Running","conditions":[{"type":"Initialized","status":"True"},{"type":"Ready","status":"True"}],
               "initContainerStatuses":[{"name":"proxy","ready":true,"started":true,"restartCount":1,"state":{"running":{}},
                 "lastState":{"terminated":{"exitCode":1,"finishedAt":"\(ago(3000))"}}}],
               "containerStatuses":[{"name":"app","ready":true,"restartCount":0,"state":{"running":{}}}]}}
            """)
        #expect(row[1...3] == ["2/2", "Running", "1 (50m ago)"])

        let starting = cells(
            "Pod",
            """
            {"metadata":{"name":"s"},
             "spec":{"initContainers":[{"name":"proxy","restartPolicy":"Always"},{"name":"setup"}],"containers":[{"name":"app"}]},
             "status":{"phase":"Pending",
               "initContainerStatuses":[{"name":"proxy","ready":false,"started":false,"state":{"running":{}}},
                                        {"name":"setup","state":{"waiting":{"reason":"PodInitializing"}}}]}}
            """)
        #expect(starting[1...2] == ["0/2", "Init:0/2"])
    }

    @Test func completedPods() throws {
        let table = TablePrinter.table(
            kind: "Pod", group: "",
            object: json(
                """
                {"metadata":{"name":"job-x","resourceVersion":"77"},"spec":{"containers":[{"name":"c"}]},
                 "status":{"phase":"Succeeded","containerStatuses":[{"name":"c","ready":false,"restartCount":0,
                   "state":{"terminated":{"exitCode":0,"reason":"Completed"}}}]}}
                """), includeObject: .none, includeColumns: false, now: tableNow)
        // Serialised as Go does: `<` and `>` escaped.
        #expect(
            text(table)
                == #"{"kind":"Table","apiVersion":"meta.k8s.io/v1","metadata":{"resourceVersion":"77"},"columnDefinitions":null,"rows":[{"cells":["job-x","0/1","Completed","0","\u003cunknown\u003e","\u003cnone\u003e","\u003cnone\u003e","\u003cnone\u003e","\u003cnone\u003e"],"conditions":[{"type":"Completed","status":"True","reason":"Succeeded","message":"The pod has completed successfully."}],"object":null}]}"#
        )
        let failed = TablePrinter.table(
            kind: "Pod", group: "",
            object: json(#"{"metadata":{"name":"f"},"spec":{"containers":[{"name":"c"}]},"status":{"phase":"Failed"}}"#),
            includeObject: .none, now: tableNow)
        let conditions = failed["rows"]?.arrayValue?.first?["conditions"]
        #expect(conditions == json(#"[{"type":"Completed","status":"True","reason":"Failed","message":"The pod failed."}]"#))

        // One container completed while another still runs: Running with the Ready condition, NotReady without.
        let pod = """
            {"metadata":{"name":"p"},"spec":{"containers":[{"name":"a"},{"name":"b"}]},
             "status":{"phase":"Running",%@"containerStatuses":[
               {"name":"a","ready":true,"restartCount":3,"state":{"terminated":{"exitCode":0,"reason":"Completed"}}},
               {"name":"b","ready":true,"restartCount":3,"state":{"running":{}}}]}}
            """
        let notReady = cells("Pod", pod.replacingOccurrences(of: "%@", with: ""))
        #expect(notReady[1...3] == ["1/2", "NotReady", "6"])
        let ready = cells(
            "Pod", pod.replacingOccurrences(of: "%@", with: #""conditions":[{"type":"Ready","status":"True"}],"#))
        #expect(ready[1...3] == ["1/2", "Running", "6"])

        // The first container's state wins (statuses are read last to first).
        let both = cells(
            "Pod",
            """
            {"metadata":{"name":"p"},"spec":{"containers":[{"name":"a"},{"name":"b"}]},
             "status":{"phase":"podPhase","containerStatuses":[
               {"name":"a","restartCount":3,"state":{"waiting":{"reason":"ContainerWaitingReason"}}},
               {"name":"b","restartCount":3,"state":{"terminated":{"reason":"ContainerTerminatedReason"}}}]}}
            """)
        #expect(both[1...3] == ["0/2", "ContainerWaitingReason", "6"])
        let signaled = cells(
            "Pod",
            """
            {"metadata":{"name":"p"},"spec":{"containers":[{"name":"a"}]},
             "status":{"phase":"Running","containerStatuses":[{"name":"a","state":{"terminated":{"exitCode":143,"signal":15}}}]}}
            """)
        #expect(signaled[2] == "Signal:15")
        let exited = cells(
            "Pod",
            """
            {"metadata":{"name":"p"},"spec":{"containers":[{"name":"a"}]},
             "status":{"phase":"Running","containerStatuses":[{"name":"a","state":{"terminated":{"exitCode":2}}}]}}
            """)
        #expect(exited[2] == "ExitCode:2")
    }

    @Test func podIPFallsBackToPodIPs() {
        let row = cells(
            "Pod",
            #"{"metadata":{"name":"p"},"spec":{"containers":[]},"status":{"podIPs":[{"ip":"fd00::9"}],"nominatedNodeName":"n2"}}"#)
        #expect(row[5] == "fd00::9")
        #expect(row[7] == "n2")
        #expect(row[1] == "0/0")
    }
}
