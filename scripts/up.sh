#!/usr/bin/env bash
# Builds Switchboard and runs `switchboard up` in the foreground (Ctrl-C stops it).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
echo "switchboard: building" >&2
dotnet build src/Switchboard.Cli -c Release -nologo -v quiet >&2
exec dotnet src/Switchboard.Cli/bin/Release/net10.0/switchboard.dll up "$@"
