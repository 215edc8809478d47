"""``jwt-middleware revoke --issuer ISS (--jti JTI --expires-at EPOCH | --sid SID | --sub SUB)``:
write one entry to the revocation list every instance shares (CONTRACT section 9,
docs/revocation.md).

- ``--jti JTI --expires-at EPOCH``: the token with that ``jti`` (its ``exp``: the
  entry is kept until then, plus the leeway);
- ``--sid SID``: every token of that session issued up to now;
- ``--sub SUB``: every token of that subject issued up to now.

The list is ``--redis-url``, else ``JWT_REVOCATION_REDIS_URL``; the entry is
written in one round trip, within ``--timeout``. Exit 0 when stored (or when the
token has expired already: nothing is left to refuse), 1 when it could not be
stored, 2 for a usage error. The output names the entry by its fingerprint, never
the value; ``--json`` prints one object.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import time

from ..revocation.entries import Revocation
from ..revocation.store import RevocationList, RevocationStoreError
from ..values.text import clip, utc
from .common import EXIT_OK, EXIT_REJECTED, Style, Subparsers, UsageError, json_out
from .revocationoptions import revocation_list, revocation_options


def add_parser(subparsers: Subparsers) -> None:
    revoke = subparsers.add_parser(
        "revoke", help="revoke a token, a session or a subject in the shared revocation list"
    )
    revoke.add_argument("--issuer", required=True, help="the tokens' iss")
    what = revoke.add_mutually_exclusive_group(required=True)
    what.add_argument("--jti", help="the token's jti (with --expires-at)")
    what.add_argument("--sid", help="the session's sid: its tokens issued up to now")
    what.add_argument("--sub", help="the subject's sub: its tokens issued up to now")
    revoke.add_argument(
        "--expires-at", type=float, metavar="EPOCH", help="with --jti: the token's exp"
    )
    revoke.add_argument(
        "--leeway", type=float, help="seconds a token is accepted past its exp (JWT_LEEWAY, 30)"
    )
    revocation_options(revoke, check_flag=False)
    revoke.add_argument("--json", action="store_true")
    revoke.set_defaults(func=run, usage_of=revoke)


def _entry(args: argparse.Namespace, listing: RevocationList, now: float) -> Revocation:
    if args.jti is not None:
        return listing.entry(
            "token", args.issuer, args.jti, at=now, until=args.expires_at + listing.leeway
        )
    kind, value = ("session", args.sid) if args.sid is not None else ("subject", args.sub)
    return listing.revoked_since(kind, args.issuer, value, now)


def run(args: argparse.Namespace) -> int:
    if args.jti is not None and args.expires_at is None:
        raise UsageError("--jti needs --expires-at: the token's exp (Unix seconds)")
    if args.jti is None and args.expires_at is not None:
        raise UsageError("--expires-at goes with --jti")
    if args.expires_at is not None and not math.isfinite(args.expires_at):
        raise UsageError("--expires-at: a Unix time")
    for name in ("jti", "sid", "sub"):
        if getattr(args, name) == "":
            raise UsageError(f"--{name}: empty")
    listing = revocation_list(args)
    now = time.time()
    entry = _entry(args, listing, now)

    async def store() -> None:
        try:
            await listing.store([entry], source="cli")
        finally:
            await listing.aclose()

    live = entry.expires_at > now
    try:
        if live:
            asyncio.run(store())
    except RevocationStoreError as exc:
        print(f"jwt-middleware: not stored: {exc}", file=sys.stderr)
        return EXIT_REJECTED
    report = {
        "stored": live,
        "kind": entry.kind,
        "issuer": entry.issuer,
        "fingerprint": entry.fingerprint,
        "revoked_at": utc(entry.revoked_at),
        "kept_until": utc(entry.expires_at) if live else None,
        "key": entry.key if live else None,
    }
    if args.json:
        json_out(report)
        return EXIT_OK
    style = Style(sys.stdout)
    whose = {"token": "the token", "session": "the session", "subject": "the subject"}[entry.kind]
    if not live:
        print(
            f"{style.bold('nothing stored')}: {whose} expired at {utc(entry.expires_at)} "
            "(its exp plus the leeway); it is refused as token_expired already"
        )
        return EXIT_OK
    print(
        f"{style.good('revoked')}  {whose} {entry.fingerprint} of issuer "
        f"{clip(entry.issuer, 120)}, at {report['revoked_at']}"
    )
    print(f"  kept until {report['kept_until']} in the list, key {entry.key}")
    return EXIT_OK
