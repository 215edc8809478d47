"""What a request stage after verification is: a check of a verified token.

The middleware runs, for each scheme, the checks configured for it, in order
(binding, status, authorization; :func:`checks_for`). Each takes the token as
presented, how it was presented, the verified token and the request's path
(relative to the application's root), and gives the verified token back or a
:class:`~jwt_middleware.outcome.Failure`. A check that needs I/O (the DPoP replay
store, a revocation list) is an :class:`AsyncCheck`; the others are plain calls,
so a request pays for no coroutine it does not need (make bench, in-process
cached request). A stage that is not configured is not in the list.

To add a stage: write its check (one module, one job), and add it to
:func:`checks_for` for the schemes it applies to, in the contract's order.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from .outcome import Failure, VerifiedToken
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
