"""A real JSON logger for the log tests, an app that logs through it, and the key
fingerprints the logs and metrics show, computed here independently of the package."""

from __future__ import annotations

import hashlib
import io
import json
import logging
from typing import Any

import httpx
import structlog
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from helpers.keys import b64url
from jwt_middleware import JWTAuthMiddleware, Settings


class JsonLog:
    """A structlog logger rendering one JSON object per line into a buffer."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()
        self.logger = structlog.wrap_logger(
            structlog.PrintLogger(file=self.buffer),
            processors=[
                structlog.processors.add_log_level,
                structlog.processors.TimeStamper(fmt="iso"),
                structlog.processors.JSONRenderer(),
            ],
            # Explicit, so no global structlog configuration can filter or reshape events.
            wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
            context_class=dict,
            cache_logger_on_first_use=False,
        )
        self._mark = 0

    @property
    def text(self) -> str:
        return self.buffer.getvalue()

    def lines(self, since: int = 0) -> list[dict[str, Any]]:
        """Every line written (from offset ``since``), each parsed as one JSON object."""
        parsed = []
        for line in self.text[since:].splitlines():
            assert line.strip(), "empty log line"
            obj = json.loads(line)
            assert isinstance(obj, dict), line
            parsed.append(obj)
        return parsed

    def mark(self) -> None:
        self._mark = len(self.text)

    def new(self) -> list[dict[str, Any]]:
        """Lines written since the last mark(), then mark again."""
        found = self.lines(self._mark)
        self.mark()
        return found

    def events(self, name: str) -> list[dict[str, Any]]:
        return [line for line in self.lines() if line["event"] == name]


def make_app(
    settings: Settings,
    log: JsonLog | None = None,
    *,
    registry: CollectorRegistry | None = None,
    public_paths: tuple[str, ...] = ("/public",),
) -> JWTAuthMiddleware:
    """A small Starlette app behind the middleware, with an explicit logger and registry."""

    async def me(request: Request) -> JSONResponse:
        return JSONResponse({"sub": request.user.identity})

    async def public(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    inner = Starlette(
        routes=[
            Route("/me", me),
            Route("/admin", me),
            Route("/tenant", me),
            Route("/tenant/admin", me),
            Route("/public", public),
        ],
    )
    return JWTAuthMiddleware(
        inner,
        settings,
        public_paths=public_paths,
        # the path rules of helpers.apps.build_app, which helpers.cases.CASES assume
        path_scopes={"/admin": ["admin"], "/tenant/admin": ["admin"]},
        path_claims={"/tenant": {"tid": ["tenant-a"]}},
        logger=log.logger if log is not None else None,
        registry=registry,
    )


def client(app: JWTAuthMiddleware) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


def _int_b64(value: int, length: int | None = None) -> str:
    size = length if length is not None else (value.bit_length() + 7) // 8
    return b64url(value.to_bytes(size, "big"))


def hmac_fingerprint(secret: str | bytes) -> str:
    """An HMAC secret's fingerprint as docs/key-sources.md defines it (scrypt of the
    secret, fixed label, N=2**14, r=8, p=1, 32 bytes, base64url), computed here."""
    raw = secret.encode() if isinstance(secret, str) else secret
    derived = hashlib.scrypt(
        raw,
        salt=b"jwt_middleware HMAC key fingerprint v1",
        n=2**14,
        r=8,
        p=1,
        maxmem=64 * 1024 * 1024,
        dklen=32,
    )
    return b64url(derived)


def oct_thumbprint(secret: str | bytes) -> str:
    """The RFC 7638 thumbprint of a secret as an oct JWK: a fast hash, never to be shown."""
    raw = secret.encode() if isinstance(secret, str) else secret
    canonical = json.dumps({"k": b64url(raw), "kty": "oct"}, separators=(",", ":"))
    return b64url(hashlib.sha256(canonical.encode()).digest())


def rfc7638(private: Any) -> str:
    """The fingerprint the package shows, computed here, not by the package: the RFC 7638
    thumbprint of a public key, or for an HMAC secret :func:`hmac_fingerprint`."""
    if isinstance(private, (bytes, str)):
        return hmac_fingerprint(private)
    members: dict[str, str]
    if isinstance(private, rsa.RSAPrivateKey):
        numbers = private.public_key().public_numbers()
        members = {"e": _int_b64(numbers.e), "kty": "RSA", "n": _int_b64(numbers.n)}
    elif isinstance(private, ec.EllipticCurvePrivateKey):
        numbers_ec = private.public_key().public_numbers()
        size = (private.curve.key_size + 7) // 8
        crv = {256: "P-256", 384: "P-384", 521: "P-521"}[private.curve.key_size]
        members = {
            "crv": crv,
            "kty": "EC",
            "x": _int_b64(numbers_ec.x, size),
            "y": _int_b64(numbers_ec.y, size),
        }
    else:
        raise TypeError(type(private))
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return b64url(hashlib.sha256(canonical).digest())
