"""Every contract reason that static keys can produce, reached over HTTP.

Each case goes through JWTAuthMiddleware with httpx's ASGITransport and is
checked against CONTRACT sections 1 and 2: status, ``reason``, the exact
``WWW-Authenticate`` challenge, the problem+json content type, and that the
handler never ran. The expected statuses and RFC 6750 error codes are copied
from the contract here, not taken from the package, so the two are compared.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from helpers.cases import (
    CASE_IDS,
    CASES,
    CLAIM_ORDER,
    CONTRACT,
    CONTROLS,
    DAY,
    FAKE_SIG,
    LEVELS,
    MINIMAL_KEYS,
    NOT_FROM_STATIC_KEYS,
    STANDARD_KEYS,
    Case,
    Ctx,
    Req,
    _embedded_jwk,
    assert_rejected,
    bearer,
    header_value,
    hs_token,
    never_echoed,
    replace_segment,
    rs_token,
    send,
)
from helpers.keys import AUDIENCE, HS_SECRET, ISSUER, b64url, public_pem
from helpers.tokens import claims, raw_token, sign

from jwt_middleware import Reason, Settings

# --- 1. every reason over HTTP ------------------------------------------------


def test_table_covers_every_static_key_reason() -> None:
    assert set(CONTRACT) == {r.value for r in Reason}
    assert {case.reason for case in CASES} == set(CONTRACT) - NOT_FROM_STATIC_KEYS


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
async def test_reason_over_http(case: Case, ctx: Ctx) -> None:
    response, calls = await send(case.make(ctx))
    body = assert_rejected(response, calls, case.reason, case.scope)
    for part in case.detail:
        assert part in body["detail"], body["detail"]
    for part in case.hint:
        assert part in body["hint"], body["hint"]
    # The default diagnostics level is standard: detail, hint, problems, no expected values.
    assert set(body) >= STANDARD_KEYS
    assert "expected" not in body


@pytest.mark.parametrize("make", [m for _, m in CONTROLS], ids=[i for i, _ in CONTROLS])
async def test_control_tokens_are_accepted(make: Callable[[Ctx], Req], ctx: Ctx) -> None:
    req = make(ctx)
    response, calls = await send(req)
    assert response.status_code == 200, response.text
    assert response.json()["claims"]["sub"] == "user-1"
    assert calls == [req.path]


async def test_kid_null_is_invalid_header(ctx: Ctx) -> None:
    """CONTRACT: 'A kid that is not a non-empty string: invalid_header' (null is not one)."""
    token = rs_token({"alg": "RS256", "kid": None}, claims(), ctx.keys.rsa)
    response, calls = await send(bearer(ctx.rsa, token))
    assert_rejected(response, calls, "invalid_header")


async def test_embedded_jwk_is_never_used(ctx: Ctx) -> None:
    """A token signed with the attacker's key and carrying that key in 'jwk' is refused."""
    response, calls = await send(_embedded_jwk(ctx))
    body = assert_rejected(response, calls, "signature_invalid")
    assert "own key" in body["detail"]
    assert "'jwk'" in body["detail"]
    assert "embeds a key" in body["hint"]


@pytest.mark.parametrize("header", ["jku", "x5u"])
async def test_other_embedded_key_headers_are_mentioned(ctx: Ctx, header: str) -> None:
    token = sign(claims(), ctx.keys.rsa2, headers={header: "https://attacker.example/jwks.json"})
    response, calls = await send(bearer(ctx.rsa, token))
    body = assert_rejected(response, calls, "signature_invalid")
    assert f"'{header}'" in body["detail"]


async def test_expired_detail_says_by_how_much(ctx: Ctx) -> None:
    now = int(time.time())
    response, calls = await send(bearer(ctx.rsa, ctx.good(exp=now - 5000, iat=None, nbf=None)))
    body = assert_rejected(response, calls, "token_expired")
    # 5000 s is 83 min 20 s (allow for a second passing).
    assert "83 min 2" in body["detail"] and "ago" in body["detail"], body["detail"]


async def test_zero_leeway_rejects_a_just_expired_token(ctx: Ctx) -> None:
    token = ctx.good(exp=int(time.time()) - 5, iat=None, nbf=None)
    response, calls = await send(bearer(ctx.rsa, token), leeway=0)
    assert_rejected(response, calls, "token_expired")
    response, calls = await send(bearer(ctx.rsa, token), leeway=60)
    assert response.status_code == 200


async def test_expired_shortly_hints_at_clock_skew(ctx: Ctx) -> None:
    now = int(time.time())
    response, calls = await send(bearer(ctx.rsa, ctx.good(exp=now - 90, iat=None, nbf=None)))
    body = assert_rejected(response, calls, "token_expired")
    assert "clock" in body["hint"]


def _exact_token(c: Ctx, length: int) -> str:
    """A valid RS256 token of exactly ``length`` characters (pads a claim, varies the kid)."""
    for kid_len in range(1, 5):
        headers = {"kid": "k" * kid_len}
        base = len(sign(claims(pad=""), c.keys.rsa, headers=headers))
        estimate = int((length - base) * 3 / 4)
        for n in range(max(0, estimate - 6), estimate + 6):
            token = sign(claims(pad="x" * n), c.keys.rsa, headers=headers)
            if len(token) == length:
                return token
    raise AssertionError(f"no token of {length} characters")


async def test_token_of_exactly_the_limit_is_accepted(ctx: Ctx) -> None:
    token = _exact_token(ctx, 8192)
    response, calls = await send(bearer(ctx.rsa, token))
    assert response.status_code == 200, response.text
    assert calls == ["/me"]


async def test_token_one_byte_over_the_limit_is_too_large(ctx: Ctx) -> None:
    token = _exact_token(ctx, 8193)
    response, calls = await send(bearer(ctx.rsa, token))
    body = assert_rejected(response, calls, "token_too_large")
    assert "8193" in body["detail"] and "8192" in body["detail"]


async def test_configured_token_limit(ctx: Ctx) -> None:
    token = ctx.good()
    response, calls = await send(bearer(ctx.rsa, token), max_token_bytes=len(token) - 1)
    assert_rejected(response, calls, "token_too_large")
    response, calls = await send(bearer(ctx.rsa, token), max_token_bytes=len(token))
    assert response.status_code == 200


# --- 2. precedence --------------------------------------------------------------


async def test_bad_signature_beats_expired_claims(ctx: Ctx) -> None:
    now = int(time.time())
    token = sign(claims(exp=now - 3 * DAY, iss="https://wrong.example/", aud="nope"), ctx.keys.rsa2)
    response, calls = await send(bearer(ctx.rsa, token))
    body = assert_rejected(response, calls, "signature_invalid")
    assert [p["reason"] for p in body["problems"]] == ["signature_invalid"]


async def test_structure_beats_claims(ctx: Ctx) -> None:
    now = int(time.time())
    token = raw_token({"alg": "none"}, claims(exp=now - DAY), b"")
    response, calls = await send(bearer(ctx.rsa, token))
    assert_rejected(response, calls, "unsigned_token")


async def test_request_stage_beats_everything(ctx: Ctx) -> None:
    token = raw_token({"alg": "none"}, claims(), b"")
    response, calls = await send(header_value(ctx.rsa, f"Bearer Bearer {token}", token))
    assert_rejected(response, calls, "double_bearer")


async def test_scope_is_judged_after_claims(ctx: Ctx) -> None:
    token = ctx.good(exp=int(time.time()) - DAY, iat=None, nbf=None)
    response, calls = await send(bearer(ctx.rsa, token, path="/admin"))
    assert_rejected(response, calls, "token_expired")


STAGE_PRECEDENCE: list[tuple[str, str, Callable[[Ctx], Req]]] = [
    (
        "structure_before_header",
        "invalid_json",
        lambda c: bearer(c.rsa, raw_token({"alg": "none"}, b'{"a":1,"a":2}', b"")),
    ),
    (
        "structure_before_header_base64",
        "invalid_base64",
        lambda c: bearer(
            c.rsa, replace_segment(raw_token({"alg": "none"}, claims(), FAKE_SIG), 2, "A+/=")
        ),
    ),
    (
        "header_before_key",
        "algorithm_not_allowed",
        lambda c: bearer(c.ab, sign(claims(), c.keys.ec256, "ES256", headers={"kid": "zzz"})),
    ),
    (
        "key_before_signature",
        "unknown_kid",
        lambda c: bearer(
            c.ab,
            replace_segment(
                sign(claims(), c.keys.rsa, headers={"kid": "zzz"}), 2, b64url(FAKE_SIG)
            ),
        ),
    ),
    (
        "missing_kid_before_signature",
        "missing_kid",
        lambda c: bearer(c.ab, replace_segment(c.good(), 2, b64url(FAKE_SIG))),
    ),
    (
        "signature_before_claims_kid_mismatch",
        "kid_mismatch",
        lambda c: bearer(
            c.ab,
            sign(claims(exp=int(time.time()) - DAY, aud="x"), c.keys.rsa2, headers={"kid": "a"}),
        ),
    ),
    (
        "signature_before_claims_secret",
        "secret_encoding_mismatch",
        lambda c: bearer(
            c.hs(HS_SECRET),
            hs_token(claims(exp=int(time.time()) - DAY, iss=None), HS_SECRET.encode() + b"\n"),
        ),
    ),
]


@pytest.mark.parametrize(
    ("reason", "make"),
    [(r, m) for _, r, m in STAGE_PRECEDENCE],
    ids=[i for i, _, _ in STAGE_PRECEDENCE],
)
async def test_earlier_stage_wins(reason: str, make: Callable[[Ctx], Req], ctx: Ctx) -> None:
    response, calls = await send(make(ctx))
    body = assert_rejected(response, calls, reason)
    assert [p["reason"] for p in body["problems"]] == [reason]


def _all_claim_problems(now: int) -> dict[str, Any]:
    """Claims that trip all seven claim reasons at once, keyed by reason."""
    return {
        "invalid_claim": {"jti": 12345},
        "missing_claim": {"sub": None},
        "issuer_mismatch": {"iss": "https://other.example.net/"},
        "audience_mismatch": {"aud": "another-api"},
        "token_expired": {"exp": now - 3 * DAY},
        "token_not_yet_valid": {"nbf": now + 3 * DAY},
        "token_issued_in_future": {"iat": now + 3 * DAY},
    }


@pytest.mark.parametrize("start", range(len(CLAIM_ORDER)), ids=CLAIM_ORDER)
async def test_claim_problems_all_listed_primary_in_contract_order(ctx: Ctx, start: int) -> None:
    """Trip the claim reasons from ``start`` on: all are listed, the first is primary."""
    now = int(time.time())
    settings = Settings(
        public_keys=(public_pem(ctx.keys.rsa),),
        issuer=ISSUER,
        audience=AUDIENCE,
        required_claims=("exp", "sub"),
    )
    tripped = CLAIM_ORDER[start:]
    overrides: dict[str, Any] = {}
    for reason in tripped:
        overrides.update(_all_claim_problems(now)[reason])
    response, calls = await send(bearer(settings, sign(claims(**overrides), ctx.keys.rsa)))
    body = assert_rejected(response, calls, tripped[0])
    listed = [p["reason"] for p in body["problems"]]
    assert sorted(listed, key=CLAIM_ORDER.index) == listed
    assert set(listed) == set(tripped)
    assert body["detail"] == body["problems"][0]["detail"]
    assert all(isinstance(p["detail"], str) and p["detail"] for p in body["problems"])


async def test_two_problems_of_one_kind_are_both_listed(ctx: Ctx) -> None:
    token = sign(claims(exp="soon", aud=7), ctx.keys.rsa)
    response, calls = await send(bearer(ctx.rsa, token))
    body = assert_rejected(response, calls, "invalid_claim")
    details = " ".join(p["detail"] for p in body["problems"])
    assert [p["reason"] for p in body["problems"]] == ["invalid_claim", "invalid_claim"]
    assert "exp" in details and "aud" in details


# --- 3. diagnostics levels and secrecy -------------------------------------------


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
async def test_diagnostics_level_shape_and_no_secrets(case: Case, level: str, ctx: Ctx) -> None:
    req = case.make(ctx)
    response, calls = await send(req, diagnostics=level)
    body = assert_rejected(response, calls, case.reason, case.scope)
    keys = set(body)
    if level == "minimal":
        assert keys == MINIMAL_KEYS
    else:
        extra = {"required_scopes"} if case.reason == "insufficient_scope" else set()
        allowed = STANDARD_KEYS | extra | ({"expected"} if level == "verbose" else set())
        assert STANDARD_KEYS <= keys <= allowed, keys
        assert isinstance(body["detail"], str) and body["detail"]
        assert isinstance(body["hint"], str) and body["hint"]
        assert case.reason in [p["reason"] for p in body["problems"]]
    assert body["type"].split(":", 1)[0] in ("urn", "https", "http")
    assert case.reason in body["type"]
    assert isinstance(body["title"], str) and body["title"]
    text = response.text
    headers = " ".join(f"{k}: {v}" for k, v in response.headers.multi_items())
    for secret in never_echoed(ctx, req):
        assert secret not in text, f"response body echoes {secret[:20]}..."
        assert secret not in headers, f"response headers echo {secret[:20]}..."


async def test_verbose_shows_known_kids_standard_does_not(ctx: Ctx) -> None:
    req = bearer(ctx.ab, sign(claims(), ctx.keys.rsa, headers={"kid": "zzz"}))
    response, _ = await send(req, diagnostics="verbose")
    verbose = response.json()
    assert verbose["reason"] == "unknown_kid"
    assert verbose["expected"]["known_kids"] == ["a", "b"]
    response, _ = await send(req, diagnostics="standard")
    assert "expected" not in response.json()
    assert "known_kids" not in response.text


async def test_verbose_shows_expected_issuer(ctx: Ctx) -> None:
    req = bearer(ctx.rsa, ctx.good(iss="https://staging.example.com/"))
    response, _ = await send(req, diagnostics="verbose")
    body = response.json()
    assert body["reason"] == "issuer_mismatch"
    assert body["expected"]["issuer"] == [ISSUER]
    response, _ = await send(req, diagnostics="standard")
    assert ISSUER not in response.text  # the expected issuer is verbose-only


async def test_verbose_shows_allowed_algorithms(ctx: Ctx) -> None:
    req = bearer(ctx.rsa, sign(claims(), ctx.keys.ec256, "ES256"))
    response, _ = await send(req, diagnostics="verbose")
    body = response.json()
    assert body["reason"] == "algorithm_not_allowed"
    assert body["expected"]["algorithms"] == ["RS256"]


async def test_verbose_kid_mismatch_names_verifying_key(ctx: Ctx) -> None:
    req = bearer(ctx.ab, sign(claims(), ctx.keys.rsa2, headers={"kid": "a"}))
    response, _ = await send(req, diagnostics="verbose")
    body = response.json()
    assert body["reason"] == "kid_mismatch"
    assert body["expected"]["verifying_kid"] == "b"


async def test_minimal_still_sends_the_challenge(ctx: Ctx) -> None:
    req = bearer(ctx.rsa, ctx.good(aud="other"))
    response, calls = await send(req, diagnostics="minimal")
    body = assert_rejected(response, calls, "audience_mismatch")
    assert body == {
        "type": body["type"],
        "title": body["title"],
        "status": 401,
        "reason": "audience_mismatch",
    }


async def test_custom_realm_is_used(ctx: Ctx) -> None:
    response, _ = await send(Req(ctx.rsa, []), realm="orders")
    assert response.headers["www-authenticate"] == 'Bearer realm="orders"'
    response, _ = await send(bearer(ctx.rsa, ctx.good(aud="x")), realm="orders")
    assert response.headers["www-authenticate"] == (
        'Bearer realm="orders", error="invalid_token", error_description="audience_mismatch"'
    )
