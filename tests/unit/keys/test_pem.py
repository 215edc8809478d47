"""PEM repair and import (jwt_middleware/keys/pem.py): each repair normalize_pem makes and
the sentence that reports it, what it leaves alone, and load_pem_public_key's labels,
declared algorithm and refusals. Through the settings (a mangled PEM warned about at
startup, private keys and garbage refused): tests/unit/keys/test_keys.py."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from helpers.dpop import public_jwk, thumbprint
from helpers.keys import Keys, private_pem, public_pem

from jwt_middleware import ConfigurationError
from jwt_middleware.keys.pem import PemRepair, load_pem_public_key, normalize_pem
from jwt_middleware.values.algorithms import RSA_ALGS

QUOTES = "removed surrounding quotes"
ESCAPES = "turned literal '\\n' escapes into line breaks"
ONE_LINE = "restored the line breaks (the PEM was on one line)"
SPACES = "removed spaces inside the base64 body"
REWRAPPED = "re-wrapped the base64 body at 64 columns"


@pytest.fixture
def pem(keys: Keys) -> str:
    """An RSA public key as cryptography writes it: 64 columns, LF, a final newline."""
    return public_pem(keys.rsa)


def body(pem: str) -> str:
    return "".join(pem.strip().splitlines()[1:-1])


def test_an_intact_pem_is_left_as_it_is(pem: str) -> None:
    assert normalize_pem(pem) == PemRepair(pem, None)


def test_crlf_is_valid_pem_and_passes_silently(pem: str) -> None:
    assert normalize_pem(pem.replace("\n", "\r\n")) == PemRepair(pem, None)


@pytest.mark.parametrize(
    ("mangle", "said"),
    [
        (lambda p: '"' + p.strip() + '"', QUOTES),
        (lambda p: "'" + p.strip() + "'\n", QUOTES),
        (lambda p: p.strip().replace("\n", "\\n"), ESCAPES),
        (lambda p: p.strip().replace("\n", "\\r\\n"), ESCAPES),
        (lambda p: '"' + p.strip().replace("\n", "\\n") + '"', f"{QUOTES}; {ESCAPES}"),
        (lambda p: p.strip().replace("\n", ""), ONE_LINE),
        (lambda p: p.strip().replace("\n", " "), ONE_LINE),
    ],
    ids=["double_quotes", "single_quotes", "escapes", "escaped_crlf", "quoted_escapes",
         "one_line", "one_line_spaces"],
)  # fmt: skip
def test_each_repair_is_made_and_named(pem: str, mangle: object, said: str) -> None:
    mangled = mangle(pem)  # type: ignore[operator]
    assert mangled != pem
    assert normalize_pem(mangled) == PemRepair(pem, said)


def test_spaces_inside_the_body_are_removed(pem: str) -> None:
    lines = pem.strip().splitlines()
    spaced = "\n".join(
        [lines[0], *(" ".join([line[:32], line[32:]]) for line in lines[1:-1]), lines[-1]]
    )
    assert normalize_pem(spaced) == PemRepair(pem, SPACES)
    tabbed = pem.replace("\n", "\n\t", 2)
    assert normalize_pem(tabbed).text == pem


def test_long_lines_are_rewrapped_at_64_columns(pem: str) -> None:
    lines = pem.strip().splitlines()
    b = body(pem)
    wide = "\n".join([lines[0], *(b[i : i + 100] for i in range(0, len(b), 100)), lines[-1]])
    assert normalize_pem(wide) == PemRepair(pem, REWRAPPED)
    # 76 columns (MIME's width) is valid PEM: re-wrapped silently.
    mime = "\n".join([lines[0], *(b[i : i + 76] for i in range(0, len(b), 76)), lines[-1]])
    assert normalize_pem(mime) == PemRepair(pem, None)


def test_text_around_the_block_is_dropped(pem: str) -> None:
    assert normalize_pem(f"the key:\n{pem}\n(end)") == PemRepair(pem, None)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not a pem",
        '{"keys": []}',
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END CERTIFICATE-----",
    ],
    ids=["empty", "text", "jwks", "mismatched_labels"],
)
def test_without_a_pem_block_nothing_is_changed(text: str) -> None:
    assert normalize_pem(text) == PemRepair(text, None)
    assert normalize_pem(f'"{text}"') == PemRepair(f'"{text}"', None)


# --- load_pem_public_key ------------------------------------------------------------------


def test_an_rsa_key_verifies_every_rsa_algorithm(keys: Keys, pem: str) -> None:
    key, repaired = load_pem_public_key(pem, source="pem:#1")
    assert repaired is None
    assert (key.kty, key.kid, key.source, key.description) == ("RSA", None, "pem:#1", "RSA 2048")
    assert key.algorithms == frozenset(RSA_ALGS) == frozenset(key.verifiers)
    assert key.declared_alg is None
    assert key.fingerprint == thumbprint(public_jwk(keys.rsa))


@pytest.mark.parametrize(
    ("kind", "kty", "algs", "description"),
    [
        ("ec256", "EC", {"ES256"}, "EC P-256"),
        ("ec384", "EC", {"ES384"}, "EC P-384"),
        ("ec521", "EC", {"ES512"}, "EC P-521"),
        ("ed", "OKP", {"EdDSA"}, "Ed25519"),
    ],
)
def test_other_key_types(keys: Keys, kind: str, kty: str, algs: set[str], description: str) -> None:
    private = getattr(keys, kind)
    key, _ = load_pem_public_key(public_pem(private), source="s")
    assert (key.kty, key.algorithms, key.description) == (kty, frozenset(algs), description)
    assert key.fingerprint == thumbprint(public_jwk(private))


def test_pkcs1_rsa_public_key_and_bytes(keys: Keys) -> None:
    pkcs1 = keys.rsa.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.PKCS1
    )
    assert pkcs1.startswith(b"-----BEGIN RSA PUBLIC KEY-----")
    key, repaired = load_pem_public_key(pkcs1, source="file")
    assert repaired is None and key.fingerprint == thumbprint(public_jwk(keys.rsa))


def test_kid_and_declared_alg_are_kept(pem: str) -> None:
    key, _ = load_pem_public_key(pem, source="s", kid="k1", alg="PS384")
    assert (key.kid, key.declared_alg) == ("k1", "PS384")
    assert key.algorithms == frozenset({"PS384"}) == frozenset(key.verifiers)


def test_a_declared_alg_the_key_cannot_verify_is_refused(pem: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        load_pem_public_key(pem, source="pem:#2", alg="ES256")
    assert str(info.value) == (
        "pem:#2: the key declares alg 'ES256', which a RSA 2048 key cannot verify"
    )


def test_a_repaired_pem_says_so(keys: Keys, pem: str) -> None:
    key, repaired = load_pem_public_key(pem.strip().replace("\n", "\\n"), source="s")
    assert repaired == ESCAPES
    assert key.fingerprint == thumbprint(public_jwk(keys.rsa))


@pytest.mark.parametrize(
    "text", ["", "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA", '{"keys": []}']
)
def test_no_pem_block(text: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        load_pem_public_key(text, source="JWT_PUBLIC_KEY")
    assert str(info.value) == (
        "JWT_PUBLIC_KEY: no PEM block found (expected '-----BEGIN PUBLIC KEY-----'); "
        "is this a JWKS or a base64 string without its PEM armour?"
    )


def test_a_private_key_is_refused_without_echoing_it(keys: Keys) -> None:
    text = private_pem(keys.ec256)
    with pytest.raises(ConfigurationError) as info:
        load_pem_public_key(text, source="s")
    message = str(info.value)
    assert message.startswith("s: this is a private key (PRIVATE KEY), where a public key belongs")
    assert "openssl pkey -in private.pem -pubout -out public.pem" in message
    assert body(text)[:40] not in message


def test_another_label_is_refused() -> None:
    params = "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"
    with pytest.raises(ConfigurationError) as info:
        load_pem_public_key(params, source="s")
    assert str(info.value) == "s: PEM block 'EC PARAMETERS' is not a public key or certificate"


def test_unreadable_key_material_names_only_the_error_class(pem: str) -> None:
    lines = pem.strip().splitlines()
    broken = "\n".join([lines[0], lines[1][::-1], *lines[2:]])
    with pytest.raises(ConfigurationError) as info:
        load_pem_public_key(broken, source="s")
    message = str(info.value)
    assert message.startswith("s: the PEM could not be read (")
    assert "Check that it was copied whole, with its BEGIN/END lines." in message
    assert lines[1][::-1] not in message
