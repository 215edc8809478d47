"""In process: µs per ASGI call of a cached request, bare app against the two middlewares.

The apps of benchmarks/e2e_app.py (``build_app``), called directly: no server, no
event loop. Each call gets a copy of one prebuilt HTTP scope (``GET /`` with the
same ~800-byte RS256 token in its single Authorization header), a no-op receive
and send, and the coroutine is driven with ``send(None)`` (nothing in these paths
awaits a real future, so it finishes at once; checked). Variants:

- bare: the Starlette route alone (the token ignored);
- minimal LRU: benchmarks/minimal_lru.py in front of it (the reference for what a
  cached request can cost: the LRU lookup, scope["user"] and scope["auth"]);
- JWTAuthMiddleware with metrics on (its own ``CollectorRegistry``), the token
  cached (the first call, before the timing, verified it);
- ref: JWTAuthMiddleware with metrics off (``registry=None``), for the cost of the
  metrics;
- JWTAuthMiddleware with ``JWT_METRICS=otel`` and opentelemetry-api alone (no SDK
  configured, none imported: the API's no-op instruments), against the metrics-on
  row (``prometheus``): the goal is at most 0.3 µs more per request, paired per
  round (issue 24).

Method as in micro.py (its ``calibrate`` and ``run_rounds``): batches of about
``--batch-ms`` ms, all variants round-robin with the order rotated each round,
the garbage collector disabled while timing, many rounds. Reported: the median
µs per call and its IQR; the ratio to the bare batch of the same round (its
median: ``x bare``); the overhead over bare in µs, paired per round (variant
minus the bare batch of the same round), its median and IQR; and the issue's
ratio, JWTAuthMiddleware's overhead over the minimal LRU middleware's (target
<= 1.5x), as (x bare - 1) of one over (x bare - 1) of the other: the host's
speed drifts by tens of percent over seconds, and relative overheads paired per
round do not drift with it. The median of the per-round ratio of the two
overheads and its IQR are shown as a check.

    python -m benchmarks.inprocess [--rounds 200] [--batch-ms 4] [--json out.json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from itertools import repeat
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from .common import (
    ANSWERS,
    iqr_pct,
    loadavg,
    log,
    make_keys,
    median,
    sign,
    table,
    typical_claims,
)
from .e2e_app import build_app
from .micro import Variant, calibrate, run_rounds

#: The issue's target: JWTAuthMiddleware's overhead over bare / the minimal LRU's.
TARGET_RATIO = 1.5

# (key, label, e2e_app variant, JWTAuthMiddleware registry: "new" / None / not used)
VARIANTS: tuple[tuple[str, str, str, str | None], ...] = (
    ("bare", "bare Starlette route", "bare", None),
    ("minimal-lru", "minimal LRU middleware + route", "minimal-lru", None),
    ("jwt", "JWTAuthMiddleware + route, metrics on, cached token", "jwt", "new"),
    ("jwt-nometrics", "ref: JWTAuthMiddleware + route, metrics off", "jwt", None),
    ("jwt-otel", "JWTAuthMiddleware + route, JWT_METRICS=otel, API alone", "jwt", None),
)
#: JWT_METRICS of the JWTAuthMiddleware variants (prometheus unless named here).
METRICS = {"jwt-otel": "otel"}
#: Issue 24's goal: JWT_METRICS=otel with the API alone, over prometheus (µs per request).
OTEL_GOAL_US = 0.3


def base_scope(token: str) -> dict[str, Any]:
    """An HTTP scope as uvicorn (httptools) builds it for ``GET /`` with the token."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "scheme": "http",
        "method": "GET",
        "root_path": "",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"authorization", b"Bearer " + token.encode("ascii")),
        ],
        "state": {},
    }


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(message: Any) -> None:
    return None


def caller(app: Any, scope: dict[str, Any]) -> Callable[[int], None]:
    """n calls of ``app`` with a fresh copy of ``scope`` (its state dict copied too)."""
    receive, send = _receive, _send

    def batch(n: int) -> None:
        for _ in repeat(None, n):
            s = scope.copy()
            s["state"] = {}
            coro = app(s, receive, send)
            try:
                coro.send(None)
            except StopIteration:
                continue
            coro.close()
            raise AssertionError("the ASGI call awaited a real future")

    return batch


def check(app: Any, scope: dict[str, Any]) -> dict[str, Any]:
    """One call with a recording send: must answer 200 ``ok``; returns the scope seen."""
    sent: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        sent.append(message)

    s = scope.copy()
    s["state"] = {}
    coro = app(s, _receive, send)
    try:
        coro.send(None)
    except StopIteration:
        pass
    else:
        coro.close()
        raise AssertionError("the ASGI call awaited a real future")
    assert sent and sent[0]["status"] == 200 and sent[1]["body"] in ANSWERS, sent
    return s


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rounds", type=int, default=int(os.environ.get("BENCH_INPROC_ROUNDS", 200))
    )
    parser.add_argument("--batch-ms", type=float, default=4.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    started = time.monotonic()

    with tempfile.TemporaryDirectory(prefix="jwt-bench-inproc-") as tmp:
        keys = make_keys("RS256", 4)
        jwks_file = Path(tmp) / "jwks.json"
        jwks_file.write_text(json.dumps({"keys": keys.jwks}))
        token = sign(typical_claims(), keys)
        scope = base_scope(token)
        variants: list[Variant] = []
        for key, label, app_variant, registry in VARIANTS:
            # structlog's default logger prints (keys loaded) to stdout: keep the tables alone.
            with contextlib.redirect_stdout(sys.stderr):
                app = build_app(
                    app_variant,
                    str(jwks_file),
                    registry=CollectorRegistry() if registry == "new" else None,
                    metrics=METRICS.get(key, "prometheus"),
                )
                seen = check(app, scope)  # the first call: a miss that caches the token
            if key != "bare":
                assert seen["user"].is_authenticated, (key, seen["user"])
                assert "authenticated" in seen["auth"].scopes, (key, seen["auth"].scopes)
            check(app, scope)  # the second: a hit
            variants.append(Variant("asgi", key, label, caller(app, scope)))
    assert "opentelemetry.sdk" not in sys.modules, "the otel row measures the API alone"
    for v in variants:
        calibrate(v, args.batch_ms, 1_000_000)
    log(f"inprocess: {len(variants)} variants x {args.rounds} rounds (load {loadavg()})")
    run_rounds(variants, args.rounds)

    by_key = {v.key: v for v in variants}
    bare = by_key["bare"].samples
    rows: dict[str, Any] = {}
    for v in variants:
        over = [s - b for s, b in zip(v.samples, bare, strict=True)]
        rows[v.key] = {
            "label": v.label,
            "us": median(v.samples),
            "iqr_pct": iqr_pct(v.samples),
            "x_bare": median([s / b for s, b in zip(v.samples, bare, strict=True)]),
            "overhead_us": median(over),
            "overhead_iqr_us": _iqr(over),
            "calls_per_batch": v.n,
            "samples_us": [round(s, 4) for s in v.samples],
        }
    jwt_over = [s - b for s, b in zip(by_key["jwt"].samples, bare, strict=True)]
    min_over = [s - b for s, b in zip(by_key["minimal-lru"].samples, bare, strict=True)]
    per_round = [j / m for j, m in zip(jwt_over, min_over, strict=True) if m > 0]
    ratio = (rows["jwt"]["x_bare"] - 1) / (rows["minimal-lru"]["x_bare"] - 1)
    otel_over = [
        o - p for o, p in zip(by_key["jwt-otel"].samples, by_key["jwt"].samples, strict=True)
    ]
    data: dict[str, Any] = {
        "rounds": args.rounds,
        "batch_ms": args.batch_ms,
        "token_bytes": len(token),
        "variants": rows,
        "target_ratio": TARGET_RATIO,
        "overhead_ratio": ratio,
        "overhead_ratio_round_median": median(per_round),
        "overhead_ratio_round_iqr": _iqr(per_round),
        "otel_minus_prometheus_us": median(otel_over),
        "otel_minus_prometheus_iqr_us": _iqr(otel_over),
        "otel_goal_us": OTEL_GOAL_US,
        "seconds": round(time.monotonic() - started, 1),
        "load_after": loadavg(),
    }
    text = render(data)
    print(text)
    log(f"inprocess: done in {data['seconds']} s")
    if args.json:
        data["markdown"] = text
        args.json.write_text(json.dumps(data, indent=1))
    return 0


def _iqr(values: list[float]) -> float:
    """Inter-quartile range in the values' unit."""
    if len(values) < 4:
        return float("nan")
    q = statistics.quantiles(values, n=4)
    return q[2] - q[0]


def render(data: dict[str, Any]) -> str:
    rows = []
    for key, *_ in VARIANTS:
        r = data["variants"][key]
        rows.append(
            [
                r["label"],
                f"{r['us']:.2f}",
                f"{r['iqr_pct']:.0f}%",
                f"{r['x_bare']:.2f}x",
                "-" if key == "bare" else f"+{r['overhead_us']:.2f}",
                "-" if key == "bare" else f"{r['overhead_iqr_us']:.2f}",
            ]
        )
    ratio = data["overhead_ratio"]
    jwt, minimal = data["variants"]["jwt"], data["variants"]["minimal-lru"]
    return "\n".join(
        [
            table(
                [
                    "variant",
                    "µs/call",
                    "µs IQR",
                    "x bare",
                    "overhead µs (paired)",
                    "overhead IQR µs",
                ],
                rows,
            ),
            "",
            f"JWTAuthMiddleware overhead / minimal LRU overhead: {ratio:.2f}x "
            f"(({jwt['x_bare']:.3f} - 1) / ({minimal['x_bare']:.3f} - 1); target <= "
            f"{data['target_ratio']:g}x; the ratio of µs overheads per round: median "
            f"{data['overhead_ratio_round_median']:.2f}x, IQR "
            f"{data['overhead_ratio_round_iqr']:.2f}x).",
            *(
                [
                    "",
                    f"JWT_METRICS=otel (API alone) minus prometheus, paired per round: "
                    f"{data['otel_minus_prometheus_us']:+.2f} µs per request (IQR "
                    f"{data['otel_minus_prometheus_iqr_us']:.2f}; goal <= "
                    f"+{data['otel_goal_us']:g} µs).",
                ]
                if "otel_minus_prometheus_us" in data
                else []
            ),
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
