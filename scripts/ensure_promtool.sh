#!/bin/sh
# Print the path of a working promtool (used by tests/test_prometheus_rules.py
# to check deploy/prometheus/). When none is found, install Debian's
# `prometheus` package (which ships /usr/bin/promtool and /usr/bin/prometheus)
# non-interactively: as root directly, otherwise through `sudo -n` if
# available. Only the path goes to stdout; apt's output goes to stderr.
#
#   PROMTOOL=$(scripts/ensure_promtool.sh)
set -eu

find_promtool() {
    for candidate in "$(command -v promtool 2>/dev/null || true)" /usr/bin/promtool; do
        if [ -n "$candidate" ] && [ -x "$candidate" ] && "$candidate" --version >/dev/null 2>&1; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

if find_promtool; then
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure_promtool: promtool not found and apt-get is not available;" \
        "install Prometheus' promtool (https://prometheus.io/download/) and put it on PATH" >&2
    exit 1
fi

if [ "$(id -u)" -eq 0 ]; then
    set --
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    set -- sudo -n
else
    echo "ensure_promtool: promtool not found; install it as root:" \
        "apt-get update && apt-get install -y prometheus" >&2
    exit 1
fi

echo "ensure_promtool: installing the Debian package 'prometheus' for promtool" >&2
"$@" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
"$@" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >&2

if find_promtool; then
    exit 0
fi
echo "ensure_promtool: installed the 'prometheus' package but found no working promtool" >&2
exit 1
