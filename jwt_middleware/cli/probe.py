"""``jwt-middleware probe URL... --token T``: send a known-good token to every
instance of a fleet and say which refuse it.

Each URL gets one GET with ``Authorization: Bearer <token>`` (all at once,
``--timeout`` seconds each); a refusal shows the middleware's reason, detail and
hint from its problem body (for token_revoked, the detail says which kind and
since when). Exit 1 if any instance rejects the token or cannot be reached, 0
otherwise. The token is read from stdin when ``--token`` is not given.
Documented in docs/cli.md.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

import httpx

from ..outcome import Failure
from ..values.text import clip
from .common import (
    EXIT_OK,
    EXIT_REJECTED,
    Style,
    Subparsers,
    UsageError,
    json_out,
    read_token,
    strip_scheme,
)


def add_parser(subparsers: Subparsers) -> None:
    probe = subparsers.add_parser("probe", help="send a known-good token to each instance")
    probe.add_argument("urls", nargs="+", metavar="URL")
    probe.add_argument("--token", help="the token (default: stdin)")
    probe.add_argument("--timeout", type=float, default=5.0, help="seconds per request (5)")
    probe.add_argument("--json", action="store_true")
    probe.set_defaults(func=run, usage_of=probe)


async def _probe_one(client: httpx.AsyncClient, url: str, token: str) -> dict[str, Any]:
    try:
        response = await client.get(url, headers={"Authorization": f"Bearer {token}"})
    except httpx.HTTPError as exc:
        return {"url": url, "ok": False, "status": None, "reason": "unreachable",
                "hint": f"{type(exc).__name__}: {exc}"}  # fmt: skip
    result: dict[str, Any] = {"url": url, "status": response.status_code}
    result["ok"] = 200 <= response.status_code < 300
    if not result["ok"]:
        try:
            body = response.json()
        except ValueError:
            body = {}
        # An instance's answer is whatever that server sent: clipped and printable.
        for name, limit in (("reason", 64), ("hint", 600), ("detail", 600)):
            value = body.get(name) if isinstance(body, dict) else None
            result[name] = clip(value, limit) if value is not None else None
    return result


def run(args: argparse.Namespace) -> int:
    token = strip_scheme(read_token(args.token))
    if isinstance(token, Failure):
        raise UsageError(f"the token itself is malformed: {token.reason.value}: {token.detail}")

    async def probe_all() -> list[dict[str, Any]]:
        async with httpx.AsyncClient(timeout=args.timeout) as client:
            return list(await asyncio.gather(*(_probe_one(client, u, token) for u in args.urls)))

    results = asyncio.run(probe_all())
    failed = [r for r in results if not r["ok"]]
    if args.json:
        json_out({"ok": not failed, "results": results})
        return EXIT_REJECTED if failed else EXIT_OK
    style = Style(sys.stdout)
    width = max(len(r["url"]) for r in results)
    for r in results:
        mark = style.good("ok  ") if r["ok"] else style.bad("FAIL")
        status = str(r["status"]) if r["status"] is not None else "---"
        line = f"{mark} {r['url'].ljust(width)}  {status}"
        if not r["ok"]:
            line += f"  {r.get('reason') or '(no reason)'}"
        print(line)
        if not r["ok"] and r.get("detail"):  # what the instance saw: a revocation's time
            print(f"     {r['detail']}")
        if not r["ok"] and r.get("hint"):
            print(f"     {style.dim(str(r['hint']))}")
    print(f"{len(results) - len(failed)}/{len(results)} instances accept the token")
    return EXIT_REJECTED if failed else EXIT_OK
