"""Claims stage: ClaimsPolicy.problems and ClaimsPolicy.failure.

The invariants, on generated claim sets and times around the leeway edges:
``problems(claims, now)`` is None exactly when an independent reading of the
contract's claim rules (``expected_reasons`` here) finds no problem, and
otherwise lists the reasons it finds; ``failure()`` of the same policy lists
every problem in the contract's order, the primary one first. The policies are
four claim configurations: the usual (issuer, audience, exp required, 30 s
leeway), ``hs`` (the same), ``lenient`` (nothing expected or required, no
leeway) and ``strict`` (two issuers, two audiences, five required claims, 5 s).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest
from helpers.cases import CLAIM_ORDER
from helpers.keys import AUDIENCE, ISSUER
from helpers.strategies import (
    EDGES,
    LEEWAY,
    MAX_UNIX_TIME,
    NOW,
    any_claims,
    audience_values,
    issuer_values,
    json_values,
    string_claim,
    time_values,
    valid_claims,
)
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from jwt_middleware import Reason, Settings, Verifier, load_static_keys
from jwt_middleware.keys import VerificationKey
from jwt_middleware.keys.clock import ClockSample
from jwt_middleware.outcome import Problem
from jwt_middleware.tokens.claims import ClaimsPolicy
from jwt_middleware.values.settingnames import BY_ENVIRONMENT

PROPS = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
CHEAP_PROPS = settings(PROPS, max_examples=1000)
OTHER_ISSUER = "https://login.example.org/tenant/"
SECRET = "claims-secret-0123456789-abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class Config:
    issuers: tuple[str, ...]
    audiences: tuple[str, ...]
    required: tuple[str, ...]
    leeway: float

    def policy(self) -> ClaimsPolicy:
        return ClaimsPolicy(
            issuers=self.issuers,
            audiences=self.audiences,
            required=self.required,
            leeway=self.leeway,
        )


CONFIGS = {
    "multi": Config((ISSUER,), (AUDIENCE,), ("exp",), LEEWAY),
    "hs": Config((ISSUER,), (AUDIENCE,), ("exp",), LEEWAY),
    "lenient": Config((), (), (), 0),
    "strict": Config(
        (ISSUER, OTHER_ISSUER), (AUDIENCE, "billing-api"), ("exp", "nbf", "iat", "sub", "jti"), 5
    ),
}
POLICIES = {name: config.policy() for name, config in CONFIGS.items()}
TARGETS = tuple(CONFIGS)
TIME_REASONS = (Reason.token_expired, Reason.token_not_yet_valid, Reason.token_issued_in_future)


def _is_time(value: Any) -> bool:
    return (
        type(value) in (int, float)
        and not (isinstance(value, float) and math.isnan(value))
        and 0 <= value <= MAX_UNIX_TIME
    )


def expected_reasons(config: Config, claims: dict[str, Any], now: float) -> set[Reason]:
    """An independent reading of the contract's claim rules (CONTRACT section 1)."""
    found: set[Reason] = set()
    required = set(config.required)
    if config.issuers:
        required.add("iss")
    if config.audiences:
        required.add("aud")
    if required - set(claims):
        found.add(Reason.missing_claim)
    present = {
        k: v for k, v in claims.items() if k in ("exp", "nbf", "iat", "iss", "aud", "sub", "jti")
    }
    for name in ("exp", "nbf", "iat"):
        if name in present and not _is_time(present[name]):
            found.add(Reason.invalid_claim)
    leeway = config.leeway
    if "exp" in present and _is_time(present["exp"]) and now >= present["exp"] + leeway:
        found.add(Reason.token_expired)
    if "nbf" in present and _is_time(present["nbf"]) and present["nbf"] - leeway > now:
        found.add(Reason.token_not_yet_valid)
    if "iat" in present and _is_time(present["iat"]) and present["iat"] - leeway > now:
        found.add(Reason.token_issued_in_future)
    if "iss" in present:
        if not isinstance(present["iss"], str):
            found.add(Reason.invalid_claim)
        elif config.issuers and present["iss"] not in config.issuers:
            found.add(Reason.issuer_mismatch)
    if "aud" in present:
        aud = present["aud"]
        if isinstance(aud, str):
            aud = [aud]
        if not isinstance(aud, list) or not all(isinstance(a, str) for a in aud):
            found.add(Reason.invalid_claim)
        elif config.audiences and not set(config.audiences) & set(aud):
            found.add(Reason.audience_mismatch)
    for name in ("sub", "jti"):
        if name in present and not isinstance(present[name], str):
            found.add(Reason.invalid_claim)
    return found


@pytest.fixture(scope="module")
def key() -> VerificationKey:
    s = Settings(secret=SECRET, algorithms=("HS256",))
    return load_static_keys(s).keyset.keys[0]


def check_problems(target: str, claims: dict[str, Any], now: float) -> list[Problem] | None:
    """problems() is None exactly when the independent reading finds nothing, else it
    finds the same reasons."""
    problems = POLICIES[target].problems(claims, now)
    expected = expected_reasons(CONFIGS[target], claims, now)
    event(f"problems: {'none' if problems is None else len(problems)}")
    if problems is None:
        assert expected == set(), (claims, now, expected)
    else:
        assert problems, "problems() returns None or a non-empty list"
        assert {p.reason for p in problems} == expected, (claims, now, problems)
    return problems


# --- problems(): None exactly when there is no problem ------------------------------------


@PROPS
@given(claims=any_claims, target=st.sampled_from(TARGETS))
@example(claims=valid_claims(aud=["other", AUDIENCE]), target="multi")
@example(claims=valid_claims(aud=[]), target="hs")
@example(claims=valid_claims(aud=[]), target="lenient")
@example(claims=valid_claims(aud=[AUDIENCE, 1]), target="hs")
@example(claims=valid_claims(iss=ISSUER.rstrip("/")), target="hs")
@example(claims=valid_claims(exp=NOW - LEEWAY), target="hs")
@example(claims=valid_claims(exp=NOW - LEEWAY + 1), target="hs")
@example(claims=valid_claims(nbf=NOW + LEEWAY), target="hs")
@example(claims=valid_claims(nbf=NOW + LEEWAY + 1), target="hs")
@example(claims=valid_claims(iat=NOW + LEEWAY + 0.5), target="multi")
@example(claims=valid_claims(exp=True), target="hs")
@example(claims=valid_claims(exp=MAX_UNIX_TIME + 1), target="hs")
@example(claims=valid_claims(exp=10**30), target="lenient")
@example(claims=valid_claims(sub=None), target="lenient")
@example(claims=valid_claims(jti=1), target="strict")
@example(claims={}, target="lenient")
@example(claims={}, target="strict")
def test_problems_are_none_exactly_when_the_claims_pass(
    claims: dict[str, Any], target: str
) -> None:
    check_problems(target, claims, NOW)


python_claims = st.dictionaries(
    st.sampled_from(["iss", "aud", "exp", "nbf", "iat", "sub", "jti", "scope", "x"]),
    st.one_of(
        time_values,
        issuer_values,
        audience_values,
        string_claim,
        st.floats(),  # NaN and infinities too: the rules see Python values
        st.sampled_from([float("nan"), float("inf"), -float("inf"), (AUDIENCE,), b"x"]),
    ),
)


@CHEAP_PROPS
@given(
    claims=st.one_of(python_claims, any_claims),
    target=st.sampled_from(TARGETS),
    now=st.one_of(
        st.just(float(NOW)),
        st.sampled_from([NOW + d for d in EDGES] + [NOW + d + 0.25 for d in EDGES]),
        st.floats(0, 2 * NOW),
        st.integers(0, MAX_UNIX_TIME + 10),
    ),
)
def test_problems_on_any_python_values_and_any_time(
    claims: dict[str, Any], target: str, now: float
) -> None:
    """Never raises; None exactly when nothing is wrong, at any time (the cheap passing
    case of every rule may never let a problem through)."""
    check_problems(target, claims, now)


@st.composite
def typical_valid_claims(draw: st.DrawFn) -> dict[str, Any]:
    """Valid for every claim configuration here (integer times, string members)."""
    strict_leeway = 5
    others = st.lists(st.text(max_size=12), max_size=3)
    aud = draw(
        st.one_of(
            st.just(AUDIENCE),
            st.builds(lambda a, b: [*a, AUDIENCE, *b], others, others),
        )
    )
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": aud,
        "sub": draw(st.text(max_size=20)),
        "jti": draw(st.text(max_size=20)),
        "exp": draw(st.integers(NOW + strict_leeway, MAX_UNIX_TIME)),
        "nbf": draw(st.integers(0, NOW)),
        "iat": draw(st.integers(0, NOW)),
    }
    claims.update(
        draw(st.dictionaries(st.text(max_size=8).filter(lambda k: k not in claims), json_values))
    )
    return claims


@PROPS
@given(claims=typical_valid_claims(), target=st.sampled_from(TARGETS))
@example(claims=valid_claims(aud=[AUDIENCE], jti="j"), target="hs")
@example(claims=valid_claims(aud=["other", AUDIENCE], jti="j"), target="strict")
def test_typical_valid_claims_have_no_problems(claims: dict[str, Any], target: str) -> None:
    assert POLICIES[target].problems(claims, NOW) is None, claims


def test_problems_examples() -> None:
    policy = POLICIES["hs"]
    assert policy.problems(valid_claims(), NOW) is None
    assert policy.problems(valid_claims(aud=["other", AUDIENCE]), NOW) is None
    assert (
        policy.problems(valid_claims(exp=NOW + 0.5, nbf=NOW + LEEWAY, iat=NOW - 1.5), NOW) is None
    )

    def reasons(claims: dict[str, Any]) -> list[Reason]:
        problems = policy.problems(claims, NOW)
        assert problems is not None, claims
        return [p.reason for p in problems]

    assert reasons(valid_claims(exp=NOW - LEEWAY)) == [Reason.token_expired]
    assert reasons(valid_claims(aud=["other"])) == [Reason.audience_mismatch]
    assert reasons(valid_claims(aud=[AUDIENCE, 1])) == [Reason.invalid_claim]
    assert reasons(valid_claims(iss=ISSUER.rstrip("/"))) == [Reason.issuer_mismatch]
    assert reasons({**valid_claims(), "sub": None}) == [Reason.invalid_claim]
    assert reasons(valid_claims(exp=None)) == [Reason.missing_claim]  # exp is required


def test_the_verifier_builds_the_policy_from_its_settings() -> None:
    s = Settings(
        secret=SECRET,
        algorithms=("HS256",),
        issuer=(ISSUER, OTHER_ISSUER),
        audience=(AUDIENCE, "billing-api"),
        required_claims=("exp", "nbf", "iat", "sub", "jti"),
        leeway=5,
    )
    policy = Verifier(s, load_static_keys(s).keyset).policy
    strict = POLICIES["strict"]
    assert (policy.issuers, policy.audiences, policy.leeway) == (
        strict.issuers,
        strict.audiences,
        strict.leeway,
    )
    assert (
        set(policy.required)
        == set(strict.required)
        == {"exp", "nbf", "iat", "sub", "jti", "iss", "aud"}
    )


# --- failure(): every problem, in the contract's order --------------------------------------


@PROPS
@given(claims=any_claims, target=st.sampled_from(TARGETS))
@example(claims=valid_claims(exp=True, nbf=NOW + 3600, iss="x", aud="y", sub=1), target="hs")
@example(claims={"exp": NOW - 100, "nbf": NOW + 100, "iat": NOW + 100}, target="strict")
def test_failure_lists_every_problem_in_contract_order(
    claims: dict[str, Any], target: str, key: VerificationKey
) -> None:
    policy = POLICIES[target]
    problems = policy.problems(claims, NOW)
    if problems is None:
        return
    failure = policy.failure(problems, "HS256", "k-1", key)
    order = [CLAIM_ORDER.index(p.reason.value) for p in failure.problems]
    assert order == sorted(order), failure.problems
    assert Counter(failure.problems) == Counter(problems)  # every problem, once
    primary = failure.problems[0]
    assert failure.reason is primary.reason
    assert failure.reason.value == min((p.reason.value for p in problems), key=CLAIM_ORDER.index)
    assert failure.detail == primary.detail
    assert (failure.alg, failure.kid, failure.key_fingerprint) == ("HS256", "k-1", key.fingerprint)
    if failure.reason in TIME_REASONS:
        assert failure.expected["leeway_seconds"] == policy.leeway
    if failure.reason is Reason.missing_claim:
        assert set(failure.expected["required_claims"]) == set(policy.required)
    if failure.reason is Reason.issuer_mismatch:
        assert failure.expected["issuer"] == sorted(policy.issuers)


def test_failure_hints(key: VerificationKey) -> None:
    policy = POLICIES["hs"]
    near = policy.problems(valid_claims(iss=ISSUER.rstrip("/")), NOW)
    assert near is not None
    hint = policy.failure(near, "HS256", None, key).hint
    assert hint is not None and "trailing slash" in hint
    skew = policy.problems(valid_claims(exp=NOW - LEEWAY - 10), NOW)
    assert skew is not None
    hint = policy.failure(skew, "HS256", None, key).hint
    assert hint is not None and "clock" in hint
    long_ago = policy.problems(valid_claims(exp=NOW - 86400), NOW)
    assert long_ago is not None
    assert policy.failure(long_ago, "HS256", None, key).hint is None


# --- failure(): hints from the issuer's measured clock -------------------------------------

FIX = "Fix time sync (NTP) on this host"
TOKENS_PROBLEM = "the token's problem, not this server's clock"


def clock_hint(claims: dict[str, Any], clock: ClockSample | None, key: VerificationKey) -> str:
    policy = POLICIES["hs"]
    problems = policy.problems(claims, NOW)
    assert problems is not None
    failure = policy.failure(problems, "HS256", None, key, clock)
    assert failure.hint is not None
    if clock is not None:
        assert failure.expected["issuer_clock_offset_seconds"] == round(clock.offset, 3)
        assert failure.expected["issuer_clock_offset_error_seconds"] == round(clock.error, 3)
    return failure.hint


def test_hint_this_server_ahead_explains_an_early_expiry(key: VerificationKey) -> None:
    # This server is 94 s ahead: a token with 60 s left looks expired 34 s ago.
    hint = clock_hint(valid_claims(exp=NOW - 34), ClockSample(-94.0, 0.3), key)
    assert hint is not None and "raising $leeway only" in hint  # named as the reader gave it
    assert BY_ENVIRONMENT.render(hint) == (
        "This server's clock is 94 s ahead of the issuer's (measured from its key-set "
        "responses, ±0.3 s): by the issuer's clock the token is still valid for 60 s. "
        "Fix time sync (NTP) on this host, or on the issuer if its clock is the wrong one; "
        "raising JWT_LEEWAY only hides the offset."
    )
    # 20 s ahead, expired 45 s ago here: 25 s by the issuer's clock, within the leeway.
    hint = clock_hint(valid_claims(exp=NOW - 45), ClockSample(-20.0, 0.5), key)
    assert "20 s ahead of the issuer's" in hint and "expired only 25 s ago, within the 30 s" in hint
    assert FIX in hint


def test_hint_this_server_behind_explains_nbf_and_iat(key: VerificationKey) -> None:
    behind = ClockSample(94.0, 0.3)
    hint = clock_hint(valid_claims(nbf=NOW + 90, iat=NOW + 90), behind, key)
    assert hint.startswith("This server's clock is 94 s behind the issuer's (measured from")
    assert "±0.3 s): by the issuer's clock the token is already valid (since 4 s)" in hint
    assert FIX in hint
    hint = clock_hint(valid_claims(nbf=None, iat=NOW + 100), behind, key)
    assert "was issued only 6 s in the future, within the 30 s leeway" in hint
    assert FIX in hint


def test_hint_a_claim_wrong_by_far_more_is_the_tokens_problem(key: VerificationKey) -> None:
    ahead = ClockSample(-94.0, 0.3)
    hint = clock_hint(valid_claims(exp=NOW - 5000), ahead, key)
    assert hint == (
        "The token expired 81 min 46 s ago even by the issuer's clock, more than the "
        "clock offset explains (this server's clock is 94 s ahead of the issuer's "
        "(measured from its key-set responses, ±0.3 s)): the token's problem, not this "
        "server's clock. The client must get a new token (refresh it before it expires)."
    )
    # The offset the other way: nbf in the future even more by the issuer's clock.
    hint = clock_hint(valid_claims(nbf=NOW + 600), ahead, key)
    assert "becomes valid only in 11 min 34 s even by the issuer's clock" in hint
    assert TOKENS_PROBLEM in hint and "nbf ahead" in hint
    assert FIX not in hint
    # Behind by 94 s, iat 2 h ahead: the signer's clock, not ours.
    hint = clock_hint(valid_claims(iat=NOW + 7200), ClockSample(94.0, 0.3), key)
    assert TOKENS_PROBLEM in hint and "signing service" in hint


def test_hint_when_the_clocks_agree(key: VerificationKey) -> None:
    agree = ClockSample(0.2, 0.6)
    # Just past the leeway: no clock to blame.
    hint = clock_hint(valid_claims(exp=NOW - 31), agree, key)
    assert hint.startswith("The token expired 31 s ago, beyond the 30 s leeway (this server's")
    assert "agrees with the issuer's to within ±0.6 s" in hint and TOKENS_PROBLEM in hint
    assert "NTP" not in hint and "leeway" not in hint.replace("30 s leeway", "")
    hint = clock_hint(valid_claims(exp=NOW - 3600), agree, key)
    assert hint.startswith("The token expired 60 min 0 s ago, beyond the 30 s leeway")
    assert TOKENS_PROBLEM in hint


def test_hint_without_a_measurement_is_unchanged(key: VerificationKey) -> None:
    """Static keys (clock None): today's hints, no claim about a measured clock."""
    policy = POLICIES["hs"]
    for claims in (
        valid_claims(exp=NOW - LEEWAY - 10),
        valid_claims(exp=NOW - 86400),
        valid_claims(nbf=NOW + 600),
        valid_claims(iat=NOW + 600),
    ):
        problems = policy.problems(claims, NOW)
        assert problems is not None
        failure = policy.failure(problems, "HS256", None, key)
        assert failure == policy.failure(problems, "HS256", None, key, None)
        assert "measured" not in failure.effective_hint
        assert "issuer_clock_offset_seconds" not in failure.expected


def test_other_reasons_ignore_the_clock(key: VerificationKey) -> None:
    policy = POLICIES["hs"]
    problems = policy.problems(valid_claims(aud="other"), NOW)
    assert problems is not None
    with_clock = policy.failure(problems, "HS256", None, key, ClockSample(-94.0, 0.3))
    assert with_clock == policy.failure(problems, "HS256", None, key)


@CHEAP_PROPS
@given(
    offset=st.floats(-7200, 7200),
    error=st.floats(0.5, 3),
    claim=st.sampled_from(["exp", "nbf", "iat"]),
    off_by=st.floats(LEEWAY + 0.01, 9000),
)
def test_hint_claims_the_clock_only_when_the_offset_explains_it(
    key: VerificationKey, offset: float, error: float, claim: str, off_by: float
) -> None:
    """By the issuer's clock (this server's now plus the offset, within the error):
    "fix time sync" only when the token might pass there and the clocks really differ
    in the direction that makes it fail here; otherwise "the token's problem", and then
    the token fails there too or the clocks agree."""
    value = NOW - off_by if claim == "exp" else NOW + off_by
    hint = clock_hint(valid_claims(**{claim: value}), ClockSample(offset, error), key)
    # The claim's own rule, by the issuer's clock, with the leeway widened or narrowed
    # by the error.
    loose = dict(ClaimsPolicy(leeway=LEEWAY + error).rules)[claim]
    tight = dict(ClaimsPolicy(leeway=LEEWAY - error).rules)[claim]
    issuer_now = NOW + offset
    shift = -offset if claim == "exp" else offset
    if FIX in hint:
        assert shift > error
        assert loose(value, issuer_now) is None
        assert TOKENS_PROBLEM not in hint
    else:
        assert TOKENS_PROBLEM in hint
        if "even by the issuer's clock" in hint:
            assert tight(value, issuer_now) is not None
        else:
            assert abs(offset) <= error and "agrees with the issuer's" in hint


# --- the audience as an RFC 8707 resource URI -------------------------------------------

RESOURCE = "https://api.example.com/mcp"
ORIGIN_RESOURCE = "https://api.example.com"


def resource_policy(*audiences: str) -> ClaimsPolicy:
    return ClaimsPolicy(issuers=(ISSUER,), audiences=audiences or (RESOURCE,), leeway=LEEWAY)


def aud_hint(policy: ClaimsPolicy, aud: Any, key: VerificationKey) -> str:
    """The audience_mismatch failure's hint (the reason asserted)."""
    problems = policy.problems(valid_claims(aud=aud), NOW)
    assert problems is not None and [p.reason for p in problems] == [Reason.audience_mismatch], (
        problems
    )
    failure = policy.failure(problems, "HS256", None, key)
    assert failure.reason is Reason.audience_mismatch
    return failure.effective_hint


@pytest.mark.parametrize(
    ("configured", "aud"),
    [
        (RESOURCE, "HTTPS://API.EXAMPLE.COM/mcp"),
        (RESOURCE, "https://Api.Example.Com:443/mcp"),
        (RESOURCE, "https://api.example.com:/mcp"),  # an empty port is the default one
        ("HTTPS://API.example.com:443/mcp", RESOURCE),  # the configured spelling too
        ("http://api.example.com/mcp", "http://API.example.com:80/mcp"),
        ("https://api.example.com:8443/mcp", "https://API.example.com:8443/mcp"),
        ("https://[2001:DB8::1]/mcp", "https://[2001:db8::1]:443/mcp"),
        (f"{RESOURCE}?tenant=a", "https://API.example.com/mcp?tenant=a"),
        # An empty path is "/" for http(s) (RFC 3986 section 6.2.3): the same resource.
        (ORIGIN_RESOURCE, "https://api.example.com/"),
        (f"{ORIGIN_RESOURCE}/", ORIGIN_RESOURCE),
        (ORIGIN_RESOURCE, "https://API.example.com:443"),
    ],
)
def test_resource_audience_accepts_its_normalised_spellings(configured: str, aud: str) -> None:
    policy = resource_policy(configured)
    assert policy.problems(valid_claims(aud=aud), NOW) is None
    assert policy.problems(valid_claims(aud=["other-api", aud]), NOW) is None


@CHEAP_PROPS
@given(
    scheme_case=st.lists(st.booleans(), min_size=5, max_size=5),
    host_case=st.lists(st.booleans(), min_size=15, max_size=15),
    port=st.sampled_from(["", ":", ":443"]),
    as_list=st.booleans(),
)
def test_any_letter_case_of_scheme_and_host_and_the_default_port_pass(
    scheme_case: list[bool], host_case: list[bool], port: str, as_list: bool
) -> None:
    def cased(text: str, upper: list[bool]) -> str:
        return "".join(c.upper() if u else c for c, u in zip(text, upper, strict=True))

    aud = f"{cased('https', scheme_case)}://{cased('api.example.com', host_case)}{port}/mcp"
    policy = resource_policy()
    assert policy.problems(valid_claims(aud=[aud] if as_list else aud), NOW) is None
    # The path is compared as written: its letter case is not normalised.
    assert policy.problems(valid_claims(aud=aud.replace("/mcp", "/MCP")), NOW) is not None


@pytest.mark.parametrize(
    "aud",
    [
        "https://api.example.com:8443/mcp",  # another port
        "http://api.example.com/mcp",  # another scheme
        "https://api.example.org/mcp",  # another host
        "https://api.example.com./mcp",  # a trailing dot is another name
        "https://user@api.example.com/mcp",  # userinfo: not a resource URI
        f"{RESOURCE}#frag",  # a fragment: not a resource URI (RFC 8707 section 2)
        "https://api.example.com/%6Dcp",  # percent-encoding is not rewritten
        "https://api.example.com/./mcp",  # nor dot segments
        "https://api.example.com:0443/mcp",
        "api.example.com/mcp",
    ],
)
def test_resource_audience_refuses_other_resources(aud: str, key: VerificationKey) -> None:
    policy = resource_policy()
    problems = policy.problems(valid_claims(aud=aud), NOW)
    assert problems is not None and [p.reason for p in problems] == [Reason.audience_mismatch]


@pytest.mark.parametrize(
    ("configured", "aud"),
    [
        (RESOURCE, f"{RESOURCE}/"),
        (f"{RESOURCE}/", RESOURCE),
        (RESOURCE, "HTTPS://API.example.com/mcp/"),
    ],
)
def test_a_trailing_slash_is_refused_and_named(
    configured: str, aud: str, key: VerificationKey
) -> None:
    hint = aud_hint(resource_policy(configured), aud, key)
    assert hint is not None
    assert BY_ENVIRONMENT.render(hint) == (
        f"The token's audience {aud} differs from this resource {configured} only by a "
        "trailing slash. Resource URIs are compared exactly, beyond the letter case of the "
        f"scheme and host and a default port: request the token with resource={configured} "
        "(RFC 8707), or add that spelling to JWT_AUDIENCE if it names this resource too."
    )


@pytest.mark.parametrize(
    "aud", [ORIGIN_RESOURCE, f"{ORIGIN_RESOURCE}/", "HTTPS://API.example.com:443"]
)
def test_the_origin_for_a_path_below_it_is_named(aud: str, key: VerificationKey) -> None:
    assert aud_hint(resource_policy(), aud, key) == (
        f"The token was requested for {aud} but this resource is {RESOURCE}, a path below "
        f"that origin: request the token with resource={RESOURCE} (RFC 8707)."
    )
    # In an array among other audiences too.
    assert "a path below that origin" in aud_hint(resource_policy(), ["billing-api", aud], key)


@pytest.mark.parametrize(
    ("configured", "aud"),
    [
        (RESOURCE, "https://api.example.com/api"),
        (RESOURCE, "https://api.example.com/mcp/v2"),
        (RESOURCE, "https://API.example.com/MCP"),
        (ORIGIN_RESOURCE, RESOURCE),  # the other way round: not "the origin"
    ],
)
def test_another_path_on_the_same_origin_is_named(
    configured: str, aud: str, key: VerificationKey
) -> None:
    assert aud_hint(resource_policy(configured), aud, key) == (
        f"The token was requested for {aud}, another path on this resource's origin; this "
        f"resource is {configured}: request the token with resource={configured} (RFC 8707)."
    )


def test_another_query_is_named(key: VerificationKey) -> None:
    hint = aud_hint(resource_policy(), f"{RESOURCE}?tenant=b", key)
    assert "differs from this resource https://api.example.com/mcp in its query" in hint


def test_another_origin_keeps_the_reasons_own_hint(key: VerificationKey) -> None:
    policy = resource_policy()
    default = aud_hint(ClaimsPolicy(audiences=("orders-api",)), "billing-api", key)
    assert default.startswith("None of the token's aud values is an expected audience")
    for aud in ("https://api.example.org/mcp", "http://api.example.com/mcp", "billing-api"):
        assert aud_hint(policy, aud, key) == default


def test_the_near_miss_names_the_configured_resource_it_is_near(key: VerificationKey) -> None:
    policy = resource_policy("orders-api", "https://other.example.com/a", RESOURCE)
    hint = aud_hint(policy, ["x", f"{RESOURCE}/"], key)
    assert hint.startswith(
        f"The token's audience {RESOURCE}/ differs from this resource {RESOURCE}"
    )


@pytest.mark.parametrize(
    ("configured", "aud"),
    [
        ("orders-api", "ORDERS-API"),
        ("orders-api", "orders-api/"),
        (
            "api://6e74172b-be56-4843-9ff4-e66a39bb12e3",
            "API://6e74172b-be56-4843-9ff4-e66a39bb12e3",
        ),
        ("urn:example:api", "URN:example:api"),
        ("https://user@api.example.com/mcp", "https://user@API.example.com/mcp"),
    ],
)
def test_audiences_that_are_not_http_resource_uris_are_compared_as_written(
    configured: str, aud: str, key: VerificationKey
) -> None:
    policy = resource_policy(configured)
    assert policy.resources == frozenset()
    assert policy.problems(valid_claims(aud=configured), NOW) is None
    assert aud_hint(policy, aud, key).startswith("None of the token's aud values")


def test_the_normalised_spellings_are_decided_once(key: VerificationKey) -> None:
    policy = resource_policy("orders-api", "HTTPS://API.Example.com:443/mcp", ORIGIN_RESOURCE)
    assert policy.resources == {"https://api.example.com/mcp", "https://api.example.com/"}
    assert policy.with_issuer(OTHER_ISSUER).resources == policy.resources
    assert POLICIES["strict"].resources == frozenset()  # no URI audience: nothing to test
