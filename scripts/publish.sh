#!/usr/bin/env bash
# Publishes the start-up-optimised `switchboard` into artifacts/switchboard (or $1):
# - switchboard and its assemblies ReadyToRun (precompiled): `up` starts 1 + N + 2 .NET processes (server, agents,
#   cluster DNS) on the machine at once, and without ReadyToRun most of their start-up CPU is JIT;
# - switchboard-agnhost Native AOT, as ARCHITECTURE.md §1 describes it (a plain build copies a JIT apphost), so the
#   100 agnhost Pods of a test start in milliseconds each.
# Offline once restored: the ReadyToRun compiler (microsoft.netcore.app.crossgen2) and the AOT compiler
# (ilcompiler) are NuGet packages the first restore fetches; AOT also needs gcc/clang and ld.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-artifacts/switchboard}"
rid="linux-$(uname -m | sed -e 's/x86_64/x64/' -e 's/aarch64/arm64/')"
# The CLI references the agnhost project; the check that a framework-dependent app references no self-contained one
# does not apply: the AOT agnhost is published separately below and replaces the referenced copy.
dotnet publish src/Switchboard.Cli -c Release -r "$rid" --self-contained false -p:PublishReadyToRun=true \
  -p:ValidateExecutableReferencesMatchSelfContained=false -o "$out" -nologo -v quiet >&2
if command -v cc >/dev/null 2>&1 || command -v clang >/dev/null 2>&1; then
  dotnet publish src/Switchboard.Agnhost -c Release -r "$rid" -o "$out" -nologo -v quiet >&2
else
  echo "switchboard: no C toolchain (apt-get install -y clang or gcc) for Native AOT; switchboard-agnhost stays JIT-compiled" >&2
  dotnet publish src/Switchboard.Agnhost -c Release -r "$rid" --self-contained false -p:PublishAot=false -o "$out" -nologo -v quiet >&2
fi
rm -f "$out"/switchboard-agnhost.dbg
echo "$out/switchboard"
