"""The endpoint's answer (introspection/answer.py): read as attacker input, judged as claims."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from helpers.jwks_server import public_jwk
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc import jwt
from joserfc.jwk import RSAKey

from jwt_middleware.introspection.answer import INTROSPECTED, Judge, read_answer
from jwt_middleware.introspection.endpoint import JWT_ANSWER_TYPE, EndpointError, Reply
from jwt_middleware.keys import KeySet, load_jwks
from jwt_middleware.outcome import Failure, VerifiedToken
from jwt_middleware.reasons import Reason
from jwt_middleware.tokens.claims import ClaimsPolicy

ISS, AUD, CLIENT = "https://as.example/", "orders-api", "rs"
NOW = time.time()
AS_KEY = rsa.generate_private_key(65537, 2048)
KEYS = KeySet(load_jwks({"keys": [public_jwk(AS_KEY, "as-1", "RS256")]}, source="t").keys)
POLICY = ClaimsPolicy(issuers=[ISS], audiences=[AUD], required=("exp", "iat"), leeway=30)
JUDGE = Judge(lambda: POLICY, ("exp", "iat"), "https://as.example/introspect")


def read(body: bytes, media: str = "application/json", **kw: Any) -> dict[str, Any]:
    return read_answer(
        Reply(media, body),
        keys=lambda: KEYS,
        algorithms=frozenset({"RS256"}),
        issuers=frozenset({ISS}),
        client_id=CLIENT,
        **kw,
    )


def signed(answer: Any, *, typ: str = "token-introspection+jwt", **claims: Any) -> bytes:
    payload = {"iss": ISS, "aud": CLIENT, "iat": int(NOW), "token_introspection": answer}
    payload.update(claims)
    header = {"alg": "RS256", "kid": "as-1", "typ": typ}
    return jwt.encode(header, payload, RSAKey.import_key(AS_KEY)).encode()


def good(**claims: Any) -> dict[str, Any]:
    return {"active": True, "iss": ISS, "aud": AUD, "exp": NOW + 600, **claims}


def test_a_json_answer_is_read_strictly() -> None:
    assert read(b'{"active": false}') == {"active": False}
    for body, said in [
        (b"<html>", "not a JSON object"),
        (b"[1]", "not a JSON object"),
        (b'{"active": true, "active": false}', "not a JSON object"),
        (b'{"active": NaN}', "not a JSON object"),
        (b"{" * 40 + b"}" * 40, "not a JSON object"),
        (b'{"sub": "x"}', "no 'active' member"),
        (b'{"active": "true"}', "a string"),
        (b'{"active": 1}', "a number"),
    ]:
        with pytest.raises(EndpointError) as caught:
            read(body)
        assert caught.value.reason is Reason.introspection_invalid_response
        assert said in caught.value.detail, (body, caught.value.detail)


def test_a_signed_answer_is_verified_with_the_authorization_servers_keys() -> None:
    assert read(signed(good()), JWT_ANSWER_TYPE)["aud"] == AUD
    other = rsa.generate_private_key(65537, 2048)
    forged = jwt.encode(
        {"alg": "RS256", "kid": "as-1", "typ": "token-introspection+jwt"},
        {"iss": ISS, "aud": CLIENT, "token_introspection": good()},
        RSAKey.import_key(other),
    ).encode()
    cases = [
        (forged, "does not verify"),
        (signed(good(), typ="JWT"), "typ"),
        (signed(good(), aud="another-client"), "client id"),
        (signed(good(), iss="https://evil.example/"), "not the issuer"),
        (signed([True]), "not an object"),
        (b"not.a.jws", "not a JWS"),
        (b"eyJhbGciOiJub25lIn0.e30.", "does not verify"),
    ]
    for body, said in cases:
        with pytest.raises(EndpointError) as caught:
            read(body, JWT_ANSWER_TYPE)
        assert caught.value.reason is Reason.introspection_invalid_response
        assert said in caught.value.detail, (said, caught.value.detail)


def test_asking_for_a_signed_answer_refuses_plain_json() -> None:
    with pytest.raises(EndpointError, match="signed answer"):
        read(b'{"active": true}', signed=True)


def test_an_active_answer_becomes_a_verified_token() -> None:
    got = JUDGE.judge(good(sub="alice", scope="read admin", cnf={"jkt": "abc"}), NOW)
    assert isinstance(got, VerifiedToken)
    assert got.alg == INTROSPECTED and got.kid is None and got.header == {}
    assert got.key_fingerprint.startswith("introspection:")
    assert got.scopes == frozenset({"read", "admin"}) and got.jkt == "abc"
    assert got.identity == "alice" and got.expires_at == pytest.approx(NOW + 600)
    assert "iat" not in good()  # iat is not required of an answer, though configured


@pytest.mark.parametrize(
    ("answer", "reason", "said"),
    [
        ({"active": False}, Reason.token_inactive, "'active': false"),
        (good(aud="other-api"), Reason.audience_mismatch, "The token's audience is 'other-api'."),
        (good(iss="https://as.example"), Reason.issuer_mismatch, "https://as.example"),
        (good(exp=NOW - 3600), Reason.token_expired, "expired"),
        (good(nbf=NOW + 3600), Reason.token_not_yet_valid, "becomes valid"),
        ({"active": True, "iss": ISS, "aud": AUD}, Reason.missing_claim, "'exp'"),
        (good(exp="soon"), Reason.invalid_claim, "'exp'"),
        (good(scope=["read"]), Reason.invalid_claim, "'scope'"),
        (good(token_use="refresh_token"), Reason.wrong_token_type, "refresh token"),
        (good(typ="Refresh"), Reason.wrong_token_type, "refresh token"),
    ],
)
def test_answers_are_judged_with_the_reasons_of_claims(
    answer: dict[str, Any], reason: Reason, said: str
) -> None:
    got = JUDGE.judge(answer, NOW)
    assert isinstance(got, Failure) and got.reason is reason, got
    assert said in got.detail
    assert got.alg == INTROSPECTED and got.key_fingerprint == JUDGE.fingerprint


def test_the_audience_hint_is_a_jwts() -> None:
    claims = good(aud="https://orders.example/api/", iat=NOW)
    got = JUDGE.judge(claims, NOW)
    policy = ClaimsPolicy(issuers=[ISS], audiences=["https://orders.example/api"])
    local = policy.failure(policy.problems(claims, NOW) or [], "RS256", None, None)
    judge = Judge(lambda: policy, ("exp",), "https://as.example/introspect")
    got = judge.judge(claims, NOW)
    assert isinstance(got, Failure) and got.reason is Reason.audience_mismatch
    assert got.effective_hint == local.effective_hint and got.hint  # the near-miss hint


def test_the_policy_follows_the_verifiers() -> None:
    current = [POLICY]
    judge = Judge(lambda: current[0], ("exp",), "https://as.example/introspect")
    assert judge.policy().issuers == {ISS}
    current[0] = POLICY.with_issuer("https://other.example/")
    assert judge.policy().issuers == {"https://other.example/"}


# --- attacker input: never raises -----------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)
answers = st.one_of(
    st.binary(max_size=300),
    st.dictionaries(
        st.sampled_from(["active", "iss", "aud", "exp", "nbf", "iat", "scope", "cnf", "sub",
                         "token_use", "typ", "jti", "x"]),
        json_values,
    ).map(lambda d: json.dumps(d).encode()),
    st.sampled_from([b'{"active": true, "exp": 1e400}', b'{"active": true, "exp": 9' * 3 + b"}",
                     b'{"active": true, "aud": [' + b"1," * 500 + b"1]}"]),
)  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=answers, media=st.sampled_from(["application/json", JWT_ANSWER_TYPE, ""]))
def test_answer_readers_never_raise(body: bytes, media: str) -> None:
    """Any body the endpoint sends: an EndpointError or an answer, then a judgement."""
    try:
        answer = read(body, media)
    except EndpointError as exc:
        assert exc.reason is Reason.introspection_invalid_response
        return
    got = JUDGE.judge(answer, NOW)
    assert isinstance(got, (VerifiedToken, Failure))
