"""``jwt-middleware diagnose [TOKEN|-]``: verify a token as the middleware would,
and say why it is refused (CONTRACT section 5, docs/cli.md).

The same :class:`~jwt_middleware.tokens.verifier.Verifier`, reasons and hints as the
middleware, with the key source, issuer, audience, algorithms, leeway, token
types, identity-provider rules and required scopes given as options. Exit 0
valid, 1 rejected, 2 usage error. A key source that cannot be fetched still gets
the token judged by every stage that needs no key; a token that passes them is
``key_source_unavailable`` (exit 1). With ``--dpop PROOF --url U [--method M]``
the DPoP proof is judged too, as the middleware judges it (no server nonce, no
replay store). With ``--check-revocation`` (the list of ``JWT_REVOCATION_REDIS_URL``)
or ``--redis-url URL``, a token that passes is judged against the revocation list
too: token_revoked says which kind and since when.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

from ..dpop.proof import Proof, ProofPolicy, binding_failure, verify_proof
from ..errors import ConfigurationError
from ..outcome import Failure, VerifiedToken
from ..reasons import Reason
from ..request.extract import parse_authorization
from ..revocation import RevocationStoreError, Verdict
from ..settings import Settings
from ..tokens import claimrules, scopes
from ..tokens.structure import parse_compact
from ..values.text import clip, utc
from ..values.uri import Target, parse_url
from .common import EXIT_OK, Style, Subparsers, UsageError, json_out, read_token, strip_scheme, when
from .keyoptions import Unavailable, build_cli_verifier, key_options
from .revocationoptions import revocation_list, revocation_options
from .verdict import identify, print_failure, print_identity


def add_parser(subparsers: Subparsers) -> None:
    diagnose = subparsers.add_parser("diagnose", help="verify like the middleware and say why")
    diagnose.add_argument("token", nargs="?", help="the token, or - / nothing for stdin")
    key_options(diagnose)
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
    diagnose.add_argument(
        "--scope-claims", help="claims read as scopes, comma-separated (scope,scp)"
    )
    diagnose.add_argument("--require-scope", action="append", default=[], metavar="SCOPE")
    diagnose.add_argument(
        "--require-claim",
        action="append",
        default=[],
        metavar="CLAIM=VALUE",
        help="a claim value the token must carry (repeatable; one claim repeated: any value)",
    )
    diagnose.add_argument(
        "--dpop", metavar="PROOF", help="a DPoP proof sent with the token (RFC 9449)"
    )
    diagnose.add_argument("--method", help="with --dpop: the request's method (GET)")
    diagnose.add_argument("--url", help="with --dpop: the URL the request is sent to")
    revocation_options(diagnose, check_flag=True)
    diagnose.add_argument("--json", action="store_true")
    diagnose.set_defaults(func=run, usage_of=diagnose)


def _claim_rules(given: list[str]) -> tuple[claimrules.ClaimRule, ...]:
    """``--require-claim CLAIM=VALUE`` options as claim rules (a claim given again
    accepts each of its values); a malformed one is a usage error."""
    accepted: dict[str, list[str]] = {}
    for option in given:
        name, sep, value = option.partition("=")
        if not sep or not name:
            raise UsageError(f"--require-claim {clip(option, 80)!r}: expected CLAIM=VALUE")
        accepted.setdefault(name, []).append(value)
    try:
        return claimrules.claim_rules(accepted, what="--require-claim") if accepted else ()
    except ConfigurationError as exc:
        raise UsageError(str(exc)) from None


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


def _revocation(
    args: argparse.Namespace, verified: VerifiedToken
) -> tuple[VerifiedToken | Failure, str]:
    """``--check-revocation``: the token judged against the revocation list, as the
    middleware's status stage judges it (token_revoked, with the kind and since when), and what the
    list said: ``no`` or ``nothing to look up`` (no jti, sid or sub)."""
    listing = revocation_list(args)
    if not listing.keys_of(verified.claims)[1]:
        return verified, "nothing to look up (no jti, sid or sub)"

    async def ask() -> Verdict | None:
        try:
            return await listing.verdict(verified.claims)
        finally:
            await listing.aclose()

    try:
        verdict = asyncio.run(ask())
    except RevocationStoreError as exc:
        failure = Failure(
            Reason.revocation_unavailable,
            f"The revocation list could not be read: {exc}.",
            hint="Check that the Redis of --redis-url (or JWT_REVOCATION_REDIS_URL) is "
            "reachable from this machine, then run diagnose again.",
            expected={"revocation_store": listing.label},
        )
        return failure, "unavailable"
    if verdict is None:
        return verified, "no (the revocation list was read)"
    failure = Failure(
        Reason.token_revoked,
        verdict.detail(),
        expected={"revoked": verdict.kind, "revoked_at": utc(verdict.revoked_at)},
        alg=verified.alg,
        kid=verified.kid,
    )
    return failure, "yes"


def run(args: argparse.Namespace) -> int:
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
    rules = _claim_rules(args.require_claim)
    raw = read_token(args.token)
    verifier, unavailable = build_cli_verifier(args)
    token = strip_scheme(raw)
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
    revocation = "not checked"
    check_revocation = args.check_revocation or args.redis_url is not None
    if check_revocation and isinstance(outcome, VerifiedToken):
        outcome, revocation = _revocation(args, outcome)
    if isinstance(outcome, VerifiedToken):
        outcome = scopes.decide(outcome, args.require_scope)
    if isinstance(outcome, VerifiedToken) and rules:
        outcome = claimrules.decide(outcome, rules, where="--require-claim")
    style = Style(sys.stdout)
    parsed = parse_compact(token) if not isinstance(token, Failure) else None
    identity = (
        identify(parsed.header, parsed.claims, verifier.idp_rules.provider)
        if parsed is not None and not isinstance(parsed, Failure)
        else None
    )
    if isinstance(outcome, Failure):
        names = verifier.settings.setting_names
        return print_failure(outcome, args.json, style, identity=identity, names=names)
    if args.json:
        json_out(
            {
                "valid": True,
                "reason": None,
                "problems": [],
                **(identity or {}),
                "alg": outcome.alg,
                "kid": outcome.kid,
                "key_fingerprint": outcome.key_fingerprint,
                "scopes": sorted(outcome.scopes),
                "revocation": revocation,
                "claims": outcome.claims,
            }
        )
        return EXIT_OK
    # The token's own values are the token author's: clipped and printable on a terminal.
    kid = clip(outcome.kid, 64) if outcome.kid is not None else "(none)"
    print(f"{style.good('VALID')}  {clip(outcome.alg, 16)}, kid {kid}")
    if identity is not None:
        print_identity(identity, style, indent="  ", width=9)  # as the rows below
    rows = [
        ("key", outcome.key_fingerprint),
        ("subject", clip(outcome.subject, 128) if outcome.subject else "(none)"),
        ("scopes", clip(" ".join(sorted(outcome.scopes)), 400) or "(none)"),
        ("expires", when(outcome.expires_at, time.time()) if outcome.expires_at else "never"),
    ]
    if check_revocation:
        rows.append(("revoked", revocation))
    for name, value in rows:
        print(f"  {name.ljust(8)} {value}")
    return EXIT_OK
