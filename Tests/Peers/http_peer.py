#!/usr/bin/env python3
"""A plain HTTP server for the router and servicebus tests (Python's standard library only).

    http_peer.py PORT

GET  /target[...]        201, header X-Edge-App: yes, a binary body (bytes 0..255 twice) and the path it got
GET  /target/slow[...]   the same after 4 s
POST any path           200 "ok"; prints one JSON line {"method","path","body","headers"} on stdout
"""
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body, content_type="application/octet-stream"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("X-Edge-App", "yes")
        self.send_header("X-Path", self.path)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path.startswith("/target/slow"):
            time.sleep(4)
        self.answer(201, bytes(range(256)) * 2)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        print(json.dumps({"method": "POST", "path": self.path, "body": body.decode("utf-8", "replace"),
                          "headers": {k: v for k, v in self.headers.items()}}), flush=True)
        self.answer(200, b"ok", "text/plain")


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    print("listening", flush=True)
    server.serve_forever()
