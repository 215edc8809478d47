"""DPoP from the test helpers (jwt_middleware/testing/proofs.py): bound tokens and
proofs the middleware accepts, with FastAPI's test client and with httpx, and each
way a proof goes wrong refused with its reason. The thumbprint and the proof are
checked by another implementation (tests/helpers/dpop.py, PyJWT)."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import jwt as pyjwt
import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from helpers.dpop import ath, thumbprint

from jwt_middleware import JWTAuthMiddleware, Settings
from jwt_middleware.fastapi import install_problem_handler, verified_claims
from jwt_middleware.testing import DPoPKey, TestIssuer, assert_rejected

URL = "http://testserver/me"


def app_for(settings: Settings) -> FastAPI:
    app = FastAPI()
    install_problem_handler(app)

    @app.get("/me")
    async def me(claims: dict[str, Any] = Depends(verified_claims)) -> dict[str, Any]:  # noqa: B008
        return claims

    app.add_middleware(JWTAuthMiddleware, settings=settings, registry=None)
    return app


def dpop(token: str, proof: str) -> dict[str, str]:
    return {"Authorization": f"DPoP {token}", "DPoP": proof}


def decoded(part: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return result


def test_a_bound_token_and_its_proof_pass_and_every_misuse_has_its_reason(
    jwt_issuer: TestIssuer,
) -> None:
    client = TestClient(app_for(jwt_issuer.settings()))
    key = jwt_issuer.dpop_key()
    token = jwt_issuer.dpop_token(key, scope="read")
    proof = jwt_issuer.dpop_proof(key, "GET", URL, token)
    ok = client.get("/me", headers=dpop(token, proof))
    assert ok.status_code == 200, ok.text
    assert ok.json()["cnf"] == {"jkt": key.jkt}
    assert_rejected(client.get("/me", headers=dpop(token, proof)), "dpop_proof_replayed")
    other = jwt_issuer.dpop_key()
    stranger = jwt_issuer.dpop_proof(other, "GET", URL, token)
    assert_rejected(client.get("/me", headers=dpop(token, stranger)), "dpop_binding_mismatch")
    elsewhere = jwt_issuer.dpop_proof(key, "GET", "http://testserver/other", token)
    body = assert_rejected(client.get("/me", headers=dpop(token, elsewhere)), "dpop_proof_invalid")
    assert "htu" in body["detail"]
    no_ath = jwt_issuer.dpop_proof(key, "GET", URL)
    assert_rejected(client.get("/me", headers=dpop(token, no_ath)), "dpop_proof_invalid")
    missing = client.get("/me", headers={"Authorization": f"DPoP {token}"})
    assert_rejected(missing, "dpop_proof_missing")
    as_bearer = client.get("/me", headers={"Authorization": f"Bearer {token}"})
    assert_rejected(as_bearer, "dpop_bound_token_as_bearer")


def test_server_nonces_with_the_proofs_nonce(jwt_issuer: TestIssuer) -> None:
    client = TestClient(app_for(jwt_issuer.settings(dpop_nonce=True)))
    key = jwt_issuer.dpop_key("EdDSA")
    token = jwt_issuer.dpop_token(key)
    first = client.get("/me", headers=dpop(token, jwt_issuer.dpop_proof(key, "GET", URL, token)))
    assert_rejected(first, "dpop_nonce_required")
    nonce = first.headers["dpop-nonce"]
    retry = jwt_issuer.dpop_proof(key, "GET", URL, token, nonce=nonce)
    assert client.get("/me", headers=dpop(token, retry)).status_code == 200


async def test_with_httpx_and_a_proof_for_the_clients_own_url(jwt_issuer: TestIssuer) -> None:
    app = app_for(jwt_issuer.settings(dpop="required"))
    key = jwt_issuer.dpop_key("RS256")
    token = jwt_issuer.dpop_token(key)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://api.test") as client:
        proof = jwt_issuer.dpop_proof(key, "get", "https://api.test/me?page=2#top", token)
        ok = await client.get("/me?page=2", headers=dpop(token, proof))
        bearer = await client.get("/me", headers={"Authorization": f"Bearer {jwt_issuer.token()}"})
    assert ok.status_code == 200, ok.text
    assert_rejected(bearer, "invalid_scheme")  # JWT_DPOP=required: Bearer is refused


def test_proofs_and_thumbprints_agree_with_another_implementation(jwt_issuer: TestIssuer) -> None:
    key = jwt_issuer.dpop_key()
    assert key.jkt == thumbprint(key.public_jwk)
    assert set(key.public_jwk) == {"kty", "crv", "x", "y"}
    token = jwt_issuer.dpop_token(key)
    proof = jwt_issuer.dpop_proof(key, "POST", "https://api.test/orders?x=1", token, jti="j-1")
    header = decoded(proof.split(".")[0])
    assert header == {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.public_jwk}
    claims = pyjwt.decode(proof, pyjwt.PyJWK(header["jwk"]).key, algorithms=["ES256"])  # type: ignore[arg-type]
    assert claims["htm"] == "POST" and claims["htu"] == "https://api.test/orders"
    assert (claims["jti"], claims["ath"]) == ("j-1", ath(token))
    assert decoded(token.split(".")[1])["cnf"] == {"jkt": key.jkt}
    fresh = [decoded(jwt_issuer.dpop_proof(key, "GET", URL).split(".")[1])["jti"] for _ in "ab"]
    assert fresh[0] != fresh[1]
    assert repr(key) == f"DPoPKey('ES256', jkt={key.jkt!r})"


def test_a_dpop_key_is_never_hmac() -> None:
    with pytest.raises(ValueError, match="asymmetric"):
        DPoPKey("HS256")
