"""Hypothesis strategies shared by the stage invariants: JSON values, claim sets
(near-valid ones and arbitrary ones, with times around the leeway edges), and
tokens under a profile's header with mutated payload and signature segments.

Every verification in these tests runs at ``NOW`` (or later, for the cache).
"""

from __future__ import annotations

import json
import string
from typing import Any

from hypothesis import strategies as st

from helpers.keys import AUDIENCE, ISSUER, b64url
from helpers.signers import PROFILES, Profile, compact_json, signing_bytes

NOW = 1_700_000_000
LEEWAY = 30
MAX_BYTES = 2048  # small, so oversized tokens are cheap to make
MAX_UNIX_TIME = 253402300799
B64URL = string.ascii_letters + string.digits + "-_"


def valid_claims(**overrides: Any) -> dict[str, Any]:
    """Valid claims at NOW for ISSUER/AUDIENCE; None removes a claim."""
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
EDGES = (-LEEWAY - 1, -LEEWAY, -LEEWAY + 1, -1, 0, 1, LEEWAY - 1, LEEWAY, LEEWAY + 1)
time_values = st.one_of(
    st.integers(NOW - 3 * 86400, NOW + 3 * 86400),
    st.sampled_from([NOW + d for d in EDGES] + [NOW + d + 0.5 for d in EDGES]),
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


def position(data: st.DataObject, text: str, label: str) -> int:
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
    i = position(data, seg, f"{label} position")
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
        i = position(data, text.decode(), "bad position")
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


def draw_token(data: st.DataObject) -> tuple[Profile, str]:
    profile = data.draw(st.sampled_from(PROFILES), label="profile")
    sig_len = len(profile.signature_sample)
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
        s64 = profile.signature_sample
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
