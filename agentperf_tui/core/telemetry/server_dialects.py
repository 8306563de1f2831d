"""Inference servers' own /metrics, normalised to one vocabulary (pure functions, no I/O): the
names and how each server's metrics map to them are in docs/telemetry.md.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from agentperf_tui.core.telemetry.promtext import PromSample


@dataclass(frozen=True, slots=True)
class Dialect:
    name: str
    prefix: str
    running: tuple[str, ...]
    waiting: tuple[str, ...]
    kv_usage: tuple[str, ...]
    """Gauges 0..1, first present wins."""
    prompt_tokens: tuple[str, ...]
    gen_tokens: tuple[str, ...]
    prefix_counters: tuple[tuple[str, str], ...] = ()
    """(hits, queries) counter pairs, first pair present wins."""
    prefix_gauges: tuple[str, ...] = ()
    """Hit-rate gauges used when no counter pair is exported."""


VLLM = Dialect(
    name="vllm",
    prefix="vllm:",
    running=("vllm:num_requests_running",),
    waiting=("vllm:num_requests_waiting",),
    kv_usage=("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"),
    prompt_tokens=("vllm:prompt_tokens",),
    gen_tokens=("vllm:generation_tokens",),
    prefix_counters=(
        ("vllm:prefix_cache_hits", "vllm:prefix_cache_queries"),
        ("vllm:gpu_prefix_cache_hits", "vllm:gpu_prefix_cache_queries"),
    ),
    prefix_gauges=("vllm:gpu_prefix_cache_hit_rate",),
)

SGLANG = Dialect(
    name="sglang",
    prefix="sglang:",
    running=("sglang:num_running_reqs",),
    waiting=("sglang:num_queue_reqs",),
    kv_usage=("sglang:token_usage",),
    prompt_tokens=("sglang:prompt_tokens",),
    gen_tokens=("sglang:generation_tokens",),
    prefix_counters=(("sglang:cached_tokens", "sglang:prompt_tokens"),),
    prefix_gauges=("sglang:cache_hit_rate",),
)

LLAMACPP = Dialect(
    name="llama.cpp",
    prefix="llamacpp:",
    running=("llamacpp:requests_processing",),
    waiting=("llamacpp:requests_deferred",),
    kv_usage=("llamacpp:kv_cache_usage_ratio",),
    prompt_tokens=("llamacpp:prompt_tokens",),
    gen_tokens=("llamacpp:tokens_predicted",),
)

DIALECTS = (VLLM, SGLANG, LLAMACPP)


def detect(samples: list[PromSample]) -> Dialect | None:
    """The dialect with the most samples in `samples`, None when none of them is present."""
    counts = {d.name: sum(s.name.startswith(d.prefix) for s in samples) for d in DIALECTS}
    best = max(DIALECTS, key=lambda d: counts[d.name])
    return best if counts[best.name] else None


def _sum(samples: list[PromSample], names: tuple[str, ...]) -> float | None:
    for name in names:
        vals = [s.value for s in samples if s.name == name]
        if vals:
            return float(sum(vals))
    return None


def _mean(samples: list[PromSample], names: tuple[str, ...]) -> float | None:
    for name in names:
        vals = [s.value for s in samples if s.name == name]
        if vals:
            return float(sum(vals) / len(vals))
    return None


@dataclass(frozen=True, slots=True)
class Reading:
    """One scrape, reduced: gauges as read, counters as cumulative totals."""

    gauges: dict[str, float]
    counters: dict[str, float]


def reduce(samples: list[PromSample], dialect: Dialect) -> Reading:
    gauges: dict[str, float] = {}
    counters: dict[str, float] = {}
    for key, value in (
        ("running", _sum(samples, dialect.running)),
        ("waiting", _sum(samples, dialect.waiting)),
        ("kv_cache_usage", _mean(samples, dialect.kv_usage)),
    ):
        if value is not None:
            gauges[key] = value
    for key, value in (
        ("prompt_tokens", _sum(samples, dialect.prompt_tokens)),
        ("gen_tokens", _sum(samples, dialect.gen_tokens)),
    ):
        if value is not None:
            counters[key] = value
    for hits_name, queries_name in dialect.prefix_counters:
        hits, queries = _sum(samples, (hits_name,)), _sum(samples, (queries_name,))
        if hits is not None and queries is not None:
            counters["prefix_hits"], counters["prefix_queries"] = hits, queries
            break
    else:
        rate = _mean(samples, dialect.prefix_gauges)
        if rate is not None:
            gauges["prefix_hit_rate"] = rate
    return Reading(gauges, counters)


def counter_increase(values: list[float]) -> float:
    """Increase of a counter over successive readings; a drop is a restart from zero."""
    total = 0.0
    for prev, cur in itertools.pairwise(values):
        total += cur - prev if cur >= prev else cur
    return total


def normalise(history: list[tuple[float, Reading]]) -> dict[str, float]:
    """Normalised values from the readings of the recent window (oldest first, newest last)."""
    if not history:
        return {}
    t_last, last = history[-1]
    out = dict(last.gauges)
    if len(history) < 2:
        return out
    span = t_last - history[0][0]
    if span <= 0:
        return out

    def increase(name: str) -> float | None:
        vals = [r.counters[name] for _, r in history if name in r.counters]
        return counter_increase(vals) if len(vals) >= 2 else None

    for key, counter in (("prompt_tok_s", "prompt_tokens"), ("gen_tok_s", "gen_tokens")):
        inc = increase(counter)
        if inc is not None:
            out[key] = inc / span
    hits, queries = increase("prefix_hits"), increase("prefix_queries")
    if hits is not None and queries:
        out["prefix_hit_rate"] = min(max(hits / queries, 0.0), 1.0)
    return out
