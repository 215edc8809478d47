"""A ``/metrics`` route for Starlette and FastAPI, one worker or several.

``prometheus_client.make_asgi_app()`` mounted with ``app.mount("/metrics",
...)`` answers ``/metrics`` with a redirect to ``/metrics/``, and with
several workers it shows whichever worker answered the scrape. This endpoint
is a plain route instead, so ``GET /metrics`` answers 200 directly, and it
follows prometheus-client's multiprocess mode:

- with ``PROMETHEUS_MULTIPROC_DIR`` set (read at each scrape), every scrape
  builds a fresh ``CollectorRegistry`` holding only a
  ``MultiProcessCollector`` over that directory: the sum (or, for the key
  gauges, the ``livemax``) over all the workers, whichever worker answers;
- otherwise the ``registry`` given (default: the global ``REGISTRY``).

``registry=`` given explicitly is always served as is. The body is in the
text format, or OpenMetrics when the scraper's ``Accept`` asks for it; a
``name[]`` query parameter restricts the output to those metric names, as
``make_asgi_app`` does.

Usage::

    from jwt_middleware.metrics_endpoint import metrics_endpoint

    app.add_route("/metrics", metrics_endpoint(), include_in_schema=False)  # FastAPI
    Route("/metrics", metrics_endpoint())  # Starlette

with ``/metrics`` in the middleware's ``public_paths`` (or protect it).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.exposition import choose_encoder
from starlette.requests import Request
from starlette.responses import Response

__all__ = ["MULTIPROC_DIR_VARIABLE", "exposition", "metrics_endpoint", "scrape_registry"]

MULTIPROC_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


def scrape_registry(registry: CollectorRegistry | None = None) -> CollectorRegistry:
    """What one scrape reads: ``registry`` if given; else, under PROMETHEUS_MULTIPROC_DIR,
    a fresh registry with a MultiProcessCollector; else the global REGISTRY."""
    if registry is not None:
        return registry
    if os.environ.get(MULTIPROC_DIR_VARIABLE):
        from prometheus_client import multiprocess

        fresh = CollectorRegistry()
        multiprocess.MultiProcessCollector(fresh)  # type: ignore[no-untyped-call]
        return fresh
    return REGISTRY


def exposition(
    registry: CollectorRegistry, accept: str = "", names: list[str] | None = None
) -> tuple[bytes, str]:
    """The body and content type for a scraper sending ``accept``."""
    encoder, content_type = choose_encoder(accept)
    source = registry.restricted_registry(names) if names else registry
    return encoder(source), content_type


def metrics_endpoint(
    registry: CollectorRegistry | None = None,
) -> Callable[[Request], Awaitable[Response]]:
    """A request -> response endpoint serving the metrics (see the module docstring)."""

    async def metrics(request: Request) -> Response:
        names = request.query_params.getlist("name[]")
        body, content_type = exposition(
            scrape_registry(registry), request.headers.get("accept", ""), names
        )
        return Response(body, headers={"Content-Type": content_type})

    return metrics
