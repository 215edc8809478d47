"""Keys a remote source's refreshes dropped, remembered for ``retired_key``.

A token signed by a key the issuer rotated out is told apart from one naming
a kid never seen (:func:`jwt_middleware.tokens.selection.retired`): the
:class:`KeyHistory` keeps the dropped keys, bounded in count and age.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from .keyset import KeySet, VerificationKey


@dataclass(frozen=True, slots=True)
class RetiredKey:
    """A key an earlier key set held and a refresh dropped."""

    key: VerificationKey
    dropped_at: float


class KeyHistory:
    """Keys dropped by refreshes, bounded in count and age, looked up by kid."""

    def __init__(self, max_keys: int = 32, max_age: float = 7 * 86400.0) -> None:
        self.max_keys = max_keys
        self.max_age = max_age
        self._by_kid: OrderedDict[str, RetiredKey] = OrderedDict()

    def record(self, dropped: list[VerificationKey], now: float) -> None:
        for key in dropped:
            if key.kid is None:
                continue
            self._by_kid.pop(key.kid, None)
            self._by_kid[key.kid] = RetiredKey(key, now)
        while len(self._by_kid) > self.max_keys:
            self._by_kid.popitem(last=False)

    def forget(self, kids: list[str]) -> None:
        """A kid that came back into the current set is no longer retired."""
        for kid in kids:
            self._by_kid.pop(kid, None)

    def get(self, kid: str, now: float) -> RetiredKey | None:
        entry = self._by_kid.get(kid)
        if entry is None or now - entry.dropped_at > self.max_age:
            return None
        return entry

    def __len__(self) -> int:
        return len(self._by_kid)

    def replace(
        self, old: KeySet | None, new: KeySet, now: float
    ) -> tuple[list[VerificationKey], list[VerificationKey]]:
        """A new key set replaces ``old``: the keys it added and dropped (by kid and
        fingerprint). A dropped key whose kid the new set lacks is remembered; a kid
        back in the new set is forgotten."""
        old_fp = {(k.kid, k.fingerprint): k for k in old.keys} if old else {}
        new_fp = {(k.kid, k.fingerprint) for k in new.keys}
        dropped = [k for ident, k in old_fp.items() if ident not in new_fp]
        added = [k for k in new.keys if (k.kid, k.fingerprint) not in old_fp]
        self.forget([k.kid for k in new.keys if k.kid])
        self.record([k for k in dropped if k.kid not in new.by_kid], now)
        return added, dropped
