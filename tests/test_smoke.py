"""A first end-to-end check that the fixtures and the middleware fit together."""

from __future__ import annotations

from helpers.apps import build_app
from helpers.keys import Keys
from helpers.tokens import claims, sign

from jwt_middleware import Settings


async def test_valid_token_reaches_handler(keys: Keys, rsa_settings: Settings) -> None:
    h = build_app(rsa_settings)
    token = sign(claims(), keys.rsa, headers={"kid": "k1"})
    async with h.client() as c:
        r = await c.get("/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    assert r.json()["claims"]["sub"] == "user-1"
    assert sorted(r.json()["scopes"]) == ["authenticated", "read", "write"]
    assert h.calls == ["/me"]


async def test_missing_token_is_401_with_challenge(rsa_settings: Settings) -> None:
    h = build_app(rsa_settings)
    async with h.client() as c:
        r = await c.get("/me")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == 'Bearer realm="api"'
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["reason"] == "missing_token"
    assert h.calls == []
