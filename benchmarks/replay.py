"""The per-process DPoP replay store's capacity: bytes per entry, and what the default holds.

A DPoP proof's ``jti`` is remembered for the replay window (``dpop_iat_window``
plus twice ``leeway``: 120 s by default), so a process serving R DPoP requests
a second holds R x window entries at any time. This step measures what one
entry costs and reports what the defaults hold; ``make bench`` (run.py) puts
it next to the highest DPoP rate the end-to-end step measured.

- bytes per entry: ``tracemalloc``'s traced bytes after ``--entries`` first
  uses in the store the default settings make (``replay_store_for``), keys as
  the binding stage forms them (``<jkt>:<jti>``, a 43-character thumbprint,
  a UUID jti) from ``--clients`` clients, over the empty store's, divided by
  the entries (garbage collected before each reading);
- µs per first use with the store that full (the median of batches);
- the defaults: ``dpop_replay_max_entries``, the per-client share, the window,
  the rate they hold for a whole window (all clients, and one client), and
  the memory of a full store at the measured bytes per entry.

    python -m benchmarks.replay [--entries 200000] [--clients 100] [--json out.json]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import time
import tracemalloc
import uuid
from pathlib import Path
from typing import Any

from jwt_middleware import Settings
from jwt_middleware.dpop.replay import MemoryReplayStore, replay_store_for

from .common import loadavg, log, table


def defaults() -> dict[str, Any]:
    """The per-process store the default settings make, and its window."""
    settings = Settings(secret="x" * 32, algorithms=("HS256",))
    store = replay_store_for(settings)
    assert isinstance(store, MemoryReplayStore), store
    window = settings.dpop_iat_window + 2 * settings.leeway  # as dpop/setup.py
    return {
        "max_entries": store.max_entries,
        "max_per_client": store.max_per_client,
        "window_s": window,
        "rate_held": store.max_entries / window,
        "rate_held_one_client": store.max_per_client / window,
    }


def measure(entries: int, clients: int) -> dict[str, Any]:
    thumbprints = [uuid.uuid4().hex.ljust(43, "A")[:43] for _ in range(clients)]
    keys = [
        (f"{thumbprints[i % clients]}:{uuid.uuid4()}", thumbprints[i % clients])
        for i in range(entries)
    ]
    store = replay_store_for(Settings(secret="x" * 32, algorithms=("HS256",)))
    assert isinstance(store, MemoryReplayStore), store
    store.max_entries = store.max_per_client = entries + 1  # room for the measurement
    window = defaults()["window_s"]
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for key, client in keys:
        assert store.check(key, window, client) is True
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert len(store) == entries
    # First uses with the store this full (each batch's entries removed again after it).
    batch, samples = 1000, []
    for _ in range(20):
        fresh = [(f"{thumbprints[0]}:{uuid.uuid4()}", thumbprints[0]) for _ in range(batch)]
        started = time.perf_counter()
        for key, client in fresh:
            store.check(key, window, client)
        samples.append((time.perf_counter() - started) / batch * 1e6)
        store.max_entries = store.max_per_client = len(store) + batch + 1
    return {
        "entries": entries,
        "clients": clients,
        "bytes_per_entry": (after - before) / entries,
        "us_per_first_use": statistics.median(samples),
    }


def render(data: dict[str, Any]) -> str:
    d, m = data["defaults"], data["measured"]
    full = d["max_entries"] * m["bytes_per_entry"]
    rows = [
        [
            "bytes per entry (tracemalloc)",
            f"{m['bytes_per_entry']:.0f} ({m['entries']:,} entries, {m['clients']} clients)",
        ],
        ["µs per first use, store that full", f"{m['us_per_first_use']:.2f}"],
        ["replay window (dpop_iat_window + 2 x leeway)", f"{d['window_s']:g} s"],
        ["dpop_replay_max_entries (default)", f"{d['max_entries']:,}"],
        ["per-client share (default: half)", f"{d['max_per_client']:,}"],
        [
            "DPoP rate held for a whole window: all clients / one client",
            f"{d['rate_held']:,.0f} / {d['rate_held_one_client']:,.0f} req/s",
        ],
        ["memory of a full store (entries x bytes per entry)", f"{full / 2**20:.0f} MiB"],
    ]
    return table(["replay store (per process)", "value"], rows, align="ll")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--entries", type=int, default=int(os.environ.get("BENCH_REPLAY_ENTRIES", 200_000))
    )
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    started = time.monotonic()
    log(f"replay: {args.entries:,} entries from {args.clients} clients (load {loadavg()})")
    data: dict[str, Any] = {"defaults": defaults(), "measured": measure(args.entries, args.clients)}
    text = render(data)
    print(text)
    data["seconds"] = round(time.monotonic() - started, 1)
    data["markdown"] = text
    log(f"replay: done in {data['seconds']} s")
    if args.json:
        args.json.write_text(json.dumps(data, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
