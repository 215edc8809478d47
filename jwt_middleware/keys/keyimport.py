"""Public key import: the bounds every key meets, and a joserfc key bound for verification.

joserfc imports and validates key material and computes the RFC 7638
thumbprint used as every asymmetric key's fingerprint; :func:`bind` checks
the bounds (RSA size and exponent), prepares a primitive per algorithm
(:mod:`jwt_middleware.keys.primitives`) and returns the :class:`VerificationKey`.
"""

from __future__ import annotations

from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from joserfc import jwk

from ..errors import ConfigurationError
from ..values.algorithms import EC_ALGS, RSA_ALGS
from .keyset import VerificationKey
from .primitives import ec_verifier, okp_verifier, rsa_verifier

MIN_RSA_BITS: Final = 2048
#: Largest RSA modulus accepted: verification cost grows with the square of the
#: size (16384 bits costs about 1.4 ms per check, 8192 about a quarter of that).
MAX_RSA_BITS: Final = 8192
#: RSA public exponents must be odd and below this bound (65537 is what every
#: identity provider uses; a huge exponent costs milliseconds per check).
MAX_RSA_EXPONENT: Final = 2**32


class KeyRefused(ConfigurationError):
    """A key that is not used; ``code`` names the rule it broke (for log events)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def rsa_problem(bits: int, exponent: int) -> str | None:
    """Why an RSA public key of ``bits`` and ``exponent`` is refused, or None."""
    if bits < MIN_RSA_BITS:
        return f"RSA key of {bits} bits; at least {MIN_RSA_BITS} are required"
    if bits > MAX_RSA_BITS:
        return f"RSA key of {bits} bits; at most {MAX_RSA_BITS} are accepted"
    if exponent < 3 or exponent >= MAX_RSA_EXPONENT or exponent % 2 == 0:
        shown = str(exponent) if exponent.bit_length() <= 64 else f"of {exponent.bit_length()} bits"
        return (
            f"RSA public exponent {shown}; an odd exponent from 3 to 2**32 - 1 is required "
            "(65537 is usual)"
        )
    return None


def bind(
    key: jwk.Key, *, source: str, kid: str | None, declared_alg: str | None
) -> VerificationKey:
    """Prepare a joserfc public key for verification (asymmetric only)."""
    op = key.get_op_key("verify")
    if isinstance(op, rsa.RSAPublicKey):
        problem = rsa_problem(op.key_size, op.public_numbers().e)
        if problem is not None:
            raise KeyRefused("rsa_bounds", f"{source}: {problem}")
        algs = set(RSA_ALGS)
        description = f"RSA {op.key_size}"
        verifiers = {alg: rsa_verifier(op, alg) for alg in algs}
        kty = "RSA"
    elif isinstance(op, ec.EllipticCurvePublicKey):
        curve = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}.get(
            op.curve.name
        )
        if curve is None:
            raise ConfigurationError(f"{source}: EC curve {op.curve.name} is not supported for JWS")
        alg = EC_ALGS[curve]
        algs = {alg}
        description = f"EC {curve}"
        verifiers = {alg: ec_verifier(op, alg)}
        kty = "EC"
    elif isinstance(op, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
        algs = {"EdDSA"}
        description = "Ed25519" if isinstance(op, ed25519.Ed25519PublicKey) else "Ed448"
        verifiers = {"EdDSA": okp_verifier(op)}
        kty = "OKP"
    else:
        raise ConfigurationError(f"{source}: unsupported key type {type(op).__name__}")
    if declared_alg is not None:
        if declared_alg not in algs:
            raise ConfigurationError(
                f"{source}: the key declares alg {declared_alg!r}, which a {description} key "
                f"cannot verify"
            )
        algs = {declared_alg}
        verifiers = {declared_alg: verifiers[declared_alg]}
    return VerificationKey(
        kid=kid,
        kty=kty,
        algorithms=frozenset(algs),
        fingerprint=key.thumbprint(),
        source=source,
        description=description,
        verifiers=verifiers,
        declared_alg=declared_alg,
    )


def import_public(public: Any) -> jwk.Key:
    """Wrap a cryptography public key in the joserfc key class of its type."""
    if isinstance(public, rsa.RSAPublicKey):
        return jwk.RSAKey.import_key(public)
    if isinstance(public, ec.EllipticCurvePublicKey):
        return jwk.ECKey.import_key(public)
    if isinstance(public, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
        return jwk.OKPKey.import_key(public)
    raise ConfigurationError(f"unsupported public key type {type(public).__name__}")
