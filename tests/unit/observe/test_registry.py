"""observe/registry.py: one set of metric families per registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

from jwt_middleware.observe.introspectionmetrics import introspection_metrics
from jwt_middleware.observe.observer import metrics_for
from jwt_middleware.observe.registry import per_registry
from jwt_middleware.observe.revocation import revocation_metrics_for


def test_built_once_per_registry() -> None:
    built: list[CollectorRegistry] = []

    @per_registry
    def families(registry: CollectorRegistry) -> Counter:
        """A family."""
        built.append(registry)
        return Counter("x", "A family.", registry=registry)

    one, two = CollectorRegistry(), CollectorRegistry()
    assert families(one) is families(one)
    assert families(two) is not families(one)
    assert built == [one, two]
    assert families.__doc__ == "A family."
    three = CollectorRegistry()
    families(three)  # a new registry: built again, no name clash
    assert built == [one, two, three]


def test_each_group_of_families_is_found_again_in_its_registry() -> None:
    registry = CollectorRegistry()
    for make in (metrics_for, introspection_metrics, revocation_metrics_for):
        assert make(registry) is make(registry)  # a second registration would raise
