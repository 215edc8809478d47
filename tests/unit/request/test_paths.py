"""Path rules relative to the application's root, and every spelling of a scoped path.

The property test builds deployments (a root path set by the server, a mount
in a parent app, both) and spellings of paths (dot and empty segments, letter
case, parameters, encodings left after the server decoded once), sends each
through the middleware with a token that lacks the ``admin`` scope, and
checks two oracles: Starlette's own router (the admin endpoint must never
run), and an independent normaliser (a path that any lenient layer reads as
under ``/admin`` gets 403).
"""

from __future__ import annotations

import posixpath
import re
from typing import Any
from urllib.parse import unquote

import pytest
from helpers.keys import AUDIENCE, ISSUER, Keys, public_pem
from helpers.tokens import claims, sign
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from jwt_middleware import JWTAuthMiddleware, Settings
from jwt_middleware.request.paths import PathRules, normalise, route_path

# --- route_path: Starlette's computation ------------------------------------------------


@pytest.mark.parametrize(
    ("path", "root", "expected"),
    [
        ("/admin", "", "/admin"),
        ("/api/admin", "/api", "/admin"),
        ("/api", "/api", "/"),
        ("/apiadmin", "/api", "/apiadmin"),  # not under the root: routed as it is
        ("/admin", "/api", "/admin"),  # a server that leaves root_path out of path
        ("/v1/v2/x", "/v1/v2", "/x"),
    ],
)
def test_route_path(path: str, root: str, expected: str) -> None:
    assert route_path({"path": path, "root_path": root}) == expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/a/../admin", "/admin"),
        ("/../../admin", "/admin"),
        ("//admin//x/", "/admin/x"),
        ("/./admin/.", "/admin"),
        ("/admin;jsessionid=1/x", "/admin/x"),
        ("/a\\..\\admin", "/admin"),
        ("/%2e%2e/admin%2Fx", "/admin/x"),
        ("/plain", "/plain"),
    ],
)
def test_normalise(path: str, expected: str) -> None:
    assert normalise(path) == expected


def test_rules() -> None:
    rules = PathRules(["/healthz/"], {"/admin": ["admin"], "/ADMIN/reports": ["reports"]})
    assert rules.is_public("/healthz") and rules.is_public("/healthz/live")
    assert not rules.is_public("/healthzx") and not rules.is_public("/HEALTHZ")
    assert not rules.is_public("/healthz/../admin")
    assert rules.is_public("/healthz//live")
    assert rules.required_scopes("/admin") == ("admin",)
    assert rules.required_scopes("/Admin/Reports/1") == ("reports",)  # longest prefix decides
    assert rules.required_scopes("/admin/reports/../x") == ("reports", "admin")
    assert rules.required_scopes("/administrator") == ()
    assert PathRules([], {}).enabled is False


# --- the property ------------------------------------------------------------------------

SEGMENTS = ["admin", "ADMIN", "Admin", "healthz", "x", "users", ".", "..", "", "%2e%2e", "%2F"]
PREFIXES = ["", "/api", "/v1", "/a/b"]


def lenient_reading(path: str) -> str:
    """An independent normaliser: decode, backslashes and parameters away, normpath, lower."""
    text = unquote(unquote(path)).replace("\\", "/")
    text = "/".join(seg.split(";", 1)[0] for seg in text.split("/"))
    text = re.sub("/+", "/", "/" + text)
    return posixpath.normpath(text).lower()


def under_admin(path: str) -> bool:
    reading = lenient_reading(path)
    return reading == "/admin" or reading.startswith("/admin/")


class Deployment:
    """The protected app behind a root path and/or a mount; counts admin endpoint calls."""

    def __init__(self, keys: Keys) -> None:
        self.admin_calls = 0

        async def admin(request: Request) -> JSONResponse:
            self.admin_calls += 1
            return JSONResponse({"route": "admin"})

        async def other(request: Request) -> JSONResponse:
            return JSONResponse({"route": "other"})

        inner = Starlette(
            routes=[
                Route("/admin", admin),
                Route("/admin/{rest:path}", admin),
                Route("/{rest:path}", other),
            ]
        )
        settings_ = Settings(public_keys=(public_pem(keys.rsa),), issuer=ISSUER, audience=AUDIENCE)
        self.protected = JWTAuthMiddleware(
            inner,
            settings_,
            public_paths=("/healthz",),
            path_scopes={"/admin": ["admin"]},
            registry=None,
        )
        self.token = sign(claims(scope="read"), keys.rsa)

    async def request(self, root: str, mount: str, spelled: str) -> int:
        app: Any = self.protected
        if mount:
            app = Starlette(routes=[Mount(mount, app=self.protected)])
        path = root + mount + spelled
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode("utf-8", "surrogateescape"),
            "root_path": root,
            "query_string": b"",
            "headers": [(b"authorization", f"Bearer {self.token}".encode())],
            "server": ("127.0.0.1", 80),
            "client": ("127.0.0.1", 5000),
        }
        statuses: list[int] = []

        async def receive() -> Any:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Any) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        await app(scope, receive, send)
        return statuses[0]


spellings = st.builds(
    lambda segs, trailing, param: (
        "/" + "/".join(segs) + (";p=1" if param else "") + ("/" if trailing else "")
    ),
    st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=6),
    st.booleans(),
    st.booleans(),
)


@pytest.fixture(scope="module")
def deployment(keys: Keys) -> Deployment:
    return Deployment(keys)


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(root=st.sampled_from(PREFIXES), mount=st.sampled_from(PREFIXES), spelled=spellings)
async def test_no_spelling_reaches_the_scoped_route_without_its_scope(
    deployment: Deployment, root: str, mount: str, spelled: str
) -> None:
    before = deployment.admin_calls
    status = await deployment.request(root, mount, spelled)
    assert deployment.admin_calls == before, f"{root!r} {mount!r} {spelled!r} reached admin"
    if under_admin(spelled):
        assert status == 403, (root, mount, spelled, status)
