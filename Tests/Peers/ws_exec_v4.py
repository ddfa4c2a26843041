#!/usr/bin/env python3
"""An exec over WebSocket with only the older subprotocol offered (as clients before kubectl 1.29 and other tools
speak it), with websocket-client (installed with kubernetes==37.0.2). Prints one JSON line: the subprotocol the
server chose, what came on stdout and stderr, and the Status on the error channel.

    ws_exec_v4.py URL [PROTOCOL]    URL: ws://127.0.0.1:PORT/api/v1/namespaces/NS/pods/POD/exec?command=...
"""
import json
import sys

import websocket


def main():
    url = sys.argv[1]
    protocol = sys.argv[2] if len(sys.argv) > 2 else "v4.channel.k8s.io"
    ws = websocket.create_connection(url, subprotocols=[protocol], timeout=30)
    out, err, status = b"", b"", None
    while True:
        try:
            opcode, data = ws.recv_data()
        except websocket.WebSocketConnectionClosedException:
            break
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            break
        if not data:
            continue
        channel, payload = data[0], data[1:]
        if channel == 1:
            out += payload
        elif channel == 2:
            err += payload
        elif channel == 3:
            status = json.loads(payload)
    print(json.dumps({"protocol": ws.getsubprotocol(), "stdout": out.decode(), "stderr": err.decode(), "status": status}))


if __name__ == "__main__":
    main()
