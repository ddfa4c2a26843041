import EdgeProtocol
import Foundation
import Testing
import TestSupport

/// The server driven by clients nobody here wrote — kubectl 1.32 and the official Python client (kubernetes 37.0.2
/// from PyPI) — each behaviour asserted as kube-apiserver 1.26 answers it. Sources, per assertion:
/// [SSA] https://kubernetes.io/docs/reference/using-api/server-side-apply/ (conflicts, --force-conflicts, field
///       removal, managers) and k8s.io/apiserver `pkg/endpoints/handlers/fieldmanager/internal/conflict.go` (wording);
/// [PATCH] https://kubernetes.io/docs/tasks/manage-kubernetes-objects/update-api-object-kubectl-patch/ (json, merge,
///       strategic; custom resources refuse strategic merge with 415);
/// [LIST] https://kubernetes.io/docs/reference/using-api/api-concepts/#retrieving-large-results-sets-in-chunks;
/// [EVENTS] k8s.io/kubernetes `pkg/apis/events/v1/conversion.go` (one store, renamed fields);
/// [DRY] https://kubernetes.io/docs/reference/using-api/api-concepts/#dry-run;
/// [MANAGER] fieldmanager `prefixFromUserAgent` and kubectl's `--field-manager` defaults
///       (kubectl-client-side-apply, kubectl-label, kubectl-annotate, kubectl-patch).
@Suite("compatibility with kubectl and the official Python client")
struct CompatibilityTests {
    @Test("kubectl: apply --server-side, conflicts, --force-conflicts, removal, diff, dry-run, label, annotate, events.k8s.io")
    func kubectlServerSideApply() async throws {
        let server = try await APIServerProcess()
        defer { Task { await server.stop() } }
        let config = """
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: settings, labels: {app: demo}}
            data: {a: "1", b: "2"}
            """
        // [SSA] The first apply creates, the second is a no-op; kubectl is the manager, operation Apply.
        #expect(try await server.ok("apply", "--server-side", "-f", "-", input: config).contains("serverside-applied"))
        #expect(try await server.ok("apply", "--server-side", "-f", "-", input: config).contains("serverside-applied"))
        let managers = try await server.ok("get", "cm", "settings", "--show-managed-fields", "-o",
                                           "jsonpath={range .metadata.managedFields[*]}{.manager}/{.operation};{end}")
        #expect(managers == "kubectl/Apply;")

        // [SSA][MANAGER] Another manager changes a field: re-applying the old value conflicts, naming it.
        _ = try await server.ok("patch", "cm", "settings", "--type", "merge", "-p", #"{"data":{"a":"edited"}}"#)
        let conflict = try await server.kubectl(["apply", "--server-side", "-f", "-"], input: config)
        #expect(conflict.status != 0)
        #expect(conflict.stderr.contains(#"Apply failed with 1 conflict: conflict with "kubectl-patch" using v1: .data.a"#),
                "\(conflict)")
        #expect(try await server.ok("get", "cm", "settings", "-o", "jsonpath={.data.a}") == "edited")
        // --force-conflicts takes the field back.
        _ = try await server.ok("apply", "--server-side", "--force-conflicts", "-f", "-", input: config)
        #expect(try await server.ok("get", "cm", "settings", "-o", "jsonpath={.data.a}") == "1")

        // [SSA] A field dropped from the configuration is removed; one another manager also set stays.
        _ = try await server.ok("label", "cm", "settings", "owner=ops")
        let smaller = """
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: settings}
            data: {a: "1"}
            """
        _ = try await server.ok("apply", "--server-side", "-f", "-", input: smaller)
        #expect(try await server.ok("get", "cm", "settings", "-o", "jsonpath={.data}") == #"{"a":"1"}"#)
        #expect(try await server.ok("get", "cm", "settings", "-o", "jsonpath={.metadata.labels}") == #"{"owner":"ops"}"#)

        // [MANAGER] label and annotate record their own managers.
        _ = try await server.ok("annotate", "cm", "settings", "note=hi")
        let all = try await server.ok("get", "cm", "settings", "--show-managed-fields", "-o",
                                      "jsonpath={range .metadata.managedFields[*]}{.manager}/{.operation};{end}")
        #expect(Set(all.split(separator: ";").map(String.init))
                == ["kubectl/Apply", "kubectl-label/Update", "kubectl-annotate/Update"])

        // diff: a changed configuration shows the change and exits 1; the unchanged one exits 0.
        let changed = smaller.replacingOccurrences(of: #"a: "1""#, with: #"a: "2""#)
        let diff = try await server.kubectl(["diff", "--server-side", "-f", "-"], input: changed)
        #expect(diff.status == 1, "\(diff)")
        #expect(diff.stdout.contains("-  a: \"1\"") && diff.stdout.contains("+  a: \"2\""), "\(diff.stdout)")
        #expect(try await server.kubectl(["diff", "--server-side", "-f", "-"], input: smaller).status == 0)

        // [DRY] A server-side dry run answers with the result and stores nothing.
        let dry = try await server.ok("apply", "--server-side", "--dry-run=server", "-f", "-", "-o", "jsonpath={.data.a}",
                                      input: changed)
        #expect(dry == "2")
        #expect(try await server.ok("get", "cm", "settings", "-o", "jsonpath={.data.a}") == "1")

        // [SSA] Deployments: keyed lists merge by name; replicas set through scale belong to the scale manager.
        let deployment = """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: web}
            spec:
              replicas: 1
              selector: {matchLabels: {app: web}}
              template:
                metadata: {labels: {app: web}}
                spec:
                  containers:
                  - {name: web, image: "nginx:1.25", ports: [{containerPort: 80}]}
            """
        _ = try await server.ok("apply", "--server-side", "-f", "-", input: deployment)
        _ = try await server.ok("scale", "deploy", "web", "--replicas=3")
        let scaled = try await server.kubectl(["apply", "--server-side", "-f", "-"], input: deployment)
        #expect(scaled.stderr.contains(#"conflict with "kubectl" with subresource "scale" using apps/v1: .spec.replicas"#),
                "\(scaled)")
        let withoutReplicas = deployment.replacingOccurrences(of: "  replicas: 1\n", with: "")
            .replacingOccurrences(of: "nginx:1.25", with: "nginx:1.26")
        _ = try await server.ok("apply", "--server-side", "-f", "-", input: withoutReplicas)
        #expect(try await server.ok("get", "deploy", "web", "-o", "jsonpath={.spec.replicas} {.spec.template.spec.containers[*].image}")
                == "3 nginx:1.26")

        // [SSA] A YAML body (curl, scripts) applies and creates; an apply without fieldManager is a 422.
        let yamlBody = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  k: 'v'\n"
        let created = try await http("PATCH", server.insecureURL + "/api/v1/namespaces/default/configmaps/from-yaml?fieldManager=curl",
                                     body: yamlBody, contentType: "application/apply-patch+yaml")
        #expect(created.status == 201, "\(created)")
        #expect(try await server.ok("get", "cm", "from-yaml", "-o", "jsonpath={.data.k}") == "v")
        let anonymous = try await http("PATCH", server.insecureURL + "/api/v1/namespaces/default/configmaps/from-yaml",
                                       body: yamlBody, contentType: "application/apply-patch+yaml")
        #expect(anonymous.status == 422)
        #expect(anonymous.body.contains("fieldManager: Required value: is required for apply patch"))

        // [EVENTS] An events.k8s.io/v1 Event is a core/v1 Event and back.
        _ = try await server.ok("create", "-f", "-", input: """
            apiVersion: events.k8s.io/v1
            kind: Event
            metadata: {name: built, namespace: default}
            eventTime: "2026-12-03T10:00:00.000000Z"
            reportingController: example.com/builder
            reportingInstance: builder-1
            action: Build
            reason: Built
            note: image built
            type: Normal
            regarding: {kind: Deployment, namespace: default, name: web}
            """)
        #expect(try await server.ok("get", "events", "built", "-o", "jsonpath={.message}/{.involvedObject.name}/{.reportingComponent}")
                == "image built/web/example.com/builder")
        #expect(try await server.ok("get", "events.v1.events.k8s.io", "built", "-o", "jsonpath={.note}/{.regarding.kind}")
                == "image built/Deployment")
    }

    @Test("Python client: every patch type, apply with a conflict, subresources, custom objects, paging, events.k8s.io")
    func pythonClient() async throws {
        let server = try await APIServerProcess()
        defer { Task { await server.stop() } }
        let result = try await Command.run(try PeersVenv.python(), [
            Repository.root.appendingPathComponent("Tests/Peers/kube_client_check.py").path, server.kubeconfig, "compat",
        ], timeout: 120)
        #expect(result.status == 0, "\(result)")
        let report = try JSONValue(parsing: Array(result.stdout.utf8))

        // [PATCH] json patch replaced a, merge patch removed b and added c, strategic merge added a label; each
        // recorded under the client's user-agent manager ([MANAGER]: "OpenAPI-Generator").
        #expect(report[path: ["patched", "data"]] == ["a": "json", "c": "merge"])
        #expect(report[path: ["patched", "labels"]] == ["smp": "yes"])
        #expect(report[path: ["patched", "managers"]] == [["OpenAPI-Generator", "Update"]])
        // [SSA] Applying a field another manager owns is a 409 Conflict naming the field; force=true applies it.
        #expect(report[path: ["applyConflict", "status"]] == 409)
        #expect(report[path: ["applyConflict", "reason"]] == "Conflict")
        #expect(report[path: ["applyConflict", "causes"]] == [".data.a"])
        #expect(report[path: ["applyForced", "a"]] == "applied")
        // Subresources: merge and json patches of a pod's status, json patch of a deployment's scale.
        #expect(report[path: ["subresources", "message"]] == "merged")
        #expect(report[path: ["subresources", "reason"]] == "Patched")
        #expect(report[path: ["subresources", "replicas"]] == 4)
        // [LIST] limit=2 over five items: three pages, each item once, remainingItemCount counting down.
        #expect(report[path: ["paging", "names"]] == ["page-0", "page-1", "page-2", "page-3", "page-4"])
        #expect(report[path: ["paging", "pages"]] == 3)
        #expect(report[path: ["paging", "remaining"]] == [3, 1, nil])
        // With a label selector kube leaves remainingItemCount out ("not set if the list request contains label or
        // field selectors", ListMeta).
        #expect(report[path: ["pagingSelected", "names"]] == ["page-0", "page-1", "page-2", "page-3", "page-4"])
        #expect(report[path: ["pagingSelected", "remaining"]]?.arrayValue?.allSatisfy { $0 == .null } == true)
        // Custom objects: merge patch works, strategic merge is 415 as on kube.
        #expect(report[path: ["custom", "spec"]] == ["size": 1, "color": "red"])
        #expect(report[path: ["custom", "listed"]] == ["w"])
        #expect(report[path: ["custom", "strategic", "status"]] == 415)
        #expect(report[path: ["custom", "afterDelete"]] == 0)
        // [EVENTS] One store, two views.
        #expect(report[path: ["events", "coreMessage"]] == "made it")
        #expect(report[path: ["events", "coreInvolved"]] == "patched")
        #expect(report[path: ["events", "coreComponent"]] == "example.com/ctl")
        #expect(report[path: ["events", "v1Note"]] == "core message")
        #expect(report[path: ["events", "v1Regarding"]] == "p")
        #expect(report[path: ["events", "v1Count"]] == 3)
        #expect(report[path: ["events", "v1Source"]] == "kubelet")
        #expect(report[path: ["events", "v1List"]] == ["e1", "e2"])
    }
}
