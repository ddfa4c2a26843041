import APIMachinery
import EdgeProtocol
import KubeProtobuf
import Testing

/// Field ownership and server-side apply, as sigs.k8s.io/structured-merge-diff v4 (merge/update.go, typed/tofieldset.go)
/// and k8s.io/apiserver's fieldmanager (internal/conflict.go) define them.
@Suite("server-side apply: field sets, ownership, conflicts")
struct FieldManagerTests {
    let configMapShape = ProtoApplyShape(apiVersion: "v1", kind: "ConfigMap")!
    let deploymentShape = ProtoApplyShape(apiVersion: "apps/v1", kind: "Deployment")!

    func json(_ text: String) throws -> JSONValue { try JSONValue(parsing: Array(text.utf8)) }

    @Test("fieldsV1 of a deployment: struct fields are leaves, keyed items and map entries are members")
    func fieldsV1OfDeployment() throws {
        let deployment = try json("""
            {"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","labels":{"app":"web"}},
             "spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},
             "spec":{"containers":[{"name":"nginx","image":"nginx","ports":[{"containerPort":80}],"args":["-a","-b"],
             "resources":{}}]}}}}
            """)
        let fields = FieldManager.fieldSet(of: deployment, shape: deploymentShape)
        // What kube 1.26 records for this apply (kubectl apply --server-side; the system fields are left out later).
        let expected = try json("""
            {"f:apiVersion":{},"f:kind":{},"f:metadata":{"f:labels":{"f:app":{}},"f:name":{}},
             "f:spec":{"f:replicas":{},"f:selector":{"f:matchLabels":{"f:app":{}}},
              "f:template":{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:containers":{"k:{\\"name\\":\\"nginx\\"}":{
               ".":{},"f:args":{},"f:image":{},"f:name":{},"f:ports":{"k:{\\"containerPort\\":80}":{".":{},"f:containerPort":{}}},
               "f:resources":{}}}}}}}
            """)
        #expect(jsonDifference(fields.fieldsV1, expected) == nil, "\(jsonDifference(fields.fieldsV1, expected) ?? "")")
        #expect(FieldSet(fieldsV1: fields.fieldsV1) == fields)
    }

    @Test("paths print as structured-merge-diff prints them")
    func display() {
        #expect(FieldSet.display(["f:data", "f:key"]) == ".data.key")
        #expect(FieldSet.display(["f:spec", "f:containers", #"k:{"name":"app"}"#, "f:image"])
                == #".spec.containers[name="app"].image"#)
        #expect(FieldSet.display(["f:metadata", "f:finalizers", #"v:"x""#]) == #".metadata.finalizers[="x"]"#)
    }

    @Test("an update takes the fields it changes from their owners; removed fields leave every set")
    func updateTakesOwnership() throws {
        let created = try json(#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"a":"1","b":"2"}}"#)
        var object = created
        FieldManager.store(FieldManager.update(old: nil, new: created, manager: "creator", apiVersion: "v1",
                                               subresource: nil, hasStatus: false, time: "t1", shape: configMapShape),
                           in: &object)
        #expect(FieldManager.entries(of: object).map(\.manager) == ["creator"])
        #expect(FieldManager.entries(of: object)[0].fields.paths == [["f:data", "f:a"], ["f:data", "f:b"]])

        var changed = object
        changed[path: ["data", "a"]] = "changed"
        changed[path: ["data", "b"]] = nil
        changed[path: ["data", "c"]] = "3"
        let entries = FieldManager.update(old: object, new: changed, manager: "editor", apiVersion: "v1",
                                          subresource: nil, hasStatus: false, time: "t2", shape: configMapShape)
        let byManager = Dictionary(uniqueKeysWithValues: entries.map { ($0.manager, $0.fields.paths) })
        #expect(byManager["creator"] == nil)  // a lost, b removed: nothing left, the entry goes
        #expect(byManager["editor"] == [["f:data", "f:a"], ["f:data", "f:c"]])
    }

    @Test("apply: conflicts worded as kube words them, force takes the fields, equal values are shared")
    func applyConflicts() throws {
        let live = try liveConfigMap(owner: "kubectl-client-side-apply", data: ["a": "1", "b": "2"])
        let config = try json(#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"a":"new","b":"2"}}"#)
        #expect {
            try FieldManager.apply(live: live, config: config, manager: "kubectl", apiVersion: "v1", subresource: nil,
                                   hasStatus: false, force: false, time: "t2", shape: configMapShape)
        } throws: { error in
            (error as? ApplyConflicts)?.message
                == #"Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using v1: .data.a"#
        }
        // Two conflicting fields: one line per field under the manager.
        let both = try json(#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"a":"x","b":"y"}}"#)
        #expect {
            try FieldManager.apply(live: live, config: both, manager: "kubectl", apiVersion: "v1", subresource: nil,
                                   hasStatus: false, force: false, time: "t2", shape: configMapShape)
        } throws: { error in
            (error as? ApplyConflicts)?.message == """
                Apply failed with 2 conflicts: conflicts with "kubectl-client-side-apply" using v1:
                - .data.a
                - .data.b
                """
        }
        // Forced: the applier owns a; b (same value) is shared.
        let forced = try FieldManager.apply(live: live, config: config, manager: "kubectl", apiVersion: "v1",
                                            subresource: nil, hasStatus: false, force: true, time: "t2",
                                            shape: configMapShape)
        #expect(forced.object[path: ["data", "a"]] == "new")
        let owners = Dictionary(uniqueKeysWithValues: forced.entries.map { ($0.manager, $0.fields.paths) })
        #expect(owners["kubectl"] == [["f:data", "f:a"], ["f:data", "f:b"]])
        #expect(owners["kubectl-client-side-apply"] == [["f:data", "f:b"]])
        #expect(forced.entries.first { $0.manager == "kubectl" }?.operation == "Apply")
    }

    @Test("apply removes what the applier stopped applying, unless someone else owns it")
    func applyPrunes() throws {
        let first = try json(#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","labels":{"x":"1"}},"data":{"a":"1","b":"2"}}"#)
        let created = try FieldManager.apply(live: nil, config: first, manager: "kubectl", apiVersion: "v1",
                                             subresource: nil, hasStatus: false, force: false, time: "t1",
                                             shape: configMapShape)
        var live = created.object
        FieldManager.store(created.entries, in: &live)
        // Someone else applies b with the same value: shared ownership.
        let otherAlsoOwnsB = try FieldManager.apply(
            live: live, config: try json(#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"b":"2"}}"#),
            manager: "other", apiVersion: "v1", subresource: nil, hasStatus: false, force: false, time: "t2",
            shape: configMapShape)
        var withOther = otherAlsoOwnsB.object
        FieldManager.store(otherAlsoOwnsB.entries, in: &withOther)
        // kubectl now applies only a: b stays (other owns it), the label goes.
        let second = try FieldManager.apply(
            live: withOther, config: try json(#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"a":"1"}}"#),
            manager: "kubectl", apiVersion: "v1", subresource: nil, hasStatus: false, force: false, time: "t3",
            shape: configMapShape)
        #expect(second.object["data"] == ["a": "1", "b": "2"])
        #expect(second.object[path: ["metadata", "labels"]]?.objectMembers?.isEmpty != false)
    }

    @Test("keyed lists merge item by item; a CRD's x-kubernetes-list-type decides for custom resources")
    func keyedListsAndCRDs() throws {
        let live = try json("""
            {"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"template":{"spec":{"containers":[
             {"name":"app","image":"a:1"},{"name":"sidecar","image":"s:1"}]}}}}
            """)
        let config = try json("""
            {"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"template":{"spec":{"containers":[
             {"name":"app","image":"a:2"}]}}}}
            """)
        let merged = try FieldManager.apply(live: live, config: config, manager: "m", apiVersion: "apps/v1",
                                            subresource: nil, hasStatus: true, force: false, time: "t",
                                            shape: deploymentShape).object
        let containers = merged[path: ["spec", "template", "spec", "containers"]]?.arrayValue ?? []
        #expect(containers.map { $0["image"] } == ["a:2", "s:1"])

        let schema = CRDSchema(try json("""
            {"type":"object","properties":{"spec":{"type":"object","properties":{
              "ports":{"type":"array","x-kubernetes-list-type":"map","x-kubernetes-list-map-keys":["name"],
                       "items":{"type":"object","properties":{"name":{"type":"string"},"port":{"type":"integer"}}}},
              "tags":{"type":"array","x-kubernetes-list-type":"set","items":{"type":"string"}},
              "args":{"type":"array","items":{"type":"string"}}}}}}
            """))
        let shape = CRDShape(schema)
        #expect(shape.listType(at: ["spec", "ports"]) == .map(["name"]))
        #expect(shape.listType(at: ["spec", "tags"]) == .set)
        #expect(shape.listType(at: ["spec", "args"]) == .atomic)
        #expect(shape.isStruct(at: ["spec"]))
        // Without a schema every object is a map: nested entries are members ("." in fieldsV1).
        let deduced = FieldManager.fieldSet(of: try json(#"{"spec":{"a":{"b":1}}}"#), shape: DeducedShape())
        #expect(deduced.paths == [["f:spec"], ["f:spec", "f:a"], ["f:spec", "f:a", "f:b"]])
    }

    @Test("the default manager is the User-Agent up to its first slash")
    func defaultManager() {
        #expect(FieldManager.defaultManager(userAgent: "kubectl/v1.32.0 (linux/amd64) kubernetes/abc") == "kubectl")
        #expect(FieldManager.defaultManager(userAgent: "OpenAPI-Generator/31.0.0/python") == "OpenAPI-Generator")
        #expect(FieldManager.defaultManager(userAgent: nil) == "")
    }

    func liveConfigMap(owner: String, data: [String: String]) throws -> JSONValue {
        var object: JSONValue = ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "c"]]
        object[member: "data"] = .object(data.sorted { $0.key < $1.key }.map { (key: $0.key, value: .string($0.value)) })
        FieldManager.store(FieldManager.update(old: nil, new: object, manager: owner, apiVersion: "v1",
                                               subresource: nil, hasStatus: false, time: "t1", shape: configMapShape),
                           in: &object)
        return object
    }
}
