"""The issuer's clock, measured, in rejections over HTTP (CONTRACT section 6).

A real key server on 127.0.0.1 sends a ``Date`` header skewed on purpose
(tests/helpers/jwks_server.py, ``date_skew``); the app behind the middleware is
called through httpx's ASGI transport (no server behaviour is involved). A token
refused for a time claim gets a hint that says, with figures, whether the
measured offset explains it; static keys make no claim about a measured clock.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from helpers.apps import build_app, remote_settings
from helpers.cases import Ctx
from helpers.jwks_server import JWKSServer, public_jwk
from helpers.keys import Keys
from helpers.tokens import claims, sign

from jwt_middleware import Settings

MEASURED = r"\(measured from its key-set responses, ±0\.\d s\)"
FIX = "Fix time sync (NTP) on this host"
TOKENS_PROBLEM = "the token's problem, not this server's clock"


async def rejected(settings: Settings, token: str) -> tuple[dict[str, Any], Any]:
    """One request with ``token``: the problem+json body and the verifier's source."""
    harness = build_app(settings)
    try:
        async with harness.client() as client:
            response = await client.get("/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, response.text
        assert harness.calls == []
        return response.json(), harness.app.verifier.remote
    finally:
        await harness.app.shutdown()


def token(keys: Keys, **overrides: Any) -> str:
    return sign(claims(**overrides), keys.rsa, headers={"kid": "k1"})


@pytest.fixture
def skewed(keys: Keys, server: JWKSServer) -> JWKSServer:
    server.state.keys = [public_jwk(keys.rsa, "k1")]
    return server


async def test_this_server_ahead_explains_an_early_expiry(keys: Keys, skewed: JWKSServer) -> None:
    """The issuer's clock 94 s behind: a token with a minute left by the issuer's clock
    looks expired 34 s ago here. The hint says so, with figures."""
    skewed.state.date_skew = -94.0
    now = int(time.time())
    body, remote = await rejected(
        remote_settings(skewed), token(keys, exp=now - 34, iat=now - 600, nbf=now - 600)
    )
    assert body["reason"] == "token_expired"
    measured = remote.clock_offset
    assert measured is not None and abs(measured.offset + 94.0) <= measured.error
    assert re.match(
        rf"This server's clock is 9[345] s ahead of the issuer's {MEASURED}: by the "
        r"issuer's clock the token is still valid for [56]\d s\. ",
        body["hint"],
    ), body["hint"]
    assert (
        FIX in body["hint"] and "raising Settings(leeway=...) only hides the offset" in body["hint"]
    )


async def test_this_server_behind_explains_nbf_and_iat(keys: Keys, skewed: JWKSServer) -> None:
    """The issuer's clock 94 s ahead: a token minted just now by the issuer's clock is
    not yet valid (nbf) or issued in the future (iat) here."""
    skewed.state.date_skew = 94.0
    now = int(time.time())
    body, _ = await rejected(remote_settings(skewed), token(keys, iat=now + 90, nbf=now + 90))
    assert body["reason"] == "token_not_yet_valid"
    assert re.match(
        rf"This server's clock is 9[345] s behind the issuer's {MEASURED}: by the issuer's "
        r"clock the token is already valid \(since \d s\)\. ",
        body["hint"],
    ), body["hint"]
    assert FIX in body["hint"]
    body, _ = await rejected(remote_settings(skewed), token(keys, iat=now + 90, nbf=None))
    assert body["reason"] == "token_issued_in_future"
    hint = body["hint"]
    assert re.match(rf"This server's clock is 9[345] s behind the issuer's {MEASURED}", hint)
    assert "was issued " in hint and FIX in hint


async def test_a_claim_wrong_by_far_more_is_the_tokens_problem(
    keys: Keys, skewed: JWKSServer
) -> None:
    skewed.state.date_skew = -94.0
    now = int(time.time())
    body, _ = await rejected(
        remote_settings(skewed), token(keys, exp=now - 5000, iat=now - 6000, nbf=now - 6000)
    )
    assert body["reason"] == "token_expired"
    hint = body["hint"]
    # 5000 s by this clock, about 4906 s by the issuer's.
    assert re.match(r"The token expired 81 min 4\d s ago even by the issuer's clock", hint), hint
    assert re.search(rf"this server's clock is 9[345] s ahead of the issuer's {MEASURED}", hint)
    assert TOKENS_PROBLEM in hint and "get a new token" in hint and FIX not in hint


async def test_agreeing_clocks_rule_skew_out(keys: Keys, skewed: JWKSServer) -> None:
    """A server with a true Date: the clocks agree, so an expiry 90 s ago is the token's,
    not a skew to fix with NTP or the leeway."""
    now = int(time.time())
    body, _ = await rejected(
        remote_settings(skewed), token(keys, exp=now - 90, iat=now - 600, nbf=now - 600)
    )
    assert body["reason"] == "token_expired"
    hint = body["hint"]
    assert re.match(r"The token expired 9\d s ago, beyond the 30 s leeway", hint), hint
    assert "agrees with the issuer's to within ±" in hint and TOKENS_PROBLEM in hint
    assert "NTP" not in hint and "JWT_LEEWAY" not in hint


async def test_verbose_level_shows_the_measured_offset(keys: Keys, skewed: JWKSServer) -> None:
    skewed.state.date_skew = -94.0
    now = int(time.time())
    body, remote = await rejected(
        remote_settings(skewed, diagnostics="verbose"),
        token(keys, exp=now - 34, iat=now - 600, nbf=now - 600),
    )
    expected = body["expected"]
    assert expected["leeway_seconds"] == 30
    assert expected["issuer_clock_offset_seconds"] == round(remote.clock_offset.offset, 3)
    assert 0.5 <= expected["issuer_clock_offset_error_seconds"] < 1.5


async def test_a_key_server_without_a_date_measures_nothing(keys: Keys, skewed: JWKSServer) -> None:
    skewed.state.send_date = False
    now = int(time.time())
    body, remote = await rejected(
        remote_settings(skewed), token(keys, exp=now - 90, iat=now - 600, nbf=now - 600)
    )
    assert remote.clock_offset is None
    assert "measured" not in body["hint"]
    assert "clocks differ: check NTP, or raise Settings(leeway=...)" in body["hint"]


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"exp": -34, "iat": -600, "nbf": -600}, "token_expired"),
        ({"exp": -90, "iat": -600, "nbf": -600}, "token_expired"),
        ({"exp": -5000, "iat": -6000, "nbf": -6000}, "token_expired"),
        ({"iat": 90, "nbf": 90}, "token_not_yet_valid"),
        ({"iat": 90, "nbf": None}, "token_issued_in_future"),
    ],
)
async def test_static_keys_claim_no_measured_clock(
    ctx: Ctx, overrides: dict[str, int | None], reason: str
) -> None:
    now = int(time.time())
    shifted = {k: None if v is None else now + v for k, v in overrides.items()}
    body, remote = await rejected(ctx.rsa, sign(claims(**shifted), ctx.keys.rsa))
    assert remote is None
    assert body["reason"] == reason
    assert "measured" not in body["hint"] and "agrees" not in body["hint"]
    assert TOKENS_PROBLEM not in body["hint"]


async def test_success_path_is_unchanged(keys: Keys, skewed: JWKSServer) -> None:
    """A valid token is accepted whatever the measured offset (it feeds hints only)."""
    skewed.state.date_skew = -94.0
    harness = build_app(remote_settings(skewed))
    try:
        async with harness.client() as client:
            response = await client.get("/me", headers={"Authorization": f"Bearer {token(keys)}"})
        assert response.status_code == 200
        assert isinstance(harness.app.verifier.remote.clock_offset.offset, float)
    finally:
        await harness.app.shutdown()
