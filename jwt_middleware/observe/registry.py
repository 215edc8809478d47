"""One set of metric families per registry: :func:`per_registry`.

Each group of families (the middleware's, introspection's, revocation's) is
created in a registry the first time that registry is used, then found again
for every later middleware given the same registry (prometheus-client refuses a
family registered twice). The memo holds registries weakly: a registry the
application drops takes its families with it. A leaf module.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar
from weakref import WeakKeyDictionary

from prometheus_client import CollectorRegistry

T = TypeVar("T")


def per_registry(build: Callable[[CollectorRegistry], T]) -> Callable[[CollectorRegistry], T]:
    """``build(registry)`` once per registry; later calls return what it built."""
    made: WeakKeyDictionary[CollectorRegistry, T] = WeakKeyDictionary()

    @functools.wraps(build)
    def families(registry: CollectorRegistry) -> T:
        found = made.get(registry)
        if found is None:
            found = made[registry] = build(registry)
        return found

    return families
