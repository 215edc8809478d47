"""JWT_METRICS's values and validator (jwt_middleware/values/metricsmode.py); read from
the environment in tests/unit/test_settings.py."""

from __future__ import annotations

from types import SimpleNamespace
from typing import get_args

import pytest

from jwt_middleware import ConfigurationError
from jwt_middleware.values.metricsmode import METRICS_MODES, MetricsMode, check_metrics


def test_the_modes_are_the_contracts_and_the_annotations() -> None:
    assert METRICS_MODES == ("prometheus", "otel", "both", "none") == get_args(MetricsMode)
    for mode in METRICS_MODES:
        check_metrics(SimpleNamespace(metrics=mode))


@pytest.mark.parametrize("value", ["statsd", "OTEL", "", "prometheus,otel"])
def test_anything_else_is_refused_naming_the_variable(value: str) -> None:
    with pytest.raises(ConfigurationError, match=r"metrics: .* is not one of .*\(JWT_METRICS\)"):
        check_metrics(SimpleNamespace(metrics=value))
