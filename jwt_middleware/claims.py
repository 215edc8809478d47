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
(:mod:`jwt_middleware.clock`) comes in as an argument of :meth:`ClaimsPolicy.failure`,
and only a failed time claim reads it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final
from urllib.parse import urlsplit

from .clock import ClockSample, describe
from .keyset import VerificationKey
from .outcome import Failure, Problem
from .reasons import CLAIM_ORDER, Reason
from .resourceid import resource_key as resource_key  # re-exported
from .resourceid import resource_parts as resource_parts
from .strictjson import OversizedClaims, OversizedNumber
from .text import clip, duration, json_type, utc

MAX_UNIX_TIME: Final = 253402300799  # 9999-12-31T23:59:59Z
REGISTERED: Final = ("iss", "sub", "aud", "exp", "nbf", "iat", "jti")
_ABSENT: Final = object()
#: An expiry this recent is most likely clock skew between issuer and server.
_CLOCK_SKEW_WINDOW: Final = 300
_ENV_WORDS: Final = frozenset(
    {"dev", "develop", "development", "test", "testing", "qa", "stage", "staging", "preprod",
     "uat", "sandbox", "prod", "production", "live", "demo", "local"}
)  # fmt: skip

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


def resource_near_miss(actual: str, expected: str) -> str | None:
    """The hint when a token's aud ``actual`` nearly names the resource URI ``expected``
    (RFC 8707): the same origin (after normalising), another path. None otherwise."""
    a, e = resource_parts(actual), resource_parts(expected)
    if a is None or e is None or a[0] != e[0]:
        return None
    a_path, e_path = a[1] or "/", e[1] or "/"  # an empty path is "/" (resource_key)
    shown, wanted = clip(actual, 80), clip(expected, 80)
    fix = f"request the token with resource={wanted} (RFC 8707)"
    if a_path == "/" and e_path != "/":
        return (
            f"The token was requested for {shown} but this resource is {wanted}, a path "
            f"below that origin: {fix}."
        )
    if a_path.rstrip("/") == e_path.rstrip("/") and a_path != e_path:
        return (
            f"The token's audience {shown} differs from this resource {wanted} only by a "
            "trailing slash. Resource URIs are compared exactly, beyond the letter case of "
            f"the scheme and host and a default port: {fix}, or add that spelling to "
            "JWT_AUDIENCE if it names this resource too."
        )
    if a_path != e_path:
        return (
            f"The token was requested for {shown}, another path on this resource's "
            f"origin; this resource is {wanted}: {fix}."
        )
    if a[2] != e[2]:
        return (
            f"The token was requested for {shown}, which differs from this resource "
            f"{wanted} in its query: {fix}."
        )
    return None


def _one_of(name: str, allowed: tuple[str, ...]) -> Rule:
    """A claim that must hold one of ``allowed`` (Cognito's ``token_use``: ``access``)."""
    accepted = frozenset(allowed)
    wanted = " or ".join(repr(a) for a in allowed)

    def rule(value: Any, now: float) -> Problem | None:
        if type(value) is str and value in accepted:
            return None
        shown = f"'{clip(value, 30)}'" if type(value) is str else f"a {json_type(value)}"
        return Problem(Reason.invalid_claim, f"'{name}' is {shown}, not {wanted}.", value)

    return rule


class ClaimsPolicy:
    """The claim rules: expected issuers and audiences, required claims, leeway.

    Immutable; :meth:`with_issuer` gives a policy expecting a discovered issuer.
    An identity provider's rules (:mod:`jwt_middleware.idp`) come in as data when
    the policy is built: more accepted ``issuers`` (Google's two spellings, an
    Entra ID template expanded per tenant), ``claim_values`` (a claim required to
    hold one of some values: Cognito's ``token_use``). A policy without them
    runs exactly the rules it ran before; :class:`AudienceAlternatesPolicy`
    (Cognito's ``client_id``) is a subclass, so the default one pays nothing for it.
    """

    __slots__ = (
        "audiences",
        "claim_values",
        "issuers",
        "leeway",
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
        claim_values: Mapping[str, tuple[str, ...]] | None = None,
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
        self.claim_values = dict(claim_values or {})
        needed = list(dict.fromkeys(required))
        if self.issuers and "iss" not in needed:
            needed.append("iss")
        if self.audiences and "aud" not in needed and self._aud_required():
            needed.append("aud")
        for name in self.claim_values:
            if name not in needed:
                needed.append(name)
        self.required = tuple(needed)
        #: (claim, rule), in the order problems are listed.
        self.rules: tuple[tuple[str, Rule], ...] = (
            ("exp", self._exp),
            ("nbf", self._nbf),
            ("iat", self._iat),
            ("iss", self._iss),
            ("aud", self._aud),
            ("sub", _string("sub")),
            ("jti", _string("jti")),
            *((name, _one_of(name, allowed)) for name, allowed in self.claim_values.items()),
        )

    def _aud_required(self) -> bool:
        return True

    def _copy_kwargs(self) -> dict[str, Any]:
        return {
            "audiences": self.audiences,
            "required": self.required,
            "leeway": self.leeway,
            "claim_values": self.claim_values,
        }

    def with_issuer(self, issuer: str, *more: str) -> ClaimsPolicy:
        """This policy expecting ``issuer`` (and ``more``: a provider's other spellings)."""
        return type(self)(issuers=(issuer, *more), **self._copy_kwargs())

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

    def _aud(self, value: Any, now: float, name: str = "aud") -> Problem | None:
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
        key: VerificationKey,
        clock: ClockSample | None = None,
    ) -> Failure:
        """The claims-stage Failure: every problem, the primary one first, with hints.

        ``clock`` is the issuer's measured clock offset (a remote key source's
        :attr:`~jwt_middleware.remote.RemoteKeySource.clock_offset`), or None when
        nothing was measured (static keys): a failed time claim's hint then says
        whether the offset explains it, with figures.
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
            hint = self._issuer_hint(primary)
        elif reason is Reason.audience_mismatch:
            hint = self._audience_hint(primary)
        elif reason in (
            Reason.token_expired,
            Reason.token_not_yet_valid,
            Reason.token_issued_in_future,
        ):
            expected["leeway_seconds"] = self.leeway
            if clock is not None:
                expected["issuer_clock_offset_seconds"] = round(clock.offset, 3)
                expected["issuer_clock_offset_error_seconds"] = round(clock.error, 3)
                hint = self._clock_hint(primary, clock)
            else:
                hint = self._time_hint(primary)
        return Failure(
            reason,
            primary.detail,
            problems=ordered,
            hint=hint,
            expected=expected,
            alg=alg,
            kid=kid,
            key_fingerprint=key.fingerprint,
        )

    def _issuer_hint(self, primary: Problem) -> str | None:
        actual = primary.value if isinstance(primary.value, str) else ""
        for expected in sorted(self.issuers):
            near = issuer_near_miss(actual, expected)
            if near and len(self.issuers) > 1:
                near = f"{near} (compared with one of the {len(self.issuers)} expected issuers)"
            if near:
                return (
                    f"The token's issuer {near}. Issuers are compared exactly: make JWT_ISSUER "
                    "match the issuer's 'iss' (see its discovery document) character for "
                    "character."
                )
        return None

    def _audience_hint(self, primary: Problem) -> str | None:
        """The near miss of a token's aud and an expected resource URI, if one is."""
        if not self.resources or not isinstance(primary.value, tuple):
            return None
        for expected in sorted(a for a in self.audiences if resource_key(a) is not None):
            for actual in primary.value[:20]:
                near = resource_near_miss(actual, expected)
                if near:
                    return near
        return None

    def _time_hint(self, primary: Problem) -> str | None:
        if primary.reason is Reason.token_expired:
            # Expired within a few minutes: most likely clock skew.
            seconds = primary.value
            if isinstance(seconds, float | int) and seconds <= _CLOCK_SKEW_WINDOW:
                return (
                    f"The token expired only {duration(seconds)} ago, beyond the "
                    f"{self.leeway:g} s leeway. If clients see this on fresh tokens, the "
                    "issuer's and this server's clocks differ: check NTP, or raise JWT_LEEWAY."
                )
        return None

    def _clock_hint(self, primary: Problem, clock: ClockSample) -> str | None:
        """The hint of a failed time claim, given the issuer's measured clock offset.

        ``apparent`` is how far the claim is off by this server's clock (seconds past
        exp, or before nbf or iat); the offset accounts for ``shift`` of it (an offset
        < 0, this server ahead, makes tokens look expired; > 0 makes them look not yet
        valid); ``residual`` is how far it is off by the issuer's clock, within ±
        the error bound. The offset explains the refusal when it is real (beyond its
        error, in that direction) and the token might pass by the issuer's clock
        (``residual`` - error within the leeway). Otherwise it is the token's problem:
        the clocks agree, or the claim fails by the issuer's clock too.
        """
        apparent = primary.value
        if not isinstance(apparent, int | float):
            return None
        reason = primary.reason
        shift = -clock.offset if reason is Reason.token_expired else clock.offset
        residual = apparent - shift
        measured = describe(clock)
        leeway = self.leeway
        if residual - clock.error <= leeway and shift > clock.error:
            return (
                f"{measured[0].upper()}{measured[1:]}: by the issuer's clock the token "
                f"{_by_issuer_clock(reason, residual, leeway)}. Fix time sync (NTP) on this "
                "host, or on the issuer if its clock is the wrong one; raising JWT_LEEWAY "
                "only hides the offset."
            )
        if not clock.significant:  # the clocks agree: the claim is what it looks like
            seen = f"{_off_by(reason, apparent)}, beyond the {leeway:g} s leeway"
        else:  # then residual - error > leeway: it fails by the issuer's clock too
            seen = (
                f"{_off_by(reason, residual)} even by the issuer's clock, more than the "
                "clock offset explains"
            )
        return (
            f"The token {seen} ({measured}): the token's problem, not this server's "
            f"clock. {_TOKEN_PROBLEM[reason]}"
        )


class AudienceAlternatesPolicy(ClaimsPolicy):
    """A policy where other claims stand for ``aud`` when the token has none.

    Amazon Cognito's access tokens carry the app client id in ``client_id`` and
    no ``aud`` (its ID tokens carry ``aud``): with an expected audience, a token
    passes when its ``aud`` holds one, or when it has no ``aud`` and its
    ``client_id`` holds one. Neither present is ``missing_claim``.
    """

    __slots__ = ("alternates",)

    def __init__(self, *, audience_alternates: tuple[str, ...] = ("client_id",), **kwargs: Any):
        self.alternates = audience_alternates
        super().__init__(**kwargs)

    def _aud_required(self) -> bool:
        return not self.alternates

    def _copy_kwargs(self) -> dict[str, Any]:
        return {**super()._copy_kwargs(), "audience_alternates": self.alternates}

    def problems(self, claims: dict[str, Any], now: float) -> list[Problem] | None:
        found = super().problems(claims, now)
        if not self.audiences or "aud" in claims:
            return found
        for name in self.alternates:
            value = claims.get(name, _ABSENT)
            if value is not _ABSENT:
                problem = self._aud(value, now, name)
                break
        else:
            names = " nor ".join(f"'{n}'" for n in ("aud", *self.alternates))
            problem = Problem(Reason.missing_claim, f"Neither {names} is present.")
        if problem is None:
            return found
        return [*(found or ()), problem]


_TOKEN_PROBLEM: Final = {
    Reason.token_expired: "The client must get a new token (refresh it before it expires).",
    Reason.token_not_yet_valid: (
        "The issuer dated its nbf ahead, or the client uses a token meant for later."
    ),
    Reason.token_issued_in_future: (
        "The token was minted with a time ahead of the issuer's key server: check the "
        "clock of the issuer's signing service."
    ),
}


def _off_by(reason: Reason, seconds: float) -> str:
    """How far a time claim is off: ``seconds`` past exp, or before nbf or iat."""
    if reason is Reason.token_expired:
        return f"expired {duration(seconds)} ago"
    if reason is Reason.token_not_yet_valid:
        return f"becomes valid only in {duration(seconds)}"
    return f"was issued {duration(seconds)} in the future"


def _by_issuer_clock(reason: Reason, residual: float, leeway: float) -> str:
    """What the token is by the issuer's clock, when the offset explains its refusal."""
    within = (
        f"within the {leeway:g} s leeway"
        if residual <= leeway
        else f"at the edge of the {leeway:g} s leeway"
    )
    if reason is Reason.token_expired:
        if residual <= 0:
            return f"is still valid for {duration(-residual)}"
        return f"expired only {duration(residual)} ago, {within}"
    if reason is Reason.token_not_yet_valid:
        if residual <= 0:
            return f"is already valid (since {duration(-residual)})"
        return f"becomes valid in only {duration(residual)}, {within}"
    if residual <= 0:
        return f"was issued {duration(-residual)} ago"
    return f"was issued only {duration(residual)} in the future, {within}"
