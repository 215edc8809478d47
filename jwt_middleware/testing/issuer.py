"""``TestIssuer``: an issuer for tests, with its own keys, that signs anything asked.

Its key set holds its current signing key (``algorithm``) and two keys of a second
algorithm (:func:`~jwt_middleware.testing.scenarios.second_algorithm`: cheap EC,
EdDSA or HMAC keys), so that its settings can tell every key-stage reason apart;
RSA key generation (about 50 ms) happens once per issuer. Keys live in memory only.

:meth:`TestIssuer.settings` trusts the key set through a JWKS file (static keys, no
network): the file is written once per key set, named by its content, in a private
temporary directory removed when the process exits. The issuer is also a key
provider (``keyset``, ``history``): ``Verifier(settings, source=issuer)`` follows
:meth:`~TestIssuer.rotate` and :meth:`~TestIssuer.retire` at once.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from ..keys.keyhistory import KeyHistory
from ..keys.keyset import KeySet
from ..reasons import Reason
from ..settings import Settings
from ..values.algorithms import SUPPORTED_ALGS
from .keyring import KeyRing
from .keys import SigningKey, compact_json, encode
from .proofs import DPoPKey, proof
from .scenarios import BUILDERS, Minting, second_algorithm, why_not
from .server import DISCOVERY_PATHS, JWKS_PATH, serving

DEFAULT_ISSUER: Final = "https://issuer.test"
DEFAULT_AUDIENCE: Final = "test-api"
DEFAULT_SUBJECT: Final = "test-user"
#: The header ``typ`` of its tokens, which its settings require (RFC 9068).
ACCESS_TOKEN_TYPE: Final = "at+jwt"  # noqa: S105 - a token type, not a password
DEFAULT_EXPIRES_IN: Final = 600
#: Settings that name a key source: given to :meth:`TestIssuer.settings`, they replace
#: the issuer's key file.
KEY_SOURCE_FIELDS: Final = frozenset(
    {"jwks_url", "discovery_url", "jwks_file", "public_key_file", "public_keys", "secret",
     "secrets", "external_keys"}
)  # fmt: skip
#: The token size limit of its settings (Settings.max_token_bytes, unless overridden).
_MAX_TOKEN_BYTES: Final[int] = Settings.__dataclass_fields__["max_token_bytes"].default  # type: ignore[assignment]


class TestIssuer:
    """An issuer for tests: ``TestIssuer(issuer, audience, algorithm)``, its keys made
    now. FOR TESTS ONLY: its private keys live in memory and it signs anything."""

    __test__ = False  # not a test class, whatever pytest thinks of its name

    def __init__(
        self,
        issuer: str = DEFAULT_ISSUER,
        audience: str = DEFAULT_AUDIENCE,
        algorithm: str = "RS256",
    ) -> None:
        if algorithm not in SUPPORTED_ALGS:
            raise ValueError(
                f"unsupported algorithm {algorithm!r}; choose from {sorted(SUPPORTED_ALGS)}"
            )
        second = second_algorithm(algorithm)
        keys = [SigningKey.generate(algorithm), *(SigningKey.generate(second) for _ in "ab")]
        self._setup(issuer, audience, keys, ())

    @classmethod
    def from_keys(
        cls,
        issuer: str,
        audience: str,
        keys: Sequence[SigningKey],
        *,
        retired: Sequence[SigningKey] = (),
    ) -> TestIssuer:
        """An issuer of the given keys (the first one signs), and of ``retired`` keys it
        dropped from its key set (in its history, for ``retired_key``)."""
        self = cls.__new__(cls)
        self._setup(issuer, audience, list(keys), retired)
        return self

    def _setup(
        self, issuer: str, audience: str, keys: list[SigningKey], retired: Sequence[SigningKey]
    ) -> None:
        self._keys = KeyRing(keys, retired)
        self.issuer, self.audience, self.algorithm = issuer, audience, keys[0].algorithm

    def __repr__(self) -> str:
        return (
            f"TestIssuer({self.issuer!r}, {self.audience!r}, {self.algorithm!r}, kid={self.kid!r})"
        )

    # -- what it holds ------------------------------------------------------------------

    @property
    def kid(self) -> str:
        """The kid of the key that signs its tokens."""
        return self._keys.current.kid

    @property
    def kids(self) -> tuple[str, ...]:
        """The kids of its key set, the signing key first."""
        return tuple(k.kid for k in self._keys.published)

    @property
    def algorithms(self) -> tuple[str, ...]:
        """The algorithms its key set's keys are published for (what its settings allow)."""
        return self._keys.algorithms

    @property
    def scenarios(self) -> tuple[Reason, ...]:
        """The reasons :meth:`scenario` makes a token for, with this issuer's keys."""
        minting = self._minting({})
        return tuple(r for r in BUILDERS if why_not(r, minting) is None)

    @property
    def keyset(self) -> KeySet:
        """Its key set, imported for verification (the key-provider protocol)."""
        return self._keys.keyset

    @property
    def history(self) -> KeyHistory:
        """The keys :meth:`retire` dropped (the key-provider protocol: ``retired_key``)."""
        return self._keys.history

    # -- tokens ---------------------------------------------------------------------------

    def token(
        self,
        *,
        headers: Mapping[str, Any] | None = None,
        expires_in: float = DEFAULT_EXPIRES_IN,
        **claims: Any,
    ) -> str:
        """A signed token: ``iss``, ``aud``, ``sub``, ``iat`` and ``exp`` (``iat`` +
        ``expires_in`` seconds) by default, then ``claims`` (None leaves one out; a
        ``datetime`` becomes a Unix time). ``headers`` change the header (None removes a
        member): a ``kid`` of one of its keys (retired ones too) signs with that key, an
        ``alg`` alone with the first of its keys that has it."""
        header, key = signing(
            headers or {}, self._keys.current, self._keys.published, self._keys.retired
        )
        return encode(header, self._claims(expires_in, claims), key)

    def scenario(self, reason: str | Reason, **claims: Any) -> str:
        """A token :meth:`settings` rejects with exactly ``reason``, built from
        :meth:`token`'s claims and ``claims`` (the scenario's own change wins). Send it
        as ``Authorization: Bearer <token>``. ValueError, saying why, for a reason no
        token alone causes (:data:`~jwt_middleware.testing.NOT_FROM_A_TOKEN`)."""
        try:
            code = Reason(reason)
        except ValueError:
            raise ValueError(
                f"{reason!r} is not a reason code (see jwt_middleware.Reason)"
            ) from None
        minting = self._minting(claims)
        why = why_not(code, minting)
        if why is not None:
            raise ValueError(
                f"no token of this issuer gives {code.value} against its settings: {why}"
            )
        return BUILDERS[code](minting)

    # -- what a verifier trusts ------------------------------------------------------------

    def jwks(self) -> dict[str, Any]:
        """The public key set (an HMAC secret is never in it)."""
        return {"keys": [k.public_jwk() for k in self._keys.published if not k.symmetric]}

    def discovery(self, base_url: str) -> dict[str, Any]:
        """The OpenID Connect discovery document :meth:`serve` answers at ``base_url``:
        its ``issuer`` is this issuer's own, its ``jwks_uri`` on ``base_url``."""
        asymmetric = [k.algorithm for k in self._keys.published if not k.symmetric]
        return {
            "issuer": self.issuer,
            "jwks_uri": base_url + JWKS_PATH,
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": list(dict.fromkeys(asymmetric)),
        }

    def settings(self, **overrides: Any) -> Settings:
        """Settings that trust this issuer with no network: its key set as a JWKS file,
        its issuer and audience, its algorithms, ``typ`` ``at+jwt`` required. Keywords
        win; one naming a key source (``jwks_url=``, ...) replaces the file."""
        values: dict[str, Any] = {
            "jwks_file": _key_file(self._keys.published),
            "issuer": self.issuer,
            "audience": self.audience,
            "algorithms": self.algorithms,
            "token_types": (ACCESS_TOKEN_TYPE,),
        }
        if KEY_SOURCE_FIELDS & overrides.keys():
            del values["jwks_file"]
        values.update(overrides)
        return Settings(**values)

    def serve(self) -> AbstractContextManager[str]:
        """``with issuer.serve() as base_url:`` its key set at ``{base_url}/.well-known/
        jwks.json`` and discovery at ``{base_url}/.well-known/openid-configuration``, on
        127.0.0.1, current at every request; stopped when the block ends."""
        if all(k.symmetric for k in self._keys.published):
            raise ValueError(
                "an HMAC issuer has nothing to publish: a verifier never takes an HMAC "
                "secret from a key set it fetched; use .settings()"
            )
        return serving(self._document)

    # -- rotation ---------------------------------------------------------------------------

    def rotate(self) -> str:
        """A new signing key of its algorithm; the old one stays in the key set (until
        :meth:`retire`). Returns the new kid."""
        return self._keys.rotate()

    def retire(self, kid: str | None = None) -> tuple[str, ...]:
        """Drop ``kid`` (default: every key :meth:`rotate` replaced) from the key set;
        the issuer still signs with it on request (``headers={"kid": ...}``). Returns the
        kids dropped."""
        return self._keys.retire(kid)

    # -- DPoP (RFC 9449) ----------------------------------------------------------------------

    def dpop_key(self, algorithm: str = "ES256") -> DPoPKey:
        """A new DPoP client key pair (what a client holds; ``.jkt`` its thumbprint)."""
        return DPoPKey(algorithm)

    def dpop_token(
        self,
        key: DPoPKey,
        *,
        headers: Mapping[str, Any] | None = None,
        expires_in: float = DEFAULT_EXPIRES_IN,
        **claims: Any,
    ) -> str:
        """:meth:`token` bound to ``key``: ``"cnf": {"jkt": key.jkt}``."""
        return self.token(headers=headers, expires_in=expires_in, **claims, cnf={"jkt": key.jkt})

    def dpop_proof(
        self,
        key: DPoPKey,
        method: str,
        url: str,
        token: str | None = None,
        *,
        nonce: str | None = None,
        iat: float | None = None,
        jti: str | None = None,
    ) -> str:
        """The ``DPoP`` header of one request: a proof for ``method`` and ``url`` (its
        query left out) signed by ``key``, with ``ath`` for ``token``, a fresh ``jti``."""
        return proof(key, method, url, token, nonce=nonce, iat=iat, jti=jti)

    # -- inside ---------------------------------------------------------------------------------

    def _document(self, path: str, base_url: str) -> dict[str, Any] | None:
        if path == JWKS_PATH:
            return self.jwks()
        return self.discovery(base_url) if path in DISCOVERY_PATHS else None

    def _minting(self, claims: Mapping[str, Any]) -> Minting:
        return Minting(
            issuer=self.issuer,
            audience=self.audience,
            current=self._keys.current,
            published=self._keys.published,
            algorithms=self.algorithms,
            typ=ACCESS_TOKEN_TYPE,
            max_token_bytes=_MAX_TOKEN_BYTES,
            claims=self._claims(DEFAULT_EXPIRES_IN, claims),
        )

    def _claims(self, expires_in: float, given: Mapping[str, Any]) -> dict[str, Any]:
        return default_claims(self.issuer, self.audience, expires_in, given)


def _timestamp(value: Any) -> Any:
    return int(value.timestamp()) if isinstance(value, datetime) else value


def default_claims(
    issuer: str, audience: str, expires_in: float, given: Mapping[str, Any]
) -> dict[str, Any]:
    """``iss``, ``aud``, ``sub``, ``iat``, ``exp`` (``iat`` + ``expires_in``), then ``given``
    (a ``datetime`` as a Unix time); a claim that is None is left out."""
    now = int(time.time())
    claims: dict[str, Any] = {"iss": issuer, "aud": audience, "sub": DEFAULT_SUBJECT}
    claims |= {"iat": now, "exp": int(now + expires_in)}
    claims |= {name: _timestamp(value) for name, value in given.items()}
    iat = claims.get("iat")
    if "exp" not in given and isinstance(iat, int | float) and not isinstance(iat, bool):
        claims["exp"] = int(iat + expires_in)
    return {name: value for name, value in claims.items() if value is not None}


def signing(
    given: Mapping[str, Any],
    current: SigningKey,
    published: Sequence[SigningKey],
    retired: Mapping[str, SigningKey],
) -> tuple[dict[str, Any], SigningKey]:
    """The header of a token (the current key's, changed by ``given``; None removes a
    member) and the key that signs it: the key its ``kid`` names if the issuer has it,
    else the current key, or the first published key that has its ``alg``."""
    key = current
    header: dict[str, Any] = {"alg": key.algorithm, "typ": ACCESS_TOKEN_TYPE, "kid": key.kid}
    header.update(given)
    alg, kid = header.get("alg"), header.get("kid")
    named = {k.kid: k for k in (*published, *retired.values())}
    if "kid" in given and isinstance(kid, str) and kid in named:
        key = named[kid]
    elif isinstance(alg, str) and alg not in key.algorithms:
        other = next((k for k in published if alg in k.algorithms), None)
        if other is not None:
            key = other
            if "kid" not in given:
                header["kid"] = other.kid
    header = {name: value for name, value in header.items() if value is not None}
    if isinstance(alg, str) and alg.lower() != "none" and alg not in key.algorithms:
        hint = " (for an HS* token against these keys: .scenario('algorithm_confusion'))"
        raise ValueError(
            f"key {key.kid!r} cannot sign {alg!r}; this issuer signs "
            f"{', '.join(sorted({a for k in published for a in k.algorithms}))}"
            + (hint if alg.startswith("HS") else "")
        )
    return header, key


# -- the key files of .settings() ----------------------------------------------------------------

_files_lock = threading.Lock()
_files_dir: list[Path] = []


def _directory() -> Path:
    """This process's private directory for key files, removed when it exits."""
    if not _files_dir:
        path = Path(tempfile.mkdtemp(prefix="jwt-test-issuer-"))  # mode 0700
        atexit.register(shutil.rmtree, path, ignore_errors=True)
        _files_dir.append(path)
    return _files_dir[0]


def _key_file(keys: Sequence[SigningKey]) -> str:
    """The JWKS file of ``keys`` (written once, named by its content)."""
    data = compact_json({"keys": [k.jwk() for k in keys]})
    with _files_lock:
        path = _directory() / f"{hashlib.sha256(data).hexdigest()[:32]}.json"
        if not path.exists():
            fd, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")  # mode 0600
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(temporary, path)
    return str(path)
