"""``jwt-middleware``: decode, diagnose, fingerprint, probe, doctor — the middleware's own code.

- ``decode [TOKEN|-]``: header and claims, unverified; never the signature.
- ``diagnose [TOKEN|-]``: CONTRACT section 5; the same verifier and hints as
  the middleware. Exit 0 valid, 1 rejected, 2 usage error. A key source that
  cannot be fetched still gets the token judged by every stage that needs no
  key; a token that passes them is ``key_source_unavailable`` (exit 1).
- ``fingerprint``: the fingerprint of every key of a source (RFC 7638;
  scrypt-derived for an HMAC secret), the value the middleware logs and exports.
- ``probe URL... --token T``: send a known-good token to every instance;
  exit 1 if any rejects it.
- ``doctor``: one report of the runtime (:mod:`jwt_middleware.doctor`); exit 1
  when it finds a problem.

A token is read from stdin when none is given (or ``-``), so it stays out of
shell history.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import re
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, NoReturn, TextIO
from urllib.parse import urlsplit, urlunsplit

import httpx
from cryptography.hazmat.primitives import serialization

from . import idp, scopes
from .dpop import Proof, ProofPolicy, binding_failure, verify_proof
from .errors import ConfigurationError
from .extract import parse_authorization
from .keys import KeySet, VerificationKey, import_jwks, load_pem_public_key, secret_ring
from .outcome import Failure, VerifiedToken
from .reasons import REASONS, Reason
from .remote import RemoteKeySource
from .responses import problem_body
from .settings import Settings
from .sources import load_static_keys
from .structure import parse_compact
from .text import clip
from .tokentype import describe
from .uri import Target, parse_url
from .verifier import EMPTY_KEYSET, Verifier

EXIT_OK, EXIT_REJECTED, EXIT_USAGE = 0, 1, 2

#: The distribution this command comes from (the import package is jwt_middleware).
DISTRIBUTION = "asgi-jwt-bearer"


def version_text() -> str:
    """``jwt-middleware <version> (<distribution>)``, the version from the installed
    distribution's metadata (the package's own ``__version__`` when run uninstalled)."""
    try:
        version = metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        from . import __version__

        return f"jwt-middleware {__version__} ({DISTRIBUTION} not installed)"
    return f"jwt-middleware {version} ({DISTRIBUTION})"


class Style:
    """ANSI colour only when writing to a terminal (and NO_COLOR is unset)."""

    def __init__(self, stream: TextIO) -> None:
        self.on = stream.isatty() and "NO_COLOR" not in os.environ

    def _wrap(self, code: str, text: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.on else text

    def good(self, text: str) -> str:
        return self._wrap("32;1", text)

    def bad(self, text: str) -> str:
        return self._wrap("31;1", text)

    def dim(self, text: str) -> str:
        return self._wrap("2", text)

    def bold(self, text: str) -> str:
        return self._wrap("1", text)


class UsageError(Exception):
    """A problem with the options: printed with the usage, exit 2."""


# -- shared helpers -----------------------------------------------------------------


def read_token(value: str | None) -> str:
    if value is None or value == "-":
        if sys.stdin.isatty():
            raise UsageError("no token given: pass TOKEN, or pipe it on standard input")
        value = sys.stdin.read()
    value = value.strip()
    if not value:
        raise UsageError("the token is empty")
    return value


def _when(ts: Any, now: float) -> str:
    if isinstance(ts, bool) or not isinstance(ts, (int, float)):
        return f"{clip(ts, 40)} (not a NumericDate)"
    try:
        stamp = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return f"{ts} (out of range)"
    delta = ts - now
    span = _span(abs(delta))
    return f"{stamp} ({'in ' + span if delta >= 0 else span + ' ago'})"


def _span(seconds: float) -> str:
    s = int(seconds)
    if s >= 86400:
        return f"{s // 86400} d {(s % 86400) // 3600} h"
    if s >= 3600:
        return f"{s // 3600} h {(s % 3600) // 60} min"
    if s >= 60:
        return f"{s // 60} min {s % 60} s"
    return f"{s} s"


def _json_out(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=False, default=str))


# -- decode -------------------------------------------------------------------------


def cmd_decode(args: argparse.Namespace) -> int:
    raw = read_token(args.token)
    token = _strip_scheme(raw)
    if isinstance(token, Failure):
        return _print_failure(token, args.json, Style(sys.stdout), decoded=None)
    parsed = parse_compact(token)
    if isinstance(parsed, Failure):
        return _print_failure(parsed, args.json, Style(sys.stdout), decoded=None)
    now = time.time()
    times = {
        name: _when(parsed.claims[name], now)
        for name in ("iat", "nbf", "exp")
        if name in parsed.claims
    }
    identity = identify(parsed.header, parsed.claims)
    if args.json:
        _json_out(
            {
                "header": parsed.header,
                "claims": parsed.claims,
                "times": times,
                "signature_bytes": len(parsed.signature),
                **identity,
            }
        )
        return EXIT_OK
    style = Style(sys.stdout)
    print(style.bold("header"))
    print(_indent(json.dumps(parsed.header, indent=2)))
    print(style.bold("claims"))
    print(_indent(json.dumps(parsed.claims, indent=2)))
    if times:
        print(style.bold("times"))
        width = max(len(k) for k in times)
        for name, text in times.items():
            print(f"  {name.ljust(width)}  {text}")
    _print_identity(identity, style)
    print(style.dim(f"signature: {len(parsed.signature)} bytes (not shown, not verified)"))
    return EXIT_OK


def identify(
    header: dict[str, Any], claims: dict[str, Any], configured: str | None = None
) -> dict[str, Any]:
    """What a token is (its type), its provider (``configured``, else recognised from
    its own ``iss``) and the provider's quirks the token shows."""
    provider = configured or idp.recognise_str(claims.get("iss"))
    if provider is None and header.get("alg") == "dir":
        provider = idp.recognise_str(header.get("iss"))
    return {
        "token_type": describe(header, claims),
        "provider": idp.describe_provider(provider),
        "provider_notes": idp.token_notes(header, claims),
    }


def _print_identity(identity: dict[str, Any], style: Style) -> None:
    print(f"{style.bold('type')}      {identity['token_type']}")
    if identity["provider"]:
        print(f"{style.bold('provider')}  {identity['provider']}")
    for note in identity["provider_notes"]:
        print(f"  - {note}")


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


def _strip_scheme(raw: str) -> str | Failure:
    """Accept a bare token or a whole header value ('Bearer ...', 'Authorization: ...')."""
    value = raw
    header_line = value.lower().startswith("authorization:")
    if header_line:
        value = value.split(":", 1)[1].strip()
    first = value[:16].lower()
    if (
        header_line
        or first.startswith(("bearer", "basic ", "digest "))
        or " " in value
        or "\t" in value
    ):
        return parse_authorization(value, 1 << 20)
    if value[:1] in "\"'" or "%" in value:
        return parse_authorization("Bearer " + value, 1 << 20)
    return value


# -- diagnose -----------------------------------------------------------------------


def _settings(args: argparse.Namespace) -> Settings:
    values: dict[str, Any] = {
        "issuer": args.issuer,
        "audience": args.audience or (),
        "algorithms": args.algorithms or "RS256",
        "leeway": args.leeway,
        "diagnostics": "verbose",
        "token_types": args.token_types or (),
        "idp": args.idp,
        "idp_tenants": args.idp_tenants or (),
    }
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


_URL = re.compile(r"https?://[^\s'\"<>]+")


def public_url(url: str) -> str:
    """``url`` without what may be a secret: user info and the query string."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "(an unparsable URL)"
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port is None else f"{host}:{port}"
    if parts.username is not None or parts.password is not None:
        netloc = f"[credentials removed]@{netloc}"
    query = "?[query removed]" if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, "", "")) + query


def _fetch_remote(url: str) -> KeySet | Unavailable:
    async def fetch() -> KeySet | Unavailable:
        source = RemoteKeySource(jwks_url=url, allow_http=True, logger=_QuietLog())
        try:
            if await source.refresh() and source.keyset is not None:
                return source.keyset
            error = _URL.sub(lambda m: public_url(m.group(0)), source.last_error or "no keys")
            return Unavailable(public_url(url), error)
        finally:
            await source.aclose()

    return asyncio.run(fetch())


def _fetched_keys(url: str) -> KeySet:
    """The keys of ``url`` for commands that have nothing to judge without them."""
    keys = _fetch_remote(url)
    if isinstance(keys, Unavailable):
        raise UsageError(f"cannot fetch keys from {keys.source}: {keys.error}")
    return keys


class _QuietLog:
    """The CLI prints its own findings; library log events are dropped."""

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


def build_cli_verifier(args: argparse.Namespace) -> tuple[Verifier, Unavailable | None]:
    """The verifier of ``diagnose``, and why its key source gave no keys (if it did not).

    A JWKS URL that cannot be fetched leaves the verifier with no key, as the
    middleware is while its source is down: the request, structure and header
    stages still judge the token, and the key stage says key_source_unavailable."""
    if not (args.jwks_url or args.jwks_file or args.key_file or args.secret is not None):
        raise UsageError("give a key source: --jwks-url, --jwks-file, --key-file or --secret")
    settings = _settings(args)
    if args.jwks_url:
        keys = _fetch_remote(args.jwks_url)
        static = dataclasses.replace(settings, jwks_url=None, external_keys=True)
        if isinstance(keys, Unavailable):
            return Verifier(static, EMPTY_KEYSET), keys
        return Verifier(static, keys), None
    return Verifier(settings, load_static_keys(settings).keyset), None


def _unavailable(outcome: Failure, why: Unavailable) -> Failure:
    """The key stage's failure for a token that passed every stage needing no key."""
    return Failure(
        Reason.key_source_unavailable,
        f"The keys could not be fetched from {why.source} ({why.error}); the token "
        "passed every check that needs no key, its signature and claims are unchecked.",
        hint=f"Check that {why.source} is reachable from this machine and serves a JWKS "
        "document (HTTP 200, a JSON object with 'keys'), then run diagnose again to check "
        "the signature and claims.",
        expected={"key_source": why.source, "last_error": why.error},
        retry_after=outcome.retry_after,
        alg=outcome.alg,
        kid=outcome.kid,
        iss=outcome.iss,
        aud=outcome.aud,
        sub=outcome.sub,
    )


def _dpop_proof(
    args: argparse.Namespace, token: str, settings: Settings, target: Target
) -> Proof | Failure:
    """``--dpop PROOF --method M --url U``: the proof judged as the middleware judges it
    (no server nonce; the replay check needs the server's store)."""
    return verify_proof(
        args.dpop.strip(),
        method=args.method,
        target=target,
        access_token=token,
        now=time.time(),
        policy=ProofPolicy.from_settings(settings),
    )


def cmd_diagnose(args: argparse.Namespace) -> int:
    if args.dpop is None and (args.url is not None or args.method is not None):
        raise UsageError("--method and --url go with --dpop PROOF")
    target: Target | str = ""
    if args.dpop is not None:
        if args.url is None:
            raise UsageError("--dpop needs --url: the URL the request is sent to")
        args.method = (args.method or "GET").upper()
        target = parse_url(args.url, dot_segments="refuse")
        if isinstance(target, str):
            raise UsageError(f"--url {clip(args.url, 80)!r} is not a request URL: {target}")
    raw = read_token(args.token)
    verifier, unavailable = build_cli_verifier(args)
    token = _strip_scheme(raw)
    if args.dpop is not None and raw.lstrip()[:5].lower() in ("dpop ", "dpop\t"):
        token = parse_authorization(raw.strip(), 1 << 20, scheme="DPoP")
    outcome: VerifiedToken | Failure
    proof: Proof | Failure | None = None
    if not isinstance(token, Failure) and not isinstance(target, str):
        proof = _dpop_proof(args, token, verifier.settings, target)
    if isinstance(proof, Failure):
        outcome = proof
    else:
        outcome = token if isinstance(token, Failure) else verifier.verify(token)
    if isinstance(outcome, VerifiedToken) and isinstance(proof, Proof):
        outcome = binding_failure(outcome, proof) or outcome
    if (
        unavailable is not None
        and isinstance(outcome, Failure)
        and outcome.reason is Reason.key_source_unavailable
    ):
        outcome = _unavailable(outcome, unavailable)
    if isinstance(outcome, VerifiedToken):
        outcome = scopes.decide(outcome, args.require_scope)
    style = Style(sys.stdout)
    parsed = parse_compact(token) if not isinstance(token, Failure) else None
    identity = (
        identify(parsed.header, parsed.claims, verifier.idp_rules.provider)
        if parsed is not None and not isinstance(parsed, Failure)
        else None
    )
    if isinstance(outcome, Failure):
        return _print_failure(outcome, args.json, style, decoded=None, identity=identity)
    if args.json:
        _json_out(
            {
                "valid": True,
                "reason": None,
                "problems": [],
                **(identity or {}),
                "alg": outcome.alg,
                "kid": outcome.kid,
                "key_fingerprint": outcome.key_fingerprint,
                "scopes": sorted(outcome.scopes),
                "claims": outcome.claims,
            }
        )
        return EXIT_OK
    print(f"{style.good('VALID')}  {outcome.alg}, kid {outcome.kid or '(none)'}")
    if identity is not None:
        _print_identity(identity, style)
    rows = [
        ("key", outcome.key_fingerprint),
        ("subject", outcome.subject or "(none)"),
        ("scopes", " ".join(sorted(outcome.scopes)) or "(none)"),
        ("expires", _when(outcome.expires_at, time.time()) if outcome.expires_at else "never"),
    ]
    for name, value in rows:
        print(f"  {name.ljust(8)} {value}")
    return EXIT_OK


def _print_failure(
    failure: Failure,
    as_json: bool,
    style: Style,
    decoded: dict[str, Any] | None,
    identity: dict[str, Any] | None = None,
) -> int:
    body = problem_body(failure, "verbose")
    info = REASONS[failure.reason]
    if as_json:
        _json_out({"valid": False, **body, **(identity or {})})
        return EXIT_REJECTED
    error = f", {info.error}" if info.error else ""
    print(f"{style.bad('REJECTED')}  {style.bold(failure.reason.value)} ({info.status}{error})")
    print(f"  {info.title}")
    print(f"  {style.bold('detail')}  {body['detail']}")
    print(f"  {style.bold('hint')}    {body['hint']}")
    if len(failure.problems) > 1:
        print(f"  {style.bold('problems')}")
        for problem in failure.problems:
            print(f"    - {problem.reason.value}: {problem.detail}")
    expected = body.get("expected")
    if expected:
        print(f"  {style.bold('expected')}")
        for name, value in expected.items():
            print(f"    {name}: {json.dumps(value, default=str)}")
    if identity is not None:
        _print_identity(identity, style)
    return EXIT_REJECTED


# -- fingerprint --------------------------------------------------------------------


def _keys_for_fingerprint(args: argparse.Namespace) -> list[VerificationKey]:
    keys: list[VerificationKey] = []
    if args.jwks_url:
        keys.extend(_fetched_keys(args.jwks_url).keys)
    if args.jwks_file:
        try:
            document = json.loads(Path(args.jwks_file).read_text())
        except (OSError, ValueError) as exc:
            raise UsageError(f"--jwks-file {args.jwks_file}: {exc}") from None
        loaded, skipped = import_jwks(document, source=f"jwks-file:{args.jwks_file}")
        keys.extend(loaded)
        for s in skipped:
            print(f"skipped {s.kid or '(no kid)'}: {s.why}", file=sys.stderr)
    for path in args.key_file or ():
        keys.append(_pem_key(path))
    if args.secret is not None:
        keys.append(secret_ring([args.secret], source="secret"))
    if not keys and not (args.jwks_url or args.jwks_file or args.key_file or args.secret):
        raise UsageError("give --jwks-url, --jwks-file, --key-file or --secret")
    return keys


def _pem_key(path: str) -> VerificationKey:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"--key-file {path}: {exc.strerror}") from None
    if b"PRIVATE KEY" in data:
        try:
            private: Any = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as exc:
            raise UsageError(f"--key-file {path}: cannot read the private key ({exc})") from None
        data = private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    key, _repaired = load_pem_public_key(data, source=f"pem:{path}")
    return key


def cmd_fingerprint(args: argparse.Namespace) -> int:
    keys = _keys_for_fingerprint(args)
    rows = [
        {
            "kid": k.kid,
            "kty": k.kty,
            "alg": k.declared_alg,
            "fingerprint": k.fingerprint,
            "source": k.source,
            "description": k.description,
        }
        for k in keys
    ]
    if args.json:
        _json_out(rows)
        return EXIT_OK
    table = [(k.kid or "-", k.description, k.fingerprint) for k in keys]
    kid_w = max([3, *(len(kid) for kid, _, _ in table)])
    key_w = max([3, *(len(desc) for _, desc, _ in table)])
    print(f"{'kid'.ljust(kid_w)}  {'key'.ljust(key_w)}  fingerprint")
    for kid, desc, fp in table:
        print(f"{kid.ljust(kid_w)}  {desc.ljust(key_w)}  {fp}")
    return EXIT_OK


# -- probe --------------------------------------------------------------------------


async def _probe_one(client: httpx.AsyncClient, url: str, token: str) -> dict[str, Any]:
    try:
        response = await client.get(url, headers={"Authorization": f"Bearer {token}"})
    except httpx.HTTPError as exc:
        return {"url": url, "ok": False, "status": None, "reason": "unreachable",
                "hint": f"{type(exc).__name__}: {exc}"}  # fmt: skip
    result: dict[str, Any] = {"url": url, "status": response.status_code}
    result["ok"] = 200 <= response.status_code < 300
    if not result["ok"]:
        try:
            body = response.json()
        except ValueError:
            body = {}
        result["reason"] = body.get("reason") if isinstance(body, dict) else None
        result["hint"] = body.get("hint") if isinstance(body, dict) else None
        result["detail"] = body.get("detail") if isinstance(body, dict) else None
    return result


def cmd_probe(args: argparse.Namespace) -> int:
    token = _strip_scheme(read_token(args.token))
    if isinstance(token, Failure):
        raise UsageError(f"the token itself is malformed: {token.reason.value}: {token.detail}")

    async def run() -> list[dict[str, Any]]:
        async with httpx.AsyncClient(timeout=args.timeout) as client:
            return list(await asyncio.gather(*(_probe_one(client, u, token) for u in args.urls)))

    results = asyncio.run(run())
    failed = [r for r in results if not r["ok"]]
    if args.json:
        _json_out({"ok": not failed, "results": results})
        return EXIT_REJECTED if failed else EXIT_OK
    style = Style(sys.stdout)
    width = max(len(r["url"]) for r in results)
    for r in results:
        mark = style.good("ok  ") if r["ok"] else style.bad("FAIL")
        status = str(r["status"]) if r["status"] is not None else "---"
        line = f"{mark} {r['url'].ljust(width)}  {status}"
        if not r["ok"]:
            line += f"  {r.get('reason') or '(no reason)'}"
        print(line)
        if not r["ok"] and r.get("hint"):
            print(f"     {style.dim(str(r['hint']))}")
    print(f"{len(results) - len(failed)}/{len(results)} instances accept the token")
    return EXIT_REJECTED if failed else EXIT_OK


# -- doctor -------------------------------------------------------------------------

#: Settings shown in the human report even at their defaults (--json shows every one).
_DOCTOR_ALWAYS = ("issuer", "audience", "algorithms", "leeway", "required_claims")
_MARKS = {"ok": "ok", "warning": "WARN", "problem": "PROBLEM"}


def cmd_doctor(args: argparse.Namespace) -> int:
    from . import doctor

    flags = {
        "jwks_url": args.jwks_url,
        "discovery_url": args.discovery_url,
        "jwks_file": args.jwks_file,
        "public_key_file": args.key_file,
        "secret": args.secret,
        "issuer": args.issuer,
        "audience": args.audience,
        "algorithms": args.algorithms,
        "leeway": args.leeway,
    }
    report = doctor.examine(flags, os.environ)
    if args.json:
        _json_out(report.as_dict())
        return report.exit_code
    _print_doctor(report, Style(sys.stdout))
    return report.exit_code


def _mark(status: str, style: Style) -> str:
    text = _MARKS.get(status, status).ljust(7)
    if status == "ok":
        return style.good(text)
    return style.bad(text) if status == "problem" else style.bold(text)


def _table(rows: Sequence[Sequence[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        indent + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def _print_doctor(report: Any, style: Style) -> None:
    problems, warnings = report.count("problem"), report.count("warning")
    verdict = style.good("no problem found") if report.ok else style.bad(f"{problems} problem(s)")
    print(f"jwt-middleware doctor: {verdict}, {warnings} warning(s)")
    lib_names = {lib["name"] for lib in report.libraries}

    def checks(section: str, skip: set[str] | frozenset[str] = frozenset()) -> None:
        found = [c for c in report.checks if c.section == section]
        for check in found:
            if check.name not in skip:
                print(f"  {_mark(check.status, style)}  {check.message}")
        if not found and section in ("reachability", "clock", "keys"):
            print(style.dim("  (not examined: the configuration is not valid)"))

    print(style.bold("\nversions"))
    for line in _table([(k, v or "unknown") for k, v in report.versions.items()]):
        print(line)
    checks("versions", {"asgi-jwt-bearer"})

    print(style.bold("\nJWT/JOSE libraries"))
    for lib in report.libraries:
        worst = next(
            (c.status for c in report.checks if c.section == "libraries" and c.name == lib["name"]),
            "ok",
        )
        imports = f" (import {', '.join(lib['imports'])})" if lib["imports"] else ""
        print(f"  {_mark(worst, style)}  {lib['distribution']} {lib['version']}{imports}")
        for pitfall in lib["pitfalls"]:
            print(f"           {pitfall['severity']}: {pitfall['text']}")
            print(f"           {style.dim(pitfall['source'])}")
    checks("libraries", lib_names)

    print(style.bold("\nconfiguration"))
    shown = [
        row
        for row in report.configuration
        if "value" in row and (row["origin"] != "default" or row["setting"] in _DOCTOR_ALWAYS)
    ]
    if shown:
        rows: list[tuple[str, ...]] = [("setting", "value", "from")]
        for row in shown:
            value = row["value"]
            if value is None or value == []:
                text = "(not set)"
            elif isinstance(value, list) and all(isinstance(v, str) for v in value):
                text = ", ".join(value)
            else:
                text = value if isinstance(value, str) else json.dumps(value)
            rows.append((row["setting"], text, row["origin"]))
        for line in _table(rows):
            print(line)
        rest = len(report.configuration) - len(shown)
        print(style.dim(f"  ({rest} other settings at their defaults; --json lists all)"))
    checks("configuration")

    print(style.bold("\nreachability"))
    checks("reachability")
    print(style.bold("\nclock"))
    checks("clock")

    print(style.bold("\nkeys"))
    if report.keys:
        key_rows: list[tuple[str, ...]] = [("kid", "key", "algorithms", "fingerprint", "source")]
        for key in report.keys:
            key_rows.append(
                (
                    key["kid"] or "-",
                    key["description"],
                    ",".join(key["algorithms"]),
                    key["fingerprint"],
                    key["source"],
                )
            )
        for line in _table(key_rows):
            print(line)
    checks("keys")


# -- argument parsing -----------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _key_options(parser: argparse.ArgumentParser, *, many_pem: bool = False) -> None:
    parser.add_argument("--jwks-url", help="URL of a JWKS document")
    parser.add_argument("--jwks-file", help="a local JWKS file")
    if many_pem:
        parser.add_argument("--key-file", action="append", help="a PEM key (repeatable)")
    else:
        parser.add_argument("--key-file", help="a PEM public key or certificate")
    parser.add_argument("--secret", help="an HMAC secret (prefer JWT_SECRET in the environment)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="jwt-middleware",
        description="Decode, diagnose and fingerprint JWTs with jwt_middleware's own verifier.",
    )
    parser.add_argument("--version", action="version", version=version_text())
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    decode = sub.add_parser("decode", help="show header and claims, unverified")
    decode.add_argument("token", nargs="?", help="the token, or - / nothing for stdin")
    decode.add_argument("--json", action="store_true")
    decode.set_defaults(func=cmd_decode, usage_of=decode)

    diagnose = sub.add_parser("diagnose", help="verify like the middleware and say why")
    diagnose.add_argument("token", nargs="?", help="the token, or - / nothing for stdin")
    _key_options(diagnose)
    diagnose.add_argument("--issuer", help="expected iss")
    diagnose.add_argument("--audience", help="expected audience(s), comma-separated")
    diagnose.add_argument("--algorithms", help="allowed algorithms, comma-separated (RS256)")
    diagnose.add_argument("--leeway", type=float, default=30.0, help="seconds (30)")
    diagnose.add_argument(
        "--token-types", help="accepted header typ values, comma-separated (e.g. at+jwt)"
    )
    diagnose.add_argument(
        "--idp", default="auto", help="identity-provider rules: auto (default), none, or a name"
    )
    diagnose.add_argument("--idp-tenants", help="Entra ID tenants for a {tenantid} issuer")
    diagnose.add_argument("--require-scope", action="append", default=[], metavar="SCOPE")
    diagnose.add_argument(
        "--dpop", metavar="PROOF", help="a DPoP proof sent with the token (RFC 9449)"
    )
    diagnose.add_argument("--method", help="with --dpop: the request's method (GET)")
    diagnose.add_argument("--url", help="with --dpop: the URL the request is sent to")
    diagnose.add_argument("--json", action="store_true")
    diagnose.set_defaults(func=cmd_diagnose, usage_of=diagnose)

    fingerprint = sub.add_parser(
        "fingerprint", help="fingerprints of keys (RFC 7638; scrypt-derived for HMAC secrets)"
    )
    _key_options(fingerprint, many_pem=True)
    fingerprint.add_argument("--json", action="store_true")
    fingerprint.set_defaults(func=cmd_fingerprint, usage_of=fingerprint)

    probe = sub.add_parser("probe", help="send a known-good token to each instance")
    probe.add_argument("urls", nargs="+", metavar="URL")
    probe.add_argument("--token", help="the token (default: stdin)")
    probe.add_argument("--timeout", type=float, default=5.0, help="seconds per request (5)")
    probe.add_argument("--json", action="store_true")
    probe.set_defaults(func=cmd_probe, usage_of=probe)

    doctor = sub.add_parser(
        "doctor",
        help="report the runtime: versions, other JWT libraries, configuration, keys, clock",
    )
    doctor.add_argument("--jwks-url", help="URL of a JWKS document (else JWT_JWKS_URL)")
    doctor.add_argument("--discovery-url", help="OpenID discovery URL (else JWT_DISCOVERY_URL)")
    doctor.add_argument("--jwks-file", help="a local JWKS file (else JWT_JWKS_FILE)")
    doctor.add_argument("--key-file", help="a PEM public key (else JWT_PUBLIC_KEY_FILE)")
    doctor.add_argument("--secret", help="an HMAC secret (prefer JWT_SECRET in the environment)")
    doctor.add_argument("--issuer", help="expected iss (else JWT_ISSUER)")
    doctor.add_argument("--audience", help="expected audience(s), comma-separated")
    doctor.add_argument("--algorithms", help="allowed algorithms, comma-separated")
    doctor.add_argument("--leeway", type=float, help="clock-skew leeway in seconds")
    doctor.add_argument("--json", action="store_true")
    doctor.set_defaults(func=cmd_doctor, usage_of=doctor)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if (
        hasattr(args, "secret")
        and args.command != "doctor"  # doctor reads the environment as the middleware does
        and args.secret is None
        and not (args.jwks_url or args.jwks_file or args.key_file)
        and os.environ.get("JWT_SECRET")
    ):
        args.secret = os.environ["JWT_SECRET"]  # keeps the secret out of argv and history
    try:
        result: int = args.func(args)
    except (UsageError, ConfigurationError) as exc:
        getattr(args, "usage_of", parser).print_usage(sys.stderr)
        print(f"jwt-middleware: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    return result


__all__ = ["build_parser", "main"]
