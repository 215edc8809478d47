"""jwt_middleware/revocation/events.py: a verified SET read into revocations.

Each honoured event type in the shapes of the specifications' examples and of
Keycloak's transmitter (tests/helpers/sets.py); the subjects this API does not act
on (email, opaque, phone) are not honoured, never an error; what is wrong with an
event gets its RFC 8935 error. Hypothesis: arbitrary claims never make it raise.
"""

from __future__ import annotations

from typing import Any

import pytest
from helpers import sets
from hypothesis import given, settings
from hypothesis import strategies as st

from jwt_middleware.revocation.events import Reading, Target, read_event

SUB, SID = "248289761001", "sid-5a1f"
SUBJECT = (Target("subject", SUB),)


@pytest.mark.parametrize(
    ("claims", "label", "targets"),
    [
        (sets.rfc8417_risc(SUB), "risc-account-disabled", SUBJECT),
        (sets.risc_legacy(sets.ACCOUNT_PURGED, SUB), "risc-account-purged", SUBJECT),
        (sets.risc_legacy(sets.SESSIONS_REVOKED, SUB), "risc-sessions-revoked", SUBJECT),
        (sets.risc_ssf(sets.ACCOUNT_DISABLED, SUB), "risc-account-disabled", SUBJECT),
        (sets.risc_ssf(sets.ACCOUNT_PURGED, SUB), "risc-account-purged", SUBJECT),
        (sets.risc_ssf(sets.SESSIONS_REVOKED, SUB), "risc-sessions-revoked", SUBJECT),
        (
            sets.caep_session_complex(SUB, SID),
            "caep-session-revoked",
            (Target("session", SID),),
        ),
        (sets.caep_credential_change(SUB), "caep-credential-change", SUBJECT),
        (sets.keycloak_logout(SUB, SID), "caep-session-revoked", (Target("session", SID),)),
        (sets.keycloak_logout_all(SUB), "caep-session-revoked", SUBJECT),
        (sets.keycloak_credential_change(SUB), "caep-credential-change", SUBJECT),
        # a session-revoked event naming the user alone revokes the user
        (
            sets.envelope({sets.SESSION_REVOKED: {}}, sub_id=sets.iss_sub(SUB)),
            "caep-session-revoked",
            SUBJECT,
        ),
        (
            sets.envelope(
                {sets.SESSION_REVOKED: {}}, sub_id={"format": "complex", "user": sets.iss_sub(SUB)}
            ),
            "caep-session-revoked",
            SUBJECT,
        ),
        # RFC 8417: the subject named by the SET's own sub, in its issuer's namespace
        (sets.envelope({sets.ACCOUNT_DISABLED: {}}, sub=SUB), "risc-account-disabled", SUBJECT),
    ],
)
def test_each_honoured_event_in_its_example_shape(
    claims: dict[str, Any], label: str, targets: tuple[Target, ...]
) -> None:
    reading = read_event(claims)
    assert reading == Reading(label, targets=targets, subject_format=reading.subject_format)
    assert reading.subject_format in ("iss_sub", "complex")


@pytest.mark.parametrize(
    ("sub_id", "why"),
    [
        ({"format": "email", "email": "user@example.com"}, "a user named by 'email'"),
        ({"format": "opaque", "id": "11112222333344445555"}, "a user named by 'opaque'"),
        ({"format": "phone_number", "phone_number": "+12065550100"}, "'phone_number'"),
        ({"format": "complex", "tenant": {"format": "opaque", "id": "t"}}, "without a user"),
        (
            {"format": "complex", "user": {"format": "email", "email": "user@example.com"}},
            "a user named by 'email'",
        ),
    ],
)
def test_a_user_without_a_sub_is_not_honoured(sub_id: dict[str, Any], why: str) -> None:
    reading = read_event(sets.envelope({sets.CREDENTIAL_CHANGE: {}}, sub_id=sub_id))
    assert reading.label == "caep-credential-change"
    assert reading.targets == () and reading.error is None
    assert reading.not_honoured is not None and why in reading.not_honoured


def test_a_session_of_an_email_user_is_still_revoked_by_its_sid() -> None:
    """Keycloak with the email subject format: the session is an opaque id all the same."""
    sub_id = {
        "format": "complex",
        "user": {"format": "email", "email": "user@example.com"},
        "session": {"format": "opaque", "id": SID},
    }
    reading = read_event(sets.envelope({sets.SESSION_REVOKED: {}}, sub_id=sub_id))
    assert reading.targets == (Target("session", SID),)


def test_a_session_not_named_by_an_opaque_id_is_not_honoured() -> None:
    sub_id = {"format": "complex", "session": {"format": "uri", "uri": "urn:session:1"}}
    reading = read_event(sets.envelope({sets.SESSION_REVOKED: {}}, sub_id=sub_id))
    assert reading.not_honoured is not None and "'uri'" in reading.not_honoured


@pytest.mark.parametrize(
    "event", [sets.VERIFICATION, sets.RISC + "account-enabled", "urn:example:custom"]
)
def test_an_event_type_not_acted_on_is_not_honoured(event: str) -> None:
    reading = read_event(sets.envelope({event: {"state": "VGhpcyBpcyBhbiBleGFtcGxl"}}))
    assert reading.label == "other"
    assert reading.error is None and reading.targets == ()
    assert reading.not_honoured is not None


@pytest.mark.parametrize(
    ("claims", "err", "words"),
    [
        (sets.envelope({}), "invalid_request", "has 0 events"),
        (
            sets.envelope({sets.ACCOUNT_DISABLED: {}, sets.ACCOUNT_PURGED: {}}, sub=SUB),
            "invalid_request",
            "has 2 events",
        ),
        (sets.envelope(["not", "an", "object"]), "invalid_request", "no 'events' object"),  # type: ignore[arg-type]
        (sets.envelope({sets.ACCOUNT_DISABLED: "x"}, sub=SUB), "invalid_request", "payload"),
        (sets.envelope({sets.ACCOUNT_DISABLED: {}}), "invalid_request", "names no subject"),
        (
            sets.envelope({sets.ACCOUNT_DISABLED: {}}, sub_id="iss_sub"),
            "invalid_request",
            "not a JSON object",
        ),
        (
            sets.envelope({sets.ACCOUNT_DISABLED: {}}, sub_id={"iss": "a", "sub": "b"}),
            "invalid_request",
            "no format",
        ),
        (
            sets.envelope({sets.ACCOUNT_DISABLED: {}}, sub_id={"format": "iss_sub", "sub": 5}),
            "invalid_request",
            "string 'iss' and 'sub'",
        ),
        (
            sets.envelope({sets.ACCOUNT_DISABLED: {}}, sub_id={"format": "complex", "user": 1}),
            "invalid_request",
            "'user' is not a JSON object",
        ),
        (
            sets.risc_ssf(sets.ACCOUNT_DISABLED, SUB) | {"iss": "https://other.example/"},
            "access_denied",
            "may revoke its own subjects only",
        ),
        (
            sets.caep_session_complex(SUB, SID)
            | {
                "sub_id": {
                    "format": "complex",
                    "user": sets.iss_sub(SUB, "https://x/"),
                    "session": {"format": "opaque", "id": SID},
                }
            },
            "access_denied",
            "https://x/",
        ),
    ],
)
def test_what_is_wrong_with_an_event_gets_its_rfc8935_error(
    claims: dict[str, Any], err: str, words: str
) -> None:
    reading = read_event(claims)
    assert reading.error is not None, reading
    assert reading.error[0] == err
    assert words in reading.error[1], reading.error[1]
    assert reading.targets == ()


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text()),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=12,
)
subjects = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"format": st.sampled_from(["iss_sub", "complex", "email", "opaque", "", "ISS-SUB"])},
        optional={
            "iss": st.one_of(st.just(sets.TRANSMITTER), st.text()),
            "sub": json_values,
            "user": json_values,
            "session": st.one_of(
                json_values, st.fixed_dictionaries({"format": st.just("opaque"), "id": json_values})
            ),
        },
    ),
)


@settings(max_examples=300, deadline=None)
@given(
    event=st.one_of(
        st.sampled_from(
            sorted(
                k
                for k in vars(sets).values()
                if isinstance(k, str) and k.startswith("https://schemas")
            )
        ),
        st.text(),
    ),
    payload=st.one_of(json_values, st.fixed_dictionaries({}, optional={"subject": subjects})),
    sub_id=st.one_of(st.none(), subjects),
    iss=st.one_of(st.just(sets.TRANSMITTER), json_values),
    extra_events=st.integers(0, 2),
)
def test_reading_any_claims_never_raises(
    event: str, payload: Any, sub_id: Any, iss: Any, extra_events: int
) -> None:
    events = {event: payload, **{f"urn:x:{i}": {} for i in range(extra_events)}}
    reading = read_event(sets.envelope(events, sub_id=sub_id, iss=iss))
    assert isinstance(reading, Reading)
    assert (reading.error is not None) + (reading.not_honoured is not None) + bool(
        reading.targets
    ) == 1
    for target in reading.targets:
        assert target.kind in ("session", "subject") and isinstance(target.value, str)
