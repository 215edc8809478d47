"""docs/revocation.md's examples, run: the admin endpoint against a real redis-server,
the receiver's environment block as settings, and the custom transmitter's Security
Event Token signed and pushed to a receiver (the keys served by a real JWKS server).

The page's named example (``# docs-test: revocation-admin``) is listed in
test_docs.NAMED_EXAMPLES; its other Python blocks run there like any other.
"""

from __future__ import annotations

import json
import re
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from helpers.jwks_server import JWKSServer, public_jwk
from helpers.keys import AUDIENCE, ISSUER, Keys, public_pem
from helpers.redis_server import RedisServer
from helpers.sets import sign_set
from helpers.tokens import claims, sign
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from jwt_middleware import JWTAuthMiddleware, Settings
from jwt_middleware.settings import ENV_VARS
from jwt_middleware.values.revocationconfig import ssf_audiences

pytest.importorskip("redis", reason="the dpop-redis extra (redis-py) is not installed")

PAGE = Path(__file__).resolve().parents[2] / "docs" / "revocation.md"
_ASSIGNMENT = re.compile(r"^(JWT_[A-Z_]+)=(.*)$")
#: test_docs.py's fence: a fenced block, indented ones in list items too.
_FENCE = re.compile(r"^( *)```([\w-]*)\n(.*?)^\1```$", re.DOTALL | re.MULTILINE)
ADMIN_MARKER = "# docs-test: revocation-admin"


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with RedisServer.start(tmp_path_factory.mktemp("redis")) as server:
        yield server


def page_block(language: str, needle: str) -> str:
    """The one ``language`` block of the page that holds ``needle``, dedented."""
    (block,) = [
        textwrap.dedent(m.group(3))
        for m in _FENCE.finditer(PAGE.read_text(encoding="utf-8"))
        if m.group(2) == language and needle in m.group(3)
    ]
    return block


def middleware_of(app: Any) -> JWTAuthMiddleware:
    """The JWTAuthMiddleware instance in a FastAPI app's built middleware stack."""
    layer = app.middleware_stack
    for _ in range(20):
        if isinstance(layer, JWTAuthMiddleware):
            return layer
        layer = getattr(layer, "app", None)
    raise AssertionError("no JWTAuthMiddleware in the stack")


async def test_revocation_admin_example_runs(
    keys: Keys, redis_server: RedisServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The admin endpoint revokes a subject in the shared list: the subject's token,
    accepted before, is refused as token_revoked; a token without the scope cannot
    revoke; the response names the entry by its fingerprint, never the value."""
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    (tmp_path / "public.pem").write_text(public_pem(keys.rsa))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("JWT_PUBLIC_KEY_FILE", "public.pem")
    monkeypatch.setenv("JWT_ISSUER", ISSUER)
    monkeypatch.setenv("JWT_AUDIENCE", AUDIENCE)
    monkeypatch.setenv("JWT_REVOCATION_REDIS_URL", redis_server.url)
    namespace: dict[str, Any] = {"__name__": "docs_revocation_admin"}
    code = page_block("python", ADMIN_MARKER)
    exec(compile(code, "docs/revocation.md (revocation-admin)", "exec"), namespace)  # noqa: S102
    app = namespace["app"]
    alice = sign(claims(sub="alice-docs", iat=int(time.time()) - 5), keys.rsa)
    admin = sign(claims(sub="admin", scope="admin:revoke"), keys.rsa)
    clerk = sign(claims(sub="clerk", scope="orders:read"), keys.rsa)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as c:
        assert (await c.get("/orders", headers={"Authorization": f"Bearer {alice}"})).json() == [
            "order-1"
        ]
        denied = await c.post(
            "/admin/users/alice-docs/revoke", headers={"Authorization": f"Bearer {clerk}"}
        )
        assert denied.status_code == 403
        assert (await c.get("/orders", headers={"Authorization": f"Bearer {alice}"})).is_success
        revoked = await c.post(
            "/admin/users/alice-docs/revoke", headers={"Authorization": f"Bearer {admin}"}
        )
        assert revoked.status_code == 200, revoked.text
        body = revoked.json()
        assert body["revoked"] == "subject" and len(body["fingerprint"]) == 16
        assert "alice-docs" not in revoked.text
        refused = await c.get("/orders", headers={"Authorization": f"Bearer {alice}"})
        assert refused.status_code == 401
        assert refused.json()["reason"] == "token_revoked"
        await middleware_of(app).shutdown()


def test_the_receiver_environment_block_is_valid_settings() -> None:
    """Every variable of the page's environment block is one the package reads, and
    together they are settings that start (the receiver whole, the list set)."""
    block = page_block("sh", "JWT_SSF_PATH=")
    environ: dict[str, str] = {}
    for line in block.splitlines():
        match = _ASSIGNMENT.match(line.strip())
        assert match, f"not a VARIABLE=value line: {line!r}"
        environ[match.group(1)] = match.group(2)
    assert set(environ) <= set(ENV_VARS), sorted(set(environ) - set(ENV_VARS))
    settings = Settings.from_env(environ)
    assert settings.ssf_path == "/ssf/events"
    assert settings.revocation_redis_url == environ["JWT_REVOCATION_REDIS_URL"]
    assert settings.ssf_authorization == environ["JWT_SSF_AUTHORIZATION"]
    assert ssf_audiences(settings) == ("https://orders.example.com/ssf",)
    assert "8c4f0b5e" not in repr(settings)  # the receiver's secret is never printed
    # the HTTP example carries the same Authorization and path
    request = page_block("http", "application/secevent+jwt")
    assert f"Authorization: {environ['JWT_SSF_AUTHORIZATION']}" in request
    assert request.startswith(f"POST {environ['JWT_SSF_PATH']} HTTP/1.1")


async def test_the_custom_transmitters_event_revokes_the_session(
    keys: Keys, redis_server: RedisServer
) -> None:
    """The page's Security Event Token (its claims as written, a new iat and jti),
    signed ES256 with the header the page gives and pushed: 202, and the session's
    token is refused; pushed again, a duplicate; the receiver's configuration is the
    page's (issuer, audience, path, Authorization)."""
    document: dict[str, Any] = json.loads(page_block("json", "session-revoked"))
    environ = {
        m.group(1): m.group(2)
        for line in page_block("sh", "JWT_SSF_PATH=").splitlines()
        if (m := _ASSIGNMENT.match(line.strip()))
    }
    issuer = environ["JWT_SSF_ISSUER"]
    assert document["iss"] == issuer == document["sub_id"]["user"]["iss"]
    assert document["aud"] == environ["JWT_SSF_AUDIENCE"]
    now = int(time.time())
    document |= {"iat": now, "jti": uuid.uuid4().hex}
    transmitter_key = ec.generate_private_key(ec.SECP256R1())
    with JWKSServer() as transmitter:
        transmitter.state.keys = [public_jwk(transmitter_key, "transmitter-1", "ES256")]
        middleware = JWTAuthMiddleware(
            Starlette(routes=[Route("/orders", orders)]),
            Settings(
                public_keys=(public_pem(keys.rsa),),
                issuer=issuer,
                audience=AUDIENCE,
                revocation_redis_url=redis_server.url,
                revocation_prefix=f"docs{time.monotonic_ns()}:",
                ssf_path=environ["JWT_SSF_PATH"],
                ssf_issuer=issuer,
                ssf_audience=environ["JWT_SSF_AUDIENCE"],
                ssf_jwks_url=transmitter.jwks_url,
                ssf_authorization=environ["JWT_SSF_AUTHORIZATION"],
            ),
            registry=CollectorRegistry(),
        )
        user = document["sub_id"]["user"]["sub"]
        sid = document["sub_id"]["session"]["id"]
        token = sign(claims(iss=issuer, sub=user, sid=sid, iat=now - 5), keys.rsa)
        other_session = sign(claims(iss=issuer, sub=user, sid="another", iat=now - 5), keys.rsa)
        event = sign_set(document, transmitter_key, "ES256", kid="transmitter-1")
        headers = {
            "Authorization": environ["JWT_SSF_AUTHORIZATION"],
            "Content-Type": "application/secevent+jwt",
        }
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=middleware), base_url="https://orders.example.com"
        ) as c:
            bearer = {"Authorization": f"Bearer {token}"}
            assert (await c.get("/orders", headers=bearer)).status_code == 200
            pushed = await c.post(environ["JWT_SSF_PATH"], content=event, headers=headers)
            assert pushed.status_code == 202, pushed.text
            refused = await c.get("/orders", headers=bearer)
            assert refused.status_code == 401 and refused.json()["reason"] == "token_revoked"
            assert "session" in refused.json()["detail"]
            other = {"Authorization": f"Bearer {other_session}"}
            assert (await c.get("/orders", headers=other)).status_code == 200
            again = await c.post(environ["JWT_SSF_PATH"], content=event, headers=headers)
            assert again.status_code == 202
            unauthorized = await c.post(
                environ["JWT_SSF_PATH"],
                content=event,
                headers={"Content-Type": "application/secevent+jwt"},
            )
            assert unauthorized.status_code == 400
            assert unauthorized.json()["err"] == "authentication_failed"
        await middleware.shutdown()


async def orders(request: Request) -> JSONResponse:
    return JSONResponse(["order-1"])
