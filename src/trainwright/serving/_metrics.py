"""Request counters and latency histograms, rendered as Prometheus text (exposition format 0.0.4).

The middleware in front of the app does the counting: it runs for every request (401 and 413 included), checks
the size limit and the API key before the app reads anything, and never lets an exception out as a 500.
"""

from __future__ import annotations

import hmac
import json
import threading
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["BUCKETS", "Guard", "Metrics"]

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
KNOWN_PATHS = frozenset({"/predict", "/health", "/metadata", "/metrics", "/drift", "/docs", "/openapi.json", "/redoc"})
OPEN_PATHS = frozenset({"/health", "/docs", "/openapi.json", "/redoc", "/docs/oauth2-redirect"})

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class Metrics:
    """Thread-safe counters: requests by method, path and status; latency histogram by path; predicted rows."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self.buckets: dict[str, list[int]] = defaultdict(lambda: [0] * (len(BUCKETS) + 1))
        self.sums: dict[str, float] = defaultdict(float)
        self.rows = 0

    def observe(self, method: str, path: str, status: int, seconds: float) -> None:
        path = path if path in KNOWN_PATHS else "other"
        with self._lock:
            self.requests[(method, path, status)] += 1
            counts = self.buckets[path]
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    counts[i] += 1
                    break
            else:
                counts[-1] += 1
            self.sums[path] += seconds

    def add_rows(self, n: int) -> None:
        with self._lock:
            self.rows += n

    def count(self, path: str, status: int | None = None) -> int:
        with self._lock:
            return sum(v for (_, p, s), v in self.requests.items() if p == path and (status is None or s == status))

    def render(self) -> str:
        with self._lock:
            lines = ["# HELP trainwright_requests_total HTTP requests by method, path and status.",
                     "# TYPE trainwright_requests_total counter"]
            lines += [f'trainwright_requests_total{{method="{m}",path="{p}",status="{s}"}} {v}'
                      for (m, p, s), v in sorted(self.requests.items())]
            errors: dict[tuple[str, int], int] = defaultdict(int)
            for (_, p, s), v in self.requests.items():
                if s >= 400:
                    errors[(p, s)] += v
            lines += ["# HELP trainwright_request_errors_total Requests answered with a 4xx or 5xx status.",
                      "# TYPE trainwright_request_errors_total counter"]
            lines += [f'trainwright_request_errors_total{{path="{p}",status="{s}"}} {v}' for (p, s), v in sorted(errors.items())]
            lines += ["# HELP trainwright_request_duration_seconds Time from request to response.",
                      "# TYPE trainwright_request_duration_seconds histogram"]
            for path, counts in sorted(self.buckets.items()):
                running = 0
                for bound, c in zip((*BUCKETS, float("inf")), counts, strict=True):
                    running += c
                    le = "+Inf" if bound == float("inf") else repr(bound)
                    lines.append(f'trainwright_request_duration_seconds_bucket{{path="{path}",le="{le}"}} {running}')
                lines.append(f'trainwright_request_duration_seconds_sum{{path="{path}"}} {self.sums[path]:.6f}')
                lines.append(f'trainwright_request_duration_seconds_count{{path="{path}"}} {running}')
            lines += ["# HELP trainwright_predictions_total Rows scored.", "# TYPE trainwright_predictions_total counter",
                      f"trainwright_predictions_total {self.rows}"]
        return "\n".join(lines) + "\n"


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
