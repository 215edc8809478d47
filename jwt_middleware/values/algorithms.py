"""The JWS algorithms this package verifies, by key type (RFC 7518 section 3).

Plain data, imported by the settings (the allow-list's validation), the
header stage (algorithm confusion) and the key import.
"""

from __future__ import annotations

from typing import Final

RSA_ALGS: Final = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
EC_ALGS: Final = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}
HMAC_ALGS: Final = frozenset({"HS256", "HS384", "HS512"})
OKP_ALGS: Final = frozenset({"EdDSA"})
SUPPORTED_ALGS: Final = frozenset(RSA_ALGS | set(EC_ALGS.values()) | HMAC_ALGS | OKP_ALGS)
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
