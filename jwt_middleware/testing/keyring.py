"""A TestIssuer's keys: the one that signs, the key set it publishes, the keys it retired.

:meth:`KeyRing.rotate` makes a new signing key and keeps the old one in the key set;
:meth:`KeyRing.retire` drops keys from the key set into the history a verifier reads
for ``retired_key``. Each change makes a new key set, built when first asked for, so
a :class:`~jwt_middleware.tokens.verifier.Verifier` reading :attr:`KeyRing.keyset`
sees it at its next verification.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Final

from ..keys.jwks import import_jwk
from ..keys.keyhistory import KeyHistory
from ..keys.keyset import KeySet
from .keys import SigningKey

SOURCE: Final = "test-issuer"


class KeyRing:
    """The signing key (``current``), the published keys (``published``, the signing key
    among them), the keys :meth:`rotate` replaced and the retired keys."""

    def __init__(self, keys: Sequence[SigningKey], retired: Sequence[SigningKey] = ()) -> None:
        kids = [k.kid for k in (*keys, *retired)]
        if not keys or len(set(kids)) != len(kids):
            raise ValueError("an issuer needs at least one key, and every kid once")
        self.current = keys[0]
        self.published: tuple[SigningKey, ...] = tuple(keys)
        self.replaced: tuple[str, ...] = ()  # kids of keys rotate() replaced, still published
        self.retired: dict[str, SigningKey] = {}
        self.history = KeyHistory()
        self._keyset: KeySet | None = None
        self._lock = threading.Lock()
        self._drop(retired)

    @property
    def algorithms(self) -> tuple[str, ...]:
        """The algorithms the published keys are declared for, in order."""
        return tuple(dict.fromkeys(k.algorithm for k in self.published))

    @property
    def keyset(self) -> KeySet:
        """The published keys, imported for verification (a new set after each change)."""
        keyset = self._keyset
        if keyset is None:
            imported = (import_jwk(k.jwk(), source=SOURCE) for k in self.published)
            keyset = self._keyset = KeySet(imported, loaded_at=time.time())
        return keyset

    def rotate(self) -> str:
        """A new signing key of the current one's algorithm, published first; the old one
        stays published. Returns the new kid."""
        new = SigningKey.generate(self.current.algorithm)
        with self._lock:
            self.replaced = (*self.replaced, self.current.kid)
            self.current = new
            self.published = (new, *self.published)
            self._keyset = None
        return new.kid

    def retire(self, kid: str | None = None) -> tuple[str, ...]:
        """Drop ``kid`` (default: every key :meth:`rotate` replaced) from the published
        keys into the history. Returns the kids dropped."""
        with self._lock:
            kids = (kid,) if kid is not None else self.replaced
            if self.current.kid in kids:
                raise ValueError("the signing key cannot be retired: rotate() first")
            by_kid = {k.kid: k for k in self.published}
            unknown = [k for k in kids if k not in by_kid]
            if unknown:
                raise ValueError(f"no key {unknown[0]!r} in the key set ({', '.join(by_kid)})")
            self.published = tuple(k for k in self.published if k.kid not in kids)
            self.replaced = tuple(k for k in self.replaced if k not in kids)
            self._drop([by_kid[k] for k in kids])
            self._keyset = None
        return tuple(kids)

    def _drop(self, keys: Sequence[SigningKey]) -> None:
        now = time.time()
        for key in keys:
            self.retired[key.kid] = key
            self.history.record([import_jwk(key.jwk(), source=SOURCE)], now)
