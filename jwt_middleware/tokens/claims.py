"""Claims stage: one :class:`ClaimsPolicy` holds the claim rules, each written once.

A rule takes a claim's value and the time, and returns None when the value
passes, else the :class:`Problem` that explains it. The success path and the
explanation are the same code: a rule tests the passing case first (a type
check and a comparison or two) and only builds a Problem when it fails, so
an accepted token pays a few comparisons and a failed one gets every
problem listed (CONTRACT section 1: the primary one is the first in
``CLAIM_ORDER``). Registered claims (RFC 7519 section 4.1) are checked for
type whenever present; ``iss`` and ``aud`` against the configured values,
which also make them required. An expected audience that is an http(s) URI (an
RFC 8707 resource indicator) also accepts its normalised spelling: see
:func:`resource_key`.

The stage stays pure: the issuer's measured clock offset
(:mod:`jwt_middleware.keys.clock`) comes in as an argument of :meth:`ClaimsPolicy.failure`,
and only a failed time claim reads it. The hints of a failure are
:mod:`jwt_middleware.tokens.claimhints`'; an identity provider's rules are
:mod:`jwt_middleware.tokens.idprules`', given to the policy as ``extra_rules``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Final

from ..keys.clock import ClockSample
from ..keys.keyset import VerificationKey
from ..outcome import Failure, Problem
from ..reasons import CLAIM_ORDER, Reason
from ..values.resourceid import resource_key as resource_key  # re-exported
from ..values.resourceid import resource_parts as resource_parts
from ..values.strictjson import OversizedClaims, OversizedNumber
from ..values.text import clip, duration, json_type, utc
from .claimhints import audience_hint, clock_hint, issuer_hint, time_hint
from .claimhints import issuer_near_miss as issuer_near_miss  # re-exported
from .claimhints import resource_near_miss as resource_near_miss

MAX_UNIX_TIME: Final = 253402300799  # 9999-12-31T23:59:59Z
REGISTERED: Final = ("iss", "sub", "aud", "exp", "nbf", "iat", "jti")
_ABSENT: Final = object()
Rule = Callable[[Any, float], "Problem | None"]


def is_time(value: Any) -> bool:
    """A NumericDate within the range of a Unix time (not a boolean, not a string)."""
    t = type(value)
    return (t is int or t is float) and 0 <= value <= MAX_UNIX_TIME


def bad_time(name: str, value: Any) -> Problem:
    """The invalid_claim problem of a time claim that is not a NumericDate."""
    if isinstance(value, OversizedNumber):
        return Problem(
            Reason.invalid_claim,
            f"'{name}' is {value.describe()}: outside the range of a Unix time.",
        )
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        what = f"a {json_type(value)}"
        if isinstance(value, str) and value.strip().lstrip("-").replace(".", "", 1).isdigit():
            what = "a numeric string"
        return Problem(Reason.invalid_claim, f"'{name}' is {what}, not a NumericDate.")
    return Problem(Reason.invalid_claim, f"'{name}' ({clip(value, 24)}) is not a Unix time.")


def _string(name: str) -> Rule:
    def rule(value: Any, now: float) -> Problem | None:
        if type(value) is str:
            return None
        return Problem(Reason.invalid_claim, f"'{name}' is a {json_type(value)}, not a string.")

    return rule


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


class ClaimsPolicy:
    """The claim rules: expected issuers and audiences, required claims, leeway.

    Immutable; :meth:`with_issuer` gives a policy expecting a discovered issuer.
    ``extra_rules`` are rules for other claims, each of which is then required
    (an identity provider's: :class:`~jwt_middleware.tokens.idprules.ProviderPolicy`),
    run after the registered claims' rules; a policy without them runs exactly
    the registered ones. ``require_audience=False`` leaves ``aud`` optional even
    with expected audiences, for a caller that checks a stand-in when it is
    absent (:meth:`audience_problem` with the stand-in's name).
    """

    __slots__ = (
        "audiences",
        "extra_rules",
        "issuers",
        "leeway",
        "require_audience",
        "required",
        "resources",
        "rules",
    )

    def __init__(
        self,
        *,
        issuers: Iterable[str] = (),
        audiences: Iterable[str] = (),
        required: Iterable[str] = ("exp",),
        leeway: float = 30.0,
        extra_rules: Iterable[tuple[str, Rule]] = (),
        require_audience: bool = True,
    ) -> None:
        self.issuers = frozenset(issuers)
        self.audiences = frozenset(audiences)
        #: The normalised spellings of the expected audiences that are http(s) resource
        #: URIs (:func:`resource_key`): decided here, once. The aud rule reads them only
        #: when the exact test fails, so a token whose aud is written as configured pays
        #: nothing for them, nor does a policy whose audiences are not URIs (empty set).
        self.resources = frozenset(
            key for key in (resource_key(a) for a in self.audiences) if key is not None
        )
        self.leeway = leeway
        self.extra_rules = tuple(extra_rules)
        self.require_audience = require_audience
        needed = list(dict.fromkeys(required))
        if self.issuers and "iss" not in needed:
            needed.append("iss")
        if self.audiences and "aud" not in needed and require_audience:
            needed.append("aud")
        for name, _ in self.extra_rules:
            if name not in needed:
                needed.append(name)
        self.required = tuple(needed)
        #: (claim, rule), in the order problems are listed.
        self.rules: tuple[tuple[str, Rule], ...] = (
            ("exp", self._exp),
            ("nbf", self._nbf),
            ("iat", self._iat),
            ("iss", self._iss),
            ("aud", self.audience_problem),
            ("sub", _string("sub")),
            ("jti", _string("jti")),
            *self.extra_rules,
        )

    def with_issuer(self, issuer: str, *more: str) -> ClaimsPolicy:
        """This policy expecting ``issuer`` (and ``more``: a provider's other spellings)."""
        return ClaimsPolicy(
            issuers=(issuer, *more),
            audiences=self.audiences,
            required=self.required,
            leeway=self.leeway,
            extra_rules=self.extra_rules,
            require_audience=self.require_audience,
        )

    # -- the rules ------------------------------------------------------------------

    def _exp(self, value: Any, now: float) -> Problem | None:
        kind = type(value)
        if (kind is int or kind is float) and 0 <= value <= MAX_UNIX_TIME:
            if now < value + self.leeway:
                return None
            return Problem(
                Reason.token_expired,
                f"The token expired {duration(now - value)} ago (exp {utc(value)}).",
                now - value,
            )
        return bad_time("exp", value)

    def _nbf(self, value: Any, now: float) -> Problem | None:
        kind = type(value)
        if (kind is int or kind is float) and 0 <= value <= MAX_UNIX_TIME:
            if value - self.leeway <= now:
                return None
            return Problem(
                Reason.token_not_yet_valid,
                f"The token becomes valid in {duration(value - now)} (nbf {utc(value)}).",
                value - now,
            )
        return bad_time("nbf", value)

    def _iat(self, value: Any, now: float) -> Problem | None:
        kind = type(value)
        if (kind is int or kind is float) and 0 <= value <= MAX_UNIX_TIME:
            if value - self.leeway <= now:
                return None
            return Problem(
                Reason.token_issued_in_future,
                f"The token was issued {duration(value - now)} in the future (iat {utc(value)}).",
                value - now,
            )
        return bad_time("iat", value)

    def _iss(self, value: Any, now: float) -> Problem | None:
        if type(value) is str:
            if not self.issuers or value in self.issuers:
                return None
            return Problem(Reason.issuer_mismatch, f"The token's issuer is '{clip(value)}'.", value)
        return Problem(Reason.invalid_claim, f"'iss' is a {json_type(value)}, not a string.")

    def audience_problem(self, value: Any, now: float, name: str = "aud") -> Problem | None:
        """The aud rule; ``name`` is the claim checked in its stead when it is absent."""
        audiences = self.audiences
        if type(value) is str:
            if not audiences or value in audiences:
                return None
            if self.resources and resource_key(value) in self.resources:
                return None  # the resource URI spelled otherwise: host case, default port
            shown = (value,)
        elif type(value) is list and all(type(a) is str for a in value):
            if not audiences or not audiences.isdisjoint(value):
                return None
            if self.resources and not self.resources.isdisjoint(map(resource_key, value)):
                return None
            shown = tuple(value)
        else:
            return Problem(
                Reason.invalid_claim,
                f"'{name}' is a {json_type(value)}, not a string or an array of strings.",
            )
        listed = ", ".join(f"'{clip(a, 60)}'" for a in shown[:5]) or "an empty array"
        if name != "aud":
            return Problem(
                Reason.audience_mismatch,
                f"The token has no 'aud'; its '{name}' is {listed}.",
                shown,
            )
        return Problem(Reason.audience_mismatch, f"The token's audience is {listed}.", shown)

    # -- the stage ------------------------------------------------------------------

    def problems(self, claims: dict[str, Any], now: float) -> list[Problem] | None:
        """Every problem with ``claims`` at ``now``, or None when they pass."""
        found: list[Problem] | None = None
        for name in self.required:
            if name not in claims:
                found = found or []
                found.append(Problem(Reason.missing_claim, f"The '{name}' claim is absent."))
        get = claims.get
        for name, rule in self.rules:
            value = get(name, _ABSENT)
            if value is _ABSENT:
                continue
            problem = (
                rule(value, now)
                if value is not None
                else Problem(
                    Reason.invalid_claim, f"'{name}' is null; a registered claim cannot be."
                )
            )
            if problem is not None:
                found = found or []
                found.append(problem)
        if type(claims) is OversizedClaims:  # numbers Python cannot hold (structure.py)
            for name in claims.oversized:
                if name not in REGISTERED:  # those are explained by their own rules
                    found = found or []
                    found.append(
                        Problem(
                            Reason.invalid_claim,
                            f"'{clip(name, 40)}' holds a JSON number out of range: "
                            f"{_oversized_in(claims[name])}.",
                        )
                    )
        return found

    def failure(
        self,
        problems: list[Problem],
        alg: str,
        kid: str | None,
        key: VerificationKey | None,
        clock: ClockSample | None = None,
    ) -> Failure:
        """The claims-stage Failure: every problem, the primary one first, with hints.

        ``clock`` is the issuer's measured clock offset (a remote key source's
        :attr:`~jwt_middleware.keys.remote.RemoteKeySource.clock_offset`), or None when
        nothing was measured (static keys): a failed time claim's hint then says
        whether the offset explains it, with figures. ``key`` is None for claims no key
        vouched for (an introspection endpoint's answer).
        """
        ordered = tuple(sorted(problems, key=lambda p: CLAIM_ORDER.index(p.reason)))
        primary = ordered[0]
        reason = primary.reason
        expected: dict[str, Any] = {}
        hint: str | None = None
        if reason is Reason.issuer_mismatch or reason is Reason.missing_claim:
            expected["issuer"] = sorted(self.issuers)
        if reason is Reason.audience_mismatch or reason is Reason.missing_claim:
            expected["audience"] = sorted(self.audiences)
        if reason is Reason.missing_claim:
            expected["required_claims"] = list(self.required)
        if reason is Reason.issuer_mismatch:
            hint = issuer_hint(self.issuers, primary)
        elif reason is Reason.audience_mismatch:
            hint = audience_hint(self.audiences, self.resources, primary)
        elif reason in (
            Reason.token_expired,
            Reason.token_not_yet_valid,
            Reason.token_issued_in_future,
        ):
            expected["leeway_seconds"] = self.leeway
            if clock is not None:
                expected["issuer_clock_offset_seconds"] = round(clock.offset, 3)
                expected["issuer_clock_offset_error_seconds"] = round(clock.error, 3)
                hint = clock_hint(self.leeway, primary, clock)
            else:
                hint = time_hint(self.leeway, primary)
        return Failure(
            reason,
            primary.detail,
            problems=ordered,
            hint=hint,
            expected=expected,
            alg=alg,
            kid=kid,
            key_fingerprint=key.fingerprint if key is not None else None,
        )
