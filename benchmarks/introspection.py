"""Introspection (issue 22): a cached opaque token against a cached JWT, and a miss.

Two measurements, against a local introspection endpoint (a minimal asyncio HTTP/1.1
server in a child process on 127.0.0.1, keep-alive, answering every POST with the
same ``active: true`` JSON):

1. **Cached**, in process as benchmarks/inprocess.py measures (its scope, caller and
   method: batches round-robin, gc off, µs per ASGI call driven with ``send(None)``):
   the bare route; JWTAuthMiddleware with a cached JWT (metrics on); the same with
   introspection configured and a cached JWT (what configuring it costs a JWT); and
   with a cached opaque token, answered from the introspection cache. Goal: the
   opaque token's overhead over bare equal to the JWT's.
2. **A miss**, in one event loop: each round times the middleware with a new opaque
   token (a call to the endpoint, the answer read and judged, the cache filled), then
   a plain httpx POST of the same form to the same endpoint (its own latency as a
   client sees it, keep-alive both); the difference, paired per round, is what a miss
   costs beyond the endpoint's latency.

    python -m benchmarks.introspection [--rounds 200] [--miss-rounds 400] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from jwt_middleware import JWTAuthMiddleware, Settings

from .common import (
    AUDIENCE,
    ISSUER,
    SUBJECT,
    iqr_pct,
    loadavg,
    log,
    make_keys,
    median,
    sign,
    table,
    typical_claims,
)
from .e2e_app import plain
from .inprocess import _iqr, base_scope, caller, check
from .micro import Variant, calibrate, run_rounds

#: An opaque token as authorization servers issue them (Hydra's shape: ~80 characters).
OPAQUE = "ory_at_" + "x" * 43 + "." + "y" * 43
VARIANTS = (
    ("bare", "bare Starlette route"),
    ("jwt", "JWTAuthMiddleware + route, metrics on, cached JWT"),
    ("jwt-introspection", "same, introspection configured, cached JWT"),
    ("opaque", "same, cached opaque token (introspection cache)"),
)


# --- the local endpoint ---------------------------------------------------------------


def _answer() -> bytes:
    body = json.dumps(
        {
            "active": True,
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": SUBJECT,
            "scope": "openid orders:read",
            "client_id": "bench",
            "exp": int(time.time()) + 86400,
        }
    ).encode()
    head = (
        f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
    ).encode()
    return head + body


async def _serve(port: int) -> None:
    answer = _answer()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                await reader.readexactly(length)
                writer.write(answer)
                await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=256)
    async with server:
        await server.serve_forever()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def endpoint() -> Any:
    """The local endpoint in a child process; yields its URL."""
    port = _free_port()
    proc = subprocess.Popen(  # noqa: S603 - our own module
        [sys.executable, "-m", "benchmarks.introspection", "--serve", str(port)]
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/introspect"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# --- the apps ---------------------------------------------------------------------------


def _app(jwks_file: str, url: str | None, registry: CollectorRegistry | None) -> Any:
    extra: dict[str, Any] = {}
    if url is not None:
        extra = {
            "introspection_url": url,
            "introspection_client_id": "bench",
            "introspection_client_secret": "bench-secret",
            "introspection_cache_seconds": 3600.0,
            "introspection_cache_entries": 1_000_000,
        }
    settings = Settings(
        jwks_file=jwks_file, issuer=ISSUER, audience=AUDIENCE, algorithms=("RS256",), **extra
    )
    middleware = Middleware(JWTAuthMiddleware, settings=settings, registry=registry)
    return Starlette(routes=[Route("/", plain)], middleware=[middleware])


def _prime(app: Any, scope: dict[str, Any]) -> None:
    """One request in an event loop (a miss may call the endpoint), answered 200."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    s = scope.copy()
    s["state"] = {}
    asyncio.run(app(s, receive, send))
    assert sent and sent[0]["status"] == 200, sent


def cached(jwks_file: str, url: str, token: str, rounds: int, batch_ms: float) -> dict[str, Any]:
    variants: list[Variant] = []
    for key, label in VARIANTS:
        with contextlib.redirect_stdout(sys.stderr):
            if key == "bare":
                app: Any = Starlette(routes=[Route("/", plain)])
                scope = base_scope(token)
            else:
                introspected = key in ("jwt-introspection", "opaque")
                app = _app(jwks_file, url if introspected else None, CollectorRegistry())
                scope = base_scope(OPAQUE if key == "opaque" else token)
                _prime(app, scope)  # the miss: verified, or introspected, and cached
            seen = check(app, scope)  # a hit: no real future awaited
        if key != "bare":
            assert seen["user"].identity == SUBJECT, (key, seen["user"])
        variants.append(Variant("asgi", key, label, caller(app, scope)))
    for v in variants:
        calibrate(v, batch_ms, 1_000_000)
    log(f"introspection, cached: {len(variants)} variants x {rounds} rounds (load {loadavg()})")
    run_rounds(variants, rounds)
    bare = variants[0].samples
    rows: dict[str, Any] = {}
    for v in variants:
        over = [s - b for s, b in zip(v.samples, bare, strict=True)]
        rows[v.key] = {
            "label": v.label,
            "us": median(v.samples),
            "iqr_pct": iqr_pct(v.samples),
            "overhead_us": median(over),
            "overhead_iqr_us": _iqr(over),
        }
    jwt_over = [s - b for s, b in zip(variants[1].samples, bare, strict=True)]
    opaque_over = [s - b for s, b in zip(variants[3].samples, bare, strict=True)]
    per_round = [o / j for o, j in zip(opaque_over, jwt_over, strict=True) if j > 0]
    return {
        "rounds": rounds,
        "rows": rows,
        "opaque_over_jwt": median(per_round),
        "opaque_over_jwt_iqr": _iqr(per_round),
    }


async def _miss_rounds(jwks_file: str, url: str, rounds: int) -> dict[str, Any]:
    app = _app(jwks_file, url, CollectorRegistry())
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    misses: list[float] = []
    raws: list[float] = []
    form = {"token": OPAQUE, "token_type_hint": "access_token"}
    async with httpx.AsyncClient(trust_env=False) as client:
        for i in range(rounds + 20):  # the first 20: warm-up (connections, imports)
            scope = base_scope(f"{OPAQUE}-{i}")
            scope["state"] = {}
            sent.clear()
            t0 = time.perf_counter_ns()
            await app(scope, receive, send)
            t1 = time.perf_counter_ns()
            assert sent[0]["status"] == 200, sent
            await client.post(url, data=form, auth=("bench", "bench-secret"))
            t2 = time.perf_counter_ns()
            if i >= 20:
                misses.append((t1 - t0) / 1000.0)
                raws.append((t2 - t1) / 1000.0)
    beyond = [m - r for m, r in zip(misses, raws, strict=True)]
    return {
        "rounds": rounds,
        "miss_us": median(misses),
        "miss_iqr_pct": iqr_pct(misses),
        "endpoint_us": median(raws),
        "endpoint_iqr_pct": iqr_pct(raws),
        "beyond_us": median(beyond),
        "beyond_iqr_us": _iqr(beyond),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument(
        "--rounds", type=int, default=int(os.environ.get("BENCH_INPROC_ROUNDS", 200))
    )
    parser.add_argument(
        "--miss-rounds", type=int, default=int(os.environ.get("BENCH_INTROSPECTION_MISSES", 400))
    )
    parser.add_argument("--batch-ms", type=float, default=4.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if args.serve:
        asyncio.run(_serve(args.serve))
        return 0
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="jwt-bench-introspection-") as tmp, endpoint() as url:
        keys = make_keys("RS256", 4)
        jwks_file = Path(tmp) / "jwks.json"
        jwks_file.write_text(json.dumps({"keys": keys.jwks}))
        token = sign(typical_claims(), keys)
        data = {"cached": cached(str(jwks_file), url, token, args.rounds, args.batch_ms)}
        with contextlib.redirect_stdout(sys.stderr):
            data["miss"] = asyncio.run(_miss_rounds(str(jwks_file), url, args.miss_rounds))
    data["seconds"] = round(time.monotonic() - started, 1)
    print(render(data))
    if args.json:
        args.json.write_text(json.dumps(data, indent=2))
    return 0


def render(data: dict[str, Any]) -> str:
    c, m = data["cached"], data["miss"]
    rows = [
        [
            r["label"],
            f"{r['us']:.2f}",
            f"{r['iqr_pct']:.1f}%",
            f"{r['overhead_us']:.2f}",
            f"{r['overhead_iqr_us']:.2f}",
        ]
        for r in c["rows"].values()
    ]
    miss_rows = [
        [label, f"{m[us]:.0f}", spread]
        for label, us, spread in (
            ("middleware request, new opaque token", "miss_us", f"{m['miss_iqr_pct']:.1f}%"),
            ("the endpoint alone (httpx POST)", "endpoint_us", f"{m['endpoint_iqr_pct']:.1f}%"),
            ("a miss beyond the endpoint (paired)", "beyond_us", f"{m['beyond_iqr_us']:.0f} µs"),
        )
    ]
    out = [
        f"In process, cached requests ({c['rounds']} rounds): µs per ASGI call, overhead "
        "over bare paired per round",
        "",
        table(["variant", "µs/call", "IQR", "overhead µs", "overhead IQR µs"], rows, "lrrrr"),
        "",
        f"cached opaque token / cached JWT, overhead over bare (median of per-round ratios): "
        f"{c['opaque_over_jwt']:.2f}x (IQR {c['opaque_over_jwt_iqr']:.2f}; goal: equal)",
        "",
        f"A miss ({m['rounds']} rounds, a local endpoint, keep-alive):",
        "",
        table(["measured", "median µs", "IQR"], miss_rows, "lrr"),
    ]
    return "\n".join(out)


if __name__ == "__main__":
    raise SystemExit(main())
