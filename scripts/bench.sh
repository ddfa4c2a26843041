#!/usr/bin/env bash
# Runs the benchmarks (release build) against a private mosquitto on a free loopback port, with mosquitto_pub /
# mosquitto_sub on the same broker for comparison, and measures the idle memory of every service.
# Output is the material for docs/performance.md.
#
#   scripts/bench.sh         everything
#   scripts/bench.sh pods    only the pod path (needs root: it starts a private containerd)
#   scripts/bench.sh router  only KubeEdge's rules (rest→servicebus through the whole path)
#   scripts/bench.sh opcua   only the OPC UA mapper against asyncua (peers venv from scripts/setup-peers.sh)
#   scripts/bench.sh ble     only the BLE mapper against bumble (same venv)
set -euo pipefail
ONLY="${1:-all}"
run_part() { [ "$ONLY" = all ] || [ "$ONLY" = "$1" ]; }
ulimit -n 65536 2>/dev/null || true   # the link run opens 1,000 connections
cd "$(dirname "$0")/.."
source scripts/setup.sh >/dev/null
source scripts/lib.sh
swift build -c release --product bench >/dev/null
swift build -c release >/dev/null
BIN="$(swift build -c release --show-bin-path)"

WORK="$(mktemp -d -t kubeedge-swift-bench.XXXXXX)"
PIDS=()
# Services first (they say offline through the broker), the broker last.
cleanup() { for ((i=${#PIDS[@]}-1; i>=0; i--)); do kill "${PIDS[$i]}" 2>/dev/null || true; wait "${PIDS[$i]}" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
PORT=$(free_port)
cat > "$WORK/mosquitto.conf" <<CONF
$( [ "$(id -u)" -eq 0 ] && echo "user root" )
allow_anonymous true
max_queued_messages 0
max_inflight_messages 100
set_tcp_nodelay true
listener $PORT 127.0.0.1
CONF
mosquitto -c "$WORK/mosquitto.conf" > "$WORK/broker.log" 2>&1 & PIDS+=($!)
for _ in $(seq 200); do port_free "$PORT" || break; sleep 0.05; done

echo "## $(date -u +%F) on $(nproc) cores; mosquitto $(mosquitto -h | head -1 | awk '{print $3}')"
if run_part bus; then
"$BIN/bench" bus --broker "127.0.0.1:$PORT"
"$BIN/bench" envelope

# The same one-way runs with the mosquitto clients (one mosquitto_pub -l publisher, one mosquitto_sub -C subscriber).
N=20000
PAYLOAD=$(head -c 200 /dev/zero | tr '\0' x)
for qos in 0 1; do
  awk -v n=$N -v p="$PAYLOAD" 'BEGIN{for(i=0;i<n;i++)print p}' > "$WORK/lines"
  mosquitto_sub -p "$PORT" -q $qos -t "cmp/$qos" -C $N > /dev/null & SUB=$!
  sleep 0.3   # mosquitto_sub prints nothing when subscribed; give it a moment (tooling run, not a test)
  start=$(date +%s.%N)
  mosquitto_pub -p "$PORT" -q $qos -t "cmp/$qos" -l < "$WORK/lines"
  wait $SUB
  end=$(date +%s.%N)
  echo "mosquitto_pub -l → mosquitto_sub (QoS $qos, 200 B, $N messages): $(python3 -c "print(round($N/($end-$start)))") msg/s"
done

fi

# Idle memory of every service (release build), each connected to the broker.
if run_part memory; then
echo
echo "| service | VmRSS (kB) | Pss (kB) | Private (kB) |"
echo "|---|---|---|---|"
declare -A SVC
declare -A EXTRA=(
  [cloudhub]="--websocket-port $(free_port) --https-port $(free_port) --bind-address 127.0.0.1"
  [hub]="--cloud 127.0.0.1:$(free_port) --token $(printf '0%.0s' $(seq 64)).a.b.c"
  [apiserver]="--secure-port $(free_port)"
  [router]="--port $(free_port) --address 127.0.0.1"
  [servicebus]="--server 127.0.0.1:$(free_port)"
)
for name in hub meta twin eventbus servicebus edged mapper-modbus mapper-opcua mapper-ble cloudhub edgecontroller devicecontroller router apiserver; do
  # shellcheck disable=SC2086 # EXTRA holds several flags
  "$BIN/$name" --broker "127.0.0.1:$PORT" --node-name bench --data-dir "$WORK/$name" --log-level warning ${EXTRA[$name]:-} \
      & SVC[$name]=$!; PIDS+=(${SVC[$name]})
done
wait_online "$PORT" 14 || { echo "bench: not every service came online" >&2; exit 1; }
sleep 2   # let them settle into idle (tooling run, not a test)
for name in "${!SVC[@]}"; do
  pid=${SVC[$name]}
  rss=$(awk '/VmRSS/{print $2}' /proc/$pid/status)
  pss=$(awk '/^Pss:/{print $2}' /proc/$pid/smaps_rollup)
  priv=$(awk '/^Private_(Clean|Dirty):/{s+=$2} END{print s}' /proc/$pid/smaps_rollup)
  echo "| $name | $rss | $pss | $priv |"
done | sort > "$WORK/memory"
cat "$WORK/memory"
awk -F'|' '{rss+=$3; pss+=$4; priv+=$5} END{printf "| **all 14** | %d | %d | %d |\n", rss, pss, priv}' "$WORK/memory"
edge='hub|meta|twin|eventbus|servicebus|edged|mapper-modbus|mapper-opcua|mapper-ble'
grep -E "^\| ($edge) \|" "$WORK/memory" | awk -F'|' '{pss+=$4} END{printf "\nEdge stack (9 services) Pss sum: %.1f MB\n", pss/1024}'
fi

# The OPC UA mapper against asyncua: a value written by a second client → twin/update (subscription), polled reads/s.
if run_part opcua; then
  VENV="${KUBEEDGE_PEERS_VENV:-$HOME/.cache/kubeedge-swift/peers-venv}"
  if [ -x "$VENV/bin/python" ]; then
    UA_PORT=$(free_port)
    "$VENV/bin/python" Tests/Peers/opcua_peer.py --port "$UA_PORT" --tick 0 > "$WORK/opcua-peer.log" 2>&1 & PIDS+=($!)
    for _ in $(seq 600); do grep -q READY "$WORK/opcua-peer.log" && break; sleep 0.1; done
    echo
    "$BIN/bench" opcua --broker "127.0.0.1:$PORT" --endpoint "opc.tcp://127.0.0.1:$UA_PORT/"
    "$BIN/bench" opcua --broker "127.0.0.1:$PORT" --endpoint "opc.tcp://127.0.0.1:$UA_PORT/" --publishing-interval-ms 50 \
        --devices 1 --seconds 5
  else
    echo "bench: no peers venv at $VENV (scripts/setup-peers.sh); OPC UA part skipped" >&2
  fi
fi

# The BLE mapper against bumble: a notification → twin/update; then the idle memory of mapper-ble with a connected
# peripheral beside mapper-modbus with a connected pymodbus server (each its own process, one device).
if run_part ble; then
  VENV="${KUBEEDGE_PEERS_VENV:-$HOME/.cache/kubeedge-swift/peers-venv}"
  if [ -x "$VENV/bin/python" ]; then
    HCI_PORT=$(free_port)
    mkfifo "$WORK/ble-control"
    "$VENV/bin/python" Tests/Peers/ble_peer.py --central "tcp-server:127.0.0.1:$HCI_PORT" --tick 0 \
        < "$WORK/ble-control" > "$WORK/ble-peer.log" 2>&1 & PIDS+=($!)
    exec 3> "$WORK/ble-control"   # keeps the peer's stdin open between the bench's writes
    for _ in $(seq 600); do grep -q READY "$WORK/ble-peer.log" && break; sleep 0.1; done
    echo
    "$BIN/bench" ble --broker "127.0.0.1:$PORT" --hci "tcp:127.0.0.1:$HCI_PORT" --control "$WORK/ble-control" \
        --peer-log "$WORK/ble-peer.log"
    # one_device NAME PROTOCOL CONFIG VISITOR1 VISITOR2: a DeviceModel and Device with two properties, 1 s cycles.
    one_device() {
      cat <<YAML
apiVersion: devices.kubeedge.io/v1beta1
kind: DeviceModel
metadata: {name: m}
spec:
  properties:
  - {name: temperature, type: INT, accessMode: ReadOnly}
  - {name: label, type: STRING, accessMode: ReadOnly}
---
apiVersion: devices.kubeedge.io/v1beta1
kind: Device
metadata: {name: $1}
spec:
  deviceModelRef: {name: m}
  protocol: {protocolName: $2, configData: $3}
  properties:
  - {name: temperature, collectCycle: 1000, visitors: {protocolName: $2, configData: $4}}
  - {name: label, collectCycle: 1000, visitors: {protocolName: $2, configData: $5}}
YAML
    }
    one_device ble-idle bluetooth '{macAddress: "F0:F0:F0:F0:F0:01"}' \
        '{characteristicUUID: 12345678-1234-5678-1234-56789abcdef1}' \
        '{characteristicUUID: 12345678-1234-5678-1234-56789abcdef3}' > "$WORK/ble-devices.yaml"
    MB_PORT=$(free_port)
    "$VENV/bin/python" Tests/Peers/modbus_peer.py tcp --port "$MB_PORT" > "$WORK/modbus-peer.log" 2>&1 & PIDS+=($!)
    for _ in $(seq 600); do grep -q READY "$WORK/modbus-peer.log" && break; sleep 0.1; done
    one_device modbus-idle modbus "{ip: 127.0.0.1, port: $MB_PORT, slaveID: 1}" \
        '{register: HoldingRegister, offset: 0, limit: 1}' \
        '{register: HoldingRegister, offset: 1, limit: 1}' > "$WORK/modbus-devices.yaml"
    "$BIN/mapper-ble" --broker "127.0.0.1:$PORT" --node-name bench --data-dir "$WORK/ble-idle" --log-level warning \
        --hci "tcp:127.0.0.1:$HCI_PORT" --devices "$WORK/ble-devices.yaml" & BLE_PID=$!; PIDS+=($BLE_PID)
    "$BIN/mapper-modbus" --broker "127.0.0.1:$PORT" --node-name bench --data-dir "$WORK/modbus-idle" --log-level warning \
        --devices "$WORK/modbus-devices.yaml" & MB_PID=$!; PIDS+=($MB_PID)
    sleep 10   # connected, a few collect cycles done (tooling run, not a test)
    echo
    echo "| one device connected, collect cycle 1 s | VmRSS (kB) | Pss (kB) | Private (kB) |"
    echo "|---|---|---|---|"
    for pair in "mapper-ble:$BLE_PID" "mapper-modbus:$MB_PID"; do
      name=${pair%%:*}; pid=${pair##*:}
      echo "| $name | $(awk '/VmRSS/{print $2}' /proc/$pid/status) | $(awk '/^Pss:/{print $2}' /proc/$pid/smaps_rollup) | $(awk '/^Private_(Clean|Dirty):/{s+=$2} END{print s}' /proc/$pid/smaps_rollup) |"
    done
    exec 3>&-
  else
    echo "bench: no peers venv at $VENV (scripts/setup-peers.sh); BLE part skipped" >&2
  fi
fi

# The API server under load (its own process and data directory, plain HTTP on loopback so TLS is not measured).
API_PORT=$(free_port)
"$BIN/apiserver" --broker "127.0.0.1:$PORT" --data-dir "$WORK/apiserver-bench" --secure-port "$(free_port)" \
    --insecure-port "$API_PORT" --log-level warning & APISERVER=$!; PIDS+=($APISERVER)
for _ in $(seq 200); do port_free "$API_PORT" || break; sleep 0.05; done
echo
if run_part apiserver; then "$BIN/bench" apiserver --server "http://127.0.0.1:$API_PORT"; fi

# Devices through the whole system: the apiserver above and the bench broker as the cloud bus, cloudhub, an edge
# broker with hub, eventbus and twin, and devicecontroller; one device bound to the edge node.
EDGE_BENCH=$(free_port)
sed -e "s/^listener $PORT /listener $EDGE_BENCH /" "$WORK/mosquitto.conf" > "$WORK/mosquitto-edge.conf"
mosquitto -c "$WORK/mosquitto-edge.conf" > "$WORK/broker-edge.log" 2>&1 & PIDS+=($!)
for _ in $(seq 200); do port_free "$EDGE_BENCH" || break; sleep 0.05; done
WS=$(free_port); CERTS=$(free_port)
"$BIN/cloudhub" --broker "127.0.0.1:$PORT" --data-dir "$WORK/dev-cloudhub" --websocket-port "$WS" --https-port "$CERTS" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --log-level warning > "$WORK/dev-cloudhub.log" 2>&1 &
CLOUDHUB=$!; PIDS+=($CLOUDHUB)
for _ in $(seq 200); do [ -s "$WORK/dev-cloudhub/token" ] && break; sleep 0.05; done
"$BIN/hub" --broker "127.0.0.1:$EDGE_BENCH" --node-name bench-node --data-dir "$WORK/dev-hub" --cloud "127.0.0.1:$WS" \
    --cert-server "127.0.0.1:$CERTS" --token "$(cat "$WORK/dev-cloudhub/token")" --message-qps 100000 \
    --message-burst 100000 --log-level warning & HUB=$!; PIDS+=($HUB)
for name in eventbus twin; do
  "$BIN/$name" --broker "127.0.0.1:$EDGE_BENCH" --node-name bench-node --data-dir "$WORK/dev-$name" --log-level warning & PIDS+=($!)
done
# meta stores the Device objects and hands them to twin; it is the pods part's meta too.
"$BIN/meta" --broker "127.0.0.1:$EDGE_BENCH" --node-name bench-node --data-dir "$WORK/dev-meta" --log-level warning \
    --metaserver-address "127.0.0.1:$(free_port)" & META=$!; PIDS+=($META)
KUBECONFIG_BENCH="$WORK/apiserver-bench/admin.kubeconfig"
"$BIN/devicecontroller" --broker "127.0.0.1:$PORT" --data-dir "$WORK/dev-devicecontroller" \
    --kubeconfig "$KUBECONFIG_BENCH" --log-level warning & PIDS+=($!)
KUBECTL=(kubectl --kubeconfig "$KUBECONFIG_BENCH" --cache-dir "$WORK/kube-cache")
MANIFESTS="${KUBEEDGE_MANIFESTS:-$( [ -d ../shared/kubeedge-manifests ] && echo ../shared/kubeedge-manifests || echo /work/shared/kubeedge-manifests)}"
"${KUBECTL[@]}" apply -f "$MANIFESTS/crds" > /dev/null
"${KUBECTL[@]}" apply -f - > /dev/null <<YAML
apiVersion: devices.kubeedge.io/v1beta1
kind: DeviceModel
metadata: {name: bench-model, namespace: default}
spec:
  protocol: bench
  properties:
  - {name: value, type: INT, accessMode: ReadOnly}
---
apiVersion: devices.kubeedge.io/v1beta1
kind: Device
metadata: {name: bench-1, namespace: default}
spec:
  deviceModelRef: {name: bench-model}
  nodeName: bench-node
  protocol: {protocolName: bench}
  properties:
  - {name: value, visitors: {protocolName: bench}}
YAML
echo
if run_part devices; then "$BIN/bench" devices --edge-broker "127.0.0.1:$EDGE_BENCH" --kubeconfig "$KUBECONFIG_BENCH"; fi

# Pods through the same cloud and edge: edgecontroller, meta and edged on a private containerd (root only).
if run_part pods && [ "$(id -u)" -eq 0 ] && [ -x /usr/bin/containerd ]; then
  source scripts/containerd.sh
  CTD="$(mktemp -d -t kes-bench-ctd.XXXXXX)"
  ctd_start "$CTD" "$WORK/containerd.log" >/dev/null
  "$BIN/edgecontroller" --broker "127.0.0.1:$PORT" --data-dir "$WORK/pod-edgecontroller" --kubeconfig "$KUBECONFIG_BENCH" \
      --log-level warning & PIDS+=($!)
  "$BIN/edged" --broker "127.0.0.1:$EDGE_BENCH" --node-name bench-node --data-dir "$WORK/pod-edged" --log-level warning \
      --runtime-endpoint "unix://$CTD/containerd.sock" --node-ip 127.0.0.1 & EDGED=$!; PIDS+=($EDGED)
  for _ in $(seq 600); do
    [ "$("${KUBECTL[@]}" get node bench-node -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ] && break
    sleep 0.1
  done
  sleep 2   # idle (tooling run, not a test)
  echo
  "$BIN/bench" pods --kubeconfig "$KUBECONFIG_BENCH" --node bench-node --containerd-socket "$CTD/containerd.sock" \
      --pids "meta=$META,edged=$EDGED"
  for _ in $(seq 300); do [ -z "$("${KUBECTL[@]}" get pods -l bench=pods -o name 2>/dev/null)" ] && break; sleep 0.1; done

  # kubectl logs of a 10 MiB log through the link, beside cat of the same file on the node; the memory of the
  # services the stream passes, before and after.
  "${KUBECTL[@]}" apply -f - > /dev/null <<YAML
{"apiVersion":"v1","kind":"Pod","metadata":{"name":"bench-logs","namespace":"default"},"spec":{"nodeName":"bench-node",
 "terminationGracePeriodSeconds":0,"containers":[{"name":"main","image":"localhost/edge/busybox:local",
 "command":["sh","-c","yes 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde | head -c 10485760; exec sleep 3600"]}]}}
YAML
  LOGFILE=""
  for _ in $(seq 600); do
    LOGFILE=$(ls "$WORK"/pod-edged/pods/*/logs/main_0.log 2>/dev/null | head -1 || true)
    [ -n "$LOGFILE" ] && [ "$(stat -c %s "$LOGFILE")" -gt 10485760 ] && break
    sleep 0.1
  done
  pss() { awk '/^Pss:/{print $2}' "/proc/$1/smaps_rollup"; }
  BEFORE="apiserver $(pss "$APISERVER") cloudhub $(pss "$CLOUDHUB") hub $(pss "$HUB") edged $(pss "$EDGED")"
  TIMEFORMAT=%R
  echo
  echo "kubectl logs of a 10 MiB log ($(stat -c %s "$LOGFILE") bytes in CRI format on the node), 3 runs each:"
  for _ in 1 2 3; do
    t=$( { time "${KUBECTL[@]}" logs bench-logs > "$WORK/logs.out"; } 2>&1 )
    echo "  kubectl logs: ${t} s ($(awk -v t="$t" 'BEGIN{printf "%.1f", 10/t}') MiB/s), $(stat -c %s "$WORK/logs.out") bytes"
  done
  for _ in 1 2 3; do
    t=$( { time cat "$LOGFILE" > /dev/null; } 2>&1 )
    echo "  cat of the file on the node: ${t} s"
  done
  t=$( { time "${KUBECTL[@]}" get --raw /version > /dev/null; } 2>&1 )
  echo "  kubectl's own start (get --raw /version): ${t} s"
  echo "  Pss (kB) before: $BEFORE"
  echo "  Pss (kB) after:  apiserver $(pss "$APISERVER") cloudhub $(pss "$CLOUDHUB") hub $(pss "$HUB") edged $(pss "$EDGED")"

  # kubectl exec … -- true, 20 times, beside ctr's own exec in the same container on the same containerd.
  percentiles() { sort -n | awk '{a[NR]=$1} END{printf "p50 %d ms, p95 %d ms", a[int(NR*0.5+0.5)]*1000, a[int(NR*0.95+0.5)]*1000}'; }
  for _ in $(seq 20); do { time "${KUBECTL[@]}" exec bench-logs -- true; } 2>&1 >/dev/null; done > "$WORK/exec.times"
  CID=$("${KUBECTL[@]}" get pod bench-logs -o jsonpath='{.status.containerStatuses[0].containerID}'); CID=${CID#containerd://}
  for i in $(seq 20); do
    { time ctr --address "$CTD/containerd.sock" -n k8s.io task exec --exec-id "bench-$i" "$CID" true; } 2>&1 >/dev/null
  done > "$WORK/ctr-exec.times"
  echo "kubectl exec bench-logs -- true (20 runs): $(percentiles < "$WORK/exec.times"), kubectl's own start included"
  echo "ctr task exec of true in the same container (20 runs): $(percentiles < "$WORK/ctr-exec.times")"
  echo "  Pss (kB) after exec: apiserver $(pss "$APISERVER") cloudhub $(pss "$CLOUDHUB") hub $(pss "$HUB") edged $(pss "$EDGED")"
  # kubectl port-forward: 10 MiB over HTTP through it, beside the same download straight from the pod's IP on the node;
  # kubectl 1.30 (the dispatcher's pick: SPDY after an HTTP upgrade) and 1.32 (SPDY tunnelled in a WebSocket).
  "${KUBECTL[@]}" apply -f - > /dev/null <<YAML
{"apiVersion":"v1","kind":"Pod","metadata":{"name":"bench-web","namespace":"default"},"spec":{"nodeName":"bench-node",
 "terminationGracePeriodSeconds":0,"containers":[{"name":"main","image":"localhost/edge/busybox:local","command":["sh","-c",
 "busybox mkdir -p /www && busybox dd if=/dev/zero of=/www/big bs=1048576 count=10 2>/dev/null && exec httpd -f -p 8080 -h /www"]}]}}
YAML
  for _ in $(seq 600); do
    [ "$("${KUBECTL[@]}" get pod bench-web -o jsonpath='{.status.phase}' 2>/dev/null)" = Running ] && break; sleep 0.1
  done
  WEBIP=$("${KUBECTL[@]}" get pod bench-web -o jsonpath='{.status.podIP}')
  for _ in $(seq 100); do curl -sf -o /dev/null "http://$WEBIP:8080/big" && break; sleep 0.1; done
  SDK_BIN=$(dirname "$(readlink -f "$(command -v kubectl)")")
  echo "kubectl port-forward, curl of a 10 MiB file through it (3 runs each):"
  for client in "$(command -v kubectl)" "$SDK_BIN/kubectl.1.32"; do
    [ -x "$client" ] || continue
    # The client that really runs: the dispatcher picks one by the server's version.
    VERSION=$("$client" "${KUBECTL[@]:1}" version -o json 2>/dev/null | tr -d '\n ' \
      | sed -n 's/.*"clientVersion":{[^}]*"gitVersion":"\([^"]*\)".*/\1/p')
    "$client" "${KUBECTL[@]:1}" port-forward pod/bench-web :8080 > "$WORK/pf.out" 2>&1 & PF=$!
    LOCAL=""
    for _ in $(seq 100); do
      LOCAL=$(sed -n 's/^Forwarding from 127.0.0.1:\([0-9]*\) .*/\1/p' "$WORK/pf.out" | head -1); [ -n "$LOCAL" ] && break; sleep 0.1
    done
    for _ in 1 2 3; do
      t=$(curl -s -o /dev/null -w '%{time_total}' "http://127.0.0.1:$LOCAL/big")
      echo "  kubectl $VERSION: ${t} s ($(awk -v t="$t" 'BEGIN{printf "%.1f", 10/t}') MiB/s)"
    done
    kill "$PF" 2>/dev/null || true; wait "$PF" 2>/dev/null || true
  done
  for _ in 1 2 3; do
    t=$(curl -s -o /dev/null -w '%{time_total}' "http://$WEBIP:8080/big")
    echo "  curl straight to the pod's IP on the node: ${t} s"
  done
  echo "  Pss (kB) after port-forward: apiserver $(pss "$APISERVER") cloudhub $(pss "$CLOUDHUB") hub $(pss "$HUB") edged $(pss "$EDGED")"
  "${KUBECTL[@]}" delete pod bench-web --wait=false > /dev/null 2>&1 || true
  # Other traffic beside ten kubectl logs -f of a chatty pod (~100 KB/s each): pod create → Running again.
  "${KUBECTL[@]}" apply -f - > /dev/null <<YAML
{"apiVersion":"v1","kind":"Pod","metadata":{"name":"bench-chatty","namespace":"default"},"spec":{"nodeName":"bench-node",
 "terminationGracePeriodSeconds":0,"containers":[{"name":"main","image":"localhost/edge/busybox:local","command":["sh","-c",
 "while true; do i=0; while [ \$i -lt 50 ]; do echo chatty-\$i-0123456789012345678901234567890123456789012345678901234567890123456789; i=\$((i+1)); done; sleep 0.05; done"]}]}}
YAML
  for _ in $(seq 600); do
    [ "$("${KUBECTL[@]}" get pod bench-chatty -o jsonpath='{.status.phase}' 2>/dev/null)" = Running ] && break; sleep 0.1
  done
  FOLLOWERS=()
  for _ in $(seq 10); do "${KUBECTL[@]}" logs -f bench-chatty > /dev/null 2>&1 & FOLLOWERS+=($!); done
  sleep 2   # the streams are flowing (tooling run, not a test)
  echo "with ten kubectl logs -f of a chatty pod running:"
  "$BIN/bench" pods --kubeconfig "$KUBECONFIG_BENCH" --node bench-node --containerd-socket "$CTD/containerd.sock" --count 10
  for pid in "${FOLLOWERS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for _ in $(seq 300); do [ -z "$("${KUBECTL[@]}" get pods -l bench=pods -o name 2>/dev/null)" ] && break; sleep 0.1; done
  "${KUBECTL[@]}" delete pod bench-chatty --wait=false > /dev/null 2>&1 || true
  "${KUBECTL[@]}" delete pod bench-logs --wait=false > /dev/null 2>&1 || true
  kill "$EDGED" 2>/dev/null || true; wait "$EDGED" 2>/dev/null || true
  ctd_stop "$CTD"; rm -rf "$CTD"
fi

# KubeEdge's rules: rest→servicebus through the router, the link and servicebus, to a Python HTTP server on the
# "edge", beside the same server called directly; servicebus's and the router's memory.
if run_part router; then
  APP_PORT=$(free_port); ROUTER_PORT=$(free_port)
  python3 Tests/Peers/http_peer.py "$APP_PORT" > "$WORK/app.log" 2>&1 & PIDS+=($!)
  "$BIN/servicebus" --broker "127.0.0.1:$EDGE_BENCH" --node-name bench-node --data-dir "$WORK/servicebus" \
      --server "" --log-level warning & SERVICEBUS=$!; PIDS+=($SERVICEBUS)
  "$BIN/router" --broker "127.0.0.1:$PORT" --data-dir "$WORK/router" --kubeconfig "$KUBECONFIG_BENCH" \
      --address 127.0.0.1 --port "$ROUTER_PORT" --log-level warning & ROUTER=$!; PIDS+=($ROUTER)
  "${KUBECTL[@]}" get node bench-node > /dev/null 2>&1 || "${KUBECTL[@]}" create -f - > /dev/null <<YAML
{"apiVersion":"v1","kind":"Node","metadata":{"name":"bench-node"}}
YAML
  "${KUBECTL[@]}" apply -f - > /dev/null <<YAML
apiVersion: rules.kubeedge.io/v1
kind: RuleEndpoint
metadata: {name: bench-rest}
spec: {ruleEndpointType: rest}
---
apiVersion: rules.kubeedge.io/v1
kind: RuleEndpoint
metadata: {name: bench-servicebus}
spec: {ruleEndpointType: servicebus, properties: {service_port: "$APP_PORT"}}
---
apiVersion: rules.kubeedge.io/v1
kind: Rule
metadata: {name: bench-rule}
spec: {source: bench-rest, sourceResource: {path: /source}, target: bench-servicebus, targetResource: {path: /target}}
YAML
  for _ in $(seq 300); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$ROUTER_PORT/bench-node/default/source")" = 201 ] && break
    sleep 0.1
  done
  sleep 2   # idle memory first (tooling run, not a test)
  echo
  echo "Idle memory before the run:"
  "$BIN/bench" router --through "http://127.0.0.1:$ROUTER_PORT/bench-node/default/source" \
      --direct "http://127.0.0.1:$APP_PORT/target" --requests 1 --concurrency 1 \
      --pids "servicebus=$SERVICEBUS,router=$ROUTER" | grep '^|'
  echo
  "$BIN/bench" router --through "http://127.0.0.1:$ROUTER_PORT/bench-node/default/source" \
      --direct "http://127.0.0.1:$APP_PORT/target" --pids "servicebus=$SERVICEBUS,router=$ROUTER"
fi

# The link between that cloudhub and hub: throughput both ways, then 1,000 simulated edges on cloudhub.
CLOUDHUB_PID=$(pgrep -f "cloudhub --broker 127.0.0.1:$PORT --data-dir $WORK/dev-cloudhub" | head -1)
echo
if run_part link; then
  "$BIN/bench" link --cloud-broker "127.0.0.1:$PORT" --edge-broker "127.0.0.1:$EDGE_BENCH" --node bench-node \
    --cloudhub "127.0.0.1:$WS" --cert-server "127.0.0.1:$CERTS" --token "$(cat "$WORK/dev-cloudhub/token")" \
    --cloudhub-pid "$CLOUDHUB_PID"
fi
