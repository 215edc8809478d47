"""DPoP (RFC 9449): proofs, nonces and the jti replay stores (docs/dpop.md).

``proof`` verifies a proof and nothing else (no I/O); ``replay`` holds the
``jti`` stores (per process, or Redis shared by a fleet); ``setup`` is what one
middleware's request stages share. The names users reach for are here.
"""

from __future__ import annotations

from .proof import (
    Nonces,
    Proof,
    ProofPolicy,
    ath_of,
    bearer_refusal,
    binding_failure,
    count_proofs,
    verify_proof,
)
from .replay import MemoryReplayStore, RedisReplayStore, ReplayStore, replay_store_for

__all__ = [
    "MemoryReplayStore",
    "Nonces",
    "Proof",
    "ProofPolicy",
    "RedisReplayStore",
    "ReplayStore",
    "ath_of",
    "bearer_refusal",
    "binding_failure",
    "count_proofs",
    "replay_store_for",
    "verify_proof",
]
