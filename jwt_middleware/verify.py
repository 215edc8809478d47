"""Header, key, signature and claims stages: a parsed token in, an outcome out.

The success path is what every request pays: one dict lookup for the key, one
prepared signature primitive, a handful of claim comparisons. Everything that
explains a failure (other keys, secret variants, near-miss issuers) runs only
after a failure and within a budget, so a flood of bad tokens costs at most a
few verifications each.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final, Protocol
from urllib.parse import urlsplit

from .cache import TokenCache
from .keys import HMAC_ALGS, KeySet, VerificationKey, hmac_matches
from .outcome import Failure, Problem, VerifiedToken
from .parse import OversizedClaims, OversizedNumber, ParsedToken, decode_body, parse_token
from .reasons import CLAIM_ORDER, Reason
from .settings import Settings

_MAX_UNIX_TIME: Final = 253402300799  # 9999-12-31T23:59:59Z
_ABSENT: Final = object()
_EMBEDDED_KEY_HEADERS: Final = ("jwk", "jku", "x5u", "x5c")
_REGISTERED: Final = ("iss", "sub", "aud", "exp", "nbf", "iat", "jti")
_UNDERSTOOD_CRIT: Final[frozenset[str]] = frozenset()
_CLOCK_SKEW_WINDOW: Final = 300
_ENV_WORDS: Final = frozenset(
    {"dev", "develop", "development", "test", "testing", "qa", "stage", "staging", "preprod",
     "uat", "sandbox", "prod", "production", "live", "demo", "local"}
)  # fmt: skip


def clip(value: object, limit: int = 80) -> str:
    """A token-supplied value made safe to show: printable, bounded."""
    text = value if isinstance(value, str) else repr(value)
    text = "".join(ch if ch.isprintable() else "?" for ch in text[: limit + 1])
    return text if len(text) <= limit else text[:limit] + "..."


def _utc(ts: float) -> str:
    try:
        return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return str(ts)


def _duration(seconds: float) -> str:
    s = int(abs(seconds))
    if s < 120:
        return f"{s} s"
    if s < 7200:
        return f"{s // 60} min {s % 60} s"
    if s < 172800:
        return f"{s // 3600} h {(s % 3600) // 60} min"
    return f"{s // 86400} days"


class DiagnosticBudget:
    """A token bucket bounding extra verifications spent on diagnosing failures."""

    __slots__ = ("_lock", "_rate", "_stamp", "_tokens")

    def __init__(self, per_second: float) -> None:
        self._rate = per_second
        self._tokens = per_second
        self._stamp = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self._rate, self._tokens + (now - self._stamp) * self._rate)
            self._stamp = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False


def _is_time(value: Any) -> bool:
    t = type(value)
    return (t is int or t is float) and 0 <= value <= _MAX_UNIX_TIME


def scopes_of(claims: dict[str, Any]) -> frozenset[str]:
    """Scopes from ``scope`` (space-separated string) or ``scp`` (string or list)."""
    scope = claims.get("scope")
    if isinstance(scope, str):
        return frozenset(scope.split())
    scp = claims.get("scp")
    if isinstance(scp, str):
        return frozenset(scp.split())
    if isinstance(scp, list):
        return frozenset(s for s in scp if isinstance(s, str))
    if isinstance(scope, list):
        return frozenset(s for s in scope if isinstance(s, str))
    return frozenset()


def issuer_near_miss(actual: str, expected: str) -> str | None:
    """Say how ``actual`` nearly equals ``expected``, or None if it does not."""
    if actual.rstrip("/") == expected.rstrip("/"):
        return "differs only by a trailing slash"
    if actual.lower() == expected.lower():
        return "differs only in letter case"
    try:
        a, e = urlsplit(actual), urlsplit(expected)
    except ValueError:  # not a URL at all (unbalanced brackets, odd characters)
        return None
    if {a.scheme, e.scheme} == {"http", "https"} and (a.netloc, a.path.rstrip("/")) == (
        e.netloc,
        e.path.rstrip("/"),
    ):
        return f"uses {a.scheme}:// where {e.scheme}:// is expected"
    if a.netloc and e.netloc and a.netloc != e.netloc and a.path.rstrip("/") == e.path.rstrip("/"):
        a_labels = a.netloc.lower().replace("-", ".").split(".")
        e_labels = e.netloc.lower().replace("-", ".").split(".")
        if (set(a_labels) ^ set(e_labels)) & _ENV_WORDS:
            return "comes from another environment (the host names differ by an environment name)"
        if len(a_labels) == len(e_labels) and a_labels[1:] == e_labels[1:]:
            return "comes from another host of the same domain (another environment or region?)"
    return None


def check_header(parsed: ParsedToken, alg: Any, kid: Any) -> Failure | None:
    """Header checks that need no configuration: alg present and not none, a
    signature, no unknown crit, a well-formed kid."""
    header = parsed.header
    if not isinstance(alg, str):
        what = "has no 'alg'" if alg is None else f"has a non-string 'alg' ({clip(alg, 20)})"
        return Failure(Reason.invalid_header, f"The header {what}.")
    if alg.lower() == "none":
        return Failure(
            Reason.unsigned_token, f"The header declares alg '{clip(alg, 10)}'.", alg=alg
        )
    if not parsed.signature:
        return Failure(Reason.unsigned_token, "The signature segment is empty.", alg=alg)
    if "crit" in header:
        crit = header["crit"]
        if not isinstance(crit, list) or not crit or not all(isinstance(c, str) for c in crit):
            return Failure(Reason.invalid_header, "The 'crit' header is not a list of names.")
        unknown = [c for c in crit if c not in _UNDERSTOOD_CRIT]
        if unknown:
            return Failure(
                Reason.invalid_header,
                f"The header marks unknown extensions as critical: "
                f"{', '.join(clip(c, 30) for c in unknown[:5])}.",
                alg=alg,
            )
    if (kid is not None or "kid" in header) and (not isinstance(kid, str) or not kid):
        return Failure(
            Reason.invalid_header,
            f"The 'kid' header is not a non-empty string ({clip(kid, 20)}).",
            alg=alg,
        )
    return None


def attach_claims(failure: Failure, claims: dict[str, Any]) -> None:
    """Copy the (unverified) iss/aud/sub onto a failure for its log event."""
    failure.iss = claims.get("iss")
    aud = claims.get("aud")
    if isinstance(aud, list):
        aud = [clip(a, 64) for a in aud[:5]]
    elif aud is not None:
        aud = clip(aud, 64)
    failure.aud = aud
    failure.sub = claims.get("sub")


def insufficient_scope(
    token: VerifiedToken, required: tuple[str, ...], missing: list[str]
) -> Failure:
    """The scope-stage failure for a verified token (its claims kept for the log)."""
    failure = Failure(
        Reason.insufficient_scope,
        f"The token lacks the scope(s) {', '.join(missing)} this route requires.",
        required_scopes=required,
        alg=token.alg,
        kid=token.kid,
        key_fingerprint=token.key_fingerprint,
    )
    attach_claims(failure, token.claims)
    return failure


EMPTY_KEYSET: Final = KeySet(())
#: Header segments known to pass the header and key stages, per verifier: the key
#: set they were checked against, the header, alg, kid, key and its primitive.
_HeaderEntry = tuple[
    KeySet, dict[str, Any], str, "str | None", VerificationKey, Callable[[bytes, bytes], bool]
]
_HEADER_ENTRIES_MAX: Final = 64
#: Reasons after which a refreshable key source is asked for new keys.
REFRESH_REASONS: Final = frozenset({Reason.unknown_kid, Reason.key_source_unavailable})


class RetiredEntry(Protocol):
    @property
    def key(self) -> VerificationKey: ...

    @property
    def dropped_at(self) -> float: ...


class KeyHistoryView(Protocol):
    def get(self, kid: str, now: float) -> RetiredEntry | None: ...


class KeyProvider(Protocol):
    """What the verifier reads from a changing key source."""

    @property
    def keyset(self) -> KeySet | None: ...

    @property
    def history(self) -> KeyHistoryView: ...


class Verifier:
    """Verifies compact JWS tokens against a key set and the configured claims.

    ``verify(token)`` returns a :class:`VerifiedToken` or a :class:`Failure`;
    it never raises for bad input. Keys are imported before, once.
    """

    def __init__(
        self,
        settings: Settings,
        keyset: KeySet | None = None,
        *,
        source: KeyProvider | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if (keyset is None) == (source is None):
            raise TypeError("give a static keyset or a key source, not both or neither")
        self.settings = settings
        self._static = keyset
        self.source = source
        self.clock = clock
        self._allowed = frozenset(settings.allowed_algorithms)
        self._issuers = frozenset(settings.issuers)
        self._audiences = frozenset(settings.audiences)
        self._leeway = settings.leeway
        required = list(settings.required)
        if self._issuers and "iss" not in required:
            required.append("iss")
        if self._audiences and "aud" not in required:
            required.append("aud")
        self._required = tuple(required)
        # With discovery and no configured issuer, the document's issuer is expected.
        self._follow_discovery = not self._issuers and source is not None
        self._max_bytes = settings.max_token_bytes
        self._per_request = settings.diagnostic_keys_per_request
        self._budget = DiagnosticBudget(settings.diagnostic_verifications_per_second)
        self._headers: dict[str, _HeaderEntry] = {}
        self.cache: TokenCache | None = None
        if settings.token_cache_entries > 0 and settings.token_cache_bytes > 0:
            self.cache = TokenCache(settings.token_cache_entries, settings.token_cache_bytes)
            on_change = getattr(source, "on_change", None)
            if on_change is not None:
                on_change(self._retain_cached)

    @property
    def keyset(self) -> KeySet:
        """The key set in force now (empty when a remote source has none usable)."""
        if self.source is None:
            assert self._static is not None
            return self._static
        return self.source.keyset or EMPTY_KEYSET

    # -- key source lifecycle (remote sources only) --------------------------------

    @property
    def source_label(self) -> str:
        """The ``source`` label of this verifier's keys in metrics and logs."""
        name = getattr(self.source, "name", None)
        return name if isinstance(name, str) else "static"

    @property
    def remote(self) -> bool:
        """True when keys come from a source that can be refreshed."""
        return self.source is not None and hasattr(self.source, "refresh_for_unknown_kid")

    async def start(self) -> None:
        """Fetch remote keys and start refreshing them; no-op for static keys."""
        start = getattr(self.source, "start", None)
        if start is not None:
            await start()

    async def aclose(self) -> None:
        close = getattr(self.source, "aclose", None)
        if close is not None:
            await close()

    async def refresh_keys(self, token: str, *, wait: float) -> None:
        """After unknown_kid or key_source_unavailable: one rate-limited, shared refresh,
        waiting at most ``wait`` seconds (``token`` routes it; unused here)."""
        refresh = getattr(self.source, "refresh_for_unknown_kid", None)
        if refresh is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(refresh()), wait)

    def verify_after_refresh(self, token: str) -> VerifiedToken | Failure:
        """Verify again; a still missing key set says what the source last reported."""
        outcome = self.verify(token)
        if isinstance(outcome, Failure) and outcome.reason is Reason.key_source_unavailable:
            source: Any = self.source
            cause = getattr(source, "last_cause", None)
            failure = Failure(
                Reason.key_source_unavailable,
                f"No usable keys: the last fetch of the key source failed ({cause})."
                if cause
                else "No usable keys: the key set is older than the allowed staleness.",
                expected={
                    "key_source": getattr(source, "name", None),
                    "last_error": getattr(source, "last_error", None),
                },
                retry_after=max(1, int(getattr(source, "cooldown", 30))),
                alg=outcome.alg,
                kid=outcome.kid,
            )
            failure.iss, failure.aud, failure.sub = outcome.iss, outcome.aud, outcome.sub
            return failure
        return outcome

    # -- entry points ---------------------------------------------------------

    def verify(self, token: str, *, now: float | None = None) -> VerifiedToken | Failure:
        """Verify a raw compact token (already extracted from its header).

        A token verified before and not yet expired comes from the cache. A
        token whose header segment passed the header and key stages before (with
        the same key set) takes the fast path: its payload and signature are
        decoded once and the signature goes straight to the key's primitive.
        Anything unusual, and every failure's diagnosis, takes the full path.
        """
        if now is None:
            now = self.clock()
        source = self.source
        keyset = self._static if source is None else source.keyset
        # No hit outlives the key set: a source too stale to trust serves no cache.
        if keyset is not None:
            cache = self.cache
            if cache is not None:
                hit = cache.get(token, now)
                if hit is not None:
                    return hit
            dot = token.find(".")
            entry = self._headers.get(token[:dot]) if dot > 0 else None
            if entry is not None and entry[0] is keyset and len(token) <= self._max_bytes:
                body = decode_body(token, dot)
                if body is not None:
                    _, header, alg, kid, key, check = entry
                    signing_input, claims, signature = body
                    if not check(signing_input, signature):
                        parsed = ParsedToken(header, claims, signing_input, signature)
                        failure = self._signature_failure(parsed, alg, kid, key)
                        attach_claims(failure, claims)
                        return failure
                    outcome = self._claims_stage(header, claims, alg, kid, key, now)
                    if isinstance(outcome, Failure):
                        attach_claims(outcome, claims)
                    elif cache is not None:
                        cache.put(token, outcome, now)
                    return outcome
        outcome = self.verify_full(token, now)
        if self.cache is not None and isinstance(outcome, VerifiedToken):
            self.cache.put(token, outcome, now)
        return outcome

    def cached(self, token: str) -> VerifiedToken | None:
        """The cached outcome for ``token`` if it has one now, else None (then call
        :meth:`verify`, which counts the miss). For callers that hold a candidate
        token before checking how it was sent: only an already verified token can
        be in the cache."""
        cache = self.cache
        if cache is None:
            return None
        source = self.source
        if source is not None and source.keyset is None:
            return None
        return cache.peek(token, self.clock())

    def verify_full(self, token: str, now: float) -> VerifiedToken | Failure:
        """The full path: no cache, every stage in order, each failure explained.

        :meth:`verify` gives the same outcome for every token; it takes this
        path for tokens with a header segment not seen before and for anything
        unusual. Also records the header for the fast path.
        """
        parsed = parse_token(token, self._max_bytes)
        if isinstance(parsed, Failure):
            return parsed
        outcome = self.verify_parsed(parsed, now=now)
        if isinstance(outcome, Failure):
            attach_claims(outcome, parsed.claims)
        return outcome

    def verify_parsed(
        self, parsed: ParsedToken, *, now: float | None = None
    ) -> VerifiedToken | Failure:
        header = parsed.header
        alg = header.get("alg")
        kid = header.get("kid")
        failure = self._check_header(parsed, alg, kid)
        if failure is not None:
            return failure
        assert isinstance(alg, str)
        keyset = self.keyset
        selected = self._select_key(alg, kid, keyset)
        if isinstance(selected, Failure):
            if selected.reason is Reason.unknown_kid and self.source is not None:
                return self._retired(parsed, alg, selected)
            return selected
        check = selected.verifiers[alg]
        self._remember_header(parsed, keyset, alg, kid, selected, check)
        if not check(parsed.signing_input, parsed.signature):
            return self._signature_failure(parsed, alg, kid, selected)
        if type(parsed.claims) is OversizedClaims:  # never on the fast path
            return self._oversized_failure(
                parsed.claims, alg, kid, selected, self.clock() if now is None else now
            )
        return self._claims_stage(
            header, parsed.claims, alg, kid, selected, self.clock() if now is None else now
        )

    def _remember_header(
        self,
        parsed: ParsedToken,
        keyset: KeySet,
        alg: str,
        kid: str | None,
        key: VerificationKey,
        check: Callable[[bytes, bytes], bool],
    ) -> None:
        """Record that this header segment passed the header and key stages with
        ``keyset``: the next token carrying it takes the fast path."""
        signing_input = parsed.signing_input
        h64 = signing_input[: signing_input.find(b".")].decode("ascii")
        headers = self._headers
        if h64 not in headers and len(headers) >= _HEADER_ENTRIES_MAX:
            headers.clear()
        headers[h64] = (keyset, parsed.header, alg, kid, key, check)

    def _claims_stage(
        self,
        header: dict[str, Any],
        claims: dict[str, Any],
        alg: str,
        kid: str | None,
        key: VerificationKey,
        now: float,
    ) -> VerifiedToken | Failure:
        if self._follow_discovery:
            self._adopt_discovered_issuer()
        if not self._claims_clean(claims, now):
            problems = self._check_claims(claims, now)
            if problems:
                return self._claims_failure(problems, alg, kid, key)
        exp = claims.get("exp")
        return VerifiedToken(  # positional: the field order of VerifiedToken
            claims,
            header,
            alg,
            kid,
            key.fingerprint,
            scopes_of(claims),
            float(exp) if exp is not None else None,
        )

    # -- header / algorithm stage ---------------------------------------------

    def _check_header(self, parsed: ParsedToken, alg: Any, kid: Any) -> Failure | None:
        failure = check_header(parsed, alg, kid)
        if failure is not None:
            return failure
        assert isinstance(alg, str)
        keys = self.keyset
        if alg in HMAC_ALGS or alg.upper() in HMAC_ALGS:
            named = keys.by_kid.get(kid) if kid is not None else None
            if (named is not None and not named.symmetric) or (
                named is None and keys.has_asymmetric and not keys.has_symmetric
            ):
                return Failure(
                    Reason.algorithm_confusion,
                    f"The token is {clip(alg, 10)} (HMAC) but the key it would be checked "
                    "against is asymmetric.",
                    hint=keys.refusal_hint(kid),  # a published HMAC key with this kid, say
                    alg=alg,
                    kid=kid,
                    key_fingerprint=named.fingerprint if named is not None else None,
                )
        if alg not in self._allowed:
            return Failure(
                Reason.algorithm_not_allowed,
                f"The token is signed with {clip(alg, 16)}, which is not allowed.",
                expected={"algorithms": sorted(self._allowed)},
                alg=alg,
                kid=kid,
            )
        return None

    # -- key stage --------------------------------------------------------------

    def _known(self) -> dict[str, Any]:
        keys = self.keyset
        return {
            "known_kids": keys.kids,
            "keys": [k.public_summary() for k in keys.keys],
            "key_set_loaded_at": _utc(keys.loaded_at),
        }

    def _retain_cached(self, keyset: KeySet) -> int:
        """After a key-set change: keep a cached token only if its alg and kid still
        select the very key that verified it (not merely a key still in the set)."""
        if self.cache is None:
            return 0
        selected: dict[tuple[str, str | None], str | None] = {}

        def keep(verified: VerifiedToken) -> bool:
            ident = (verified.alg, verified.kid)
            if ident not in selected:
                key = self._select_key(verified.alg, verified.kid, keyset)
                selected[ident] = None if isinstance(key, Failure) else key.fingerprint
            return selected[ident] == verified.key_fingerprint

        return self.cache.retain(keep)

    def _select_key(
        self, alg: str, kid: str | None, keys: KeySet | None = None
    ) -> VerificationKey | Failure:
        if keys is None:
            keys = self.keyset
        if not keys.keys:
            return Failure(
                Reason.key_source_unavailable,
                "No verification keys are loaded.",
                retry_after=30,
                alg=alg,
                kid=kid,
            )
        if kid is not None and keys.by_kid:
            key = keys.by_kid.get(kid)
            if key is None:
                unnamed = [k for k in keys.by_alg.get(alg, ()) if k.kid is None]
                if len(unnamed) == 1:
                    return unnamed[0]
                return self._unknown_kid(alg, kid)
            if alg not in key.algorithms:
                return Failure(
                    Reason.algorithm_key_mismatch,
                    f"The token is {alg} but the key with its kid is a {key.description} key"
                    + (f" declared for {key.declared_alg}." if key.declared_alg else "."),
                    expected={"key_algorithms": sorted(key.algorithms)},
                    alg=alg,
                    kid=kid,
                    key_fingerprint=key.fingerprint,
                )
            return key
        # No kid, or a kid while no configured key has one (PEM keys, secrets).
        candidates = keys.by_alg.get(alg, ())
        if len(candidates) == 1:
            return candidates[0]
        if not candidates:
            kinds = ", ".join(sorted({k.description for k in keys.keys}))
            return Failure(
                Reason.algorithm_key_mismatch,
                f"The token is {alg}; no configured key can verify {alg} (the keys are: {kinds}).",
                expected=self._known(),
                alg=alg,
                kid=kid,
            )
        if kid is not None:
            return self._unknown_kid(alg, kid)
        return Failure(
            Reason.missing_kid,
            f"The token has no kid and {len(candidates)} configured keys can verify {alg}.",
            expected=self._known(),
            alg=alg,
        )

    def _unknown_kid(self, alg: str, kid: str) -> Failure:
        keys = self.keyset
        return Failure(
            Reason.unknown_kid,
            f"No key with kid '{clip(kid, 64)}' is in the key set.",
            hint=keys.refusal_hint(kid)
            or (
                f"The key set loaded at {_utc(keys.loaded_at)} holds {len(keys)} key(s) and none "
                "has this kid. If the issuer rotated its keys, this service has not loaded the "
                "new one yet; otherwise the token comes from another issuer or environment. "
                "Compare the issuer's JWKS with the kids and fingerprints this service logs "
                "(jwt_auth.keys_loaded / jwt_auth.keys_changed)."
            ),
            verbose_hint=f"Known kids: {', '.join(keys.kids) or '(none)'}.",
            expected=self._known(),
            alg=alg,
            kid=kid,
        )

    def _adopt_discovered_issuer(self) -> None:
        issuer = getattr(self.source, "discovered_issuer", None)
        if issuer:
            self._issuers = frozenset((issuer,))
            if "iss" not in self._required:
                self._required = (*self._required, "iss")
            self._follow_discovery = False

    def _retired(self, parsed: ParsedToken, alg: str, unknown: Failure) -> Failure:
        """A kid absent from the current set: retired_key if a dropped key verifies it."""
        assert self.source is not None and unknown.kid is not None
        entry = self.source.history.get(unknown.kid, self.clock())
        if entry is None:
            return unknown
        key = entry.key
        base = {"alg": alg, "kid": unknown.kid, "key_fingerprint": key.fingerprint}
        dropped = _utc(entry.dropped_at)
        verify = key.verifiers.get(alg)
        if verify is not None and verify(parsed.signing_input, parsed.signature):
            return Failure(
                Reason.retired_key,
                f"The token is signed by key '{clip(unknown.kid, 64)}', which left the key set "
                f"at {dropped}.",
                expected={"retired_key": key.public_summary(), "dropped_at": dropped},
                **base,  # type: ignore[arg-type]
            )
        return Failure(
            Reason.signature_invalid,
            f"The kid names a key that left the key set at {dropped}, and the signature does "
            "not verify with it either.",
            expected={"retired_key": key.public_summary(), "dropped_at": dropped},
            **base,  # type: ignore[arg-type]
        )

    # -- signature stage (failure path only) -----------------------------------

    def _signature_failure(
        self, parsed: ParsedToken, alg: str, kid: str | None, key: VerificationKey
    ) -> Failure:
        msg, sig = parsed.signing_input, parsed.signature
        base = {"alg": alg, "kid": kid, "key_fingerprint": key.fingerprint}
        if key.symmetric:
            # Variants were prepared at import; each check is one HMAC (microseconds).
            for label, variant in key.secret_variants:
                if hmac_matches(variant, alg, msg, sig):
                    return Failure(
                        Reason.secret_encoding_mismatch,
                        f"The signature verifies with the configured secret {label}.",
                        hint=(
                            f"The issuer signs with the secret {label}: one side stores it "
                            "encoded differently. Configure the same bytes on both sides."
                        ),
                        **base,  # type: ignore[arg-type]
                    )
        if kid is not None:
            tried = 0
            for other in self.keyset.by_alg.get(alg, ()):
                if other is key or tried >= self._per_request:
                    continue
                if not self._budget.take():
                    break
                tried += 1
                if other.verifiers[alg](msg, sig):
                    return Failure(
                        Reason.kid_mismatch,
                        f"The signature fails with the key named by kid '{clip(kid, 64)}' but "
                        "verifies with another key of the current set.",
                        expected={"verifying_kid": other.kid, "fingerprint": other.fingerprint},
                        **base,  # type: ignore[arg-type]
                    )
        detail = f"The {alg} signature does not verify with the key {key.description}."
        embedded = [h for h in _EMBEDDED_KEY_HEADERS if h in parsed.header]
        hint = None
        if embedded:
            detail += (
                f" The token carries its own key ('{embedded[0]}' header), which is never trusted."
            )
            hint = (
                "The token embeds a key and was probably signed with it; a verifier only "
                "trusts keys it is configured with. If this is an attack, it was refused."
            )
        return Failure(
            Reason.signature_invalid,
            detail,
            hint=hint,
            expected={"key": key.public_summary()},
            **base,  # type: ignore[arg-type]
        )

    # -- claims stage ----------------------------------------------------------

    def _claims_clean(self, claims: dict[str, Any], now: float) -> bool:
        """The success path's claim checks: True only when :meth:`_check_claims` would
        find no problem (it then need not run). False means "look closer", not
        "rejected": arrays of audiences with non-strings, nulls and every failure
        are left to the full check, which explains them."""
        for name in self._required:
            if name not in claims:
                return False
        get = claims.get
        leeway = self._leeway
        value = get("exp", _ABSENT)
        if value is not _ABSENT:
            kind = type(value)
            if (kind is not int and kind is not float) or not (
                0 <= value <= _MAX_UNIX_TIME and now < value + leeway
            ):
                return False
        for name in ("nbf", "iat"):  # neither may lie ahead beyond the leeway
            value = get(name, _ABSENT)
            if value is not _ABSENT:
                kind = type(value)
                if (kind is not int and kind is not float) or not (
                    0 <= value <= _MAX_UNIX_TIME and value - leeway <= now
                ):
                    return False
        value = get("iss", _ABSENT)
        if value is not _ABSENT and (
            type(value) is not str or (self._issuers and value not in self._issuers)
        ):
            return False
        value = get("aud", _ABSENT)
        if value is not _ABSENT:
            audiences = self._audiences
            if type(value) is str:
                if audiences and value not in audiences:
                    return False
            elif type(value) is list:
                for item in value:
                    if type(item) is not str:
                        return False
                if audiences and audiences.isdisjoint(value):
                    return False
            else:
                return False
        value = get("sub", _ABSENT)
        if value is not _ABSENT and type(value) is not str:
            return False
        value = get("jti", _ABSENT)
        return value is _ABSENT or type(value) is str

    def _check_claims(self, claims: dict[str, Any], now: float) -> list[Problem]:
        problems: list[Problem] = []
        leeway = self._leeway
        for name in self._required:
            if name not in claims:
                problems.append(Problem(Reason.missing_claim, f"The '{name}' claim is absent."))
        for name in _REGISTERED:
            if name in claims and claims[name] is None:
                problems.append(
                    Problem(
                        Reason.invalid_claim, f"'{name}' is null; a registered claim cannot be."
                    )
                )
        exp = claims.get("exp")
        if exp is not None:
            if not _is_time(exp):
                problems.append(self._bad_time("exp", exp))
            elif now >= exp + leeway:
                problems.append(
                    Problem(
                        Reason.token_expired,
                        f"The token expired {_duration(now - exp)} ago (exp {_utc(exp)}).",
                        now - exp,
                    )
                )
        nbf = claims.get("nbf")
        if nbf is not None:
            if not _is_time(nbf):
                problems.append(self._bad_time("nbf", nbf))
            elif nbf - leeway > now:
                problems.append(
                    Problem(
                        Reason.token_not_yet_valid,
                        f"The token becomes valid in {_duration(nbf - now)} (nbf {_utc(nbf)}).",
                    )
                )
        iat = claims.get("iat")
        if iat is not None:
            if not _is_time(iat):
                problems.append(self._bad_time("iat", iat))
            elif iat - leeway > now:
                problems.append(
                    Problem(
                        Reason.token_issued_in_future,
                        f"The token was issued {_duration(iat - now)} in the future "
                        f"(iat {_utc(iat)}).",
                    )
                )
        iss = claims.get("iss")
        if iss is not None:
            if not isinstance(iss, str):
                problems.append(
                    Problem(Reason.invalid_claim, f"'iss' is a {_json_type(iss)}, not a string.")
                )
            elif self._issuers and iss not in self._issuers:
                problems.append(
                    Problem(Reason.issuer_mismatch, f"The token's issuer is '{clip(iss)}'.", iss)
                )
        aud = claims.get("aud")
        if aud is not None:
            if isinstance(aud, str):
                auds: list[str] | None = [aud]
            elif isinstance(aud, list) and all(isinstance(a, str) for a in aud):
                auds = aud
            else:
                auds = None
                problems.append(
                    Problem(
                        Reason.invalid_claim,
                        f"'aud' is a {_json_type(aud)}, not a string or an array of strings.",
                    )
                )
            if auds is not None and self._audiences and self._audiences.isdisjoint(auds):
                shown = ", ".join(f"'{clip(a, 60)}'" for a in auds[:5]) or "an empty array"
                problems.append(
                    Problem(Reason.audience_mismatch, f"The token's audience is {shown}.")
                )
        for name in ("sub", "jti"):
            value = claims.get(name)
            if value is not None and not isinstance(value, str):
                problems.append(
                    Problem(
                        Reason.invalid_claim, f"'{name}' is a {_json_type(value)}, not a string."
                    )
                )
        return problems

    def _oversized_failure(
        self, claims: OversizedClaims, alg: str, kid: str | None, key: VerificationKey, now: float
    ) -> Failure:
        """Claims holding numbers out of Python's range: invalid_claim for each claim
        that holds one, beside whatever else the claims stage finds."""
        problems = self._check_claims(claims, now)
        for name in claims.oversized:
            if name not in _REGISTERED:  # those are explained by their own checks
                problems.append(
                    Problem(
                        Reason.invalid_claim,
                        f"'{clip(name, 40)}' holds a JSON number out of range: "
                        f"{_oversized_in(claims[name])}.",
                    )
                )
        return self._claims_failure(problems, alg, kid, key)

    @staticmethod
    def _bad_time(name: str, value: Any) -> Problem:
        if isinstance(value, OversizedNumber):
            return Problem(
                Reason.invalid_claim,
                f"'{name}' is {value.describe()}: outside the range of a Unix time.",
            )
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            what = f"a {_json_type(value)}"
            if isinstance(value, str) and value.strip().lstrip("-").replace(".", "", 1).isdigit():
                what = "a numeric string"
            return Problem(Reason.invalid_claim, f"'{name}' is {what}, not a NumericDate.")
        return Problem(Reason.invalid_claim, f"'{name}' ({clip(value, 24)}) is not a Unix time.")

    def _claims_failure(
        self, problems: list[Problem], alg: str, kid: str | None, key: VerificationKey
    ) -> Failure:
        primary = min(problems, key=lambda p: CLAIM_ORDER.index(p.reason))
        expected: dict[str, Any] = {}
        hint: str | None = None
        reason = primary.reason
        if reason is Reason.issuer_mismatch or reason is Reason.missing_claim:
            expected["issuer"] = sorted(self._issuers)
        if reason is Reason.audience_mismatch or reason is Reason.missing_claim:
            expected["audience"] = sorted(self._audiences)
        if reason is Reason.missing_claim:
            expected["required_claims"] = list(self._required)
        if reason is Reason.issuer_mismatch:
            hint = self._issuer_hint(primary)
        elif reason in (
            Reason.token_expired,
            Reason.token_not_yet_valid,
            Reason.token_issued_in_future,
        ):
            expected["leeway_seconds"] = self._leeway
            hint = self._time_hint(primary)
        return Failure(
            reason,
            primary.detail,
            problems=tuple(sorted(problems, key=lambda p: CLAIM_ORDER.index(p.reason))),
            hint=hint,
            expected=expected,
            alg=alg,
            kid=kid,
            key_fingerprint=key.fingerprint,
        )

    def _issuer_hint(self, primary: Problem) -> str | None:
        actual = primary.value if isinstance(primary.value, str) else ""
        for expected in sorted(self._issuers):
            near = issuer_near_miss(actual, expected)
            if near and len(self._issuers) > 1:
                near = f"{near} (compared with one of the {len(self._issuers)} expected issuers)"
            if near:
                return (
                    f"The token's issuer {near}. Issuers are compared exactly: make JWT_ISSUER "
                    "match the issuer's 'iss' (see its discovery document) character for "
                    "character."
                )
        return None

    def _time_hint(self, primary: Problem) -> str | None:
        if primary.reason is Reason.token_expired:
            # Expired within a few minutes: most likely clock skew.
            seconds = primary.value
            if isinstance(seconds, float | int) and seconds <= _CLOCK_SKEW_WINDOW:
                return (
                    f"The token expired only {_duration(seconds)} ago, beyond the "
                    f"{self._leeway:g} s leeway. If clients see this on fresh tokens, the "
                    "issuer's and this server's clocks differ: check NTP, or raise JWT_LEEWAY."
                )
            return None
        return None


def _oversized_in(value: Any) -> str:
    if isinstance(value, OversizedNumber):
        return value.describe()
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        for item in value:
            found = _oversized_in(item)
            if found:
                return found
    return ""


def _json_type(value: Any) -> str:
    if isinstance(value, OversizedNumber):
        return "number out of range"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


__all__ = ["DiagnosticBudget", "Verifier", "check_header", "issuer_near_miss", "scopes_of"]
