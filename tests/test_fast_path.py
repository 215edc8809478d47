"""Differential tests: ``Verifier.verify`` (fast path) against ``Verifier.verify_full``.

The promise: for every input string, ``verify()`` on a verifier whose header entries are
warm returns an outcome equal (dataclass ``==``, every field) to ``verify_full()`` on the
same verifier and on a cold one, at the same ``now``. Beneath it:

- ``decode_body`` never accepts what ``parse_compact`` rejects, and decodes the same bytes;
- ``Verifier._claims_clean`` implies ``not Verifier._check_claims`` (and is True for the
  usual valid claims, so the fast path skips the full claim check);
- a changed key set retires every header entry made with the old one (no stale success).

The verified-token cache is off (``token_cache_entries=0``) except in the tests of the
cache itself; the diagnostic budget is effectively unlimited so both calls diagnose alike.
"""

from __future__ import annotations

import hmac
import json
import string
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import AUDIENCE, ISSUER, b64url
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from hypothesis import HealthCheck, currently_in_test_context, event, example, given, settings
from hypothesis import strategies as st
from joserfc import jwk

from jwt_middleware import (
    Failure,
    KeySet,
    Reason,
    Settings,
    VerificationKey,
    VerifiedToken,
    Verifier,
    load_static_keys,
)
from jwt_middleware.keys import import_jwk
from jwt_middleware.parse import ParsedToken, decode_body, parse_compact
from jwt_middleware.remote import KeyHistory

PROPS = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
CHEAP_PROPS = settings(PROPS, max_examples=1000)

NOW = 1_700_000_000  # every verification here runs at this instant (or later, for the cache)
LEEWAY = 30
MAX_BYTES = 2048  # small, so oversized tokens are cheap to make
MAX_UNIX_TIME = 253402300799
HS_SECRET = "fast-path-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
OTHER_SECRET = b"another-secret-0123456789-abcdefghijklmnopqrstuvwxyz!"
B64URL = string.ascii_letters + string.digits + "-_"
COMMON: dict[str, Any] = {
    "token_cache_entries": 0,
    "diagnostic_verifications_per_second": 1e9,
    "max_token_bytes": MAX_BYTES,
    "leeway": LEEWAY,
}

RSA_KEY = rsa.generate_private_key(65537, 2048)
RSA2_KEY = rsa.generate_private_key(65537, 2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
EC2_KEY = ec.generate_private_key(ec.SECP256R1())
ED_KEY = ed25519.Ed25519PrivateKey.generate()
ED2_KEY = ed25519.Ed25519PrivateKey.generate()


# --- signing arbitrary signing inputs (PyJWT cannot sign odd payload segments) -----------

Signer = Callable[[bytes], bytes]


def rs256(key: rsa.RSAPrivateKey) -> Signer:
    return lambda msg: key.sign(msg, padding.PKCS1v15(), hashes.SHA256())


def ps256(key: rsa.RSAPrivateKey) -> Signer:
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    return lambda msg: key.sign(msg, pss, hashes.SHA256())


def es256(key: ec.EllipticCurvePrivateKey, *, der: bool = False) -> Signer:
    def sign(msg: bytes) -> bytes:
        signature = key.sign(msg, ec.ECDSA(hashes.SHA256()))
        if der:
            return signature
        r, s = decode_dss_signature(signature)
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    return sign


def eddsa(key: ed25519.Ed25519PrivateKey) -> Signer:
    return key.sign


def hs256(secret: bytes) -> Signer:
    return lambda msg: hmac.digest(secret, msg, "sha256")


def compact_json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), allow_nan=False).encode()


def signing_bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def valid_claims(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-1",
        "iat": NOW - 60,
        "nbf": NOW - 60,
        "exp": NOW + 3600,
        "scope": "read write",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


@dataclass(frozen=True)
class Profile:
    """One header (so one fast-path entry) and the keys to sign under it."""

    name: str
    target: str  # which verifier of the environment checks it
    header: dict[str, Any]
    sign: Signer
    wrong: tuple[Signer, ...]  # other keys: kid_mismatch, secret variants, plain invalid

    @property
    def h64(self) -> str:
        return b64url(compact_json(self.header))

    def token(self, payload: bytes | dict[str, Any], signer: Signer | None = None) -> str:
        body = payload if isinstance(payload, bytes) else compact_json(payload)
        head = f"{self.h64}.{b64url(body)}"
        return f"{head}.{b64url((signer or self.sign)(head.encode()))}"


_ED_JWK = dict(jwk.OKPKey.import_key(ED2_KEY.public_key()).as_dict())
PROFILES: tuple[Profile, ...] = (
    Profile("rs", "multi", {"alg": "RS256", "kid": "rsa", "typ": "JWT"}, rs256(RSA_KEY),
            (rs256(RSA2_KEY),)),
    Profile("rs2", "multi", {"alg": "RS256", "kid": "rsa2"}, rs256(RSA2_KEY),
            (rs256(RSA_KEY), ps256(RSA2_KEY))),
    Profile("ps", "multi", {"alg": "PS256", "kid": "rsa-pss"}, ps256(RSA_KEY),
            (ps256(RSA2_KEY), rs256(RSA_KEY))),
    Profile("es", "multi", {"alg": "ES256", "kid": "ec"}, es256(EC_KEY),
            (es256(EC2_KEY), es256(EC_KEY, der=True))),
    Profile("es-nokid", "multi", {"alg": "ES256"}, es256(EC_KEY), (es256(EC2_KEY),)),
    Profile("ed", "multi", {"alg": "EdDSA", "kid": "ed"}, eddsa(ED_KEY), (eddsa(ED2_KEY),)),
    Profile("ed-jwk", "multi", {"alg": "EdDSA", "kid": "ed", "jwk": _ED_JWK}, eddsa(ED_KEY),
            (eddsa(ED2_KEY),)),
    Profile("hs", "hs", {"alg": "HS256", "typ": "JWT"}, hs256(HS_SECRET.encode()),
            (hs256(OTHER_SECRET), hs256(b64url(HS_SECRET.encode()).encode()),
             hs256(HS_SECRET.encode() + b"\n"))),
    Profile("hs-kid", "hs", {"alg": "HS256", "kid": "k-1"}, hs256(HS_SECRET.encode()),
            (hs256(OTHER_SECRET),)),
)  # fmt: skip
PROFILE_BY_NAME = {p.name: p for p in PROFILES}


class SpyVerifier(Verifier):
    """A Verifier counting its full-path runs: verify() took the fast path when none ran."""

    full_runs = 0

    def verify_full(self, token: str, now: float) -> VerifiedToken | Failure:
        self.full_runs += 1
        return super().verify_full(token, now)


@dataclass
class Env:
    warm: dict[str, SpyVerifier]
    cold: dict[str, Verifier]
    valid: dict[str, str] = field(default_factory=dict)  # profile name -> warming token


def _jwks() -> dict[str, Any]:
    def entry(key: Any, kid: str, alg: str) -> dict[str, Any]:
        d = dict(key.as_dict())
        d.update(kid=kid, alg=alg, use="sig")
        return d

    return {
        "keys": [
            entry(jwk.RSAKey.import_key(RSA_KEY.public_key()), "rsa", "RS256"),
            entry(jwk.RSAKey.import_key(RSA_KEY.public_key()), "rsa-pss", "PS256"),
            entry(jwk.RSAKey.import_key(RSA2_KEY.public_key()), "rsa2", "RS256"),
            entry(jwk.ECKey.import_key(EC_KEY.public_key()), "ec", "ES256"),
            entry(jwk.OKPKey.import_key(ED_KEY.public_key()), "ed", "EdDSA"),
        ]
    }


def _pair(s: Settings) -> tuple[SpyVerifier, Verifier]:
    keyset = load_static_keys(s).keyset
    return SpyVerifier(s, keyset), Verifier(s, keyset)


def entry_is_current(v: Verifier, token: str) -> bool:
    dot = token.find(".")
    entry = v._headers.get(token[:dot]) if dot > 0 else None
    return entry is not None and entry[0] is v.keyset


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Env:
    path: Path = tmp_path_factory.mktemp("fast-path") / "jwks.json"
    path.write_text(json.dumps(_jwks()))
    multi = Settings(
        jwks_file=str(path),
        algorithms=("RS256", "PS256", "ES256", "EdDSA"),
        issuer=ISSUER,
        audience=AUDIENCE,
        **COMMON,
    )
    hs = Settings(
        secret=HS_SECRET, algorithms=("HS256",), issuer=ISSUER, audience=AUDIENCE, **COMMON
    )
    # For the claim-set tests: other claim configurations over the same secret.
    lenient = Settings(
        secret=HS_SECRET, algorithms=("HS256",), required_claims=(), **{**COMMON, "leeway": 0}
    )
    strict = Settings(
        secret=HS_SECRET,
        algorithms=("HS256",),
        issuer=(ISSUER, "https://login.example.org/tenant/"),
        audience=(AUDIENCE, "billing-api"),
        required_claims=("exp", "nbf", "iat", "sub", "jti"),
        **{**COMMON, "leeway": 5},
    )
    warm: dict[str, SpyVerifier] = {}
    cold: dict[str, Verifier] = {}
    for name, s in (("multi", multi), ("hs", hs), ("lenient", lenient), ("strict", strict)):
        warm[name], cold[name] = _pair(s)
    e = Env(warm, cold)
    for profile in PROFILES:
        token = profile.token(valid_claims())
        v = warm[profile.target]
        assert isinstance(v.verify(token, now=NOW), VerifiedToken), profile.name
        assert entry_is_current(v, token), profile.name
        e.valid[profile.name] = token
    hs_profile = PROFILE_BY_NAME["hs"]
    for name in ("lenient", "strict"):
        token = hs_profile.token(valid_claims(jti="j-1"))
        assert isinstance(warm[name].verify(token, now=NOW), VerifiedToken), name
        assert entry_is_current(warm[name], token)
    return e


def note_outcome(outcome: VerifiedToken | Failure, *extra: str) -> None:
    """Hypothesis statistics (pytest --hypothesis-show-statistics): what the examples hit."""
    if currently_in_test_context():
        reason = "verified" if isinstance(outcome, VerifiedToken) else outcome.reason.value
        for text in (f"outcome: {reason}", *extra):
            event(text)


def assert_same_outcome(
    e: Env, target: str, token: str, now: float = NOW
) -> VerifiedToken | Failure:
    """verify() on the warm verifier == verify_full() on it and on a cold one; the fast
    path ran (no full-path run) exactly when decode_body accepted the token."""
    v = e.warm[target]
    assert entry_is_current(v, token), "the fast path would not even be attempted"
    dot = token.find(".")
    body = decode_body(token, dot)
    before = v.full_runs
    fast = v.verify(token, now=now)
    took_fast = v.full_runs == before
    full = v.verify_full(token, now)
    cold = e.cold[target].verify_full(token, now)
    assert fast == full, (token, fast, full)
    assert full == cold, (token, full, cold)
    assert took_fast == (body is not None and len(token) <= MAX_BYTES), (token, body)
    note_outcome(fast, f"fast path: {took_fast}")
    return fast


def assert_body_agrees(token: str) -> None:
    """decode_body accepts nothing parse_compact rejects, and decodes the same bytes."""
    dot = token.find(".")
    body = decode_body(token, dot)
    if currently_in_test_context():
        event(f"decode_body accepted: {body is not None}")
    if body is None:
        return
    parsed = parse_compact(token)
    assert isinstance(parsed, ParsedToken), (token, parsed)
    signing_input, claims, signature = body
    assert signing_input == parsed.signing_input
    assert claims == parsed.claims
    assert type(claims) is dict
    assert signature == parsed.signature


# --- strategies ---------------------------------------------------------------------------

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
json_objects = st.dictionaries(st.text(max_size=8), json_values, max_size=5).map(compact_json)
_EDGES = (-LEEWAY - 1, -LEEWAY, -LEEWAY + 1, -1, 0, 1, LEEWAY - 1, LEEWAY, LEEWAY + 1)
time_values = st.one_of(
    st.integers(NOW - 3 * 86400, NOW + 3 * 86400),
    st.sampled_from([NOW + d for d in _EDGES] + [NOW + d + 0.5 for d in _EDGES]),
    st.sampled_from([NOW - 5, NOW - 4.5, NOW + 5, NOW + 5.5, NOW + 6]),  # strict's leeway
    st.floats(NOW - 100.0, NOW + 100.0),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(
        [0, -1, -0.0, 0.5, MAX_UNIX_TIME, MAX_UNIX_TIME + 1, MAX_UNIX_TIME + 0.5, 10**30, 1e308]
    ),
    st.sampled_from([True, False, None, "1700000000", " 1700000000", "", [], {}, [NOW]]),
    json_values,
)
issuer_values = st.one_of(
    st.sampled_from(
        [
            ISSUER,
            ISSUER.rstrip("/"),
            ISSUER + "/",
            ISSUER.upper(),
            ISSUER.replace("https", "http"),
            "https://login.example.org/tenant/",
            "",
            None,
            1,
            True,
            [ISSUER],
            {"iss": ISSUER},
        ]
    ),
    st.text(max_size=30),
    json_values,
)
audience_values = st.one_of(
    st.sampled_from(
        [
            AUDIENCE,
            [AUDIENCE],
            [AUDIENCE, "other"],
            ["other", AUDIENCE],
            ["billing-api"],
            [],
            ["other"],
            [AUDIENCE, 1],
            [AUDIENCE, None],
            [[AUDIENCE]],
            [AUDIENCE, True],
            AUDIENCE.upper(),
            "",
            None,
            1,
            True,
            {},
        ]
    ),
    st.lists(st.one_of(st.sampled_from([AUDIENCE, "other", "billing-api"]), json_scalars),
             max_size=4),
    st.text(max_size=20),
    json_values,
)  # fmt: skip
string_claim = st.one_of(st.text(max_size=20), st.sampled_from([None, 1, 1.5, True, [], {}]))
claim_sets = st.fixed_dictionaries(
    {},
    optional={
        "iss": issuer_values,
        "aud": audience_values,
        "exp": time_values,
        "nbf": time_values,
        "iat": time_values,
        "sub": string_claim,
        "jti": string_claim,
        "scope": json_values,
        "scp": json_values,
        "extra": json_values,
    },
)


@st.composite
def near_valid_claims(draw: st.DrawFn) -> dict[str, Any]:
    """Valid claims with a few members replaced or removed: mostly one problem at a time."""
    claims = valid_claims(jti="j-1")
    names = ("iss", "aud", "exp", "nbf", "iat", "sub", "jti")
    for name in draw(st.lists(st.sampled_from(names), max_size=2, unique=True)):
        strategy = {"iss": issuer_values, "aud": audience_values, "sub": string_claim,
                    "jti": string_claim}.get(name, time_values)  # fmt: skip
        claims[name] = draw(strategy)
    for name in draw(st.lists(st.sampled_from(names), max_size=1)):
        claims.pop(name, None)
    return claims


any_claims = st.one_of(near_valid_claims(), claim_sets)

_ODD_CHARS = "=+/.% \t\n\r\x00\x0b\"'\\{}é€\u2028\ufeff\ud7ff\uff0e"
mutation_chars = st.one_of(
    st.sampled_from(B64URL), st.sampled_from(_ODD_CHARS), st.characters(codec="utf-8")
)


def _at(data: st.DataObject, text: str, label: str) -> int:
    # Not integers(0, len(text) - 1): DER (ES256) signatures vary in length from one run
    # to the next, and a draw's bounds must not (hypothesis replays draws).
    return data.draw(st.integers(0, 4095), label=label) % max(len(text), 1)


def mutate_segment(data: st.DataObject, seg: str, label: str) -> str:
    kind = data.draw(
        st.sampled_from(
            ["keep"] * 6
            + ["flip", "insert", "delete", "truncate", "empty", "pad", "standard", "dot",
               "whitespace", "non-ascii"]
        ),
        label=f"{label} mutation",
    )  # fmt: skip
    i = _at(data, seg, f"{label} position")
    if kind == "flip" and seg:
        return seg[:i] + data.draw(mutation_chars, label=f"{label} char") + seg[i + 1 :]
    if kind == "insert":
        return seg[:i] + data.draw(mutation_chars, label=f"{label} char") + seg[i:]
    if kind == "delete" and seg:
        return seg[:i] + seg[i + 1 :]
    if kind == "truncate":
        return seg[:i]
    if kind == "empty":
        return ""
    if kind == "pad":
        return seg + "=" * data.draw(st.integers(1, 3), label=f"{label} padding")
    if kind == "standard":
        converted = seg.replace("-", "+").replace("_", "/")
        return converted if converted != seg else seg[:i] + "+/"[i % 2] + seg[i:]
    if kind == "dot":
        return seg[:i] + "." + seg[i:]
    if kind == "whitespace":
        return seg[:i] + data.draw(st.sampled_from(" \t\n\r\x0b\x0c"), label=label) + seg[i:]
    if kind == "non-ascii":
        extra = data.draw(st.characters(min_codepoint=128, codec="utf-8"), label=label)
        return seg[:i] + extra + seg[i:]
    return seg


def flip_spare_bits(seg: str) -> str | None:
    """The same bytes in another (non-canonical) spelling, if the length leaves spare bits."""
    spare = {2: 4, 3: 2}.get(len(seg) % 4)
    if not spare or seg[-1] not in B64URL:
        return None
    return seg[:-1] + B64URL[B64URL.index(seg[-1]) ^ ((1 << spare) - 1)]


def _member(text: bytes, name: str, raw: str) -> bytes:
    """Append a member (raw JSON text for its value) to a compact JSON object."""
    inner = text[1:-1]
    member = json.dumps(name).encode() + b":" + raw.encode()
    return b"{" + inner + (b"," if inner else b"") + member + b"}"


PAYLOAD_KINDS = (
    "json", "json", "json", "spaced", "around", "duplicate", "deep", "brackets-in-strings",
    "constant", "non-object", "non-utf8", "escapes", "raw-control", "bom", "binary", "empty",
    "pad",
)  # fmt: skip


def draw_payload(data: st.DataObject, profile: Profile, sig_len: int) -> bytes:
    kind = data.draw(st.sampled_from(PAYLOAD_KINDS), label="payload kind")
    claims = data.draw(st.one_of(st.just(valid_claims()), any_claims), label="claims")
    text = compact_json(claims)
    if kind == "spaced":
        indent = data.draw(st.sampled_from([None, 0, 1, "\t"]), label="indent")
        return json.dumps(claims, indent=indent).encode()
    if kind == "around":
        ws = st.text(alphabet=" \t\r\n", max_size=3)
        before, after = data.draw(ws, label="before"), data.draw(ws, label="after")
        return before.encode() + text + after.encode()
    if kind == "duplicate":
        name = data.draw(st.sampled_from([*claims, "iss", "exp", "x"]), label="duplicate")
        raw = json.dumps(data.draw(json_values, label="duplicate value"))
        member = json.dumps(name).encode() + b":" + raw.encode()
        return b"{" + member + (b"," + text[1:] if claims else b"}")
    if kind == "deep":
        depth = data.draw(st.integers(1, 40), label="depth")
        arrays = data.draw(st.booleans(), label="arrays")
        inner = "[" * depth + "1" + "]" * depth if arrays else '{"a":' * depth + "1" + "}" * depth
        return _member(text, "deep", inner)
    if kind == "brackets-in-strings":
        n = data.draw(st.integers(0, 40), label="brackets")
        return _member(text, "s", json.dumps("{[" * n + "]}" * (n // 2)))
    if kind == "constant":
        raw = data.draw(
            st.sampled_from(
                ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1E400", "1e308", "-0",
                 "0.0", "1e-400", "12345678901234567890", "1" * 5000, "tru", "nul", "01",
                 "1.", ".5", "+1", "0x10", "1_000"]
            ),
            label="constant",
        )  # fmt: skip
        name = data.draw(st.sampled_from(["exp", "nbf", "iat", "x"]), label="constant name")
        return _member(compact_json({k: v for k, v in claims.items() if k != name}), name, raw)
    if kind == "non-object":
        value = data.draw(
            st.one_of(json_values, st.lists(st.just(claims), max_size=1)), label="non-object"
        )
        return compact_json(value)
    if kind == "non-utf8":
        bad = data.draw(
            st.sampled_from([b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\x80", b"\xe9", b"\xf4\x90"]),
            label="bad bytes",
        )
        i = _at(data, text.decode(), "bad position")
        return text[:i] + bad + text[i:]
    if kind == "escapes":
        return _member(text, "u", '"\\ud800\\u0000\\u2028\\"\\\\\\/"')
    if kind == "raw-control":
        return _member(text, "c", '"a' + data.draw(st.sampled_from("\x00\x01\n\t\x1f")) + 'b"')
    if kind == "bom":
        return b"\xef\xbb\xbf" + text
    if kind == "binary":
        return data.draw(st.binary(max_size=120), label="binary payload")
    if kind == "empty":
        return b""
    if kind == "pad":
        # A padding claim taking the token to about MAX_BYTES (either side of it).
        target = data.draw(st.integers(MAX_BYTES - 6, MAX_BYTES + 6), label="target length")
        room = (target - len(profile.h64) - 2 - sig_len) * 3 // 4 - len(text) - 9
        return _member(text, "pad", json.dumps("x" * max(room, 0)))
    return text


SIG_KINDS = ("resign", "resign", "resign", "resign", "wrong", "original", "random", "empty")


def draw_token(data: st.DataObject, e: Env) -> tuple[Profile, str]:
    profile = data.draw(st.sampled_from(PROFILES), label="profile")
    original = e.valid[profile.name]
    sig_len = len(original.rsplit(".", 1)[1])
    p64 = b64url(draw_payload(data, profile, sig_len))
    p64 = mutate_segment(data, p64, "payload")
    head = f"{profile.h64}.{p64}"
    kind = data.draw(st.sampled_from(SIG_KINDS), label="signature kind")
    if kind == "resign":  # the right key over whatever the payload segment is now
        s64 = b64url(profile.sign(signing_bytes(head)))
    elif kind == "wrong":
        signer = data.draw(st.sampled_from(profile.wrong), label="wrong key")
        s64 = b64url(signer(signing_bytes(head)))
    elif kind == "original":
        s64 = original.rsplit(".", 1)[1]
    elif kind == "random":
        s64 = b64url(data.draw(st.binary(min_size=1, max_size=300), label="random signature"))
    else:
        s64 = ""
    tail = data.draw(
        st.sampled_from(["keep"] * 4 + ["mutate", "non-canonical", "trailing", "extra-segment"]),
        label="signature tail",
    )
    if tail == "mutate":
        s64 = mutate_segment(data, s64, "signature")
    elif tail == "non-canonical":
        s64 = flip_spare_bits(s64) or s64
    elif tail == "trailing":
        s64 += data.draw(st.sampled_from([" ", "\n", "\r\n", "\t", "\x00", ".", "="]))
    elif tail == "extra-segment":
        s64 += "." + data.draw(st.text(alphabet=B64URL, max_size=12), label="extra segment")
    return profile, f"{head}.{s64}"


# --- 1. mutated tokens under warm headers ------------------------------------------------


@settings(PROPS, max_examples=600)
@given(data=st.data())
def test_fast_path_equals_full_path_on_mutated_tokens(env: Env, data: st.DataObject) -> None:
    profile, token = draw_token(data, env)
    assert_body_agrees(token)
    assert_same_outcome(env, profile.target, token)


_REST_ALPHABET = B64URL + ".=+/ \t\n\x00é"


@CHEAP_PROPS
@given(
    header=st.sampled_from([p.h64 for p in PROFILES]),
    rest=st.one_of(
        st.text(alphabet=_REST_ALPHABET, max_size=120),
        st.text(max_size=60),
        st.builds(
            lambda p, s: f"{b64url(p)}.{b64url(s)}",
            st.one_of(st.binary(max_size=80), json_values.map(compact_json), json_objects),
            st.binary(max_size=80),
        ),
        st.builds(
            lambda p, s, mid: f"{b64url(p)}{mid}{s}",
            st.one_of(json_objects, json_values.map(compact_json)),
            st.text(alphabet=_REST_ALPHABET, max_size=90),
            st.sampled_from([".", "..", "", ". ", ".="]),
        ),
    ),
)
@example(header=PROFILES[0].h64, rest=f"{b64url(b'{}')}.AA")
@example(header=PROFILES[0].h64, rest=f"{b64url(b'{}')}.AB")  # spare bits set
@example(header=PROFILES[0].h64, rest=f"{b64url(b' {}')}.AA")
@example(header=PROFILES[0].h64, rest=f"{b64url(b'{} ')}.AA")
@example(header=PROFILES[0].h64, rest=f"{b64url(b'{}')}.AA.")
@example(header=PROFILES[0].h64, rest=f"{b64url(b'{}')}.A")
@example(header=PROFILES[0].h64, rest=f"{b64url(b'{}')}.")
@example(header=PROFILES[0].h64, rest=f"{b64url(b'{}')}==.AA")
def test_decode_body_accepts_only_what_parse_compact_accepts(header: str, rest: str) -> None:
    """No signing here, so many more examples: arbitrary text after a known-good header."""
    assert_body_agrees(f"{header}.{rest}")


# --- 2. validly signed claim sets ---------------------------------------------------------

CLAIM_TARGETS = ("multi", "hs", "lenient", "strict")


def claims_token(target: str, claims: dict[str, Any]) -> str:
    profile = PROFILE_BY_NAME["ed" if target == "multi" else "hs"]
    return profile.token(claims)


@PROPS
@given(claims=any_claims, target=st.sampled_from(CLAIM_TARGETS))
@example(claims=valid_claims(aud=["other", AUDIENCE]), target="multi")
@example(claims=valid_claims(aud=[]), target="hs")
@example(claims=valid_claims(aud=[]), target="lenient")
@example(claims=valid_claims(aud=[AUDIENCE, 1]), target="hs")
@example(claims=valid_claims(iss=ISSUER.rstrip("/")), target="hs")
@example(claims=valid_claims(exp=NOW - LEEWAY), target="hs")
@example(claims=valid_claims(exp=NOW - LEEWAY + 1), target="hs")
@example(claims=valid_claims(nbf=NOW + LEEWAY), target="hs")
@example(claims=valid_claims(nbf=NOW + LEEWAY + 1), target="hs")
@example(claims=valid_claims(iat=NOW + LEEWAY + 0.5), target="multi")
@example(claims=valid_claims(exp=True), target="hs")
@example(claims=valid_claims(exp=MAX_UNIX_TIME + 1), target="hs")
@example(claims=valid_claims(exp=10**30), target="lenient")
@example(claims=valid_claims(sub=None), target="lenient")
@example(claims=valid_claims(jti=1), target="strict")
@example(claims={}, target="lenient")
@example(claims={}, target="strict")
def test_signed_claim_sets_fast_equals_full(env: Env, claims: dict[str, Any], target: str) -> None:
    token = claims_token(target, claims)
    outcome = assert_same_outcome(env, target, token)
    v = env.warm[target]
    parsed = parse_compact(token)
    assert isinstance(parsed, ParsedToken)
    problems = v._check_claims(parsed.claims, NOW)
    if v._claims_clean(parsed.claims, NOW):
        assert problems == [], (parsed.claims, problems)
    # The outcome itself agrees with the claim check (the signature is valid).
    assert isinstance(outcome, VerifiedToken) == (not problems), (outcome, problems)


python_claims = st.dictionaries(
    st.sampled_from(["iss", "aud", "exp", "nbf", "iat", "sub", "jti", "scope", "x"]),
    st.one_of(
        time_values,
        issuer_values,
        audience_values,
        string_claim,
        st.floats(),  # NaN and infinities too: _claims_clean sees Python values
        st.sampled_from([float("nan"), float("inf"), -float("inf"), (AUDIENCE,), b"x"]),
    ),
)


@CHEAP_PROPS
@given(
    claims=st.one_of(python_claims, any_claims),
    target=st.sampled_from(CLAIM_TARGETS),
    now=st.one_of(
        st.just(float(NOW)),
        st.sampled_from([NOW + d for d in _EDGES] + [NOW + d + 0.25 for d in _EDGES]),
        st.floats(0, 2 * NOW),
        st.integers(0, MAX_UNIX_TIME + 10),
    ),
)
def test_claims_clean_implies_no_problems(
    env: Env, claims: dict[str, Any], target: str, now: float
) -> None:
    v = env.warm[target]
    clean = v._claims_clean(claims, now)
    problems = v._check_claims(claims, now)
    event(f"clean: {clean}")
    if clean:
        assert problems == [], (claims, now, problems)


@st.composite
def typical_valid_claims(draw: st.DrawFn) -> dict[str, Any]:
    """Valid for every claim configuration here (integer times, string members)."""
    strict_leeway = 5
    others = st.lists(st.text(max_size=12), max_size=3)
    aud = draw(
        st.one_of(
            st.just(AUDIENCE),
            st.builds(lambda a, b: [*a, AUDIENCE, *b], others, others),
        )
    )
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": aud,
        "sub": draw(st.text(max_size=20)),
        "jti": draw(st.text(max_size=20)),
        "exp": draw(st.integers(NOW + strict_leeway, MAX_UNIX_TIME)),
        "nbf": draw(st.integers(0, NOW)),
        "iat": draw(st.integers(0, NOW)),
    }
    claims.update(
        draw(st.dictionaries(st.text(max_size=8).filter(lambda k: k not in claims), json_values))
    )
    return claims


@PROPS
@given(claims=typical_valid_claims(), target=st.sampled_from(CLAIM_TARGETS))
@example(claims=valid_claims(aud=[AUDIENCE], jti="j"), target="hs")
@example(claims=valid_claims(aud=["other", AUDIENCE], jti="j"), target="strict")
def test_claims_clean_is_true_for_typical_valid_claims(
    env: Env, claims: dict[str, Any], target: str
) -> None:
    v = env.warm[target]
    assert v._check_claims(claims, NOW) == []
    assert v._claims_clean(claims, NOW), claims


def test_claims_clean_examples(env: Env) -> None:
    v = env.warm["hs"]
    assert v._claims_clean(valid_claims(), NOW)
    assert v._claims_clean(valid_claims(aud=["other", AUDIENCE]), NOW)
    assert v._claims_clean(valid_claims(exp=NOW + 0.5, nbf=NOW + LEEWAY, iat=NOW - 1.5), NOW)
    assert not v._claims_clean(valid_claims(exp=NOW - LEEWAY), NOW)
    assert not v._claims_clean(valid_claims(aud=["other"]), NOW)
    assert not v._claims_clean(valid_claims(aud=[AUDIENCE, 1]), NOW)
    assert not v._claims_clean(valid_claims(iss=ISSUER.rstrip("/")), NOW)
    assert not v._claims_clean({**valid_claims(), "sub": None}, NOW)
    assert not v._claims_clean(valid_claims(exp=None), NOW)  # exp is required


# --- 3. a changing key set ----------------------------------------------------------------


def _jwk_entry(private: Any, kid: str | None, alg: str) -> dict[str, Any]:
    public = private.public_key()
    key = (
        jwk.RSAKey.import_key(public)
        if isinstance(public, rsa.RSAPublicKey)
        else jwk.ECKey.import_key(public)
    )
    entry = dict(key.as_dict())
    entry.update(alg=alg, use="sig")
    if kid is not None:
        entry["kid"] = kid
    return entry


def _key(private: Any, kid: str | None, alg: str = "RS256") -> VerificationKey:
    return import_jwk(_jwk_entry(private, kid, alg), source="test")


K1_A, K2_B = _key(RSA_KEY, "k1"), _key(RSA2_KEY, "k2")
K1_B, K2_A = _key(RSA2_KEY, "k1"), _key(RSA_KEY, "k2")
EC_KEYS = _key(EC_KEY, "ec", "ES256")
KEYSETS: dict[str, Callable[[], KeySet | None]] = {
    "k1=A k2=B": lambda: KeySet((K1_A, K2_B)),
    "k1=A k2=B (new objects)": lambda: KeySet((_key(RSA_KEY, "k1"), _key(RSA2_KEY, "k2"), EC_KEYS)),
    "k1=B": lambda: KeySet((K1_B,)),  # k1 now names another key
    "k2=B": lambda: KeySet((K2_B,)),  # k1 removed
    "k1=B k2=A": lambda: KeySet((K1_B, K2_A)),  # swapped
    "A unnamed, k2=B": lambda: KeySet((_key(RSA_KEY, None), K2_B)),
    "ec only": lambda: KeySet((EC_KEYS,)),
    "empty": lambda: KeySet(()),
    "unavailable": lambda: None,
}


class MutableSource:
    """A KeyProvider whose key set the test replaces, remembering dropped keys like
    RemoteKeySource does (for retired_key), and telling listeners (for the cache)."""

    def __init__(self, keyset: KeySet | None, *, notify: bool = False) -> None:
        self._keyset = keyset
        self._history = KeyHistory()
        self._listeners: list[Callable[[KeySet], None]] = []
        if notify:
            self.on_change = self._listeners.append

    @property
    def keyset(self) -> KeySet | None:
        return self._keyset

    @property
    def history(self) -> KeyHistory:
        return self._history

    def replace(self, new: KeySet | None) -> None:
        now = time.time()  # the verifier looks retired keys up at its clock's time
        old = self._keyset
        if new is not None:
            keep = {(k.kid, k.fingerprint) for k in new.keys}
            dropped = [k for k in (old.keys if old else ()) if (k.kid, k.fingerprint) not in keep]
            self._history.forget([k.kid for k in new.keys if k.kid])
            self._history.record([k for k in dropped if k.kid not in new.by_kid], now)
        self._keyset = new
        if new is not None:
            for listener in self._listeners:
                listener(new)


def _rs_profile(kid: str | None, signer: Signer) -> Profile:
    header = {"alg": "RS256"} if kid is None else {"alg": "RS256", "kid": kid}
    return Profile(f"rs-{kid}", "source", header, signer, ())


_K1 = _rs_profile("k1", rs256(RSA_KEY))
_K2 = _rs_profile("k2", rs256(RSA2_KEY))
_EC = Profile("ec", "source", {"alg": "ES256", "kid": "ec"}, es256(EC_KEY), ())
ROTATION_TOKENS: dict[str, str] = {
    "k1 by A": _K1.token(valid_claims()),
    "k1 by A, expiring": _K1.token(valid_claims(exp=NOW + 100)),
    "k1 by A, expired": _K1.token(valid_claims(exp=NOW - 3600)),
    "k1 by B": _K1.token(valid_claims(), rs256(RSA2_KEY)),
    "k1 by A, nbf ahead": _K1.token(valid_claims(nbf=NOW + 20)),
    "k1 by A, leading space": _K1.token(b" " + compact_json(valid_claims())),
    "k2 by B": _K2.token(valid_claims()),
    "k2 by A": _K2.token(valid_claims(sub="user-2"), rs256(RSA_KEY)),
    "no kid by A": _rs_profile(None, rs256(RSA_KEY)).token(valid_claims()),
    "ec": _EC.token(valid_claims()),
}
SOURCE_SETTINGS = Settings(
    external_keys=True, algorithms=("RS256", "ES256"), issuer=ISSUER, audience=AUDIENCE, **COMMON
)

operations = st.lists(
    st.one_of(
        st.tuples(st.just("keys"), st.sampled_from(sorted(KEYSETS))),
        st.tuples(st.just("verify"), st.sampled_from(sorted(ROTATION_TOKENS))),
        st.tuples(st.just("verify"), st.sampled_from(sorted(ROTATION_TOKENS))),
    ),
    max_size=25,
)


def _rotation_check(v: Verifier, source: MutableSource, token: str, now: float) -> None:
    fast = v.verify(token, now=now)
    full = v.verify_full(token, now)
    cold = Verifier(SOURCE_SETTINGS, source=source).verify_full(token, now)
    assert fast == full == cold, (fast, full, cold)
    note_outcome(fast)


@PROPS
@given(ops=operations)
@example(ops=[("verify", "k1 by A"), ("keys", "k1=B"), ("verify", "k1 by A")])
@example(ops=[("verify", "k1 by A"), ("keys", "k2=B"), ("verify", "k1 by A")])
@example(ops=[("verify", "k1 by A"), ("keys", "k1=B k2=A"), ("verify", "k1 by A")])
@example(ops=[("verify", "k1 by A"), ("keys", "unavailable"), ("verify", "k1 by A")])
@example(ops=[("verify", "k1 by A"), ("keys", "empty"), ("verify", "k1 by A")])
@example(ops=[("verify", "no kid by A"), ("keys", "A unnamed, k2=B"), ("verify", "k1 by A")])
def test_key_set_change_never_serves_a_stale_entry(ops: list[tuple[str, str]]) -> None:
    source = MutableSource(KEYSETS["k1=A k2=B"]())
    v = Verifier(SOURCE_SETTINGS, source=source)
    for op, name in ops:
        if op == "keys":
            source.replace(KEYSETS[name]())
        else:
            _rotation_check(v, source, ROTATION_TOKENS[name], NOW)


@pytest.mark.parametrize(
    ("keys", "reason"),
    [
        ("k1=B", Reason.signature_invalid),
        ("k2=B", Reason.retired_key),
        ("k1=B k2=A", Reason.kid_mismatch),
        ("ec only", Reason.retired_key),
        ("empty", Reason.key_source_unavailable),
        ("unavailable", Reason.key_source_unavailable),
    ],
)
def test_rotation_after_warming_gives_the_full_paths_failure(keys: str, reason: Reason) -> None:
    source = MutableSource(KEYSETS["k1=A k2=B"]())
    v = Verifier(SOURCE_SETTINGS, source=source)
    token = ROTATION_TOKENS["k1 by A"]
    assert isinstance(v.verify(token, now=NOW), VerifiedToken)
    assert token.split(".")[0] in v._headers  # warmed: the entry is there
    source.replace(KEYSETS[keys]())
    fast = v.verify(token, now=NOW)
    assert isinstance(fast, Failure), "a stale header entry let the token through"
    assert fast.reason is reason
    assert fast == v.verify_full(token, NOW)


# --- the verified-token cache: hits agree with the full path as time moves on ------------

CACHE_SETTINGS = Settings(
    external_keys=True,
    algorithms=("RS256", "ES256"),
    issuer=ISSUER,
    audience=AUDIENCE,
    **{**COMMON, "token_cache_entries": 64},
)


@PROPS
@given(
    ops=st.lists(
        st.one_of(
            st.tuples(st.just("keys"), st.sampled_from(sorted(KEYSETS))),
            st.tuples(st.just("verify"), st.sampled_from(sorted(ROTATION_TOKENS))),
            st.tuples(st.just("verify"), st.sampled_from(sorted(ROTATION_TOKENS))),
            st.tuples(st.just("wait"), st.sampled_from(["1", "29", "70", "99.5", "100", "131"])),
        ),
        max_size=25,
    )
)
@example(ops=[("verify", "k1 by A, expiring"), ("wait", "100"), ("verify", "k1 by A, expiring")])
@example(ops=[("verify", "k1 by A"), ("keys", "k2=B"), ("verify", "k1 by A")])
@example(ops=[("verify", "k1 by A"), ("keys", "k1=B k2=A"), ("verify", "k1 by A")])
@example(
    ops=[("keys", "k1=B"), ("verify", "k1 by B"), ("keys", "k1=A k2=B"), ("verify", "k1 by B")]
)
@example(ops=[("verify", "k1 by A"), ("keys", "ec only"), ("verify", "k1 by A")])
@example(ops=[("verify", "k1 by A"), ("keys", "unavailable"), ("verify", "k1 by A")])
def test_cache_hits_agree_with_the_full_path(ops: list[tuple[str, str]]) -> None:
    source = MutableSource(KEYSETS["k1=A k2=B"](), notify=True)
    v = Verifier(CACHE_SETTINGS, source=source)
    assert v.cache is not None
    now = float(NOW)
    for op, arg in ops:
        if op == "keys":
            source.replace(KEYSETS[arg]())
        elif op == "wait":
            now += float(arg)
        else:
            token = ROTATION_TOKENS[arg]
            cached = v.verify(token, now=now)
            full = Verifier(SOURCE_SETTINGS, source=source).verify_full(token, now)
            assert cached == full, (arg, now, cached, full)
            note_outcome(cached, f"cache hits so far: {min(v.cache.hits, 3)}")


KID_MOVES = [
    ("k1=A k2=B", "k1=B k2=A", "k1 by A"),  # the kids swap keys
    ("k1=B", "k1=A k2=B", "k1 by B"),  # k1 moves to A; B stays, as k2
]


@pytest.mark.parametrize(("before", "after", "name"), KID_MOVES)
@pytest.mark.parametrize("cache", [False, True])
def test_a_kid_moving_to_another_key_is_kid_mismatch_at_once(
    before: str, after: str, name: str, cache: bool
) -> None:
    """The old key stays in the set (under another kid): neither the header entry nor a
    cached success may outlive the kid's move."""
    source = MutableSource(KEYSETS[before](), notify=True)
    v = Verifier(CACHE_SETTINGS if cache else SOURCE_SETTINGS, source=source)
    token = ROTATION_TOKENS[name]
    assert isinstance(v.verify(token, now=NOW), VerifiedToken)  # warm (and cached)
    assert (v.cache is not None and len(v.cache) == 1) == cache
    source.replace(KEYSETS[after]())
    fast = v.verify(token, now=NOW)
    assert isinstance(fast, Failure) and fast.reason is Reason.kid_mismatch
    assert fast == Verifier(SOURCE_SETTINGS, source=source).verify_full(token, NOW)


# --- 4. deterministic examples --------------------------------------------------------------


@pytest.mark.parametrize("name", [p.name for p in PROFILES])
def test_valid_token_takes_the_fast_path(env: Env, name: str) -> None:
    profile = PROFILE_BY_NAME[name]
    token = profile.token(valid_claims(aud=["other", AUDIENCE], jti="fresh"))
    v = env.warm[profile.target]
    assert entry_is_current(v, token)
    before = v.full_runs
    outcome = v.verify(token, now=NOW)
    assert v.full_runs == before, "verify() fell back to the full path"
    assert isinstance(outcome, VerifiedToken)
    assert outcome == v.verify_full(token, NOW) == env.cold[profile.target].verify_full(token, NOW)
    assert outcome.claims["jti"] == "fresh"
    assert outcome.header == profile.header


@pytest.mark.parametrize(
    ("name", "wrong", "reason"),
    [
        ("rs", 0, Reason.kid_mismatch),  # rsa2's key verifies it: the diagnosis says so
        ("rs2", 0, Reason.kid_mismatch),
        ("rs2", 1, Reason.signature_invalid),
        ("ps", 0, Reason.signature_invalid),
        ("es", 0, Reason.signature_invalid),
        ("es", 1, Reason.signature_invalid),  # DER instead of r||s
        ("ed", 0, Reason.signature_invalid),
        ("ed-jwk", 0, Reason.signature_invalid),
        ("hs", 0, Reason.signature_invalid),
        ("hs", 1, Reason.secret_encoding_mismatch),
        ("hs", 2, Reason.secret_encoding_mismatch),
    ],
)
def test_bad_signature_on_the_fast_path(env: Env, name: str, wrong: int, reason: Reason) -> None:
    profile = PROFILE_BY_NAME[name]
    token = profile.token(valid_claims(), profile.wrong[wrong])
    v = env.warm[profile.target]
    assert entry_is_current(v, token)
    before = v.full_runs
    fast = v.verify(token, now=NOW)
    assert v.full_runs == before, "verify() fell back to the full path"
    full = v.verify_full(token, NOW)
    assert isinstance(fast, Failure) and isinstance(full, Failure)
    assert fast.reason is reason
    assert fast.detail == full.detail
    assert fast == full == env.cold[profile.target].verify_full(token, NOW)
    assert fast.iss == ISSUER and fast.sub == "user-1"  # claims attached on both paths
    if name == "ed-jwk":
        assert fast.hint is not None and "embeds a key" in fast.hint


def test_flipped_signature_byte_is_signature_invalid_on_both_paths(env: Env) -> None:
    profile = PROFILE_BY_NAME["ed"]
    head, s64 = profile.token(valid_claims()).rsplit(".", 1)
    token = f"{head}.{'B' if s64[0] == 'A' else 'A'}{s64[1:]}"
    v = env.warm["multi"]
    fast = v.verify(token, now=NOW)
    assert isinstance(fast, Failure) and fast.reason is Reason.signature_invalid
    assert fast == v.verify_full(token, NOW)


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        (valid_claims(exp=NOW - LEEWAY), Reason.token_expired),
        (valid_claims(nbf=NOW + LEEWAY + 1), Reason.token_not_yet_valid),
        (valid_claims(aud=["other"]), Reason.audience_mismatch),
        (valid_claims(iss=ISSUER.rstrip("/")), Reason.issuer_mismatch),
        (valid_claims(aud=[AUDIENCE, 7]), Reason.invalid_claim),
        (valid_claims(exp=None), Reason.missing_claim),
    ],
)
def test_claim_failures_on_the_fast_path(env: Env, claims: dict[str, Any], reason: Reason) -> None:
    token = PROFILE_BY_NAME["hs"].token(claims)
    v = env.warm["hs"]
    before = v.full_runs
    fast = v.verify(token, now=NOW)
    assert v.full_runs == before
    assert isinstance(fast, Failure) and fast.reason is reason
    assert fast == v.verify_full(token, NOW)


@pytest.mark.parametrize(
    "payload",
    [
        b" " + compact_json(valid_claims()),  # JSON whitespace around: valid, not "usual"
        compact_json(valid_claims()) + b"\n",
        # 17 brackets (more than the depth limit) but nested only 9 deep
        compact_json(valid_claims(a=[[[[[[[[1]]]]]]]], b=[[[[[[[[1]]]]]]]])),
        compact_json(valid_claims(scope="{[{[{[{[{[{[{[{[{[")),  # brackets in a string
    ],
)
def test_unusual_but_valid_payloads_fall_back_and_pass(env: Env, payload: bytes) -> None:
    token = PROFILE_BY_NAME["hs"].token(payload)
    assert decode_body(token, token.find(".")) is None
    v = env.warm["hs"]
    before = v.full_runs
    outcome = v.verify(token, now=NOW)
    assert v.full_runs == before + 1, "the fast path took a token it should leave"
    assert isinstance(outcome, VerifiedToken)
    assert outcome == v.verify_full(token, NOW)


def _token_of_length(profile: Profile, length: int) -> str | None:
    sig_len = len(profile.token(valid_claims()).rsplit(".", 1)[1])
    for n in range(MAX_BYTES):  # sign only the payload that gives the length
        claims = valid_claims(pad="x" * n)
        size = len(profile.h64) + len(b64url(compact_json(claims))) + sig_len + 2
        if size >= length:
            return profile.token(claims) if size == length else None
    return None


@pytest.mark.parametrize("name", ["rs", "es", "hs"])
def test_max_token_bytes_boundary(env: Env, name: str) -> None:
    profile = PROFILE_BY_NAME[name]
    seen = 0
    for length in range(MAX_BYTES - 3, MAX_BYTES + 4):
        token = _token_of_length(profile, length)
        if token is None:
            continue  # base64 lengths skip some values
        seen += 1
        outcome = assert_same_outcome(env, profile.target, token)
        if length <= MAX_BYTES:
            assert isinstance(outcome, VerifiedToken), length
        else:
            assert isinstance(outcome, Failure) and outcome.reason is Reason.token_too_large
    assert seen >= 4


@pytest.fixture
def fresh_hs() -> Iterator[SpyVerifier]:
    s = Settings(
        secret=HS_SECRET, algorithms=("HS256",), issuer=ISSUER, audience=AUDIENCE, **COMMON
    )
    yield SpyVerifier(s, load_static_keys(s).keyset)


def test_header_entry_is_recorded_by_the_first_verification(fresh_hs: SpyVerifier) -> None:
    profile = PROFILE_BY_NAME["hs"]
    token = profile.token(valid_claims())
    assert profile.h64 not in fresh_hs._headers
    first = fresh_hs.verify(token, now=NOW)
    assert fresh_hs.full_runs == 1 and entry_is_current(fresh_hs, token)
    second = fresh_hs.verify(token, now=NOW)
    assert fresh_hs.full_runs == 1, "the second verification did not take the fast path"
    assert isinstance(first, VerifiedToken) and first == second
