#!/usr/bin/env python3
"""Drives our API server with the official Python Kubernetes client (kubernetes==37.0.2) and prints one JSON line
with what it saw, for APIServerTests to assert on.

    kube_client_check.py KUBECONFIG watch    list + watch pods in order, then resume from the last resourceVersion
    kube_client_check.py KUBECONFIG gone RV  watch from a compacted resourceVersion: expects HTTP 410
    kube_client_check.py KUBECONFIG scale    patch a Deployment's scale subresource (a strategic merge patch)
"""
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
    print(json.dumps(result))


if __name__ == "__main__":
    main()
