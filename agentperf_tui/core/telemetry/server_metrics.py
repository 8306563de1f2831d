"""Scrapes the inference server's own /metrics in a thread of its own (vLLM, SGLang, llama.cpp).

What the server says it is doing (batch size, queue, KV-cache use, prefix-cache hit rate,
token rates) beside what the agents measure. Rates and the hit rate are taken over the last
`rate_window_s` of scrapes. A server without /metrics, or one that answers garbage, is a state
shown in the view's note; the run goes on.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable

import httpx

from agentperf_tui.core.endpoint import normalise_base_url
from agentperf_tui.core.telemetry.base import TelemetryUnavailable
from agentperf_tui.core.telemetry.promtext import (
    DEFAULT_TIMEOUT,
    fetch_text,
    make_client,
    parse_prometheus_text,
)
from agentperf_tui.core.telemetry.server_dialects import Dialect, Reading, detect, normalise, reduce
from agentperf_tui.core.telemetry.ticker import Ticker
from agentperf_tui.core.views import ServerView

log = logging.getLogger(__name__)

ENABLE_HINT = "vLLM serves /metrics by default; llama.cpp needs --metrics, SGLang --enable-metrics"


def metrics_url_for(base_url: str) -> str:
    """`http://h:8000/v1` -> `http://h:8000/metrics` (the OpenAI base path is dropped)."""
    return normalise_base_url(base_url) + "/metrics"


class ServerMetricsScraper:
    def __init__(
        self,
        base_url: str,
        *,
        interval_s: float = 1.0,
        clock: Callable[[], float],
        api_key: str | None = None,
        rate_window_s: float = 5.0,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        max_pending: int = 100_000,
    ) -> None:
        self.url = metrics_url_for(base_url)
        self.clock = clock
        self.interval_s = interval_s
        self.rate_window_s = max(rate_window_s, 2 * interval_s)
        self._headers = {"Accept": "text/plain"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._timeout = timeout
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()
        self._history: deque[tuple[float, Reading]] = deque()
        self._dialect: Dialect | None = None
        self._values: dict[str, float] = {}
        self._note: str | None = "waiting for the first scrape"
        self._pending: deque[tuple[float, dict[str, float]]] = deque(maxlen=max_pending)
        self._ticker = Ticker(f"server metrics {self.url}", interval_s, self.scrape_once, on_exit=self._close)

    def start(self) -> None:
        self._ticker.start()

    def stop(self) -> None:
        self._ticker.stop()
        if not self._ticker.running:
            self._close()

    def _close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def scrape_once(self) -> None:
        """One scrape in the calling thread (the scraper's own thread, or a test)."""
        if self._client is None:
            self._client = make_client(self._timeout)
        t_before = self.clock()
        try:
            text = fetch_text(self._client, self.url, self._headers)
            samples = parse_prometheus_text(text, self.url)
        except TelemetryUnavailable as exc:
            reason = str(exc)
            if "HTTP 404" in reason:
                reason += f"; {ENABLE_HINT}"
            self._fail(reason)
            return
        t = 0.5 * (t_before + self.clock())
        dialect = detect(samples)
        if dialect is None:
            self._fail(f"{self.url}: no vLLM, SGLang or llama.cpp metrics in the response")
            return
        reading = reduce(samples, dialect)
        with self._lock:
            if self._dialect is not None and dialect is not self._dialect:
                self._history.clear()  # another server answers now: rates restart
            self._dialect = dialect
            self._history.append((t, reading))
            while len(self._history) > 2 and t - self._history[0][0] > self.rate_window_s:
                self._history.popleft()
            self._values = normalise(list(self._history))
            self._note = None
            self._pending.append((t, dict(self._values)))

    def _fail(self, reason: str) -> None:
        log.debug("server metrics: %s", reason)
        with self._lock:
            self._values = {}
            self._history.clear()
            self._note = f"unavailable: {reason}"

    def view(self) -> ServerView:
        with self._lock:
            source = f"{self._dialect.name} {self.url}" if self._dialect else self.url
            return ServerView(source=source, values=dict(self._values), note=self._note)

    def drain(self) -> list[tuple[float, dict[str, float]]]:
        """Normalised values of each scrape since the last drain, oldest first (for the run store)."""
        with self._lock:
            out = list(self._pending)
            self._pending.clear()
        return out
