"""Shared fixtures: where the public agent-trace data lives (beside the project, never inside it)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_HINT = "set AGENTPERF_DATASETS to the shared datasets folder"
_DEFAULT = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"


def _datasets() -> Path:
    return Path(os.environ.get("AGENTPERF_DATASETS", _DEFAULT))


@pytest.fixture
def aa_default_manifest() -> Path:
    p = _datasets() / "aa-agentperf-local" / "agentperf-default-v1" / "manifest.json"
    if not p.is_file():
        pytest.skip(f"agentperf-local default replay not found at {p} ({_HINT})")
    return p


@pytest.fixture
def aa_mini_manifest() -> Path:
    p = _datasets() / "aa-agentperf-local" / "aa-mini-v1" / "manifest.json"
    if not p.is_file():
        pytest.skip(f"agentperf-local mini replay not found at {p} ({_HINT})")
    return p


@pytest.fixture
def tracelab_rounds() -> Path:
    p = _datasets() / "tracelab" / "round_trace.jsonl"
    if not p.is_file():
        pytest.skip(f"TraceLab example rounds not found at {p} ({_HINT})")
    return p
