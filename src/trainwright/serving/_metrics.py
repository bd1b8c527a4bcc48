"""Request counters and latency histograms from ``prometheus_client``, in a registry of the app's own.

Each app gets its own ``CollectorRegistry`` (not the process-wide default), so two apps in one process (tests, or
two bundles served side by side) never clash over metric names. ``/metrics`` answers ``generate_latest`` with
``CONTENT_TYPE_LATEST``.

The middleware in front of the app does the counting: it runs for every request (401 and 413 included), checks
the size limit and the API key before the app reads anything, and never lets an exception out as a 500.
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

__all__ = ["BUCKETS", "CONTENT_TYPE", "Guard", "Metrics"]

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
CONTENT_TYPE = CONTENT_TYPE_LATEST
KNOWN_PATHS = frozenset({"/predict", "/health", "/metadata", "/metrics", "/drift", "/docs", "/openapi.json", "/redoc"})
OPEN_PATHS = frozenset({"/health", "/docs", "/openapi.json", "/redoc", "/docs/oauth2-redirect"})

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class Metrics:
    """The app's metrics: requests by method, path and status; errors (4xx, 5xx) by path and status; latency
    histogram by path; predicted rows. Paths outside the app's routes count as "other" (bounded label values)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("trainwright_requests", "HTTP requests by method, path and status.",
                                ["method", "path", "status"], registry=self.registry)
        self.errors = Counter("trainwright_request_errors", "Requests answered with a 4xx or 5xx status.",
                              ["path", "status"], registry=self.registry)
        self.latency = Histogram("trainwright_request_duration_seconds", "Time from request to response.", ["path"],
                                 buckets=BUCKETS, registry=self.registry)
        self.rows = Counter("trainwright_predictions", "Rows scored.", registry=self.registry)

    def observe(self, method: str, path: str, status: int, seconds: float) -> None:
        path = path if path in KNOWN_PATHS else "other"
        self.requests.labels(method=method, path=path, status=str(status)).inc()
        if status >= 400:
            self.errors.labels(path=path, status=str(status)).inc()
        self.latency.labels(path=path).observe(seconds)

    def add_rows(self, n: int) -> None:
        self.rows.inc(n)

    def count(self, path: str, status: int | None = None) -> int:
        """Requests seen for ``path`` (and ``status``), summed over methods."""
        total = 0.0
        for family in self.requests.collect():
            for sample in family.samples:
                labels = sample.labels
                if (sample.name.endswith("_total") and labels["path"] == path
                        and (status is None or labels["status"] == str(status))):
                    total += sample.value
        return int(total)

    def render(self) -> bytes:
        """The Prometheus text exposition of this app's registry."""
        return generate_latest(self.registry)


async def _json(send: Send, status: int, payload: dict[str, Any], headers: list[tuple[bytes, bytes]] = ()) -> None:  # type: ignore[assignment]
    body = json.dumps(payload).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": body})


class Guard:
    """Pure ASGI middleware: size limit (413), API key (401), metrics, and a last-resort JSON error."""

    def __init__(self, app: Any, metrics: Metrics, *, max_body_bytes: int, api_key: str | None,
                 on_error: Callable[[BaseException], None] | None = None) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self.api_key = api_key.encode() if api_key else None
        self.on_error = on_error

    def _authorized(self, headers: dict[bytes, bytes]) -> bool:
        given = headers.get(b"x-api-key")
        if given is None and headers.get(b"authorization", b"").lower().startswith(b"bearer "):
            given = headers[b"authorization"][7:].strip()
        return given is not None and self.api_key is not None and hmac.compare_digest(given, self.api_key)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = [0]  # 0 until the response starts

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        path = scope.get("path", "")
        headers = dict(scope.get("headers") or [])
        try:
            length = headers.get(b"content-length")
            if length is not None and (not length.isdigit() or int(length) > self.max_body_bytes):
                await _json(send_status, 413, {"detail": [{"field": "body", "type": "too_large", "problem": (
                    f"request body over the limit of {self.max_body_bytes} bytes; send fewer rows per request")}]})
            elif self.api_key is not None and path not in OPEN_PATHS and not self._authorized(headers):
                await _json(send_status, 401, {"detail": [{"field": "X-API-Key", "type": "unauthorized",
                                                           "problem": "missing or wrong API key"}]},
                            [(b"www-authenticate", b"ApiKey")])
            else:
                await self.app(scope, receive, send_status)
        except Exception as exc:  # the app's handlers map every expected error; this is the last resort
            if self.on_error is not None:
                self.on_error(exc)
            if status[0] == 0:
                await _json(send_status, 500, {"detail": [{"field": "server", "type": "internal",
                                                           "problem": f"{type(exc).__name__}"}]})
        finally:
            self.metrics.observe(scope.get("method", ""), path, status[0] or 500, time.perf_counter() - start)
