#!/usr/bin/env bash
# Installs the Debian packages Switchboard and its tests use, when they are missing.
# Needs root (apt-get); prints exactly what to install otherwise.
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1; }
have nft || need+=(nftables)
have ip || need+=(iproute2)
have unshare || need+=(util-linux)
[ -x /usr/lib/cni/ptp ] || need+=(containernetworking-plugins)
have conntrack || need+=(conntrack)
have curl || need+=(curl)
have dig || need+=(dnsutils)
have iperf3 || need+=(iperf3)
have ping || need+=(iputils-ping)
have python3 || need+=(python3)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "switchboard: missing packages: ${need[*]}" >&2
  echo "switchboard: install them with: sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi
echo "switchboard: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2 || true
apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
