"""TestIssuer (jwt_middleware/testing/issuer.py, keyring.py): its tokens, the settings
that trust it with no network, its key set, rotation and retirement, and that the
module needs neither pytest nor a network."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt as pyjwt
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from jwt_middleware import JWTAuthMiddleware, Settings, Verifier
from jwt_middleware.outcome import Failure, VerifiedToken
from jwt_middleware.sources import load_static_keys
from jwt_middleware.testing import (
    DEFAULT_AUDIENCE,
    DEFAULT_ISSUER,
    SigningKey,
    TestIssuer,
    assert_rejected,
    second_algorithm,
)


def part(token: str, index: int) -> dict[str, Any]:
    segment = token.split(".")[index]
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    )
    return decoded


def verify_elsewhere(issuer: TestIssuer, token: str) -> dict[str, Any]:
    """PyJWT (another library) verifies ``token`` with the issuer's published key."""
    header = part(token, 0)
    entry = next(k for k in issuer.jwks()["keys"] if k["kid"] == header["kid"])
    decoded: dict[str, Any] = pyjwt.decode(
        token,
        pyjwt.PyJWK(entry).key,  # type: ignore[arg-type]
        algorithms=[header["alg"]],
        audience=issuer.audience,
        issuer=issuer.issuer,
    )
    return decoded


async def me(request: Request) -> JSONResponse:
    return JSONResponse(request.state.jwt_claims)


def app_for(settings: Settings | None = None, *, verifier: Verifier | None = None) -> TestClient:
    inner = Starlette(routes=[Route("/me", me)])
    return TestClient(JWTAuthMiddleware(inner, settings, verifier=verifier, registry=None))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- tokens -------------------------------------------------------------------------------


def test_a_token_has_the_defaults_and_the_claims_given(jwt_issuer: TestIssuer) -> None:
    before = int(time.time())
    token = jwt_issuer.token(scope="read write", roles=["admin"])
    claims = verify_elsewhere(jwt_issuer, token)
    assert (claims["iss"], claims["aud"], claims["sub"]) == (
        DEFAULT_ISSUER,
        DEFAULT_AUDIENCE,
        "test-user",
    )
    assert before <= claims["iat"] <= time.time()
    assert claims["exp"] == claims["iat"] + 600
    assert (claims["scope"], claims["roles"]) == ("read write", ["admin"])
    assert part(token, 0) == {"alg": "RS256", "typ": "at+jwt", "kid": jwt_issuer.kid}


def test_none_leaves_a_claim_out_and_times_can_be_datetimes(jwt_issuer: TestIssuer) -> None:
    nbf = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    claims = part(jwt_issuer.token(sub=None, aud=["a", "b"], nbf=nbf, iat=1_900_000_000), 1)
    assert "sub" not in claims
    assert claims["aud"] == ["a", "b"]
    assert claims["nbf"] == int(nbf.timestamp())
    assert claims["exp"] == 1_900_000_000 + 600  # iat + expires_in
    short = part(jwt_issuer.token(expires_in=5), 1)
    assert short["exp"] == short["iat"] + 5
    assert part(jwt_issuer.token(exp=123, expires_in=5), 1)["exp"] == 123


def test_headers_change_the_header_and_choose_the_key() -> None:
    issuer = TestIssuer(algorithm="ES256")
    other = issuer.kids[1]  # the second algorithm's first key
    assert second_algorithm("ES256") == "EdDSA"
    by_alg = issuer.token(headers={"alg": "EdDSA"})
    assert part(by_alg, 0)["kid"] == other
    by_kid = issuer.token(headers={"kid": issuer.kids[2], "alg": "EdDSA", "x5t": "abc"})
    assert part(by_kid, 0) == {"alg": "EdDSA", "typ": "at+jwt", "kid": issuer.kids[2], "x5t": "abc"}
    for token in (by_alg, by_kid):
        verify_elsewhere(issuer, token)
    assert part(issuer.token(headers={"typ": None, "kid": None}), 0) == {"alg": "ES256"}
    assert issuer.token(headers={"alg": "none"}).endswith(".")
    unknown = issuer.token(headers={"kid": "not-mine"})  # signed by the current key
    assert part(unknown, 0)["kid"] == "not-mine"
    with pytest.raises(ValueError, match="algorithm_confusion"):
        issuer.token(headers={"alg": "HS256"})
    with pytest.raises(ValueError, match="cannot sign 'RS256'"):
        issuer.token(headers={"alg": "RS256"})


def test_every_algorithm_issues_tokens_its_settings_accept() -> None:
    for alg in ("RS384", "PS256", "ES512", "EdDSA", "HS384"):
        issuer = TestIssuer("https://login.test/", "orders", alg)
        response = app_for(issuer.settings()).get("/me", headers=bearer(issuer.token()))
        assert response.status_code == 200, (alg, response.text)
        assert response.json()["iss"] == "https://login.test/"


# --- settings, key set ----------------------------------------------------------------------


def test_settings_trust_the_issuer_with_static_keys(jwt_issuer: TestIssuer) -> None:
    settings = jwt_issuer.settings()
    assert settings.jwks_url is None and settings.discovery_url is None
    assert settings.issuers == (DEFAULT_ISSUER,) and settings.audiences == (DEFAULT_AUDIENCE,)
    assert settings.allowed_algorithms == ("RS256", "ES256")
    assert settings.accepted_token_types == ("at+jwt",)
    loaded = load_static_keys(settings)
    assert sorted(loaded.keyset.kids) == sorted(jwt_issuer.kids)
    path = Path(str(settings.jwks_file))
    assert path.stat().st_mode & 0o077 == 0 and path.parent.stat().st_mode & 0o077 == 0
    assert jwt_issuer.settings().jwks_file == settings.jwks_file  # one file per key set
    changed = jwt_issuer.settings(leeway=0, audience="other-api", diagnostics="verbose")
    assert (changed.leeway, changed.audiences, changed.diagnostics) == (
        0,
        ("other-api",),
        "verbose",
    )
    remote = jwt_issuer.settings(jwks_url="https://keys.test/jwks.json")
    assert remote.jwks_file is None and remote.jwks_url == "https://keys.test/jwks.json"


def test_the_public_key_set_and_an_hmac_issuers() -> None:
    issuer = TestIssuer(algorithm="PS256")
    keys = issuer.jwks()["keys"]
    assert [k["kid"] for k in keys] == list(issuer.kids)
    assert [k["alg"] for k in keys] == ["PS256", "ES256", "ES256"]
    assert all(not {"d", "p", "q", "k"} & set(k) for k in keys)
    hmac_issuer = TestIssuer(algorithm="HS256")
    assert hmac_issuer.jwks() == {"keys": []}
    assert load_static_keys(hmac_issuer.settings()).keyset.has_symmetric


def test_keys_are_made_per_issuer_and_the_fixture_is_fresh(jwt_issuer: TestIssuer) -> None:
    other = TestIssuer()
    assert not set(other.kids) & set(jwt_issuer.kids)
    assert jwt_issuer.scenario("signature_invalid") != other.scenario("signature_invalid")
    response = app_for(jwt_issuer.settings()).get("/me", headers=bearer(other.token()))
    assert_rejected(response, "unknown_kid")  # another issuer's key: not this one's


def test_an_unsupported_algorithm_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported algorithm"):
        TestIssuer(algorithm="HS1")


# --- rotation ---------------------------------------------------------------------------------


def test_rotate_keeps_the_old_key_and_retire_drops_it(jwt_issuer: TestIssuer) -> None:
    old_kid, old_token = jwt_issuer.kid, jwt_issuer.token()
    new_kid = jwt_issuer.rotate()
    assert jwt_issuer.kid == new_kid != old_kid
    assert jwt_issuer.kids[:2] == (new_kid, old_kid)
    assert part(jwt_issuer.token(), 0)["kid"] == new_kid
    client = app_for(jwt_issuer.settings())
    assert client.get("/me", headers=bearer(old_token)).status_code == 200
    assert client.get("/me", headers=bearer(jwt_issuer.token())).status_code == 200
    assert jwt_issuer.retire() == (old_kid,)
    assert old_kid not in jwt_issuer.kids
    signed_by_retired = jwt_issuer.token(headers={"kid": old_kid})
    assert part(signed_by_retired, 0)["kid"] == old_kid
    client = app_for(jwt_issuer.settings())  # static keys: no history, so unknown_kid
    assert_rejected(client.get("/me", headers=bearer(signed_by_retired)), "unknown_kid")
    with pytest.raises(ValueError, match="rotate"):
        jwt_issuer.retire(jwt_issuer.kid)
    with pytest.raises(ValueError, match="no key 'nope'"):
        jwt_issuer.retire("nope")
    assert jwt_issuer.retire() == ()


def test_as_a_key_provider_a_verifier_follows_rotation_and_knows_retired_keys() -> None:
    issuer = TestIssuer(algorithm="ES256")
    verifier = Verifier(issuer.settings(external_keys=True), source=issuer)
    client = app_for(verifier=verifier)
    old = issuer.token()
    assert client.get("/me", headers=bearer(old)).status_code == 200
    keyset = issuer.keyset
    issuer.rotate()
    assert issuer.keyset is not keyset and issuer.keyset is issuer.keyset
    assert client.get("/me", headers=bearer(issuer.token())).status_code == 200
    assert client.get("/me", headers=bearer(old)).status_code == 200
    issuer.retire()
    assert_rejected(client.get("/me", headers=bearer(old)), "retired_key")
    outcome = verifier.verify(issuer.token())
    assert isinstance(outcome, VerifiedToken) and outcome.kid == issuer.kid


def test_from_keys_signs_with_the_first_and_remembers_the_retired() -> None:
    first, second = SigningKey.generate("ES256", kid="k-1"), SigningKey.generate("EdDSA")
    retired = SigningKey.generate("ES256", kid="k-0")
    issuer = TestIssuer.from_keys("https://given.test", "api", [first, second], retired=[retired])
    assert (issuer.kid, issuer.kids, issuer.algorithms) == (
        "k-1",
        ("k-1", second.kid),
        ("ES256", "EdDSA"),
    )
    assert repr(issuer) == "TestIssuer('https://given.test', 'api', 'ES256', kid='k-1')"
    outcome = Verifier(issuer.settings(external_keys=True), source=issuer).verify(
        issuer.token(headers={"kid": "k-0"})
    )
    assert isinstance(outcome, Failure) and outcome.reason.value == "retired_key"
    with pytest.raises(ValueError, match="every kid once"):
        TestIssuer.from_keys("https://x.test", "api", [first, first])
    with pytest.raises(ValueError, match="at least one key"):
        TestIssuer.from_keys("https://x.test", "api", [])


# --- no pytest, no network ----------------------------------------------------------------------

NO_PYTEST_NO_NETWORK = r"""
import socket, sys
sys.modules["pytest"] = None  # importing it now fails
def refuse(self, address, *args):
    raise OSError(f"network refused in this test: {address!r}")
socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.getaddrinfo = lambda *a, **k: (_ for _ in ()).throw(OSError("no DNS"))

import asyncio, httpx
from jwt_middleware import JWTAuthMiddleware
from jwt_middleware.testing import TestIssuer, assert_rejected

async def app(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})

async def main():
    issuer = TestIssuer()
    guarded = JWTAuthMiddleware(app, issuer.settings(), registry=None)
    transport = httpx.ASGITransport(app=guarded)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        ok = await client.get("/", headers={"Authorization": "Bearer " + issuer.token()})
        expired = issuer.scenario("token_expired")
        bad = await client.get("/", headers={"Authorization": "Bearer " + expired})
    assert ok.status_code == 200, ok.text
    assert_rejected(bad, "token_expired")

asyncio.run(main())
assert "pytest" not in {m.split(".")[0] for m in sys.modules if sys.modules[m] is not None}
print("ok")
"""


def test_the_module_needs_neither_pytest_nor_a_network(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "PYTHONPATH"))}
    done = subprocess.run(
        [sys.executable, "-c", NO_PYTEST_NO_NETWORK],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith("ok")
