"""Outcomes of verification as values, not exceptions.

A rejected token is this library's main output, so every stage returns either
its next value or a :class:`Failure`. :class:`VerifiedToken` is what a
successful verification yields. Both are immutable: built once, never changed
(:meth:`Failure.with_claims` returns a new value). They are named tuples
underneath, which Python builds several times faster than frozen dataclasses
(make bench: the fresh-token and rejected-token rows pay for one each).
"""

from __future__ import annotations

from functools import cached_property
from typing import Any, NamedTuple, NoReturn

from starlette.authentication import AuthCredentials, BaseUser

from .reasons import REASONS, Reason, ReasonInfo
from .values.settingnames import BY_ENVIRONMENT, SettingNames
from .values.text import clip


class _ProblemFields(NamedTuple):
    reason: Reason
    detail: str
    #: The offending value or amount (seconds late, the token's iss), for hints; not
    #: rendered, and not compared.
    value: Any = None


class Problem(_ProblemFields):
    """One problem found with a token: a reason code and a detail sentence."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Problem) and self[:2] == other[:2]

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash(self[:2])


class _FailureFields(NamedTuple):
    reason: Reason
    detail: str
    problems: tuple[Problem, ...]
    hint: str | None
    verbose_hint: str | None
    expected: dict[str, Any]
    alg: str | None
    kid: str | None
    key_fingerprint: str | None
    required_scopes: tuple[str, ...]
    retry_after: int | None
    iss: Any
    aud: Any
    sub: Any


class Failure(_FailureFields):
    """Why a request was rejected. Immutable (a tuple underneath: cheap to build).

    ``detail`` describes the token itself (safe at the standard diagnostics
    level); ``hint`` overrides the taxonomy's default hint when the failure
    knows better (e.g. a near-miss issuer); ``verbose_hint`` is an extra
    sentence for the verbose level only (it may name expected values or kids);
    ``expected`` holds values shown only at the verbose level (expected issuer,
    known kids, fingerprints). A hint names the settings it mentions with
    placeholders (``$leeway``), rendered as the reader gave them by
    :meth:`hint_for` (:mod:`jwt_middleware.values.settingnames`); a detail
    describes the token and names no setting. ``alg``, ``kid`` and ``key_fingerprint`` feed
    logs and metrics; ``iss``, ``aud`` and ``sub`` are the token's unverified
    claims, for log events only (never rendered in responses). ``problems``
    defaults to the one problem ``(reason, detail)``.
    """

    __slots__ = ()

    def __new__(
        cls,
        reason: Reason,
        detail: str,
        problems: tuple[Problem, ...] = (),
        hint: str | None = None,
        verbose_hint: str | None = None,
        expected: dict[str, Any] | None = None,
        alg: str | None = None,
        kid: str | None = None,
        key_fingerprint: str | None = None,
        required_scopes: tuple[str, ...] = (),
        retry_after: int | None = None,
        iss: Any = None,
        aud: Any = None,
        sub: Any = None,
    ) -> Failure:
        return tuple.__new__(
            cls,
            (
                reason,
                detail,
                problems or (Problem(reason, detail),),
                hint,
                verbose_hint,
                {} if expected is None else expected,
                alg,
                kid,
                key_fingerprint,
                required_scopes,
                retry_after,
                iss,
                aud,
                sub,
            ),
        )

    def with_claims(self, claims: dict[str, Any]) -> Failure:
        """This failure with the token's (unverified) ``iss``/``aud``/``sub`` for its
        log event, clipped: they are attacker-chosen."""
        aud = claims.get("aud")
        if isinstance(aud, list):
            aud = [clip(a, 64) for a in aud[:5]]
        elif aud is not None:
            aud = clip(aud, 64)
        return tuple.__new__(Failure, (*self[:11], claims.get("iss"), aud, claims.get("sub")))

    @property
    def info(self) -> ReasonInfo:
        return REASONS[self.reason]

    @property
    def status(self) -> int:
        return REASONS[self.reason].status

    @property
    def effective_hint(self) -> str:
        """The hint, its settings named as environment variables (:meth:`hint_for`)."""
        return self.hint_for(BY_ENVIRONMENT)

    def hint_for(self, names: SettingNames, *, verbose: bool = False) -> str:
        """The hint (the reason's own when the failure has none), with the verbose
        level's extra sentence when ``verbose``, its settings named by ``names``."""
        hint = self.hint if self.hint is not None else REASONS[self.reason].hint
        if verbose and self.verbose_hint:
            hint = f"{hint} {self.verbose_hint}"
        return names.render(hint)


class ScopeList(list[str]):
    """A list that refuses changes: the scopes of a :class:`TokenCredentials`."""

    def _refuse(self, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError(
            "request.auth.scopes is shared by every request carrying the same token: "
            "copy it (list(request.auth.scopes)) to change it"
        )

    append = extend = insert = remove = pop = clear = sort = reverse = _refuse
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse


class TokenCredentials(AuthCredentials):
    """``request.auth`` on a verified request: Starlette's ``AuthCredentials`` with
    ``"authenticated"`` and the token's scopes (so ``starlette.authentication.requires``
    works). One per token, shared by its requests (make bench, in-process cached
    request): neither the object nor its ``scopes`` can be changed."""

    def __init__(self, scopes: tuple[str, ...]) -> None:
        object.__setattr__(self, "scopes", ScopeList(scopes))

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("request.auth is shared by every request carrying the same token")


class _VerifiedFields(NamedTuple):
    claims: dict[str, Any]
    header: dict[str, Any]
    alg: str
    kid: str | None
    key_fingerprint: str
    scopes: frozenset[str]
    expires_at: float | None
    #: The token's ``cnf.jkt`` (RFC 9449: bound to a DPoP key), else None; "" when
    #: ``cnf.jkt`` is present but not a string (bound, and to no key).
    jkt: str | None = None


class VerifiedToken(_VerifiedFields, BaseUser):
    """A token whose signature and claims verified, and the principal it names.

    ``claims`` and ``header`` are the decoded JSON objects; ``scopes`` are
    taken from the ``scope`` (space-separated) or ``scp`` claim. The
    verified-token cache hands the same value to every request that carries
    the same token: treat ``claims`` and ``header`` as read-only. Immutable (a
    tuple underneath: cheap to build).

    It is also a Starlette ``BaseUser`` (``request.user`` on a verified
    request, :data:`~jwt_middleware.JWTUser`): ``is_authenticated`` is True,
    ``identity`` the ``sub`` claim, ``display_name`` the first of
    ``preferred_username``, ``name``, ``email``, ``sub``; so a request pays
    for no user object of its own (make bench, in-process cached request).
    ``jkt`` is the token's DPoP key binding (``cnf.jkt``), read once when the token
    verified: the middleware's downgrade check on the cached path is one field read.
    """

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"VerifiedToken is immutable: cannot set {name!r}")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"VerifiedToken is immutable: cannot delete {name!r}")

    @cached_property
    def credentials(self) -> TokenCredentials:
        """``request.auth`` for this token: ``"authenticated"`` and the sorted scopes.
        Made once per token, on its first accepted request, and shared by the others."""
        return TokenCredentials(("authenticated", *sorted(self.scopes)))

    @property
    def subject(self) -> str | None:
        sub = self.claims.get("sub")
        return sub if isinstance(sub, str) else None

    # -- as a Starlette BaseUser --------------------------------------------------

    @property
    def token(self) -> VerifiedToken:
        """Itself (``request.user.token``, as the principal's verified token)."""
        return self

    @property
    def is_authenticated(self) -> bool:
        return True

    @cached_property
    def identity(self) -> str:
        """The ``sub`` claim (``""`` without one). Read once per token and shared by its
        requests (make bench, end to end: the app reads ``request.user.identity``)."""
        return self.subject or ""

    @property
    def display_name(self) -> str:
        for name in ("preferred_username", "name", "email", "sub"):
            value = self.claims.get(name)
            if isinstance(value, str) and value:
                return value
        return ""
