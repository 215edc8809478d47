"""The signature primitives (jwt_middleware/keys/primitives.py), prepared once per key and
algorithm, checked against cryptography's own verification as the oracle.

RSASSA-PKCS1-v1_5 is checked by recovering the digest (not ``public.verify``), so it
is compared with ``public.verify`` on hand-made encodings: the right one, another
hash's DigestInfo, DigestInfo without its NULL parameters, bytes after the digest,
short or broken padding, signatures of the wrong length or not below the modulus.
ECDSA takes JWS's raw ``r || s`` of the curve's size only (never DER); EdDSA and
HMAC (one secret, or a ring) refuse without raising."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from helpers.keys import Keys

from jwt_middleware.keys.primitives import (
    ec_verifier,
    hmac_matches,
    hmac_verifier,
    okp_verifier,
    rsa_verifier,
)

MESSAGE = b"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEifQ"
#: RFC 8017 section 9.2, note 1: the DER DigestInfo in front of each hash.
DIGEST_INFO = {
    "sha256": bytes.fromhex("3031300d060960864801650304020105000420"),
    "sha384": bytes.fromhex("3041300d060960864801650304020205000430"),
    "sha512": bytes.fromhex("3051300d060960864801650304020305000440"),
}
#: The same without the NULL parameters (an encoding RFC 8017 does not produce).
NO_NULL = {"sha256": bytes.fromhex("302f300b0609608648016503040201") + b"\x04\x20"}
HASHES = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512()}


def raw_rsa(private: rsa.RSAPrivateKey, encoded: bytes) -> bytes:
    """The RSA private operation on ``encoded`` (an EM of the modulus's length)."""
    numbers = private.private_numbers()
    n = numbers.public_numbers.n
    k = (n.bit_length() + 7) // 8
    assert len(encoded) == k
    return pow(int.from_bytes(encoded, "big"), numbers.d, n).to_bytes(k, "big")


def em(
    k: int, t: bytes, *, block_type: int = 1, fill: bytes = b"\xff", pad: int | None = None
) -> bytes:
    """EM = 0x00 || BT || PS || 0x00 || T (RFC 8017 section 9.2), PS ``pad`` bytes."""
    length = k - 3 - len(t) if pad is None else pad
    out = b"\x00" + bytes([block_type]) + fill * length + b"\x00" + t
    return out.rjust(k, b"\x00") if len(out) < k else out


def oracle(public: rsa.RSAPublicKey, name: str) -> Callable[[bytes, bytes], bool]:
    def check(message: bytes, signature: bytes) -> bool:
        try:
            public.verify(signature, message, padding.PKCS1v15(), HASHES[name])
        except (InvalidSignature, ValueError):
            return False
        return True

    return check


@pytest.mark.parametrize(
    ("alg", "name"), [("RS256", "sha256"), ("RS384", "sha384"), ("RS512", "sha512")]
)
def test_pkcs1_by_recovery_agrees_with_cryptographys_verify(
    keys: Keys, alg: str, name: str
) -> None:
    private = keys.rsa
    public = private.public_key()
    k = public.key_size // 8
    digest = hashlib.new(name, MESSAGE).digest()
    t = DIGEST_INFO[name] + digest
    other = "sha384" if name != "sha384" else "sha256"
    other_t = DIGEST_INFO[other] + hashlib.new(other, MESSAGE).digest()
    good = raw_rsa(private, em(k, t))
    cases: dict[str, tuple[bytes, bool]] = {
        "right": (good, True),
        "signed_by_cryptography": (private.sign(MESSAGE, padding.PKCS1v15(), HASHES[name]), True),
        "another_hash": (raw_rsa(private, em(k, other_t)), False),
        "another_message": (
            raw_rsa(private, em(k, DIGEST_INFO[name] + hashlib.new(name, b"x").digest())),
            False,
        ),
        "bytes_after_the_digest": (raw_rsa(private, em(k, t + b"\x00")), False),
        "digest_alone": (raw_rsa(private, em(k, digest)), False),
        "block_type_2": (raw_rsa(private, em(k, t, block_type=2)), False),
        "padding_not_ff": (raw_rsa(private, em(k, t, fill=b"\xfe")), False),
        "padding_of_7_bytes": (
            raw_rsa(private, em(k, b"\x00" * (k - 3 - 7 - len(t)) + t, pad=7)),
            False,
        ),
        "one_byte_short": (good[1:], False),
        "one_byte_long": (b"\x00" + good, False),
        "empty": (b"", False),
        "not_below_the_modulus": (b"\xff" * k, False),
        "flipped_bit": (good[:-1] + bytes([good[-1] ^ 1]), False),
    }
    if name in NO_NULL:
        cases["digest_info_without_null"] = (raw_rsa(private, em(k, NO_NULL[name] + digest)), False)
    ours = rsa_verifier(public, alg)
    theirs = oracle(public, name)
    for label, (signature, expected) in cases.items():
        assert ours(MESSAGE, signature) is theirs(MESSAGE, signature) is expected, label
    assert ours(MESSAGE + b".", good) is False


@pytest.mark.parametrize("alg", ["PS256", "PS384", "PS512"])
def test_pss_takes_the_hashs_size_as_salt_length(keys: Keys, alg: str) -> None:
    hash_alg = HASHES[{"256": "sha256", "384": "sha384", "512": "sha512"}[alg[2:]]]
    verify = rsa_verifier(keys.rsa.public_key(), alg)

    def pss(salt: int) -> bytes:
        return keys.rsa.sign(MESSAGE, padding.PSS(padding.MGF1(hash_alg), salt), hash_alg)

    good = pss(hash_alg.digest_size)
    assert verify(MESSAGE, good)
    assert not verify(MESSAGE + b"x", good)
    assert not verify(MESSAGE, pss(0))  # RFC 7518 section 3.5: the salt is the hash's size
    assert not verify(MESSAGE, keys.rsa.sign(MESSAGE, padding.PKCS1v15(), hash_alg))
    assert not verify(MESSAGE, good[:-1])
    # Another key's signature.
    assert not rsa_verifier(keys.rsa2.public_key(), alg)(MESSAGE, good)


@pytest.mark.parametrize(
    ("kind", "alg", "size"),
    [("ec256", "ES256", 32), ("ec384", "ES384", 48), ("ec521", "ES512", 66)],
)
def test_ecdsa_takes_raw_r_and_s_of_the_curves_size(
    keys: Keys, kind: str, alg: str, size: int
) -> None:
    private: ec.EllipticCurvePrivateKey = getattr(keys, kind)
    hash_alg = HASHES[{"256": "sha256", "384": "sha384", "512": "sha512"}[alg[2:]]]
    verify = ec_verifier(private.public_key(), alg)
    der = private.sign(MESSAGE, ec.ECDSA(hash_alg))
    r, s = decode_dss_signature(der)
    raw = r.to_bytes(size, "big") + s.to_bytes(size, "big")
    assert verify(MESSAGE, raw)
    assert not verify(MESSAGE + b"x", raw)
    assert len(der) != 2 * size and not verify(MESSAGE, der)  # DER is not JWS
    assert not verify(MESSAGE, raw[:-1])
    assert not verify(MESSAGE, raw + b"\x00")
    assert not verify(MESSAGE, s.to_bytes(size, "big") + r.to_bytes(size, "big"))
    assert not verify(MESSAGE, bytes(2 * size))  # r = s = 0
    assert not verify(MESSAGE, b"\xff" * (2 * size))  # r and s not below the order


def test_eddsa(keys: Keys) -> None:
    verify = okp_verifier(keys.ed.public_key())
    signature = keys.ed.sign(MESSAGE)
    assert verify(MESSAGE, signature)
    assert not verify(MESSAGE + b"x", signature)
    assert not verify(MESSAGE, signature[:-1])
    assert not verify(MESSAGE, b"")
    assert not verify(MESSAGE, bytes(64))


@pytest.mark.parametrize(
    ("alg", "digest"), [("HS256", "sha256"), ("HS384", "sha384"), ("HS512", "sha512")]
)
def test_hmac_one_secret_and_a_ring(alg: str, digest: str) -> None:
    current, previous = b"c" * 64, b"p" * 64
    mac = hmac.new(previous, MESSAGE, digest).digest()
    assert not hmac_verifier([current], alg)(MESSAGE, mac)
    ring = hmac_verifier([current, previous], alg)
    assert ring(MESSAGE, mac)
    assert ring(MESSAGE, hmac.new(current, MESSAGE, digest).digest())
    assert not ring(MESSAGE + b"x", mac)
    assert not ring(MESSAGE, mac[:-1])
    assert not ring(MESSAGE, b"")
    assert hmac_verifier([previous], alg)(MESSAGE, mac)
    assert hmac_matches(previous, alg, MESSAGE, mac)
    assert not hmac_matches(current, alg, MESSAGE, mac)


def test_hmac_algorithms_are_not_interchangeable() -> None:
    secret = b"s" * 64
    mac256 = hmac.new(secret, MESSAGE, "sha256").digest()
    assert hmac_verifier([secret], "HS256")(MESSAGE, mac256)
    assert not hmac_verifier([secret], "HS384")(MESSAGE, mac256)
    assert not hmac_verifier([secret], "HS512")(MESSAGE, mac256 + mac256)
