"""The revocation list's options of ``revoke`` and ``diagnose`` and the list they give.

``--redis-url`` (else ``JWT_REVOCATION_REDIS_URL``: a password stays out of argv
and shell history), ``--prefix``, ``--max-token-lifetime`` (else
``JWT_REVOCATION_MAX_TOKEN_LIFETIME``), the leeway (``JWT_LEEWAY``) and a
``--timeout`` of its own: an operator waits longer than a request does.
"""

from __future__ import annotations

import argparse
import os
from typing import Final

from ..errors import ConfigurationError
from ..revocation.store import DEFAULT_MAX_TOKEN_LIFETIME, DEFAULT_PREFIX, RevocationList
from ..values.revocationconfig import MAX_LIFETIME
from ..values.settingsenv import env_values
from .common import UsageError

URL_VARIABLE: Final = "JWT_REVOCATION_REDIS_URL"
#: The CLI's bound on one round trip to the list (seconds).
DEFAULT_TIMEOUT: Final = 2.0


def revocation_options(parser: argparse.ArgumentParser, *, check_flag: bool) -> None:
    """Add the list's options; with ``check_flag``, ``--check-revocation`` reads the list
    of ``JWT_REVOCATION_REDIS_URL`` (or ``--redis-url``, which implies it); without it,
    the list is not read at all."""
    parser.add_argument(
        "--redis-url",
        help=f"the revocation list's Redis (default {URL_VARIABLE}; prefer the environment: "
        "a password in argv is visible to other users)",
    )
    if check_flag:
        parser.add_argument(
            "--check-revocation",
            action="store_true",
            help=f"judge the token against the revocation list too ({URL_VARIABLE})",
        )
    parser.add_argument(
        "--prefix", default=DEFAULT_PREFIX, help=f"the list's key prefix ({DEFAULT_PREFIX})"
    )
    parser.add_argument(
        "--max-token-lifetime",
        type=float,
        help="the longest token lifetime, seconds (JWT_REVOCATION_MAX_TOKEN_LIFETIME, "
        f"else {DEFAULT_MAX_TOKEN_LIFETIME:g})",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help=f"seconds for Redis to answer ({DEFAULT_TIMEOUT:g})",
    )


def revocation_list(args: argparse.Namespace) -> RevocationList:
    """The list the options (and the environment) name; a UsageError for what cannot
    work. ``leeway`` is the command's ``--leeway`` if it has one, else ``JWT_LEEWAY``."""
    from_env = _environment()
    url = args.redis_url or os.environ.get(URL_VARIABLE, "").strip()
    if not url:
        raise UsageError(f"no revocation list: give --redis-url or set {URL_VARIABLE}")
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise UsageError("--redis-url: expected a redis://, rediss:// or unix:// URL")
    lifetime = args.max_token_lifetime
    if lifetime is None:
        lifetime = from_env.get("revocation_max_token_lifetime", DEFAULT_MAX_TOKEN_LIFETIME)
    if not 1 <= lifetime <= MAX_LIFETIME:
        raise UsageError("--max-token-lifetime: between 1 s and 366 days")
    leeway = getattr(args, "leeway", None)
    if leeway is None:
        leeway = from_env.get("leeway", 30.0)
    if not 0 <= leeway <= 3600:
        raise UsageError("the leeway: between 0 and 3600 s (--leeway, JWT_LEEWAY)")
    if not 0 < args.timeout <= 60:
        raise UsageError("--timeout: between 0 and 60 s")
    try:
        return RevocationList(
            url,
            prefix=args.prefix,
            timeout=args.timeout,
            max_token_lifetime=lifetime,
            leeway=leeway,
        )
    except ValueError as exc:  # redis-py refused the URL; the message never repeats it
        raise UsageError(f"--redis-url: not a Redis URL redis-py accepts ({exc})") from None


def _environment() -> dict[str, float]:
    """``JWT_REVOCATION_MAX_TOKEN_LIFETIME`` and ``JWT_LEEWAY``, read as the settings
    read them (a bad value is a usage error naming the variable)."""
    names = ("JWT_REVOCATION_MAX_TOKEN_LIFETIME", "JWT_LEEWAY")
    try:
        values = env_values({name: os.environ[name] for name in names if name in os.environ})
    except ConfigurationError as exc:
        raise UsageError(str(exc)) from None
    return {name: float(value) for name, value in values.items()}
