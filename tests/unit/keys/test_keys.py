"""Key loading at startup (jwt_middleware/keys.py, sources.py): PEM text and files,
JWKS files, HMAC secrets. Everything that cannot work fails when the middleware is
built (ConfigurationError), never at the first request; a mangled PEM is repaired
and warned about; weak secrets are warned about without being echoed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from helpers.keys import AUDIENCE, ISSUER, Keys, b64url, private_pem, public_pem
from helpers.tokens import claims, sign
from joserfc import jwk
from starlette.applications import Starlette

from jwt_middleware import (
    ConfigurationError,
    Failure,
    JWTAuthMiddleware,
    Reason,
    Settings,
    VerifiedToken,
    Verifier,
    load_static_keys,
)

GOOD_SECRET = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"  # 64 bytes
# Deliberately too small: the package must refuse it.
SMALL_RSA = rsa.generate_private_key(65537, 1024)  # noqa: S505


def inner_app() -> Starlette:
    return Starlette()


def jwk_of(private: Any, **extra: Any) -> dict[str, Any]:
    public = private.public_key()
    cls = jwk.RSAKey if isinstance(public, rsa.RSAPublicKey) else jwk.ECKey
    entry = dict(cls.import_key(public).as_dict())
    entry.update(extra)
    return entry


# --- from_env: every variable ------------------------------------------------------


def test_unreadable_pem_file_fails_at_startup(tmp_path: Path) -> None:
    missing = tmp_path / "does-not-exist.pem"
    settings = Settings(public_key_file=str(missing))
    with pytest.raises(ConfigurationError, match=r"Settings\(public_key_file=\.\.\.\)") as info:
        load_static_keys(settings)
    assert str(missing) in str(info.value)
    with pytest.raises(ConfigurationError):
        JWTAuthMiddleware(inner_app(), settings)
    with pytest.raises(ConfigurationError, match=r"Settings\(public_key_file=\.\.\.\)"):
        load_static_keys(Settings(public_key_file=str(tmp_path)))  # a directory


def test_unreadable_jwks_file_fails_at_startup(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"Settings\(jwks_file=\.\.\.\)"):
        JWTAuthMiddleware(inner_app(), Settings(jwks_file=str(tmp_path / "nope.json")))


@pytest.mark.parametrize(
    "content",
    [
        "garbage",
        "",
        "-----BEGIN PUBLIC KEY-----\nnot base64 at all!!\n-----END PUBLIC KEY-----\n",
        "-----BEGIN PUBLIC KEY-----\nQUJDREVGRw==\n-----END PUBLIC KEY-----\n",
        "-----BEGIN SOMETHING ELSE-----\nQUJD\n-----END SOMETHING ELSE-----\n",
        '{"keys": []}',
    ],
    ids=["text", "empty", "bad-base64", "not-a-key", "other-label", "jwks-as-pem"],
)
def test_garbage_pem_fails_at_startup(content: str, tmp_path: Path) -> None:
    pem_file = tmp_path / "bad.pem"
    pem_file.write_text(content)
    with pytest.raises(ConfigurationError):
        JWTAuthMiddleware(inner_app(), Settings(public_key_file=str(pem_file)))
    if content:
        with pytest.raises(ConfigurationError):
            load_static_keys(Settings(public_keys=(content,)))


def test_truncated_pem_fails_at_startup(keys: Keys) -> None:
    pem = public_pem(keys.rsa)
    lines = pem.splitlines()
    truncated = "\n".join(lines[:3] + lines[-1:]) + "\n"
    with pytest.raises(ConfigurationError, match="could not be read"):
        load_static_keys(Settings(public_keys=(truncated,)))


@pytest.mark.parametrize("kind", ["rsa", "ec256", "ed"])
def test_private_key_as_public_key_is_refused_with_advice(
    keys: Keys, kind: str, tmp_path: Path
) -> None:
    private = getattr(keys, kind)
    pem_file = tmp_path / "private.pem"
    pem_file.write_text(private_pem(private))
    with pytest.raises(ConfigurationError) as info:
        JWTAuthMiddleware(inner_app(), Settings(public_key_file=str(pem_file)))
    message = str(info.value)
    assert "private key" in message
    assert "-pubout" in message  # says how to derive the public key
    # ... and does not echo the key material it was given.
    body_line = private_pem(private).splitlines()[1]
    assert body_line not in message


def test_traditional_rsa_private_key_is_refused(keys: Keys) -> None:
    traditional = keys.rsa.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    assert "BEGIN RSA PRIVATE KEY" in traditional
    with pytest.raises(ConfigurationError, match="private key"):
        load_static_keys(Settings(public_keys=(traditional,)))


@pytest.mark.filterwarnings("ignore:Key size should be")
def test_small_rsa_key_is_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"1024 bits.*2048"):
        JWTAuthMiddleware(inner_app(), Settings(public_keys=(public_pem(SMALL_RSA),)))


def test_unsupported_ec_curve_is_refused() -> None:
    k256 = ec.generate_private_key(ec.SECP256K1())
    with pytest.raises(ConfigurationError, match="secp256k1"):
        load_static_keys(Settings(public_keys=(public_pem(k256),), algorithms=("ES256",)))


@pytest.mark.parametrize(
    ("kind", "algs"),
    [
        ("ec256", ("RS256",)),
        ("ec256", ("ES384", "ES512")),
        ("rsa", ("ES256", "EdDSA")),
        ("ed", ("RS256", "ES256")),
    ],
)
def test_allowed_algorithms_no_key_can_verify(keys: Keys, kind: str, algs: tuple[str, ...]) -> None:
    settings = Settings(public_keys=(public_pem(getattr(keys, kind)),), algorithms=algs)
    with pytest.raises(ConfigurationError, match="no configured key can verify") as info:
        JWTAuthMiddleware(inner_app(), settings)
    assert "Set Settings(algorithms=...) to" in str(info.value)


def test_secret_only_with_rsa_algorithms_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="no configured key can verify"):
        load_static_keys(Settings(secret=GOOD_SECRET, algorithms=("RS256",)))


def _mangle(pem: str, how: str) -> str:
    if how == "spaces":
        return pem.strip().replace("\n", " ")
    if how == "single-line":
        return pem.strip().replace("\n", "")
    if how == "escaped-newlines":
        return pem.strip().replace("\n", "\\n")
    if how == "crlf":
        return pem.replace("\n", "\r\n")
    if how == "quoted-escaped":
        return '"' + pem.strip().replace("\n", "\\n") + '"'
    raise AssertionError(how)


MANGLINGS = ["spaces", "single-line", "escaped-newlines", "quoted-escaped"]


@pytest.mark.parametrize("kind", ["rsa", "ec256", "ec521", "ed"])
@pytest.mark.parametrize("how", MANGLINGS)
def test_mangled_pem_is_repaired_and_warned_about(keys: Keys, how: str, kind: str) -> None:
    private = getattr(keys, kind)
    alg = {"rsa": "RS256", "ec256": "ES256", "ec521": "ES512", "ed": "EdDSA"}[kind]
    mangled = _mangle(public_pem(private), how)
    assert mangled != public_pem(private)
    settings = Settings(public_keys=(mangled,), algorithms=(alg,), issuer=ISSUER, audience=AUDIENCE)
    loaded = load_static_keys(settings)
    repaired = [w for w in loaded.warnings if "repaired" in w]
    assert len(repaired) == 1, loaded.warnings
    assert "pem:#1" in repaired[0]
    # The repaired key is the right key: a token signed with its private half verifies.
    result = Verifier(settings, loaded.keyset).verify(sign(claims(), private, alg))
    assert isinstance(result, VerifiedToken), result


@pytest.mark.parametrize("how", MANGLINGS)
def test_mangled_pem_file_is_repaired_and_warned_about(
    keys: Keys, how: str, tmp_path: Path
) -> None:
    pem_file = tmp_path / "key.pem"
    pem_file.write_bytes(_mangle(public_pem(keys.rsa), how).encode())
    loaded = load_static_keys(Settings(public_key_file=str(pem_file)))
    assert any("repaired" in w and str(pem_file) in w for w in loaded.warnings), loaded.warnings
    assert len(loaded.keyset) == 1


def test_escaped_newline_repair_names_the_fix(keys: Keys) -> None:
    mangled = _mangle(public_pem(keys.rsa), "escaped-newlines")
    loaded = load_static_keys(Settings(public_keys=(mangled,)))
    assert any("literal '\\n'" in w for w in loaded.warnings), loaded.warnings


@pytest.mark.parametrize("kind", ["rsa", "ed"])
def test_crlf_pem_is_valid_and_loads_without_a_repair_warning(keys: Keys, kind: str) -> None:
    private = getattr(keys, kind)
    alg = "RS256" if kind == "rsa" else "EdDSA"
    settings = Settings(public_keys=(_mangle(public_pem(private), "crlf"),), algorithms=(alg,))
    loaded = load_static_keys(settings)
    assert not [w for w in loaded.warnings if "repaired" in w]
    assert isinstance(
        Verifier(settings, loaded.keyset).verify(sign(claims(), private, alg)), VerifiedToken
    )


def test_intact_pem_gives_no_repair_warning(keys: Keys) -> None:
    loaded = load_static_keys(Settings(public_keys=(public_pem(keys.rsa),)))
    assert not [w for w in loaded.warnings if "repaired" in w]


def secret_warnings_for(secret: str, algs: tuple[str, ...] = ("HS256",)) -> list[str]:
    loaded = load_static_keys(Settings(secret=secret, algorithms=algs, audience=AUDIENCE))
    return [w for w in loaded.warnings if "HMAC secret" in w]


@pytest.mark.parametrize("secret", ["secret", "changeme", "CHANGEME", "Secret", "  password\n"])
def test_well_known_default_secret_warns(secret: str) -> None:
    warnings = secret_warnings_for(secret)
    assert any("well-known default" in w for w in warnings), warnings


@pytest.mark.parametrize("secret", ["changeme", "CHANGEME", "Secret", "SECRET"])
def test_default_secret_warnings_do_not_contain_the_secret(secret: str) -> None:
    # Case-sensitive check: the warnings legitimately say "HMAC secret" in lower case,
    # so only values that cannot appear by accident are checked.
    warnings = secret_warnings_for(secret)
    assert warnings
    assert all(secret not in w for w in warnings), warnings


def test_short_secret_warns_for_each_algorithm_without_echoing_it() -> None:
    secret = "Short-Unique-Xy9Q"  # 17 bytes
    warnings = secret_warnings_for(secret, ("HS256", "HS512"))
    assert any("17 bytes" in w and "32 bytes HS256" in w for w in warnings), warnings
    assert any("17 bytes" in w and "64 bytes HS512" in w for w in warnings), warnings
    assert not any("well-known" in w for w in warnings)
    for w in warnings:
        assert secret not in w
        assert secret.lower() not in w.lower()


def test_secret_of_31_bytes_warns_32_does_not() -> None:
    assert secret_warnings_for("x" * 30 + "Q")
    assert secret_warnings_for("x" * 31 + "Q") == []


def test_each_secret_of_a_ring_is_checked() -> None:
    long_one = "L" * 40
    settings = Settings(secrets=(long_one, "tiny-Qz"), algorithms=("HS256",), audience="a")
    warnings = load_static_keys(settings).warnings
    assert any("#2" in w and "7 bytes" in w for w in warnings), warnings
    assert not any("#1" in w for w in warnings)
    assert all("tiny-Qz" not in w and long_one not in w for w in warnings)


def test_jwks_with_unusable_entries_skips_them_and_keeps_good_keys(
    keys: Keys, tmp_path: Path
) -> None:
    numbers = SMALL_RSA.public_key().public_numbers()
    small_jwk = {
        "kty": "RSA",
        "kid": "small-rsa",
        "n": b64url(numbers.n.to_bytes(128, "big")),
        "e": b64url(numbers.e.to_bytes(3, "big")),
    }
    no_n = jwk_of(keys.rsa2, kid="no-n")
    del no_n["n"]
    entries = [
        {"kty": "XYZ", "kid": "weird-kty", "k": "AAAA"},
        no_n,
        jwk_of(keys.rsa2, kid="enc-key", use="enc"),
        small_jwk,
        jwk_of(keys.rsa, kid="good", use="sig", alg="RS256"),
        jwk_of(keys.ec256, kid="good-ec"),
    ]
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": entries}))
    settings = Settings(
        jwks_file=str(path), algorithms=("RS256", "ES256"), issuer=ISSUER, audience=AUDIENCE
    )
    loaded = load_static_keys(settings)
    assert loaded.keyset.kids == ["good", "good-ec"]
    skipped = {s.kid: s.why for s in loaded.skipped}
    assert set(skipped) == {"weird-kty", "no-n", "enc-key", "small-rsa"}
    assert "XYZ" in skipped["weird-kty"]
    assert "'n'" in skipped["no-n"]
    assert "enc" in skipped["enc-key"]
    assert "1024" in skipped["small-rsa"]
    for kid in skipped:
        assert any(f"key {kid} skipped" in w for w in loaded.warnings), (kid, loaded.warnings)
    verifier = Verifier(settings, loaded.keyset)
    ok = verifier.verify(sign(claims(), keys.rsa, "RS256", headers={"kid": "good"}))
    assert isinstance(ok, VerifiedToken)
    ok_ec = verifier.verify(sign(claims(), keys.ec256, "ES256", headers={"kid": "good-ec"}))
    assert isinstance(ok_ec, VerifiedToken)
    skipped_kid = verifier.verify(sign(claims(), keys.rsa2, "RS256", headers={"kid": "enc-key"}))
    assert isinstance(skipped_kid, Failure)
    assert skipped_kid.reason is Reason.unknown_kid


def test_jwks_with_only_unusable_entries_fails_at_startup(keys: Keys, tmp_path: Path) -> None:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [jwk_of(keys.rsa, kid="e", use="enc")]}))
    with pytest.raises(ConfigurationError, match="no usable key"):
        JWTAuthMiddleware(inner_app(), Settings(jwks_file=str(path)))


@pytest.mark.parametrize(
    "content",
    ['{"keys": {}}', "[]", '{"keys": [], "keys": []}', "not json", '{"kty": "RSA"}'],
)
def test_malformed_jwks_file_fails_at_startup(content: str, tmp_path: Path) -> None:
    path = tmp_path / "jwks.json"
    path.write_text(content)
    with pytest.raises(ConfigurationError, match=r"jwks_file|JWKS"):
        load_static_keys(Settings(jwks_file=str(path)))


def test_jwks_skips_entries_with_private_members_only_as_public(keys: Keys, tmp_path: Path) -> None:
    """A JWKS that wrongly includes private members still yields a public verification key."""
    private_entry = dict(jwk.RSAKey.import_key(keys.rsa).as_dict(private=True))
    private_entry.update(kid="leaky")
    assert "d" in private_entry
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [private_entry]}))
    loaded = load_static_keys(Settings(jwks_file=str(path)))
    assert loaded.keyset.kids == ["leaky"]
    summary = json.dumps(loaded.keyset.keys[0].public_summary())
    assert private_entry["d"] not in summary
