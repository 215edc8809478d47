"""The signature primitives, prepared once per key and algorithm.

For each algorithm a key may verify, a small closure over the
``cryptography`` primitive (or :mod:`hmac`) is built when the key is
imported, so the per-request cost is the signature check itself.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from .keyset import Verify

_HASHES: Final[dict[str, type[hashes.SHA256 | hashes.SHA384 | hashes.SHA512]]] = {
    "256": hashes.SHA256,
    "384": hashes.SHA384,
    "512": hashes.SHA512,
}
_HMAC_DIGESTS: Final = {"HS256": "sha256", "HS384": "sha384", "HS512": "sha512"}


def rsa_verifier(public: rsa.RSAPublicKey, alg: str) -> Verify:
    hash_alg = _HASHES[alg[2:]]()
    if alg.startswith("RS"):
        return _pkcs1_verifier(public, hash_alg)
    pad = padding.PSS(mgf=padding.MGF1(hash_alg), salt_length=hash_alg.digest_size)
    verify = public.verify

    def check(signing_input: bytes, signature: bytes) -> bool:
        try:
            verify(signature, signing_input, pad, hash_alg)
        except InvalidSignature:
            return False
        return True

    return check


def _pkcs1_verifier(public: rsa.RSAPublicKey, hash_alg: hashes.HashAlgorithm) -> Verify:
    """RSASSA-PKCS1-v1_5 by recovery: OpenSSL checks the signature's length and its
    padding and DigestInfo (the hash named, nothing after it) and returns the digest,
    which is compared with the signing input's own. The same checks as
    ``public.verify``, about 0.4 µs faster per call (no hashing context per call)."""
    recover = public.recover_data_from_signature
    pad = padding.PKCS1v15()
    digest = getattr(hashlib, hash_alg.name)
    compare = hmac.compare_digest

    def check(signing_input: bytes, signature: bytes) -> bool:
        try:
            return compare(recover(signature, pad, hash_alg), digest(signing_input).digest())
        except InvalidSignature:
            return False

    return check


def ec_verifier(public: ec.EllipticCurvePublicKey, alg: str) -> Verify:
    algorithm = ec.ECDSA(_HASHES[alg[2:]]())
    size = (public.curve.key_size + 7) // 8
    verify = public.verify

    def check(signing_input: bytes, signature: bytes) -> bool:
        if len(signature) != 2 * size:
            return False
        r = int.from_bytes(signature[:size], "big")
        s = int.from_bytes(signature[size:], "big")
        try:
            verify(encode_dss_signature(r, s), signing_input, algorithm)
        except (InvalidSignature, ValueError):
            return False
        return True

    return check


def okp_verifier(public: ed25519.Ed25519PublicKey | ed448.Ed448PublicKey) -> Verify:
    verify = public.verify

    def check(signing_input: bytes, signature: bytes) -> bool:
        try:
            verify(signature, signing_input)
        except InvalidSignature:
            return False
        return True

    return check


def hmac_verifier(secrets: Sequence[bytes], alg: str) -> Verify:
    digest_name = _HMAC_DIGESTS[alg]
    digest = hmac.digest
    compare = hmac.compare_digest
    if len(secrets) == 1:
        (only,) = secrets

        def check_one(signing_input: bytes, signature: bytes) -> bool:
            return compare(digest(only, signing_input, digest_name), signature)

        return check_one

    def check_any(signing_input: bytes, signature: bytes) -> bool:
        return any(compare(digest(s, signing_input, digest_name), signature) for s in secrets)

    return check_any


def hmac_matches(secret: bytes, alg: str, signing_input: bytes, signature: bytes) -> bool:
    """One constant-time HMAC check (the failure path's secret-variant probe)."""
    return hmac.compare_digest(hmac.digest(secret, signing_input, _HMAC_DIGESTS[alg]), signature)
