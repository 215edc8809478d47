"""Revocation: what the status stage adds to a cached request, against the Redis round trip.

A local redis-server (127.0.0.1, a free port, no persistence) holds the revocation
list. The app is benchmarks/e2e_app.py's route behind JWTAuthMiddleware (RS256,
the token cached after the first call, metrics on in its own registry), called in
process on one asyncio event loop (the I/O is real: the revocation check awaits
Redis). The token is the benchmarks' typical access token plus a ``sid``: its
``jti``, ``sid`` and ``sub`` are three keys in the one ``MGET`` (the most a token
asks for). Variants, interleaved round-robin, ``n`` sequential requests per batch:

- off: the cached request without revocation (no status stage);
- on: the same request with ``JWT_REVOCATION_REDIS_URL`` set (nothing revoked:
  every request pays the whole lookup);
- raw MGET: redis-py's ``await client.mget(3 keys)`` on the client the list uses
  (the same socket timeout, no retries): the round trip the goal allows;
- raw bounded MGET: the same under ``asyncio.timeout(revocation_timeout)``, as the
  list bounds each lookup (the issue's "a small timeout"): the round trip plus the
  bound's timer;
- raw PING: one ``PING`` written and read on a plain asyncio socket: the network
  round trip under redis-py.

Reported: µs per request, wall time and this process's CPU (median over rounds,
IQR), the added cost (on - off, paired per round) and its ratio to the raw MGETs of
the same round (the goal: the round trip and no more, a ratio near 1; the target
row, :func:`targets`, allows :data:`GOAL_RATIO`). On a shared machine the wall time
of a round trip moves with when redis-server gets a core; the CPU column is what
the client side costs, the middleware's share included. Checked, from Redis's own
counters (``INFO``): exactly one ``MGET`` per request with revocation on, and no
connection opened while the requests ran (one client per event loop, its
connection reused).

    python -m benchmarks.revocation [--rounds 60] [--batch-ms 20] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from itertools import repeat
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.routing import Route

from jwt_middleware import JWTAuthMiddleware, Settings

from .common import (
    ANSWERS,
    AUDIENCE,
    ISSUER,
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
from .inprocess import base_scope
from .micro import Variant, calibrate

VARIANTS = (
    ("off", "cached request, revocation off"),
    ("on", "cached request, revocation on (one MGET of jti, sid, sub)"),
    ("mget", "raw: redis-py MGET of 3 keys, the list's client"),
    ("bounded", "raw: the same MGET under asyncio.timeout (the list's bound)"),
    ("ping", "raw: PING on a plain asyncio socket"),
)


def redis_binary() -> str:
    for candidate in (shutil.which("redis-server"), "/usr/bin/redis-server"):
        if candidate and Path(candidate).exists():
            return candidate
    raise SystemExit("redis-server not installed: sh scripts/ensure_redis.sh")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def redis_server(directory: Path) -> Iterator[int]:
    """redis-server on 127.0.0.1 (a free port, no persistence), stopped by PID at the end."""
    port = _free_port()
    argv = [redis_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", str(directory), "--daemonize", "no"]  # fmt: skip
    with (directory / "redis.log").open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", port), 0.5) as s,
            ):
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    break
            time.sleep(0.05)
        else:
            raise SystemExit("redis-server did not answer PING within 10 s")
        yield port
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def app_for(jwks_file: str, url: str | None) -> JWTAuthMiddleware:
    settings = Settings(
        jwks_file=jwks_file,
        issuer=ISSUER,
        audience=AUDIENCE,
        algorithms=("RS256",),
        revocation_redis_url=url,
    )
    return JWTAuthMiddleware(
        Starlette(routes=[Route("/", plain)]), settings, registry=CollectorRegistry()
    )


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


def requests(
    loop: asyncio.AbstractEventLoop, app: Any, scope: dict[str, Any]
) -> Callable[[int], None]:
    """n sequential requests through ``app``, on ``loop``; each must answer 200."""
    statuses: list[int] = []

    async def send(message: Any) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])
        elif message["body"] not in ANSWERS:
            raise AssertionError(message)

    async def run(n: int) -> None:
        for _ in repeat(None, n):
            s = scope.copy()
            s["state"] = {}
            await app(s, _receive, send)

    def batch(n: int) -> None:
        statuses.clear()
        loop.run_until_complete(run(n))
        assert statuses == [200] * n, statuses[:5]

    return batch


def raw_mget(
    loop: asyncio.AbstractEventLoop, client: Any, keys: list[str]
) -> Callable[[int], None]:
    async def run(n: int) -> None:
        for _ in repeat(None, n):
            await client.mget(keys)

    return lambda n: loop.run_until_complete(run(n))


def raw_bounded_mget(
    loop: asyncio.AbstractEventLoop, client: Any, keys: list[str], timeout: float
) -> Callable[[int], None]:
    async def run(n: int) -> None:
        for _ in repeat(None, n):
            async with asyncio.timeout(timeout):
                await client.mget(keys)

    return lambda n: loop.run_until_complete(run(n))


def raw_ping(loop: asyncio.AbstractEventLoop, port: int) -> Callable[[int], None]:
    streams: list[Any] = []

    async def run(n: int) -> None:
        if not streams:
            streams.extend(await asyncio.open_connection("127.0.0.1", port))
        reader, writer = streams
        for _ in repeat(None, n):
            writer.write(b"PING\r\n")
            await reader.readuntil(b"\r\n")

    return lambda n: loop.run_until_complete(run(n))


def run_rounds(variants: list[Variant], rounds: int) -> dict[str, list[float]]:
    """micro.run_rounds, also timing this process's CPU: per variant, µs of CPU per call
    and round (wall time goes to ``samples`` as in micro.py). On a shared machine the
    wall time of a round trip moves with the scheduling of redis-server; the CPU this
    process spends on a request is what the middleware itself costs."""
    cpu: dict[str, list[float]] = {v.key: [] for v in variants}
    gc.collect()
    gc.disable()
    try:
        for r in range(rounds):
            k = r % len(variants)
            for v in variants[k:] + variants[:k]:
                c0, t0 = time.process_time_ns(), time.perf_counter_ns()
                v.batch(v.n)
                t1, c1 = time.perf_counter_ns(), time.process_time_ns()
                v.samples.append((t1 - t0) / v.n / 1000.0)
                cpu[v.key].append((c1 - c0) / v.n / 1000.0)
            if r % 10 == 9:
                gc.collect()
    finally:
        gc.enable()
    return cpu


def redis_counters(port: int) -> tuple[int, int]:
    """(connections ever received, MGET calls), from INFO on a connection of its own."""
    with socket.create_connection(("127.0.0.1", port), 2) as s:
        s.sendall(b"INFO stats\r\nINFO commandstats\r\n")
        data = b""
        while data.count(b"\r\n\r\n") < 2 or b"cmdstat" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    text = data.decode()
    connections = int(text.split("total_connections_received:")[1].split("\r\n")[0])
    mget = text.split("cmdstat_mget:calls=")
    return connections, int(mget[1].split(",")[0]) if len(mget) > 1 else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rounds", type=int, default=int(os.environ.get("BENCH_REVOCATION_ROUNDS", 60))
    )
    parser.add_argument("--batch-ms", type=float, default=20.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    started = time.monotonic()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    with (
        tempfile.TemporaryDirectory(prefix="jwt-bench-revocation-") as tmp,
        redis_server(Path(tmp)) as port,
    ):
        url = f"redis://127.0.0.1:{port}/0"
        keys = make_keys("RS256", 4)
        jwks_file = Path(tmp) / "jwks.json"
        jwks_file.write_text(json.dumps({"keys": keys.jwks}))
        claims = typical_claims() | {"sid": "c0ffee00-5e55-4e55-a1a1-0123456789ab"}
        token = sign(claims, keys)
        scope = base_scope(token)
        with contextlib.redirect_stdout(sys.stderr):  # structlog's default logger prints
            off, on = app_for(str(jwks_file), None), app_for(str(jwks_file), url)
        assert on.revocation is not None
        revocations = on.revocation.list
        kinds, lookup = revocations.keys_of(claims)
        assert kinds == ("token", "session", "subject"), kinds
        for app in (off, on):  # the first request verifies and caches the token
            requests(loop, app, scope)(2)

        async def list_client() -> Any:  # the list's own client, made on this loop
            return revocations._connection.client()

        client = loop.run_until_complete(list_client())
        variants = [
            Variant("redis", "off", VARIANTS[0][1], requests(loop, off, scope)),
            Variant("redis", "on", VARIANTS[1][1], requests(loop, on, scope)),
            Variant("redis", "mget", VARIANTS[2][1], raw_mget(loop, client, lookup)),
            Variant(
                "redis",
                "bounded",
                VARIANTS[3][1],
                raw_bounded_mget(loop, client, lookup, revocations.timeout),
            ),
            Variant("redis", "ping", VARIANTS[4][1], raw_ping(loop, port)),
        ]
        for v in variants:
            calibrate(v, args.batch_ms, 100_000)
        log(f"revocation: {len(variants)} variants x {args.rounds} rounds (load {loadavg()})")
        connections_before, mget_before = redis_counters(port)
        calls = {"on": 0, "mget": 0, "bounded": 0}  # requests and raw MGETs timed

        def counting(v: Variant) -> Callable[[int], None]:
            original = v.batch

            def batch(n: int) -> None:
                calls[v.key] += n
                original(n)

            return batch

        for v in variants:
            if v.key in calls:
                v.batch = counting(v)
        cpu = run_rounds(variants, args.rounds)
        connections_after, mget_after = redis_counters(port)
        loop.run_until_complete(on.shutdown())
    loop.close()
    by_key = {v.key: v for v in variants}
    added = [a - b for a, b in zip(by_key["on"].samples, by_key["off"].samples, strict=True)]
    per_round = [a / m for a, m in zip(added, by_key["mget"].samples, strict=True) if m > 0]
    per_bounded = [a / m for a, m in zip(added, by_key["bounded"].samples, strict=True) if m > 0]
    added_cpu = [a - b for a, b in zip(cpu["on"], cpu["off"], strict=True)]
    cpu_per_round = [a / m for a, m in zip(added_cpu, cpu["mget"], strict=True) if m > 0]
    rows = {
        v.key: {
            "label": v.label,
            "us": median(v.samples),
            "iqr_pct": iqr_pct(v.samples),
            "cpu_us": median(cpu[v.key]),
            "cpu_iqr_pct": iqr_pct(cpu[v.key]),
            "calls_per_batch": v.n,
        }
        for v in variants
    }
    data: dict[str, Any] = {
        "rounds": args.rounds,
        "batch_ms": args.batch_ms,
        "variants": rows,
        "added_us": median(added),
        "added_iqr_pct": iqr_pct(added),
        "added_over_mget": median(per_round),
        "added_over_bounded": median(per_bounded),
        "added_cpu_us": median(added_cpu),
        "added_cpu_iqr_pct": iqr_pct(added_cpu),
        "added_cpu_over_mget": median(cpu_per_round),
        "mget_per_request": (mget_after - mget_before - calls["mget"] - calls["bounded"])
        / calls["on"],
        # the second INFO's own connection is one of those Redis received
        "connections_opened": connections_after - connections_before - 1,
        "requests_timed": calls["on"],
        "seconds": round(time.monotonic() - started, 1),
        "load_after": loadavg(),
    }
    data["description"] = (
        "A local redis-server (127.0.0.1, no persistence) holds the list; the app is "
        "benchmarks/e2e_app.py's route behind JWTAuthMiddleware (RS256, metrics on in its own "
        "registry), called in process on one event loop with the same token (cached after its "
        "first request: a hit), which has a jti, a sid and a sub: three keys in its one MGET, "
        "the most a token asks for; nothing revoked, so every request pays the whole lookup. "
        f"All variants interleaved round-robin, {args.rounds} rounds, batches of about "
        f"{args.batch_ms:g} ms of sequential requests, gc disabled while timing; median µs per "
        "request, wall time and this process's CPU, with the round-to-round IQR. The raw rows "
        "are the round trip the goal allows: redis-py's MGET of the same three keys on the "
        "list's own client, bare and under asyncio.timeout as the list bounds each lookup, and "
        "a PING on a plain socket (the network under redis-py). Redis's own counters (INFO) "
        "check one MGET per request and no connection opened while the requests ran. On this "
        "shared machine a round trip's wall time moves with when redis-server gets a core. "
        "See benchmarks/revocation.py."
    )
    text = render(data)
    print(text)
    if args.json:
        data["markdown"] = text
        args.json.write_text(json.dumps(data, indent=1))
    return 0


#: The goal's tolerance: the wall time revocation adds to a cached request, over the
#: bounded raw MGET of the same round. A round trip's wall time spreads by 30-40% from
#: round to round on the shared 2-core machine (the IQR columns), so "the round trip and
#: no more" is read as within half a round trip of it; the structural half of the goal
#: (one MGET, no connection set-up) is counted exactly, by Redis.
GOAL_RATIO = 1.5


def targets(data: dict[str, Any] | None) -> list[list[str]]:
    """Issue 23's target: [target, measured, status, gap] (make bench's RESULTS.md)."""
    name = (
        "cached request with revocation on, against the same request without it: the Redis "
        f"round trip and no more (one MGET per request, no connection opened, the added time "
        f"<= {GOAL_RATIO:g}x the raw MGET under the list's timeout)"
    )
    if not data:
        return [[name, "not in this run's results", "-", "-"]]
    ratio = data["added_over_bounded"]
    gaps = []
    if data["mget_per_request"] != 1:
        gaps.append(f"{data['mget_per_request']:.3f} MGET per request")
    if data["connections_opened"]:
        gaps.append(f"{data['connections_opened']} connections opened")
    if ratio > GOAL_RATIO:
        gaps.append(f"+{ratio - GOAL_RATIO:.2f}x")
    v = data["variants"]
    measured = (
        f"+{data['added_us']:.0f} µs per request ({v['off']['us']:.0f} -> {v['on']['us']:.0f} µs) "
        f"= {fmt_x(ratio)} the bounded MGET ({v['bounded']['us']:.0f} µs; bare MGET "
        f"{v['mget']['us']:.0f} µs, {fmt_x(data['added_over_mget'])}); CPU +"
        f"{data['added_cpu_us']:.0f} µs = {fmt_x(data['added_cpu_over_mget'])} the bare MGET's; "
        f"{data['mget_per_request']:.3f} MGET per request, {data['connections_opened']} "
        "connections opened"
    )
    return [[name, measured, "not met" if gaps else "met", ", ".join(gaps) or "-"]]


def fmt_x(x: float) -> str:
    return f"{x:.2f}x"


def render(data: dict[str, Any]) -> str:
    rows = [
        [
            r["label"],
            f"{r['us']:.1f}",
            f"{r['iqr_pct']:.0f}%",
            f"{r['cpu_us']:.1f}",
            f"{r['cpu_iqr_pct']:.0f}%",
        ]
        for key, _ in VARIANTS
        for r in [data["variants"][key]]
    ]
    return "\n".join(
        [
            table(["variant", "µs/request", "µs IQR", "CPU µs/request", "CPU IQR"], rows),
            "",
            f"Revocation on adds {data['added_us']:.1f} µs of wall time per cached request "
            f"(on - off, paired per round; IQR {data['added_iqr_pct']:.0f}%), "
            f"{data['added_over_mget']:.2f}x the raw redis-py MGET of the same round "
            f"({data['added_over_bounded']:.2f}x the same MGET under the list's timeout); and "
            f"{data['added_cpu_us']:.1f} µs of this process's CPU (IQR "
            f"{data['added_cpu_iqr_pct']:.0f}%), {data['added_cpu_over_mget']:.2f}x the raw "
            "MGET's. "
            f"Redis counted {data['mget_per_request']:.3f} MGET per request over "
            f"{data['requests_timed']} requests, and {data['connections_opened']} "
            "connections opened while they ran.",
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
