#!/bin/sh
# Print the path of a working chromium (the browser tests, tests/servers/test_browser.py,
# drive Debian's headless Chromium through its chromedriver), installing Debian's
# `chromium-driver` package, which depends on `chromium`, when either is missing.
# The driver comes first: installing it brings the browser too, so one apt run
# covers both. Nothing is downloaded but Debian's packages.
set -eu
here=$(dirname "$0")
sh "$here/ensure_tool.sh" chromedriver chromium-driver ChromeDriver >/dev/null
exec sh "$here/ensure_tool.sh" chromium chromium Chromium
