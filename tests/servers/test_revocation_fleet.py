"""Revocation across a fleet (CONTRACT section 9): two uvicorn instances, one redis-server,
and ``jwt-middleware revoke`` run as a command.

Two instances of tests/apps/uvicorn_app.py (the middleware from JWT_* variables, ES256
keys) share a real redis-server on 127.0.0.1 as the revocation list.

- A token cached as valid on instance A (asked twice) is refused as token_revoked on
  A and on B after one ``revoke`` (--sub, --sid, --jti --expires-at), the command in
  a subprocess; a token issued after the revocation is accepted on both.
- The ECDSA-malleated copy of a revoked token (the same claims, other signature
  bytes) is refused on both.
- ``probe`` shows both instances refusing it and since when; ``diagnose --redis-url``
  says it is revoked, by which kind, since when.
- Redis stopped, then restarted, under both failure modes: ``closed`` answers 503
  revocation_unavailable (``Retry-After``, no challenge), ``open`` lets the token
  through; both answer again once Redis is back.
- ``revoke``'s exit codes: 0 stored, 1 not stored (Redis down), 2 usage errors.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from helpers.keys import AUDIENCE, ISSUER, public_pem
from helpers.procs import APPS_DIR, REPO_DIR, ServerProcess, child_env, free_port, uvicorn_argv
from helpers.redis_server import RedisServer
from helpers.tokens import claims, malleate, sign

pytest.importorskip("redis", reason="the dpop-redis extra (redis-py) is not installed")

STARTUP_TIMEOUT = 20.0


@pytest.fixture(scope="module")
def signing_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def start_instances(
    key: ec.EllipticCurvePrivateKey, tmp_path: Path, count: int = 2, **env: str
) -> tuple[ExitStack, list[ServerProcess]]:
    """``count`` uvicorn processes of uvicorn_app, each on its own free port, healthy."""
    pem = tmp_path / "public.pem"
    pem.write_text(public_pem(key))
    variables = child_env(
        JWT_PUBLIC_KEY_FILE=str(pem),
        JWT_ALGORITHMS="ES256",
        JWT_ISSUER=ISSUER,
        JWT_AUDIENCE=AUDIENCE,
        **env,
    )
    stack = ExitStack()
    servers = []
    try:
        for index in range(count):
            port = free_port()
            servers.append(
                stack.enter_context(
                    ServerProcess.start(
                        uvicorn_argv("uvicorn_app:app", APPS_DIR, port),
                        port=port,
                        env=variables,
                        cwd=REPO_DIR,
                        log_path=tmp_path / f"instance-{index}.log",
                        name=f"instance-{'AB'[index]}",
                    )
                )
            )
        for server in servers:
            server.wait_healthy("/healthz", STARTUP_TIMEOUT, probe_timeout=0.5)
    except BaseException:
        stack.close()
        raise
    return stack, servers


@pytest.fixture(scope="module")
def fleet(
    signing_key: ec.EllipticCurvePrivateKey, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RedisServer, ServerProcess, ServerProcess]]:
    tmp = tmp_path_factory.mktemp("revocation-fleet")
    with RedisServer.start(tmp) as redis_server:
        stack, (a, b) = start_instances(signing_key, tmp, JWT_REVOCATION_REDIS_URL=redis_server.url)
        with stack:
            yield redis_server, a, b


def get_me(server: ServerProcess, token: str) -> httpx.Response:
    with server.client(timeout=5.0) as c:
        return c.get("/me", headers={"Authorization": f"Bearer {token}"})


def cli(*args: str, url: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    variables = child_env(drop=("NO_COLOR",), **env)
    if url is not None:
        variables["JWT_REVOCATION_REDIS_URL"] = url
    return subprocess.run(
        [sys.executable, "-m", "jwt_middleware", *args],
        capture_output=True,
        text=True,
        env=variables,
        cwd=REPO_DIR,
        timeout=60,
        check=False,
    )


def assert_revoked(response: httpx.Response, kind: str) -> None:
    assert response.status_code == 401, response.text
    body = response.json()
    assert body["reason"] == "token_revoked", body
    challenge = response.headers["www-authenticate"]
    assert 'error="invalid_token"' in challenge, challenge
    assert 'error_description="token_revoked"' in challenge, challenge
    assert response.headers["content-type"] == "application/problem+json"
    expected = {
        "token": "The token was revoked at ",
        "session": "The token's session was revoked at ",
        "subject": "The token's subject was revoked at ",
    }[kind]
    assert body["detail"].startswith(expected), body["detail"]


@pytest.mark.parametrize("kind", ["subject", "session", "token"])
def test_one_revoke_refuses_a_token_cached_on_a_on_both_instances(
    fleet: tuple[RedisServer, ServerProcess, ServerProcess],
    signing_key: ec.EllipticCurvePrivateKey,
    kind: str,
) -> None:
    redis_server, a, b = fleet
    now = int(time.time())
    sub, sid, jti = f"user-{kind}-{now}", f"sid-{kind}-{now}", f"jti-{kind}-{now}"
    token = sign(claims(sub=sub, sid=sid, jti=jti, iat=now - 5), signing_key, "ES256")
    for _ in range(2):  # verified, then served from A's cache
        assert get_me(a, token).status_code == 200
    assert get_me(b, token).status_code == 200
    what = {
        "subject": ["--sub", sub],
        "session": ["--sid", sid],
        "token": ["--jti", jti, "--expires-at", str(now + 600)],
    }[kind]
    done = cli("revoke", "--issuer", ISSUER, *what, url=redis_server.url)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("revoked"), done.stdout
    assert sub not in done.stdout and sid not in done.stdout and jti not in done.stdout
    assert_revoked(get_me(a, token), kind)
    assert_revoked(get_me(b, token), kind)
    if kind != "token":  # a sign-in after the revocation: a new token, accepted
        fresh = sign(claims(sub=sub, sid=sid, iat=int(time.time()) + 1), signing_key, "ES256")
        assert get_me(a, fresh).status_code == 200
        assert get_me(b, fresh).status_code == 200


def test_the_ecdsa_malleated_copy_of_a_revoked_token_is_refused_on_both(
    fleet: tuple[RedisServer, ServerProcess, ServerProcess],
    signing_key: ec.EllipticCurvePrivateKey,
) -> None:
    redis_server, a, b = fleet
    now = int(time.time())
    token = sign(claims(jti=f"jti-twin-{now}", sub="twin"), signing_key, "ES256")
    twin = malleate(token)
    assert get_me(a, token).status_code == 200
    assert get_me(b, twin).status_code == 200  # other bytes, a valid signature
    done = cli(
        "revoke", "--issuer", ISSUER, "--jti", f"jti-twin-{now}", "--expires-at",
        str(now + 600), "--json", url=redis_server.url,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["stored"] is True
    for instance in (a, b):
        assert_revoked(get_me(instance, token), "token")
        assert_revoked(get_me(instance, twin), "token")


def test_probe_and_diagnose_say_it_is_revoked_and_since_when(
    fleet: tuple[RedisServer, ServerProcess, ServerProcess],
    signing_key: ec.EllipticCurvePrivateKey,
    tmp_path: Path,
) -> None:
    redis_server, a, b = fleet
    now = int(time.time())
    sub = f"probed-{now}"
    token = sign(claims(sub=sub, iat=now - 5), signing_key, "ES256")
    pem = tmp_path / "public.pem"
    pem.write_text(public_pem(signing_key))
    diagnose = ["diagnose", "--key-file", str(pem), "--algorithms", "ES256", "--issuer", ISSUER]
    before = cli(*diagnose, "--check-revocation", token, url=redis_server.url)
    assert before.returncode == 0, before.stdout + before.stderr
    assert "revoked  no (the revocation list was read)" in before.stdout
    assert cli("revoke", "--issuer", ISSUER, "--sub", sub, url=redis_server.url).returncode == 0
    probed = cli("probe", f"{a.base_url}/me", f"{b.base_url}/me", "--token", token)
    assert probed.returncode == 1, probed.stdout
    lines = probed.stdout.splitlines()
    assert sum("token_revoked" in line for line in lines) == 2, probed.stdout
    assert sum("The token's subject was revoked at 20" in line for line in lines) == 2
    assert lines[-1] == "0/2 instances accept the token"
    after = cli(*diagnose, "--check-revocation", "--json", token, url=redis_server.url)
    assert after.returncode == 1, after.stdout + after.stderr
    report = json.loads(after.stdout)
    assert report["reason"] == "token_revoked"
    assert report["detail"].startswith("The token's subject was revoked at 20")
    assert report["expected"]["revoked"] == "subject"
    assert sub not in report["detail"]
    explicit = cli(*diagnose, "--redis-url", redis_server.url, token)
    assert explicit.returncode == 1 and "REJECTED  token_revoked" in explicit.stdout


@pytest.mark.parametrize(("fail", "status"), [("closed", 503), ("open", 200)])
def test_redis_stopped_and_restarted_under_each_failure_mode(
    signing_key: ec.EllipticCurvePrivateKey, tmp_path: Path, fail: str, status: int
) -> None:
    redis_server = RedisServer.start(tmp_path)
    stack, (a, b) = start_instances(
        signing_key,
        tmp_path,
        JWT_REVOCATION_REDIS_URL=redis_server.url,
        JWT_REVOCATION_FAIL=fail,
    )
    token = sign(claims(sub="while-down", iat=int(time.time()) - 5), signing_key, "ES256")
    with stack:
        try:
            assert get_me(a, token).status_code == 200
            redis_server.stop()
            for instance in (a, b):
                started = time.monotonic()
                response = get_me(instance, token)
                assert time.monotonic() - started < 2.0  # bounded by the 0.25 s timeout
                assert response.status_code == status, response.text
                if status == 503:
                    body = response.json()
                    assert body["reason"] == "revocation_unavailable"
                    assert response.headers["retry-after"] == "1"
                    assert "www-authenticate" not in response.headers
                    assert "JWT_REVOCATION_FAIL=closed" in body["detail"]
            down = cli("revoke", "--issuer", ISSUER, "--sub", "x", url=redis_server.url)
            assert down.returncode == 1 and "not stored" in down.stderr
            redis_server = RedisServer.start(tmp_path, port=redis_server.port)
            time.sleep(1.1)  # the instances' back-off after a failed round trip
            for instance in (a, b):
                assert get_me(instance, token).status_code == 200
            revoked = cli("revoke", "--issuer", ISSUER, "--sub", "while-down", url=redis_server.url)
            assert revoked.returncode == 0, revoked.stderr
            assert_revoked(get_me(b, token), "subject")
        finally:
            redis_server.stop()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["revoke", "--sub", "u"], "--issuer"),
        (["revoke", "--issuer", "i"], "one of the arguments --jti --sid --sub is required"),
        (["revoke", "--issuer", "i", "--sub", "u", "--sid", "s"], "not allowed with"),
        (["revoke", "--issuer", "i", "--jti", "j"], "--jti needs --expires-at"),
        (["revoke", "--issuer", "i", "--sub", "u", "--expires-at", "5"], "goes with --jti"),
        (["revoke", "--issuer", "i", "--sub", ""], "--sub: empty"),
        (["revoke", "--issuer", "i", "--sub", "u", "--redis-url", "http://x"], "redis://"),
        (["revoke", "--issuer", "i", "--sub", "u", "--max-token-lifetime", "0"], "lifetime"),
    ],
)
def test_revoke_usage_errors_exit_2(args: list[str], words: str, tmp_path: Any) -> None:
    done = cli(*args, url="redis://127.0.0.1:1/0")
    assert done.returncode == 2, done
    assert words in done.stderr, done.stderr


def test_revoke_needs_a_list() -> None:
    done = cli("revoke", "--issuer", "i", "--sub", "u")
    assert done.returncode == 2
    assert "JWT_REVOCATION_REDIS_URL" in done.stderr


def test_revoking_an_expired_token_stores_nothing(
    fleet: tuple[RedisServer, ServerProcess, ServerProcess],
) -> None:
    redis_server, _, _ = fleet
    past = str(int(time.time()) - 3600)
    done = cli("revoke", "--issuer", ISSUER, "--jti", "old", "--expires-at", past, "--json",
               url=redis_server.url)  # fmt: skip
    assert done.returncode == 0
    assert json.loads(done.stdout)["stored"] is False
