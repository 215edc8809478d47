"""Where the time goes: pyinstrument profiles of the hot paths, and a stage breakdown.

- ``profile-rs256.txt``, ``profile-hs256.txt``: ``Verifier.verify`` on a fresh
  token (cache off, so every call parses, checks the signature and the
  claims), a typical ~800-byte token, key set of 4 keys with kids.
- ``profile-middleware-hit.txt``: ``JWTAuthMiddleware.__call__`` (defaults:
  metrics on) with a cached token and a do-nothing inner app: what a request
  pays beyond the cache hit (the end-to-end overhead).

Each file starts with a stage breakdown measured without the profiler
(median µs of interleaved batches): the primitive alone, the cheap decoder,
the claims policy, the whole ``verify`` (memo warm), and for reference the
strict decoder and ``verify`` with a cold memo (a header not seen before).
The profile itself uses pyinstrument's statistical sampler (``--interval``,
default 0.1 ms) over ``--seconds`` of calls in a loop.

    python -m benchmarks.profile_hot_path [--seconds 3] [--html] [--out benchmarks/]
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tempfile
import time
from collections.abc import Callable
from itertools import repeat
from pathlib import Path
from typing import Any

from pyinstrument import Profiler
from pyinstrument import __version__ as pyinstrument_version

from jwt_middleware import (
    Failure,
    JWTAuthMiddleware,
    Settings,
    VerifiedToken,
    Verifier,
    load_static_keys,
)

from .common import AUDIENCE, BENCH_DIR, ISSUER, log, make_keys, median, sign, typical_claims


def _batch_us(fn: Callable[[], Any], n: int) -> float:
    t0 = time.perf_counter_ns()
    for _ in repeat(None, n):
        fn()
    return (time.perf_counter_ns() - t0) / n / 1000.0


def breakdown(stages: list[tuple[str, Callable[[], Any]]], rounds: int = 40) -> dict[str, float]:
    """Median µs per call of each stage, interleaved rounds of ~3 ms batches."""
    sizes = []
    for _, fn in stages:
        per = _batch_us(fn, 50)
        sizes.append(max(5, int(3000 / max(per, 0.05))))
    samples: list[list[float]] = [[] for _ in stages]
    gc.collect()
    gc.disable()
    try:
        for _ in range(rounds):
            for i, (_, fn) in enumerate(stages):
                samples[i].append(_batch_us(fn, sizes[i]))
    finally:
        gc.enable()
    return {name: median(s) for (name, _), s in zip(stages, samples, strict=True)}


def breakdown_lines(medians: dict[str, float]) -> str:
    width = max(len(name) for name in medians)
    return "\n".join(f"  {name.ljust(width)}  {us:8.2f} µs" for name, us in medians.items())


def profile(fn: Callable[[], Any], seconds: float, interval: float) -> Profiler:
    profiler = Profiler(interval=interval)
    deadline = time.perf_counter() + seconds
    profiler.start()
    while time.perf_counter() < deadline:
        for _ in repeat(None, 200):
            fn()
    profiler.stop()
    return profiler


def verifier_for(alg: str, tmp: Path, **extra: Any) -> tuple[Verifier, str, Any]:
    keys = make_keys(alg, 4)
    jwks = tmp / f"jwks-{alg}.json"
    jwks.write_text(json.dumps({"keys": keys.jwks}))
    settings = Settings(
        jwks_file=str(jwks), issuer=ISSUER, audience=AUDIENCE, algorithms=(alg,), **extra
    )
    verifier = Verifier(settings, load_static_keys(settings).keyset)
    token = sign(typical_claims(), keys)
    return verifier, token, settings


def verify_report(
    alg: str, tmp: Path, seconds: float, interval: float
) -> tuple[str, Profiler, dict[str, float]]:
    from jwt_middleware.tokens.structure import decode_body, parse_compact

    verifier, token, _ = verifier_for(alg, tmp, token_cache_entries=0)
    assert isinstance(verifier.verify(token), VerifiedToken)  # memoises the header's plan
    parsed = parse_compact(token)
    assert not isinstance(parsed, Failure)
    key = verifier.keyset.by_kid[parsed.header["kid"]]
    primitive = key.verifiers[alg]
    msg, sig = parsed.signing_input, parsed.signature
    dot = token.find(".")
    body = decode_body(token, dot)
    assert body is not None, "the benchmark token must take the fast path"
    claims = body[1]
    now = verifier.clock()

    def cold() -> Any:
        verifier._memo.clear()
        return verifier.verify(token)

    stages = [
        ("primitive (prepared key.verifiers[alg])", lambda: primitive(msg, sig)),
        ("decode_body (fast path: payload, signature)", lambda: decode_body(token, dot)),
        ("claims policy (ClaimsPolicy.problems)", lambda: verifier.policy.problems(claims, now)),
        ("verify (the whole, cache off, memo warm)", lambda: verifier.verify(token)),
        ("ref: verify with a cold memo (a header not seen before)", cold),
        ("ref: parse_compact (the strict decoder)", lambda: parse_compact(token)),
    ]  # fmt: skip
    medians = breakdown(stages)
    log(f"profile: {alg} verify (cache off), {seconds:g} s")
    prof = profile(lambda: verifier.verify(token), seconds, interval)
    head = (
        f"Verifier.verify, {alg}, fresh token (cache off), token {len(token)} bytes, "
        "key set of 4 keys with kids, iss and aud configured.\n\n"
        "Stage breakdown (median µs, no profiler):\n" + breakdown_lines(medians) + "\n"
    )
    return head, prof, medians


def middleware_report(
    tmp: Path, seconds: float, interval: float
) -> tuple[str, Profiler, dict[str, float]]:
    verifier, token, _ = verifier_for("RS256", tmp)

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        return None

    middleware = JWTAuthMiddleware(inner, verifier=verifier)  # defaults: global registry
    scope_headers = [
        (b"host", b"127.0.0.1:8000"),
        (b"user-agent", b"wrk"),
        (b"authorization", b"Bearer " + token.encode()),
    ]

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        raise AssertionError(f"rejected: {message}")

    def scope() -> dict[str, Any]:
        return {"type": "http", "method": "GET", "path": "/", "headers": scope_headers}

    call = middleware.__call__

    def one() -> None:
        coro = call(scope(), receive, send)
        try:
            coro.send(None)
        except StopIteration:
            pass
        else:  # pragma: no cover - the inner app never awaits
            raise AssertionError("middleware awaited")

    one()
    assert verifier.cache is not None and len(verifier.cache) == 1
    stages = [
        ("Verifier.verify (cache hit)", lambda: verifier.verify(token)),
        ("JWTAuthMiddleware.__call__ (cache hit, metrics on)", one),
    ]
    medians = breakdown(stages)
    log(f"profile: middleware, cached token, {seconds:g} s")
    prof = profile(one, seconds, interval)
    head = (
        "JWTAuthMiddleware.__call__ with a cached RS256 token (defaults: global Prometheus "
        "registry), a do-nothing inner app, the coroutine driven directly (no event loop, "
        "no server).\n\nStage breakdown (median µs, no profiler):\n"
        + breakdown_lines(medians)
        + "\n"
    )
    return head, prof, medians


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--interval", type=float, default=0.0001)
    parser.add_argument("--html", action="store_true", help="also write .html profiles")
    parser.add_argument("--out", type=Path, default=BENCH_DIR)
    parser.add_argument("--json", type=Path, help="write the stage breakdowns here")
    args = parser.parse_args(argv)
    written = []
    with tempfile.TemporaryDirectory(prefix="jwt-bench-prof-") as tmp_name:
        tmp = Path(tmp_name)
        reports = [
            ("profile-rs256", *verify_report("RS256", tmp, args.seconds, args.interval)),
            ("profile-hs256", *verify_report("HS256", tmp, args.seconds, args.interval)),
            ("profile-middleware-hit", *middleware_report(tmp, args.seconds, args.interval)),
        ]
    for name, head, prof, _ in reports:
        text = prof.output_text(unicode=True, color=False, show_all=False, short_mode=False)
        path = args.out / f"{name}.txt"
        path.write_text(
            f"{head}\npyinstrument {pyinstrument_version}, interval {args.interval * 1000:g} ms, "
            f"python -m benchmarks.profile_hot_path\n{text}"
        )
        written.append(path)
        if args.html:
            html = args.out / f"{name}.html"
            html.write_text(prof.output_html())
            written.append(html)
        print(f"== {path.name}\n{head}")
    if args.json:
        args.json.write_text(json.dumps({name: medians for name, _, _, medians in reports}))
    log("profile: wrote " + ", ".join(str(p.relative_to(args.out.parent)) for p in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
