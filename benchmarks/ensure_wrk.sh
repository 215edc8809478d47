#!/bin/sh
# Print the path of a working wrk (the HTTP load generator used by
# benchmarks/e2e.py and benchmarks/memory.py). When none is found, install
# Debian's `wrk` package non-interactively: as root directly, otherwise
# through `sudo -n` if available. Only the path goes to stdout; apt's output
# goes to stderr.
#
#   WRK=$(benchmarks/ensure_wrk.sh)
set -eu

find_wrk() {
    for candidate in "$(command -v wrk 2>/dev/null || true)" /usr/bin/wrk; do
        # wrk has no --version flag: it prints its version with the usage and exits 1.
        if [ -n "$candidate" ] && [ -x "$candidate" ] && "$candidate" --version 2>&1 | grep -q '^wrk '; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

if find_wrk; then
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure_wrk: wrk not found and apt-get is not available;" \
        "install wrk (https://github.com/wg/wrk) and put it on PATH" >&2
    exit 1
fi

if [ "$(id -u)" -eq 0 ]; then
    set --
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    set -- sudo -n
else
    echo "ensure_wrk: wrk not found; install it as root: apt-get update && apt-get install -y wrk" >&2
    exit 1
fi

echo "ensure_wrk: installing the Debian package 'wrk'" >&2
"$@" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
"$@" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >&2

if find_wrk; then
    exit 0
fi
echo "ensure_wrk: installed the 'wrk' package but found no working wrk" >&2
exit 1
