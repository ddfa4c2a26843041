#!/usr/bin/env bash
# Creates the Python venv with the test peers (pinned) that tests and benchmarks start: pymodbus for the Modbus
# mapper, the Kubernetes client for the API server tests, asyncua for the OPC-UA mapper, bumble (virtual BLE controllers) for the BLE mapper.
#
#   ./scripts/setup-peers.sh        # idempotent; venv at ${KUBEEDGE_PEERS_VENV:-$HOME/.cache/kubeedge-swift/peers-venv}
#
# Tests find the venv at the same place (KUBEEDGE_PEERS_VENV overrides it) and fail with a message naming this
# script when it is missing. Also installs Debian's libmodbus-dev and socat when apt-get is available and they are not.
set -euo pipefail
VENV="${KUBEEDGE_PEERS_VENV:-$HOME/.cache/kubeedge-swift/peers-venv}"
PACKAGES=(pymodbus==3.16.1 pyserial==3.5 kubernetes==37.0.2 asyncua==2.1.0 bumble==0.0.236)

if command -v apt-get >/dev/null 2>&1; then
    missing=()
    dpkg -s libmodbus-dev >/dev/null 2>&1 || missing+=(libmodbus-dev)
    command -v socat >/dev/null 2>&1 || missing+=(socat)
    if [ ${#missing[@]} -gt 0 ]; then
        SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
        $SUDO apt-get update
        $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y "${missing[@]}"
    fi
fi

# pyenv's python3 (first on PATH on the project machines) makes a venv that PyPI wheels install into cleanly.
PYTHON="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
    mkdir -p "$(dirname "$VENV")"
    "$PYTHON" -m venv "$VENV"
fi
if ! "$VENV/bin/python" - "${PACKAGES[@]}" <<'PY'
import sys
from importlib.metadata import version, PackageNotFoundError
for spec in sys.argv[1:]:
    name, want = spec.split("==")
    try:
        if version(name) != want: sys.exit(1)
    except PackageNotFoundError:
        sys.exit(1)
PY
then
    "$VENV/bin/pip" install --disable-pip-version-check --no-cache-dir "${PACKAGES[@]}"
fi
echo "peers venv ready: $VENV"
