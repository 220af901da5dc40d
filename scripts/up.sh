#!/usr/bin/env bash
# Builds Switchboard (ReadyToRun, AOT agnhost: the fast start-up build) and runs `switchboard up` in the foreground (Ctrl-C stops it).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
echo "switchboard: building (ReadyToRun; see scripts/publish.sh)" >&2
exec "$(./scripts/publish.sh)" up "$@"
