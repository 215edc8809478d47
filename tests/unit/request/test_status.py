"""jwt_middleware/request/status.py: the status checks a middleware runs, in order.

The revocation list's check runs before introspection's (a revoked token costs no
call to the endpoint); a check not configured is left out and costs nothing.
"""

from __future__ import annotations

from jwt_middleware.outcome import Failure, VerifiedToken
from jwt_middleware.request.presentation import Presented
from jwt_middleware.request.status import status_checks


async def revoked(
    token: str | None, presented: Presented, verified: VerifiedToken, path: str
) -> VerifiedToken | Failure:
    return verified


async def introspected(
    token: str | None, presented: Presented, verified: VerifiedToken, path: str
) -> VerifiedToken | Failure:
    return verified


def test_the_checks_given_in_their_order_and_none_left_out() -> None:
    assert status_checks(revoked, introspected) == (revoked, introspected)
    assert status_checks(None, introspected) == (introspected,)
    assert status_checks(revoked, None) == (revoked,)
    assert status_checks(None, None) == ()
