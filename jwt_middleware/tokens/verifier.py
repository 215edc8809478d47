"""The Verifier: the stages composed on one path, the key set in force, the token cache.

``verify(token)`` runs, in the contract's order, each stage's cheap check and,
when it fails, that stage's explanation:

    structure (structure.py) -> header and algorithm (header.py)
      -> key (selection.py) -> signature (the key's primitive; signature.py explains)
      -> claims (claims.py)

Two memories make a repeated request cheap, and neither can outlive its key
set: the verified-token cache (cache.py; a hit is a dict lookup), and a memo
of what the header and key stages decided for a header segment (a token
carrying a known header decodes only its payload and signature, then goes
straight to the key's primitive). A key-set change clears the memo and drops
the cached tokens whose alg and kid no longer select the key that verified
them. The refresh policy lives here too: the middleware asks
:meth:`wants_refresh` and calls :meth:`refresh` once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any, Final

from ..keys.keyset import KeySet, VerificationKey
from ..keys.keysource import KeyProvider, RemoteKeyProvider
from ..outcome import Failure, VerifiedToken
from ..reasons import Reason
from ..settings import Settings
from . import header as header_stage
from . import selection, signature
from .cache import TokenCache
from .claims import ClaimsPolicy
from .idprules import ProviderPolicy
from .scopes import ScopeClaims
from .structure import ParsedToken, decode_body, parse_compact, too_large
from .tokentype import accepted_types

EMPTY_KEYSET: Final = KeySet(())
#: Reasons after which a remote key source is asked for new keys.
REFRESH_REASONS: Final = frozenset({Reason.unknown_kid, Reason.key_source_unavailable})
#: Header segments remembered per key set (a handful in practice: one per issuer key).
_MEMO_MAX: Final = 64
#: What the header and key stages decided for one header segment.
_Plan = tuple[dict[str, Any], str, "str | None", VerificationKey, Callable[[bytes, bytes], bool]]


def _jkt(claims: dict[str, Any]) -> str | None:
    """The DPoP binding of a token (RFC 9449 section 6.1): ``cnf.jkt``, None when unbound,
    "" when ``cnf.jkt`` is there but not a string (bound to no key: every proof fails)."""
    cnf = claims["cnf"]
    if not isinstance(cnf, dict) or "jkt" not in cnf:
        return None
    jkt = cnf["jkt"]
    return jkt if isinstance(jkt, str) else ""


def _no_cache(token: str) -> None:
    return None


def _still_selected(keys: KeySet) -> Callable[[VerifiedToken], bool]:
    """Whether a cached token's alg and kid still select, in ``keys``, the very key
    that verified it (each alg and kid looked up once)."""
    selected: dict[tuple[str, str | None], str | None] = {}

    def keep(verified: VerifiedToken) -> bool:
        ident = (verified.alg, verified.kid)
        if ident not in selected:
            key = selection.select(verified.alg, verified.kid, keys)
            selected[ident] = None if isinstance(key, Failure) else key.fingerprint
        return selected[ident] == verified.key_fingerprint

    return keep


class Verifier:
    """Verifies compact JWS tokens against a key set and the configured claims.

    ``Verifier(settings, keyset)`` for static keys, ``Verifier(settings,
    source=provider)`` for a :class:`~jwt_middleware.keys.keysource.KeyProvider`.
    :meth:`verify` returns a :class:`VerifiedToken` or a :class:`Failure`; it
    never raises for bad input. Keys are imported before, once.
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
        self.source = source
        self.clock = clock
        self._static = keyset
        self._remote = source if isinstance(source, RemoteKeyProvider) else None
        #: The identity provider's rules (jwt_middleware.tokens.idprules), beside the claims policy.
        self.idp_policy = idp_policy = ProviderPolicy.from_settings(settings)
        #: The same rules as data (jwt_middleware.tokens.idp.ProviderRules).
        self.idp_rules = idp_policy.rules
        self.policy: ClaimsPolicy = idp_policy.claims_policy(
            audiences=settings.expected_audiences,
            required=settings.required,
            leeway=settings.leeway,
        )
        #: The claims stage's check: the policy's own unless the provider adds a rule.
        self._claims_check = idp_policy.claims_check(self.policy)
        self._allowed = frozenset(settings.allowed_algorithms)
        #: The claims read as the token's scopes (``scope_claims``), once per verified token.
        self.scope_claims = ScopeClaims(settings.scope_claim_names)
        self._token_types = accepted_types(settings.accepted_token_types)
        self._max_bytes = settings.max_token_bytes
        self._per_request = settings.diagnostic_keys_per_request
        self._budget = signature.DiagnosticBudget(settings.diagnostic_verifications_per_second)
        self._memo: dict[str, _Plan] = {}
        self._memo_keys: KeySet | None = None
        self.cache: TokenCache | None = None
        #: The cached outcome for a token if it has one now, else None (then call
        #: :meth:`verify`, which counts the miss). With static keys, the cache's own
        #: lookup: one call on the request path (make bench, in-process cached request).
        self.cached: Callable[[str], VerifiedToken | None] = _no_cache
        if settings.token_cache_entries > 0 and settings.token_cache_bytes > 0:
            self.cache = TokenCache(
                settings.token_cache_entries, settings.token_cache_bytes, clock=clock
            )
            self.cached = self.cache.lookup if source is None else self._cached_if_keys
        if self._remote is not None:  # at once, so the cache gauges follow a rotation
            self._remote.on_change(self._sync)

    # -- the key set and its source -------------------------------------------------

    @property
    def keyset(self) -> KeySet:
        """The key set in force now (empty when a source has none usable)."""
        if self.source is None:
            assert self._static is not None
            return self._static
        return self.source.keyset or EMPTY_KEYSET

    @property
    def source_label(self) -> str:
        """The ``source`` label of this verifier's keys in metrics and logs."""
        return self._remote.name if self._remote is not None else "static"

    @property
    def remote(self) -> RemoteKeyProvider | None:
        """The source when it fetches its keys (and can be refreshed), else None."""
        return self._remote

    async def start(self) -> None:
        """Fetch remote keys and start refreshing them; no-op for other keys."""
        if self._remote is not None:
            await self._remote.start()

    async def aclose(self) -> None:
        if self._remote is not None:
            await self._remote.aclose()

    def _sync(self, keys: KeySet) -> None:
        """A key set this verifier has not used yet (any source, seen at the next
        verification or cache probe): forget the memo of the old one, adopt a discovered
        issuer (when none is configured), and keep a cached token only if its alg and
        kid still select the very key that verified it."""
        self._memo.clear()
        self._memo_keys = keys
        remote = self._remote
        if not self.settings.issuers and remote is not None and remote.discovered_issuer:
            idp_policy = self.idp_policy
            self.policy = self.policy.with_issuer(
                *idp_policy.discovered_issuers(remote.discovered_issuer)
            )
            self._claims_check = idp_policy.claims_check(self.policy)
        if self.cache is not None and keys is not EMPTY_KEYSET:  # else no hit is served
            self.cache.retain(_still_selected(keys))

    # -- verification ---------------------------------------------------------------

    def _cached_if_keys(self, token: str) -> VerifiedToken | None:
        """:attr:`cached` with a key source: no hit while it has no usable key set."""
        assert self.cache is not None and self.source is not None
        keys = self.source.keyset
        if keys is None:
            return None
        if keys is not self._memo_keys:
            self._sync(keys)
        return self.cache.lookup(token)

    def verify(self, token: str, *, now: float | None = None) -> VerifiedToken | Failure:
        """Verify a raw compact token (already extracted from its header)."""
        if now is None:
            now = self.clock()
        source = self.source
        keys = self._static if source is None else source.keyset
        cache = self.cache
        if keys is None:  # no usable keys: the key stage says key_source_unavailable
            keys = EMPTY_KEYSET
        if keys is not self._memo_keys:
            self._sync(keys)
        if cache is not None and keys is not EMPTY_KEYSET:
            hit = cache.get(token, now)
            if hit is not None:
                return hit
        if len(token) > self._max_bytes:
            return too_large(len(token), self._max_bytes)
        dot = token.find(".")
        plan = self._memo.get(token[:dot]) if dot > 0 else None
        # Structure: the cheap decoder for a known header; the strict one explains.
        body = decode_body(token, dot) if plan is not None else None
        if plan is None or body is None:
            parsed = parse_compact(token)
            if isinstance(parsed, Failure):
                return self.advise(parsed, self.idp_policy.unparsed_header(parsed, token), None)
            planned = self._plan(parsed, keys, now)
            if isinstance(planned, Failure):
                return self.advise(planned, parsed.header, parsed.claims).with_claims(parsed.claims)
            plan = planned
            body = parsed.signing_input, parsed.claims, parsed.signature
        header, alg, kid, key, check = plan
        signing_input, claims, sig = body
        if not check(signing_input, sig):
            parsed = ParsedToken(header, claims, signing_input, sig)
            failure = signature.explain(
                parsed, alg, kid, key, keys, per_request=self._per_request, budget=self._budget
            )
            return self.advise(failure, header, claims).with_claims(claims)
        problems = self._claims_check(claims, now)
        if problems is not None:  # the issuer's measured clock, for the time hints
            remote = self._remote
            clock = remote.clock_offset if remote is not None else None
            failure = self.policy.failure(problems, alg, kid, key, clock)
            return self.advise(failure, header, claims).with_claims(claims)
        exp = claims.get("exp")
        verified = VerifiedToken(  # positional: the field order of VerifiedToken
            claims,
            header,
            alg,
            kid,
            key.fingerprint,
            self.scope_claims.of(claims),
            float(exp) if exp is not None else None,
            _jkt(claims) if "cnf" in claims else None,
        )
        if cache is not None and keys is not EMPTY_KEYSET:
            cache.put(token, verified, now)
        return verified

    def _plan(self, parsed: ParsedToken, keys: KeySet, now: float) -> _Plan | Failure:
        """The header and key stages for a parsed token; a success is memoised."""
        failure = header_stage.check(
            parsed.header, parsed.signature, keys, self._allowed, self._token_types, parsed.claims
        )
        if failure is not None:
            return failure
        header = parsed.header
        alg: str = header["alg"]
        kid: str | None = header.get("kid")
        key = selection.select(alg, kid, keys)
        if isinstance(key, Failure):
            if key.reason is Reason.unknown_kid and self.source is not None:
                return selection.retired(parsed, alg, key, self.source.history, now)
            return key
        plan: _Plan = (header, alg, kid, key, key.verifiers[alg])
        memo = self._memo
        if len(memo) >= _MEMO_MAX:
            memo.clear()
        signing_input = parsed.signing_input
        memo[signing_input[: signing_input.find(b".")].decode("ascii")] = plan
        return plan

    # -- advice: the failure path only ---------------------------------------------------

    def advise(
        self,
        failure: Failure,
        header: dict[str, Any] | None,
        claims: dict[str, Any] | None,
    ) -> Failure:
        """``failure`` with the identity provider's advice
        (:meth:`~jwt_middleware.tokens.idprules.ProviderPolicy.advise`): its quirk behind it, an
        OpenID Connect ID token sent as an access token. Never changes the reason."""
        return self.idp_policy.advise(failure, header, claims, self.policy.audiences)

    # -- refresh policy ---------------------------------------------------------------

    def wants_refresh(self, failure: Failure) -> bool:
        """Whether fetching the keys again could change this failure."""
        return self._remote is not None and failure.reason in REFRESH_REASONS

    async def refresh(self, token: str, *, wait: float) -> tuple[VerifiedToken | Failure, float]:
        """One rate-limited refresh shared by every caller (waiting at most ``wait``
        seconds), then ``token`` verified again. Returns the outcome and the seconds
        spent waiting for keys. A still missing key set says what the source reported."""
        remote = self._remote
        waited = 0.0
        if remote is not None:
            started = time.perf_counter()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(remote.refresh_for_unknown_kid()), wait)
            waited = time.perf_counter() - started
        outcome = self.verify(token)
        if (
            remote is None
            or not isinstance(outcome, Failure)
            or outcome.reason is not Reason.key_source_unavailable
        ):
            return outcome, waited
        return _unavailable(remote, outcome), waited


def _unavailable(remote: RemoteKeyProvider, outcome: Failure) -> Failure:
    """key_source_unavailable after a refresh: what the source's last fetch reported."""
    cause = remote.last_cause
    return Failure(
        Reason.key_source_unavailable,
        f"No usable keys: the last fetch of the key source failed ({cause})."
        if cause
        else "No usable keys: the key set is older than the allowed staleness.",
        expected={"key_source": remote.name, "last_error": remote.last_error},
        retry_after=max(1, int(remote.cooldown)),
        alg=outcome.alg,
        kid=outcome.kid,
        iss=outcome.iss,
        aud=outcome.aud,
        sub=outcome.sub,
    )
