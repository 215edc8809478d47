"""Typed settings, from keyword arguments or from the environment (CONTRACT section 3).

Bad values raise :class:`~jwt_middleware.errors.ConfigurationError` when the
settings are built, at startup, never at the first request.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Final, Literal

from .algorithms import SUPPORTED_ALGS
from .errors import ConfigurationError
from .idpnames import IDP_CHOICES, TENANT_PLACEHOLDER, provider_for
from .locationspec import DEFAULT_LOCATIONS, parse_locations
from .resourceid import check_resource, check_url
from .syntax import scope_tokens
from .uri import parse_origin

DiagnosticsLevel = Literal["minimal", "standard", "verbose"]
DIAGNOSTICS_LEVELS: Final = ("minimal", "standard", "verbose")
DPoPMode = Literal["allowed", "required", "off"]
DPOP_MODES: Final = ("allowed", "required", "off")
DPoPReplayFail = Literal["closed", "open"]
DPOP_REPLAY_FAILS: Final = ("closed", "open")
#: The asymmetric algorithms a DPoP proof may use (RFC 9449 section 4.2: never none, never MAC).
DPOP_ALGORITHMS: Final = (
    "ES256",
    "ES384",
    "ES512",
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "EdDSA",
)

ENV_VARS: Final[dict[str, str]] = {
    "JWT_JWKS_URL": "jwks_url",
    "JWT_DISCOVERY_URL": "discovery_url",
    "JWT_JWKS_FILE": "jwks_file",
    "JWT_PUBLIC_KEY_FILE": "public_key_file",
    "JWT_SECRET": "secret",
    "JWT_ISSUER": "issuer",
    "JWT_AUDIENCE": "audience",
    "JWT_ALGORITHMS": "algorithms",
    "JWT_LEEWAY": "leeway",
    "JWT_REQUIRED_CLAIMS": "required_claims",
    "JWT_DIAGNOSTICS": "diagnostics",
    "JWT_REALM": "realm",
    "JWT_TOKEN_LOCATIONS": "token_locations",
    "JWT_WEBSOCKET_SUBPROTOCOL": "websocket_subprotocol",
    "JWT_WEBSOCKET_CLOSE_ON_EXPIRY": "websocket_close_on_expiry",
    "JWT_TOKEN_TYPES": "token_types",
    "JWT_IDP": "idp",
    "JWT_IDP_TENANTS": "idp_tenants",
    "JWT_RESOURCE": "resource",
    "JWT_DPOP": "dpop",
    "JWT_DPOP_NONCE": "dpop_nonce",
    "JWT_DPOP_NONCE_SECRET": "dpop_nonce_secret",
    "JWT_DPOP_REPLAY_REDIS_URL": "dpop_replay_redis_url",
    "JWT_DPOP_REPLAY_FAIL": "dpop_replay_fail",
    "JWT_TRUSTED_ORIGINS": "trusted_origins",
}
"""Environment variable -> Settings field (the contract's names, kept exactly)."""

_LIST_FIELDS: Final = frozenset(
    {
        "audience",
        "algorithms",
        "required_claims",
        "token_locations",
        "token_types",
        "idp_tenants",
        "resource_scopes",
        "dpop_algorithms",
        "trusted_origins",
    }
)
_BOOL_FIELDS: Final = frozenset({"websocket_close_on_expiry", "dpop_nonce"})
_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"0", "false", "no", "off"})
# RFC 7230 token characters: what a WebSocket subprotocol name may hold (RFC 6455 4.1).
_TCHARS: Final = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)


def _secret(default: Any) -> Any:
    """A field holding a secret: left out of ``repr`` and shown as a fingerprint
    wherever settings are printed (:func:`secret_fields`)."""
    return field(default=default, repr=False, metadata={"secret": True})


def secret_fields() -> frozenset[str]:
    """The names of the settings that hold secrets, from the class's own declaration."""
    return frozenset(f.name for f in fields(Settings) if f.metadata.get("secret"))


def _as_tuple(value: str | Sequence[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return tuple(value)


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the verifier and middleware are configured with.

    Key sources (at least one): ``jwks_file``, ``public_key_file`` or
    ``public_keys`` (PEM text), ``secret``/``secrets`` (HMAC; several for
    rotation, the first is current). ``jwks_url``/``discovery_url`` name a
    remote source. ``issuer`` and ``audience`` make ``iss``/``aud`` required.
    """

    jwks_url: str | None = None
    discovery_url: str | None = None
    jwks_file: str | None = None
    public_key_file: str | None = None
    public_keys: tuple[str, ...] = ()
    secret: str | None = _secret(None)
    secrets: tuple[str | bytes, ...] = _secret(())
    issuer: str | tuple[str, ...] | None = None
    audience: str | tuple[str, ...] = ()
    algorithms: str | tuple[str, ...] = ("RS256",)
    leeway: float = 30.0
    required_claims: str | tuple[str, ...] = ("exp",)
    diagnostics: DiagnosticsLevel = "standard"
    realm: str = "api"
    max_token_bytes: int = 8192
    #: Remote key source (JWT_JWKS_URL / JWT_DISCOVERY_URL) behaviour.
    jwks_allow_http: bool = False
    jwks_connect_timeout: float = 2.0
    jwks_read_timeout: float = 3.0
    jwks_max_bytes: int = 256 * 1024
    jwks_default_ttl: float = 300.0
    jwks_min_ttl: float = 60.0
    jwks_max_ttl: float = 86400.0
    #: At most one refresh for unknown kids per this many seconds.
    jwks_refresh_cooldown: float = 30.0
    #: Keep verifying with the last good key set this long past its expiry when the source fails.
    jwks_max_stale: float = 86400.0
    #: Longest a request waits for a key fetch it triggered (unknown kid, cold start).
    key_wait_timeout: float = 5.0
    #: Dropped keys remembered for retired_key: how many, and for how long.
    key_history_size: int = 32
    key_history_max_age: float = 7 * 86400.0
    #: Keys come from a key provider given to ``Verifier(settings, source=...)``
    #: (an embedded development issuer, say), not from these settings.
    external_keys: bool = False
    #: Verified-token cache: at most this many entries (0 turns it off) ...
    token_cache_entries: int = 10000
    #: ... and at most about this many bytes.
    token_cache_bytes: int = 32 * 1024 * 1024
    #: Header whose value is logged as request_id with each event.
    request_id_header: str = "x-request-id"
    #: Log the token's subject (personal data) with each event.
    log_subject: bool = False
    #: Log a debug event for every accepted request (costs on the success path).
    log_accepted: bool = False
    #: Extra keys tried per rejected token to diagnose it (kid_mismatch, ...).
    diagnostic_keys_per_request: int = 2
    #: Global budget of such extra verifications per second, across requests.
    diagnostic_verifications_per_second: float = 200.0
    #: Where a token is accepted from, in order (see :mod:`jwt_middleware.locations`):
    #: ``header:<Name>[:<Scheme>]``, ``cookie:<name>``, ``query:<name>``.
    token_locations: str | tuple[str, ...] = DEFAULT_LOCATIONS
    #: WebSocket: a subprotocol name after which a browser client offers its token
    #: (``new WebSocket(url, ["bearer", token])``); None: the Authorization header only.
    websocket_subprotocol: str | None = None
    #: WebSocket: close an accepted socket (1008, token_expired) when its token expires.
    websocket_close_on_expiry: bool = True
    #: Cookie tokens: origins (``https://app.example.com``) besides the request's own
    #: whose pages may send unsafe requests and open WebSockets with the cookie.
    trusted_origins: str | tuple[str, ...] = ()
    #: Accepted header ``typ`` values (RFC 9068: ``at+jwt``), compared case-insensitively,
    #: ``application/`` optional; empty: ``typ`` is not checked.
    token_types: str | tuple[str, ...] = ()
    #: Identity-provider rules (:mod:`jwt_middleware.idp`): ``auto`` (recognised from
    #: the issuer, discovery or JWKS URL), ``none``, or a provider's name.
    idp: str = "auto"
    #: Entra ID multi-tenant: the tenant ids an issuer written with ``{tenantid}`` accepts.
    idp_tenants: str | tuple[str, ...] = ()
    #: This API's resource identifier (RFC 8707 / RFC 9728): when set, the protected
    #: resource metadata is served and challenges carry ``resource_metadata``.
    resource: str | None = None
    #: Scopes listed in the metadata's ``scopes_supported``, after those of ``path_scopes``.
    resource_scopes: str | tuple[str, ...] = ()
    #: The metadata's ``resource_name`` (human-readable) ...
    resource_name: str | None = None
    #: ... and ``resource_documentation`` (a URL of the API's documentation for developers).
    resource_documentation: str | None = None
    #: DPoP (RFC 9449): ``allowed`` (DPoP and Bearer), ``required`` (Bearer refused), ``off``.
    dpop: DPoPMode = "allowed"
    #: Require a server-issued nonce in every DPoP proof (``use_dpop_nonce``).
    dpop_nonce: bool = False
    #: Key of the stateless nonces; give every instance of a fleet the same one.
    #: None: a random key per process.
    dpop_nonce_secret: str | None = _secret(None)
    #: A nonce is accepted for this many seconds after it was issued (two time slots).
    dpop_nonce_lifetime: float = 300.0
    #: Redis URL of the ``jti`` replay store shared by a fleet; None: per-process memory.
    dpop_replay_redis_url: str | None = _secret(None)
    #: When the replay store is unavailable: ``closed`` (refuse, 503) or ``open`` (accept).
    dpop_replay_fail: DPoPReplayFail = "closed"
    #: The per-process replay store's bound (unexpired ``jti`` values) ...
    dpop_replay_max_entries: int = 100_000
    #: ... and how many of them one client (proof key) may hold; None: half the bound.
    dpop_replay_max_per_client: int | None = None
    #: Algorithms a DPoP proof may be signed with (asymmetric only).
    dpop_algorithms: str | tuple[str, ...] = DPOP_ALGORITHMS
    #: A proof's ``iat`` may be this many seconds old (plus ``leeway``), and at most
    #: ``leeway`` seconds in the future; replayed ``jti`` values are remembered as long.
    dpop_iat_window: float = 60.0

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        for name in _LIST_FIELDS:
            set_(self, name, _as_tuple(getattr(self, name)))
        issuer = self.issuer
        if isinstance(issuer, str):
            set_(self, "issuer", _as_tuple(issuer) if "," in issuer else (issuer,))
        elif issuer is not None:
            set_(self, "issuer", tuple(issuer))
        if isinstance(self.idp, str):
            set_(self, "idp", self.idp.strip().lower())
        set_(self, "public_keys", tuple(self.public_keys))
        set_(self, "secrets", tuple(self.secrets))
        self._validate()

    # -- derived views ------------------------------------------------------

    @property
    def issuers(self) -> tuple[str, ...]:
        return self.issuer if isinstance(self.issuer, tuple) else ()

    @property
    def audiences(self) -> tuple[str, ...]:
        return self.audience if isinstance(self.audience, tuple) else ()

    @property
    def expected_audiences(self) -> tuple[str, ...]:
        """The audiences a token must name: ``audience``, else the ``resource`` (an API
        that publishes its resource identifier accepts tokens for that resource only)."""
        if isinstance(self.audience, tuple) and self.audience:
            return self.audience
        return (self.resource,) if self.resource else ()

    @property
    def allowed_algorithms(self) -> tuple[str, ...]:
        return self.algorithms if isinstance(self.algorithms, tuple) else ()

    @property
    def all_secrets(self) -> tuple[str | bytes, ...]:
        return ((self.secret,) if self.secret else ()) + self.secrets

    @property
    def locations(self) -> tuple[str, ...]:
        """The configured token locations (``token_locations`` as a tuple)."""
        return self.token_locations if isinstance(self.token_locations, tuple) else ()

    @property
    def accepted_token_types(self) -> tuple[str, ...]:
        """The configured ``token_types`` as a tuple (as given, not normalised)."""
        return self.token_types if isinstance(self.token_types, tuple) else ()

    @property
    def origins(self) -> tuple[str, ...]:
        """The configured ``trusted_origins`` as a tuple."""
        return self.trusted_origins if isinstance(self.trusted_origins, tuple) else ()

    @property
    def tenants(self) -> tuple[str, ...]:
        """The configured ``idp_tenants`` as a tuple."""
        return self.idp_tenants if isinstance(self.idp_tenants, tuple) else ()

    @property
    def supported_scopes(self) -> tuple[str, ...]:
        """The configured ``resource_scopes`` as a tuple."""
        return self.resource_scopes if isinstance(self.resource_scopes, tuple) else ()

    @property
    def dpop_allowed_algorithms(self) -> tuple[str, ...]:
        """The configured ``dpop_algorithms`` as a tuple."""
        return self.dpop_algorithms if isinstance(self.dpop_algorithms, tuple) else ()

    @property
    def provider(self) -> str | None:
        """The identity provider whose rules apply (``idp``, or with ``auto`` the one
        recognised from the issuer, discovery or JWKS URL); None: no provider rules."""
        return provider_for(self.idp, (*self.issuers, self.discovery_url, self.jwks_url))

    @property
    def required(self) -> tuple[str, ...]:
        return self.required_claims if isinstance(self.required_claims, tuple) else ()

    def _validate(self) -> None:
        algs = self.allowed_algorithms
        if not algs:
            raise ConfigurationError("algorithms: at least one algorithm must be allowed")
        bad = [a for a in algs if a not in SUPPORTED_ALGS]
        if bad:
            none = [a for a in bad if a.lower() == "none"]
            if none:
                raise ConfigurationError("algorithms: 'none' can never be allowed")
            raise ConfigurationError(
                f"algorithms: unsupported {', '.join(bad)}; choose from "
                f"{', '.join(sorted(SUPPORTED_ALGS))}"
            )
        if self.diagnostics not in DIAGNOSTICS_LEVELS:
            raise ConfigurationError(
                f"diagnostics: {self.diagnostics!r} is not one of {', '.join(DIAGNOSTICS_LEVELS)}"
            )
        if not (0 <= self.leeway <= 3600):
            raise ConfigurationError(f"leeway: {self.leeway} s is outside 0..3600 seconds")
        if self.max_token_bytes < 256:
            raise ConfigurationError("max_token_bytes: must be at least 256")
        if self.jwks_url and self.discovery_url:
            raise ConfigurationError("set JWT_JWKS_URL or JWT_DISCOVERY_URL, not both")
        if (self.jwks_url or self.discovery_url) and (
            self.jwks_file or self.public_key_file or self.public_keys or self.all_secrets
        ):
            raise ConfigurationError(
                "a remote key source (JWT_JWKS_URL / JWT_DISCOVERY_URL) cannot be combined with "
                "static keys (JWT_JWKS_FILE, JWT_PUBLIC_KEY_FILE, JWT_SECRET); choose one"
            )
        if not (0 < self.jwks_min_ttl <= self.jwks_default_ttl <= self.jwks_max_ttl):
            raise ConfigurationError("JWKS cache: need 0 < jwks_min_ttl <= default <= max")
        if min(self.jwks_connect_timeout, self.jwks_read_timeout, self.key_wait_timeout) <= 0:
            raise ConfigurationError("JWKS timeouts must be positive")
        if self.jwks_refresh_cooldown < 0 or self.jwks_max_stale < 0:
            raise ConfigurationError("jwks_refresh_cooldown and jwks_max_stale must be >= 0")
        if self.token_cache_entries < 0 or self.token_cache_bytes < 0:
            raise ConfigurationError("token cache bounds must not be negative")
        if self.diagnostic_keys_per_request < 0 or self.diagnostic_verifications_per_second < 0:
            raise ConfigurationError("diagnostic budgets must not be negative")
        realm = self.realm
        if (
            not realm
            or not realm.isascii()
            or not realm.isprintable()
            or any(c in realm for c in '"\\')
        ):
            raise ConfigurationError(
                "realm: must be non-empty printable ASCII without quotes or backslashes"
            )
        parse_locations(self.locations)
        for origin in self.origins:
            if parse_origin(origin) is None or origin.rstrip("/") != origin:
                raise ConfigurationError(
                    f"trusted_origins: {origin!r} is not an origin "
                    "(scheme://host[:port], no path) (JWT_TRUSTED_ORIGINS)"
                )
        name = self.websocket_subprotocol
        if name is not None and (not name or not _TCHARS.issuperset(name) or "." in name):
            raise ConfigurationError(
                f"websocket_subprotocol: {name!r} must be a subprotocol name (letters, digits, "
                "'-', '_'; no dots, so it cannot look like a token)"
            )
        if any(not iss for iss in self.issuers):
            raise ConfigurationError("issuer: empty issuer value")
        if self.idp not in IDP_CHOICES:
            raise ConfigurationError(
                f"idp: {self.idp!r} is not one of {', '.join(IDP_CHOICES)} (JWT_IDP)"
            )
        bad_types = [t for t in self.accepted_token_types if not t.strip() or "," in t]
        if bad_types:
            raise ConfigurationError(f"token_types: {bad_types[0]!r} is not a typ value")
        templated = [i for i in self.issuers if TENANT_PLACEHOLDER in i.lower()]
        if templated and self.provider == "entra" and not self.tenants:
            raise ConfigurationError(
                f"issuer {templated[0]!r} is a multi-tenant template: list the accepted "
                "tenant ids in JWT_IDP_TENANTS (idp_tenants)"
            )
        if self.resource is not None:
            check_resource(self.resource)
        if self.resource_documentation is not None:
            check_url(self.resource_documentation, what="resource_documentation")
        scope_tokens(self.supported_scopes, what="resource_scopes")
        self._validate_dpop()
        if not self.external_keys and not any(
            (
                self.jwks_url,
                self.discovery_url,
                self.jwks_file,
                self.public_key_file,
                self.public_keys,
                self.all_secrets,
            )
        ):
            raise ConfigurationError(
                "no key source: set one of JWT_JWKS_URL, JWT_DISCOVERY_URL, JWT_JWKS_FILE, "
                "JWT_PUBLIC_KEY_FILE or JWT_SECRET (or the matching keyword arguments)"
            )

    def _validate_dpop(self) -> None:
        if self.dpop not in DPOP_MODES:
            raise ConfigurationError(
                f"dpop: {self.dpop!r} is not one of {', '.join(DPOP_MODES)} (JWT_DPOP)"
            )
        if self.dpop_replay_fail not in DPOP_REPLAY_FAILS:
            raise ConfigurationError(
                f"dpop_replay_fail: {self.dpop_replay_fail!r} is not one of "
                f"{', '.join(DPOP_REPLAY_FAILS)} (JWT_DPOP_REPLAY_FAIL)"
            )
        algs = self.dpop_allowed_algorithms
        if not algs:
            raise ConfigurationError("dpop_algorithms: at least one algorithm must be allowed")
        bad = [a for a in algs if a not in DPOP_ALGORITHMS]
        if bad:
            raise ConfigurationError(
                f"dpop_algorithms: {', '.join(bad)} cannot sign a DPoP proof; choose from "
                f"{', '.join(DPOP_ALGORITHMS)} (asymmetric only)"
            )
        if not (0 < self.dpop_iat_window <= 3600):
            raise ConfigurationError(
                f"dpop_iat_window: {self.dpop_iat_window} s is outside 0..3600 seconds"
            )
        if not (0 < self.dpop_nonce_lifetime <= 86400):
            raise ConfigurationError(
                f"dpop_nonce_lifetime: {self.dpop_nonce_lifetime} s is outside 0..86400 seconds"
            )
        if self.dpop_nonce_secret is not None and len(self.dpop_nonce_secret) < 16:
            raise ConfigurationError(
                "dpop_nonce_secret: use at least 16 characters (JWT_DPOP_NONCE_SECRET)"
            )
        if self.dpop_replay_max_entries < 1:
            raise ConfigurationError("dpop_replay_max_entries: must be at least 1")
        share = self.dpop_replay_max_per_client
        if share is not None and not 1 <= share <= self.dpop_replay_max_entries:
            raise ConfigurationError(
                "dpop_replay_max_per_client: must be between 1 and dpop_replay_max_entries"
            )
        url = self.dpop_replay_redis_url
        if url is not None and not url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigurationError(
                "dpop_replay_redis_url: expected a redis://, rediss:// or unix:// URL "
                "(JWT_DPOP_REPLAY_REDIS_URL)"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from ``environ`` (default ``os.environ``); keywords win."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for var, name in ENV_VARS.items():
            raw = env.get(var)
            if raw is None or raw.strip() == "":
                continue
            if name == "leeway":
                try:
                    values[name] = float(raw)
                except ValueError:
                    raise ConfigurationError(f"{var}: {raw!r} is not a number of seconds") from None
            elif name in _BOOL_FIELDS:
                flag = raw.strip().lower()
                if flag not in _TRUE | _FALSE:
                    raise ConfigurationError(f"{var}: {raw!r} is not true or false")
                values[name] = flag in _TRUE
            elif name in ("dpop", "dpop_replay_fail"):
                values[name] = raw.strip().lower()
            elif name in ("secret", "dpop_nonce_secret"):
                values[name] = raw  # kept as given: whitespace is part of a secret
            else:
                values[name] = raw.strip()
        values.update(overrides)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigurationError(f"unknown setting(s): {', '.join(unknown)}")
        return cls(**values)
