"""End-to-end benchmark: real uvicorn on 127.0.0.1, load from wrk in a separate process.

One uvicorn process per variant (one worker, ``--no-access-log``, uvloop and
httptools when installed, the same for every variant; see e2e_app.py), all
started up front and idle while another is measured. Every request carries
the same ~800-byte RS256 token (the bare route ignores it), except the pool
variant, which cycles through 1000 distinct valid tokens (a Lua script).

Variants: bare route; the minimal pure-ASGI middleware with an LRU of verified
tokens (benchmarks/minimal_lru.py, one repeated token: the reference for what a
cached request can cost); JWTAuthMiddleware with one repeated token; with a pool
of 1000 distinct tokens (all of which fit in the default cache: after the
warm-up these are cache hits in a 1000-entry cache); with the cache off
(every request verifies its signature); Starlette AuthenticationMiddleware
with a PyJWT backend; FastAPI HTTPBearer dependency calling PyJWT; DPoP: an
RS256 token bound to the client's key (cnf.jkt; cached after its first request)
sent with the DPoP scheme and a new ES256 proof per request (DPoPLoad: proofs
are good once and only within the server's iat window, so each run gets a pool
made just before it, larger than the run, each proof sent once). The
middleware runs with its defaults: metrics on (the global registry). The limits
of the uncached rows, in the same server and rounds (benchmarks/raw_crypto.py):
one RSA PKCS#1 v1.5 check of the token per request (the reference of the cache-off
row); one ES256 check of the proof plus the cached token lookup (the DPoP row's).

Method: a warm-up per variant, then ``rounds`` rounds; in each, every
variant runs for ``seconds`` right next to a run of the bare route (the order
of the two alternating), wrk -t1 -c32 by default (the machine has 2 cores,
one for the server, one for wrk). This machine's speed drifts by tens of
percent within a minute (a shared host), so a variant is only compared with
the bare run next to it. Reported: medians over rounds of requests/s, p50/p99
latency (wrk --latency) and server CPU µs per request (utime+stime of the
uvicorn process from /proc/<pid>/stat, before/after, divided by wrk's request
count), and the median over rounds of the ratio to the paired bare run (with
the ratio's spread over rounds). Against the minimal LRU middleware, per round:
(variant / its bare run) / (minimal LRU / its bare run), the median over rounds;
an uncached row against its raw-crypto reference the same way; and the server
CPU per request over bare, per pair, the median.

Flood check: on the JWTAuthMiddleware server (4 RS256 keys, default
diagnostic budget), a throttled stream of valid requests (wrk -c4 with 2 ms
think time per connection) alone, then while a second wrk sends tokens with a
bad signature (kid of a known key, so kid_mismatch probing runs within its
budget): a bounded flood (-c4, 2 ms think time) and a saturating one (-c32,
no think time). Reported: each stream's rate and the valid stream's p50/p99.

    python -m benchmarks.e2e [--seconds 2] [--rounds 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .common import (
    ANSWERS,
    bad_signature,
    iqr_pct,
    loadavg,
    log,
    make_keys,
    median,
    sign,
    table,
    typical_claims,
    wrk_version,
)
from .proofs import ProofMaker
from .server import Server, get, load, server_stack, start_uvicorn, start_wrk, wrk_result

# (row key, label, server, load)
VARIANTS = (
    ("bare", "bare Starlette route", "bare", "token"),
    ("minimal-lru", "minimal LRU middleware, one repeated token", "minimal-lru", "token"),
    ("jwt", "JWTAuthMiddleware, one repeated token", "jwt", "token"),
    ("jwt-pool", "JWTAuthMiddleware, pool of 1000 tokens", "jwt-pool", "pool"),
    ("jwt-nocache", "JWTAuthMiddleware, cache off", "jwt-nocache", "token"),
    ("starlette-pyjwt", "Starlette AuthenticationMiddleware + PyJWT", "starlette-pyjwt", "token"),
    ("fastapi-pyjwt", "FastAPI HTTPBearer dependency + PyJWT", "fastapi-pyjwt", "token"),
    ("jwt-dpop", "JWTAuthMiddleware, DPoP: a fresh ES256 proof per request", "jwt-dpop", "dpop"),
    ("ref-rsa", "raw-crypto reference: one RSA PKCS#1 v1.5 check per request", "ref-rsa", "token"),
    (
        "ref-dpop",
        "raw-crypto reference: one ES256 proof check + the cached token lookup",
        "ref-dpop",
        "dpop",
    ),
)
#: The uncached rows and their raw-crypto references (benchmarks/raw_crypto.py).
REFERENCES = {"jwt-nocache": "ref-rsa", "jwt-dpop": "ref-dpop"}
#: Proofs made per second of a DPoP run before its rate is known (the warm-up).
DPOP_FIRST_RATE = 12_000
#: A DPoP run's pool: this many times the fastest rate seen so far, times its seconds.
DPOP_POOL_MARGIN = 2.0


def _env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--seconds", type=int, default=int(_env_float("BENCH_E2E_SECONDS", 1)), help="whole s"
    )
    parser.add_argument("--rounds", type=int, default=int(_env_float("BENCH_E2E_ROUNDS", 12)))
    parser.add_argument("--warmup", type=int, default=int(_env_float("BENCH_E2E_WARMUP", 2)))
    parser.add_argument(
        "--connections", type=int, default=int(_env_float("BENCH_E2E_CONNECTIONS", 32))
    )
    parser.add_argument("--wrk", default=os.environ.get("WRK", "wrk"))
    parser.add_argument(
        "--stacks",
        default=os.environ.get("BENCH_E2E_STACKS", "auto,asyncio-h11"),
        help="comma-separated LOOP-HTTP pairs for uvicorn; 'auto' = uvloop/httptools when "
        "installed; the flood check runs on the first",
    )
    parser.add_argument("--no-flood", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    started = time.monotonic()
    stacks: list[tuple[str, str]] = []
    for item in args.stacks.split(","):
        item = item.strip()
        stack = server_stack() if item == "auto" else tuple(item.split("-", 1))
        if item and stack not in stacks:
            stacks.append(stack)  # type: ignore[arg-type]

    with tempfile.TemporaryDirectory(prefix="jwt-bench-e2e-") as tmp_name:
        tmp = Path(tmp_name)
        keys = make_keys("RS256", 4)
        jwks_file = tmp / "jwks.json"
        jwks_file.write_text(json.dumps({"keys": keys.jwks}))
        token = sign(typical_claims(), keys)
        files = {
            "jwks": jwks_file,
            "token": tmp / "token.txt",
            "bad": tmp / "bad.txt",
            "pool": tmp / "pool.txt",
        }
        files["token"].write_text(token + "\n")
        files["bad"].write_text(bad_signature(token) + "\n")
        pool = [sign(typical_claims(sub=f"user-{i:05d}"), keys) for i in range(1000)]
        files["pool"].write_text("\n".join(pool) + "\n")
        # DPoP: one client key; the same RS256 token bound to it (cnf.jkt), sent with a
        # proof made for this one request (see DPoPLoad).
        client_key = ProofMaker.generate()
        files["dpop_token"] = tmp / "dpop-token.txt"
        bound = sign(typical_claims() | {"cnf": {"jkt": client_key.jkt}}, keys)
        files["dpop_token"].write_text(bound + "\n")
        files["dpop"] = tmp / "dpop-proofs.txt"
        dpop = DPoPLoad(client_key, bound, files["dpop"])
        results = [
            measure_stack(args, stack, tmp, files, dpop, flood=(i == 0 and not args.no_flood))
            for i, stack in enumerate(stacks)
        ]

    data = {
        "stacks": results,
        "seconds_total": round(time.monotonic() - started, 1),
        "load_after": loadavg(),
    }
    text = "\n\n".join(render(r) for r in results)
    print(text)
    log(f"e2e: done in {data['seconds_total']} s")
    if args.json:
        data["markdown"] = text
        args.json.write_text(json.dumps(data, indent=1))
    return 0


class DPoPLoad:
    """wrk with a new DPoP proof for every request, against one server.

    A proof is good once (its ``jti`` goes into the server's replay store) and
    only within the server's ``iat`` window (60 s by default), so a pool cannot
    be cycled: the next lap would be replays, refused. Before each run a new
    pool is made (iat = now, a jti each, outside the timing) with room for
    ``DPOP_POOL_MARGIN`` times the fastest rate seen so far; wrk sends each
    proof once, in order (benchmarks/wrk_bench.lua). Were a run to send more
    than its pool, the replays would show as non-2xx in the results.
    """

    def __init__(self, maker: ProofMaker, token: str, path: Path) -> None:
        self.maker, self.token, self.path = maker, token, path
        self.fastest = 0.0
        self.proofs_made = 0
        self.pools: list[int] = []

    def check(self, server: Server) -> None:
        """A proof passes; the same proof again is a replay; the token as bearer is refused."""
        proof = self.maker.proof("GET", server.url + "/", self.token)
        status, body = get(server, "/", self.token, proof=proof)
        assert status == 200 and body in ANSWERS, (status, body[:300])
        status, body = get(server, "/", self.token, proof=proof)
        assert status == 401 and b"dpop_proof_replayed" in body, (status, body[:300])
        status, body = get(server, "/", self.token)
        assert status == 401 and b"dpop_bound_token_as_bearer" in body, (status, body[:300])

    def check_reference(self, server: Server) -> None:
        """The raw-crypto reference checks the proof's signature: a good one passes, a
        changed one is refused."""
        proof = self.maker.proof("GET", server.url + "/", self.token)
        status, body = get(server, "/", self.token, proof=proof)
        assert status == 200 and body in ANSWERS, (status, body[:300])
        status, _ = get(server, "/", self.token, proof=bad_signature(proof))
        assert status == 401, status

    def run(self, args: argparse.Namespace, server: Server, seconds: float) -> dict[str, Any]:
        rate = self.fastest or DPOP_FIRST_RATE
        n = int(DPOP_POOL_MARGIN * rate * max(1.0, round(seconds))) + args.connections
        proofs = self.maker.pool(n, "GET", server.url + "/", self.token)
        self.path.write_text(self.token + "\n" + "\n".join(proofs) + "\n")
        self.proofs_made += n
        self.pools.append(n)
        result = load(args.wrk, server, seconds, args.connections, dpop_file=self.path)
        self.fastest = max(self.fastest, result["rps"])
        result["dpop_pool"] = n
        if result["requests"] > n:
            log(f"e2e: DPoP pool of {n} proofs ran out ({result['requests']} requests sent)")
        return result


def measure_stack(
    args: argparse.Namespace,
    stack: tuple[str, str],
    tmp: Path,
    files: dict[str, Path],
    dpop: DPoPLoad,
    *,
    flood: bool,
) -> dict[str, Any]:
    """All variants on one uvicorn stack (--loop, --http), round-robin; then the flood."""
    token, bad = files["token"].read_text().strip(), files["bad"].read_text().strip()
    pool0 = files["pool"].read_text().split("\n", 1)[0]
    tag = f"{stack[0]}/{stack[1]}"
    servers: dict[str, Server] = {}
    try:
        for _key, _label, name, _load in VARIANTS:
            variant = "jwt" if name == "jwt-pool" else name
            servers[name] = start_uvicorn(
                f"{name}-{stack[0]}-{stack[1]}",
                "benchmarks.e2e_app:create_app",
                {
                    "BENCH_VARIANT": variant,
                    "BENCH_JWKS_FILE": str(files["jwks"]),
                    "BENCH_DPOP_JWK": json.dumps(dpop.maker.public_jwk),
                },
                tmp,
                stack=stack,
            )
        # Correctness before load: the valid token passes, a bad one is refused.
        for name, server in servers.items():
            if name == "ref-dpop":
                continue  # DPoP only: DPoPLoad.check_reference
            status, body = get(server, "/", token)
            assert status == 200 and body in ANSWERS, (name, status, body[:200])
            if name != "bare":
                status, _ = get(server, "/", bad)
                assert status in (400, 401, 403), (name, status)
        status, _ = get(servers["jwt-pool"], "/", pool0)
        assert status == 200
        dpop.check(servers["jwt-dpop"])
        dpop.check_reference(servers["ref-dpop"])

        def run(key: str, seconds: float) -> dict[str, Any]:
            _, _, name, kind = next(v for v in VARIANTS if v[0] == key)
            if kind == "dpop":
                return dpop.run(args, servers[name], seconds)
            load_files = (
                {"pool_file": files["pool"]} if kind == "pool" else {"token_file": files["token"]}
            )
            return load(args.wrk, servers[name], seconds, args.connections, **load_files)

        for key, *_ in VARIANTS:
            log(f"e2e [{tag}]: warm-up {key} ({args.warmup:g} s)")
            run(key, args.warmup)

        # Each variant is measured right next to a bare-route run (the order alternating),
        # and compared with that run: the machine's speed drifts, a pair shares its state.
        samples: dict[str, list[dict[str, Any]]] = {key: [] for key, *_ in VARIANTS}
        pairs: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {
            key: [] for key, *_ in VARIANTS
        }
        others = [key for key, *_ in VARIANTS if key != "bare"]
        for r in range(args.rounds):
            order = others[r % len(others) :] + others[: r % len(others)]
            for i, key in enumerate(order):
                first_bare = (r + i) % 2 == 0
                a = run("bare" if first_bare else key, args.seconds)
                b = run(key if first_bare else "bare", args.seconds)
                bare, result = (a, b) if first_bare else (b, a)
                samples["bare"].append(bare)
                samples[key].append(result)
                pairs[key].append((result, bare))
                log(
                    f"e2e [{tag}]: round {r + 1}/{args.rounds} {key}: {result['rps']:.0f} req/s "
                    f"({result['rps'] / bare['rps']:.2f}x bare), "
                    f"p99 {result['p99_us'] / 1000:.2f} ms, "
                    f"{result['cpu_us_per_req']:.0f} µs CPU/req "
                    f"(bare {bare['cpu_us_per_req']:.0f}), non-2xx {result['non2xx']}"
                )
        pairs["bare"] = [(b, b) for b in samples["bare"]]
        flood_data = (
            run_flood(args, servers["jwt"], files["token"], files["bad"]) if flood else None
        )
    finally:
        for server in servers.values():
            server.stop()
    data = summarize(samples, pairs, args, stack)
    data["flood"] = flood_data
    return data


def run_flood(
    args: argparse.Namespace, server: Server, token_file: Path, bad_file: Path
) -> dict[str, Any]:
    seconds = max(5, args.seconds)
    valid_c, valid_delay = 4, 2.0

    def valid_alone() -> dict[str, Any]:
        return load(args.wrk, server, seconds, valid_c, token_file=token_file, delay_ms=valid_delay)

    def with_flood(connections: int, delay: float | None) -> dict[str, Any]:
        cpu0 = server.cpu_seconds()
        # The flood runs one second longer and starts half a second earlier, so it is on
        # during the whole of the valid stream.
        flood = start_wrk(
            args.wrk, server.url, seconds + 1, connections, token_file=bad_file, delay_ms=delay
        )
        time.sleep(0.5)
        valid = start_wrk(
            args.wrk, server.url, seconds, valid_c, token_file=token_file, delay_ms=valid_delay
        )
        v = wrk_result(valid, seconds + 60)
        f = wrk_result(flood, seconds + 60)
        cpu = server.cpu_seconds() - cpu0
        total = v["requests"] + f["requests"]
        return {
            "valid": v,
            "flood": f,
            "flood_connections": connections,
            "flood_delay_ms": delay,
            "cpu_us_per_req": cpu * 1e6 / total if total else 0.0,
            "server_cpu_share": cpu / (f["duration_us"] / 1e6),
        }

    log("e2e: flood check (about 4 x seconds)")
    base = valid_alone()
    bounded = with_flood(4, 2.0)
    saturating = with_flood(32, None)
    after = valid_alone()
    return {
        "valid_connections": valid_c,
        "valid_delay_ms": valid_delay,
        "baseline": base,
        "bounded": bounded,
        "saturating": saturating,
        "baseline_after": after,
    }


def summarize(
    samples: dict[str, list[dict[str, Any]]],
    pairs: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]],
    args: argparse.Namespace,
    stack: tuple[str, str],
) -> dict[str, Any]:
    loop, http = stack
    rows: dict[str, Any] = {}
    # Each non-bare variant has one pair per round, in round order.
    minimal_x_bare = [r["rps"] / b["rps"] for r, b in pairs["minimal-lru"]]
    for key, label, *_ in VARIANTS:
        runs = samples[key]
        row: dict[str, Any] = {"label": label}
        for metric in ("rps", "p50_us", "p99_us", "cpu_us_per_req"):
            values = [r[metric] for r in runs]
            ratios = [r[metric] / b[metric] for r, b in pairs[key] if b[metric]]
            row[metric] = median(values)
            row[metric + "_ratio"] = median(ratios)
            row[metric + "_iqr_pct"] = iqr_pct(values)
            row[metric + "_ratio_iqr_pct"] = iqr_pct(ratios)
            row[metric + "_all"] = values
        cpu_over = [r["cpu_us_per_req"] - b["cpu_us_per_req"] for r, b in pairs[key]]
        row["cpu_us_over_bare"] = median(cpu_over)
        if key != "bare":
            x_minimal = [
                (r["rps"] / b["rps"]) / m
                for (r, b), m in zip(pairs[key], minimal_x_bare, strict=True)
            ]
            row["rps_x_minimal"] = median(x_minimal)
            row["rps_x_minimal_iqr_pct"] = iqr_pct(x_minimal)
        ref = REFERENCES.get(key)
        if ref is not None:
            # Per round: (variant / its bare run) / (reference / its bare run).
            x_ref = [
                (r["rps"] / b["rps"]) / (rr["rps"] / rb["rps"])
                for (r, b), (rr, rb) in zip(pairs[key], pairs[ref], strict=True)
            ]
            cpu_ref = [
                (r["cpu_us_per_req"] - b["cpu_us_per_req"])
                - (rr["cpu_us_per_req"] - rb["cpu_us_per_req"])
                for (r, b), (rr, rb) in zip(pairs[key], pairs[ref], strict=True)
            ]
            row["reference"] = ref
            row["rps_x_ref"] = median(x_ref)
            row["rps_x_ref_iqr_pct"] = iqr_pct(x_ref)
            row["cpu_us_over_ref"] = median(cpu_ref)
        row["non2xx"] = sum(r["non2xx"] for r in runs)
        row["errors"] = sum(
            r["connect_errors"] + r["read_errors"] + r["write_errors"] + r["timeouts"] for r in runs
        )
        row["requests"] = sum(r["requests"] for r in runs)
        rows[key] = row
    return {
        "rounds": args.rounds,
        "seconds": args.seconds,
        "warmup": args.warmup,
        "connections": args.connections,
        "threads": 1,
        "loop": loop,
        "http": http,
        "wrk": wrk_version(args.wrk),
        "variants": rows,
    }


def _ms(us: float) -> str:
    return f"{us / 1000:.2f}"


def render(data: dict[str, Any]) -> str:
    rows = []
    for key, label, *_ in VARIANTS:
        r = data["variants"][key]
        rows.append(
            [
                label,
                f"{r['rps']:.0f}",
                f"{r['rps_ratio']:.2f}x",
                "-" if key == "bare" else f"{r['rps_ratio_iqr_pct']:.0f}%",
                _ms(r["p50_us"]),
                _ms(r["p99_us"]),
                f"{r['p99_us_ratio']:.2f}x",
                "-" if key == "bare" else f"{r['rps_x_minimal']:.2f}x",
                f"{r['rps_x_ref']:.2f}x ({r['rps_x_ref_iqr_pct']:.0f}%)"
                if "rps_x_ref" in r
                else "-",
                f"{r['cpu_us_per_req']:.0f}",
                "-" if key == "bare" else f"{r['cpu_us_over_bare']:+.1f}",
                f"{r['cpu_us_per_req_ratio']:.2f}x",
                str(r["non2xx"] + r["errors"]),
            ]
        )
    out = [
        f"uvicorn 1 worker, --loop {data['loop']} --http {data['http']}, --no-access-log; "
        f"{data['wrk']} -t{data['threads']} -c{data['connections']}, "
        f"{data['rounds']} rounds x {data['seconds']:g} s per variant, each next to a "
        f"{data['seconds']:g} s bare-route run, after a {data['warmup']:g} s warm-up; medians "
        "over rounds, ratios to the paired bare run; x minimal-lru: per round, the variant's "
        "ratio to its bare run over the minimal LRU middleware's; x reference: an uncached "
        "row's against its raw-crypto reference the same way (in brackets, its IQR over "
        "rounds; cache off: ref-rsa, DPoP: ref-dpop); CPU over bare: per pair.",
        "",
        table(
            [
                "variant",
                "req/s",
                "x bare",
                "x bare IQR",
                "p50 ms",
                "p99 ms",
                "p99 x bare",
                "x minimal-lru",
                "x reference (IQR)",
                "server CPU µs/req",
                "CPU µs over bare",
                "CPU x bare",
                "non-2xx+errors",
            ],
            rows,
        ),
    ]
    flood = data.get("flood")
    if flood:
        frows = []

        def add(label: str, valid: dict[str, Any], bad: dict[str, Any] | None) -> None:
            frows.append(
                [
                    label,
                    f"{valid['rps']:.0f}",
                    _ms(valid["p50_us"]),
                    _ms(valid["p99_us"]),
                    str(valid["non2xx"]),
                    f"{bad['rps']:.0f}" if bad else "-",
                    _ms(bad["p99_us"]) if bad else "-",
                    f"{bad['requests'] - bad['non2xx']}" if bad else "-",
                ]
            )

        add("valid stream alone", flood["baseline"], None)
        b = flood["bounded"]
        add("+ bounded flood (-c4, 2 ms think time)", b["valid"], b["flood"])
        s = flood["saturating"]
        add("+ saturating flood (-c32, no think time)", s["valid"], s["flood"])
        add("valid stream alone, after", flood["baseline_after"], None)
        out += [
            "",
            f"Flood check (JWTAuthMiddleware, 4 RS256 keys, default diagnostic budget; valid "
            f"stream: wrk -c{flood['valid_connections']} with {flood['valid_delay_ms']:g} ms "
            "think time per connection; bad tokens: signature changed, kid of a known key):",
            "",
            table(
                [
                    "phase",
                    "valid req/s",
                    "valid p50 ms",
                    "valid p99 ms",
                    "valid non-2xx",
                    "bad req/s",
                    "bad p99 ms",
                    "bad not refused",
                ],
                frows,
            ),
            "",
            f"Server CPU per request during the saturating flood: "
            f"{s['cpu_us_per_req']:.0f} µs (all requests; {s['server_cpu_share'] * 100:.0f}% of "
            f"a core); during the bounded flood {b['cpu_us_per_req']:.0f} µs.",
        ]
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
