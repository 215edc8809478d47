"""jwt_middleware/request/status.py: the status checks a middleware runs, in order.

The revocation list's check runs before introspection's (a revoked token costs no
call to the endpoint); introspection is a status check in ``always`` mode only; a
check not configured is left out and costs nothing.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from jwt_middleware.request.status import status_checks


async def revoked(*args: Any) -> Any:
    return args[2]


async def introspected(*args: Any) -> Any:
    return args[2]


def revocation() -> Any:
    return cast(Any, SimpleNamespace(check=revoked))


def introspector(always: bool) -> Any:
    return cast(Any, SimpleNamespace(check=introspected, always=always))


def test_the_revocation_list_first_then_introspection_in_always_mode() -> None:
    assert status_checks(revocation(), introspector(True)) == (revoked, introspected)
    assert status_checks(revocation(), introspector(False)) == (revoked,)
    assert status_checks(None, introspector(True)) == (introspected,)
    assert status_checks(revocation(), None) == (revoked,)
    assert status_checks(None, None) == ()
