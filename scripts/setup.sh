#!/usr/bin/env bash
# Installs everything tcplife needs on a fresh Debian machine (run as root):
# clang and libbpf (to build and load the BPF program at run time), iproute2
# (network namespaces in the tests), nftables (fault injection inside them),
# jq and python3-pandas (tests read JSON lines and CSV with them), prometheus
# (a test scrapes --metrics), time and man-db (tests measure replay's memory
# and render the man page), then the npm packages (npm ci runs the package's prepare: the build).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v clang >/dev/null || need+=(clang)
[ -f /usr/include/bpf/bpf_helpers.h ] || need+=(libbpf-dev)
ldconfig -p | grep -q 'libbpf.so.1 ' || need+=(libbpf1)
command -v ip >/dev/null || need+=(iproute2)
command -v jq >/dev/null || need+=(jq)
command -v nft >/dev/null || need+=(nftables)
# A test measures replay's peak memory with GNU time.
[ -x /usr/bin/time ] || need+=(time)
command -v man >/dev/null || need+=(man-db)
# A test makes a TLS certificate for a real TLS client and server.
command -v openssl >/dev/null || need+=(openssl)
# A real Prometheus scrapes --metrics in the tests.
command -v prometheus >/dev/null || need+=(prometheus)
# A real data tool reads data CSV in the tests: Debian's pandas, for Debian's python.
/usr/bin/python3 -c 'import pandas' 2>/dev/null || need+=(python3-pandas)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing ${need[*]}; run as root or: sudo apt-get install -y ${need[*]}" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

# npm 11 skips dependency install scripts; koffi ships prebuilt binaries in the
# package itself, so nothing is lost. Never --omit=optional (tsc is native).
# npm ci runs the package's `prepare`: the TypeScript build, the shipped
# object (clang, installed above) and the man page.
npm ci --no-audit --no-fund --loglevel=error
