import EdgeProtocol
import Testing

@testable import APIMachinery
@testable import APIServerService

// Helpers: documents are written as JSON text; results are compared member order included.
private func doc(_ text: String) -> JSONValue {
    do {
        return try JSONValue(parsing: Array(text.utf8))
    } catch {
        Issue.record("bad test JSON: \(error) in \(text)")
        return .null
    }
}

private func patched(_ type: PatchType, _ patch: String, _ object: String, kind: String = "Pod") throws(PatchError)
    -> JSONValue
{
    try Patcher.apply(type, patch: Array(patch.utf8), to: doc(object), kind: kind)
}

private func patchError(_ type: PatchType, _ patch: String, _ object: String, kind: String = "Pod") -> PatchError? {
    do {
        _ = try patched(type, patch, object, kind: kind)
        return nil
    } catch {
        return error
    }
}

/// True when no object key anywhere in `value` is a strategic-merge directive.
private func hasNoDirectives(_ value: JSONValue) -> Bool {
    switch value {
    case .object(let members):
        for member in members {
            if member.key == "$patch" || member.key == "$retainKeys" || member.key.hasPrefix("$setElementOrder/")
                || member.key.hasPrefix("$deleteFromPrimitiveList/")
            {
                return false
            }
            if !hasNoDirectives(member.value) { return false }
        }
        return true
    case .array(let elements):
        return elements.allSatisfy(hasNoDirectives)
    default:
        return true
    }
}

// MARK: - Content types

@Test func patchTypeFromContentType() {
    #expect(PatchType(contentType: "application/merge-patch+json") == .merge)
    #expect(PatchType(contentType: "application/strategic-merge-patch+json; charset=utf-8") == .strategic)
    #expect(PatchType(contentType: "Application/JSON-Patch+JSON") == .json)
    #expect(PatchType(contentType: "application/apply-patch+yaml") == .apply)
    #expect(PatchType(contentType: "application/json") == nil)
}

// MARK: - JSON merge patch (RFC 7386)

@Test func kubectlLabelMergePatch() throws {
    let pod = #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","labels":{"app":"web","old":"x"}},"spec":{}}"#
    let result = try patched(.merge, #"{"metadata":{"labels":{"env":"prod","old":null,"app":"api"}}}"#, pod)
    #expect(
        result
            == doc(#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","labels":{"app":"api","env":"prod"}},"spec":{}}"#))
}

@Test func kubectlAnnotateCreatesMissingMap() throws {
    let result = try patched(.merge, #"{"metadata":{"annotations":{"a":"1","gone":null}}}"#, #"{"metadata":{"name":"n"}}"#)
    #expect(result == doc(#"{"metadata":{"name":"n","annotations":{"a":"1"}}}"#))
}

@Test func mergePatchRFC7386Examples() {
    let cases: [(String, String, String)] = [
        (#"{"a":"b"}"#, #"{"a":"c"}"#, #"{"a":"c"}"#),
        (#"{"a":"b"}"#, #"{"b":"c"}"#, #"{"a":"b","b":"c"}"#),
        (#"{"a":"b"}"#, #"{"a":null}"#, #"{}"#),
        (#"{"a":"b","b":"c"}"#, #"{"a":null}"#, #"{"b":"c"}"#),
        (#"{"a":["b"]}"#, #"{"a":"c"}"#, #"{"a":"c"}"#),
        (#"{"a":"c"}"#, #"{"a":["b"]}"#, #"{"a":["b"]}"#),
        (#"{"a":{"b":"c"}}"#, #"{"a":{"b":"d","c":null}}"#, #"{"a":{"b":"d"}}"#),
        (#"{"a":[{"b":"c"}]}"#, #"{"a":[1]}"#, #"{"a":[1]}"#),
        (#"["a","b"]"#, #"["c","d"]"#, #"["c","d"]"#),
        (#"{"a":"b"}"#, #"["c"]"#, #"["c"]"#),
        (#"{"a":"foo"}"#, "null", "null"),
        (#"{"a":"foo"}"#, #""bar""#, #""bar""#),
        (#"{"e":null}"#, #"{"a":1}"#, #"{"e":null,"a":1}"#),
        (#"[1,2]"#, #"{"a":"b","c":null}"#, #"{"a":"b"}"#),
        (#"{}"#, #"{"a":{"bb":{"ccc":null}}}"#, #"{"a":{"bb":{}}}"#),
    ]
    for (target, patch, expected) in cases {
        #expect(Patcher.mergePatch(doc(patch), to: doc(target)) == doc(expected), "\(target) + \(patch)")
    }
}

@Test func kubectlScaleMergePatch() throws {
    let result = try patched(
        .merge, #"{"spec":{"replicas":3}}"#, #"{"kind":"Deployment","spec":{"replicas":1,"paused":false}}"#,
        kind: "Deployment")
    #expect(result["spec"]?["replicas"]?.int64Value == 3)
    #expect(result["spec"]?["paused"] == .bool(false))
}

/// The official Python client's `patch_namespaced_deployment_scale` sends a strategic merge patch of the Scale
/// (kube-apiserver accepts all three patch types on the scale subresource).
@Test func strategicMergePatchOfTheScaleSubresource() throws {
    let scale = #"{"kind":"Scale","apiVersion":"autoscaling/v1","spec":{"replicas":1},"status":{"replicas":1}}"#
    for type in [PatchType.strategic, .merge] {
        let result = try patched(type, #"{"spec":{"replicas":4}}"#, scale, kind: "Scale")
        #expect(result["spec"]?["replicas"]?.int64Value == 4)
        #expect(result["status"]?["replicas"]?.int64Value == 1)
    }
    #expect(Patcher.acceptedPatchTypes(kind: "Scale") == [.json, .merge, .strategic])
}

@Test func malformedPatchBodyIsBadRequest() {
    let error = patchError(.merge, #"{"metadata":"#, "{}")
    #expect(error?.category == .badRequest)
    #expect(error?.httpStatus == 400)
}

// MARK: - JSON patch (RFC 6902)

@Test func jsonPatchAllOperations() throws {
    let target = #"{"metadata":{"name":"p","labels":{"a/b":"1","t~x":"2"}},"spec":{"list":[1,2,3]}}"#
    let patch = #"""
        [
          {"op":"test","path":"/metadata/name","value":"p"},
          {"op":"add","path":"/metadata/labels/new","value":"n"},
          {"op":"replace","path":"/metadata/labels/a~1b","value":"9"},
          {"op":"remove","path":"/metadata/labels/t~0x"},
          {"op":"add","path":"/spec/list/-","value":4},
          {"op":"add","path":"/spec/list/0","value":0},
          {"op":"remove","path":"/spec/list/2"},
          {"op":"copy","from":"/metadata/name","path":"/spec/nameCopy"},
          {"op":"move","from":"/spec/list/0","path":"/spec/first"},
          {"op":"test","path":"/spec/list","value":[1,3,4]}
        ]
        """#
    let result = try patched(.json, patch, target)
    #expect(
        result
            == doc(
                #"{"metadata":{"name":"p","labels":{"a/b":"9","new":"n"}},"spec":{"list":[1,3,4],"nameCopy":"p","first":0}}"#
            ))
}

@Test func jsonPatchAppendToFinalizersAndReplaceRoot() throws {
    let result = try patched(
        .json, #"[{"op":"add","path":"/metadata/finalizers/-","value":"f2"}]"#, #"{"metadata":{"finalizers":["f1"]}}"#)
    #expect(result == doc(#"{"metadata":{"finalizers":["f1","f2"]}}"#))
    let root = try patched(.json, #"[{"op":"replace","path":"","value":{"x":1}}]"#, #"{"y":2}"#)
    #expect(root == doc(#"{"x":1}"#))
}

@Test func jsonPatchTestFailureIsUnprocessable() {
    let error = patchError(
        .json, #"[{"op":"test","path":"/metadata/resourceVersion","value":"5"}]"#,
        #"{"metadata":{"resourceVersion":"6"}}"#)
    #expect(error?.category == .unprocessable)
    #expect(error?.httpStatus == 422)
    #expect(error?.message.contains("/metadata/resourceVersion") == true)
}

@Test func jsonPatchTestComparesSemantically() throws {
    // Member order and number spelling do not matter for "test".
    _ = try patched(.json, #"[{"op":"test","path":"/a","value":{"y":1.0,"x":[10]}}]"#, #"{"a":{"x":[1e1],"y":1}}"#)
}

@Test func jsonPatchBadPaths() {
    let target = #"{"a":{"b":[1,2]}}"#
    let cases = [
        #"[{"op":"remove","path":"/a/missing"}]"#,
        #"[{"op":"replace","path":"/a/c","value":1}]"#,
        #"[{"op":"add","path":"/x/y","value":1}]"#,
        #"[{"op":"add","path":"/a/b/5","value":1}]"#,
        #"[{"op":"remove","path":"/a/b/01"}]"#,
        #"[{"op":"remove","path":"/a/b/-"}]"#,
        #"[{"op":"move","from":"/a","path":"/a/b/c"}]"#,
        #"[{"op":"copy","from":"/nope","path":"/z"}]"#,
    ]
    for patch in cases {
        #expect(patchError(.json, patch, target)?.category == .unprocessable, "\(patch)")
    }
}

@Test func jsonPatchMalformedDocuments() {
    let cases = [
        #"{"op":"add"}"#,
        #"[{"op":"frobnicate","path":"/a"}]"#,
        #"[{"path":"/a"}]"#,
        #"[{"op":"add","path":"/a"}]"#,
        #"[{"op":"move","path":"/a"}]"#,
        #"[{"op":"add","path":"a","value":1}]"#,
        #"[{"op":"add","path":"/a~2","value":1}]"#,
        #"[1]"#,
    ]
    for patch in cases {
        #expect(patchError(.json, patch, "{}")?.category == .badRequest, "\(patch)")
    }
}

@Test func jsonPatchIsAtomic() {
    // A later failure means the whole patch fails; nothing is returned half-applied.
    let error = patchError(
        .json, #"[{"op":"add","path":"/a","value":1},{"op":"test","path":"/a","value":2}]"#, "{}")
    #expect(error != nil)
}

// MARK: - Strategic merge patch

private let deployment = #"""
    {"apiVersion":"apps/v1","kind":"Deployment",
     "metadata":{"name":"web","namespace":"default","finalizers":["a","b"],
                 "annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{}"}},
     "spec":{"replicas":2,
             "strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":"25%","maxUnavailable":"25%"}},
             "template":{"metadata":{"labels":{"app":"web"}},
                         "spec":{"containers":[
                                   {"name":"app","image":"nginx:1.24","terminationMessagePath":"/dev/termination-log",
                                    "env":[{"name":"A","value":"1"},{"name":"B","value":"2"},{"name":"C","value":"3"}],
                                    "ports":[{"containerPort":80,"protocol":"TCP"}]},
                                   {"name":"sidecar","image":"busybox"}],
                                 "tolerations":[{"key":"k1","operator":"Exists"}]}}},
     "status":{"conditions":[
                 {"type":"Available","status":"True","reason":"MinimumReplicasAvailable"},
                 {"type":"Progressing","status":"True","reason":"NewReplicaSetAvailable"}]}}
    """#

@Test func kubectlApplyChangesImageWithSetElementOrder() throws {
    let patch = #"""
        {"metadata":{"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{\"v\":2}"}},
         "spec":{"template":{"spec":{
            "$setElementOrder/containers":[{"name":"app"},{"name":"sidecar"}],
            "containers":[{"image":"nginx:1.25","name":"app"}]}}}}
        """#
    let result = try patched(.strategic, patch, deployment, kind: "Deployment")
    let containers = result[path: ["spec", "template", "spec", "containers"]]?.arrayValue ?? []
    #expect(containers.count == 2)
    #expect(containers.first?["name"] == "app")
    #expect(containers.first?["image"] == "nginx:1.25")
    // Server-side defaults of the merged container survive.
    #expect(containers.first?["terminationMessagePath"] == "/dev/termination-log")
    #expect(containers.first?["env"]?.arrayValue?.count == 3)
    #expect(containers.last?["image"] == "busybox")
    #expect(result.string(at: "metadata.name") == "web")
    #expect(result[path: ["metadata", "annotations", "kubectl.kubernetes.io/last-applied-configuration"]] == #"{"v":2}"#)
    #expect(hasNoDirectives(result))
}

@Test func kubectlApplyReordersAndAddsContainers() throws {
    let patch = #"""
        {"spec":{"template":{"spec":{
            "$setElementOrder/containers":[{"name":"sidecar"},{"name":"new"},{"name":"app"}],
            "containers":[{"name":"new","image":"redis"}]}}}}
        """#
    let result = try patched(.strategic, patch, deployment, kind: "Deployment")
    let names = (result[path: ["spec", "template", "spec", "containers"]]?.arrayValue ?? []).compactMap {
        $0["name"]?.stringValue
    }
    #expect(names == ["sidecar", "new", "app"])
    #expect(hasNoDirectives(result))
}

@Test func setElementOrderWithoutPatchListOnlyReorders() throws {
    let patch = #"{"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"sidecar"},{"name":"app"}]}}}}"#
    let result = try patched(.strategic, patch, deployment, kind: "Deployment")
    let names = (result[path: ["spec", "template", "spec", "containers"]]?.arrayValue ?? []).compactMap {
        $0["name"]?.stringValue
    }
    #expect(names == ["sidecar", "app"])
}

@Test func setElementOrderMismatchIsRejected() {
    let patch = #"""
        {"spec":{"template":{"spec":{
            "$setElementOrder/containers":[{"name":"app"},{"name":"sidecar"}],
            "containers":[{"name":"sidecar","image":"x"},{"name":"app","image":"y"}]}}}}
        """#
    #expect(patchError(.strategic, patch, deployment, kind: "Deployment")?.category == .badRequest)
}

@Test func envVarRemovedWithPatchDelete() throws {
    let patch = #"""
        {"spec":{"template":{"spec":{"containers":[
            {"name":"app","env":[{"name":"B","$patch":"delete"},{"name":"C","value":"33"}]}]}}}}
        """#
    let result = try patched(.strategic, patch, deployment, kind: "Deployment")
    let env = result[path: ["spec", "template", "spec", "containers"]]?.arrayValue?.first?["env"]
    #expect(env == doc(#"[{"name":"A","value":"1"},{"name":"C","value":"33"}]"#))
    #expect(hasNoDirectives(result))
}

@Test func kubectlApplyEnvWithSetElementOrder() throws {
    // What kubectl apply sends when env B is dropped from the manifest and D added.
    let patch = #"""
        {"spec":{"template":{"spec":{
            "$setElementOrder/containers":[{"name":"app"},{"name":"sidecar"}],
            "containers":[{"name":"app",
                "$setElementOrder/env":[{"name":"A"},{"name":"C"},{"name":"D"}],
                "env":[{"$patch":"delete","name":"B"},{"name":"D","value":"4"}]}]}}}}
        """#
    let result = try patched(.strategic, patch, deployment, kind: "Deployment")
    let env = result[path: ["spec", "template", "spec", "containers"]]?.arrayValue?.first?["env"]
    #expect(env == doc(#"[{"name":"A","value":"1"},{"name":"C","value":"3"},{"name":"D","value":"4"}]"#))
    #expect(hasNoDirectives(result))
}

@Test func newListElementWithoutOrderGoesFirstLikeUpstream() throws {
    let patch = #"{"spec":{"template":{"spec":{"containers":[{"name":"new","image":"redis"}]}}}}"#
    let result = try patched(.strategic, patch, deployment, kind: "Deployment")
    let names = (result[path: ["spec", "template", "spec", "containers"]]?.arrayValue ?? []).compactMap {
        $0["name"]?.stringValue
    }
    #expect(names == ["new", "app", "sidecar"])
}

@Test func patchOrderOfExistingElementsIsKept() throws {
    // Upstream "preserve the order from the patch in a merging list 2".
    let object = #"{"spec":{"volumes":[{"name":"1"},{"name":"2","x":"b"},{"name":"3"}]}}"#
    let result = try patched(.strategic, #"{"spec":{"volumes":[{"name":"3","x":"c"},{"name":"1","x":"a"}]}}"#, object)
    #expect(result == doc(#"{"spec":{"volumes":[{"name":"2","x":"b"},{"name":"3","x":"c"},{"name":"1","x":"a"}]}}"#))
}

@Test func nonMergingListsAreReplaced() throws {
    let patch = #"{"spec":{"template":{"spec":{"tolerations":[{"key":"k2","operator":"Exists"}]}}}}"#
    let result = try patched(.strategic, patch, deployment, kind: "Deployment")
    #expect(result[path: ["spec", "template", "spec", "tolerations"]] == doc(#"[{"key":"k2","operator":"Exists"}]"#))

    let node = #"{"kind":"Node","spec":{"taints":[{"key":"a","effect":"NoSchedule"}]}}"#
    let tainted = try patched(.strategic, #"{"spec":{"taints":[{"key":"b","effect":"NoExecute"}]}}"#, node, kind: "Node")
    #expect(tainted[path: ["spec", "taints"]] == doc(#"[{"key":"b","effect":"NoExecute"}]"#))
}

@Test func deploymentStatusConditionUpdatedByType() throws {
    let patch = #"""
        {"status":{"$setElementOrder/conditions":[{"type":"Available"},{"type":"Progressing"}],
                   "conditions":[{"type":"Progressing","status":"False","reason":"ProgressDeadlineExceeded"}]}}
        """#
    let result = try patched(.strategic, patch, deployment, kind: "Deployment")
    #expect(
        result[path: ["status", "conditions"]]
            == doc(
                #"[{"type":"Available","status":"True","reason":"MinimumReplicasAvailable"},{"type":"Progressing","status":"False","reason":"ProgressDeadlineExceeded"}]"#
            ))
}

@Test func podStatusConditionUpdatedByTypeAndContainerStatusesReplaced() throws {
    let pod = #"""
        {"kind":"Pod","status":{"phase":"Pending",
          "conditions":[{"type":"PodScheduled","status":"True"},{"type":"Ready","status":"False"}],
          "containerStatuses":[{"name":"app","ready":false,"state":{"waiting":{"reason":"ContainerCreating"}}}]}}
        """#
    let patch = #"""
        {"status":{"phase":"Running",
          "conditions":[{"type":"Ready","status":"True"}],
          "containerStatuses":[{"name":"app","ready":true,"state":{"running":{"startedAt":"2024-01-01T00:00:00Z"}}}]}}
        """#
    let result = try patched(.strategic, patch, pod)
    #expect(result.string(at: "status.phase") == "Running")
    #expect(
        result[path: ["status", "conditions"]]
            == doc(#"[{"type":"PodScheduled","status":"True"},{"type":"Ready","status":"True"}]"#))
    // containerStatuses has no patch strategy upstream: the list is replaced, so the stale "waiting" goes away.
    #expect(
        result[path: ["status", "containerStatuses"]]
            == doc(#"[{"name":"app","ready":true,"state":{"running":{"startedAt":"2024-01-01T00:00:00Z"}}}]"#))
}

@Test func finalizersMergeAsSet() throws {
    let added = try patched(.strategic, #"{"metadata":{"finalizers":["b","c"]}}"#, deployment, kind: "Deployment")
    let finalizers = added[path: ["metadata", "finalizers"]]?.arrayValue ?? []
    #expect(Set(finalizers.compactMap(\.stringValue)) == ["a", "b", "c"])
    #expect(finalizers.count == 3)

    let removed = try patched(
        .strategic, #"{"metadata":{"$deleteFromPrimitiveList/finalizers":["a"]}}"#, deployment, kind: "Deployment")
    #expect(removed[path: ["metadata", "finalizers"]] == doc(#"["b"]"#))
    #expect(hasNoDirectives(removed))

    // kubectl apply removing "a" and adding "c" in manifest order [b, c].
    let applied = try patched(
        .strategic,
        #"{"metadata":{"$setElementOrder/finalizers":["b","c"],"$deleteFromPrimitiveList/finalizers":["a"],"finalizers":["c"]}}"#,
        deployment, kind: "Deployment")
    #expect(applied[path: ["metadata", "finalizers"]] == doc(#"["b","c"]"#))
    #expect(hasNoDirectives(applied))
}

@Test func ownerReferencesMergeByUIDForAnyKind() throws {
    let cm = #"{"kind":"ConfigMap","metadata":{"ownerReferences":[{"uid":"u1","name":"a","kind":"X"}]},"data":{"k":"v"}}"#
    let patch = #"{"metadata":{"ownerReferences":[{"uid":"u1","controller":true},{"uid":"u2","name":"b","kind":"Y"}]}}"#
    let result = try patched(.strategic, patch, cm, kind: "ConfigMap")
    #expect(
        result[path: ["metadata", "ownerReferences"]]
            == doc(#"[{"uid":"u1","name":"a","kind":"X","controller":true},{"uid":"u2","name":"b","kind":"Y"}]"#))
    #expect(result[path: ["data", "k"]] == "v")
}

@Test func serviceNodeAndContainerKeyedLists() throws {
    let svc = #"{"spec":{"ports":[{"port":80,"targetPort":8080},{"port":443,"targetPort":8443}]}}"#
    let svcResult = try patched(.strategic, #"{"spec":{"ports":[{"port":443,"targetPort":9443}]}}"#, svc, kind: "Service")
    #expect(
        svcResult[path: ["spec", "ports"]]
            == doc(#"[{"port":80,"targetPort":8080},{"port":443,"targetPort":9443}]"#))

    let node = #"{"status":{"addresses":[{"type":"InternalIP","address":"10.0.0.1"},{"type":"Hostname","address":"n1"}]}}"#
    let nodeResult = try patched(
        .strategic, #"{"status":{"addresses":[{"type":"InternalIP","address":"10.0.0.2"}]}}"#, node, kind: "Node")
    #expect(
        nodeResult[path: ["status", "addresses"]]
            == doc(#"[{"type":"InternalIP","address":"10.0.0.2"},{"type":"Hostname","address":"n1"}]"#))

    let pod = #"{"spec":{"containers":[{"name":"c","ports":[{"containerPort":80,"name":"http"}],"volumeMounts":[{"mountPath":"/a","name":"v1"}]}]}}"#
    let podResult = try patched(
        .strategic,
        #"{"spec":{"containers":[{"name":"c","ports":[{"containerPort":80,"protocol":"TCP"}],"volumeMounts":[{"mountPath":"/a","readOnly":true}]}]}}"#,
        pod)
    #expect(
        podResult[path: ["spec", "containers"]]
            == doc(
                #"[{"name":"c","ports":[{"containerPort":80,"name":"http","protocol":"TCP"}],"volumeMounts":[{"mountPath":"/a","name":"v1","readOnly":true}]}]"#
            ))
}

@Test func retainKeysDropsOtherFields() throws {
    // kubectl apply switching the strategy to Recreate.
    let patch = #"{"spec":{"strategy":{"$retainKeys":["type"],"rollingUpdate":null,"type":"Recreate"}}}"#
    let result = try patched(.strategic, patch, deployment, kind: "Deployment")
    #expect(result[path: ["spec", "strategy"]] == doc(#"{"type":"Recreate"}"#))

    // A volume switching its source.
    let pod = #"{"spec":{"volumes":[{"name":"v","emptyDir":{}}]}}"#
    let volumes = try patched(
        .strategic,
        #"{"spec":{"volumes":[{"$retainKeys":["configMap","name"],"name":"v","configMap":{"name":"cm"}}]}}"#, pod)
    #expect(volumes[path: ["spec", "volumes"]] == doc(#"[{"name":"v","configMap":{"name":"cm"}}]"#))

    let bad = #"{"spec":{"strategy":{"$retainKeys":["type"],"rollingUpdate":{"maxSurge":1}}}}"#
    #expect(patchError(.strategic, bad, deployment, kind: "Deployment")?.category == .unprocessable)
}

@Test func patchReplaceAndDeleteDirectives() throws {
    let pod = #"{"metadata":{"labels":{"a":"1","b":"2"}},"spec":{"containers":[{"name":"x"},{"name":"y"}]}}"#
    let replacedMap = try patched(.strategic, #"{"metadata":{"labels":{"$patch":"replace","c":"3"}}}"#, pod)
    #expect(replacedMap[path: ["metadata", "labels"]] == doc(#"{"c":"3"}"#))

    let deletedMap = try patched(.strategic, #"{"metadata":{"labels":{"$patch":"delete"}}}"#, pod)
    #expect(deletedMap[path: ["metadata", "labels"]] == doc("{}"))

    let mergedMap = try patched(.strategic, #"{"metadata":{"labels":{"$patch":"merge","c":"3"}}}"#, pod)
    #expect(mergedMap[path: ["metadata", "labels"]] == doc(#"{"a":"1","b":"2","c":"3"}"#))

    let replacedList = try patched(
        .strategic, #"{"spec":{"containers":[{"$patch":"replace"},{"name":"z","image":"i"}]}}"#, pod)
    #expect(replacedList[path: ["spec", "containers"]] == doc(#"[{"name":"z","image":"i"}]"#))

    let emptied = try patched(.strategic, #"{"spec":{"containers":[{"$patch":"replace"}]}}"#, pod)
    #expect(emptied[path: ["spec", "containers"]] == doc("[]"))

    #expect(patchError(.strategic, #"{"metadata":{"labels":{"$patch":"explode"}}}"#, pod)?.category == .badRequest)
    for result in [replacedMap, deletedMap, mergedMap, replacedList, emptied] { #expect(hasNoDirectives(result)) }
}

@Test func directivesInNewValuesAreStripped() throws {
    let patch = #"""
        {"spec":{"initContainers":[{"name":"init","$setElementOrder/env":[{"name":"A"}],"env":[{"name":"A","value":"1"},{"name":"Z","$patch":"delete"}]}],
                 "nodeSelector":{"$patch":"replace","disk":"ssd"},
                 "gone":{"$patch":"delete"},
                 "metadataLike":{"nested":{"x":null,"y":1}}}}
        """#
    let result = try patched(.strategic, patch, #"{"spec":{}}"#)
    #expect(
        result
            == doc(
                #"{"spec":{"initContainers":[{"name":"init","env":[{"name":"A","value":"1"}]}],"nodeSelector":{"disk":"ssd"},"metadataLike":{"nested":{"y":1}}}}"#
            ))
}

@Test func nullDeletesFieldsInStrategicPatch() throws {
    let result = try patched(
        .strategic, #"{"metadata":{"labels":{"app":null}},"spec":{"template":null}}"#, deployment, kind: "Deployment")
    #expect(result[path: ["metadata", "labels"]] == doc("{}"))  // as upstream: a new map without its nulls
    #expect(result[path: ["spec", "template"]] == nil)
    #expect(result[path: ["spec", "replicas"]]?.int64Value == 2)
}

@Test func missingMergeKeyIsRejected() {
    let error = patchError(.strategic, #"{"spec":{"containers":[{"image":"x"}]}}"#, #"{"spec":{"containers":[{"name":"a"}]}}"#)
    #expect(error?.category == .unprocessable)
    let scalar = patchError(.strategic, #"{"spec":{"containers":["x"]}}"#, #"{"spec":{"containers":[{"name":"a"}]}}"#)
    #expect(scalar?.category == .unprocessable)
}

@Test func strategicPatchMustBeAnObject() {
    #expect(patchError(.strategic, #"[1]"#, "{}")?.category == .badRequest)
}

@Test func customResourcesRejectStrategicMerge() {
    #expect(!Patcher.supportsStrategicMerge(kind: "Widget"))
    let error = patchError(.strategic, #"{"spec":{"a":1}}"#, #"{"spec":{}}"#, kind: "Widget")
    #expect(error?.category == .unsupportedMediaType)
    #expect(error?.httpStatus == 415)
    #expect(Patcher.acceptedPatchTypes(kind: "Widget") == [.json, .merge])
    // Merge and JSON patches still work for them.
    #expect((try? patched(.merge, #"{"spec":{"a":1}}"#, #"{"spec":{}}"#, kind: "Widget")) == doc(#"{"spec":{"a":1}}"#))
}

@Test func supportedKindsListed() {
    for kind in [
        "Pod", "Node", "Namespace", "Service", "Endpoints", "ConfigMap", "Secret", "Event", "ServiceAccount", "Lease",
        "Deployment", "CustomResourceDefinition",
    ] {
        #expect(Patcher.supportsStrategicMerge(kind: kind), "\(kind)")
    }
    #expect(StrategicMergeSchema.forKind("Pod")?.listStrategy(at: ["spec", "containers", "env"]) == .mergeByKey("name"))
    #expect(
        StrategicMergeSchema.forKind("Deployment")?.listStrategy(at: ["spec", "template", "spec", "hostAliases"])
            == .mergeByKey("ip"))
    #expect(StrategicMergeSchema.forKind("Secret")?.listStrategy(at: ["metadata", "finalizers"]) == .mergePrimitives)
    #expect(StrategicMergeSchema.forKind("Node")?.listStrategy(at: ["spec", "taints"]) == nil)
}

@Test func serverSideApplyIsUnsupported() {
    let error = patchError(.apply, "apiVersion: v1\nkind: Pod\n", "{}")
    #expect(error?.category == .unsupportedMediaType)
    #expect(error?.message.contains("apply") == true)
}

@Test func crdSchemaDollarKeysAreNotDirectives() throws {
    // "$schema"/"$ref" are real JSONSchemaProps fields: they must pass through.
    let crd = #"{"spec":{"versions":[{"name":"v1","schema":{"openAPIV3Schema":{"type":"object"}}}]}}"#
    let patch = #"{"spec":{"versions":[{"name":"v1","schema":{"openAPIV3Schema":{"$schema":"x","type":"object"}}}]}}"#
    let result = try patched(.strategic, patch, crd, kind: "CustomResourceDefinition")
    #expect(result[path: ["spec", "versions"]]?.arrayValue?.first?["schema"]?["openAPIV3Schema"]?["$schema"] == "x")
}
