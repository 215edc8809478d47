"""Request stage, status: is a verified token still live?

A JWT stays valid until it expires, whatever happens at its issuer. Stages that
ask elsewhere (a revocation list shared by a fleet, the issuer's introspection
endpoint for a token that verified locally) go here, after binding and before
authorization, and run for every accepted request, cached tokens included. Each
is an :class:`~jwt_middleware.request.stages.AsyncCheck`; with none configured the
middleware's list for this stage is empty and costs nothing.

- Introspection in ``always`` mode (``JWT_INTROSPECTION_MODE=always``, CONTRACT
  section 8): :meth:`jwt_middleware.introspection.Introspector.check`, a JWS that
  passed every local check asked about at the issuer's introspection endpoint
  (cached, single-flight), so a token revoked there stops working.
- The revocation list (``revocation_redis_url``, CONTRACT section 9):
  :class:`jwt_middleware.request.revocation.RevocationCheck`, one ``MGET`` of the
  token's ``jti``, ``sid`` and ``sub`` entries in the list every instance shares;
  it runs before introspection (a revoked token needs no call to the endpoint).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .stages import AsyncCheck

if TYPE_CHECKING:
    from ..introspection import Introspector
    from .revocation import RevocationSetup

#: The status checks a middleware runs, in order.
StatusChecks = tuple[AsyncCheck, ...]


def status_checks(
    revocation: RevocationSetup | None, introspector: Introspector | None
) -> StatusChecks:
    """The status checks configured, in order: the revocation list's (a revoked token
    costs no call to the introspection endpoint), then introspection's in ``always`` mode."""
    checks: list[AsyncCheck] = []
    if revocation is not None:
        checks.append(revocation.check)
    if introspector is not None and introspector.always:
        checks.append(introspector.check)
    return tuple(checks)
