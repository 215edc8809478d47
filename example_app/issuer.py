"""An embedded DEVELOPMENT-ONLY token issuer: its own keys, JWKS, discovery, minting.

It exists so the example app runs with no outside service and every
diagnosis can be seen in a terminal. It mints tokens for anyone who asks:
never enable it where real keys are configured (the app turns it off
whenever a key setting is present).

It is also the verifier's key provider (the ``KeyProvider`` protocol of
``jwt_middleware.tokens.verifier``): the current RSA and EC keys, plus a key it
"retired" at startup, held in a key-set history so its tokens get
``retired_key`` exactly as after a real rotation.

With several workers, the keys come from one file they share
(:mod:`example_app.devkeys`), so any worker accepts any worker's tokens.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from hashlib import sha256
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from joserfc import jwk

from jwt_middleware.keys import KeySet, import_jwk
from jwt_middleware.keys.remote import KeyHistory

from .devkeys import DevKeys

RSA_KID = "dev-rsa-2"
EC_KID = "dev-ec-1"
RETIRED_KID = "dev-rsa-1"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


_JKT = re.compile(r"[A-Za-z0-9_-]{43}")


def check_jkt(value: str) -> str:
    """``value`` if it is an RFC 7638 SHA-256 thumbprint (base64url, no padding, of 32
    bytes); otherwise ValueError saying what is wrong with it."""
    if not _JKT.fullmatch(value):
        raise ValueError(
            f"jkt must be the key's RFC 7638 SHA-256 thumbprint: 43 base64url characters "
            f"with no padding (got {len(value)} characters)"
        )
    try:
        raw = base64.urlsafe_b64decode(value + "=")
    except (binascii.Error, ValueError) as exc:  # pragma: no cover - the pattern excludes it
        raise ValueError(f"jkt is not base64url: {exc}") from None
    if len(raw) != 32 or _b64(raw) != value:
        raise ValueError("jkt must encode exactly 32 bytes, canonically (its last character)")
    return value


def _jwk(private: Any, kid: str, alg: str) -> dict[str, Any]:
    public = private.public_key()
    key_cls = jwk.RSAKey if isinstance(private, rsa.RSAPrivateKey) else jwk.ECKey
    data = dict(key_cls.import_key(public).as_dict(private=False))
    data.update(kid=kid, alg=alg, use="sig")
    return data


def _rs256(private: rsa.RSAPrivateKey) -> Callable[[bytes], bytes]:
    return lambda msg: private.sign(msg, padding.PKCS1v15(), hashes.SHA256())


def _es256(private: ec.EllipticCurvePrivateKey) -> Callable[[bytes], bytes]:
    def sign(msg: bytes) -> bytes:
        r, s = decode_dss_signature(private.sign(msg, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    return sign


@dataclass(frozen=True)
class Scenario:
    name: str
    expected_reason: str | None
    description: str


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("valid", None, "RS256, scope 'read': accepted by /me"),
    Scenario("valid_ec", None, "ES256 with the EC key: accepted by /me"),
    Scenario("admin", None, "scope 'read admin': accepted by /admin"),
    Scenario("expired", "token_expired", "exp ten minutes ago"),
    Scenario("not_yet_valid", "token_not_yet_valid", "nbf ten minutes ahead"),
    Scenario("wrong_audience", "audience_mismatch", "aud is another API"),
    Scenario("issuer_trailing_slash", "issuer_mismatch", "iss with a trailing slash"),
    Scenario("retired", "retired_key", "signed by a key no longer published"),
    Scenario("unknown_kid", "unknown_kid", "a kid the key set does not hold"),
    Scenario("confusion", "algorithm_confusion", "HS256 signed with the RSA public key"),
    Scenario("alg_none", "unsigned_token", "alg none, no signature"),
)
SCENARIO_NAMES = tuple(s.name for s in SCENARIOS)


class DevIssuer:
    """Keys, JWKS, discovery document and a token minter for development."""

    def __init__(self, issuer: str, audience: str, keys: DevKeys | None = None) -> None:
        """``keys`` (default: new ones) may come from a file shared by several workers."""
        self.issuer = issuer
        self.audience = audience
        keys = keys or DevKeys.generate()
        self.rsa = keys.rsa
        self.ec = keys.ec
        self.retired_rsa = keys.retired_rsa
        self._jwks = {"keys": [_jwk(self.rsa, RSA_KID, "RS256"), _jwk(self.ec, EC_KID, "ES256")]}
        source = "dev-issuer"
        now = time.time()
        self._keyset = KeySet(
            (import_jwk(entry, source=source) for entry in self._jwks["keys"]), loaded_at=now
        )
        retired = import_jwk(_jwk(self.retired_rsa, RETIRED_KID, "RS256"), source=source)
        self._history = KeyHistory()
        self._history.record([retired], now)
        self.name = source

    # -- the KeyProvider protocol (what the verifier reads) --------------------------

    @property
    def keyset(self) -> KeySet:
        return self._keyset

    @property
    def history(self) -> KeyHistory:
        return self._history

    # -- documents --------------------------------------------------------------------

    def jwks(self) -> dict[str, Any]:
        return self._jwks

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "jwks_uri": f"{self.issuer}/.well-known/jwks.json",
            "token_endpoint": f"{self.issuer}/dev/token",
            "id_token_signing_alg_values_supported": ["RS256", "ES256"],
            "response_types_supported": ["token"],
            "subject_types_supported": ["public"],
        }

    # -- minting ----------------------------------------------------------------------

    def _claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": "dev-user",
            "iat": now,
            "nbf": now,
            "exp": now + 900,
            "scope": "read",
        }
        claims.update(overrides)
        return claims

    @staticmethod
    def _encode(
        header: dict[str, Any], claims: dict[str, Any], sign: Callable[[bytes], bytes]
    ) -> str:
        signing_input = (
            _b64(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + _b64(json.dumps(claims, separators=(",", ":")).encode())
        )
        return signing_input + "." + _b64(sign(signing_input.encode("ascii")))

    def mint(self, scenario: str, jkt: str | None = None, **claims: Any) -> str:
        """A token for one of :data:`SCENARIO_NAMES`; with ``jkt`` (an RFC 7638
        thumbprint, see :func:`check_jkt`) bound to that key: ``"cnf": {"jkt": ...}``
        (RFC 9449 section 6.1), a DPoP-bound token. Each keyword claim replaces that
        claim of the scenario's token (``scope=``, ``aud=``, ...)."""
        if jkt is not None:
            claims = {**claims, "cnf": {"jkt": check_jkt(jkt)}}
        return self._mint(scenario, claims)

    def _mint(self, scenario: str, replace: dict[str, Any]) -> str:
        now = int(time.time())
        rs = {"alg": "RS256", "typ": "JWT", "kid": RSA_KID}

        def claims_with(**scenario_claims: Any) -> dict[str, Any]:
            return {**self._claims(**scenario_claims), **replace}

        if scenario == "valid":
            return self._encode(rs, claims_with(), _rs256(self.rsa))
        if scenario == "valid_ec":
            header = {"alg": "ES256", "typ": "JWT", "kid": EC_KID}
            return self._encode(header, claims_with(), _es256(self.ec))
        if scenario == "admin":
            return self._encode(rs, claims_with(scope="read admin"), _rs256(self.rsa))
        if scenario == "expired":
            claims = claims_with(iat=now - 1500, nbf=now - 1500, exp=now - 600)
            return self._encode(rs, claims, _rs256(self.rsa))
        if scenario == "not_yet_valid":
            return self._encode(rs, claims_with(nbf=now + 600), _rs256(self.rsa))
        if scenario == "wrong_audience":
            return self._encode(rs, claims_with(aud="another-api"), _rs256(self.rsa))
        if scenario == "issuer_trailing_slash":
            claims = claims_with(iss=self.issuer + "/")
            return self._encode(rs, claims, _rs256(self.rsa))
        if scenario == "retired":
            header = {**rs, "kid": RETIRED_KID}
            return self._encode(header, claims_with(), _rs256(self.retired_rsa))
        if scenario == "unknown_kid":
            header = {**rs, "kid": "dev-rsa-99"}
            return self._encode(header, claims_with(), _rs256(self.rsa))
        if scenario == "confusion":
            pem = self.rsa.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            header = {"alg": "HS256", "typ": "JWT", "kid": RSA_KID}
            return self._encode(header, claims_with(), lambda m: hmac.new(pem, m, sha256).digest())
        if scenario == "alg_none":
            return self._encode({"alg": "none", "typ": "JWT"}, claims_with(), lambda m: b"")
        raise KeyError(scenario)
