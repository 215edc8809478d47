"""The revocation settings (CONTRACT section 9): read from the environment, checked at startup.

jwt_middleware/values/revocationconfig.py is the ``check_revocation`` validator of
Settings: each bad value is a ConfigurationError naming the setting, before any
request; the receiver of Security Event Tokens is configured whole or not at all.
"""

from __future__ import annotations

from typing import Any

import pytest

from jwt_middleware import Settings
from jwt_middleware.errors import ConfigurationError
from jwt_middleware.values.revocationconfig import ssf_audiences

SECRET = "revocation-settings-secret-0123456789abcdef"
URL = "redis://127.0.0.1:6379/0"
RECEIVER = {
    "revocation_redis_url": URL,
    "ssf_path": "/ssf/events",
    "ssf_issuer": "https://idp.example.com/",
    "ssf_audience": "https://api.example.com/",
    "ssf_jwks_url": "https://idp.example.com/jwks",
}


def settings(**values: Any) -> Settings:
    return Settings(secret=SECRET, algorithms=("HS256",), **values)


def test_the_contract_variables_are_read_from_the_environment() -> None:
    s = Settings.from_env(
        {
            "JWT_SECRET": SECRET,
            "JWT_ALGORITHMS": "HS256",
            "JWT_REVOCATION_REDIS_URL": URL,
            "JWT_REVOCATION_FAIL": " Open ",
            "JWT_REVOCATION_MAX_TOKEN_LIFETIME": "3600",
            "JWT_SSF_PATH": "/ssf/events",
            "JWT_SSF_ISSUER": "https://idp.example.com/",
            "JWT_SSF_AUDIENCE": "https://api.example.com/, urn:api",
            "JWT_SSF_JWKS_URL": "https://idp.example.com/jwks",
            "JWT_SSF_AUTHORIZATION": "Bearer transmitter-secret",
        }
    )
    assert s.revocation_redis_url == URL
    assert s.revocation_fail == "open"
    assert s.revocation_max_token_lifetime == 3600.0
    assert s.ssf_path == "/ssf/events"
    assert ssf_audiences(s) == ("https://api.example.com/", "urn:api")
    assert s.ssf_authorization == "Bearer transmitter-secret"
    shown = repr(s) + str(s)
    assert "127.0.0.1:6379" not in shown and "transmitter-secret" not in shown


def test_defaults_fail_closed_and_keep_a_day() -> None:
    s = settings()
    assert s.revocation_redis_url is None
    assert s.revocation_fail == "closed"
    assert s.revocation_max_token_lifetime == 86400.0
    assert s.revocation_timeout == 0.25
    assert s.ssf_path is None


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"revocation_fail": "maybe"}, "revocation_fail: 'maybe' is not one of closed, open"),
        ({"revocation_redis_url": "http://cache:6379"}, "redis://, rediss:// or unix://"),
        ({"revocation_timeout": 0.0}, "revocation_timeout"),
        ({"revocation_timeout": 30.0}, "revocation_timeout"),
        ({"revocation_max_token_lifetime": 0.0}, "revocation_max_token_lifetime"),
        ({"revocation_max_token_lifetime": 400 * 86400.0}, "revocation_max_token_lifetime"),
        ({"revocation_prefix": ""}, "revocation_prefix"),
        ({"revocation_prefix": "a b"}, "revocation_prefix"),
        ({"revocation_prefix": "é:"}, "revocation_prefix"),
        ({"ssf_issuer": "https://idp.example.com/"}, "JWT_SSF_ISSUER set without JWT_SSF_PATH"),
        ({"ssf_token_issuers": ("https://a/",)}, "ssf_token_issuers set without JWT_SSF_PATH"),
        ({**RECEIVER, "revocation_redis_url": None}, "needs JWT_REVOCATION_REDIS_URL"),
        ({**RECEIVER, "ssf_issuer": None}, "needs JWT_SSF_ISSUER"),
        ({**RECEIVER, "ssf_audience": None, "ssf_jwks_url": None}, "JWT_SSF_AUDIENCE, JWT_SSF"),
        ({**RECEIVER, "ssf_audience": " , "}, "no audience"),
        ({**RECEIVER, "ssf_path": "ssf"}, "ssf_path: 'ssf' is not a path"),
        ({**RECEIVER, "ssf_path": "/ssf?x=1"}, "is not a path"),
        ({**RECEIVER, "ssf_path": "/ssf%2F"}, "is not a path"),
        ({**RECEIVER, "ssf_jwks_url": "ftp://idp/jwks"}, "ssf_jwks_url"),
        ({**RECEIVER, "ssf_algorithms": ("HS256",)}, "ssf_algorithms"),
        ({**RECEIVER, "ssf_algorithms": ()}, "ssf_algorithms"),
        ({**RECEIVER, "ssf_token_issuers": ("",)}, "ssf_token_issuers"),
        ({**RECEIVER, "ssf_max_bytes": 100}, "ssf_max_bytes"),
        ({**RECEIVER, "ssf_authorization": "Bearer a\nb"}, "ssf_authorization"),
    ],
)
def test_a_bad_revocation_setting_is_refused_at_startup(
    values: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message.replace("?", r"\?")):
        settings(**values)


def test_a_whole_receiver_is_accepted() -> None:
    s = settings(**RECEIVER, ssf_token_issuers=("https://idp.example.com/oauth2/default",))
    assert ssf_audiences(s) == ("https://api.example.com/",)


def test_a_bad_lifetime_in_the_environment_names_the_variable() -> None:
    with pytest.raises(ConfigurationError, match="JWT_REVOCATION_MAX_TOKEN_LIFETIME"):
        Settings.from_env({"JWT_SECRET": SECRET, "JWT_REVOCATION_MAX_TOKEN_LIFETIME": "a day"})
