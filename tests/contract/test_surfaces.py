"""Every function that reads attacker input: it never raises, and it takes linear time.

docs/security.md lists the surfaces; this module holds, for each reader there,

- a property test (Hypothesis): arbitrary text, bytes and ASGI scopes, plus
  adversarial generators (long runs of ``eyJ``, ``%``, ``%2``, ``.``, ``/..``,
  ``;``, quotes, backslashes, commas, ``=``, ``[``, ``::``; many headers,
  cookies and query pairs; deeply nested JSON in token and proof payloads)
  never make it raise, and what it returns has the documented type;
- a growth test: the CPU time (``time.process_time``, best of three, garbage
  collection off) for an input of 8 KiB and for one of 128 KiB of the same
  adversarial shape. Linear work grows about 16 times, quadratic work about
  256 times; the test fails above 64.

The growth tests are hang detectors for super-linear blow-ups, not speed
targets: speed lives in ``make bench``. Their margins are wide on purpose
(a loaded 2-core machine, noisy timers), and a reader that stops at a bound
before doing any work grows by about 1, which passes.

The tests under "findings" near the end each found a missing bound or check
(written as ``xfail(strict=True)`` until it was fixed; docs/security.md lists them
under "Found by these tests, and fixed"). A new finding is written the same way: a
strict xfail test saying what is wrong, whose mark is dropped with the fix.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import hmac
import io
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from helpers.keys import AUDIENCE, ISSUER, b64url, public_pem
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jwt_middleware import Failure, KeySet, Reason, Settings, VerifiedToken, cli
from jwt_middleware.dpop import proof as dpop_module
from jwt_middleware.errors import ConfigurationError
from jwt_middleware.introspection import EndpointError, Judge, Reply, read_answer
from jwt_middleware.keys import clock, fetch, import_jwks, load_jwks, remote
from jwt_middleware.observe.observer import Observer
from jwt_middleware.observe.revocation import RevocationObserver
from jwt_middleware.request import extract, locations, paths, websocket
from jwt_middleware.request.metadata import MetadataEndpoint
from jwt_middleware.request.presentation import is_dpop
from jwt_middleware.request.receiver import SecurityEventReceiver
from jwt_middleware.revocation import RevocationList
from jwt_middleware.revocation.events import read_event
from jwt_middleware.sources import build_verifier, event_settings
from jwt_middleware.tokens import idp, structure
from jwt_middleware.tokens.claimrules import claim_rules
from jwt_middleware.tokens.claimrules import decide as decide_claims
from jwt_middleware.tokens.scopes import ScopeClaims, holders
from jwt_middleware.tokens.scopes import decide as scope_decide
from jwt_middleware.tokens.verifier import Verifier
from jwt_middleware.values import strictjson, uri
from jwt_middleware.values.text import clip

PROPERTY = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SMALL = 8 * 1024
#: Linear work grows about 16 times from SMALL to 16 * SMALL, quadratic about 256.
GROWTH_LIMIT = 64.0
MAX_BYTES = 8192
SECRET = "surfaces-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
RSA_KEY = rsa.generate_private_key(65537, 2048)
PROOF_KEY = ec.generate_private_key(ec.SECP256R1())
NOW = int(time.time())

# --- adversarial strategies ---------------------------------------------------------

#: Fragments whose long runs have made parsers quadratic or confused elsewhere.
FRAGMENTS = (
    "eyJ", "%", "%2", "%2e", "%2F", "%41", ".", "..", "/..", "/.", "//", ";", '"', "'", "\\",
    ",", "=", "[", "]", "::", ":", "@", "?", "#", "&", " ", "\t", "{", "}", '{"a":', "a",
    "é", "\x00", "\x1b", "\r\n", "\x7f", "Bearer ", "DPoP ", "bearer", "eyJhbGciOi.",
    "eyJaaaaaaaaaaaa.a.", "e30.", "9", "1e999", "-", "_", "+", "/", "a=b;", "a=b&",
)  # fmt: skip
#: One fragment repeated (up to a few thousand characters), a few runs joined.
runs = st.lists(
    st.tuples(st.sampled_from(FRAGMENTS), st.integers(1, 3000)), min_size=1, max_size=4
).map(lambda parts: "".join(fragment * count for fragment, count in parts))
#: Arbitrary text, runs, and runs mixed with arbitrary text (no lone surrogates: uvicorn's
#: decoding never produces them; a scope path holding one has its own test under
#: "findings").
texts = st.one_of(
    st.text(max_size=80),
    runs,
    st.builds(lambda a, b, c: a + b + c, st.text(max_size=12), runs, st.text(max_size=12)),
)
#: Header values as ASGI gives them: bytes, any of them (latin-1 decodes every byte).
values = st.one_of(st.binary(max_size=80), texts.map(lambda s: s.encode("utf-8", "surrogatepass")))
HEADER_NAMES = (
    b"authorization", b"Authorization", b"AUTHORIZATION", b"cookie", b"host", b"origin",
    b"sec-fetch-site", b"dpop", b"DPoP", b"x-api-token", b"x-request-id",
    b"x-forwarded-authorization", b"x-amzn-oidc-accesstoken", b"sec-websocket-protocol",
    b"access-control-request-method", b"x-other",
)  # fmt: skip
header_pairs = st.tuples(st.one_of(st.sampled_from(HEADER_NAMES), st.binary(max_size=12)), values)
#: A few arbitrary headers, or a few plus one of them repeated hundreds of times.
headers_lists = st.one_of(
    st.lists(header_pairs, max_size=12),
    st.builds(
        lambda few, one, count: few + [one] * count,
        st.lists(header_pairs, max_size=4),
        header_pairs,
        st.integers(100, 2000),
    ),
)
PATH_TEXT = st.one_of(texts, st.sampled_from(["/", "", "/me", "/admin", "/healthz", "/public"]))


@st.composite
def scopes(draw: st.DrawFn) -> dict[str, Any]:
    """An ASGI HTTP or WebSocket scope with arbitrary headers, path, query and subprotocols."""
    kind = draw(st.sampled_from(["http", "websocket"]))
    path = draw(st.one_of(PATH_TEXT.map(lambda p: "/" + p), PATH_TEXT))
    raw_path = draw(
        st.one_of(
            st.none(),
            st.just(path.encode("utf-8", "surrogateescape")),
            values,
        )
    )
    scope: dict[str, Any] = {
        "type": kind,
        "scheme": draw(st.sampled_from(["http", "https", "ws", "wss", "HTTP", "ftp", ""])),
        "method": draw(st.sampled_from(["GET", "POST", "PUT", "OPTIONS", "HEAD", "DELETE", "x"])),
        "path": path,
        "root_path": draw(st.sampled_from(["", "/api", "/api/", "/me"])),
        "query_string": draw(values),
        "headers": draw(headers_lists),
        "server": draw(
            st.sampled_from(
                [None, ("127.0.0.1", 8000), ("::1", 8443), ("/run/app.sock", None), ("a b", 1)]
            )
        ),
    }
    if raw_path is not None:
        scope["raw_path"] = raw_path
    if kind == "websocket":
        scope.pop("method")
        scope["subprotocols"] = draw(
            st.lists(
                st.one_of(st.just("bearer"), texts, st.sampled_from(["eyJ.a.b", ""])), max_size=5
            )
        )
    return scope


@st.composite
def hostile_json(draw: st.DrawFn) -> bytes:
    """JSON (or nearly) a token or proof segment may hold: deep nesting, duplicate
    members, numbers out of range, long strings, truncation."""
    depth = draw(st.integers(0, 300))
    kind = draw(
        st.sampled_from(
            ["arrays", "objects", "mixed", "duplicates", "numbers", "strings", "plain", "cut"]
        )
    )
    if kind == "arrays":
        text = '{"a":' + "[" * depth + "1" + "]" * depth + "}"
    elif kind == "objects":
        text = '{"a":' * depth + "1" + "}" * depth if depth else "{}"
    elif kind == "mixed":
        text = '{"a":' + '[{"b":' * depth + "null" + "}]" * depth + "}"
    elif kind == "duplicates":
        text = "{" + ",".join(['"exp":1'] * (depth + 2)) + "}"
    elif kind == "numbers":
        number = draw(
            st.sampled_from(
                [
                    "1e999",
                    "-1e999",
                    "9" * 400,
                    "9" * 5000,
                    "1" + "0" * 320,
                    "NaN",
                    "Infinity",
                    "0.0000000001e-999",
                    "1E+308",
                    "123456789" * 600,
                ]
            )
        )
        text = '{"exp":' + number + ',"iat":' + number + ',"n":[' + number + "]}"
    elif kind == "strings":
        text = json.dumps({"iss": draw(texts), "kid": draw(texts), "sub": draw(texts)})
    elif kind == "plain":
        text = json.dumps(
            draw(
                st.dictionaries(
                    st.text(max_size=6),
                    st.recursive(
                        st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text()),
                        lambda c: st.one_of(
                            st.lists(c, max_size=3),
                            st.dictionaries(st.text(max_size=4), c, max_size=3),
                        ),
                        max_leaves=8,
                    ),
                    max_size=6,
                )
            )
        )
    else:
        full = '{"a":' + "[" * depth + "]" * depth + "}"
        text = full[: draw(st.integers(0, len(full)))]
    return text.encode("utf-8", "surrogatepass")


HEADERS = st.one_of(
    hostile_json(),
    st.sampled_from(
        [
            {"alg": "HS256"},
            {"alg": "RS256", "kid": "k"},
            {"alg": "none"},
            {"alg": "HS256", "crit": ["exp"]},
            {"alg": "RS256", "jwk": {"kty": "oct", "k": "AAAA"}},
            {"alg": "RS256", "jku": "https://evil.example/jwks", "x5u": "https://evil.example/c"},
            {"alg": "RS256", "x5c": ["MIIB"]},
            {"alg": "RS256", "kid": "k" * 5000},
            {"alg": ["RS256"]},
        ]
    ).map(lambda h: json.dumps(h).encode()),
)
SIGNATURES = st.one_of(st.binary(max_size=300), st.sampled_from([b"", b"\x00" * 256]))


@st.composite
def tokenish(draw: st.DrawFn) -> str:
    """Three (sometimes two, four or five) base64url segments over hostile JSON."""
    segments = [
        b64url(draw(HEADERS)),
        b64url(draw(hostile_json())),
        b64url(draw(SIGNATURES)),
    ]
    shape = draw(st.sampled_from(["three"] * 6 + ["two", "four", "five", "padded", "standard"]))
    if shape == "two":
        segments.pop()
    elif shape == "four":
        segments.append("")
    elif shape == "five":
        segments += ["e30", "e30"]
    elif shape == "padded":
        segments[1] += "=="
    elif shape == "standard":
        segments[2] = segments[2].replace("-", "+").replace("_", "/") + "+/"
    return ".".join(segments)


tokens = st.one_of(texts, tokenish())


def hs_token(payload: bytes, header: bytes = b'{"alg":"HS256","typ":"JWT"}') -> str:
    """A token signed with SECRET (HS256) over exactly these bytes."""
    signing_input = f"{b64url(header)}.{b64url(payload)}"
    mac = hmac.new(SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


def distinctive(value: str) -> bool:
    """Long and varied enough that finding it in a text means it was copied there."""
    return len(value) >= 24 and len(set(value)) > 3


def assert_failure(value: object) -> Failure:
    assert isinstance(value, Failure), value
    assert isinstance(value.reason, Reason)
    assert isinstance(value.detail, str)
    return value


# --- what the readers are given ---------------------------------------------------

LOCATION_SETS = {
    "default": locations.TokenLocations(["header:Authorization:Bearer"], MAX_BYTES),
    "everywhere": locations.TokenLocations(
        [
            "header:Authorization:Bearer",
            "header:X-Api-Token",
            "header:X-Custom:Token",
            "cookie:session",
            "query:access_token",
        ],
        MAX_BYTES,
    ),
    "cookie": locations.TokenLocations(
        ["cookie:session"], MAX_BYTES, trusted_origins=["https://app.example"]
    ),
}
RULES = paths.PathRules(
    ["/healthz", "/public", "/.well-known"], {"/admin": ["admin"], "/admin/x": ["x"], "/": ["r"]}
)
STATIC = Settings(
    secret=SECRET,
    algorithms=("HS256",),
    issuer=ISSUER,
    audience=AUDIENCE,
    token_cache_entries=0,
)
VERIFIER = build_verifier(STATIC)
#: A verifier that lets tokens far over the default limit through to the parser, so
#: the growth tests measure the stages behind the bound, not the bound itself.
UNBOUNDED = build_verifier(
    Settings(
        secret=SECRET,
        algorithms=("HS256",),
        issuer=ISSUER,
        audience=AUDIENCE,
        token_cache_entries=0,
        max_token_bytes=1 << 22,
    )
)
POLICY = dpop_module.ProofPolicy(frozenset({"ES256", "RS256", "EdDSA"}), 300.0, 30.0)
TARGET = uri.parse_url("https://api.example/me")
assert isinstance(TARGET, uri.Target)
METADATA = MetadataEndpoint(
    build_verifier(
        Settings(
            secret=SECRET,
            algorithms=("HS256",),
            issuer=ISSUER,
            audience=AUDIENCE,
            resource="https://api.example/mcp",
        )
    ),
    {"/admin": ["admin"]},
    remote=False,
)


class Recorder:
    """A structlog-shaped logger that keeps each event's fields."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def _log(self, event: str, **fields: Any) -> None:
        self.events.append((event, fields))

    warning = info = debug = error = exception = _log


class Null:
    """A logger that drops every event."""

    def _log(self, event: str, **fields: Any) -> None:
        pass

    warning = info = debug = error = exception = _log


# --- property tests: nothing raises -------------------------------------------------


@PROPERTY
@given(scope=scopes())
def test_authorization_header_readers_never_raise(scope: dict[str, Any]) -> None:
    raw, count = extract.authorization(scope["headers"])
    assert count == sum(1 for name, _ in scope["headers"] if name.lower() == b"authorization")
    assert (raw is None) == (count == 0)
    judged = extract.judge(raw, count, MAX_BYTES)
    if isinstance(judged, str):
        assert count == 1 and 0 < len(judged) <= MAX_BYTES
        assert not any(ch in judged for ch in " \t\r\n\v\f")
    else:
        assert_failure(judged)
    if raw is not None:
        is_dpop(raw)
        for scheme in ("Bearer", "DPoP", "Token"):
            got = extract.parse_authorization(raw.decode("latin-1"), MAX_BYTES, scheme=scheme)
            assert isinstance(got, str) or assert_failure(got)


@PROPERTY
@given(value=texts, limit=st.sampled_from([1, 16, 256, MAX_BYTES]))
def test_extract_text_readers_never_raise(value: str, limit: int) -> None:
    got = extract.parse_authorization(value, limit)
    if isinstance(got, str):
        assert 0 < len(got) <= limit
    else:
        failure = assert_failure(got)
        # A credential is never echoed (the header's own words are clipped).
        if len(value) > 200:
            assert value not in failure.detail and value not in (failure.hint or "")
    if value:
        checked = extract.check_token(value, limit)
        assert checked == value or assert_failure(checked)


@PROPERTY
@given(scope=scopes(), which=st.sampled_from(sorted(LOCATION_SETS)))
def test_token_location_readers_never_raise(scope: dict[str, Any], which: str) -> None:
    places = LOCATION_SETS[which]
    got = places.extract(scope)
    if not isinstance(got, Failure):
        token, kind = got
        assert 0 < len(token) <= MAX_BYTES and kind in ("header", "cookie", "query")
    else:
        failure = assert_failure(got)
        if failure.reason is Reason.missing_token:
            # The hint names places, never the values found there.
            shown = failure.detail + (failure.hint or "")
            for _, value in scope["headers"]:
                text = value.decode("latin-1")
                if len(text) >= 24 and locations.jwt_shaped(text):
                    assert text not in shown
    for name, value in [*locations.cookies(scope), *locations.query(scope)]:
        assert isinstance(name, str) and isinstance(value, str)
    for place, why in locations.elsewhere(scope, places.locations):
        assert isinstance(place, str) and isinstance(why, str)
    refused = locations.cross_site(scope, places.trusted, "the cookie 'session'")
    assert refused is None or assert_failure(refused).reason is Reason.cross_site_request


@PROPERTY
@given(value=texts)
def test_jwt_shaped_never_raises(value: str) -> None:
    whole = locations.jwt_shaped(value, whole=True)
    if whole:
        assert locations.jwt_shaped(value)  # a token is also found inside itself
        assert len(value) <= locations.HINT_SCAN_CHARS


@PROPERTY
@given(scope=scopes())
def test_request_uri_readers_never_raise(scope: dict[str, Any]) -> None:
    origin = uri.request_origin(scope)
    assert isinstance(origin, (uri.Origin, str))
    sent = uri.request_path(scope)
    assert sent is None or isinstance(sent, str)
    target = uri.request_target(scope)
    if isinstance(target, uri.Target) and len(str(target)) <= uri.MAX_URL:
        # What a proof's htu is compared with reads back as itself (a longer URI
        # matches no htu: parse_url refuses URLs over MAX_URL).
        assert uri.parse_url(str(target), dot_segments="refuse") == target
    elif not isinstance(target, uri.Target):
        assert isinstance(target, str)
    for name in (b"host", b"origin", b"sec-fetch-site"):
        value, count = uri.header(scope["headers"], name)
        assert (value is None) == (count == 0)


@PROPERTY
@given(value=texts)
def test_uri_text_readers_never_raise(value: str) -> None:
    parsed = uri.parse_authority(value)
    if parsed is not None:
        host, port = parsed
        assert host == host.lower() and len(value) <= uri.MAX_AUTHORITY
        assert port is None or 0 < port < 65536
    for mode in ("resolve", "refuse"):
        target = uri.parse_url(value, dot_segments=mode)
        assert isinstance(target, (uri.Target, str))
        target = uri.parse_url("https://api.example/" + value, dot_segments=mode)
        assert isinstance(target, (uri.Target, str))
        path = uri.normalize_path("/" + value, dot_segments=mode)
        assert path is None or path.startswith("/")
    origin = uri.parse_origin(value)
    assert origin is None or origin.scheme in ("http", "https")


@PROPERTY
@given(scope=scopes())
def test_path_readers_never_raise(scope: dict[str, Any]) -> None:
    path = paths.route_path(scope)
    assert isinstance(path, str)
    public = RULES.is_public(path)
    required = RULES.required_scopes(path)
    assert all(isinstance(s, str) for s in required)
    if public:
        # Public only in every reading of the path.
        assert RULES.is_public(paths.normalise(path))
    assert paths.normalise(path).startswith("/")
    assert isinstance(METADATA.matches(scope), bool)
    assert isinstance(RECEIVER.matches(scope), bool)


#: Short text (``texts`` is mostly long runs: the bound is tested elsewhere).
SHORT = st.text(max_size=20)
#: The subjects an event may name: the formats of RFC 9493, right and wrong.
SET_SUBJECTS = st.one_of(
    SHORT,
    st.fixed_dictionaries(
        {"format": st.sampled_from(["iss_sub", "iss-sub", "complex", "email", "opaque", ""])},
        optional={
            "iss": st.sampled_from([ISSUER, "https://x.example/", ""]),
            "sub": st.one_of(st.just("u"), SHORT, st.integers()),
            "user": st.one_of(SHORT, st.just({"format": "iss_sub", "iss": ISSUER, "sub": "u"})),
            "session": st.one_of(
                SHORT,
                st.fixed_dictionaries(
                    {"format": st.sampled_from(["opaque", "uri"])},
                    optional={"id": st.one_of(st.just("ALL"), st.just("s"), SHORT)},
                ),
            ),
        },
    ),
)
SET_EVENT_TYPES = st.sampled_from(
    [
        "https://schemas.openid.net/secevent/caep/event-type/session-revoked",
        "https://schemas.openid.net/secevent/caep/event-type/credential-change",
        "https://schemas.openid.net/secevent/risc/event-type/account-purged",
        "urn:other",
    ]
)
_SET_PAYLOAD = st.fixed_dictionaries({}, optional={"subject": SET_SUBJECTS})
SET_PAYLOADS = st.one_of(_SET_PAYLOAD, _SET_PAYLOAD, SHORT)  # repeated: drawn more often
_ONE_EVENT = st.dictionaries(SET_EVENT_TYPES, SET_PAYLOADS, min_size=1, max_size=1)
#: Claims of a SET that verifies (most of the time: one event, the right iss and aud).
SET_CLAIMS = st.builds(
    lambda events, sub_id, extra: json.dumps(
        {
            "iss": ISSUER,
            "aud": "https://api.example/ssf",
            "iat": NOW,
            "jti": "j",
            "events": events,
            **({} if sub_id is None else {"sub_id": sub_id}),
            **extra,
        }
    ).encode(),
    st.one_of(
        _ONE_EVENT,
        _ONE_EVENT,
        _ONE_EVENT,
        st.dictionaries(SET_EVENT_TYPES, SET_PAYLOADS, max_size=3),
        SHORT,
    ),
    st.one_of(st.none(), SET_SUBJECTS, SET_SUBJECTS),
    st.one_of(
        st.just({}),
        st.just({}),
        st.dictionaries(st.sampled_from(["sub", "exp", "nbf", "iss"]), SHORT, max_size=2),
    ),
)
#: Security Event Tokens signed by SET_KEY over those claims or hostile ones, and
#: anything a client could POST instead.
SET_BODIES = st.one_of(
    st.binary(max_size=300),
    tokens.map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.builds(lambda c, t: _signed_set(c, t), hostile_json(), st.just("secevent+jwt")),
    st.builds(
        lambda c, t: _signed_set(c, t),  # defined below, with the key
        SET_CLAIMS,
        st.sampled_from(["secevent+jwt", "secevent+jwt", "application/secevent+jwt", "JWT"]),
    ),
    st.builds(lambda c, t: _signed_set(c, t), SET_CLAIMS, st.just("secevent+jwt")),
)
RFC8935_ERRORS = (
    "invalid_request",
    "invalid_key",
    "invalid_issuer",
    "invalid_audience",
    "authentication_failed",
    "access_denied",
)
CONTENT_TYPES = st.one_of(
    st.sampled_from([b"application/secevent+jwt", b"application/secevent+jwt; charset=utf-8"]),
    values,
)


@PROPERTY
@given(
    scope=scopes(),
    content_type=CONTENT_TYPES,
    body=SET_BODIES,
    chunk=st.sampled_from([1, 7, 1 << 20]),
    declared=st.one_of(st.none(), st.sampled_from([b"0", b"9" * 30, b"-1", b"12"])),
)
def test_security_event_receiver_never_raises(
    loop: asyncio.AbstractEventLoop,
    scope: dict[str, Any],
    content_type: bytes,
    body: bytes,
    chunk: int,
    declared: bytes | None,
) -> None:
    scope["type"], scope["method"] = "http", "POST"
    scope["headers"] = [*scope["headers"][:50], (b"content-type", content_type)]
    if declared is not None:
        scope["headers"].append((b"content-length", declared))
    pieces = [body[i : i + chunk] for i in range(0, len(body), chunk)] or [b""]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        piece = pieces.pop(0) if pieces else b""
        return {"type": "http.request", "body": piece, "more_body": bool(pieces)}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    loop.run_until_complete(RECEIVER.serve(scope, receive, send))
    start, answer = sent
    assert start["status"] in (202, 400, 503)
    if start["status"] == 400:
        error = json.loads(answer["body"])
        assert error["err"] in RFC8935_ERRORS
        assert len(error["description"]) <= 600
        text = body.decode("latin-1")
        assert not distinctive(text) or text not in error["description"]


@PROPERTY
@given(claims=hostile_json())
def test_the_security_event_reader_never_raises(claims: bytes) -> None:
    try:
        parsed = structure.loads_claims(claims)
    except ValueError:
        return
    reading = read_event(parsed)
    assert reading.error is None or reading.error[0] in (
        "invalid_request", "invalid_issuer", "access_denied"
    )  # fmt: skip
    _, keys = REVOCATIONS.keys_of(parsed)
    assert all(len(key) == len(REVOCATIONS.prefix) + 4 + 64 for key in keys)


@PROPERTY
@given(scope=scopes(), header=st.sampled_from(["token-a", "missing", "mangled"]))
def test_websocket_subprotocol_readers_never_raise(scope: dict[str, Any], header: str) -> None:
    scope["subprotocols"] = scope.get("subprotocols") or []
    offered = websocket.subprotocol_token(scope, "bearer", MAX_BYTES)
    if isinstance(offered, str):
        assert 0 < len(offered) <= MAX_BYTES and "%" not in offered
    else:
        assert offered is None or assert_failure(offered)
    from_header: str | Failure = {
        "token-a": "token-a",
        "missing": Failure(Reason.missing_token, "none"),
        "mangled": Failure(Reason.quoted_token, "quoted"),
    }[header]
    combined = websocket.combine(from_header, offered)
    assert isinstance(combined, str) or assert_failure(combined)
    assert websocket.offered_name(scope, "bearer") in (None, "bearer")


@PROPERTY
@given(headers=headers_lists)
def test_dpop_header_counter_never_raises(headers: list[tuple[bytes, bytes]]) -> None:
    value, count = dpop_module.count_proofs(headers)
    assert count == sum(1 for name, _ in headers if name.lower() == b"dpop")
    assert (value is None) == (count == 0)


def _signed_proof(header: dict[str, Any], payload: bytes) -> str:
    """A proof signed by PROOF_KEY over exactly ``payload``."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    h64 = b64url(json.dumps(header).encode())
    signing_input = f"{h64}.{b64url(payload)}".encode()
    r, s = decode_dss_signature(PROOF_KEY.sign(signing_input, ec.ECDSA(hashes.SHA256())))
    return f"{signing_input.decode()}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


EC_CURVES = ("P-256", "P-384", "P-521")
OKP_CURVES = ("Ed25519", "Ed448", "X25519", "X448")
CURVES = [*EC_CURVES, *OKP_CURVES, "secp256k1"]


JWK_VALUES = st.one_of(
    st.dictionaries(
        st.sampled_from(["kty", "crv", "x", "y", "n", "e", "d", "k", "alg", "use", "kid"]),
        st.one_of(texts, st.integers(), st.none(), st.lists(st.text(max_size=4), max_size=2)),
        max_size=6,
    ),
    st.sampled_from(["RSA", "EC", "OKP", "oct"]).flatmap(
        lambda kty: st.fixed_dictionaries(
            {"kty": st.just(kty)},
            optional={
                "crv": st.sampled_from(CURVES),
                "x": texts.map(lambda t: b64url(t.encode("utf-8", "surrogatepass"))),
                "y": texts.map(lambda t: b64url(t.encode("utf-8", "surrogatepass"))),
                "n": st.sampled_from(["AQAB", "A" * 400, "_" * 1400, "AQAB" * 700]),
                "e": st.sampled_from(["AQAB", "AAAA", "Aw", "/////w", "A" * 300]),
                "k": st.just("AAAA"),
            },
        )
    ),
)  # fmt: skip


@PROPERTY
@given(
    proof=st.one_of(texts, tokenish()),
    jwk=JWK_VALUES,
    payload=hostile_json(),
    method=st.sampled_from(["GET", "POST", "x"]),
)
def test_dpop_proof_reader_never_raises(
    proof: str, jwk: dict[str, Any], payload: bytes, method: str
) -> None:
    for candidate in (
        proof,
        f"{b64url(json.dumps({'typ': 'dpop+jwt', 'alg': 'ES256', 'jwk': jwk}).encode())}."
        f"{b64url(payload)}.{b64url(b'x' * 64)}",
        _signed_proof({"typ": "dpop+jwt", "alg": "ES256", "jwk": _public_jwk(PROOF_KEY)}, payload),
    ):
        got = dpop_module.verify_proof(
            candidate, method=method, target=TARGET, access_token="t", now=NOW, policy=POLICY
        )
        assert isinstance(got, dpop_module.Proof) or assert_failure(got)


def _public_jwk(private: ec.EllipticCurvePrivateKey) -> dict[str, str]:
    numbers = private.public_key().public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": b64url(numbers.x.to_bytes(32, "big")),
        "y": b64url(numbers.y.to_bytes(32, "big")),
    }


def _closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _signed_set(claims: bytes, typ: str) -> bytes:
    """A Security Event Token signed by SET_KEY (ES256) over exactly ``claims``."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    header = b64url(json.dumps({"alg": "ES256", "kid": "t", "typ": typ}).encode())
    signing_input = f"{header}.{b64url(claims)}".encode()
    r, s = decode_dss_signature(SET_KEY.sign(signing_input, ec.ECDSA(hashes.SHA256())))
    signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return signing_input + b"." + b64url(signature).encode()


SET_KEY = ec.generate_private_key(ec.SECP256R1())
#: A revocation list whose Redis refuses every connection at once (an unused port).
REVOCATIONS = RevocationList(f"redis://127.0.0.1:{_closed_port()}/0", timeout=0.2)
#: The receiver of Security Event Tokens signed by SET_KEY (static keys: no fetch).
RECEIVER = SecurityEventReceiver(
    _receiver_settings := Settings(
        secret=SECRET,
        algorithms=("HS256",),
        revocation_redis_url="redis://127.0.0.1:1/0",
        ssf_path="/ssf",
        ssf_issuer=ISSUER,
        ssf_audience="https://api.example/ssf",
        ssf_jwks_url="https://idp.example/jwks",
    ),
    Verifier(
        event_settings(_receiver_settings),
        KeySet(load_jwks({"keys": [_public_jwk(SET_KEY) | {"kid": "t"}]}, source="set").keys),
    ),
    REVOCATIONS,
    observer=RevocationObserver(registry=None, logger=Null()),
)


@PROPERTY
@given(token=tokens)
def test_token_structure_reader_never_raises(token: str) -> None:
    parsed = structure.parse_compact(token)
    if isinstance(parsed, structure.ParsedToken):
        assert isinstance(parsed.header, dict) and isinstance(parsed.claims, dict)
        assert strictjson._depth(json.dumps(parsed.header)) <= strictjson.MAX_JSON_DEPTH
    else:
        assert_failure(parsed)


@PROPERTY
@given(data=st.one_of(hostile_json(), st.binary(max_size=200)))
def test_json_readers_raise_only_value_error(data: bytes) -> None:
    for read in (structure.loads_object, structure.loads_claims):
        try:
            obj = read(data)
        except ValueError:
            continue
        assert isinstance(obj, dict)


@PROPERTY
@given(token=tokens, payload=hostile_json())
def test_verifier_never_raises(token: str, payload: bytes) -> None:
    for candidate in (token, hs_token(payload)):
        got = VERIFIER.verify(candidate)
        if isinstance(got, VerifiedToken):
            assert candidate.count(".") == 2
        else:
            failure = assert_failure(got)
            # The token and its signature never appear in what is shown.
            signature = candidate.rsplit(".", 1)[-1]
            for shown in (failure.detail, failure.hint or ""):
                assert not distinctive(candidate) or candidate not in shown
                assert not distinctive(signature) or signature not in shown


# CONTRACT section 12: the claims read as scopes, the insufficient_scope hint's search of
# the other claims, and the claim rules, over claims of any shape (a token's issuer signs
# them, but the payload is whatever it put there: nested, huge, of every type).
SCOPE_CLAIMS = ScopeClaims(("scope", "scp", "roles", "realm_access.roles", "a.b", "x"))
CLAIM_RULES = claim_rules({"tid": ["t1", 1, True], "realm_access.roles": ["r"]}, what="x")


def verified_with(claims: dict[str, Any]) -> VerifiedToken:
    return VerifiedToken(claims, {"alg": "RS256"}, "RS256", None, "fp", frozenset(), None)


@PROPERTY
@given(payload=hostile_json(), scope=st.text(min_size=1, max_size=12))
def test_authorization_claim_readers_never_raise(payload: bytes, scope: str) -> None:
    try:
        claims = strictjson.loads_object(payload)
    except ValueError:
        return
    for reshaped in (claims, {"tid": claims, "roles": [claims], "realm_access": claims}):
        assert isinstance(SCOPE_CLAIMS.of(reshaped), frozenset)
        assert isinstance(holders(reshaped, scope), list)
        verified = verified_with(reshaped)
        decided = scope_decide(verified, [scope])
        assert decided is verified or assert_failure(decided).reason is Reason.insufficient_scope
        ruled = decide_claims(verified, CLAIM_RULES)
        assert ruled is verified or assert_failure(ruled).reason is Reason.claim_not_allowed


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@PROPERTY
@given(token=tokens, payload=hostile_json())
def test_mcp_adapter_never_raises(
    loop: asyncio.AbstractEventLoop, token: str, payload: bytes
) -> None:
    from jwt_middleware.mcp import JWTTokenVerifier

    adapter = JWTTokenVerifier(verifier=VERIFIER)
    for candidate in (token, hs_token(payload)):
        access = loop.run_until_complete(adapter.verify_token(candidate))
        if access is None:
            assert_failure(adapter.last_failure)
        else:
            assert access.token == candidate


KEY_ENTRY = st.one_of(
    JWK_VALUES,
    st.builds(
        lambda kid, kty, extra: {"kid": kid, "kty": kty, **extra},
        st.one_of(texts, st.integers(), st.none()),
        st.sampled_from(["RSA", "EC", "OKP", "oct", None, "rsa"]),
        st.dictionaries(st.sampled_from(["use", "key_ops", "alg", "x5c", "d"]), st.one_of(
            texts, st.lists(texts, max_size=2), st.integers()), max_size=3),
    ),
    st.one_of(texts, st.integers(), st.none(), st.lists(st.integers(), max_size=2)),
)  # fmt: skip


@PROPERTY
@given(
    document=st.one_of(
        st.builds(lambda keys: {"keys": keys}, st.lists(KEY_ENTRY, max_size=6)),
        st.one_of(st.none(), texts, st.lists(st.integers(), max_size=3)),
        st.dictionaries(st.sampled_from(["keys", "issuer"]), st.one_of(texts, st.integers())),
    ),
    published=st.booleans(),
)
def test_key_set_readers_raise_only_configuration_errors(document: Any, published: bool) -> None:
    try:
        loaded = load_jwks(document, source="https://idp.example/jwks", published=published)
    except ConfigurationError:
        return
    for key in loaded.keys:
        if published:
            assert not key.symmetric  # an oct key from a URL is never used
    with contextlib.suppress(ConfigurationError):
        import_jwks(document, source="jwks.json")


@PROPERTY
@given(value=texts, other=texts)
def test_fetched_document_header_readers_never_raise(value: str, other: str) -> None:
    headers = httpx.Headers({"cache-control": value.encode("utf-8", "surrogatepass")})
    ttl = remote.ttl_from_headers(headers, 300.0, 60.0, 86400.0)
    assert 60.0 <= ttl <= 86400.0
    refusal = fetch.redirect_refusal("https://idp.example/jwks", value)
    assert refusal is None or isinstance(refusal, str)
    if refusal is not None:
        assert len(refusal) < 300
    clock.sample(value, 1000.0, 1001.0, age_header=other)
    idp.recognise_str(value)
    idp.token_notes({"nonce": 1}, {"iss": value, "aud": [other]})


@PROPERTY
@given(scope=scopes(), token=st.one_of(st.none(), tokens))
def test_log_event_fields_are_bounded_and_never_the_token(
    scope: dict[str, Any], token: str | None
) -> None:
    recorder = Recorder()
    observer = Observer(registry=None, logger=recorder)
    failure = VERIFIER.verify(token) if token else Failure(Reason.missing_token, "none")
    assert isinstance(failure, Failure)
    observer.rejected(failure, 0.001, scope, token)
    ((event, fields),) = recorder.events
    assert event == "jwt_auth.denied"
    request_id = fields["request_id"]
    assert request_id is None or (len(request_id) <= 131 and request_id.isprintable())
    for name in ("alg", "kid", "iss"):
        assert fields[name] is None or (len(fields[name]) <= 131 and fields[name].isprintable())
    if token and distinctive(token):
        # The token's own fields, never the token (path and request id are the client's).
        assert all(
            token not in str(v) for k, v in fields.items() if k not in ("path", "request_id")
        )


# --- the CLI's output ---------------------------------------------------------------


@pytest.fixture(scope="module")
def key_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("surfaces") / "public.pem"
    path.write_text(public_pem(RSA_KEY))
    return str(path)


def run_cli(*argv: str) -> tuple[int, str]:
    """``jwt-middleware`` in process: the exit code and everything printed."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(list(argv))
        except SystemExit as exc:  # argparse's own usage errors
            code = int(exc.code or 0)
    return code, out.getvalue() + err.getvalue()


def printable(text: str) -> bool:
    return all(ch.isprintable() or ch == "\n" for ch in text)


@PROPERTY
@given(
    token=tokens.filter(lambda t: t != "-"),  # "-": read the token from stdin
    as_json=st.booleans(),
    dpop=st.one_of(st.none(), tokens),
)
def test_cli_diagnose_prints_only_printable_text_and_never_the_key(
    key_file: str, token: str, as_json: bool, dpop: str | None
) -> None:
    argv = ["diagnose", "--key-file", key_file, "--issuer", ISSUER, "--audience", AUDIENCE]
    if dpop is not None:
        argv += [f"--dpop={dpop}", "--url", "https://api.example/me"]
    if as_json:
        argv.append("--json")
    code, output = run_cli(*argv, "--", token)
    assert code in (1, 2), output  # nothing here verifies
    assert printable(output)
    assert not distinctive(token) or token not in output
    assert "PRIVATE" not in output


# --- growth: linear, not quadratic -----------------------------------------------


def _run(call: Callable[[Any], object], value: Any, repeat: int) -> float:
    start = time.process_time()
    for _ in range(repeat):
        call(value)
    return time.process_time() - start


def growth(make: Callable[[int], Any], call: Callable[[Any], object]) -> float:
    """CPU time at 16 * SMALL over CPU time at SMALL, same shape (see the docstring).

    Each is the best of three runs of ``repeat`` calls (enough for the small input to
    take a millisecond); the large input's runs stop at the first one under the limit,
    since the best of three can only be lower."""
    small, large = make(SMALL), make(16 * SMALL)
    gc.collect()
    gc.disable()
    try:
        repeat = 1
        while _run(call, small, repeat) < 0.001 and repeat < 1 << 12:
            repeat *= 4
        base = max(min(_run(call, small, repeat) for _ in range(3)), 1e-6)
        ratio = float("inf")
        for _ in range(3):
            ratio = min(ratio, _run(call, large, repeat) / base)
            if ratio < GROWTH_LIMIT:
                break
        return ratio
    finally:
        gc.enable()


def fill(fragment: str) -> Callable[[int], str]:
    return lambda n: (fragment * (n // len(fragment) + 1))[:n]


def http(headers: list[tuple[bytes, bytes]] | None = None, **extra: Any) -> dict[str, Any]:
    scope: dict[str, Any] = {
        "type": "http",
        "method": "POST",
        "scheme": "http",
        "path": "/me",
        "raw_path": b"/me",
        "root_path": "",
        "query_string": b"",
        "headers": headers or [],
        "server": ("127.0.0.1", 8000),
    }
    scope.update(extra)
    return scope


def one_header(name: bytes, fragment: str, prefix: str = "") -> Callable[[int], dict[str, Any]]:
    return lambda n: http([(name, (prefix + fill(fragment)(n)).encode("latin-1", "replace"))])


def many_headers(name: bytes, value: bytes) -> Callable[[int], dict[str, Any]]:
    return lambda n: http([(name, value)] * max(1, n // (len(name) + len(value))))


def path_of(fragment: str, host: bytes = b"api.example") -> Callable[[int], dict[str, Any]]:
    def make(n: int) -> dict[str, Any]:
        path = "/" + fill(fragment)(n)
        return http([(b"host", host)], path=path, raw_path=path.encode("utf-8"))

    return make


def clear_header_cache(call: Callable[[str], object]) -> Callable[[str], object]:
    """``call`` with the parsed-header memo emptied first: every run decodes the header."""

    def run(token: str) -> object:
        structure._HEADER_CACHE.clear()
        return call(token)

    return run


def signed(payload_of: Callable[[int], bytes]) -> Callable[[int], str]:
    return lambda n: hs_token(payload_of(n))


def claims_with(**fields: Callable[[int], Any]) -> Callable[[int], bytes]:
    def payload(n: int) -> bytes:
        base: dict[str, Any] = {"iss": ISSUER, "aud": AUDIENCE, "sub": "u", "exp": NOW + 600}
        base.update({name: make(n) for name, make in fields.items()})
        return json.dumps(base).encode()

    return payload


EVERYWHERE = LOCATION_SETS["everywhere"]
DEFAULT = LOCATION_SETS["default"]
COOKIE = LOCATION_SETS["cookie"]
OBSERVER = Observer(registry=None, logger=Null())
MISSING = Failure(Reason.missing_token, "none")
TRUSTED: frozenset[uri.Origin] = frozenset()

#: (reader, shape) -> (make an input of n characters, read it).
GROWTH: dict[str, tuple[Callable[[int], Any], Callable[[Any], object]]] = {
    # the Authorization header
    "authorization-many-headers": (
        many_headers(b"authorization", b"Bearer " + b"eyJ" * 20),
        lambda s: extract.authorization(s["headers"]),
    ),
    "authorization-many-other-headers": (
        many_headers(b"x-other-header", b"a" * 40),
        lambda s: extract.authorization(s["headers"]),
    ),
    **{
        f"parse_authorization-{name}": (
            (lambda f: lambda n: "Bearer " + fill(f)(n))(fragment),
            lambda v: extract.parse_authorization(v, MAX_BYTES),
        )
        for name, fragment in [("eyJ", "eyJ"), ("percent", "%2"), ("space", " "), ("quote", '"')]
    },
    **{
        f"check_token-{name}": (fill(fragment), lambda v: extract.check_token(v, 1 << 30))
        for name, fragment in [("eyJ", "eyJ"), ("percent", "%"), ("percent2", "%2"), ("dot", ".")]
    },
    # other header, cookie and query locations
    "extract-custom-header-eyJ": (
        one_header(b"x-api-token", "eyJ"),
        EVERYWHERE.extract,
    ),
    "extract-scheme-header-percent": (
        one_header(b"x-custom", "%2", prefix="Token "),
        EVERYWHERE.extract,
    ),
    "cookies-one-header-pairs": (one_header(b"cookie", "a=b;"), locations.cookies),
    "cookies-one-header-semicolons": (one_header(b"cookie", ";"), locations.cookies),
    "cookies-one-header-quotes": (one_header(b"cookie", 'a="'), locations.cookies),
    "cookies-many-headers": (many_headers(b"cookie", b"a=b; c=d"), locations.cookies),
    "extract-cookie-many-pairs": (one_header(b"cookie", "session=eyJ; "), EVERYWHERE.extract),
    "query-pairs": (lambda n: http(query_string=fill("a=b&")(n).encode()), locations.query),
    "query-percent": (lambda n: http(query_string=fill("%2")(n).encode()), locations.query),
    "query-equals": (lambda n: http(query_string=fill("=")(n).encode()), locations.query),
    "extract-query-repeated-name": (
        lambda n: http(query_string=fill("access_token=eyJ&")(n).encode()),
        EVERYWHERE.extract,
    ),
    # the missing_token hint scan
    **{
        f"elsewhere-one-header-{name}": (
            one_header(b"x-forwarded-stuff", fragment),
            lambda s: locations.elsewhere(s, DEFAULT.locations),
        )
        for name, fragment in [
            ("eyJ", "eyJ"),
            ("eyJ-dots", "eyJaaaaaaaaaaaa.a."),
            ("dots", "."),
            ("eyJ-dot", "eyJ."),
        ]
    },
    "elsewhere-many-headers": (
        many_headers(b"x-h", b"eyJhbGciOiJIUzI1NiJ9.eyJ.a"),
        lambda s: locations.elsewhere(s, DEFAULT.locations),
    ),
    "elsewhere-cookies-and-query": (
        lambda n: http(
            [(b"cookie", fill("c=eyJaaaaaaaaaaa.a.b; ")(n).encode())],
            query_string=fill("q=eyJaaaaaaaaaaa.a.b&")(n).encode(),
        ),
        lambda s: locations.elsewhere(s, DEFAULT.locations),
    ),
    "missing-default-many-headers": (many_headers(b"x-h", b"eyJ" * 30), DEFAULT.extract),
    "jwt_shaped-eyJ": (fill("eyJ"), locations.jwt_shaped),
    "jwt_shaped-whole-eyJ-dots": (
        fill("eyJaaaaaaaaaaaa."),
        lambda v: locations.jwt_shaped(v, whole=True),
    ),
    # Origin, Sec-Fetch-Site, Host
    "cross_site-origin": (
        lambda n: http([(b"origin", fill("https://a")(n).encode()), (b"host", b"a")]),
        lambda s: locations.cross_site(s, TRUSTED, "the cookie 'session'"),
    ),
    "cross_site-many-origins": (
        many_headers(b"origin", b"https://evil.example"),
        lambda s: locations.cross_site(s, TRUSTED, "the cookie 'session'"),
    ),
    "cross_site-fetch-site": (
        one_header(b"sec-fetch-site", " "),
        lambda s: locations.cross_site(s, TRUSTED, "the cookie 'session'"),
    ),
    "extract-cookie-cross-site": (
        lambda n: http([(b"cookie", b"session=abc"), (b"origin", fill("::")(n).encode())]),
        COOKIE.extract,
    ),
    "request_origin-host-colons": (one_header(b"host", "::"), uri.request_origin),
    "request_origin-host-brackets": (one_header(b"host", "[::1]"), uri.request_origin),
    "request_origin-many-hosts": (many_headers(b"host", b"api.example"), uri.request_origin),
    "parse_authority-digits": (fill("9"), uri.parse_authority),
    "parse_origin-scheme": (lambda n: "https://" + fill("a.")(n), uri.parse_origin),
    # the path
    **{
        f"request_target-{name}": (path_of(fragment), uri.request_target)
        for name, fragment in [
            ("dots", "/.."),
            ("percent", "%2F"),
            ("brackets", "["),
            ("non-ascii", "é"),
            ("semicolons", ";"),
        ]
    },
    "request_path-percent": (path_of("%41"), uri.request_path),
    **{
        f"normalize_path-{name}": (
            (lambda f: lambda n: "/" + fill(f)(n))(fragment),
            lambda p: uri.normalize_path(p, dot_segments="resolve"),
        )
        for name, fragment in [("dots", "/.."), ("dot", "/."), ("percent", "%2e"), ("quotes", '"')]
    },
    "parse_url-long-path": (lambda n: "https://api.example/" + fill("/..")(n), uri.parse_url),
    "parse_url-no-scheme": (fill("a:/"), uri.parse_url),
    "route_path-root": (
        lambda n: {"path": "/api/" + fill("a/")(n), "root_path": "/api"},
        paths.route_path,
    ),
    **{
        f"is_public-{name}": (
            (lambda f: lambda n: "/public/" + fill(f)(n))(fragment),
            RULES.is_public,
        )
        for name, fragment in [
            ("dots", "/.."),
            ("percent", "%2"),
            ("slashes", "//"),
            ("backslash", "\\"),
            ("semicolon", ";"),
        ]
    },
    **{
        f"required_scopes-{name}": (
            (lambda f: lambda n: "/admin/" + fill(f)(n))(fragment),
            RULES.required_scopes,
        )
        for name, fragment in [("dots", "/.."), ("percent", "%41"), ("slashes", "//")]
    },
    "normalise-dots": (lambda n: "/" + fill("a/../")(n), paths.normalise),
    "metadata-matches": (
        lambda n: {"path": "/.well-known/" + fill("a/")(n), "root_path": "/"},
        METADATA.matches,
    ),
    # WebSocket subprotocols
    "subprotocol_token-long": (
        lambda n: {"type": "websocket", "subprotocols": ["bearer", fill("eyJ")(n)]},
        lambda s: websocket.subprotocol_token(s, "bearer", MAX_BYTES),
    ),
    "subprotocol_token-many": (
        lambda n: {"type": "websocket", "subprotocols": ["chat"] * (n // 4) + ["bearer", "a.b.c"]},
        lambda s: websocket.subprotocol_token(s, "bearer", MAX_BYTES),
    ),
    "combine-two-long-tokens": (fill("eyJ"), lambda t: websocket.combine(t, t + "x")),
    # DPoP
    "count_proofs-many": (
        many_headers(b"dpop", b"eyJ" * 10),
        lambda s: dpop_module.count_proofs(s["headers"]),
    ),
    "verify_proof-long": (
        fill("eyJ."),
        lambda p: dpop_module.verify_proof(
            p, method="GET", target=TARGET, access_token="t", now=NOW, policy=POLICY
        ),
    ),
    # the token itself
    **{
        f"parse_compact-{name}": (make, clear_header_cache(structure.parse_compact))
        for name, make in [
            ("eyJ", fill("eyJ")),
            ("dots", fill(".")),
            ("five-segments", lambda n: fill("eyJ")(n - 4) + "...."),
            ("deep-payload", lambda n: "e30." + b64url(b"[" * (n // 2) + b"]" * (n // 2)) + ".AA"),
            (
                "deep-header",
                lambda n: b64url(b'{"a":' * (n // 6) + b"1" + b"}" * (n // 6)) + ".e30.AA",
            ),
            (
                "many-members",
                lambda n: (
                    b64url(json.dumps({f"k{i}": i for i in range(n // 12)}).encode()) + ".e30.AA"
                ),
            ),
            (
                "duplicates",
                lambda n: "e30." + b64url(b'{"a":1,' + b'"a":1,' * (n // 8) + b'"b":1}') + ".AA",
            ),
            ("long-number", lambda n: "e30." + b64url(b'{"exp":' + b"9" * n + b"}") + ".AA"),
            (
                "overflowing-numbers",
                lambda n: "e30." + b64url(b'{"n":[' + b"1e999," * (n // 8) + b"1]}") + ".AA",
            ),
        ]
    },
    "loads_object-backslashes": (
        lambda n: b'{"a":"' + b"\\\\" * (n // 2) + b'"}',
        structure.loads_object,
    ),
    "loads_claims-308-digit-runs": (
        lambda n: b'{"a":[' + b",".join([b"1" * 308] * (n // 309)) + b"]}",
        lambda d: _value_error_ok(structure.loads_claims, d),
    ),
    "verify-garbage": (fill("eyJ"), clear_header_cache(UNBOUNDED.verify)),
    "verify-signed-long-issuer": (
        signed(claims_with(iss=lambda n: ISSUER + fill("/")(n))),
        clear_header_cache(UNBOUNDED.verify),
    ),
    "verify-signed-many-audiences": (
        signed(claims_with(aud=lambda n: ["other"] * (n // 9))),
        clear_header_cache(UNBOUNDED.verify),
    ),
    "verify-signed-long-scope": (
        signed(claims_with(scope=lambda n: fill("a ")(n), scp=lambda n: ["s"] * (n // 5))),
        clear_header_cache(UNBOUNDED.verify),
    ),
    "verify-signed-many-claims": (
        signed(lambda n: json.dumps({f"c{i}": i for i in range(n // 12)}).encode()),
        clear_header_cache(UNBOUNDED.verify),
    ),
    "verify-signed-oversized-numbers": (
        signed(
            lambda n: (
                f'{{"iss":"{ISSUER}","aud":"{AUDIENCE}","exp":{NOW + 600},"n":['
                + "1e999," * (n // 6)
                + "1]}"
            ).encode()
        ),
        clear_header_cache(UNBOUNDED.verify),
    ),
    "verify-bounded": (fill("eyJ"), clear_header_cache(VERIFIER.verify)),
    # fetched key sets and their headers
    "load_jwks-many-keys": (
        lambda n: {
            "keys": [{"kty": "EC", "kid": "k", "crv": "P-256", "x": "A", "y": "A"}] * (n // 60)
        },
        lambda d: load_jwks(d, source="u", published=True),
    ),
    "load_jwks-long-modulus": (
        lambda n: {"keys": [{"kty": "RSA", "kid": "k", "n": fill("A")(n), "e": "AQAB"}]},
        lambda d: load_jwks(d, source="u", published=True),
    ),
    "load_jwks-long-exponent": (
        lambda n: {"keys": [{"kty": "RSA", "kid": "k", "n": "A" * 400, "e": fill("_")(n)}]},
        lambda d: load_jwks(d, source="u", published=True),
    ),
    "ttl_from_headers-commas": (
        lambda n: httpx.Headers({"cache-control": fill(", max-age")(n)}),
        lambda h: remote.ttl_from_headers(h, 300.0, 60.0, 86400.0),
    ),
    "redirect_refusal-long": (
        lambda n: "https://idp.example/" + fill("/..")(n),
        lambda t: fetch.redirect_refusal("https://idp.example/jwks", t),
    ),
    "clock-date": (fill("Mon, "), lambda d: clock.sample(d, 1000.0, 1001.0, age_header=d)),
    "recognise-issuer": (
        lambda n: "https://login.microsoftonline.com/" + fill("a/")(n),
        idp.recognise_str,
    ),
    # logs and output
    "log-request-id": (
        one_header(b"x-request-id", "\x1b"),
        lambda s: OBSERVER.rejected(MISSING, 0.0, s, None),
    ),
    "log-many-headers": (
        many_headers(b"x-h", b"a" * 60),
        lambda s: OBSERVER.rejected(MISSING, 0.0, s, "t"),
    ),
    "clip": (fill("\x1b"), clip),
    # the introspection endpoint's answer
    "introspection-answer-scope": (
        lambda n: json.dumps({"active": True, "aud": AUDIENCE, "scope": fill("a ")(n)}).encode(),
        lambda body: judge_answer(body),
    ),
    "introspection-answer-audiences": (
        lambda n: json.dumps({"active": True, "aud": fill("x")(n).split("x")[:-1]}).encode(),
        lambda body: judge_answer(body),
    ),
    "introspection-answer-brackets": (
        lambda n: b'{"active": true, "x": ' + b"[" * n + b"]" * n + b"}",
        lambda body: judge_answer(body),
    ),
    # authorization beyond scopes: the claims of a verified token
    "scope-claims-long-string": (lambda n: {"scope": fill("a ")(n)}, SCOPE_CLAIMS.of),
    "scope-claims-long-array": (lambda n: {"roles": list(fill("r")(n))}, SCOPE_CLAIMS.of),
    "scope-hint-long-array": (lambda n: {"roles": list(fill("r")(n))}, lambda c: holders(c, "z")),
    "scope-hint-many-claims": (
        lambda n: {f"c{i}": {"roles": ["x"]} for i in range(n // 8)},
        lambda c: holders(c, "z"),
    ),
    "claim-rule-long-array": (
        lambda n: verified_with({"tid": list(fill("t")(n))}),
        lambda t: decide_claims(t, CLAIM_RULES),
    ),
    "claim-rule-long-value": (
        lambda n: verified_with({"tid": fill("t")(n)}),
        lambda t: decide_claims(t, CLAIM_RULES),
    ),
    # the Security Event Token receiver and reader, the revocation list's keys
    "receiver-many-headers": (
        many_headers(b"content-type", b"application/secevent+jwt"),
        lambda s: RECEIVER._judge_headers(s["headers"]),
    ),
    "receiver-long-content-length": (
        one_header(b"content-length", "9"),
        lambda s: RECEIVER._judge_headers(
            [(b"content-type", b"application/secevent+jwt"), *s["headers"]]
        ),
    ),
    "read_event-long-subject": (
        lambda n: {"iss": ISSUER, "events": {"urn:x": {}}, "sub_id": {"format": fill("a")(n)}},
        read_event,
    ),
    "read_event-long-format": (
        lambda n: {
            "iss": ISSUER,
            "events": {"https://schemas.openid.net/secevent/caep/event-type/credential-change": {}},
            "sub_id": {"format": fill("iss-sub")(n), "iss": ISSUER, "sub": "u"},
        },
        read_event,
    ),
    "read_event-many-events": (
        lambda n: {"iss": ISSUER, "events": {str(i): {} for i in range(n // 8)}},
        read_event,
    ),
    "revocation-keys-long-claims": (
        lambda n: {"iss": fill("i")(n), "sub": fill("s")(n), "sid": fill("d")(n)},
        REVOCATIONS.keys_of,
    ),
}

INTROSPECTION_JUDGE = Judge(lambda: VERIFIER.policy, ("exp",), "https://as.example/introspect")


def judge_answer(body: bytes) -> object:
    """The introspection answer's readers, in the order the middleware runs them."""
    try:
        answer = read_answer(
            Reply("application/json", body),
            keys=lambda: VERIFIER.keyset,
            algorithms=frozenset({"RS256"}),
            issuers=frozenset(),
            client_id="rs",
        )
    except EndpointError as exc:
        return exc
    return INTROSPECTION_JUDGE.judge(answer, NOW)


def _value_error_ok(read: Callable[[bytes], object], data: bytes) -> object:
    try:
        return read(data)
    except ValueError as exc:
        return exc


@pytest.mark.parametrize("case", sorted(GROWTH))
def test_reader_time_grows_linearly(case: str) -> None:
    make, call = GROWTH[case]
    ratio = growth(make, call)
    assert ratio < GROWTH_LIMIT, f"{case}: 16 times the input took {ratio:.0f} times the CPU"


def test_the_growth_probe_tells_quadratic_from_linear() -> None:
    """The probe itself: a quadratic reader is caught, a linear one passes."""

    def quadratic(text: str) -> int:
        return sum(text.count(text[i : i + 2]) for i in range(0, len(text), 256))

    assert growth(fill("ab"), quadratic) > GROWTH_LIMIT
    assert growth(fill("ab"), lambda t: t.count("b")) < GROWTH_LIMIT


# --- findings -----------------------------------------------------------------------


def test_request_target_without_raw_path_never_raises_on_a_lone_surrogate() -> None:
    scope = http([(b"host", b"api.example")], path="/files/\udcff")
    del scope["raw_path"]
    assert isinstance(uri.request_target(scope), (uri.Target, str))


def test_the_denied_events_path_is_clipped_and_printable() -> None:
    recorder = Recorder()
    observer = Observer(registry=None, logger=recorder)
    path = '/files/\n{"event": "forged"}\x1b[2J' + "a" * 60000
    observer.rejected(MISSING, 0.001, http(path=path), None)
    ((_, fields),) = recorder.events
    assert len(fields["path"]) <= 1024
    assert fields["path"].isprintable()


def _rs256(claims: dict[str, Any]) -> str:
    import jwt as pyjwt

    return pyjwt.encode(claims, RSA_KEY, algorithm="RS256")


HOSTILE = "\x1b]0;owned\x07\x1b[31mred\x1b[0m\r\nREJECTED  forged\u202e"


def test_diagnose_of_a_valid_token_prints_no_terminal_escapes(key_file: str) -> None:
    token = _rs256(
        {"iss": ISSUER, "aud": AUDIENCE, "sub": HOSTILE, "scope": HOSTILE, "exp": NOW + 600}
    )
    code, output = run_cli("diagnose", "--key-file", key_file, "--issuer", ISSUER, "--", token)
    assert code == 0, output
    assert "VALID" in output
    assert printable(output), output


class _HostileInstance(BaseHTTPRequestHandler):
    """An instance (or whoever answers in its place) refusing the token with escapes."""

    def do_GET(self) -> None:
        body = json.dumps({"reason": HOSTILE, "hint": HOSTILE * 300}).encode()
        self.send_response(401)
        self.send_header("content-type", "application/problem+json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def hostile_instance() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HostileInstance)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/me"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_probe_prints_an_instances_answer_clipped_and_printable(hostile_instance: str) -> None:
    token = _rs256({"iss": ISSUER, "aud": AUDIENCE, "sub": "u", "exp": NOW + 600})
    code, output = run_cli("probe", hostile_instance, "--token", token, "--timeout", "5")
    assert code == 1
    assert "FAIL" in output
    assert printable(output), output[:200]
    assert len(output) < 2000


#: EC and OKP keys whose crv names no curve of their type: another type's curve, a typo.
UNKNOWN_CURVE_JWKS = {
    "OKP-P-256": {"kty": "OKP", "crv": "P-256", "x": b64url(b"\x01" * 32)},
    "EC-Ed25519": {"kty": "EC", "crv": "Ed25519", "x": b64url(b"\x01" * 32), "y": "AQ"},
    "EC-typo": {"kty": "EC", "crv": "P256", "x": b64url(b"\x01" * 32), "y": "AQ"},
}


@pytest.mark.parametrize("name", sorted(UNKNOWN_CURVE_JWKS))
def test_a_proof_jwk_with_an_unknown_curve_is_dpop_proof_invalid(name: str) -> None:
    jwk = UNKNOWN_CURVE_JWKS[name]
    proof = _signed_proof({"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk}, b'{"htm":"GET"}')
    got = dpop_module.verify_proof(
        proof, method="GET", target=TARGET, access_token="t", now=NOW, policy=POLICY
    )
    assert assert_failure(got).reason is Reason.dpop_proof_invalid


@pytest.mark.parametrize("name", sorted(UNKNOWN_CURVE_JWKS))
def test_a_key_set_entry_with_an_unknown_curve_is_skipped(name: str) -> None:
    good = _public_jwk(PROOF_KEY) | {"kid": "good"}
    loaded = load_jwks(
        {"keys": [UNKNOWN_CURVE_JWKS[name] | {"kid": "odd"}, good]},
        source="https://idp.example/jwks",
        published=True,
    )
    assert [key.kid for key in loaded.keys] == ["good"]
    assert [entry.kid for entry in loaded.skipped] == ["odd"]


# --- the settings: values copied into headers, secrets ------------------------------


@pytest.mark.parametrize("value", ['adm"in', "read write", "a\\b", "é", "", "a\x00", "a\tb"])
def test_scope_values_that_could_break_a_challenge_are_refused_at_startup(value: str) -> None:
    """A scope is copied into ``scope="..."`` of a challenge: a quote, a space, a
    backslash or a control character could end the parameter or the header."""
    with pytest.raises(ConfigurationError, match="is not a scope"):
        paths.PathRules([], {"/admin": [value]})
    with pytest.raises(ConfigurationError, match="is not a scope"):
        Settings(secret=SECRET, algorithms=("HS256",), resource_scopes=(value,))
    from jwt_middleware.fastapi import require_scopes

    with pytest.raises(ConfigurationError, match="is not a scope"):
        require_scopes(value)


def test_settings_never_show_their_secrets() -> None:
    from jwt_middleware.settings import secret_fields

    settings = Settings(
        secret=SECRET,
        secrets=("second-secret-0123456789-abcdefghijklmnopq",),
        algorithms=("HS256",),
        dpop_nonce_secret="nonce-secret-0123456789",
        dpop_replay_redis_url="redis://:redis-password-42@cache.internal:6379/0",
        introspection_url="https://as.example/introspect",
        introspection_client_id="rs",
        introspection_client_secret="introspection-secret-42",
    )
    shown = repr(settings) + str(settings)
    for secret in (
        SECRET,
        "second-secret",
        "nonce-secret",
        "redis-password-42",
        "introspection-secret-42",
    ):
        assert secret not in shown
    assert {
        "secret",
        "secrets",
        "dpop_nonce_secret",
        "dpop_replay_redis_url",
        "introspection_client_secret",
    } <= secret_fields()


# --- docs/security.md names tests that exist ------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
THREAT_MODEL = ROOT / "docs" / "security.md"
#: A test named in the threat model; ``::*`` (a whole file) is matched only to be refused.
_REFERENCE = re.compile(r"(tests/[\w/]+\.py)::(\w+|\*)")


def test_every_test_the_threat_model_names_exists() -> None:
    text = THREAT_MODEL.read_text()
    references = sorted(set(_REFERENCE.findall(text)))
    assert len(references) >= 60, "the threat model names a test for each surface"
    missing = []
    for path, name in references:
        file = ROOT / path
        if not file.exists():
            missing.append(f"{path} (no such file)")
            continue
        if name == "*":
            missing.append(f"{path}::* (name the tests)")
            continue
        if not re.search(rf"^(?:async )?def {name}\(", file.read_text(), re.MULTILINE):
            missing.append(f"{path}::{name}")
    assert missing == []


def test_every_surface_row_names_a_test() -> None:
    rows = [
        line
        for line in THREAT_MODEL.read_text().splitlines()
        if line.startswith("| ") and not line.startswith(("| Surface", "|---"))
    ]
    assert len(rows) >= 30
    assert [row for row in rows if not _REFERENCE.search(row)] == []


async def test_the_mcp_adapter_refuses_a_dpop_bound_token_and_a_huge_one() -> None:
    """The SDK hands over Bearer tokens only, past no request stage of this package."""
    from jwt_middleware.mcp import JWTTokenVerifier

    adapter = JWTTokenVerifier(verifier=VERIFIER)
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "u", "exp": NOW + 600}
    assert await adapter.verify_token(hs_token(json.dumps(claims).encode())) is not None
    bound = hs_token(json.dumps(claims | {"cnf": {"jkt": "x" * 43}}).encode())
    assert await adapter.verify_token(bound) is None
    assert assert_failure(adapter.last_failure).reason is Reason.dpop_bound_token_as_bearer
    huge = hs_token(json.dumps(claims | {"pad": "a" * 100_000}).encode())
    assert await adapter.verify_token(huge) is None
    assert assert_failure(adapter.last_failure).reason is Reason.token_too_large
