"""Request stage, status: is a verified token still live?

A JWT stays valid until it expires, whatever happens at its issuer. Stages that
ask elsewhere (a revocation list shared by a fleet, the issuer's introspection
endpoint for a token that verified locally) go here, after binding and before
authorization, and run for every accepted request, cached tokens included. Each
is an :class:`~jwt_middleware.request.stages.AsyncCheck`: the revocation list's
check (:mod:`jwt_middleware.request.revocation`, with ``revocation_redis_url``).
With none configured, the middleware's list for this stage is empty and costs
nothing.
"""

from __future__ import annotations

from .stages import AsyncCheck

#: The status checks a middleware runs, in order.
StatusChecks = tuple[AsyncCheck, ...]
