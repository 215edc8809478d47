"""Verification keys, imported once and bound to the algorithms they allow.

joserfc imports and validates key material (PEM, JWK, JWKS) and computes the
RFC 7638 thumbprint used as every asymmetric key's fingerprint (an HMAC
secret's fingerprint is derived with scrypt instead, see
:func:`secret_fingerprint`). For each algorithm a key may verify, a small
closure over the ``cryptography`` primitive is prepared once, so the
per-request cost is the signature check itself.

A JWKS document is untrusted input when it was fetched (``published=True``):
see :func:`load_jwks` for the bounds every entry must meet.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from joserfc import jwk
from joserfc.errors import JoseError

from .errors import ConfigurationError

Verify = Callable[[bytes, bytes], bool]
"""A prepared check: ``verify(signing_input, signature) -> bool``."""

RSA_ALGS: Final = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
EC_ALGS: Final = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}
HMAC_ALGS: Final = frozenset({"HS256", "HS384", "HS512"})
OKP_ALGS: Final = frozenset({"EdDSA"})
SUPPORTED_ALGS: Final = frozenset(RSA_ALGS | set(EC_ALGS.values()) | HMAC_ALGS | OKP_ALGS)
MIN_RSA_BITS: Final = 2048
#: Largest RSA modulus accepted: verification cost grows with the square of the
#: size (16384 bits costs about 1.4 ms per check, 8192 about a quarter of that).
MAX_RSA_BITS: Final = 8192
#: RSA public exponents must be odd and below this bound (65537 is what every
#: identity provider uses; a huge exponent costs milliseconds per check).
MAX_RSA_EXPONENT: Final = 2**32
#: At most this many entries of a JWKS document are looked at; the rest are
#: skipped with one warning. Identity providers publish fewer than 20.
MAX_JWKS_KEYS: Final = 100
#: A key's kid: 1 to 128 printable ASCII characters, no spaces (it becomes a
#: metric label and a log field).
MAX_KID_LENGTH: Final = 128
_KID: Final = re.compile(rf"[!-~]{{1,{MAX_KID_LENGTH}}}")
#: Longest public member (n, e, crv, x, y) passed on to the key import: an
#: 8192-bit modulus is 1366 base64url characters.
_MAX_MEMBER_CHARS: Final = 1400
#: JWK members that only a private key has (RFC 7518 section 6).
PRIVATE_MEMBERS: Final = ("d", "p", "q", "dp", "dq", "qi", "oth")
#: HMAC secret fingerprints: scrypt(secret, salt=label, N=2**14, r=8, p=1), 32
#: bytes, base64url. About 16 MiB and tens of milliseconds once per key load,
#: so a published fingerprint cannot be used to test guesses of the secret
#: cheaply, while the same secret shows the same fingerprint everywhere.
FINGERPRINT_LABEL: Final = b"jwt_middleware HMAC key fingerprint v1"
SCRYPT_N: Final = 2**14
SCRYPT_R: Final = 8
SCRYPT_P: Final = 1
_SCRYPT_MAXMEM: Final = 64 * 1024 * 1024

_HASHES: Final[dict[str, type[hashes.SHA256 | hashes.SHA384 | hashes.SHA512]]] = {
    "256": hashes.SHA256,
    "384": hashes.SHA384,
    "512": hashes.SHA512,
}
_HMAC_DIGESTS: Final = {"HS256": "sha256", "HS384": "sha384", "HS512": "sha512"}
_HMAC_MIN_BYTES: Final = {"HS256": 32, "HS384": 48, "HS512": 64}
WEAK_SECRETS: Final = frozenset(
    {
        "secret",
        "changeme",
        "change-me",
        "change_me",
        "password",
        "your-256-bit-secret",
        "your-secret-key",
        "your_secret_key",
        "secretkey",
        "secret-key",
        "jwt-secret",
        "jwt_secret",
        "mysecret",
        "supersecret",
        "default",
        "test",
        "key",
        "12345678",
    }
)


class KeyRefused(ConfigurationError):
    """A key that is not used; ``code`` names the rule it broke (for log events)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _shown(value: object, limit: int = 40) -> str:
    """A key-set-supplied value for a message: its repr, bounded."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _rsa_verifier(public: rsa.RSAPublicKey, alg: str) -> Verify:
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


def _ec_verifier(public: ec.EllipticCurvePublicKey, alg: str) -> Verify:
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


def _okp_verifier(public: ed25519.Ed25519PublicKey | ed448.Ed448PublicKey) -> Verify:
    verify = public.verify

    def check(signing_input: bytes, signature: bytes) -> bool:
        try:
            verify(signature, signing_input)
        except InvalidSignature:
            return False
        return True

    return check


def _hmac_verifier(secrets: Sequence[bytes], alg: str) -> Verify:
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


@dataclass(frozen=True, slots=True, eq=False)
class VerificationKey:
    """One imported key: what it may verify and how to tell it apart.

    ``fingerprint`` is the RFC 7638 JWK thumbprint (SHA-256, base64url) of
    the public key, or for an HMAC secret ring the scrypt-derived
    :func:`secret_fingerprint` of its first secret — the value logs, metrics
    and the CLI show. ``verifiers`` maps each allowed algorithm
    to its prepared primitive.
    """

    kid: str | None
    kty: str
    algorithms: frozenset[str]
    fingerprint: str
    source: str
    description: str
    verifiers: Mapping[str, Verify]
    declared_alg: str | None = None
    secret_variants: tuple[tuple[str, bytes], ...] = ()
    secrets: tuple[bytes, ...] = field(default=(), repr=False)

    @property
    def symmetric(self) -> bool:
        return self.kty == "oct"

    def public_summary(self) -> dict[str, Any]:
        """Facts safe to show an operator (never key material)."""
        return {
            "kid": self.kid,
            "kty": self.kty,
            "algorithms": sorted(self.algorithms),
            "fingerprint": self.fingerprint,
            "source": self.source,
        }


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


def _bind(
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
        verifiers = {alg: _rsa_verifier(op, alg) for alg in algs}
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
        verifiers = {alg: _ec_verifier(op, alg)}
        kty = "EC"
    elif isinstance(op, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
        algs = {"EdDSA"}
        description = "Ed25519" if isinstance(op, ed25519.Ed25519PublicKey) else "Ed448"
        verifiers = {"EdDSA": _okp_verifier(op)}
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


# --- PEM -------------------------------------------------------------------


def _import_public(public: Any) -> jwk.Key:
    """Wrap a cryptography public key in the joserfc key class of its type."""
    if isinstance(public, rsa.RSAPublicKey):
        return jwk.RSAKey.import_key(public)
    if isinstance(public, ec.EllipticCurvePublicKey):
        return jwk.ECKey.import_key(public)
    if isinstance(public, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
        return jwk.OKPKey.import_key(public)
    raise ConfigurationError(f"unsupported public key type {type(public).__name__}")


_PEM_BLOCK = re.compile(
    r"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----",
    re.DOTALL,
)


@dataclass(frozen=True, slots=True)
class PemRepair:
    """What :func:`normalize_pem` changed, for a startup warning."""

    text: str
    repaired: str | None  # human sentence, None when nothing changed


def normalize_pem(text: str) -> PemRepair:
    """Repair what is unambiguous in a pasted PEM.

    Literal ``\\n`` escapes, lost line breaks (the PEM on one line, or its
    body split by spaces) and surrounding quotes are fixed and reported; the
    body is re-wrapped at 64 columns. CRLF line ends are valid PEM and pass
    silently. Anything else is left for the loader to reject.
    """
    original = text
    fixes: list[str] = []
    stripped = text.strip().strip("\"'")
    if stripped != text.strip():
        fixes.append("removed surrounding quotes")
    if "\\n" in stripped:
        stripped = stripped.replace("\\r\\n", "\n").replace("\\n", "\n")
        fixes.append("turned literal '\\n' escapes into line breaks")
    match = _PEM_BLOCK.search(stripped)
    if match is None:
        return PemRepair(original, None)
    label, body = match.group(1), match.group(2)
    compact = "".join(body.split())
    lines = [line.strip() for line in body.strip().splitlines()]
    rewrapped = "\n".join(compact[i : i + 64] for i in range(0, len(compact), 64))
    if "\n" not in match.group(0):
        fixes.append("restored the line breaks (the PEM was on one line)")
    elif any(" " in line or "\t" in line for line in lines):
        fixes.append("removed spaces inside the base64 body")
    elif any(len(line) > 76 for line in lines):
        fixes.append("re-wrapped the base64 body at 64 columns")
    result = f"-----BEGIN {label}-----\n{rewrapped}\n-----END {label}-----\n"
    return PemRepair(result, "; ".join(fixes) if fixes else None)


def load_pem_public_key(
    text: str | bytes, *, source: str, kid: str | None = None, alg: str | None = None
) -> tuple[VerificationKey, str | None]:
    """Import a PEM public key (or certificate) once.

    Returns the key and, when the PEM had to be repaired, a sentence saying
    what was fixed. Raises ConfigurationError with a sentence saying what to
    change for a private key, an unreadable PEM, or an unsupported key.
    """
    raw = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    repair = normalize_pem(raw)
    match = _PEM_BLOCK.search(repair.text)
    if match is None:
        raise ConfigurationError(
            f"{source}: no PEM block found (expected '-----BEGIN PUBLIC KEY-----'); "
            "is this a JWKS or a base64 string without its PEM armour?"
        )
    label = match.group(1)
    if "PRIVATE KEY" in label:
        raise ConfigurationError(
            f"{source}: this is a private key ({label}), where a public key belongs. A verifier "
            "never needs the private key: derive the public key with "
            "'openssl pkey -in private.pem -pubout -out public.pem' and configure that."
        )
    data = repair.text.encode("ascii", "replace")
    try:
        if label == "CERTIFICATE":
            public: Any = x509.load_pem_x509_certificate(data).public_key()
        elif label in ("PUBLIC KEY", "RSA PUBLIC KEY"):
            public = serialization.load_pem_public_key(data)
        else:
            raise ConfigurationError(
                f"{source}: PEM block '{label}' is not a public key or certificate"
            )
        key = _import_public(public)
    except ConfigurationError:
        raise
    except (ValueError, TypeError, UnsupportedAlgorithm, JoseError) as exc:
        raise ConfigurationError(
            f"{source}: the PEM could not be read ({exc.__class__.__name__}). Check that it was "
            "copied whole, with its BEGIN/END lines."
        ) from None
    return _bind(key, source=source, kid=kid, declared_alg=alg), repair.repaired


# --- HMAC secrets -----------------------------------------------------------


def _secret_variants(secret: bytes) -> list[tuple[str, bytes]]:
    """Plausible mis-encodings of ``secret`` for secret_encoding_mismatch."""
    variants: list[tuple[str, bytes]] = []
    stripped = secret.strip()
    if stripped != secret and stripped:
        variants.append(("with surrounding whitespace removed", stripped))
    if not secret.endswith(b"\n"):
        variants.append(("with a trailing newline added", secret + b"\n"))
    compact = stripped
    for label, decode in (
        ("base64-decoded", base64.b64decode),
        ("base64url-decoded", base64.urlsafe_b64decode),
    ):
        try:
            decoded = decode(compact + b"=" * (-len(compact) % 4))
        except ValueError:
            continue
        if decoded and all(v != decoded for _, v in variants) and decoded != secret:
            variants.append((label, decoded))
    encoded = base64.b64encode(secret)
    variants.append(("base64-encoded", encoded))
    url = base64.urlsafe_b64encode(secret).rstrip(b"=")
    if url != encoded:
        variants.append(("base64url-encoded", url))
    seen: set[bytes] = {secret}
    unique: list[tuple[str, bytes]] = []
    for label, value in variants:
        if value not in seen:
            seen.add(value)
            unique.append((label, value))
    return unique


@functools.lru_cache(maxsize=32)
def secret_fingerprint(secret: bytes) -> str:
    """The fingerprint of an HMAC secret: scrypt of the secret with a fixed label.

    Not a plain hash: a fingerprint is shown in logs, metrics and verbose
    bodies, and a fast hash of the secret would let anyone who sees it test
    guesses offline. scrypt (N=2**14, r=8, p=1: about 16 MiB and tens of
    milliseconds) makes each guess cost that much; the fixed label keeps the
    value the same for the same secret on every instance and in the CLI.
    Computed once per key load (and remembered for the few secrets a process
    holds).
    """
    derived = hashlib.scrypt(
        secret,
        salt=FINGERPRINT_LABEL,
        n=SCRYPT_N,
        r=SCRYPT_R,
        p=SCRYPT_P,
        maxmem=_SCRYPT_MAXMEM,
        dklen=32,
    )
    return base64.urlsafe_b64encode(derived).rstrip(b"=").decode("ascii")


def secret_ring(
    secrets: Sequence[str | bytes],
    *,
    source: str,
    kid: str | None = None,
    alg: str | None = None,
) -> VerificationKey:
    """One logical HMAC key holding one or more secrets (rotation without downtime).

    A token verifies if any secret matches; the first secret is the current
    one and gives the ring its fingerprint.
    """
    values = tuple(s.encode("utf-8") if isinstance(s, str) else bytes(s) for s in secrets)
    if not values or any(not v for v in values):
        raise ConfigurationError(f"{source}: an HMAC secret must not be empty")
    algs = {alg} if alg else set(HMAC_ALGS)
    if alg is not None and alg not in HMAC_ALGS:
        raise ConfigurationError(f"{source}: alg {alg!r} cannot be used with an HMAC secret")
    variants: list[tuple[str, bytes]] = []
    for value in values:
        variants.extend(v for v in _secret_variants(value) if v[1] not in values)
    n = len(values)
    return VerificationKey(
        kid=kid,
        kty="oct",
        algorithms=frozenset(algs),
        fingerprint=secret_fingerprint(values[0]),
        source=source,
        description=f"HMAC secret{'s' if n > 1 else ''} ({n})",
        verifiers={a: _hmac_verifier(values, a) for a in algs},
        declared_alg=alg,
        secret_variants=tuple(variants),
        secrets=values,
    )


def _secret_label(index: int, secret: bytes) -> str:
    return f"HMAC secret #{index + 1} (fingerprint {secret_fingerprint(secret)[:12]})"


def secret_warnings(secrets: Iterable[bytes], algorithms: Iterable[str]) -> list[str]:
    """Startup warnings for weak HMAC secrets (never the secret itself)."""
    warnings: list[str] = []
    hs = [a for a in algorithms if a in HMAC_ALGS]
    for index, secret in enumerate(secrets):
        # The label (and its scrypt fingerprint) only for a secret with something to say.
        if secret.strip().lower().decode("utf-8", "replace") in WEAK_SECRETS:
            warnings.append(
                f"{_secret_label(index, secret)} is a well-known default value; anyone can "
                "forge tokens"
            )
        for alg in hs:
            need = _HMAC_MIN_BYTES[alg]
            if len(secret) < need:
                warnings.append(
                    f"{_secret_label(index, secret)} is {len(secret)} bytes, shorter than the "
                    f"{need} bytes {alg} needs (RFC 7518 section 3.2)"
                )
    return warnings


# --- JWK / JWKS -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SkippedKey:
    """A JWKS entry that is not used, why, and the rule's code (for log events)."""

    kid: str | None
    why: str
    code: str = "unusable"


@dataclass(frozen=True, slots=True)
class KeyNote:
    """A JWKS entry used with something dropped from it (private members of a local file)."""

    kid: str | None
    why: str
    code: str


@dataclass(slots=True)
class LoadedJWKS:
    """What :func:`load_jwks` made of a document.

    ``refused`` maps each well-formed kid of a skipped entry to why it is not
    used, so that a token naming it can be told why (bounded by the key limit).
    """

    keys: list[VerificationKey] = field(default_factory=list)
    skipped: list[SkippedKey] = field(default_factory=list)
    notes: list[KeyNote] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)


PUBLISHED_HMAC_KEY: Final = (
    "it is an HMAC (oct) key published in a key set anyone can read: whoever reads that "
    "document could sign tokens with it, so it is never used (an HMAC secret belongs in "
    "JWT_SECRET or a local JWKS file, never in a published key set)"
)


def _check_kid(kid: object) -> None:
    if kid is None:
        return
    if not isinstance(kid, str) or not kid:
        raise KeyRefused("bad_kid", "'kid' is not a non-empty string")
    if len(kid) > MAX_KID_LENGTH:
        raise KeyRefused(
            "bad_kid", f"'kid' is {len(kid)} characters long; at most {MAX_KID_LENGTH} are accepted"
        )
    if _KID.fullmatch(kid) is None:
        raise KeyRefused("bad_kid", "'kid' has characters other than printable ASCII (or spaces)")


def _b64_int(entry: Mapping[str, Any], name: str) -> int:
    value = entry.get(name)
    if not isinstance(value, str) or not value:
        raise KeyRefused("unusable", f"RSA key without '{name}'")
    try:
        return int.from_bytes(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)), "big")
    except ValueError:
        raise KeyRefused("unusable", f"'{name}' is not base64url") from None


def _import_entry(
    entry: Mapping[str, Any], *, source: str, published: bool
) -> tuple[VerificationKey, KeyNote | None]:
    if not isinstance(entry, Mapping):
        raise KeyRefused("unusable", "not a JSON object")
    kid = entry.get("kid")
    _check_kid(kid)
    kty = entry.get("kty")
    if kty not in ("RSA", "EC", "OKP", "oct"):
        raise KeyRefused("unusable", f"unsupported kty {_shown(kty)}")
    if kty == "oct" and published:
        raise KeyRefused("published_secret", PUBLISHED_HMAC_KEY)
    use = entry.get("use")
    if use is not None and use != "sig":
        raise KeyRefused("unusable", f"'use' is {_shown(use)}, not 'sig'")
    ops = entry.get("key_ops")
    if ops is not None and (not isinstance(ops, list) or "verify" not in ops):
        raise KeyRefused("unusable", "'key_ops' does not include 'verify'")
    alg = entry.get("alg")
    if alg is not None and (not isinstance(alg, str) or alg not in SUPPORTED_ALGS):
        raise KeyRefused("unusable", f"unsupported alg {_shown(alg)}")
    if kty == "oct":
        k = entry.get("k")
        if not isinstance(k, str) or not k:
            raise KeyRefused("unusable", "oct key without 'k'")
        try:
            secret = base64.urlsafe_b64decode(k + "=" * (-len(k) % 4))
        except ValueError:
            raise KeyRefused("unusable", "'k' is not base64url") from None
        return secret_ring([secret], source=source, kid=kid, alg=alg), None
    note = None
    private = [m for m in PRIVATE_MEMBERS if m in entry]
    if private and published:
        raise KeyRefused(
            "private_key_published",
            f"the entry carries private key members ({', '.join(private)}): the key is "
            "published with its private part, so anyone can sign with it; it is never used "
            "(the issuer must replace this key)",
        )
    if private:
        note = KeyNote(
            kid,
            f"private key members ({', '.join(private)}) were dropped; a verifier needs only "
            "the public key: remove them from the file",
            "private_members_dropped",
        )
    if kty == "RSA":
        problem = rsa_problem(_b64_int(entry, "n").bit_length(), _b64_int(entry, "e"))
        if problem is not None:
            raise KeyRefused("rsa_bounds", problem)
    public: dict[str, Any] = {"kty": kty}
    for name in ("n", "e", "crv", "x", "y"):  # private members, x5c, ... are not passed on
        if name in entry:
            value = entry[name]
            if not isinstance(value, str) or len(value) > _MAX_MEMBER_CHARS:
                raise KeyRefused(
                    "unusable",
                    f"'{name}' is not a string of at most {_MAX_MEMBER_CHARS} characters",
                )
            public[name] = value
    try:
        key = jwk.import_key(public, kty)
    except KeyError:  # joserfc's lookup of a crv its key type does not have
        raise KeyRefused(
            "unusable", f"its curve {_shown(str(public.get('crv')), 20)!r} is not one of {kty}'s"
        ) from None
    except Exception as exc:  # attacker input: whatever the engine raises is a refusal
        raise KeyRefused("unusable", _shown(str(exc) or exc.__class__.__name__, 120)) from None
    return _bind(key, source=source, kid=kid, declared_alg=alg), note


def import_jwk(
    entry: Mapping[str, Any], *, source: str, published: bool = False
) -> VerificationKey:
    """Import one JWK for verification or raise ConfigurationError (a :class:`KeyRefused`)
    saying why not. ``published``: the entry comes from a fetched key set (see
    :func:`load_jwks`)."""
    return _import_entry(entry, source=source, published=published)[0]


def load_jwks(
    document: Any, *, source: str, published: bool = False, max_keys: int = MAX_JWKS_KEYS
) -> LoadedJWKS:
    """Import the usable keys of a JWKS document; every other entry is skipped, saying why.

    Every document: at most ``max_keys`` entries are read (the rest are skipped
    with one note); a kid is 1 to 128 printable ASCII characters; RSA moduli
    have 2048 to 8192 bits and odd public exponents below 2**32; public members
    are bounded in length. A ``published`` document (fetched from a URL or
    through discovery, readable by anyone) is stricter: an HMAC (oct) key, or
    an entry that carries private key members, is never used. From a local
    file an oct key is used and private members are dropped with a note.
    """
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise ConfigurationError(f"{source}: not a JWKS document (no 'keys' array)")
    entries: list[Any] = document["keys"]
    loaded = LoadedJWKS()
    for entry in entries[:max_keys]:
        kid = entry.get("kid") if isinstance(entry, Mapping) else None
        try:
            key, note = _import_entry(entry, source=source, published=published)
        except ConfigurationError as exc:
            code = exc.code if isinstance(exc, KeyRefused) else "unusable"
            good_kid = kid if code != "bad_kid" and isinstance(kid, str) else None
            loaded.skipped.append(SkippedKey(good_kid, str(exc), code))
            if good_kid is not None:
                loaded.refused.setdefault(good_kid, str(exc))
            continue
        loaded.keys.append(key)
        if note is not None:
            loaded.notes.append(note)
    if len(entries) > max_keys:
        loaded.skipped.append(
            SkippedKey(
                None,
                f"{len(entries) - max_keys} entries after the first {max_keys} were skipped: "
                f"at most {max_keys} keys are read from one key set",
                "too_many_keys",
            )
        )
    return loaded


def import_jwks(document: Any, *, source: str) -> tuple[list[VerificationKey], list[SkippedKey]]:
    """Import every usable key of a (local) JWKS document; unusable entries are skipped."""
    loaded = load_jwks(document, source=source)
    return loaded.keys, loaded.skipped


# --- the key set ------------------------------------------------------------


class KeySet:
    """An immutable set of verification keys with the lookups the verifier needs."""

    __slots__ = (
        "by_alg",
        "by_kid",
        "has_asymmetric",
        "has_symmetric",
        "keys",
        "loaded_at",
        "refused",
    )

    def __init__(
        self,
        keys: Iterable[VerificationKey],
        *,
        loaded_at: float | None = None,
        refused: Mapping[str, str] | None = None,
    ) -> None:
        self.keys: tuple[VerificationKey, ...] = tuple(keys)
        self.loaded_at = time.time() if loaded_at is None else loaded_at
        #: kid -> why, for entries of the document that are not used (see load_jwks).
        self.refused: Mapping[str, str] = dict(refused) if refused else {}
        self.by_kid: dict[str, VerificationKey] = {}
        for key in self.keys:
            if key.kid is not None:
                self.by_kid.setdefault(key.kid, key)
        by_alg: dict[str, list[VerificationKey]] = {}
        for key in self.keys:
            for alg in key.algorithms:
                by_alg.setdefault(alg, []).append(key)
        self.by_alg: dict[str, tuple[VerificationKey, ...]] = {
            a: tuple(v) for a, v in by_alg.items()
        }
        self.has_asymmetric = any(not k.symmetric for k in self.keys)
        self.has_symmetric = any(k.symmetric for k in self.keys)

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def kids(self) -> list[str]:
        return sorted(self.by_kid)

    def refusal_hint(self, kid: object) -> str | None:
        """For a token naming a kid whose entry was skipped: what happened to it."""
        why = self.refused.get(kid) if isinstance(kid, str) else None
        if why is None:
            return None
        return f"The key set has an entry with kid '{kid}', but it is not used: {why}."
