"""The key-source options of ``diagnose`` and ``fingerprint`` (``--jwks-url``,
``--jwks-file``, ``--key-file``, ``--secret``, else ``JWT_SECRET``) and what they
give: the settings, a JWKS URL's keys fetched once, and the command line's
:class:`~jwt_middleware.tokens.verifier.Verifier` (docs/cli.md).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
from typing import Any, Final

from ..keys import KeySet
from ..keys.remote import RemoteKeySource
from ..settings import Settings
from ..sources import load_static_keys
from ..tokens.verifier import EMPTY_KEYSET, Verifier
from ..values.settingnames import Origin, SettingNames
from .common import UsageError, public_url, scrub_urls


def key_options(parser: argparse.ArgumentParser, *, many_pem: bool = False) -> None:
    """Add the key-source options; the secret is taken from ``JWT_SECRET`` when no
    source is given (:func:`secret_from_environment`, called by ``main``)."""
    parser.add_argument("--jwks-url", help="URL of a JWKS document")
    parser.add_argument("--jwks-file", help="a local JWKS file")
    if many_pem:
        parser.add_argument("--key-file", action="append", help="a PEM key (repeatable)")
    else:
        parser.add_argument("--key-file", help="a PEM public key or certificate")
    parser.add_argument("--secret", help="an HMAC secret (prefer JWT_SECRET in the environment)")
    parser.set_defaults(secret_from_environment=True)


def secret_from_environment(args: argparse.Namespace) -> None:
    """``--secret`` from ``JWT_SECRET`` when no key source is given: it keeps the
    secret out of argv and shell history."""
    if (
        args.secret is None
        and not (args.jwks_url or args.jwks_file or args.key_file)
        and os.environ.get("JWT_SECRET")
    ):
        args.secret = os.environ["JWT_SECRET"]
        args.secret_from_env = True


#: The setting each of ``diagnose``'s flags gives: how its hints name that setting.
DIAGNOSE_FLAGS: Final = {
    "jwks_url": "--jwks-url",
    "jwks_file": "--jwks-file",
    "public_key_file": "--key-file",
    "secret": "--secret",
    "issuer": "--issuer",
    "audience": "--audience",
    "algorithms": "--algorithms",
    "leeway": "--leeway",
    "token_types": "--token-types",
    "idp": "--idp",
    "idp_tenants": "--idp-tenants",
    "scope_claims": "--scope-claims",
}


def settings_from_args(args: argparse.Namespace) -> Settings:
    """The settings of ``diagnose``'s options (diagnostics always verbose); its hints
    name a setting by its flag (``JWT_SECRET`` when the secret came from there)."""
    given: dict[str, Origin] = {}
    if getattr(args, "secret_from_env", False):
        given["secret"] = "environment"  # noqa: S105 (where it came from, not a secret)
    values: dict[str, Any] = {
        "setting_names": SettingNames("flag", given, DIAGNOSE_FLAGS),
        "issuer": args.issuer,
        "audience": args.audience or (),
        "algorithms": args.algorithms or "RS256",
        "leeway": args.leeway,
        "diagnostics": "verbose",
        "token_types": args.token_types or (),
        "idp": args.idp,
        "idp_tenants": args.idp_tenants or (),
    }
    if getattr(args, "scope_claims", None):
        values["scope_claims"] = args.scope_claims
    if args.jwks_url:
        values.update(jwks_url=args.jwks_url, jwks_allow_http=True)
    if args.jwks_file:
        values["jwks_file"] = args.jwks_file
    if args.key_file:
        values["public_key_file"] = args.key_file
    if args.secret is not None:
        values["secret"] = args.secret
    return Settings(**values)


@dataclasses.dataclass(frozen=True)
class Unavailable:
    """A key source that could not be fetched: its URL and the error, both without
    credentials or query strings."""

    source: str
    error: str


class QuietLog:
    """The CLI prints its own findings; library log events are dropped."""

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


def fetch_remote(url: str) -> KeySet | Unavailable:
    """The keys of a JWKS URL, fetched once as the middleware fetches them."""

    async def fetch() -> KeySet | Unavailable:
        source = RemoteKeySource(jwks_url=url, allow_http=True, logger=QuietLog())
        try:
            if await source.refresh() and source.keyset is not None:
                return source.keyset
            error = scrub_urls(source.last_error or "no keys")
            return Unavailable(public_url(url), error)
        finally:
            await source.aclose()

    return asyncio.run(fetch())


def fetched_keys(url: str) -> KeySet:
    """The keys of ``url`` for commands that have nothing to judge without them."""
    keys = fetch_remote(url)
    if isinstance(keys, Unavailable):
        raise UsageError(f"cannot fetch keys from {keys.source}: {keys.error}")
    return keys


def build_cli_verifier(args: argparse.Namespace) -> tuple[Verifier, Unavailable | None]:
    """The verifier of ``diagnose``, and why its key source gave no keys (if it did not).

    A JWKS URL that cannot be fetched leaves the verifier with no key, as the
    middleware is while its source is down: the request, structure and header
    stages still judge the token, and the key stage says key_source_unavailable."""
    if not (args.jwks_url or args.jwks_file or args.key_file or args.secret is not None):
        raise UsageError("give a key source: --jwks-url, --jwks-file, --key-file or --secret")
    settings = settings_from_args(args)
    if args.jwks_url:
        keys = fetch_remote(args.jwks_url)
        static = dataclasses.replace(settings, jwks_url=None, external_keys=True)
        if isinstance(keys, Unavailable):
            return Verifier(static, EMPTY_KEYSET), keys
        return Verifier(static, keys), None
    return Verifier(settings, load_static_keys(settings).keyset), None
