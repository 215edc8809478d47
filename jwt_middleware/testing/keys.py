"""Signing keys for tests: made at run time, never fixed ones, for every algorithm the
package verifies; compact JWS signing with ``cryptography`` directly.

A :class:`SigningKey` is a private key (an HMAC secret for HS*) with its ``kid`` and
the algorithm it is published for. Its public JWK is what a verifier trusts; its
:attr:`~SigningKey.thumbprint` (RFC 7638) names it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from typing import Any, Final

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from ..values.algorithms import HMAC_ALGS, RSA_ALGS, SUPPORTED_ALGS

PrivateKey = (
    rsa.RSAPrivateKey
    | ec.EllipticCurvePrivateKey
    | ed25519.Ed25519PrivateKey
    | ed448.Ed448PrivateKey
    | bytes
)

_HASHES: Final[dict[str, type[hashes.SHA256 | hashes.SHA384 | hashes.SHA512]]] = {
    "256": hashes.SHA256,
    "384": hashes.SHA384,
    "512": hashes.SHA512,
}
_CURVES: Final[dict[str, tuple[str, type[ec.EllipticCurve], int]]] = {
    # alg: (JWK crv, curve, coordinate bytes)
    "ES256": ("P-256", ec.SECP256R1, 32),
    "ES384": ("P-384", ec.SECP384R1, 48),
    "ES512": ("P-521", ec.SECP521R1, 66),
}
_CURVE_ALG: Final = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}
#: Bytes of a fresh HMAC secret: the size of the largest hash (RFC 7518 section 3.2).
SECRET_BYTES: Final = 64
RSA_BITS: Final = 2048


def b64url(data: bytes) -> str:
    """Unpadded base64url (RFC 7515 section 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def compact_json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), allow_nan=False).encode("utf-8")


def thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638: the SHA-256 of the key's required members, sorted, base64url."""
    required = {
        "RSA": ("e", "kty", "n"),
        "EC": ("crv", "kty", "x", "y"),
        "OKP": ("crv", "kty", "x"),
    }
    names = required.get(jwk["kty"], ("k", "kty"))
    text = json.dumps({n: jwk[n] for n in names}, separators=(",", ":"), sort_keys=True)
    return b64url(hashlib.sha256(text.encode("utf-8")).digest())


def _algorithms_of(private: PrivateKey) -> frozenset[str]:
    if isinstance(private, bytes):
        return HMAC_ALGS
    if isinstance(private, rsa.RSAPrivateKey):
        return RSA_ALGS
    if isinstance(private, ec.EllipticCurvePrivateKey):
        alg = _CURVE_ALG.get(private.curve.name)
        return frozenset({alg}) if alg else frozenset()
    return frozenset({"EdDSA"})


def generate(algorithm: str) -> PrivateKey:
    """A new private key (or HMAC secret) for ``algorithm``."""
    if algorithm in RSA_ALGS:
        return rsa.generate_private_key(65537, RSA_BITS)
    if algorithm in _CURVES:
        return ec.generate_private_key(_CURVES[algorithm][1]())
    if algorithm == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    if algorithm in HMAC_ALGS:
        return secrets.token_bytes(SECRET_BYTES)
    raise ValueError(f"unsupported algorithm {algorithm!r}; choose from {sorted(SUPPORTED_ALGS)}")


class SigningKey:
    """A private key (or an HMAC secret), its ``kid`` and the algorithm it is published
    for. ``SigningKey.generate("ES256")`` makes a new one; ``SigningKey(private, alg,
    kid)`` wraps a ``cryptography`` private key (or the secret's bytes). The ``kid``
    defaults to the algorithm and the start of the key's RFC 7638 thumbprint."""

    __slots__ = ("_jwk", "algorithm", "algorithms", "kid", "private")

    def __init__(self, private: PrivateKey, algorithm: str, kid: str | None = None) -> None:
        algorithms = _algorithms_of(private)
        if algorithm not in algorithms:
            kinds = ", ".join(sorted(algorithms)) or "none the package verifies"
            raise ValueError(f"this key cannot sign {algorithm!r} (it signs: {kinds})")
        if isinstance(private, bytes) and not private:
            raise ValueError("an HMAC secret must not be empty")
        self.private = private
        self.algorithm = algorithm
        #: Every algorithm this key can sign with (RSA: RS* and PS*).
        self.algorithms = algorithms
        members = self._members()
        self.kid = kid if kid is not None else f"{algorithm.lower()}-{thumbprint(members)[:12]}"
        self._jwk = {**members, "kid": self.kid, "alg": algorithm, "use": "sig"}

    @classmethod
    def generate(cls, algorithm: str, kid: str | None = None) -> SigningKey:
        return cls(generate(algorithm), algorithm, kid)

    def __repr__(self) -> str:  # never the key material
        return f"SigningKey({self.algorithm!r}, kid={self.kid!r})"

    @property
    def symmetric(self) -> bool:
        """True for an HMAC secret: it has no public half and is never published."""
        return isinstance(self.private, bytes)

    @property
    def thumbprint(self) -> str:
        """The RFC 7638 SHA-256 thumbprint of the key (of the secret, for HMAC)."""
        return thumbprint(self._jwk)

    def public_jwk(self) -> dict[str, Any]:
        """The public JWK with ``kid``, ``alg`` and ``use``; ValueError for an HMAC secret."""
        if self.symmetric:
            raise ValueError("an HMAC secret has no public key: it is never published")
        return dict(self._jwk)

    def jwk(self) -> dict[str, Any]:
        """What a verifier configured with this key holds: the public JWK, or for an
        HMAC secret the ``oct`` JWK with the secret in ``k`` (a local key file only)."""
        return dict(self._jwk)

    def public_pem(self) -> bytes:
        """The public key as PEM (SubjectPublicKeyInfo); ValueError for an HMAC secret."""
        if isinstance(self.private, bytes):
            raise ValueError("an HMAC secret has no public key")
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, signing_input: bytes, algorithm: str | None = None) -> bytes:
        """The JWS signature of ``signing_input`` with ``algorithm`` (default: the key's)."""
        alg = algorithm or self.algorithm
        if alg not in self.algorithms:
            raise ValueError(f"key {self.kid!r} cannot sign {alg!r}")
        key = self.private
        if isinstance(key, bytes):
            return hmac.digest(key, signing_input, f"sha{alg[2:]}")
        if isinstance(key, rsa.RSAPrivateKey):
            digest = _HASHES[alg[2:]]()
            if alg.startswith("PS"):
                pss = padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size)
                return key.sign(signing_input, pss, digest)
            return key.sign(signing_input, padding.PKCS1v15(), digest)
        if isinstance(key, ec.EllipticCurvePrivateKey):
            size = _CURVES[alg][2]
            der = key.sign(signing_input, ec.ECDSA(_HASHES[alg[2:]]()))
            r, s = decode_dss_signature(der)
            return r.to_bytes(size, "big") + s.to_bytes(size, "big")
        return key.sign(signing_input)

    def _members(self) -> dict[str, Any]:
        key = self.private
        if isinstance(key, bytes):
            return {"kty": "oct", "k": b64url(key)}
        if isinstance(key, rsa.RSAPrivateKey):
            numbers = key.public_key().public_numbers()
            n = numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")
            e = numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")
            return {"kty": "RSA", "n": b64url(n), "e": b64url(e)}
        if isinstance(key, ec.EllipticCurvePrivateKey):
            crv, _curve, size = _CURVES[_CURVE_ALG[key.curve.name]]
            point = key.public_key().public_numbers()
            return {
                "kty": "EC",
                "crv": crv,
                "x": b64url(point.x.to_bytes(size, "big")),
                "y": b64url(point.y.to_bytes(size, "big")),
            }
        raw = key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        crv = "Ed25519" if isinstance(key, ed25519.Ed25519PrivateKey) else "Ed448"
        return {"kty": "OKP", "crv": crv, "x": b64url(raw)}


def encode(header: dict[str, Any], claims: Any, key: SigningKey | None) -> str:
    """A compact JWS of ``header`` and ``claims`` (a JSON value, or bytes taken as they
    are) signed by ``key`` with the header's ``alg``; no key, or ``alg`` none in any
    letter case: an empty signature."""
    body = claims if isinstance(claims, bytes) else compact_json(claims)
    signing_input = f"{b64url(compact_json(header))}.{b64url(body)}"
    alg = header.get("alg")
    if key is None or not isinstance(alg, str) or alg.lower() == "none":
        return signing_input + "."
    return signing_input + "." + b64url(key.sign(signing_input.encode("ascii"), alg))


__all__ = ["PrivateKey", "SigningKey", "b64url", "encode", "generate", "thumbprint"]
