"""idprules.py: the identity provider's rules as a policy beside the claims policy.

The policy builds the claims policy (the provider's issuers, an extra claim
rule), gives the claims stage its check (the claims policy's own bound method
when the provider adds nothing: nothing more on the success path), expects a
discovered issuer's other spellings, and advises on failures without ever
changing a reason. Over HTTP, against each provider's documented tokens:
contract/test_providers.py.
"""

from __future__ import annotations

import time
from typing import Any

from helpers.keys import AUDIENCE

from jwt_middleware import Failure, Reason, Settings
from jwt_middleware.tokens.claims import ClaimsPolicy
from jwt_middleware.tokens.idprules import ProviderPolicy

SECRET = "idp-rules-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
COGNITO = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_example"
NOW = time.time()


def policy_for(**values: Any) -> ProviderPolicy:
    return ProviderPolicy.from_settings(Settings(secret=SECRET, algorithms=("HS256",), **values))


def claims_policy(
    provider: ProviderPolicy, audiences: tuple[str, ...] = (AUDIENCE,)
) -> ClaimsPolicy:
    return provider.claims_policy(audiences=audiences, required=("exp",), leeway=30.0)


def reasons(found: list[Any] | None) -> list[Reason]:
    return [p.reason for p in found or ()]


def test_without_provider_rules_the_check_is_the_claims_policys_own() -> None:
    provider = policy_for(issuer="https://issuer.example.com/", audience=AUDIENCE)
    assert provider.provider is None
    policy = claims_policy(provider)
    assert type(policy) is ClaimsPolicy
    assert [name for name, _ in policy.rules] == ["exp", "nbf", "iat", "iss", "aud", "sub", "jti"]
    assert provider.claims_check(policy) == policy.problems  # the bound method itself
    assert "aud" in policy.required


def test_google_accepts_both_issuer_spellings_configured_and_discovered() -> None:
    provider = policy_for(issuer="https://accounts.google.com", audience=AUDIENCE)
    assert claims_policy(provider).issuers == {"https://accounts.google.com", "accounts.google.com"}
    assert set(provider.discovered_issuers("accounts.google.com")) == {
        "https://accounts.google.com",
        "accounts.google.com",
    }
    other = policy_for(issuer="https://issuer.example.com/", audience=AUDIENCE)
    assert other.discovered_issuers("https://issuer.example.com/") == (
        "https://issuer.example.com/",
    )


def test_an_entra_template_is_expanded_per_allowed_tenant() -> None:
    template = "https://login.microsoftonline.com/{tenantid}/v2.0"
    provider = policy_for(issuer=template, audience=AUDIENCE, idp_tenants="t1, t2")
    assert claims_policy(provider).issuers == {
        "https://login.microsoftonline.com/t1/v2.0",
        "https://login.microsoftonline.com/t2/v2.0",
    }


def test_cognito_client_id_stands_for_a_missing_aud() -> None:
    provider = policy_for(issuer=COGNITO, audience=AUDIENCE)
    policy = claims_policy(provider)
    assert "aud" not in policy.required and not policy.require_audience
    check = provider.claims_check(policy)
    base = {"iss": COGNITO, "exp": NOW + 60}
    assert check({**base, "client_id": AUDIENCE}, NOW) is None
    assert check({**base, "aud": AUDIENCE}, NOW) is None
    assert reasons(check({**base, "client_id": "another"}, NOW)) == [Reason.audience_mismatch]
    neither = check(base, NOW)
    assert reasons(neither) == [Reason.missing_claim]
    assert neither is not None and neither[0].detail == "Neither 'aud' nor 'client_id' is present."
    # aud present decides alone, as without the rule
    assert reasons(check({**base, "aud": "another", "client_id": AUDIENCE}, NOW)) == [
        Reason.audience_mismatch
    ]
    # problems of the claims policy come first, the stand-in's last
    both = check({"iss": COGNITO, "exp": NOW - 3600, "client_id": 5}, NOW)
    assert reasons(both) == [Reason.token_expired, Reason.invalid_claim]


def test_cognito_token_use_is_a_rule_only_when_named() -> None:
    recognised = claims_policy(policy_for(issuer=COGNITO, audience=AUDIENCE))
    assert "token_use" not in recognised.required
    named = claims_policy(policy_for(issuer=COGNITO, audience=AUDIENCE, idp="cognito"))
    assert named.required[-1] == "token_use"
    assert [name for name, _ in named.rules][-1] == "token_use"
    base = {"iss": COGNITO, "exp": NOW + 60, "aud": AUDIENCE}
    assert named.problems({**base, "token_use": "access"}, NOW) is None
    assert reasons(named.problems({**base, "token_use": "id"}, NOW)) == [Reason.invalid_claim]
    assert reasons(named.problems(base, NOW)) == [Reason.missing_claim]
    # a discovered issuer keeps the rule
    assert [name for name, _ in named.with_issuer(COGNITO).rules][-1] == "token_use"


def test_advice_names_an_id_token_and_never_changes_the_reason() -> None:
    provider = policy_for(issuer="https://issuer.example.com/", audience=AUDIENCE)
    failure = Failure(Reason.audience_mismatch, "The token's audience is 'web-client'.", hint="H.")
    claims = {"aud": "web-client", "azp": "web-client", "nonce": "n-0S6"}
    advised = provider.advise(failure, {"alg": "RS256"}, claims, (AUDIENCE,))
    assert advised.reason is failure.reason and advised.detail == failure.detail
    assert advised.hint is not None
    assert "OpenID Connect ID token" in advised.hint and advised.hint.endswith("H.")
    plain = provider.advise(failure, {"alg": "RS256"}, {"aud": "other"}, (AUDIENCE,))
    assert plain is failure


def test_with_idp_auto_a_tokens_own_issuer_names_the_provider_for_a_hint_only() -> None:
    failure = Failure(Reason.audience_mismatch, "The token's audience is 'account'.")
    claims = {"iss": "https://sso.example.com/realms/main", "aud": "account"}
    auto = policy_for(issuer="https://issuer.example.com/", audience=AUDIENCE)
    assert auto.provider is None
    advised = auto.advise(failure, {"alg": "RS256"}, claims, (AUDIENCE,))
    assert advised.hint is not None and advised.hint.startswith("Keycloak:")
    off = policy_for(issuer="https://issuer.example.com/", audience=AUDIENCE, idp="none")
    assert off.advise(failure, {"alg": "RS256"}, claims, (AUDIENCE,)) is failure


def test_the_header_of_an_encrypted_token_is_read_for_the_hint_only() -> None:
    provider = policy_for(audience=AUDIENCE)
    jwe = "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIiwiaXNzIjoiaHR0cHM6Ly90LmF1dGgwLmNvbS8ifQ....."
    encrypted = Failure(Reason.encrypted_token, "five segments")
    assert provider.unparsed_header(encrypted, jwe) == {
        "alg": "dir",
        "enc": "A256GCM",
        "iss": "https://t.auth0.com/",
    }
    assert provider.unparsed_header(Failure(Reason.malformed_token, "x"), jwe) is None
