"""CONTRACT section 7 over HTTP (in process): every DPoP reason with its status, error,
challenges (RFC 9449 section 7.1 next to the Bearer one) and problem+json body;
DPoP-bound tokens accepted; JWT_DPOP allowed / required / off; server nonces."""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx
from helpers.apps import build_app
from helpers.cases import CONTRACT, PROBLEM_JSON, Ctx
from helpers.dpop import proof, public_jwk, thumbprint
from helpers.tokens import claims, sign

from jwt_middleware import Settings

URL = "http://testserver/me"
ALGS = 'algs="ES256 ES384 ES512 RS256 RS384 RS512 PS256 PS384 PS512 EdDSA"'


def bound_token(ctx: Ctx, holder: Any | None = None, **extra: Any) -> str:
    holder = holder if holder is not None else ctx.keys.ec256
    return ctx.good(cnf={"jkt": thumbprint(public_jwk(holder))}, **extra)


async def get(
    settings: Settings, headers: list[tuple[str, str]], path: str = "/me"
) -> tuple[httpx.Response, list[str]]:
    harness = build_app(settings)
    async with harness.client() as client:
        response = await client.get(path, headers=headers)
    return response, harness.calls


def dpop_headers(token: str, p: str | None) -> list[tuple[str, str]]:
    headers = [("Authorization", f"DPoP {token}")]
    if p is not None:
        headers.append(("DPoP", p))
    return headers


def assert_dpop_rejected(
    response: httpx.Response, calls: list[str], reason: str, *, bearer_too: bool = True
) -> dict[str, Any]:
    status, error = CONTRACT[reason]
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert body["reason"] == reason, body
    expected = [
        f'DPoP realm="api", error="{error}", error_description="{reason}", {ALGS}',
    ]
    if bearer_too:
        expected.append('Bearer realm="api"')
    assert response.headers.get_list("www-authenticate") == expected
    assert calls == []
    return body


async def test_bound_token_with_proof_is_accepted(ctx: Ctx) -> None:
    token = bound_token(ctx)
    response, calls = await get(ctx.rsa, dpop_headers(token, proof(ctx.keys.ec256, token=token)))
    assert response.status_code == 200, response.text
    assert calls == ["/me"]
    assert response.json()["claims"]["cnf"]["jkt"] == thumbprint(public_jwk(ctx.keys.ec256))


async def test_dpop_proof_missing(ctx: Ctx) -> None:
    token = bound_token(ctx)
    response, calls = await get(ctx.rsa, dpop_headers(token, None))
    body = assert_dpop_rejected(response, calls, "dpop_proof_missing")
    assert "no DPoP header" in body["detail"]
    p = proof(ctx.keys.ec256, token=token)
    two = [*dpop_headers(token, p), ("DPoP", p)]
    response, calls = await get(ctx.rsa, two)
    body = assert_dpop_rejected(response, calls, "dpop_proof_missing")
    assert "2 DPoP headers" in body["detail"]


async def test_dpop_proof_invalid_names_the_check(ctx: Ctx) -> None:
    token = bound_token(ctx)
    for p, words in [
        (proof(ctx.keys.ec256, token=token, method="POST"), "htm is 'POST'"),
        (proof(ctx.keys.ec256, token=token, url="https://api.example.com/me"), "htu"),
        (proof(ctx.keys.ec256, token=token + "x"), "ath"),
        (proof(ctx.keys.ec256, token=token, header={"typ": "JWT"}), "typ"),
        (proof(ctx.keys.ec256, token=token, iat=0), "s old"),
    ]:
        response, calls = await get(ctx.rsa, dpop_headers(token, p))
        body = assert_dpop_rejected(response, calls, "dpop_proof_invalid")
        assert words in body["detail"], body
        assert p not in response.text and token not in response.text


async def test_htu_hint_compares_the_urls(ctx: Ctx) -> None:
    token = bound_token(ctx)
    p = proof(ctx.keys.ec256, token=token, url="https://api.example.com/v1/me")
    response, _calls = await get(ctx.rsa, dpop_headers(token, p))
    body = response.json()
    assert "'https://api.example.com/v1/me'" in body["detail"]
    assert "'http://testserver/me'" in body["detail"]
    assert "--proxy-headers" in body["hint"] and "--root-path /v1" in body["hint"]


async def test_dpop_proof_replayed(ctx: Ctx) -> None:
    token = bound_token(ctx)
    harness = build_app(ctx.rsa)
    p = proof(ctx.keys.ec256, token=token)
    async with harness.client() as client:
        first = await client.get("/me", headers=dpop_headers(token, p))
        again = await client.get("/me", headers=dpop_headers(token, p))
    assert first.status_code == 200
    assert_dpop_rejected(again, [], "dpop_proof_replayed")


async def test_dpop_nonce_required_and_retry(ctx: Ctx) -> None:
    token = bound_token(ctx)
    harness = build_app(dataclasses.replace(ctx.rsa, dpop_nonce=True))
    async with harness.client() as client:
        first = await client.get(
            "/me", headers=dpop_headers(token, proof(ctx.keys.ec256, token=token))
        )
        assert_dpop_rejected(first, [], "dpop_nonce_required")
        nonce = first.headers["dpop-nonce"]
        retry = await client.get(
            "/me", headers=dpop_headers(token, proof(ctx.keys.ec256, token=token, nonce=nonce))
        )
    assert retry.status_code == 200, retry.text
    assert retry.headers["dpop-nonce"]


async def test_dpop_binding_mismatch(ctx: Ctx) -> None:
    token = bound_token(ctx, holder=ctx.keys.ec384)
    p = proof(ctx.keys.ec256, token=token)
    response, calls = await get(ctx.rsa, dpop_headers(token, p))
    body = assert_dpop_rejected(response, calls, "dpop_binding_mismatch")
    assert thumbprint(public_jwk(ctx.keys.ec256)) in body["detail"]
    unbound = ctx.good()
    response, calls = await get(
        ctx.rsa, dpop_headers(unbound, proof(ctx.keys.ec256, token=unbound))
    )
    body = assert_dpop_rejected(response, calls, "dpop_binding_mismatch")
    assert "no cnf.jkt" in body["detail"]


async def test_dpop_bound_token_as_bearer_cold_and_cached(ctx: Ctx) -> None:
    token = bound_token(ctx)
    harness = build_app(ctx.rsa)
    async with harness.client() as client:
        for _ in range(2):  # the second one is a verified-token cache hit
            response = await client.get("/me", headers=[("Authorization", f"Bearer {token}")])
            assert_dpop_rejected(response, harness.calls, "dpop_bound_token_as_bearer")
        plain = await client.get("/me", headers=[("Authorization", f"Bearer {ctx.good()}")])
    assert plain.status_code == 200
    assert plain.headers.get("www-authenticate") is None


async def test_token_failure_on_dpop_request_gets_a_dpop_challenge(ctx: Ctx) -> None:
    token = ctx.good(exp=1, iat=None, nbf=None, cnf={"jkt": thumbprint(public_jwk(ctx.keys.ec256))})
    response, _calls = await get(ctx.rsa, dpop_headers(token, proof(ctx.keys.ec256, token=token)))
    assert response.json()["reason"] == "token_expired"
    assert response.headers.get_list("www-authenticate")[0].startswith(
        'DPoP realm="api", error="invalid_token", error_description="token_expired"'
    )


async def test_required_refuses_bearer(ctx: Ctx) -> None:
    settings = dataclasses.replace(ctx.rsa, dpop="required")
    plain = ctx.good()
    for _ in range(2):
        response, _calls = await get(settings, [("Authorization", f"Bearer {plain}")])
        assert response.status_code == 401
        body = response.json()
        assert body["reason"] == "invalid_scheme" and "requires DPoP" in body["detail"]
        assert "DPoP is required by Settings(dpop=...)" in body["hint"]
        assert response.headers.get_list("www-authenticate") == [f'DPoP realm="api", {ALGS}']
    token = bound_token(ctx)
    ok, _ = await get(settings, dpop_headers(token, proof(ctx.keys.ec256, token=token)))
    assert ok.status_code == 200
    missing, _ = await get(settings, dpop_headers(token, None))
    assert_dpop_rejected(missing, [], "dpop_proof_missing", bearer_too=False)


async def test_off_treats_dpop_as_another_scheme(ctx: Ctx) -> None:
    settings = dataclasses.replace(ctx.rsa, dpop="off")
    token = bound_token(ctx)
    response, _ = await get(settings, dpop_headers(token, proof(ctx.keys.ec256, token=token)))
    assert response.json()["reason"] == "invalid_scheme"
    assert response.headers.get_list("www-authenticate") == ['Bearer realm="api"']
    bearer, _ = await get(settings, [("Authorization", f"Bearer {token}")])
    assert bearer.status_code == 200


async def test_dpop_scheme_request_stage(ctx: Ctx) -> None:
    response, calls = await get(ctx.rsa, [("Authorization", "DPoP ")])
    assert response.json()["reason"] == "empty_token"
    assert calls == []
    token = sign(claims(cnf={"jkt": "x"}), ctx.keys.rsa)
    response, _ = await get(ctx.rsa, [("Authorization", f"dpop {token}")])
    assert response.json()["reason"] == "dpop_proof_missing"
