"""Client authentication at the introspection endpoint (introspection/auth.py)."""

from __future__ import annotations

import base64
import time
from pathlib import Path
from urllib.parse import unquote_plus

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from helpers.keys import private_pem, public_pem
from joserfc import jwt
from joserfc.jwk import RSAKey

from jwt_middleware import Settings
from jwt_middleware.errors import ConfigurationError
from jwt_middleware.introspection.auth import (
    ASSERTION_TYPE,
    PrivateKeyJWT,
    SecretBasic,
    SecretPost,
    assertion_audience,
    client_auth,
    form_encode,
    load_private_key,
)

SECRET = "p:ss w+rd%&=/~"


def settings(tmp: Path, **extra: object) -> Settings:
    key = tmp / "pub.pem"
    key.write_text(public_pem(rsa.generate_private_key(65537, 2048)))
    base: dict[str, object] = {
        "public_key_file": str(key),
        "introspection_url": "https://as.example/introspect",
        "introspection_client_id": "rs:1",
        "introspection_client_secret": SECRET,
    }
    base.update(extra)
    return Settings(**base)  # type: ignore[arg-type]


def test_basic_form_encodes_the_id_and_the_secret_first() -> None:
    """RFC 6749 2.3.1: each of id and secret form-encoded, then Basic."""
    form: dict[str, str] = {}
    headers: dict[str, str] = {}
    SecretBasic("rs:1", SECRET).apply(form, headers)
    assert form == {}
    pair = base64.b64decode(headers["authorization"].removeprefix("Basic ")).decode()
    user, _, password = pair.partition(":")  # the id's own ':' is encoded: one separator
    assert (user, password) == ("rs%3A1", "p%3Ass+w%2Brd%25%26%3D%2F~")
    assert (unquote_plus(user), unquote_plus(password)) == ("rs:1", SECRET)
    assert form_encode("a b") == "a+b"
    assert SECRET not in repr(SecretBasic("rs", SECRET))


def test_post_sends_the_id_and_secret_as_fields() -> None:
    form: dict[str, str] = {}
    headers: dict[str, str] = {}
    auth = SecretPost("rs", SECRET)
    auth.apply(form, headers)
    assert form == {"client_id": "rs", "client_secret": SECRET} and headers == {}
    assert SECRET not in repr(auth)


def test_private_key_jwt_assertion() -> None:
    private = rsa.generate_private_key(65537, 2048)
    key = RSAKey.import_key(private)
    now = time.time()
    auth = PrivateKeyJWT("rs", key, "RS256", audience="https://as.example", clock=lambda: now)
    form: dict[str, str] = {}
    auth.apply(form, {})
    assert form["client_id"] == "rs" and form["client_assertion_type"] == ASSERTION_TYPE
    decoded = jwt.decode(form["client_assertion"], RSAKey.import_key(private.public_key()))
    claims, header = decoded.claims, decoded.header
    assert header["alg"] == "RS256" and header["kid"] == key.thumbprint()
    assert claims["iss"] == claims["sub"] == "rs"
    assert claims["aud"] == "https://as.example"
    assert claims["exp"] - claims["iat"] == 60 and claims["iat"] == int(now)
    second: dict[str, str] = {}
    auth.apply(second, {})
    other = jwt.decode(second["client_assertion"], RSAKey.import_key(private.public_key()))
    assert other.claims["jti"] != claims["jti"]  # a fresh jti for every call
    named = PrivateKeyJWT("rs", key, "RS256", audience="x", kid="my-kid")
    assert named.kid == "my-kid"


@pytest.mark.parametrize(
    ("make", "alg"),
    [
        (lambda: rsa.generate_private_key(65537, 2048), "RS256"),
        (lambda: ec.generate_private_key(ec.SECP256R1()), "ES256"),
        (lambda: ec.generate_private_key(ec.SECP384R1()), "ES384"),
        (ed25519.Ed25519PrivateKey.generate, "EdDSA"),
    ],
)
def test_private_keys_of_each_type(tmp_path: Path, make: object, alg: str) -> None:
    path = tmp_path / "key.pem"
    path.write_text(private_pem(make()))  # type: ignore[operator]
    _, got = load_private_key(str(path))
    assert got == alg


def test_unusable_private_keys_are_startup_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_private_key(str(tmp_path / "missing.pem"))
    public = tmp_path / "public.pem"
    public.write_text(public_pem(rsa.generate_private_key(65537, 2048)))
    with pytest.raises(ConfigurationError, match="not an unencrypted PEM private key"):
        load_private_key(str(public))
    small = tmp_path / "small.pem"
    small.write_bytes(
        rsa.generate_private_key(65537, 1024).private_bytes(  # noqa: S505 - refused, as it should be
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(ConfigurationError, match="1024 bits"):
        load_private_key(str(small))


def test_the_configured_method_is_built(tmp_path: Path) -> None:
    assert isinstance(client_auth(settings(tmp_path)), SecretBasic)
    post = settings(tmp_path, introspection_auth="client_secret_post")
    assert isinstance(client_auth(post), SecretPost)
    key = tmp_path / "rs.pem"
    key.write_text(private_pem(rsa.generate_private_key(65537, 2048)))
    pkj = settings(
        tmp_path,
        introspection_auth="private_key_jwt",
        introspection_key_file=str(key),
        introspection_client_secret=None,
        issuer="https://as.example/",
    )
    built = client_auth(pkj)
    assert isinstance(built, PrivateKeyJWT) and built.audience == "https://as.example/"
    assert assertion_audience(settings(tmp_path)) == "https://as.example/introspect"
    explicit = settings(tmp_path, introspection_assertion_audience="https://as.example")
    assert assertion_audience(explicit) == "https://as.example"
