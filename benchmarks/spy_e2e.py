"""Where a real server's CPU goes: py-spy samples of uvicorn (asyncio/h11) under wrk load.

The micro benchmark times ``Verifier.verify`` in a tight loop; end to end, the
cache-off middleware costs more server CPU per request than that. This step
shows where: one uvicorn process per variant (``--loop asyncio --http h11``,
one worker, no access log, the app of benchmarks/e2e_app.py on 127.0.0.1),
variants ``jwt-nocache`` (JWTAuthMiddleware, cache off: every request
verifies an RS256 signature), ``jwt`` (cache on, one repeated token: every
request after the first is a cache hit) and ``jwt-dpop`` (a DPoP-bound token,
cached after its first request, and a new ES256 proof per request, each sent
once from a pool made before each run, as benchmarks/e2e.py does). Every
request carries the same ~800-byte RS256 token (key set of 4 keys with kids).

Method, per variant: a 2 s wrk warm-up (no profiler), then wrk for 12 s (-t1
-c32, as e2e.py) and, from its 2nd second, ``py-spy record -p PID -d 8 -r 250
-f raw`` (collapsed stacks, one line "frame;frame;... count", each frame
"function (file:line)"; idle samples left out). py-spy pauses the process for
each sample, so the req/s under sampling is lower than without it (the
warm-up's rate is shown next to it); the percentages are shares of the
server's non-idle samples.

The report (``profile-e2e-<variant>.txt``) gives the inclusive share (a sample
counts once if any frame matches) of the frames that matter: the whole
``JWTAuthMiddleware.__call__``, split by its line on the stack into the
line that awaits the inner app and the rest (the middleware's own cost),
``Verifier.verify``, ``TokenCache.lookup``, ``decode_body``, the key primitive
``check`` (primitives.py), ``authorization`` (the header scan), the request tally or
``Observer.accepted``/``rejected``, the inner app
(Starlette routing and response, which includes writing the response), the
h11 protocol (``H11Protocol.data_received``, ``RequestResponseCycle.send``),
the asyncio loop; then the top functions by inclusive and by self share
(line numbers stripped) and the hottest lines.

Skips (exit 0, a JSON saying why) when py-spy or wrk is missing or py-spy
cannot attach (ptrace not permitted), so ``make bench`` never fails on it.

    python -m benchmarks.spy_e2e [--duration 8] [--rate 250] [--out benchmarks/] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from importlib.metadata import version as package_version
from itertools import pairwise
from pathlib import Path
from typing import Any

from .common import (
    ANSWERS,
    BENCH_DIR,
    ROOT,
    log,
    make_keys,
    sign,
    table,
    typical_claims,
    wrk_version,
)
from .e2e import DPOP_FIRST_RATE
from .proofs import ProofMaker
from .server import Server, get, load, start_uvicorn, start_wrk, wrk_result

STACK = ("asyncio", "h11")  # the issue's reference stack (pure Python), not the default
VARIANTS = (
    ("jwt-nocache", "JWTAuthMiddleware, cache off (every request verifies RS256)"),
    ("jwt", "JWTAuthMiddleware, cache on, one repeated token (cache hits)"),
    ("jwt-dpop", "JWTAuthMiddleware, DPoP: a cached bound token and a fresh ES256 proof each"),
)
#: Proofs made per second of a DPoP run: the fastest rate of the warm-up, with this margin.
DPOP_MARGIN = 1.5
MIDDLEWARE = "JWTAuthMiddleware.__call__"
FRAME = re.compile(r"^(?P<func>.*) \((?P<file>.*?)(?::(?P<line>\d+))?\)$")
Frame = tuple[str, str, int | None]  # (function, file, line); a stack lists them outermost first


def parse_frame(text: str) -> Frame:
    m = FRAME.match(text)
    if not m:
        return text, "", None
    line = m.group("line")
    return m.group("func"), m.group("file"), int(line) if line else None


def function_name(frame: Frame) -> str:
    """``func (file)``: a frame without its line number."""
    func, file, _ = frame
    return f"{func} ({file})" if file else func


def frame_name(frame: Frame) -> str:
    """``func (file:line)`` as py-spy prints it."""
    func, file, line = frame
    if not file:
        return func
    return f"{func} ({file}:{line})" if line is not None else f"{func} ({file})"


def read_raw(path: Path) -> list[tuple[list[Frame], int]]:
    """py-spy's raw (collapsed) output: one "frame;frame;... count" per distinct stack."""
    samples = []
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        stack, _, count = line.rpartition(" ")
        samples.append(([parse_frame(f) for f in stack.split(";")], int(count)))
    return samples


def _in_jwt(frame: Frame) -> bool:
    return frame[1].startswith("jwt_middleware/")


def _is_inner_call(caller: Frame, callee: Frame) -> bool:
    """The middleware awaiting the next ASGI app (Starlette's ExceptionMiddleware here)."""
    return caller[0] == MIDDLEWARE and callee[0].endswith("__call__") and not _in_jwt(callee)


def _loop_only(frames: list[Frame]) -> bool:
    """Below the loop's run_forever, only asyncio/selectors frames (no protocol, no app)."""
    start = next((i for i, f in enumerate(frames) if f[0] == "BaseEventLoop.run_forever"), None)
    if start is None:
        return False
    return all(f[1].startswith(("asyncio/", "selectors")) for f in frames[start:])


def _func_is(name: str, file_prefix: str = "") -> Callable[[list[Frame]], bool]:
    def test(frames: list[Frame]) -> bool:
        return any(f[0] == name and f[1].startswith(file_prefix) for f in frames)

    return test


def _func_endswith(suffix: str, file_prefix: str) -> Callable[[list[Frame]], bool]:
    def test(frames: list[Frame]) -> bool:
        return any(
            (f[0] == suffix or f[0].endswith("." + suffix)) and f[1].startswith(file_prefix)
            for f in frames
        )

    return test


def _never(frames: list[Frame]) -> bool:
    return False  # counted by the middleware's line instead (see analyze)


def _h11_lib(frames: list[Frame]) -> bool:
    return any(f[1].startswith("h11/") for f in frames)


JWT = "jwt_middleware/"
# (key, label, test on a sample's frames): the report's table of key frames, in order;
# an indented label is part of the row above it.
KEY_FRAMES: tuple[tuple[str, str, Callable[[list[Frame]], bool]], ...] = (
    ("middleware_all", f"{MIDDLEWARE}, all (with the inner app it awaits)", _func_is(MIDDLEWARE)),
    ("middleware_own", f"{MIDDLEWARE} without the line awaiting the inner app", _never),
    ("verify", "  Verifier.verify", _func_is("Verifier.verify", JWT)),
    (
        "cached",
        "  TokenCache.lookup (the cache probe before verify)",
        _func_is("TokenCache.lookup", JWT),
    ),
    (
        "decode_body",
        "  decode_body (structure.py)",
        _func_is("decode_body", JWT + "tokens/structure"),
    ),
    (
        "check",
        "  key primitive check (keys/primitives.py: the RSA or ES256 signature)",
        _func_endswith("check", JWT + "keys/primitives"),
    ),
    (
        "extract_bearer",
        "  authorization (extract.py: the header scan)",
        _func_is("authorization", JWT),
    ),
    (
        "observer_accepted",
        "  RequestTally.accepted / Observer.accepted (metrics, logs)",
        lambda frames: (
            _func_is("RequestTally.accepted", JWT)(frames)
            or _func_is("Observer.accepted", JWT)(frames)
        ),
    ),
    ("observer_rejected", "  Observer.rejected", _func_is("Observer.rejected", JWT)),
    (
        "present_dpop",
        "  ProofCheck.present (the DPoP proof: request target, verify_proof)",
        _func_is("ProofCheck.present", JWT),
    ),
    ("verify_proof", "    verify_proof (dpop/proof.py)", _func_is("verify_proof", JWT)),
    (
        "replay",
        "  ProofBinding.check (cnf.jkt, the replay store)",
        _func_is("ProofBinding.check", JWT),
    ),
    ("inner_app", "inner app awaited by the middleware (Starlette routing + response)", _never),
    (
        "h11_receive",
        "uvicorn H11Protocol.data_received (request parsing)",
        _func_is("H11Protocol.data_received", "uvicorn/"),
    ),
    (
        "h11_send",
        "uvicorn RequestResponseCycle.send (response, inside the inner app)",
        _func_is("RequestResponseCycle.send", "uvicorn/"),
    ),
    (
        "transport_write",
        "  asyncio _SelectorSocketTransport.write (socket send)",
        _func_is("_SelectorSocketTransport.write", "asyncio/"),
    ),
    ("h11_lib", "any h11 library frame (request parsing and response)", _h11_lib),
    ("asyncio_loop", "asyncio loop and selector alone (no protocol or app frame)", _loop_only),
)


def analyze(samples: list[tuple[list[Frame], int]]) -> dict[str, Any]:
    """Shares (% of samples) of the key frames, the middleware's lines, top functions."""
    total = sum(c for _, c in samples)
    # The middleware's line that awaits the inner app: a __call__ frame followed by an
    # ASGI app outside jwt_middleware (found in the data, so line edits need no change).
    inner_lines = {
        caller[2]
        for frames, _ in samples
        for caller, callee in pairwise(frames)
        if _is_inner_call(caller, callee)
    }
    by_line: Counter[int | None] = Counter()
    next_call: dict[int | None, Counter[str]] = {}
    key_tests = KEY_FRAMES
    hits: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    self_: Counter[str] = Counter()
    lines_self: Counter[str] = Counter()
    for frames, count in samples:
        for key, _, test in key_tests:
            if test(frames):
                hits[key] += count
        first = next((i for i, f in enumerate(frames) if f[0] == MIDDLEWARE), None)
        if first is not None:
            line = frames[first][2]
            by_line[line] += count
            callee = function_name(frames[first + 1]) if first + 1 < len(frames) else "[self]"
            next_call.setdefault(line, Counter())[callee] += count
            hits["inner_app" if line in inner_lines else "middleware_own"] += count
        for name in {function_name(f) for f in frames}:
            inclusive[name] += count
        self_[function_name(frames[-1])] += count
        lines_self[frame_name(frames[-1])] += count

    def pct(n: int) -> float:
        return 100.0 * n / total if total else 0.0

    return {
        "samples": total,
        "inner_lines": sorted(x for x in inner_lines if x is not None),
        "pct": {key: round(pct(hits[key]), 2) for key, _, _ in key_tests},
        "labels": {key: label for key, label, _ in key_tests},
        "by_line": [
            (line, pct(n), next_call[line].most_common(1)[0][0])
            for line, n in sorted(by_line.items(), key=lambda kv: (kv[0] is None, kv[0] or 0))
        ],
        # Frames on every sample (runpy, click, uvicorn's startup, the loop) say nothing.
        "everywhere": sum(1 for n in inclusive.values() if n == total),
        "inclusive": [(name, pct(n)) for name, n in inclusive.most_common() if n < total],
        "self": [(name, pct(n)) for name, n in self_.most_common()],
        "lines_self": [(name, pct(n)) for name, n in lines_self.most_common()],
    }


def report_text(variant: str, label: str, run: dict[str, Any], a: dict[str, Any]) -> str:
    inner = ", ".join(str(x) for x in a["inner_lines"]) or "not seen"
    small = [p for _, p, _ in a["by_line"] if p < 0.5]
    head = [
        f"py-spy profile of a real server: {label}; variant {variant}.",
        "",
        f"Server:  uvicorn {run['uvicorn']} 1 worker, --loop {STACK[0]} --http {STACK[1]}, "
        "--no-access-log, benchmarks.e2e_app:create_app (BENCH_VARIANT="
        f"{variant}), 127.0.0.1; RS256 token of {run['token_bytes']} bytes, 4 keys with kids",
        f"Load:    {run['wrk']} -t1 -c{run['connections']} for {run['wrk_seconds']} s after a "
        f"{run['warmup']} s warm-up",
        f"Sampler: {run['py_spy']}: {run['command']} (from second {run['spy_delay']:g} of the "
        "wrk run; idle samples left out)",
        f"Rate:    {run['rps']:.0f} req/s over the wrk run, {run['duration']} s of it under py-spy "
        "(py-spy pauses the server for each sample: lower than without it; the "
        f"{run['warmup']} s warm-up just before, no profiler, a rough reference: "
        f"{run['rps_warmup']:.0f} req/s)",
        f"CPU:     {run['cpu_us_per_req']:.0f} µs of server CPU per request over the wrk run "
        f"(utime+stime; warm-up: {run['cpu_us_per_req_warmup']:.0f} µs)",
        f"Samples: {a['samples']} (py-spy errors: {run['spy_errors']}); % below are "
        "shares of these; inclusive: a sample counts once if any of its frames matches",
        "Made by: python -m benchmarks.spy_e2e",
        "",
        "Key frames (inclusive % of samples; indented rows are part of the row above "
        "them; the inner app includes writing the response, RequestResponseCycle.send):",
        "",
    ]
    rows = [[a["labels"][k], f"{v:.1f}"] for k, v in a["pct"].items()]
    head.append(table(["frame", "% samples"], rows))
    head += [
        "",
        f"{MIDDLEWARE} by its line on the stack (the first such frame; line(s) {inner} await "
        "the inner app), with what it calls there most often:",
        "",
        table(
            ["line", "% samples", "calls (most samples)"],
            [[str(line), f"{p:.1f}", callee] for line, p, callee in a["by_line"] if p >= 0.5]
            + [[f"{len(small)} other lines", f"{sum(small):.1f}", "each < 0.5%"]],
            align="lrl",
        ),
        "",
        f"Top 25 functions by inclusive % (line numbers stripped; the {a['everywhere']} "
        "functions on every sample, from runpy and click to the event loop's run_forever and "
        "_run_once, left out):",
        "",
        table(["function (file)", "% incl."], [[n, f"{p:.1f}"] for n, p in a["inclusive"][:25]]),
        "",
        "Top 15 functions by self % (the innermost Python frame; a C call such as the RSA "
        "primitive counts for the Python function calling it):",
        "",
        table(["function (file)", "% self"], [[n, f"{p:.1f}"] for n, p in a["self"][:15]]),
        "",
        "Top 15 lines by self %:",
        "",
        table(["frame (file:line)", "% self"], [[n, f"{p:.1f}"] for n, p in a["lines_self"][:15]]),
        "",
    ]
    return "\n".join(head)


def summary_lines(variant: str, run: dict[str, Any], a: dict[str, Any]) -> list[str]:
    p = a["pct"]
    return [
        f"{variant}: {run['rps']:.0f} req/s under py-spy ({run['rps_warmup']:.0f} in the "
        f"warm-up without), {a['samples']} samples, {run['non2xx']} non-2xx -> {run['file']}",
        f"  middleware own {p['middleware_own']:.1f}% (Verifier.verify {p['verify']:.1f}%, "
        f"check {p['check']:.1f}%, decode_body {p['decode_body']:.1f}%, cached {p['cached']:.1f}%, "
        f"DPoP proof {p['present_dpop']:.1f}% (verify_proof {p['verify_proof']:.1f}%), "
        f"replay store {p['replay']:.1f}%, "
        f"Observer.accepted {p['observer_accepted']:.1f}%); inner app {p['inner_app']:.1f}%",
        f"  h11 data_received {p['h11_receive']:.1f}%, RequestResponseCycle.send "
        f"{p['h11_send']:.1f}% (socket write {p['transport_write']:.1f}%); asyncio loop alone "
        f"{p['asyncio_loop']:.1f}%",
    ]


def markdown(data: dict[str, Any]) -> str:
    rows = []
    for variant, v in data["variants"].items():
        p = v["pct"]
        rows.append(
            [
                variant,
                f"{v['rps']:.0f} ({v['rps_warmup']:.0f})",
                str(v["samples"]),
                f"{p['middleware_own']:.1f}",
                f"{p['verify']:.1f}",
                f"{p['check']:.1f}",
                f"{p['decode_body']:.1f}",
                f"{p['verify_proof']:.1f}",
                f"{p['replay']:.1f}",
                f"{p['observer_accepted']:.1f}",
                f"{p['inner_app']:.1f}",
                f"{p['h11_receive']:.1f}",
                f"{p['h11_send']:.1f}",
                f"{p['asyncio_loop']:.1f}",
            ]
        )
    return table(
        [
            "variant",
            "req/s sampled (without)",
            "samples",
            "middleware own %",
            "Verifier.verify %",
            "key check %",
            "decode_body %",
            "verify_proof %",
            "ProofBinding.check %",
            "Observer.accepted %",
            "inner app %",
            "h11 data_received %",
            "RequestResponseCycle.send %",
            "asyncio loop alone %",
        ],
        rows,
    )


def find_py_spy() -> str | None:
    local = Path(sys.executable).parent / "py-spy"
    if local.exists():
        return str(local)
    return shutil.which("py-spy")


def skip(args: argparse.Namespace, reason: str) -> int:
    log(f"spy: skipped: {reason}")
    print(f"py-spy server profile skipped: {reason}")
    if args.json:
        args.json.write_text(json.dumps({"skipped": True, "reason": reason}))
    return 0


def profile_variant(
    args: argparse.Namespace,
    py_spy: str,
    server: Server,
    requests: Callable[[float], dict[str, Path]],
    out: Path,
) -> dict[str, Any]:
    """Warm up, then wrk with py-spy recording the server for part of the run;
    ``requests(rate)`` names wrk's files for a run (DPoP: a new pool of proofs)."""
    warm = load(args.wrk, server, args.warmup, args.connections, **requests(0.0))
    command = [
        py_spy, "record", "-p", str(server.proc.pid), "-d", str(args.duration),
        "-r", str(args.rate), "-f", "raw", "-o", str(out),
    ]  # fmt: skip
    wrk_seconds = args.duration + 2 * args.spy_delay
    cpu0 = server.cpu_seconds()
    files = requests(warm["rps"])
    wrk = start_wrk(args.wrk, server.url, wrk_seconds, args.connections, **files)
    try:
        time.sleep(args.spy_delay)
        try:
            spy = subprocess.run(  # noqa: S603 - our py-spy on our server's PID
                command, capture_output=True, text=True, timeout=args.duration + 60, check=False
            )
        except subprocess.TimeoutExpired as exc:  # run() has killed it
            spy = subprocess.CompletedProcess(command, -1, "", f"py-spy timed out: {exc}")
        result = wrk_result(wrk, wrk_seconds + 60)
    finally:
        if wrk.poll() is None:
            wrk.kill()
            wrk.wait(5)
    cpu = server.cpu_seconds() - cpu0
    match = re.search(r"Samples: (\d+) Errors: (\d+)", spy.stderr + spy.stdout)
    return {
        "spy_returncode": spy.returncode,
        "spy_output": (spy.stderr + spy.stdout)[-2000:],
        "spy_samples": int(match.group(1)) if match else None,
        "spy_errors": int(match.group(2)) if match else None,
        "command": f"py-spy record -p PID -d {args.duration} -r {args.rate} -f raw -o FILE",
        "rps": result["rps"],
        "non2xx": result["non2xx"],
        "cpu_us_per_req": cpu * 1e6 / result["requests"] if result["requests"] else 0.0,
        "rps_warmup": warm["rps"],
        "cpu_us_per_req_warmup": warm["cpu_us_per_req"],
        "wrk_seconds": round(wrk_seconds),
    }


def _dpop_requests(
    args: argparse.Namespace, client: ProofMaker, token: str, server: Server, path: Path
) -> Callable[[float], dict[str, Path]]:
    """A new pool of proofs for each run, each proof sent once (benchmarks/e2e.py's
    DPoPLoad): the warm-up's from a first guess, the profiled run's from the warm-up's rate
    (never below the first guess). Refused requests show in the report's non-2xx."""

    def requests(rate: float) -> dict[str, Path]:
        seconds = args.warmup if not rate else args.duration + 2 * args.spy_delay
        # At least the first guess: a warm-up slowed by a busy machine must not leave the
        # profiled run short of proofs (replays would be refused and profiled instead).
        n = int(max(DPOP_MARGIN * rate, DPOP_FIRST_RATE) * seconds) + args.connections
        proofs = client.pool(n, "GET", server.url + "/", token)
        path.write_text(token + "\n" + "\n".join(proofs) + "\n")
        return {"dpop_file": path}

    return requests


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=8, help="py-spy seconds (whole)")
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--warmup", type=int, default=2, help="wrk warm-up seconds (whole)")
    parser.add_argument("--spy-delay", type=int, default=2, help="wrk seconds before py-spy")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--wrk", default=os.environ.get("WRK", "wrk"))
    parser.add_argument("--out", type=Path, default=BENCH_DIR)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    started = time.monotonic()

    py_spy = find_py_spy()
    if py_spy is None:
        return skip(args, "py-spy is not installed (pip install -e '.[bench]')")
    if shutil.which(args.wrk) is None:
        return skip(args, f"wrk not found ({args.wrk})")
    version = subprocess.run(  # noqa: S603
        [py_spy, "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    common = {
        "py_spy": version,
        "wrk": wrk_version(args.wrk),
        "uvicorn": package_version("uvicorn"),
        "connections": args.connections,
        "warmup": args.warmup,
        "duration": args.duration,
        "rate": args.rate,
        "spy_delay": args.spy_delay,
    }
    variants: dict[str, Any] = {}
    printed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="jwt-bench-spy-") as tmp_name:
        tmp = Path(tmp_name)
        keys = make_keys("RS256", 4)
        jwks_file = tmp / "jwks.json"
        jwks_file.write_text(json.dumps({"keys": keys.jwks}))
        token = sign(typical_claims(), keys)
        token_file = tmp / "token.txt"
        token_file.write_text(token + "\n")
        # DPoP: one client key, the token bound to it, a new pool of proofs per run.
        client = ProofMaker.generate()
        bound = sign(typical_claims() | {"cnf": {"jkt": client.jkt}}, keys)
        proofs_file = tmp / "dpop-proofs.txt"
        for variant, label in VARIANTS:
            server = start_uvicorn(
                f"spy-{variant}",
                "benchmarks.e2e_app:create_app",
                {"BENCH_VARIANT": variant, "BENCH_JWKS_FILE": str(jwks_file)},
                tmp,
                stack=STACK,
            )
            try:
                if variant == "jwt-dpop":
                    proof = client.proof("GET", server.url + "/", bound)
                    status, body = get(server, "/", bound, proof=proof)
                else:
                    status, body = get(server, "/", token)
                assert status == 200 and body in ANSWERS, (variant, status, body[:200])
                # Can py-spy attach at all (ptrace may be refused in a container)?
                try:
                    probe = subprocess.run(  # noqa: S603
                        [py_spy, "dump", "--pid", str(server.proc.pid)],
                        capture_output=True,
                        text=True,
                        timeout=60,
                        check=False,
                    )
                except subprocess.TimeoutExpired:
                    return skip(args, "py-spy dump did not finish within 60 s")
                if probe.returncode != 0:
                    reason = (probe.stderr or probe.stdout).strip().splitlines()
                    return skip(
                        args, "py-spy cannot attach: " + (reason[-1] if reason else "no output")
                    )
                log(f"spy: {variant}: warm-up {args.warmup} s, then py-spy {args.duration} s")
                raw = tmp / f"{variant}.raw"
                run = profile_variant(
                    args,
                    py_spy,
                    server,
                    _dpop_requests(args, client, bound, server, proofs_file)
                    if variant == "jwt-dpop"
                    else lambda rate: {"token_file": token_file},
                    raw,
                )
            finally:
                server.stop()
            if run["spy_returncode"] != 0 or not raw.exists() or not raw.stat().st_size:
                return skip(args, f"py-spy record failed: {run['spy_output'].strip()[-300:]}")
            a = analyze(read_raw(raw))
            path = args.out / f"profile-e2e-{variant}.txt"
            try:
                shown = str(path.resolve().relative_to(ROOT))
            except ValueError:
                shown = str(path)
            run.update(common, token_bytes=len(token), file=shown)
            path.write_text(report_text(variant, label, run, a))
            printed += summary_lines(variant, run, a)
            log(f"spy: {variant}: {run['rps']:.0f} req/s, {a['samples']} samples -> {shown}")
            variants[variant] = {
                "label": label,
                "rps": run["rps"],
                "rps_warmup": run["rps_warmup"],
                "cpu_us_per_req": run["cpu_us_per_req"],
                "cpu_us_per_req_warmup": run["cpu_us_per_req_warmup"],
                "non2xx": run["non2xx"],
                "samples": a["samples"],
                "spy_errors": run["spy_errors"],
                "file": shown,
                "inner_lines": a["inner_lines"],
                "pct": a["pct"],
            }
    data: dict[str, Any] = {
        "skipped": False,
        "stack": f"{STACK[0]}/{STACK[1]}",
        **common,
        "wrk_seconds": args.duration + 2 * args.spy_delay,
        "variants": variants,
        "seconds_total": round(time.monotonic() - started, 1),
    }
    data["markdown"] = markdown(data)
    print("\n".join(printed))
    log(f"spy: done in {data['seconds_total']} s")
    if args.json:
        args.json.write_text(json.dumps(data, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
