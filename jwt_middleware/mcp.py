"""MCP servers: this package's verification for the Model Context Protocol Python SDK.

The SDK (the ``mcp`` distribution, 2.x) protects a Streamable HTTP server with
a ``TokenVerifier`` (one async method, token in, ``AccessToken | None`` out)
and ``AuthSettings``. Its documentation makes that verifier the integration
surface; its own 401 says only ``invalid_token``, "Authentication required".
So both layers are used, sharing one :class:`~jwt_middleware.Verifier`:

- :class:`JWTTokenVerifier` is the SDK's ``TokenVerifier``: the SDK's auth
  middleware gets an ``AccessToken`` (subject, scopes, claims) for
  ``get_access_token()`` in tools, and binds each MCP session to the
  principal that opened it;
- :class:`~jwt_middleware.JWTAuthMiddleware` in front of the SDK's ASGI app
  answers every refused token with this package's reason, challenge and
  problem+json, logs and metrics, and serves the RFC 9728 metadata when
  ``resource`` (``JWT_RESOURCE``) is set. A token it let through is a
  verified-token cache hit when the SDK's layer asks again::

    from mcp.server import MCPServer

    from jwt_middleware import JWTAuthMiddleware, Settings
    from jwt_middleware.mcp import JWTTokenVerifier, auth_settings

    settings = Settings.from_env()  # JWT_ISSUER, JWT_AUDIENCE, JWT_RESOURCE, the keys
    token_verifier = JWTTokenVerifier(settings)
    server = MCPServer("notes", token_verifier=token_verifier, auth=auth_settings(settings))
    app = JWTAuthMiddleware(server.streamable_http_app(), verifier=token_verifier.verifier)

Requires the ``mcp`` extra of this distribution, ``asgi-jwt-bearer``
(``pip install 'asgi-jwt-bearer[mcp]'``, ``pip install -e '.[mcp]'`` in a
clone). See docs/mcp.md.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any

try:
    from mcp.server.auth.provider import AccessToken
    from mcp.server.auth.settings import AuthSettings
except ImportError as exc:  # the message says which install brings it
    raise ImportError(
        "jwt_middleware.mcp needs the MCP Python SDK, the 'mcp' extra of asgi-jwt-bearer: "
        "pip install 'asgi-jwt-bearer[mcp]' (or pip install -e '.[mcp]' in a clone)",
        name=exc.name,
    ) from exc

from .errors import ConfigurationError
from .outcome import Failure, VerifiedToken
from .request.binding import BearerBinding
from .request.presentation import AUTHORIZATION_BEARER
from .settings import Settings
from .sources import build_verifier
from .tokens.issuers import MultiIssuerVerifier
from .tokens.verifier import Verifier

__all__ = ["JWTTokenVerifier", "access_token", "auth_settings"]

#: Claims that name the OAuth client a token was issued to, in the order tried
#: (RFC 9068 ``client_id``, OpenID Connect ``azp``, Okta's ``cid``).
CLIENT_ID_CLAIMS = ("client_id", "azp", "cid")


def _resource(settings: Settings) -> str | None:
    """The configured resource URI (``resource`` / JWT_RESOURCE), if any."""
    return settings.resource or None


def _same_resource(a: str, b: str) -> bool:
    return a == b or a.rstrip("/") == b.rstrip("/")


def _audience_entry(aud: Any, settings: Settings) -> str | None:
    """The entry of ``aud`` that names this server: the configured resource, else
    the first configured audience the token carries, else a single string ``aud``."""
    if not isinstance(aud, (str, list)):
        return None
    entries = [aud] if isinstance(aud, str) else [a for a in aud if isinstance(a, str)]
    wanted = [r for r in (_resource(settings),) if r] + list(settings.audiences)
    for expected in wanted:
        for entry in entries:
            if _same_resource(entry, expected):
                return entry
    return entries[0] if len(entries) == 1 else None


def access_token(token: str, verified: VerifiedToken, settings: Settings) -> AccessToken:
    """The SDK's ``AccessToken`` for a verified token.

    ``client_id`` is the first of the ``client_id``, ``azp`` and ``cid`` claims
    (else the subject, else ``""``); ``scopes`` the token's scopes, sorted;
    ``expires_at`` its ``exp``; ``subject`` its ``sub``; ``resource`` the ``aud``
    entry naming this server; ``claims`` every verified claim.
    """
    claims = verified.claims
    client_id = next(
        (claims[name] for name in CLIENT_ID_CLAIMS if isinstance(claims.get(name), str)),
        verified.subject or "",
    )
    return AccessToken(
        token=token,
        client_id=client_id,
        scopes=sorted(verified.scopes),
        expires_at=int(verified.expires_at) if verified.expires_at is not None else None,
        resource=_audience_entry(claims.get("aud"), settings),
        subject=verified.subject,
        claims=dict(claims),
    )


def auth_settings(
    settings: Settings,
    *,
    issuer_url: str | None = None,
    required_scopes: Iterable[str] | None = None,
    service_documentation_url: str | None = None,
) -> AuthSettings:
    """The SDK's ``AuthSettings`` for a resource server verified by ``settings``.

    ``issuer_url`` defaults to the first configured issuer; ``resource_server_url``
    is ``resource`` (JWT_RESOURCE). ``validate_token_resource`` is False: the
    audience is checked by this package (``audience_mismatch``, with its hint),
    before the SDK sees the token: the configured ``audience``, else the
    ``resource`` itself, so a token for another API is refused either way. Prefer
    the middleware's ``path_scopes`` to ``required_scopes``: the SDK answers a
    missing scope with its own 403.
    """
    issuer = issuer_url or next(iter(settings.issuers), None)
    if not issuer:
        raise ConfigurationError(
            settings.render(
                "an MCP server's AuthSettings names its authorization server: set $issuer "
                "or pass issuer_url="
            )
        )
    return AuthSettings(
        issuer_url=issuer,  # type: ignore[arg-type]  # pydantic validates the string
        resource_server_url=_resource(settings),  # type: ignore[arg-type]
        required_scopes=list(required_scopes) if required_scopes is not None else None,
        service_documentation_url=service_documentation_url,  # type: ignore[arg-type]
        validate_token_resource=False,
    )


class JWTTokenVerifier:
    """The SDK's ``TokenVerifier`` protocol, backed by this package's verifier.

    ``JWTTokenVerifier(settings)`` builds the verifier the settings describe (or
    reads the environment with no argument); ``JWTTokenVerifier(verifier=...)``
    uses a :class:`Verifier` or :class:`MultiIssuerVerifier` you built, such as
    the one the middleware in front already uses. ``verify_token`` returns an
    ``AccessToken`` for a valid token and None for any other; ``last_failure``
    is the :class:`Failure` of the latest refusal, for logs of your own (the
    HTTP client only sees the SDK's generic 401 unless
    :class:`~jwt_middleware.JWTAuthMiddleware` is in front).

    A remote key source is started at the first call when nothing started it;
    an unknown ``kid`` triggers one shared refresh of the keys, as in the
    middleware. It refuses what the middleware refuses: the audience is the
    configured one, else ``resource``; the SDK hands over Bearer tokens only, so
    a DPoP-bound token is ``dpop_bound_token_as_bearer`` and ``JWT_DPOP=required``
    refuses every token (``invalid_scheme``).
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        verifier: Verifier | MultiIssuerVerifier | None = None,
    ) -> None:
        if verifier is None:
            verifier = build_verifier(settings if settings is not None else Settings.from_env())
        elif settings is not None:
            raise TypeError("pass either a verifier or settings, not both")
        self.verifier = verifier
        self.settings = verifier.settings
        self.last_failure: Failure | None = None
        self._remote = bool(verifier.remote)
        self._binding = (
            BearerBinding(bearer_ok=self.settings.dpop != "required").check
            if self.settings.dpop != "off"
            else None
        )
        self._started = False
        self._start_lock: asyncio.Lock | None = None

    async def _start(self) -> None:
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if not self._started:
                self._started = True
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        asyncio.shield(self.verifier.start()), self.settings.key_wait_timeout
                    )

    async def verify_token(self, token: str) -> AccessToken | None:
        """An ``AccessToken`` when ``token`` verifies, else None (see ``last_failure``)."""
        outcome: VerifiedToken | Failure | None = self.verifier.cached(token)
        if outcome is None:
            if self._remote and not self._started:
                await self._start()
            outcome = self.verifier.verify(token)
            if isinstance(outcome, Failure) and self.verifier.wants_refresh(outcome):
                outcome, _ = await self.verifier.refresh(token, wait=self.settings.key_wait_timeout)
        if isinstance(outcome, VerifiedToken) and self._binding is not None:
            # The SDK hands over Bearer tokens only: the middleware's binding stage refuses
            # a DPoP-bound one (a downgrade), and every one with JWT_DPOP=required.
            outcome = self._binding(token, AUTHORIZATION_BEARER, outcome, "")
        if not isinstance(outcome, VerifiedToken):
            self.last_failure = outcome
            return None
        return access_token(token, outcome, self.settings)

    async def aclose(self) -> None:
        """Stop a remote key source's refresher (when this adapter is its only user)."""
        if self._remote:
            await self.verifier.aclose()
            self._started = False
