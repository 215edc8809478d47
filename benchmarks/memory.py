"""Memory: the example app's resident set after N requests carrying M distinct valid tokens.

The example app (``example_app.app:create_app``, FastAPI behind
JWTAuthMiddleware, configured from JWT_JWKS_FILE/JWT_ISSUER/JWT_AUDIENCE, the
default verified-token cache: 10 000 entries, 32 MiB estimated) runs in one
uvicorn process on 127.0.0.1. wrk (-t1 -c16) sends ``GET /me`` with M
distinct valid RS256 tokens in round-robin order (each token every M
requests: with M above the cache's capacity every request is a miss that
inserts and evicts, the cache's worst case), in chunks of a few seconds until
N requests are done; the uvicorn process's RSS is read from /proc/<pid>/statm
before the load (after startup and one request) and after every chunk.

The check: RSS growth stays within the cache bound (``token_cache_bytes``,
its own estimate of resident bytes) plus a fixed margin (16 MiB, for the
allocator's arenas, interpreter caches and the server's buffers). Also
measured in-process: the real bytes per cache entry (tracemalloc) against the
cache's estimate (``cache.entry_size``).

    python -m benchmarks.memory [--requests N] [--tokens M] [--json out.json]

``make bench`` runs N=200 000, M=20 000 (BENCH_MEMORY_REQUESTS, BENCH_MEMORY_TOKENS);
the issue's full size is ``BENCH_MEMORY_REQUESTS=1000000 BENCH_MEMORY_TOKENS=100000``
(about 6 to 8 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from jwt_middleware import Settings, Verifier, load_static_keys
from jwt_middleware.tokens.cache import entry_size

from .common import AUDIENCE, ISSUER, log, make_keys, sign, table, typical_claims
from .server import get, load, start_uvicorn

MiB = 1024 * 1024
MARGIN = 16 * MiB


def entry_bytes(jwks_file: Path, tokens: list[str]) -> dict[str, float]:
    """Real traced bytes per cache entry (one verified token) against the estimate."""
    settings = Settings(
        jwks_file=str(jwks_file),
        issuer=ISSUER,
        audience=AUDIENCE,
        token_cache_entries=len(tokens) + 1,
        token_cache_bytes=1 << 40,
    )
    verifier = Verifier(settings, load_static_keys(settings).keyset)
    assert verifier.cache is not None
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for t in tokens:
        verifier.verify(t)
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert len(verifier.cache) == len(tokens)
    real = (after - before) / len(tokens)
    estimate = sum(entry_size(t) for t in tokens) / len(tokens)
    return {"entries": len(tokens), "real_bytes": real, "estimate_bytes": estimate}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--requests", type=int, default=int(os.environ.get("BENCH_MEMORY_REQUESTS", 200_000))
    )
    parser.add_argument(
        "--tokens", type=int, default=int(os.environ.get("BENCH_MEMORY_TOKENS", 20_000))
    )
    parser.add_argument("--chunk-seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--wrk", default=os.environ.get("WRK", "wrk"))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    started = time.monotonic()

    with tempfile.TemporaryDirectory(prefix="jwt-bench-mem-") as tmp_name:
        tmp = Path(tmp_name)
        keys = make_keys("RS256", 2)
        jwks_file = tmp / "jwks.json"
        jwks_file.write_text(json.dumps({"keys": keys.jwks}))
        log(f"memory: minting {args.tokens} RS256 tokens")
        # Valid for the whole run (ttl 2 h): expiry never empties the cache early.
        tokens = [
            sign(typical_claims(sub=f"user-{i:07d}", ttl=7200), keys, i % 2)
            for i in range(args.tokens)
        ]
        pool_file = tmp / "pool.txt"
        pool_file.write_text("\n".join(tokens) + "\n")
        per_entry = entry_bytes(jwks_file, tokens[: min(5000, len(tokens))])
        mint_s = time.monotonic() - started

        settings = Settings(jwks_file=str(jwks_file))
        env = {
            "JWT_JWKS_FILE": str(jwks_file),
            "JWT_ISSUER": ISSUER,
            "JWT_AUDIENCE": AUDIENCE,
            "JWT_ALGORITHMS": "RS256",
        }
        server = start_uvicorn("example-app", "example_app.app:create_app", env, tmp)
        series: list[tuple[int, int]] = []
        try:
            status, body = get(server, "/me", tokens[0])
            assert status == 200 and b"user-0000000" in body, (status, body[:300])
            rss_start = server.rss_bytes()
            series.append((1, rss_start))
            done = 1
            cpu0 = server.cpu_seconds()
            load_started = time.monotonic()
            non2xx = 0
            while done < args.requests:
                # Size the last chunk from the rate so far (wrk is duration-based).
                # The first chunk (2 s) measures the rate.
                elapsed = time.monotonic() - load_started
                if elapsed < 1:
                    seconds = min(2, args.chunk_seconds)
                else:
                    rate = done / elapsed
                    seconds = max(1, min(args.chunk_seconds, round((args.requests - done) / rate)))
                result = load(
                    args.wrk,
                    server,
                    seconds,
                    args.connections,
                    pool_file=pool_file,
                    pool_offset=done % len(tokens),
                    path="/me",
                )
                done += result["requests"]
                non2xx += result["non2xx"]
                series.append((done, server.rss_bytes()))
                log(
                    f"memory: {done} requests, {result['rps']:.0f} req/s, "
                    f"RSS {series[-1][1] / MiB:.1f} MiB, non-2xx {result['non2xx']}"
                )
            load_s = time.monotonic() - load_started
            cpu_s = server.cpu_seconds() - cpu0
        finally:
            server.stop()

    rss_end = series[-1][1]
    rss_peak = max(r for _, r in series)
    bound = settings.token_cache_bytes
    # The cache holds min(entries, bytes / entry) tokens: what its estimate says they take.
    cached = min(settings.token_cache_entries, len(tokens))
    mean_estimate = per_entry["estimate_bytes"]
    cached = min(cached, int(bound // mean_estimate))
    data: dict[str, Any] = {
        "requests": done,
        "tokens": len(tokens),
        "non2xx": non2xx,
        "rss_start": rss_start,
        "rss_end": rss_end,
        "rss_peak": rss_peak,
        "growth": rss_end - rss_start,
        "peak_growth": rss_peak - rss_start,
        "cache_bytes_bound": bound,
        "margin": MARGIN,
        "within_bound": rss_peak - rss_start <= bound + MARGIN,
        "cache_entries_at_most": cached,
        "cache_estimate_when_full": cached * mean_estimate,
        "per_entry": per_entry,
        "series": series,
        "load_seconds": round(load_s, 1),
        "rps": done / load_s,
        "cpu_us_per_req": cpu_s * 1e6 / done,
        "mint_seconds": round(mint_s, 1),
        "seconds_total": round(time.monotonic() - started, 1),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "command": "python -m benchmarks.memory " + " ".join(argv if argv else sys.argv[1:]),
    }
    text = render(data)
    print(text)
    if args.json:
        data["markdown"] = text
        args.json.write_text(json.dumps(data, indent=1))
    return 0


def render(d: dict[str, Any]) -> str:
    pe = d["per_entry"]
    picks = sorted({0, len(d["series"]) // 4, len(d["series"]) // 2, len(d["series"]) - 1})
    series = ", ".join(
        f"{d['series'][i][0]:,} req: {d['series'][i][1] / MiB:.1f} MiB" for i in picks
    )
    rows = [
        ["requests / distinct tokens", f"{d['requests']:,} / {d['tokens']:,}"],
        ["rate (example app, RS256, every request a cache miss)", f"{d['rps']:.0f} req/s"],
        ["server CPU per request", f"{d['cpu_us_per_req']:.0f} µs"],
        ["non-2xx responses", str(d["non2xx"])],
        ["RSS before (after startup and one request)", f"{d['rss_start'] / MiB:.1f} MiB"],
        ["RSS after", f"{d['rss_end'] / MiB:.1f} MiB"],
        ["RSS peak (sampled after each chunk)", f"{d['rss_peak'] / MiB:.1f} MiB"],
        ["growth (peak - before)", f"{d['peak_growth'] / MiB:.1f} MiB"],
        [
            "bound: token_cache_bytes + fixed margin",
            f"{d['cache_bytes_bound'] / MiB:.0f} MiB + {d['margin'] / MiB:.0f} MiB = "
            f"{(d['cache_bytes_bound'] + d['margin']) / MiB:.0f} MiB",
        ],
        ["within the bound", "yes" if d["within_bound"] else "NO"],
        [
            "cache when full (the estimate's own count)",
            f"{d['cache_entries_at_most']:,} entries, "
            f"{d['cache_estimate_when_full'] / MiB:.1f} MiB estimated",
        ],
        [
            "bytes per cache entry: traced (tracemalloc) vs estimate",
            f"{pe['real_bytes']:.0f} vs {pe['estimate_bytes']:.0f} "
            f"({pe['real_bytes'] / pe['estimate_bytes']:.2f}x; {pe['entries']} entries)",
        ],
        ["RSS over the run", series],
    ]
    return table(["memory", "value"], rows, align="ll")


if __name__ == "__main__":
    sys.exit(main())
