#!/bin/sh
# Print the path of a working wrk (the load generator of benchmarks/e2e.py and
# benchmarks/memory.py), installing Debian's `wrk` package when it is missing.
exec sh "$(dirname "$0")/../scripts/ensure_tool.sh" wrk wrk
