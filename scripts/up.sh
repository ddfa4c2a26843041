#!/usr/bin/env bash
# Sets up, builds and runs the whole system on this host: the cloud bus and the edge bus (two mosquittos), the cloud
# services and the edge services of one edge node. Ctrl-C (or SIGTERM) stops everything cleanly.
#
#   EDGE_PORT / CLOUD_PORT   broker ports (default 1883 / 11883, or free ones if taken)
#   WS_PORT / CERT_PORT      cloudhub's websocket and certificate ports (default 10000 / 10002)
#   API_PORT                 the API server's HTTPS port (default 6443)
#   NODE_NAME                the edge node's name (default edge-node-1)
#   RUN_DIR                  state and logs (default ./run)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
source scripts/lib.sh
swift build -c release
BIN="$(swift build -c release --show-bin-path)"

RUN_DIR="${RUN_DIR:-$PWD/run}"
NODE_NAME="${NODE_NAME:-edge-node-1}"
mkdir -p "$RUN_DIR/logs" "$RUN_DIR/data"

EDGE_PORT="${EDGE_PORT:-1883}";   port_free "$EDGE_PORT"  || EDGE_PORT="$(free_port)"
CLOUD_PORT="${CLOUD_PORT:-11883}"; port_free "$CLOUD_PORT" || CLOUD_PORT="$(free_port)"

PIDS=()
stop_all() {
  trap - INT TERM EXIT
  echo; echo "up: stopping"
  # Services first (they announce offline on the bus), brokers last.
  for ((i=${#PIDS[@]}-1; i>=0; i--)); do kill -TERM "${PIDS[$i]}" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
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
service devicecontroller "$CLOUD_PORT" cloud --kubeconfig "$RUN_DIR/data/apiserver/admin.kubeconfig"
service edgecontroller "$CLOUD_PORT" cloud
# The edge joins with the token cloudhub writes on start (the first time; later starts reuse the certificate).
for _ in $(seq 200); do [ -s "$RUN_DIR/data/cloudhub/token" ] && break; sleep 0.05; done
service hub "$EDGE_PORT" "$NODE_NAME" --cloud "127.0.0.1:$WS_PORT" --cert-server "127.0.0.1:$CERT_PORT" \
    --token "$(cat "$RUN_DIR/data/cloudhub/token")"
for name in meta twin eventbus servicebus edged mapper-modbus mapper-opcua mapper-ble; do
  service "$name" "$EDGE_PORT" "$NODE_NAME"
done

wait_online "$CLOUD_PORT" 4 && wait_online "$EDGE_PORT" 9 || { echo "up: not every service came online; see $RUN_DIR/logs" >&2; exit 1; }

cat <<MSG
up: running. Cloud bus 127.0.0.1:$CLOUD_PORT, edge bus 127.0.0.1:$EDGE_PORT (node $NODE_NAME); logs in $RUN_DIR/logs.
    Cloud link:        cloudhub wss://127.0.0.1:$WS_PORT, certificates https://127.0.0.1:$CERT_PORT
                       (join token for more edges: $RUN_DIR/data/cloudhub/token)
    kubectl:           export KUBECONFIG=$RUN_DIR/data/apiserver/admin.kubeconfig   (API https://127.0.0.1:$API_PORT)
    Watch everything:  mosquitto_sub -p $EDGE_PORT -t '#' -v     (edge)
                       mosquitto_sub -p $CLOUD_PORT -t '#' -v    (cloud)
    Who is alive:      mosquitto_sub -p $EDGE_PORT -t 'ke/status/+' -v
    Stop:              Ctrl-C
MSG
# Stay up until a signal arrives or a process dies.
wait -n "${PIDS[@]}" || true
echo "up: a process exited; see $RUN_DIR/logs" >&2
