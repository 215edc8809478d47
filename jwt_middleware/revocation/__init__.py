"""Revocation across a fleet (CONTRACT section 9, docs/revocation.md).

- :mod:`.entries`: what the list holds, keyed on an issuer and a ``jti``,
  ``sid`` or ``sub`` (never on a token's bytes), and how a token is judged.
- :mod:`.store`: :class:`RevocationList`, the list in Redis: one bounded
  ``MGET`` per request, and the Python API that revokes.
- :mod:`.events`: Security Event Tokens (RFC 8417; CAEP and RISC events) read
  into revocations.

The request stage that checks every accepted token is
:mod:`jwt_middleware.request.revocation`; the receiver of Security Event Tokens
by push (RFC 8935) is :mod:`jwt_middleware.request.receiver`; the command is
``jwt-middleware revoke`` (:mod:`jwt_middleware.cli.revoke`).
"""

from __future__ import annotations

from .entries import KINDS, Revocation, Verdict
from .store import RevocationList, RevocationStoreError

__all__ = ["KINDS", "Revocation", "RevocationList", "RevocationStoreError", "Verdict"]
