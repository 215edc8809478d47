"""Outcomes of verification as values, not exceptions.

A rejected token is this library's main output, so every stage returns either
its next value or a :class:`Failure`. :class:`VerifiedToken` is what a
successful verification yields. Both are immutable: built once, never changed
(:meth:`Failure.with_claims` returns a new value).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, NoReturn

from starlette.authentication import AuthCredentials, BaseUser

from .reasons import REASONS, Reason, ReasonInfo
from .text import clip


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem found with a token: a reason code and a detail sentence."""

    reason: Reason
    detail: str
    #: The offending value or amount (seconds late, the token's iss), for hints; not rendered.
    value: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a request was rejected.

    ``detail`` describes the token itself (safe at the standard diagnostics
    level); ``hint`` overrides the taxonomy's default hint when the failure
    knows better (e.g. a near-miss issuer); ``expected`` holds values shown
    only at the verbose level (expected issuer, known kids, fingerprints).
    ``alg``, ``kid`` and ``key_fingerprint`` feed logs and metrics.
    """

    reason: Reason
    detail: str
    problems: tuple[Problem, ...] = ()
    hint: str | None = None
    #: Extra sentence for the verbose level only (it may name expected values or kids).
    verbose_hint: str | None = None
    expected: dict[str, Any] = field(default_factory=dict)
    alg: str | None = None
    kid: str | None = None
    key_fingerprint: str | None = None
    required_scopes: tuple[str, ...] = ()
    retry_after: int | None = None
    #: Unverified claims, for log events only (never rendered in responses).
    iss: Any = None
    aud: Any = None
    sub: Any = None

    def __post_init__(self) -> None:
        if not self.problems:
            object.__setattr__(self, "problems", (Problem(self.reason, self.detail),))

    def with_claims(self, claims: dict[str, Any]) -> Failure:
        """This failure with the token's (unverified) ``iss``/``aud``/``sub`` for its
        log event, clipped: they are attacker-chosen."""
        aud = claims.get("aud")
        if isinstance(aud, list):
            aud = [clip(a, 64) for a in aud[:5]]
        elif aud is not None:
            aud = clip(aud, 64)
        return replace(self, iss=claims.get("iss"), aud=aud, sub=claims.get("sub"))

    @property
    def info(self) -> ReasonInfo:
        return REASONS[self.reason]

    @property
    def status(self) -> int:
        return REASONS[self.reason].status

    @property
    def effective_hint(self) -> str:
        return self.hint if self.hint is not None else REASONS[self.reason].hint


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


@dataclass(frozen=True, slots=True)
class VerifiedToken(BaseUser):
    """A token whose signature and claims verified, and the principal it names.

    ``claims`` and ``header`` are the decoded JSON objects; ``scopes`` are
    taken from the ``scope`` (space-separated) or ``scp`` claim. The
    verified-token cache hands the same value to every request that carries
    the same token: treat ``claims`` and ``header`` as read-only.

    It is also a Starlette ``BaseUser`` (``request.user`` on a verified
    request, :data:`~jwt_middleware.JWTUser`): ``is_authenticated`` is True,
    ``identity`` the ``sub`` claim, ``display_name`` the first of
    ``preferred_username``, ``name``, ``email``, ``sub``; so a request pays
    for no user object of its own (make bench, in-process cached request).
    """

    claims: dict[str, Any]
    header: dict[str, Any]
    alg: str
    kid: str | None
    key_fingerprint: str
    scopes: frozenset[str]
    expires_at: float | None

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

    @property
    def identity(self) -> str:
        return self.subject or ""

    @property
    def display_name(self) -> str:
        for name in ("preferred_username", "name", "email", "sub"):
            value = self.claims.get(name)
            if isinstance(value, str) and value:
                return value
        return ""
