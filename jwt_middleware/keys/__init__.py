"""Verification keys, imported once and bound to the algorithms they allow: one import path.

The key material lives in modules of one concern each, re-exported here
(``from jwt_middleware.keys import KeySet, import_jwk`` keeps working):

- :mod:`~jwt_middleware.keys.keyset`: :class:`VerificationKey`, :class:`KeySet`;
- :mod:`~jwt_middleware.values.algorithms`: the algorithms by key type;
- :mod:`~jwt_middleware.keys.primitives`: a prepared signature check per key and algorithm;
- :mod:`~jwt_middleware.keys.keyimport`: the bounds (RSA size and exponent), a key bound
  for verification;
- :mod:`~jwt_middleware.keys.pem`: PEM repair and import;
- :mod:`~jwt_middleware.keys.fingerprints`: an HMAC secret's scrypt fingerprint;
- :mod:`~jwt_middleware.keys.hmacsecrets`: secret rings and weak-secret warnings;
- :mod:`~jwt_middleware.keys.jwks`: JWK and JWKS import, with the bounds of a fetched
  document (:func:`load_jwks`).
"""

from __future__ import annotations

from ..values.algorithms import EC_ALGS, HMAC_ALGS, OKP_ALGS, RSA_ALGS, SUPPORTED_ALGS
from .fingerprints import FINGERPRINT_LABEL, SCRYPT_N, SCRYPT_P, SCRYPT_R, secret_fingerprint
from .hmacsecrets import WEAK_SECRETS, secret_ring, secret_warnings
from .jwks import (
    MAX_JWKS_KEYS,
    MAX_KID_LENGTH,
    PRIVATE_MEMBERS,
    PUBLISHED_HMAC_KEY,
    KeyNote,
    LoadedJWKS,
    SkippedKey,
    import_jwk,
    import_jwks,
    load_jwks,
)
from .keyimport import MAX_RSA_BITS, MAX_RSA_EXPONENT, MIN_RSA_BITS, KeyRefused, rsa_problem
from .keyset import KeySet, VerificationKey, Verify
from .pem import PemRepair, load_pem_public_key, normalize_pem
from .primitives import hmac_matches

__all__ = [
    "EC_ALGS",
    "FINGERPRINT_LABEL",
    "HMAC_ALGS",
    "MAX_JWKS_KEYS",
    "MAX_KID_LENGTH",
    "MAX_RSA_BITS",
    "MAX_RSA_EXPONENT",
    "MIN_RSA_BITS",
    "OKP_ALGS",
    "PRIVATE_MEMBERS",
    "PUBLISHED_HMAC_KEY",
    "RSA_ALGS",
    "SCRYPT_N",
    "SCRYPT_P",
    "SCRYPT_R",
    "SUPPORTED_ALGS",
    "WEAK_SECRETS",
    "KeyNote",
    "KeyRefused",
    "KeySet",
    "LoadedJWKS",
    "PemRepair",
    "SkippedKey",
    "VerificationKey",
    "Verify",
    "hmac_matches",
    "import_jwk",
    "import_jwks",
    "load_jwks",
    "load_pem_public_key",
    "normalize_pem",
    "rsa_problem",
    "secret_fingerprint",
    "secret_ring",
    "secret_warnings",
]
