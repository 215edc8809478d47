"""The fingerprint of an HMAC secret: scrypt with a fixed label.

An asymmetric key's fingerprint is its RFC 7638 thumbprint (computed by
joserfc when the key is imported); a secret's cannot be a plain hash, see
:func:`secret_fingerprint`.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from typing import Final

#: HMAC secret fingerprints: scrypt(secret, salt=label, N=2**14, r=8, p=1), 32
#: bytes, base64url. About 16 MiB and tens of milliseconds once per key load,
#: so a published fingerprint cannot be used to test guesses of the secret
#: cheaply, while the same secret shows the same fingerprint everywhere.
FINGERPRINT_LABEL: Final = b"jwt_middleware HMAC key fingerprint v1"
SCRYPT_N: Final = 2**14
SCRYPT_R: Final = 8
SCRYPT_P: Final = 1
_SCRYPT_MAXMEM: Final = 64 * 1024 * 1024


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
