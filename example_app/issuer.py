"""An embedded DEVELOPMENT-ONLY token issuer: its own keys, JWKS, discovery, minting.

It exists so the example app runs with no outside service and every
diagnosis can be seen in a terminal. It mints tokens for anyone who asks:
never enable it where real keys are configured (the app turns it off
whenever a key setting is present).

It is the package's own test issuer (:class:`jwt_middleware.testing.TestIssuer`)
holding the example's keys: the current RSA and EC keys, plus a key it
"retired" at startup, held in its key-set history so its tokens get
``retired_key`` exactly as after a real rotation. Each scenario's token is the
test issuer's token or scenario for that reason; what stays here is the
example's own: its kid names, its scenario names, its discovery document (with
the token endpoint) and the check of a ``jkt`` a client sends.

It is also the verifier's key provider (the ``KeyProvider`` protocol of
``jwt_middleware.tokens.verifier``), through the test issuer.

With several workers, the keys come from one file they share
(:mod:`example_app.devkeys`), so any worker accepts any worker's tokens.
"""

from __future__ import annotations

import base64
import binascii
import re
import time
from dataclasses import dataclass
from typing import Any

from jwt_middleware.keys import KeySet
from jwt_middleware.keys.remote import KeyHistory
from jwt_middleware.testing import SigningKey, TestIssuer

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


#: The test issuer's reason for each scenario that is one (the others are tokens).
SCENARIO_REASONS: dict[str, str] = {
    s.name: s.expected_reason for s in SCENARIOS if s.expected_reason not in (None, "retired_key")
}


class DevIssuer:
    """Keys, JWKS, discovery document and a token minter for development."""

    def __init__(self, issuer: str, audience: str, keys: DevKeys | None = None) -> None:
        """``keys`` (default: new ones) may come from a file shared by several workers."""
        self.issuer = issuer
        self.audience = audience
        keys = keys or DevKeys.generate()
        self.tokens = TestIssuer.from_keys(
            issuer,
            audience,
            [SigningKey(keys.rsa, "RS256", RSA_KID), SigningKey(keys.ec, "ES256", EC_KID)],
            retired=[SigningKey(keys.retired_rsa, "RS256", RETIRED_KID)],
        )
        self.name = "dev-issuer"

    # -- the KeyProvider protocol (what the verifier reads) --------------------------

    @property
    def keyset(self) -> KeySet:
        return self.tokens.keyset

    @property
    def history(self) -> KeyHistory:
        return self.tokens.history

    # -- documents --------------------------------------------------------------------

    def jwks(self) -> dict[str, Any]:
        return self.tokens.jwks()

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

    def mint(self, scenario: str, jkt: str | None = None, **claims: Any) -> str:
        """A token for one of :data:`SCENARIO_NAMES`: subject ``dev-user``, scope
        ``read``, valid for 15 minutes, then ``claims`` (None leaves one out); with
        ``jkt`` (an RFC 7638 thumbprint, see :func:`check_jkt`) bound to that key:
        ``"cnf": {"jkt": ...}`` (RFC 9449 section 6.1), a DPoP-bound token."""
        if scenario not in SCENARIO_NAMES:
            raise KeyError(scenario)
        now = int(time.time())
        given: dict[str, Any] = {"sub": "dev-user", "nbf": now, "exp": now + 900, "scope": "read"}
        if jkt is not None:
            given["cnf"] = {"jkt": check_jkt(jkt)}
        given.update(claims)
        if scenario in SCENARIO_REASONS:
            return self.tokens.scenario(SCENARIO_REASONS[scenario], **given)
        if scenario == "valid_ec":
            return self.tokens.token(headers={"alg": "ES256"}, **given)
        if scenario == "admin":
            return self.tokens.token(**{**given, "scope": "read admin"})
        if scenario == "retired":
            return self.tokens.token(headers={"kid": RETIRED_KID}, **given)
        return self.tokens.token(**given)
