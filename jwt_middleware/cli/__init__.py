"""``jwt-middleware``: decode, diagnose, fingerprint, probe, doctor, revoke: the
middleware's own code.

One module per command, each with ``add_parser(subparsers)`` and ``run(args) -> int``:

- ``decode [TOKEN|-]`` (:mod:`.decode`): header and claims, unverified; never the
  signature.
- ``diagnose [TOKEN|-]`` (:mod:`.diagnose`): CONTRACT section 5; the same verifier
  and hints as the middleware. Exit 0 valid, 1 rejected, 2 usage error.
- ``fingerprint`` (:mod:`.fingerprint`): the fingerprint of every key of a source
  (RFC 7638; scrypt-derived for an HMAC secret), the value the middleware logs
  and exports.
- ``probe URL... --token T`` (:mod:`.probe`): send a known-good token to every
  instance; exit 1 if any rejects it.
- ``doctor`` (:mod:`.doctor`): one report of the runtime, examined by
  :mod:`.doctor_examine` and the ``doctor_*`` modules; exit 1 when it finds a
  problem.
- ``revoke --issuer ISS (--jti JTI --expires-at EPOCH | --sid SID | --sub SUB)``
  (:mod:`.revoke`): CONTRACT section 9; one entry in the revocation list every
  instance shares. Exit 0 stored, 1 not stored, 2 usage error.

What they share is in :mod:`.common` (exit codes, colour, usage errors, reading a
token, URLs without secrets, output), :mod:`.keyoptions` (the key-source options,
the settings and verifier they give), :mod:`.revocationoptions` (the revocation
list's options) and :mod:`.verdict` (a token's identity and
a rejection, printed). A new command is one module here and one entry in
:data:`COMMANDS`. A token is read from stdin when none is given (or ``-``), so it
stays out of shell history. The commands are documented in docs/cli.md.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from ..errors import ConfigurationError
from . import decode, diagnose, doctor, fingerprint, probe, revoke
from .common import EXIT_USAGE, UsageError, version_text
from .keyoptions import secret_from_environment

#: The commands, in the order ``--help`` lists them.
COMMANDS = (decode, diagnose, fingerprint, probe, doctor, revoke)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="jwt-middleware",
        description="Decode, diagnose and fingerprint JWTs with jwt_middleware's own verifier.",
    )
    parser.add_argument("--version", action="version", version=version_text())
    subparsers = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "secret_from_environment", False):  # set by key_options, not by doctor,
        secret_from_environment(args)  # which reads the environment as the middleware does
    try:
        result: int = args.func(args)
    except (UsageError, ConfigurationError) as exc:
        getattr(args, "usage_of", parser).print_usage(sys.stderr)
        print(f"jwt-middleware: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    return result


__all__ = ["build_parser", "main", "version_text"]
