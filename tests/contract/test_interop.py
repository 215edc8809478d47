"""Interoperability: tokens minted by PyJWT (another library) verify with this package.

Every algorithm the package supports is exercised with each way of configuring
its key (PEM text, PEM file, JWKS file). Fingerprints are checked against an
RFC 7638 thumbprint computed here, independently of the package.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID
from helpers.keys import AUDIENCE, ISSUER, Keys, b64url, public_pem
from helpers.tokens import claims, sign
from joserfc import jwk

from jwt_middleware import (
    Failure,
    Reason,
    Settings,
    VerifiedToken,
    Verifier,
    load_static_keys,
)

ASYMMETRIC_ALGS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)
HMAC_ALGS = ("HS256", "HS384", "HS512")
# 64 bytes: long enough for HS512, so no weak-secret warnings get in the way.
LONG_SECRET = "k9#Qm2!vX7@pL4$wR8^tY1&uI5*oP3(aS6)dF0_gH2+jK4=lZ7~xC9-vB1.nM3,q"


# --- independent helpers -------------------------------------------------------


def rfc7638_thumbprint(members: dict[str, str]) -> str:
    """RFC 7638 section 3: required members, sorted, no whitespace, SHA-256, base64url."""
    canonical = json.dumps(members, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return b64url(hashlib.sha256(canonical.encode("utf-8")).digest())


def hmac_fingerprint(secret: bytes) -> str:
    """An HMAC secret's fingerprint as docs/key-sources.md defines it: scrypt of the
    secret with the fixed label, N=2**14, r=8, p=1, 32 bytes, base64url."""
    derived = hashlib.scrypt(
        secret,
        salt=b"jwt_middleware HMAC key fingerprint v1",
        n=2**14,
        r=8,
        p=1,
        maxmem=64 * 1024 * 1024,
        dklen=32,
    )
    return b64url(derived)


def _int_b64(value: int, length: int | None = None) -> str:
    size = length if length is not None else (value.bit_length() + 7) // 8
    return b64url(value.to_bytes(size, "big"))


def manual_thumbprint(public: Any) -> str:
    """Thumbprint from the raw key numbers, without joserfc or jwt_middleware."""
    if isinstance(public, rsa.RSAPublicKey):
        nums = public.public_numbers()
        return rfc7638_thumbprint({"e": _int_b64(nums.e), "kty": "RSA", "n": _int_b64(nums.n)})
    if isinstance(public, ec.EllipticCurvePublicKey):
        nums = public.public_numbers()
        size = (public.curve.key_size + 7) // 8
        crv = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}[public.curve.name]
        return rfc7638_thumbprint(
            {"crv": crv, "kty": "EC", "x": _int_b64(nums.x, size), "y": _int_b64(nums.y, size)}
        )
    if isinstance(public, ed25519.Ed25519PublicKey):
        raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return rfc7638_thumbprint({"crv": "Ed25519", "kty": "OKP", "x": b64url(raw)})
    raise TypeError(type(public))


def joserfc_key(public: Any) -> jwk.Key:
    if isinstance(public, rsa.RSAPublicKey):
        return jwk.RSAKey.import_key(public)
    if isinstance(public, ec.EllipticCurvePublicKey):
        return jwk.ECKey.import_key(public)
    return jwk.OKPKey.import_key(public)


def public_jwk(private: Any, *, kid: str, alg: str | None) -> dict[str, Any]:
    entry = dict(joserfc_key(private.public_key()).as_dict())
    assert "d" not in entry
    entry.update(kid=kid, use="sig")
    if alg is not None:
        entry["alg"] = alg
    return entry


def write_jwks(path: Path, entries: list[dict[str, Any]]) -> str:
    path.write_text(json.dumps({"keys": entries}))
    return str(path)


def verifier_for(settings: Settings, clock: Any = None) -> Verifier:
    loaded = load_static_keys(settings)
    if clock is None:
        return Verifier(settings, loaded.keyset)
    return Verifier(settings, loaded.keyset, clock=clock)


def assert_verified(
    result: VerifiedToken | Failure,
    *,
    payload: dict[str, Any],
    alg: str,
    kid: str | None,
    fingerprint: str,
) -> VerifiedToken:
    assert isinstance(result, VerifiedToken), result
    assert result.claims == payload
    assert result.alg == alg
    assert result.header["alg"] == alg
    assert result.kid == kid
    assert result.key_fingerprint == fingerprint
    expected_scopes: set[str] = set()  # every scope claim counts: scope and scp
    for claim in ("scope", "scp"):
        value = payload.get(claim)
        expected_scopes.update(value.split() if isinstance(value, str) else value or [])
    assert result.scopes == frozenset(expected_scopes)
    assert result.subject == payload.get("sub")
    assert result.expires_at == float(payload["exp"])
    return result


def full_settings(**kw: Any) -> Settings:
    return Settings(issuer=ISSUER, audience=AUDIENCE, **kw)


# --- every asymmetric algorithm, three ways of configuring the key ------------------


def test_independent_thumbprint_matches_joserfc(keys: Keys) -> None:
    """The two independent fingerprint computations used below agree with each other."""
    for private in (keys.rsa, keys.ec256, keys.ec384, keys.ec521, keys.ed):
        public = private.public_key()
        assert manual_thumbprint(public) == joserfc_key(public).thumbprint()


@pytest.mark.parametrize("alg", ASYMMETRIC_ALGS)
def test_pyjwt_token_verifies_with_pem_text(keys: Keys, alg: str) -> None:
    private = keys.by_alg[alg]
    payload = claims(scope="orders:read orders:write", role="clerk")
    token = sign(payload, private, alg)
    settings = full_settings(public_keys=(public_pem(private),), algorithms=(alg,))
    result = verifier_for(settings).verify(token)
    expected_fp = manual_thumbprint(private.public_key())
    assert expected_fp == joserfc_key(private.public_key()).thumbprint()
    verified = assert_verified(result, payload=payload, alg=alg, kid=None, fingerprint=expected_fp)
    assert verified.scopes == {"orders:read", "orders:write"}
    assert verified.claims["role"] == "clerk"


@pytest.mark.parametrize("alg", ASYMMETRIC_ALGS)
def test_pyjwt_token_with_kid_verifies_with_single_pem(keys: Keys, alg: str) -> None:
    """A PEM has no kid; the token's kid is reported, the lone fitting key is used."""
    private = keys.by_alg[alg]
    payload = claims()
    token = sign(payload, private, alg, headers={"kid": "issuer-key-7"})
    settings = full_settings(public_keys=(public_pem(private),), algorithms=(alg,))
    result = verifier_for(settings).verify(token)
    assert_verified(
        result,
        payload=payload,
        alg=alg,
        kid="issuer-key-7",
        fingerprint=manual_thumbprint(private.public_key()),
    )


@pytest.mark.parametrize("alg", ASYMMETRIC_ALGS)
def test_pyjwt_token_verifies_with_public_key_file(keys: Keys, alg: str, tmp_path: Path) -> None:
    private = keys.by_alg[alg]
    pem_file = tmp_path / "public.pem"
    pem_file.write_text(public_pem(private))
    payload = claims(scope="admin")
    token = sign(payload, private, alg)
    settings = full_settings(public_key_file=str(pem_file), algorithms=(alg,))
    result = verifier_for(settings).verify(token)
    verified = assert_verified(
        result,
        payload=payload,
        alg=alg,
        kid=None,
        fingerprint=joserfc_key(private.public_key()).thumbprint(),
    )
    assert verified.scopes == {"admin"}


@pytest.mark.parametrize("declare_alg", [True, False], ids=["jwk-alg", "no-jwk-alg"])
@pytest.mark.parametrize("alg", ASYMMETRIC_ALGS)
def test_pyjwt_token_verifies_through_jwks_file(
    keys: Keys, alg: str, declare_alg: bool, tmp_path: Path
) -> None:
    private = keys.by_alg[alg]
    other = keys.rsa2 if alg[0] in "RP" else keys.rsa
    kid = f"{alg.lower()}-key"
    jwks = write_jwks(
        tmp_path / "jwks.json",
        [
            public_jwk(other, kid="decoy", alg=None),
            public_jwk(private, kid=kid, alg=alg if declare_alg else None),
        ],
    )
    payload = claims(scp=["a", "b"], scope=None)
    token = sign(payload, private, alg, headers={"kid": kid})
    settings = full_settings(jwks_file=jwks, algorithms=(alg, "RS256"))
    result = verifier_for(settings).verify(token)
    verified = assert_verified(
        result,
        payload=payload,
        alg=alg,
        kid=kid,
        fingerprint=manual_thumbprint(private.public_key()),
    )
    assert verified.scopes == {"a", "b"}


async def test_pyjwt_tokens_through_the_middleware_for_every_alg(
    keys: Keys, tmp_path: Path
) -> None:
    """One JWKS holding a key per algorithm: every PyJWT token reaches the handler."""
    from helpers.apps import build_app

    entries = [public_jwk(keys.by_alg[alg], kid=f"kid-{alg}", alg=alg) for alg in ASYMMETRIC_ALGS]
    jwks = write_jwks(tmp_path / "all.json", entries)
    h = build_app(full_settings(jwks_file=jwks, algorithms=ASYMMETRIC_ALGS))
    async with h.client() as client:
        for alg in ASYMMETRIC_ALGS:
            token = sign(claims(sub=f"user-{alg}"), keys.by_alg[alg], alg, {"kid": f"kid-{alg}"})
            r = await client.get("/me", headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 200, (alg, r.text)
            assert r.json()["claims"]["sub"] == f"user-{alg}"
    assert h.calls == ["/me"] * len(ASYMMETRIC_ALGS)


# --- HMAC -------------------------------------------------------------------------


@pytest.mark.parametrize("alg", HMAC_ALGS)
def test_pyjwt_hmac_token_verifies(alg: str) -> None:
    payload = claims(scope="read")
    token = sign(payload, LONG_SECRET, alg, headers={"kid": "hs"})
    settings = full_settings(secret=LONG_SECRET, algorithms=(alg,))
    loaded = load_static_keys(settings)
    assert not [w for w in loaded.warnings if "HMAC secret" in w]
    result = Verifier(settings, loaded.keyset).verify(token)
    # Not the RFC 7638 thumbprint (a fast hash a reader could test guesses against).
    oct_fp = rfc7638_thumbprint({"k": b64url(LONG_SECRET.encode()), "kty": "oct"})
    assert oct_fp == jwk.OctKey.import_key(LONG_SECRET.encode()).thumbprint()
    derived = hmac_fingerprint(LONG_SECRET.encode())
    assert derived != oct_fp
    assert_verified(result, payload=payload, alg=alg, kid="hs", fingerprint=derived)


@pytest.mark.parametrize("alg", HMAC_ALGS)
def test_pyjwt_hmac_token_verifies_through_jwks_oct_key(alg: str, tmp_path: Path) -> None:
    secret = LONG_SECRET.encode()
    entry = dict(jwk.OctKey.import_key(secret).as_dict())
    entry.update(kid="oct-1", alg=alg, use="sig")
    jwks = write_jwks(tmp_path / "oct.json", [entry])
    payload = claims()
    token = sign(payload, secret, alg, headers={"kid": "oct-1"})
    result = verifier_for(full_settings(jwks_file=jwks, algorithms=(alg,))).verify(token)
    assert_verified(
        result,
        payload=payload,
        alg=alg,
        kid="oct-1",
        fingerprint=hmac_fingerprint(secret),
    )


def test_several_hmac_secrets_accept_tokens_signed_with_any() -> None:
    new = "new-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
    old = "old-secret-0123456789-ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    unknown = "rogue-secret-0123456789-abcdefghijklmnopqrstuvw"
    settings = full_settings(secrets=(new, old), algorithms=("HS256",))
    verifier = verifier_for(settings)
    ring_fp = hmac_fingerprint(new.encode())
    for secret in (new, old):
        payload = claims(sub=f"signed-with-{secret[:3]}")
        result = verifier.verify(sign(payload, secret, "HS256"))
        # The ring is one logical key: its fingerprint is the current (first) secret's.
        assert_verified(result, payload=payload, alg="HS256", kid=None, fingerprint=ring_fp)
    rejected = verifier.verify(sign(claims(), unknown, "HS256"))
    assert isinstance(rejected, Failure)
    assert rejected.reason is Reason.signature_invalid


def test_secret_plus_secrets_form_one_ring() -> None:
    current = "current-secret-0123456789-abcdefghijklmnopqrstu"
    previous = "previous-secret-0123456789-abcdefghijklmnopqrs"
    settings = full_settings(secret=current, secrets=(previous,), algorithms=("HS256",))
    loaded = load_static_keys(settings)
    assert len(loaded.keyset) == 1
    verifier = Verifier(settings, loaded.keyset)
    for secret in (current, previous):
        assert isinstance(verifier.verify(sign(claims(), secret, "HS256")), VerifiedToken)


# --- certificates, mismatches ------------------------------------------------------


def self_signed_certificate(private: Any) -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "issuer.example.com")])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
    )
    algorithm = None if isinstance(private, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    cert = builder.sign(private, algorithm)
    return cert.public_bytes(serialization.Encoding.PEM).decode()


@pytest.mark.parametrize("alg", ["RS256", "PS512", "ES256", "ES512", "EdDSA"])
def test_certificate_pem_works_as_key(keys: Keys, alg: str, tmp_path: Path) -> None:
    private = keys.by_alg[alg]
    cert_pem = self_signed_certificate(private)
    assert cert_pem.startswith("-----BEGIN CERTIFICATE-----")
    payload = claims()
    token = sign(payload, private, alg)
    fp = manual_thumbprint(private.public_key())
    by_text = verifier_for(full_settings(public_keys=(cert_pem,), algorithms=(alg,)))
    assert_verified(by_text.verify(token), payload=payload, alg=alg, kid=None, fingerprint=fp)
    cert_file = tmp_path / "cert.pem"
    cert_file.write_text(cert_pem)
    by_file = verifier_for(full_settings(public_key_file=str(cert_file), algorithms=(alg,)))
    assert_verified(by_file.verify(token), payload=payload, alg=alg, kid=None, fingerprint=fp)


def test_certificate_of_another_key_rejects(keys: Keys) -> None:
    settings = full_settings(public_keys=(self_signed_certificate(keys.rsa2),))
    result = verifier_for(settings).verify(sign(claims(), keys.rsa, "RS256"))
    assert isinstance(result, Failure)
    assert result.reason is Reason.signature_invalid


def test_ec_p256_key_with_es384_token_is_algorithm_key_mismatch(keys: Keys) -> None:
    settings = full_settings(public_keys=(public_pem(keys.ec256),), algorithms=("ES256", "ES384"))
    token = sign(claims(), keys.ec384, "ES384")
    result = verifier_for(settings).verify(token)
    assert isinstance(result, Failure)
    assert result.reason is Reason.algorithm_key_mismatch
    assert result.alg == "ES384"
    assert "EC P-256" in result.detail


def test_ec_key_named_by_kid_with_es384_token_is_algorithm_key_mismatch(
    keys: Keys, tmp_path: Path
) -> None:
    jwks = write_jwks(tmp_path / "jwks.json", [public_jwk(keys.ec256, kid="ec", alg=None)])
    settings = full_settings(jwks_file=jwks, algorithms=("ES256", "ES384"))
    token = sign(claims(), keys.ec384, "ES384", headers={"kid": "ec"})
    result = verifier_for(settings).verify(token)
    assert isinstance(result, Failure)
    assert result.reason is Reason.algorithm_key_mismatch
    assert result.kid == "ec"
    assert result.key_fingerprint == manual_thumbprint(keys.ec256.public_key())


def test_rs256_token_against_ec_key_is_algorithm_key_mismatch(keys: Keys) -> None:
    settings = full_settings(public_keys=(public_pem(keys.ec256),), algorithms=("ES256", "RS256"))
    result = verifier_for(settings).verify(sign(claims(), keys.rsa, "RS256"))
    assert isinstance(result, Failure)
    assert result.reason is Reason.algorithm_key_mismatch


def test_jwk_declared_alg_is_enforced(keys: Keys, tmp_path: Path) -> None:
    """An RSA JWK declared for PS256 does not verify an RS256 token, though the key fits."""
    jwks = write_jwks(tmp_path / "jwks.json", [public_jwk(keys.rsa, kid="r", alg="PS256")])
    settings = full_settings(jwks_file=jwks, algorithms=("RS256", "PS256"))
    verifier = verifier_for(settings)
    ok = verifier.verify(sign(claims(), keys.rsa, "PS256", headers={"kid": "r"}))
    assert isinstance(ok, VerifiedToken)
    bad = verifier.verify(sign(claims(), keys.rsa, "RS256", headers={"kid": "r"}))
    assert isinstance(bad, Failure)
    assert bad.reason is Reason.algorithm_key_mismatch


def test_hs256_signed_with_the_public_pem_is_algorithm_confusion(keys: Keys) -> None:
    pem = public_pem(keys.rsa)
    settings = full_settings(public_keys=(pem,), algorithms=("RS256",))
    header = {"alg": "HS256", "typ": "JWT"}
    signing_input = (
        b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims()).encode())
    )
    import hmac

    sig = hmac.digest(pem.encode(), signing_input.encode(), "sha256")
    token = signing_input + "." + b64url(sig)
    result = verifier_for(settings).verify(token)
    assert isinstance(result, Failure)
    assert result.reason is Reason.algorithm_confusion


# --- audience arrays ------------------------------------------------------------------


@pytest.mark.parametrize(
    "aud",
    [[AUDIENCE], ["other-api", AUDIENCE], [AUDIENCE, "other-api", "third"]],
)
def test_pyjwt_token_with_audience_array_verifies(keys: Keys, aud: list[str]) -> None:
    payload = claims(aud=aud)
    token = sign(payload, keys.rsa, "RS256")
    result = verifier_for(full_settings(public_keys=(public_pem(keys.rsa),))).verify(token)
    assert isinstance(result, VerifiedToken), result
    assert result.claims["aud"] == aud


@pytest.mark.parametrize("aud", [["other-api"], [], ["ORDERS-API", "orders-api/"]])
def test_pyjwt_token_with_audience_array_lacking_ours_is_rejected(
    keys: Keys, aud: list[str]
) -> None:
    token = sign(claims(aud=aud), keys.rsa, "RS256")
    result = verifier_for(full_settings(public_keys=(public_pem(keys.rsa),))).verify(token)
    assert isinstance(result, Failure)
    assert result.reason is Reason.audience_mismatch


def test_any_of_several_configured_audiences_matches(keys: Keys) -> None:
    settings = Settings(
        public_keys=(public_pem(keys.rsa),), issuer=ISSUER, audience=("api-a", "api-b")
    )
    verifier = verifier_for(settings)
    ok = verifier.verify(sign(claims(aud=["x", "api-b"]), keys.rsa))
    assert isinstance(ok, VerifiedToken)
    missing = verifier.verify(sign(claims(aud=None), keys.rsa))
    assert isinstance(missing, Failure)
    assert missing.reason is Reason.missing_claim


# --- leeway at the boundary ---------------------------------------------------------

NOW = 1_750_000_000.0
LEEWAY = 30


def boundary_verifier(keys: Keys, now: float = NOW, leeway: float = LEEWAY) -> Verifier:
    settings = full_settings(public_keys=(public_pem(keys.rsa),), leeway=leeway)
    return verifier_for(settings, clock=lambda: now)


def timed_claims(**times: float) -> dict[str, Any]:
    base = claims(iat=int(NOW) - 100, nbf=int(NOW) - 100, exp=int(NOW) + 600)
    base.update(times)
    return base


@pytest.mark.parametrize("late", [0, 1, LEEWAY - 1, LEEWAY - 0.5])
def test_expired_within_leeway_is_accepted(keys: Keys, late: float) -> None:
    token = sign(timed_claims(exp=NOW - late), keys.rsa)
    assert isinstance(boundary_verifier(keys).verify(token), VerifiedToken)


@pytest.mark.parametrize(
    ("late", "said"),
    [(LEEWAY + 0.5, "30 s"), (LEEWAY + 1, "31 s"), (LEEWAY + 120, "2 min 30 s")],
)
def test_expired_beyond_leeway_is_rejected(keys: Keys, late: float, said: str) -> None:
    token = sign(timed_claims(exp=NOW - late), keys.rsa)
    result = boundary_verifier(keys).verify(token)
    assert isinstance(result, Failure)
    assert result.reason is Reason.token_expired
    assert f"expired {said} ago" in result.detail
    assert result.expected["leeway_seconds"] == LEEWAY


def test_leeway_is_applied_from_the_clock_not_wall_time(keys: Keys) -> None:
    """The same token is valid or expired depending only on the injected clock."""
    token = sign(timed_claims(exp=NOW), keys.rsa)
    assert isinstance(boundary_verifier(keys, now=NOW + LEEWAY - 1).verify(token), VerifiedToken)
    late = boundary_verifier(keys, now=NOW + LEEWAY + 1).verify(token)
    assert isinstance(late, Failure)
    assert late.reason is Reason.token_expired


def test_zero_leeway_rejects_one_second_after_exp(keys: Keys) -> None:
    token = sign(timed_claims(exp=NOW - 1), keys.rsa)
    result = boundary_verifier(keys, leeway=0).verify(token)
    assert isinstance(result, Failure)
    assert result.reason is Reason.token_expired


@pytest.mark.parametrize(
    ("claim", "reason"),
    [("nbf", Reason.token_not_yet_valid), ("iat", Reason.token_issued_in_future)],
)
def test_future_claims_at_the_leeway_boundary(keys: Keys, claim: str, reason: Reason) -> None:
    verifier = boundary_verifier(keys)
    inside = sign(timed_claims(**{claim: NOW + LEEWAY - 1}), keys.rsa)
    assert isinstance(verifier.verify(inside), VerifiedToken)
    outside = sign(timed_claims(**{claim: NOW + LEEWAY + 1}), keys.rsa)
    result = verifier.verify(outside)
    assert isinstance(result, Failure)
    assert result.reason is reason


def test_pyjwt_and_this_package_agree_on_leeway_away_from_the_exact_boundary(keys: Keys) -> None:
    """PyJWT's own decode with the same leeway gives the same verdict at +-1 s."""
    import jwt as pyjwt

    pem = public_pem(keys.rsa)
    now = time.time()
    for late, valid in ((LEEWAY - 2, True), (LEEWAY + 2, False)):
        token = sign(claims(exp=int(now - late)), keys.rsa)
        try:
            pyjwt.decode(
                token, pem, algorithms=["RS256"], audience=AUDIENCE, issuer=ISSUER, leeway=LEEWAY
            )
            pyjwt_valid = True
        except pyjwt.ExpiredSignatureError:
            pyjwt_valid = False
        ours = verifier_for(full_settings(public_keys=(pem,), leeway=LEEWAY)).verify(token)
        assert pyjwt_valid is valid
        assert isinstance(ours, VerifiedToken) is valid


def test_standard_base64_pem_body_is_not_confused_with_b64url(keys: Keys) -> None:
    """Sanity: the PEM body uses standard base64 and still loads (no b64url assumptions)."""
    pem = public_pem(keys.rsa)
    body = "".join(pem.strip().splitlines()[1:-1])
    assert base64.b64decode(body)  # standard alphabet
    loaded = load_static_keys(full_settings(public_keys=(pem,)))
    assert len(loaded.keyset) == 1
