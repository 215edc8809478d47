"""What a request stage after verification is: a check of a verified token.

The middleware runs, for each kind of verified token (its scheme, and whether it
is bound to a key: ``cnf.jkt``), the checks configured for it, in order
(binding, status, authorization; :func:`by_token`). Each takes the token as
presented, how it was presented, the verified token and the request's path
(relative to the application's root), and gives the verified token back or a
:class:`~jwt_middleware.outcome.Failure`. A check that needs I/O (the DPoP replay
store, a revocation list) is an :class:`AsyncCheck`; the others are plain calls,
so a request pays for no coroutine it does not need (make bench, in-process
cached request). A stage that is not configured is not in the list.

To add a stage: write its check (one module, one job), and give it to
:func:`by_token` in the middleware, in the contract's order; a check that
cannot change the outcome of a kind of token is left out of that kind's list.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from ..outcome import Failure, VerifiedToken
from .presentation import Presented

Outcome = VerifiedToken | Failure


class Check(Protocol):
    """A stage that decides without waiting."""

    def __call__(
        self, token: str | None, presented: Presented, verified: VerifiedToken, path: str
    ) -> Outcome: ...


class AsyncCheck(Protocol):
    """A stage that waits for something (a store, an endpoint)."""

    def __call__(
        self, token: str | None, presented: Presented, verified: VerifiedToken, path: str
    ) -> Awaitable[Outcome]: ...


#: One configured stage: the check (a :class:`Check` or an :class:`AsyncCheck`), and
#: whether it is awaited.
Step = tuple[Callable[..., Any], bool]


def checks_for(*stages: tuple[Check | AsyncCheck | None, bool]) -> tuple[Step, ...]:
    """The configured stages (a None stage is not configured and left out), in order."""
    return tuple((check, awaited) for check, awaited in stages if check is not None)


def by_token(
    *,
    bearer: Check | None,
    bearer_always: bool,
    proof: AsyncCheck | None,
    status: Sequence[AsyncCheck] = (),
    authorization: Sequence[Check] = (),
) -> dict[str, tuple[tuple[Step, ...], tuple[Step, ...]]]:
    """The checks after verification for each kind of verified token: by its scheme,
    then for an unbound and a bound one (``cnf.jkt``): ``[scheme][bound]``. ``bearer``
    is the binding of a token that came without a proof: it can only refuse a bound one, unless
    ``bearer_always`` (DPoP required refuses every bearer token), so an unbound
    bearer token's list leaves it out (make bench, in-process cached request: one call
    less). ``proof`` is the binding of a DPoP request; ``status`` and
    ``authorization`` apply to every kind."""
    after: list[tuple[Check | AsyncCheck | None, bool]] = [
        *((check, True) for check in status),
        *((check, False) for check in authorization),
    ]
    dpop = checks_for((proof, True), *after)
    return {
        "bearer": (
            checks_for((bearer if bearer_always else None, False), *after),
            checks_for((bearer, False), *after),
        ),
        "dpop": (dpop, dpop),
    }
