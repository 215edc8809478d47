"""PEM public keys and certificates: repaired where that is unambiguous, imported once.

Operators paste PEM into environment variables and YAML: literal ``\n``
escapes, lost line breaks and surrounding quotes are repaired and reported
(:func:`normalize_pem`); a private key, an unreadable block or an unsupported
key is refused with a sentence saying what to change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from joserfc.errors import JoseError

from ..errors import ConfigurationError
from .keyimport import bind, import_public
from .keyset import VerificationKey

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
        key = import_public(public)
    except ConfigurationError:
        raise
    except (ValueError, TypeError, UnsupportedAlgorithm, JoseError) as exc:
        raise ConfigurationError(
            f"{source}: the PEM could not be read ({exc.__class__.__name__}). Check that it was "
            "copied whole, with its BEGIN/END lines."
        ) from None
    return bind(key, source=source, kid=kid, declared_alg=alg), repair.repaired
