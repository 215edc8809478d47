#!/bin/sh
# ensure_tool.sh TOOL PACKAGE [VERSION_PREFIX]: print the path of a working TOOL,
# installing Debian's PACKAGE non-interactively when it is missing (as root
# directly, otherwise through `sudo -n` if available). Only the path goes to
# stdout; apt's output goes to stderr. A tool "works" when `TOOL --version`
# prints a line starting with VERSION_PREFIX (default: the tool's name; wrk
# prints its version with its usage and exits 1, so the exit code is not used).
#
#   PROMTOOL=$(scripts/ensure_tool.sh promtool prometheus)
set -eu

tool=$1
package=$2
prefix=${3:-$tool}

find_tool() {
    for candidate in "$(command -v "$tool" 2>/dev/null || true)" "/usr/bin/$tool"; do
        if [ -n "$candidate" ] && [ -x "$candidate" ] \
            && "$candidate" --version 2>&1 | grep -q "^$prefix"; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

if find_tool; then
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure_tool: $tool not found and apt-get is not available;" \
        "install $tool (Debian package '$package') and put it on PATH" >&2
    exit 1
fi

if [ "$(id -u)" -eq 0 ]; then
    set --
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    set -- sudo -n
else
    echo "ensure_tool: $tool not found; install it as root:" \
        "apt-get update && apt-get install -y $package" >&2
    exit 1
fi

echo "ensure_tool: installing the Debian package '$package' for $tool" >&2
"$@" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
"$@" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$package" >&2

if find_tool; then
    exit 0
fi
echo "ensure_tool: installed the '$package' package but found no working $tool" >&2
exit 1
