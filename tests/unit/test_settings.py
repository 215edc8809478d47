"""Settings from the environment (CONTRACT section 3) and their validation.

Everything that cannot work must fail when the settings or the middleware are
built (ConfigurationError), never at the first request. Loading the keys the
settings name: test_keys.py.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from helpers.apps import build_app
from helpers.keys import AUDIENCE, ISSUER, Keys, private_pem, public_pem
from helpers.tokens import claims, sign
from joserfc import jwk
from starlette.applications import Starlette

from jwt_middleware import (
    ConfigurationError,
    JWTAuthMiddleware,
    Settings,
    Verifier,
    load_static_keys,
)

GOOD_SECRET = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"  # 64 bytes


def inner_app() -> Starlette:
    return Starlette()


def jwk_of(private: Any, **extra: Any) -> dict[str, Any]:
    public = private.public_key()
    cls = jwk.RSAKey if isinstance(public, rsa.RSAPublicKey) else jwk.ECKey
    entry = dict(cls.import_key(public).as_dict())
    entry.update(extra)
    return entry


# --- from_env: every variable ------------------------------------------------------


def test_from_env_reads_every_static_contract_variable(keys: Keys, tmp_path: Path) -> None:
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps({"keys": [jwk_of(keys.rsa, kid="r1")]}))
    pem_file = tmp_path / "key.pem"
    pem_file.write_text(public_pem(keys.ec256))
    env = {
        "JWT_JWKS_FILE": str(jwks_file),
        "JWT_PUBLIC_KEY_FILE": str(pem_file),
        "JWT_SECRET": GOOD_SECRET,
        "JWT_ISSUER": ISSUER,
        "JWT_AUDIENCE": "orders-api, billing-api ,reports",
        "JWT_ALGORITHMS": "RS256, ES256,HS256",
        "JWT_LEEWAY": "12.5",
        "JWT_REQUIRED_CLAIMS": "exp, sub,jti",
        "JWT_DIAGNOSTICS": "verbose",
        "JWT_REALM": "orders",
        "UNRELATED": "ignored",
    }
    s = Settings.from_env(env)
    assert s.jwks_file == str(jwks_file)
    assert s.public_key_file == str(pem_file)
    assert s.secret == GOOD_SECRET
    assert s.issuers == (ISSUER,)
    assert s.audiences == ("orders-api", "billing-api", "reports")
    assert s.allowed_algorithms == ("RS256", "ES256", "HS256")
    assert s.leeway == 12.5
    assert s.required == ("exp", "sub", "jti")
    assert s.diagnostics == "verbose"
    assert s.realm == "orders"
    # All three static sources load into one key set.
    loaded = load_static_keys(s)
    assert sorted(k.kty for k in loaded.keyset.keys) == ["EC", "RSA", "oct"]
    assert loaded.keyset.kids == ["r1"]


@pytest.mark.parametrize(
    ("var", "field"), [("JWT_JWKS_URL", "jwks_url"), ("JWT_DISCOVERY_URL", "discovery_url")]
)
def test_from_env_reads_remote_source_variables(var: str, field: str) -> None:
    url = "https://issuer.example.com/some/where"
    s = Settings.from_env({var: url, "JWT_AUDIENCE": AUDIENCE})
    assert getattr(s, field) == url


def test_from_env_defaults(keys: Keys) -> None:
    s = Settings.from_env({"JWT_SECRET": GOOD_SECRET})
    assert s.allowed_algorithms == ("RS256",)
    assert s.leeway == 30
    assert s.required == ("exp",)
    assert s.diagnostics == "standard"
    assert s.audiences == ()
    assert s.issuers == ()


def test_from_env_ignores_empty_values_and_keeps_secret_whitespace() -> None:
    s = Settings.from_env(
        {"JWT_SECRET": f" {GOOD_SECRET}\n", "JWT_ISSUER": "   ", "JWT_AUDIENCE": ""}
    )
    assert s.secret == f" {GOOD_SECRET}\n"
    assert s.issuers == ()
    assert s.audiences == ()


def test_from_env_keywords_override_environment() -> None:
    s = Settings.from_env({"JWT_SECRET": GOOD_SECRET, "JWT_REALM": "env"}, realm="kw")
    assert s.realm == "kw"


def test_from_env_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWT_SECRET", GOOD_SECRET)
    monkeypatch.setenv("JWT_ALGORITHMS", "HS512")
    monkeypatch.setenv("JWT_REALM", "from-os")
    s = Settings.from_env()
    assert s.allowed_algorithms == ("HS512",)
    assert s.realm == "from-os"


async def test_environment_settings_drive_the_middleware(keys: Keys, tmp_path: Path) -> None:
    """The env settings reach the verifier and the response: realm, audience list, level."""
    pem_file = tmp_path / "key.pem"
    pem_file.write_text(public_pem(keys.rsa))
    env = {
        "JWT_PUBLIC_KEY_FILE": str(pem_file),
        "JWT_ISSUER": ISSUER,
        "JWT_AUDIENCE": f"other-api,{AUDIENCE}",
        "JWT_REQUIRED_CLAIMS": "exp,sub",
        "JWT_DIAGNOSTICS": "minimal",
        "JWT_REALM": "orders",
        "JWT_LEEWAY": "0",
    }
    h = build_app(Settings.from_env(env))
    async with h.client() as c:
        ok = await c.get("/me", headers={"Authorization": f"Bearer {sign(claims(), keys.rsa)}"})
        assert ok.status_code == 200, ok.text
        no_sub = sign(claims(sub=None), keys.rsa)
        r = await c.get("/me", headers={"Authorization": f"Bearer {no_sub}"})
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == (
        'Bearer realm="orders", error="invalid_token", error_description="missing_claim"'
    )
    assert set(r.json()) == {"type", "title", "status", "reason"}
    assert r.json()["reason"] == "missing_claim"


def test_issuer_list_from_env_is_comma_separated() -> None:
    s = Settings.from_env({"JWT_SECRET": GOOD_SECRET, "JWT_ISSUER": "https://a/, https://b/"})
    assert s.issuers == ("https://a/", "https://b/")


# --- errors at construction --------------------------------------------------------


def test_no_key_source_fails_at_settings() -> None:
    with pytest.raises(ConfigurationError, match="no key source"):
        Settings()
    with pytest.raises(ConfigurationError, match="no key source"):
        Settings.from_env({"JWT_ISSUER": ISSUER})


def test_no_key_source_fails_when_middleware_reads_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for var in (
        "JWT_JWKS_URL",
        "JWT_DISCOVERY_URL",
        "JWT_JWKS_FILE",
        "JWT_PUBLIC_KEY_FILE",
        "JWT_SECRET",
    ):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(ConfigurationError):
        JWTAuthMiddleware(inner_app())


@pytest.mark.parametrize("algs", ["RS999", "HS256,XYZ", "rs256", "ES256K", "HS1"])
def test_unknown_algorithm(algs: str) -> None:
    with pytest.raises(ConfigurationError, match="unsupported"):
        Settings.from_env({"JWT_SECRET": GOOD_SECRET, "JWT_ALGORITHMS": algs})


@pytest.mark.parametrize("algs", ["none", "None", "NONE", "RS256,none", "HS256, nOnE"])
def test_none_algorithm_is_refused(algs: str) -> None:
    with pytest.raises(ConfigurationError, match="'none' can never be allowed"):
        Settings.from_env({"JWT_SECRET": GOOD_SECRET, "JWT_ALGORITHMS": algs})
    with pytest.raises(ConfigurationError):
        Settings(secret=GOOD_SECRET, algorithms=tuple(a.strip() for a in algs.split(",")))


def test_empty_algorithm_list_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="at least one algorithm"):
        Settings(secret=GOOD_SECRET, algorithms=())
    with pytest.raises(ConfigurationError, match="at least one algorithm"):
        Settings(secret=GOOD_SECRET, algorithms=" , ")


@pytest.mark.parametrize("level", ["debug", "VERBOSE", "full", "0"])
def test_bad_diagnostics_level(level: str) -> None:
    with pytest.raises(ConfigurationError, match=r"^JWT_DIAGNOSTICS: "):
        Settings.from_env({"JWT_SECRET": GOOD_SECRET, "JWT_DIAGNOSTICS": level})
    with pytest.raises(ConfigurationError, match=r"^Settings\(diagnostics=\.\.\.\): "):
        Settings(secret=GOOD_SECRET, diagnostics=level)  # type: ignore[arg-type]


@pytest.mark.parametrize("leeway", ["abc", "30s", "-1", "3601", "nan", "inf", "-inf", "1e9"])
def test_bad_leeway(leeway: str) -> None:
    with pytest.raises(ConfigurationError, match=r"JWT_LEEWAY|leeway"):
        Settings.from_env({"JWT_SECRET": GOOD_SECRET, "JWT_LEEWAY": leeway})


@pytest.mark.parametrize("leeway", ["0", "3600", " 45 ", "0.25"])
def test_good_leeway(leeway: str) -> None:
    s = Settings.from_env({"JWT_SECRET": GOOD_SECRET, "JWT_LEEWAY": leeway})
    assert s.leeway == float(leeway)


def test_realm_with_quote_is_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"^JWT_REALM: "):
        Settings.from_env({"JWT_SECRET": GOOD_SECRET, "JWT_REALM": 'a"b'})


def test_unknown_keyword_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="unknown setting"):
        Settings.from_env({"JWT_SECRET": GOOD_SECRET}, jwks_uri="https://x")


def test_errors_are_raised_at_construction_not_first_request(keys: Keys) -> None:
    """A working configuration builds; the broken one raises before any request is seen."""
    good = Settings(public_keys=(public_pem(keys.rsa),))
    assert isinstance(JWTAuthMiddleware(inner_app(), good).verifier, Verifier)
    bad = Settings(public_keys=(private_pem(keys.rsa),))
    with pytest.raises(ConfigurationError):
        JWTAuthMiddleware(inner_app(), bad)


# --- PEM repair -----------------------------------------------------------------------


# --- HMAC warnings -----------------------------------------------------------------


def test_no_audience_warns() -> None:
    warnings = load_static_keys(Settings(secret=GOOD_SECRET, algorithms=("HS256",))).warnings
    assert any("no audience configured" in w for w in warnings)


def test_the_resource_is_the_expected_audience_when_none_is_configured() -> None:
    resource = "https://api.example.com/v1"
    only = Settings(secret=GOOD_SECRET, algorithms=("HS256",), resource=resource)
    assert only.audiences == () and only.expected_audiences == (resource,)
    both = Settings(
        secret=GOOD_SECRET, algorithms=("HS256",), resource=resource, audience="orders-api"
    )
    assert both.expected_audiences == ("orders-api",)
    assert Settings(secret=GOOD_SECRET, algorithms=("HS256",)).expected_audiences == ()
    # No "no audience configured" warning: the resource is one.
    warnings = load_static_keys(only).warnings
    assert not any("no audience configured" in w for w in warnings), warnings


# --- secrets are declared as such (issue 20) --------------------------------------------


def test_every_secret_looking_field_is_declared_secret() -> None:
    """doctor and repr() hide the fields the declaration marks secret: a new field whose
    name says it holds a secret (or a Redis URL, which may hold a password) must be one."""
    from jwt_middleware.settings import secret_fields

    names = {f.name for f in dataclasses.fields(Settings)}
    looks_secret = {n for n in names if "secret" in n or n.endswith("_redis_url")}
    assert {"secret", "secrets", "dpop_nonce_secret", "dpop_replay_redis_url"} <= looks_secret
    assert looks_secret <= secret_fields() <= names
    nonce, redis_password = "nonce-secret-4c1d9e2f7a", "redis-pw-0b8e6a"
    settings = Settings(
        secret=GOOD_SECRET,
        algorithms=("HS256",),
        dpop_nonce_secret=nonce,
        dpop_replay_redis_url=f"redis://:{redis_password}@127.0.0.1:6379/0",
    )
    for value in (GOOD_SECRET, nonce, redis_password):
        assert value not in repr(settings)


# --- JWKS files with unusable entries -----------------------------------------------


# --- validation by group --------------------------------------------------------------

# One broken setting per group validator, each refused by that group alone.
BROKEN_BY_GROUP = {
    "check_token": {"max_token_bytes": 10},
    "check_responses": {"realm": 'a"b'},
    "check_claims": {"leeway": -1.0},
    "check_key_source": {"jwks_min_ttl": 0.0},
    "check_budgets": {"token_cache_entries": -1},
    "check_locations": {"websocket_subprotocol": "a.b"},
    "check_identity_provider": {"idp": "nobody"},
    "check_resource_metadata": {"resource": "http://api.example.com/"},
    "check_dpop": {"dpop_iat_window": 0.0},
    "check_authorization": {"scope_claims": ("roles", "a..b")},
    "check_some_key_source": {"secret": None},
    "check_introspection": {"introspection_mode": "sometimes"},
    "check_revocation": {"revocation_fail": "sometimes"},
    "check_metrics": {"metrics": "statsd"},
}


def test_the_group_validators_run_in_order_and_each_refuses_only_its_own_settings() -> None:
    """Settings are validated by a sequence of small group validators; given settings
    broken in one group only (set past validation), exactly that group's refuses."""
    import copy

    from jwt_middleware.settings import VALIDATORS

    assert [v.__name__ for v in VALIDATORS] == list(BROKEN_BY_GROUP)
    good = Settings(secret=GOOD_SECRET, algorithms=("HS256",))
    for group, broken in BROKEN_BY_GROUP.items():
        bad = copy.copy(good)
        for name, value in broken.items():
            object.__setattr__(bad, name, value)
        refused = []
        for validate in VALIDATORS:
            try:
                validate(bad)
            except ConfigurationError:
                refused.append(validate.__name__)
        assert refused == [group], (group, refused)
        with pytest.raises(ConfigurationError):
            dataclasses.replace(good, **broken)


def test_a_broken_setting_is_named_before_a_missing_key_source() -> None:
    with pytest.raises(ConfigurationError, match="token location"):
        Settings(token_locations="nowhere")
    with pytest.raises(ConfigurationError, match="no key source"):
        Settings(token_locations="cookie:at")


def kw(name: str) -> str:
    """How an error names a setting given as a keyword (a regular expression)."""
    return re.escape(f"Settings({name}=...)")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("leeway", "10", rf"^{kw('leeway')}: expected float, got str '10'$"),
        ("max_token_bytes", 8192.5, rf"^{kw('max_token_bytes')}: expected int, got float"),
        ("audience", 5, rf"^{kw('audience')}: expected str \| tuple\[str, \.\.\.\], got int"),
        ("audience", ["orders-api", 1], rf"^{kw('audience')}: .* got tuple"),
        ("jwks_allow_http", "false", rf"^{kw('jwks_allow_http')}: expected bool, got str 'false'$"),
        ("diagnostics", 2, rf"^{kw('diagnostics')}: expected 'minimal' \| 'standard' \| 'verbose'"),
        ("public_keys", "-----BEGIN PUBLIC KEY-----", rf"^{kw('public_keys')}: expected tuple"),
        ("dpop_replay_max_per_client", "10", rf"^{kw('dpop_replay_max_per_client')}: expected int"),
        ("token_cache_entries", True, rf"^{kw('token_cache_entries')}: expected int, got bool"),
        ("leeway", False, rf"^{kw('leeway')}: expected float, got bool"),
        ("jwks_read_timeout", float("nan"), r"expected float \(a finite number\), got float nan"),
        ("key_wait_timeout", float("inf"), r"expected float \(a finite number\), got float inf"),
        ("scope_claims", 5, rf"^{kw('scope_claims')}: expected str \| tuple"),
        ("optional_paths", ["/a", 5], rf"^{kw('optional_paths')}: .* got tuple"),
    ],
)
def test_a_value_of_the_wrong_type_is_a_configuration_error_naming_the_setting(
    field: str, value: Any, message: str
) -> None:
    """The type of every field is checked against its annotation when the settings are
    built: a ConfigurationError naming the setting, never a bare TypeError later."""
    with pytest.raises(ConfigurationError, match=message):
        Settings(secret=GOOD_SECRET, algorithms=("HS256",), **{field: value})


def test_a_secret_of_the_wrong_type_is_named_without_its_value() -> None:
    with pytest.raises(ConfigurationError, match=rf"^{kw('secrets')}: expected .*, got str$"):
        Settings(secrets="correct-horse-battery-staple-0123456789")
    with pytest.raises(ConfigurationError) as refused:
        Settings(secret=1234567890123456)
    assert "1234567890123456" not in str(refused.value)


def test_values_of_the_annotated_types_pass_as_before() -> None:
    s = Settings(
        secrets=[b"first-secret-0123456789abcdef0123", "second-secret-0123456789abcdef01"],
        algorithms=["HS256"],
        audience=("a", "b"),
        issuer=["https://a/", "https://b/"],
        leeway=10,
        dpop_replay_max_per_client=None,
    )
    assert s.issuers == ("https://a/", "https://b/") and s.leeway == 10
    assert s.secrets == (b"first-secret-0123456789abcdef0123", "second-secret-0123456789abcdef01")


# --- CONTRACT section 8: introspection --------------------------------------------


def test_from_env_reads_the_introspection_variables(keys: Keys) -> None:
    settings = Settings.from_env(
        {
            "JWT_PUBLIC_KEY_FILE": "unused.pem",
            "JWT_INTROSPECTION_URL": "https://as.example/introspect",
            "JWT_INTROSPECTION_MODE": "Always",
            "JWT_INTROSPECTION_CLIENT_ID": "rs",
            "JWT_INTROSPECTION_CLIENT_SECRET": " s3cret ",
            "JWT_INTROSPECTION_AUTH": "client_secret_post",
            "JWT_INTROSPECTION_KEY_ID": "k1",
            "JWT_INTROSPECTION_CACHE_SECONDS": "30",
        }
    )
    assert settings.introspection_mode == "always"
    assert settings.introspection_client_secret == " s3cret "  # whitespace kept
    assert settings.introspection_auth == "client_secret_post"
    assert settings.introspection_cache_seconds == 30.0
    assert "s3cret" not in repr(settings)
    with pytest.raises(ConfigurationError, match="JWT_INTROSPECTION_CACHE_SECONDS"):
        Settings.from_env({"JWT_INTROSPECTION_CACHE_SECONDS": "a minute"})


@pytest.mark.parametrize(
    ("extra", "said"),
    [
        ({"introspection_url": "http://as.example/introspect"}, "plain http"),
        ({"introspection_url": "https://user:pw@as.example/i"}, "user information"),
        ({"introspection_url": "as.example/introspect"}, "absolute http(s) URL"),
        ({"introspection_client_id": None}, "JWT_INTROSPECTION_CLIENT_ID"),
        ({"introspection_client_secret": None}, "JWT_INTROSPECTION_CLIENT_SECRET"),
        ({"introspection_auth": "private_key_jwt"}, "JWT_INTROSPECTION_KEY_FILE"),
        ({"introspection_auth": "tls_client_auth"}, "introspection_auth"),
        ({"introspection_mode": "sometimes"}, "introspection_mode"),
        ({"introspection_cache_seconds": -1}, "must be >= 0"),
        ({"introspection_deadline": 0}, "introspection timeouts"),
        ({"introspection_max_bytes": 10}, "introspection_max_bytes"),
    ],
)
def test_introspection_settings_are_checked_at_startup(extra: dict[str, Any], said: str) -> None:
    base: dict[str, Any] = {
        "secret": "x" * 32,
        "algorithms": "HS256",
        "introspection_url": "https://as.example/introspect",
        "introspection_client_id": "rs",
        "introspection_client_secret": "s",
    }
    base.update(extra)
    with pytest.raises(ConfigurationError, match=re.escape(said)):
        Settings(**base)
    loopback = {**base, **{"introspection_url": "http://127.0.0.1:9/introspect"}}
    if "introspection_url" in extra:
        Settings(**loopback)  # http is accepted on a loopback host


def test_introspection_over_http_needs_a_trusted_network() -> None:
    base: dict[str, Any] = {
        "secret": "x" * 32,
        "algorithms": "HS256",
        "introspection_url": "http://hydra-admin.internal:4445/admin/oauth2/introspect",
        "introspection_client_id": "rs",
        "introspection_client_secret": "s",
    }
    with pytest.raises(ConfigurationError, match="introspection_allow_http"):
        Settings(**base)
    assert Settings(**base, introspection_allow_http=True).introspection_allow_http


# --- CONTRACT section 10: JWT_METRICS -----------------------------------------------


@pytest.mark.parametrize("value", ["prometheus", "otel", "both", "none", " OTel ", "BOTH"])
def test_jwt_metrics_reads_each_exporter_choice(value: str) -> None:
    settings = Settings.from_env({"JWT_SECRET": GOOD_SECRET, "JWT_METRICS": value})
    assert settings.metrics == value.strip().lower()


def test_jwt_metrics_defaults_to_prometheus_and_refuses_anything_else() -> None:
    assert Settings.from_env({"JWT_SECRET": GOOD_SECRET}).metrics == "prometheus"
    assert Settings.from_env({"JWT_SECRET": GOOD_SECRET, "JWT_METRICS": " "}).metrics == (
        "prometheus"
    )
    with pytest.raises(ConfigurationError, match=r"metrics: 'statsd' is not one of .*JWT_METRICS"):
        Settings.from_env({"JWT_SECRET": GOOD_SECRET, "JWT_METRICS": "statsd"})
