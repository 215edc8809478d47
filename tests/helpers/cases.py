"""The rejection cases: one or more per contract reason that static keys can produce.

Each :class:`Case` makes a request (:class:`Req`) from the session's :class:`Ctx`
(the ``ctx`` fixture in tests/conftest.py): the settings of the app it goes to
and what it sends. The expected statuses and RFC 6750 error codes are copied
from the contract here (``CONTRACT``), not taken from the package, so the two
are compared. Used over HTTP (tests/contract/test_reasons_http.py), in the log
and metrics tests and by the CLI tests (each case translated to ``diagnose``).
``CONTROLS`` are well-formed tokens each configuration of the table accepts.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from jwt.algorithms import RSAAlgorithm

from helpers.apps import build_app
from helpers.keys import AUDIENCE, HS_SECRET, ISSUER, Keys, b64url, private_pem, public_pem
from helpers.tokens import claims, raw_token, sign
from jwt_middleware import Settings

# --- the contract, copied (CONTRACT section 1 and 7 tables) --------------------

CONTRACT: dict[str, tuple[int, str | None]] = {
    "missing_token": (401, None),
    "invalid_scheme": (401, None),
    "empty_token": (400, "invalid_request"),
    "double_bearer": (400, "invalid_request"),
    "url_encoded_token": (400, "invalid_request"),
    "quoted_token": (400, "invalid_request"),
    "whitespace_in_token": (400, "invalid_request"),
    "multiple_authorization_headers": (400, "invalid_request"),
    "token_too_large": (400, "invalid_request"),
    "malformed_token": (401, "invalid_token"),
    "encrypted_token": (401, "invalid_token"),
    "invalid_base64": (401, "invalid_token"),
    "invalid_json": (401, "invalid_token"),
    "unsigned_token": (401, "invalid_token"),
    "invalid_header": (401, "invalid_token"),
    "algorithm_not_allowed": (401, "invalid_token"),
    "algorithm_key_mismatch": (401, "invalid_token"),
    "algorithm_confusion": (401, "invalid_token"),
    "missing_kid": (401, "invalid_token"),
    "unknown_kid": (401, "invalid_token"),
    "key_source_unavailable": (503, None),
    "signature_invalid": (401, "invalid_token"),
    "kid_mismatch": (401, "invalid_token"),
    "retired_key": (401, "invalid_token"),
    "secret_encoding_mismatch": (401, "invalid_token"),
    "token_expired": (401, "invalid_token"),
    "token_not_yet_valid": (401, "invalid_token"),
    "token_issued_in_future": (401, "invalid_token"),
    "issuer_mismatch": (401, "invalid_token"),
    "audience_mismatch": (401, "invalid_token"),
    "missing_claim": (401, "invalid_token"),
    "invalid_claim": (401, "invalid_token"),
    "insufficient_scope": (403, "insufficient_scope"),
    "multiple_tokens": (400, "invalid_request"),
    "wrong_token_type": (401, "invalid_token"),
    # CONTRACT section 6 (token locations)
    "cross_site_request": (403, None),
    # CONTRACT section 7 (DPoP)
    "dpop_proof_missing": (401, "invalid_dpop_proof"),
    "dpop_proof_invalid": (401, "invalid_dpop_proof"),
    "dpop_proof_replayed": (401, "invalid_dpop_proof"),
    "dpop_nonce_required": (401, "use_dpop_nonce"),
    "dpop_binding_mismatch": (401, "invalid_token"),
    "dpop_bound_token_as_bearer": (401, "invalid_token"),
    # CONTRACT section 8 (introspection)
    "token_inactive": (401, "invalid_token"),
    "introspection_unavailable": (503, None),
    "introspection_client_rejected": (503, None),
    "introspection_invalid_response": (503, None),
    # CONTRACT section 12 (authorization beyond scopes)
    "claim_not_allowed": (403, None),
    # CONTRACT section 9 (revocation)
    "token_revoked": (401, "invalid_token"),
    "revocation_unavailable": (503, None),
}
# The DPoP reasons need a proof made per request (a key, a fresh jti, the URL): they
# are tested in tests/contract/test_dpop_http.py and over uvicorn in
# tests/servers/test_dpop_uvicorn.py, not from this table.
DPOP_REASONS = {reason for reason in CONTRACT if reason.startswith("dpop_")}
# Not from one plain HTTP request with static keys: a key fetch or key-set history,
# a DPoP proof, or a cookie token location (cross_site_request:
# tests/unit/request/test_locations.py, tests/servers/test_hardening_uvicorn.py,
# tests/servers/test_browser.py).
# The introspection reasons need an introspection endpoint: tests/servers/
# test_introspection_uvicorn.py (oidc-provider, and a fault-injecting endpoint).
INTROSPECTION_REASONS = {
    "token_inactive",
    "introspection_unavailable",
    "introspection_client_rejected",
    "introspection_invalid_response",
}
# The revocation reasons need a revocation list in Redis: tests/servers/test_revocation_fleet.py
# (real uvicorn, a real redis-server) and tests/unit/request/test_revocation.py.
REVOCATION_REASONS = {"token_revoked", "revocation_unavailable"}
NOT_FROM_STATIC_KEYS = (
    {
        "key_source_unavailable",
        "retired_key",
        "cross_site_request",
    }
    | DPOP_REASONS
    | INTROSPECTION_REASONS
    | REVOCATION_REASONS
)
CLAIM_ORDER = [
    "invalid_claim",
    "missing_claim",
    "issuer_mismatch",
    "audience_mismatch",
    "token_expired",
    "token_not_yet_valid",
    "token_issued_in_future",
]
PROBLEM_JSON = "application/problem+json"
LEVELS = ("minimal", "standard", "verbose")
MINIMAL_KEYS = {"type", "title", "status", "reason"}
STANDARD_KEYS = MINIMAL_KEYS | {"detail", "hint", "problems"}
DAY = 86400


def expected_challenge(reason: str, scope: str | None = None, realm: str = "api") -> str:
    _status, error = CONTRACT[reason]
    value = f'Bearer realm="{realm}"'
    if error is not None:
        value += f', error="{error}", error_description="{reason}"'
    if scope is not None:
        value += f', scope="{scope}"'
    return value


# --- token helpers -----------------------------------------------------------


def std_b64(data: bytes) -> str:
    """Standard (not url-safe) base64, padding kept."""
    return base64.b64encode(data).decode("ascii")


def hs_token(
    payload: dict[str, Any],
    secret: bytes,
    alg: str = "HS256",
    headers: dict[str, Any] | None = None,
) -> str:
    """An HMAC token signed by hand (PyJWT refuses PEM text as an HMAC secret)."""
    header = {"alg": alg, "typ": "JWT", **(headers or {})}
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}"
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    sig = hmac.new(secret, signing_input.encode("ascii"), digest).digest()
    return f"{signing_input}.{b64url(sig)}"


def rs_token(header: dict[str, Any], payload: dict[str, Any], private: Any) -> str:
    """An RS256 token signed by hand, for headers/claims PyJWT refuses to encode."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}"
    sig = private.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(sig)}"


def segments(token: str) -> list[str]:
    return token.split(".")


def replace_segment(token: str, index: int, value: str) -> str:
    parts = segments(token)
    parts[index] = value
    return ".".join(parts)


# A signature for hand-made tokens, long enough that finding it in a body means an echo.
FAKE_SIG = hashlib.sha256(b"not a real signature").digest()


def fake(header: Any, payload: Any) -> str:
    return raw_token(header, payload, FAKE_SIG)


def signed_text(private: Any, payload: str) -> str:
    """An RS256 token over ``payload`` exactly as written (numbers no JSON library emits)."""
    head = b64url(b'{"alg":"RS256","typ":"JWT"}')
    signing_input = f"{head}.{b64url(payload.encode())}"
    signature = private.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}"


def _payload_with(number_claims: str) -> str:
    base = json.dumps({"iss": ISSUER, "aud": AUDIENCE, "sub": "user-1"})
    return base[:-1] + ", " + number_claims + "}"


def jwk_of(private: Any, kid: str, alg: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)  # type: ignore[assignment]
    entry["kid"] = kid
    entry["use"] = "sig"
    if alg is not None:
        entry["alg"] = alg
    return entry


# --- the context every case is built from ------------------------------------


@dataclass
class Ctx:
    keys: Keys
    jwks_ab: str  # kid "a": keys.rsa, kid "b": keys.rsa2
    jwks_rs384: str  # kid "k384": keys.rsa declared for RS384 only

    @property
    def rsa(self) -> Settings:
        return Settings(public_keys=(public_pem(self.keys.rsa),), issuer=ISSUER, audience=AUDIENCE)

    @property
    def at_jwt(self) -> Settings:
        """:attr:`rsa` requiring RFC 9068 access tokens (JWT_TOKEN_TYPES=at+jwt)."""
        return dataclasses.replace(self.rsa, token_types=("at+jwt",))

    @property
    def ab(self) -> Settings:
        return Settings(jwks_file=self.jwks_ab, issuer=ISSUER, audience=AUDIENCE)

    def hs(self, secret: str) -> Settings:
        return Settings(secret=secret, algorithms=("HS256",), issuer=ISSUER, audience=AUDIENCE)

    def good(self, **overrides: Any) -> str:
        return sign(claims(**overrides), self.keys.rsa)

    def good_typed(self, typ: str, **overrides: Any) -> str:
        return sign(claims(**overrides), self.keys.rsa, headers={"typ": typ})


@dataclass
class Req:
    """One request: the settings of the app it goes to and what it sends."""

    settings: Settings
    headers: list[tuple[str, str]]
    tokens: list[str] = field(default_factory=list)  # must never be echoed
    path: str = "/me"


def bearer(settings: Settings, token: str, *, path: str = "/me") -> Req:
    return Req(settings, [("Authorization", f"Bearer {token}")], [token], path)


def header_value(settings: Settings, value: str, token: str = "") -> Req:
    return Req(settings, [("Authorization", value)], [token] if token else [])


@dataclass
class Case:
    id: str
    reason: str
    make: Callable[[Ctx], Req]
    detail: tuple[str, ...] = ()  # substrings the detail must contain
    hint: tuple[str, ...] = ()  # substrings the hint must contain
    scope: str | None = None  # scope="..." expected in the challenge


def _two_places(c: Ctx) -> Req:
    """Two different valid tokens: one in the Authorization header, one in a cookie."""
    first, second = c.good(), c.good(sub="someone-else")
    settings = dataclasses.replace(
        c.rsa, token_locations=("header:Authorization:Bearer", "cookie:access_token")
    )
    headers = [("Authorization", f"Bearer {first}"), ("Cookie", f"access_token={second}")]
    return Req(settings, headers, [first, second])


def _sized_token(c: Ctx, target: int) -> str:
    """A validly signed token about ``target`` characters long."""
    base = len(c.good(pad=""))
    token = c.good(pad="x" * int((target - base) * 3 / 4))
    assert abs(len(token) - target) < 8, len(token)
    return token


def _std_b64_payload(c: Ctx) -> str:
    payload = json.dumps(claims(sub="???>>>")).encode()
    seg = std_b64(payload).rstrip("=")
    assert "+" in seg or "/" in seg
    return replace_segment(c.good(), 1, seg)


def _padded_signature(c: Ctx) -> str:
    seg = std_b64(b"sig!")  # c2lnIQ==
    assert seg.endswith("==") and "+" not in seg and "/" not in seg
    return replace_segment(c.good(), 2, seg)


def _deep(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = [value]
    return value


def _embedded_jwk(c: Ctx) -> Req:
    attacker = c.keys.rsa2
    jwk = RSAAlgorithm.to_jwk(attacker.public_key(), as_dict=True)
    return bearer(c.rsa, sign(claims(), attacker, headers={"jwk": jwk}))


def _multiple(c: Ctx) -> Req:
    tok = c.good()
    return Req(
        c.rsa, [("Authorization", f"Bearer {tok}"), ("Authorization", f"Bearer {tok}")], [tok]
    )


def _basic(c: Ctx) -> Req:
    creds = base64.b64encode(b"alice:correct-horse-battery").decode()
    return Req(c.rsa, [("Authorization", f"Basic {creds}")], [creds])


def _ws(c: Ctx, ch: str) -> Req:
    tok = c.good()
    mangled = tok[:40] + ch + tok[40:]
    return header_value(c.rsa, f"Bearer {mangled}", tok)


def _pem_hs(c: Ctx, settings: Settings, headers: dict[str, Any] | None = None) -> Req:
    secret = public_pem(c.keys.rsa).encode()
    return bearer(settings, hs_token(claims(), secret, headers=headers))


CASES: list[Case] = [
    # request stage
    Case("missing_token", "missing_token", lambda c: Req(c.rsa, [])),
    Case("invalid_scheme_basic", "invalid_scheme", _basic, detail=("Basic",)),
    Case(
        "invalid_scheme_token",
        "invalid_scheme",
        lambda c: header_value(c.rsa, f"Token {c.good()}", c.good()),
    ),
    Case(
        "invalid_scheme_no_prefix",
        "invalid_scheme",
        lambda c: header_value(c.rsa, c.good(), c.good()),
        hint=("Bearer",),
    ),
    Case(
        "invalid_scheme_quoted_token_without_bearer",
        "invalid_scheme",
        lambda c: header_value(c.rsa, f'"{c.good()}"', c.good()),
        hint=("quotes",),
    ),
    Case("empty_token", "empty_token", lambda c: header_value(c.rsa, "Bearer")),
    Case("empty_token_spaces", "empty_token", lambda c: header_value(c.rsa, "Bearer    ")),
    Case(
        "double_bearer",
        "double_bearer",
        lambda c: header_value(c.rsa, f"Bearer Bearer {c.good()}", c.good()),
    ),
    Case(
        "double_bearer_lowercase",
        "double_bearer",
        lambda c: header_value(c.rsa, f"bearer bearer {c.good()}", c.good()),
    ),
    Case(
        "url_encoded_whole_header",
        "url_encoded_token",
        lambda c: header_value(c.rsa, f"Bearer%20{c.good()}", c.good()),
    ),
    Case(
        "url_encoded_dot",
        "url_encoded_token",
        lambda c: header_value(c.rsa, "Bearer " + c.good().replace(".", "%2E"), c.good()),
    ),
    Case(
        "url_encoded_padding",
        "url_encoded_token",
        lambda c: header_value(c.rsa, f"Bearer {c.good()}%3D", c.good()),
    ),
    Case(
        "quoted_double",
        "quoted_token",
        lambda c: header_value(c.rsa, f'Bearer "{c.good()}"', c.good()),
    ),
    Case(
        "quoted_single",
        "quoted_token",
        lambda c: header_value(c.rsa, f"Bearer '{c.good()}'", c.good()),
    ),
    Case("whitespace_space", "whitespace_in_token", lambda c: _ws(c, " "), detail=("space",)),
    Case("whitespace_tab", "whitespace_in_token", lambda c: _ws(c, "\t"), detail=("tab",)),
    Case(
        "whitespace_line_break",
        "whitespace_in_token",
        lambda c: _ws(c, "\n"),
        detail=("line break",),
    ),
    Case("multiple_authorization_headers", "multiple_authorization_headers", _multiple),
    Case(
        "multiple_tokens_header_and_cookie",
        "multiple_tokens",
        lambda c: _two_places(c),
        detail=("Authorization header", "cookie 'access_token'"),
    ),
    Case(
        "token_too_large_huge",
        "token_too_large",
        lambda c: bearer(c.rsa, _sized_token(c, 12000)),
        detail=("8192",),
    ),
    Case(
        "token_too_large_just_over",
        "token_too_large",
        lambda c: bearer(c.rsa, _sized_token(c, 8220)),
        detail=("8192",),
    ),
    # header stage: the token type (RFC 9068), when JWT_TOKEN_TYPES is set
    Case(
        "wrong_token_type_id_token",
        "wrong_token_type",
        lambda c: bearer(
            c.at_jwt,
            sign(claims(nonce="n-0S6_WzA2Mj", at_hash="77QmUPtjPfzWtF2AnpK9RQ"), c.keys.rsa),
        ),
        detail=("'JWT'", "ID token", "'at+jwt'"),
        hint=("access_token", "id_token"),
    ),
    Case(
        "wrong_token_type_no_typ",
        "wrong_token_type",
        lambda c: bearer(c.at_jwt, rs_token({"alg": "RS256"}, claims(), c.keys.rsa)),
        detail=("no 'typ'", "'at+jwt'"),
    ),
    Case(
        "wrong_token_type_logout_token",
        "wrong_token_type",
        lambda c: bearer(
            c.at_jwt,
            sign(
                claims(
                    exp=None,
                    jti="bWJq",
                    sid="08a5019c-17e1-4977-8f42-65a12843ea02",
                    events={"http://schemas.openid.net/event/backchannel-logout": {}},
                ),
                c.keys.rsa,
                headers={"typ": "logout+jwt"},
            ),
        ),
        detail=("logout token",),
    ),
    Case(
        "wrong_token_type_keycloak_id_token_claim",
        "wrong_token_type",
        lambda c: bearer(c.at_jwt, sign(claims(typ="ID", azp="web-app"), c.keys.rsa)),
        detail=("typ 'ID' (Keycloak)", "ID token"),
    ),
    # structure stage
    Case(
        "malformed_one_segment",
        "malformed_token",
        lambda c: bearer(c.rsa, "opaque-access-token-0123456789"),
    ),
    Case(
        "malformed_two_segments",
        "malformed_token",
        lambda c: bearer(c.rsa, c.good().rsplit(".", 1)[0]),
    ),
    Case(
        "malformed_four_segments",
        "malformed_token",
        lambda c: bearer(c.rsa, c.good() + ".eyJ4IjoxfQ"),
    ),
    Case(
        "encrypted_token",
        "encrypted_token",
        lambda c: bearer(
            c.rsa,
            ".".join(
                [b64url(b'{"alg":"RSA-OAEP","enc":"A256GCM"}')]
                + [b64url(bytes([i]) * 24) for i in range(1, 5)]
            ),
        ),
        detail=("JWE",),
    ),
    Case(
        "invalid_base64_standard_alphabet",
        "invalid_base64",
        lambda c: bearer(c.rsa, _std_b64_payload(c)),
        detail=("payload", "standard base64"),
    ),
    Case(
        "invalid_base64_padded",
        "invalid_base64",
        lambda c: bearer(c.rsa, _padded_signature(c)),
        detail=("signature", "padded"),
    ),
    Case(
        "invalid_base64_impossible_length",
        "invalid_base64",
        lambda c: bearer(c.rsa, replace_segment(c.good(), 2, "AAAAA")),
        detail=("signature", "length"),
    ),
    Case(
        "invalid_base64_impossible_length_urlsafe_char",
        "invalid_base64",
        lambda c: bearer(c.rsa, replace_segment(c.good(), 2, "AAAA_")),
        detail=("signature", "length"),
    ),
    Case(
        "invalid_base64_header_bad_char",
        "invalid_base64",
        lambda c: bearer(c.rsa, replace_segment(c.good(), 0, "eyJ*bGci")),
        detail=("header",),
    ),
    Case(
        "invalid_json_payload_array",
        "invalid_json",
        lambda c: bearer(c.rsa, fake({"alg": "RS256"}, [1, 2])),
        detail=("payload",),
    ),
    Case(
        "invalid_json_header_string",
        "invalid_json",
        lambda c: bearer(c.rsa, fake("RS256", claims())),
        detail=("header",),
    ),
    Case(
        "invalid_json_header_duplicate",
        "invalid_json",
        lambda c: bearer(c.rsa, fake(b'{"alg":"RS256","alg":"HS256"}', claims())),
        detail=("header", "duplicate"),
    ),
    Case(
        "invalid_json_payload_duplicate",
        "invalid_json",
        lambda c: bearer(c.rsa, fake({"alg": "RS256"}, b'{"sub":"a","sub":"b"}')),
        detail=("payload", "duplicate"),
    ),
    Case(
        "invalid_json_nan",
        "invalid_json",
        lambda c: bearer(c.rsa, fake({"alg": "RS256"}, b'{"sub":"a","exp":NaN}')),
        detail=("payload", "NaN"),
    ),
    Case(
        "invalid_json_infinity",
        "invalid_json",
        lambda c: bearer(c.rsa, fake({"alg": "RS256"}, b'{"sub":"a","exp":-Infinity}')),
        detail=("payload",),
    ),
    Case(
        "invalid_json_too_deep",
        "invalid_json",
        lambda c: bearer(c.rsa, fake({"alg": "RS256"}, {"sub": "a", "x": _deep(17)})),
        detail=("payload", "nested"),
    ),
    Case(
        "invalid_json_not_json",
        "invalid_json",
        lambda c: bearer(c.rsa, fake(b"{alg: RS256}", claims())),
        detail=("header",),
    ),
    # header / algorithm stage
    Case(
        "unsigned_alg_none",
        "unsigned_token",
        lambda c: bearer(c.rsa, raw_token({"alg": "none"}, claims(), b"")),
    ),
    Case(
        "unsigned_alg_NONE",
        "unsigned_token",
        lambda c: bearer(c.rsa, raw_token({"alg": "NONE"}, claims(), b"")),
    ),
    Case(
        "unsigned_alg_nOnE_with_signature",
        "unsigned_token",
        lambda c: bearer(c.rsa, fake({"alg": "nOnE"}, claims())),
    ),
    Case(
        "unsigned_empty_signature",
        "unsigned_token",
        lambda c: bearer(c.rsa, replace_segment(c.good(), 2, "")),
    ),
    Case(
        "invalid_header_no_alg",
        "invalid_header",
        lambda c: bearer(c.rsa, fake({"typ": "JWT"}, claims())),
        detail=("alg",),
    ),
    Case(
        "invalid_header_alg_number",
        "invalid_header",
        lambda c: bearer(c.rsa, fake({"alg": 256}, claims())),
        detail=("alg",),
    ),
    Case(
        "invalid_header_unknown_crit",
        "invalid_header",
        lambda c: bearer(
            c.rsa,
            sign(claims(), c.keys.rsa, headers={"crit": ["x-custom"], "x-custom": True}),
        ),
        detail=("x-custom",),
    ),
    Case(
        "invalid_header_empty_kid",
        "invalid_header",
        lambda c: bearer(c.rsa, sign(claims(), c.keys.rsa, headers={"kid": ""})),
        detail=("kid",),
    ),
    Case(
        "invalid_header_numeric_kid",
        "invalid_header",
        lambda c: bearer(c.rsa, rs_token({"alg": "RS256", "kid": 5}, claims(), c.keys.rsa)),
        detail=("kid",),
    ),
    Case(
        "algorithm_not_allowed_es256",
        "algorithm_not_allowed",
        lambda c: bearer(c.rsa, sign(claims(), c.keys.ec256, "ES256")),
        detail=("ES256",),
    ),
    Case(
        "algorithm_not_allowed_rs512",
        "algorithm_not_allowed",
        lambda c: bearer(c.rsa, sign(claims(), c.keys.rsa, "RS512")),
        detail=("RS512",),
    ),
    Case(
        "algorithm_confusion_hs_not_allowed",
        "algorithm_confusion",
        lambda c: _pem_hs(c, c.rsa),
    ),
    Case(
        "algorithm_confusion_hs_allowed",
        "algorithm_confusion",
        lambda c: _pem_hs(
            c,
            Settings(
                public_keys=(public_pem(c.keys.rsa),),
                algorithms=("RS256", "HS256"),
                issuer=ISSUER,
                audience=AUDIENCE,
            ),
        ),
    ),
    Case(
        "algorithm_confusion_kid_names_rsa_key",
        "algorithm_confusion",
        lambda c: _pem_hs(c, c.ab, headers={"kid": "a"}),
    ),
    Case(
        "algorithm_key_mismatch_rsa_token_ec_key",
        "algorithm_key_mismatch",
        lambda c: bearer(
            Settings(
                public_keys=(public_pem(c.keys.ec256),),
                algorithms=("RS256", "ES256"),
                issuer=ISSUER,
                audience=AUDIENCE,
            ),
            c.good(),
        ),
        detail=("RS256", "EC"),
    ),
    Case(
        "algorithm_key_mismatch_jwk_alg",
        "algorithm_key_mismatch",
        lambda c: bearer(
            Settings(
                jwks_file=c.jwks_rs384,
                algorithms=("RS256", "RS384"),
                issuer=ISSUER,
                audience=AUDIENCE,
            ),
            sign(claims(), c.keys.rsa, "RS256", headers={"kid": "k384"}),
        ),
        detail=("RS384",),
    ),
    # key stage
    Case(
        "missing_kid",
        "missing_kid",
        lambda c: bearer(
            Settings(
                public_keys=(public_pem(c.keys.rsa), public_pem(c.keys.rsa2)),
                issuer=ISSUER,
                audience=AUDIENCE,
            ),
            c.good(),
        ),
    ),
    Case(
        "missing_kid_jwks",
        "missing_kid",
        lambda c: bearer(c.ab, c.good()),
    ),
    Case(
        "unknown_kid",
        "unknown_kid",
        lambda c: bearer(c.ab, sign(claims(), c.keys.rsa, headers={"kid": "zzz"})),
        detail=("zzz",),
    ),
    # signature stage
    Case(
        "signature_invalid_other_key",
        "signature_invalid",
        lambda c: bearer(c.rsa, sign(claims(), c.keys.rsa2)),
    ),
    Case(
        "signature_invalid_tampered_payload",
        "signature_invalid",
        lambda c: bearer(
            c.rsa,
            replace_segment(c.good(), 1, b64url(json.dumps(claims(scope="admin")).encode())),
        ),
    ),
    Case(
        "signature_invalid_embedded_jwk",
        "signature_invalid",
        _embedded_jwk,
        detail=("jwk",),
    ),
    Case(
        "kid_mismatch",
        "kid_mismatch",
        lambda c: bearer(c.ab, sign(claims(), c.keys.rsa2, headers={"kid": "a"})),
        detail=("'a'",),
    ),
    Case(
        "secret_base64_configured_raw_signed",
        "secret_encoding_mismatch",
        lambda c: bearer(c.hs(std_b64(HS_SECRET.encode())), hs_token(claims(), HS_SECRET.encode())),
        detail=("base64-decoded",),
    ),
    Case(
        "secret_raw_configured_base64_signed",
        "secret_encoding_mismatch",
        lambda c: bearer(c.hs(HS_SECRET), hs_token(claims(), std_b64(HS_SECRET.encode()).encode())),
        detail=("base64-encoded",),
    ),
    Case(
        "secret_signed_with_trailing_newline",
        "secret_encoding_mismatch",
        lambda c: bearer(c.hs(HS_SECRET), hs_token(claims(), HS_SECRET.encode() + b"\n")),
        detail=("newline",),
    ),
    Case(
        "secret_configured_with_trailing_newline",
        "secret_encoding_mismatch",
        lambda c: bearer(c.hs(HS_SECRET + "\n"), hs_token(claims(), HS_SECRET.encode())),
        detail=("whitespace",),
    ),
    # claims stage
    Case(
        "token_expired",
        "token_expired",
        lambda c: bearer(c.rsa, c.good(exp=int(time.time()) - 3 * DAY, iat=None, nbf=None)),
        detail=("3 days ago",),
    ),
    Case(
        "token_not_yet_valid",
        "token_not_yet_valid",
        lambda c: bearer(c.rsa, c.good(nbf=int(time.time()) + 3 * DAY + 60)),
        detail=("3 days",),
    ),
    Case(
        "token_issued_in_future",
        "token_issued_in_future",
        lambda c: bearer(c.rsa, c.good(iat=int(time.time()) + 3 * DAY, nbf=None)),
    ),
    Case(
        "issuer_trailing_slash",
        "issuer_mismatch",
        lambda c: bearer(c.rsa, c.good(iss=ISSUER.rstrip("/"))),
        hint=("trailing slash",),
    ),
    Case(
        "issuer_http_vs_https",
        "issuer_mismatch",
        lambda c: bearer(c.rsa, c.good(iss=ISSUER.replace("https://", "http://"))),
        hint=("http://", "https://"),
    ),
    Case(
        "issuer_letter_case",
        "issuer_mismatch",
        lambda c: bearer(c.rsa, c.good(iss=ISSUER.replace("issuer", "Issuer"))),
        hint=("letter case",),
    ),
    Case(
        "issuer_other_environment",
        "issuer_mismatch",
        lambda c: bearer(
            Settings(
                public_keys=(public_pem(c.keys.rsa),),
                issuer="https://auth.prod.example.com/",
                audience=AUDIENCE,
            ),
            c.good(iss="https://auth.dev.example.com/"),
        ),
        hint=("environment",),
    ),
    Case(
        "issuer_other",
        "issuer_mismatch",
        lambda c: bearer(c.rsa, c.good(iss="https://evil.example.org/")),
    ),
    Case(
        "audience_mismatch_string",
        "audience_mismatch",
        lambda c: bearer(c.rsa, c.good(aud="billing-api")),
    ),
    Case(
        "audience_mismatch_array",
        "audience_mismatch",
        lambda c: bearer(c.rsa, c.good(aud=["billing-api", "search-api"])),
        detail=("billing-api",),
    ),
    Case(
        "missing_claim_exp",
        "missing_claim",
        lambda c: bearer(c.rsa, c.good(exp=None)),
        detail=("exp",),
    ),
    Case(
        "missing_claim_iss",
        "missing_claim",
        lambda c: bearer(c.rsa, c.good(iss=None)),
        detail=("iss",),
    ),
    Case(
        "missing_claim_aud",
        "missing_claim",
        lambda c: bearer(c.rsa, c.good(aud=None)),
        detail=("aud",),
    ),
    Case(
        "invalid_claim_exp_string",
        "invalid_claim",
        lambda c: bearer(c.rsa, c.good(exp="tomorrow")),
        detail=("exp",),
    ),
    Case(
        "invalid_claim_exp_numeric_string",
        "invalid_claim",
        lambda c: bearer(c.rsa, c.good(exp=str(int(time.time()) + 600))),
        detail=("exp", "numeric string"),
    ),
    Case(
        "invalid_claim_exp_bool",
        "invalid_claim",
        lambda c: bearer(c.rsa, c.good(exp=True)),
        detail=("exp", "boolean"),
    ),
    Case(
        "invalid_claim_exp_out_of_range",
        "invalid_claim",
        lambda c: bearer(c.rsa, c.good(exp=10**20)),
        detail=("exp",),
    ),
    Case(
        "invalid_claim_exp_beyond_float",
        "invalid_claim",
        lambda c: bearer(c.rsa, signed_text(c.keys.rsa, _payload_with('"exp": 1e400'))),
        detail=("exp", "too large for a float"),
    ),
    Case(
        "invalid_claim_exp_5000_digits",
        "invalid_claim",
        lambda c: bearer(c.rsa, signed_text(c.keys.rsa, _payload_with('"exp": ' + "9" * 5000))),
        detail=("exp", "5000 digits"),
    ),
    Case(
        "invalid_claim_other_claim_beyond_float",
        "invalid_claim",
        lambda c: bearer(
            c.rsa,
            signed_text(
                c.keys.rsa,
                _payload_with(f'"exp": {int(time.time()) + 600}, "ratio": [1, -1e999]'),
            ),
        ),
        detail=("ratio", "out of range"),
    ),
    Case(
        "invalid_claim_exp_negative",
        "invalid_claim",
        lambda c: bearer(c.rsa, c.good(exp=-1)),
        detail=("exp",),
    ),
    Case(
        "invalid_claim_nbf_bool",
        "invalid_claim",
        lambda c: bearer(c.rsa, c.good(nbf=False)),
        detail=("nbf",),
    ),
    Case(
        "invalid_claim_aud_number",
        "invalid_claim",
        lambda c: bearer(c.rsa, c.good(aud=5)),
        detail=("aud",),
    ),
    Case(
        "invalid_claim_iss_number",
        "invalid_claim",
        lambda c: bearer(c.rsa, rs_token({"alg": "RS256"}, claims(iss=42), c.keys.rsa)),
        detail=("iss",),
    ),
    # scope stage
    Case(
        "insufficient_scope",
        "insufficient_scope",
        lambda c: bearer(c.rsa, c.good(), path="/admin"),
        detail=("admin",),
        scope="admin",
    ),
    Case(  # the value is there, in a claim not read as scopes: the hint names it
        "insufficient_scope_in_roles_not_read",
        "insufficient_scope",
        lambda c: bearer(c.rsa, c.good(roles=["admin"]), path="/admin"),
        detail=("admin",),
        hint=("'admin' in its 'roles' claim", "add roles to Settings(scope_claims=...)"),
        scope="admin",
    ),
    Case(  # scopes first: a token lacking the scope and the claim is insufficient_scope
        "insufficient_scope_before_claim_rules",
        "insufficient_scope",
        lambda c: bearer(c.rsa, c.good(tid="tenant-b"), path="/tenant/admin"),
        detail=("admin",),
        scope="admin",
    ),
    # claim rules (CONTRACT section 12): helpers.apps.build_app's default path_claims
    Case(
        "claim_not_allowed_other_value",
        "claim_not_allowed",
        lambda c: bearer(c.rsa, c.good(tid="tenant-b"), path="/tenant"),
        detail=("'tid'", "'tenant-b'"),
        hint=("Entra ID tenant", "path_claims"),
    ),
    Case(
        "claim_not_allowed_missing",
        "claim_not_allowed",
        lambda c: bearer(c.rsa, c.good(), path="/tenant"),
        detail=("no 'tid' claim",),
    ),
    Case(
        "claim_not_allowed_array_without_an_accepted_value",
        "claim_not_allowed",
        lambda c: bearer(c.rsa, c.good(tid=["tenant-b", "TENANT-A"]), path="/tenant"),
        detail=("'tid'", "'TENANT-A'"),
    ),
    Case(
        "claim_not_allowed_type_counts",
        "claim_not_allowed",
        lambda c: bearer(c.rsa, c.good(tid={"id": "tenant-a"}), path="/tenant"),
        detail=("a JSON object",),
    ),
]
CASE_IDS = [case.id for case in CASES]


async def send(req: Req, **settings_changes: Any) -> tuple[httpx.Response, list[str]]:
    settings = (
        dataclasses.replace(req.settings, **settings_changes) if settings_changes else req.settings
    )
    harness = build_app(settings)
    async with harness.client() as client:
        response = await client.get(req.path, headers=req.headers)
    return response, harness.calls


def assert_rejected(
    response: httpx.Response, calls: list[str], reason: str, scope: str | None = None
) -> dict[str, Any]:
    status, _error = CONTRACT[reason]
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert body["reason"] == reason, body
    assert body["status"] == status
    assert response.headers.get_list("www-authenticate") == [expected_challenge(reason, scope)]
    assert calls == []
    return body


# Controls: each configuration of the table accepts a well-formed token, so the
# rejections above come from the one thing each case breaks.
CONTROLS: list[tuple[str, Callable[[Ctx], Req]]] = [
    ("rsa_pem", lambda c: bearer(c.rsa, c.good())),
    ("lowercase_scheme", lambda c: header_value(c.rsa, f"bearer {c.good()}")),
    ("uppercase_scheme", lambda c: header_value(c.rsa, f"BEARER {c.good()}")),
    ("jwks_kid_a", lambda c: bearer(c.ab, sign(claims(), c.keys.rsa, headers={"kid": "a"}))),
    ("jwks_kid_b", lambda c: bearer(c.ab, sign(claims(), c.keys.rsa2, headers={"kid": "b"}))),
    (
        "jwks_rs384",
        lambda c: bearer(
            Settings(
                jwks_file=c.jwks_rs384,
                algorithms=("RS256", "RS384"),
                issuer=ISSUER,
                audience=AUDIENCE,
            ),
            sign(claims(), c.keys.rsa, "RS384", headers={"kid": "k384"}),
        ),
    ),
    ("hs_raw", lambda c: bearer(c.hs(HS_SECRET), hs_token(claims(), HS_SECRET.encode()))),
    (
        "hs_base64_configured_and_signed",
        lambda c: bearer(
            c.hs(std_b64(HS_SECRET.encode())),
            hs_token(claims(), std_b64(HS_SECRET.encode()).encode()),
        ),
    ),
    ("audience_in_array", lambda c: bearer(c.rsa, c.good(aud=["other", AUDIENCE]))),
    (
        "expired_within_leeway",
        lambda c: bearer(c.rsa, c.good(exp=int(time.time()) - 10, iat=None, nbf=None)),
    ),
    (
        "issued_in_future_within_leeway",
        lambda c: bearer(c.rsa, c.good(iat=int(time.time()) + 10, nbf=None)),
    ),
    (
        "no_issuer_configured_no_iss",
        lambda c: bearer(
            Settings(public_keys=(public_pem(c.keys.rsa),), audience=AUDIENCE),
            c.good(iss=None),
        ),
    ),
    (
        "typ_at_jwt_required",
        lambda c: bearer(c.at_jwt, c.good_typed("at+jwt")),
    ),
    (
        "typ_application_at_jwt_any_case",
        lambda c: bearer(c.at_jwt, c.good_typed("application/AT+JWT")),
    ),
    (
        "typ_not_required_by_default_id_token_marks",
        lambda c: bearer(
            c.rsa, c.good(nonce="n-0S6_WzA2Mj", at_hash="77QmUPtjPfzWtF2AnpK9RQ", azp=AUDIENCE)
        ),
    ),
    ("admin_scope", lambda c: bearer(c.rsa, c.good(scope="read admin"), path="/admin")),
    (
        "admin_role_read_as_scope",
        lambda c: bearer(
            dataclasses.replace(c.rsa, scope_claims=("scope", "roles")),
            c.good(roles=["admin"]),
            path="/admin",
        ),
    ),
    (
        "admin_keycloak_realm_role_read_as_scope",
        lambda c: bearer(
            dataclasses.replace(c.rsa, scope_claims=("realm_access.roles",)),
            c.good(scope="read", realm_access={"roles": ["admin", "offline_access"]}),
            path="/admin",
        ),
    ),
    ("tenant_claim", lambda c: bearer(c.rsa, c.good(tid="tenant-a"), path="/tenant")),
    (
        "tenant_claim_in_an_array",
        lambda c: bearer(c.rsa, c.good(tid=["tenant-b", "tenant-a"]), path="/tenant"),
    ),
    (
        "tenant_claim_and_scope",
        lambda c: bearer(c.rsa, c.good(tid="tenant-a", scope="admin"), path="/tenant/admin"),
    ),
    (
        "ec_key_es256",
        lambda c: bearer(
            Settings(
                public_keys=(public_pem(c.keys.ec256),),
                algorithms=("RS256", "ES256"),
                issuer=ISSUER,
                audience=AUDIENCE,
            ),
            sign(claims(), c.keys.ec256, "ES256"),
        ),
    ),
]


_PRIVATE_CHUNKS: list[str] = []


def never_echoed(ctx: Ctx, req: Req) -> list[str]:
    """Strings no response may contain: the token, its signature, secrets, private keys."""
    if not _PRIVATE_CHUNKS:
        for private in (ctx.keys.rsa, ctx.keys.rsa2, ctx.keys.ec256):
            body = "".join(private_pem(private).splitlines()[1:-1])
            _PRIVATE_CHUNKS.extend(body[i : i + 40] for i in (40, 400) if len(body) > i + 40)
    raw = HS_SECRET.encode()
    forbidden = [
        HS_SECRET,
        std_b64(raw),
        std_b64(raw).rstrip("="),
        b64url(raw),
        *_PRIVATE_CHUNKS,
    ]
    for token in req.tokens:
        forbidden.append(token)
        for part in segments(token)[2:]:
            if len(part) >= 8:
                forbidden.append(part)
    for _name, value in req.headers:
        if len(value) >= 16:
            forbidden.append(value)
    return forbidden
