#!/usr/bin/env bash
# Sets up, builds and runs the whole system on this host: the cloud bus and the edge bus (two mosquittos), the cloud
# services and the edge services of one edge node. Ctrl-C (or SIGTERM) stops everything cleanly.
# As root, with Debian's containerd installed (scripts/setup.sh installs it), edged runs pods on a private containerd
# (scripts/containerd.sh); otherwise everything but edged runs.
#
#   EDGE_PORT / CLOUD_PORT   broker ports (default 1883 / 11883, or free ones if taken)
#   WS_PORT / CERT_PORT      cloudhub's websocket and certificate ports (default 10000 / 10002)
#   API_PORT                 the API server's HTTPS port (default 6443)
#   ROUTER_PORT              the router's REST endpoint for KubeEdge rules (default 9443)
#   NODE_NAME                the edge node's name (default edge-node-1)
#   BLE_HCI                  mapper-ble's controller: tcp:HOST:PORT, serial:/dev/ttyX[@baud] or hci<N> (default hci0)
#   RUN_DIR                  state and logs (default ./run); containerd's root and socket in $RUN_DIR/containerd
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
source scripts/lib.sh
source scripts/containerd.sh
swift build -c release
BIN="$(swift build -c release --show-bin-path)"

RUN_DIR="${RUN_DIR:-$PWD/run}"
NODE_NAME="${NODE_NAME:-edge-node-1}"
mkdir -p "$RUN_DIR/logs" "$RUN_DIR/data"

EDGE_PORT="${EDGE_PORT:-1883}";   port_free "$EDGE_PORT"  || EDGE_PORT="$(free_port)"
CLOUD_PORT="${CLOUD_PORT:-11883}"; port_free "$CLOUD_PORT" || CLOUD_PORT="$(free_port)"

PIDS=()
CTD_DIR=""   # set once containerd is started
stop_all() {
  trap - INT TERM EXIT
  echo; echo "up: stopping"
  # Services first (they announce offline on the bus), brokers last.
  for ((i=${#PIDS[@]}-1; i>=0; i--)); do kill -TERM "${PIDS[$i]}" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  # containerd after edged: its pods are removed, then it stops, then what the pods left on the host goes.
  [ -z "$CTD_DIR" ] || ctd_stop "$CTD_DIR" || true
  exit 0
}
trap stop_all INT TERM EXIT

# The shipped broker configs, with ports and paths moved under $RUN_DIR.
broker() {  # side port
  local side=$1 port=$2 conf="$RUN_DIR/mosquitto-$1.conf"
  mkdir -p "$RUN_DIR/data/mosquitto-$side"
  sed -e "s#/var/lib/kubeedge-swift/#$RUN_DIR/data/#g" -e "s#/run/kubeedge-swift/#$RUN_DIR/#g" \
      -e "s#^listener [0-9]\+ 127.0.0.1#listener $port 127.0.0.1#" \
      -e "s#^user mosquitto#user $(id -un)#" \
      "compose/mosquitto/$side.conf" > "$conf"
  mosquitto -c "$conf" > "$RUN_DIR/logs/mosquitto-$side.log" 2>&1 & PIDS+=($!)
  for _ in $(seq 200); do port_free "$port" || return 0; sleep 0.05; done
  echo "up: mosquitto ($side) did not start; see $RUN_DIR/logs/mosquitto-$side.log" >&2; exit 1
}
broker cloud "$CLOUD_PORT"
broker edge "$EDGE_PORT"

service() {  # name broker-port node-name [extra flags...]
  local name=$1 port=$2 node=$3
  shift 3
  "$BIN/$name" --broker "127.0.0.1:$port" --node-name "$node" --data-dir "$RUN_DIR/data/$name" "$@" \
      > "$RUN_DIR/logs/$name.log" 2>&1 & PIDS+=($!)
}
WS_PORT="${WS_PORT:-10000}";       port_free "$WS_PORT"    || WS_PORT="$(free_port)"
CERT_PORT="${CERT_PORT:-10002}";   port_free "$CERT_PORT"  || CERT_PORT="$(free_port)"
service cloudhub "$CLOUD_PORT" cloud --websocket-port "$WS_PORT" --https-port "$CERT_PORT" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1
API_PORT="${API_PORT:-6443}";      port_free "$API_PORT"   || API_PORT="$(free_port)"
service apiserver "$CLOUD_PORT" cloud --secure-port "$API_PORT"
ADMIN_KUBECONFIG="$RUN_DIR/data/apiserver/admin.kubeconfig"   # written by the apiserver; its clients wait for it
service devicecontroller "$CLOUD_PORT" cloud --kubeconfig "$ADMIN_KUBECONFIG"
service edgecontroller "$CLOUD_PORT" cloud --kubeconfig "$ADMIN_KUBECONFIG"
ROUTER_PORT="${ROUTER_PORT:-9443}"; port_free "$ROUTER_PORT" || ROUTER_PORT="$(free_port)"
service router "$CLOUD_PORT" cloud --kubeconfig "$ADMIN_KUBECONFIG" --address 127.0.0.1 --port "$ROUTER_PORT"
# The edge joins with the token cloudhub writes on start (the first time; later starts reuse the certificate).
for _ in $(seq 200); do [ -s "$RUN_DIR/data/cloudhub/token" ] && break; sleep 0.05; done
service hub "$EDGE_PORT" "$NODE_NAME" --cloud "127.0.0.1:$WS_PORT" --cert-server "127.0.0.1:$CERT_PORT" \
    --token "$(cat "$RUN_DIR/data/cloudhub/token")"
EDGE_SERVICES=1   # hub
for name in meta twin eventbus servicebus; do
  service "$name" "$EDGE_PORT" "$NODE_NAME"; EDGE_SERVICES=$((EDGE_SERVICES + 1))
done
# edged needs a container runtime, and only root can run one.
NO_PODS=""
[ "$(id -u)" -eq 0 ] || NO_PODS="not root"
[ -x /usr/bin/containerd ] || NO_PODS="${NO_PODS:+$NO_PODS, }no /usr/bin/containerd"
if [ -z "$NO_PODS" ]; then
  CTD_DIR="$(cd "$RUN_DIR" && pwd)/containerd"
  # A unix socket path must be shorter than 108 bytes: a long RUN_DIR gets a short directory in /tmp instead
  # (one per RUN_DIR, so images and state are kept between runs as under RUN_DIR).
  [ ${#CTD_DIR} -le 90 ] || CTD_DIR="/tmp/kes-ctd-$(printf %s "$CTD_DIR" | sha256sum | cut -c1-12)"
  CTD_SOCK="$CTD_DIR/containerd.sock"
  # Status 2: nothing was started (e.g. another up.sh's containerd runs there), so stop_all must leave it alone.
  ctd_start "$CTD_DIR" "$RUN_DIR/logs/containerd.log" || {
    [ $? -ne 2 ] || CTD_DIR=""
    echo "up: containerd did not start; see above and $RUN_DIR/logs/containerd.log" >&2; exit 1
  }
  service edged "$EDGE_PORT" "$NODE_NAME" --runtime-endpoint "unix://$CTD_SOCK" --pod-sandbox-image "$CTD_PAUSE_IMAGE"
  EDGE_SERVICES=$((EDGE_SERVICES + 1))
else
  echo "up: pods will not run ($NO_PODS): edged needs root and containerd; starting everything but edged" >&2
fi
for name in mapper-modbus mapper-opcua; do
  service "$name" "$EDGE_PORT" "$NODE_NAME"; EDGE_SERVICES=$((EDGE_SERVICES + 1))
done
# The BLE controller is opened when a Bluetooth device is assigned; without one, devices report offline with the reason.
service mapper-ble "$EDGE_PORT" "$NODE_NAME" --hci "${BLE_HCI:-hci0}"; EDGE_SERVICES=$((EDGE_SERVICES + 1))

wait_online "$CLOUD_PORT" 5 && wait_online "$EDGE_PORT" "$EDGE_SERVICES" \
    || { echo "up: not every service came online; see $RUN_DIR/logs" >&2; exit 1; }

# The node is Ready once edged has registered it (through hub, cloudhub and edgecontroller) and reports its status.
PODS="not run ($NO_PODS); edged needs root and containerd"
if [ -n "$CTD_DIR" ]; then
  PODS="kubectl run hello --image=$CTD_BUSYBOX_IMAGE --overrides='{\"spec\":{\"nodeName\":\"$NODE_NAME\"}}' -- sleep 3600
                       kubectl get pod hello -o wide   (pod IPs from $CTD_SUBNET; containerd unix://$CTD_SOCK)"
  if ! command -v kubectl >/dev/null; then
    echo "up: no kubectl on PATH; not waiting for node $NODE_NAME to be Ready" >&2
  else
    node=""
    deadline=$((SECONDS + 60))
    while (( SECONDS < deadline )); do
      node="$(kubectl --kubeconfig "$ADMIN_KUBECONFIG" get node "$NODE_NAME" --no-headers 2>/dev/null || true)"
      grep -qw Ready <<<"$node" && break   # -w: not NotReady
      sleep 1
    done
    if grep -qw Ready <<<"$node"; then
      echo "up: node $node"
    else
      echo "up: node $NODE_NAME is not Ready after 60 s (${node:-not registered}); see $RUN_DIR/logs/edged.log" >&2
    fi
  fi
fi

cat <<MSG
up: running. Cloud bus 127.0.0.1:$CLOUD_PORT, edge bus 127.0.0.1:$EDGE_PORT (node $NODE_NAME); logs in $RUN_DIR/logs.
    Cloud link:        cloudhub wss://127.0.0.1:$WS_PORT, certificates https://127.0.0.1:$CERT_PORT
                       (join token for more edges: $RUN_DIR/data/cloudhub/token)
    kubectl:           export KUBECONFIG=$ADMIN_KUBECONFIG   (API https://127.0.0.1:$API_PORT)
    Pods:              $PODS
    Rules (router):    http://127.0.0.1:$ROUTER_PORT/$NODE_NAME/<namespace>/<path>  (kubectl apply KubeEdge's Rules;
                       ../shared/kubeedge-manifests/crds and samples/router)
    Watch everything:  mosquitto_sub -p $EDGE_PORT -t '#' -v     (edge)
                       mosquitto_sub -p $CLOUD_PORT -t '#' -v    (cloud)
    Who is alive:      mosquitto_sub -p $EDGE_PORT -t 'ke/status/+' -v
    Stop:              Ctrl-C
MSG
# Stay up until a signal arrives or a process dies.
wait -n "${PIDS[@]}" || true
echo "up: a process exited; see $RUN_DIR/logs" >&2
