#!/usr/bin/env bash
# Installs what building, running and testing need on Debian 12: the system packages, and a Swift toolchain if none
# is on PATH. Idempotent; safe to run again.
set -euo pipefail

SWIFT_VERSION="${SWIFT_VERSION:-6.3.1}"
APT_PACKAGES=(
  mosquitto mosquitto-clients libmosquitto-dev   # the bus: broker, CLI clients, client library
  libsqlite3-dev libcurl4-openssl-dev            # stores, HTTP
  libssl-dev openssl                             # libcrypto for the OPC UA mapper's security policy; certificates in its tests
  libmodbus-dev socat python3-venv               # the Modbus mapper; its tests (serial pty pairs, pymodbus venv)
  containerd runc busybox-static                 # edged's runtime, and the images built locally from busybox
  containernetworking-plugins iproute2           # CNI bridge for pod IPs
  tmux                                           # the interactive kubectl exec -it test drives a terminal
  pkg-config git ca-certificates curl            # build plumbing
  libstdc++-12-dev libgcc-12-dev libc6-dev       # needed by the Swift toolchain
  binutils libncurses-dev libxml2 tzdata zlib1g-dev python3
)

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
missing=()
for package in "${APT_PACKAGES[@]}"; do
  # Docker's containerd.io stands in for containerd and runc, and conflicts with them: installing them would remove it.
  case $package in containerd | runc) installed containerd.io && continue ;; esac
  installed "$package" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${missing[@]}" >/dev/null
fi

# Nothing here runs as a system service: tests and scripts/up.sh start their own brokers and containerd. A freshly
# installed mosquitto package may have started one on :1883 under systemd; scripts/up.sh picks free ports if so.
# Likewise a system containerd on /run/containerd/containerd.sock: ours use their own sockets (scripts/containerd.sh).

if ! command -v swift >/dev/null 2>&1; then
  for candidate in /opt/swift/usr/bin /usr/share/swift/usr/bin "$HOME/.local/swift/usr/bin"; do
    [ -x "$candidate/swift" ] && export PATH="$candidate:$PATH" && break
  done
fi
if ! command -v swift >/dev/null 2>&1; then
  # Debian ships no Swift toolchain: take swift.org's build for Debian 12.
  target="$HOME/.local/swift"
  url="https://download.swift.org/swift-${SWIFT_VERSION}-release/debian12/swift-${SWIFT_VERSION}-RELEASE/swift-${SWIFT_VERSION}-RELEASE-debian12.tar.gz"
  echo "setup: no swift on PATH; installing Swift ${SWIFT_VERSION} into $target"
  mkdir -p "$target"
  curl -fsSL "$url" | tar -xz -C "$target" --strip-components=1
  export PATH="$target/usr/bin:$PATH"
  echo "setup: add $target/usr/bin to your PATH"
fi
swift --version 2>/dev/null | head -1
