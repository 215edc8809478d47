"""``jwt-middleware decode [TOKEN|-]``: a token's header and claims, unverified.

The signature is never checked (use ``diagnose``); the times (``iat``, ``nbf``,
``exp``) are shown as dates relative to now, with the token's type and, when its
issuer is recognised, its identity provider and that provider's quirks the token
shows. ``--json`` prints one object. Exit 0, or 1 when the token is not a JWS
at all. Documented in docs/cli.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from ..outcome import Failure
from ..tokens.structure import parse_compact
from .common import EXIT_OK, Style, Subparsers, indent, json_out, read_token, strip_scheme, when
from .verdict import identify, print_failure, print_identity


def add_parser(subparsers: Subparsers) -> None:
    decode = subparsers.add_parser("decode", help="show header and claims, unverified")
    decode.add_argument("token", nargs="?", help="the token, or - / nothing for stdin")
    decode.add_argument("--json", action="store_true")
    decode.set_defaults(func=run, usage_of=decode)


def run(args: argparse.Namespace) -> int:
    raw = read_token(args.token)
    token = strip_scheme(raw)
    if isinstance(token, Failure):
        return print_failure(token, args.json, Style(sys.stdout))
    parsed = parse_compact(token)
    if isinstance(parsed, Failure):
        return print_failure(parsed, args.json, Style(sys.stdout))
    now = time.time()
    times = {
        name: when(parsed.claims[name], now)
        for name in ("iat", "nbf", "exp")
        if name in parsed.claims
    }
    identity = identify(parsed.header, parsed.claims)
    if args.json:
        json_out(
            {
                "header": parsed.header,
                "claims": parsed.claims,
                "times": times,
                "signature_bytes": len(parsed.signature),
                **identity,
            }
        )
        return EXIT_OK
    style = Style(sys.stdout)
    print(style.bold("header"))
    print(indent(json.dumps(parsed.header, indent=2)))
    print(style.bold("claims"))
    print(indent(json.dumps(parsed.claims, indent=2)))
    if times:
        print(style.bold("times"))
        width = max(len(k) for k in times)
        for name, text in times.items():
            print(f"  {name.ljust(width)}  {text}")
    print_identity(identity, style)
    print(style.dim(f"signature: {len(parsed.signature)} bytes (not shown, not verified)"))
    return EXIT_OK
