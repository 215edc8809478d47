#!/bin/sh
# Print the path of a working promtool (tests check deploy/prometheus/ and the
# metrics exposition with it), installing Debian's `prometheus` package, which
# also ships the server the integration test starts, when it is missing.
exec sh "$(dirname "$0")/ensure_tool.sh" promtool prometheus
