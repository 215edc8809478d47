"""Structure stage: parse_compact and the strict JSON reader loads_object; decode_body,
the cheap decoder the verifier uses for a token whose header plan it remembers.

The cheap decoder's invariant: it accepts nothing parse_compact rejects, and what it
accepts it decodes to the same bytes (signing input, claims, signature). It may
leave more to the strict decoder (a payload with whitespace around it, deep
brackets), which then says why or accepts.
"""

from __future__ import annotations

import base64
import json

import pytest
from helpers.keys import b64url
from helpers.signers import PROFILE_BY_NAME, PROFILES, compact_json
from helpers.strategies import B64URL, draw_token, json_objects, json_values, valid_claims
from helpers.tokens import raw_token
from hypothesis import HealthCheck, currently_in_test_context, event, example, given, settings
from hypothesis import strategies as st

from jwt_middleware import Failure, Reason
from jwt_middleware.tokens.structure import (
    MAX_JSON_DEPTH,
    OversizedClaims,
    OversizedNumber,
    ParsedToken,
    decode_body,
    loads_claims,
    loads_object,
    parse_compact,
)

HEADER = {"alg": "RS256", "typ": "JWT"}
PAYLOAD = {"sub": "user-1", "exp": 2_000_000_000}


def nested(depth: int) -> str:
    """A JSON object whose nesting depth (objects and arrays counted) is exactly ``depth``."""
    assert depth >= 1
    inner = "1"
    for _ in range(depth - 1):
        inner = f"[{inner}]"
    return '{"a":' + inner + "}"


def failure(result: ParsedToken | Failure) -> Failure:
    assert isinstance(result, Failure), result
    return result


# --- loads_object ----------------------------------------------------------------


def test_loads_object_accepts_a_plain_object() -> None:
    data = b'{"a": 1, "b": [true, null, "x"], "c": {"d": 1.5}}'
    assert loads_object(data) == json.loads(data)


@pytest.mark.parametrize(
    "data",
    [
        b'{"a": 1, "a": 2}',
        b'{"a": 1, "b": 2, "a": 1}',
        b'{"outer": {"x": 1, "x": 1}}',
        b'{"list": [{"k": 1, "k": 2}]}',
        b'{"a": 1, "\\u0061": 2}',  # the same name, once escaped
    ],
)
def test_duplicate_member_names_are_rejected(data: bytes) -> None:
    with pytest.raises(ValueError, match="duplicate"):
        loads_object(data)


@pytest.mark.parametrize(
    "data",
    [
        b'{"a": NaN}',
        b'{"a": Infinity}',
        b'{"a": -Infinity}',
        b'{"a": [1, NaN]}',
        b'{"a": {"b": Infinity}}',
    ],
)
def test_nan_and_infinity_are_rejected(data: bytes) -> None:
    with pytest.raises(ValueError, match="non-standard constant"):
        loads_object(data)


@pytest.mark.parametrize("data", [b'{"a": 1e400}', b'{"a": -1e400}', b'{"a": [1.5e999]}'])
def test_numbers_overflowing_to_infinity_are_rejected(data: bytes) -> None:
    with pytest.raises(ValueError):
        loads_object(data)


@pytest.mark.parametrize(
    ("data", "name", "words"),
    [
        (b'{"exp": 1e400}', "exp", "too large for a float"),
        (b'{"a": 1, "exp": -1e999}', "exp", "too large for a float"),
        (b'{"exp": ' + b"9" * 5000 + b"}", "exp", "5000 digits"),
        (b'{"x": {"y": [1, 1.5e999]}}', "x", "too large for a float"),
    ],
)
def test_payload_numbers_out_of_range_are_kept_for_the_claims_stage(
    data: bytes, name: str, words: str
) -> None:
    claims = loads_claims(data)
    assert isinstance(claims, OversizedClaims)
    assert claims.oversized == (name,)
    found = claims[name]
    while not isinstance(found, OversizedNumber):
        found = found["y"][1] if isinstance(found, dict) else found
    assert words in found.describe()


@pytest.mark.parametrize(
    "data",
    [
        b'{"exp": 1e400, "exp": 1}',  # the duplicate is the problem
        b'{"exp": 1e400, "n": NaN}',
        b'{"exp": 1e400',
        b"[1e400]",
    ],
)
def test_payload_numbers_out_of_range_do_not_hide_other_json_problems(data: bytes) -> None:
    with pytest.raises(ValueError):
        loads_claims(data)


def test_large_finite_numbers_are_kept() -> None:
    assert loads_object(b'{"a": 1e308, "b": 123456789012345678901234567890}') == {
        "a": 1e308,
        "b": 123456789012345678901234567890,
    }


@pytest.mark.parametrize("depth", [1, 2, MAX_JSON_DEPTH - 1, MAX_JSON_DEPTH])
def test_depth_up_to_the_bound_is_accepted(depth: int) -> None:
    text = nested(depth)
    assert loads_object(text.encode()) == json.loads(text)


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, MAX_JSON_DEPTH + 2, 100, 5000])
def test_depth_beyond_the_bound_is_rejected(depth: int) -> None:
    with pytest.raises(ValueError, match="nested deeper"):
        loads_object(nested(depth).encode())


def test_depth_counts_objects_as_well_as_arrays() -> None:
    inner = "1"
    for i in range(MAX_JSON_DEPTH):
        inner = f'{{"k{i}":{inner}}}' if i % 2 else f"[{inner}]"
    # MAX_JSON_DEPTH levels inside the outer object: one too many.
    with pytest.raises(ValueError, match="nested deeper"):
        loads_object(('{"a":' + inner + "}").encode())


def test_many_siblings_are_not_depth() -> None:
    """Many brackets side by side are wide, not deep."""
    text = '{"a": [' + ",".join(["[[1]]"] * 50) + "]}"
    assert loads_object(text.encode())["a"][0] == [[1]]


def test_brackets_inside_strings_do_not_count() -> None:
    text = json.dumps({"s": "[" * 100 + "{" * 100, "t": "]]]}}}", "n": [[1]]})
    assert loads_object(text.encode())["s"].startswith("[[[")


def test_escaped_quotes_do_not_end_a_string_for_the_depth_count() -> None:
    text = json.dumps({"s": '\\"' + "[" * 40 + '"', "t": "\\", "u": "{" * 40})
    assert loads_object(text.encode())["u"] == "{" * 40


def test_string_brackets_plus_real_nesting_at_the_bound() -> None:
    deep = json.loads(nested(MAX_JSON_DEPTH))
    deep["s"] = "[" * 64
    assert loads_object(json.dumps(deep).encode())["s"] == "[" * 64


@pytest.mark.parametrize(
    "data",
    [b'{"a": "\xff"}', b"\xfe\xff{}", b'{"a": "\xc3"}', b'{"\xed\xa0\x80": 1}'],
)
def test_non_utf8_is_rejected(data: bytes) -> None:
    with pytest.raises(ValueError, match="UTF-8"):
        loads_object(data)


def test_utf8_content_is_accepted() -> None:
    assert loads_object('{"name": "Zoë 東京 🚀"}'.encode()) == {"name": "Zoë 東京 🚀"}


@pytest.mark.parametrize(
    "data", [b"[]", b"null", b"1", b'"obj"', b"true", b"[{}]", b"", b"{", b"{} {}", b"{'a':1}"]
)
def test_not_an_object_is_rejected(data: bytes) -> None:
    with pytest.raises(ValueError):
        loads_object(data)


# --- parse_compact ----------------------------------------------------------------


def test_parse_compact_returns_header_claims_signing_input_and_signature() -> None:
    token = raw_token(HEADER, PAYLOAD, b"\x01\x02\xff")
    parsed = parse_compact(token)
    assert isinstance(parsed, ParsedToken)
    assert parsed.header == HEADER
    assert parsed.claims == PAYLOAD
    assert parsed.signature == b"\x01\x02\xff"
    assert parsed.signing_input == token.rsplit(".", 1)[0].encode()


def test_empty_signature_segment_parses_to_empty_bytes() -> None:
    token = raw_token(HEADER, PAYLOAD, b"")
    assert token.endswith(".")
    parsed = parse_compact(token)
    assert isinstance(parsed, ParsedToken)
    assert parsed.signature == b""


@pytest.mark.parametrize(
    ("token", "segments"),
    [("abc", 1), ("abc.def", 2), ("a.b.c.d", 4), ("a.b.c.d.e.f", 6), ("", 1), ("...", 4)],
)
def test_wrong_segment_count_is_malformed(token: str, segments: int) -> None:
    f = failure(parse_compact(token))
    assert f.reason is Reason.malformed_token
    assert f"{segments} segment" in f.detail


def test_five_segments_is_encrypted() -> None:
    jwe = ".".join(b64url(p) for p in (b'{"alg":"RSA-OAEP","enc":"A256GCM"}', b"k", b"iv", b"c"))
    f = failure(parse_compact(jwe + "." + b64url(b"tag")))
    assert f.reason is Reason.encrypted_token


@pytest.mark.parametrize(("index", "name"), [(0, "header"), (1, "payload"), (2, "signature")])
def test_padded_segment_is_invalid_base64_naming_it(index: int, name: str) -> None:
    parts = raw_token(HEADER, {"sub": "ab"}, b"sig!").split(".")
    parts[index] = base64.urlsafe_b64encode(b"xy").decode()  # 'eHk=' padded
    f = failure(parse_compact(".".join(parts)))
    assert f.reason is Reason.invalid_base64
    assert name in f.detail
    assert f"segment {index + 1}" in f.detail
    assert "padded" in f.detail


@pytest.mark.parametrize("index", [0, 1, 2])
def test_standard_base64_segment_is_named_as_such(index: int) -> None:
    parts = raw_token(HEADER, PAYLOAD).split(".")
    parts[index] = "ab+/cd"
    f = failure(parse_compact(".".join(parts)))
    assert f.reason is Reason.invalid_base64
    assert "standard base64" in f.detail
    assert f"segment {index + 1}" in f.detail


@pytest.mark.parametrize("bad", ["ab$c", "a b", "é", "ab.", "a=b"])
def test_other_characters_are_invalid_base64(bad: str) -> None:
    h, p, _ = raw_token(HEADER, PAYLOAD).split(".")
    token = f"{h}.{p}.{bad}" if "." not in bad else f"{h}.{bad}x"
    f = failure(parse_compact(token))
    assert f.reason in (Reason.invalid_base64, Reason.malformed_token)
    if "." not in bad:
        assert f.reason is Reason.invalid_base64


def test_impossible_base64url_length_is_invalid_base64() -> None:
    h, p, _ = raw_token(HEADER, PAYLOAD).split(".")
    f = failure(parse_compact(f"{h}.{p}.abcde"))
    assert f.reason is Reason.invalid_base64
    assert "length" in f.detail
    assert "padded" not in f.detail  # a truncated segment has no '=' at all


@pytest.mark.parametrize(
    ("header", "payload", "where"),
    [
        (b'{"alg":"RS256","alg":"none"}', b"{}", "header"),
        (b'{"alg":"RS256"}', b'{"sub":"a","sub":"b"}', "payload"),
        (b'{"alg":"RS256"}', b'{"exp":NaN}', "payload"),
        (b'{"alg":"RS256","x":Infinity}', b"{}", "header"),
        (b'{"alg":"RS256"}', nested(MAX_JSON_DEPTH + 1).encode(), "payload"),
        (nested(MAX_JSON_DEPTH + 1).encode(), b"{}", "header"),
        (b'{"alg":"RS256"}', b"[1,2]", "payload"),
        (b'"RS256"', b"{}", "header"),
        (b'{"alg":"RS256"}', b'{"a":"\xff"}', "payload"),
        (b"not json", b"{}", "header"),
        (b"", b"{}", "header"),
    ],
)
def test_bad_json_is_invalid_json_naming_the_segment(
    header: bytes, payload: bytes, where: str
) -> None:
    f = failure(parse_compact(raw_token(header, payload)))
    assert f.reason is Reason.invalid_json
    assert f"The {where} is not a valid JSON object" in f.detail


def test_depth_at_the_bound_parses_in_a_token() -> None:
    parsed = parse_compact(raw_token(b'{"alg":"RS256"}', nested(MAX_JSON_DEPTH).encode()))
    assert isinstance(parsed, ParsedToken)


def test_header_checked_before_payload() -> None:
    f = failure(parse_compact(raw_token(b'{"a":1,"a":1}', b"[]")))
    assert "header" in f.detail


def test_invalid_json_detail_does_not_echo_long_values() -> None:
    secretish = "S" * 500
    f = failure(parse_compact(raw_token(f'{{"{secretish}":1,"{secretish}":2}}'.encode(), b"{}")))
    assert f.reason is Reason.invalid_json
    assert secretish not in f.detail
    assert len(f.detail) < 200


# --- decode_body: the cheap decoder never accepts what parse_compact rejects ------------

PROPS = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
CHEAP_PROPS = settings(PROPS, max_examples=1000)


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


@PROPS
@given(data=st.data())
def test_decode_body_agrees_with_parse_compact_on_mutated_tokens(data: st.DataObject) -> None:
    """Signed tokens under each profile's header, payload and signature mutated."""
    _profile, token = draw_token(data)
    assert_body_agrees(token)


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
def test_unusual_but_valid_payloads_are_left_to_the_strict_decoder(payload: bytes) -> None:
    token = PROFILE_BY_NAME["hs"].token(payload)
    assert decode_body(token, token.find(".")) is None
    parsed = parse_compact(token)
    assert isinstance(parsed, ParsedToken)
    assert parsed.claims == json.loads(payload)


def test_decode_body_decodes_a_usual_token() -> None:
    token = PROFILE_BY_NAME["rs"].token(valid_claims())
    body = decode_body(token, token.find("."))
    assert body is not None
    signing_input, claims, signature = body
    assert signing_input == token.rsplit(".", 1)[0].encode()
    assert claims == valid_claims()
    assert b64url(signature) == token.rsplit(".", 1)[1]
