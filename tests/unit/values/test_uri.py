"""jwt_middleware.values.uri: a request's URI and origin from validated parts.

Each function on the inputs that matter (the Host header as an RFC 3986 authority,
URLs, percent-encoding and dot segments, the raw path under a root path and in a
mounted app), then Hypothesis: none of them raises on arbitrary text or bytes, and
what they return has the documented shape (a Host holding a delimiter is never an
origin, a normalised path is normalised again unchanged, a parsed URL printed and
parsed again is itself).

Two cases found by these tests stay here: a path holding a lone surrogate is answered,
never raised, and a root_path the server left out of ``path`` (hypercorn) is put back
when ``raw_path`` is sent too, so a proof for the public URL passes.

Over real uvicorn processes: tests/servers/test_hardening_uvicorn.py (part 2).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from helpers.apps import build_app
from helpers.dpop import proof, public_jwk, thumbprint
from helpers.keys import AUDIENCE, ISSUER, Keys, public_pem
from helpers.tokens import claims, sign
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Mount
from starlette.types import Receive, Scope, Send

from jwt_middleware import Settings
from jwt_middleware.values.uri import (
    MAX_AUTHORITY,
    MAX_URL,
    Origin,
    Target,
    header,
    normalize_path,
    parse_authority,
    parse_origin,
    parse_url,
    request_origin,
    request_path,
    request_target,
)

PROPS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
#: Every character a normalised path may hold (RFC 3986 pchar, "/" and "%" escapes).
PATH_CHARS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@/%"
)


def scope(
    path: str = "/me",
    *,
    raw_path: bytes | None = None,
    root_path: str = "",
    scheme: str = "http",
    headers: list[tuple[bytes, bytes]] | None = None,
    server: tuple[str, int | None] | None = ("127.0.0.1", 8000),
) -> dict[str, Any]:
    """An ASGI scope as uvicorn builds one (``raw_path`` defaults to ``path``)."""
    return {
        "type": "http",
        "scheme": scheme,
        "path": path,
        "raw_path": path.encode() if raw_path is None else raw_path,
        "root_path": root_path,
        "headers": [(b"host", b"api.example")] if headers is None else headers,
        "server": server,
    }


def target(url: str) -> Target:
    parsed = parse_url(url)
    assert isinstance(parsed, Target), parsed
    return parsed


# --- parse_authority ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("api.example", ("api.example", None)),
        ("API.Example:8080", ("api.example", 8080)),
        ("127.0.0.1:80", ("127.0.0.1", 80)),
        ("localhost:65535", ("localhost", 65535)),
        ("h:1", ("h", 1)),
        ("h:080", ("h", 80)),
        ("[::1]:8443", ("[::1]", 8443)),
        ("[2001:DB8::1]", ("[2001:db8::1]", None)),
        ("a-b_c~d.example", ("a-b_c~d.example", None)),
    ],
)  # fmt: skip
def test_parse_authority(text: str, expected: tuple[str, int | None]) -> None:
    assert parse_authority(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "api.example/files/harmless.txt?",  # the finding: a path and a query in Host
        "api.example/files/harmless.txt#",
        "api.example/",
        "api.example?",
        "api.example#",
        "user@api.example",
        "api.example /x",
        " api.example",
        "api.example%2F",
        "api.example:",  # an empty port
        "api.example:0",
        "api.example:65536",
        "api.example:99999",
        "api.example:123456",
        "api.example:-1",
        "api.example:+80",
        "api.example:80:81",
        "api.example:8a",
        "[::1",
        "[1]",  # not an IPv6 literal
        "[::1]x",
        "[fe80::1%25eth0]",  # no zone ids
        "café.example",
        "api.example\r\nx: y",
        "a" * (MAX_AUTHORITY + 1),
        "h" * 254,  # a host name is at most 253 characters
    ],
)
def test_parse_authority_refuses(text: str) -> None:
    assert parse_authority(text) is None


# --- normalize_path -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("", "/"),
        ("/", "/"),
        ("/me", "/me"),
        ("/a%2fb", "/a%2Fb"),  # an encoded delimiter stays encoded, in upper case
        ("/me%3Fx", "/me%3Fx"),
        ("/me%23x", "/me%23x"),
        ("/%7Euser/%41", "/~user/A"),  # unreserved characters are decoded
        ("/a b", "/a%20b"),
        ("/café", "/caf%C3%A9"),  # UTF-8, percent-encoded
        ("/caf%c3%a9", "/caf%C3%A9"),
        ("/caf\udcc3\udca9", "/caf%C3%A9"),  # bytes kept by surrogateescape
        ("/a?b", "/a%3Fb"),  # a path handed over holds no query
        ("/x/..y/.z", "/x/..y/.z"),  # not dot segments
    ],
)  # fmt: skip
def test_normalize_path(path: str, expected: str) -> None:
    assert normalize_path(path, dot_segments="refuse") == expected
    assert normalize_path(path, dot_segments="resolve") == expected


@pytest.mark.parametrize(
    ("path", "resolved"),
    [
        ("/x/../me", "/me"),
        ("/./me", "/me"),
        ("/me/.", "/me/"),
        ("/me/./", "/me/"),
        ("/a/b/..", "/a/"),
        ("/../../me", "/me"),
        ("/x/%2e%2e/me", "/me"),  # encoded dots are unreserved: decoded, then segments
        ("/x/%2E/me", "/x/me"),
    ],
)
def test_dot_segments_resolved_or_refused(path: str, resolved: str) -> None:
    assert normalize_path(path, dot_segments="resolve") == resolved
    assert normalize_path(path, dot_segments="refuse") is None


@pytest.mark.parametrize("path", ["me", "%2Fme", "/a%", "/a%4", "/a%zz", "/a%%41", "/%g0"])
def test_normalize_path_refuses(path: str) -> None:
    assert normalize_path(path, dot_segments="resolve") is None


# --- parse_url ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://h", "http://h/"),
        ("HTTP://H:80/a", "http://h/a"),
        ("https://h:443/a", "https://h/a"),
        ("http://h:8080/a", "http://h:8080/a"),
        ("http://h?x=1", "http://h/"),
        ("http://h#frag", "http://h/"),
        ("http://h/a?x#y", "http://h/a"),
        ("http://h/files/harmless.txt?/me", "http://h/files/harmless.txt"),
        ("http://h/a%3Fb", "http://h/a%3Fb"),
        ("http://h/a/../b", "http://h/b"),
        ("http://[::1]:8080/x", "http://[::1]:8080/x"),
        ("http://h/%7e", "http://h/~"),
    ],
)  # fmt: skip
def test_parse_url(url: str, expected: str) -> None:
    assert str(target(url)) == expected


def test_parse_url_parts() -> None:
    assert target("https://API.example:8443/v1/x?y") == Target(
        Origin("https", "api.example", 8443), "/v1/x"
    )
    assert target("http://h/%C3%A9") == target("http://h/é")
    assert target("http://h/a%2Fb") != target("http://h/a/b")
    assert target("http://h/me%3F") != target("http://h/me")


@pytest.mark.parametrize(
    "url",
    [
        "",
        "/relative",
        "h/path",
        "ftp://h/a",
        "ws://h/a",
        "http:/h/a",
        "http://",
        "http://user@h/a",
        "http://user:pw@h/a",
        "http://h:/a",
        "http://h:0/a",
        "http://h:99999/",
        "http://h /a",
        "http://h%2F/a",
        "http://h/%zz",
        "http://" + "h" * MAX_URL,
    ],
)
def test_parse_url_refuses(url: str) -> None:
    why = parse_url(url)
    assert isinstance(why, str) and why


def test_parse_url_refuses_dot_segments_when_asked() -> None:
    assert isinstance(parse_url("http://h/x/../me", dot_segments="refuse"), str)
    assert str(target("http://h/x/../me")) == "http://h/me"


# --- headers and origins --------------------------------------------------------------------


def test_header_takes_the_last_value_and_counts() -> None:
    headers = [(b"host", b"a"), (b"Host", b"b\xe9"), (b"x", b"c")]
    assert header(headers, b"host") == ("b\xe9", 2)
    assert header(headers, b"origin") == (None, 0)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://app.example.com", Origin("https", "app.example.com", 443)),
        ("HTTPS://App.Example.com:443", Origin("https", "app.example.com", 443)),
        ("http://127.0.0.1:8000", Origin("http", "127.0.0.1", 8000)),
        ("http://[::1]:3000", Origin("http", "[::1]", 3000)),
        ("null", None),
        ("", None),
        ("https://app.example.com/", None),  # an Origin has no path
        ("https://app.example.com/form", None),
        ("ftp://app.example.com", None),
        ("app.example.com", None),
        ("https://user@app.example.com", None),
        ("https://" + "a" * 400, None),
    ],
)  # fmt: skip
def test_parse_origin(value: str, expected: Origin | None) -> None:
    assert parse_origin(value) == expected


def test_origin_as_text() -> None:
    assert str(Origin("https", "a.example", 443)) == "https://a.example"
    assert str(Origin("http", "a.example", 8080)) == "http://a.example:8080"
    assert str(Target(Origin("http", "a.example", 80), "/x")) == "http://a.example/x"


# --- request_origin -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scheme", "host", "expected"),
    [
        ("http", b"api.example", Origin("http", "api.example", 80)),
        ("https", b"API.example:8443", Origin("https", "api.example", 8443)),
        ("ws", b"api.example", Origin("http", "api.example", 80)),
        ("wss", b"api.example", Origin("https", "api.example", 443)),
        ("http", b"[::1]:8000", Origin("http", "[::1]", 8000)),
    ],
)  # fmt: skip
def test_request_origin(scheme: str, host: bytes, expected: Origin) -> None:
    assert request_origin(scope(scheme=scheme, headers=[(b"host", host)])) == expected


@pytest.mark.parametrize(
    "host",
    [
        b"api.example/files/harmless.txt?",
        b"api.example/files/harmless.txt#",
        b"user@api.example",
        b"api.example /x",
        b"api.example:",
        b"api.example:0",
        b"api.example:99999",
        b"",
        b"api.\xe9xample",
    ],
)
def test_request_origin_refuses_a_host_that_is_not_an_authority(host: bytes) -> None:
    why = request_origin(scope(headers=[(b"host", host)]))
    assert isinstance(why, str) and "Host header" in why


def test_request_origin_refuses_two_host_headers() -> None:
    why = request_origin(scope(headers=[(b"host", b"a.example"), (b"host", b"a.example")]))
    assert why == "the request carries 2 Host headers"


def test_request_origin_without_a_host_header_is_the_servers_address() -> None:
    assert request_origin(scope(headers=[], server=("10.0.0.5", 8000))) == Origin(
        "http", "10.0.0.5", 8000
    )
    assert request_origin(scope(headers=[], server=("::1", 8000))) == Origin("http", "[::1]", 8000)
    assert request_origin(scope(headers=[], server=("/run/app.sock", None))) == (
        "its Host header is not a host name or address with an optional port"
    )
    assert request_origin(scope(headers=[], server=None)) == "the request has no Host header"
    assert isinstance(request_origin(scope(scheme="ftp")), str)


# --- request_path and request_target --------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"path": "/me"}, "/me"),
        ({"path": "/me?x", "raw_path": b"/me%3Fx"}, "/me%3Fx"),
        ({"path": "/a/b", "raw_path": b"/a%2Fb"}, "/a%2Fb"),
        ({"path": "/me", "raw_path": b"/me?page=2"}, "/me"),  # a raw_path with its query
        ({"path": "/café", "raw_path": b"/caf%C3%A9"}, "/caf%C3%A9"),
        # uvicorn --root-path /api: path has the root in front, raw_path is what was sent.
        ({"path": "/api/me", "raw_path": b"/me", "root_path": "/api"}, "/api/me"),
        ({"path": "/api/a/b", "raw_path": b"/a%2Fb", "root_path": "/api"}, "/api/a%2Fb"),
        # A Mount: root_path grows, path and raw_path stay whole.
        ({"path": "/v1/me", "raw_path": b"/v1/me", "root_path": "/v1"}, "/v1/me"),
        # No raw_path (another server): path encoded again, root_path put in front.
        ({"path": "/me?x", "raw_path": None}, "/me%3Fx"),
        ({"path": "/me", "raw_path": None, "root_path": "/api"}, "/api/me"),
        ({"path": "/api/me", "raw_path": None, "root_path": "/api"}, "/api/me"),
    ],
)  # fmt: skip
def test_request_path(kwargs: dict[str, Any], expected: str) -> None:
    values = scope(**{k: v for k, v in kwargs.items() if k != "raw_path"})
    if "raw_path" in kwargs:
        if kwargs["raw_path"] is None:
            del values["raw_path"]
        else:
            values["raw_path"] = kwargs["raw_path"]
    assert request_path(values) == expected


@pytest.mark.parametrize(
    ("path", "raw_path", "root_path"),
    [
        ("/me", b"/other", ""),
        ("/api/me", b"/me", ""),  # a prefix no root_path accounts for
        ("/api/me", b"/me", "/v2"),
    ],
)
def test_request_path_refuses_a_raw_path_that_disagrees(
    path: str, raw_path: bytes, root_path: str
) -> None:
    assert request_path(scope(path, raw_path=raw_path, root_path=root_path)) is None


def test_request_target() -> None:
    assert request_target(scope("/v1/me", headers=[(b"host", b"api.example:8000")])) == (
        Target(Origin("http", "api.example", 8000), "/v1/me")
    )
    got = request_target(scope("/me?x", raw_path=b"/me%3Fx", scheme="https"))
    assert got == Target(Origin("https", "api.example", 443), "/me%3Fx")


@pytest.mark.parametrize(
    ("values", "why"),
    [
        (scope("/x/../me"), "'.' or '..' segment"),
        (scope("/x/../me", raw_path=b"/x/%2e%2e/me"), "'.' or '..' segment"),
        (scope("/me", raw_path=b"/me%"), "raw path and path disagree"),
        (scope("/me", raw_path=b"/other"), "raw path and path disagree"),
        (scope(headers=[(b"host", b"api.example/files/harmless.txt?")]), "Host header"),
        (scope(headers=[(b"host", b"a"), (b"host", b"b")]), "2 Host headers"),
    ],
)
def test_request_target_refuses(values: dict[str, Any], why: str) -> None:
    got = request_target(values)
    assert isinstance(got, str) and why in got


def test_a_root_path_left_out_of_path_is_put_back_with_or_without_raw_path() -> None:
    hypercorn = scope("/me", raw_path=b"/me", root_path="/api")
    without_raw = {k: v for k, v in hypercorn.items() if k != "raw_path"}
    assert request_path(without_raw) == "/api/me"
    assert request_path(hypercorn) == "/api/me"


async def test_a_proof_for_the_public_url_behind_a_root_path_left_out_of_path(
    keys: Keys,
) -> None:
    """Through the middleware, a scope as hypercorn builds it behind a proxy that strips
    ``/api``: the client signs the URL it requested, ``http://api.example/api/me``."""
    settings = Settings(public_keys=(public_pem(keys.rsa),), issuer=ISSUER, audience=AUDIENCE)
    harness = build_app(settings, public_paths=())
    token = sign(claims(cnf={"jkt": thumbprint(public_jwk(keys.ec256))}), keys.rsa)
    p = proof(keys.ec256, url="http://api.example/api/me", token=token)
    headers = [
        (b"host", b"api.example"),
        (b"authorization", f"DPoP {token}".encode()),
        (b"dpop", p.encode()),
    ]
    messages = await asgi_call(
        harness.app, scope("/me", raw_path=b"/me", root_path="/api"), headers
    )
    start = messages[0]
    assert start["status"] == 200, messages
    assert harness.calls == ["/me"]


async def asgi_call(
    app: Any, values: dict[str, Any], headers: list[tuple[bytes, bytes]]
) -> list[dict[str, Any]]:
    """A GET with ``values`` as its scope straight into ``app``: the messages it sent."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    full = {
        **values,
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 1234),
    }
    await app(full, receive, send)
    return sent


async def test_request_target_in_a_mounted_app_sees_the_whole_path() -> None:
    """A real Starlette Mount and httpx's ASGI transport (its raw_path holds the query)."""
    seen: list[Target | str] = []

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(request_target(scope))
        await JSONResponse({})(scope, receive, send)

    parent = Starlette(routes=[Mount("/v1", app=inner)])
    transport = httpx.ASGITransport(app=parent)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.example") as client:
        assert (await client.get("/v1/files/a%3Fb?page=2")).status_code == 200
    assert seen == [Target(Origin("http", "api.example", 80), "/v1/files/a%3Fb")]


# --- properties: nothing raises, the shapes hold ---------------------------------------------

authority_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=40) | st.from_regex(
    r"[a-zA-Z0-9.\[\]:@/?#% -]{0,30}", fullmatch=True
)
url_text = st.text(max_size=80) | st.builds(
    "".join,
    st.lists(
        st.sampled_from(["http://", "https://", "h", ":", "80", "/", "?", "#", "@", "%", "2F",
                         ".", "..", "[", "::1", "]", " ", "é", "%2e"]),
        max_size=12,
    ),
)  # fmt: skip
#: A path as a server decodes it (a str of Unicode characters).
decoded_path = st.text(max_size=60) | st.builds(
    "".join,
    st.lists(st.sampled_from(["/", ".", "..", "%", "2e", "2F", "3f", "a", "é", "?", "#", " "]),
             max_size=16),
)  # fmt: skip
#: Also arbitrary bytes kept by surrogateescape (normalize_path's documented input).
path_text = decoded_path | st.binary(max_size=40).map(
    lambda b: b.decode("utf-8", "surrogateescape")
)


@PROPS
@given(text=authority_text)
@example(text="api.example/files/harmless.txt?")
def test_parse_authority_never_raises(text: str) -> None:
    parsed = parse_authority(text)
    if parsed is not None:
        host, port = parsed
        assert host == host.lower() and not set(host) & set("/?#@% ")
        assert port is None or 0 < port < 65536


@PROPS
@given(text=url_text)
def test_parse_url_never_raises_and_round_trips(text: str) -> None:
    parsed = parse_url(text)
    if isinstance(parsed, str):
        assert parsed
        return
    assert parsed.origin.scheme in ("http", "https")
    assert parsed.path.startswith("/") and PATH_CHARS.issuperset(parsed.path)
    assert parse_url(str(parsed)) == parsed


@PROPS
@given(path=path_text, dots=st.sampled_from(["resolve", "refuse"]))
def test_normalize_path_never_raises_and_is_idempotent(path: str, dots: str) -> None:
    normalized = normalize_path(path, dot_segments=dots)
    if normalized is None:
        return
    assert normalized.startswith("/") and PATH_CHARS.issuperset(normalized)
    assert normalize_path(normalized, dot_segments=dots) == normalized
    segments = normalized.split("/")
    assert "." not in segments and ".." not in segments


@PROPS
@given(value=authority_text)
def test_parse_origin_never_raises(value: str) -> None:
    origin = parse_origin(value)
    assert origin is None or origin.scheme in ("http", "https")
    assert parse_origin(f"https://{value}") in (None, parse_origin(f"HTTPS://{value}"))


scopes = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["http", "websocket"]),
        "scheme": st.sampled_from(["http", "https", "ws", "wss", "ftp", ""]) | st.text(max_size=5),
        "path": decoded_path,
        "root_path": st.sampled_from(["", "/api", "/v1/v2"]) | st.text(max_size=10),
        "headers": st.lists(
            st.tuples(st.sampled_from([b"host", b"Host", b"origin", b"x"]) | st.binary(max_size=8),
                      st.binary(max_size=40)),
            max_size=4,
        ),
        "server": st.none() | st.tuples(st.text(max_size=20), st.none() | st.integers(0, 70000)),
    },
    optional={"raw_path": st.binary(max_size=60)},
)  # fmt: skip


@PROPS
@given(values=scopes)
def test_request_functions_never_raise(values: dict[str, Any]) -> None:
    origin = request_origin(values)
    assert isinstance(origin, (Origin, str))
    sent = request_path(values)
    assert sent is None or isinstance(sent, str)
    got = request_target(values)
    if isinstance(got, str):
        assert got
        return
    assert got.origin == origin
    assert got.path.startswith("/") and PATH_CHARS.issuperset(got.path)
    assert "." not in got.path.split("/") and ".." not in got.path.split("/")


@PROPS
@given(
    host=st.text(min_size=1, max_size=20),
    delimiter=st.sampled_from(["/", "?", "#", "@", " ", "%", "\\"]),
    rest=st.text(max_size=20),
)
def test_a_host_with_a_delimiter_is_never_an_origin(host: str, delimiter: str, rest: str) -> None:
    value = (host + delimiter + rest).encode("utf-8", "surrogatepass")
    assert isinstance(request_origin(scope(headers=[(b"host", value)])), str)


@pytest.mark.parametrize(
    "values",
    [
        {"type": "http", "scheme": "http", "path": "/\udc80", "headers": [(b"host", b"h")]},
        scope("/\udc80/me", raw_path=b"/me", root_path="/\udc80"),
    ],
    ids=["no-raw-path", "root-path"],
)
def test_a_path_with_a_lone_surrogate_does_not_raise(values: dict[str, Any]) -> None:
    """ASGI servers decode the path from UTF-8; one that keeps undecodable bytes with
    surrogateescape and sends no raw_path hands over such a path. The module promises
    never to raise on bad input."""
    got = request_target(values)
    assert isinstance(got, (Target, str))
