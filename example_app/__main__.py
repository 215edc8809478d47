"""``python -m example_app [--host H] [--port P] [--workers N]``: serve the example app.

HOST and PORT come from the environment (default 127.0.0.1 and 8000), the
number of worker processes from WEB_CONCURRENCY (default 1, as uvicorn
reads it); the options win. Prints how to get a token and curl commands for
each diagnosis.

With several workers and the development issuer on, the workers share its
keys through a file in a private temporary directory made here and removed
at exit (DEV_ISSUER_KEY_FILE, unless already set). With
PROMETHEUS_MULTIPROC_DIR set, the metric files a previous run left there are
removed before the workers start, as prometheus-client's multiprocess mode
requires.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

import uvicorn

from jwt_middleware.metrics_endpoint import MULTIPROC_DIR_VARIABLE

from .app import KEY_VARIABLES, configure_logging
from .devkeys import KEY_FILE_VARIABLE

CURLS = """\
jwt_middleware example app on {base}{dev_note}

Get a token (development issuer) and call /me:
  TOKEN=$(curl -s '{base}/dev/token?scenario=valid' | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  curl -i {base}/me -H "Authorization: Bearer $TOKEN"

Each diagnosis, one command each:
  curl -i {base}/me                                              # missing_token
  curl -i {base}/me -H "Authorization: Bearer Bearer $TOKEN"     # double_bearer
  curl -i {base}/me -H "Authorization: Bearer%20$TOKEN"          # url_encoded_token
  curl -i {base}/me -H "Authorization: Bearer \\"$TOKEN\\""        # quoted_token
  curl -i {base}/me -H "Authorization: Basic dXNlcjpwYXNz"       # invalid_scheme
  curl -i {base}/admin -H "Authorization: Bearer $TOKEN"         # insufficient_scope (403)
  for s in expired not_yet_valid wrong_audience issuer_trailing_slash retired unknown_kid confusion alg_none; do
    T=$(curl -s "{base}/dev/token?scenario=$s" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
    curl -s {base}/me -H "Authorization: Bearer $T"; echo
  done
  curl -s {base}/metrics | grep jwt_auth_failures_total

DPoP (RFC 9449): a token bound to your key, sent with a proof per request:
  curl -s -X POST {base}/dev/token -H "DPoP: <a proof: htm POST, htu {base}/dev/token>"
  (or curl -s '{base}/dev/token?scenario=valid&jkt=<your key's RFC 7638 thumbprint>')
  then: Authorization: DPoP <token>, DPoP: <proof>. A client script that does both:
  docs/example-app.md#dpop-end-to-end (EXAMPLE_APP_URL={base} python dpop_client.py)
"""


def clear_multiprocess_dir(directory: Path) -> int:
    """Remove the ``*.db`` metric files of an earlier run; the number removed."""
    removed = 0
    for path in directory.glob("*.db"):
        path.unlink(missing_ok=True)
        removed += 1
    return removed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m example_app", description=__doc__)
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--log-level", default=os.environ.get("LOG_LEVEL", "info"))
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "1")))
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    os.environ["HOST"], os.environ["PORT"] = args.host, str(args.port)
    configure_logging(args.log_level)
    dev = not any(os.environ.get(name, "").strip() for name in KEY_VARIABLES)
    base = f"http://{args.host}:{args.port}"
    note = "\n(development issuer ON: tokens for anyone, never in production)" if dev else ""
    print(CURLS.format(base=base, dev_note=note), file=sys.stderr, flush=True)
    multiproc_dir = os.environ.get(MULTIPROC_DIR_VARIABLE)
    if multiproc_dir:
        removed = clear_multiprocess_dir(Path(multiproc_dir))
        print(
            f"{MULTIPROC_DIR_VARIABLE}={multiproc_dir}: removed {removed} old metric files",
            file=sys.stderr,
            flush=True,
        )
    key_dir: str | None = None
    if dev and args.workers > 1 and not os.environ.get(KEY_FILE_VARIABLE, "").strip():
        key_dir = tempfile.mkdtemp(prefix="example_app-dev-issuer-")  # mode 0700
        os.environ[KEY_FILE_VARIABLE] = os.path.join(key_dir, "keys.json")
    try:
        uvicorn.run(
            # An import string: uvicorn's workers each import the app themselves.
            "example_app.app:create_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            lifespan="on",
            log_level=args.log_level,
        )
    finally:
        if key_dir is not None:
            shutil.rmtree(key_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
