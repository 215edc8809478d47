"""One DPoP proof replayed across two app instances, through real uvicorn processes.

Two instances of tests/apps/uvicorn_app.py (the middleware from JWT_* variables)
behind one public host (both requests carry ``Host: api.example.test``, as a
load balancer would pass it), a real redis-server on 127.0.0.1 as the shared
jti store. The proof is made here: an ES256 client key, ``typ`` ``dpop+jwt``
with its public ``jwk``, ``htm``/``htu``/``iat``/``jti``/``ath``; the access
token names the key's RFC 7638 thumbprint in ``cnf.jkt`` and is signed by the
RSA key the apps trust.

- With JWT_DPOP_REPLAY_REDIS_URL: accepted by instance A, refused by B as
  dpop_proof_replayed.
- With per-process memory only: B accepts the replay (it never saw the proof);
  only A, which did, refuses it. This is why a fleet needs the shared store.
- With Redis stopped: JWT_DPOP_REPLAY_FAIL=closed refuses a fresh proof
  (dpop_proof_replayed, the detail saying the store is unavailable), ``open``
  accepts it.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from helpers.keys import AUDIENCE, ISSUER, Keys, b64url, public_pem
from helpers.logs import rfc7638
from helpers.procs import APPS_DIR, REPO_DIR, ServerProcess, child_env, free_port, uvicorn_argv
from helpers.redis_server import RedisServer
from helpers.tokens import claims, sign

pytest.importorskip("redis", reason="the dpop-redis extra (redis-py) is not installed")

#: The public host both instances serve, as behind one load balancer.
PUBLIC_HOST = "api.example.test"
HTU = f"http://{PUBLIC_HOST}/me"
STARTUP_TIMEOUT = 20.0


def public_jwk(key: ec.EllipticCurvePrivateKey) -> dict[str, str]:
    numbers = key.public_key().public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": b64url(numbers.x.to_bytes(32, "big")),
        "y": b64url(numbers.y.to_bytes(32, "big")),
    }


def dpop_proof(key: ec.EllipticCurvePrivateKey, token: str, *, method: str = "GET") -> str:
    """A fresh RFC 9449 proof for ``method`` HTU, bound to ``token`` by ``ath``."""
    payload: dict[str, Any] = {
        "htm": method,
        "htu": HTU,
        "iat": int(time.time()),
        "jti": str(uuid.uuid4()),
        "ath": b64url(hashlib.sha256(token.encode()).digest()),
    }
    return sign(payload, key, "ES256", headers={"typ": "dpop+jwt", "jwk": public_jwk(key)})


def dpop_headers(token: str, proof: str) -> dict[str, str]:
    return {"Authorization": f"DPoP {token}", "DPoP": proof, "Host": PUBLIC_HOST}


@pytest.fixture
def client_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def bound_token(keys: Keys, client_key: ec.EllipticCurvePrivateKey) -> str:
    return sign(claims(cnf={"jkt": rfc7638(client_key)}), keys.rsa, "RS256")


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    with RedisServer.start(tmp_path) as server:
        yield server


def start_instances(
    keys: Keys, tmp_path: Path, count: int = 2, **env: str
) -> tuple[ExitStack, list[ServerProcess]]:
    """``count`` uvicorn processes of uvicorn_app, each on its own free port, healthy."""
    pem = tmp_path / "public.pem"
    pem.write_text(public_pem(keys.rsa))
    variables = child_env(
        JWT_PUBLIC_KEY_FILE=str(pem), JWT_ISSUER=ISSUER, JWT_AUDIENCE=AUDIENCE, **env
    )
    stack = ExitStack()
    servers = []
    try:
        for index in range(count):
            port = free_port()
            server = stack.enter_context(
                ServerProcess.start(
                    uvicorn_argv("uvicorn_app:app", APPS_DIR, port),
                    port=port,
                    env=variables,
                    cwd=REPO_DIR,
                    log_path=tmp_path / f"instance-{index}.log",
                    name=f"instance-{'AB'[index]}",
                )
            )
            servers.append(server)
        for server in servers:
            server.wait_healthy("/healthz", STARTUP_TIMEOUT, probe_timeout=0.5)
    except BaseException:
        stack.close()
        raise
    return stack, servers


def get_me(server: ServerProcess, token: str, proof: str) -> httpx.Response:
    with server.client(timeout=5.0) as c:
        return c.get("/me", headers=dpop_headers(token, proof))


def assert_replayed(r: httpx.Response) -> None:
    assert r.status_code == 401, r.text
    assert r.json()["reason"] == "dpop_proof_replayed", r.text
    challenge = r.headers["www-authenticate"]
    assert challenge.startswith("DPoP ") or ", DPoP " in challenge, challenge
    assert 'error="invalid_dpop_proof"' in challenge, challenge


def test_a_proof_replayed_on_another_instance_is_caught_by_the_shared_store(
    keys: Keys,
    tmp_path: Path,
    redis_server: RedisServer,
    client_key: ec.EllipticCurvePrivateKey,
    bound_token: str,
) -> None:
    stack, (a, b) = start_instances(keys, tmp_path, JWT_DPOP_REPLAY_REDIS_URL=redis_server.url)
    with stack:
        proof = dpop_proof(client_key, bound_token)
        first = get_me(a, bound_token, proof)
        assert first.status_code == 200, first.text
        assert first.json()["claims"]["cnf"] == {"jkt": rfc7638(client_key)}

        assert_replayed(get_me(b, bound_token, proof))  # the other instance
        assert_replayed(get_me(a, bound_token, proof))  # and the same one

        fresh = get_me(b, bound_token, dpop_proof(client_key, bound_token))
        assert fresh.status_code == 200, fresh.text  # B itself is fine


def test_with_per_process_memory_only_the_other_instance_accepts_the_replay(
    keys: Keys,
    tmp_path: Path,
    client_key: ec.EllipticCurvePrivateKey,
    bound_token: str,
) -> None:
    """Why the shared store matters: each instance remembers only what it saw."""
    stack, (a, b) = start_instances(keys, tmp_path)
    with stack:
        proof = dpop_proof(client_key, bound_token)
        assert get_me(a, bound_token, proof).status_code == 200
        replay_elsewhere = get_me(b, bound_token, proof)
        assert replay_elsewhere.status_code == 200, replay_elsewhere.text  # not caught
        assert_replayed(get_me(a, bound_token, proof))  # caught where it was seen
        assert_replayed(get_me(b, bound_token, proof))  # and now B has seen it too


@pytest.mark.parametrize(("fail", "status"), [("closed", 401), ("open", 200)])
def test_redis_down_fail_closed_refuses_fail_open_accepts(
    keys: Keys,
    tmp_path: Path,
    client_key: ec.EllipticCurvePrivateKey,
    bound_token: str,
    fail: str,
    status: int,
) -> None:
    redis_server = RedisServer.start(tmp_path)
    stack, (a,) = start_instances(
        keys,
        tmp_path,
        count=1,
        JWT_DPOP_REPLAY_REDIS_URL=redis_server.url,
        JWT_DPOP_REPLAY_FAIL=fail,
    )
    with stack, redis_server:
        assert get_me(a, bound_token, dpop_proof(client_key, bound_token)).status_code == 200
        redis_server.stop()
        started = time.monotonic()
        r = get_me(a, bound_token, dpop_proof(client_key, bound_token))
        assert time.monotonic() - started < 2.0  # bounded by the store's timeout
        assert r.status_code == status, r.text
        if status != 200:  # refused under the replay reason, its detail saying why
            assert r.json()["reason"] == "dpop_proof_replayed", r.text
            assert "unavailable" in r.json()["detail"], r.text
