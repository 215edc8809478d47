"""The Verifier: the stages on one path, the header plan memo and the token cache.

The invariants, at the same ``now``:

- a warm verifier (its memo of header/key decisions filled by earlier tokens) gives
  the same outcome (dataclass ``==``, every field) as a cold new Verifier with the
  same keys, for mutated and re-signed tokens and for validly signed claim sets;
  the strict decoder runs exactly when the cheap one leaves the token to it;
- a memoised plan never outlives its key set: after a key-set change no token is
  judged with the old key (rotation after warming gives the cold verifier's
  failure; a kid moving to another key is kid_mismatch at once), every plan in the
  memo holds a key of the current set, and cache hits agree with a cold verifier.

The verified-token cache is off (``token_cache_entries=0``) except in the tests of
the cache itself; the diagnostic budget is effectively unlimited so warm and cold
verifiers diagnose alike. Structure and claims have their own invariants
(test_structure.py, test_claims.py).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from helpers.keys import AUDIENCE, ISSUER, b64url
from helpers.signers import (
    EC_KEY,
    PROFILE_BY_NAME,
    PROFILES,
    RSA2_KEY,
    RSA_KEY,
    SECRET,
    Profile,
    Signer,
    compact_json,
    es256,
    profiles_jwks,
    rs256,
)
from helpers.strategies import LEEWAY, MAX_BYTES, NOW, any_claims, draw_token, valid_claims
from hypothesis import HealthCheck, currently_in_test_context, event, example, given, settings
from hypothesis import strategies as st
from joserfc import jwk

import jwt_middleware.tokens.verifier as verifier_module
from jwt_middleware import (
    Failure,
    KeySet,
    Reason,
    Settings,
    VerificationKey,
    VerifiedToken,
    Verifier,
    load_static_keys,
)
from jwt_middleware.keys import import_jwk
from jwt_middleware.keys.clock import ClockSample
from jwt_middleware.keys.remote import KeyHistory
from jwt_middleware.tokens.structure import ParsedToken, decode_body, parse_compact

PROPS = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
COMMON: dict[str, Any] = {
    "token_cache_entries": 0,
    "diagnostic_verifications_per_second": 1e9,
    "max_token_bytes": MAX_BYTES,
    "leeway": LEEWAY,
}


class StrictRuns:
    """Counts the verifier's runs of the strict decoder (parse_compact)."""

    count = 0

    def __call__(self, token: str) -> ParsedToken | Failure:
        self.count += 1
        return parse_compact(token)


@pytest.fixture(scope="module")
def strict_runs() -> Iterator[StrictRuns]:
    counter = StrictRuns()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(verifier_module, "parse_compact", counter)
        yield counter


def assert_memo_current(v: Verifier) -> None:
    """Every memoised plan was made with the key set the memo belongs to: its key is
    one of that set's (a plan never mixes key sets)."""
    if v._memo:
        assert v._memo_keys is not None
        held = {id(key) for key in v._memo_keys.keys}
        for plan in v._memo.values():
            assert id(plan[3]) in held, "a memoised plan holds a key of another key set"


def plan_is_current(v: Verifier, token: str) -> bool:
    dot = token.find(".")
    return dot > 0 and token[:dot] in v._memo and v._memo_keys is v.keyset


@dataclass
class Env:
    settings: dict[str, Settings]
    keysets: dict[str, KeySet]
    warm: dict[str, Verifier]
    strict: StrictRuns
    valid: dict[str, str] = field(default_factory=dict)  # profile name -> warming token

    def cold(self, target: str) -> Verifier:
        """A new Verifier with the same settings and keys: nothing memoised, nothing cached."""
        return Verifier(self.settings[target], self.keysets[target])


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, strict_runs: StrictRuns) -> Env:
    path: Path = tmp_path_factory.mktemp("verifier") / "jwks.json"
    path.write_text(json.dumps(profiles_jwks()))
    all_settings = {
        "multi": Settings(
            jwks_file=str(path),
            algorithms=("RS256", "PS256", "ES256", "EdDSA"),
            issuer=ISSUER,
            audience=AUDIENCE,
            **COMMON,
        ),
        "hs": Settings(
            secret=SECRET, algorithms=("HS256",), issuer=ISSUER, audience=AUDIENCE, **COMMON
        ),
        # Other claim configurations over the same secret (as in test_claims.py).
        "lenient": Settings(
            secret=SECRET, algorithms=("HS256",), required_claims=(), **{**COMMON, "leeway": 0}
        ),
        "strict": Settings(
            secret=SECRET,
            algorithms=("HS256",),
            issuer=(ISSUER, "https://login.example.org/tenant/"),
            audience=(AUDIENCE, "billing-api"),
            required_claims=("exp", "nbf", "iat", "sub", "jti"),
            **{**COMMON, "leeway": 5},
        ),
    }
    keysets = {name: load_static_keys(s).keyset for name, s in all_settings.items()}
    warm = {name: Verifier(s, keysets[name]) for name, s in all_settings.items()}
    e = Env(all_settings, keysets, warm, strict_runs)
    for profile in PROFILES:
        token = profile.token(valid_claims())
        v = warm[profile.target]
        assert isinstance(v.verify(token, now=NOW), VerifiedToken), profile.name
        assert plan_is_current(v, token), profile.name
        e.valid[profile.name] = token
    hs_profile = PROFILE_BY_NAME["hs"]
    for name in ("lenient", "strict"):
        token = hs_profile.token(valid_claims(jti="j-1"))
        assert isinstance(warm[name].verify(token, now=NOW), VerifiedToken), name
        assert plan_is_current(warm[name], token)
    return e


def note_outcome(outcome: VerifiedToken | Failure, *extra: str) -> None:
    """Hypothesis statistics (pytest --hypothesis-show-statistics): what the examples hit."""
    if currently_in_test_context():
        reason = "verified" if isinstance(outcome, VerifiedToken) else outcome.reason.value
        for text in (f"outcome: {reason}", *extra):
            event(text)


def assert_same_outcome(
    e: Env, target: str, token: str, now: float = NOW
) -> VerifiedToken | Failure:
    """verify() on the warm verifier == verify() on a cold one; the warm one ran the
    strict decoder exactly when the cheap one left the token to it."""
    v = e.warm[target]
    assert plan_is_current(v, token), "the memoised plan would not even be used"
    body = decode_body(token, token.find("."))
    before = e.strict.count
    warm = v.verify(token, now=now)
    strict_ran = e.strict.count != before
    cold = e.cold(target).verify(token, now=now)
    assert warm == cold, (token, warm, cold)
    assert strict_ran == (body is None and len(token) <= MAX_BYTES), (token, body)
    assert_memo_current(v)
    assert v._memo_keys is v.keyset
    note_outcome(warm, f"strict decoder: {strict_ran}")
    return warm


# --- 1. mutated tokens under warm header plans ------------------------------------------


@settings(PROPS, max_examples=600)
@given(data=st.data())
def test_warm_verifier_equals_cold_on_mutated_tokens(env: Env, data: st.DataObject) -> None:
    profile, token = draw_token(data)
    assert_same_outcome(env, profile.target, token)


# --- 2. validly signed claim sets ---------------------------------------------------------

CLAIM_TARGETS = ("multi", "hs", "lenient", "strict")


def claims_token(target: str, claims: dict[str, Any]) -> str:
    profile = PROFILE_BY_NAME["ed" if target == "multi" else "hs"]
    return profile.token(claims)


@PROPS
@given(claims=any_claims, target=st.sampled_from(CLAIM_TARGETS))
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
@example(claims=valid_claims(exp=10**30), target="lenient")
@example(claims=valid_claims(sub=None), target="lenient")
@example(claims=valid_claims(jti=1), target="strict")
@example(claims={}, target="lenient")
@example(claims={}, target="strict")
def test_signed_claim_sets_warm_equals_cold(env: Env, claims: dict[str, Any], target: str) -> None:
    token = claims_token(target, claims)
    outcome = assert_same_outcome(env, target, token)
    parsed = parse_compact(token)
    assert isinstance(parsed, ParsedToken)
    problems = env.warm[target].policy.problems(parsed.claims, NOW)
    # The signature is valid: the outcome is the claims stage's.
    assert isinstance(outcome, VerifiedToken) == (problems is None), (outcome, problems)


# --- 3. deterministic examples after warming ---------------------------------------------


@pytest.mark.parametrize("name", [p.name for p in PROFILES])
def test_valid_token_takes_the_memoised_plan(env: Env, name: str) -> None:
    profile = PROFILE_BY_NAME[name]
    token = profile.token(valid_claims(aud=["other", AUDIENCE], jti="fresh"))
    v = env.warm[profile.target]
    assert plan_is_current(v, token)
    before = env.strict.count
    outcome = v.verify(token, now=NOW)
    assert env.strict.count == before, "verify() ran the strict decoder"
    assert isinstance(outcome, VerifiedToken)
    assert outcome == env.cold(profile.target).verify(token, now=NOW)
    assert outcome.claims["jti"] == "fresh"
    assert outcome.header == profile.header


@pytest.mark.parametrize(
    ("name", "wrong", "reason"),
    [
        ("rs", 0, Reason.kid_mismatch),  # rsa2's key verifies it: the diagnosis says so
        ("rs2", 0, Reason.kid_mismatch),
        ("rs2", 1, Reason.signature_invalid),
        ("ps", 0, Reason.signature_invalid),
        ("es", 0, Reason.signature_invalid),
        ("es", 1, Reason.signature_invalid),  # DER instead of r||s
        ("ed", 0, Reason.signature_invalid),
        ("ed-jwk", 0, Reason.signature_invalid),
        ("hs", 0, Reason.signature_invalid),
        ("hs", 1, Reason.secret_encoding_mismatch),
        ("hs", 2, Reason.secret_encoding_mismatch),
    ],
)
def test_bad_signature_after_warming(env: Env, name: str, wrong: int, reason: Reason) -> None:
    profile = PROFILE_BY_NAME[name]
    token = profile.token(valid_claims(), profile.wrong[wrong])
    v = env.warm[profile.target]
    assert plan_is_current(v, token)
    before = env.strict.count
    warm = v.verify(token, now=NOW)
    assert env.strict.count == before, "verify() ran the strict decoder"
    cold = env.cold(profile.target).verify(token, now=NOW)
    assert isinstance(warm, Failure) and isinstance(cold, Failure)
    assert warm.reason is reason
    assert warm.detail == cold.detail
    assert warm == cold
    assert warm.iss == ISSUER and warm.sub == "user-1"  # claims attached either way
    if name == "ed-jwk":
        assert warm.hint is not None and "embeds a key" in warm.hint


def test_flipped_signature_byte_is_signature_invalid_warm_and_cold(env: Env) -> None:
    profile = PROFILE_BY_NAME["ed"]
    head, s64 = profile.token(valid_claims()).rsplit(".", 1)
    token = f"{head}.{'B' if s64[0] == 'A' else 'A'}{s64[1:]}"
    warm = env.warm["multi"].verify(token, now=NOW)
    assert isinstance(warm, Failure) and warm.reason is Reason.signature_invalid
    assert warm == env.cold("multi").verify(token, now=NOW)


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        (valid_claims(exp=NOW - LEEWAY), Reason.token_expired),
        (valid_claims(nbf=NOW + LEEWAY + 1), Reason.token_not_yet_valid),
        (valid_claims(aud=["other"]), Reason.audience_mismatch),
        (valid_claims(iss=ISSUER.rstrip("/")), Reason.issuer_mismatch),
        (valid_claims(aud=[AUDIENCE, 7]), Reason.invalid_claim),
        (valid_claims(exp=None), Reason.missing_claim),
    ],
)
def test_claim_failures_after_warming(env: Env, claims: dict[str, Any], reason: Reason) -> None:
    token = PROFILE_BY_NAME["hs"].token(claims)
    before = env.strict.count
    warm = env.warm["hs"].verify(token, now=NOW)
    assert env.strict.count == before
    assert isinstance(warm, Failure) and warm.reason is reason
    assert warm == env.cold("hs").verify(token, now=NOW)


@pytest.mark.parametrize(
    "payload",
    [
        b" " + compact_json(valid_claims()),  # JSON whitespace around: valid, not "usual"
        compact_json(valid_claims()) + b"\n",
        # 17 brackets (more than the depth limit) but nested only 9 deep
        compact_json(valid_claims(a=[[[[[[[[1]]]]]]]], b=[[[[[[[[1]]]]]]]])),
        compact_json(valid_claims(scope="{[{[{[{[{[{[{[{[{[")),  # brackets in a string
    ],
)
def test_unusual_but_valid_payloads_fall_back_and_pass(env: Env, payload: bytes) -> None:
    token = PROFILE_BY_NAME["hs"].token(payload)
    assert decode_body(token, token.find(".")) is None
    before = env.strict.count
    outcome = env.warm["hs"].verify(token, now=NOW)
    assert env.strict.count == before + 1, "the cheap decoder took a token it should leave"
    assert isinstance(outcome, VerifiedToken)
    assert outcome == env.cold("hs").verify(token, now=NOW)


def _token_of_length(profile: Profile, length: int) -> str | None:
    sig_len = len(profile.signature_sample)
    for n in range(MAX_BYTES):  # sign only the payload that gives the length
        claims = valid_claims(pad="x" * n)
        size = len(profile.h64) + len(b64url(compact_json(claims))) + sig_len + 2
        if size >= length:
            return profile.token(claims) if size == length else None
    return None


@pytest.mark.parametrize("name", ["rs", "es", "hs"])
def test_max_token_bytes_boundary(env: Env, name: str) -> None:
    profile = PROFILE_BY_NAME[name]
    seen = 0
    for length in range(MAX_BYTES - 3, MAX_BYTES + 4):
        token = _token_of_length(profile, length)
        if token is None:
            continue  # base64 lengths skip some values
        seen += 1
        outcome = assert_same_outcome(env, profile.target, token)
        if length <= MAX_BYTES:
            assert isinstance(outcome, VerifiedToken), length
        else:
            assert isinstance(outcome, Failure) and outcome.reason is Reason.token_too_large
    assert seen >= 4


def test_header_plan_is_memoised_by_the_first_verification(strict_runs: StrictRuns) -> None:
    s = Settings(secret=SECRET, algorithms=("HS256",), issuer=ISSUER, audience=AUDIENCE, **COMMON)
    v = Verifier(s, load_static_keys(s).keyset)
    profile = PROFILE_BY_NAME["hs"]
    token = profile.token(valid_claims())
    assert profile.h64 not in v._memo
    before = strict_runs.count
    first = v.verify(token, now=NOW)
    assert strict_runs.count == before + 1 and plan_is_current(v, token)
    second = v.verify(token, now=NOW)
    assert strict_runs.count == before + 1, "the second verification ran the strict decoder"
    assert isinstance(first, VerifiedToken) and first == second


def test_failed_header_or_key_stage_is_not_memoised(strict_runs: StrictRuns) -> None:
    s = Settings(secret=SECRET, algorithms=("HS256",), issuer=ISSUER, audience=AUDIENCE, **COMMON)
    v = Verifier(s, load_static_keys(s).keyset)
    rs = PROFILE_BY_NAME["rs"].token(valid_claims())  # RS256 against an HMAC key
    for _ in range(2):
        outcome = v.verify(rs, now=NOW)
        assert isinstance(outcome, Failure) and outcome.reason is Reason.algorithm_not_allowed
    assert v._memo == {}


# --- 4. a changing key set ------------------------------------------------------------------


def _jwk_entry(private: Any, kid: str | None, alg: str) -> dict[str, Any]:
    public = private.public_key()
    key = (
        jwk.RSAKey.import_key(public)
        if isinstance(public, rsa.RSAPublicKey)
        else jwk.ECKey.import_key(public)
    )
    entry = dict(key.as_dict())
    entry.update(alg=alg, use="sig")
    if kid is not None:
        entry["kid"] = kid
    return entry


def _key(private: Any, kid: str | None, alg: str = "RS256") -> VerificationKey:
    return import_jwk(_jwk_entry(private, kid, alg), source="test")


K1_A, K2_B = _key(RSA_KEY, "k1"), _key(RSA2_KEY, "k2")
K1_B, K2_A = _key(RSA2_KEY, "k1"), _key(RSA_KEY, "k2")
EC_KEYS = _key(EC_KEY, "ec", "ES256")
KEYSETS: dict[str, Callable[[], KeySet | None]] = {
    "k1=A k2=B": lambda: KeySet((K1_A, K2_B)),
    "k1=A k2=B (new objects)": lambda: KeySet((_key(RSA_KEY, "k1"), _key(RSA2_KEY, "k2"), EC_KEYS)),
    "k1=B": lambda: KeySet((K1_B,)),  # k1 now names another key
    "k2=B": lambda: KeySet((K2_B,)),  # k1 removed
    "k1=B k2=A": lambda: KeySet((K1_B, K2_A)),  # swapped
    "A unnamed, k2=B": lambda: KeySet((_key(RSA_KEY, None), K2_B)),
    "ec only": lambda: KeySet((EC_KEYS,)),
    "empty": lambda: KeySet(()),
    "unavailable": lambda: None,
}


class MutableSource:
    """A KeyProvider whose key set the test replaces, remembering dropped keys like
    RemoteKeySource does (for retired_key)."""

    def __init__(self, keyset: KeySet | None) -> None:
        self._keyset = keyset
        self._history = KeyHistory()
        self._listeners: list[Callable[[KeySet], None]] = []

    @property
    def keyset(self) -> KeySet | None:
        return self._keyset

    @property
    def history(self) -> KeyHistory:
        return self._history

    def replace(self, new: KeySet | None) -> None:
        now = time.time()  # the verifier looks retired keys up at its clock's time
        old = self._keyset
        if new is not None:
            keep = {(k.kid, k.fingerprint) for k in new.keys}
            dropped = [k for k in (old.keys if old else ()) if (k.kid, k.fingerprint) not in keep]
            self._history.forget([k.kid for k in new.keys if k.kid])
            self._history.record([k for k in dropped if k.kid not in new.by_kid], now)
        self._keyset = new
        if new is not None:
            for listener in self._listeners:
                listener(new)


class NotifyingSource(MutableSource):
    """A MutableSource that is a RemoteKeyProvider: the verifier listens to its changes
    (and prunes its token cache), as it does with RemoteKeySource."""

    name = "test-source"
    cooldown = 30.0
    last_error: str | None = None
    last_cause: str | None = None
    discovered_issuer: str | None = None
    clock_offset: ClockSample | None = None

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        return None

    async def refresh_for_unknown_kid(self) -> bool:
        return False

    def on_change(self, listener: Callable[[KeySet], None]) -> None:
        self._listeners.append(listener)

    def on_fetch(self, listener: Callable[[str], None]) -> None:
        return None


def _rs_profile(kid: str | None, signer: Signer) -> Profile:
    header = {"alg": "RS256"} if kid is None else {"alg": "RS256", "kid": kid}
    return Profile(f"rs-{kid}", "source", header, signer, ())


_K1 = _rs_profile("k1", rs256(RSA_KEY))
_K2 = _rs_profile("k2", rs256(RSA2_KEY))
_EC = Profile("ec", "source", {"alg": "ES256", "kid": "ec"}, es256(EC_KEY), ())
ROTATION_TOKENS: dict[str, str] = {
    "k1 by A": _K1.token(valid_claims()),
    "k1 by A, expiring": _K1.token(valid_claims(exp=NOW + 100)),
    "k1 by A, expired": _K1.token(valid_claims(exp=NOW - 3600)),
    "k1 by B": _K1.token(valid_claims(), rs256(RSA2_KEY)),
    "k1 by A, nbf ahead": _K1.token(valid_claims(nbf=NOW + 20)),
    "k1 by A, leading space": _K1.token(b" " + compact_json(valid_claims())),
    "k2 by B": _K2.token(valid_claims()),
    "k2 by A": _K2.token(valid_claims(sub="user-2"), rs256(RSA_KEY)),
    "no kid by A": _rs_profile(None, rs256(RSA_KEY)).token(valid_claims()),
    "ec": _EC.token(valid_claims()),
}
SOURCE_SETTINGS = Settings(
    external_keys=True, algorithms=("RS256", "ES256"), issuer=ISSUER, audience=AUDIENCE, **COMMON
)

operations = st.lists(
    st.one_of(
        st.tuples(st.just("keys"), st.sampled_from(sorted(KEYSETS))),
        st.tuples(st.just("verify"), st.sampled_from(sorted(ROTATION_TOKENS))),
        st.tuples(st.just("verify"), st.sampled_from(sorted(ROTATION_TOKENS))),
    ),
    max_size=25,
)


def _rotation_check(v: Verifier, source: MutableSource, token: str, now: float) -> None:
    warm = v.verify(token, now=now)
    cold = Verifier(SOURCE_SETTINGS, source=source).verify(token, now=now)
    assert warm == cold, (warm, cold)
    assert_memo_current(v)
    # The memo belongs to the key set in force (verify() saw it), never to an old one.
    in_force = source.keyset if source.keyset is not None else verifier_module.EMPTY_KEYSET
    assert v._memo_keys is in_force
    note_outcome(warm)


@PROPS
@given(ops=operations)
@example(ops=[("verify", "k1 by A"), ("keys", "k1=B"), ("verify", "k1 by A")])
@example(ops=[("verify", "k1 by A"), ("keys", "k2=B"), ("verify", "k1 by A")])
@example(ops=[("verify", "k1 by A"), ("keys", "k1=B k2=A"), ("verify", "k1 by A")])
@example(ops=[("verify", "k1 by A"), ("keys", "unavailable"), ("verify", "k1 by A")])
@example(ops=[("verify", "k1 by A"), ("keys", "empty"), ("verify", "k1 by A")])
@example(ops=[("verify", "no kid by A"), ("keys", "A unnamed, k2=B"), ("verify", "k1 by A")])
def test_key_set_change_never_serves_a_stale_plan(ops: list[tuple[str, str]]) -> None:
    source = MutableSource(KEYSETS["k1=A k2=B"]())
    v = Verifier(SOURCE_SETTINGS, source=source)
    for op, name in ops:
        if op == "keys":
            source.replace(KEYSETS[name]())
        else:
            _rotation_check(v, source, ROTATION_TOKENS[name], NOW)


@pytest.mark.parametrize(
    ("keys", "reason"),
    [
        ("k1=B", Reason.signature_invalid),
        ("k2=B", Reason.retired_key),
        ("k1=B k2=A", Reason.kid_mismatch),
        ("ec only", Reason.retired_key),
        ("empty", Reason.key_source_unavailable),
        ("unavailable", Reason.key_source_unavailable),
    ],
)
def test_rotation_after_warming_gives_the_cold_verifiers_failure(keys: str, reason: Reason) -> None:
    source = MutableSource(KEYSETS["k1=A k2=B"]())
    v = Verifier(SOURCE_SETTINGS, source=source)
    token = ROTATION_TOKENS["k1 by A"]
    assert isinstance(v.verify(token, now=NOW), VerifiedToken)
    assert token.split(".")[0] in v._memo  # warmed: the plan is there
    source.replace(KEYSETS[keys]())
    warm = v.verify(token, now=NOW)
    assert isinstance(warm, Failure), "a stale header plan let the token through"
    assert warm.reason is reason
    assert warm == Verifier(SOURCE_SETTINGS, source=source).verify(token, now=NOW)
    assert_memo_current(v)


# --- the verified-token cache: hits agree with a cold verifier as time moves on ----------

CACHE_SETTINGS = Settings(
    external_keys=True,
    algorithms=("RS256", "ES256"),
    issuer=ISSUER,
    audience=AUDIENCE,
    **{**COMMON, "token_cache_entries": 64},
)


@PROPS
@given(
    ops=st.lists(
        st.one_of(
            st.tuples(st.just("keys"), st.sampled_from(sorted(KEYSETS))),
            st.tuples(st.just("verify"), st.sampled_from(sorted(ROTATION_TOKENS))),
            st.tuples(st.just("verify"), st.sampled_from(sorted(ROTATION_TOKENS))),
            st.tuples(st.just("wait"), st.sampled_from(["1", "29", "70", "99.5", "100", "131"])),
        ),
        max_size=25,
    )
)
@example(ops=[("verify", "k1 by A, expiring"), ("wait", "100"), ("verify", "k1 by A, expiring")])
@example(ops=[("verify", "k1 by A"), ("keys", "k2=B"), ("verify", "k1 by A")])
@example(ops=[("verify", "k1 by A"), ("keys", "k1=B k2=A"), ("verify", "k1 by A")])
@example(
    ops=[("keys", "k1=B"), ("verify", "k1 by B"), ("keys", "k1=A k2=B"), ("verify", "k1 by B")]
)
@example(ops=[("verify", "k1 by A"), ("keys", "ec only"), ("verify", "k1 by A")])
@example(ops=[("verify", "k1 by A"), ("keys", "unavailable"), ("verify", "k1 by A")])
def test_cache_hits_agree_with_a_cold_verifier(ops: list[tuple[str, str]]) -> None:
    source = NotifyingSource(KEYSETS["k1=A k2=B"]())
    v = Verifier(CACHE_SETTINGS, source=source)
    assert v.cache is not None
    now = float(NOW)
    for op, arg in ops:
        if op == "keys":
            source.replace(KEYSETS[arg]())
        elif op == "wait":
            now += float(arg)
        else:
            token = ROTATION_TOKENS[arg]
            cached = v.verify(token, now=now)
            cold = Verifier(SOURCE_SETTINGS, source=source).verify(token, now=now)
            assert cached == cold, (arg, now, cached, cold)
            assert_memo_current(v)
            note_outcome(cached, f"cache hits so far: {min(v.cache.hits, 3)}")


KID_MOVES = [
    ("k1=A k2=B", "k1=B k2=A", "k1 by A"),  # the kids swap keys
    ("k1=B", "k1=A k2=B", "k1 by B"),  # k1 moves to A; B stays, as k2
]


@pytest.mark.parametrize(("before", "after", "name"), KID_MOVES)
@pytest.mark.parametrize("cache", [False, True])
def test_a_kid_moving_to_another_key_is_kid_mismatch_at_once(
    before: str, after: str, name: str, cache: bool
) -> None:
    """The old key stays in the set (under another kid): neither the header plan nor a
    cached success may outlive the kid's move."""
    source = NotifyingSource(KEYSETS[before]())
    v = Verifier(CACHE_SETTINGS if cache else SOURCE_SETTINGS, source=source)
    token = ROTATION_TOKENS[name]
    assert isinstance(v.verify(token, now=NOW), VerifiedToken)  # warm (and cached)
    assert (v.cache is not None and len(v.cache) == 1) == cache
    source.replace(KEYSETS[after]())
    warm = v.verify(token, now=NOW)
    assert isinstance(warm, Failure) and warm.reason is Reason.kid_mismatch
    assert warm == Verifier(SOURCE_SETTINGS, source=source).verify(token, now=NOW)


@pytest.mark.parametrize("keys", ["k1=B", "k2=B", "k1=B k2=A", "empty"])
def test_cache_of_a_plain_key_provider_never_outlives_its_key_set(keys: str) -> None:
    """A KeyProvider that is not a RemoteKeyProvider tells no one about its changes:
    a cached success must still not outlive the key set that verified it."""
    source = MutableSource(KEYSETS["k1=A k2=B"]())
    v = Verifier(CACHE_SETTINGS, source=source)
    token = ROTATION_TOKENS["k1 by A"]
    assert isinstance(v.verify(token, now=NOW), VerifiedToken)
    assert v.cache is not None and len(v.cache) == 1
    source.replace(KEYSETS[keys]())
    warm = v.verify(token, now=NOW)
    assert warm == Verifier(SOURCE_SETTINGS, source=source).verify(token, now=NOW)
    assert isinstance(warm, Failure)
