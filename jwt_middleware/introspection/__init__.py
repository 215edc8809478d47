"""Opaque tokens: RFC 7662 introspection (CONTRACT section 8, docs/introspection.md).

A token that is not a compact JWS goes to ``JWT_INTROSPECTION_URL`` (and, with
``JWT_INTROSPECTION_MODE=always``, so does a JWS that passed every local check).
The parts, one concern each:

- :mod:`.auth`: how this server authenticates itself (``client_secret_basic``
  form-encoded, ``client_secret_post``, ``private_key_jwt``);
- :mod:`.endpoint`: one bounded call (timeouts and a deadline, a size cap, no
  redirects, https only);
- :mod:`.answer`: the answer read as attacker input (strict JSON, or an RFC 9701
  signed answer verified against the authorization server's keys) and judged like
  a token's claims;
- :mod:`.cache`: outcomes by token hash, never past ``exp``;
- :mod:`.introspector`: the four together, with single-flight, the cached path's
  lookup and the status stage of ``always`` mode.
"""

from __future__ import annotations

from .answer import INTROSPECTED, Judge, endpoint_fingerprint, read_answer
from .auth import PrivateKeyJWT, SecretBasic, SecretPost, client_auth, form_encode
from .cache import IntrospectionCache, token_key
from .endpoint import Endpoint, EndpointError, Reply
from .introspector import CALL_OUTCOMES, Introspector

__all__ = [
    "CALL_OUTCOMES",
    "INTROSPECTED",
    "Endpoint",
    "EndpointError",
    "IntrospectionCache",
    "Introspector",
    "Judge",
    "PrivateKeyJWT",
    "Reply",
    "SecretBasic",
    "SecretPost",
    "client_auth",
    "endpoint_fingerprint",
    "form_encode",
    "read_answer",
    "token_key",
]
