"""``jwt-middleware diagnose`` when the key source cannot be fetched (issue 12, part 4).

The CLI runs as real processes against three key sources on 127.0.0.1 that give
no keys: a closed port, a server answering 500 and one answering a body that is
not JSON (plus one serving a JWKS without a usable key). Every stage that needs
no key still judges the token: a malformed, unsigned or otherwise structurally
bad token gets its own reason; a well-formed one gets ``key_source_unavailable``
with a detail naming the source and the fetch error (without the URL's
credentials or query). Both exit 1 with the usual ``--json`` object; exit 2
stays for usage errors.

The reasons are also compared with the middleware's for the same token and the
same unreachable source (in-process): the CLI is the same verifier.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from helpers.apps import build_app
from helpers.jwks_server import JWKSServer, public_jwk
from helpers.keys import AUDIENCE, HS_SECRET, ISSUER, Keys, b64url
from helpers.procs import child_env, free_port
from helpers.tokens import claims, raw_token, sign

from jwt_middleware import Settings

REPO_DIR = Path(__file__).resolve().parents[2]
WORKERS = 2
#: Parts of the unreachable URL that must never be printed.
USER, PASSWORD, QUERY_SECRET = "svc-user", "pw-0f3c9a1e", "q-7d41b8e2"


@dataclass
class Run:
    args: list[str]
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def __str__(self) -> str:
        return f"{self.args}: exit {self.code}\nstdout:\n{self.out}\nstderr:\n{self.err}"


def run(args: list[str], stdin: str) -> Run:
    proc = subprocess.run(
        [sys.executable, "-m", "jwt_middleware", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=child_env(drop=("NO_COLOR",)),
        cwd=REPO_DIR,
        timeout=60,
    )
    return Run(args, proc.returncode, proc.stdout, proc.stderr)


def run_all(jobs: list[tuple[list[str], str]]) -> list[Run]:
    with ThreadPoolExecutor(WORKERS) as pool:
        return list(pool.map(lambda job: run(*job), jobs))


def opts(url: str) -> list[str]:
    return ["diagnose", "--jwks-url", url, "--issuer", ISSUER, "--audience", AUDIENCE]


@dataclass(frozen=True)
class Sources:
    """URLs of key sources that give no keys, and a working one."""

    closed: str  # nothing listens; the URL carries credentials and a query
    closed_plain: str  # the same port, without them
    status_500: str
    garbage: str
    no_keys: str
    working: str


@pytest.fixture(scope="module")
def sources(keys: Keys) -> Iterator[Sources]:
    with contextlib.ExitStack() as stack:
        servers = [stack.enter_context(JWKSServer()) for _ in range(4)]
        failing, garbage, empty, working = servers
        failing.state.keys = [public_jwk(keys.rsa, "k1", "RS256")]
        failing.state.status = 500
        garbage.state.raw_body = b"<html>not a key set</html>"
        empty.state.keys = []
        working.state.keys = [public_jwk(keys.rsa, "k1", "RS256")]
        port = free_port()
        yield Sources(
            closed=f"http://{USER}:{PASSWORD}@127.0.0.1:{port}/jwks.json?access={QUERY_SECRET}",
            closed_plain=f"http://127.0.0.1:{port}/jwks.json",
            status_500=failing.jwks_url,
            garbage=garbage.jwks_url,
            no_keys=empty.jwks_url,
            working=working.jwks_url,
        )


def tokens(keys: Keys) -> dict[str, tuple[str, str]]:
    """name -> (what diagnose is given, the reason expected with no keys)."""
    good = sign(claims(), keys.rsa, headers={"kid": "k1"})
    header, payload, _ = good.split(".")
    return {
        "well_formed": (good, "key_source_unavailable"),
        "expired": (
            sign(claims(exp=1_600_000_000, iat=1_599_999_000), keys.rsa, headers={"kid": "k1"}),
            "key_source_unavailable",  # its claims are unchecked without a key
        ),
        "malformed": ("not-a-jwt", "malformed_token"),
        "encrypted": (f"{header}.a.b.c.d", "encrypted_token"),
        "invalid_base64": (f"{header}.{payload}+/==.c2ln", "invalid_base64"),
        "invalid_json": (f"{b64url(b'{not json')}.{payload}.c2ln", "invalid_json"),
        "unsigned": (raw_token({"alg": "none"}, claims(), b""), "unsigned_token"),
        "no_alg": (raw_token({"typ": "JWT"}, claims()), "invalid_header"),
        "hs256_not_allowed": (sign(claims(), HS_SECRET, "HS256"), "algorithm_not_allowed"),
        "double_bearer": (f"Bearer Bearer {good}", "double_bearer"),
        "quoted": (f'"{good}"', "quoted_token"),
    }


def assert_rejected(result: Run, reason: str) -> dict[str, Any]:
    assert result.code == 1, result
    assert "Traceback" not in result.err, result
    body: dict[str, Any] = result.json()
    assert body["valid"] is False
    assert body["reason"] == reason, result
    assert body["problems"] and body["problems"][0]["reason"] == reason, result
    assert all(p["detail"] for p in body["problems"])
    return body


def assert_no_secret(result: Run) -> None:
    for secret in (USER, PASSWORD, QUERY_SECRET):
        assert secret not in result.out and secret not in result.err, result


@pytest.fixture(scope="module")
def closed_port_runs(keys: Keys, sources: Sources) -> dict[str, Run]:
    cases = tokens(keys)
    jobs = [([*opts(sources.closed), "--json"], token) for token, _ in cases.values()]
    return dict(zip(cases, run_all(jobs), strict=True))


def test_closed_port_every_token_is_judged(keys: Keys, closed_port_runs: dict[str, Run]) -> None:
    for name, (_token, reason) in tokens(keys).items():
        result = closed_port_runs[name]
        body = assert_rejected(result, reason)
        assert_no_secret(result)
        if reason == "key_source_unavailable":
            detail = body["detail"]
            assert "127.0.0.1" in detail and "/jwks.json" in detail, detail
            assert "unreachable" in detail and "ConnectError" in detail, detail
            assert "[credentials removed]" in detail and "[query removed]" in detail, detail
            assert body["expected"]["last_error"].startswith("unreachable: ")
            assert body["expected"]["key_source"].endswith("/jwks.json?[query removed]")
        else:
            assert "expected" not in body or "key_source" not in body["expected"], name


def test_key_source_answering_500_or_garbage(keys: Keys, sources: Sources) -> None:
    cases = tokens(keys)
    picked = ["well_formed", "malformed", "unsigned", "hs256_not_allowed"]
    urls = {
        "500": (sources.status_500, "http_status", "HTTP 500"),
        "garbage": (sources.garbage, "not_json", "is not a JSON object"),
        "no usable key": (sources.no_keys, "no_usable_keys", "holds no usable signing key"),
    }
    jobs = [
        ([*opts(url), "--json"], cases[name][0]) for url, _, _ in urls.values() for name in picked
    ]
    results = iter(run_all(jobs))
    for label, (url, cause, words) in urls.items():
        for name in picked:
            result = next(results)
            body = assert_rejected(result, cases[name][1])
            if name == "well_formed":
                assert body["expected"] == {
                    "key_source": url,
                    "last_error": body["expected"]["last_error"],
                }, label
                assert body["expected"]["last_error"].startswith(f"{cause}: "), (label, body)
                assert words in body["detail"] and url in body["detail"], (label, body)


def test_the_well_formed_token_is_valid_when_the_keys_are_there(
    keys: Keys, sources: Sources
) -> None:
    """The control: key_source_unavailable above is the source's doing, not the token's."""
    token = tokens(keys)["well_formed"][0]
    (result,) = run_all([([*opts(sources.working), "--json"], token)])
    assert result.code == 0, result
    assert result.json()["reason"] is None


def test_human_output_names_the_reason_and_the_source(keys: Keys, sources: Sources) -> None:
    token = tokens(keys)["well_formed"][0]
    result = run(opts(sources.closed), token)
    assert result.code == 1, result
    lines = result.out.splitlines()
    assert lines[0] == "REJECTED  key_source_unavailable (503)", result
    assert "reachable from this machine" in result.out
    assert "[credentials removed]@127.0.0.1" in result.out
    assert_no_secret(result)
    assert result.err == ""


def test_usage_errors_still_exit_2_with_an_unreachable_source(sources: Sources) -> None:
    empty, no_source = run_all(
        [(opts(sources.closed), "  \n"), (["diagnose", "--issuer", ISSUER], "x.y.z")]
    )
    for result, message in ((empty, "token is empty"), (no_source, "key source")):
        assert result.code == 2, result
        assert result.out == "" and message in result.err, result
        assert_no_secret(result)


def test_fingerprint_of_an_unreachable_source_names_it_without_secrets(sources: Sources) -> None:
    """fingerprint has nothing to judge without keys: it stays an error (exit 2)."""
    result = run(["fingerprint", "--jwks-url", sources.closed], "")
    assert result.code == 2, result
    assert "cannot fetch keys from http://[credentials removed]@127.0.0.1:" in result.err
    assert_no_secret(result)


async def test_the_cli_gives_the_reason_the_middleware_gives(
    keys: Keys, sources: Sources, closed_port_runs: dict[str, Run]
) -> None:
    """The same tokens through the middleware, its key source on the same closed port."""
    settings = Settings(
        jwks_url=sources.closed_plain,
        issuer=ISSUER,
        audience=AUDIENCE,
        jwks_refresh_cooldown=0.0,
        key_wait_timeout=2.0,
    )
    harness = build_app(settings)
    try:
        async with harness.client() as client:
            for name, (token, reason) in tokens(keys).items():
                header = token if token.startswith("Bearer ") else f"Bearer {token}"
                response = await client.get("/me", headers={"Authorization": header})
                assert response.json()["reason"] == reason, (name, response.json())
                assert closed_port_runs[name].json()["reason"] == reason, name
    finally:
        await harness.app.shutdown()
