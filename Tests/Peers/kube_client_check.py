#!/usr/bin/env python3
"""Drives our API server with the official Python Kubernetes client (kubernetes==37.0.2) and prints one JSON line
with what it saw, for APIServerTests to assert on.

    kube_client_check.py KUBECONFIG watch    list + watch pods in order, then resume from the last resourceVersion
    kube_client_check.py KUBECONFIG gone RV  watch from a compacted resourceVersion: expects HTTP 410
    kube_client_check.py KUBECONFIG scale    patch a Deployment's scale subresource (a strategic merge patch)
    kube_client_check.py KUBECONFIG compat   every patch type on objects and subresources, server-side apply with a
                                             conflict, custom objects, paging, events.k8s.io/v1 beside core/v1
"""
import time
import json
import sys

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException


def pod(name):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "py"}},
            "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}}


def events(core, namespace, rv, until):
    """Watches from rv until until(event) is true; every event as {type, name, rv, step}."""
    seen = []
    w = watch.Watch()
    for event in w.stream(core.list_namespaced_pod, namespace, resource_version=rv, timeout_seconds=10,
                          _request_timeout=20):
        meta = event["object"].metadata
        seen.append({"type": event["type"], "name": meta.name, "rv": int(meta.resource_version),
                     "step": (meta.labels or {}).get("step", "")})
        if until(seen[-1]):
            w.stop()
            break
    return seen


def main():
    kubeconfig, mode = sys.argv[1], sys.argv[2]
    config.load_kube_config(config_file=kubeconfig)
    api = client.ApiClient()
    core = client.CoreV1Api(api)
    result = {}
    if mode == "watch":
        result["version"] = client.VersionApi(api).get_code().git_version
        core.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "py"}})
        listed = core.list_namespaced_pod("py")
        rv0 = listed.metadata.resource_version
        core.create_namespaced_pod("py", pod("p1"))
        core.create_namespaced_pod("py", pod("p2"))
        core.patch_namespaced_pod("p1", "py", {"metadata": {"labels": {"step": "two"}}})
        core.delete_namespaced_pod("p2", "py")
        first = events(core, "py", rv0, lambda e: e["type"] == "DELETED" and e["name"] == "p2")
        result["first"] = first
        # Resume: changes made while no watch was open arrive exactly once, in order.
        core.create_namespaced_pod("py", pod("p3"))
        core.patch_namespaced_pod("p1", "py", {"metadata": {"labels": {"step": "three"}}})
        result["resumed"] = events(core, "py", str(first[-1]["rv"]),
                                   lambda e: e["name"] == "p1" and e["step"] == "three")
        result["list"] = sorted(p.metadata.name for p in core.list_namespaced_pod("py", label_selector="app=py").items)
    elif mode == "gone":
        try:
            for _ in watch.Watch().stream(core.list_namespaced_pod, "default", resource_version=sys.argv[3],
                                          timeout_seconds=2, _request_timeout=10):
                pass
            result["status"] = 200
        except ApiException as error:
            result["status"] = error.status
            result["reason"] = json.loads(error.body).get("reason") if error.body else None
    elif mode == "scale":
        apps = client.AppsV1Api(api)
        apps.create_namespaced_deployment("default", {
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "scaled"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "scaled"}},
                     "template": {"metadata": {"labels": {"app": "scaled"}},
                                  "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}}}})
        scale = apps.patch_namespaced_deployment_scale("scaled", "default", {"spec": {"replicas": 3}})
        result["scale"] = scale.spec.replicas
        result["deployment"] = apps.read_namespaced_deployment("scaled", "default").spec.replicas
    elif mode == "compat":
        result = compat(api, core)
    print(json.dumps(result))


def status_of(error):
    body = json.loads(error.body) if error.body else {}
    return {"status": error.status, "reason": body.get("reason"), "message": body.get("message")}


def compat(api, core):
    """Each step records what the server answered; the Swift test asserts it against kube-apiserver's behaviour."""
    result = {}
    ns = "compat"
    core.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "patched"}, "data": {"a": "1", "b": "2"}}
    core.create_namespaced_config_map(ns, cm)
    # The three classic patch types, chosen explicitly (the client picks one from the body otherwise).
    core.patch_namespaced_config_map("patched", ns, [{"op": "replace", "path": "/data/a", "value": "json"}],
                                     _content_type="application/json-patch+json")
    core.patch_namespaced_config_map("patched", ns, {"data": {"b": None, "c": "merge"}},
                                     _content_type="application/merge-patch+json")
    core.patch_namespaced_config_map("patched", ns, {"metadata": {"labels": {"smp": "yes"}}},
                                     _content_type="application/strategic-merge-patch+json")
    got = core.read_namespaced_config_map("patched", ns)
    result["patched"] = {"data": got.data, "labels": got.metadata.labels,
                         "managers": sorted({(m.manager, m.operation) for m in got.metadata.managed_fields or []})}
    # Server-side apply from the client: a second manager changing a's value conflicts; force takes it.
    apply = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "patched"}, "data": {"a": "applied"}}
    try:
        core.patch_namespaced_config_map("patched", ns, apply, field_manager="py-apply",
                                         _content_type="application/apply-patch+yaml")
        result["applyConflict"] = {"status": 200}
    except ApiException as error:
        result["applyConflict"] = status_of(error)
        result["applyConflict"]["causes"] = [c.get("field") for c in
                                             (json.loads(error.body).get("details") or {}).get("causes", [])]
    forced = core.patch_namespaced_config_map("patched", ns, apply, field_manager="py-apply", force=True,
                                              _content_type="application/apply-patch+yaml")
    result["applyForced"] = forced.data
    # Subresources: status (merge and json patch) and scale (strategic merge).
    apps = client.AppsV1Api(api)
    apps.create_namespaced_deployment(ns, {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "d"}},
                 "template": {"metadata": {"labels": {"app": "d"}},
                              "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}}}})
    core.create_namespaced_pod(ns, pod("s"))
    core.patch_namespaced_pod_status("s", ns, {"status": {"message": "merged"}},
                                     _content_type="application/merge-patch+json")
    core.patch_namespaced_pod_status("s", ns, [{"op": "add", "path": "/status/reason", "value": "Patched"}],
                                     _content_type="application/json-patch+json")
    after_status = core.read_namespaced_pod_status("s", ns)
    apps.patch_namespaced_deployment_scale("d", ns, [{"op": "replace", "path": "/spec/replicas", "value": 4}],
                                           _content_type="application/json-patch+json")
    result["subresources"] = {"message": after_status.status.message, "reason": after_status.status.reason,
                              "replicas": apps.read_namespaced_deployment("d", ns).spec.replicas}
    # Paging: limit/continue walks every item once; remainingItemCount only without selectors.
    core.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "paging"}})
    for i in range(5):
        core.create_namespaced_secret("paging", {"apiVersion": "v1", "kind": "Secret",
                                                 "metadata": {"name": f"page-{i}", "labels": {"paged": "yes"}}})

    def walk(selector):
        names, token, pages, remaining = [], None, 0, []
        while True:
            page = core.list_namespaced_secret("paging", label_selector=selector, limit=2, _continue=token)
            pages += 1
            names += [item.metadata.name for item in page.items]
            remaining.append(page.metadata.remaining_item_count)
            token = page.metadata._continue
            if not token:
                break
        return {"names": names, "pages": pages, "remaining": remaining}
    result["paging"] = walk(None)
    result["pagingSelected"] = walk("paged=yes")
    # Custom objects through a CRD.
    ext = client.ApiextensionsV1Api(api)
    ext.create_custom_resource_definition({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
                 "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                 "versions": [{"name": "v1", "served": True, "storage": True,
                               "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                                   "spec": {"type": "object", "properties": {"size": {"type": "integer"},
                                                                             "color": {"type": "string"}}}}}}}]}})
    for _ in range(100):
        crd = ext.read_custom_resource_definition("widgets.example.com")
        if any(c.type == "Established" and c.status == "True" for c in (crd.status.conditions or [])):
            break
        time.sleep(0.1)
    custom = client.CustomObjectsApi(api)
    custom.create_namespaced_custom_object("example.com", "v1", ns, "widgets", {
        "apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 1}})
    custom.patch_namespaced_custom_object("example.com", "v1", ns, "widgets", "w", {"spec": {"color": "red"}})
    widget = custom.get_namespaced_custom_object("example.com", "v1", ns, "widgets", "w")
    listed = custom.list_namespaced_custom_object("example.com", "v1", ns, "widgets")
    try:
        custom.patch_namespaced_custom_object("example.com", "v1", ns, "widgets", "w", {"spec": {"size": 2}},
                                              _content_type="application/strategic-merge-patch+json")
        smp = {"status": 200}
    except ApiException as error:
        smp = status_of(error)
    custom.delete_namespaced_custom_object("example.com", "v1", ns, "widgets", "w")
    result["custom"] = {"spec": widget["spec"], "listed": [i["metadata"]["name"] for i in listed["items"]],
                        "strategic": smp,
                        "afterDelete": len(custom.list_namespaced_custom_object("example.com", "v1", ns,
                                                                                "widgets")["items"])}
    # events.k8s.io/v1 and core/v1 are one store.
    events = client.EventsV1Api(api)
    events.create_namespaced_event(ns, {
        "apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e1"},
        "eventTime": "2026-12-03T10:00:00.000000Z", "reportingController": "example.com/ctl",
        "reportingInstance": "ctl-1", "action": "Created", "reason": "Made", "note": "made it", "type": "Normal",
        "regarding": {"kind": "ConfigMap", "namespace": ns, "name": "patched"}})
    as_core = core.read_namespaced_event("e1", ns)
    # eventTime set: the client's EventsV1Event model rejects the null eventTime kube returns for a core Event
    # without one (kubernetes-client/python reads that field as required).
    core.create_namespaced_event(ns, {
        "apiVersion": "v1", "kind": "Event", "metadata": {"name": "e2"}, "message": "core message",
        "eventTime": "2026-12-03T09:00:00.000000Z", "reportingComponent": "kubelet", "reportingInstance": "node-1",
        "reason": "Old", "type": "Warning", "count": 3, "source": {"component": "kubelet"},
        "involvedObject": {"kind": "Pod", "namespace": ns, "name": "p"}})
    as_v1 = events.read_namespaced_event("e2", ns)
    result["events"] = {
        "coreMessage": as_core.message, "coreInvolved": as_core.involved_object.name,
        "coreComponent": as_core.reporting_component,
        "v1Note": as_v1.note, "v1Regarding": as_v1.regarding.name, "v1Count": as_v1.deprecated_count,
        "v1Source": as_v1.deprecated_source.component,
        "v1List": sorted(e.metadata.name for e in events.list_namespaced_event(ns).items),
    }
    return result


if __name__ == "__main__":
    main()
