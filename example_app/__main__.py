"""``python -m example_app [--host H] [--port P]``: serve the example app with uvicorn.

HOST and PORT come from the environment (default 127.0.0.1 and 8000); the
options win. Prints how to get a token and curl commands for each diagnosis.
"""

from __future__ import annotations

import argparse
import os
import sys

import uvicorn

from .app import KEY_VARIABLES, configure_logging

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
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m example_app", description=__doc__)
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--log-level", default=os.environ.get("LOG_LEVEL", "info"))
    args = parser.parse_args(argv)
    os.environ["HOST"], os.environ["PORT"] = args.host, str(args.port)
    configure_logging(args.log_level)
    dev = not any(os.environ.get(name, "").strip() for name in KEY_VARIABLES)
    base = f"http://{args.host}:{args.port}"
    note = "\n(development issuer ON: tokens for anyone, never in production)" if dev else ""
    print(CURLS.format(base=base, dev_note=note), file=sys.stderr, flush=True)
    uvicorn.run(
        "example_app.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        lifespan="on",
        log_level=args.log_level,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
