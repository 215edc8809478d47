"""The ``jwt-middleware`` command line (CONTRACT section 5), run in subprocesses.

Commands run as ``python -m jwt_middleware ...`` or as the venv's ``jwt-middleware``
console script, the token on standard input by default and as an argument in
some runs.

- diagnose: every case of ``helpers.cases.CASES`` (imported, not copied) is
  translated from its ``Settings`` into CLI options and must give the reason the
  middleware gives; its controls must be valid. These ~110 command lines run
  through ``cli.main`` in a few batch processes (one process each would take
  ~40 CPU-seconds); a spot check per stage runs as separate real processes and
  must agree with the batch.
- decode, fingerprint (compared with joserfc's RFC 7638 thumbprint and with what
  the middleware logs and exports), usage errors (exit 2), and probe against two
  real example app instances.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import json
import os
import pty
import re
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from helpers.cases import CASES, CONTROLS, Case, Ctx, Req, hs_token
from helpers.jwks_server import JWKSServer, public_jwk
from helpers.keys import AUDIENCE, HS_SECRET, ISSUER, Keys, private_pem, public_pem
from helpers.logs import hmac_fingerprint
from helpers.procs import (
    REPO_DIR,
    ServerProcess,
    child_env,
    example_app_argv,
    free_port,
)
from helpers.tokens import claims, sign
from joserfc.jwk import JWKRegistry, OctKey, RSAKey
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from jwt_middleware import JWTAuthMiddleware, Settings
from jwt_middleware.cli.keyoptions import DIAGNOSE_FLAGS

SCRIPT = Path(sys.executable).parent / "jwt-middleware"
WORKERS = max(2, os.cpu_count() or 2)
ESC = "\x1b"
DAY = 86400

# Cases of helpers.cases.CASES that one token given to the CLI cannot express.
SKIPPED_BY_DESIGN: dict[str, str] = {
    "missing_token": "a request without Authorization; the CLI always has a token (none: exit 2)",
    "multiple_authorization_headers": "several headers in one request; the CLI takes one token",
    "multiple_tokens_header_and_cookie": "two places in one request; the CLI takes one token",
    "missing_kid": "two PEM keys, diagnose takes one --key-file (missing_kid_jwks covers it)",
}
# Header values that read as a bare token (or a quoted one) unless marked as a header line.
AS_HEADER_LINE = {"invalid_scheme_no_prefix", "invalid_scheme_quoted_token_without_bearer"}
# helpers.apps.build_app's default path_scopes: a request to /admin needs scope "admin".
PATH_SCOPES = {"/admin": ["admin"], "/tenant/admin": ["admin"]}
# ... and its default path_claims: /tenant (and below) needs the claim tid = tenant-a.
PATH_CLAIMS = {"/tenant": ["tid=tenant-a"], "/tenant/admin": ["tid=tenant-a"]}
# Settings fields the CLI has options for, and fields that never change a reason.
TRANSLATED = {
    "jwks_file",
    "public_keys",
    "public_key_file",
    "secret",
    "issuer",
    "audience",
    "algorithms",
    "leeway",
    "token_types",
    "idp",
    "idp_tenants",
    "scope_claims",
}
# optional_paths only changes what a request without a token gets (the CLI has a token).
NO_EFFECT_ON_REASON = {"diagnostics", "realm", "setting_names", "optional_paths"}


# --- running the CLI ------------------------------------------------------------------


@dataclass
class Run:
    args: list[str]
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def __str__(self) -> str:
        return f"{self.args[:3]}... exit {self.code}\nstdout:\n{self.out}\nstderr:\n{self.err}"


@dataclass
class Invocation:
    args: list[str]
    stdin: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    script: bool = False  # the console script instead of python -m


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JWT_") and k != "NO_COLOR"}
    env.update(extra or {})
    return env


def run(inv: Invocation, timeout: float = 30) -> Run:
    prefix = [str(SCRIPT)] if inv.script else [sys.executable, "-m", "jwt_middleware"]
    proc = subprocess.run(
        [*prefix, *inv.args],
        input=inv.stdin if inv.stdin is not None else "",
        capture_output=True,
        text=True,
        env=clean_env(inv.env),
        cwd=REPO_DIR,
        timeout=timeout,
    )
    return Run(inv.args, proc.returncode, proc.stdout, proc.stderr)


def cli(*args: str, stdin: str | None = None, **env: str) -> Run:
    return run(Invocation(list(args), stdin, env))


def run_all(invocations: Sequence[Invocation]) -> list[Run]:
    """One real process per invocation, a few at a time."""
    with ThreadPoolExecutor(WORKERS) as pool:
        return list(pool.map(run, invocations))


# Runs many command lines in one process: the real argument parser and main(), each
# with its own stdin, stdout, stderr and JWT_SECRET. ~110 processes cost ~40 CPU-seconds.
DRIVER = """
import contextlib, io, json, os, sys
from jwt_middleware.cli import main
results = []
for job in json.load(sys.stdin):
    os.environ.pop("JWT_SECRET", None)
    os.environ.update(job["env"])
    sys.stdin = io.StringIO(job["stdin"] or "")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(job["args"])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 2
    results.append({"code": code, "out": out.getvalue(), "err": err.getvalue()})
sys.__stdout__.write(json.dumps(results))
"""


def run_batched(invocations: Sequence[Invocation]) -> list[Run]:
    """Every invocation through ``cli.main`` in WORKERS processes, in parallel."""
    chunks = [list(range(i, len(invocations), WORKERS)) for i in range(WORKERS)]

    def one(indexes: list[int]) -> list[dict[str, Any]]:
        jobs = [dataclasses.asdict(invocations[i]) for i in indexes]
        proc = subprocess.run(
            [sys.executable, "-c", DRIVER],
            input=json.dumps(jobs),
            capture_output=True,
            text=True,
            env=clean_env(),
            cwd=REPO_DIR,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
        results: list[dict[str, Any]] = json.loads(proc.stdout)
        return results

    runs: list[Run | None] = [None] * len(invocations)
    with ThreadPoolExecutor(WORKERS) as pool:
        for indexes, results in zip(chunks, pool.map(one, chunks), strict=True):
            for i, r in zip(indexes, results, strict=True):
                runs[i] = Run(invocations[i].args, r["code"], r["out"], r["err"])
    return [r for r in runs if r is not None]


# --- translating a helpers.cases request into a command line ----------------------


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    factory: Any = f.default_factory
    return factory()


class Translator:
    """Settings + one Authorization header -> ``diagnose`` options and a token."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.secrets = 0  # alternate JWT_SECRET and --secret

    def pem_file(self, pem: str) -> str:
        path = self.tmp / f"{hashlib.sha256(pem.encode()).hexdigest()[:16]}.pem"
        if not path.exists():
            path.write_text(pem)
        return str(path)

    def options(self, s: Settings) -> tuple[list[str], dict[str, str]]:
        for f in dataclasses.fields(Settings):
            if f.name not in TRANSLATED | NO_EFFECT_ON_REASON:
                assert getattr(s, f.name) == _default(f), f"no CLI option for {f.name}"
        args: list[str] = []
        env: dict[str, str] = {}
        if s.jwks_file:
            args += ["--jwks-file", s.jwks_file]
        assert len(s.public_keys) <= 1, "diagnose takes one --key-file"
        if s.public_keys:
            args += ["--key-file", self.pem_file(s.public_keys[0])]
        if s.public_key_file:
            args += ["--key-file", s.public_key_file]
        if s.secret is not None:
            self.secrets += 1
            if self.secrets % 2:
                env["JWT_SECRET"] = s.secret
            else:
                args += ["--secret", s.secret]
        if s.issuers:
            args += ["--issuer", ",".join(s.issuers)]
        if s.audiences:
            args += ["--audience", ",".join(s.audiences)]
        args += ["--algorithms", ",".join(s.allowed_algorithms)]
        args += ["--leeway", str(s.leeway)]
        if s.accepted_token_types:
            args += ["--token-types", ",".join(s.accepted_token_types)]
        if s.idp != "auto":
            args += ["--idp", s.idp]
        if s.tenants:
            args += ["--idp-tenants", ",".join(s.tenants)]
        if s.scope_claim_names != ("scope", "scp"):
            args += ["--scope-claims", ",".join(s.scope_claim_names)]
        return args, env

    def invocation(self, name: str, req: Req, index: int) -> Invocation:
        assert [n for n, _ in req.headers] == ["Authorization"], name
        value = req.headers[0][1]
        if req.tokens and value == f"Bearer {req.tokens[0]}":
            token = req.tokens[0]  # a bare token
        elif name in AS_HEADER_LINE:
            token = f"Authorization: {value}"
        else:
            token = value  # the whole header value: "Bearer Bearer x", "Basic ..."
        args, env = self.options(req.settings)
        args = ["diagnose", "--json", *args]
        for scope in PATH_SCOPES.get(req.path, []):
            args += ["--require-scope", scope]
        for claim in PATH_CLAIMS.get(req.path, []):
            args += ["--require-claim", claim]
        if index % 3 == 1:
            return Invocation([*args, token], None, env)  # token as the argument
        return Invocation(args, token, env)  # token on stdin


@dataclass
class Diagnosed:
    invocations: dict[str, Invocation]
    runs: dict[str, Run]
    seconds: float


CASE_IDS = [c.id for c in CASES if c.id not in SKIPPED_BY_DESIGN]
CONTROL_IDS = [f"control:{name}" for name, _ in CONTROLS]


@pytest.fixture(scope="module")
def diagnosed(ctx: Ctx, tmp_path_factory: pytest.TempPathFactory) -> Diagnosed:
    """Every translatable case and every control, diagnosed (see DRIVER)."""
    tr = Translator(tmp_path_factory.mktemp("cli-cases"))
    invocations = {
        c.id: tr.invocation(c.id, c.make(ctx), i)
        for i, c in enumerate(c for c in CASES if c.id not in SKIPPED_BY_DESIGN)
    }
    for i, (name, make) in enumerate(CONTROLS):
        invocations[f"control:{name}"] = tr.invocation(name, make(ctx), i)
    started = time.monotonic()
    results = run_batched(list(invocations.values()))
    seconds = time.monotonic() - started
    return Diagnosed(invocations, dict(zip(invocations, results, strict=True)), seconds)


def test_skipped_cases_are_known_and_few() -> None:
    ids = {c.id for c in CASES}
    assert set(SKIPPED_BY_DESIGN) <= ids
    assert ids >= AS_HEADER_LINE
    reasons = {c.reason for c in CASES if c.id not in SKIPPED_BY_DESIGN}
    # Only missing_token and multiple_authorization_headers are out of the CLI's reach.
    assert {c.reason for c in CASES} - reasons == {
        "missing_token",
        "multiple_authorization_headers",
        "multiple_tokens",
    }


@pytest.mark.parametrize("case", [c for c in CASES if c.id in CASE_IDS], ids=CASE_IDS)
def test_diagnose_gives_the_middleware_reason(case: Case, diagnosed: Diagnosed) -> None:
    result = diagnosed.runs[case.id]
    assert result.code == 1, result
    body = result.json()
    assert body["reason"] == case.reason, result
    assert body["valid"] is False
    assert case.reason in [p["reason"] for p in body["problems"]]
    for part in case.detail:
        assert part in body["detail"], body["detail"]
    for part in case.hint:
        assert as_flags(part) in body["hint"], body["hint"]
    assert result.err == ""


def as_flags(hint: str) -> str:
    """A hint of the middleware as diagnose writes it: a setting given as a keyword
    there is a flag here (keyoptions.DIAGNOSE_FLAGS), path_claims --require-claim."""
    for name, flag in DIAGNOSE_FLAGS.items():
        hint = hint.replace(f"Settings({name}=...)", flag)
    return hint.replace("path_claims", "--require-claim")


@pytest.mark.parametrize("name", CONTROL_IDS)
def test_diagnose_accepts_the_controls(name: str, diagnosed: Diagnosed) -> None:
    result = diagnosed.runs[name]
    assert result.code == 0, result
    body = result.json()
    assert body["reason"] is None
    assert body["problems"] == []
    assert body["valid"] is True
    assert body["claims"]["sub"] == "user-1"


# One case per stage and per way of passing the token or the key, as real processes
# (python -m, or the console script): they must agree with the batched runs.
SPOT_CHECKS = [
    "double_bearer",
    "invalid_scheme_no_prefix",
    "whitespace_line_break",
    "token_too_large_huge",
    "invalid_base64_padded",
    "algorithm_confusion_kid_names_rsa_key",
    "kid_mismatch",
    "secret_configured_with_trailing_newline",
    "secret_raw_configured_base64_signed",
    "issuer_trailing_slash",
    "insufficient_scope",
    "control:hs_raw",
    "control:admin_scope",
]


def test_real_processes_agree_with_the_batch(diagnosed: Diagnosed) -> None:
    assert set(SPOT_CHECKS) <= set(diagnosed.runs)
    invocations = [diagnosed.invocations[name] for name in SPOT_CHECKS]
    ways = {
        (inv.stdin is None, "JWT_SECRET" in inv.env, "--secret" in inv.args) for inv in invocations
    }
    assert {w[0] for w in ways} == {True, False}  # token as argument and on stdin
    assert {w[1] for w in ways} == {True, False}  # secret from the environment, or not
    assert any(w[2] for w in ways)  # secret as --secret
    scripted = [dataclasses.replace(inv, script=i % 2 == 0) for i, inv in enumerate(invocations)]
    for name, real in zip(SPOT_CHECKS, run_all(scripted), strict=True):
        batched = diagnosed.runs[name]
        assert real.code == batched.code, real
        real_body, batched_body = real.json(), batched.json()
        assert real_body["reason"] == batched_body["reason"]
        assert real_body["problems"] == batched_body["problems"] or "expired" in real.out
        assert real.err == "" and ESC not in real.out


def test_batched_runs_are_fast(diagnosed: Diagnosed) -> None:
    assert diagnosed.seconds < 20, f"{len(diagnosed.runs)} runs: {diagnosed.seconds:.1f} s"


# --- diagnose: output forms ---------------------------------------------------------------


@pytest.fixture(scope="module")
def pem_files(keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("cli-pem")
    files = {
        "public": public_pem(keys.rsa),
        "private": private_pem(keys.rsa),
        "public2": public_pem(keys.rsa2),
    }
    for name, text in files.items():
        (tmp / f"{name}.pem").write_text(text)
    return {name: str(tmp / f"{name}.pem") for name in files}


def _rsa_opts(pem_files: dict[str, str]) -> list[str]:
    return ["--key-file", pem_files["public"], "--issuer", ISSUER, "--audience", AUDIENCE]


def test_json_output_is_stable(keys: Keys, pem_files: dict[str, str]) -> None:
    token = sign(claims(iss=ISSUER.rstrip("/"), iat=1_700_000_000, nbf=None), keys.rsa)
    first, second = run_all([Invocation(["diagnose", *_rsa_opts(pem_files), "--json"], token)] * 2)
    assert first.code == second.code == 1
    assert first.out == second.out  # same token, same bytes
    body = first.json()
    assert first.out == json.dumps(body, indent=2) + "\n"  # one document, nothing else
    assert list(body)[:8] == [
        "valid",
        "type",
        "title",
        "status",
        "reason",
        "detail",
        "hint",
        "problems",
    ]
    assert body["reason"] == "issuer_mismatch"
    assert body["expected"] == {"issuer": [ISSUER]}


def test_human_output_has_reason_and_hint_and_no_colour(
    keys: Keys, pem_files: dict[str, str]
) -> None:
    token = sign(claims(aud="billing-api"), keys.rsa)
    opts = ["diagnose", *_rsa_opts(pem_files)]
    human, as_json, valid = run_all(
        [
            Invocation(opts, token),
            Invocation([*opts, "--json"], token),
            Invocation(opts, sign(claims(), keys.rsa)),
        ]
    )
    assert human.code == as_json.code == 1
    body = as_json.json()
    assert human.out.startswith("REJECTED  audience_mismatch (401, invalid_token)\n")
    assert f"  hint    {body['hint']}\n" in human.out
    assert f"  detail  {body['detail']}\n" in human.out
    assert valid.code == 0
    assert valid.out.startswith("VALID  RS256, kid (none)\n")
    assert "subject  user-1" in valid.out
    for result in (human, as_json, valid):
        assert ESC not in result.out + result.err
        assert token not in result.out


def _run_on_pty(args: list[str], stdin: str, **env: str) -> str:
    """Run with stdout on a pseudo-terminal; return what it printed."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "jwt_middleware", *args],
        stdin=subprocess.PIPE,
        stdout=slave,
        stderr=subprocess.DEVNULL,
        env=clean_env(env),
        cwd=REPO_DIR,
    )
    os.close(slave)
    proc.communicate(stdin.encode(), timeout=30)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:  # EIO: the terminal's other side closed
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return b"".join(chunks).decode()


def test_colour_only_on_a_terminal(keys: Keys, pem_files: dict[str, str]) -> None:
    """The no-colour assertions above mean something: on a terminal there is colour."""
    token = sign(claims(aud="billing-api"), keys.rsa)
    args = ["diagnose", *_rsa_opts(pem_files)]
    assert f"{ESC}[31;1mREJECTED" in _run_on_pty(args, token)
    plain = _run_on_pty(args, token, NO_COLOR="1")
    assert ESC not in plain and "REJECTED" in plain


def test_leeway_option(keys: Keys, pem_files: dict[str, str]) -> None:
    token = sign(claims(exp=int(time.time()) - 5, iat=None, nbf=None), keys.rsa)
    opts = ["diagnose", "--json", *_rsa_opts(pem_files)]
    strict, lenient, default = run_all(
        [
            Invocation([*opts, "--leeway", "0"], token),
            Invocation([*opts, "--leeway", "60"], token),
            Invocation(opts, token),  # 30 s by default
        ]
    )
    assert (strict.code, strict.json()["reason"]) == (1, "token_expired")
    assert (lenient.code, lenient.json()["reason"]) == (0, None)
    assert default.code == 0


def test_diagnose_jwks_url(keys: Keys) -> None:
    with JWKSServer() as srv:
        srv.state.keys = [public_jwk(keys.rsa, "k2", "RS256")]
        opts = ["diagnose", "--jwks-url", srv.jwks_url, "--issuer", ISSUER, "--json"]
        good, unknown = run_all(
            [
                Invocation(
                    [*opts, "--audience", AUDIENCE], sign(claims(), keys.rsa, headers={"kid": "k2"})
                ),
                Invocation(opts, sign(claims(), keys.rsa, headers={"kid": "k9"})),
            ]
        )
    assert good.code == 0, good
    assert good.json()["kid"] == "k2"
    assert unknown.code == 1
    assert unknown.json()["reason"] == "unknown_kid"
    assert unknown.json()["expected"]["known_kids"] == ["k2"]


def test_token_from_argument_stdin_and_dash_agree(keys: Keys, pem_files: dict[str, str]) -> None:
    token = sign(claims(), keys.rsa)
    opts = ["diagnose", "--json", *_rsa_opts(pem_files)]
    results = run_all(
        [
            Invocation([*opts, token]),
            Invocation(opts, token + "\n"),
            Invocation([*opts, "-"], token),
            Invocation([*opts, f"Bearer {token}"]),
            Invocation([*opts, f"Authorization: Bearer {token}"]),
        ]
    )
    assert [r.code for r in results] == [0] * 5, results
    assert len({r.out for r in results}) == 1


# --- usage errors ---------------------------------------------------------------------


def test_usage_errors_exit_2(keys: Keys, pem_files: dict[str, str], tmp_path: Path) -> None:
    token = sign(claims(), keys.rsa)
    key = ["--key-file", pem_files["public"]]
    cases: dict[str, tuple[Invocation, str]] = {
        "unknown option": (Invocation(["diagnose", "--frobnicate", *key], token), "--frobnicate"),
        "unknown command": (Invocation(["verify", token]), "invalid choice"),
        "no command": (Invocation([]), "required"),
        "no key source": (Invocation(["diagnose"], token), "key source"),
        "bad leeway": (Invocation(["diagnose", *key, "--leeway", "soon"], token), "--leeway"),
        "leeway out of range": (
            Invocation(["diagnose", *key, "--leeway", "99999"], token),
            "leeway",
        ),
        "unreadable key file": (
            Invocation(["diagnose", "--key-file", str(tmp_path / "absent.pem")], token),
            "absent.pem",
        ),
        "private key to diagnose": (
            Invocation(["diagnose", "--key-file", pem_files["private"]], token),
            "private key",
        ),
        "empty token": (Invocation(["diagnose", *key], "  \n"), "token is empty"),
        "unsupported algorithm": (
            Invocation(["diagnose", *key, "--algorithms", "none"], token),
            "none",
        ),
        "fingerprint without keys": (Invocation(["fingerprint"]), "--key-file"),
        "fingerprint unreadable key": (
            Invocation(["fingerprint", "--key-file", str(tmp_path / "absent.pem")]),
            "absent.pem",
        ),
        "probe without url": (Invocation(["probe", "--token", token]), "URL"),
        "decode empty": (Invocation(["decode"], ""), "token is empty"),
    }
    results = run_all([inv for inv, _ in cases.values()])
    for (name, (_inv, message)), result in zip(cases.items(), results, strict=True):
        assert result.code == 2, f"{name}: {result}"
        assert result.out == "", f"{name}: {result}"
        assert "usage: jwt-middleware" in result.err, f"{name}: {result}"
        assert message in result.err, f"{name}: {result}"
        assert "Traceback" not in result.err, f"{name}: {result}"
        assert token not in result.err


# --- decode -------------------------------------------------------------------------------


def test_decode_shows_header_claims_and_times_never_the_signature(keys: Keys) -> None:
    now = int(time.time())
    token = sign(
        claims(iat=now - 7200, nbf=now - 7200, exp=now + 2 * DAY + 3600),
        keys.rsa,
        headers={"kid": "k2"},
    )
    signature = token.split(".")[2]
    human, as_json, as_argument = run_all(
        [
            Invocation(["decode"], token),
            Invocation(["decode", "--json"], token),
            Invocation(["decode", f"Bearer {token}"]),
        ]
    )
    assert human.code == as_json.code == as_argument.code == 0
    assert human.out == as_argument.out
    out = human.out
    assert out.startswith("header\n")
    assert '"kid": "k2"' in out and '"alg": "RS256"' in out
    assert "claims\n" in out and f'"iss": "{ISSUER}"' in out and '"sub": "user-1"' in out
    assert re.search(r"  iat  \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(2 h 0 min ago\)", out), out
    assert re.search(r"  exp  \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(in 2 d \d h\)", out), out
    assert "signature: 256 bytes (not shown, not verified)" in out
    body = as_json.json()
    assert body["header"] == {"alg": "RS256", "kid": "k2", "typ": "JWT"}
    assert body["claims"]["exp"] == now + 2 * DAY + 3600
    assert body["times"]["iat"].endswith(" UTC (2 h 0 min ago)")
    assert body["signature_bytes"] == 256
    for result in (human, as_json, as_argument):
        assert signature not in result.out + result.err
        assert signature[:16] not in result.out + result.err
        assert ESC not in result.out


def test_decode_of_a_malformed_token_diagnoses_its_structure(keys: Keys) -> None:
    good = sign(claims(), keys.rsa)
    head, payload, _sig = good.split(".")
    human, as_json, padded, quoted = run_all(
        [
            Invocation(["decode"], f"{head}.{payload}"),
            Invocation(["decode", "--json"], f"{head}.{payload}"),
            Invocation(["decode", "--json"], f"{head}.{payload}.c2lnIQ=="),
            Invocation(["decode", "--json", f'"{good}"']),
        ]
    )
    assert human.code == 1
    assert human.out.startswith("REJECTED  malformed_token (401, invalid_token)\n")
    assert "The token has 2 segments; a signed JWT has three." in human.out
    assert "  hint    " in human.out
    assert as_json.code == 1 and as_json.json()["reason"] == "malformed_token"
    assert padded.code == 1 and padded.json()["reason"] == "invalid_base64"
    assert "padded" in padded.json()["detail"]
    assert quoted.code == 1 and quoted.json()["reason"] == "quoted_token"
    for result in (human, as_json, padded, quoted):
        assert payload not in result.out  # a structural diagnosis, not a decode


# --- fingerprint --------------------------------------------------------------------------


async def _ok(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


async def middleware_fingerprints(settings: Settings, token: str) -> tuple[list[str], set[str]]:
    """``key_fingerprint`` the middleware logs for an accepted ``token``, and the
    ``fingerprint`` labels of jwt_key_info in its metrics."""
    capture = structlog.testing.LogCapture()
    logger = structlog.wrap_logger(
        structlog.ReturnLogger(), processors=[capture], wrapper_class=structlog.BoundLogger
    )
    registry = CollectorRegistry()
    app = JWTAuthMiddleware(
        Starlette(routes=[Route("/me", _ok)]),
        dataclasses.replace(settings, log_accepted=True),
        logger=logger,
        registry=registry,
    )
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/me", headers={"Authorization": f"Bearer {token}"})
    finally:
        await app.shutdown()
    assert response.status_code == 200, response.text
    logged = [e["key_fingerprint"] for e in capture.entries if e["event"] == "jwt_auth.accepted"]
    labels = {
        s.labels["fingerprint"]
        for metric in registry.collect()
        if metric.name == "jwt_key_info"
        for s in metric.samples
        if s.value == 1
    }
    return logged, labels


def _printed(result: Run) -> dict[str, str]:
    """kid (or '-') -> fingerprint from the human table."""
    assert result.code == 0, result
    lines = result.out.splitlines()
    assert lines[0].split() == ["kid", "key", "fingerprint"]
    return {line.split()[0]: line.split()[-1] for line in lines[1:]}


async def test_fingerprint_key_file_public_and_private_agree(
    keys: Keys, pem_files: dict[str, str]
) -> None:
    public, private, both_json = run_all(
        [
            Invocation(["fingerprint", "--key-file", pem_files["public"]]),
            Invocation(["fingerprint", "--key-file", pem_files["private"]]),
            Invocation(
                [
                    "fingerprint",
                    "--json",
                    "--key-file",
                    pem_files["private"],
                    "--key-file",
                    pem_files["public2"],
                ]
            ),
        ]
    )
    expected = RSAKey.import_key(public_pem(keys.rsa)).thumbprint()
    assert _printed(public) == _printed(private) == {"-": expected}
    assert "RSA 2048" in public.out
    assert [row["fingerprint"] for row in both_json.json()] == [
        expected,
        RSAKey.import_key(public_pem(keys.rsa2)).thumbprint(),
    ]
    assert "PRIVATE" not in private.out + private.err
    logged, labels = await middleware_fingerprints(
        Settings(public_key_file=pem_files["public"], issuer=ISSUER, audience=AUDIENCE),
        sign(claims(), keys.rsa),
    )
    assert logged == [expected]
    assert labels == {expected}


async def test_fingerprint_jwks_file(keys: Keys, tmp_path: Path) -> None:
    jwks = [public_jwk(keys.rsa, "k1", "RS256"), public_jwk(keys.ec256, "e1")]
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": jwks}))
    human, as_json = run_all(
        [
            Invocation(["fingerprint", "--jwks-file", str(path)]),
            Invocation(["fingerprint", "--jwks-file", str(path), "--json"]),
        ]
    )
    expected = {j["kid"]: JWKRegistry.import_key(j).thumbprint() for j in jwks}
    assert _printed(human) == expected
    assert {r["kid"]: r["fingerprint"] for r in as_json.json()} == expected
    assert [(r["kid"], r["kty"], r["alg"]) for r in as_json.json()] == [
        ("k1", "RSA", "RS256"),
        ("e1", "EC", None),
    ]
    logged, labels = await middleware_fingerprints(
        Settings(
            jwks_file=str(path), algorithms=("RS256", "ES256"), issuer=ISSUER, audience=AUDIENCE
        ),
        sign(claims(), keys.ec256, "ES256", headers={"kid": "e1"}),
    )
    assert logged == [expected["e1"]]
    assert labels == set(expected.values())


async def test_fingerprint_jwks_url(keys: Keys) -> None:
    with JWKSServer() as srv:
        jwks = [public_jwk(keys.rsa, "k1"), public_jwk(keys.rsa2, "k2")]
        srv.state.keys = jwks
        result = run(Invocation(["fingerprint", "--jwks-url", srv.jwks_url]))
        logged, labels = await middleware_fingerprints(
            Settings(jwks_url=srv.jwks_url, jwks_allow_http=True, issuer=ISSUER, audience=AUDIENCE),
            sign(claims(), keys.rsa2, headers={"kid": "k2"}),
        )
    expected = {j["kid"]: JWKRegistry.import_key(j).thumbprint() for j in jwks}
    assert _printed(result) == expected
    assert logged == [expected["k2"]]
    assert labels == set(expected.values())


async def test_fingerprint_secret_never_printed() -> None:
    raw = HS_SECRET.encode()
    forbidden = [
        HS_SECRET,
        HS_SECRET[:12],
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        OctKey.import_key(raw).thumbprint(),  # a fast hash of the secret: guessable offline
    ]
    option, from_env, as_json = run_all(
        [
            Invocation(["fingerprint", "--secret", HS_SECRET]),
            Invocation(["fingerprint"], env={"JWT_SECRET": HS_SECRET}),
            Invocation(["fingerprint", "--json"], env={"JWT_SECRET": HS_SECRET}),
        ]
    )
    expected = hmac_fingerprint(raw)
    assert _printed(option) == _printed(from_env) == {"-": expected}
    assert "HMAC secret (1)" in option.out
    assert as_json.json()[0]["fingerprint"] == expected
    for result in (option, from_env, as_json):
        for value in forbidden:
            assert value not in result.out + result.err
    logged, labels = await middleware_fingerprints(
        Settings(secret=HS_SECRET, algorithms=("HS256",), issuer=ISSUER, audience=AUDIENCE),
        hs_token(claims(), raw),
    )
    assert logged == [expected]
    assert labels == {expected}


# --- probe --------------------------------------------------------------------------------


def _start(name: str, jwks: list[dict[str, Any]], tmp: Path) -> ServerProcess:
    jwks_file = tmp / f"{name}.jwks.json"
    jwks_file.write_text(json.dumps({"keys": jwks}))
    port = free_port()
    env = child_env(
        drop=("NO_COLOR",),
        JWT_JWKS_FILE=str(jwks_file),
        JWT_ISSUER=ISSUER,
        JWT_AUDIENCE=AUDIENCE,
    )
    return ServerProcess.start(
        example_app_argv(port, "--log-level", "warning"),
        port=port,
        env=env,
        cwd=REPO_DIR,
        log_path=tmp / f"{name}.log",
        name="example app",
    )


@pytest.fixture(scope="module")
def instances(keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A: the issuer's keys after rotation (k1 old, k2 current); B: only the old k1."""
    tmp = tmp_path_factory.mktemp("cli-probe")
    old, current = public_jwk(keys.rsa2, "k1", "RS256"), public_jwk(keys.rsa, "k2", "RS256")
    with contextlib.ExitStack() as started:
        a = started.enter_context(_start("a", [old, current], tmp))
        b = started.enter_context(_start("b", [old], tmp))
        for instance in (a, b):
            instance.wait_healthy("/healthz", 20.0, probe_timeout=0.5)
        yield {"A": f"{a.base_url}/me", "B": f"{b.base_url}/me"}


@pytest.fixture(scope="module")
def current_token(keys: Keys) -> str:
    return sign(claims(exp=int(time.time()) + 3600), keys.rsa, headers={"kid": "k2"})


def test_probe_reports_the_instance_without_the_current_key(
    instances: dict[str, str], current_token: str
) -> None:
    a, b = instances["A"], instances["B"]
    human, as_json, only_a, from_stdin = run_all(
        [
            Invocation(["probe", a, b, "--token", current_token]),
            Invocation(["probe", a, b, "--token", current_token, "--json"]),
            Invocation(["probe", a, "--token", current_token], script=True),
            Invocation(["probe", a, b], current_token),
        ]
    )
    assert human.code == 1, human
    lines = human.out.splitlines()
    assert re.fullmatch(rf"ok   {re.escape(a)}\s+200", lines[0]), lines
    assert re.fullmatch(rf"FAIL {re.escape(b)}\s+401  unknown_kid", lines[1]), lines
    assert lines[-1] == "1/2 instances accept the token"
    assert ESC not in human.out
    assert current_token not in human.out + as_json.out
    assert as_json.code == 1
    report = as_json.json()
    assert report["ok"] is False
    assert [(r["url"], r["ok"], r["status"]) for r in report["results"]] == [
        (a, True, 200),
        (b, False, 401),
    ]
    assert report["results"][1]["reason"] == "unknown_kid"
    assert "k2" in report["results"][1]["detail"]
    assert only_a.code == 0, only_a
    assert only_a.out.splitlines()[-1] == "1/1 instances accept the token"
    assert from_stdin.code == 1 and from_stdin.out == human.out


def test_probe_reports_an_unreachable_instance(
    instances: dict[str, str], current_token: str
) -> None:
    closed = f"http://127.0.0.1:{free_port()}/me"
    human, as_json = run_all(
        [
            Invocation(
                ["probe", instances["A"], closed, "--token", current_token, "--timeout", "2"]
            ),
            Invocation(["probe", closed, "--token", current_token, "--json", "--timeout", "2"]),
        ]
    )
    assert human.code == 1, human
    assert re.search(rf"FAIL {re.escape(closed)}\s+---  unreachable", human.out), human.out
    assert "1/2 instances accept the token" in human.out
    assert as_json.code == 1
    (result,) = as_json.json()["results"]
    assert (result["ok"], result["status"], result["reason"]) == (False, None, "unreachable")


# --- the console script -------------------------------------------------------------------


def test_console_script_is_installed_and_runs(keys: Keys, pem_files: dict[str, str]) -> None:
    assert SCRIPT.is_file()
    token = sign(claims(), keys.rsa)
    help_, diagnose = run_all(
        [
            Invocation(["--help"], script=True),
            Invocation(["diagnose", *_rsa_opts(pem_files), token], script=True),
        ]
    )
    assert help_.code == 0
    for command in ("decode", "diagnose", "fingerprint", "probe"):
        assert command in help_.out
    assert diagnose.code == 0 and diagnose.out.startswith("VALID")


# --- token type and provider (decode, diagnose) ------------------------------------------


def test_decode_and_diagnose_name_the_token_type_and_provider(keys: Keys, tmp_path: Path) -> None:
    """An Entra ID v1.0 ID-token-like token: decode names its type, the provider and the
    v1.0 quirk; diagnose with a v2.0 issuer gives the quirk in the hint too."""
    tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
    token = sign(
        claims(iss=f"https://sts.windows.net/{tenant}/", nonce="n-0S6", at_hash="77QmUP"),
        keys.rsa,
    )
    pem = tmp_path / "entra.pem"
    pem.write_text(public_pem(keys.rsa))
    v2 = f"https://login.microsoftonline.com/{tenant}/v2.0"
    human, as_json, diagnosed, typed = run_all(
        [
            Invocation(["decode"], token),
            Invocation(["decode", "--json"], token),
            Invocation(["diagnose", "--json", "--key-file", str(pem), "--issuer", v2], token),
            Invocation(["diagnose", "--key-file", str(pem), "--token-types", "at+jwt"], token),
        ]
    )
    assert human.code == as_json.code == 0
    assert "type      The token's header 'typ' is 'JWT'" in human.out
    assert "OpenID Connect ID token" in human.out
    assert "provider  Microsoft Entra ID" in human.out
    assert "v1.0 token" in human.out
    body = as_json.json()
    assert body["provider"] == "Microsoft Entra ID"
    assert "ID token" in body["token_type"]
    assert any("v1.0" in note for note in body["provider_notes"])
    assert diagnosed.code == 1, diagnosed
    result = diagnosed.json()
    assert result["reason"] == "issuer_mismatch"
    assert "requestedAccessTokenVersion" in result["hint"]
    assert "OpenID Connect ID token" in result["hint"]
    assert result["provider"] == "Microsoft Entra ID"
    assert typed.code == 1, typed
    assert "wrong_token_type" in typed.out and "ID token" in typed.out
