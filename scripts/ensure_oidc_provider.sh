#!/bin/sh
# Install the authorization server of the introspection tests: panva's
# oidc-provider from the npm registry, at the version and with the exact tree
# that tests/oidc_provider/package-lock.json pins (`npm ci`), when it is missing
# or older than the lock file. Needs Node.js 20 (or later) and npm on PATH;
# prints the path of the installed package.
set -eu

dir="$(cd "$(dirname "$0")/../tests/oidc_provider" && pwd)"
installed="$dir/node_modules/oidc-provider/package.json"
stamp="$dir/node_modules/.package-lock.json"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "ensure_oidc_provider: node and npm are needed (Node.js 20 or later);" \
        "install them (Debian: apt-get install nodejs npm)" >&2
    exit 1
fi

if [ ! -f "$installed" ] || [ ! -f "$stamp" ] || [ "$dir/package-lock.json" -nt "$stamp" ]; then
    echo "ensure_oidc_provider: npm ci in $dir" >&2
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi
echo "$installed"
