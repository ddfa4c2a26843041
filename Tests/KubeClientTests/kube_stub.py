#!/usr/bin/env python3
"""A tiny stand-in for kube-apiserver, for KubeClient's tests. Python standard library only.

    kube_stub.py serve [--tls DIR] [--token TOKEN]

Listens on a free 127.0.0.1 port and prints "PORT <n>" on stdout once it accepts connections.

--tls DIR   HTTPS with the certificates in DIR, making them first (with the openssl command) when DIR/ca.crt is
            missing; clients must present a certificate signed by DIR/ca.crt. Without it: plain HTTP.
--token T   every API request needs "Authorization: Bearer T" (else 401 with a Status body).

It keeps objects of any resource in memory under one increasing resourceVersion and an event log, and serves
get / list (labelSelector, fieldSelector, limit + continue) / create / update (PUT, /status) / patch (merge, JSON
patch, strategic and apply treated as merge) / delete (preconditions, DeleteOptions recorded) and watch
(?watch=true: resourceVersion, allowWatchBookmarks, timeoutSeconds; chunked, one JSON event per line; an ERROR
event with a 410 Status when the version has been compacted). Errors are Kubernetes Status bodies.

Test controls, not part of the Kubernetes API:
  POST /_stub/control  a JSON op or a list of ops, run in order while holding the store lock (so a client cannot
                       reconnect in between):
        {"op": "drop"}       abort every open watch mid-event (a partial chunk, then the socket is shut)
        {"op": "end"}        end every open watch cleanly, after what is due (events, a bookmark)
        {"op": "bookmark"}   send a BOOKMARK at the current resourceVersion on watches that allow them
        {"op": "compact"}    versions up to the current one expire: watches / continue tokens from them get 410
        {"op": "create", "path": "/api/v1/namespaces/x/configmaps", "object": {...}}
        {"op": "update", "path": ".../name", "object": {...}}   (no resourceVersion check)
        {"op": "delete", "path": ".../name"}
        {"op": "wait", "what": "watchers"|"hanging", "count": N, "timeout": S}   until exactly N are open (else 408)
  GET  /_stub/state    {"resourceVersion", "watchers", "hanging", "watchRequests", "requests", "lastDeleteOptions",
                        "tlsFailures"}
  GET  /_stub/hang     answers nothing until the client goes away (for cancellation and timeout tests)
"""

import base64
import json
import os
import select
import socket
import ssl
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit, unquote


# ---------------------------------------------------------------------------------------------------------------------
# certificates

def openssl(*args):
    subprocess.run(["openssl", *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def make_certs(d):
    """ca (EC P-256), server (SAN IP:127.0.0.1, DNS:kube-stub.test), clients: EC (SEC1 key), RSA (PKCS#1 key and
    PKCS#8 copy), and a client signed by another CA."""
    p = lambda name: os.path.join(d, name)
    with open(p("server.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:kube-stub.test\nextendedKeyUsage=serverAuth\n")
    with open(p("client.ext"), "w") as f:
        f.write("extendedKeyUsage=clientAuth\n")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    for ca in ("ca", "other-ca"):
        openssl("req", "-x509", *ec, "-keyout", p(ca + ".key"), "-out", p(ca + ".crt"), "-subj", "/CN=" + ca,
                "-days", "2")

    def issue(name, cn, ext, key_args, ca="ca"):
        openssl("req", *key_args, "-keyout", p(name + ".pkcs8.key"), "-out", p(name + ".csr"), "-subj", cn)
        openssl("x509", "-req", "-in", p(name + ".csr"), "-CA", p(ca + ".crt"), "-CAkey", p(ca + ".key"),
                "-CAcreateserial", "-out", p(name + ".crt"), "-days", "2", "-extfile", p(ext))

    issue("server", "/CN=kube-stub", "server.ext", ec)
    os.replace(p("server.pkcs8.key"), p("server.key"))
    issue("client-ec", "/O=system:masters/CN=edge-controller", "client.ext", ec)
    openssl("ec", "-in", p("client-ec.pkcs8.key"), "-out", p("client-ec.key"))  # "BEGIN EC PRIVATE KEY"
    issue("client-rsa", "/CN=device-controller", "client.ext", ["-newkey", "rsa:2048", "-nodes"])
    openssl("rsa", "-in", p("client-rsa.pkcs8.key"), "-out", p("client-rsa.key"), "-traditional")
    issue("client-rogue", "/CN=rogue", "client.ext", ec, ca="other-ca")


# ---------------------------------------------------------------------------------------------------------------------
# store

def status_body(code, reason, message, details=None):
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "code": code}
    if details is not None:
        body["details"] = details
    return body


class APIError(Exception):
    def __init__(self, code, reason, message, details=None):
        super().__init__(message)
        self.code = code
        self.body = status_body(code, reason, message, details)


def parse_path(path):
    """(resource key, namespace, name, subresource) of an API path, or None."""
    parts = [unquote(s) for s in path.strip("/").split("/")]
    if len(parts) >= 2 and parts[0] == "api":
        prefix, rest = "v1" if parts[1] == "v1" else parts[1], parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        prefix, rest = parts[1] + "/" + parts[2], parts[3:]
    else:
        return None
    ns = ""
    if len(rest) >= 3 and rest[0] == "namespaces":
        ns, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3:
        return None
    resource = rest[0]
    name = rest[1] if len(rest) >= 2 else None
    sub = rest[2] if len(rest) == 3 else None
    return (prefix + "/" + resource, ns, name, sub)


def matches(obj, label_selector, field_selector):
    meta = obj.get("metadata", {})
    labels = meta.get("labels") or {}
    for term in filter(None, (label_selector or "").split(",")):
        if "!=" in term:
            k, v = term.split("!=", 1)
            if labels.get(k.strip()) == v.strip():
                return False
        elif "=" in term:
            k, v = term.split("=", 1)
            if labels.get(k.strip().rstrip("=")) != v.strip().lstrip("="):
                return False
        elif term.strip() not in labels:
            return False
    for term in filter(None, (field_selector or "").split(",")):
        k, v = term.split("=", 1)
        actual = {"metadata.name": meta.get("name"), "metadata.namespace": meta.get("namespace", "")}.get(k)
        if actual != v:
            return False
    return True


def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return patch
    if not isinstance(target, dict):
        target = {}
    out = dict(target)
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def json_patch(target, ops):
    doc = json.loads(json.dumps(target))
    for op in ops:
        parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
        parent = doc
        for p in parts[:-1]:
            parent = parent[int(p)] if isinstance(parent, list) else parent.setdefault(p, {})
        last = parts[-1]
        kind = op["op"]
        if kind in ("add", "replace"):
            if isinstance(parent, list):
                if last == "-":
                    parent.append(op["value"])
                elif kind == "add":
                    parent.insert(int(last), op["value"])
                else:
                    parent[int(last)] = op["value"]
            else:
                if kind == "replace" and last not in parent:
                    raise APIError(422, "Invalid", "replace of missing path " + op["path"])
                parent[last] = op["value"]
        elif kind == "remove":
            if isinstance(parent, list):
                del parent[int(last)]
            else:
                parent.pop(last)
        elif kind == "test":
            value = parent[int(last)] if isinstance(parent, list) else parent.get(last)
            if value != op["value"]:
                raise APIError(422, "Invalid", "test failed at " + op["path"])
        else:
            raise APIError(422, "Invalid", "unsupported op " + kind)
    return doc


class Store:
    def __init__(self):
        self.cond = threading.Condition()
        self.rv = 100
        self.objects = {}  # (key, ns, name) -> object
        self.events = []  # (rv, type, key, ns, object), increasing rv
        self.compacted = 0
        self.watchers = set()
        self.hanging = 0
        self.watch_requests = []
        self.requests = []
        self.last_delete_options = None
        self.tls_failures = 0

    KINDS = {"configmaps": "ConfigMap", "pods": "Pod", "nodes": "Node", "devices": "Device", "secrets": "Secret"}

    def kind_of(self, key):
        resource = key.rsplit("/", 1)[1]
        if resource in self.KINDS:
            return self.KINDS[resource]
        base = resource[:-1] if resource.endswith("s") else resource
        return base[:1].upper() + base[1:]

    def api_version_of(self, key):
        return key.rsplit("/", 1)[0]

    # all of these run with self.cond held

    def _record(self, etype, key, ns, obj):
        self.events.append((self.rv, etype, key, ns, json.loads(json.dumps(obj))))
        self.cond.notify_all()

    def create(self, key, ns, obj):
        meta = obj.setdefault("metadata", {})
        name = meta.get("name")
        if not name:
            raise APIError(422, "Invalid", "metadata.name: Required value")
        if (key, ns, name) in self.objects:
            raise APIError(409, "AlreadyExists", '%s "%s" already exists' % (key.rsplit("/", 1)[1], name),
                           {"name": name, "kind": key.rsplit("/", 1)[1]})
        self.rv += 1
        if ns:
            meta["namespace"] = ns
        meta["uid"] = str(uuid.uuid4())
        meta["resourceVersion"] = str(self.rv)
        meta["creationTimestamp"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        obj.setdefault("kind", self.kind_of(key))
        obj.setdefault("apiVersion", self.api_version_of(key))
        self.objects[(key, ns, name)] = obj
        self._record("ADDED", key, ns, obj)
        return obj

    def get(self, key, ns, name):
        obj = self.objects.get((key, ns, name))
        if obj is None:
            raise APIError(404, "NotFound", '%s "%s" not found' % (key.rsplit("/", 1)[1], name),
                           {"name": name, "kind": key.rsplit("/", 1)[1]})
        return obj

    def replace(self, key, ns, name, obj, check_version=True, status_only=False):
        current = self.get(key, ns, name)
        meta = obj.setdefault("metadata", {})
        if meta.get("name", name) != name:
            raise APIError(400, "BadRequest", "the name of the object does not match the name on the URL")
        given = meta.get("resourceVersion")
        if check_version and given and given != current["metadata"]["resourceVersion"]:
            raise APIError(409, "Conflict", 'Operation cannot be fulfilled on %s "%s": the object has been '
                           'modified; please apply your changes to the latest version and try again'
                           % (key.rsplit("/", 1)[1], name))
        if status_only:
            new = json.loads(json.dumps(current))
            new["status"] = obj.get("status")
        else:
            new = obj
            if "status" in current and "status" not in new:
                new["status"] = current["status"]
        self.rv += 1
        m = new.setdefault("metadata", {})
        m["name"] = name
        if ns:
            m["namespace"] = ns
        m["uid"] = current["metadata"]["uid"]
        m["creationTimestamp"] = current["metadata"]["creationTimestamp"]
        m["resourceVersion"] = str(self.rv)
        new.setdefault("kind", current.get("kind"))
        new.setdefault("apiVersion", current.get("apiVersion"))
        self.objects[(key, ns, name)] = new
        self._record("MODIFIED", key, ns, new)
        return new

    def delete(self, key, ns, name, options=None):
        current = self.get(key, ns, name)
        pre = (options or {}).get("preconditions") or {}
        if pre.get("uid") and pre["uid"] != current["metadata"]["uid"]:
            raise APIError(409, "Conflict", "Precondition failed: UID in precondition: %s, UID in object meta: %s"
                           % (pre["uid"], current["metadata"]["uid"]))
        if pre.get("resourceVersion") and pre["resourceVersion"] != current["metadata"]["resourceVersion"]:
            raise APIError(409, "Conflict", "Precondition failed: ResourceVersion in precondition: %s, "
                           "ResourceVersion in object meta: %s"
                           % (pre["resourceVersion"], current["metadata"]["resourceVersion"]))
        del self.objects[(key, ns, name)]
        self.rv += 1
        gone = json.loads(json.dumps(current))
        gone["metadata"]["resourceVersion"] = str(self.rv)
        self._record("DELETED", key, ns, gone)
        return gone

    def list(self, key, ns, label_selector, field_selector):
        found = [o for (k, n, _), o in self.objects.items() if k == key and (not ns or n == ns)
                 and matches(o, label_selector, field_selector)]
        found.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
        return found


STORE = Store()
TOKEN = None


# ---------------------------------------------------------------------------------------------------------------------
# HTTP

class Watcher:
    def __init__(self, allow_bookmarks):
        self.allow_bookmarks = allow_bookmarks
        self.drop = False
        self.end = False
        self.bookmark = False


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kube-stub"

    def log_message(self, fmt, *args):
        if os.environ.get("KUBE_STUB_VERBOSE"):
            sys.stderr.write("kube-stub: " + (fmt % args) + "\n")

    def setup(self):
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(10)
            try:
                self.request.do_handshake()
            except (ssl.SSLError, OSError):
                with STORE.cond:
                    STORE.tls_failures += 1
                    STORE.cond.notify_all()
                raise
            self.request.settimeout(None)
        super().setup()

    # helpers

    def send_json(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def client_gone(self):
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
        except (OSError, ValueError):
            return True
        if not readable:
            return False
        if isinstance(self.connection, ssl.SSLSocket):
            return True  # nothing more is sent on a watch connection: readable means closed
        try:
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def client_cn(self):
        if not isinstance(self.connection, ssl.SSLSocket):
            return None
        cert = self.connection.getpeercert() or {}
        for rdn in cert.get("subject", ()):
            for k, v in rdn:
                if k == "commonName":
                    return v
        return None

    # dispatch

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_PATCH(self):
        self.dispatch("PATCH")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def dispatch(self, method):
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        body = self.read_body()
        try:
            if url.path.startswith("/_stub/"):
                return self.stub(method, url.path, body)
            with STORE.cond:
                STORE.requests.append({
                    "method": method, "path": url.path, "query": query,
                    "contentType": self.headers.get("Content-Type"),
                    "authorization": self.headers.get("Authorization"),
                    "accept": self.headers.get("Accept"),
                    "host": self.headers.get("Host"),
                    "clientCN": self.client_cn()})
            if TOKEN is not None and self.headers.get("Authorization") != "Bearer " + TOKEN:
                raise APIError(401, "Unauthorized", "Unauthorized")
            parsed = parse_path(url.path)
            if parsed is None:
                raise APIError(404, "NotFound", "the server could not find the requested resource")
            key, ns, name, sub = parsed
            if method == "GET" and name is None and query.get("watch") in ("true", "1"):
                return self.watch(key, ns, query)
            self.send_json(*self.api(method, key, ns, name, sub, query, body))
        except APIError as e:
            self.send_json(e.code, e.body)
        except (ValueError, KeyError, TypeError) as e:
            self.send_json(400, status_body(400, "BadRequest", "bad request: %r" % (e,)))

    def api(self, method, key, ns, name, sub, query, body):
        obj = json.loads(body) if body else None
        with STORE.cond:
            if name is None:
                if method == "GET":
                    return 200, self.list(key, ns, query)
                if method == "POST":
                    return 201, STORE.create(key, ns, obj)
                raise APIError(405, "MethodNotAllowed", "method not allowed on a collection")
            if sub not in (None, "status"):
                raise APIError(404, "NotFound", "no subresource " + sub)
            if method == "GET":
                return 200, STORE.get(key, ns, name)
            if method == "PUT":
                return 200, STORE.replace(key, ns, name, obj, status_only=(sub == "status"))
            if method == "PATCH":
                current = STORE.get(key, ns, name)
                ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
                if ctype == "application/json-patch+json":
                    new = json_patch(current, obj)
                elif ctype in ("application/merge-patch+json", "application/strategic-merge-patch+json",
                               "application/apply-patch+yaml"):
                    new = merge_patch(json.loads(json.dumps(current)), obj)
                else:
                    raise APIError(415, "UnsupportedMediaType", "the body of the request was in an unknown "
                                   "format - accepted media types include: application/json-patch+json, "
                                   "application/merge-patch+json, application/apply-patch+yaml")
                new.setdefault("metadata", {}).pop("resourceVersion", None)
                return 200, STORE.replace(key, ns, name, new, check_version=False, status_only=(sub == "status"))
            if method == "DELETE":
                STORE.last_delete_options = obj
                return 200, STORE.delete(key, ns, name, obj)
        raise APIError(405, "MethodNotAllowed", "method not allowed")

    def list(self, key, ns, query):
        items = STORE.list(key, ns, query.get("labelSelector"), query.get("fieldSelector"))
        rv = STORE.rv
        start = 0
        token = query.get("continue")
        if token:
            state = json.loads(base64.urlsafe_b64decode(token.encode()))
            if state["rv"] <= STORE.compacted:
                raise APIError(410, "Expired", "The provided continue parameter is too old to display a "
                               "consistent list result. You can start a new list without the continue parameter.")
            rv, start = state["rv"], state["start"]
        meta = {"resourceVersion": str(rv)}
        limit = int(query.get("limit") or 0)
        if limit > 0 and start + limit < len(items):
            page = items[start:start + limit]
            meta["continue"] = base64.urlsafe_b64encode(json.dumps({"rv": rv, "start": start + limit}).encode()
                                                        ).decode()
            meta["remainingItemCount"] = len(items) - start - limit
        else:
            page = items[start:]
        return {"kind": STORE.kind_of(key) + "List", "apiVersion": STORE.api_version_of(key), "metadata": meta,
                "items": page}

    # watch

    def write_chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def watch(self, key, ns, query):
        label_selector, field_selector = query.get("labelSelector"), query.get("fieldSelector")
        watcher = Watcher(query.get("allowWatchBookmarks") == "true")
        timeout = float(query.get("timeoutSeconds") or 3600)
        deadline = time.monotonic() + timeout
        rv_param = query.get("resourceVersion", "")
        with STORE.cond:
            STORE.watch_requests.append({"resource": key, "namespace": ns, "resourceVersion": rv_param,
                                         "query": query})
            initial = []
            expired = False
            if rv_param in ("", "0"):
                pos = STORE.rv
                initial = [("ADDED", o) for o in STORE.list(key, ns, label_selector, field_selector)]
            else:
                pos = int(rv_param)
                expired = pos < STORE.compacted
            STORE.watchers.add(watcher)
            STORE.cond.notify_all()
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            if expired:
                self.write_chunk(json.dumps({"type": "ERROR", "object": status_body(
                    410, "Expired", "too old resource version: %s (%d)" % (rv_param, STORE.compacted))}).encode()
                    + b"\n")
                self.write_chunk(b"")
                return
            for etype, obj in initial:
                self.write_chunk(json.dumps({"type": etype, "object": obj}).encode() + b"\n")
            while True:
                out = []
                with STORE.cond:
                    # A drop is abrupt (nothing more is sent); an end first sends what is due.
                    action = "drop" if watcher.drop else None
                    if action is None:
                        for (rv, etype, k, n, obj) in STORE.events:
                            if rv <= pos:
                                continue
                            pos = rv
                            if k == key and (not ns or n == ns) and matches(obj, label_selector, field_selector):
                                out.append(json.dumps({"type": etype, "object": obj}).encode() + b"\n")
                        if watcher.bookmark:
                            watcher.bookmark = False
                            pos = max(pos, STORE.rv)
                            if watcher.allow_bookmarks:
                                out.append(json.dumps({"type": "BOOKMARK", "object": {
                                    "kind": STORE.kind_of(key), "apiVersion": STORE.api_version_of(key),
                                    "metadata": {"resourceVersion": str(pos)}}}).encode() + b"\n")
                        if watcher.end or time.monotonic() >= deadline:
                            action = "end"
                        elif not out:
                            STORE.cond.wait(0.05)
                if action == "drop":
                    # Half an event, then the connection goes away without the terminating chunk.
                    partial = b'{"type":"ADDED","object":{"metadata":{"name":"never-complete'
                    self.wfile.write(b"%x\r\n%s" % (len(partial) + 40, partial))
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                for line in out:
                    self.write_chunk(line)
                if action == "end":
                    self.write_chunk(b"")
                    return
                if not out and self.client_gone():
                    self.close_connection = True
                    return
        except OSError:
            self.close_connection = True
        finally:
            with STORE.cond:
                STORE.watchers.discard(watcher)
                STORE.cond.notify_all()

    # test controls

    def stub(self, method, path, body):
        if path == "/_stub/state":
            with STORE.cond:
                return self.send_json(200, {
                    "resourceVersion": str(STORE.rv), "watchers": len(STORE.watchers), "hanging": STORE.hanging,
                    "watchRequests": STORE.watch_requests, "requests": STORE.requests,
                    "lastDeleteOptions": STORE.last_delete_options, "tlsFailures": STORE.tls_failures})
        if path == "/_stub/hang":
            with STORE.cond:
                STORE.hanging += 1
                STORE.cond.notify_all()
            try:
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline and not self.client_gone():
                    time.sleep(0.02)
            finally:
                with STORE.cond:
                    STORE.hanging -= 1
                    STORE.cond.notify_all()
            self.close_connection = True
            return
        if path == "/_stub/control" and method == "POST":
            ops = json.loads(body)
            if isinstance(ops, dict):
                ops = [ops]
            results = []
            with STORE.cond:
                for op in ops:
                    results.append(self.control(op))
            code = 408 if any(r == "timeout" for r in results) else 200
            return self.send_json(code, {"results": results, "resourceVersion": str(STORE.rv)})
        raise APIError(404, "NotFound", "no such stub endpoint")

    def control(self, op):
        kind = op["op"]
        if kind in ("drop", "end", "bookmark"):
            for w in STORE.watchers:
                setattr(w, kind, True)
            STORE.cond.notify_all()
            return len(STORE.watchers)
        if kind == "compact":
            STORE.compacted = STORE.rv
            return STORE.rv
        if kind in ("create", "update", "delete"):
            key, ns, name, _ = parse_path(op["path"])
            if kind == "create":
                return STORE.create(key, ns, op["object"])["metadata"]["resourceVersion"]
            if kind == "update":
                return STORE.replace(key, ns, name, op["object"], check_version=False)["metadata"]["resourceVersion"]
            return STORE.delete(key, ns, name)["metadata"]["resourceVersion"]
        if kind == "wait":
            count = lambda: len(STORE.watchers) if op["what"] == "watchers" else STORE.hanging
            ok = STORE.cond.wait_for(lambda: count() == op["count"], timeout=float(op.get("timeout", 10)))
            return count() if ok else "timeout"
        raise APIError(400, "BadRequest", "unknown op " + kind)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    tls = None

    def get_request(self):
        sock, addr = self.socket.accept()
        if self.tls is not None:
            # The handshake happens in the request's thread (Handler.setup), not in the accept loop.
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request, client_address):
        if os.environ.get("KUBE_STUB_VERBOSE"):
            super().handle_error(request, client_address)


def main(argv):
    global TOKEN
    if not argv or argv[0] != "serve":
        sys.exit(__doc__)
    tls_dir = None
    i = 1
    while i < len(argv):
        if argv[i] == "--tls":
            tls_dir, i = argv[i + 1], i + 2
        elif argv[i] == "--token":
            TOKEN, i = argv[i + 1], i + 2
        else:
            sys.exit("unknown argument " + argv[i])
    server = Server(("127.0.0.1", 0), Handler)
    if tls_dir:
        if not os.path.exists(os.path.join(tls_dir, "ca.crt")):
            make_certs(tls_dir)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(tls_dir, "server.crt"), os.path.join(tls_dir, "server.key"))
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(os.path.join(tls_dir, "ca.crt"))
        server.tls = ctx
    print("PORT %d" % server.server_address[1], flush=True)
    server.serve_forever(poll_interval=0.2)


if __name__ == "__main__":
    main(sys.argv[1:])
