"""How this server authenticates itself to the introspection endpoint.

Three methods (RFC 7662 section 2.1 leaves the choice to the authorization
server; ``JWT_INTROSPECTION_AUTH``):

- ``client_secret_basic`` (RFC 6749 section 2.3.1): ``Authorization: Basic``
  of the client id and secret, each **form-encoded first** (a secret holding
  ``:``, ``+``, ``%`` or a space reaches the server as it was registered; a
  client that skips the encoding sends another secret);
- ``client_secret_post``: the id and secret as form fields of the request;
- ``private_key_jwt`` (RFC 7523, OpenID Connect Core section 9): a short-lived
  assertion signed with this server's private key: ``iss`` and ``sub`` the
  client id, ``aud`` the authorization server's issuer, a fresh ``jti``, ``exp``
  60 seconds after ``iat``; its ``kid`` is ``JWT_INTROSPECTION_KEY_ID`` or the
  key's RFC 7638 thumbprint.

Each method adds its fields and headers to one request; none is ever logged.
"""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Callable
from typing import Any, Final, Protocol
from urllib.parse import quote_plus

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from joserfc import jwt
from joserfc.jwk import ECKey, OKPKey, RSAKey

from ..errors import ConfigurationError
from ..settings import Settings

#: RFC 7523 section 2.2: the assertion's type.
ASSERTION_TYPE: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#: How long an assertion is valid (a fresh one is made for every call).
ASSERTION_SECONDS: Final = 60
_EC_ALGS: Final = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}


class ClientAuth(Protocol):
    """One client authentication method: what it adds to a call."""

    #: The method's name (``client_secret_basic``, ...), for doctor and the docs.
    method: str
    #: This server's client id at the endpoint (public; shown in hints and by doctor).
    client_id: str

    def apply(self, form: dict[str, str], headers: dict[str, str]) -> None: ...


def form_encode(value: str) -> str:
    """``application/x-www-form-urlencoded`` of one value (RFC 6749 appendix B)."""
    return quote_plus(value, safe="")


class SecretBasic:
    """``client_secret_basic``: id and secret form-encoded, then HTTP Basic."""

    method = "client_secret_basic"
    __slots__ = ("_header", "client_id")

    def __init__(self, client_id: str, secret: str) -> None:
        self.client_id = client_id
        pair = f"{form_encode(client_id)}:{form_encode(secret)}".encode()
        self._header = "Basic " + base64.b64encode(pair).decode("ascii")

    def apply(self, form: dict[str, str], headers: dict[str, str]) -> None:
        headers["authorization"] = self._header

    def __repr__(self) -> str:
        return "SecretBasic(<hidden>)"


class SecretPost:
    """``client_secret_post``: id and secret as form fields."""

    method = "client_secret_post"
    __slots__ = ("_secret", "client_id")

    def __init__(self, client_id: str, secret: str) -> None:
        self.client_id = client_id
        self._secret = secret

    def apply(self, form: dict[str, str], headers: dict[str, str]) -> None:
        form["client_id"] = self.client_id
        form["client_secret"] = self._secret

    def __repr__(self) -> str:
        return "SecretPost(<hidden>)"


def load_private_key(path: str) -> tuple[RSAKey | ECKey | OKPKey, str]:
    """The PEM private key at ``path`` as a JOSE key, and the algorithm it signs with
    (RS256 for RSA of at least 2048 bits, ES256/384/512 by curve, EdDSA for Ed25519)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(64 * 1024)
    except OSError as exc:
        raise ConfigurationError(
            f"$introspection_key_file: cannot read {path!r} ({exc.strerror})"
        ) from None
    try:
        private = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(
            f"$introspection_key_file: {path!r} is not an unencrypted PEM private key ({exc})"
        ) from None
    if isinstance(private, rsa.RSAPrivateKey):
        if private.key_size < 2048:
            raise ConfigurationError(
                f"$introspection_key_file: the RSA key has {private.key_size} bits; use 2048 "
                "or more"
            )
        return RSAKey.import_key(private), "RS256"
    if isinstance(private, ec.EllipticCurvePrivateKey) and private.curve.name in _EC_ALGS:
        return ECKey.import_key(private), _EC_ALGS[private.curve.name]
    if isinstance(private, ed25519.Ed25519PrivateKey):
        return OKPKey.import_key(private), "EdDSA"
    raise ConfigurationError(
        f"$introspection_key_file: {path!r} holds a {type(private).__name__}; use an RSA, "
        "EC (P-256, P-384, P-521) or Ed25519 private key"
    )


class PrivateKeyJWT:
    """``private_key_jwt``: a fresh signed assertion for every call."""

    method = "private_key_jwt"
    __slots__ = ("_alg", "_clock", "_key", "audience", "client_id", "kid")

    def __init__(
        self,
        client_id: str,
        key: RSAKey | ECKey | OKPKey,
        alg: str,
        *,
        audience: str,
        kid: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client_id = client_id
        self._key = key
        self._alg = alg
        #: The assertions' ``aud``: the authorization server's issuer.
        self.audience = audience
        #: The assertions' ``kid``: the configured one, else the RFC 7638 thumbprint.
        self.kid = kid or key.thumbprint()
        self._clock = clock

    def assertion(self) -> str:
        """A new assertion: ``iss``/``sub`` the client id, ``aud``, a fresh ``jti``."""
        now = int(self._clock())
        claims: dict[str, Any] = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": self.audience,
            "jti": secrets.token_urlsafe(24),
            "iat": now,
            "exp": now + ASSERTION_SECONDS,
        }
        return jwt.encode({"alg": self._alg, "kid": self.kid, "typ": "JWT"}, claims, self._key)

    def apply(self, form: dict[str, str], headers: dict[str, str]) -> None:
        form["client_id"] = self.client_id
        form["client_assertion_type"] = ASSERTION_TYPE
        form["client_assertion"] = self.assertion()

    def __repr__(self) -> str:
        return f"PrivateKeyJWT(kid={self.kid!r})"


def assertion_audience(settings: Settings) -> str:
    """The ``aud`` of the assertions: ``introspection_assertion_audience``, else the one
    configured issuer, else the endpoint's URL (servers accept that too)."""
    if settings.introspection_assertion_audience:
        return settings.introspection_assertion_audience
    if len(settings.issuers) == 1:
        return settings.issuers[0]
    assert settings.introspection_url is not None
    return settings.introspection_url


def client_auth(settings: Settings) -> ClientAuth:
    """The configured method, its key loaded now (a startup error, never a request's)."""
    client_id = settings.introspection_client_id
    assert client_id is not None  # the settings' validator requires it with a URL
    method = settings.introspection_auth
    if method == "private_key_jwt":
        assert settings.introspection_key_file is not None
        try:
            key, alg = load_private_key(settings.introspection_key_file)
        except ConfigurationError as exc:  # named the way the setting was given
            raise ConfigurationError(settings.render(str(exc))) from None
        return PrivateKeyJWT(
            client_id,
            key,
            alg,
            audience=assertion_audience(settings),
            kid=settings.introspection_key_id,
        )
    secret = settings.introspection_client_secret or ""
    if method == "client_secret_post":
        return SecretPost(client_id, secret)
    return SecretBasic(client_id, secret)
