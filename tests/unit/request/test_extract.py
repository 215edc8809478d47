"""Request stage: extract_bearer / parse_authorization, one reason per way of mangling."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from helpers.apps import asgi_get
from helpers.tokens import raw_token

from jwt_middleware import REASONS, Failure, JWTAuthMiddleware, Reason, Settings
from jwt_middleware.request.extract import extract_bearer, parse_authorization

LIMIT = 8192
TOKEN = raw_token({"alg": "RS256", "typ": "JWT"}, {"sub": "user-1"}, b"signature-bytes")
SECRET_SETTINGS = Settings(secret="x" * 64, algorithms=("HS256",), audience="api")


def failure_of(result: str | Failure) -> Failure:
    assert isinstance(result, Failure), result
    return result


def token_of_length(n: int) -> str:
    """A well-formed-looking token (three base64url segments) exactly ``n`` characters long."""
    head = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0."
    assert n > len(head)
    return head + "A" * (n - len(head))


# --- the happy path ------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        f"Bearer {TOKEN}",
        f"bearer {TOKEN}",
        f"BEARER {TOKEN}",
        f"bEaReR {TOKEN}",
        f"Bearer\t{TOKEN}",
        f"Bearer   {TOKEN}",
        f"Bearer \t {TOKEN}",
        f"  Bearer {TOKEN}  ",
        f"Bearer {TOKEN}\t",
    ],
)
def test_bearer_scheme_case_insensitive_and_separators(header: str) -> None:
    assert parse_authorization(header, LIMIT) == TOKEN
    assert extract_bearer([(b"authorization", header.encode("latin-1"))], LIMIT) == TOKEN


def test_other_headers_are_ignored() -> None:
    headers = [
        (b"host", b"example"),
        (b"x-authorization", b"Bearer nope"),
        (b"proxy-authorization", b"Basic abc"),
        (b"authorization", f"Bearer {TOKEN}".encode()),
        (b"cookie", b"a=b"),
    ]
    assert extract_bearer(headers, LIMIT) == TOKEN


def test_header_name_in_any_case_is_recognised() -> None:
    assert extract_bearer([(b"Authorization", f"Bearer {TOKEN}".encode())], LIMIT) == TOKEN


# --- each request-stage reason --------------------------------------------------------


def test_missing_token() -> None:
    assert failure_of(extract_bearer([], LIMIT)).reason is Reason.missing_token
    f = failure_of(extract_bearer([(b"host", b"x"), (b"authorisation", b"Bearer x")], LIMIT))
    assert f.reason is Reason.missing_token


@pytest.mark.parametrize(
    "values",
    [
        [f"Bearer {TOKEN}", f"Bearer {TOKEN}"],
        [f"Bearer {TOKEN}", "Basic dXNlcjpwYXNz"],
        ["", f"Bearer {TOKEN}"],
        [f"Bearer {TOKEN}", "x", "y"],
    ],
)
def test_multiple_authorization_headers(values: list[str]) -> None:
    headers = [(b"authorization", v.encode()) for v in values]
    f = failure_of(extract_bearer(headers, LIMIT))
    assert f.reason is Reason.multiple_authorization_headers
    assert str(len(values)) in f.detail
    assert TOKEN not in f.detail


@pytest.mark.parametrize(
    "header",
    [
        "Basic dXNlcjpwYXNz",
        "Token abc",
        f"JWT {TOKEN}",
        f"Bearer:{TOKEN}",
        TOKEN,
        f'"{TOKEN}"',
        "",
        "   ",
        "Digest username=x",
        "Bearerx abc",
        "Beare abc",
        "Bearer_ abc",
    ],
)
def test_invalid_scheme(header: str) -> None:
    f = failure_of(parse_authorization(header, LIMIT))
    assert f.reason is Reason.invalid_scheme
    assert TOKEN not in f.detail
    assert TOKEN not in f.effective_hint


def test_bare_token_gets_a_hint_to_add_the_scheme() -> None:
    f = failure_of(parse_authorization(TOKEN, LIMIT))
    assert f.reason is Reason.invalid_scheme
    assert "Bearer" in f.effective_hint


def test_other_scheme_is_named() -> None:
    f = failure_of(parse_authorization("Token abc123", LIMIT))
    assert "'Token'" in f.detail


@pytest.mark.parametrize("header", ["Bearer", "Bearer ", "bearer    ", "BEARER\t", " Bearer \t "])
def test_empty_token(header: str) -> None:
    f = failure_of(parse_authorization(header, LIMIT))
    assert f.reason is Reason.empty_token


@pytest.mark.parametrize(
    "header",
    [
        f"Bearer Bearer {TOKEN}",
        f"Bearer bearer {TOKEN}",
        f"bearer BEARER\t{TOKEN}",
        "Bearer Bearer",
        f"Bearer Bearer%20{TOKEN}",
        f"Bearer Bearer:{TOKEN}",
    ],
)
def test_double_bearer(header: str) -> None:
    f = failure_of(parse_authorization(header, LIMIT))
    assert f.reason is Reason.double_bearer


@pytest.mark.parametrize(
    "header",
    [
        f"Bearer%20{TOKEN}",
        f"bearer%20{TOKEN}",
        f"Bearer%09{TOKEN}",
        f"Bearer+{TOKEN}",
        f"Bearer {TOKEN.replace('.', '%2E')}",
        f"Bearer {TOKEN.replace('.', '%2e', 1)}",
        f"Bearer {TOKEN}%3D",
        f"Bearer {TOKEN}%3d%3d",
    ],
)
def test_url_encoded_token(header: str) -> None:
    f = failure_of(parse_authorization(header, LIMIT))
    assert f.reason is Reason.url_encoded_token


@pytest.mark.parametrize(
    "header",
    [
        f'Bearer "{TOKEN}"',
        f"Bearer '{TOKEN}'",
        f'Bearer "{TOKEN}',
        f'Bearer {TOKEN}"',
        f"Bearer '{TOKEN}",
    ],
)
def test_quoted_token(header: str) -> None:
    f = failure_of(parse_authorization(header, LIMIT))
    assert f.reason is Reason.quoted_token


@pytest.mark.parametrize(
    ("inserted", "described"),
    [
        (" ", "a space"),
        ("\t", "a tab"),
        ("\n", "a line break"),
        ("\r\n", "a line break"),
        ("\r", "a line break"),
        ("\x0b", "vertical tab"),
        ("\x0c", "form feed"),
    ],
)
def test_whitespace_in_token(inserted: str, described: str) -> None:
    middle = len(TOKEN) // 2
    token = TOKEN[:middle] + inserted + TOKEN[middle:]
    f = failure_of(parse_authorization(f"Bearer {token}", LIMIT))
    assert f.reason is Reason.whitespace_in_token
    assert described in f.detail


def test_token_exactly_at_the_size_limit_passes() -> None:
    token = token_of_length(LIMIT)
    assert parse_authorization(f"Bearer {token}", LIMIT) == token
    assert extract_bearer([(b"authorization", f"Bearer {token}".encode())], LIMIT) == token


def test_token_one_byte_over_the_limit_fails() -> None:
    token = token_of_length(LIMIT + 1)
    f = failure_of(parse_authorization(f"Bearer {token}", LIMIT))
    assert f.reason is Reason.token_too_large
    assert f"{LIMIT + 1} bytes" in f.detail
    assert str(LIMIT) in f.detail


@pytest.mark.parametrize("limit", [256, 1000, 4096])
def test_configured_limit_is_honoured_at_the_boundary(limit: int) -> None:
    assert parse_authorization(f"Bearer {token_of_length(limit)}", limit) == token_of_length(limit)
    f = failure_of(parse_authorization(f"Bearer {token_of_length(limit + 1)}", limit))
    assert f.reason is Reason.token_too_large


def test_huge_header_is_token_too_large_whatever_it_holds() -> None:
    f = failure_of(parse_authorization("Basic " + "A" * 100_000, LIMIT))
    assert f.reason is Reason.token_too_large
    f = failure_of(parse_authorization("Bearer " + "a b" * 10_000, LIMIT))
    assert f.reason is Reason.token_too_large


def test_verifier_applies_the_same_limit() -> None:
    from jwt_middleware import Verifier, load_static_keys

    settings = Settings(secret="x" * 64, algorithms=("HS256",), audience="api")
    verifier = Verifier(settings, load_static_keys(settings).keyset)
    at_limit = verifier.verify(token_of_length(settings.max_token_bytes))
    assert isinstance(at_limit, Failure)
    assert at_limit.reason is not Reason.token_too_large
    over = verifier.verify(token_of_length(settings.max_token_bytes + 1))
    assert isinstance(over, Failure)
    assert over.reason is Reason.token_too_large


# --- credentials of other schemes are never echoed ----------------------------------

BASIC_CREDENTIALS = base64.b64encode(b"alice:correct-horse-battery-staple").decode()


@pytest.mark.parametrize(
    "header",
    [
        f"Basic {BASIC_CREDENTIALS}",
        f"basic {BASIC_CREDENTIALS}",
        f"BASIC\t{BASIC_CREDENTIALS}",
        f"Basic   {BASIC_CREDENTIALS}  ",
        f"Basic:{BASIC_CREDENTIALS}",
        f"Basic={BASIC_CREDENTIALS}",
        f"Basic,{BASIC_CREDENTIALS}",
        f"Basic{BASIC_CREDENTIALS}",
        f"Basic {BASIC_CREDENTIALS} extra",
    ],
)
def test_basic_credentials_are_never_in_the_details(header: str) -> None:
    f = failure_of(parse_authorization(header, LIMIT))
    assert f.reason is Reason.invalid_scheme
    text = " ".join([f.detail, f.effective_hint, *(p.detail for p in f.problems)])
    text += json.dumps(f.expected)
    assert BASIC_CREDENTIALS not in text
    assert BASIC_CREDENTIALS[:12] not in text
    assert "correct-horse" not in text
    assert "alice" not in text


def test_bare_credential_without_scheme_is_not_echoed() -> None:
    """An API key sent with no scheme at all is a credential too: it must not be echoed."""
    api_key = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"
    f = failure_of(parse_authorization(api_key, LIMIT))
    assert f.reason is Reason.invalid_scheme
    assert api_key not in f.detail
    assert api_key not in f.effective_hint


# --- through the middleware: status, challenge and problem body ----------------------


async def _call(app: Any, headers: list[tuple[bytes, bytes]]) -> tuple[int, dict[str, str], Any]:
    messages = await asgi_get(app, headers)
    start = messages[0]
    assert start["type"] == "http.response.start"
    hdrs = {k.decode("latin-1"): v.decode("latin-1") for k, v in start["headers"]}
    return start["status"], hdrs, json.loads(messages[1]["body"])


CASES: list[tuple[list[bytes], Reason]] = [
    ([], Reason.missing_token),
    ([f"Basic {BASIC_CREDENTIALS}".encode()], Reason.invalid_scheme),
    ([b"Bearer"], Reason.empty_token),
    ([f"Bearer Bearer {TOKEN}".encode()], Reason.double_bearer),
    ([f"Bearer%20{TOKEN}".encode()], Reason.url_encoded_token),
    ([f'Bearer "{TOKEN}"'.encode()], Reason.quoted_token),
    ([f"Bearer {TOKEN[:10]}\n{TOKEN[10:]}".encode()], Reason.whitespace_in_token),
    ([f"Bearer {TOKEN}".encode()] * 2, Reason.multiple_authorization_headers),
    ([f"Bearer {token_of_length(LIMIT + 1)}".encode()], Reason.token_too_large),
]


@pytest.mark.parametrize(("values", "reason"), CASES, ids=[c[1].value for c in CASES])
@pytest.mark.parametrize("level", ["minimal", "standard", "verbose"])
async def test_request_stage_reasons_through_the_middleware(
    values: list[bytes], reason: Reason, level: str
) -> None:
    calls: list[str] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        calls.append(scope["path"])

    settings = Settings(
        secret="x" * 64, algorithms=("HS256",), audience="api", diagnostics=level, realm="orders"
    )
    app = JWTAuthMiddleware(inner, settings)
    status, headers, body = await _call(app, [(b"authorization", v) for v in values])
    info = REASONS[reason]
    assert calls == []
    assert status == info.status == body["status"]
    assert body["reason"] == reason.value
    assert headers["content-type"] == "application/problem+json"
    challenge = headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="orders"')
    if info.error is None:
        assert challenge == 'Bearer realm="orders"'
    else:
        assert f'error="{info.error}"' in challenge
        assert f'error_description="{reason.value}"' in challenge
    raw = json.dumps(body)
    assert BASIC_CREDENTIALS not in raw
    assert TOKEN not in raw
