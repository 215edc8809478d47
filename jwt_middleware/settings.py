"""Typed settings, from keyword arguments or from the environment (CONTRACT section 3).

Bad values raise :class:`~jwt_middleware.errors.ConfigurationError` when the
settings are built, at startup, never at the first request: first each
field's type against its annotation (:mod:`jwt_middleware.values.fieldtypes`), then
the group validators in :data:`VALIDATORS`, one small function per group of
settings (token, responses, claims, key source, caches and budgets, token
locations and WebSocket, identity provider, resource metadata, DPoP, and last
that some key source is named). The first problem found is raised.

Config is plain data that every part reads: this module imports leaf modules
only (grammars and parsers: :mod:`~jwt_middleware.values.locationspec`,
:mod:`~jwt_middleware.values.idpnames`, :mod:`~jwt_middleware.values.resourceid`,
:mod:`~jwt_middleware.values.syntax`, :mod:`~jwt_middleware.values.uri`, ...), never the
stages that read it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Final, Literal

from .errors import ConfigurationError
from .values.algorithms import DPOP_ALGORITHMS as DPOP_ALGORITHMS  # re-exported
from .values.algorithms import SUPPORTED_ALGS
from .values.claimpaths import claim_paths
from .values.fieldtypes import as_items, as_list, check_types, field_types, unknown_keywords
from .values.idpnames import IDP_CHOICES, TENANT_PLACEHOLDER, provider_for
from .values.introspectionconfig import check_introspection_settings
from .values.locationspec import DEFAULT_LOCATIONS, location_warnings, parse_locations
from .values.metricsmode import MetricsMode, check_metrics
from .values.resourceid import check_resource, check_url
from .values.revocationconfig import check_revocation_settings
from .values.settingnames import BY_ENVIRONMENT, BY_KEYWORD, SettingNames
from .values.settingsenv import ENV_VARS as ENV_VARS  # re-exported: the contract's names
from .values.settingsenv import env_values
from .values.syntax import is_token, path_prefix, scope_tokens
from .values.uri import parse_origin

DiagnosticsLevel = Literal["minimal", "standard", "verbose"]
DIAGNOSTICS_LEVELS: Final = ("minimal", "standard", "verbose")
DPoPMode = Literal["allowed", "required", "off"]
DPOP_MODES: Final = ("allowed", "required", "off")
DPoPReplayFail = Literal["closed", "open"]
DPOP_REPLAY_FAILS: Final = ("closed", "open")
IntrospectionMode = Literal["opaque", "always"]
INTROSPECTION_MODES: Final = ("opaque", "always")
IntrospectionAuth = Literal["client_secret_basic", "client_secret_post", "private_key_jwt"]
INTROSPECTION_AUTHS: Final = ("client_secret_basic", "client_secret_post", "private_key_jwt")
RevocationFail = Literal["closed", "open"]
REVOCATION_FAILS: Final = ("closed", "open")
SSF_ALGORITHMS: Final = DPOP_ALGORITHMS  # a Security Event Token's, asymmetric as a proof's

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
        "scope_claims",
        "optional_paths",
    }
)


def _secret(default: Any) -> Any:
    """A field holding a secret: left out of ``repr`` and shown as a fingerprint
    wherever settings are printed (:func:`secret_fields`)."""
    return field(default=default, repr=False, metadata={"secret": True})


def secret_fields() -> frozenset[str]:
    """The names of the settings that hold secrets, from the class's own declaration."""
    return frozenset(f.name for f in fields(Settings) if f.metadata.get("secret"))


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
    secret: str | bytes | None = _secret(None)
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
    #: Keys come from a key provider given to ``Verifier(settings, source=...)``, not these.
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
    #: Where a token is accepted from, in order (see :mod:`jwt_middleware.request.locations`):
    #: ``header:<Name>[:<Scheme>]``, ``cookie:<name>``, ``query:<name>``.
    token_locations: str | tuple[str, ...] = DEFAULT_LOCATIONS
    #: WebSocket: the subprotocol after which a browser offers its token; None: header only.
    websocket_subprotocol: str | None = None
    #: WebSocket: close an accepted socket (1008, token_expired) when its token expires.
    websocket_close_on_expiry: bool = True
    #: Cookie tokens: other origins whose pages may send unsafe requests with the cookie.
    trusted_origins: str | tuple[str, ...] = ()
    #: Accepted ``typ`` values (``at+jwt``), any case, ``application/`` optional; empty: any.
    token_types: str | tuple[str, ...] = ()
    #: Provider rules (tokens/idp.py): ``auto`` (from the issuer or URLs), ``none``, a name.
    idp: str = "auto"
    #: Entra ID multi-tenant: the tenant ids an issuer written with ``{tenantid}`` accepts.
    idp_tenants: str | tuple[str, ...] = ()
    #: This API's resource id (RFC 8707, RFC 9728): its metadata served, challenges name it.
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
    #: Key of the stateless nonces (the same on every instance); None: random per process.
    dpop_nonce_secret: str | None = _secret(None)
    #: A nonce is accepted for this many seconds after it was issued (two time slots).
    dpop_nonce_lifetime: float = 300.0
    #: Redis URL of the ``jti`` replay store shared by a fleet; None: per-process memory.
    dpop_replay_redis_url: str | None = _secret(None)
    #: When the replay store is unavailable: ``closed`` (refuse, 503) or ``open`` (accept).
    dpop_replay_fail: DPoPReplayFail = "closed"
    #: The per-process replay store's bound (unexpired ``jti`` values) ...
    dpop_replay_max_entries: int = 1_000_000
    #: ... and how many of them one client (proof key) may hold; None: half the bound.
    dpop_replay_max_per_client: int | None = None
    #: Algorithms a DPoP proof may be signed with (asymmetric only).
    dpop_algorithms: str | tuple[str, ...] = DPOP_ALGORITHMS
    #: A proof's ``iat`` may be this many seconds old (plus ``leeway``), and at most
    #: ``leeway`` seconds in the future; replayed ``jti`` values are remembered as long.
    dpop_iat_window: float = 60.0
    # -- CONTRACT section 8: opaque tokens and introspection (RFC 7662) -------------
    #: The endpoint; None: opaque tokens are malformed_token. ``opaque`` mode: tokens
    #: that are not a compact JWS; ``always``: a JWS that passed every check too.
    introspection_url: str | None = None
    introspection_mode: IntrospectionMode = "opaque"
    #: This server's client at the endpoint, and how it authenticates.
    introspection_client_id: str | None = None
    introspection_client_secret: str | None = _secret(None)
    introspection_auth: IntrospectionAuth = "client_secret_basic"
    #: ``private_key_jwt``: the PEM private key, its ``kid`` (None: RFC 7638 thumbprint),
    #: the assertions' ``aud`` (None: the one configured ``issuer``, else the endpoint).
    introspection_key_file: str | None = None
    introspection_key_id: str | None = None
    introspection_assertion_audience: str | None = None
    #: How long an active answer is reused (never past its ``exp``), an inactive one;
    #: the cache's bounds in entries and about bytes.
    introspection_cache_seconds: float = 60.0
    introspection_inactive_cache_seconds: float = 5.0
    introspection_cache_entries: int = 10000
    introspection_cache_bytes: int = 16 * 1024 * 1024
    #: One call's connect and read timeouts and total deadline; the largest answer read.
    introspection_connect_timeout: float = 2.0
    introspection_read_timeout: float = 3.0
    introspection_deadline: float = 5.0
    introspection_max_bytes: int = 64 * 1024
    #: Ask for a signed answer (RFC 9701) and refuse a plain JSON one.
    introspection_signed_response: bool = False
    #: Send tokens over plain http to a host that is not loopback (a trusted network).
    introspection_allow_http: bool = False
    # -- CONTRACT section 12: authorization beyond scopes -------------------------------
    #: The claims whose values are the token's scopes (``JWT_SCOPE_CLAIMS``): a string
    #: split on spaces, an array as it is; a nested claim written with dots
    #: (``realm_access.roles``). A configured list replaces the default.
    scope_claims: str | tuple[str, ...] = ("scope", "scp")
    #: Paths where a request without a token reaches the app as anonymous; a token sent
    #: there is judged as anywhere else (the middleware keyword of the same name adds to it).
    optional_paths: str | tuple[str, ...] = ()
    #: How hints and errors name a setting: as the keyword, the environment variable or
    #: the flag it was given as (values/settingnames.py); ``from_env`` and the CLI set it.
    setting_names: SettingNames = field(default=BY_KEYWORD, repr=False, compare=False)

    def __new__(cls, *args: Any, **kwargs: Any) -> Settings:
        """An unknown keyword: a ConfigurationError naming it (and the nearest setting)."""
        unknown_keywords(cls, kwargs, what="setting")
        return object.__new__(cls)

    # -- revocation across a fleet (CONTRACT section 9; each field: docs/configuration.md) --
    revocation_redis_url: str | None = _secret(None)
    revocation_fail: RevocationFail = "closed"
    revocation_max_token_lifetime: float = 86400.0
    revocation_timeout: float = 0.25
    revocation_prefix: str = "jwt-revoked:"
    ssf_path: str | None = None
    ssf_issuer: str | None = None
    ssf_audience: str | None = None
    ssf_jwks_url: str | None = None
    ssf_authorization: str | None = _secret(None)
    ssf_algorithms: tuple[str, ...] = SSF_ALGORITHMS
    ssf_token_issuers: tuple[str, ...] = ()
    ssf_max_bytes: int = 16384
    metrics: MetricsMode = "prometheus"  # -- CONTRACT section 10: JWT_METRICS (values/metricsmode)

    def __post_init__(self) -> None:
        _prepare(self)

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

    @property
    def scope_claim_names(self) -> tuple[str, ...]:
        """The configured ``scope_claims`` as a tuple."""
        return self.scope_claims if isinstance(self.scope_claims, tuple) else ()

    def render(self, text: str) -> str:
        """``text`` with its ``$<setting>`` placeholders named as the user gave them."""
        return self.setting_names.render(text)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from ``environ`` (default ``os.environ``); keywords win. Hints
        and errors name the variables, and the keywords given here as keywords."""
        values = env_values(os.environ if environ is None else environ)
        unknown_keywords(cls, overrides, what="setting")
        values["setting_names"] = BY_ENVIRONMENT.with_origin("keyword", overrides)
        values.update(overrides)
        return cls(**values)


_FIELD_TYPES: Final = field_types(Settings)
SettingNames.known = frozenset(f.name for f in fields(Settings))


def _prepare(s: Settings) -> None:
    """Lists as tuples, the type check, each group's validator; errors named as given."""
    set_ = object.__setattr__
    for name in _LIST_FIELDS:
        set_(s, name, as_list(getattr(s, name)))
    issuer = s.issuer
    if isinstance(issuer, str):
        set_(s, "issuer", as_list(issuer) if "," in issuer else (issuer,))
    elif issuer is not None:
        set_(s, "issuer", as_items(issuer))
    if isinstance(s.idp, str):
        set_(s, "idp", s.idp.strip().lower())
    set_(s, "public_keys", as_items(s.public_keys))
    set_(s, "secrets", as_items(s.secrets))
    names = s.setting_names if isinstance(s.setting_names, SettingNames) else BY_KEYWORD
    try:
        check_types(s, _FIELD_TYPES, label="$".__add__)
        for validate in VALIDATORS:
            validate(s)
    except ConfigurationError as exc:
        raise ConfigurationError(names.render(str(exc))) from None


def settings_warnings(settings: Settings) -> list[str]:
    """Warnings about settings that work but are probably not what is meant."""
    warnings: list[str] = []
    if not settings.expected_audiences:
        warnings.append(
            "no audience configured: tokens minted for any audience are accepted; set "
            "$audience to this API's audience"
        )
    warnings.extend(location_warnings(parse_locations(settings.locations)))
    return [settings.render(warning) for warning in warnings]


# -- the group validators, in the order they run --------------------------------------


def check_token(s: Settings) -> None:
    """The token's header and size: the algorithm allow-list, ``max_token_bytes``."""
    algs = s.allowed_algorithms
    if not algs:
        raise ConfigurationError("$algorithms: at least one algorithm must be allowed")
    bad = [a for a in algs if a not in SUPPORTED_ALGS]
    if bad:
        none = [a for a in bad if a.lower() == "none"]
        if none:
            raise ConfigurationError("$algorithms: 'none' can never be allowed")
        raise ConfigurationError(
            f"$algorithms: unsupported {', '.join(bad)}; choose from "
            f"{', '.join(sorted(SUPPORTED_ALGS))}"
        )
    if s.max_token_bytes < 256:
        raise ConfigurationError("$max_token_bytes: must be at least 256")


def check_responses(s: Settings) -> None:
    """What a refusal says: the diagnostics level and the challenge's realm."""
    if s.diagnostics not in DIAGNOSTICS_LEVELS:
        raise ConfigurationError(
            f"$diagnostics: {s.diagnostics!r} is not one of {', '.join(DIAGNOSTICS_LEVELS)}"
        )
    realm = s.realm
    if (
        not realm
        or not realm.isascii()
        or not realm.isprintable()
        or any(c in realm for c in '"\\')
    ):
        raise ConfigurationError(
            "$realm: must be non-empty printable ASCII without quotes or backslashes"
        )


def check_claims(s: Settings) -> None:
    """The claim rules: the leeway, the issuers, the accepted ``typ`` values."""
    if not (0 <= s.leeway <= 3600):
        raise ConfigurationError(f"$leeway: {s.leeway} s is outside 0..3600 seconds")
    if any(not iss for iss in s.issuers):
        raise ConfigurationError("$issuer: empty issuer value")
    bad_types = [t for t in s.accepted_token_types if not t.strip() or "," in t]
    if bad_types:
        raise ConfigurationError(f"$token_types: {bad_types[0]!r} is not a typ value")


def check_key_source(s: Settings) -> None:
    """One kind of key source, and a remote source's cache and timeouts."""
    if s.jwks_url and s.discovery_url:
        raise ConfigurationError("set $jwks_url or $discovery_url, not both")
    if (s.jwks_url or s.discovery_url) and (
        s.jwks_file or s.public_key_file or s.public_keys or s.all_secrets
    ):
        raise ConfigurationError(
            "a remote key source ($jwks_url / $discovery_url) cannot be combined with "
            "static keys ($jwks_file, $public_key_file, $public_keys, $secret); choose one"
        )
    if not (0 < s.jwks_min_ttl <= s.jwks_default_ttl <= s.jwks_max_ttl):
        raise ConfigurationError(
            "JWKS cache: need 0 < $jwks_min_ttl <= $jwks_default_ttl <= $jwks_max_ttl"
        )
    if min(s.jwks_connect_timeout, s.jwks_read_timeout, s.key_wait_timeout) <= 0:
        raise ConfigurationError(
            "$jwks_connect_timeout, $jwks_read_timeout and $key_wait_timeout must be positive"
        )
    if s.jwks_refresh_cooldown < 0 or s.jwks_max_stale < 0:
        raise ConfigurationError("$jwks_refresh_cooldown and $jwks_max_stale must be >= 0")


def check_budgets(s: Settings) -> None:
    """The token cache's bounds and the diagnostic budgets."""
    if s.token_cache_entries < 0 or s.token_cache_bytes < 0:
        raise ConfigurationError(
            "token cache bounds ($token_cache_entries, $token_cache_bytes) must not be negative"
        )
    if s.diagnostic_keys_per_request < 0 or s.diagnostic_verifications_per_second < 0:
        raise ConfigurationError(
            "diagnostic budgets ($diagnostic_keys_per_request, "
            "$diagnostic_verifications_per_second) must not be negative"
        )


def check_locations(s: Settings) -> None:
    """Where a token is taken from: the locations, the origins trusted with a cookie
    token, the WebSocket subprotocol."""
    parse_locations(s.locations)
    for origin in s.origins:
        if parse_origin(origin) is None or origin.rstrip("/") != origin:
            raise ConfigurationError(
                f"$trusted_origins: {origin!r} is not an origin (scheme://host[:port], no path)"
            )
    name = s.websocket_subprotocol
    # An RFC 7230 token (RFC 6455 section 4.1), without dots: it cannot look like a JWT.
    if name is not None and (not is_token(name) or "." in name):
        raise ConfigurationError(
            f"$websocket_subprotocol: {name!r} must be a subprotocol name (letters, digits, "
            "'-', '_'; no dots, so it cannot look like a token)"
        )


def check_identity_provider(s: Settings) -> None:
    """``idp`` is a known provider; an Entra ID tenant template lists its tenants."""
    if s.idp not in IDP_CHOICES:
        raise ConfigurationError(f"$idp: {s.idp!r} is not one of {', '.join(IDP_CHOICES)}")
    templated = [i for i in s.issuers if TENANT_PLACEHOLDER in i.lower()]
    if templated and s.provider == "entra" and not s.tenants:
        raise ConfigurationError(
            f"$issuer {templated[0]!r} is a multi-tenant template: list the accepted "
            "tenant ids in $idp_tenants"
        )


def check_resource_metadata(s: Settings) -> None:
    """The protected resource metadata (RFC 9728): the resource, its documentation
    URL, the scopes it lists."""
    if s.resource is not None:
        check_resource(s.resource, what="$resource")
    if s.resource_documentation is not None:
        check_url(s.resource_documentation, what="$resource_documentation")
    scope_tokens(s.supported_scopes, what="$resource_scopes")


def check_dpop(s: Settings) -> None:
    """DPoP (RFC 9449): the mode, the proof algorithms and times, the nonces, the
    replay store."""
    if s.dpop not in DPOP_MODES:
        raise ConfigurationError(f"$dpop: {s.dpop!r} is not one of {', '.join(DPOP_MODES)}")
    if s.dpop_replay_fail not in DPOP_REPLAY_FAILS:
        raise ConfigurationError(
            f"$dpop_replay_fail: {s.dpop_replay_fail!r} is not one of "
            f"{', '.join(DPOP_REPLAY_FAILS)}"
        )
    algs = s.dpop_allowed_algorithms
    if not algs:
        raise ConfigurationError("$dpop_algorithms: at least one algorithm must be allowed")
    bad = [a for a in algs if a not in DPOP_ALGORITHMS]
    if bad:
        raise ConfigurationError(
            f"$dpop_algorithms: {', '.join(bad)} cannot sign a DPoP proof; choose from "
            f"{', '.join(DPOP_ALGORITHMS)} (asymmetric only)"
        )
    if not (0 < s.dpop_iat_window <= 3600):
        raise ConfigurationError(
            f"$dpop_iat_window: {s.dpop_iat_window} s is outside 0..3600 seconds"
        )
    if not (0 < s.dpop_nonce_lifetime <= 86400):
        raise ConfigurationError(
            f"$dpop_nonce_lifetime: {s.dpop_nonce_lifetime} s is outside 0..86400 seconds"
        )
    if s.dpop_nonce_secret is not None and len(s.dpop_nonce_secret) < 16:
        raise ConfigurationError("$dpop_nonce_secret: use at least 16 characters")
    if s.dpop_replay_max_entries < 1:
        raise ConfigurationError("$dpop_replay_max_entries: must be at least 1")
    share = s.dpop_replay_max_per_client
    if share is not None and not 1 <= share <= s.dpop_replay_max_entries:
        raise ConfigurationError(
            "$dpop_replay_max_per_client: must be between 1 and $dpop_replay_max_entries"
        )
    url = s.dpop_replay_redis_url
    if url is not None and not url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigurationError(
            "$dpop_replay_redis_url: expected a redis://, rediss:// or unix:// URL"
        )


def check_authorization(s: Settings) -> None:
    """CONTRACT section 12: the claims read as scopes, the optional paths."""
    claim_paths(s.scope_claim_names, what="$scope_claims")
    for path in s.optional_paths:
        path_prefix(path, what="$optional_paths")


def check_some_key_source(s: Settings) -> None:
    """At least one key source is named (last: a broken setting elsewhere is said
    first, whether or not a key source is named yet)."""
    if not s.external_keys and not any(
        (s.jwks_url, s.discovery_url, s.jwks_file, s.public_key_file, s.public_keys, s.all_secrets)
    ):
        raise ConfigurationError(
            "no key source: set one of $jwks_url, $discovery_url, $jwks_file, "
            "$public_key_file or $secret"
        )


def check_introspection(s: Settings) -> None:
    """Introspection (CONTRACT section 8): :mod:`jwt_middleware.values.introspectionconfig`."""
    check_introspection_settings(s, INTROSPECTION_MODES, INTROSPECTION_AUTHS)


def check_revocation(s: Settings) -> None:
    """Revocation (CONTRACT section 9): :mod:`jwt_middleware.values.revocationconfig`."""
    check_revocation_settings(s, REVOCATION_FAILS, SSF_ALGORITHMS)


#: The group validators :class:`Settings` runs when built, in this order.
VALIDATORS: Final[tuple[Callable[[Settings], None], ...]] = (
    check_token,
    check_responses,
    check_claims,
    check_key_source,
    check_budgets,
    check_locations,
    check_identity_provider,
    check_resource_metadata,
    check_dpop,
    check_authorization,
    check_some_key_source,
    check_introspection,
    check_revocation,
    check_metrics,
)
