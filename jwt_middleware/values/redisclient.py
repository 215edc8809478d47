"""A redis-py client for a store shared by a fleet: bounded round trips, no retries.

The DPoP ``jti`` replay store (:mod:`jwt_middleware.dpop.replay`) and the
revocation list (:mod:`jwt_middleware.revocation`) talk to Redis the same way:

- redis-py's asyncio client, imported only when a store is made (the
  ``dpop-redis`` extra; the core package never imports it), with the socket
  and connect timeouts set to the store's bound, no retries and no health
  checks: one command is one round trip, or an error;
- one client per event loop, made at the first call from that loop and kept:
  a request never pays for a client or a connection of its own (the client's
  pool keeps its connections open between requests);
- an error described in one short line, never the URL (it may hold a password).

:class:`RedisConnection` is that client holder; :func:`describe` the line.
"""

from __future__ import annotations

import asyncio
from typing import Any


def require_redis(variable: str) -> None:
    """Raise ImportError naming the extra to install unless redis-py is importable."""
    try:
        import redis.asyncio  # noqa: F401  (only checked here)
    except ImportError as exc:
        raise ImportError(
            f"{variable} needs redis-py, the 'dpop-redis' extra of asgi-jwt-bearer: "
            "pip install 'asgi-jwt-bearer[dpop-redis]'"
        ) from exc


class RedisConnection:
    """One redis-py asyncio client per event loop for ``url``, each round trip bounded
    by ``timeout`` (connecting included) and never retried.

    A URL redis-py cannot read raises ValueError here, at construction (startup).
    """

    __slots__ = ("_loop", "_redis", "timeout", "url")

    def __init__(self, url: str, *, timeout: float, variable: str) -> None:
        require_redis(variable)
        if not timeout > 0:
            raise ValueError("timeout: must be positive")
        self.url = url
        self.timeout = timeout
        self._redis: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.make()  # a bad URL fails here, at startup

    def make(self) -> Any:
        """A new client (not kept: :meth:`client` keeps the one of the running loop)."""
        from redis.asyncio import Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        return Redis.from_url(
            self.url,
            socket_timeout=self.timeout,
            socket_connect_timeout=self.timeout,
            retry=Retry(NoBackoff(), 0),
            health_check_interval=0,
        )

    def client(self) -> Any:
        """The running loop's client, made on its first call from that loop."""
        loop = asyncio.get_running_loop()
        if self._redis is None or self._loop is not loop:
            self._redis = self.make()
            self._loop = loop
        return self._redis

    async def aclose(self) -> str | None:
        """Close the client; None, or what went wrong closing it (never raised)."""
        client, self._redis, self._loop = self._redis, None, None
        if client is not None:
            try:
                await client.aclose()
            except Exception as exc:  # closing a broken connection must not fail shutdown
                return describe(exc, self.timeout)
        return None


def describe(exc: BaseException, timeout: float) -> str:
    """A Redis error in one short line: a timeout as such, else its type and first line."""
    if isinstance(exc, TimeoutError) or type(exc).__name__ == "TimeoutError":  # redis-py's own
        return f"no answer from Redis within {timeout:g} s"
    text = str(exc).splitlines()[0][:200] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
