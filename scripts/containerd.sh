#!/usr/bin/env bash
# A private containerd for edged: Debian's containerd 1.6 with runc and its CRI plugin, with socket, config, root and
# state in one directory, pod IPs from a CNI bridge, and two images built locally from busybox-static (no registry,
# no network). Needs root. scripts/up.sh sources it; it also runs alone:
#   scripts/containerd.sh start DIR [LOG]  start it on unix://DIR/containerd.sock, write the CNI config, import the
#                                          images (log: DIR/containerd.log unless given)
#   scripts/containerd.sh stop DIR         remove its containers, stop it, clean up what its pods left on the host
#   scripts/containerd.sh images SOCKET    build the two images and import them into any containerd, e.g. the
#                                          host's /run/containerd/containerd.sock for the systemd units
# Sourcing defines the ctd_* functions and sets no shell options (they report failure by their status).

CTD_BUSYBOX_IMAGE=localhost/edge/busybox:local   # for pods: `sh` and the usual applets
CTD_PAUSE_IMAGE=localhost/edge/pause:local       # the pod sandbox: containerd's sandbox_image, edged's default
CTD_BRIDGE=kes0                                  # CNI bridge, and the pods' subnet: nothing else here uses them
CTD_SUBNET=10.88.77.0/24
CTD_CGROUP_ROOT=kubeedge-swift                   # edged's cgroup parent for pods: /kubeedge-swift/pod<uid>
CTD_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# ctd_has_arg PID ARG: true when process PID has ARG as one of its arguments (no pipes: callers may set pipefail).
ctd_has_arg() {
  local arg args=()
  mapfile -d '' args 2>/dev/null < "/proc/$1/cmdline" || return 1
  for arg in ${args[@]+"${args[@]}"}; do [ "$arg" = "$2" ] && return 0; done
  return 1
}

# ctd_running DIR: true while the containerd started for DIR runs (its pid file names a process with its config).
ctd_running() {
  local pid
  pid="$(cat "$1/containerd.pid" 2>/dev/null)" && [ -n "$pid" ] && ctd_has_arg "$pid" "$1/containerd.toml"
}

# ctd_pids_with_arg ARG: the processes that have ARG as one of their arguments.
ctd_pids_with_arg() {
  local p
  for p in /proc/[0-9]*; do
    if ctd_has_arg "${p#/proc/}" "$1"; then echo "${p#/proc/}"; fi
  done
}

# ctd_cni DIR: the CNI config for pod-network pods. Without one, CRI reports the network not ready and a pod's
# failed sandbox cannot even be removed. containerd picks the file up without a restart.
ctd_cni() {
  mkdir -p "$1/cni/net.d" || return 1
  # ipMasq false: pod traffic stays on this host. portmap: hostPort.
  cat > "$1/cni/net.d/10-kubeedge-swift.conflist" <<EOF
{"cniVersion":"1.0.0","name":"kubeedge-swift","plugins":[
 {"type":"bridge","bridge":"$CTD_BRIDGE","isGateway":true,"ipMasq":false,"hairpinMode":true,
  "ipam":{"type":"host-local","ranges":[[{"subnet":"$CTD_SUBNET"}]],"routes":[{"dst":"0.0.0.0/0"}],
          "dataDir":"$1/cni/ipam"}},
 {"type":"portmap","capabilities":{"portMappings":true}}]}
EOF
}

# ctd_images SOCKET [WORKDIR]: builds the busybox and pause images (Tests/Peers/oci-busybox.py, from the
# busybox-static package) and imports them into namespace k8s.io, the one CRI uses. Reimporting is a no-op.
ctd_images() {
  local sock=$1 work=${2:-} python=python3 made="" rc=0
  [ -x /usr/bin/python3 ] && python=/usr/bin/python3   # Debian's; the script needs only the standard library
  if [ -z "$work" ]; then work="$(mktemp -d)" || return 1; made=1; fi
  { "$python" "$CTD_REPO/Tests/Peers/oci-busybox.py" "$work/busybox.tar" "$CTD_BUSYBOX_IMAGE" sh \
    && "$python" "$CTD_REPO/Tests/Peers/oci-busybox.py" "$work/pause.tar" "$CTD_PAUSE_IMAGE" sleep infinity \
    && ctr --address "$sock" -n k8s.io images import "$work/busybox.tar" \
    && ctr --address "$sock" -n k8s.io images import "$work/pause.tar"; } >/dev/null || rc=1
  [ -z "$made" ] || rm -rf "$work"
  [ $rc -eq 0 ] || echo "containerd: building or importing the images into $sock failed" >&2
  return $rc
}

# ctd_clear SOCKET: kills every task (SIGKILL, wait, delete) and removes every container, in every namespace: CRI
# pods in k8s.io and anything run with ctr. A pod sandbox's network namespace (a bind mount in /run/netns) goes
# too: CRI releases it on StopPodSandbox, ctr does not.
ctd_clear() {
  local sock=$1 ns id path
  for ns in $(ctr --address "$sock" namespaces ls -q 2>/dev/null || true); do
    for id in $(ctr --address "$sock" -n "$ns" tasks ls -q 2>/dev/null || true); do
      ctr --address "$sock" -n "$ns" tasks rm -f "$id" >/dev/null 2>&1 || true
    done
    for id in $(ctr --address "$sock" -n "$ns" containers ls -q 2>/dev/null || true); do
      for path in $(ctr --address "$sock" -n "$ns" containers info "$id" 2>/dev/null \
                    | grep -o '"path": *"[^"]*/netns/[^"]*"' | sed 's/.*"\([^"]*\)"$/\1/' || true); do
        umount "$path" 2>/dev/null || true
        rm -f "$path"
      done
      ctr --address "$sock" -n "$ns" containers rm "$id" >/dev/null 2>&1 || true
    done
  done
}

# ctd_start DIR [LOG]: starts containerd on DIR/containerd.sock, waits until it answers, writes the CNI config and
# imports the images. Status 2: it started nothing (so ctd_stop must not run, e.g. when another one runs for DIR);
# 1: it failed after starting containerd (ctd_stop cleans up).
ctd_start() {
  local dir sock log runc i
  [ "$(id -u)" -eq 0 ] || { echo "containerd: needs root" >&2; return 2; }
  case $1 in /*) dir=$1 ;; *) dir=$PWD/$1 ;; esac   # absolute: the paths go into the config
  sock="$dir/containerd.sock"
  # sun_path holds 108 bytes with the terminating NUL.
  if [ ${#sock} -ge 108 ]; then echo "containerd: socket path too long (${#sock} bytes): $sock" >&2; return 2; fi
  dir="$(mkdir -p "$dir" && cd "$dir" && pwd)" || return 2
  sock="$dir/containerd.sock"
  log="${2:-$dir/containerd.log}"
  if ctd_running "$dir"; then
    echo "containerd: already running for $dir (pid $(cat "$dir/containerd.pid"))" >&2; return 2
  fi
  mkdir -p "$dir/images" || return 2
  ctd_cni "$dir" || return 2
  runc=/usr/sbin/runc   # Debian's; Docker's containerd.io has its own in /usr/bin
  [ -x "$runc" ] || runc="$(command -v runc)" || { echo "containerd: no runc" >&2; return 2; }
  # restrict_oom_score_adj: root may lack CAP_SYS_RESOURCE (containers, CI), and the sandbox's -998 would fail.
  # SystemdCgroup false: cgroupfs, as there may be no systemd. The sandbox image is local and never pulled.
  cat > "$dir/containerd.toml" <<EOF || return 2
version = 2
root = "$dir/root"
state = "$dir/state"
[grpc]
  address = "$sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$CTD_PAUSE_IMAGE"
  restrict_oom_score_adj = true
  disable_apparmor = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "$runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$dir/cni/net.d"
EOF
  # Its own process group (set -m), so that Ctrl-C in the caller's terminal does not reach it: it must outlive
  # edged and answer the cleanup in ctd_stop, or the pods keep running.
  ( set -m; /usr/bin/containerd --config "$dir/containerd.toml" > "$log" 2>&1 < /dev/null &
    echo $! > "$dir/containerd.pid" ) || return 2
  # Answers within ~0.2 s; 20 s at most on a loaded machine.
  for i in $(seq 400); do
    if ctr --address "$sock" version >/dev/null 2>&1; then
      # Pods start from nothing, as ctd_stop leaves it: remove what a crash or a kill -9 left behind.
      ctd_clear "$sock"
      rm -rf "$dir/cni/ipam"
      ctd_images "$sock" "$dir/images"
      return
    fi
    if ! ctd_running "$dir"; then
      echo "containerd: exited at start; see $log:" >&2; tail -n 20 "$log" >&2; return 1
    fi
    sleep 0.05
  done
  echo "containerd: no answer on $sock after 20 s; see $log" >&2
  return 1
}

# ctd_stop DIR: stops what ctd_start started and what its pods left on the host. Safe to call again, or when
# ctd_start failed half-way. Failures of single steps are expected (gone already) and ignored.
ctd_stop() {
  local dir sock pid i p
  [ -d "$1" ] || return 0
  dir="$(cd "$1" && pwd)"
  sock="$dir/containerd.sock"
  if ctd_running "$dir"; then
    # 1. Every container (edged leaves pods running when it stops, as kubelet does).
    ctd_clear "$sock"
    # 2. containerd: SIGTERM, 10 s to exit.
    pid="$(cat "$dir/containerd.pid")"
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 200); do
      ctd_running "$dir" || break
      sleep 0.05
    done
    if ctd_running "$dir"; then
      echo "containerd: still running after 10 s; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$dir/containerd.pid"
  # 3. Shims outlive containerd (they are reparented to PID 1); this instance's carry its socket as an argument.
  #    Their children are what is left of their containers.
  for p in $(ctd_pids_with_arg "$sock"); do
    pkill -KILL -P "$p" || true
    kill -KILL "$p" 2>/dev/null || true
  done
  # 4. Network: the bridge (it outlives its last pod) and the pods' IP leases (CNI DEL would have released them).
  if ip link show "$CTD_BRIDGE" >/dev/null 2>&1; then ip link delete "$CTD_BRIDGE" || true; fi
  rm -rf "$dir/cni/ipam"
  # 5. The pods' cgroup directories (runc removes a container's, not its pod's): empty ones only (rmdir refuses
  #    the others), deepest first, in every hierarchy.
  for p in /sys/fs/cgroup/*/"$CTD_CGROUP_ROOT"; do
    if [ -d "$p" ]; then find "$p" -depth -type d -exec rmdir {} + 2>/dev/null || true; fi
  done
  # 6. Mounts left under DIR (the /dev/shm of pods not removed over CRI), so that DIR can be deleted.
  for p in $(awk -v d="$dir/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r); do
    umount -l "$p" 2>/dev/null || true
  done
  return 0
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  usage() { sed -n '5,9s/^# //p' "$0" >&2; exit 2; }
  case "${1:-}" in
    start)
      [ $# -ge 2 ] || usage
      status=0
      ctd_start "$2" "${3:-}" || status=$?
      if [ $status -ne 0 ]; then [ $status -eq 2 ] || ctd_stop "$2"; exit 1; fi
      echo "containerd: running on unix://$(cd "$2" && pwd)/containerd.sock; stop with: $0 stop $2" ;;
    stop) [ $# -eq 2 ] || usage; ctd_stop "$2" ;;
    images) [ $# -eq 2 ] || usage; ctd_images "$2" ;;
    *) usage ;;
  esac
fi
