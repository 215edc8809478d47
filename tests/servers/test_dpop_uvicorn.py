"""DPoP (CONTRACT section 7) through real uvicorn processes on 127.0.0.1: every DPoP
reason over real sockets with proofs signed here, and interop with an independent
client, requests-oauth2client (its DPoPKey makes the proofs; its DPoPToken auth
retries with the server's nonce).

Server ``plain``: tests/apps/uvicorn_app.py with the defaults (JWT_DPOP=allowed).
Server ``nonced``: JWT_DPOP_NONCE=true, nothing else.
Server ``fleet``: JWT_DPOP=required, JWT_DPOP_NONCE=true, behind a pretend proxy
that strips ``/api`` and ends TLS (``--root-path /api``, ``--proxy-headers``, the
test sends ``X-Forwarded-Proto: https``): the URL clients sign is
``https://<host>/api/me``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import requests
from helpers.dpop import proof, public_jwk, thumbprint
from helpers.keys import AUDIENCE, ISSUER, Keys, public_pem
from helpers.procs import APPS_DIR, REPO_DIR, ServerProcess, child_env, free_port, uvicorn_argv
from helpers.tokens import claims, sign
from requests_oauth2client import DPoPKey, DPoPToken

STARTUP_TIMEOUT = 15.0


def _start(keys: Keys, tmp: Any, name: str, *extra: str, **env: str) -> Iterator[ServerProcess]:
    pem = tmp / "public.pem"
    pem.write_text(public_pem(keys.rsa))
    port = free_port()
    with ServerProcess.start(
        uvicorn_argv("uvicorn_app:app", APPS_DIR, port, *extra),
        port=port,
        env=child_env(
            JWT_PUBLIC_KEY_FILE=str(pem), JWT_ISSUER=ISSUER, JWT_AUDIENCE=AUDIENCE, **env
        ),
        cwd=REPO_DIR,
        log_path=tmp / f"{name}.log",
        name=name,
    ) as srv:
        srv.wait_healthy("/healthz", STARTUP_TIMEOUT, probe_timeout=0.5)
        yield srv


@pytest.fixture(scope="module")
def plain(keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from _start(keys, tmp_path_factory.mktemp("dpop-plain"), "uvicorn-dpop")


@pytest.fixture(scope="module")
def fleet(keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from _start(
        keys,
        tmp_path_factory.mktemp("dpop-fleet"),
        "uvicorn-dpop-required",
        "--root-path",
        "/api",
        "--proxy-headers",
        "--forwarded-allow-ips",
        "127.0.0.1",
        JWT_DPOP="required",
        JWT_DPOP_NONCE="true",
        JWT_DPOP_NONCE_SECRET="a nonce secret shared by the fleet",
    )


@pytest.fixture(scope="module")
def nonced(keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from _start(
        keys, tmp_path_factory.mktemp("dpop-nonce"), "uvicorn-dpop-nonce", JWT_DPOP_NONCE="true"
    )


def bound(keys: Keys, jkt: str) -> str:
    return sign(claims(cnf={"jkt": jkt}), keys.rsa)


def call(server: ServerProcess, token: str, p: str | None, **headers: str) -> httpx.Response:
    sent = {"Authorization": f"DPoP {token}", **headers}
    if p is not None:
        sent["DPoP"] = p
    return httpx.get(f"{server.base_url}/me", headers=sent, timeout=5.0)


def rejected(response: httpx.Response, reason: str, error: str) -> dict[str, Any]:
    assert response.status_code == 401, response.text
    body: dict[str, Any] = response.json()
    assert body["reason"] == reason, body
    first = response.headers.get_list("www-authenticate")[0]
    assert first.startswith(f'DPoP realm="api", error="{error}", error_description="{reason}"')
    assert 'algs="ES256 ' in first
    return body


# --- every reason, proofs signed here --------------------------------------------------


def test_every_dpop_reason_over_uvicorn(plain: ServerProcess, keys: Keys) -> None:
    url = f"{plain.base_url}/me"
    jkt = thumbprint(public_jwk(keys.ec256))
    token = bound(keys, jkt)
    good = proof(keys.ec256, url=url, token=token)
    assert call(plain, token, good).status_code == 200
    rejected(call(plain, token, good), "dpop_proof_replayed", "invalid_dpop_proof")
    rejected(call(plain, token, None), "dpop_proof_missing", "invalid_dpop_proof")
    body = rejected(
        call(plain, token, proof(keys.ec256, url="https://api.example.com/me", token=token)),
        "dpop_proof_invalid",
        "invalid_dpop_proof",
    )
    assert url in body["detail"] and "--proxy-headers" in body["hint"]
    other = bound(keys, thumbprint(public_jwk(keys.ec384)))
    rejected(
        call(plain, other, proof(keys.ec256, url=url, token=other)),
        "dpop_binding_mismatch",
        "invalid_token",
    )
    r = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=5.0)
    rejected(r, "dpop_bound_token_as_bearer", "invalid_token")
    assert r.headers.get_list("www-authenticate")[1] == 'Bearer realm="api"'


def test_nonce_root_path_and_forwarded_proto(fleet: ServerProcess, keys: Keys) -> None:
    signed = f"https://127.0.0.1:{fleet.port}/api/me"
    token = bound(keys, thumbprint(public_jwk(keys.ec256)))
    proxy = {"X-Forwarded-Proto": "https"}
    first = call(fleet, token, proof(keys.ec256, url=signed, token=token), **proxy)
    rejected(first, "dpop_nonce_required", "use_dpop_nonce")
    nonce = first.headers["dpop-nonce"]
    retry = call(fleet, token, proof(keys.ec256, url=signed, token=token, nonce=nonce), **proxy)
    assert retry.status_code == 200, retry.text
    # Without the forwarded scheme the server sees http: the hint names the setting.
    direct = call(fleet, token, proof(keys.ec256, url=signed, token=token, nonce=nonce))
    body = rejected(direct, "dpop_proof_invalid", "invalid_dpop_proof")
    assert "--proxy-headers" in body["hint"]
    bearer = httpx.get(
        f"{fleet.base_url}/me", headers={"Authorization": f"Bearer {token}", **proxy}, timeout=5.0
    )
    assert bearer.status_code == 401 and bearer.json()["reason"] == "invalid_scheme"
    assert bearer.headers.get_list("www-authenticate")[0].startswith('DPoP realm="api", algs=')


# --- interop: requests-oauth2client ------------------------------------------------------


@pytest.mark.parametrize("alg", ["ES256", "ES384", "PS256", "RS256", "EdDSA"])
def test_independent_client_proofs_are_accepted(plain: ServerProcess, keys: Keys, alg: str) -> None:
    key = DPoPKey.generate(alg=alg)
    token = bound(keys, str(key.dpop_jkt))
    auth = DPoPToken(access_token=token, _dpop_key=key)
    with requests.Session() as session:
        for _ in range(2):  # a fresh proof each time: no replay
            response = session.get(f"{plain.base_url}/me?page=2", auth=auth, timeout=5.0)
            assert response.status_code == 200, response.text
    assert response.json()["claims"]["cnf"]["jkt"] == key.dpop_jkt


def test_independent_client_retries_with_the_nonce(nonced: ServerProcess, keys: Keys) -> None:
    key = DPoPKey.generate(alg="ES256")
    token = bound(keys, str(key.dpop_jkt))
    auth = DPoPToken(access_token=token, _dpop_key=key)
    with requests.Session() as session:
        # First answer: 401 use_dpop_nonce with DPoP-Nonce; the client retries with it.
        response = session.get(f"{nonced.base_url}/me", auth=auth, timeout=5.0)
        assert response.status_code == 200, response.text
        assert response.headers["DPoP-Nonce"]
        assert response.history == [] or response.history[0].status_code == 401


def test_independent_client_tampered_proofs(plain: ServerProcess, keys: Keys) -> None:
    key = DPoPKey.generate(alg="ES256")
    token = bound(keys, str(key.dpop_jkt))
    url = f"{plain.base_url}/me"
    from jwt_middleware.dpop.proof import ath_of

    def made(**kw: Any) -> str:
        args = {"htm": "GET", "htu": url, "ath": ath_of(token), **kw}
        return str(key.proof(**args))

    rejected(call(plain, token, made(htm="POST")), "dpop_proof_invalid", "invalid_dpop_proof")
    rejected(call(plain, token, made(ath=ath_of("x"))), "dpop_proof_invalid", "invalid_dpop_proof")
    h, p, s = made().split(".")
    tampered = f"{h}.{p}.{s[:-4]}{'AAAA' if s[-4:] != 'AAAA' else 'BBBB'}"
    body = rejected(call(plain, token, tampered), "dpop_proof_invalid", "invalid_dpop_proof")
    assert "signature" in body["detail"]
    once = made()
    assert call(plain, token, once).status_code == 200
    rejected(call(plain, token, once), "dpop_proof_replayed", "invalid_dpop_proof")
    stranger = DPoPKey.generate(alg="ES256")
    rejected(
        call(plain, token, str(stranger.proof(htm="GET", htu=url, ath=ath_of(token)))),
        "dpop_binding_mismatch",
        "invalid_token",
    )
