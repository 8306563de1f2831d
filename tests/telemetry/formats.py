"""Metrics text in the exporters' documented formats, for the test servers to serve.

DCGM: dcgm-exporter's default collector CSV (HELP text, TYPE, units) and its label set
(gpu, UUID, pci_bus_id, device, modelName, Hostname). vLLM / SGLang / llama.cpp: the layout of
their /metrics pages as their documentation shows it (prometheus_client output, model_name label).
"""

from __future__ import annotations

from dataclasses import dataclass

DCGM_FIELDS = (
    ("DCGM_FI_DEV_SM_CLOCK", "gauge", "SM clock frequency (in MHz).", "sm_clock"),
    ("DCGM_FI_DEV_GPU_TEMP", "gauge", "GPU temperature (in C).", "temp"),
    ("DCGM_FI_DEV_POWER_USAGE", "gauge", "Power draw (in W).", "power_w"),
    (
        "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION",
        "counter",
        "Total energy consumption since boot (in mJ).",
        "energy_mj",
    ),
    ("DCGM_FI_DEV_GPU_UTIL", "gauge", "GPU utilization (in %).", "util"),
    ("DCGM_FI_DEV_FB_USED", "gauge", "Framebuffer memory used (in MiB).", "fb_used_mib"),
    ("DCGM_FI_DEV_POWER_MGMT_LIMIT", "gauge", "Power management limit (in W).", "limit_w"),
)

INT64_BLANK = 9223372036854775794  # what the exporter prints for a field the GPU lacks


@dataclass
class DcgmGpu:
    index: int
    power_w: float | None = 400.0
    energy_mj: float | None = 1_000_000.0
    util: float | None = 87
    fb_used_mib: float | None = 61440
    temp: float | None = 61
    sm_clock: float | None = 1980
    limit_w: float | None = 700.0
    uuid: str = ""
    hostname: str = "gpu-node-1"
    model: str = "NVIDIA H100 80GB HBM3"

    def labels(self) -> str:
        uuid = self.uuid or f"GPU-3431958{self.index}-d595-d1c7-d1d2-179bcfa61660"
        return (
            f'gpu="{self.index}",UUID="{uuid}",pci_bus_id="00000000:{self.index + 0x18:02X}:00.0",'
            f'device="nvidia{self.index}",modelName="{self.model}",Hostname="{self.hostname}"'
        )


def dcgm_text(gpus: list[DcgmGpu], *, omit: tuple[str, ...] = ()) -> str:
    lines: list[str] = []
    for name, kind, help_text, attr in DCGM_FIELDS:
        if name in omit:
            continue
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")
        for g in gpus:
            value = getattr(g, attr)
            if value is None:
                value = INT64_BLANK
            lines.append(f"{name}{{{g.labels()}}} {value}")
    return "\n".join(lines) + "\n"


def vllm_text(
    *,
    running: float,
    waiting: float,
    kv: float,
    prompt: float,
    gen: float,
    hits: float,
    queries: float,
    models: tuple[str, ...] = ("Qwen/Qwen3-0.6B",),
    legacy_names: bool = False,
) -> str:
    """vLLM V1 /metrics; each model gets an equal share of the counts."""
    n = len(models)
    kv_name = "vllm:gpu_cache_usage_perc" if legacy_names else "vllm:kv_cache_usage_perc"
    pfx = "vllm:gpu_prefix_cache" if legacy_names else "vllm:prefix_cache"
    out = [
        "# HELP vllm:num_requests_running Number of requests in model execution batches.",
        "# TYPE vllm:num_requests_running gauge",
        *[f'vllm:num_requests_running{{engine="0",model_name="{m}"}} {running / n}' for m in models],
        "# HELP vllm:num_requests_waiting Number of requests waiting to be processed.",
        "# TYPE vllm:num_requests_waiting gauge",
        *[f'vllm:num_requests_waiting{{engine="0",model_name="{m}"}} {waiting / n}' for m in models],
        f"# HELP {kv_name} KV-cache usage. 1 means 100 percent usage.",
        f"# TYPE {kv_name} gauge",
        *[f'{kv_name}{{engine="0",model_name="{m}"}} {kv}' for m in models],
        f"# HELP {pfx}_queries_total Prefix cache queries, in terms of number of queried tokens.",
        f"# TYPE {pfx}_queries_total counter",
        *[f'{pfx}_queries_total{{engine="0",model_name="{m}"}} {queries / n}' for m in models],
        f"# HELP {pfx}_hits_total Prefix cache hits, in terms of number of cached tokens.",
        f"# TYPE {pfx}_hits_total counter",
        *[f'{pfx}_hits_total{{engine="0",model_name="{m}"}} {hits / n}' for m in models],
        "# HELP vllm:prompt_tokens_total Number of prefill tokens processed.",
        "# TYPE vllm:prompt_tokens_total counter",
        *[f'vllm:prompt_tokens_total{{engine="0",model_name="{m}"}} {prompt / n}' for m in models],
        "# HELP vllm:generation_tokens_total Number of generation tokens processed.",
        "# TYPE vllm:generation_tokens_total counter",
        *[f'vllm:generation_tokens_total{{engine="0",model_name="{m}"}} {gen / n}' for m in models],
        "# HELP vllm:time_to_first_token_seconds Histogram of time to first token in seconds.",
        "# TYPE vllm:time_to_first_token_seconds histogram",
        *[f'vllm:time_to_first_token_seconds_sum{{engine="0",model_name="{m}"}} 12.5' for m in models],
        *[
            f'vllm:time_to_first_token_seconds_bucket{{engine="0",le="+Inf",model_name="{m}"}} 40.0'
            for m in models
        ],
        *[f'vllm:time_to_first_token_seconds_count{{engine="0",model_name="{m}"}} 40.0' for m in models],
    ]
    return "\n".join(out) + "\n"


def sglang_text(
    *, running: float, queued: float, usage: float, hit_rate: float, prompt: float, gen: float
) -> str:
    m = 'model_name="meta-llama/Llama-3.1-8B-Instruct"'
    return (
        "# HELP sglang:prompt_tokens_total Number of prefill tokens processed.\n"
        "# TYPE sglang:prompt_tokens_total counter\n"
        f"sglang:prompt_tokens_total{{{m}}} {prompt:e}\n"
        "# HELP sglang:generation_tokens_total Number of generation tokens processed.\n"
        "# TYPE sglang:generation_tokens_total counter\n"
        f"sglang:generation_tokens_total{{{m}}} {gen:e}\n"
        "# HELP sglang:token_usage The token usage\n"
        "# TYPE sglang:token_usage gauge\n"
        f"sglang:token_usage{{{m}}} {usage}\n"
        "# HELP sglang:cache_hit_rate The cache hit rate\n"
        "# TYPE sglang:cache_hit_rate gauge\n"
        f"sglang:cache_hit_rate{{{m}}} {hit_rate}\n"
        "# HELP sglang:num_running_reqs The number of running requests.\n"
        "# TYPE sglang:num_running_reqs gauge\n"
        f"sglang:num_running_reqs{{{m}}} {running}\n"
        "# HELP sglang:num_queue_reqs The number of requests in the waiting queue.\n"
        "# TYPE sglang:num_queue_reqs gauge\n"
        f"sglang:num_queue_reqs{{{m}}} {queued}\n"
    )


def llamacpp_text(*, processing: float, deferred: float, prompt: float, predicted: float) -> str:
    return (
        "# HELP llamacpp:prompt_tokens_total Number of prompt tokens processed.\n"
        "# TYPE llamacpp:prompt_tokens_total counter\n"
        f"llamacpp:prompt_tokens_total {prompt}\n"
        "# HELP llamacpp:prompt_seconds_total Prompt process time\n"
        "# TYPE llamacpp:prompt_seconds_total counter\n"
        "llamacpp:prompt_seconds_total 235.743\n"
        "# HELP llamacpp:tokens_predicted_total Number of generation tokens processed.\n"
        "# TYPE llamacpp:tokens_predicted_total counter\n"
        f"llamacpp:tokens_predicted_total {predicted}\n"
        "# HELP llamacpp:requests_processing Number of requests processing.\n"
        "# TYPE llamacpp:requests_processing gauge\n"
        f"llamacpp:requests_processing {processing}\n"
        "# HELP llamacpp:requests_deferred Number of requests deferred.\n"
        "# TYPE llamacpp:requests_deferred gauge\n"
        f"llamacpp:requests_deferred {deferred}\n"
    )
