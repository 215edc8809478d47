"""OAuth 2.0 Protected Resource Metadata (RFC 9728), built from the verifying settings.

With ``JWT_RESOURCE`` set (``Settings(resource=...)``: this API's resource
identifier, RFC 8707 / RFC 9728), the middleware serves this document at its
well-known URL and every challenge carries ``resource_metadata="<url>"``
(RFC 9728 section 5.1). The pieces are usable on their own::

    doc = MetadataDocument.from_settings(settings, path_scopes={"/admin": ["admin"]})
    doc.well_known_url   # https://api.example.com/.well-known/oauth-protected-resource/mcp
    doc.well_known_path  # /.well-known/oauth-protected-resource/mcp
    doc.document()       # the JSON object, a dict
    doc.body()           # the same, as the bytes served
    Route(doc.well_known_path, doc)  # the document is an ASGI app, for a parent app

``MetadataDocument.for_verifier(verifier, path_scopes=...)`` does the same
for a :class:`~jwt_middleware.tokens.verifier.Verifier` or a
:class:`~jwt_middleware.tokens.issuers.MultiIssuerVerifier`: the issuers of every
verifier, and, with discovery and no configured issuer, the discovered one
once the discovery document has been fetched.

The members, and where each comes from:

- ``resource``: ``settings.resource`` exactly as configured (RFC 9728
  section 3.3: identical to the identifier the well-known URL was derived from).
- ``authorization_servers``: the configured issuers that are http(s) URLs
  (RFC 8414 issuer identifiers), an Entra ID ``{tenantid}`` template expanded
  per allowed tenant; with discovery and no issuer, the discovered issuer.
  Omitted when there is none (it is optional).
- ``scopes_supported``: every scope a route requires: those of
  ``path_scopes``, then those of the app's FastAPI ``require_scopes``
  dependencies, then ``settings.resource_scopes``, each once; omitted when
  empty. With ``scope_claims`` naming role claims, these are the values the
  API checks in them.
- ``required_claims`` (an extension, RFC 9728 section 2 allows them): the
  names of the claims a route's claim rule requires (``path_claims``, the
  FastAPI ``require_claims`` dependencies), each once; omitted when none. The
  accepted values (tenants, clients) are not published: who may call is not
  the business of whoever reads the document.
- ``bearer_methods_supported``: the RFC 6750 methods among the token
  locations: ``header`` for a header location, ``query`` for a query
  parameter named ``access_token`` (RFC 6750 section 2.3 names it; a
  parameter of another name is not that method). Cookies are not an RFC 6750
  method and are left out; a cookie-only configuration publishes ``[]`` ("no
  bearer method", RFC 9728 section 2).
- ``resource_name``, ``resource_documentation``: from the settings when set.

The app's FastAPI dependencies are found on the first request for the document
(``scope["app"]``, the application Starlette hands the middleware): each route's
dependencies, and theirs, are looked through for the requirements that
``require_scopes`` and ``require_claims`` attach to the dependency they make
(:data:`REQUIREMENTS`). Routes added after that first request are not seen.

``resource_signing_alg_values_supported`` is not published: RFC 9728 defines
it as the algorithms the resource signs its *responses* with, which this
middleware does not do; the algorithms tokens are verified with are not
that (and are the authorization server's to publish).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, NamedTuple
from urllib.parse import urlsplit

from starlette.types import Receive, Scope, Send

from ..errors import ConfigurationError
from ..settings import Settings
from ..tokens.issuers import MultiIssuerVerifier
from ..tokens.verifier import Verifier
from ..values.idpnames import TENANT_PLACEHOLDER
from ..values.locationspec import parse_locations
from ..values.resourceid import check_resource as check_resource  # re-exported
from ..values.resourceid import check_url as check_url
from .paths import PathRules, route_path
from .responses import resource_metadata_param

WELL_KNOWN: Final = "/.well-known/oauth-protected-resource"
"""The RFC 9728 well-known URI string (section 3)."""
CONTENT_TYPE: Final = "application/json"
#: How long clients and caches may keep the document (it changes only with a restart).
MAX_AGE: Final = 3600


def well_known_path(resource: str) -> str:
    """The path of the metadata URL for ``resource`` (RFC 9728 section 3.1).

    The well-known string goes between the host and the resource's path; a
    terminating slash of the path is removed first: ``https://h/mcp`` and
    ``https://h/mcp/`` give ``/.well-known/oauth-protected-resource/mcp``,
    ``https://h`` and ``https://h/`` give ``/.well-known/oauth-protected-resource``.
    """
    path = urlsplit(resource).path
    if path.endswith("/"):
        path = path[:-1]
    return WELL_KNOWN + path


def well_known_url(resource: str) -> str:
    """The metadata URL for ``resource``: its scheme and authority, then :func:`well_known_path`."""
    parts = urlsplit(resource)
    return f"{parts.scheme}://{parts.netloc}{well_known_path(resource)}"


def _issuer_urls(issuers: Iterable[str], tenants: Iterable[str]) -> list[str]:
    tenant_ids = [t.strip() for t in tenants if t.strip()]
    out: list[str] = []
    for issuer in issuers:
        at = issuer.lower().find(TENANT_PLACEHOLDER)
        if at >= 0:
            end = at + len(TENANT_PLACEHOLDER)
            out.extend(issuer[:at] + tid + issuer[end:] for tid in tenant_ids)
        else:
            out.append(issuer)
    return [i for i in dict.fromkeys(out) if urlsplit(i).scheme.lower() in ("https", "http")]


def bearer_methods(locations: Iterable[str]) -> list[str]:
    """The RFC 6750 methods among token ``locations`` (``header``, ``query``), in order."""
    methods: list[str] = []
    for location in parse_locations(locations):
        if location.kind == "header":
            method = "header"
        elif location.kind == "query" and location.name == "access_token":
            method = "query"
        else:
            continue  # a cookie, or a query parameter RFC 6750 does not name
        if method not in methods:
            methods.append(method)
    return methods


class RouteRequirements(NamedTuple):
    """What routes require of a token, besides ``path_scopes``: scopes, claim names."""

    scopes: tuple[str, ...] = ()
    claims: tuple[str, ...] = ()

    def merged(self, other: RouteRequirements) -> RouteRequirements:
        """These and ``other``'s, each once, in order."""
        return RouteRequirements(
            tuple(dict.fromkeys((*self.scopes, *other.scopes))),
            tuple(dict.fromkeys((*self.claims, *other.claims))),
        )


#: The attribute a dependency made by ``require_scopes`` or ``require_claims`` carries:
#: a :class:`RouteRequirements` (jwt_middleware.fastapi sets it).
REQUIREMENTS: Final = "jwt_requirements"
#: How many routes and dependencies :func:`app_requirements` looks at, at most.
MAX_WALK: Final = 10_000


#: Where a route's requirements can be, from an application down (Starlette's routes and
#: mounts, FastAPI's routes, routers, included routers and their dependencies).
_CHILDREN: Final = (
    "routes",
    "router",
    "app",
    "original_router",
    "include_context",
    "dependant",
    "dependencies",
)


def app_requirements(*apps: object) -> RouteRequirements:
    """The requirements carried by the dependencies of the routes of ``apps`` (FastAPI's
    ``route.dependant`` trees, routers' and included routers' dependencies, mounted
    apps, the apps a middleware wraps), each once; nothing for an app without them.
    Each object is looked at once, at most :data:`MAX_WALK` of them."""
    found = RouteRequirements()
    stack: list[object] = [app for app in reversed(apps) if app is not None]
    seen: set[int] = set()
    while stack and len(seen) < MAX_WALK:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for made in (getattr(node, "call", None), getattr(node, "dependency", None)):
            marked = getattr(made, REQUIREMENTS, None)
            if isinstance(marked, RouteRequirements):
                found = found.merged(marked)
        for name in _CHILDREN:
            child = getattr(node, name, None)
            if isinstance(child, (list, tuple)):
                stack.extend(reversed(child))
            elif child is not None:
                stack.append(child)
    return found


@dataclass(frozen=True, slots=True)
class MetadataDocument:
    """The protected resource metadata of one resource (see the module docstring)."""

    resource: str
    authorization_servers: tuple[str, ...] = ()
    scopes_supported: tuple[str, ...] = ()
    bearer_methods_supported: tuple[str, ...] = ("header",)
    resource_name: str | None = None
    resource_documentation: str | None = None
    #: RFC 9728 section 2: the DPoP proof algorithms accepted (empty: DPoP off) and
    #: whether every token must be DPoP-bound (``JWT_DPOP=required``).
    dpop_signing_alg_values_supported: tuple[str, ...] = ()
    dpop_bound_access_tokens_required: bool = False
    #: The names of the claims some route's claim rule requires (an extension member).
    required_claims: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_resource(self.resource)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        path_scopes: Mapping[str, Iterable[str]] | None = None,
        issuers: Iterable[str] | None = None,
        required: RouteRequirements | None = None,
    ) -> MetadataDocument:
        """The document ``settings`` describe (``settings.resource`` must be set).

        ``path_scopes``: the middleware's, whose scopes are listed first.
        ``issuers``: instead of ``settings.issuers`` (several verifiers, a
        discovered issuer). ``required``: the scopes and claims routes require
        besides ``path_scopes`` (``path_claims``, the FastAPI dependencies).
        """
        if not settings.resource:
            raise ConfigurationError(settings.render("protected resource metadata needs $resource"))
        scopes: list[str] = []
        for needed in (path_scopes or {}).values():
            scopes.extend(needed.split() if isinstance(needed, str) else needed)
        if required is not None:
            scopes.extend(required.scopes)
        scopes.extend(settings.supported_scopes)
        return cls(
            resource=settings.resource,
            authorization_servers=tuple(
                _issuer_urls(settings.issuers if issuers is None else issuers, settings.tenants)
            ),
            scopes_supported=tuple(dict.fromkeys(s for s in scopes if s)),
            bearer_methods_supported=tuple(bearer_methods(settings.locations)),
            resource_name=settings.resource_name,
            resource_documentation=settings.resource_documentation,
            dpop_signing_alg_values_supported=()
            if settings.dpop == "off"
            else tuple(settings.dpop_allowed_algorithms),
            dpop_bound_access_tokens_required=settings.dpop == "required",
            required_claims=tuple(dict.fromkeys(required.claims)) if required else (),
        )

    @classmethod
    def for_verifier(
        cls,
        verifier: Verifier | MultiIssuerVerifier,
        *,
        path_scopes: Mapping[str, Iterable[str]] | None = None,
        required: RouteRequirements | None = None,
    ) -> MetadataDocument:
        """The document for a verifier's settings, with the issuers of all its verifiers
        (a :class:`MultiIssuerVerifier`'s), or the discovered issuer once known."""
        return cls.from_settings(
            verifier.settings,
            path_scopes=path_scopes,
            issuers=issuers_of(verifier),
            required=required,
        )

    @property
    def well_known_path(self) -> str:
        """The host-relative path the document is served at (RFC 9728 section 3.1)."""
        return well_known_path(self.resource)

    @property
    def well_known_url(self) -> str:
        """The absolute URL of the document: the challenges' ``resource_metadata``."""
        return well_known_url(self.resource)

    def document(self) -> dict[str, Any]:
        """The metadata as a JSON object; optional members only when they have a value."""
        doc: dict[str, Any] = {"resource": self.resource}
        if self.authorization_servers:
            doc["authorization_servers"] = list(self.authorization_servers)
        if self.scopes_supported:
            doc["scopes_supported"] = list(self.scopes_supported)
        doc["bearer_methods_supported"] = list(self.bearer_methods_supported)
        if self.resource_name:
            doc["resource_name"] = self.resource_name
        if self.resource_documentation:
            doc["resource_documentation"] = self.resource_documentation
        if self.dpop_signing_alg_values_supported:
            doc["dpop_signing_alg_values_supported"] = list(self.dpop_signing_alg_values_supported)
        if self.dpop_bound_access_tokens_required:
            doc["dpop_bound_access_tokens_required"] = True
        if self.required_claims:
            doc["required_claims"] = list(self.required_claims)
        return doc

    def body(self) -> bytes:
        """:meth:`document` as the UTF-8 JSON served."""
        return json.dumps(self.document(), separators=(",", ":")).encode("utf-8")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The document as an ASGI app, for a parent app that routes the well-known
        path itself: ``Route(doc.well_known_path, doc)``."""
        await respond(scope, send, self.body())


async def respond(scope: Scope, send: Send, body: bytes, *, max_age: int | None = MAX_AGE) -> None:
    """Send the document ``body``: GET and HEAD, 204 to OPTIONS (CORS preflight), 405
    otherwise. Any origin may read it (``Access-Control-Allow-Origin: *``: browser-based
    clients fetch it cross-origin); ``max_age`` None sends ``Cache-Control: no-cache``."""
    method = scope.get("method", "GET")
    headers = [(b"access-control-allow-origin", b"*")]
    if method in ("GET", "HEAD"):
        status = 200
        headers += [
            (b"content-type", CONTENT_TYPE.encode()),
            (b"content-length", str(len(body)).encode()),
            (
                b"cache-control",
                b"no-cache" if max_age is None else b"public, max-age=%d" % max_age,
            ),
        ]
        if method == "HEAD":
            body = b""
    else:
        status, body = (204 if method == "OPTIONS" else 405), b""
        headers += [
            (b"allow", b"GET, HEAD, OPTIONS"),
            (b"access-control-allow-methods", b"GET, HEAD, OPTIONS"),
            (b"content-length", b"0"),
        ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def issuers_of(verifier: Verifier | MultiIssuerVerifier) -> tuple[str, ...]:
    """The issuers a verifier accepts: configured ones, else a discovered one (once known)."""
    verifiers = verifier.verifiers if isinstance(verifier, MultiIssuerVerifier) else (verifier,)
    out: list[str] = []
    for one in verifiers:
        if one.settings.issuers:
            out.extend(_issuer_urls(one.settings.issuers, one.settings.tenants))
        else:
            remote = one.remote
            discovered = getattr(remote, "discovered_issuer", None) if remote else None
            if isinstance(discovered, str) and discovered:
                out.append(discovered)
    return tuple(dict.fromkeys(out))


def resource_warnings(settings: Settings) -> list[str]:
    """Warnings about a resource that works but is probably not what is meant."""
    resource = settings.resource
    if not resource or not settings.audiences:
        return []
    if resource in settings.audiences:
        return []
    return [
        settings.render(
            f"$resource {resource!r} is not one of the expected audiences "
            f"{', '.join(settings.audiences)} ($audience): clients that follow the metadata "
            "ask for tokens for the resource, and those tokens will be refused as "
            "audience_mismatch; add the resource to $audience"
        )
    ]


class MetadataEndpoint:
    """A middleware's document: where it is served, its body, and the challenge parameter.

    With discovery and no configured issuer, ``authorization_servers`` waits for
    the discovery document: until it has been fetched the document is served
    with ``no-cache`` and rebuilt on each request, then kept. The app's FastAPI
    dependencies are added on the first request for it (see the module docstring).
    """

    __slots__ = (
        "_body",
        "_pending",
        "_required",
        "_routes_read",
        "_scopes",
        "_verifier",
        "_wrapped",
        "challenge_param",
        "document",
        "path",
    )

    def __init__(
        self,
        verifier: Verifier | MultiIssuerVerifier,
        rules: PathRules | Mapping[str, Iterable[str]] | None,
        *,
        remote: bool,
        wrapped: object = None,
    ) -> None:
        self._verifier = verifier
        #: The app the middleware wraps: its routes are read with ``scope["app"]``'s, for a
        #: middleware wrapped around the app rather than added to it.
        self._wrapped = wrapped
        if isinstance(rules, PathRules):  # the middleware's: path scopes and claims
            self._scopes: dict[str, Iterable[str]] = {}
            self._required = RouteRequirements(rules.every_scope(), rules.every_claim())
        else:
            self._scopes = dict(rules or {})
            self._required = RouteRequirements()
        self._routes_read = False
        self.document = self._build()
        #: The host-relative path it is served at (RFC 9728 section 3.1).
        self.path = self.document.well_known_path
        self._body = self.document.body()
        self._pending = not self.document.authorization_servers and remote
        #: ``resource_metadata="<url>"`` for every challenge, formatted once.
        self.challenge_param = resource_metadata_param(self.document.well_known_url)

    def _build(self) -> MetadataDocument:
        return MetadataDocument.for_verifier(
            self._verifier, path_scopes=self._scopes, required=self._required
        )

    def matches(self, scope: Scope) -> bool:
        """Whether an HTTP request asks for the document: its full path or the path
        relative to the app's root (a root path the proxy did not strip) is it."""
        return scope["path"] == self.path or route_path(scope) == self.path

    async def serve(self, scope: Scope, send: Send, start: Callable[[], Awaitable[None]]) -> None:
        """GET and HEAD; a CORS preflight; 405 otherwise. ``start`` fetches the keys and
        the discovery document when no lifespan did (awaited while still pending)."""
        rebuild = False
        if not self._routes_read:  # the app's dependencies: once, on the first request
            self._routes_read = True
            routes = app_requirements(scope.get("app"), self._wrapped)
            if routes.scopes or routes.claims:
                self._required = self._required.merged(routes)
                rebuild = True
        if self._pending:
            await start()
            if issuers_of(self._verifier):  # the discovery document has been fetched
                self._pending = False
                rebuild = True
        if rebuild:
            self.document = self._build()
            self._body = self.document.body()
        await respond(scope, send, self._body, max_age=None if self._pending else MAX_AGE)
