"""``doctor``'s introspection section: the endpoint reachable, the credentials accepted.

With ``JWT_INTROSPECTION_URL`` set, one call to the endpoint with the middleware's
own client (its authentication, timeouts, size cap, no redirects) introspects a
dummy token made for the purpose. An RFC 7662 answer of ``active: false`` proves
both things at once: the endpoint is there, and it accepted this server's client
credentials (it answers 401 otherwise). Each is its own check, ``ok`` or
``problem``, with the hint the middleware would give (docs/cli.md, "doctor").
"""

from __future__ import annotations

import asyncio
import secrets
import time

from ..errors import ConfigurationError
from ..introspection import EndpointError, read_answer
from ..introspection.auth import client_auth
from ..introspection.endpoint import Endpoint
from ..keys import KeySet
from ..reasons import Reason
from ..settings import Settings
from .common import public_url
from .doctor_report import Report

#: The dummy token: long and random, so that no authorization server knows it.
DUMMY_PREFIX = "jwt-middleware-doctor-"


async def _introspect(settings: Settings, keys: KeySet | None) -> tuple[str, str, str, float]:
    """(endpoint status, credentials status, what was found, seconds)."""
    started = time.perf_counter()
    try:
        auth = client_auth(settings)
    except ConfigurationError as exc:
        return "problem", "problem", f"the client cannot authenticate: {exc}", 0.0
    assert settings.introspection_url is not None
    endpoint = Endpoint(
        settings.introspection_url,
        auth,
        connect_timeout=settings.introspection_connect_timeout,
        read_timeout=settings.introspection_read_timeout,
        deadline=settings.introspection_deadline,
        max_bytes=settings.introspection_max_bytes,
        signed=settings.introspection_signed_response,
    )
    try:
        reply = await endpoint.call(DUMMY_PREFIX + secrets.token_urlsafe(32))
        answer = read_answer(
            reply,
            keys=lambda: keys or KeySet(()),
            algorithms=frozenset(settings.allowed_algorithms),
            issuers=frozenset(settings.issuers),
            client_id=auth.client_id,
            signed=endpoint.signed,
        )
    except EndpointError as exc:
        seconds = time.perf_counter() - started
        said = f"{exc.reason.value} ({exc.cause}): {exc.detail}"
        if exc.hint:
            said += f" {exc.hint}"
        if exc.reason is Reason.introspection_client_rejected:
            return "ok", "problem", said, seconds
        return "problem", "unknown", said, seconds
    finally:
        await endpoint.aclose()
    seconds = time.perf_counter() - started
    if answer["active"] is not False:
        return "ok", "ok", "the endpoint says a random dummy token is active", seconds
    return "ok", "ok", f"client '{auth.client_id}' with {auth.method}", seconds


def check_introspection(report: Report, settings: Settings, keys: KeySet | None) -> None:
    """The endpoint and the credentials, from one call with a dummy token."""
    url = settings.introspection_url
    if url is None:
        return
    where = public_url(url)
    endpoint, credentials, said, seconds = asyncio.run(_introspect(settings, keys))
    ms = f"{seconds * 1000:.0f} ms"
    if endpoint == "ok":
        report.add("introspection", "endpoint", "ok", f"{where}: answered in {ms}")
    else:
        report.add("introspection", "endpoint", "problem", f"{where}: {said} (after {ms})")
    if credentials == "ok" and said.startswith("the endpoint says"):
        report.add(
            "introspection",
            "credentials",
            "problem",
            f"accepted, but {said}: its answers cannot be trusted to tell tokens apart",
        )
    elif credentials == "ok":
        report.add(
            "introspection",
            "credentials",
            "ok",
            f"accepted: {said} (a dummy token answered 'active': false)",
        )
    elif credentials == "problem":
        report.add("introspection", "credentials", "problem", f"refused: {said}")
    else:
        report.add(
            "introspection",
            "credentials",
            "warning",
            "not checked: the endpoint gave no usable answer (see above)",
        )
