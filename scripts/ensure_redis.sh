#!/bin/sh
# Print the path of a working redis-server (the DPoP replay tests start their
# own on 127.0.0.1, a store shared by two app instances), installing Debian's
# `redis-server` package non-interactively when it is missing. Its version
# line reads "Redis server v=...", hence the prefix.
exec sh "$(dirname "$0")/ensure_tool.sh" redis-server redis-server "Redis server"
