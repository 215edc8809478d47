"""Security Event Tokens for the tests, in the shapes the specifications and Keycloak use.

Each builder returns the claims of one SET (RFC 8417) naming the given user
(``sub``) or session (``sid``); :func:`sign_set` signs them (PyJWT, another
library than ours) with header ``typ`` ``secevent+jwt`` and a ``kid``. The
shapes, taken from the documents' own examples:

- ``rfc8417_risc``: RFC 8417 figure 4, a RISC account-disabled event whose
  subject sits in the event, ``"subject_type": "iss-sub"``;
- ``risc_legacy``: RISC Event Types 1.0 (the same subject shape) for any RISC event;
- ``risc_ssf``: the RISC profile on SSF 1.0: ``sub_id`` at the top,
  ``"format": "iss_sub"``;
- ``caep_session_complex``: CAEP 1.0's session-revoked with a complex subject
  (``session`` opaque, ``user`` iss_sub, ``tenant``), ``initiating_entity``,
  ``reason_admin``, ``reason_user``, ``event_timestamp``;
- ``caep_credential_change``: CAEP 1.0's credential-change (a FIDO2 key created);
- ``keycloak_logout`` / ``keycloak_logout_all`` / ``keycloak_credential_change``:
  what Keycloak's SSF transmitter sends (SecurityEventTokenMapper): ``aud`` an
  array, ``txn``, a complex ``sub_id`` of the user (iss_sub, the realm's issuer)
  and the session (opaque, the token's ``sid``; ``ALL`` when an administrator
  logs every session of the user out), ``event_timestamp`` and ``reason_admin``.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt as pyjwt

from helpers.keys import ISSUER

#: The transmitter's issuer: the tokens' own (an identity provider transmitting its events).
TRANSMITTER = ISSUER
#: This API as the audience of the events.
RECEIVER_AUDIENCE = "https://api.example.test/ssf"
#: The path the receiver is served at.
SSF_PATH = "/ssf/events"
CAEP = "https://schemas.openid.net/secevent/caep/event-type/"
RISC = "https://schemas.openid.net/secevent/risc/event-type/"
SESSION_REVOKED = CAEP + "session-revoked"
CREDENTIAL_CHANGE = CAEP + "credential-change"
ACCOUNT_DISABLED = RISC + "account-disabled"
ACCOUNT_PURGED = RISC + "account-purged"
SESSIONS_REVOKED = RISC + "sessions-revoked"
VERIFICATION = "https://schemas.openid.net/secevent/ssf/event-type/verification"


def envelope(events: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """The SET's own claims (RFC 8417 section 2.2) around ``events``."""
    claims: dict[str, Any] = {
        "iss": TRANSMITTER,
        "jti": uuid.uuid4().hex,
        "iat": int(time.time()),
        "aud": RECEIVER_AUDIENCE,
        "events": events,
    }
    claims.update(extra)
    return {k: v for k, v in claims.items() if v is not None}


def iss_sub(sub: str, iss: str = TRANSMITTER, *, legacy: bool = False) -> dict[str, str]:
    if legacy:
        return {"subject_type": "iss-sub", "iss": iss, "sub": sub}
    return {"format": "iss_sub", "iss": iss, "sub": sub}


def rfc8417_risc(sub: str, **extra: Any) -> dict[str, Any]:
    return envelope(
        {ACCOUNT_DISABLED: {"subject": iss_sub(sub, legacy=True), "reason": "hijacking"}},
        **extra,
    )


def risc_legacy(event: str, sub: str, **extra: Any) -> dict[str, Any]:
    return envelope({event: {"subject": iss_sub(sub, legacy=True)}}, **extra)


def risc_ssf(event: str, sub: str, **extra: Any) -> dict[str, Any]:
    return envelope({event: {}}, sub_id=iss_sub(sub), **extra)


def caep_session_complex(sub: str, sid: str, **extra: Any) -> dict[str, Any]:
    return envelope(
        {
            SESSION_REVOKED: {
                "initiating_entity": "policy",
                "reason_admin": {"en": "Landspeed Policy Violation: C076E82F"},
                "reason_user": {"en": "Access attempt from multiple regions."},
                "event_timestamp": int(time.time()),
            }
        },
        sub_id={
            "format": "complex",
            "session": {"format": "opaque", "id": sid},
            "user": iss_sub(sub),
            "tenant": {"format": "opaque", "id": "123456789"},
        },
        **extra,
    )


def caep_credential_change(sub: str, **extra: Any) -> dict[str, Any]:
    return envelope(
        {
            CREDENTIAL_CHANGE: {
                "credential_type": "fido2-roaming",
                "change_type": "create",
                "fido2_aaguid": "accced6a-63f5-490a-9eea-e59bc1896cfc",
                "friendly_name": "Jane's USB authenticator",
                "initiating_entity": "user",
                "reason_admin": {"en": "User self-enrollment"},
                "event_timestamp": int(time.time()),
            }
        },
        sub_id=iss_sub(sub),
        **extra,
    )


def _keycloak(events: dict[str, Any], sub_id: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return envelope(
        events,
        aud=[RECEIVER_AUDIENCE],
        txn=str(uuid.uuid4()),
        sub_id=sub_id,
        **extra,
    )


def keycloak_logout(sub: str, sid: str, **extra: Any) -> dict[str, Any]:
    return _keycloak(
        {
            SESSION_REVOKED: {
                "reason_admin": {"en": "User logout"},
                "event_timestamp": int(time.time()),
            }
        },
        {"format": "complex", "user": iss_sub(sub), "session": {"format": "opaque", "id": sid}},
        **extra,
    )


def keycloak_logout_all(sub: str, **extra: Any) -> dict[str, Any]:
    return keycloak_logout(sub, "ALL", **extra)


def keycloak_credential_change(sub: str, **extra: Any) -> dict[str, Any]:
    return _keycloak(
        {
            CREDENTIAL_CHANGE: {
                "change_type": "update",
                "event_timestamp": int(time.time()),
                "credential_type": "password",
                "initiating_entity": "user",
            }
        },
        iss_sub(sub),
        **extra,
    )


def sign_set(
    claims: dict[str, Any],
    key: Any,
    alg: str = "ES256",
    *,
    kid: str = "transmitter-1",
    typ: str | None = "secevent+jwt",
) -> str:
    """The SET signed with ``key`` (PyJWT), header ``typ`` (None: none) and ``kid``."""
    headers: dict[str, Any] = {"kid": kid, "typ": typ}  # typ None: no typ at all (PyJWT)
    return pyjwt.encode(claims, key, algorithm=alg, headers=headers)
