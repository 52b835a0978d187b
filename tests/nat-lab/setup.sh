#!/usr/bin/env bash
# Installs what the NAT lab (brume-mio/tests/e2e_nat.rs) and the coturn
# test (tests/tests/turn_coturn.rs) need: Debian's coturn, iptables and
# iproute2. Without them those tests skip with a message on stderr.
# Run as root, e.g. from CI before the tests; safe to run again.
set -euo pipefail
need=()
command -v turnserver >/dev/null || need+=(coturn)
command -v iptables >/dev/null || need+=(iptables)
command -v ip >/dev/null || need+=(iproute2)
if ((${#need[@]})); then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
# Debian starts coturn as a service on install; the tests start their own.
if command -v systemctl >/dev/null && systemctl is-active --quiet coturn 2>/dev/null; then
    systemctl stop coturn
fi
