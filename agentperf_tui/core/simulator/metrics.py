"""Prometheus `/metrics` of the simulator, under vLLM V1's metric names.

Gauges and counters are read from the engine at scrape time (nothing is updated per token);
per-request histograms are filled when a request finishes. Labels follow vLLM: `model_name`,
and `engine` for the data-parallel replica. `agentperf_sim:*` series say the endpoint is
simulated and carry the modelled GPU power and energy.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator, Sequence

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from agentperf_tui.core.simulator.engine import Engine, SimRequest

TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5,
                10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0)
TPOT_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
                20.0, 40.0, 80.0)
LATENCY_BUCKETS = (0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0,
                   120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0)


def one_two_five(limit: int) -> tuple[float, ...]:
    """vLLM's 1-2-5 buckets up to `limit` (for token-count histograms)."""
    out: list[float] = []
    mag = 1
    while True:
        for m in (1, 2, 5):
            v = m * mag
            if v > limit:
                return tuple(out)
            out.append(float(v))
        mag *= 10


class _Hist:
    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)
        self.total = 0.0

    def observe(self, v: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, v)] += 1
        self.total += v


_HISTS: tuple[tuple[str, str, str], ...] = (
    ("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", "ttft"),
    ("vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.", "latency"),
    ("vllm:request_queue_time_seconds", "Histogram of time spent in WAITING phase for request.", "latency"),
    ("vllm:request_prefill_time_seconds", "Histogram of time spent in PREFILL phase for request.", "latency"),
    ("vllm:request_decode_time_seconds", "Histogram of time spent in DECODE phase for request.", "latency"),
    ("vllm:request_inference_time_seconds", "Histogram of time spent in RUNNING phase for request.",
     "latency"),
    ("vllm:request_time_per_output_token_seconds", "Histogram of time_per_output_token_seconds per request.",
     "tpot"),
    ("vllm:request_prompt_tokens", "Number of prefill tokens processed.", "tokens"),
    ("vllm:request_generation_tokens", "Number of generation tokens processed.", "tokens"),
)


class SimMetrics(Collector):
    """Collector over a running engine. `now()` gives the engine's clock for energy readings."""

    def __init__(self, engine: Engine, model_name: str, now: Callable[[], float],
                 delivery: Callable[[], tuple[int, float, float]] | None = None) -> None:
        self.engine = engine
        self.delivery = delivery
        self.model_name = model_name
        self.now = now
        limit = engine.dep.model.max_model_len
        kinds = {"ttft": TTFT_BUCKETS, "latency": LATENCY_BUCKETS, "tpot": TPOT_BUCKETS,
                 "tokens": one_two_five(limit)}
        self.hists: list[list[_Hist]] = [
            [_Hist(kinds[kind]) for _n, _d, kind in _HISTS] for _ in engine.replicas]
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)

    def observe(self, r: SimRequest) -> None:
        """Record a finished request in the histograms."""
        h = self.hists[r.replica]
        ttft = r.t_first - r.t_arrival
        e2e = r.t_last - r.t_arrival
        queue = r.t_admitted - r.t_arrival
        prefill = r.t_first - r.t_admitted
        decode = r.t_last - r.t_first
        tpot = decode / (r.out - 1) if r.out > 1 else 0.0
        for hist, v in zip(h, (ttft, e2e, queue, prefill, decode, e2e - queue, tpot, r.prompt_len, r.out),
                           strict=True):
            hist.observe(float(v))

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def collect(self) -> Iterator[Metric]:
        eng = self.engine
        dep = eng.dep
        m = self.model_name
        labels = ["model_name", "engine"]
        reps = eng.replicas

        def gauge(name: str, doc: str, values: Sequence[float]) -> GaugeMetricFamily:
            fam = GaugeMetricFamily(name, doc, labels=labels)
            for i, v in enumerate(values):
                fam.add_metric([m, str(i)], float(v))
            return fam

        def counter(name: str, doc: str, values: Sequence[float]) -> CounterMetricFamily:
            fam = CounterMetricFamily(name, doc, labels=labels)
            for i, v in enumerate(values):
                fam.add_metric([m, str(i)], float(v))
            return fam

        info = GaugeMetricFamily("agentperf_sim:info", "This endpoint is the agentperf-tui simulator: "
                                 "every figure is modelled, not measured.",
                                 labels=["simulated", "model_name", "hardware", "replicas",
                                         "gpus_per_replica"])
        info.add_metric(["true", m, dep.hardware.name, str(dep.replicas), str(dep.gpus_per_replica)], 1.0)
        yield info
        cache = GaugeMetricFamily("vllm:cache_config_info", "Information of the LLMEngine CacheConfig",
                                  labels=["block_size", "num_gpu_blocks", "enable_prefix_caching",
                                          "gpu_memory_utilization"])
        cache.add_metric([str(dep.engine.block_size), str(dep.num_blocks), str(dep.engine.prefix_caching),
                          str(dep.engine.gpu_memory_utilization)], 1.0)
        yield cache
        yield gauge("vllm:num_requests_running", "Number of requests in model execution batches.",
                    [len(r.running) for r in reps])
        yield gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.",
                    [len(r.waiting) for r in reps])
        usage = [r.pool.usage for r in reps]
        yield gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", usage)
        yield gauge("vllm:gpu_cache_usage_perc", "GPU KV-cache usage. 1 means 100 percent usage "
                    "(deprecated name of vllm:kv_cache_usage_perc).", usage)
        yield counter("vllm:prefix_cache_queries",
                      "Prefix cache queries, in terms of number of queried tokens.",
                      [r.c.prefix_queries for r in reps])
        yield counter("vllm:prefix_cache_hits", "Prefix cache hits, in terms of number of cached tokens.",
                      [r.c.prefix_hits for r in reps])
        yield counter("vllm:num_preemptions", "Cumulative number of preemption from the engine.",
                      [r.c.preemptions for r in reps])
        yield counter("vllm:prompt_tokens", "Number of prefill tokens processed.",
                      [r.c.prompt_tokens for r in reps])
        yield counter("vllm:generation_tokens", "Number of generation tokens processed.",
                      [r.c.generation_tokens for r in reps])
        success = CounterMetricFamily("vllm:request_success", "Count of successfully processed requests.",
                                      labels=[*labels, "finished_reason"])
        for i, rep in enumerate(reps):
            for reason in ("stop", "length", "abort"):
                success.add_metric([m, str(i), reason], float(rep.c.finished.get(reason, 0)))
        yield success
        for k, (name, doc, _kind) in enumerate(_HISTS):
            fam = HistogramMetricFamily(name, doc, labels=labels)
            for i, hs in enumerate(self.hists):
                h = hs[k]
                acc = 0
                buckets: list[tuple[str, float]] = []
                for b, c in zip(h.bounds, h.counts, strict=False):
                    acc += c
                    buckets.append((repr(float(b)), float(acc)))
                buckets.append(("+Inf", float(acc + h.counts[-1])))
                fam.add_metric([m, str(i)], buckets, h.total)
            yield fam
        t = self.now()
        per_rep_gpus = dep.gpus_per_replica
        yield gauge("agentperf_sim:power_watts",
                    "Modelled power of each replica's GPUs together (simulated).",
                    [r.power for r in reps])
        yield counter("agentperf_sim:energy_joules", "Modelled energy of each replica's GPUs together "
                      "(simulated).", [r.energy_at(t) for r in reps])
        yield gauge("agentperf_sim:gpus", "GPUs per replica (simulated deployment).",
                    [per_rep_gpus for _ in reps])
        if self.delivery is not None:
            n, total, worst = self.delivery()
            lag = CounterMetricFamily("agentperf_sim:token_delivery_lag_seconds",
                                      "How late the server handed tokens to their streams, after their "
                                      "modelled time (sum over tokens); large values mean the host, not the "
                                      "modelled hardware, sets the pace.", labels=["model_name"])
            lag.add_metric([m], total)
            yield lag
            yield CounterMetricFamily("agentperf_sim:tokens_delivered", "Tokens handed to streams.",
                                      value=float(n))
            worst_g = GaugeMetricFamily("agentperf_sim:token_delivery_lag_max_seconds",
                                        "Largest token delivery lag so far.", labels=["model_name"])
            worst_g.add_metric([m], worst)
            yield worst_g
