#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine and runs every test. Tests start their own brokers, containerd instances and
# device peers (on free loopback ports, private sockets) and stop them.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
./scripts/setup-peers.sh
swift build --build-tests
swift test
