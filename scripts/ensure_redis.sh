#!/bin/sh
# Print the path of a working redis-server (the DPoP replay tests start their
# own on 127.0.0.1, a store shared by two app instances), installing Debian's
# `redis-server` package non-interactively when it is missing. Only the path
# goes to stdout; apt's output goes to stderr.
#
# Not a plain scripts/ensure_tool.sh call: `redis-server --version` prints
# "Redis server v=...", not a line starting with the tool's name.
set -eu

find_server() {
    for candidate in "$(command -v redis-server 2>/dev/null || true)" /usr/bin/redis-server; do
        if [ -n "$candidate" ] && [ -x "$candidate" ] \
            && "$candidate" --version 2>&1 | grep -q "^Redis server"; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

if find_server; then
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure_redis: redis-server not found and apt-get is not available;" \
        "install it (Debian package 'redis-server') and put it on PATH" >&2
    exit 1
fi

if [ "$(id -u)" -eq 0 ]; then
    set --
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    set -- sudo -n
else
    echo "ensure_redis: redis-server not found; install it as root:" \
        "apt-get update && apt-get install -y redis-server" >&2
    exit 1
fi

echo "ensure_redis: installing the Debian package 'redis-server'" >&2
"$@" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
"$@" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >&2

if find_server; then
    exit 0
fi
echo "ensure_redis: installed the 'redis-server' package but found no working redis-server" >&2
exit 1
