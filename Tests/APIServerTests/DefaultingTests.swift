import APIServerService
import EdgeProtocol
import Testing
import TestSupport

/// kube-apiserver 1.26's defaulting, golden: a minimal object in, the exact defaulted object out. Expected values
/// from k8s.io/kubernetes v1.26 `pkg/apis/core/v1/defaults.go`, `pkg/apis/apps/v1/defaults.go`,
/// `pkg/apis/batch/v1/defaults.go` and their `zz_generated.defaults.go` (which nested structs each defaulter reaches),
/// and the admission plugins ServiceAccount, DefaultTolerationSeconds and Priority. One difference on purpose: no
/// `kube-api-access-*` token volume (this server issues no service-account tokens).
@Suite("API defaulting (kube-apiserver 1.26)")
struct DefaultingTests {
    /// Objects with their keys sorted at every level, so that key order does not matter.
    static func canonical(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let members):
            return .object(members.sorted { $0.key < $1.key }.map { ($0.key, canonical($0.value)) })
        case .array(let items):
            return .array(items.map(canonical))
        default:
            return value
        }
    }

    static func json(_ text: String) throws -> JSONValue { try JSONValue(parsing: Array(text.utf8)) }

    static func expectSame(_ actual: JSONValue?, _ expected: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let want = canonical(try json(expected))
        let got = canonical(actual ?? .null)
        let gotText = String(decoding: try got.serialized(), as: UTF8.self)
        let wantText = String(decoding: try want.serialized(), as: UTF8.self)
        #expect(got == want, "\n got: \(gotText)\nwant: \(wantText)", sourceLocation: sourceLocation)
    }

    static let podSpec = #"""
        {"volumes":[{"name":"cfg","configMap":{"name":"cm","defaultMode":420}}],
         "containers":[{"name":"c","image":"busybox","ports":[{"containerPort":80,"protocol":"TCP"}],"resources":{},
                        "volumeMounts":[{"name":"cfg","mountPath":"/cfg"}],
                        "terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File",
                        "imagePullPolicy":"Always"}],
         "restartPolicy":"Always","terminationGracePeriodSeconds":30,"dnsPolicy":"ClusterFirst",
         "serviceAccountName":"default","serviceAccount":"default","securityContext":{},
         "schedulerName":"default-scheduler",
         "tolerations":[
           {"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":300},
           {"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}],
         "priority":0,"enableServiceLinks":true,"preemptionPolicy":"PreemptLowerPriority"}
        """#

    static let minimalPod = #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"default"},"spec":{"containers":[{"name":"c","image":"busybox","ports":[{"containerPort":80}],"volumeMounts":[{"name":"cfg","mountPath":"/cfg"}]}],"volumes":[{"name":"cfg","configMap":{"name":"cm"}}]}}"#

    @Test("a minimal Pod: pod spec, container, volume and port defaults, and the admission plugins' fields")
    func minimalPod() throws {
        var pod = try Self.json(Self.minimalPod)
        Defaulting.apply(group: "", kind: "Pod", &pod)
        Defaulting.admitPod(&pod, .create)
        try Self.expectSame(pod["spec"], Self.podSpec)
        #expect(Defaulting.qosClass(of: pod) == "BestEffort")
        // Applying it all again changes nothing (kube-apiserver defaults on every read too).
        var again = pod
        Defaulting.apply(group: "", kind: "Pod", &again)
        Defaulting.admitPod(&again, .update, old: pod)
        #expect(again == pod)
    }

    static let deploymentSpec = #"""
        {"replicas":1,"selector":{"matchLabels":{"app":"d"}},
         "template":{"metadata":{"creationTimestamp":null,"labels":{"app":"d"}},
           "spec":{"containers":[{"name":"nginx","image":"nginx:1.25","resources":{},
                     "terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File",
                     "imagePullPolicy":"IfNotPresent"}],
                   "restartPolicy":"Always","terminationGracePeriodSeconds":30,"dnsPolicy":"ClusterFirst",
                   "securityContext":{},"schedulerName":"default-scheduler"}},
         "strategy":{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":"25%","maxSurge":"25%"}},
         "revisionHistoryLimit":10,"progressDeadlineSeconds":600}
        """#

    static let minimalDeployment = #"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d","namespace":"default"},"spec":{"selector":{"matchLabels":{"app":"d"}},"template":{"metadata":{"labels":{"app":"d"}},"spec":{"containers":[{"name":"nginx","image":"nginx:1.25"}]}}}}"#

    @Test("a minimal Deployment: its own defaults and the template's pod spec defaults, none of the Pod-only ones")
    func minimalDeployment() throws {
        var deployment = try Self.json(Self.minimalDeployment)
        Defaulting.apply(group: "apps", kind: "Deployment", &deployment)
        try Self.expectSame(deployment["spec"], Self.deploymentSpec)
    }

    @Test("a minimal Service: type, session affinity, port protocol and target port, traffic policy")
    func minimalService() throws {
        var service = try Self.json(#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"s"},"spec":{"selector":{"app":"d"},"ports":[{"port":80}]}}"#)
        Defaulting.apply(group: "", kind: "Service", &service)
        try Self.expectSame(service["spec"], #"""
            {"ports":[{"protocol":"TCP","port":80,"targetPort":80}],"selector":{"app":"d"},"type":"ClusterIP",
             "sessionAffinity":"None","internalTrafficPolicy":"Cluster"}
            """#)
        var nodePort = try Self.json(#"{"spec":{"type":"NodePort","sessionAffinity":"ClientIP","ports":[{"port":53,"protocol":"UDP","targetPort":"dns"}]}}"#)
        Defaulting.apply(group: "", kind: "Service", &nodePort)
        try Self.expectSame(nodePort["spec"], #"""
            {"type":"NodePort","sessionAffinity":"ClientIP","sessionAffinityConfig":{"clientIP":{"timeoutSeconds":10800}},
             "ports":[{"port":53,"protocol":"UDP","targetPort":"dns"}],"externalTrafficPolicy":"Cluster",
             "internalTrafficPolicy":"Cluster"}
            """#)
    }

    @Test("every volume source, probe, lifecycle hook, env reference and host-network port")
    func podSpecDetails() throws {
        var pod = try Self.json(#"""
            {"spec":{"hostNetwork":true,
              "initContainers":[{"name":"i","image":"reg.example:5000/tools/init@sha256:abcd","resources":{"limits":{"cpu":"1"}}}],
              "containers":[{"name":"c","image":"app:latest","ports":[{"containerPort":8080}],
                "resources":{"limits":{"cpu":"500m","memory":"64Mi"},"requests":{"cpu":"100m"}},
                "env":[{"name":"N","valueFrom":{"fieldRef":{"fieldPath":"spec.nodeName"}}},
                       {"name":"L","valueFrom":{"resourceFieldRef":{"resource":"limits.cpu"}}}],
                "livenessProbe":{"httpGet":{"port":8080}},
                "readinessProbe":{"grpc":{"port":9000}},
                "startupProbe":{"exec":{"command":["true"]},"periodSeconds":2},
                "lifecycle":{"preStop":{"httpGet":{"port":80,"path":"/stop"}}}}],
              "volumes":[{"name":"e"},{"name":"h","hostPath":{"path":"/x"}},{"name":"s","secret":{"secretName":"s"}},
                {"name":"d","downwardAPI":{"items":[{"path":"n","fieldRef":{"fieldPath":"metadata.name"}}]}},
                {"name":"p","projected":{"sources":[{"serviceAccountToken":{"path":"t"}}]}}]}}
            """#)
        Defaulting.apply(group: "", kind: "Pod", &pod)
        let spec = try #require(pod["spec"])
        let container = try #require(spec["containers"]?.arrayValue?.first)
        #expect(container["imagePullPolicy"] == "Always")
        #expect(spec[path: ["initContainers"]]?.arrayValue?.first?["imagePullPolicy"] == "IfNotPresent")
        try Self.expectSame(container[path: ["ports"]], #"[{"containerPort":8080,"protocol":"TCP","hostPort":8080}]"#)
        // Requests default to limits where missing (Pod only), for init containers too.
        try Self.expectSame(container["resources"], #"{"limits":{"cpu":"500m","memory":"64Mi"},"requests":{"cpu":"100m","memory":"64Mi"}}"#)
        #expect(spec[path: ["initContainers"]]?.arrayValue?.first?[path: ["resources", "requests", "cpu"]] == "1")
        #expect(container[path: ["env"]]?.arrayValue?[0][path: ["valueFrom", "fieldRef", "apiVersion"]] == "v1")
        #expect(container[path: ["env"]]?.arrayValue?[1][path: ["valueFrom", "resourceFieldRef", "divisor"]] == "0")
        try Self.expectSame(container["livenessProbe"], #"{"httpGet":{"port":8080,"path":"/","scheme":"HTTP"},"timeoutSeconds":1,"periodSeconds":10,"successThreshold":1,"failureThreshold":3}"#)
        #expect(container[path: ["readinessProbe", "grpc", "service"]] == "")
        #expect(container[path: ["startupProbe", "periodSeconds"]] == 2)
        try Self.expectSame(container[path: ["lifecycle", "preStop", "httpGet"]], #"{"port":80,"path":"/stop","scheme":"HTTP"}"#)
        let volumes = try #require(spec["volumes"]?.arrayValue)
        try Self.expectSame(.array(volumes), #"""
            [{"name":"e","emptyDir":{}},{"name":"h","hostPath":{"path":"/x","type":""}},
             {"name":"s","secret":{"secretName":"s","defaultMode":420}},
             {"name":"d","downwardAPI":{"items":[{"path":"n","fieldRef":{"fieldPath":"metadata.name","apiVersion":"v1"}}],"defaultMode":420}},
             {"name":"p","projected":{"sources":[{"serviceAccountToken":{"path":"t","expirationSeconds":3600}}],"defaultMode":420}}]
            """#)
        #expect(Defaulting.qosClass(of: pod) == "Burstable")
    }

    @Test("image pull policy as kubelet parses references", arguments: [
        ("busybox", "Always"), ("busybox:latest", "Always"), ("nginx:1.25", "IfNotPresent"),
        ("localhost:5000/app", "Always"), ("localhost:5000/app:v1", "IfNotPresent"),
        ("x@sha256:0123", "IfNotPresent"), ("x:latest@sha256:0123", "Always"), ("Upper/Case", "IfNotPresent"),
        ("", "IfNotPresent"), ("localhost/edge/busybox:local", "IfNotPresent"),
    ])
    func pullPolicy(image: String, expected: String) {
        #expect(Defaulting.pullPolicy(forImage: image) == expected, "\(image)")
    }

    @Test("QoS classes", arguments: [
        (#"{"spec":{"containers":[{"resources":{}}]}}"#, "BestEffort"),
        (#"{"spec":{"containers":[{"resources":{"limits":{"cpu":"1","memory":"1Gi"},"requests":{"cpu":"1000m","memory":"1024Mi"}}}]}}"#, "Guaranteed"),
        (#"{"spec":{"containers":[{"resources":{"limits":{"cpu":"1"},"requests":{"cpu":"1"}}}]}}"#, "Burstable"),
        (#"{"spec":{"containers":[{"resources":{"requests":{"memory":"10Mi"}}}]}}"#, "Burstable"),
    ])
    func qos(pod: String, expected: String) throws {
        #expect(Defaulting.qosClass(of: try Self.json(pod)) == expected)
    }

    @Test("admission: an existing toleration covers its taint; a named service account and a priority class are kept")
    func admission() throws {
        var pod = try Self.json(#"""
            {"spec":{"serviceAccountName":"robot","priorityClassName":"high","containers":[],
              "tolerations":[{"operator":"Exists"}]}}
            """#)
        Defaulting.admitPod(&pod, .create)
        #expect(pod[path: ["spec", "serviceAccount"]] == "robot")
        #expect(pod[path: ["spec", "tolerations"]] == [["operator": "Exists"]])
        #expect(pod[path: ["spec", "priority"]] == nil)
        var mirror = try Self.json(#"{"metadata":{"annotations":{"kubernetes.io/config.mirror":"x"}},"spec":{"containers":[]}}"#)
        Defaulting.admitPod(&mirror, .create)
        #expect(mirror[path: ["spec", "serviceAccountName"]] == nil)
    }

    @Test("workloads: ReplicaSet, DaemonSet, StatefulSet, Job and CronJob defaults")
    func workloads() throws {
        var daemonSet = try Self.json(#"{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"a:1"}]}}}}"#)
        Defaulting.apply(group: "apps", kind: "DaemonSet", &daemonSet)
        try Self.expectSame(daemonSet[path: ["spec", "updateStrategy"]], #"{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":1,"maxSurge":0}}"#)
        #expect(daemonSet[path: ["spec", "revisionHistoryLimit"]] == 10)
        #expect(daemonSet[path: ["spec", "template", "metadata", "creationTimestamp"]] == .null)

        var statefulSet = try Self.json(#"{"spec":{"template":{"spec":{"containers":[]}},"volumeClaimTemplates":[{"spec":{}}]}}"#)
        Defaulting.apply(group: "apps", kind: "StatefulSet", &statefulSet)
        #expect(statefulSet[path: ["spec", "podManagementPolicy"]] == "OrderedReady")
        try Self.expectSame(statefulSet[path: ["spec", "updateStrategy"]], #"{"type":"RollingUpdate","rollingUpdate":{"partition":0}}"#)
        try Self.expectSame(statefulSet[path: ["spec", "volumeClaimTemplates"]], #"[{"metadata":{"creationTimestamp":null},"spec":{"volumeMode":"Filesystem"},"status":{"phase":"Pending"}}]"#)
        var explicit = try Self.json(#"{"spec":{"updateStrategy":{"type":"RollingUpdate"}}}"#)
        Defaulting.apply(group: "apps", kind: "StatefulSet", &explicit)
        #expect(explicit[path: ["spec", "updateStrategy"]] == ["type": "RollingUpdate"], "no partition when rollingUpdate was not given")

        var job = try Self.json(#"{"spec":{"template":{"metadata":{"labels":{"j":"1"}},"spec":{"restartPolicy":"Never","containers":[]}}}}"#)
        Defaulting.apply(group: "batch", kind: "Job", &job)
        for (field, value) in [("completions", JSONValue.integer(1)), ("parallelism", 1), ("backoffLimit", 6),
                               ("completionMode", "NonIndexed"), ("suspend", false)] {
            #expect(job[path: ["spec", field]] == value, "\(field)")
        }
        #expect(job[path: ["metadata", "labels"]] == ["j": "1"])

        var cronJob = try Self.json(#"{"spec":{"jobTemplate":{"spec":{"template":{"spec":{"containers":[]}}}}}}"#)
        Defaulting.apply(group: "batch", kind: "CronJob", &cronJob)
        #expect(cronJob[path: ["spec", "concurrencyPolicy"]] == "Allow")
        #expect(cronJob[path: ["spec", "successfulJobsHistoryLimit"]] == 3)
        #expect(cronJob[path: ["spec", "failedJobsHistoryLimit"]] == 1)
        #expect(cronJob[path: ["spec", "jobTemplate", "spec", "template", "spec", "dnsPolicy"]] == "ClusterFirst")
    }

    @Test("kubectl apply of a Pod, Deployment and Service written the short way, read back with kubectl")
    func throughKubectl() async throws {
        let server = try await APIServerProcess()
        defer { Task { await server.stop() } }
        _ = try await server.ok("apply", "-f", "-", input: [Self.minimalPod, Self.minimalDeployment,
            #"{"apiVersion":"v1","kind":"Service","metadata":{"name":"s","namespace":"default"},"spec":{"selector":{"app":"d"},"ports":[{"port":80}]}}"#,
        ].joined(separator: "\n"))
        var pod = try JSONValue(parsing: Array(try await server.ok("get", "pod", "p", "-o", "json").utf8))
        var spec = try #require(pod["spec"])
        spec[member: "nodeName"] = nil  // the scheduler's, when a node fits
        pod[member: "spec"] = spec
        try Self.expectSame(pod["spec"], Self.podSpec)
        #expect(pod[path: ["status", "qosClass"]] == "BestEffort")
        #expect(pod[path: ["metadata", "generation"]] == nil)

        let deployment = try JSONValue(parsing: Array(try await server.ok("get", "deployment", "d", "-o", "json").utf8))
        try Self.expectSame(deployment["spec"], Self.deploymentSpec)
        #expect(deployment[path: ["metadata", "generation"]] == 1)

        let service = try JSONValue(parsing: Array(try await server.ok("get", "service", "s", "-o", "json").utf8))
        let ip = try #require(service.string(at: "spec.clusterIP"))
        try Self.expectSame(service["spec"], #"""
            {"ports":[{"protocol":"TCP","port":80,"targetPort":80}],"selector":{"app":"d"},"clusterIP":"\#(ip)",
             "clusterIPs":["\#(ip)"],"type":"ClusterIP","sessionAffinity":"None","ipFamilies":["IPv4"],
             "ipFamilyPolicy":"SingleStack","internalTrafficPolicy":"Cluster"}
            """#)
        // The YAML kubectl prints shows the fields the real kubelet refused to work without.
        let yaml = try await server.ok("get", "pod", "p", "-o", "yaml")
        #expect(yaml.contains("defaultMode: 420") && yaml.contains("enableServiceLinks: true"))
    }
}
