"""Request bodies and the compact result columns."""

from __future__ import annotations

import math

import orjson
import pytest

from agentperf_tui.core.client.request import chat_body, completion_body
from agentperf_tui.core.client.result_columns import BLOCK_ROWS, ResultColumns
from agentperf_tui.core.records import RequestResult

TOOLS = [{"type": "function", "function": {"name": "ls", "parameters": {"type": "object"}}}]


def test_chat_body_exact() -> None:
    body = orjson.loads(chat_body("m", [{"role": "user", "content": "hi"}], max_tokens=300, tools=TOOLS))
    assert body == {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "tools": TOOLS,
        "max_tokens": 300,
        "stream": True,
        "stream_options": {"include_usage": True},
        "ignore_eos": True,
        "min_tokens": 300,
    }


def test_chat_body_not_exact_narrowed_and_extra() -> None:
    msgs = [{"role": "user", "content": "hi"}]
    body = orjson.loads(chat_body("m", msgs, max_tokens=5, exact=False, extra={"temperature": 0.2}))
    assert "ignore_eos" not in body and "min_tokens" not in body and "tools" not in body
    assert body["temperature"] == 0.2 and body["stream"] is True
    body = orjson.loads(chat_body("m", msgs, max_tokens=5, exact_fields=("ignore_eos",)))
    assert body["ignore_eos"] is True and "min_tokens" not in body
    with pytest.raises(ValueError, match="unknown exact-length field 'stop_eos'"):
        chat_body("m", msgs, max_tokens=5, exact_fields=("stop_eos",))
    with pytest.raises(ValueError, match="max_tokens must be at least 1"):
        chat_body("m", msgs, max_tokens=0)


def test_completion_body() -> None:
    body = orjson.loads(completion_body("m", "def f():", max_tokens=7))
    assert body["prompt"] == "def f():" and body["min_tokens"] == 7 and body["ignore_eos"] is True
    assert body["stream_options"] == {"include_usage": True}


def result(i: int, ok: bool = True) -> RequestResult:
    t0 = 1000.0 + i
    return RequestResult(
        agent_id=i % 7,
        trajectory_id=f"traj-{i % 3}",
        replay=i % 2,
        turn=i,
        t_intended=t0,
        t_sent=t0 + 0.0003,
        t_end=t0 + 4.5,
        ok=ok,
        t_first_token=t0 + 0.25 if ok else None,
        t_last_token=t0 + 4.25 if ok else None,
        error=None if ok else "HTTP 500: engine crashed",
        http_status=200 if ok else 500,
        prompt_tokens=20_000 + i if ok else None,
        cached_tokens=19_000 if ok else None,
        output_tokens=128 if ok else None,
        client_output_tokens=128 if ok else 0,
        requested_output_tokens=128,
        reasoning_tokens=None,
    )


def test_columns_round_trip_across_blocks() -> None:
    cols = ResultColumns()
    n = BLOCK_ROWS + 10
    for i in range(n):
        cols.append(result(i, ok=i % 5 != 0))
    assert len(cols) == n and cols.row_bytes <= 70
    assert cols.nbytes == 2 * BLOCK_ROWS * cols.row_bytes
    for i in (0, 1, BLOCK_ROWS - 1, BLOCK_ROWS, n - 1):
        back, orig = cols.row(i), result(i, ok=i % 5 != 0)
        assert back.ok == orig.ok and back.error == orig.error and back.http_status == orig.http_status
        assert back.trajectory_id == orig.trajectory_id and back.turn == orig.turn
        assert back.output_tokens == orig.output_tokens and back.prompt_tokens == orig.prompt_tokens
        assert back.reasoning_tokens is None
        assert back.ttft == pytest.approx(orig.ttft, abs=1e-5)
        assert back.output_speed == pytest.approx(orig.output_speed, rel=1e-5)
        assert back.client_lag == pytest.approx(orig.client_lag, abs=1e-6)
    ttft = cols.column("ttft")
    assert ttft.shape == (n,)
    assert math.isinf(ttft[0]) and ttft[1] == pytest.approx(0.25)
    assert cols.errors == [None, "HTTP 500: engine crashed"]
    with pytest.raises(IndexError):
        cols.row(n)
